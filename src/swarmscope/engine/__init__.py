"""The windowed co-action engine: traces -> account-pair edges with evidence.

The engine sits behind a small seam (:class:`Engine`) so that the same computation can run on
DuckDB (the default, :mod:`swarmscope.engine.duckdb`) or, for data no single machine holds, on
Apache Spark, with the same answers on the same input (as splink does for record linkage).

Semantics (``PairParams.semantics``):

- ``sliding`` (coordination-network-toolkit, Graham et al.): two accounts co-act when they left
  the same object within ±window of each other; ``a_actions``/``b_actions`` count each side's
  actions that have a partner action in the window (the toolkit's directed weights) and
  ``weight`` is the larger of the two.
- ``coortweet`` (CooRTweet 2.1.3, Righetti & Balluff 2025): per object, every pair of shares with
  different content ids within the window, after CooRTweet's minimum participation and loop
  rules; ``weight`` is the number of share pairs.
- ``timefree`` (OSoMe, Pacheco et al. 2021; Luceri et al. 2024): no window; accounts are vectors
  of TF-IDF weighted object counts and ``weight`` is their cosine similarity.

Edge columns (one schema for ``pairs`` and ``detect``'s ``edges.parquet``): see ``EDGE_COLUMNS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from swarmscope.errors import SwarmscopeError

SEMANTICS = ("sliding", "coortweet", "timefree")

#: The edge table, documented column by column.
EDGE_COLUMNS = {
    "run_id": "the run that computed the edge",
    "kind": "trace kind (repost, link, …)",
    "semantics": "sliding | coortweet | timefree",
    "window_s": "the window in seconds (NULL for timefree)",
    "platform_a": "platform of account_a", "account_a": "one account",
    "platform_b": "platform of account_b", "account_b": "the other account (equal for a loop)",
    "weight": "the semantics' weight: sliding max(a_actions, b_actions); coortweet share pairs; "
              "timefree cosine",
    "shared_objects": "distinct objects both acted on (within the window)",
    "events": "co-action events: pairs of actions (one per account) within the window",
    "a_actions": "actions of account_a with a partner action of account_b in the window",
    "b_actions": "actions of account_b with a partner action of account_a in the window",
    "a_first": "events where account_a acted first (leader)",
    "b_first": "events where account_b acted first",
    "mean_dt_s": "mean |Δt| of the events, seconds", "min_dt_s": "smallest |Δt|, seconds",
    "symmetry": "CooRTweet's edge symmetry score: min(a_actions, b_actions) / max(…)",
    "cosine": "TF-IDF cosine of the two accounts' object vectors (timefree, or when asked)",
    "popular_events": "co-action events on popular objects, aggregated without listing pairs",
}


@dataclass(frozen=True)
class PairParams:
    """What to compute. Every default has a reason.

    Attributes
    ----------
    kind, window : str, float
        Trace kind and window in seconds (inclusive: |Δt| <= window, as both peers do).
    semantics : str
        ``sliding`` (default: the toolkit's and the most common in the literature),
        ``coortweet`` or ``timefree``.
    min_participation : int
        Accounts with fewer actions of this kind take no part (1: everyone). For ``coortweet``
        CooRTweet's own two-step rule.
    min_weight : float or None
        Edges with a smaller ``weight`` are dropped (None: 1 for sliding/coortweet, 0 timefree).
    keep_loops : bool
        Keep an account's co-actions with itself (and CooRTweet's shares of one's own post).
    popular_pairs : int
        An object whose actions would form more than this many pairs inside the window is
        *popular*: it is aggregated (its participants kept, co-actions added to edges that exist
        anyway as ``popular_events``) instead of listing its pairs (10⁶: about 1,400 accounts
        in one window; such an object says little about any one pair).
    max_object_accounts : int or None
        A user cap: objects with more accounts are left out and reported as too popular.
    evidence : int or None
        Co-action events kept as evidence per edge, closest in time first (None: all).
    cosine : bool
        Also give windowed edges the TF-IDF cosine of the two accounts' object vectors (False:
        it costs a second pass; timefree edges always have it).
    """

    kind: str
    window: float
    semantics: str = "sliding"
    min_participation: int = 1
    min_weight: float | None = None
    keep_loops: bool = False
    popular_pairs: int = 1_000_000
    max_object_accounts: int | None = None
    evidence: int | None = 10
    cosine: bool = False

    def __post_init__(self) -> None:
        if self.semantics not in SEMANTICS:
            raise SwarmscopeError(f"semantics must be one of {', '.join(SEMANTICS)}; "
                                  f"got {self.semantics!r}")
        if self.window < 0:
            raise SwarmscopeError(f"window must be >= 0 seconds; got {self.window}")
        if self.min_participation < 1:
            raise SwarmscopeError("min_participation must be >= 1")
        if self.popular_pairs < 1:
            raise SwarmscopeError("popular_pairs must be >= 1")
        if self.evidence is not None and self.evidence < 0:
            raise SwarmscopeError("evidence must be >= 0 events per edge, or None for all")

    @property
    def weight_floor(self) -> float:
        if self.min_weight is not None:
            return self.min_weight
        return 0.0 if self.semantics == "timefree" else 1.0


@dataclass
class PairsResult:
    """What a run produced (the rows themselves are in the store's tables)."""

    run_id: int
    traces: int = 0
    edges: int = 0
    accounts: int = 0
    evidence: int = 0
    popular: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    """Computes edges, evidence and popular objects for one trace kind from ``traces``."""

    name: str

    def pairs(self, params: PairParams, run_id: int) -> PairsResult: ...

    def candidates(self, params: PairParams, run_id: int) -> PairsResult:
        """The edges as temporary data for the later stages (account keys), not stored."""
        ...
