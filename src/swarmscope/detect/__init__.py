"""``detect``: traces -> pairs -> significance -> fusion -> communities -> account scores.

Example::

    import swarmscope
    from swarmscope.detect import DetectParams, detect
    with swarmscope.Store("case.duckdb") as store:
        result = detect(store, DetectParams(), out="results/")
        store.con.sql("SELECT * FROM detect_accounts WHERE flagged ORDER BY score DESC").show()

Results are stored in the tables ``detect_accounts``, ``detect_edges``, ``detect_clusters`` and
``detect_evidence`` (the latest run's; ``run_id`` says which) and, with ``out``, written as
``accounts.parquet``, ``edges.parquet``, ``clusters.parquet``, ``evidence.parquet``, plus the
temporal signals' tables (``detect.temporal.TABLES``) and the behavioural signatures'
(:mod:`swarmscope.detect.signatures`: ``detect_profile``, ``detect_attacks``, ``detect_trends``,
``detect_ephemeral``); columns in ``OUTPUT_COLUMNS``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from swarmscope.detect.affiliation import affiliate
from swarmscope.detect.communities import cluster_summaries, leiden_clusters
from swarmscope.detect.evidence import collect_evidence
from swarmscope.detect.fuse import fuse_accounts, fuse_edges
from swarmscope.detect.permutation import empirical_p, permutation_check
from swarmscope.detect.significance import NullParams, pair_tests
from swarmscope.detect.temporal import COLUMNS as TEMPORAL_COLUMNS
from swarmscope.detect.temporal import TABLES as TEMPORAL_TABLES, temporal_signals
from swarmscope.detect.signatures import SIGNATURE_COLUMNS, signatures
from swarmscope.detect.signatures import TABLES as SIGNATURE_TABLES
from swarmscope.defaults import AFFILIATION_ROUNDS, DEFAULT_WINDOWS
from swarmscope.engine import PairParams
from swarmscope.engine.duckdb import DuckDBEngine
from swarmscope.errors import SwarmscopeError
from swarmscope.sql import time_filter
from swarmscope.store import Store
from swarmscope.traces import KINDS, TRACES_TABLE, TraceOptions, build_traces


OUTPUT_COLUMNS = {
    "accounts.parquet": {
        "platform, account_id, handle": "the account",
        "posts": "its posts in the store (within --since/--until)",
        "score": "coordination score in [0, 1]: L / (L + L*), L = -log10 p_value, L* the same "
                 "at the FDR cut-off; 0 without evidence, 0.5 at the cut-off",
        "flagged": "score >= 0.5, i.e. q_value <= the FDR level",
        "cluster_id": "its Leiden cluster, or the cluster it joined by affiliation (NULL when "
                      "in neither)",
        "p_value": "the account test, combined over kinds and windows (Bonferroni minimum)",
        "q_value": "Benjamini-Hochberg q over all accounts with a testable partner",
        "partners": "testable partners (largest over the tests)",
        "significant_partners": "partners with pair p <= alpha_pair (largest over the tests)",
        "p_<kind>, score_<kind>": "the same per kind (its windows combined)",
        "affiliation_p, affiliation_q, affiliation_round": "for an account that joined its "
            "cluster by affiliation: its test against the cluster (Bonferroni over the tests), "
            "BH q, and the round",
        "affiliation_kind, affiliation_window_s, affiliation_x": "the test that gave the "
            "smallest p, and the objects co-acted with the cluster's members there",
    },
    "edges.parquet": {
        "account_a, account_b (+ platforms)": "a pair with a test at p <= alpha_pair",
        "p_value": "pair p combined over tests (Bonferroni minimum)",
        "q_value": "BH q over every testable pair of every test",
        "weight": "-log10 of the pair's smallest p", "cluster_id": "shared cluster, if any",
        "p_<kind>, x_<kind>": "smallest pair p and most co-acted objects per kind",
        "p_perm": "with --permutations B: the smallest empirical p over the tests",
    },
    "clusters.parquet": {
        "cluster_id, size, edges, density": "the cluster (numbered by size)",
        "first_activity, last_activity, posts": "its members' activity",
        "strongest": "its strongest edges", "edges_<kind>": "its edges bound by each kind",
        "top_hashtags, top_domains, top_texts": "shared by most members (value, members)",
    },
    "evidence.parquet": {
        "account_a, account_b, kind, window_s": "the edge and the test",
        "object, post_a, ts_a, post_b, ts_b, dt_s, text_a, text_b": "one co-action",
        "basis": "'pair' (an edge's test) or 'affiliation' (account_b is a member of "
                 "account_a's cluster)",
    },
    **TEMPORAL_COLUMNS,
    **SIGNATURE_COLUMNS,
}


@dataclass(frozen=True)
class DetectParams:
    """What ``detect`` runs. ``windows`` maps each kind to its windows in seconds."""

    windows: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    fdr: float = 0.01
    seed: int = 0
    null: NullParams = NullParams()
    traces: TraceOptions = TraceOptions()
    evidence: int = 10
    permutations: int = 0
    affiliation_rounds: int = AFFILIATION_ROUNDS

    def __post_init__(self) -> None:
        unknown = [k for k in self.windows if k not in KINDS]
        if unknown:
            raise SwarmscopeError(f"unknown trace kind {unknown[0]!r}: choose among "
                                  f"{', '.join(KINDS)}")
        if not self.windows or not all(self.windows.values()):
            raise SwarmscopeError("detect needs at least one kind with at least one window")
        if not 0 < self.fdr < 1:
            raise SwarmscopeError(f"the FDR level must be in (0, 1); got {self.fdr}")
        if self.permutations < 0:
            raise SwarmscopeError("permutations must be >= 0")
        if any(w != self.traces.sync_bin_seconds for w in self.windows.get("sync", ())):
            raise SwarmscopeError(
                f"the sync test's window is its time bin ({self.traces.sync_bin_seconds:g} s): "
                "set both with --sync-bin SECONDS instead of --window sync=...")

    @property
    def tests(self) -> list[tuple[str, float]]:
        return [(k, float(w)) for k, ws in self.windows.items() for w in ws]


@dataclass
class DetectResult:
    """What a detect run produced (the rows are in the ``detect_*`` tables); ``calibration``
    holds the permutation check's rows, ``seconds`` the time per stage."""

    run_id: int
    accounts: int = 0
    flagged: int = 0
    clusters: int = 0
    edges: int = 0
    recruited: int = 0
    evidence: int = 0
    p_cut: float = 0.0
    calibration: list[dict] = field(default_factory=list)
    signatures: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def detect(store: Store, params: DetectParams = DetectParams(), *, since: datetime | None = None,
           until: datetime | None = None, out: str | Path | None = None,
           progress: Callable[[str], None] = lambda step: None) -> DetectResult:
    """Run the whole detection and store (and, with ``out``, write) its tables."""
    con = store.con
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM posts LIMIT 1)").fetchall()[0][0]:
        raise SwarmscopeError(f"the store {store.path} has no posts: ingest data first "
                              f"(swarmscope --db {store.path} ingest FILE)")
    run_id = store.start_run("detect", {**dataclasses.asdict(params), "since": since,
                                        "until": until}, seed=params.seed)
    res = DetectResult(run_id)
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        res.seconds[step] = res.seconds.get(step, 0.0) + now - clock
        clock = now

    try:
        con.execute(f"{TRACES_TABLE}; DELETE FROM traces; DROP TABLE IF EXISTS pair_tests; "
                    "DROP TABLE IF EXISTS account_tests;")
        engine = DuckDBEngine(con)
        if params.permutations:
            res.calibration = permutation_check(con, params, engine, since, until, progress)
            lap("permutations")
        for kind, windows in params.windows.items():
            progress(f"traces: {kind}")
            build_traces(con, kind, params.traces, since, until)
            lap("traces")
            for window in windows:
                progress(f"pairs and tests: {kind} within {window:g} s")
                engine.candidates(PairParams(kind=kind, window=window, evidence=0), run_id)
                lap("pairs")
                pair_tests(con, kind, window, params.null)
                lap("significance")
        if params.permutations:
            empirical_p(con, params.permutations)
        progress("fusion and scores")
        kinds = list(params.windows)
        res.p_cut = fuse_accounts(con, params.tests, kinds, params.null.alpha_pair, params.fdr)
        fuse_edges(con, params.tests, kinds, params.null.alpha_pair)
        lap("fusion")
        progress("clusters")
        res.clusters = leiden_clusters(con, params.seed)
        lap("clusters")
        res.recruited = affiliate(con, params.tests, params.null, params.fdr,
                                  params.affiliation_rounds, progress)
        lap("affiliation")
        cluster_summaries(con, kinds)
        lap("clusters")
        progress("evidence")
        res.evidence = collect_evidence(con, params.null.alpha_pair, params.evidence)
        lap("evidence")
        _persist(con, run_id, kinds, since, until)
        _persist_calibration(con, run_id, res.calibration)
        lap("write")
        progress("temporal signals")
        temporal_signals(con, run_id, time_filter(since, until))
        lap("temporal")
        progress("signatures")
        res.signatures = signatures(con, run_id, time_filter(since, until))
        lap("signatures")
        if out is not None:
            _write(con, Path(out))
        lap("write")
        res.accounts, res.flagged = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE flagged) FROM detect_accounts").fetchall()[0]
        res.edges = con.execute("SELECT count(*) FROM detect_edges").fetchall()[0][0]
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)[:500]})
        raise
    store.finish_run(run_id, "ok", dataclasses.asdict(res))
    return res


def _persist(con, run_id: int, kinds: list[str], since: datetime | None,
             until: datetime | None) -> None:
    """The temp results -> the store's ``detect_*`` tables, with account ids."""
    where = time_filter(since, until)
    per_kind = ", ".join(f'coalesce(s."score_{k}", 0) AS "score_{k}", '
                         f'coalesce(s."p_{k}", 1) AS "p_{k}"' for k in kinds)
    edge_kinds = ", ".join(f'e."p_{k}", e."x_{k}"' for k in kinds) + ", e.p_perm"
    con.execute(f"""
        BEGIN TRANSACTION;
        CREATE OR REPLACE TABLE detect_accounts AS
        SELECT {run_id} AS run_id, acc.platform, acc.account_id, a.handle,
               coalesce(acc.posts, 0) AS posts, coalesce(s.score, 0) AS score,
               coalesce(s.flagged, false) AS flagged, m.cluster_id,
               coalesce(s.p, 1) AS p_value, coalesce(s.q, 1) AS q_value,
               coalesce(s.partners, 0) AS partners,
               coalesce(s.significant_partners, 0) AS significant_partners, {per_kind},
               f.p AS affiliation_p, f.q AS affiliation_q, f.kind AS affiliation_kind,
               f.window_s AS affiliation_window_s, f.x AS affiliation_x,
               f.round AS affiliation_round
        FROM (SELECT platform, account_id, sum(posts) AS posts FROM (
                  SELECT platform, account_id, count(*) FILTER (WHERE {where}) AS posts
                  FROM posts GROUP BY ALL
                  UNION ALL SELECT platform, account_id, 0 FROM accounts) GROUP BY ALL) acc
        LEFT JOIN (SELECT platform, account_id, any_value(handle) AS handle FROM accounts
                   GROUP BY ALL) a USING (platform, account_id)
        LEFT JOIN account_keys k USING (platform, account_id)
        LEFT JOIN account_scores s ON s.account = k.account_key
        LEFT JOIN cluster_members m ON m.account = k.account_key
        LEFT JOIN affiliation f ON f.account = k.account_key
        ORDER BY score DESC, acc.platform, acc.account_id;
        CREATE OR REPLACE TABLE detect_edges AS
        SELECT {run_id} AS run_id, ka.platform AS platform_a, ka.account_id AS account_a,
               kb.platform AS platform_b, kb.account_id AS account_b, e.p AS p_value,
               e.q AS q_value, e.weight,
               CASE WHEN ma.cluster_id = mb.cluster_id THEN ma.cluster_id END AS cluster_id,
               {edge_kinds}
        FROM fused_edges e JOIN account_keys ka ON ka.account_key = e.a
        JOIN account_keys kb ON kb.account_key = e.b
        LEFT JOIN cluster_members ma ON ma.account = e.a
        LEFT JOIN cluster_members mb ON mb.account = e.b
        ORDER BY e.weight DESC, account_a, account_b;
        CREATE OR REPLACE TABLE detect_clusters AS
        SELECT {run_id} AS run_id, * FROM cluster_summary;
        CREATE OR REPLACE TABLE detect_evidence AS
        SELECT {run_id} AS run_id, ka.account_id AS account_a, kb.account_id AS account_b,
               ev.* EXCLUDE (a, b)
        FROM edge_evidence ev JOIN account_keys ka ON ka.account_key = ev.a
        JOIN account_keys kb ON kb.account_key = ev.b
        ORDER BY account_a, account_b, kind, dt_s;
        COMMIT;""")


def _persist_calibration(con, run_id: int, rows: list[dict]) -> None:
    con.execute("""CREATE TABLE IF NOT EXISTS detect_calibration (run_id BIGINT,
        permutation INTEGER, kind VARCHAR, window_s DOUBLE, testable_pairs BIGINT,
        pairs_at_alpha BIGINT, share_at_alpha DOUBLE, accounts_flagged BIGINT)""")
    if not rows:
        return
    con.executemany("INSERT INTO detect_calibration VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        [run_id, r["permutation"], r["kind"], r.get("window_s"), r.get("testable_pairs"),
         r.get("pairs_at_alpha"), r.get("share_at_alpha"), r.get("accounts_flagged")]
        for r in rows])


def _write(con, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for table, name in (("detect_accounts", "accounts"), ("detect_edges", "edges"),
                        ("detect_clusters", "clusters"), ("detect_evidence", "evidence"),
                        *TEMPORAL_TABLES, *SIGNATURE_TABLES):
        path = str(out / f"{name}.parquet").replace("'", "''")
        con.execute(f"COPY {table} TO '{path}' (FORMAT parquet)")
