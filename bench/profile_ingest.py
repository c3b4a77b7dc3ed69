"""Where an ingest spends its time and memory: every SQL statement, timed (a profiling aid).

Runs ``swarmscope.ingest.ingest`` in this process with the store's connection wrapped, so that
each ``execute`` is timed and the process's peak RSS is measured per statement (the kernel's
high-water mark is reset before each one through ``/proc/self/clear_refs``). Prints one JSON
line per statement slower than ``--min-seconds`` (wall and CPU seconds, RSS before, peak RSS
during), and for a statement that fails, the error with DuckDB's memory use by tag
(``duckdb_memory()``: [in memory MiB, spilled MiB]); then a total. Nothing under ``src/``
changes.

    .venv/bin/python bench/profile_ingest.py --db bench/out/prof.duckdb --memory-limit 1GB FILE...
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ConnectionProxy, emit, one_line, ss  # noqa: E402

ingest, Settings, Store = ss.ingest, ss.Settings, ss.Store


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class TimedConnection(ConnectionProxy):
    """A DuckDB connection whose ``execute`` calls are timed; everything else passes through."""

    def __init__(self, con, min_seconds: float, sql_chars: int = 160) -> None:
        super().__init__(con)
        self._min = min_seconds
        self._chars = sql_chars
        self.total = 0.0
        self.peak_kib = 0

    def execute(self, sql, *args, **kwargs):
        reset = _reset_peak()
        rss0 = _status("VmRSS")
        cpu0 = _cpu()
        t0 = time.perf_counter()
        try:
            return self._con.execute(sql, *args, **kwargs)
        except Exception as exc:
            emit({"failed_after_s": round(time.perf_counter() - t0, 2),
                  "error": str(exc).splitlines()[0], "sql": one_line(sql, 2000),
                  "duckdb_memory_mib": self._memory(), "temp_files_mib": self._temp_files()})
            raise
        finally:
            dt = time.perf_counter() - t0
            self.total += dt
            peak = _status("VmHWM")
            self.peak_kib = max(self.peak_kib, peak)
            if dt >= self._min:
                emit({"seconds": round(dt, 2), "cpu_s": round(_cpu() - cpu0, 2),
                      "rss_before_mib": round(rss0 / 1024),
                      "peak_rss_mib": round(peak / 1024) if reset else None,
                      "sql": one_line(sql, self._chars)})

    def _memory(self) -> dict | str:
        """DuckDB's own memory use by tag (what holds the buffer pool when a statement fails)."""
        try:
            rows = self._con.execute(
                "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() "
                "WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0").fetchall()
        except Exception as exc:   # noqa: BLE001
            return f"unavailable: {exc}"
        return {tag: [round(m / 2**20, 1), round(t / 2**20, 1)] for tag, m, t in rows}

    def _temp_files(self) -> float | str:
        try:
            return round(self._con.execute(
                "SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()").fetchone()[0]
                / 2**20, 1)
        except Exception as exc:   # noqa: BLE001
            return f"unavailable: {exc}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--format", default=None)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--sql-chars", type=int, default=160, help="how much of each statement")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with Store(args.db, settings=Settings(memory_limit=args.memory_limit,
                                          threads=args.threads)) as store:
        timed = TimedConnection(store.con, args.min_seconds, args.sql_chars)
        store.con = timed
        report = ingest(store, [Path(p) for p in args.paths], format=args.format)
    emit({"total_seconds": round(time.perf_counter() - t0, 2),
          "sql_seconds": round(timed.total, 2), "totals": report.totals,
          "failed": report.failed, "peak_rss_mib": round(timed.peak_kib / 1024)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
