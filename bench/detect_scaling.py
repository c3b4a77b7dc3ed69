"""How each stage of ``detect`` grows with the posts: one JSON line per stage run, and a fit.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/detect_scaling.py [--copies 0.3 1 3] [--out-dir bench/out]
        [--memory-limit M] [--threads T] [--keep] [--reuse] [--engine spark [--master local[2]]]

The input is the demo's real data (one IRA week inside the organic Higgs week,
``src/swarmscope/demo_data``) at each size of ``--copies``: a fraction keeps the first part of
the week (every record before the time by which that share of the Higgs records is in); a
whole number k makes k copies, copy c
shifted by c * 8 days (the week and a day, so that no two copies co-act) with its accounts in a
fresh namespace (Higgs users + c * 10^7, IRA authors and handles suffixed ``~c``). The posts
grow linearly with the copies, and so should every stage's output.

For each size: ``swarmscope ingest`` of the two files, then ``detect`` with its defaults in a
child of this script (``_detect STORE``) whose stages are wrapped: each stage run prints its
time, the process's peak RSS during it (the kernel's high-water mark is reset before it through
``/proc/self/clear_refs``), and the rows of the tables it reads (before) and writes (after),
counted outside the timing (``--keep`` keeps each size's inputs and store, and ``--reuse``
runs detect again on those, with no new inputs or ingest: ``ingest_s`` null). Lines:
``"bench": "machine"``, ``"input"`` (per size), ``"stage"`` (per stage run: size, stage,
label, seconds, cpu_s, peak_rss_mib, rows_in, rows_out), ``"detect"``
(per size: wall seconds of the whole child, its own peak RSS, the per-stage sums), and
``"fit"`` (per stage: the log-log slope of its seconds, of its CPU seconds (the figure to read on a
shared machine) and of its output rows against the posts over the sizes whose detect finished;
``faster_than_output``
when the time's slope exceeds the output's by more than 0.2).

With ``--engine spark`` the same inputs are also written as the canonical dataset (``ingest
--dataset``) and the child runs ``detect --engine spark`` on it (``--master``, default
``local[2]``); each stage line then carries the JVM's peak RSS so far (in local mode the driver
and executors are one JVM) and the shuffle bytes the stage wrote and read (Spark's status API;
the child turns the UI on for it), and ``cpu_s`` is 0 (the work is in the JVM).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SWARMSCOPE, REPO, add_dir_args, emit, finish_dir_args,  # noqa: E402
                    fresh, gen_con, lit, machine, mib, run_measured, swarmscope)

DEMO = REPO / "src" / "swarmscope" / "demo_data"
IRA_FILE, HIGGS_FILE = "ira_week_2015-11-10_shifted.parquet", "higgs_activity.parquet"
SHIFT_DAYS = 8
HIGGS_NAMESPACE = 10**7


def write_inputs(copies: float, out: Path) -> dict:
    """The two input files at this size (see the module docstring); their row counts."""
    con = gen_con()
    ira, higgs = lit(DEMO / IRA_FILE), lit(DEMO / HIGGS_FILE)
    whole = max(1, math.ceil(copies))
    cut = con.execute(f"SELECT quantile_disc(ts, {min(copies, 1)}) + 1 "
                      f"FROM read_parquet({higgs})").fetchone()[0]
    shift = SHIFT_DAYS * 86400
    con.execute(f"""
        COPY (SELECT user_a + c * {HIGGS_NAMESPACE} AS user_a,
                     user_b + c * {HIGGS_NAMESPACE} AS user_b, ts + c * {shift} AS ts,
                     interaction
              FROM read_parquet({higgs}), range({whole}) r(c) WHERE ts < {cut}
              ORDER BY c, ts, user_a, user_b, interaction)
        TO {lit(out / HIGGS_FILE)} (FORMAT parquet)""")
    suffix = "CASE WHEN c = 0 THEN {0} ELSE {0} || '~' || c END"
    con.execute(f"""
        COPY (SELECT * REPLACE ({suffix.format('author_id')} AS author_id,
                                {suffix.format('author')} AS author,
                                {suffix.format('external_author_id')} AS external_author_id,
                                publish_date + INTERVAL (c * {SHIFT_DAYS}) DAY AS publish_date,
                                harvested_date + INTERVAL (c * {SHIFT_DAYS}) DAY
                                    AS harvested_date)
              FROM read_parquet({ira}), range({whole}) r(c)
              WHERE epoch(publish_date) < {cut}
              ORDER BY c, publish_date, author_id, content)
        TO {lit(out / IRA_FILE)} (FORMAT parquet)""")
    rows = {name: con.execute(f"SELECT count(*) FROM read_parquet({lit(out / name)})")
            .fetchone()[0] for name in (IRA_FILE, HIGGS_FILE)}
    con.close()
    return rows


# -- the child: detect with every stage measured ---------------------------------------------
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def measure_stages(start: Callable[[], Any], finish: Callable[[Any], dict]
                   ) -> Callable[[str], None]:
    """Wrap every stage run of ``detect``: ``start()`` just before it, and ``finish(started)``
    just after, whose dict joins the stage's JSON line (with its time, the label of the step
    in progress and the rows it read and wrote, counted outside the timing). Returns the
    progress callback that keeps the label."""
    import swarmscope.pipeline as pipeline
    original = pipeline.run_stage
    label = {"now": ""}

    def rows(db, tables) -> dict:
        return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables if db.has_table(t)}

    @contextmanager
    def measured(db, stage):
        rows_in = rows(db, stage.reads)
        started = start()
        t0 = time.perf_counter()
        with original(db, stage):
            yield
        seconds = time.perf_counter() - t0
        emit({"bench": "stage", "stage": stage.name, "label": label["now"],
              "seconds": round(seconds, 3), **finish(started),
              "rows_in": sum(rows_in.values()), "rows_out": sum(rows(db, stage.writes).values()),
              "tables_in": rows_in})

    pipeline.run_stage = measured
    return lambda step: label.update(now=step)


def detect_child(store: str, memory_limit: str | None, threads: int | None) -> None:
    """Run ``detect`` (defaults) on ``store`` and print a JSON line per stage run."""
    import swarmscope.pipeline as pipeline
    from swarmscope import Settings, Store

    def start() -> float:
        _reset_peak()
        return time.process_time()

    progress = measure_stages(start, lambda cpu0: {
        "cpu_s": round(time.process_time() - cpu0, 3),
        "peak_rss_mib": mib(_status_kib("VmHWM"))})
    with Store(store, settings=Settings(memory_limit=memory_limit, threads=threads)) as s:
        pipeline.detect(s, progress=progress)


def _jvm_peak_mib(spark) -> float:
    """The Spark JVM's (driver and, in local mode, executors') resident high-water mark."""
    pid = spark.sparkContext._gateway.proc.pid   # the launcher (or java itself)
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    peaks = []
    for p in pids:
        with open(f"/proc/{p}/status") as fh:
            peaks += [int(line.split()[1]) for line in fh if line.startswith("VmHWM:")]
    return mib(max(peaks))


def _shuffle_bytes(spark) -> tuple[int, int]:
    """Shuffle bytes written and read so far by every stage (Spark's REST status API)."""
    from urllib.request import urlopen
    sc = spark.sparkContext
    with urlopen(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages") as r:
        stages = json.load(r)
    return (sum(s.get("shuffleWriteBytes", 0) for s in stages),
            sum(s.get("shuffleReadBytes", 0) for s in stages))


def detect_spark_child(dataset: str, out: str, master: str) -> None:
    """Run ``detect --engine spark`` (defaults) on ``dataset`` and print a JSON line per stage
    run: its time, the JVM's peak RSS so far, its shuffle bytes, rows in and out."""
    import swarmscope.pipeline as pipeline
    from swarmscope.store.spark import spark_session
    spark = spark_session(master, {"spark.ui.enabled": "true", "spark.ui.port": "0",
                                   "spark.driver.memory": "6g",
                                   # every stage kept, so that the sums never drop
                                   "spark.ui.retainedStages": "1000000",
                                   "spark.ui.retainedJobs": "1000000"})

    def finish(before: tuple[int, int]) -> dict:
        (written0, read0), (written1, read1) = before, _shuffle_bytes(spark)
        return {"engine": "spark", "cpu_s": 0.0, "peak_rss_mib": _jvm_peak_mib(spark),
                "shuffle_write_mib": mib((written1 - written0) // 1024),
                "shuffle_read_mib": mib((read1 - read0) // 1024)}

    progress = measure_stages(lambda: _shuffle_bytes(spark), finish)
    pipeline.detect_dataset(dataset, out, master=master, progress=progress)


# -- the benchmark -----------------------------------------------------------------------------
def slope(xs: list[float], ys: list[float]) -> float | None:
    """The least-squares slope of log y on log x (None with fewer than two usable points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 2) if den else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dir_args(ap)
    ap.add_argument("--copies", type=float, nargs="+", default=[0.3, 1, 3])
    ap.add_argument("--memory-limit", default=None, help="swarmscope --memory-limit")
    ap.add_argument("--threads", type=int, default=None, help="swarmscope --threads")
    ap.add_argument("--swarmscope", type=Path, default=DEFAULT_SWARMSCOPE)
    ap.add_argument("--keep", action="store_true", help="keep the inputs and stores")
    ap.add_argument("--reuse", action="store_true",
                    help="detect on the inputs and store a --keep run left, if there")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                    help="where detect runs (spark: on the dataset ingest --dataset writes)")
    ap.add_argument("--master", default="local[2]", help="the Spark master (--engine spark)")
    ap.add_argument("mode", nargs="*", help=argparse.SUPPRESS)
    args = finish_dir_args(ap.parse_args())
    import duckdb
    if args.mode and args.mode[0] == "_detect_spark":   # _detect_spark DATASET OUT
        detect_spark_child(args.mode[1], args.mode[2], args.master)
        return 0
    if args.mode:   # _detect STORE: the measured child
        detect_child(args.mode[1], args.memory_limit, args.threads)
        return 0
    emit(machine())
    per_size: dict[float, dict] = {}
    for copies in args.copies:
        d = args.out_dir / f"detect_scaling_{copies:g}"
        d.mkdir(parents=True, exist_ok=True)
        store = d / "store.duckdb"
        opts = ([f"--memory-limit={args.memory_limit}"] if args.memory_limit else []) + (
            [f"--threads={args.threads}"] if args.threads else [])
        reused = args.reuse and store.exists() and all(
            (d / name).exists() for name in (IRA_FILE, HIGGS_FILE)) and (
            args.engine != "spark" or (d / "dataset").exists())
        if reused:   # a size kept by --keep: its inputs and ingested store, not made again
            rows, ingest_s = {name: pq.read_metadata(d / name).num_rows
                              for name in (IRA_FILE, HIGGS_FILE)}, None
        else:
            fresh(store)
            rows = write_inputs(copies, d)
            t0 = time.perf_counter()
            dataset = ["--dataset", d / "dataset"] if args.engine == "spark" else []
            swarmscope(str(args.swarmscope), store, *opts, "ingest", d / IRA_FILE,
                       d / HIGGS_FILE, *dataset)
            ingest_s = round(time.perf_counter() - t0, 1)
        with duckdb.connect(str(store), read_only=True) as con:
            posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        emit({"bench": "input", "copies": copies, "records": rows, "posts": posts,
              "ingest_s": ingest_s, "reused": reused, "loadavg": os.getloadavg()})
        cmd = [sys.executable, __file__, "--out-dir", str(args.out_dir)] + (
            ["--memory-limit", args.memory_limit] if args.memory_limit else []) + (
            ["--threads", str(args.threads)] if args.threads else []) + (
            ["--master", args.master, "_detect_spark", str(d / "dataset"), str(d / "results")]
            if args.engine == "spark" else ["_detect", str(store)])
        load = os.getloadavg()
        m = run_measured(cmd, d, "detect")
        stages = [json.loads(line) for line in m.stdout.splitlines()
                  if line.startswith("{")]
        sums: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "cpu_s": 0.0, "rows_out": 0,
                                                     "rows_in": 0, "peak_rss_mib": 0.0})
        for st in stages:
            emit({**st, "copies": copies, "posts": posts})
            agg = sums[st["stage"]]
            agg["seconds"] += st["seconds"]
            agg["cpu_s"] += st["cpu_s"]
            agg["rows_out"] += st["rows_out"]
            agg["rows_in"] += st["rows_in"]
            agg["peak_rss_mib"] = max(agg["peak_rss_mib"], st["peak_rss_mib"])
        per_size[copies] = {"posts": posts, "stages": dict(sums) if m.rc == 0 else {}}
        emit({"bench": "detect", "engine": args.engine, "copies": copies, "posts": posts,
              "rc": m.rc,
              "seconds": round(m.seconds, 1), "cpu_s": round(m.usage.ru_utime
                                                             + m.usage.ru_stime, 1),
              # resetting the high-water mark resets ru_maxrss too: the peak is the stages'
              "peak_rss_mib": max([mib(m.usage.ru_maxrss)]
                                  + [st["peak_rss_mib"] for st in stages]),
              "loadavg_before": load,
              "loadavg_after": os.getloadavg(),
              "stages": {k: {**v, "seconds": round(v["seconds"], 2), "cpu_s": round(v["cpu_s"], 2)}
                         for k, v in sums.items()},
              **({"stderr_tail": m.stderr[-1500:]} if m.rc else {})})
        if not args.keep:
            fresh(store)
            for name in (IRA_FILE, HIGGS_FILE):
                (d / name).unlink(missing_ok=True)
    sizes = [per_size[c] for c in args.copies if per_size[c]["stages"]]
    names = sorted({n for s in sizes for n in s["stages"]})
    for name in names:
        xs = [s["posts"] for s in sizes if name in s["stages"]]
        secs = [s["stages"][name]["seconds"] for s in sizes if name in s["stages"]]
        cpus = [s["stages"][name]["cpu_s"] for s in sizes if name in s["stages"]]
        outs = [s["stages"][name]["rows_out"] for s in sizes if name in s["stages"]]
        t_slope, o_slope = slope(xs, secs), slope(xs, outs)
        emit({"bench": "fit", "stage": name, "posts": xs, "seconds": [round(x, 2) for x in secs],
              "cpu_s": [round(x, 2) for x in cpus], "cpu_slope": slope(xs, cpus),
              "rows_out": outs, "time_slope": t_slope, "output_slope": o_slope,
              "faster_than_output": None if t_slope is None or o_slope is None
              else t_slope > o_slope + 0.2})
    return 0


if __name__ == "__main__":
    sys.exit(main())
