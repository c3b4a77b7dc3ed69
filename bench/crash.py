"""Crash consistency: ``ingest`` and ``detect`` killed with SIGKILL at seeded random moments,
then run again; after each rerun the store must hold what an uninterrupted run leaves.

A benchmark, not a test (``tests/test_crash.py`` runs a few trials of it). From the repository
root::

    nice -n 10 .venv/bin/python bench/crash.py --trials 100 [--seed 0] [--out-dir DIR]

The inputs (written to OUT_DIR/inputs): CooRTweet's Russian coordinated tweets and OSoMe's
hashed v1.1 sample from the shared data, two days of the bundled IRA week (FiveThirtyEight
Parquet), and a seeded IO-archive tweets CSV (every list form, snowflake ids, retweets of a
shared pool, duplicates and rejects) with its users CSV. Ingest runs with partitions of
``--partition-records`` records (2,000, not 2 million), so that a kill can fall between the
transactions of one file. ``detect`` runs with ``--threads 1``: at the default threads its
p-values differ in the last bits from run to run (issue 18, item 22).

Trial ``i`` kills ``ingest`` (even ``i``, into a fresh store) or ``detect`` (odd ``i``, on a
copy of an ingested store) after a delay drawn from ``(seed, i)`` in [0, the uninterrupted
run's wall time], runs the same command again and checks:

- ingest: the rerun's counts per file read = stored + duplicates + rejected, with read and
  rejected as in the uninterrupted run; no duplicate keys and no orphans; every canonical
  table equal to the uninterrupted run's, run ids aside (``rejects``: the rerun's own rows; the
  killed run's stay, as a second ingest's do);
- detect: the killed run left the canonical tables as they were; after the rerun every detect
  table and every file of ``--out`` equals the uninterrupted run's, run ids aside.

One JSON line per trial (``problems`` empty when it held), then a summary line; exit status 1
when a trial failed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_DIR, REPO, code_state, emit, fresh_dir, host, lit, ss  # noqa: E402

REAL_INPUTS = ("coortweet/russian_coord_tweets.csv.gz", "fixtures/osome_cs4_sample_hashed_tweets.json")
IRA_WEEK = REPO / "src/swarmscope/demo_data/ira_week_2015-11-10_shifted.parquet"
#: Runs the CLI with a smaller ingest partition (the first argument).
CHILD = ("import sys; from swarmscope.ingest import merge; "
         "merge.PARTITION_RECORDS = int(sys.argv.pop(1)); "
         "from swarmscope.cli import main; main()")
#: Keys that must be unique, per table.
UNIQUE = {"posts": ("platform, post_id", "post_key"), "accounts": ("platform, account_id",),
          "account_keys": ("account_key", "platform, account_id"),
          "object_keys": ("object_key", "value"), "entities": ("platform, post_id, kind, value",),
          "account_labels": ("platform, account_id, name",),
          "post_deletions": ("platform, post_id",),
          "detect_accounts": ("platform, account_id",),
          "detect_edges": ("platform_a, account_a, platform_b, account_b",)}
#: Rows that point at nothing.
ORPHANS = {
    "entities without their post": "entities e ANTI JOIN posts p USING (platform, post_id)",
    "entities without their key": "entities e ANTI JOIN object_keys o ON o.object_key = e.value_key",
    "posts without their account key":
        "posts p ANTI JOIN account_keys k ON k.account_key = p.account_key",
    "posts without their account": "posts p ANTI JOIN accounts a USING (platform, account_id)",
}


# -- inputs ---------------------------------------------------------------------------------------
def io_archive_csvs(d: Path, rows: int, seed: int) -> list[Path]:
    """A seeded IO-archive tweets CSV and its users CSV."""
    rng = random.Random(seed)
    users = [hashlib.sha256(f"user{i}".encode()).hexdigest() for i in range(max(rows // 20, 2))]
    tags = ["MAGA", "Brexit", "Москва", "Café", "tag_1", "2A", "it's"]
    pool = [str(((1_450_000_000_000 - ss.SNOWFLAKE_EPOCH_MS) << 22) + i) for i in range(500)]
    start_ms = 1_450_000_000_000
    tweets, written = d / "io_tweets.csv", []
    with tweets.open("w", newline="") as fh:
        w = csv.DictWriter(fh, ss.TWEET_COLUMNS)
        w.writeheader()
        for i in range(rows):
            if i % 997 == 996:              # the same record again: a duplicate
                w.writerow(written[rng.randrange(len(written))])
                continue
            ms = start_ms + i * 7_000 + rng.randrange(1000)
            tid = str(((ms - ss.SNOWFLAKE_EPOCH_MS) << 22) + rng.randrange(4096))
            chosen = rng.sample(tags, rng.randrange(3))
            form = i % 3
            hashtags = (repr(chosen) if form == 0 else "[" + ", ".join(chosen) + "]" if form == 1
                        else str(chosen).replace("'", '"'))
            retweet = rng.random() < 0.3
            reply = not retweet and rng.random() < 0.15
            row = {c: "" for c in ss.TWEET_COLUMNS} | {
                "tweetid": tid, "userid": rng.choice(users), "tweet_language": "en",
                "tweet_text": f"text {i} " + " ".join("#" + t for t in chosen),
                "tweet_time": time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms // 1000)),
                "tweet_client_name": rng.choice(["Twitter Web Client", "TweetDeck"]),
                "is_retweet": str(retweet).lower(), "hashtags": hashtags,
                "retweet_tweetid": rng.choice(pool) if retweet else "",
                "retweet_userid": users[0] if retweet else "",
                "in_reply_to_tweetid": rng.choice(pool) if reply else "",
                "urls": repr([f"http://www.Example{i % 50}.com/a/{i % 7}?utm_source=x&id={i % 3}",
                              "https://bit.ly/3xYz"][:rng.randrange(3)]),
                "user_mentions": repr([rng.choice(users)[:12]] if rng.random() < 0.2 else []),
                "latitude": "absent", "longitude": "absent", "follower_count": "12.0"}
            if i % 1009 == 1008:
                row["tweet_time"] = "yesterday"          # rejected: unparseable time
            if i % 1013 == 1012:
                row["hashtags"] = "['unclosed"           # rejected: not a list
            w.writerow(row)
            written.append(row)
    users_csv = d / "io_users.csv"
    with users_csv.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ss.USER_COLUMNS)
        for i, u in enumerate(users):
            w.writerow([u, f"User {i}", f"user_{i}", "Moscow", f"bio {i}", "", str(i * 3),
                        str(i), "2014-03-02", "ru"])
    return [tweets, users_csv]


def inputs(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The files of the ingest trials, and those of the store the detect trials run on."""
    d = fresh_dir(args.out_dir / "inputs")
    ira = d / "ira_2days.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet({lit(IRA_WEEK)}) "
                             f"WHERE publish_date < '2012-07-03') TO {lit(ira)}")
    real = [args.data_dir / p for p in REAL_INPUTS]
    generated = io_archive_csvs(d, args.rows, args.seed)
    return [*real, ira, *generated], [ira, real[1]]


# -- running and killing --------------------------------------------------------------------------
def command(args: argparse.Namespace, db: Path, *cli: object) -> list[str]:
    return [sys.executable, "-c", CHILD, str(args.partition_records), "--db", str(db),
            *map(str, cli)]


def run(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    return r, time.perf_counter() - t0


def kill_after(cmd: list[str], delay: float) -> bool:
    """Start ``cmd``, SIGKILL it after ``delay`` seconds; True when it had finished before."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        proc.wait(delay)
        return True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False


def ingest_json(r: subprocess.CompletedProcess) -> dict:
    """``ingest --json``'s object: {path: counts} and the failed paths."""
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    return {"rc": r.returncode, "files": {f["path"]: {k: f[k] for k in (
                "read", "stored", "duplicates", "rejected")} for f in obj["files"]},
            "failed": sorted(f["path"] for f in obj["failed"])}


# -- checks ---------------------------------------------------------------------------------------
def connect(**stores: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with each store attached read-only under its keyword."""
    con = duckdb.connect()
    for alias, path in stores.items():
        con.execute(f"ATTACH {lit(path)} AS {alias} (READ_ONLY)")
    return con


def rows_sql(con: duckdb.DuckDBPyConnection, relation: str, where: str = "") -> str:
    """``SELECT`` every column of ``relation`` but ``run_id``."""
    cols = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    return f"SELECT * {'EXCLUDE (run_id)' if 'run_id' in cols else ''} FROM {relation} {where}"


def differ(con: duckdb.DuckDBPyConnection, a: str, b: str) -> str | None:
    """How two relations (SQL) differ as multisets of rows, or None when they are equal."""
    only_a, only_b = (con.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone()[0]
                      for x, y in ((a, b), (b, a)))
    return f"{only_a} rows only in the trial, {only_b} only in the uninterrupted run" \
        if only_a or only_b else None


def same_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> list[str]:
    """Tables of ``t`` (the trial) that differ from those of ``b`` (the reference): the names
    in the main schema (a detect table is a view of the latest run's, in its own schema)."""
    problems = []
    for table in tables:
        present = [con.execute(
            f"SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = '{db}' AND "
            f"schema_name = 'main' AND table_name = {lit(table)}) + (SELECT count(*) FROM "
            f"duckdb_views() WHERE database_name = '{db}' AND schema_name = 'main' AND "
            f"view_name = {lit(table)})").fetchone()[0] for db in ("t", "b")]
        if present != [1, 1]:
            if present != [0, 0]:
                problems.append(f"{table}: present in trial/uninterrupted run {present}")
            continue
        diff = differ(con, rows_sql(con, f"t.{table}"), rows_sql(con, f"b.{table}"))
        if diff:
            problems.append(f"{table}: {diff}")
    return problems


def key_problems(con: duckdb.DuckDBPyConnection, tables: list[str]) -> list[str]:
    """Duplicate keys in the trial's ``tables``, and (for the canonical ones) orphan rows."""
    problems = []
    for table in tables:
        for key in UNIQUE.get(table, ()):
            n = con.execute(f"SELECT count(*) FROM (SELECT {key} FROM t.{table} GROUP BY ALL "
                            "HAVING count(*) > 1)").fetchone()[0]
            if n:
                problems.append(f"{table}: {n} duplicate keys ({key})")
    if "posts" in tables:
        con.execute("USE t")
        for what, sql in ORPHANS.items():
            n = con.execute(f"SELECT count(*) FROM {sql}").fetchone()[0]
            if n:
                problems.append(f"{n} {what}")
        con.execute("USE memory")
    return problems


def canonical() -> list[str]:
    return [t.name for t in ss.CANONICAL if t.name not in ("runs", "rejects")]


def ingest_problems(db: Path, base: Path, base_counts: dict, rerun: dict, run_id: int
                    ) -> list[str]:
    problems = []
    if rerun["rc"] != base_counts["rc"] or rerun["failed"] != base_counts["failed"]:
        problems.append(f"rerun exit {rerun['rc']}, failed {rerun['failed']}; uninterrupted: "
                        f"exit {base_counts['rc']}, failed {base_counts['failed']}")
    for path, c in rerun["files"].items():
        b = base_counts["files"].get(path)
        if c["read"] != c["stored"] + c["duplicates"] + c["rejected"]:
            problems.append(f"{path}: read {c['read']} != stored + duplicates + rejected ({c})")
        if b is None or (c["read"], c["rejected"]) != (b["read"], b["rejected"]):
            problems.append(f"{path}: read/rejected {c['read']}/{c['rejected']}, uninterrupted "
                            f"{b and (b['read'], b['rejected'])}")
    if set(rerun["files"]) != set(base_counts["files"]):
        problems.append("the rerun counted other files than the uninterrupted run")
    con = connect(t=db, b=base)
    problems += key_problems(con, canonical())
    problems += same_tables(con, canonical())
    diff = differ(con, rows_sql(con, "t.rejects", f"WHERE run_id = {run_id}"),
                  rows_sql(con, "b.rejects"))
    if diff:
        problems.append(f"rejects of the rerun: {diff}")
    status = con.execute("SELECT status FROM t.runs ORDER BY run_id DESC LIMIT 1").fetchone()[0]
    base_status = con.execute("SELECT status FROM b.runs").fetchone()[0]
    if status != base_status:
        problems.append(f"the rerun's status is {status}, the uninterrupted run's {base_status}")
    con.close()
    return problems


def ingest_landing(db: Path) -> dict:
    """Where a kill fell: what the store held then."""
    if not db.exists():
        return {"store": False}
    try:
        con = connect(t=db)
        posts, rejects = con.execute("SELECT (SELECT count(*) FROM t.posts), "
                                     "(SELECT count(*) FROM t.rejects)").fetchone()
        con.close()
        return {"store": True, "posts": posts, "rejects": rejects}
    except duckdb.Error as exc:       # killed while the store was being created, say
        return {"store": True, "unreadable": str(exc).splitlines()[0][:120]}


def ingest_trial(args: argparse.Namespace, files: list[Path], base: dict, delay: float,
                 d: Path) -> dict:
    db = d / "s.duckdb"
    finished = kill_after(command(args, db, "ingest", "--json", *files), delay)
    landed = ingest_landing(db)
    r, seconds = run(command(args, db, "ingest", "--json", *files))
    try:
        rerun = ingest_json(r)
    except (ValueError, KeyError, IndexError):
        return {"finished_before_kill": finished, "landed": landed,
                "problems": [f"the rerun printed no counts (exit {r.returncode}): "
                             f"{r.stderr.strip()[-800:]}"]}
    con = connect(t=db)
    run_id = con.execute("SELECT max(run_id) FROM t.runs").fetchone()[0]
    stale = con.execute("SELECT count(*) FROM t.runs WHERE status = 'running'").fetchone()[0]
    con.close()
    return {"finished_before_kill": finished, "landed": landed, "rerun_s": round(seconds, 2),
            "rerun": {k: sum(c[k] for c in rerun["files"].values())
                      for k in ("read", "stored", "duplicates", "rejected")},
            "runs_left_running": stale,
            "problems": ingest_problems(db, base["db"], base["counts"], rerun, run_id)}


def outputs_differ(con: duckdb.DuckDBPyConnection, out: Path, base_out: Path) -> list[str]:
    names, base_names = (sorted(p.name for p in o.glob("*.parquet")) for o in (out, base_out))
    if names != base_names:
        return [f"--out holds {names}, the uninterrupted run's {base_names}"]
    problems = []
    for name in names:
        diff = differ(con, *(rows_sql(con, f"read_parquet({lit(o / name)})")
                             for o in (out, base_out)))
        if diff:
            problems.append(f"--out {name}: {diff}")
    return problems


def detect_trial(args: argparse.Namespace, base: dict, delay: float, d: Path) -> dict:
    db, out = d / "s.duckdb", d / "out"
    shutil.copy(base["ingested"], db)
    cmd = command(args, db, "--threads", "1", "detect", "--out", out)
    finished = kill_after(cmd, delay)
    con = connect(t=db, b=base["ingested"])
    problems = [f"killed run changed {p}" for p in same_tables(con, canonical())]
    held = [t.name for t in ss.DETECT if con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE database_name = 't' "
        f"AND table_name = {lit(t.name)}").fetchone()[0]]
    con.close()
    r, seconds = run(cmd)
    if r.returncode != 0:
        return {"finished_before_kill": finished, "landed": {"detect_tables": len(held)},
                "problems": [*problems, f"rerun exit {r.returncode}: {r.stderr.strip()[-800:]}"]}
    con = connect(t=db, b=base["detected"])
    detect_tables = [t.name for t in ss.DETECT]
    problems += key_problems(con, detect_tables) + same_tables(con, detect_tables)
    problems += outputs_differ(con, out, base["out"])
    con.close()
    return {"finished_before_kill": finished, "landed": {"detect_tables": len(held)},
            "rerun_s": round(seconds, 2), "problems": problems}


# -- the uninterrupted runs and the trials --------------------------------------------------------
def baselines(args: argparse.Namespace, files: list[Path], detect_files: list[Path]) -> dict:
    d = fresh_dir(args.out_dir / "uninterrupted")
    db = d / "ingest.duckdb"
    r, ingest_s = run(command(args, db, "ingest", "--json", *files))
    counts = ingest_json(r)
    ingested = d / "detect_in.duckdb"
    if run(command(args, ingested, "ingest", *detect_files))[0].returncode != 0:
        raise SystemExit("ingesting the detect trials' store failed")
    detected, out = d / "detected.duckdb", d / "out"
    shutil.copy(ingested, detected)
    r2, detect_s = run(command(args, detected, "--threads", "1", "detect", "--out", out))
    if r2.returncode != 0:
        raise SystemExit(f"the uninterrupted detect failed: {r2.stderr[-2000:]}")
    emit({"bench": "crash_uninterrupted", "ingest_s": round(ingest_s, 2),
          "detect_s": round(detect_s, 2), "ingest": counts})
    return {"db": db, "counts": counts, "ingest_s": ingest_s, "ingested": ingested,
            "detected": detected, "out": out, "detect_s": detect_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=10_000, help="rows of the generated tweets CSV")
    ap.add_argument("--partition-records", type=int, default=2_000)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/swarmscope_crash"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    emit({"bench": "crash_machine", **host(), "code": code_state(), "seed": args.seed,
          "partition_records": args.partition_records})
    files, detect_files = inputs(args)
    base = baselines(args, files, detect_files)
    failures = before = 0
    for i in range(args.trials):
        rng = random.Random(f"{args.seed}/{i}")
        cmd = "ingest" if i % 2 == 0 else "detect"
        delay = rng.uniform(0, base[f"{cmd}_s"])
        d = fresh_dir(args.out_dir / "trial")
        t = time.perf_counter()
        res = (ingest_trial(args, files, base, delay, d) if cmd == "ingest"
               else detect_trial(args, base, delay, d))
        failures += bool(res["problems"])
        before += res["finished_before_kill"]
        emit({"bench": "crash_trial", "trial": i, "command": cmd, "delay_s": round(delay, 3),
              **res, "seconds": round(time.perf_counter() - t, 2)})
        if res["problems"]:   # keep the store of a failed trial
            shutil.rmtree(args.out_dir / f"failed_{i}", ignore_errors=True)
            d.rename(args.out_dir / f"failed_{i}")
    emit({"bench": "crash_summary", "trials": args.trials, "failures": failures,
          "finished_before_kill": before, "seed": args.seed,
          "wall_s": round(time.perf_counter() - t0, 1)})
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
