"""Determinism: the same store and seed give byte-identical detect tables, ``detect --out`` files
and exports at any thread count (issue 18, must-have 5), on a slice of the real demo data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow.parquet as pq

from swarmscope.store.schema import RESULT_TABLES, TABLES

from conftest import DEMO_FILES, ROOT, run

#: The first rows of each demo file: still flagged accounts, clusters, affiliation, evidence,
#: operations, attacks and trends, in about 10 s of detect on 2 cores.
SLICE_ROWS = {"ira_week_2015-11-10_shifted.parquet": 8_000, "higgs_activity.parquet": 30_000}


def _bench():
    spec = importlib.util.spec_from_file_location("determinism", ROOT / "bench" / "determinism.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(args) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output


def test_every_result_table_has_an_order():
    assert all(TABLES[name].order for name in RESULT_TABLES)


def test_detect_and_export_are_byte_identical_at_one_and_two_threads(tmp_path: Path):
    files = []
    for path in DEMO_FILES:
        files.append(tmp_path / path.name)
        pq.write_table(pq.read_table(path).slice(0, SLICE_ROWS[path.name]), files[-1])
    db = tmp_path / "slice.duckdb"
    _cli(["--db", db, "ingest", *files])
    res = _bench().check(_cli, db, tmp_path / "runs", threads=(1, 2))
    assert res["identical"], res["different"]
    out = tmp_path / "runs" / "threads1_0" / "out"
    accounts = pq.read_table(out / "accounts.parquet").to_pydict()
    assert sum(accounts["flagged"]) > 100 and len(set(accounts["cluster_id"]) - {None}) >= 2
    assert any(r is not None for r in accounts["affiliation_p"])
    for name in ("evidence", "operations", "attacks", "trends"):
        assert pq.read_metadata(out / f"{name}.parquet").num_rows > 0, name
    assert res["files"] >= 50 and len(res["seconds"]) == 3
