"""Runs are kept: every detect run keeps its tables under its run id, readers take --run N
(default the latest) and say which run they show, `runs` lists them, and a store of schema
version 5 (one run's tables in main, as the previous swarmscope kept them) still opens."""

from __future__ import annotations

import json

import pytest

from swarmscope import RunTables, Store
from swarmscope.store.schema import SCHEMA_VERSION, resolved_evidence

from conftest import copy_store, planted_store, run


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The planted group detected on co-repost (run 2: g0..g7 flagged), then on hashtags,
    which the data holds none of (run 3: nobody flagged)."""
    tmp = tmp_path_factory.mktemp("runs")
    db = planted_store(tmp, 5, [])
    r = run("detect", "--kinds", "hashtag", db=db)
    assert r.exit_code == 0, r.output
    assert "kept as run 3" in r.output
    return db


def test_a_second_detect_replaces_nothing_and_run_1_is_shown_on_request(two_runs):
    latest = run("explain", "g0", db=two_runs)
    assert latest.exit_code == 0, latest.output
    assert "detect run 3 (" in latest.stderr and "the latest)" in latest.stderr
    assert "not flagged" in latest.stdout
    first = run("explain", "g0", "--run", "2", db=two_runs)
    assert first.exit_code == 0, first.output
    assert "detect run 2 (" in first.stderr and "the latest is 3" in first.stderr
    assert "FLAGGED" in first.stdout and "RT campaign" in first.stdout  # the posts' texts
    data = json.loads(run("explain", "g0", "--run", "2", "--json", db=two_runs).stdout)
    assert data["run"] == 2 and data["account"]["flagged"] and data["account"]["run_id"] == 2


def test_runs_lists_every_run_with_its_parameters(two_runs):
    rows = json.loads(run("runs", "--json", db=two_runs).stdout)
    assert [(r["run_id"], r["command"], r["status"], r["kept"]) for r in rows] == [
        (1, "ingest", "ok", False), (2, "detect", "ok", True), (3, "detect", "ok", True)]
    assert list(rows[1]["parameters"]["windows"]) == ["repost"]
    assert list(rows[2]["parameters"]["windows"]) == ["hashtag"]
    assert rows[1]["summary"]["flagged"] == 8 and rows[2]["summary"]["flagged"] == 0
    assert [r["shown"] for r in rows] == [False, False, True]
    table = run("runs", db=two_runs).stdout
    assert "repost 60 s" in table and "hashtag" in table and "8 of 258" in table


def test_every_reader_takes_run(two_runs, tmp_path):
    for args in (["report", "--out", tmp_path / "r.html"],
                 ["export", "--format", "gexf", "--out", tmp_path / "n.gexf"],
                 ["export", "--format", "csv", "--out", tmp_path / "csv"]):
        r = run(*args, "--run", "2", db=two_runs)
        assert r.exit_code == 0, r.output
        assert "detect run 2 (" in r.stderr
    assert '"detect_run":2' in (tmp_path / "r.html").read_text()
    assert "twitter:g0" in (tmp_path / "n.gexf").read_text()
    assert "g0" in (tmp_path / "csv/detect_accounts.csv").read_text().split("\n", 3)[1]
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,label\n" + "".join(f"g{i},1\n" for i in range(8))
                      + "".join(f"u{i},0\n" for i in range(50)))
    m = json.loads(run("evaluate", "--labels", labels, "--run", "2", "--json",
                       db=two_runs).stdout)
    assert m["run"] == 2 and m["tp"] == 8 and m["recall"] == 1.0
    m = json.loads(run("evaluate", "--labels", labels, "--json", db=two_runs).stdout)
    assert m["run"] == 3 and m["tp"] == 0


@pytest.mark.parametrize("number, says", [
    ("1", "run 1 was an ingest run, not detect; the detect runs kept are 2, 3"),
    ("9", "run 9 is no run of this store; the detect runs kept are 2, 3")])
def test_a_run_that_kept_nothing_is_a_clear_error(two_runs, number, says):
    r = run("explain", "g0", "--run", number, db=two_runs)
    assert r.exit_code == 1 and r.output.strip() == f"Error: {says} (swarmscope runs lists them)"


def test_a_result_holds_its_run_and_no_open_result(two_runs):
    with Store(two_runs, read_only=True) as store:
        tables = RunTables(store, run=2)
        reader = store.con.sql("SELECT * FROM posts").arrow()   # DuckDB's streaming reader
        del reader
        assert store.arrow("SELECT count(*) AS n FROM detect_accounts WHERE flagged"
                           ).to_pylist() == [{"n": 0}]          # run 3, the latest
        flagged = tables.arrow("accounts").filter(tables.arrow("accounts")["flagged"])
        assert sorted(flagged["account_id"].to_pylist()) == [f"g{i}" for i in range(8)]
        assert store.con.sql("SELECT count(*) FROM detect_edges").fetchall() == [(0,)]
        assert len(tables.df("edges")) == 28
    with pytest.raises(Exception, match="is closed: open it again"):
        tables.arrow("clusters")   # not read while the store was open


def test_a_version_5_store_opens_read_only_and_moves_its_run_when_written(two_runs, tmp_path):
    """A store as the previous swarmscope left it: run 3's tables in main, version 5."""
    db = copy_store(two_runs, tmp_path)
    with Store(db) as store:
        con = store.con
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                                           "schema_name = 'run_3'").fetchall()]
        for name in names:   # detect_evidence as it was then: readable, not by key
            source = (f"({resolved_evidence('run_3.detect_evidence')})"
                      if name == "detect_evidence" else f"run_3.{name}")
            con.execute(f"DROP VIEW main.{name}")
            con.execute(f"CREATE TABLE main.{name} AS SELECT * FROM {source}")
        con.execute("DROP SCHEMA run_2 CASCADE")
        con.execute("DROP SCHEMA run_3 CASCADE")
        con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    r = run("explain", "g0", db=db)
    assert r.exit_code == 0 and "detect run 3 (" in r.stderr and "not flagged" in r.stdout
    with Store(db) as store:   # for writing: upgraded
        assert store.run == 3
        assert store.con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                 ).fetchall() == [(str(SCHEMA_VERSION),)]
        where = store.con.execute("SELECT DISTINCT schema_name FROM duckdb_tables() WHERE "
                                  "table_name LIKE 'detect%'").fetchall()
    assert where == [("run_3",)]


def test_any_duckdb_client_reads_the_latest_run_and_an_earlier_one_reads_only_its_own(
        two_runs, tmp_path):
    import duckdb
    con = duckdb.connect(str(two_runs), read_only=True)
    assert con.sql("SELECT DISTINCT run_id FROM detect_accounts").fetchall() == [(3,)]
    assert con.sql("SELECT count(*) FROM run_2.detect_accounts WHERE flagged"
                   ).fetchall() == [(8,)]
    con.close()
    db = copy_store(two_runs, tmp_path)
    with Store(db) as store:   # a table that only the latest run has (a later version's)
        store.con.execute("CREATE TABLE run_3.detect_newer AS SELECT 3 AS run_id")
        store.show_latest()
    with Store(db, read_only=True) as store:
        assert store.db.has_table("detect_newer", temporary=False)
        store.use_run(2)
        assert not store.db.has_table("detect_newer", temporary=False)
        assert store.db.has_table("detect_accounts", temporary=False)
        assert "newer" not in RunTables(store, run=2).names and "newer" in RunTables(store).names


def test_a_killed_runs_tables_go_with_the_next_run(two_runs, tmp_path):
    """A detect killed after storing some tables leaves its schema and its status 'running'
    (what SIGKILL leaves, bench/crash.py); the next detect drops that schema, so the store
    holds no results of a run that never finished, and the finished runs stay."""
    import duckdb
    db = copy_store(two_runs, tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = 3")
    r = run("detect", "--kinds", "hashtag", db=db)
    assert r.exit_code == 0, r.output
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = sorted(s for (s,) in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE schema_name LIKE 'run_%'").fetchall())
    assert schemas == ["run_2", "run_4"]
    rows = json.loads(run("runs", "--json", db=db).stdout)
    assert [(x["run_id"], x["kept"]) for x in rows if x["command"] == "detect"] == [
        (2, True), (3, False), (4, True)]
