"""How many accounts each null flags on organic data alone (issue 15, must-have 1).

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/organic_only.py [--data-dir ../shared/data] [--work-dir DIR]
        [--nulls hourly cascade_300] [--memory-limit 4GB]

Two organic data sets with no operation planted: the SNAP Higgs week as released (timing to the
second; an automated retweet ring is inside it, see docs/evaluation.md), and CooRTweet's German
federal election posts (Facebook and Twitter; URLs, hashtags, domains and images as anonymised
ids, read with ``--format table``). Each is ingested once into ``WORK_DIR`` and detected with
each null (``NULLS``: extra ``detect`` arguments); one JSON line per (data set, null): accounts
flagged, clusters and their assessments.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DATA_DIR, DEFAULT_SWARMSCOPE, REPO, emit, log, run_detect,  # noqa: E402
                    swarmscope)

NULLS = {"hourly": [], "cascade_300": ["--cascade-window", "300"]}
DATASETS = {
    "higgs": {"files": ["higgs/higgs_activity.parquet"], "ingest": [], "detect": []},
    "german_elections": {
        "files": ["coortweet/german_elections.csv.gz"],
        "ingest": ["--format", "table", "--platform", "mixed", "--map", "post_id=post_id",
                   "--map", "account_id=account_id", "--map", "created_at=timestamp",
                   "--map", "urls=url_id", "--map", "hashtags=hashtag_id",
                   "--map", "domains=domain_id", "--map", "media=phash_id"],
        # the data has no reposts, mentions or texts: the kinds it has, with the defaults' sync
        "detect": ["--kinds", "sync,link,hashtag,domain"]},
}


def run(args: argparse.Namespace) -> list[dict]:
    lines = []
    for name, ds in DATASETS.items():
        work = Path(args.work_dir) / name
        work.mkdir(parents=True, exist_ok=True)
        db = work / "store.duckdb"
        if not db.exists():
            swarmscope(args.swarmscope, db, "ingest", *ds["ingest"],
                       *[Path(args.data_dir) / f for f in ds["files"]])
        for null in args.nulls:
            t0 = time.perf_counter()
            out = run_detect(args.swarmscope, db, work / null, [
                "--memory-limit", args.memory_limit, *ds["detect"], *NULLS[null]])
            seconds = round(time.perf_counter() - t0, 1)
            con = duckdb.connect()
            acc = f"read_parquet('{out / 'accounts.parquet'}')"
            clusters = f"read_parquet('{out / 'clusters.parquet'}')"
            scored, flagged = con.execute(
                f"SELECT count(*) FILTER (WHERE partners > 0), count(*) FILTER (WHERE flagged) "
                f"FROM {acc}").fetchone()
            assessed = dict(con.execute(
                f"SELECT assessment, count(*) FROM {clusters} GROUP BY ALL ORDER BY ALL"
            ).fetchall())
            in_assessed = dict(con.execute(
                f"SELECT c.assessment, count(*) FROM {acc} a JOIN {clusters} c USING "
                f"(cluster_id) GROUP BY ALL ORDER BY ALL").fetchall())
            lines.append({"bench": "organic_only", "data": name, "null": null,
                          "detect_args": shlex.join(ds["detect"] + NULLS[null]),
                          "accounts_with_a_testable_partner": scored, "flagged": flagged,
                          "clusters_by_assessment": assessed,
                          "accounts_by_cluster_assessment": in_assessed, "seconds": seconds})
            log(json.dumps(lines[-1]))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--work-dir", default=str(REPO / "bench" / "out" / "organic_only"))
    p.add_argument("--nulls", nargs="+", default=list(NULLS), choices=list(NULLS))
    p.add_argument("--memory-limit", default="4GB")
    p.add_argument("--swarmscope", default=str(DEFAULT_SWARMSCOPE))
    args = p.parse_args(argv)
    for line in run(args):
        emit(line, default=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
