"""Unit tests of the shared statistics (detection/stats.py) and of fusion (detection/fuse.py).

Expectations come from the definitions (a naive O(n²) Benjamini–Hochberg, the binomial sum
written out) or from small tables whose answer is worked out here, never from a run.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps

from swarmscope.detection import fuse
from swarmscope.detection.fuse import benjamini_hochberg_sql, fuse_accounts, fuse_edges
from swarmscope.detection.stats import benjamini_hochberg, binomial_p, fdr_cut, score
from swarmscope.store.backend import DuckDBBackend


def naive_bh(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """BH from its definition: q_i = min over p_j >= p_i of min(1, m p_j / rank_j), with
    rank_j = #{l : p_l <= p_j} (ties take the largest rank)."""
    m = max(m or 0, len(p))
    ranks = np.array([(p <= pj).sum() for pj in p])
    return np.array([min(1.0, min(m * p[j] / ranks[j] for j in range(len(p)) if p[j] >= pi))
                     for pi in p])


@pytest.fixture
def backend():
    con = duckdb.connect()
    yield DuckDBBackend(con)
    con.close()


# -- Benjamini–Hochberg -------------------------------------------------------------------

def test_bh_matches_naive_definition_with_ties_and_larger_family():
    """BH equals the O(n²) definition, ties and values at 1 included, for m = len(p) and for
    a family larger than the p-values given."""
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=40) ** 3, [0.01, 0.01, 0.2, 0.2, 1.0, 1.0]])
    rng.shuffle(p)
    for m in (None, len(p), 3 * len(p)):
        np.testing.assert_allclose(benjamini_hochberg(p, m), naive_bh(p, m), rtol=1e-12)


def bh_in_sql(db, p: np.ndarray, m: int, monkeypatch) -> np.ndarray:
    """:func:`benjamini_hochberg_sql` of ``p`` (keyed by position) in blocks of 7 rows."""
    monkeypatch.setattr(fuse, "BH_BLOCK", 7)
    db.register_arrow("family", pa.table({"k": np.arange(len(p)), "p": p}))
    benjamini_hochberg_sql(db, "family_q", "family", ["k"], m)
    return np.array(db.to_arrow("SELECT q FROM family_q ORDER BY k").column("q").to_pylist())


def test_bh_in_sql_is_the_same_doubles_across_blocks(backend, monkeypatch):
    """Ties, p = 1 and a larger family, over 13 blocks: the q-values of the numpy BH, to the
    bit."""
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.05, 40), rng.choice([1e-4, 0.01, 0.3], 30),
                        np.ones(5), rng.uniform(size=15)])
    rng.shuffle(p)
    q = bh_in_sql(backend, p, 120, monkeypatch)
    assert q.tolist() == benjamini_hochberg(p, 120).tolist()
    np.testing.assert_allclose(q, naive_bh(p, 120), rtol=1e-12)


def test_bh_larger_family_is_padding_with_ones():
    """BH with m > len(p) gives the q-values of the family padded with m - len(p) p-values
    of 1 (the hypotheses left out), and is never below BH with m = len(p)."""
    p = np.array([0.001, 0.02, 0.03, 0.2, 0.04])
    padded = benjamini_hochberg(np.concatenate([p, np.ones(7)]))[:len(p)]
    np.testing.assert_allclose(benjamini_hochberg(p, 12), padded, rtol=1e-12)
    assert (benjamini_hochberg(p, 12) >= benjamini_hochberg(p) - 1e-15).all()


def test_bh_hand_case():
    """p = (0.01, 0.04, 0.03, 0.5), worked by hand: ranked m·p/k = 0.04, 0.06, 0.0533, 0.5,
    step-up minima 0.04, 0.0533, 0.0533, 0.5; with m = 10 each is 2.5 times that (capped)."""
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    np.testing.assert_allclose(benjamini_hochberg(p, 10), [0.1, 0.4 / 3, 0.4 / 3, 1.0])
    assert benjamini_hochberg(np.array([])).shape == (0,)


def test_bh_matches_statsmodels():
    """BH equals statsmodels' ``fdr_bh`` (m = len(p): statsmodels has no larger family)."""
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(2).uniform(size=200) ** 2
    np.testing.assert_allclose(benjamini_hochberg(p),
                               multitest.multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_fdr_cut_is_the_step_up_threshold():
    """fdr_cut is max{p_(k) : p_(k) <= k·fdr/m} (the BH step-up rule), None when no k
    passes; checked on random families and on the hand case above."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(size=5) * 1e-3])
        for m in (len(p), 4 * len(p)):
            srt = np.sort(p)
            ok = srt <= np.arange(1, len(p) + 1) * 0.05 / m
            expected = float(srt[ok].max()) if ok.any() else None
            assert fdr_cut(p, benjamini_hochberg(p, m), 0.05) == expected
    p = np.array([0.01, 0.04, 0.03, 0.5])
    q = benjamini_hochberg(p)
    assert fdr_cut(p, q, 0.05) == 0.01
    assert fdr_cut(p, q, 0.06) == 0.04
    assert fdr_cut(p, q, 0.03) is None


# -- score and binomial tail ---------------------------------------------------------------

def test_score_landmarks_and_monotone():
    """score is 0 at p = 1, exactly 0.5 at the cut, 2/3 at cut² (L = 2 L*), in [0, 1] and
    non-increasing in p; without a cut it is 0 everywhere."""
    cut = 1e-3
    assert score(np.array([1.0]), cut)[0] == 0.0
    assert score(np.array([cut]), cut)[0] == 0.5
    assert score(np.array([cut ** 2]), cut)[0] == pytest.approx(2 / 3)
    p = np.sort(np.concatenate([np.logspace(-320, 0, 200), [0.0]]))
    s = score(p, cut)
    assert ((s >= 0) & (s <= 1)).all()
    assert (np.diff(s) <= 0).all()
    np.testing.assert_array_equal(score(p, None), np.zeros(len(p)))


def test_binomial_p_is_the_upper_tail():
    """binomial_p(k, n, a) = sum_{j>=k} C(n, j) a^j (1-a)^(n-j) (and scipy's sf), 1 at k <= 0."""
    k = np.array([0, 1, 2, 3, 5, 10, 1])
    n = np.array([5, 5, 5, 10, 10, 10, 1])
    a = 0.05
    direct = [1.0 if kk <= 0 else sum(math.comb(nn, j) * a ** j * (1 - a) ** (nn - j)
                                      for j in range(kk, nn + 1)) for kk, nn in zip(k, n)]
    np.testing.assert_allclose(binomial_p(k, n, a), direct, rtol=1e-10)
    np.testing.assert_allclose(binomial_p(k[1:], n[1:], a), sps.binom.sf(k[1:] - 1, n[1:], a))
    assert binomial_p(np.array([1]), np.array([1]), a)[0] == pytest.approx(a)


# -- fuse_accounts --------------------------------------------------------------------------

TESTS = [("repost", 60.0), ("repost", 3600.0), ("hashtag", 60.0)]
KINDS = ["repost", "hashtag"]
ALPHA = 0.01
#: (kind, window_s, account, partners, significant)
ACCOUNT_ROWS = [
    ("repost", 60.0, 1, 10, 6), ("repost", 3600.0, 1, 12, 3), ("hashtag", 60.0, 1, 4, 0),
    ("repost", 60.0, 2, 8, 0), ("hashtag", 60.0, 2, 6, 4),
    ("repost", 3600.0, 3, 20, 1),
    ("hashtag", 60.0, 4, 3, 0),
    ("repost", 60.0, 5, 9, 5), ("repost", 3600.0, 5, 9, 5),
] + [("repost", 60.0, acc, 5, 0) for acc in range(6, 26)]


def load(backend, name: str, columns: list[str], rows: list[tuple], types: list) -> None:
    cols = list(zip(*rows))
    backend.register_arrow(name, pa.table({c: pa.array(v, t)
                                           for c, v, t in zip(columns, cols, types)}))


def load_account_tests(backend, rows, suffix=""):
    load(backend, f"account_tests{suffix}", ["kind", "window_s", "account", "partners",
                                             "significant"],
         rows, [pa.string(), pa.float64(), pa.int32(), pa.int64(), pa.int64()])


def expected_accounts(rows, fdr):
    """The fusion worked out row by row: binomial tail per test, Bonferroni minimum over the
    T tests (and per kind over that kind's tests), BH over the accounts."""
    per = {}
    for kind, _, acc, n, k in rows:
        pt = 1.0 if k <= 0 else sps.binom.sf(k - 1, n, ALPHA)
        d = per.setdefault(acc, {"p": [], "partners": [], "sig": [], "repost": [],
                                 "hashtag": []})
        d["p"].append(pt)
        d[kind].append(pt)
        d["partners"].append(n)
        d["sig"].append(k)
    accounts = sorted(per)
    p = np.array([min(1.0, len(TESTS) * min(per[a]["p"])) for a in accounts])
    q = naive_bh(p)
    passing = p[q <= fdr]
    cut = passing.max() if len(passing) else fdr / len(p)
    pk = {kind: np.array([min(1.0, sum(k == kind for k, _ in TESTS) * min(per[a][kind]))
                          if per[a][kind] else 1.0 for a in accounts]) for kind in KINDS}
    return accounts, p, q, cut, pk, per


def test_fuse_accounts_by_hand(backend):
    """account_scores: p = min(1, T · min_t p_t) of the binomial tails, p_<kind> over the
    kind's own tests (1 without a test of it, scoring 0), q = BH over the accounts,
    flagged exactly score >= 0.5 (and so q <= fdr), partners = the most over the tests."""
    load_account_tests(backend, ACCOUNT_ROWS)
    cut = fuse_accounts(backend, TESTS, KINDS, ALPHA, 0.05)
    got = backend.to_arrow("SELECT * FROM account_scores ORDER BY account").to_pydict()
    accounts, p, q, ecut, pk, per = expected_accounts(ACCOUNT_ROWS, 0.05)
    assert got["account"] == accounts
    assert cut == pytest.approx(ecut, rel=1e-12)
    np.testing.assert_allclose(got["p"], p, rtol=1e-10)
    np.testing.assert_allclose(got["q"], q, rtol=1e-10)
    np.testing.assert_allclose(got["score"], score(p, ecut), rtol=1e-10)
    assert got["flagged"] == [s >= 0.5 for s in got["score"]]
    assert got["flagged"] == list(q <= 0.05)
    assert got["flagged"][:5] == [True, True, False, False, True]  # 1, 2 and 5 stand out
    assert got["partners"] == [max(per[a]["partners"]) for a in accounts]
    assert got["significant_partners"] == [max(per[a]["sig"]) for a in accounts]
    for kind in KINDS:
        np.testing.assert_allclose(got[f"p_{kind}"], pk[kind], rtol=1e-10)
        np.testing.assert_allclose(got[f"score_{kind}"], score(pk[kind], ecut), rtol=1e-10)
    assert got["p_hashtag"][2] == 1.0 and got["score_hashtag"][2] == 0.0  # account 3


def test_fuse_accounts_without_cut_and_with_suffix(backend):
    """With nothing passing BH the cut is fdr / m and nobody is flagged; ``suffix`` reads
    and writes the suffixed tables only."""
    rows = [("repost", 60.0, a, 5, 0) for a in range(1, 9)]
    load_account_tests(backend, rows, suffix="_perm")
    cut = fuse_accounts(backend, TESTS, KINDS, ALPHA, 0.05, suffix="_perm")
    assert cut == pytest.approx(0.05 / 8)
    assert backend.scalar("SELECT count(*) FILTER (WHERE flagged) FROM account_scores_perm") == 0
    assert backend.scalar("SELECT max(score) FROM account_scores_perm") == 0.0
    assert not backend.has_table("account_scores")


def test_fuse_accounts_flags_accounts_whose_p_underflows(backend):
    """Three accounts with 250 of 300 partners significant (binomial tail below 1e-300, so 0)
    pass BH with q = 0 and must be flagged (score >= 0.5)."""
    rows = ([("repost", 60.0, a, 300, 250) for a in (1, 2, 3)]
            + [("repost", 60.0, a, 5, 0) for a in range(4, 30)])
    load_account_tests(backend, rows)
    with np.errstate(divide="ignore"):
        fuse_accounts(backend, TESTS, KINDS, ALPHA, 0.05)
    got = backend.query("SELECT q, flagged FROM account_scores WHERE account <= 3")
    assert [q for q, _ in got] == [0.0, 0.0, 0.0]
    assert all(flagged for _, flagged in got)


def test_fuse_accounts_independent_of_row_order(backend):
    """Shuffling the rows of account_tests changes nothing in account_scores."""
    load_account_tests(backend, ACCOUNT_ROWS)
    fuse_accounts(backend, TESTS, KINDS, ALPHA, 0.05)
    first = backend.to_arrow("SELECT * FROM account_scores ORDER BY account")
    rows = list(ACCOUNT_ROWS)
    np.random.default_rng(4).shuffle(rows)
    load_account_tests(backend, rows)
    fuse_accounts(backend, TESTS, KINDS, ALPHA, 0.05)
    assert backend.to_arrow("SELECT * FROM account_scores ORDER BY account").equals(first)


# -- fuse_edges -----------------------------------------------------------------------------

#: (kind, window_s, a, b, x, mu, p)
PAIR_ROWS = [
    ("repost", 60.0, 1, 2, 9, 0.5, 1e-8), ("repost", 3600.0, 1, 2, 12, 2.0, 1e-5),
    ("hashtag", 60.0, 1, 2, 4, 0.3, 2e-3),
    ("hashtag", 60.0, 1, 3, 3, 0.2, 4e-3),
    ("repost", 60.0, 2, 3, 2, 1.0, 0.3), ("hashtag", 60.0, 2, 3, 2, 0.9, 0.02),
    ("repost", 3600.0, 3, 4, 5, 0.4, 8e-4),
    ("repost", 60.0, 4, 5, 2, 1.5, 0.6),
]


def load_pair_tests(backend, rows):
    load(backend, "pair_tests", ["kind", "window_s", "a", "b", "x", "mu", "p"], rows,
         [pa.string(), pa.float64(), pa.int32(), pa.int32(), pa.int64(), pa.float64(),
          pa.float64()])


def test_fuse_edges_by_hand(backend):
    """fused_edges: the pairs whose smallest p is <= alpha_pair, p = min(1, T · min p),
    weight -log10 min p, per kind min p and max x, no p_perm without permutations, and q
    the BH q over every testable pair: family size sum(partners) / 2 over account_tests."""
    load_pair_tests(backend, PAIR_ROWS)
    load_account_tests(backend, ACCOUNT_ROWS)
    family = sum(r[3] for r in ACCOUNT_ROWS) // 2  # 181 partner slots: 90 pairs
    fuse_edges(backend, TESTS, KINDS, ALPHA)
    got = backend.to_arrow("SELECT * FROM fused_edges ORDER BY a, b").to_pydict()
    assert list(zip(got["a"], got["b"])) == [(1, 2), (1, 3), (3, 4)]  # (2,3) 0.02, (4,5) 0.6
    np.testing.assert_allclose(got["p"], [3e-8, 1.2e-2, 2.4e-3], rtol=1e-12)
    np.testing.assert_allclose(got["weight"], [8, -math.log10(4e-3), -math.log10(8e-4)])
    assert got["p_repost"] == [1e-8, None, 8e-4] and got["x_repost"] == [12, None, 5]
    assert got["p_hashtag"] == [2e-3, 4e-3, None] and got["x_hashtag"] == [4, 3, None]
    assert got["p_perm"] == [None, None, None]
    all_p = np.array([3e-8, 1.2e-2, min(1, 3 * 0.02), 2.4e-3, 1.0])  # every tested pair
    q = naive_bh(all_p, family)
    np.testing.assert_allclose(got["q"], q[[0, 1, 3]], rtol=1e-12)
    assert got["q"][0] == pytest.approx(3e-8 * family)  # rank 1 of 90


def test_fuse_edges_independent_of_row_order(backend):
    """Shuffling pair_tests and account_tests changes nothing in fused_edges."""
    load_account_tests(backend, ACCOUNT_ROWS)
    load_pair_tests(backend, PAIR_ROWS)
    fuse_edges(backend, TESTS, KINDS, ALPHA)
    first = backend.to_arrow("SELECT * FROM fused_edges ORDER BY a, b")
    rng = np.random.default_rng(5)
    for rows, loader in ((ACCOUNT_ROWS, load_account_tests), (PAIR_ROWS, load_pair_tests)):
        rows = list(rows)
        rng.shuffle(rows)
        loader(backend, rows)
    fuse_edges(backend, TESTS, KINDS, ALPHA)
    assert backend.to_arrow("SELECT * FROM fused_edges ORDER BY a, b").equals(first)
