"""Unit tests of signatures/surges.py ``find_surges`` on hand-built actions: bursts of distinct
accounts over a flat background of one account per object per hour."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from scipy import stats as sps

from swarmscope.signatures.surges import find_surges
from swarmscope.store.backend import DuckDBBackend

T0 = datetime(2020, 1, 1)  # a whole hour: bin b is [T0 + b h, T0 + (b + 1) h)
BINS = 48
OBJECTS = ["a", "b", "c", "d", "e"]


def at(bin_: int, seconds: int) -> datetime:
    return T0 + timedelta(hours=bin_, seconds=seconds)


def actions() -> list[tuple[str, int, str, datetime]]:
    """(object, account, post_id, ts). Background: every object, every hour, one post by a
    different account at +10 min. b: 30 accounts in bin 20. c: one account posts 50 times in
    bin 10. d: 20 accounts in bin 30 and 20 others in bin 32 (two bins apart). e: the same
    in bins 30 and 33 (three bins apart)."""
    rows = [(o, 1000 + b, f"{o}-bg-{b}", at(b, 600)) for o in OBJECTS for b in range(BINS)]
    rows += [("b", i, f"b-{i}", at(20, 60 * i)) for i in range(1, 31)]
    rows += [("c", 7, f"c-{i}", at(10, 30 + i)) for i in range(50)]
    for obj, second in (("d", 32), ("e", 33)):
        rows += [(obj, 200 + i, f"{obj}-x-{i}", at(30, 100 + i)) for i in range(20)]
        rows += [(obj, 220 + i, f"{obj}-y-{i}", at(second, 200 + i)) for i in range(20)]
    return rows


@pytest.fixture
def backend():
    con = duckdb.connect()
    backend = DuckDBBackend(con)
    rows = actions()
    backend.register_arrow("acts", pa.table({
        "object": [r[0] for r in rows], "account": pa.array([r[1] for r in rows], pa.int32()),
        "post_id": [r[2] for r in rows],
        "ts": pa.array([r[3] for r in rows], pa.timestamp("us"))}))
    yield backend
    con.close()


def bursts(backend, prefix="s"):
    return backend.to_arrow(f"SELECT * FROM {prefix}_bursts ORDER BY object, start_time").to_pylist()


def test_one_burst_found_with_its_extent(backend):
    """The 30-account hour of b is one burst: start and end are its first and last post,
    31 accounts and posts (the background's post of that hour included), one bin, expected
    = b's mean accounts per hour, p = P(Poisson(rate) >= 31); flat a is never a surge."""
    n = find_surges(backend, "SELECT * FROM acts", "s", bin_s=3600, fdr=0.05, min_accounts=3)
    found = {(r["object"], r["start_time"]) for r in bursts(backend)}
    assert n == len(found) == 4  # b, d (merged), e twice
    b = [r for r in bursts(backend) if r["object"] == "b"]
    assert len(b) == 1
    b = b[0]
    rate = (BINS + 30) / BINS
    assert (b["start_time"], b["end_time"]) == (at(20, 60), at(20, 1800))
    assert (b["bins"], b["accounts"], b["posts"]) == (1, 31, 31)
    assert b["expected"] == pytest.approx(rate)
    assert b["p_value"] == pytest.approx(sps.poisson.sf(30, rate), rel=1e-9)
    assert b["p_value"] <= b["q_value"] <= 0.05
    assert backend.scalar("SELECT count(*) FROM s_burst_posts WHERE object = 'b'") == 31
    assert backend.scalar("SELECT count(*) FROM s_bursts WHERE object IN ('a', 'c')") == 0


def test_accounts_are_counted_not_posts(backend):
    """One account posting 50 times in an hour (c, bin 10) makes no surge, even with
    min_accounts = 1; b's 31 accounts are no surge when 40 are required."""
    find_surges(backend, "SELECT * FROM acts", "s", bin_s=3600, fdr=0.05, min_accounts=1)
    assert "c" not in {r["object"] for r in bursts(backend)}
    assert "b" in {r["object"] for r in bursts(backend)}
    find_surges(backend, "SELECT * FROM acts", "t", bin_s=3600, fdr=0.05, min_accounts=40)
    assert bursts(backend, "t") == []


def test_bins_two_apart_merge_three_apart_do_not(backend):
    """d's significant bins 30 and 32 (a gap of 2) merge into one burst spanning 3 bins, with
    the quiet bin 31 between them (43 accounts: 20 + 20 + 3 background); e's bins 30 and 33
    stay two bursts of one bin each."""
    find_surges(backend, "SELECT * FROM acts", "s", bin_s=3600, fdr=0.05, min_accounts=3)
    d = [r for r in bursts(backend) if r["object"] == "d"]
    assert len(d) == 1
    assert (d[0]["bins"], d[0]["accounts"], d[0]["posts"]) == (3, 43, 43)
    # bin 32 ends with its background post
    assert (d[0]["start_time"], d[0]["end_time"]) == (at(30, 100), at(32, 600))
    e = [r for r in bursts(backend) if r["object"] == "e"]
    assert [(r["bins"], r["accounts"], r["start_time"]) for r in e] == [
        (1, 21, at(30, 100)), (1, 21, at(33, 200))]
    assert len({r["burst"] for r in bursts(backend)}) == 4  # burst ids are distinct


def test_a_far_off_post_does_not_stretch_the_baseline(backend):
    """One post dated 1900 (object a) adds one bin to the observed span, not 120 years of
    empty days: the same bursts are found, with b's rate over 49 bins instead of 48."""
    find_surges(backend, "SELECT * FROM acts", "s", bin_s=3600, fdr=0.05, min_accounts=1)
    outlier = "SELECT * FROM acts UNION ALL SELECT 'a', 999, 'old', TIMESTAMP '1900-06-01 12:00'"
    find_surges(backend, outlier, "t", bin_s=3600, fdr=0.05, min_accounts=1)
    def found(prefix):
        return [(r["object"], r["start_time"], r["bins"]) for r in bursts(backend, prefix)]
    assert found("t") == found("s") and len(found("s")) == 4
    b = next(r for r in bursts(backend, "t") if r["object"] == "b")
    assert b["expected"] == pytest.approx((BINS + 30) / (BINS + 1))
