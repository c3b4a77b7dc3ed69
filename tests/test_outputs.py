"""Outputs and faults: a failed write (a full disk) keeps the earlier file, the machine's errors
and Ctrl-C are one line, data shown on a terminal is escaped, and a store that is not
swarmscope's is never written to."""

from __future__ import annotations

import errno
import importlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from swarmscope import Store
from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import XML_UNSAFE, atomic_write, visible

from conftest import planted_store, run, synthetic

INGEST = importlib.import_module("swarmscope.ingest")  # the package is shadowed by its function
FULL = 'Could not write file "{}": No space left on device'


@pytest.fixture(scope="module")
def detected(tmp_path_factory) -> Path:
    return planted_store(tmp_path_factory.mktemp("outputs"), 7, [])


def _only_error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    return lines[-1]


def test_visible_escapes_what_a_terminal_or_xml_acts_on():
    assert visible("a\x1b[31mb\x07\x9b\u202ec\td\ne") == "a\\x1b[31mb\\x07\\x9b\\u202ec\td\ne"
    assert visible("g\x01\ufffe\U0001f600", XML_UNSAFE) == "g\\x01\\ufffe\U0001f600"


def test_atomic_write_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("earlier")
    with pytest.raises(SwarmscopeError, match="no space left .*out.txt.*earlier file"):
        with atomic_write(path) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "earlier" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_write(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_report_on_a_full_disk_keeps_the_earlier_report(detected, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    assert run("report", "--out", out, db=detected).exit_code == 0
    earlier = out.read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Path, "write_text", full)
    r = run("report", "--out", out, db=detected)
    assert r.exit_code == 1 and "no space left" in _only_error_line(r)
    assert out.read_bytes() == earlier and [p.name for p in tmp_path.iterdir()] == ["r.html"]


@pytest.mark.parametrize("argv", [["pairs", "--kind", "repost", "--window", "60", "--out"],
                                  ["detect", "--kinds", "repost", "--out"]])
def test_parquet_outputs_on_a_full_disk_keep_the_earlier_files(detected, tmp_path, monkeypatch,
                                                               argv):
    db = Path(tmp_path / "s.duckdb")
    db.write_bytes(detected.read_bytes())
    out = tmp_path / ("p.parquet" if argv[0] == "pairs" else "d")
    assert run(*argv, out, db=db).exit_code == 0
    before = {p.name: p.read_bytes() for p in (out.iterdir() if out.is_dir() else [out])}

    def full(self, sql, path):
        raise duckdb.IOException(FULL.format(path))
    monkeypatch.setattr("swarmscope.store.backend.DuckDBBackend.write_parquet", full)
    r = run(*argv, out, db=db)
    assert r.exit_code == 1 and "no space left" in _only_error_line(r)
    assert {p.name: p.read_bytes() for p in (out.iterdir() if out.is_dir() else [out])} == before
    assert not list(tmp_path.glob("**/.*.tmp"))


def _posts_csv(tmp_path: Path) -> Path:
    return synthetic(tmp_path / "in.csv", seed=1, accounts=20, hours=4)


def test_a_full_disk_at_commit_is_one_line_and_the_store_stays_usable(tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    assert run("ingest", _posts_csv(tmp_path), db=db).exit_code == 0

    def full(*args, **kwargs):
        raise duckdb.TransactionException("TransactionContext Error: Failed to commit: "
                                          + FULL.format(db))
    monkeypatch.setattr(INGEST, "merge", full)
    r = run("ingest", synthetic(tmp_path / "more.csv", seed=2, accounts=20, hours=4), db=db)
    line = _only_error_line(r)
    assert r.exit_code == 1 and "no space left" in line and str(db) in line
    with Store(db, read_only=True) as s:
        assert s.db.query("SELECT status FROM runs ORDER BY run_id") == [("ok",), ("failed",)]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), duckdb.InterruptException(),
                                       RuntimeError("Query interrupted")])
def test_ctrl_c_is_one_line_exit_130_and_the_store_stays_usable(tmp_path, monkeypatch,
                                                                 interrupt):
    """Python's, the engine's, and the engine's while a result is fetched."""
    db = tmp_path / "s.duckdb"

    def stop(*args, **kwargs):
        raise interrupt
    monkeypatch.setattr(INGEST, "merge", stop)
    r = run("ingest", _posts_csv(tmp_path), db=db)
    assert r.exit_code == 130 and "interrupted" in _only_error_line(r)
    assert len(r.output.strip().splitlines()) == 1
    with Store(db, read_only=True) as s:
        assert s.db.query("SELECT status FROM runs") == [("failed",)]
        assert s.db.scalar("SELECT count(*) FROM posts") == 0


def test_a_real_ctrl_c_during_ingest(tmp_path):
    """SIGINT to a running ingest of ten files: exit 130, one line, and every file the store
    holds is whole (read = stored + duplicates for each, the posts those of whole files)."""
    db, csv_path = tmp_path / "s.duckdb", synthetic(tmp_path / "in.csv", seed=1, hours=48)
    proc = subprocess.Popen([sys.executable, "-m", "swarmscope", "--db", db, "ingest",
                             *[csv_path] * 10], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60   # the signal once ingest runs, not during the imports
    while not db.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the ingest finished before the signal")
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [err.strip().splitlines()[-1]]
    assert err.startswith("Error: interrupted")
    with Store(db, read_only=True) as s:
        posts = s.db.scalar("SELECT count(*) FROM posts")
        assert posts in (0, len(csv_path.read_text().splitlines()) - 1)
        assert s.db.query("SELECT status FROM runs") == [("failed",)]


def test_an_unwritable_temp_dir_is_refused_at_open(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr("swarmscope.store.tempfile.TemporaryFile", denied)
    r = run("--temp-dir", tmp_path, "ingest", _posts_csv(tmp_path), db=tmp_path / "s.duckdb")
    assert r.exit_code == 1 and "not writable" in _only_error_line(r)


def test_another_applications_database_is_not_written_to(tmp_path):
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE notes (body VARCHAR)")
    r = run("ingest", _posts_csv(tmp_path), db=other)
    assert r.exit_code == 1 and "not a swarmscope store" in _only_error_line(r)
    with duckdb.connect(str(other), read_only=True) as con:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("notes",)]
        assert con.execute("SELECT count(*) FROM duckdb_sequences()").fetchone()[0] == 0


def test_a_rollback_after_a_failed_commit_raises_nothing_more():
    """An interrupted COMMIT has ended the transaction: rolling back must not raise a second
    error that hides the first (it did: a traceback on Ctrl-C)."""
    from swarmscope.store.backend import rollback
    con = duckdb.connect()
    rollback(con)
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE t (a INTEGER)")
    rollback(con)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 0
