"""Fusion: the per-(kind, window) tests combined into one p-value per account and per edge.

Combination rule: Bonferroni's minimum (Tippett's test with a Bonferroni bound), ``p =
min(1, T · min_t p_t)`` over the T tests that ran. It is valid under any dependence between the
kinds (a retweet often also mentions; the same pair co-acts at 60 s and at 1 h), which Fisher's
and Stouffer's rules are not without a correction that needs the dependence structure; it
follows Luceri et al. (2024), who take the strongest signal. Each kind's own part is kept:
``p_<kind>`` (its windows combined the same way) and ``x_<kind>`` on edges.

Account score (in [0, 1], monotone in the evidence)::

    score = L / (L + L*),  L = -log10 p_account,  L* = -log10 p_cut

where ``p_cut`` is the largest p-value that passes Benjamini–Hochberg at the FDR level (or
``fdr / m`` when none does). An account without evidence scores 0, an account at the cut-off
0.5, and ``flagged`` is exactly ``score >= 0.5``. The per-kind scores use the same L*.
"""

from __future__ import annotations

from functools import partial

from swarmscope.detection.stats import binomial_p_function, score_function
from swarmscope.store.backend import Backend

#: Ranked rows per block in SQL's Benjamini-Hochberg: the running minimum is taken within each
#: block and across the blocks' minima, never as one window over every row.
BH_BLOCK = 1 << 20


def benjamini_hochberg_sql(db: Backend, name: str, source: str, keys: list[str],
                           m: int) -> None:
    """The step ``name`` (``keys``, p, q): the Benjamini-Hochberg q-value (JRSS-B 57:289,
    1995) of each row of ``source`` (columns ``keys`` and p) in a family of ``m`` hypotheses
    (m >= its rows: those with p = 1 may be left out), in the engine: q_i = min over j >= i of
    m p_(j) / j, capped at 1, the same doubles as :func:`stats.benjamini_hochberg`."""
    cols = ", ".join(keys)
    db.materialise_numbered(f"{name}_ranked", f"SELECT {cols}, p FROM {source}",
                            ["p", *keys], "i")
    db.materialise(f"{name}_blocks", f"""
        SELECT {db.dialect.int_div('i - 1', str(BH_BLOCK))} AS block, i, {cols}, p,
               p * CAST({int(m)} AS DOUBLE) / CAST(i AS DOUBLE) AS v
        FROM {name}_ranked""")
    db.materialise(f"{name}_after", f"""
        SELECT b.block, min(l.low) AS after
        FROM (SELECT DISTINCT block FROM {name}_blocks) b
        JOIN (SELECT block, min(v) AS low FROM {name}_blocks GROUP BY block) l
          ON l.block > b.block
        GROUP BY b.block""")
    db.materialise(name, f"""
        SELECT {cols}, p, least(s.within, coalesce(a.after, s.within), 1.0) AS q
        FROM (SELECT *, min(v) OVER (PARTITION BY block ORDER BY i DESC
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS within
              FROM {name}_blocks) s
        LEFT JOIN {name}_after a ON a.block = s.block""")
    db.drop(f"{name}_ranked", f"{name}_blocks", f"{name}_after")


def fuse_accounts(db: Backend, tests: list[tuple[str, float]], kinds: list[str],
                  alpha_pair: float, fdr: float, suffix: str = "") -> float:
    """Fill the temp table ``account_scores`` (account key, p, q, score, flagged, partners,
    significant partners, and p_/score_ per kind) for every account with a testable partner,
    from ``account_tests`` (both with ``suffix``); returns ``p_cut``."""
    db.register_function("swarmscope_binomial_p", partial(binomial_p_function, alpha=alpha_pair),
                         ["BIGINT", "BIGINT"], "DOUBLE")
    db.materialise("account_p", f"""
        SELECT kind, account, swarmscope_binomial_p(significant, partners) AS p, partners,
               significant
        FROM account_tests{suffix}""")
    per_kind = ", ".join(
        f"least(1, {sum(k == kind for k, _ in tests)} * min(p) FILTER (WHERE kind = '{kind}')) "
        f"AS \"p_{kind}\"" for kind in kinds)
    db.materialise("account_fused", f"""
        SELECT account, least(1, {len(tests)} * min(p)) AS p, max(partners) AS partners,
               max(significant) AS significant_partners, {per_kind}
        FROM account_p GROUP BY account""")
    n = db.scalar("SELECT count(*) FROM account_fused") or 0
    benjamini_hochberg_sql(db, "account_q", "account_fused", ["account"], n)
    p_cut = db.scalar(f"SELECT max(p) FROM account_q WHERE q <= {float(fdr)!r}")
    p_cut = fdr / max(n, 1) if p_cut is None else float(p_cut)
    db.register_function("swarmscope_score", partial(score_function, p_cut=p_cut),
                         ["DOUBLE"], "DOUBLE")
    scores = ", ".join(f"swarmscope_score(coalesce(f.\"p_{k}\", 1.0)) AS \"score_{k}\""
                       for k in kinds)
    p_kinds = ", ".join(f"f.\"p_{k}\"" for k in kinds)
    db.materialise(f"account_scores{suffix}", f"""
        SELECT account, p, partners, significant_partners, {p_kinds}, q, score, {scores},
               score >= 0.5 AS flagged
        FROM (SELECT f.*, q.q, swarmscope_score(f.p) AS score
              FROM account_fused f JOIN account_q q ON q.account = f.account) f""")
    db.drop("account_p", "account_fused", "account_q")
    return p_cut


def fuse_edges(db: Backend, tests: list[tuple[str, float]], kinds: list[str],
               alpha_pair: float) -> None:
    """Fill the temp table ``fused_edges``: every pair with at least one test at p <=
    ``alpha_pair``, with the fused p-value, its BH q over all testable pairs of all tests, the
    weight -log10 of its smallest p, and per kind the smallest p and largest x; with
    permutations (``pair_permutation_p``), ``p_perm`` the smallest empirical p."""
    n_candidates = db.scalar("SELECT sum(partners) / 2 FROM account_tests") or 0
    per_kind = ", ".join(
        f"min(t.p) FILTER (WHERE t.kind = '{k}') AS \"p_{k}\", "
        f"max(t.x) FILTER (WHERE t.kind = '{k}') AS \"x_{k}\"" for k in kinds)
    has_perm = db.has_table("pair_permutation_p")
    perm_join = ("LEFT JOIN pair_permutation_p pp USING (kind, window_s, a, b)" if has_perm
                 else "")
    db.materialise("edge_fused", f"""
        SELECT t.a, t.b, least(1, {len(tests)} * min(t.p)) AS p, min(t.p) AS p_min,
               -log10(greatest(min(t.p), 1e-300)) AS weight, {per_kind},
               {'min(pp.p_perm)' if has_perm else 'CAST(NULL AS DOUBLE)'} AS p_perm
        FROM pair_tests t {perm_join}
        GROUP BY t.a, t.b""")
    n = db.scalar("SELECT count(*) FROM edge_fused") or 0
    benjamini_hochberg_sql(db, "edge_q", "edge_fused", ["a", "b"], max(int(n_candidates), n))
    columns = ", ".join(f"e.\"{c}\"" for k in kinds for c in (f"p_{k}", f"x_{k}"))
    db.materialise("fused_edges", f"""
        SELECT e.a, e.b, e.p, e.weight, {columns}, e.p_perm, q.q
        FROM edge_fused e JOIN edge_q q ON q.a = e.a AND q.b = e.b
        WHERE e.p_min <= {float(alpha_pair)!r}""")
    db.drop("edge_fused", "edge_q")
