"""Peak memory of ``ingest`` on gzip bombs at realistic sizes (a benchmark, not a test).

    .venv/bin/python bench/bombs.py [--out-dir bench/out] [--gb 5] [--csv-gb 2] [--rows-mb 300]

Writes each bomb as concatenated gzip members (one member of filler compressed once and
written many times, so a 5 GB bomb takes seconds to write and is a few MB), then runs the
``swarmscope`` CLI on it as a child process and prints one JSON line per case: the case, the
limits, the child's peak RSS (``ru_maxrss`` or the process tree's PSS, whichever is larger),
wall seconds, and the outcome (the error line, or the counts). Cases:

- ``jsonl-bomb``: ``--gb`` GB of valid v1.1 JSON lines, default limits, ``--memory-limit 1GB``
  (refused in the checksum pass when it passes 1 GiB);
- ``jsonl-one-line``: one line of ``--gb`` GB with ``--max-decompressed`` raised (the record
  is rejected, the lines around it stored);
- ``csv-bomb``: ``--csv-gb`` GB of valid toolkit CSV rows, ``--memory-limit 500MB``;
- ``csv-one-line``: one CSV row of ``--csv-gb`` GB with ``--max-decompressed`` raised;
- ``csv-rows``: ``--rows-mb`` MB of valid rows with the limit raised, parsed and stored under
  ``--memory-limit 500MB`` (DuckDB streams and spills);
- ``jsonl-big-texts``, ``csv-big-texts``: 300 records with texts just under the longest stored
  (1,000,000 characters), ``json-array-at-limit``: a top-level array just under the default
  16 MiB record limit, all under ``--memory-limit 500MB``; ``jsonl-records-at-limit``: 10 JSON
  records just under 16 MiB (their texts too long to store), ``--memory-limit 1GB``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_SWARMSCOPE, REPO, emit, fresh, machine, run_child  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.bad_inputs.generate import CNT_HEADER, cnt_rows, gzip_bomb, v1_lines  # noqa: E402

CHUNK = 10_000_000   # bytes of filler per gzip member
BIG = 16 * 2**20 - 4096   # a record just under the default record limit
TEXT = 990_000            # a text just under the longest stored (merge.MAX_FIELD_CHARS)


def cases(args: argparse.Namespace) -> list[tuple[str, list[str], Path, Callable[[Path], None]]]:
    d = args.out_dir
    gb, csv_gb = int(args.gb * 1e9), int(args.csv_gb * 1e9)
    line, rows = v1_lines(1).encode(), cnt_rows(100).encode()
    raised = ["--max-decompressed", f"{2 * max(gb, csv_gb)}B"]
    return [
        ("jsonl-bomb", ["--memory-limit", "1GB", "--format", "twitter-v1"], d / "bomb.jsonl.gz",
         lambda p: gzip_bomb(p, line, line * (CHUNK // len(line)), gb // CHUNK)),
        ("jsonl-one-line", ["--memory-limit", "1GB", "--format", "twitter-v1", *raised],
         d / "line.jsonl.gz",
         lambda p: gzip_bomb(p, (v1_lines(3) + '{"id_str": "x", "text": "').encode(),
                             b"a" * CHUNK, gb // CHUNK, ('"}\n' + v1_lines(3, 3)).encode())),
        ("csv-bomb", ["--memory-limit", "500MB", "--format", "cnt"], d / "bomb.csv.gz",
         lambda p: gzip_bomb(p, CNT_HEADER.encode(), rows * (CHUNK // len(rows)),
                             csv_gb // CHUNK)),
        ("csv-one-line", ["--memory-limit", "500MB", "--format", "cnt", *raised],
         d / "line.csv.gz",
         lambda p: gzip_bomb(p, (CNT_HEADER + cnt_rows(3) + "m9,u1,user1,,,").encode(),
                             b"a" * CHUNK, csv_gb // CHUNK,
                             (",1341100800,\n" + cnt_rows(3, 3)).encode())),
        ("csv-rows", ["--memory-limit", "500MB", "--format", "cnt", *raised], d / "rows.csv.gz",
         lambda p: write(p, [CNT_HEADER], (cnt_rows(10_000, i) for i in
                                           range(0, int(args.rows_mb * 1e6) // 70, 10_000)))),
        # big records: texts just under the longest stored, a record at the record limit
        ("jsonl-big-texts", ["--memory-limit", "500MB", "--format", "twitter-v1"],
         d / "big.jsonl", lambda p: write(p, (
             v1_lines(1, i).replace('"hi #', '"' + "b" * TEXT + ' #') for i in range(300)))),
        ("jsonl-records-at-limit", ["--memory-limit", "1GB", "--format", "twitter-v1"],
         d / "huge.jsonl", lambda p: write(p, (
             v1_lines(1, i).replace('"hi #', '"' + "b" * BIG + ' #') for i in range(10)))),
        ("json-array-at-limit", ["--memory-limit", "500MB", "--format", "twitter-v1"],
         d / "array.json", lambda p: write(p, ["[", ",".join(
             v1_lines(1, i).strip() for i in range(BIG // 150)), "]"])),
        ("csv-big-texts", ["--memory-limit", "500MB", "--format", "cnt"], d / "big.csv",
         lambda p: write(p, [CNT_HEADER], (
             cnt_rows(1, i).replace(",RT ", "," + "b" * TEXT + " ") for i in range(300)))),
    ]


def write(path: Path, *parts: Iterable[str]) -> None:
    """Write the text piece by piece (gzipped for ``.gz``): a child's ``ru_maxrss`` starts at
    this process's RSS when it forks, so the inputs are never held here whole."""
    with (gzip.open(path, "wt", compresslevel=1) if path.suffix == ".gz"
          else path.open("w")) as fh:
        for part in parts:
            fh.writelines(part)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench/out")
    ap.add_argument("--gb", type=float, default=5, help="decompressed size of the JSON bombs")
    ap.add_argument("--csv-gb", type=float, default=2, help="decompressed size of the CSV bombs")
    ap.add_argument("--rows-mb", type=float, default=300, help="size of the valid CSV rows")
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--swarmscope", default=str(DEFAULT_SWARMSCOPE))
    args = ap.parse_args()
    args.out_dir = args.out_dir.resolve()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    emit(machine())
    for name, opts, path, write in cases(args):
        if args.only and name not in args.only:
            continue
        write(path)
        store = args.out_dir / f"{name}.duckdb"
        fresh(store)
        cmd = [args.swarmscope, "--db", str(store), "ingest", *opts, str(path), "--json"]
        r = run_child(args, cmd, name, idle=False)
        out = (args.out_dir / f"{name}.stdout").read_text()
        err = (args.out_dir / f"{name}.stderr").read_text().strip().splitlines()
        report = next((json.loads(x) for x in out.splitlines() if x.startswith("{")), {})
        emit({"bench": "bombs", "case": name,
              "input_mib": round(path.stat().st_size / 2**20, 1), "limits": " ".join(opts),
              "peak_rss_mib": r["peak_mib"], "wall_s": r["seconds"],
              "rc": r["rc"], "totals": report.get("totals"),
              "outcome": err[-1] if err else "ok"})
        fresh(store)
        path.unlink()


if __name__ == "__main__":
    main()
