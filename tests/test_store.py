"""The store: schema, version check, single writer, run log with input fingerprints."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

import swarmscope
from swarmscope import Store, ingest
from swarmscope.engine import PairParams
from swarmscope.errors import StoreInUseError, StoreVersionError, SwarmscopeError
from swarmscope.store.schema import SCHEMA_VERSION
from tests.conftest import run

CNT = "fixtures/coordination_network_toolkit/coretweet_test_input.csv"


def test_new_store_has_the_canonical_tables_and_version(store):
    tables = {r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"posts", "accounts", "account_labels", "entities", "rejects", "runs", "meta"} <= tables
    assert store.con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                             ).fetchone()[0] == str(SCHEMA_VERSION)


def test_store_of_another_schema_version_is_refused(db):
    with Store(db) as s:
        s.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreVersionError, match="schema version 999"):
        Store(db)


def test_schema_2_store_is_read_as_is_and_upgraded_when_opened_for_writing(db, shared):
    with Store(db) as s:
        ingest(s, [shared / CNT])
        swarmscope.pairs(s, PairParams(kind="repost", window=60))
        before = s.con.execute("SELECT * FROM edges ORDER BY ALL").fetchall()
        # the schema-2 layout: the edges as a table of their own, by account id
        s.con.execute("""
            CREATE TABLE edges_v2 AS SELECT * FROM edges; DROP VIEW edges;
            DROP TABLE pair_edges; DROP TABLE pair_runs; ALTER TABLE edges_v2 RENAME TO edges;
            UPDATE meta SET value = '2' WHERE key = 'schema_version'""")
    assert len(before) > 0
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT * FROM edges ORDER BY ALL").fetchall() == before
    with Store(db) as s:
        assert s.con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                             ).fetchone()[0] == str(SCHEMA_VERSION)
        assert s.con.execute("SELECT table_type FROM information_schema.tables "
                             "WHERE table_name = 'edges'").fetchone()[0] == "VIEW"
        assert s.con.execute("SELECT * FROM edges ORDER BY ALL").fetchall() == before
        swarmscope.pairs(s, PairParams(kind="repost", window=60))   # replaces the old run
        after = s.con.execute("SELECT * EXCLUDE (run_id) FROM edges ORDER BY ALL").fetchall()
    assert after == [row[1:] for row in before]


def test_schema_4_evidence_gets_both_platforms_and_is_stored_by_key_when_opened_for_writing(
        db, shared):
    with Store(db) as s:
        ingest(s, [shared / CNT], platform="mastodon")
        swarmscope.pairs(s, PairParams(kind="repost", window=60))
        before = s.con.execute("SELECT * FROM evidence ORDER BY ALL").fetchall()
        # the schema-4 layout: the evidence as a table of ids and objects, without platforms
        s.con.execute("""
            CREATE TABLE evidence_v4 AS SELECT * EXCLUDE (platform_a, platform_b) FROM evidence;
            DROP VIEW evidence; DROP TABLE pair_evidence;
            ALTER TABLE evidence_v4 RENAME TO evidence;
            UPDATE meta SET value = '4' WHERE key = 'schema_version'""")
    assert before and all(r[-2:] == ("mastodon", "mastodon") for r in before)
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT * FROM evidence ORDER BY ALL").fetchall() == [
            r[:-2] for r in before]
    with Store(db) as s:
        assert s.con.execute("SELECT table_type FROM information_schema.tables "
                             "WHERE table_name = 'evidence'").fetchone()[0] == "VIEW"
        assert s.con.execute("SELECT * FROM evidence ORDER BY ALL").fetchall() == before
        assert s.con.execute("SELECT count(*) FROM pair_evidence").fetchone()[0] == len(before)
        swarmscope.pairs(s, PairParams(kind="repost", window=60))   # inserts as a new store does
        assert s.con.execute("SELECT * EXCLUDE (run_id) FROM evidence ORDER BY ALL").fetchall() \
            == [r[1:] for r in before]


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("hello")
    with pytest.raises(SwarmscopeError, match="not a swarmscope store"):
        Store(bogus)


def test_reading_a_missing_store_says_what_to_do(tmp_path):
    r = run("info", db=tmp_path / "none.duckdb")
    assert r.exit_code == 1
    assert "no store at" in r.output and "ingest" in r.output


def test_second_writer_gets_a_clear_error_and_the_store_is_intact(db, shared):
    with Store(db) as s:
        ingest(s, [shared / CNT])
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import swarmscope, time; s = swarmscope.Store({str(db)!r}); "
         "print('open', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreInUseError, match="in use by another process"):
            Store(db)
        r = run("ingest", shared / CNT, db=db)
        assert r.exit_code == 1
        assert r.output.startswith("Error: store") and "in use by another process" in r.output
        assert "Traceback" not in r.output
    finally:
        holder.kill()
        holder.wait()
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT count(*) FROM posts").fetchone()[0] == 15


def test_runs_record_version_parameters_and_input_sha256(store, shared):
    path = shared / CNT
    ingest(store, [path], format="cnt", platform="twitter")
    cmd, version, params, status, inputs = store.con.execute(
        "SELECT command, version, parameters, status, inputs FROM runs").fetchone()
    assert cmd == "ingest" and status == "ok" and version == __import__("swarmscope").__version__
    assert json.loads(params)["format"] == "cnt"
    assert inputs == [{"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                       "bytes": path.stat().st_size}]


def test_read_only_readers_can_share_a_store(db, shared):
    with Store(db) as s:
        ingest(s, [shared / CNT])
    with Store(db, read_only=True) as a, Store(db, read_only=True) as b:
        assert a.con.execute("SELECT count(*) FROM posts").fetchone() == \
            b.con.execute("SELECT count(*) FROM posts").fetchone()


def test_env_var_chooses_the_store(tmp_path, shared, monkeypatch):
    target = tmp_path / "from_env.duckdb"
    monkeypatch.setenv("SWARMSCOPE_DB", str(target))
    monkeypatch.chdir(tmp_path)
    from click.testing import CliRunner
    from swarmscope.cli import cli
    r = CliRunner().invoke(cli, ["ingest", str(shared / CNT)])
    assert r.exit_code == 0, r.output
    assert target.exists()
