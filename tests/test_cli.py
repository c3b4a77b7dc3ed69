"""The command line contract: names, help with examples, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from swarmscope import Store, __version__
from swarmscope.cli import cli
from tests.conftest import run

CONTRACT = {
    "ingest": ["--format", "--map", "--platform"],
    "info": ["--json"],
    "pairs": ["--kind", "--window", "--semantics", "--min-participation", "--min-weight",
              "--keep-loops", "--out", "--since", "--until"],
    "detect": ["--kinds", "--window", "--fdr", "--seed", "--out", "--since", "--until"],
    "evaluate": ["--labels", "--json", "--run"],
    "explain": ["--run", "--json"],
    "report": ["--out", "--title", "--pdf", "--pseudonymize", "--key-file", "--since", "--until",
               "--run"],
    "export": ["--format", "--out", "--pseudonymize", "--key-file", "--all", "--run"],
    "runs": ["--json"],
}


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"swarmscope, version {__version__}"


def test_console_script_runs_without_traceback(tmp_path):
    exe = subprocess.run([sys.executable, "-m", "swarmscope", "--db", str(tmp_path / "x.duckdb"),
                          "info"], capture_output=True, text=True)
    assert exe.returncode == 1
    assert exe.stderr.startswith("Error: no store at") and "Traceback" not in exe.stderr


@pytest.mark.parametrize("command, options", CONTRACT.items())
def test_every_command_has_its_options_and_an_example(command, options):
    r = run(command, "--help")
    assert r.exit_code == 0
    assert "Example:" in r.output
    for opt in options:
        assert opt in r.output, (command, opt)
    assert "--db" in run("--help").output


def test_global_options():
    r = run("--help")
    for opt in ("--db", "--memory-limit", "--temp-dir", "--threads", "--version"):
        assert opt in r.output


@pytest.mark.parametrize("argv, says", [
    (["detect"], "no posts"), (["explain", "a1"], "run `swarmscope detect` first"),
    (["report"], "run `swarmscope detect` first"),
    (["export", "--format", "gexf", "--out", "n.gexf"], "run `swarmscope detect` first"),
    (["detect", "--kinds", "repost,bogus"], "unknown kind 'bogus'"),
    (["detect", "--window", "repost=sixty"], "expected seconds >= 0")])
def test_detect_commands_on_an_empty_store_say_what_to_do(db, argv, says):
    Store(db).close()  # an empty store
    r = run(*argv, db=db)
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0]


def test_pairs_kinds_are_the_contract():
    kinds = next(p for p in cli.commands["pairs"].params if p.name == "kind").type.choices
    assert list(kinds) == ["repost", "fast_repost", "link", "domain", "hashtag", "hashtag_seq",
                           "hashtag_set", "text", "similar_text", "reply", "like", "mention",
                           "image", "sync"]


def test_ingest_and_info_end_to_end(db, shared):
    path = shared / "coortweet/russian_coord_tweets.csv.gz"
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert r.output.strip() == (f"{path} (coortweet): read 35,125 = stored 35,124 + "
                                "duplicates 1 + rejected 0")
    info = run("info", db=db)
    assert info.exit_code == 0
    assert "posts 35,085" in info.output and "object 35,124" in info.output
    again = run("ingest", path, db=db)
    assert "stored 0 + duplicates 35,125" in again.output


def test_info_json(db, shared):
    run("ingest", shared / "fixtures/osome_cs4_sample_hashed_tweets.json", db=db)
    import json
    data = json.loads(run("info", "--json", db=db).output)
    assert data["tables"]["posts"] == 17
    assert data["platforms"][0]["platform"] == "twitter"
    assert set(data["post_kinds"]) <= {"post", "repost", "reply", "quote"}


def test_table_format_worked_example_from_readme(tmp_path, db):
    """The README's --map example, run as written."""
    path = tmp_path / "posts.csv"
    path.write_text("id,user,time,post_type,link,country\n"
                    "1,alice,2021-05-01T10:00:00Z,O,https://www.example.org/a?utm_source=x,DE\n"
                    "2,bob,2021-05-01T10:00:30Z,R,https://example.org/a,FR\n")
    r = run("ingest", path, "--format", "table", "--map", "post_id=id", "--map", "account_id=user",
            "--map", "created_at=time",
            "--map", "kind=CASE post_type WHEN 'R' THEN 'repost' ELSE 'post' END",
            "--map", "urls=link", "--map", "label.country=country", db=db)
    assert r.exit_code == 0, r.output
    from swarmscope import Store
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT post_id, kind FROM posts ORDER BY 1").fetchall() == \
            [("1", "post"), ("2", "repost")]
        assert s.con.execute("SELECT DISTINCT value FROM entities WHERE kind = 'url'"
                             ).fetchall() == [("https://example.org/a",)]
        assert s.con.execute("SELECT account_id, value FROM account_labels ORDER BY 1"
                             ).fetchall() == [("alice", "DE"), ("bob", "FR")]


def test_map_errors_are_explained(tmp_path, db):
    path = tmp_path / "t.csv"
    path.write_text("id,user,time\n1,a,2021-01-01\n")
    r = run("ingest", path, "--format", "table", "--map", "account_id=user", db=db)
    assert r.exit_code == 1 and "needs --map for created_at" in r.output
    r = run("ingest", path, "--format", "table", "--map", "account_id=user", "--map",
            "created_at=time", "--map", "colour=id", db=db)
    assert r.exit_code == 1 and "unknown field colour" in r.output
    r = run("ingest", path, "--format", "table", "--map", "account_id=nosuchcolumn", "--map",
            "created_at=time", db=db)
    assert r.exit_code == 1 and "nosuchcolumn" in r.output and "Traceback" not in r.output
    r = run("ingest", path, "--format", "cnt", "--map", "account_id=user", db=db)
    assert r.exit_code == 1 and "--map applies to --format table only" in r.output


@pytest.mark.parametrize("where", ["scratch.duckdb", "reporter's case/case.duckdb",
                                   "store (copy) 100%/x.duckdb"])
def test_awkward_store_names_work_end_to_end(tmp_path, shared, where):
    """A store named like ingest's scratch database, or in a directory with an apostrophe:
    every command works (no SQL is built from the path unquoted)."""
    db = tmp_path / where
    db.parent.mkdir(parents=True, exist_ok=True)
    for args in (["ingest", shared / "coortweet/russian_coord_tweets.csv.gz"], ["info"],
                 ["detect", "--kinds", "repost", "--out", db.parent / "out"], ["runs"],
                 ["report", "--out", db.parent / "r.html"],
                 ["export", "--format", "gexf", "--out", db.parent / "n.gexf"]):
        r = run(*args, db=db)
        assert r.exit_code == 0, (args, r.output)
    assert (db.parent / "r.html").stat().st_size > 0 and (db.parent / "out/accounts.parquet").exists()


@pytest.mark.parametrize("args", [["--memory-limit", "lots", "info"],
                                  ["info", "--memory-limit", "lots"]])
def test_an_unreadable_memory_limit_is_one_clear_line(db, args):
    Store(db).close()
    r = run(*args, db=db)
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "Error: The 'memory_limit' parameter of the store settings must be an amount of memory "
        "such as 512MB, 4GB or 80% or None; got 'lots'."]


def test_table_format_reads_entities_from_the_mapped_text(tmp_path, db):
    """With text mapped, hashtags, mentions and URLs come from the text unless mapped."""
    path = tmp_path / "posts.csv"
    path.write_text("id,user,time,body,tags\n"
                    "1,alice,2021-05-01T10:00:00Z,Look #Vote @Bob https://www.example.org/a,\n"
                    "2,bob,2021-05-01T10:00:30Z,#ignored plain,mapped\n")
    r = run("ingest", path, "--format", "table", "--map", "post_id=id", "--map",
            "account_id=user", "--map", "created_at=time", "--map", "text=body", "--map",
            "hashtags=tags", db=db)
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT post_id, kind, value FROM entities ORDER BY ALL"
                             ).fetchall() == [
            ("1", "domain", "example.org"), ("1", "mention", "Bob"),
            ("1", "url", "https://example.org/a"), ("2", "hashtag", "mapped")]
