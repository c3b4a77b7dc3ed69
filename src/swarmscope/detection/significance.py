"""Significance: is a pair's co-action more than chance, given activity and popularity?

The analytic model (a popularity-adjusted Poisson null; ../shared/research/feasibility.md §2.2)
assumes that two accounts A and B act independently: B acts at its own *local* rate ρ_B(t)
(its actions of this kind within ±``rate_window`` of t, in 15-minute bins) and picks each object
in proportion to the object's current share π(o, t) of all actions of this kind within
±``popularity_window`` (A's own actions left out). Then B co-acts with A's action at t on o with
probability about ``span · π(o, t) · ρ_B(t)``, where ``span = 2Δ + resolution`` (the window both
ways, plus the clock's resolution: a minute-resolution archive blurs a 60 s window to 180 s).
The expected number of distinct objects both touched within Δ is

    μ_AB = Σ_o 1 − exp(−span Σ_{A's actions a on o} π(o, t_a) ρ_B(t_a)),

estimated in both directions (A's actions against B's rate, and B's against A's) and
averaged. The statistic ``x`` is the number
of distinct co-acted objects, capped by each side's number of co-acting posts (one post that
mentions ten accounts is one action, not ten). Every candidate pair has x >= 1 by construction,
so the p-value is conditional on that selection: ``p = P(X >= x | X >= 1)``, X ~ Poisson(μ);
x = 1 gives p = 1. For ``sync`` (object = a time bin) π is 1 and ``span`` is the bin.

Where it fails: X is a sum of Bernoulli draws (one per object), whose tail the Poisson tail
overestimates when some objects are popular, so p-values are conservative (tests/test_detect.py
checks this on independent synthetic accounts: super-uniform, KS D < 0.1); accounts whose rate changes within minutes (a burst inside a 15-minute bin)
look more coordinated than they are; objects whose popularity is driven by the accounts under
test (a campaign hashtag) look less popular than they would be without them, which makes the
test conservative for exactly the campaigns it should find; and the model does not know about
follower ties (people who follow the same account see its posts at the same time).

The account test (binomial over partners): under the null each pair p-value is super-uniform,
so among A's ``n`` testable partners the number ``k`` with p <= ``alpha_pair`` is stochastically
below Binomial(n, alpha_pair); the account p-value is that binomial tail. It rewards accounts
that co-act beyond chance with several partners, as operated groups do, without asking one pair
to survive a multiplicity of millions. Testable partners exclude pairs in which either account
touched fewer than 2 objects of the kind (they can never reach x = 2: Tarone's reduction).

The empirical model, which checks this one's calibration, is in
:mod:`swarmscope.detection.permutation`.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Callable, ClassVar

from swarmscope.detection.stats import conditional_poisson_p_function
from swarmscope.engine import Engine, PairParams
from swarmscope.params import NON_NEGATIVE, POSITIVE, PROBABILITY_OPEN, validate_dataclass
from swarmscope.store.backend import Backend

RATE_BIN_MS = 15 * 60 * 1000
#: Co-actions one part of a test's pair join may list (:func:`run_pair_tests`): a part's
#: tables then stay within a few GB of memory or spill, whatever the input's size.
ROWS_PER_PART = 250_000_000


@dataclass(frozen=True)
class NullParams:
    """Parameters of the analytic null; each default has its reason.

    Attributes
    ----------
    popularity_window : float
        Seconds either side of an action over which an object's share is measured (3600: long
        enough to count a share, short enough to follow a news burst; feasibility.md compares
        ±5 min, ±1 h and ±3 h).
    rate_window : float
        Seconds either side over which an account's local rate is measured (3600; a flat
        weekly rate let bursty organic users look coordinated: 20% FPR in feasibility.md).
    alpha_pair : float
        A partner counts towards the account test when its pair p-value is at most this (0.01).
    cascade_window : float
        Seconds either side over which an object's share is also measured at the scale of its
        own cascade (0: off); π is then the larger of the two shares, so that many accounts
        acting on an object within minutes of each other, as its cascade does, is expected.
    """

    popularity_window: float = 3600.0
    rate_window: float = 3600.0
    alpha_pair: float = 0.01
    cascade_window: float = 0.0

    CONSTRAINTS: ClassVar[dict[str, list]] = {
        "popularity_window": [POSITIVE], "rate_window": [POSITIVE],
        "alpha_pair": [PROBABILITY_OPEN], "cascade_window": [NON_NEGATIVE]}

    def __post_init__(self) -> None:
        validate_dataclass(self, "the null model")


def clock_resolution_ms(db: Backend, kind: str) -> int:
    """60 000 when every trace time of the kind is a whole minute (minute-resolution archives),
    1 000 when whole seconds, else 0."""
    minute, second = db.query(
        "SELECT bool_and(ts % 60000 = 0), bool_and(ts % 1000 = 0) FROM traces WHERE kind = ?",
        [kind])[0]
    return 60_000 if minute else 1_000 if second else 0


def null_terms(db: Backend, kind: str, window: float,
               null: NullParams) -> tuple[int, int, list[int]]:
    """The null model's terms for one (kind, window): the rate smoothing half-width in
    ``RATE_BIN_MS`` bins, the ``span`` in ms, and the half-widths in ms over which an action's
    object share π is measured (π is the largest of those shares; none for ``sync``, whose
    object is a time bin that every action of the bin is on: π = 1)."""
    w = int(round(window * 1000))
    rate_k = math.ceil(max(null.rate_window * 1000, 2 * w) / RATE_BIN_MS)
    if kind == "sync":
        return rate_k, max(w, 1), []
    halves = [int(max(null.popularity_window * 1000, w))]
    if null.cascade_window > 0:
        halves.append(int(max(null.cascade_window * 1000, w)))
    return rate_k, max(2 * w + clock_resolution_ms(db, kind), 1), halves


def object_shares_sql(db: Backend, events: str, halves: list[int]) -> str:
    """SQL: every action of ``events`` (columns account, object, ts) with its object's share
    π of all actions within ±h ms, the account's own actions on the object left out, the
    largest over the half-widths ``halves`` (1.0 when there are none).

    The denominator (every action within ±h) is a window over all actions; so that no engine
    computes it in one task, actions are counted per time, and each time is copied into its own
    bucket of width max(h) and the two beside it: every time within ±h of one in bucket b lies
    in the buckets b-1..b+1, so the count partitioned by bucket is exact for the bucket's own
    times."""
    if not halves:
        return f"SELECT account, object, ts, 1.0 AS share FROM {events}"
    d, width = db.dialect, max(halves)
    frame = "RANGE BETWEEN {h} PRECEDING AND {h} FOLLOWING"
    totals = ", ".join(f"CAST(sum(n) OVER (PARTITION BY part ORDER BY ts {frame.format(h=h)}) "
                       f"AS BIGINT) AS total_{i}" for i, h in enumerate(halves))
    shares = [f"""(count(*) OVER (PARTITION BY e.object ORDER BY e.ts {frame.format(h=h)})
                   - count(*) OVER (PARTITION BY e.account, e.object ORDER BY e.ts
                                    {frame.format(h=h)})) / greatest(t.total_{i}, 1)"""
              for i, h in enumerate(halves)]
    share = shares[0] if len(shares) == 1 else f"greatest({', '.join(shares)})"
    return f"""
        SELECT e.account, e.object, e.ts, {share} AS share
        FROM {events} e JOIN (
            SELECT ts, {', '.join(f'total_{i}' for i in range(len(halves)))} FROM (
                SELECT ts, own, part, {totals} FROM (
                    SELECT c.ts, c.n, {d.int_div('c.ts', str(width))} AS own,
                           {d.int_div('c.ts', str(width))} + o.o AS part
                    FROM (SELECT ts, count(*) AS n FROM {events} GROUP BY ts) c,
                         {d.offsets(-1, 1, 'o', 'o')}) b) w
            WHERE own = part) t ON t.ts = e.ts"""


def smoothed_rate_sql(db: Backend, events: str, rate_k: int, group: str = "account",
                      members: str = "") -> str:
    """SQL: the local rate (actions per ms) of each ``group`` in every 15-minute bin, the
    actions of ``events`` (columns account, ts) counted over ±``rate_k`` bins; ``members``
    joins accounts to their group (``JOIN cluster_members m USING (account)``)."""
    offsets = db.dialect.offsets(-rate_k, rate_k, "r", "d")
    return f"""
        SELECT {group}, bin + d AS bin,
               CAST(sum(n) AS DOUBLE) / {(2 * rate_k + 1) * RATE_BIN_MS} AS rate
        FROM (SELECT account, {db.dialect.int_div('ts', str(RATE_BIN_MS))} AS bin, count(*) AS n
              FROM {events}
              GROUP BY ALL) c {members}, {offsets}
        GROUP BY {group}, bin + d"""


def _test_name(kind: str, window: float, suffix: str) -> str:
    """The per-test tables' common name: ``tests{suffix}__<kind>_<window in ms>``."""
    return f"tests{suffix}__{kind}_{int(round(window * 1000))}"


def _test_views(db: Backend, suffix: str, *, add: str | None = None) -> None:
    """The views ``pair_tests{suffix}`` and ``account_tests{suffix}``: every test run so far,
    one table per (kind, window) named in ``test_names{suffix}``, with ``add`` added."""
    names = {r[0] for r in db.query(f"SELECT name FROM test_names{suffix}")} if db.has_table(
        f"test_names{suffix}") else set()
    names = sorted(names | ({add} if add else set()))
    db.materialise(f"test_names{suffix}", " UNION ALL ".join(
        [f"SELECT '{n}' AS name" for n in names]
        or ["SELECT CAST(NULL AS STRING) AS name WHERE false"]))
    empty = {"pair": "CAST(NULL AS STRING) AS kind, CAST(NULL AS DOUBLE) AS window_s, "
                     "CAST(NULL AS INTEGER) AS a, CAST(NULL AS INTEGER) AS b, "
                     "CAST(NULL AS BIGINT) AS x, CAST(NULL AS DOUBLE) AS mu, "
                     "CAST(NULL AS DOUBLE) AS p",
             "account": "CAST(NULL AS STRING) AS kind, CAST(NULL AS DOUBLE) AS window_s, "
                        "CAST(NULL AS INTEGER) AS account, CAST(NULL AS BIGINT) AS partners, "
                        "CAST(NULL AS BIGINT) AS significant"}
    for side, columns in empty.items():
        db.view(f"{side}_tests{suffix}", " UNION ALL ".join(
            [f"SELECT * FROM {side}_{n}" for n in names]
            or [f"SELECT {columns} WHERE false"]))


def reset_tests(db: Backend, suffix: str = "") -> None:
    """Drop every test run so far (``pair_tests{suffix}``, ``account_tests{suffix}`` empty)."""
    if db.has_table(f"test_names{suffix}"):
        for (name,) in db.query(f"SELECT name FROM test_names{suffix}"):
            db.drop(f"pair_{name}", f"account_{name}")
        db.drop(f"test_names{suffix}")
    _test_views(db, suffix)


def run_pair_tests(db: Backend, engine: Engine, kind: str, window: float,
                   null: NullParams = NullParams(), *, rows_per_part: int = ROWS_PER_PART,
                   suffix: str = "",
                   stage: Callable[[str], AbstractContextManager] = lambda name: nullcontext()
                   ) -> int:
    """The candidate pairs of one (kind, window) (``engine``) and their tests
    (:func:`pair_tests`), in as many parts of accounts as keep each part's join within
    ``rows_per_part`` co-actions (:meth:`~swarmscope.engine.Engine.count_parts`): the same
    tests, in bounded memory and disk. Each part runs in ``stage("pairs")`` and
    ``stage("significance")``; returns the number of parts."""
    params = PairParams(kind=kind, window=window, evidence=0)
    with stage("pairs"):
        parts = engine.count_parts(params, rows_per_part)
        engine.candidate_counts(params, (0, parts))
    for part in range(parts):
        if part:
            with stage("pairs"):
                engine.candidate_counts(params, (part, parts))
        with stage("significance"):
            pair_tests(db, kind, window, null, suffix, part=(part, parts))
    return parts


def pair_tests(db: Backend, kind: str, window: float,
               null: NullParams = NullParams(), suffix: str = "",
               part: tuple[int, int] = (0, 1)) -> None:
    """Test every candidate pair of one (kind, window) into the views
    ``pair_tests(kind, window_s, a, b, x, mu, p)`` (a < b, account keys) for the pairs with
    x >= 2 and ``account_tests(kind, window_s, account, partners, significant)``, over one
    table per test (a test run again replaces its own); with ``suffix``, views of that name
    (``pair_tests_perm``, …) instead.

    Reads the temp table ``traces`` (:func:`swarmscope.traces.build_traces`) and the
    engine's ``pair_candidates`` and ``popular_candidates``
    (:meth:`swarmscope.engine.sql.SQLEngine.candidates`); leaves the testable pairs in
    ``testable_pairs(a, b, x)``. With ``part`` (c, k), ``pair_candidates`` holds the c-th
    of k parts of the pairs (:func:`run_pair_tests`): the first part measures what every part
    reads, each part adds its pairs' tests and its accounts' counts, and the last one sums
    the counts into the account tests.
    """
    c, k = part
    rate_k, span, halves = null_terms(db, kind, window, null)
    kind_sql = kind.replace("'", "''")
    name = _test_name(kind, window, suffix)
    if c == 0:
        db.materialise("test_events", f"""
            SELECT DISTINCT account, object, ts FROM traces
            WHERE kind = '{kind_sql}' AND object NOT IN (SELECT object FROM popular_candidates)""")
        db.materialise("test_objects_per_account", """
            SELECT account, count(DISTINCT object) AS objects FROM test_events GROUP BY account""")
    db.materialise("testable_pairs", """
        SELECT e.a, e.b, least(e.shared_objects, e.a_actions, e.b_actions) AS x
        FROM pair_candidates e
        JOIN test_objects_per_account oa ON oa.account = e.a AND oa.objects >= 2
        JOIN test_objects_per_account ob ON ob.account = e.b AND ob.objects >= 2
        WHERE e.a <> e.b""")
    # the pairs with x >= 2, the only ones tested: read three times, a few % of testable_pairs
    db.materialise("tested_candidates", "SELECT a, b, x FROM testable_pairs WHERE x >= 2")
    # the object shares and local rates of the accounts tested: in parts, those of every
    # testable account are measured once and each part keeps its own accounts' (an account's
    # shares and rates do not depend on which others are measured)
    tested = "SELECT a FROM tested_candidates UNION SELECT b FROM tested_candidates"
    testable = "SELECT account FROM test_objects_per_account WHERE objects >= 2"
    shares = f"""
        SELECT account, object, ts, {db.dialect.int_div('ts', str(RATE_BIN_MS))} AS bin, share
        FROM ({object_shares_sql(db, 'test_events', halves)}) s WHERE account IN ({{among}})"""
    rates = "test_events WHERE account IN ({among})"
    if k > 1 and c == 0:
        db.materialise("test_shares_all", shares.format(among=testable))
        db.materialise("test_rates_all", smoothed_rate_sql(db, rates.format(among=testable),
                                                           rate_k))
    if k == 1:
        db.materialise("test_shares", shares.format(among=tested))
        db.materialise("test_rates", smoothed_rate_sql(
            db, rates.format(among="SELECT account FROM test_shares"), rate_k))
    else:
        db.materialise("test_shares", f"SELECT * FROM test_shares_all WHERE account IN ({tested})")
        db.materialise("test_rates", "SELECT * FROM test_rates_all "
                                     "WHERE account IN (SELECT account FROM test_shares)")
    total = db.dialect.sorted_sum
    if kind == "sync" and RATE_BIN_MS % int(round(window * 1000)) == 0:
        # sync: an object (a time bin) lies in one rate bin and its share is 1, so the objects
        # of an account with the same rate bin and number of actions give the same term: each
        # such group is one row, its term counted ``objects`` times
        db.materialise("test_terms", """
            SELECT account, bin, n, count(*) AS objects FROM (
                SELECT account, object, bin, count(*) AS n FROM test_shares GROUP BY ALL) s
            GROUP BY ALL""")
        directed = f"""
            SELECT c.a, c.b, {total('s.objects * (1 - exp(-' + str(span) + ' * s.n * r.rate))')}
                   AS mu
            FROM tested_candidates c JOIN test_terms s ON s.account = c.{{src}}
            JOIN test_rates r ON r.account = c.{{dst}} AND r.bin = s.bin
            GROUP BY c.a, c.b"""
    else:
        directed = f"""
            SELECT c.a, c.b, {total('1 - exp(-lam)')} AS mu FROM (
                SELECT c.a, c.b, s.object, {span} * {total('s.share * r.rate')} AS lam
                FROM tested_candidates c JOIN test_shares s ON s.account = c.{{src}}
                JOIN test_rates r ON r.account = c.{{dst}} AND r.bin = s.bin
                GROUP BY c.a, c.b, s.object) c GROUP BY c.a, c.b"""
    db.register_function("swarmscope_pair_p", conditional_poisson_p_function,
                         ["BIGINT", "DOUBLE"], "DOUBLE")
    with db.step("significance.expected"):   # the p-values on the engine's workers
        db.materialise("tested_pairs", f"""
            SELECT a, b, x, mu, swarmscope_pair_p(x, mu) AS p FROM (
                SELECT c.a, c.b, c.x,
                       greatest((coalesce(f.mu, 0) + coalesce(r.mu, 0)) / 2, 1e-12) AS mu
                FROM tested_candidates c
                LEFT JOIN ({directed.format(src='a', dst='b')}) f ON f.a = c.a AND f.b = c.b
                LEFT JOIN ({directed.format(src='b', dst='a')}) r ON r.a = c.a AND r.b = c.b) e""")
    tests = f"""
        SELECT '{kind_sql}' AS kind, CAST({float(window)} AS DOUBLE) AS window_s, a, b, x, mu, p
        FROM tested_pairs"""
    if c == 0:
        db.materialise(f"pair_{name}", tests)
    else:
        db.append(f"pair_{name}", tests)
    # every testable pair is a partner of both accounts; only a tested one (x >= 2) can be
    # significant, an untested one's p being 1
    significant = f"SELECT a, b FROM tested_pairs WHERE p <= {null.alpha_pair}"
    counts = f"""
        SELECT account, CAST(sum(partner) AS BIGINT) AS partners,
               CAST(sum(significant) AS BIGINT) AS significant
        FROM (SELECT a AS account, 1 AS partner, 0 AS significant FROM testable_pairs
              UNION ALL SELECT b, 1, 0 FROM testable_pairs
              UNION ALL SELECT a, 0, 1 FROM ({significant}) s
              UNION ALL SELECT b, 0, 1 FROM ({significant}) s) s
        GROUP BY account"""
    if c == 0:
        db.materialise("account_counts", counts)
    else:
        db.append("account_counts", counts)
    db.drop("tested_pairs", "tested_candidates")
    if c < k - 1:
        return
    db.materialise(f"account_{name}", f"""
        SELECT '{kind_sql}' AS kind, CAST({float(window)} AS DOUBLE) AS window_s, account,
               CAST(sum(partners) AS BIGINT) AS partners,
               CAST(sum(significant) AS BIGINT) AS significant
        FROM account_counts GROUP BY account""")
    db.drop("account_counts", "test_shares_all", "test_rates_all")
    _test_views(db, suffix, add=name)
