"""The statistics every stage shares: Poisson and binomial tails, Benjamini-Hochberg, the score.

scipy is imported when a function is called: it costs a second at start-up.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def conditional_poisson_p(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X >= x | X >= 1) for X ~ Poisson(mu), elementwise (x >= 1; x = 1 gives 1)."""
    from scipy import stats
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.poisson.sf(x - 1, mu) / -np.expm1(-mu)
    return np.clip(np.where(x <= 1, 1.0, p), 0.0, 1.0)


def conditional_poisson_p_function(x: pa.Array, mu: pa.Array) -> pa.Array:
    """Engine function (``Backend.register_function``): :func:`conditional_poisson_p` of
    each row's count ``x`` and expectation ``mu``, on the engine's batches of rows."""
    return pa.array(conditional_poisson_p(x.to_numpy().astype(float), mu.to_numpy()),
                    pa.float64())


def poisson_p(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X >= x) for X ~ Poisson(mu), elementwise."""
    from scipy import stats
    return stats.poisson.sf(np.asarray(x, float) - 1, mu)


def randomized_p(x: np.ndarray, mu: np.ndarray, rng: np.random.Generator,
                 given: int = 1) -> np.ndarray:
    """The randomised p-value P(X > x | X >= given) + U P(X = x | X >= given), X ~ Poisson(mu):
    exactly uniform when the null holds, so a calibration check can use a KS test."""
    from scipy import stats
    norm = stats.poisson.sf(given - 1, mu)
    above = stats.poisson.sf(x, mu) / norm
    at = stats.poisson.pmf(x, mu) / norm
    return np.clip(above + rng.uniform(size=len(x)) * at, 0.0, 1.0)


def binomial_p(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """P(K >= k), K ~ Binomial(n, alpha) (1 where k <= 0)."""
    from scipy import stats
    return np.where(k <= 0, 1.0, stats.binom.sf(k - 1, n, alpha))


def benjamini_hochberg(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """BH-adjusted p-values (q-values) of a family (Benjamini & Hochberg, JRSS-B 57:289, 1995);
    ``m`` is the family's size when hypotheses with p = 1 were left out of ``p``. Ties keep
    their order of appearance (a stable sort), so the result does not depend on the engine."""
    m = max(m or 0, len(p))
    if len(p) == 0:
        return np.asarray(p, float).copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(len(p))
    out[order] = np.minimum(q, 1.0)
    return out


def fdr_cut(p: np.ndarray, q: np.ndarray, fdr: float) -> float | None:
    """The largest p-value whose BH q is at most ``fdr`` (None when none is)."""
    passing = p[q <= fdr]
    return float(passing.max()) if len(passing) else None


def score(p: np.ndarray, p_cut: float | None) -> np.ndarray:
    """The score in [0, 1]: L / (L + L*), L = -log10 p, L* = -log10 p_cut; 0 for p = 1 and
    0.5 at the cut (0 everywhere without a cut)."""
    if p_cut is None:
        return np.zeros(len(p))
    lp = -np.log10(np.clip(p, 1e-300, 1.0)) + 0.0  # no -0.0
    return lp / (lp + -np.log10(min(max(p_cut, 1e-300), 0.999)))  # a cut at p = 0 too


def binomial_p_function(significant: pa.Array, partners: pa.Array, *,
                        alpha: float) -> pa.Array:
    """Engine function: :func:`binomial_p` of each account test."""
    return pa.array(binomial_p(significant.to_numpy(), partners.to_numpy(), alpha),
                    pa.float64())


def score_function(p: pa.Array, *, p_cut: float) -> pa.Array:
    """Engine function: :func:`score` of each p-value against ``p_cut``."""
    return pa.array(score(p.to_numpy(), p_cut), pa.float64())
