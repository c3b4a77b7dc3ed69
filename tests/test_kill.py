"""A killed ingest (SIGKILL) leaves the store consistent, and the same ingest then completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from swarmscope import Store

ROWS = 300_000


@pytest.fixture(scope="module")
def big_cnt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "big.csv"
    duckdb.connect().execute(f"""
        COPY (SELECT i AS message_id, 'u' || (i % 5000) AS user_id, 'name' || (i % 5000) AS username,
                     CASE WHEN i % 3 = 0 THEN 'r' || (i % 777) END AS repost_id, NULL AS reply_id,
                     'message number ' || i || ' #tag' || (i % 50) AS message,
                     1600000000 + i AS timestamp,
                     'https://www.example' || (i % 100) || '.com/p/' || i || '?utm_source=x' AS urls
              FROM range({ROWS}) t(i)) TO '{path}' (HEADER)""")
    return path


def consistent_counts(db: Path) -> tuple[int, int]:
    with Store(db) as s:
        posts = s.con.execute("SELECT count(*) FROM posts").fetchone()[0]
        orphans = s.con.execute("SELECT count(*) FROM entities e WHERE NOT EXISTS (SELECT 1 "
                                "FROM posts p WHERE p.post_id = e.post_id)").fetchone()[0]
        dup_posts = s.con.execute("SELECT count(*) - count(DISTINCT post_id) FROM posts"
                                  ).fetchone()[0]
    assert orphans == 0 and dup_posts == 0
    return posts, orphans


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 1.5, 3.0])
def test_sigkill_mid_ingest_then_rerun_completes(tmp_path, big_cnt, delay):
    db = tmp_path / "k.duckdb"
    proc = subprocess.Popen([sys.executable, "-m", "swarmscope", "--db", str(db), "ingest",
                             str(big_cnt)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    scratch = Path(str(db) + ".ingest-tmp")
    deadline = time.time() + 60
    while not scratch.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    posts, _ = consistent_counts(db)
    assert posts in (0, ROWS), posts               # one transaction per file: all or nothing
    if not finished:
        with Store(db) as s:
            assert s.con.execute("SELECT status FROM runs ORDER BY run_id DESC LIMIT 1"
                                 ).fetchone()[0] in ("running", "ok")
    again = subprocess.run([sys.executable, "-m", "swarmscope", "--db", str(db), "ingest",
                            str(big_cnt)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    stored = ROWS - posts
    assert f"read {ROWS:,} = stored {stored:,} + duplicates {posts:,} + rejected 0" in again.stdout
    assert consistent_counts(db)[0] == ROWS
