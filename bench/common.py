"""What the benchmarks share (a library for ``bench/*.py``, not a benchmark).

- paths and data files (``REPO``, ``DATA_DIR``, ``IRA``, ``HIGGS``);
- swarmscope's internals (``ss``): every import of the package's internals the benchmarks make
  is listed in one table here, each name imported on first use;
- JSON lines (``emit``, ``jsonable``, ``r4``), progress on stderr (``log``), stage timings;
- SQL helpers (``lit``, ``gen_con``, ``open_store``, ``attached``, ``insert``), and the files of
  a store (``fresh``, ``size_mib``, ``fresh_dir``);
- the machine and the code measured (``host``, ``machine``, ``git``, ``code_state``);
- running a child process and measuring it (``run_measured`` with a sampler: ``TreeMemory``
  for the peak RSS / PSS of a process tree, ``HighWaterLog`` for one process's ``VmHWM``;
  ``wait_idle``; ``run_child``);
- the swarmscope CLI (``ss_cmd``, ``ss_ingest``, ``ss_pairs``, ``ss_child``, ``swarmscope``,
  ``run_detect``, ``detect_defaults``, ``ingest_counts``) and coordination-network-toolkit's
  (``tk_cmd``, ``tk_preprocess``, ``tk_compute``), with the edge parity of the two
  (``compare``);
- helper modes run as children of their own (``helper``): this file's are ``_compare``,
  ``_summary`` and ``_tk_edges`` (``python bench/common.py --out-dir DIR _summary STORE``);
- real traces moved and renamed: a 7-day window shifted onto the Higgs week with fresh opaque
  account ids (``Scenario``, ``week_shift``, ``in_week_sql``, ``fresh_ids``, ``write_higgs``,
  ``ingest_scenario``), and the ids of replicated copies (``copy_key_sql``).

Only the standard library is imported at the top, so that a script that needs none of DuckDB,
numpy, pyarrow or swarmscope does not load them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_SWARMSCOPE = REPO / ".venv" / "bin" / "swarmscope"
IRA = "ira/ira_tweets.parquet"
HIGGS = "higgs/higgs_activity.parquet"
WINDOW = 60   # the co-action window of the peer comparisons, seconds


# -- swarmscope's internals ----------------------------------------------------------------------
class _Swarmscope:
    """The names the benchmarks take from swarmscope's modules, each imported on first use (a
    timed child must not pay for imports it does not need). The module paths are here and
    nowhere else."""

    WHERE = {
        "pairs": "swarmscope",
        "Settings": "swarmscope",
        "Store": "swarmscope",
        "PairParams": "swarmscope.engine",
        "TraceOptions": "swarmscope.traces",
        "normalized_text_sql": "swarmscope.traces",
        "ingest": "swarmscope.ingest",
        "TWEET_COLUMNS": "swarmscope.ingest.io_archive",
        "USER_COLUMNS": "swarmscope.ingest.io_archive",
        "CANONICAL": "swarmscope.store.schema",
        "DETECT": "swarmscope.store.schema",
        "HASHTAG_PATTERN": "swarmscope.ingest.normalize",
        "MENTION_PATTERN": "swarmscope.ingest.normalize",
        "URL_PATTERN": "swarmscope.ingest.normalize",
        "SNOWFLAKE_EPOCH_MS": "swarmscope.ingest.normalize",
        "SimilarityParams": "swarmscope.traces.similar_text",
        "build_similar_text_objects": "swarmscope.traces.similar_text",
        "normalize": "swarmscope.traces.similar_text",
    }
    #: modules used as such (``swarmscope.ingest`` the attribute is the ingest function, so
    #: these are reached by their full names)
    MODULES = {"ingest_reader": "swarmscope.ingest.reader",
               "ingest_sources": "swarmscope.ingest.sources"}

    def __getattr__(self, name: str) -> Any:
        if name in self.MODULES:
            return importlib.import_module(self.MODULES[name])
        if name not in self.WHERE:
            raise AttributeError(name)
        return getattr(importlib.import_module(self.WHERE[name]), name)


ss = _Swarmscope()


# -- JSON lines, progress, timings ---------------------------------------------------------------
def emit(obj: Any, default: Callable[[Any], Any] | None = str) -> None:
    """One JSON object on a line of its own on stdout, flushed."""
    print(json.dumps(obj, default=default), flush=True)


def jsonable(v: Any) -> Any:
    """A value for JSON; floats to 4 significant digits (p-values keep their magnitude)."""
    if isinstance(v, float):
        return None if math.isnan(v) else float(f"{v:.4g}")
    if isinstance(v, (datetime,)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    return v if v is None or isinstance(v, (int, str, bool)) else str(v)


def r4(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Timings:
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] += time.perf_counter() - t0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.stages.items()}


# -- SQL and store files -------------------------------------------------------------------------
def lit(value: Any) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def one_line(sql: Any, n: int = 160) -> str:
    """A statement's first ``n`` characters, white space folded (for logs)."""
    return " ".join(str(sql).split())[:n]


def gen_con(memory_limit: str | None = None, temp_dir: Path | None = None):
    """An in-memory DuckDB connection for writing inputs (order kept only where asked)."""
    import duckdb
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = {lit(memory_limit)}")
    if temp_dir:
        con.execute(f"SET temp_directory = {lit(str(temp_dir))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def open_store(store: Path):
    """An in-memory DuckDB connection with the store attached read-only as ``ss``."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"ATTACH {lit(store)} AS ss (READ_ONLY)")
    return con


@contextmanager
def attached(con, store: Path, alias: str = "s") -> Iterator[None]:
    """The store attached read-only to ``con`` as ``alias`` for the ``with`` block."""
    con.execute(f"ATTACH {lit(store)} AS {alias} (READ_ONLY)")
    try:
        yield
    finally:
        con.execute(f"DETACH {alias}")


def insert(con, table: str, **columns: list) -> None:
    """Append columns (all of the table's, in order) through Arrow: executemany is slow."""
    import pyarrow as pa
    con.register("_rows", pa.table({k: pa.array(v) for k, v in columns.items()}))
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    finally:
        con.unregister("_rows")


class ConnectionProxy:
    """Wraps a DuckDB connection (``_con``); what a subclass does not override passes through."""

    def __init__(self, con) -> None:
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)


def fresh(*paths: Path) -> None:
    """Delete stores or databases with their WAL files, swarmscope's scratch and DuckDB's spill
    directory."""
    for p in paths:
        for q in (p, Path(str(p) + ".wal"), Path(str(p) + "-wal"), Path(str(p) + "-shm")):
            q.unlink(missing_ok=True)
        for d in (".ingest-tmp", ".tmp"):
            shutil.rmtree(str(p) + d, ignore_errors=True)


def size_mib(*paths: Path) -> float:
    """The size of stores or databases with their WAL files, MiB."""
    total = 0
    for p in paths:
        for q in (p, Path(str(p) + ".wal"), Path(str(p) + "-wal")):
            if q.exists():
                total += q.stat().st_size
    return round(total / 2**20, 1)


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# -- the machine and the code measured -----------------------------------------------------------
def host() -> dict:
    """Cores, memory, CPU model, Python and DuckDB versions."""
    import duckdb
    mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                   if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), None)
    return {"nproc": os.cpu_count(), "ram_gib": round(mem_kib / 2**20, 1), "cpu": cpu,
            "python": sys.version.split()[0], "duckdb": duckdb.__version__}


def git(*a: str) -> str:
    """A read-only git call in the repository: its stdout, or '' when git fails."""
    try:
        return subprocess.run(["git", "--no-optional-locks", *a], capture_output=True,
                              text=True, timeout=30, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_state() -> dict:
    """The commit measured and whether src/ had uncommitted changes (read-only git calls)."""
    diff = git("diff", "HEAD", "--", "src")
    import hashlib
    return {"git_head": git("rev-parse", "--short", "HEAD"),
            "src_uncommitted_diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:12]
            if diff else None}


def code_state() -> str:
    """``HEAD`` plus a hash of any uncommitted change under src/: the code a swarmscope child
    ran (the package is installed editable, so it runs the working tree)."""
    g = git_state()
    return g["git_head"] + (f"+dirty:{g['src_uncommitted_diff_sha1']}"
                            if g["src_uncommitted_diff_sha1"] else "")


def machine() -> dict:
    """The ``"bench": "machine"`` line of the peer comparisons."""
    h = host()
    try:
        from importlib.metadata import version
        cnt_version = version("coordination-network-toolkit")
        ss_version = version("swarmscope")
    except Exception:   # noqa: BLE001 - informational only
        cnt_version = ss_version = None
    return {"bench": "machine", "nproc": h["nproc"], "ram_gib": h["ram_gib"], "cpu": h["cpu"],
            "python": h["python"], "duckdb": h["duckdb"],
            "coordination_network_toolkit": cnt_version, "swarmscope": ss_version,
            "loadavg": os.getloadavg(),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"), **git_state()}


def busy_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine so far, in clock ticks."""
    with open("/proc/stat") as fh:
        vals = [int(x) for x in fh.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def wait_idle(args: argparse.Namespace) -> dict:
    """Wait until fewer than ``--idle-cpus`` CPUs are busy over 2 s; say how long it took."""
    t0 = time.time()
    ncpu = os.cpu_count() or 1
    while True:
        b0, t_0 = busy_jiffies()
        time.sleep(2)
        b1, t_1 = busy_jiffies()
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


class TreeMemory:
    """Sampler: the largest sums of RSS and PSS over the child's whole process tree, and the
    most processes in it, from ``/proc`` every 0.1 s (KiB)."""

    def __init__(self) -> None:
        self.rss = self.pss = self.procs = 0

    def __call__(self, pid: int, stop: threading.Event) -> None:
        while not stop.is_set():
            rss = pss = 0
            procs = _descendants(pid)
            for p in procs:
                r, s = _mem_kib(p)
                rss += r
                pss += s
            self.rss = max(self.rss, rss)
            self.pss = max(self.pss, pss)
            self.procs = max(self.procs, len(procs))
            stop.wait(0.1)


class HighWaterLog:
    """Sampler: the child's RSS and high-water mark (``VmHWM``) every 0.25 s, written to
    ``path`` as TSV; the largest ``VmHWM`` seen (KiB) in ``peak_kib``."""

    def __init__(self, path: Path) -> None:
        self.path, self.peak_kib = path, 0

    def __call__(self, pid: int, stop: threading.Event) -> None:
        t0 = time.perf_counter()
        with self.path.open("w") as out:
            out.write("seconds\trss_mib\thwm_mib\n")
            while not stop.is_set():
                try:
                    with open(f"/proc/{pid}/status") as fh:
                        vals = {k: int(v.split()[0]) for k, _, v in
                                (line.partition(":") for line in fh) if k in ("VmRSS", "VmHWM")}
                except (FileNotFoundError, ProcessLookupError):
                    break
                if "VmRSS" in vals:   # absent once the child is a zombie
                    self.peak_kib = max(self.peak_kib, vals["VmHWM"])
                    out.write(f"{time.perf_counter() - t0:.2f}\t{vals['VmRSS'] / 1024:.0f}\t"
                              f"{vals['VmHWM'] / 1024:.0f}\n")
                    out.flush()
                stop.wait(0.25)


@dataclass
class Measured:
    """A finished child: exit status, wall seconds, its own ``rusage`` (``os.wait4``), its
    output, and the CPU seconds the whole machine spent meanwhile."""
    cmd: list[str]
    rc: int
    seconds: float
    usage: Any
    stdout: str
    stderr: str
    machine_cpu_s: float


def run_measured(cmd: list[str], log_dir: Path, name: str, *,
                 sampler: Callable[[int, threading.Event], None] | None = None,
                 cwd: Path | None = None) -> Measured:
    """Run ``cmd`` as a child of its own, its output in ``log_dir/name.stdout`` and
    ``.stderr``, with ``sampler(pid, stop)`` in a thread while it runs. The child is reaped
    with ``os.wait4``, so its ``ru_maxrss`` is its own and never another child's."""
    log_out, log_err = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with log_out.open("wb") as so, log_err.open("wb") as se:
        busy0, _ = busy_jiffies()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=cwd)
        stop = threading.Event()
        thread = (threading.Thread(target=sampler, args=(proc.pid, stop), daemon=True)
                  if sampler else None)
        if thread:
            thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        busy1, _ = busy_jiffies()
        stop.set()
        if thread:
            thread.join()
    proc.returncode = os.waitstatus_to_exitcode(status)   # reaped by wait4, not by Popen
    return Measured(cmd, proc.returncode, seconds, usage, log_out.read_text(errors="replace"),
                    log_err.read_text(errors="replace"),
                    (busy1 - busy0) / os.sysconf("SC_CLK_TCK"))


def run_child(args: argparse.Namespace, cmd: list[str], name: str, *,
              idle: bool = True) -> dict:
    """Run ``cmd`` as a child of its own after waiting for an idle machine (``wait_idle``):
    wall time, peaks, output (also kept in OUT_DIR). ``peak_mib`` is the headline: the larger
    of the child's own ``ru_maxrss`` and its process tree's peak PSS."""
    pre = wait_idle(args) if idle else {}
    tree = TreeMemory()
    m = run_measured(cmd, args.out_dir, name, sampler=tree, cwd=REPO)
    usage, seconds = m.usage, m.seconds
    # CPU time spent by everything else on the machine meanwhile (this script's sampler included)
    others = m.machine_cpu_s - (usage.ru_utime + usage.ru_stime)
    res = {"cmd": " ".join(cmd), "rc": m.rc, "seconds": round(seconds, 2),
           "self_maxrss_mib": mib(usage.ru_maxrss), "tree_peak_rss_mib": mib(tree.rss),
           "tree_peak_pss_mib": mib(tree.pss), "max_procs": tree.procs,
           "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
           "others_cpus_avg": round(max(others, 0) / max(seconds, 1e-9), 2), **pre}
    for line in m.stderr.splitlines():
        if line.startswith("BENCH_RUSAGE "):
            ru = json.loads(line.split(" ", 1)[1])
            res["self_maxrss_mib"] = max(res["self_maxrss_mib"], mib(ru["self_kib"]))
            res["children_maxrss_mib"] = mib(ru["children_kib"])
    res["peak_mib"] = max(res["self_maxrss_mib"], res["tree_peak_pss_mib"])
    for line in m.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            res["result"] = json.loads(line.split(" ", 1)[1])
    if m.rc != 0:
        res["stderr_tail"] = m.stderr[-1500:]
        res["stdout_tail"] = m.stdout[-800:]
    return res


def slim(r: dict | None) -> dict | None:
    """The measurement fields of a child run (the command line is reported once)."""
    if r is None:
        return None
    keep = ("rc", "seconds", "peak_mib", "self_maxrss_mib", "children_maxrss_mib",
            "tree_peak_pss_mib", "tree_peak_rss_mib", "max_procs", "cpu_s", "others_cpus_avg",
            "waited_s", "busy_cpus_before", "idle", "loadavg_1m", "store_mib", "db_mib",
            "traces", "edges", "accounts", "popular", "evidence_rows", "step_seconds", "code",
            "stderr_tail", "stdout_tail")
    return {k: r[k] for k in keep if k in r}


# -- helper modes: children that answer one JSON line ---------------------------------------------
def helper(args: argparse.Namespace, *argv: str, script: str | Path = __file__) -> dict:
    """Run one of ``script``'s helper modes (by default this file's) in a child, so that this
    process stays small and no later child inherits a large RSS at fork; returns its JSON
    answer (the last line of its stdout)."""
    cmd = [sys.executable, str(Path(script).resolve()), "--data-dir", str(args.data_dir),
           "--out-dir", str(args.out_dir), *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_mode(args: argparse.Namespace,
             modes: dict[str, Callable[[argparse.Namespace, list[str]], dict]]) -> None:
    """Answer the helper mode ``args.mode`` (``[NAME, ARG...]``) with one JSON line."""
    m, rest = args.mode[0], args.mode[1:]
    if m not in modes:
        raise SystemExit(f"unknown mode {m}")
    emit(modes[m](args, rest))


def add_dir_args(ap: argparse.ArgumentParser, *, data_dir_help: str | None = None) -> None:
    """``--data-dir`` and ``--out-dir`` as the helper modes expect them."""
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help=data_dir_help)
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench/out")


def finish_dir_args(args: argparse.Namespace) -> argparse.Namespace:
    args.out_dir = args.out_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    return args


# -- the swarmscope CLI --------------------------------------------------------------------------
class CommandFailed(RuntimeError):
    pass


class DetectUnavailable(RuntimeError):
    pass


def swarmscope(exe: str | Sequence[str], db: Path, *args: Any) -> str:
    """Run ``swarmscope --db DB ARGS`` (``exe``: the CLI, or a command line such as
    ``[python, -m, swarmscope]``); its stdout, or CommandFailed with the tail of stderr."""
    cmd = [*([exe] if isinstance(exe, (str, Path)) else exe), "--db", str(db), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise CommandFailed(f"{shlex.join(map(str, cmd))} exited {r.returncode}: "
                            f"{(r.stderr or r.stdout).strip()[-2000:]}")
    return r.stdout


def find_swarmscope(exe: str | Path) -> str | None:
    """``exe`` where it exists, else the ``swarmscope`` on the PATH (None where there is none)."""
    return str(exe) if Path(exe).exists() else shutil.which("swarmscope")


def run_detect(exe: str, db: Path, out: Path, args: list[str]) -> Path:
    """``swarmscope detect --out OUT ARGS`` into a fresh ``out``; DetectUnavailable where
    detect is not built, CommandFailed where it fails or writes no accounts.parquet."""
    fresh_dir(out)
    try:
        swarmscope(exe, db, "detect", "--out", out, *args)
    except CommandFailed as exc:
        if "not built yet" in str(exc):
            raise DetectUnavailable(str(exc).split(": ", 1)[-1]) from None
        raise
    if not (out / "accounts.parquet").exists():
        raise CommandFailed(f"detect wrote no {out / 'accounts.parquet'}")
    return out


def detect_defaults(exe: str) -> str | None:
    """The "Defaults:" paragraph of ``swarmscope detect --help`` (kinds and windows)."""
    text = subprocess.run([exe, "detect", "--help"], capture_output=True, text=True).stdout
    m = re.search(r"Defaults:(.*?)(?:\n\s*\n|$)", text, re.S)
    return " ".join(m.group(1).split()) if m else None


#: ``swarmscope ingest``'s line per file
COUNTS = re.compile(r"^(?P<path>.+) \((?P<format>[\w-]+)\): read (?P<read>[\d,]+) = stored "
                    r"(?P<stored>[\d,]+) \+ duplicates (?P<duplicates>[\d,]+) \+ rejected "
                    r"(?P<rejected>[\d,]+)", re.M)
COUNT_KEYS = ("read", "stored", "duplicates", "rejected")


def ingest_counts(stdout: str) -> dict[str, dict[str, Any]]:
    """{path: {format, read, stored, duplicates, rejected}} from ``swarmscope ingest``'s
    output, in the order of its lines."""
    return {m["path"]: {"format": m["format"],
                        **{k: int(m[k].replace(",", "")) for k in COUNT_KEYS}}
            for m in COUNTS.finditer(stdout)}


def ss_cmd(args: argparse.Namespace, store: Path, *rest: str) -> list[str]:
    """``swarmscope --db STORE [--memory-limit M] [--threads T] REST`` (from ``args``)."""
    cmd = [str(args.swarmscope), "--db", str(store)]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd + list(rest)


def ss_ingest(args, store: Path, csv_path: Path, name: str, fmt: str | None = "cnt") -> dict:
    """``swarmscope ingest`` into a fresh store, measured (``run_child``)."""
    fresh(store)
    cmd = ss_cmd(args, store, "ingest", str(csv_path)) + (["--format", fmt] if fmt else [])
    code = code_state()
    r = run_child(args, cmd, f"{name}.ss_ingest")
    r["code"] = code
    r["store_mib"] = size_mib(store)
    return r


def ss_pairs(args, store: Path, kind: str, name: str, evidence: str | None, *extra: str,
             tag: str | None = None) -> dict:
    """``swarmscope pairs --kind KIND --window WINDOW [--evidence E] EXTRA``, measured; its log
    files are named after ``tag`` (default: the evidence)."""
    cmd = ss_cmd(args, store, "pairs", "--kind", kind, "--window", str(WINDOW))
    if evidence is not None:
        cmd += ["--evidence", evidence]
    cmd += list(extra)
    tag = tag or f"ev{evidence or 'default'}"
    return ss_child(args, cmd, store, f"{name}.ss_pairs_{kind}_{tag}")


def ss_child(args, cmd: list[str], store: Path, log_name: str) -> dict:
    """A swarmscope child run, with the code state it ran and the store's summary."""
    code = code_state()
    r = run_child(args, cmd, log_name)
    r["code"] = code
    if r["rc"] == 0:
        r.update(helper(args, "_summary", str(store)))
    return r


def run_summary(store: Path) -> dict:
    """The step timings and counts swarmscope recorded for its latest pairs run."""
    con = open_store(store)
    row = con.execute("SELECT run_id, summary, parameters FROM ss.runs WHERE command = 'pairs' "
                      "ORDER BY run_id DESC LIMIT 1").fetchone()
    summary = json.loads(row[1]) if row and row[1] else {}
    evidence = con.execute(f"SELECT count(*) FROM ss.evidence WHERE run_id = {row[0]}"
                           ).fetchone()[0] if row else None
    return {"run_id": row[0] if row else None, "traces": summary.get("traces"),
            "edges": summary.get("edges"), "accounts": summary.get("accounts"),
            "popular": len(summary.get("popular") or []), "evidence_rows": evidence,
            "step_seconds": {k: round(v, 2) for k, v in (summary.get("seconds") or {}).items()}}


# -- coordination-network-toolkit ----------------------------------------------------------------
#: runs the toolkit's CLI in-process, then reports its own and its children's peaks
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


def tk_cmd(db: Path, *rest: str) -> list[str]:
    return [sys.executable, "-c", TOOLKIT_WRAPPER, str(db), *rest]


def tk_compute_cmd(args, tk_db: Path, command: str) -> list[str]:
    # the CLI's --min_edge_weight defaults to 2 (the API's to 1); swarmscope keeps weight >= 1
    return tk_cmd(tk_db, "compute", command, "--time_window", str(WINDOW),
                  "--min_edge_weight", "1", "--n_cpus", str(args.toolkit_threads))


def tk_preprocess(args, tk_db: Path, csv_path: Path, name: str) -> dict:
    fresh(tk_db)
    r = run_child(args, tk_cmd(tk_db, "preprocess", "--format", "csv", str(csv_path)),
                  f"{name}.tk_preprocess")
    r["db_mib"] = size_mib(tk_db)
    return r


def tk_compute(args, tk_db: Path, command: str, name: str) -> dict:
    return run_child(args, tk_compute_cmd(args, tk_db, command), f"{name}.tk_{command}")


def toolkit_edges(tk_db: Path, table: str) -> int:
    import sqlite3
    con = sqlite3.connect(str(tk_db))
    try:
        return con.execute(f"SELECT count(*) FROM {table} WHERE user_1 != user_2").fetchone()[0]
    finally:
        con.close()


def compare(out_dir: Path, tk_db: Path, table: str, store: Path, kind: str, name: str) -> dict:
    """Toolkit directed loop-free edges vs ours expanded to both directions, in DuckDB."""
    csv_path = out_dir / f"{name}.tk_edges.csv"
    with csv_path.open("wb") as fh:
        subprocess.run(["sqlite3", "-csv", str(tk_db),
                        f"SELECT user_1, user_2, weight FROM {table} WHERE user_1 != user_2"],
                       stdout=fh, check=True)
    con = open_store(store)
    con.execute("SET preserve_insertion_order = false")
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


MODES = {
    "_compare": lambda a, r: compare(a.out_dir, Path(r[0]), r[1], Path(r[2]), r[3], r[4]),
    "_summary": lambda a, r: run_summary(Path(r[0])),
    "_tk_edges": lambda a, r: {"edges": toolkit_edges(Path(r[0]), r[1])},
}


# -- real traces, moved and renamed --------------------------------------------------------------
HIGGS_START = datetime(2012, 7, 1)   # the first day of the Higgs week (UTC)
HIGGS_START_EPOCH = 1_341_100_800    # the same, epoch seconds
WEEK_DAYS = 7
ID_FORMAT = "u-{:07d}"  # the "-" keeps fresh ids out of the @handle namespace of IRA texts


def copy_key_sql(expr: str, copy: str, sep: str, *, prefix: bool = False) -> str:
    """``expr`` in copy ``copy`` of replicated rows: copy 0 keeps the original value, copy k
    gets ``k`` as a suffix (or prefix) after ``sep``, so that no two copies share an id."""
    tagged = f"{copy} || '{sep}' || {expr}" if prefix else f"{expr} || '{sep}' || {copy}"
    return f"CASE WHEN {copy} = 0 THEN {expr} ELSE {tagged} END"


def week_shift(window: str) -> tuple[datetime, int]:
    """The start of the 7-day window starting on ``window`` (YYYY-MM-DD), and the whole days
    that move it onto the Higgs week (time of day kept)."""
    start = datetime.fromisoformat(window)
    return start, (HIGGS_START - start).days


def in_week_sql(expr: str, start: datetime) -> str:
    """SQL: the timestamp ``expr`` falls in the 7 days from ``start``."""
    return (f"{expr} >= TIMESTAMP '{start}' "
            f"AND {expr} < TIMESTAMP '{start}' + INTERVAL {WEEK_DAYS} DAY")


@dataclass
class Scenario:
    window: str
    dir: Path
    shift_days: int
    rows: dict[str, int]

    @property
    def db(self) -> Path:
        return self.dir / "scenario.duckdb"

    @property
    def ids(self) -> Path:
        return self.dir / "ids.parquet"


def scenario_rng(seed: int, window: str):
    import numpy as np
    return np.random.default_rng([seed, int(window.replace("-", ""))])


def open_higgs(data_dir: Path):
    """An in-memory DuckDB connection with the view ``higgs`` over the Higgs week."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"CREATE VIEW higgs AS SELECT * FROM read_parquet('{data_dir / HIGGS}')")
    return con


def fresh_ids(con, positives: str, rng) -> None:
    """Table ``ids``: fresh id -> (source, original, category) for every account of the
    ``positives`` query (source, original, category) and every Higgs user (view ``higgs``),
    drawn from one random permutation, so an id tells neither the source nor the account."""
    import pyarrow as pa
    t = con.sql(f"""
        SELECT * FROM ({positives})
        UNION ALL
        SELECT 'higgs', u, NULL FROM (SELECT CAST(user_a AS VARCHAR) u FROM higgs
                                      UNION SELECT CAST(user_b AS VARCHAR) FROM higgs)
        ORDER BY 1, 2""").to_arrow_table().rename_columns(["source", "original", "category"])
    perm = rng.permutation(t.num_rows)
    ids_arrow = t.append_column("fresh", pa.array([ID_FORMAT.format(int(k)) for k in perm]))
    con.register("ids_arrow", ids_arrow)
    con.execute("CREATE OR REPLACE TEMP TABLE ids AS SELECT * FROM ids_arrow")
    con.unregister("ids_arrow")


def write_higgs(con, d: Path) -> dict[str, int]:
    """``d/higgs.parquet`` (fresh ids, ts floored to the minute) and ``d/ids.parquet``."""
    con.execute(f"COPY ids TO '{d / 'ids.parquet'}' (FORMAT parquet)")
    con.execute(f"""
        COPY (SELECT a.fresh AS user_a, b.fresh AS user_b, (h.ts // 60) * 60 AS ts,
                     h.interaction
              FROM higgs h
              JOIN ids a ON a.source = 'higgs' AND a.original = CAST(h.user_a AS VARCHAR)
              JOIN ids b ON b.source = 'higgs' AND b.original = CAST(h.user_b AS VARCHAR)
              ORDER BY ts, user_a, user_b, interaction)
        TO '{d / 'higgs.parquet'}' (FORMAT parquet)""")
    return {"higgs": con.execute("SELECT count(*) FROM higgs").fetchone()[0],
            # rows that flooring to the minute makes identical: ingest counts them duplicates
            "higgs_expected_duplicates": con.execute(
                "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT user_a, user_b, "
                "ts // 60, interaction FROM higgs)) FROM higgs").fetchone()[0]}


def ingest_scenario(exe: str, scn: Scenario, expected: dict[str, str], *args: str) -> dict:
    """Ingest files of the scenario with one CLI call; the per-file counts and the problems
    seen (``expected``: file name -> format; ``scn.rows``: rows per file stem)."""
    stdout = swarmscope(exe, scn.db, "ingest", *(scn.dir / n for n in expected), *args)
    files = {Path(p).name: c for p, c in ingest_counts(stdout).items()}
    problems = []
    for name, fmt in expected.items():
        f = files.get(name)
        if f is None:
            problems.append(f"{name}: no count line in ingest output")
            continue
        if f["format"] != fmt:
            problems.append(f"{name}: detected as {f['format']}, expected {fmt}")
        source = name.split(".")[0]
        expected_dups = scn.rows.get(f"{source}_expected_duplicates", 0)
        if f["rejected"] or f["duplicates"] != expected_dups:
            problems.append(f"{name}: {f['rejected']} rejected, {f['duplicates']} duplicates "
                            f"(expected 0 and {expected_dups})")
        if f["read"] != scn.rows[source]:
            problems.append(f"{name}: read {f['read']} of {scn.rows[source]} rows")
    return {"files": files, "problems": problems}


def main(argv: list[str] | None = None) -> None:
    """This file's helper modes (``MODES``), run as children by ``helper``."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    add_dir_args(ap)
    ap.add_argument("mode", nargs="+", help="_compare | _summary | _tk_edges, with arguments")
    run_mode(finish_dir_args(ap.parse_args(argv)), MODES)


if __name__ == "__main__":
    main()
