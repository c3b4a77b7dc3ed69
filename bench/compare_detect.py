"""Compare two sets of ``swarmscope detect`` outputs: proof that a refactor left them unchanged.

Not a test. Run with the project's virtual environment::

    .venv/bin/python bench/compare_detect.py BEFORE_DIR AFTER_DIR [--rtol 1e-9] [--atol 0]

Every ``*.parquet`` under either directory (recursively, matched by relative path) is compared:
the columns (added, removed, retyped), the row count, and the rows as a multiset, that is
ignoring row order and the ``run_id`` column. Rows are sorted by all compared columns and merged;
floating-point columns match within ``rtol``/``atol``, every other column exactly, nested (list
and struct) columns by their JSON text. One JSON object per file goes to stdout, a one-line tally
to stderr. The exit code is always 0: this is a report.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

IGNORED = frozenset({"run_id"})
EXAMPLES = 3


def parquet_files(root: Path) -> set[str]:
    """Relative paths of the ``*.parquet`` files under ``root``."""
    if not root.is_dir():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def jsonable(v: Any) -> Any:
    """Fallback for ``json.dumps``: timestamps, decimals, bytes and the like as text."""
    return v.hex() if isinstance(v, bytes) else str(v)


def column_values(col: pa.ChunkedArray, as_text: bool = False) -> list[Any]:
    """A column as Python values: nested ones as JSON text, all as text with ``as_text``."""
    values = col.to_pylist()
    if pa.types.is_nested(col.type):
        return [None if v is None else json.dumps(v, sort_keys=True, default=jsonable)
                for v in values]
    return [None if v is None else str(v) for v in values] if as_text else values


def sort_key(row: tuple) -> tuple:
    """A total order on rows: nulls first, then NaN, then the values."""
    return tuple((0, 0) if v is None else (1, 0) if isinstance(v, float) and math.isnan(v)
                 else (2, v) for v in row)


def compare_rows(a: tuple, b: tuple, floats: list[bool], rtol: float, atol: float) -> int:
    """-1, 0 or 1 as row ``a`` sorts before, matches or sorts after row ``b``."""
    for x, y, is_float in zip(a, b, floats):
        if x == y or (is_float and x is not None and y is not None
                      and (math.isclose(x, y, rel_tol=rtol, abs_tol=atol)
                           or (math.isnan(x) and math.isnan(y)))):
            continue
        return -1 if sort_key((x,)) < sort_key((y,)) else 1
    return 0


def diff_rows(before: list[tuple], after: list[tuple], floats: list[bool], rtol: float,
              atol: float) -> tuple[list[tuple], list[tuple]]:
    """The rows only in ``before`` and only in ``after``: a sort-merge of the two multisets."""
    before, after = sorted(before, key=sort_key), sorted(after, key=sort_key)
    only_b, only_a, i, j = [], [], 0, 0
    while i < len(before) and j < len(after):
        c = compare_rows(before[i], after[j], floats, rtol, atol)
        if c == 0:
            i, j = i + 1, j + 1
        elif c < 0:
            only_b.append(before[i])
            i += 1
        else:
            only_a.append(after[j])
            j += 1
    return only_b + before[i:], only_a + after[j:]


def compare_file(rel: str, before: Path, after: Path, rtol: float, atol: float) -> dict[str, Any]:
    """The report line of one relative path."""
    pb, pa_ = before / rel, after / rel
    if not pa_.exists():
        return {"file": rel, "status": "only_before", "rows_before": pq.read_metadata(pb).num_rows,
                "rows_after": None}
    if not pb.exists():
        return {"file": rel, "status": "only_after", "rows_before": None,
                "rows_after": pq.read_metadata(pa_).num_rows}
    tb, ta = pq.read_table(pb), pq.read_table(pa_)
    sb = dict(zip(tb.schema.names, tb.schema.types))
    sa = dict(zip(ta.schema.names, ta.schema.types))
    is_float = {c: pa.types.is_floating(t) or pa.types.is_floating(sa.get(c, t))
                for c, t in sb.items()}
    # exact columns first, so that float noise can only reorder rows that agree on all of them
    cols = sorted((c for c in tb.schema.names if c in sa and c not in IGNORED), key=is_float.get)
    retyped = {c: [str(sb[c]), str(sa[c])] for c in cols if sb[c] != sa[c]}
    # a column retyped across kinds (say int to string) is compared as text
    text = {c for c in retyped if not all(pa.types.is_integer(t) or pa.types.is_floating(t)
                                          or pa.types.is_boolean(t) for t in (sb[c], sa[c]))}
    floats = [is_float[c] and c not in text for c in cols]
    rows_b = [()] * tb.num_rows if not cols else list(
        zip(*(column_values(tb.column(c), c in text) for c in cols)))
    rows_a = [()] * ta.num_rows if not cols else list(
        zip(*(column_values(ta.column(c), c in text) for c in cols)))
    only_b, only_a = diff_rows(rows_b, rows_a, floats, rtol, atol)
    res = {"file": rel, "status": "identical",
           "rows_before": tb.num_rows, "rows_after": ta.num_rows,
           "columns_added": [c for c in ta.schema.names if c not in sb],
           "columns_removed": [c for c in tb.schema.names if c not in sa],
           "columns_retyped": retyped, "rows_only_before": len(only_b),
           "rows_only_after": len(only_a),
           "examples": {"before": [dict(zip(cols, r)) for r in only_b[:EXAMPLES]],
                        "after": [dict(zip(cols, r)) for r in only_a[:EXAMPLES]]}}
    if res["columns_added"] or res["columns_removed"] or retyped or only_b or only_a:
        res["status"] = "different"
    return res


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per parquet file; always return 0."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path, help="directory of the reference outputs")
    p.add_argument("after", type=Path, help="directory of the outputs to check")
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of float columns")
    p.add_argument("--atol", type=float, default=0.0, help="absolute tolerance of float columns")
    a = p.parse_args(argv)
    tally: Counter[str] = Counter()
    for rel in sorted(parquet_files(a.before) | parquet_files(a.after)):
        try:
            res = compare_file(rel, a.before, a.after, a.rtol, a.atol)
        except (OSError, pa.ArrowException) as exc:  # unreadable
            res = {"file": rel, "status": "different", "error": str(exc)}
        tally[res["status"]] += 1
        print(json.dumps(res, default=jsonable), flush=True)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
    print(f"{sum(tally.values())} files: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
