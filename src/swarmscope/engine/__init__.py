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

Edge columns: ``swarmscope.store.schema.EDGE_COLUMNS`` (the store's ``edges`` view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from swarmscope.params import (BOOL, COUNT, NON_NEGATIVE, Interval, Options,
                               validate_dataclass)
from swarmscope.traces import KINDS

SEMANTICS = ("sliding", "coortweet", "timefree")

#: The edge table, documented column by column.


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

    CONSTRAINTS: ClassVar[dict[str, list]] = {
        "kind": [Options(KINDS)], "window": [NON_NEGATIVE], "semantics": [Options(SEMANTICS)],
        "min_participation": [Interval(1, None, integer=True)],
        "min_weight": [NON_NEGATIVE, None], "keep_loops": [BOOL],
        "popular_pairs": [Interval(1, None, integer=True)],
        "max_object_accounts": [Interval(1, None, integer=True), None],
        "evidence": [COUNT, None], "cosine": [BOOL],
    }

    def __post_init__(self) -> None:
        validate_dataclass(self, "pairs")

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
        """The edges as temporary data for the later stages, not stored: the temp tables
        ``pair_candidates`` (account keys ``a <= b`` and the measures of ``EDGE_COLUMNS``),
        ``popular_candidates``, ``popular_traces`` and ``candidate_evidence``."""
        ...

    def count_parts(self, params: PairParams, rows_per_part: int) -> int:
        """Load the kind's traces and popular objects for :meth:`candidate_counts`; the number
        of parts of accounts its pairs need for each part's join to list about
        ``rows_per_part`` co-actions or fewer."""
        ...

    def candidate_counts(self, params: PairParams, part: tuple[int, int] = (0, 1)) -> None:
        """``pair_candidates(a, b, shared_objects, a_actions, b_actions)``, the counts the
        tests read, for the edges whose account ``a`` is c modulo k (``part`` = (c, k))."""
        ...
