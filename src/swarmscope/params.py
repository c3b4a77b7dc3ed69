"""Parameter constraints, checked once at the library's boundary (in the manner of
scikit-learn's ``_parameter_constraints``), and the parsers of the command line's compound
values.

Each parameter class lists, per field, the constraints a value must meet; :func:`validate`
checks them all and raises one :class:`~swarmscope.errors.SwarmscopeError` whose message names
the parameter, what was expected and what was received, e.g. ``The 'fdr' parameter of detect
must be a number in the range (0, 1); got 1.5.`` The command line passes values through
unchanged, so the same message reaches the Python user and the command-line user.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from datetime import datetime
from numbers import Integral, Real
from typing import Any, Iterable

from swarmscope.errors import SwarmscopeError


@dataclass(frozen=True)
class Interval:
    """A number in a range; ``integer`` asks for a whole number."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # both | left | right | neither
    integer: bool = False

    def holds(self, v: Any) -> bool:
        kind = Integral if self.integer else Real
        if isinstance(v, bool) or not isinstance(v, kind) or (isinstance(v, float) and math.isnan(v)):
            return False
        left_ok = self.low is None or (v >= self.low if self.closed in ("both", "left")
                                       else v > self.low)
        right_ok = self.high is None or (v <= self.high if self.closed in ("both", "right")
                                         else v < self.high)
        return left_ok and right_ok

    def __str__(self) -> str:
        what = "an integer" if self.integer else "a number"
        if self.low is None and self.high is None:
            return what
        if self.low is not None and self.high is None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}"
        if self.high is not None and self.low is None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}"
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        return f"{what} in the range {lb}{self.low:g}, {self.high:g}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def holds(self, v: Any) -> bool:
        return v in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Pattern:
    """Text matching a regular expression (described by ``what``)."""

    regex: str
    what: str

    def holds(self, v: Any) -> bool:
        return isinstance(v, str) and re.fullmatch(self.regex, v.strip(), re.I) is not None

    def __str__(self) -> str:
        return self.what


class _Type:
    def __init__(self, *types: type, what: str) -> None:
        self.types, self.what = types, what

    def holds(self, v: Any) -> bool:
        return isinstance(v, self.types) and not (isinstance(v, bool) and bool not in self.types)

    def __str__(self) -> str:
        return self.what


#: Constraint values: ``None`` (the value may be None), a type check, or the classes above.
BOOL = _Type(bool, what="True or False")
TEXT = _Type(str, what="text")
MAPPING = _Type(dict, what="a mapping")
POSITIVE = Interval(0, None, "neither")
NON_NEGATIVE = Interval(0, None)
COUNT = Interval(0, None, integer=True)
PROBABILITY_OPEN = Interval(0, 1, "neither")
SIZE = Pattern(r"(?!0*(\.0*)?\s*[a-z]*$)\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?",
               "a size in bytes such as 64MB or 20GB")
RATIO = Pattern(r"\d+(\.\d+)?\s*x", "a ratio to the compressed size such as 100x")
BYTES = Interval(1, None, integer=True)
MEMORY = Pattern(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)|\d+(\.\d+)?%",
                 "an amount of memory such as 512MB, 4GB or 80%")


def validate(owner: str, values: dict[str, Any], constraints: dict[str, list]) -> None:
    """Check every value against its constraints (a value passes when any one holds); raise
    one error naming each parameter that fails."""
    missing = set(values) - set(constraints)
    if missing:  # a programming error: every parameter must be declared
        raise TypeError(f"{owner}: no constraints for {', '.join(sorted(missing))}")
    problems = []
    for name, allowed in constraints.items():
        v = values.get(name)
        if any(c is None and v is None or c is not None and c.holds(v) for c in allowed):
            continue
        expected = " or ".join("None" if c is None else str(c) for c in allowed)
        problems.append(f"The {name!r} parameter of {owner} must be {expected}; got {v!r}.")
    if problems:
        raise SwarmscopeError(" ".join(problems))


def validate_dataclass(obj: Any, owner: str) -> None:
    """:func:`validate` on the fields of a dataclass with a ``CONSTRAINTS`` class attribute."""
    validate(owner, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)},
             type(obj).CONSTRAINTS)


# -- parsers of compound command-line values -----------------------------------------------
def check_time_range(since: datetime | None, until: datetime | None) -> None:
    """Refuse a time range that holds nothing: ``since`` must come before ``until``."""
    if since is not None and until is not None and since >= until:
        raise SwarmscopeError(f"--since {since:%Y-%m-%d %H:%M:%S} is not before --until "
                              f"{until:%Y-%m-%d %H:%M:%S}: the range [since, until) would hold "
                              "no activity; swap or correct them")


def parse_maps(values: Iterable[str], option: str = "--map", form: str = "FIELD=EXPR",
               example: str = "account_id=user") -> dict[str, str]:
    """``KEY=VALUE`` strings of a repeatable option (``--map FIELD=EXPR``, ``--spark-conf``)
    -> {key: value}."""
    maps = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SwarmscopeError(f"{option} {v!r}: expected {form}, e.g. {option} {example}")
        maps[key.strip()] = value.strip()
    return maps


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(value: int | str) -> int:
    """Bytes of a :data:`SIZE` (``64MB``, ``1GiB``; DuckDB's units) or of an integer."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value.strip().lower())
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_seconds(text: str, option: str) -> tuple[float, ...]:
    """``60,600`` -> (60.0, 600.0); an error naming ``option`` otherwise."""
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 0 or any(math.isnan(v) or math.isinf(v) for v in values):
        raise SwarmscopeError(f"{option} {text!r}: expected seconds >= 0, e.g. 60 or 60,600")
    return values


def parse_windows(kinds: str | None, windows: Iterable[str], *, known: Iterable[str],
                  defaults: dict[str, tuple[float, ...]],
                  other: tuple[float, ...]) -> dict[str, tuple[float, ...]]:
    """``--kinds K1,K2`` and ``--window [KIND=]S[,S...]`` -> {kind: windows}. Without a kind,
    a window applies to every chosen kind but ``sync`` (whose window is its time bin)."""
    known = tuple(known)
    chosen = dict(defaults)
    if kinds:
        names = [k.strip() for k in kinds.split(",") if k.strip()]
        unknown = [k for k in names if k not in known]
        if unknown or not names:
            raise SwarmscopeError(f"--kinds: unknown kind {(unknown or [kinds])[0]!r}; choose "
                                  f"among {', '.join(known)}")
        chosen = {k: defaults.get(k, other) for k in names}
    for spec in windows:
        kind, sep, secs = spec.rpartition("=")
        if sep and kind not in known:
            raise SwarmscopeError(f"--window {spec!r}: unknown kind {kind!r}; expected "
                                  "[KIND=]SECONDS[,SECONDS...], e.g. --window repost=60,600")
        values = parse_seconds(secs, "--window")
        for k in ([kind] if sep else [k for k in chosen if k != "sync"]):
            chosen[k] = values
    return chosen


def parse_evidence(text: str) -> int | None:
    """``--evidence N|all`` -> N (None for all)."""
    if text == "all":
        return None
    if not text.isdigit():
        raise SwarmscopeError(f"--evidence {text!r}: expected a number of events or 'all'")
    return int(text)
