"""Shared fixtures: the real data in ../shared/data, fresh stores, and the CLI."""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import pytest
from click.testing import CliRunner

from swarmscope import Store
from swarmscope.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWARMSCOPE_SHARED_DATA", ROOT.parent / "shared" / "data"))
HANDMADE = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data; tests that need it skip when it is absent, except under CI."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared real data is missing at {SHARED}")
        pytest.skip(f"real data not found at {SHARED} (set SWARMSCOPE_SHARED_DATA)")
    return SHARED


DEMO_DATA = ROOT / "src" / "swarmscope" / "demo_data"
DEMO_FILES = (DEMO_DATA / "ira_week_2015-11-10_shifted.parquet",
              DEMO_DATA / "higgs_activity.parquet")


@pytest.fixture(scope="session")
def demo_ingested(tmp_path_factory) -> Path:
    """The bundled demo (a real IRA week inside the real Higgs week), ingested once per
    session through the CLI; tests copy it before they write (:func:`copy_store`)."""
    db = tmp_path_factory.mktemp("demo_ingested") / "demo.duckdb"
    result = run("ingest", *DEMO_FILES, db=db)
    assert result.exit_code == 0, result.output
    return db


def demo_slice(tmp: Path, rows: tuple[int | None, int | None]) -> list[Path]:
    """The first ``rows`` of the bundled demo's two files (real IRA trolls in real Higgs
    activity), written to ``tmp``; small, but with flagged accounts and clusters. None keeps
    a file whole, where it is (its bytes and name those of the bundled file)."""
    import pyarrow.parquet as pq
    files = []
    for path, n in zip(DEMO_FILES, rows):
        if n is None:
            files.append(path)
            continue
        files.append(tmp / path.name)
        pq.write_table(pq.read_table(path).slice(0, n), files[-1])
    return files


def copy_store(db: Path, to: Path) -> Path:
    """A copy of a closed store, for a test that writes to it."""
    to.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(db, to / db.name))


@dataclass(frozen=True)
class Detected:
    """A detected store: its path, the ``detect --out`` directory and the command's output."""

    db: Path
    out: Path
    output: str

    def store(self) -> Store:
        return Store(self.db, read_only=True)

    def __iter__(self):  # db, out, output = demo
        return iter((self.db, self.out, self.output))


@pytest.fixture(scope="session")
def demo(tmp_path_factory, demo_ingested) -> Detected:
    """The demo, detected once per session with the defaults (read it; do not write to it)."""
    tmp = tmp_path_factory.mktemp("demo")
    db = copy_store(demo_ingested, tmp)
    result = run("--memory-limit", "2GB", "detect", "--out", tmp / "out", db=db)
    assert result.exit_code == 0, result.output
    return Detected(db, tmp / "out", result.output)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def store(db: Path):
    with Store(db) as s:
        yield s


@pytest.fixture(scope="session")
def spark():
    """A Spark session (``local[2]``) for every Spark test of the run (it takes ~20 s to
    start)."""
    from swarmscope.store.spark import spark_session
    session = spark_session("local[2]", {"spark.driver.memory": "2g",
                                         "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def run(*args: str, db: Path | None = None):
    """Run the real CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    argv = (["--db", str(db)] if db else []) + [str(a) for a in args]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


CNT_HEADER = ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp",
          "urls"]
T0 = 1_341_100_800  # 2012-07-01


def synthetic(path: Path, seed: int, *, accounts: int = 250, hours: int = 48,
              group: int = 0, swap: dict[str, str] | None = None) -> Path:
    """Independent Poisson accounts that repost objects of Zipf-like popularity at uniform
    times; with ``group`` > 0, that many extra accounts also repost the same fresh objects within
    seconds of each other at 30 moments (a planted operation). ``swap`` renames objects."""
    rng = np.random.default_rng(seed)
    objects = [f"o{i}" for i in range(1500)]
    weights = 1 / np.arange(1, len(objects) + 1) ** 0.8
    weights /= weights.sum()
    rows = []
    for a in range(accounts):
        n = rng.poisson(rng.lognormal(np.log(1.0), 0.8) * hours)
        for t, o in zip(rng.uniform(0, hours * 3600, n), rng.choice(objects, n, p=weights)):
            rows.append((f"u{a}", o, int(t)))
    for k in range(30 if group else 0):
        moment, obj = rng.uniform(0, hours * 3600), f"campaign{k}"
        for a in range(group):
            if rng.uniform() < 0.7:
                rows.append((f"g{a}", obj, int(moment + rng.uniform(0, 20))))
    swap = swap or {}
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CNT_HEADER)
        for i, (acc, obj, t) in enumerate(rows):
            obj = swap.get(obj, obj)
            w.writerow([f"m{i}", acc, acc, obj, "", f"RT {obj}", T0 + t, f"http://x.org/{obj}"])
    return path


def planted_store(tmp: Path, seed: int, updates: list[tuple[str, list]]) -> Path:
    """A store of synthetic accounts with a planted group of 8 (``g0``..``g7``), changed by the
    SQL ``updates`` (statement, parameters), then detected on co-repost within 60 s."""
    from swarmscope import ingest
    from swarmscope.pipeline import DetectParams, detect
    db = tmp / "s.duckdb"
    with Store(db) as store:
        ingest(store, [synthetic(tmp / "planted.csv", seed=seed, group=8)])
        for sql, params in updates:
            store.con.execute(sql, params)
        detect(store, DetectParams(windows={"repost": (60.0,)}))
    return db
