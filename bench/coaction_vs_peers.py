"""Co-action speed, memory and edge parity: swarmscope against coordination-network-toolkit.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/coaction_vs_peers.py [--data-dir ../shared/data] [--out-dir bench/out]
        [--sizes 100000 1000000 10000000] [--toolkit-max N] [--skip-link-text] [--skip-ira-full]
        [--toolkit-threads 2] [--threads N] [--memory-limit M] [--keep] [--reuse-toolkit]
        [--repeat 5]

Prints one JSON object per line on stdout (``"bench"`` names what the line is).

1. ``co_retweet`` at each size N: one CSV in the toolkit's layout (``message_id, user_id,
   username, repost_id, reply_id, message, timestamp, urls``) of N real IRA retweets
   (``post_type = 'R'``), ``repost_id = md5(lower(content))`` (neither tool has the retweeted
   tweet's id), ``timestamp`` epoch seconds. The release holds 867,874 retweets; above that,
   copy k = 1, 2, … of them gets fresh user ids (``<id>~k``), message ids (``k-<n>``) and repost
   ids (``k:<md5>``) and is shifted by k * (span of the retweets + 1 day), so copies never
   co-act with each other: the edge count grows linearly with the copies. Rows are taken in
   time order (``publish_date, author_id, content``): a size below the release (or the last,
   partial copy) is its earliest stretch. ``"replicated"`` says how many extra copies went in.
   Then, each as a child process of its own, with wall time and peak memory:

   - the toolkit (1.5.2): ``python -m coordination_network_toolkit DB preprocess --format csv
     FILE`` then ``… DB compute co_retweet --time_window 60 --min_edge_weight 1 --n_cpus T``
     (its CLI's ``--min_edge_weight`` defaults to 2, its API's to 1; swarmscope keeps >= 1);
   - swarmscope: ``swarmscope --db STORE ingest FILE --format cnt``, then
     ``swarmscope --db STORE pairs --kind repost --window 60 --evidence 0`` and once more with
     the default evidence (10 events per edge).

   Edge parity: the toolkit's directed, loop-free edges ``{(user_1, user_2): weight}`` against
   ours expanded to both directions ``{(a, b): a_actions, (b, a): b_actions}`` with weight >= 1
   (as in tests/test_pairs_parity.py), compared in DuckDB.
2. ``co_link`` and ``co_tweet`` on 10^6 real IRA rows (the release's last 10^6 in time order,
   all post types; originals carry the URLs found in their text, space-separated; retweets carry
   ``repost_id`` so that both tools leave them out of link and text traces). Originals whose text
   normalises to nothing (no words besides @mentions) are left out, as the toolkit would pair
   all of them. The toolkit reads an empty ``urls`` field as the URL ``''``: that row is deleted
   from its ``message_url`` table before computing (timed apart). swarmscope's ``text`` trace
   runs with ``TraceOptions(text_strip_urls=False)`` (the toolkit keeps URLs in the text), which
   the CLI does not expose: it runs through the Python API in a child process.
3. ``swarmscope pairs --kind repost --window 60`` on the whole IRA release ingested with its own
   reader (``fivethirtyeight-ira``, retweets keyed on their normalised text).

Memory: ``self_maxrss_mib`` is the child's own ``ru_maxrss`` (``os.wait4``); for the toolkit,
whose compute step forks worker processes, ``children_maxrss_mib`` is the largest
``ru_maxrss`` among its own reaped children (read with ``getrusage(RUSAGE_CHILDREN)`` inside it,
by a ``runpy`` wrapper) and ``tree_peak_pss_mib`` / ``tree_peak_rss_mib`` the largest sum of
PSS / RSS over the child's whole process tree, sampled from ``/proc`` every 0.1 s.
``peak_mib`` is the headline: the largest of ``self_maxrss_mib`` and ``tree_peak_pss_mib``.

Repeats: the single runs above are at the mercy of a noisy machine, so at each size with the
toolkit a cycle is then run ``--repeat`` more times, alternating: the floor (DuckDB reading the
CSV and storing it in a database file), ``ingest``, default ``pairs``, ``pairs --evidence 0``,
the toolkit's preprocess (with ``--repeat-preprocess``) and compute; the medians, ranges, load
averages and the ratios of the medians (ingest over the floor, the toolkit's compute over
``pairs``, and end to end: preprocess + compute over ingest + default pairs) are reported
(``"repeat"``).

Python byte code: swarmscope is installed editable, and a machine with
``PYTHONDONTWRITEBYTECODE`` set (as this development machine has) would compile its modules at
every start while the toolkit's come compiled from its wheel. The script byte-compiles ``src/``
first, as a regular install does, and reports the variable (``"machine"``).

Before every timed step the script waits (up to ``--max-wait`` s) until the machine is idle:
less than ``--idle-cpus`` CPUs busy over 2 s (our own previous step has ended by then, so that
is somebody else's work); the load average at the start of the step is reported.
Generated files and stores are deleted at the end unless ``--keep``.

Profiling (where the time of ``pairs`` goes, statement by statement)::

    .venv/bin/python bench/coaction_vs_peers.py ingest_only 10000000 bench/out/rt_1e7.duckdb
    .venv/bin/python bench/coaction_vs_peers.py profile bench/out/rt_1e7.duckdb repost [EVIDENCE]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import (DEFAULT_SWARMSCOPE, IRA, REPO, WINDOW, ConnectionProxy,  # noqa: E402
                    add_dir_args, copy_key_sql, emit, finish_dir_args, fresh, gen_con, helper,
                    lit, machine, mib, one_line, run_child, run_mode, size_mib, slim, ss,
                    ss_child, ss_ingest, ss_pairs, tk_compute, tk_preprocess)

URL_RE = r"https?://[^\s]+"

# -- swarmscope's co_tweet through the Python API (text_strip_urls=False is not on the CLI)
TEXT_PAIRS = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
              "from coaction_vs_peers import text_pairs_child; text_pairs_child(sys.argv[1:])")


def child(args: argparse.Namespace, *argv: str) -> dict:
    """One of this script's helper modes, in a child process (``common.helper``)."""
    return helper(args, *argv, script=__file__)


def gen_retweets(data_dir: Path, n: int, out: Path) -> dict:
    """N co-retweet actions in the toolkit's CSV layout (see the module docstring)."""
    con = gen_con()
    src = lit(data_dir / IRA)
    t0 = time.perf_counter()
    con.execute(f"""
        CREATE TEMP TABLE rt AS
        SELECT row_number() OVER (ORDER BY publish_date, author_id, content) AS rn,
               author_id, author, content, CAST(epoch(publish_date) AS BIGINT) AS ts,
               md5(lower(content)) AS rid
        FROM read_parquet({src}) WHERE post_type = 'R' AND content IS NOT NULL""")
    real, lo, hi = con.execute("SELECT count(*), min(ts), max(ts) FROM rt").fetchone()
    shift = hi - lo + 86400
    copies = math.ceil(n / real)
    con.execute(f"""
        COPY (
            SELECT {copy_key_sql("CAST(rn AS VARCHAR)", "k", "-", prefix=True)} AS message_id,
                   {copy_key_sql("author_id", "k", "~")} AS user_id,
                   {copy_key_sql("author", "k", "~")} AS username,
                   {copy_key_sql("rid", "k", ":", prefix=True)} AS repost_id,
                   NULL AS reply_id, content AS message, ts + k * {shift} AS timestamp,
                   NULL AS urls
            FROM rt CROSS JOIN range({copies}) c(k)
            WHERE k * {real} + rn <= {n}
            ORDER BY k, rn)
        TO {lit(out)} (FORMAT csv, HEADER)""")
    stats = con.execute(f"""
        SELECT count(*), count(DISTINCT user_id), count(DISTINCT repost_id)
        FROM read_csv({lit(out)}, all_varchar = true)""").fetchone()
    return {"rows": stats[0], "users": stats[1], "repost_ids": stats[2], "real_retweets": real,
            "replicated": copies - 1, "shift_s": shift,
            "partial_copy_rows": n - (copies - 1) * real,
            "bytes": out.stat().st_size, "gen_seconds": round(time.perf_counter() - t0, 2)}


def gen_originals(data_dir: Path, n: int, out: Path) -> dict:
    """The last N real IRA rows in time order, with URLs of originals (see the docstring)."""
    sys.path.insert(0, str(REPO / "src"))
    norm = ss.normalized_text_sql("content", strip_urls=False)
    con = gen_con()
    src = lit(data_dir / IRA)
    t0 = time.perf_counter()
    con.execute(f"""
        CREATE TEMP TABLE src AS
        SELECT row_number() OVER (ORDER BY publish_date, author_id, content) AS rn, *
        FROM read_parquet({src})
        WHERE content IS NOT NULL AND (post_type = 'R' OR {norm} <> '')""")
    total = con.execute("SELECT count(*) FROM src").fetchone()[0]
    con.execute(f"""
        COPY (
            SELECT CAST(rn AS VARCHAR) AS message_id, author_id AS user_id, author AS username,
                   CASE WHEN post_type = 'R' THEN md5(lower(content)) END AS repost_id,
                   NULL AS reply_id, content AS message,
                   CAST(epoch(publish_date) AS BIGINT) AS timestamp,
                   CASE WHEN post_type <> 'R' THEN
                        array_to_string(regexp_extract_all(content, {lit(URL_RE)}), ' ') END
                        AS urls
            FROM src WHERE rn > {total - n} ORDER BY rn)
        TO {lit(out)} (FORMAT csv, HEADER)""")
    stats = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE repost_id IS NULL),
               count(*) FILTER (WHERE coalesce(urls, '') <> ''),
               sum(len(string_split(nullif(urls, ''), ' '))),
               count(DISTINCT user_id), min(CAST(timestamp AS BIGINT)),
               max(CAST(timestamp AS BIGINT))
        FROM read_csv({lit(out)}, all_varchar = true)""").fetchone()
    return {"rows": stats[0], "originals": stats[1], "originals_with_urls": stats[2],
            "urls": stats[3], "users": stats[4],
            "from": time.strftime("%Y-%m-%d %H:%M", time.gmtime(stats[5])),
            "to": time.strftime("%Y-%m-%d %H:%M", time.gmtime(stats[6])),
            "bytes": out.stat().st_size, "gen_seconds": round(time.perf_counter() - t0, 2)}


class _TimedConnection(ConnectionProxy):
    """Times every ``execute`` (the statement's first words kept)."""

    def __init__(self, con, log: list) -> None:
        super().__init__(con)
        self._log = log

    def execute(self, sql, *a, **kw):
        t0 = time.perf_counter()
        res = self._con.execute(sql, *a, **kw)
        self._log.append((one_line(sql), time.perf_counter() - t0))
        return res


def api_pairs(store_path: Path, kind: str, evidence: str, text_strip_urls: bool, threads: str,
              memory_limit: str, log: list | None = None, window: float = WINDOW):
    """``swarmscope.engine.pairs`` through the Python API (``TraceOptions`` are not all on the CLI);
    with ``log``, the wall time of each SQL statement it runs goes there. The result and the
    seconds it took."""
    settings = ss.Settings(threads=int(threads) if threads else None,
                           memory_limit=memory_limit or None)
    with ss.Store(store_path, settings=settings) as store:
        if log is not None:
            store.con = _TimedConnection(store.con, log)
        t0 = time.perf_counter()
        r = ss.pairs(store, ss.PairParams(kind=kind, window=window, evidence=(
            None if evidence == "all" else int(evidence))),
            options=ss.TraceOptions(text_strip_urls=text_strip_urls))
        total = time.perf_counter() - t0
        if log is not None:
            store.con = store.con._con
    return r, total


def text_pairs_child(argv: list[str]) -> None:
    """The ``text`` kind with URLs kept, in a child (``TEXT_PAIRS``): STORE WINDOW EVIDENCE
    THREADS MEMORY_LIMIT; prints a ``BENCH_RESULT`` line for ``run_child``."""
    db, window, evidence, threads, mem = argv
    r, _ = api_pairs(Path(db), "text", evidence, False, threads, mem, window=float(window))
    print("BENCH_RESULT " + json.dumps({"run_id": r.run_id, "traces": r.traces,
                                        "edges": r.edges, "accounts": r.accounts,
                                        "popular": len(r.popular), "seconds": r.seconds}),
          flush=True)


def profile_pairs(store_path: Path, kind: str, evidence: str, text_strip_urls: bool,
                  threads: str, memory_limit: str) -> dict:
    """``swarmscope.engine.pairs`` through the Python API on an ingested store, with the wall time of
    each SQL statement it runs (the engine's own ``seconds`` dict beside them)."""
    sys.path.insert(0, str(REPO / "src"))
    log: list = []
    r, total = api_pairs(store_path, kind, evidence, text_strip_urls, threads, memory_limit,
                         log)
    import resource
    return {"bench": "profile", "store": str(store_path), "kind": kind, "evidence": evidence,
            "traces": r.traces, "edges": r.edges, "seconds_total": round(total, 2),
            "engine_seconds": {k: round(v, 2) for k, v in r.seconds.items()},
            "statements": [{"s": round(t, 3), "sql": q} for q, t in log if t >= 0.01],
            "statements_under_10ms_s": round(sum(t for _, t in log if t < 0.01), 3),
            "maxrss_mib": mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}


# -- the benchmarks ------------------------------------------------------------------------------
def ss_text_pairs(args, store: Path, name: str, evidence: str) -> dict:
    cmd = [sys.executable, "-c", TEXT_PAIRS, str(Path(__file__).resolve().parent), str(store),
           str(WINDOW), evidence, str(args.threads or ""), args.memory_limit or ""]
    return ss_child(args, cmd, store, f"{name}.ss_pairs_text_ev{evidence}")


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def _cached(args, name: str, produce) -> dict:
    """The toolkit's side and the inputs do not depend on swarmscope's code: with
    ``--reuse-toolkit`` a previous run's answer (kept with ``--keep``) is used again, its files
    still there, and marked ``reused_from``."""
    cache = args.out_dir / f"{name}.json"
    if args.reuse_toolkit and cache.exists():
        d = json.loads(cache.read_text())
        if all(Path(f).exists() for f in d.get("_files", [])):
            d["reused_from"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cache.stat().st_mtime))
            return d
    d = produce()
    cache.write_text(json.dumps(d, default=str))
    return d


def _inputs(args, name: str, generator: str, n: int) -> tuple[Path, Path, Path, dict]:
    """The generated CSV (cached with --reuse-toolkit), the toolkit's database and our store."""
    csv_path = args.out_dir / f"{name}.csv"
    gen = _cached(args, f"{name}.input", lambda: {
        **child(args, generator, str(n), str(csv_path)), "_files": [str(csv_path)]})
    return csv_path, args.out_dir / f"{name}.cnt.db", args.out_dir / f"{name}.duckdb", gen


def bench_co_retweet(args, n: int) -> dict:
    name = f"rt_{n}"
    csv_path, tk_db, store, gen = _inputs(args, name, "_gen_retweets", n)

    def toolkit() -> dict:
        pre = tk_preprocess(args, tk_db, csv_path, name)
        comp = tk_compute(args, tk_db, "co_retweet", name) if pre["rc"] == 0 else None
        if comp and comp["rc"] == 0:
            comp["db_mib"] = size_mib(tk_db)
            comp["edges_directed"] = helper(args, "_tk_edges", str(tk_db),
                                            "co_retweet_network")["edges"]
        return {"pre": pre, "comp": comp, "_files": [str(tk_db)]}

    line = {"bench": "co_retweet", "n": n, "window_s": WINDOW,
            **{k: v for k, v in gen.items() if k != "_files"}}
    tk = _cached(args, f"{name}.toolkit", toolkit) if n <= args.toolkit_max else None
    tk_pre, tk_comp = (tk["pre"], tk["comp"]) if tk else (None, None)
    ing = ss_ingest(args, store, csv_path, name)
    p0 = ss_pairs(args, store, "repost", name, "0") if ing["rc"] == 0 else None
    p10 = ss_pairs(args, store, "repost", name, None) if ing["rc"] == 0 else None
    parity = None
    if tk_comp and tk_comp["rc"] == 0 and p10 and p10["rc"] == 0:
        parity = helper(args, "_compare", str(tk_db), "co_retweet_network", str(store),
                        "repost", name)
    line.update({
        "swarmscope_ingest": slim(ing), "swarmscope_pairs_evidence0": slim(p0),
        "swarmscope_pairs_evidence10": slim(p10),
        "toolkit_preprocess": slim(tk_pre),
        "toolkit_compute": slim(tk_comp) | {"edges_directed": tk_comp.get("edges_directed")}
        if tk_comp else None,
        "toolkit_reused_from": tk and tk.get("reused_from"),
        "parity": parity})
    if tk_comp and p0 and tk_comp["rc"] == 0 and p0["rc"] == 0:
        line["speedup_compute_vs_pairs_ev0"] = ratio(tk_comp["seconds"], p0["seconds"])
        line["speedup_compute_vs_pairs_ev10"] = ratio(tk_comp["seconds"], p10["seconds"])
        line["speedup_preprocess_vs_ingest"] = ratio(tk_pre["seconds"], ing["seconds"])
        line["speedup_total_ev0"] = ratio(tk_pre["seconds"] + tk_comp["seconds"],
                                          ing["seconds"] + p0["seconds"])
        line["speedup_total_ev10"] = ratio(tk_pre["seconds"] + tk_comp["seconds"],
                                           ing["seconds"] + p10["seconds"])
        line["peak_mib_toolkit"] = max(tk_pre["peak_mib"], tk_comp["peak_mib"])
        line["peak_mib_swarmscope"] = max(ing["peak_mib"], p0["peak_mib"], p10["peak_mib"])
    if tk_comp and p0 and tk_comp["rc"] == 0 and p0["rc"] == 0 and args.repeat:
        line["repeat"] = repeat_cycle(args, csv_path, tk_db, store, name)
    line["commands"] = {"ss_ingest": ing["cmd"], "ss_pairs_ev0": p0 and p0["cmd"],
                        "ss_pairs_default": p10 and p10["cmd"],
                        "tk_preprocess": tk_pre and tk_pre["cmd"],
                        "tk_compute": tk_comp and tk_comp["cmd"]}
    emit(line)
    if not args.keep:
        fresh(csv_path, tk_db, store, args.out_dir / f"{name}.input.json",
              args.out_dir / f"{name}.toolkit.json")
    return line


def floor_cmd(csv_path: Path, db: Path) -> list[str]:
    """The floor: DuckDB reading the CSV (all text, as ingest stages it) and storing it as a
    table of a database file, nothing else."""
    return [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('SET enable_progress_bar = false'); c.execute("
            "'CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, all_varchar = true)', "
            "[sys.argv[2]])", str(db), str(csv_path)]


def repeat_cycle(args, csv_path: Path, tk_db: Path, store: Path, name: str) -> dict:
    """``--repeat`` cycles, each running in turn the floor (DuckDB reading and storing the
    file), ``ingest``, default ``pairs``, ``pairs --evidence 0``, the toolkit's preprocess
    (with ``--repeat-preprocess``; else its single run is reused) and compute: medians,
    ranges and the load average before each run, and the ratios of the medians."""
    floor_db = args.out_dir / f"{name}.floor.duckdb"
    runs: dict[str, list[dict]] = {k: [] for k in ("floor", "ingest", "pairs_default",
                                                   "pairs_ev0", "tk_preprocess", "tk_compute")}
    for _ in range(args.repeat):
        fresh(floor_db)
        runs["floor"].append(run_child(args, floor_cmd(csv_path, floor_db), f"{name}.floor"))
        fresh(floor_db)
        runs["ingest"].append(ss_ingest(args, store, csv_path, f"{name}.repeat"))
        runs["pairs_default"].append(ss_pairs(args, store, "repost", f"{name}.repeat", None))
        runs["pairs_ev0"].append(ss_pairs(args, store, "repost", f"{name}.repeat", "0"))
        if args.repeat_preprocess:
            runs["tk_preprocess"].append(tk_preprocess(args, tk_db, csv_path, f"{name}.repeat"))
        runs["tk_compute"].append(tk_compute(args, tk_db, "co_retweet", f"{name}.repeat"))
    out: dict = {"runs": args.repeat}
    med = {}
    for k, rs in runs.items():
        if not rs:
            continue
        secs = [r["seconds"] for r in rs]
        med[k] = statistics.median(secs)
        out[k] = {"seconds": secs, "median_s": med[k], "range_s": [min(secs), max(secs)],
                  "peak_mib_max": max(r["peak_mib"] for r in rs),
                  "loadavg_1m": [r.get("loadavg_1m") for r in rs],
                  "rc": sorted({r["rc"] for r in rs})}
    out["ratios_of_medians"] = {
        "ingest_over_floor": ratio(med["ingest"], med["floor"]),
        "tk_compute_over_pairs_default": ratio(med["tk_compute"], med["pairs_default"]),
        "tk_compute_over_pairs_ev0": ratio(med["tk_compute"], med["pairs_ev0"]),
        **({"end_to_end": ratio(med["tk_preprocess"] + med["tk_compute"],
                                med["ingest"] + med["pairs_default"]),
            "tk_preprocess_over_ingest": ratio(med["tk_preprocess"], med["ingest"])}
           if "tk_preprocess" in med else {})}
    return out


def bench_link_text(args, n: int) -> None:
    name = f"orig_{n}"
    csv_path, tk_db, store, gen = _inputs(args, name, "_gen_originals", n)
    emit({"bench": "link_text_input", "n": n, **{k: v for k, v in gen.items() if k != "_files"}})

    def toolkit() -> dict:
        pre = tk_preprocess(args, tk_db, csv_path, name)
        out = {"pre": pre, "fix": None, "_files": [str(tk_db)]}
        if pre["rc"] != 0:
            return out
        # the toolkit's split of an empty urls field gives the URL ''
        fix = run_child(args, ["sqlite3", str(tk_db), "DELETE FROM message_url WHERE url = ''; "
                               "SELECT changes();"], f"{name}.tk_fix_empty_url")
        fix["deleted_rows"] = int((args.out_dir / f"{name}.tk_fix_empty_url.stdout")
                                  .read_text().strip() or 0)
        out["fix"] = fix
        for command in ("co_link", "co_tweet"):
            c = tk_compute(args, tk_db, command, name)
            if c["rc"] == 0:
                c["edges_directed"] = helper(args, "_tk_edges", str(tk_db),
                                             f"{command}_network")["edges"]
            out[command] = c
        return out

    tk = _cached(args, f"{name}.toolkit", toolkit)
    tk_pre, fix = tk["pre"], tk["fix"]
    ing = ss_ingest(args, store, csv_path, name)
    emit({"bench": "link_text_ingest", "n": n, "swarmscope_ingest": slim(ing),
          "toolkit_preprocess": slim(tk_pre),
          "toolkit_delete_empty_url": fix and {"seconds": fix["seconds"],
                                               "deleted_rows": fix["deleted_rows"]},
          "toolkit_reused_from": tk.get("reused_from"),
          "speedup_preprocess_vs_ingest": ratio(tk_pre["seconds"], ing["seconds"]),
          "commands": {"ss_ingest": ing["cmd"], "tk_preprocess": tk_pre["cmd"]}})
    for command, kind in (("co_link", "link"), ("co_tweet", "text")):
        if kind == "text":
            p0 = ss_text_pairs(args, store, name, "0")
            p10 = ss_text_pairs(args, store, name, "10")
        else:
            p0 = ss_pairs(args, store, kind, name, "0")
            p10 = ss_pairs(args, store, kind, name, None)
        c = tk.get(command)
        table = f"{command}_network"
        parity = None
        if c and c["rc"] == 0 and p10["rc"] == 0:
            parity = helper(args, "_compare", str(tk_db), table, str(store), kind, name)
        line = {"bench": command, "n": n, "window_s": WINDOW, "swarmscope_kind": kind,
                "swarmscope_pairs_evidence0": slim(p0), "swarmscope_pairs_evidence10": slim(p10),
                "toolkit_compute": slim(c) | {"edges_directed": c.get("edges_directed")}
                if c else None, "toolkit_reused_from": tk.get("reused_from"), "parity": parity}
        if c and c["rc"] == 0 and p0["rc"] == 0:
            fix_s = fix["seconds"] if fix else 0
            line["speedup_compute_vs_pairs_ev0"] = ratio(c["seconds"], p0["seconds"])
            line["speedup_compute_vs_pairs_ev10"] = ratio(c["seconds"], p10["seconds"])
            line["speedup_total_ev0"] = ratio(tk_pre["seconds"] + fix_s + c["seconds"],
                                              ing["seconds"] + p0["seconds"])
        line["commands"] = {"ss_pairs_ev0": p0["cmd"][:300], "tk_compute": c and c["cmd"]}
        if kind == "text":
            line["note"] = ("swarmscope text runs through the Python API with "
                            "TraceOptions(text_strip_urls=False) (the toolkit keeps URLs); "
                            "the toolkit's compute includes its text normalisation, as "
                            "swarmscope's traces step does")
        emit(line)
    if not args.keep:
        fresh(csv_path, tk_db, store, args.out_dir / f"{name}.input.json",
              args.out_dir / f"{name}.toolkit.json")


def bench_ira_full(args) -> None:
    name = "ira_full"
    store = args.out_dir / f"{name}.duckdb"
    parquet = args.data_dir / IRA
    ing = ss_ingest(args, store, parquet, name, fmt=None)
    p10 = ss_pairs(args, store, "repost", name, None) if ing["rc"] == 0 else None
    p0 = ss_pairs(args, store, "repost", name, "0") if ing["rc"] == 0 else None
    emit({"bench": "ira_full_repost", "input": str(parquet), "window_s": WINDOW,
          "swarmscope_ingest": slim(ing), "swarmscope_pairs_evidence10": slim(p10),
          "swarmscope_pairs_evidence0": slim(p0),
          "commands": {"ingest": ing["cmd"], "pairs": p10 and p10["cmd"]}})
    if not args.keep:
        fresh(store)


def ingest_only(args: argparse.Namespace, n: int, store: Path) -> dict:
    """The co_retweet input of size N, ingested into STORE (for ``profile``)."""
    csv_path = store.with_suffix(".csv")
    gen = child(args, "_gen_retweets", str(n), str(csv_path))
    ing = ss_ingest(args, store, csv_path, store.stem)
    csv_path.unlink()
    return {"bench": "ingest_only", "n": n, **gen, "swarmscope_ingest": slim(ing)}


#: helper modes, run as children of the benchmark (and ``profile``, ``ingest_only`` by hand)
MODES = {
    **common.MODES,
    "_gen_retweets": lambda a, r: gen_retweets(a.data_dir, int(r[0]), Path(r[1])),
    "_gen_originals": lambda a, r: gen_originals(a.data_dir, int(r[0]), Path(r[1])),
    # profile STORE KIND [EVIDENCE [STRIP_URLS]]
    "profile": lambda a, r: profile_pairs(Path(r[0]), r[1], r[2] if len(r) > 2 else "0",
                                          (r[3] if len(r) > 3 else "1") == "1",
                                          str(a.threads or ""), a.memory_limit or ""),
    # ingest_only N STORE
    "ingest_only": lambda a, r: ingest_only(a, int(r[0]), Path(r[1])),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_dir_args(ap)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10**5, 10**6, 10**7])
    ap.add_argument("--toolkit-max", type=int, default=10**7,
                    help="run the toolkit only for sizes up to this")
    ap.add_argument("--link-text-n", type=int, default=10**6)
    ap.add_argument("--skip-link-text", action="store_true")
    ap.add_argument("--skip-ira-full", action="store_true")
    ap.add_argument("--toolkit-threads", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="swarmscope --threads")
    ap.add_argument("--memory-limit", default=None, help="swarmscope --memory-limit")
    ap.add_argument("--swarmscope", type=Path, default=DEFAULT_SWARMSCOPE)
    ap.add_argument("--repeat", type=int, default=5,
                    help="alternating repeats of the floor, ingest, pairs and the toolkit's "
                         "compute at each co-retweet size (0: none)")
    ap.add_argument("--repeat-preprocess", action="store_true",
                    help="the toolkit's preprocess in every repeat too (the end-to-end ratio)")
    ap.add_argument("--idle-cpus", type=float, default=0.5)
    ap.add_argument("--max-wait", type=float, default=900)
    ap.add_argument("--keep", action="store_true",
                    help="keep inputs, stores and the toolkit's databases (for --reuse-toolkit)")
    ap.add_argument("--reuse-toolkit", action="store_true",
                    help="reuse kept inputs and toolkit results of an earlier --keep run")
    ap.add_argument("mode", nargs="*", help=argparse.SUPPRESS)
    args = finish_dir_args(ap.parse_args(argv))
    if args.mode:   # helper modes, run as children of the benchmark
        run_mode(args, MODES)
        return
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)
    emit(machine())
    st = {"bench": "startup"}   # fixed cost of each child: interpreter start and imports
    for key, cmd in (("swarmscope_version_s", [str(args.swarmscope), "--version"]),
                     ("toolkit_help_s", [sys.executable, "-m", "coordination_network_toolkit",
                                         "--help"])):
        st[key] = min(run_child(args, cmd, "startup", idle=False)["seconds"] for _ in range(3))
    emit(st)
    for n in args.sizes:
        bench_co_retweet(args, n)
    if not args.skip_link_text:
        bench_link_text(args, args.link_text_n)
    if not args.skip_ira_full:
        bench_ira_full(args)


if __name__ == "__main__":
    main()
