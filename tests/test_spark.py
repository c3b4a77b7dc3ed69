"""The Spark engine against DuckDB on the same input: identical traces, edges, per-edge
measures (1e-9 relative) and evidence, for every window semantics, on the peers' data.

Spark runs ``local[2]`` in one session for the module; the canonical tables reach it as the
Parquet dataset ``ingest --dataset`` writes (:mod:`swarmscope.store.dataset`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from swarmscope import Store
from swarmscope.detection.stats import benjamini_hochberg
from swarmscope.engine import PairParams
from swarmscope.engine.sql import SQLEngine
from swarmscope.store.backend import Backend
from swarmscope.store.dataset import DATASET_TABLES, register_dataset
from swarmscope.traces import build_traces, reset_traces
from tests.conftest import copy_store, demo_slice, run

pytestmark = pytest.mark.spark

CNT = "fixtures/coordination_network_toolkit/coretweet_test_input.csv"
COORTWEET = "coortweet/russian_coord_tweets.csv.gz"
DEMO_SLICE = "demo slice"
IRA_SLICE = "ira slice"


def _ira_slice(shared: Path, tmp: Path, rows: int = 100_000) -> list[Path]:
    """The first ``rows`` IRA tweets from 15 July 2015 on, in time order: a dense stretch of
    the release (many trolls at work at once)."""
    import duckdb
    out = tmp / "ira_slice.parquet"
    duckdb.sql(f"""COPY (SELECT * FROM read_parquet('{shared / "ira/ira_tweets.parquet"}')
                         WHERE publish_date >= TIMESTAMP '2015-07-15'
                         ORDER BY publish_date, author_id, content LIMIT {rows})
                   TO '{out}' (FORMAT parquet)""")
    return [out]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, shared):
    """For a source file of ../shared/data: its DuckDB store and its canonical dataset,
    written once per module by ``ingest --dataset``."""
    made: dict[str, tuple[Path, Path]] = {}

    def make(source: str) -> tuple[Path, Path]:
        if source not in made:
            tmp = tmp_path_factory.mktemp("spark")
            files = (demo_slice(tmp, (8_000, 30_000)) if source == DEMO_SLICE
                     else _ira_slice(shared, tmp) if source == IRA_SLICE else [shared / source])
            result = run("ingest", *files, "--dataset", tmp / "dataset", db=tmp / "s.duckdb")
            assert result.exit_code == 0, result.output
            made[source] = tmp / "s.duckdb", tmp / "dataset"
        return made[source]

    return make


@pytest.fixture(scope="module")
def engines(ingested, spark):
    """For a source file of ../shared/data: its DuckDB store (read-only) and a Spark backend
    whose canonical tables are its dataset."""
    from swarmscope.store.spark import SparkBackend
    opened: dict[str, Store] = {}

    def make(source: str) -> tuple[Backend, Backend]:
        db, dataset = ingested(source)
        if source not in opened:
            opened[source] = Store(db, read_only=True)
        sdb = SparkBackend(spark)
        register_dataset(sdb, str(dataset))
        return opened[source].db, sdb

    yield make
    for store in opened.values():
        store.close()


def _candidates(db: Backend, params: PairParams) -> tuple[int, pa.Table, pa.Table]:
    reset_traces(db)
    n = build_traces(db, params.kind)
    SQLEngine(db).candidates(params, 0)
    edges = db.to_arrow("SELECT * FROM pair_candidates ORDER BY a, b")
    evidence = db.to_arrow("SELECT * FROM candidate_evidence ORDER BY a, b, object, pa, pb")
    return n, edges, evidence


def assert_same_table(duck: pa.Table, spark: pa.Table) -> None:
    """Equal column names and rows; doubles (also inside lists and structs) equal to 1e-9
    relative."""
    assert duck.column_names == spark.column_names
    assert duck.num_rows == spark.num_rows
    for name in duck.column_names:
        a, b = duck.column(name).to_pylist(), spark.column(name).to_pylist()
        assert all(_close(x, y) for x, y in zip(a, b)), name


def _close(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-300)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    return x == y


def test_the_dataset_holds_every_canonical_row(engines):
    """Written from the store and read by Spark, each table has the store's rows, with the
    store's keys; partition values stay text."""
    duck, sdb = engines(COORTWEET)
    for table in DATASET_TABLES:
        assert sdb.scalar(f"SELECT count(*) FROM {table}") == duck.scalar(
            f"SELECT count(*) FROM {table}"), table
    keys = "SELECT min(post_key), max(post_key), count(DISTINCT post_key) FROM posts"
    assert sdb.query(keys) == duck.query(keys)
    assert sdb.scalar("SELECT typeof(platform) FROM posts LIMIT 1") == "string"


@pytest.mark.parametrize("kind, semantics, window", [
    ("repost", "sliding", 1), ("repost", "sliding", 60), ("repost", "coortweet", 60),
    ("repost", "timefree", 0), ("sync", "sliding", 60)])
def test_the_toolkit_fixture_gives_the_same_edges_on_both_engines(engines, kind, semantics,
                                                                    window):
    duck, sdb = engines(CNT)
    params = PairParams(kind=kind, window=window, semantics=semantics, evidence=5)
    n1, e1, v1 = _candidates(duck, params)
    n2, e2, v2 = _candidates(sdb, params)
    assert n1 == n2 > 0 and e1.num_rows > 0
    assert_same_table(e1, e2)
    assert_same_table(v1, v2)


@pytest.mark.parametrize("kind, semantics, window, keep_loops", [
    ("repost", "sliding", 10, False), ("repost", "coortweet", 60, False),
    ("repost", "coortweet", 10, True), ("sync", "sliding", 60, False)])
def test_coortweets_data_gives_the_same_edges_on_both_engines(engines, kind, semantics, window,
                                                              keep_loops):
    """CooRTweet's russian_coord_tweets (35,125 shares): every edge, measure and evidence row
    the same on Spark as on DuckDB."""
    duck, sdb = engines(COORTWEET)
    params = PairParams(kind=kind, window=window, semantics=semantics, evidence=3,
                        keep_loops=keep_loops,
                        min_participation=2 if semantics == "coortweet" else 1)
    n1, e1, v1 = _candidates(duck, params)
    n2, e2, v2 = _candidates(sdb, params)
    assert n1 == n2 > 0 and e1.num_rows > 100
    assert_same_table(e1, e2)
    assert_same_table(v1, v2)


@pytest.mark.parametrize("kind, window", [("repost", 60), ("sync", 60)])
def test_the_per_edge_tests_are_the_same_on_both_engines(engines, kind, window):
    """The null's expected co-actions (mu) and p-values of every testable pair, and each
    account's partners and significant partners, on CooRTweet's data: p equal to 1e-9, with
    the pairs tested at once on DuckDB and in parts of accounts on Spark."""
    from swarmscope.detection.significance import NullParams, reset_tests, run_pair_tests
    duck, sdb = engines(COORTWEET)
    tables, parts = [], []
    for db, rows in ((duck, 10**12), (sdb, 12_000)):
        reset_traces(db)
        build_traces(db, kind)
        reset_tests(db)
        parts.append(run_pair_tests(db, SQLEngine(db), kind, window, NullParams(),
                                    rows_per_part=rows))
        tables.append((db.to_arrow("SELECT * FROM pair_tests ORDER BY a, b"),
                       db.to_arrow("SELECT * FROM account_tests ORDER BY account")))
    assert parts[0] == 1 < parts[1]
    (p1, a1), (p2, a2) = tables
    assert p1.num_rows > 20 and min(p1.column("p").to_pylist()) < 1e-3
    assert_same_table(p1, p2)
    assert_same_table(a1, a2)


@pytest.mark.parametrize("kind, semantics, window", [
    ("repost", "sliding", 60), ("hashtag", "sliding", 600)])
def test_a_100k_ira_slice_gives_the_same_edges_and_tests_on_both_engines(engines, kind,
                                                                          semantics, window):
    """100,000 real IRA tweets (July 2015): every edge, measure and evidence row, and for the
    sliding window every pair's mu and p and every account's test, the same on Spark."""
    from swarmscope.detection.significance import NullParams, pair_tests, reset_tests
    duck, sdb = engines(IRA_SLICE)
    params = PairParams(kind=kind, window=window, semantics=semantics, evidence=2)
    results = []
    for db in (duck, sdb):
        n, edges, evidence = _candidates(db, params)
        tests = []
        if semantics == "sliding":
            SQLEngine(db).candidates(PairParams(kind=kind, window=window, evidence=0), 0)
            reset_tests(db)
            pair_tests(db, kind, window, NullParams())
            tests = [db.to_arrow("SELECT * FROM pair_tests ORDER BY a, b"),
                     db.to_arrow("SELECT * FROM account_tests ORDER BY account")]
        results.append((n, edges, evidence, tests))
    (n1, e1, v1, t1), (n2, e2, v2, t2) = results
    assert n1 == n2 > 10_000 and e1.num_rows > 1_000
    assert_same_table(e1, e2)
    assert_same_table(v1, v2)
    for a, b in zip(t1, t2):
        assert a.num_rows > 0
        assert_same_table(a, b)


def test_bh_in_sql_on_spark_is_numpys(spark, monkeypatch):
    """Benjamini–Hochberg in Spark SQL, over 13 blocks of ranked p-values: numpy's q-values to
    the bit."""
    from swarmscope.store.spark import SparkBackend
    from tests.test_fusion import bh_in_sql
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(0, 0.05, 60), rng.choice([1e-4, 0.3], 25), np.ones(5)])
    q = bh_in_sql(SparkBackend(spark), p, 150, monkeypatch)
    assert q.tolist() == benjamini_hochberg(p, 150).tolist()


def _detect_tables(out: Path) -> dict[str, pa.Table]:
    """The tables a detect run wrote under ``out`` (files or Spark's folders of parts), in
    their written order, without the run id (each engine numbers its runs)."""
    import pyarrow.parquet as pq
    tables = {}
    for path in sorted(out.glob("*.parquet")):
        t = pq.read_table(path) if path.is_file() else pq.ParquetDataset(
            sorted(path.glob("part-*.parquet"))).read()
        tables[path.stem] = t.drop_columns([c for c in ("run_id",) if c in t.column_names])
    return tables


def test_detect_on_spark_writes_what_duckdb_detect_writes(ingested, spark, tmp_path):
    """``detect --engine spark --input DATASET --out DIR`` against ``detect`` on the store, on
    the demo slice with four kinds (co-repost, co-mention, same-minute synchrony and
    near-duplicate text within a minute) and two affiliation rounds: the same accounts,
    scores, p- and q-values and flags, edges, clusters with their summaries and traits,
    evidence and calibration, row for row; the signals and signatures are DuckDB's only, and
    say so."""
    db, dataset = ingested(DEMO_SLICE)
    args = ("--kinds", "repost,mention,sync,similar_text", "--window", "60",
            "--affiliation-rounds", "2")
    result = run("detect", *args, "--out", tmp_path / "duck",
                 db=copy_store(db, tmp_path / "store"))
    assert result.exit_code == 0, result.output
    result = run("detect", *args, "--engine", "spark", "--master", "local[2]", "--input",
                 dataset, "--out", tmp_path / "spark")
    assert result.exit_code == 0, result.output
    assert "signals and signatures run on DuckDB only" in result.output
    duck_tables, spark_tables = _detect_tables(tmp_path / "duck"), _detect_tables(
        tmp_path / "spark")
    core = ("accounts", "edges", "clusters", "cluster_traits", "evidence", "calibration")
    assert set(core) <= set(spark_tables) and set(spark_tables) - set(core) == {"run"}
    assert sum(duck_tables["accounts"].column("flagged").to_pylist()) > 20
    assert duck_tables["clusters"].num_rows >= 2 and duck_tables["evidence"].num_rows > 100
    for name in core:
        assert_same_table(duck_tables[name], spark_tables[name])


def test_detect_on_spark_names_what_is_missing(spark, tmp_path):
    """Without --input, or with a folder that holds no dataset, a clear error and exit 1."""
    result = run("detect", "--engine", "spark", "--out", tmp_path / "r")
    assert result.exit_code == 1
    assert "--engine spark reads --input PATH" in result.output
    (tmp_path / "empty").mkdir()
    result = run("detect", "--engine", "spark", "--master", "local[2]", "--input",
                 tmp_path / "empty", "--out", tmp_path / "r")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot read the dataset's table posts" in result.output
    assert "ingest --dataset PATH" in result.output
