"""Affiliation: does an account co-act with a detected cluster more than chance allows?

The pair tests ask one pair to stand out; an operator's account often co-acts with many
members of its group a little each, and with none of them enough. Once the clusters of the
flagged accounts are known, each other account A is tested against each cluster C as a whole,
with the pair test's popularity-adjusted Poisson null (:mod:`swarmscope.detection.significance`)
and C in place of the partner: C's rate is the sum of its members' local rates, and

    μ_AC = Σ_o 1 − exp(−span Σ_{A's actions a on o} π(o, t_a) ρ_C(t_a)),

the expected number of A's distinct objects that some member of C also left within Δ, if A
acted independently of C. The statistic ``x`` is that number; ``p = P(X >= x)``, X ~
Poisson(μ) (no conditioning: every account is tested against every cluster, those with
x < 2 at p = 1). A's p over the tests is their Bonferroni minimum, as in
:mod:`swarmscope.detection.fuse`, and Benjamini–Hochberg runs over every (account, cluster)
hypothesis. An account that passes joins the cluster with its smallest p, and the next round
tests the others against the grown clusters, until a round adds nobody (a snowball sample
with a test at each step). The clusters were found on the same data, so the FDR statement
holds given the clusters, round by round; the evaluation protocol measures what it costs in
false positives (README, "Evaluation").
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa

from swarmscope.detection.significance import (RATE_BIN_MS, NullParams, null_terms,
                                               object_shares_sql, smoothed_rate_sql)
from swarmscope.detection.stats import benjamini_hochberg, fdr_cut, poisson_p, score
from swarmscope.engine.sql import windowed_join
from swarmscope.store.backend import Backend
from swarmscope.store.sql import column_list, no_rows


def _kept(kind: str, window: float, null: NullParams) -> tuple[str, str]:
    """The tables an affiliation test keeps for every round: the kind's distinct events, and
    their object shares (the same for the windows whose popularity window is the same)."""
    pop_w = int(max(null.popularity_window * 1000, round(window * 1000)))
    return f"aff_events_{kind}", f"aff_shares_{kind}_{pop_w}"


def affiliation_tests(db: Backend, kind: str, window: float,
                      null: NullParams = NullParams()) -> None:
    """Test every account outside the clusters against every cluster for one (kind, window);
    appends to the temp table ``affiliation_tests(kind, window_s, account, cluster_id, x, mu,
    p)`` the hypotheses with x >= 2. Reads ``traces`` and ``cluster_members``."""
    w = int(round(window * 1000))
    rate_k, span, halves = null_terms(db, kind, window, null)
    kind_sql = kind.replace("'", "''")
    total = db.dialect.sorted_sum
    events, shares = _kept(kind, window, null)
    if not db.has_table(events):   # the same in every round and window
        db.materialise(events, f"SELECT DISTINCT account, object, ts FROM traces "
                               f"WHERE kind = '{kind_sql}'")
    if not db.has_table(shares):   # the same in every round, and in windows of one share
        db.materialise(shares, f"SELECT account, object, {db.dialect.int_div('ts', str(RATE_BIN_MS))}"
                               f" AS bin, share FROM ({object_shares_sql(db, events, halves)}) s")
    db.materialise("aff_member_events", f"""
        SELECT m.cluster_id, e.object, e.ts FROM {events} e
        JOIN cluster_members m ON m.account = e.account""")
    db.materialise("aff_x", f"""
        SELECT e.account, c.cluster_id, count(DISTINCT e.object) AS x
        FROM {windowed_join(db, events, 'aff_member_events', w, 'e', 'c')}
        WHERE e.account NOT IN (SELECT account FROM cluster_members)
        GROUP BY ALL HAVING count(DISTINCT e.object) >= 2""")
    db.materialise("aff_shares", f"""
        SELECT * FROM {shares} WHERE account IN (SELECT account FROM aff_x)""")
    db.materialise("aff_rates", smoothed_rate_sql(
        db, events, rate_k, group="m.cluster_id",
        members="JOIN cluster_members m USING (account)"))
    with db.step("affiliation.expected"):
        rows = db.to_arrow(f"""
            SELECT x.account, x.cluster_id, x.x, greatest(coalesce(m.mu, 0), 1e-12) AS mu
            FROM aff_x x LEFT JOIN (
                SELECT account, cluster_id, {total('1 - exp(-lam)')} AS mu FROM (
                    SELECT x.account, x.cluster_id, s.object,
                           {span} * {total('s.share * r.rate')} AS lam
                    FROM aff_x x JOIN aff_shares s ON s.account = x.account
                    JOIN aff_rates r ON r.cluster_id = x.cluster_id AND r.bin = s.bin
                    GROUP BY ALL) GROUP BY ALL) m USING (account, cluster_id)
            ORDER BY x.account, x.cluster_id""")
    p = poisson_p(rows.column("x").to_numpy(), rows.column("mu").to_numpy())
    db.register_arrow("aff_tested", rows.append_column("p", [pa.array(p, pa.float64())]))
    if not db.has_table("affiliation_tests"):
        db.materialise("affiliation_tests", no_rows(
            kind="STRING", window_s="DOUBLE", account="INTEGER", cluster_id="BIGINT",
            x="BIGINT", mu="DOUBLE", p="DOUBLE"))
    db.append("affiliation_tests", f"SELECT '{kind_sql}' AS kind, {float(window)} AS window_s, "
                                   "account, cluster_id, x, mu, p FROM aff_tested")
    db.drop("aff_member_events", "aff_x", "aff_shares", "aff_rates", "aff_tested")


def affiliate(db: Backend, tests: list[tuple[str, float]], null: NullParams,
              fdr: float, rounds: int, progress: Callable[[str], None] = lambda step: None) -> int:
    """Rounds of affiliation tests and recruitment, until a round recruits nobody or
    ``rounds`` have run; returns the number of accounts recruited. Reads and rewrites
    ``cluster_members`` and ``account_scores``; writes ``affiliation``."""
    db.materialise("affiliation", no_rows(
        account="INTEGER", cluster_id="BIGINT", kind="STRING", window_s="DOUBLE", x="BIGINT",
        mu="DOUBLE", p="DOUBLE", q="DOUBLE", score="DOUBLE", round="INTEGER"))
    total = 0
    for round_ in range(1, rounds + 1):
        if not db.scalar("SELECT count(*) FROM cluster_members"):
            break
        db.drop("affiliation_tests")
        for kind, window in tests:
            progress(f"affiliation round {round_}: {kind} within {window:g} s")
            affiliation_tests(db, kind, window, null)
        new = recruit(db, len(tests), fdr, round_)
        total += new
        if not new:
            break
    db.drop(*(name for kind, window in tests for name in _kept(kind, window, null)))
    return total


def recruit(db: Backend, n_tests: int, fdr: float, round_: int) -> int:
    """Combine ``affiliation_tests`` over the tests (Bonferroni minimum), run BH over every
    (account outside the clusters, cluster) hypothesis, and add the accounts that pass to
    ``cluster_members`` (the cluster with the smallest p), to ``account_scores`` (flagged,
    score the larger of the two stages') and to ``affiliation`` (account, cluster_id, p, q,
    score, round, and the test that gave the smallest p: kind, window_s, x, mu); returns the
    number of accounts recruited."""
    def best(col: str) -> str:  # the test with the smallest p; ties to the first cluster, test
        return db.dialect.arg_min(col, "p", "cluster_id", "kind", "window_s")

    rows = db.to_arrow(f"""
        SELECT account, {best('cluster_id')} AS cluster_id, {best('kind')} AS kind,
               {best('window_s')} AS window_s, {best('x')} AS x, {best('mu')} AS mu,
               least(1, {n_tests} * min(p)) AS p
        FROM affiliation_tests GROUP BY account ORDER BY account""")
    n_clusters, n_accounts = db.query("""
        SELECT (SELECT count(DISTINCT cluster_id) FROM cluster_members),
               (SELECT count(DISTINCT account) FROM traces
                WHERE account NOT IN (SELECT account FROM cluster_members))""")[0]
    p = rows.column("p").to_numpy()
    # an account's best cluster carries its smallest p; BH sees it among all pairs (Bonferroni
    # over the clusters is implied by the family size)
    q = benjamini_hochberg(p, int(n_accounts) * max(int(n_clusters), 1))
    db.register_arrow("aff", rows.append_column("q", [pa.array(q, pa.float64())])
                      .append_column("score", [pa.array(score(p, fdr_cut(p, q, fdr)),
                                                        pa.float64())]))
    db.materialise("recruits", f"SELECT *, {round_} AS round FROM aff WHERE q <= {fdr}")
    db.append("affiliation", "SELECT * FROM recruits")
    db.materialise("cluster_members", """
        SELECT * FROM cluster_members UNION ALL SELECT account, cluster_id FROM recruits""")
    columns = column_list(db.columns("account_scores"), "s", replace={
        "score": "CASE WHEN r.account IS NULL THEN s.score ELSE greatest(s.score, r.score) END",
        "flagged": "s.flagged OR r.account IS NOT NULL"})
    db.materialise("account_scores", f"""
        SELECT {columns} FROM account_scores s LEFT JOIN recruits r ON r.account = s.account""")
    db.drop("aff")
    return db.scalar("SELECT count(*) FROM recruits")
