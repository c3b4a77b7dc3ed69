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
toolkit the two compute steps are then run ``--repeat`` more times, alternating (toolkit
compute, ``pairs --evidence 0``, toolkit compute, …), and their medians and ratio of medians
reported (``"repeat"``).

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
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IRA = "ira/ira_tweets.parquet"
URL_RE = r"https?://[^\s]+"
WINDOW = 60

# -- the toolkit wrapper: runs its CLI in-process, then reports its own and its children's peaks
TOOLKIT_WRAPPER = (
    "import resource, runpy, sys, json\n"
    "sys.argv = ['coordination_network_toolkit'] + sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_module('coordination_network_toolkit', run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    print('BENCH_RUSAGE ' + json.dumps({'self_kib': s, 'children_kib': c}),"
    " file=sys.stderr, flush=True)\n")

# -- swarmscope's co_tweet through the Python API (text_strip_urls=False is not on the CLI)
TEXT_PAIRS = (
    "import json, sys, resource\n"
    "import swarmscope\n"
    "from swarmscope import Settings, Store\n"
    "from swarmscope.engine import PairParams\n"
    "from swarmscope.traces import TraceOptions\n"
    "db, window, evidence, threads, mem = sys.argv[1], float(sys.argv[2]), sys.argv[3], "
    "sys.argv[4], sys.argv[5]\n"
    "settings = Settings(threads=int(threads) if threads else None, memory_limit=mem or None)\n"
    "with Store(db, settings=settings) as store:\n"
    "    r = swarmscope.pairs(store, PairParams(kind='text', window=window, evidence=("
    "None if evidence == 'all' else int(evidence))), options=TraceOptions(text_strip_urls=False))\n"
    "    print('BENCH_RESULT ' + json.dumps({'run_id': r.run_id, 'traces': r.traces, "
    "'edges': r.edges, 'accounts': r.accounts, 'popular': len(r.popular), "
    "'seconds': r.seconds}), flush=True)\n")


def emit(obj: dict) -> None:
    print(json.dumps(obj, default=str), flush=True)


def lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


# -- machine state -----------------------------------------------------------------------------
def machine() -> dict:
    import duckdb
    mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                   if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), None)
    try:
        from importlib.metadata import version
        cnt_version = version("coordination-network-toolkit")
        ss_version = version("swarmscope")
    except Exception:   # noqa: BLE001 - informational only
        cnt_version = ss_version = None
    return {"bench": "machine", "nproc": os.cpu_count(), "ram_gib": round(mem_kib / 2**20, 1),
            "cpu": cpu, "python": sys.version.split()[0], "duckdb": duckdb.__version__,
            "coordination_network_toolkit": cnt_version, "swarmscope": ss_version,
            "loadavg": os.getloadavg(),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"), **git_state()}


def git_state() -> dict:
    """The commit measured and whether src/ had uncommitted changes (read-only git calls)."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO)
        return r.stdout.strip()
    diff = git("diff", "HEAD", "--", "src")
    import hashlib
    return {"git_head": git("rev-parse", "--short", "HEAD"),
            "src_uncommitted_diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:12]
            if diff else None}


def _busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        vals = [int(x) for x in fh.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def wait_idle(args: argparse.Namespace) -> dict:
    """Wait until fewer than ``--idle-cpus`` CPUs are busy over 2 s; say how long it took."""
    t0 = time.time()
    ncpu = os.cpu_count() or 1
    while True:
        b0, t_0 = _busy_jiffies()
        time.sleep(2)
        b1, t_1 = _busy_jiffies()
        busy = (b1 - b0) / max(t_1 - t_0, 1) * ncpu
        if busy < args.idle_cpus or time.time() - t0 > args.max_wait:
            return {"waited_s": round(time.time() - t0, 1), "busy_cpus_before": round(busy, 2),
                    "idle": busy < args.idle_cpus, "loadavg_1m": round(os.getloadavg()[0], 2)}
        time.sleep(8)


# -- running a child and measuring it ------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{tid}/children") as fh:
                        todo.extend(int(c) for c in fh.read().split())
                except OSError:
                    pass
        except OSError:
            pass
    return out


def _mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _sampler(pid: int, stop: threading.Event, peak: dict) -> None:
    while not stop.is_set():
        rss = pss = 0
        procs = _descendants(pid)
        for p in procs:
            r, s = _mem_kib(p)
            rss += r
            pss += s
        peak["rss"] = max(peak["rss"], rss)
        peak["pss"] = max(peak["pss"], pss)
        peak["procs"] = max(peak["procs"], len(procs))
        stop.wait(0.1)


def run_child(args: argparse.Namespace, cmd: list[str], name: str, *,
              idle: bool = True) -> dict:
    """Run ``cmd`` as a child of its own: wall time, peaks, output (also kept in OUT_DIR)."""
    pre = wait_idle(args) if idle else {}
    log_out, log_err = args.out_dir / f"{name}.stdout", args.out_dir / f"{name}.stderr"
    with log_out.open("wb") as so, log_err.open("wb") as se:
        busy0, _ = _busy_jiffies()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=REPO)
        stop, peak = threading.Event(), {"rss": 0, "pss": 0, "procs": 0}
        sampler = threading.Thread(target=_sampler, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        busy1, _ = _busy_jiffies()
        stop.set()
        sampler.join()
    # CPU time spent by everything else on the machine meanwhile (this script's sampler included)
    others = (busy1 - busy0) / os.sysconf("SC_CLK_TCK") - (usage.ru_utime + usage.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = log_out.read_text(errors="replace")
    err = log_err.read_text(errors="replace")
    res = {"cmd": " ".join(cmd), "rc": proc.returncode, "seconds": round(seconds, 2),
           "self_maxrss_mib": mib(usage.ru_maxrss), "tree_peak_rss_mib": mib(peak["rss"]),
           "tree_peak_pss_mib": mib(peak["pss"]), "max_procs": peak["procs"],
           "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
           "others_cpus_avg": round(max(others, 0) / max(seconds, 1e-9), 2), **pre}
    for line in err.splitlines():
        if line.startswith("BENCH_RUSAGE "):
            ru = json.loads(line.split(" ", 1)[1])
            res["self_maxrss_mib"] = max(res["self_maxrss_mib"], mib(ru["self_kib"]))
            res["children_maxrss_mib"] = mib(ru["children_kib"])
    res["peak_mib"] = max(res["self_maxrss_mib"], res["tree_peak_pss_mib"])
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            res["result"] = json.loads(line.split(" ", 1)[1])
    if proc.returncode != 0:
        res["stderr_tail"] = err[-1500:]
        res["stdout_tail"] = out[-800:]
    return res


def ss_cmd(args: argparse.Namespace, store: Path, *rest: str) -> list[str]:
    cmd = [str(args.swarmscope), "--db", str(store)]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd + list(rest)


def tk_cmd(db: Path, *rest: str) -> list[str]:
    return [sys.executable, "-c", TOOLKIT_WRAPPER, str(db), *rest]


def fresh(*paths: Path) -> None:
    for p in paths:
        for q in (p, Path(str(p) + ".wal"), Path(str(p) + "-wal"), Path(str(p) + "-shm")):
            q.unlink(missing_ok=True)
        for d in (".ingest-tmp", ".tmp"):
            shutil.rmtree(str(p) + d, ignore_errors=True)


def size_mib(*paths: Path) -> float:
    total = 0
    for p in paths:
        for q in (p, Path(str(p) + ".wal"), Path(str(p) + "-wal")):
            if q.exists():
                total += q.stat().st_size
    return round(total / 2**20, 1)


# -- children run by this same script (input generation, parity, run summaries) ---------------
def helper(args: argparse.Namespace, *argv: str, script: str = __file__) -> dict:
    """Run one of this script's (or ``script``'s) helper modes in a child (so that this process
    stays small and no later child inherits a large RSS at fork); returns its JSON answer."""
    cmd = [sys.executable, str(Path(script).resolve()), "--data-dir", str(args.data_dir),
           "--out-dir", str(args.out_dir), *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def gen_con():
    import duckdb
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


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
            SELECT CASE WHEN k = 0 THEN CAST(rn AS VARCHAR) ELSE k || '-' || rn END AS message_id,
                   CASE WHEN k = 0 THEN author_id ELSE author_id || '~' || k END AS user_id,
                   CASE WHEN k = 0 THEN author ELSE author || '~' || k END AS username,
                   CASE WHEN k = 0 THEN rid ELSE k || ':' || rid END AS repost_id,
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
    from swarmscope.traces import normalized_text_sql
    norm = normalized_text_sql("content", strip_urls=False)
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


def compare(out_dir: Path, tk_db: Path, table: str, store: Path, kind: str, name: str) -> dict:
    """Toolkit directed loop-free edges vs ours expanded to both directions, in DuckDB."""
    import duckdb
    csv_path = out_dir / f"{name}.tk_edges.csv"
    with csv_path.open("wb") as fh:
        subprocess.run(["sqlite3", "-csv", str(tk_db),
                        f"SELECT user_1, user_2, weight FROM {table} WHERE user_1 != user_2"],
                       stdout=fh, check=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH {lit(store)} AS ss (READ_ONLY)")
    run_id = con.execute(f"SELECT max(run_id) FROM ss.runs WHERE command = 'pairs' AND "
                         f"status = 'ok' AND parameters->>'kind' = {lit(kind)}").fetchone()[0]
    con.execute("CREATE TABLE tk (u1 VARCHAR, u2 VARCHAR, w BIGINT)")
    if csv_path.stat().st_size:
        con.execute(f"""
            INSERT INTO tk SELECT u1, u2, CAST(w AS BIGINT)
            FROM read_csv({lit(csv_path)}, header = false, delim = ',', quote = '"',
                          escape = '"', auto_detect = false,
                          columns = {{'u1': 'VARCHAR', 'u2': 'VARCHAR', 'w': 'VARCHAR'}})""")
    con.execute(f"""
        CREATE TABLE ours AS
        SELECT * FROM (
            SELECT account_a AS u1, account_b AS u2, a_actions AS w FROM ss.edges
            WHERE run_id = {run_id}
            UNION ALL
            SELECT account_b, account_a, b_actions FROM ss.edges WHERE run_id = {run_id})
        WHERE w >= 1""")
    undirected = con.execute(f"SELECT count(*) FROM ss.edges WHERE run_id = {run_id}").fetchone()[0]
    r = con.execute("""
        SELECT count(*) FILTER (WHERE o.u1 IS NULL) AS only_toolkit,
               count(*) FILTER (WHERE t.u1 IS NULL) AS only_swarmscope,
               count(*) FILTER (WHERE o.u1 IS NOT NULL AND t.u1 IS NOT NULL AND o.w <> t.w)
                   AS weight_differs,
               count(*) FILTER (WHERE o.u1 IS NOT NULL AND t.u1 IS NOT NULL AND o.w = t.w)
                   AS same
        FROM tk t FULL OUTER JOIN ours o ON o.u1 = t.u1 AND o.u2 = t.u2""").fetchone()
    n_tk, n_ours = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("tk", "ours"))
    dups = con.execute("SELECT (SELECT count(*) - count(DISTINCT (u1, u2)) FROM tk) + "
                       "(SELECT count(*) - count(DISTINCT (u1, u2)) FROM ours)").fetchone()[0]
    examples = con.execute("""
        SELECT t.u1, t.u2, t.w AS toolkit_w, o.u1 AS o_u1, o.u2 AS o_u2, o.w AS swarmscope_w
        FROM tk t FULL OUTER JOIN ours o ON o.u1 = t.u1 AND o.u2 = t.u2
        WHERE o.u1 IS NULL OR t.u1 IS NULL OR o.w <> t.w LIMIT 5""").fetchall()
    csv_path.unlink()
    return {"run_id": run_id, "toolkit_directed_edges": n_tk,
            "swarmscope_undirected_edges": undirected, "swarmscope_directed_edges": n_ours,
            "only_toolkit": r[0], "only_swarmscope": r[1], "weight_differs": r[2], "same": r[3],
            "duplicate_keys": dups,
            "exact_equal": r[0] == 0 and r[1] == 0 and r[2] == 0 and dups == 0 and n_tk == n_ours,
            "mismatch_examples": [list(e) for e in examples]}


def run_summary(store: Path) -> dict:
    """The step timings and counts swarmscope recorded for its latest pairs run."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"ATTACH {lit(store)} AS ss (READ_ONLY)")
    row = con.execute("SELECT run_id, summary, parameters FROM ss.runs WHERE command = 'pairs' "
                      "ORDER BY run_id DESC LIMIT 1").fetchone()
    summary = json.loads(row[1]) if row and row[1] else {}
    evidence = con.execute(f"SELECT count(*) FROM ss.evidence WHERE run_id = {row[0]}"
                           ).fetchone()[0] if row else None
    return {"run_id": row[0] if row else None, "traces": summary.get("traces"),
            "edges": summary.get("edges"), "accounts": summary.get("accounts"),
            "popular": len(summary.get("popular") or []), "evidence_rows": evidence,
            "step_seconds": {k: round(v, 2) for k, v in (summary.get("seconds") or {}).items()}}


class _TimedConnection:
    """Wraps a DuckDB connection; times every ``execute`` (the statement's first words kept)."""

    def __init__(self, con, log: list) -> None:
        self._con, self._log = con, log

    def execute(self, sql, *a, **kw):
        t0 = time.perf_counter()
        res = self._con.execute(sql, *a, **kw)
        self._log.append((" ".join(str(sql).split())[:160], time.perf_counter() - t0))
        return res

    def __getattr__(self, name):
        return getattr(self._con, name)


def profile_pairs(store_path: Path, kind: str, evidence: str, text_strip_urls: bool,
                  threads: str, memory_limit: str) -> dict:
    """``swarmscope.pairs`` through the Python API on an ingested store, with the wall time of
    each SQL statement it runs (the engine's own ``seconds`` dict beside them)."""
    sys.path.insert(0, str(REPO / "src"))
    import swarmscope
    from swarmscope import Settings, Store
    from swarmscope.engine import PairParams
    from swarmscope.traces import TraceOptions
    settings = Settings(threads=int(threads) if threads else None, memory_limit=memory_limit or None)
    log: list = []
    with Store(store_path, settings=settings) as store:
        store.con = _TimedConnection(store.con, log)
        t0 = time.perf_counter()
        r = swarmscope.pairs(store, PairParams(kind=kind, window=WINDOW, evidence=(
            None if evidence == "all" else int(evidence))),
            options=TraceOptions(text_strip_urls=text_strip_urls))
        total = time.perf_counter() - t0
        store.con = store.con._con
    import resource
    return {"bench": "profile", "store": str(store_path), "kind": kind, "evidence": evidence,
            "traces": r.traces, "edges": r.edges, "seconds_total": round(total, 2),
            "engine_seconds": {k: round(v, 2) for k, v in r.seconds.items()},
            "statements": [{"s": round(t, 3), "sql": q} for q, t in log if t >= 0.01],
            "statements_under_10ms_s": round(sum(t for _, t in log if t < 0.01), 3),
            "maxrss_mib": mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}


def toolkit_edges(tk_db: Path, table: str) -> int:
    import sqlite3
    con = sqlite3.connect(str(tk_db))
    try:
        return con.execute(f"SELECT count(*) FROM {table} WHERE user_1 != user_2").fetchone()[0]
    finally:
        con.close()


# -- the benchmarks ------------------------------------------------------------------------------
def code_state() -> str:
    """``HEAD`` plus a hash of any uncommitted change under src/: the code a swarmscope child
    ran (the package is installed editable, so it runs the working tree)."""
    g = git_state()
    return g["git_head"] + (f"+dirty:{g['src_uncommitted_diff_sha1']}"
                            if g["src_uncommitted_diff_sha1"] else "")


def ss_ingest(args, store: Path, csv_path: Path, name: str, fmt: str | None = "cnt") -> dict:
    fresh(store)
    cmd = ss_cmd(args, store, "ingest", str(csv_path)) + (["--format", fmt] if fmt else [])
    code = code_state()
    r = run_child(args, cmd, f"{name}.ss_ingest")
    r["code"] = code
    r["store_mib"] = size_mib(store)
    return r


def ss_pairs(args, store: Path, kind: str, name: str, evidence: str | None) -> dict:
    cmd = ss_cmd(args, store, "pairs", "--kind", kind, "--window", str(WINDOW))
    if evidence is not None:
        cmd += ["--evidence", evidence]
    return ss_child(args, cmd, store, f"{name}.ss_pairs_{kind}_ev{evidence or 'default'}")


def ss_text_pairs(args, store: Path, name: str, evidence: str) -> dict:
    cmd = [sys.executable, "-c", TEXT_PAIRS, str(store), str(WINDOW), evidence,
           str(args.threads or ""), args.memory_limit or ""]
    return ss_child(args, cmd, store, f"{name}.ss_pairs_text_ev{evidence}")


def ss_child(args, cmd: list[str], store: Path, log_name: str) -> dict:
    """A swarmscope child run, with the code state it ran and the store's summary."""
    code = code_state()
    r = run_child(args, cmd, log_name)
    r["code"] = code
    if r["rc"] == 0:
        r.update(helper(args, "_summary", str(store)))
    return r


def tk_preprocess(args, tk_db: Path, csv_path: Path, name: str) -> dict:
    fresh(tk_db)
    r = run_child(args, tk_cmd(tk_db, "preprocess", "--format", "csv", str(csv_path)),
                  f"{name}.tk_preprocess")
    r["db_mib"] = size_mib(tk_db)
    return r


def tk_compute(args, tk_db: Path, command: str, name: str) -> dict:
    # the CLI's --min_edge_weight defaults to 2 (the API's to 1); swarmscope keeps weight >= 1
    r = run_child(args, tk_cmd(tk_db, "compute", command, "--time_window", str(WINDOW),
                               "--min_edge_weight", "1", "--n_cpus", str(args.toolkit_threads)),
                  f"{name}.tk_{command}")
    return r


def slim(r: dict | None) -> dict | None:
    """The measurement fields of a child run (the command line is reported once)."""
    if r is None:
        return None
    keep = ("rc", "seconds", "peak_mib", "self_maxrss_mib", "children_maxrss_mib",
            "tree_peak_pss_mib", "tree_peak_rss_mib", "max_procs", "cpu_s", "others_cpus_avg", "waited_s",
            "busy_cpus_before", "idle", "loadavg_1m", "store_mib", "db_mib", "traces", "edges",
            "accounts", "popular", "evidence_rows", "step_seconds", "code", "stderr_tail",
            "stdout_tail")
    return {k: r[k] for k in keep if k in r}


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
        **helper(args, generator, str(n), str(csv_path)), "_files": [str(csv_path)]})
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
        line["repeat"] = repeat_computes(args, tk_db, store, name)
    line["commands"] = {"ss_ingest": ing["cmd"], "ss_pairs_ev0": p0 and p0["cmd"],
                        "ss_pairs_default": p10 and p10["cmd"],
                        "tk_preprocess": tk_pre and tk_pre["cmd"],
                        "tk_compute": tk_comp and tk_comp["cmd"]}
    emit(line)
    if not args.keep:
        fresh(csv_path, tk_db, store, args.out_dir / f"{name}.input.json",
              args.out_dir / f"{name}.toolkit.json")
    return line


def repeat_computes(args, tk_db: Path, store: Path, name: str) -> dict:
    """``--repeat`` alternating runs of the toolkit's compute and ``pairs --evidence 0``."""
    tk, ss = [], []
    for _ in range(args.repeat):
        tk.append(tk_compute(args, tk_db, "co_retweet", f"{name}.repeat")["seconds"])
        ss.append(ss_pairs(args, store, "repost", f"{name}.repeat", "0")["seconds"])
    med_tk, med_ss = statistics.median(tk), statistics.median(ss)
    return {"runs": args.repeat, "toolkit_compute_s": tk, "pairs_ev0_s": ss,
            "toolkit_compute_median_s": med_tk, "pairs_ev0_median_s": med_ss,
            "speedup_of_medians": ratio(med_tk, med_ss)}


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared/data")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench/out")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10**5, 10**6, 10**7])
    ap.add_argument("--toolkit-max", type=int, default=10**7,
                    help="run the toolkit only for sizes up to this")
    ap.add_argument("--link-text-n", type=int, default=10**6)
    ap.add_argument("--skip-link-text", action="store_true")
    ap.add_argument("--skip-ira-full", action="store_true")
    ap.add_argument("--toolkit-threads", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="swarmscope --threads")
    ap.add_argument("--memory-limit", default=None, help="swarmscope --memory-limit")
    ap.add_argument("--swarmscope", type=Path, default=REPO / ".venv/bin/swarmscope")
    ap.add_argument("--repeat", type=int, default=5,
                    help="alternating repeats of the two co-retweet compute steps (0: none)")
    ap.add_argument("--idle-cpus", type=float, default=0.5)
    ap.add_argument("--max-wait", type=float, default=900)
    ap.add_argument("--keep", action="store_true",
                    help="keep inputs, stores and the toolkit's databases (for --reuse-toolkit)")
    ap.add_argument("--reuse-toolkit", action="store_true",
                    help="reuse kept inputs and toolkit results of an earlier --keep run")
    ap.add_argument("mode", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.out_dir = args.out_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.mode:   # helper modes, run as children of the benchmark
        m, rest = args.mode[0], args.mode[1:]
        if m == "_gen_retweets":
            res = gen_retweets(args.data_dir, int(rest[0]), Path(rest[1]))
        elif m == "_gen_originals":
            res = gen_originals(args.data_dir, int(rest[0]), Path(rest[1]))
        elif m == "_compare":
            res = compare(args.out_dir, Path(rest[0]), rest[1], Path(rest[2]), rest[3], rest[4])
        elif m == "_summary":
            res = run_summary(Path(rest[0]))
        elif m == "profile":   # profile STORE KIND [EVIDENCE [STRIP_URLS]]
            res = profile_pairs(Path(rest[0]), rest[1], rest[2] if len(rest) > 2 else "0",
                                (rest[3] if len(rest) > 3 else "1") == "1",
                                str(args.threads or ""), args.memory_limit or "")
        elif m == "ingest_only":   # ingest_only N STORE: the co_retweet input of size N, ingested
            n, store = int(rest[0]), Path(rest[1])
            csv_path = store.with_suffix(".csv")
            gen = helper(args, "_gen_retweets", str(n), str(csv_path))
            ing = ss_ingest(args, store, csv_path, store.stem)
            csv_path.unlink()
            res = {"bench": "ingest_only", "n": n, **gen, "swarmscope_ingest": slim(ing)}
        elif m == "_tk_edges":
            res = {"edges": toolkit_edges(Path(rest[0]), rest[1])}
        else:
            raise SystemExit(f"unknown mode {m}")
        print(json.dumps(res, default=str))
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
