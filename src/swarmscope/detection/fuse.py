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

import numpy as np
import pyarrow as pa

from swarmscope.detection.stats import benjamini_hochberg, binomial_p, fdr_cut, score
from swarmscope.store.backend import Backend


def fuse_accounts(db: Backend, tests: list[tuple[str, float]], kinds: list[str],
                  alpha_pair: float, fdr: float, suffix: str = "") -> float:
    """Fill the temp table ``account_scores`` (account key, p, q, score, flagged, partners,
    significant partners, and p_/score_ per kind) for every account with a testable partner,
    from ``account_tests`` (both with ``suffix``); returns ``p_cut``."""
    t = db.to_arrow(f"SELECT kind, account, partners, significant FROM account_tests{suffix}")
    p = binomial_p(t.column("significant").to_numpy(), t.column("partners").to_numpy(),
                   alpha_pair)
    db.register_arrow("account_p", t.append_column("p", [p]))
    per_kind = ", ".join(
        f"least(1, {sum(k == kind for k, _ in tests)} * min(p) FILTER (WHERE kind = '{kind}')) "
        f"AS \"p_{kind}\"" for kind in kinds)
    rows = db.to_arrow(f"""
        SELECT account, least(1, {len(tests)} * min(p)) AS p, max(partners) AS partners,
               max(significant) AS significant_partners, {per_kind}
        FROM account_p GROUP BY account ORDER BY account""")
    db.drop("account_p")
    p_acc = rows.column("p").to_numpy()
    q = benjamini_hochberg(p_acc)
    p_cut = fdr_cut(p_acc, q, fdr)
    p_cut = fdr / max(len(p_acc), 1) if p_cut is None else p_cut
    cols = {"q": q, "score": score(p_acc, p_cut)}
    for kind in kinds:
        pk = rows.column(f"p_{kind}").to_numpy(zero_copy_only=False)
        cols[f"score_{kind}"] = score(np.where(np.isnan(pk), 1.0, pk), p_cut)
    for name, values in cols.items():
        rows = rows.append_column(name, [values])
    db.register_arrow(f"account_scores{suffix}", rows.append_column(
        "flagged", [pa.array(cols["score"] >= 0.5)]))
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
    rows = db.to_arrow(f"""
        SELECT t.a, t.b, least(1, {len(tests)} * min(t.p)) AS p,
               -log10(greatest(min(t.p), 1e-300)) AS weight, {per_kind},
               {'min(pp.p_perm)' if has_perm else 'NULL::DOUBLE'} AS p_perm
        FROM pair_tests t {perm_join}
        GROUP BY t.a, t.b HAVING min(t.p) <= {alpha_pair} ORDER BY t.a, t.b""")
    all_p = db.to_arrow(f"SELECT least(1, {len(tests)} * min(p)) AS p FROM pair_tests "
                        "GROUP BY a, b").column(0).to_numpy()
    q_all = benjamini_hochberg(all_p, int(n_candidates))
    # the q of a p-value is read off the whole family's sorted (p, q)
    order = np.argsort(all_p, kind="stable")
    p_sorted, q_sorted = all_p[order], q_all[order]
    p_kept = rows.column("p").to_numpy()
    idx = np.searchsorted(p_sorted, p_kept, side="left").clip(max=max(len(p_sorted) - 1, 0))
    q = q_sorted[idx] if len(p_sorted) else np.ones(len(p_kept))
    db.register_arrow("fused_edges", rows.append_column("q", [pa.array(q, pa.float64())]))
