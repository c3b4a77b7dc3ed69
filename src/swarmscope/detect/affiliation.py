"""Affiliation: does an account co-act with a detected cluster more than chance allows?

The pair tests ask one pair to stand out; an operator's account often co-acts with many
members of its group a little each, and with none of them enough. Once the clusters of the
flagged accounts are known, each other account A is tested against each cluster C as a whole,
with the pair test's popularity-adjusted Poisson null (:mod:`swarmscope.detect.significance`)
and C in place of the partner: C's rate is the sum of its members' local rates, and

    μ_AC = Σ_o 1 − exp(−span Σ_{A's actions a on o} π(o, t_a) ρ_C(t_a)),

the expected number of A's distinct objects that some member of C also left within Δ, if A
acted independently of C. The statistic ``x`` is that number; ``p = P(X >= x)``, X ~
Poisson(μ) (no conditioning: every account is tested against every cluster, those with
x < 2 at p = 1). A's p over the tests is their Bonferroni minimum, as in
:mod:`swarmscope.detect.fuse`, and Benjamini–Hochberg runs over every (account, cluster)
hypothesis. An account that passes joins the cluster with its smallest p, and the next round
tests the others against the grown clusters, until a round adds nobody (a snowball sample
with a test at each step). The clusters were found on the same data, so the FDR statement
holds given the clusters, round by round; the evaluation protocol measures what it costs in
false positives (README, "Evaluation").
"""

from __future__ import annotations

from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from swarmscope.detect.significance import (RATE_BIN_MS, NullParams, benjamini_hochberg,
                                            null_terms)


def affiliation_tests(con: duckdb.DuckDBPyConnection, kind: str, window: float,
                      null: NullParams = NullParams()) -> None:
    """Test every account outside the clusters against every cluster for one (kind, window);
    appends to the temp table ``affiliation_tests(kind, window_s, account, cluster_id, x, mu,
    p)`` the hypotheses with x >= 2. Reads ``traces`` and ``cluster_members``."""
    from scipy import stats  # imported when used: it costs a second at start-up
    w = int(round(window * 1000))
    rate_k, span, share = null_terms(con, kind, window, null)
    kind_sql = kind.replace("'", "''")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE aff_ev AS
        SELECT DISTINCT account, object, ts FROM traces WHERE kind = '{kind_sql}';
        CREATE OR REPLACE TEMP TABLE aff_member_ev AS
        SELECT m.cluster_id, e.object, e.ts FROM aff_ev e
        JOIN cluster_members m ON m.account = e.account;""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE aff_x AS
        SELECT e.account, c.cluster_id, count(DISTINCT e.object) AS x
        FROM aff_ev e JOIN aff_member_ev c ON c.object = e.object
             AND c.ts BETWEEN e.ts - {w} AND e.ts + {w}
        WHERE e.account NOT IN (SELECT account FROM cluster_members)
        GROUP BY ALL HAVING count(DISTINCT e.object) >= 2;
        CREATE OR REPLACE TEMP TABLE aff_share AS
        SELECT * FROM (SELECT account, object, ts // {RATE_BIN_MS} AS bin, {share} AS share
                       FROM aff_ev)
        WHERE account IN (SELECT account FROM aff_x);
        CREATE OR REPLACE TEMP TABLE aff_rate AS
        SELECT m.cluster_id, bin + d AS bin, sum(n) / {(2 * rate_k + 1) * RATE_BIN_MS}.0 AS rate
        FROM (SELECT account, ts // {RATE_BIN_MS} AS bin, count(*) AS n FROM aff_ev
              GROUP BY ALL) c
        JOIN cluster_members m USING (account), range({-rate_k}, {rate_k + 1}) r(d)
        GROUP BY m.cluster_id, bin + d;""")
    rows = con.sql(f"""
        SELECT x.account, x.cluster_id, x.x, greatest(coalesce(m.mu, 0), 1e-12) AS mu
        FROM aff_x x LEFT JOIN (
            SELECT account, cluster_id, sum(1 - exp(-lam)) AS mu FROM (
                SELECT x.account, x.cluster_id, s.object, {span} * sum(s.share * r.rate) AS lam
                FROM aff_x x JOIN aff_share s ON s.account = x.account
                JOIN aff_rate r ON r.cluster_id = x.cluster_id AND r.bin = s.bin
                GROUP BY ALL) GROUP BY ALL) m USING (account, cluster_id)""").to_arrow_table()
    p = stats.poisson.sf(rows.column("x").to_numpy() - 1, rows.column("mu").to_numpy())
    con.register("tested", rows.append_column("p", [pa.array(p, pa.float64())]))
    con.execute(f"""
        CREATE TEMP TABLE IF NOT EXISTS affiliation_tests (kind VARCHAR, window_s DOUBLE,
            account INTEGER, cluster_id BIGINT, x BIGINT, mu DOUBLE, p DOUBLE);
        INSERT INTO affiliation_tests SELECT '{kind_sql}', {float(window)}, account, cluster_id,
               x, mu, p FROM tested;
        DROP TABLE aff_ev; DROP TABLE aff_member_ev; DROP TABLE aff_x; DROP TABLE aff_share;
        DROP TABLE aff_rate;""")
    con.unregister("tested")


def affiliate(con: duckdb.DuckDBPyConnection, tests: list[tuple[str, float]], null: NullParams,
              fdr: float, rounds: int, progress: Callable[[str], None] = lambda step: None) -> int:
    """Rounds of affiliation tests and recruitment, until a round recruits nobody or
    ``rounds`` have run; returns the number of accounts recruited."""
    con.execute("CREATE OR REPLACE TEMP TABLE affiliation (account INTEGER, cluster_id BIGINT, "
                "kind VARCHAR, window_s DOUBLE, x BIGINT, mu DOUBLE, p DOUBLE, q DOUBLE, "
                "score DOUBLE, round INTEGER)")
    total = 0
    for round_ in range(1, rounds + 1):
        if not con.execute("SELECT count(*) FROM cluster_members").fetchall()[0][0]:
            break
        con.execute("DROP TABLE IF EXISTS affiliation_tests")
        for kind, window in tests:
            progress(f"affiliation round {round_}: {kind} within {window:g} s")
            affiliation_tests(con, kind, window, null)
        new = recruit(con, len(tests), fdr, round_)
        total += new
        if not new:
            break
    return total


def recruit(con: duckdb.DuckDBPyConnection, n_tests: int, fdr: float, round_: int) -> int:
    """Combine ``affiliation_tests`` over the tests (Bonferroni minimum), run BH over every
    (account outside the clusters, cluster) hypothesis, and add the accounts that pass to
    ``cluster_members`` (the cluster with the smallest p), to ``account_scores`` (flagged,
    score the larger of the two stages') and to ``affiliation`` (account, cluster_id, p, q,
    score, round, and the test that gave the smallest p: kind, window_s, x, mu); returns the
    number of accounts recruited."""
    rows = con.sql(f"""
        SELECT account, arg_min(cluster_id, p) AS cluster_id, arg_min(kind, p) AS kind,
               arg_min(window_s, p) AS window_s, arg_min(x, p) AS x, arg_min(mu, p) AS mu,
               least(1, {n_tests} * min(p)) AS p
        FROM affiliation_tests GROUP BY account""").to_arrow_table()
    n_clusters, n_accounts = con.execute("""
        SELECT (SELECT count(DISTINCT cluster_id) FROM cluster_members),
               (SELECT count(DISTINCT account) FROM traces
                WHERE account NOT IN (SELECT account FROM cluster_members))""").fetchall()[0]
    p = rows.column("p").to_numpy()
    # an account's best cluster carries its smallest p; BH sees it among all pairs (Bonferroni
    # over the clusters is implied by the family size)
    q = benjamini_hochberg(p, int(n_accounts) * max(int(n_clusters), 1))
    passing = p[q <= fdr]
    p_cut = float(passing.max()) if len(passing) else 0.0
    lp = -np.log10(np.clip(p, 1e-300, 1.0)) + 0.0
    score = lp / (lp + -np.log10(p_cut)) if p_cut > 0 else np.zeros(len(p))
    con.register("aff", rows.append_column("q", [pa.array(q, pa.float64())])
                 .append_column("score", [pa.array(score, pa.float64())]))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE recruits AS SELECT *, {round_} AS round FROM aff
        WHERE q <= {fdr};
        INSERT INTO affiliation SELECT * FROM recruits;
        INSERT INTO cluster_members SELECT account, cluster_id FROM recruits;
        UPDATE account_scores s SET score = greatest(s.score, r.score), flagged = true
        FROM recruits r WHERE r.account = s.account;""")
    con.unregister("aff")
    return con.execute("SELECT count(*) FROM recruits").fetchall()[0][0]

