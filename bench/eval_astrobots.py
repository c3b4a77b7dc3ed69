"""Secondary check of issue 4: Turkish astrobots' synchronised activity inside the Higgs week.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/eval_astrobots.py [--data-dir ../shared/data] [--out FILE.json]
        [--work-dir bench/out/astrobots] [--windows 2022-05-18 2022-05-25] [--min-attacks 4]
        [--detect-args "--fdr 0.05"] [--seed 0]

Positives: the bots of ``turkish_astrobots/past_search_all_bots_user.csv.bz2`` with
``total_attacks`` >= 4 (the authors' advice), through their posts in ``deleted_tweets.csv.bz2``
(May 2022), created at ``(id >> 22) + 1288834974657`` ms. For each 7-day window (``WINDOWS``)
the bots' posts of the week are shifted by whole days onto the Higgs week (time of day kept) and
floored to the minute, like Higgs; bots and Higgs users get fresh opaque ids from one permutation,
as in ``eval_ira_in_higgs.py`` (whose labels and metrics this script reuses; the scenario and
CLI pieces are in ``common.py``). The posts carry nothing but
their time (the data has no texts), so only synchrony can relate them: the figure that matters
is the recall of ``detect --kinds sync``; ``detect`` with its defaults is reported beside it.
Each run's clusters are also described by the source of most of their members and their traits
(``<run>_traits``, as in ``eval_ira_in_higgs.trait_separation``).
Bot posts are ingested with ``--format table``, Higgs with ``snap-higgs``; scoreable accounts
have >= 5 posts in the store. ``ceiling``: the share of scoreable bots that posted in the same
minute as another bot, and in >= 2 minutes with one partner.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_ira_in_higgs as E  # noqa: E402  (labels and metrics of the protocol)
from common import (DATA_DIR, DEFAULT_SWARMSCOPE, REPO, CommandFailed,  # noqa: E402
                    DetectUnavailable, Scenario, Timings, attached, detect_defaults, emit,
                    fresh_dir, fresh_ids, in_week_sql, ingest_scenario, insert, jsonable, log,
                    open_higgs, r4, run_detect, scenario_rng, week_shift, write_higgs)

WINDOWS = ("2022-05-18", "2022-05-25")
DIR = "turkish_astrobots"
SNOWFLAKE_EPOCH_MS = 1288834974657
#: detect runs: name -> extra arguments (``--detect-args`` is added to each).
RUNS = {"detect_defaults": [], "detect_sync": ["--kinds", "sync"]}
TABLE_MAP = ["--format", "table", "--platform", "twitter", "--map", "post_id=post_id",
             "--map", "account_id=account_id", "--map", "created_at=created_at"]


def bot_posts(data_dir: Path, min_attacks: int) -> list[tuple[str, str, int]]:
    """(tweet id, author id, creation ms) of the deleted posts of bots with enough attacks."""
    d = data_dir / DIR
    with bz2.open(d / "past_search_all_bots_user.csv.bz2", "rt", newline="") as f:
        bots = {r["author_id"] for r in csv.DictReader(f) if int(r["total_attacks"]) >= min_attacks}
    with bz2.open(d / "deleted_tweets.csv.bz2", "rt", newline="") as f:
        return [(r["id"], r["author_id"], (int(r["id"]) >> 22) + SNOWFLAKE_EPOCH_MS)
                for r in csv.DictReader(f) if r["author_id"] in bots]


def build(data_dir: Path, work: Path, window: str, posts: list, seed: int) -> Scenario:
    start, shift = week_shift(window)
    d = fresh_dir(work / window)
    con = open_higgs(data_dir)
    con.execute("CREATE TEMP TABLE bot_raw (post_id VARCHAR, author VARCHAR, ms BIGINT)")
    insert(con, "bot_raw", **dict(zip(("post_id", "author", "ms"), map(list, zip(*posts)))))
    con.execute(f"""
        CREATE TEMP TABLE bot_week AS SELECT post_id, author,
            time_bucket(INTERVAL 1 MINUTE, make_timestamp(ms * 1000)) + INTERVAL ({shift}) DAY
            AS created_at
        FROM bot_raw WHERE {in_week_sql("make_timestamp(ms * 1000)", start)}""")
    fresh_ids(con, "SELECT DISTINCT 'bot', author, 'astrobot' FROM bot_week",
              scenario_rng(seed, window))
    con.execute(f"""
        COPY (SELECT b.post_id, m.fresh AS account_id, b.created_at FROM bot_week b
              JOIN ids m ON m.source = 'bot' AND m.original = b.author
              ORDER BY created_at, account_id, post_id)
        TO '{d / 'bots.parquet'}' (FORMAT parquet)""")
    rows = {"bots": con.execute("SELECT count(*) FROM bot_week").fetchone()[0],
            # deleted_tweets.csv lists some posts twice (same id): ingest counts duplicates
            "bots_expected_duplicates": con.execute(
                "SELECT count(*) - count(DISTINCT post_id) FROM bot_week").fetchone()[0],
            **write_higgs(con, d)}
    con.close()
    return Scenario(window, d, shift, rows)


def sync_ceiling(ana: duckdb.DuckDBPyConnection, scn: Scenario) -> dict[str, Any]:
    """Share of scoreable bots with a same-minute post by another bot (>= 1; >= 2 minutes with
    one partner)."""
    with attached(ana, scn.db):
        ana.execute(f"""
            CREATE OR REPLACE TEMP TABLE bot_minutes AS
            SELECT DISTINCT p.account_id AS a, date_trunc('minute', p.created_at) AS t
            FROM s.posts p JOIN read_parquet('{scn.ids}') m
              ON m.fresh = p.account_id AND m.source = 'bot'""")
    row = ana.execute(f"""
        WITH pairs AS (SELECT x.a, y.a AS b, count(*) AS n FROM bot_minutes x
                       JOIN bot_minutes y ON x.t = y.t AND x.a <> y.a GROUP BY ALL),
        best AS (SELECT a, max(n) AS n FROM pairs GROUP BY a)
        SELECT count(*), avg(CAST(coalesce(b.n, 0) >= 1 AS INTEGER)),
               avg(CAST(coalesce(b.n, 0) >= 2 AS INTEGER))
        FROM accounts c LEFT JOIN best b ON b.a = c.account_id
        WHERE c."window" = '{scn.window}' AND c.label = 1""").fetchone()
    return {"n": row[0], "any_same_minute": r4(row[1]), "ge2_minutes_one_partner": r4(row[2])}


def run_window(args: argparse.Namespace, exe: str, ana: duckdb.DuckDBPyConnection, posts: list,
               timings: Timings) -> dict[str, Any]:
    w = args.window
    with timings.stage("build"):
        scn = build(Path(args.data_dir), Path(args.work_dir), w, posts, args.seed)
    log(f"{w}: built ({scn.rows['bots']:,} bot posts, shift {scn.shift_days} days)")
    with timings.stage("ingest"):
        report = ingest_scenario(exe, scn, {"bots.parquet": "table"}, *TABLE_MAP)
        higgs = ingest_scenario(exe, scn, {"higgs.parquet": "snap-higgs"})
    report["files"].update(higgs["files"])
    report["problems"] += higgs["problems"]
    entry = {"shift_days": scn.shift_days, "rows": scn.rows, "ingest": report}
    entry["store"] = E.load_accounts(ana, scn)
    entry["ceiling"] = sync_ceiling(ana, scn)
    for name, extra in RUNS.items():
        try:
            with timings.stage(name):
                out = run_detect(exe, scn.db, scn.dir / name,
                                 extra + shlex.split(args.detect_args or ""))
        except (DetectUnavailable, CommandFailed) as exc:
            entry[name] = {"status": "failed", "error": str(exc)}
            log(f"{w}: {name} failed: {exc}")
            continue
        entry[f"{name}_contract"] = E.load_detect_scores(ana, name, w, out)
        entry[f"{name}_traits"] = E.trait_separation(ana, {w: out})
        entry[name] = E.method_metrics(ana, name, f"a.\"window\" = '{w}'", clusters=False)
        log(f"{w}: {name}: {E.compact(entry[name])}")
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=None)
    p.add_argument("--work-dir", default=str(REPO / "bench" / "out" / "astrobots"))
    p.add_argument("--windows", nargs="+", default=list(WINDOWS), metavar="YYYY-MM-DD")
    p.add_argument("--min-attacks", type=int, default=4)
    p.add_argument("--detect-args", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--swarmscope", default=str(DEFAULT_SWARMSCOPE))
    args = p.parse_args(argv)
    t0, timings = time.perf_counter(), Timings()
    ana = duckdb.connect()
    ana.execute(E.ANALYSIS_SCHEMA)
    posts = bot_posts(Path(args.data_dir), args.min_attacks)
    log(f"{len(posts):,} deleted posts of bots with >= {args.min_attacks} attacks")
    res: dict[str, Any] = {"protocol": {"command": shlex.join([sys.executable, *sys.argv]),
                                        "min_attacks": args.min_attacks, "seed": args.seed,
                                        "runs": RUNS, "detect_args": args.detect_args,
                                        "detect_defaults": detect_defaults(args.swarmscope)},
                           "windows": {}}
    for w in args.windows:
        args.window = w
        res["windows"][w] = run_window(args, args.swarmscope, ana, posts, timings)
    res["overall"] = {name: E.method_metrics(ana, name, clusters=False) for name in RUNS
                      if ana.execute("SELECT count(*) FROM scores WHERE method = ?",
                                     [name]).fetchone()[0]}
    res["timings_s"] = {**timings.as_dict(), "total": round(time.perf_counter() - t0, 1)}
    out = Path(args.out or Path(args.work_dir) / "eval_astrobots.json")
    out.write_text(json.dumps(res, indent=1, default=jsonable))
    for w, e in res["windows"].items():
        emit({"bench": "eval_astrobots", "window": w, "ceiling": e["ceiling"],
              **{n: E.compact(e[n]) if "error" not in e[n] else e[n] for n in RUNS},
              "cluster_assessment": {n: e[f"{n}_traits"].get("groups") for n in RUNS
                                     if f"{n}_traits" in e}}, default=None)
    for n, m in res["overall"].items():
        emit({"bench": "eval_astrobots", "window": "overall", "run": n, **E.compact(m)},
             default=None)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
