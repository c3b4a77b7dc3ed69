"""Unit tests of the backend seam (store/backend.py), the dialect (store/dialect.py) and the
stage contract (pipeline.run_stage)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from swarmscope.errors import SwarmscopeError
from swarmscope.pipeline import STAGES, Stage, run_stage
from swarmscope.store.backend import DuckDBBackend, Step
from swarmscope.store.dialect import _MULTIPLIERS, _PRIME, _SQUARE_ADD, Dialect, DuckDBDialect


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


def test_materialise_has_table_columns_and_drop(con):
    """materialise makes a temp table (or a persistent one) from SQL, replacing an older
    one; has_table tells temp from persistent and sees views; columns lists the columns in
    order; drop removes tables and ignores absent ones; scalar is None without rows."""
    db = DuckDBBackend(con)
    db.materialise("t", "SELECT range AS x, range * 2 AS y FROM range(5)")
    db.materialise("t", "SELECT range AS x, 'a' AS z FROM range(3)")  # replaced
    assert db.query("SELECT count(*), sum(x) FROM t") == [(3, 3)]
    assert db.columns("t") == ["x", "z"]
    db.materialise("p", "SELECT 1 AS one", temporary=False)
    con.execute("CREATE TEMP VIEW v AS SELECT 1 AS one")
    assert db.has_table("t") and db.has_table("t", temporary=True)
    assert not db.has_table("t", temporary=False)
    assert db.has_table("p", temporary=False) and not db.has_table("p", temporary=True)
    assert db.has_table("v") and not db.has_table("nope")
    db.drop("t", "p", "nope")
    assert not db.has_table("t") and not db.has_table("p")
    assert db.scalar("SELECT 1 WHERE false") is None


def test_register_arrow_copies_into_a_temp_table(con):
    """register_arrow makes a temp table holding a copy: it outlives the Arrow object, keeps
    column types, replaces an earlier one and leaves no helper view behind."""
    db = DuckDBBackend(con)
    db.register_arrow("a", pa.table({"k": pa.array([3, 1, 2], pa.int32()), "s": ["x", "y", None]}))
    db.register_arrow("a", pa.table({"k": pa.array([5, 6], pa.int32()), "s": ["p", "q"]}))
    assert db.has_table("a", temporary=True)
    assert db.query("SELECT k, s FROM a ORDER BY k") == [(5, "p"), (6, "q")]
    assert [r[1] for r in con.execute("DESCRIBE a").fetchall()] == ["INTEGER", "VARCHAR"]
    assert db.to_arrow("SELECT * FROM a ORDER BY k").column("k").to_pylist() == [5, 6]
    assert not db.has_table("_arrow_a")


def test_transaction_commits_or_rolls_back(con):
    """Inside transaction, an error rolls back every statement (inserts and new tables) and
    propagates; without an error everything is committed."""
    db = DuckDBBackend(con)
    db.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ZeroDivisionError):
        with db.transaction():
            db.execute("INSERT INTO t VALUES (1), (2)")
            db.materialise("u", "SELECT 1 AS y", temporary=False)
            1 / 0
    assert db.scalar("SELECT count(*) FROM t") == 0 and not db.has_table("u")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (3)")
    assert db.query("SELECT x FROM t") == [(3,)]


def test_debug_steps_records_names_and_rows(con):
    """With debug_steps every materialise is a Step with its row count and every step()
    block a Step without rows, in order, with non-negative times; without it nothing is
    recorded."""
    db = DuckDBBackend(con, debug_steps=True)
    db.materialise("t", "SELECT * FROM range(7)")
    with db.step("work"):
        db.execute("SELECT 1")
    db.materialise("u", "SELECT * FROM t WHERE range < 2")
    assert [(s.name, s.rows) for s in db.steps] == [("t", 7), ("work", None), ("u", 2)]
    assert all(isinstance(s, Step) and s.seconds >= 0 for s in db.steps)
    quiet = DuckDBBackend(con)
    quiet.materialise("t", "SELECT 1")
    assert quiet.steps == []


# -- dialect -------------------------------------------------------------------------------

def py_seeded_hash(values: list[int], seed: int) -> int:
    """The formula of Dialect.seeded_hash, evaluated in Python."""
    s = seed % _PRIME
    h = s
    for i, v in enumerate(values):
        u = ((v % _PRIME) * _MULTIPLIERS[i % len(_MULTIPLIERS)] + s) % _PRIME
        h = (h * _MULTIPLIERS[0] + u * u % _PRIME + _SQUARE_ADD) % _PRIME
    return (h * _MULTIPLIERS[1] + 7) % _PRIME


def test_seeded_hash_same_in_duckdb_and_python(con):
    """seeded_hash of one, two and four columns (large values included) gives in DuckDB
    exactly the Python evaluation of the formula, in [0, 2^31)."""
    rng = np.random.default_rng(0)
    values = rng.integers(0, 10 ** 12, size=(300, 4)).tolist() + [[0, 0, 0, 0],
                                                                 [2 ** 62, 1, 2, 3]]
    con.execute("CREATE TEMP TABLE v (a BIGINT, b BIGINT, c BIGINT, d BIGINT)")
    con.executemany("INSERT INTO v VALUES (?, ?, ?, ?)", values)
    d = DuckDBDialect()
    for cols, seed in ((["a"], 0), (["a", "b"], 42), (["a", "b", "c", "d"], 2 ** 40 + 7)):
        got = [r[0] for r in con.execute(f"SELECT {d.seeded_hash(cols, seed)} FROM v "
                                         "ORDER BY a, b, c, d").fetchall()]
        want = [py_seeded_hash(r[:len(cols)], seed) for r in sorted(values)]
        assert got == want
        assert all(0 <= h < 2 ** 31 for h in got)


def test_seeded_hash_differs_across_seeds_and_is_roughly_uniform(con):
    """For fixed inputs the hash differs between seeds; over 20 000 inputs its deciles of
    [0, P) each hold 10 % +- 1.5 % of the values."""
    d = DuckDBDialect()
    per_seed = {con.execute(f"SELECT {d.seeded_hash(['5', '9'], s)}").fetchone()[0]
                for s in range(100)}
    assert len(per_seed) == 100
    h = np.array(con.execute(f"SELECT {d.seeded_hash(['i', '3'], 11)} FROM range(20000) t(i)")
                 .fetchall())[:, 0]
    counts = np.bincount((h * 10 // _PRIME).astype(int), minlength=10)
    assert len(counts) == 10 and (abs(counts - 2000) <= 300).all()


def test_orders_by_seeded_hash_vary_with_the_seed(con):
    """A shuffle by seeded_hash (as permute_traces draws one): ordering 10 items by it under
    50 seeds gives nearly 50 different orders, as a random shuffle would (10! = 3.6 M)."""
    d = DuckDBDialect()
    orders = {tuple(r[0] for r in con.execute(
        f"SELECT i FROM range(10) t(i) ORDER BY {d.seeded_hash(['i', '7'], s)}").fetchall())
        for s in range(50)}
    assert len(orders) >= 45


def test_permute_traces_breaks_co_action(con):
    """Two accounts alternate within one hour, B 20 s after A on each of 10 objects; in a
    permuted copy ~0.5 of the 10 co-actions survive by chance, so 9 or more should (almost)
    never survive: at most 2 seeds of 40."""
    from swarmscope.detection.permutation import permute_traces
    from swarmscope.traces import replace_traces, reset_traces
    kept = 0
    for seed in range(40):
        db = DuckDBBackend(con)
        reset_traces(db)
        replace_traces(db, "hashtag", "SELECT 1 + i % 2 AS account, i // 2 AS object, i AS post, "
                                      "(i // 2) * 300000 + (i % 2) * 20000 AS ts FROM range(20) t(i)")
        permute_traces(db, "hashtag", seed)
        kept += db.scalar("SELECT count(*) FROM traces x JOIN traces y ON x.object = y.object "
                          "AND x.account = 1 AND y.account = 2 "
                          "AND abs(x.ts - y.ts) <= 60000") >= 9
    assert kept <= 2


def test_dialect_functions(con):
    """DuckDB's dialect: epoch_ms and from_epoch_ms are inverse, arg_min picks the value at
    the smallest key, offsets are low..high inclusive; the base dialect names what it lacks."""
    d = DuckDBDialect()
    ms = 1_446_000_123_456
    assert con.execute(f"SELECT {d.epoch_ms(d.from_epoch_ms(str(ms)))}").fetchone()[0] == ms
    assert con.execute(f"SELECT {d.arg_min('v', 'k')} FROM (VALUES (3, 'c'), (1, 'a'), "
                       "(2, 'b')) t(k, v)").fetchone()[0] == "a"
    assert [r[0] for r in con.execute(f"SELECT d FROM {d.offsets(-2, 2, 'r', 'd')} "
                                      "ORDER BY d").fetchall()] == [-2, -1, 0, 1, 2]
    with pytest.raises(NotImplementedError, match="epoch_ms"):
        Dialect().epoch_ms("ts")


# -- the stage contract --------------------------------------------------------------------

def test_run_stage_names_missing_inputs_and_outputs(con):
    """run_stage refuses a stage whose input table is missing, naming it (and only the
    missing one); with inputs present it runs the body as the step 'stage <name>'; with
    debug_steps a stage that does not write its outputs fails naming them."""
    db = DuckDBBackend(con, debug_steps=True)
    db.materialise("pair_tests", "SELECT 1 AS x")
    fusion = STAGES["fusion"]
    with pytest.raises(SwarmscopeError, match="fusion.*account_tests") as err:
        with run_stage(db, fusion):
            pytest.fail("the body ran without its inputs")
    assert "pair_tests" not in str(err.value)
    db.materialise("account_tests", "SELECT 1 AS x")
    with run_stage(db, Stage("toy", ("pair_tests",), ("toy_out",))):
        db.materialise("toy_out", "SELECT 1 AS y")
    assert db.steps[-1].name == "stage toy"
    with pytest.raises(SwarmscopeError, match="did not write account_scores, fused_edges"):
        with run_stage(db, fusion):
            pass
