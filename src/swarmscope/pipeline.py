"""``detect``: the stages in order, each reading and writing named tables through the backend.

traces -> pairs -> significance -> fusion -> clusters -> affiliation -> summaries -> traits
-> evidence -> (persist)
-> signals -> signatures. :data:`STAGES` declares what each stage reads and writes; a stage
whose inputs are missing fails with the name of the table, and with ``--debug-steps`` every
stage checks its outputs and every named step is timed (``Backend.steps``).

Example::

    import swarmscope
    from swarmscope.pipeline import DetectParams, detect
    with swarmscope.Store("case.duckdb") as store:
        result = detect(store, DetectParams(), out="results/")
        flagged = store.df("SELECT * FROM detect_accounts WHERE flagged ORDER BY score DESC")
        edges = result.tables.arrow("edges")   # this run's, whatever runs come later

Results are stored in the ``detect_*`` tables, every run's kept in a schema of its own (the names
show the latest run's, or the one :meth:`Store.use_run` chose) and, with ``out``, written as
Parquet files; tables, files and columns in :data:`swarmscope.store.schema.DETECT`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, ClassVar, Iterator

import pyarrow as pa

from swarmscope.detection.affiliation import affiliate
from swarmscope.detection.communities import cluster_summaries, leiden_clusters
from swarmscope.detection.defaults import AFFILIATION_ROUNDS, DEFAULT_WINDOWS
from swarmscope.detection.evidence import collect_evidence
from swarmscope.detection.fuse import fuse_accounts, fuse_edges
from swarmscope.detection.permutation import empirical_p, permutation_check
from swarmscope.detection.significance import (ROWS_PER_PART, NullParams, reset_tests,
                                               run_pair_tests)
from swarmscope.detection.traits import cluster_traits
from swarmscope.engine.registry import get_engine
from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import check_output
from swarmscope.params import (COUNT, MAPPING, NON_NEGATIVE, PROBABILITY_OPEN, Interval,
                               check_time_range, validate, validate_dataclass)
from swarmscope.results.runs import RunTables
from swarmscope.signals.operations import temporal_signals
from swarmscope.signatures import signatures
from swarmscope.store import Store, utc_now
from swarmscope.store.backend import Backend
from swarmscope.store.schema import CALIBRATION, DETECT
from swarmscope.store.sql import column_list, time_filter
from swarmscope.traces import KINDS, TraceOptions, build_traces, reset_traces


@dataclass(frozen=True)
class Stage:
    """One arrow of the data flow: the named tables it reads and writes."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]


_CANONICAL = ("posts", "entities", "account_keys", "object_keys")
#: The stages of ``detect`` in order (temporary tables but for ``persist``'s and later).
STAGES = {s.name: s for s in (
    Stage("permutations", (*_CANONICAL, "traces"), ("perm_x",)),
    Stage("traces", _CANONICAL, ("traces", "trace_kinds", "trace_objects")),
    Stage("pairs", ("traces", "trace_kinds", "trace_objects"),
          ("pair_candidates", "popular_candidates", "popular_traces")),
    Stage("significance", ("traces", "pair_candidates", "popular_candidates"),
          ("pair_tests", "account_tests", "testable_pairs")),
    Stage("fusion", ("pair_tests", "account_tests"), ("account_scores", "fused_edges")),
    Stage("clusters", ("fused_edges", "account_scores"), ("cluster_members",)),
    Stage("affiliation", ("traces", "cluster_members", "account_scores"),
          ("affiliation", "cluster_members", "account_scores")),
    Stage("summaries", ("fused_edges", "cluster_members", "posts", "entities"),
          ("cluster_summary",)),
    Stage("traits", ("posts", "traces", "cluster_members", "account_scores", "cluster_summary"),
          ("cluster_traits", "cluster_summary")),
    Stage("evidence", ("pair_tests", "fused_edges", "account_scores", "affiliation",
                       "cluster_members", "traces", "trace_kinds", "trace_values"),
          ("edge_evidence",)),
    Stage("persist", ("account_scores", "cluster_members", "affiliation", "fused_edges",
                      "cluster_summary", "cluster_traits", "edge_evidence", "posts",
                      "accounts"),
          ("detect_accounts", "detect_edges", "detect_clusters", "detect_cluster_traits",
           "detect_evidence", "detect_calibration")),
    Stage("signals", ("posts", "cluster_members", "fused_edges"),
          ("detect_fingerprints", "detect_operations", "detect_shifts", "detect_shift_hours")),
    Stage("signatures", ("posts", "entities", "accounts", "detect_accounts"),
          ("detect_profile", "detect_attacks", "detect_trends", "detect_ephemeral")),
)}


class _Instance:
    def __init__(self, cls: type) -> None:
        self.cls = cls

    def holds(self, v: object) -> bool:
        return isinstance(v, self.cls)

    def __str__(self) -> str:
        return f"a {self.cls.__name__}"


class _Seconds:
    def holds(self, v: object) -> bool:
        return isinstance(v, (list, tuple)) and all(NON_NEGATIVE.holds(w) for w in v)

    def __str__(self) -> str:
        return "a sequence of seconds >= 0"


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
    rows_per_part: int = ROWS_PER_PART

    CONSTRAINTS: ClassVar[dict[str, list]] = {
        "windows": [MAPPING], "fdr": [PROBABILITY_OPEN], "seed": [Interval(integer=True)],
        "null": [_Instance(NullParams)], "traces": [_Instance(TraceOptions)],
        "evidence": [COUNT], "permutations": [COUNT], "affiliation_rounds": [COUNT],
        "rows_per_part": [Interval(1, None, integer=True)]}

    def __post_init__(self) -> None:
        validate_dataclass(self, "detect")
        unknown = [k for k in self.windows if k not in KINDS]
        if unknown:
            raise SwarmscopeError(f"unknown trace kind {unknown[0]!r}: choose among "
                                  f"{', '.join(KINDS)}")
        if not self.windows or not all(self.windows.values()):
            raise SwarmscopeError("detect needs at least one kind with at least one window")
        for kind, windows in self.windows.items():
            validate("detect", {f"windows[{kind!r}]": list(windows)},
                     {f"windows[{kind!r}]": [_Seconds()]})
        if any(w != self.traces.sync_bin_seconds for w in self.windows.get("sync", ())):
            raise SwarmscopeError(
                f"the sync test's window is its time bin ({self.traces.sync_bin_seconds:g} s): "
                "set both with --sync-bin SECONDS instead of --window sync=...")

    @property
    def tests(self) -> list[tuple[str, float]]:
        return [(k, float(w)) for k, ws in self.windows.items() for w in ws]


@dataclass
class DetectResult:
    """What a detect run produced: its counts; ``calibration`` holds the permutation check's
    rows, ``seconds`` the time per stage, and ``tables`` the run's tables as Arrow or pandas
    (``result.tables.df("accounts")``, :class:`~swarmscope.results.runs.RunTables`)."""

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
    tables: RunTables | None = field(default=None, repr=False, compare=False)

    def summary(self) -> dict:
        """The counts as plain values (what the run log keeps)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "tables"}


def detect(store: Store, params: DetectParams = DetectParams(), *, since: datetime | None = None,
           until: datetime | None = None, out: str | Path | None = None,
           engine: str = "duckdb",
           progress: Callable[[str], None] = lambda step: None) -> DetectResult:
    """Run every stage (:data:`STAGES`) on the store and keep (and, with ``out``, write) the
    detect tables; the run is recorded in the store's ``runs`` table."""
    check_time_range(since, until)
    if not store.db.scalar("SELECT count(*) FROM (SELECT 1 FROM posts LIMIT 1)"):
        raise SwarmscopeError(f"the store {store.path} has no posts: ingest data first "
                              f"(swarmscope --db {store.path} ingest FILE)")
    if out is not None:
        check_output(out, directory=True)
    get_engine(engine, store.db)
    run_id = store.start_run("detect", {**dataclasses.asdict(params), "since": since,
                                        "until": until, "engine": engine}, seed=params.seed)
    store.new_results(run_id)   # its tables go to a schema of their own: nothing replaced
    try:
        res = run_stages(store.db, params, run_id, since=since, until=until, progress=progress)
        if out is not None:
            write_results(store.db, out)
    except BaseException as exc:
        store.discard_results(run_id)
        store.finish_run(run_id, "failed", {"error": str(exc)[:500]})
        raise
    store.finish_run(run_id, "ok", res.summary())
    store.show_latest()
    res.tables = RunTables(store, run_id)
    return res


def detect_dataset(dataset: str, out: str, params: DetectParams = DetectParams(), *,
                   master: str = "local[*]", config: dict[str, str] | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   progress: Callable[[str], None] = lambda step: None) -> DetectResult:
    """``detect --engine spark``: every stage but the behavioural ones (signals, signatures)
    on Spark, reading the canonical Parquet dataset at ``dataset`` and writing the detect
    tables as Parquet under ``out`` (each a local path or a Hadoop URI), with ``run.parquet``
    describing the run. No DuckDB file is read or written."""
    from swarmscope import __version__
    from swarmscope.store.dataset import register_dataset
    from swarmscope.store.spark import SparkBackend, start_session
    check_time_range(since, until)
    if "://" not in out:
        check_output(out, directory=True)
    db = SparkBackend(start_session(master, config))
    register_dataset(db, dataset)
    if not db.scalar("SELECT count(*) FROM (SELECT 1 FROM posts LIMIT 1)"):
        raise SwarmscopeError(f"the dataset {dataset} has no posts: write one with "
                              "swarmscope ingest FILE --dataset PATH")
    started = utc_now()
    res = run_stages(db, params, 1, since=since, until=until, behaviour=False,
                     progress=progress)
    write_results(db, out)
    db.register_arrow("run_row", pa.Table.from_pylist([{
        "run_id": 1, "command": "detect", "version": __version__,
        "parameters": json.dumps({**dataclasses.asdict(params), "since": since, "until": until,
                                  "engine": "spark", "master": master, "input": dataset},
                                 default=str),
        "seed": params.seed, "started_at": started,
        "finished_at": utc_now(), "status": "ok",
        "summary": json.dumps(res.summary(), default=str)}]))
    db.write_output("SELECT * FROM run_row", out, "run")
    return res


def run_stages(db: Backend, params: DetectParams, run_id: int, *,
               since: datetime | None = None, until: datetime | None = None,
               behaviour: bool = True,
               progress: Callable[[str], None] = lambda step: None) -> DetectResult:
    """Every stage of ``detect`` on the backend ``db`` (whose canonical tables hold the
    input), leaving the detect tables there (tables in DuckDB, views in Spark); without
    ``behaviour``, not the temporal signals and the signatures."""
    pairs_engine = get_engine(db.name, db)
    res = DetectResult(run_id)

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        start = time.perf_counter()
        with run_stage(db, STAGES[name]):
            yield
        res.seconds[name] = res.seconds.get(name, 0.0) + time.perf_counter() - start

    reset_traces(db)
    reset_tests(db)
    db.drop("pair_permutation_p")
    if params.permutations:
        with stage("permutations"):
            res.calibration = permutation_check(db, params, pairs_engine, since, until,
                                                progress)
    for kind, windows in params.windows.items():
        progress(f"traces: {kind}")
        with stage("traces"):
            build_traces(db, kind, params.traces, since, until)
        for window in windows:
            progress(f"pairs and tests: {kind} within {window:g} s")
            run_pair_tests(db, pairs_engine, kind, window, params.null,
                           rows_per_part=params.rows_per_part, stage=stage)
    progress("fusion and scores")
    kinds = list(params.windows)
    with stage("fusion"):
        if params.permutations:
            empirical_p(db, params.permutations)
        res.p_cut = fuse_accounts(db, params.tests, kinds, params.null.alpha_pair,
                                  params.fdr)
        fuse_edges(db, params.tests, kinds, params.null.alpha_pair)
    progress("clusters")
    with stage("clusters"):
        res.clusters = leiden_clusters(db, params.seed)
    with stage("affiliation"):
        res.recruited = affiliate(db, params.tests, params.null, params.fdr,
                                  params.affiliation_rounds, progress)
    with stage("summaries"):
        cluster_summaries(db, kinds)
    with stage("traits"):
        cluster_traits(db)
    progress("evidence")
    with stage("evidence"):
        res.evidence = collect_evidence(db, params.null.alpha_pair, params.evidence)
    with stage("persist"):
        _persist(db, run_id, kinds, since, until, res.calibration)
    if behaviour:
        progress("temporal signals")
        with stage("signals"):
            temporal_signals(db, run_id, time_filter(since, until))
        progress("signatures")
        with stage("signatures"):
            res.signatures = signatures(db, run_id, time_filter(since, until))
    res.accounts, res.flagged = db.query(
        "SELECT count(*), count(*) FILTER (WHERE flagged) FROM detect_accounts")[0]
    res.edges = db.scalar("SELECT count(*) FROM detect_edges")
    return res


@contextmanager
def run_stage(db: Backend, stage: Stage) -> Iterator[None]:
    """Run a stage: its inputs must exist; with ``debug_steps`` its outputs are checked after
    and its time recorded as a step of its own."""
    missing = [t for t in stage.reads if not db.has_table(t)]
    if missing:
        raise SwarmscopeError(f"stage {stage.name} needs the tables {', '.join(missing)}, which "
                              "no earlier stage wrote: run the stages in order")
    with db.step(f"stage {stage.name}"):
        yield
    if db.debug_steps:
        absent = [t for t in stage.writes if not db.has_table(t)]
        if absent:
            raise SwarmscopeError(f"stage {stage.name} did not write {', '.join(absent)}")


def _persist(db: Backend, run_id: int, kinds: list[str], since: datetime | None,
             until: datetime | None, calibration: list[dict]) -> None:
    """The temp results -> the store's ``detect_*`` tables, with account ids, in one
    transaction."""
    where = time_filter(since, until)
    per_kind = ", ".join(f'coalesce(s."score_{k}", 0) AS "score_{k}", '
                         f'coalesce(s."p_{k}", 1) AS "p_{k}"' for k in kinds)
    edge_kinds = ", ".join(f'e."p_{k}", e."x_{k}"' for k in kinds) + ", e.p_perm"
    with db.transaction():
        db.persist("detect_accounts", f"""
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
        LEFT JOIN affiliation f ON f.account = k.account_key""")
        db.persist("detect_edges", f"""
                SELECT {run_id} AS run_id, ka.platform AS platform_a, ka.account_id AS account_a,
               kb.platform AS platform_b, kb.account_id AS account_b, e.p AS p_value,
               e.q AS q_value, e.weight,
               CASE WHEN ma.cluster_id = mb.cluster_id THEN ma.cluster_id END AS cluster_id,
               {edge_kinds}
        FROM fused_edges e JOIN account_keys ka ON ka.account_key = e.a
        JOIN account_keys kb ON kb.account_key = e.b
        LEFT JOIN cluster_members ma ON ma.account = e.a
        LEFT JOIN cluster_members mb ON mb.account = e.b""")
        db.persist("detect_clusters", f"SELECT {run_id} AS run_id, * FROM cluster_summary")
        db.persist("detect_cluster_traits",
                   f"SELECT {run_id} AS run_id, * FROM cluster_traits")
        db.persist("detect_evidence", f"""
                SELECT {run_id} AS run_id, kind, window_s, a AS account_key_a,
               b AS account_key_b, object_key, object_value, post_a AS post_key_a, ts_a,
               post_b AS post_key_b, ts_b, dt_s, basis
        FROM edge_evidence""")
        db.register_arrow("calibration_rows", pa.Table.from_pylist(
            [{"run_id": run_id, **{c: r.get(c) for c in CALIBRATION.names[1:]}}
             for r in calibration], CALIBRATION))
        db.persist("detect_calibration", "SELECT * FROM calibration_rows")


def write_results(db: Backend, out: str | Path) -> None:
    """Every detect table the run made to ``out/<file>.parquet``, each written whole or not
    at all, its rows in the table's order."""
    for table in DETECT:
        if db.has_table(table.name):
            db.write_output(table.ordered(), out, table.file)
