"""Time of the network export (GEXF, GraphML) of a detected store (a benchmark, not a test).

    .venv/bin/python bench/export_network.py demo-output/demo.duckdb [--repeat 3] [--run N]

Prints one JSON line per format and scope (flagged accounts, the default; ``--all``): the
nodes and edges written, and the best wall seconds of ``--repeat`` in-process calls of
:func:`swarmscope.export` (store opened read-only once, as the CLI does per call).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import swarmscope


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--run", type=int, default=None, help="the detect run (default: latest)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            swarmscope.Store(args.db, read_only=True) as store:
        for fmt in ("gexf", "graphml"):
            for everyone in (False, True):
                out = Path(tmp) / f"network.{fmt}"
                best = float("inf")
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    swarmscope.export(store, fmt, out, everyone=everyone, run=args.run)
                    best = min(best, time.perf_counter() - start)
                text = out.read_text(encoding="utf-8")
                print(json.dumps({"bench": "export_network", "format": fmt,
                                  "scope": "all" if everyone else "flagged", "run": store.run,
                                  "nodes": text.count("<node "), "edges": text.count("<edge "),
                                  "seconds": round(best, 3)}), flush=True)


if __name__ == "__main__":
    main()
