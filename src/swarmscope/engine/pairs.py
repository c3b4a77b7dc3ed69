"""``pairs``: traces of one kind -> the windowed co-action network, persisted in the store.

Example::

    import swarmscope
    from swarmscope.engine import PairParams
    with swarmscope.Store("case.duckdb") as store:
        result = swarmscope.pairs(store, PairParams(kind="repost", window=60))
        store.con.sql("SELECT * FROM edges ORDER BY weight DESC LIMIT 5").show()
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path

from swarmscope.engine import PairParams, PairsResult
from swarmscope.engine.registry import ENGINES, get_engine
from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import atomic_write, check_output
from swarmscope.params import check_time_range
from swarmscope.store import Store
from swarmscope.traces import TraceOptions, build_traces


def pairs(store: Store, params: PairParams, *, options: TraceOptions = TraceOptions(),
          since: datetime | None = None, until: datetime | None = None,
          out: str | Path | None = None, engine: str = "duckdb",
          weight_quantile: float | None = None) -> PairsResult:
    """Build the traces of ``params.kind``, compute its edges, and store edges, evidence and
    popular objects (tables ``edges``, ``evidence``, ``popular_objects``) under a new run.

    With ``out``, the run's edges are also written to that Parquet file. With
    ``weight_quantile`` q, only edges whose weight is above the q-quantile of the run's edge
    weights are kept: the peers' cut-offs, kept for comparison (CooRTweet's
    ``generate_coordinated_network(edge_weight = q)``; OSoMe's top fraction f is q = 1 - f).
    """
    check_time_range(since, until)
    if weight_quantile is not None and not 0 <= weight_quantile < 1:
        raise SwarmscopeError(f"the weight quantile must be in [0, 1); got {weight_quantile}")
    if engine not in ENGINES:
        raise SwarmscopeError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if out is not None:
        check_output(out)
    run_parameters = {**dataclasses.asdict(params), **dataclasses.asdict(options),
                      "since": since, "until": until, "engine": engine}
    run_id = store.start_run("pairs", run_parameters)
    try:
        start = time.perf_counter()
        n_traces = build_traces(store.db, params.kind, options, since, until)
        built = time.perf_counter() - start
        result = get_engine(engine, store.db).pairs(params, run_id)
        result.seconds = {"traces": built, **result.seconds}
        result.traces = n_traces if params.min_participation <= 1 else result.traces
        if weight_quantile is not None:
            result.edges, result.evidence, result.accounts = _keep_above_quantile(
                store, run_id, weight_quantile)
        if out is not None:
            with atomic_write(out) as tmp:
                store.db.write_parquet(f"SELECT * FROM edges WHERE run_id = {run_id} ORDER BY "
                                       "weight DESC, platform_a, account_a, platform_b, "
                                       "account_b", tmp)
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)[:500]})
        raise
    store.finish_run(run_id, "ok", {"traces": result.traces, "edges": result.edges,
                                    "accounts": result.accounts, "popular": result.popular,
                                    "seconds": result.seconds})
    return result


def _keep_above_quantile(store: Store, run_id: int, q: float) -> tuple[int, int, int]:
    """Delete the run's edges (and their evidence) at or below the q-quantile of its weights."""
    db = store.db
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE dropped AS
        SELECT account_key_a, account_key_b FROM pair_edges WHERE run_id = {run_id} AND weight <= (
            SELECT quantile_cont(weight, {q}) FROM pair_edges WHERE run_id = {run_id});
        DELETE FROM pair_evidence WHERE run_id = {run_id}
            AND (account_key_a, account_key_b) IN (SELECT (account_key_a, account_key_b) FROM dropped);
        DELETE FROM pair_edges WHERE run_id = {run_id} AND (account_key_a, account_key_b) IN (
            SELECT (account_key_a, account_key_b) FROM dropped);""")
    return db.query(f"""
        SELECT (SELECT count(*) FROM pair_edges WHERE run_id = {run_id}),
               (SELECT count(*) FROM pair_evidence WHERE run_id = {run_id}),
               (SELECT count(*) FROM (SELECT account_key_a FROM pair_edges
                                      WHERE run_id = {run_id} UNION SELECT account_key_b
                                      FROM pair_edges WHERE run_id = {run_id}))""")[0]
