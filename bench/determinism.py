"""Is ``detect`` deterministic? The same store detected at several thread counts, byte for byte.

Not a test (``tests/test_determinism.py`` runs it on a small slice). Run with the project's
virtual environment::

    .venv/bin/python bench/determinism.py STORE [--threads 1 2] [--work DIR] [-- DETECT_ARGS]

Each run copies ``STORE``, runs ``swarmscope --threads N detect --out`` on the copy, dumps the
store's ``detect_*`` tables in their stored row order, and exports every format (csv, parquet,
gexf, graphml). The last thread count runs twice. Every file of every run is compared with the
first run's by its bytes; a Parquet file that differs is compared again with
``compare_detect.py`` (as a multiset, exactly), which tells a row order from a value that
changed. One JSON line per differing file goes to stdout, then a summary line with
``identical`` and each run's seconds; the exit code is 1 when anything differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import compare_detect  # noqa: E402  (a sibling script)

EXPORTS = {"csv": "export/csv", "parquet": "export/parquet", "gexf": "export/network.gexf",
           "graphml": "export/network.graphml"}
#: Runs the swarmscope command line with these arguments (raises when it fails).
Cli = Callable[[Sequence[str]], None]


def subprocess_cli(exe: str) -> Cli:
    """The command line as a child process."""
    def run(args: Sequence[str]) -> None:
        subprocess.run([exe, *map(str, args)], check=True, stdout=subprocess.DEVNULL)
    return run


def dump_tables(store: Path, to: Path) -> None:
    """The store's ``detect_*`` tables as Parquet, each in its stored row order."""
    import duckdb
    import pyarrow.parquet as pq
    to.mkdir(parents=True)
    con = duckdb.connect(str(store), read_only=True)
    try:
        con.execute("SET threads = 1")
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'detect_%' "
            "AND database_name = current_database() ORDER BY 1").fetchall()]
        for name in names:
            pq.write_table(con.sql(f"SELECT * FROM {name}").to_arrow_table(),
                           to / f"{name}.parquet")
    finally:
        con.close()


def run_once(cli: Cli, store: Path, to: Path, threads: int, detect_args: Sequence[str]) -> float:
    """Detect a copy of ``store`` in ``to`` with ``threads``, dump and export; the seconds of
    detect."""
    to.mkdir(parents=True)
    db = Path(shutil.copy(store, to / "store.duckdb"))
    start = time.perf_counter()
    cli(["--db", db, "--threads", threads, "detect", "--out", to / "out", *detect_args])
    seconds = time.perf_counter() - start
    dump_tables(db, to / "tables")
    for fmt, path in EXPORTS.items():
        cli(["--db", db, "--threads", threads, "export", "--format", fmt, "--out", to / path])
    (to / "store.duckdb").unlink()
    return seconds


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def differences(first: Path, other: Path) -> list[dict]:
    """The files of ``other`` whose bytes differ from ``first``'s (or that only one has), with
    the exact multiset comparison of differing Parquet files."""
    a, b = digests(first), digests(other)
    found = []
    for rel in sorted(a.keys() | b.keys()):
        if a.get(rel) == b.get(rel):
            continue
        diff = {"file": rel, "run": other.name}
        if rel.endswith(".parquet") and rel in a and rel in b:
            rows = compare_detect.compare_file(rel, first, other, rtol=0.0, atol=0.0)
            diff["rows"] = ("same rows, another order" if rows["status"] == "identical"
                            else rows)
        found.append(diff)
    return found


def check(cli: Cli, store: Path, work: Path, threads: Sequence[int] = (1, 2),
          detect_args: Sequence[str] = ()) -> dict:
    """Run :func:`run_once` at each thread count (the last twice) under ``work``; returns
    ``identical``, the differing files and each run's detect seconds."""
    counts = [*threads, threads[-1]]
    runs, seconds = [], {}
    for i, n in enumerate(counts):
        run = work / f"threads{n}_{i}"
        seconds[run.name] = round(run_once(cli, store, run, n, detect_args), 2)
        runs.append(run)
    diffs = [d for run in runs[1:] for d in differences(runs[0], run)]
    return {"identical": not diffs, "files": len(digests(runs[0])), "different": diffs,
            "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("store", type=Path, help="a store with posts (it is copied, never written)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--work", type=Path, default=Path("determinism-runs"),
                   help="where the runs go (replaced)")
    p.add_argument("--swarmscope", default=str(BENCH.parent / ".venv" / "bin" / "swarmscope"))
    p.add_argument("detect_args", nargs="*", help="more detect options, after --")
    a = p.parse_args(argv)
    shutil.rmtree(a.work, ignore_errors=True)
    res = check(subprocess_cli(a.swarmscope), a.store, a.work, a.threads, a.detect_args)
    for d in res["different"]:
        print(json.dumps(d, default=compare_detect.jsonable), flush=True)
    print(json.dumps({k: v for k, v in res.items() if k != "different"}
                     | {"different": len(res["different"])}))
    return 0 if res["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
