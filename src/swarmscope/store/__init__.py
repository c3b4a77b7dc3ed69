"""The store: one DuckDB file holding the canonical tables, the rejects and the run log.

Tables (every column in :mod:`swarmscope.store.schema`, and ``docs/store.md``):

- ``posts``: one row per post, unique on (platform, post_id).
- ``accounts``: one row per account, unique on (platform, account_id).
- ``account_labels``: labels an input carries about an account (name, value).
- ``post_deletions``: when a post was seen deleted, where the input knows (``deleted_at``);
  added to a store of an earlier swarmscope when it is next opened for writing.
- ``entities``: what a post contains or points at (hashtag, url, domain, mention, media, object).
- ``account_keys``, ``object_keys``: the dictionaries that give every account and every object
  (entity value, reposted or replied-to object) an integer key at ingest, so that the co-action
  engine scans integers.
- ``rejects``: every input record that could not be stored, with file, line, field and reason.
- ``runs``: every command run on the store, with its version, parameters, seed and the
  SHA-256 of every input file.
- ``meta``: the schema version, checked on open.
- The results of later stages: ``pairs`` writes ``pair_runs``, ``pair_edges`` (read them through
  the view ``edges``), ``evidence`` and ``popular_objects``; ``detect`` its ``detect_*`` tables,
  each run's in a schema of its own (``run_<id>``, :mod:`swarmscope.store.runs`): the
  ``detect_*`` names show the latest finished run, or the one chosen with
  :meth:`Store.use_run`.

Stages reach the store through :attr:`Store.db`, a :class:`~swarmscope.store.backend.Backend`;
``Store.con`` is the DuckDB connection itself, for a user's own queries.

Uniqueness is kept by the ingest stage, which holds the store's write lock; DuckDB's own file
lock makes a second writing process fail with :class:`StoreInUseError` instead of damaging the
file. Ingest writes in transactions of whole partitions of a file, so a killed process leaves
the store consistent.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from swarmscope import __version__
from swarmscope.errors import StoreInUseError, StoreVersionError, SwarmscopeError
from swarmscope.params import BOOL, MEMORY, TEXT, Interval, validate_dataclass
from swarmscope.store import runs
from swarmscope.store.backend import Backend, DuckDBBackend
from swarmscope.store.schema import (CANONICAL, SCHEMA_VERSION, UPGRADABLE_VERSIONS, UPGRADES,
                                     create_sql, keyed_evidence_sql)
from swarmscope.store.sql import literal

DEFAULT_DB = "swarmscope.duckdb"
#: The name the store is attached under in its connection.
CATALOG = "store"
#: The least --memory-limit: below it the engine fails at its first allocations.
MIN_MEMORY = 100 * 10**6

CANONICAL_TABLES = ("posts", "accounts", "account_labels", "entities", "rejects", "runs")


@dataclass(frozen=True)
class Settings:
    """Engine settings; ``None`` leaves DuckDB's own default. ``debug_steps`` times every
    named step of the stages (:attr:`Backend.steps`)."""

    memory_limit: str | None = None
    temp_directory: str | None = None
    threads: int | None = None
    debug_steps: bool = False

    CONSTRAINTS: ClassVar[dict[str, list]] = {
        "memory_limit": [MEMORY, None], "temp_directory": [TEXT, None],
        "threads": [Interval(1, None, integer=True), None], "debug_steps": [BOOL]}

    def __post_init__(self) -> None:
        validate_dataclass(self, "the store settings")


def default_db_path() -> str:
    """``$SWARMSCOPE_DB`` if set, else ``swarmscope.duckdb`` in the working directory."""
    return os.environ.get("SWARMSCOPE_DB") or DEFAULT_DB


class Store:
    """An open swarmscope store.

    Parameters
    ----------
    path : str or Path
        The DuckDB file; created (with the schema) when missing unless ``read_only``.
    read_only : bool
        Open for reading; several readers may share a store, a writer excludes everyone.
    settings : Settings
        Memory limit, temporary directory and threads for the engine.

    Raises
    ------
    StoreInUseError
        Another process has the store open for writing.
    StoreVersionError
        The store's schema version is not the one this swarmscope writes (or cannot be
        read), or the file is a DuckDB database of another application: refused before
        anything is written to it.
    SwarmscopeError
        The file is no DuckDB database, or a setting is unusable (a memory limit below
        :data:`MIN_MEMORY`, a temporary directory that is missing or not writable).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 settings: Settings = Settings()) -> None:
        self.path = Path(path)
        self.settings = settings
        #: The detect run whose tables the ``detect_*`` names show (None: no run kept).
        self.run: int | None = None
        if read_only and not self.path.exists():
            raise SwarmscopeError(
                f"no store at {self.path}: ingest data first (swarmscope --db {self.path} ingest FILE)")
        # the store is attached under a name of ours, never named after the file: a store
        # called scratch.duckdb would collide with ingest's scratch database
        self.con = duckdb.connect()
        try:
            self._configure()
            self.con.execute(f"ATTACH {literal(str(self.path))} AS {CATALOG}"
                             + (" (READ_ONLY)" if read_only else ""))
            self.con.execute(f"USE {CATALOG}")
            self.db: Backend = DuckDBBackend(self.con, debug_steps=settings.debug_steps)
            if read_only:
                self._check_version()
            else:
                self._create_or_check()
            if runs.kept_runs(self.con):
                self.use_run()
        except BaseException as exc:
            self.con.close()
            if isinstance(exc, duckdb.IOException):
                raise _open_error(self.path, exc) from None
            if isinstance(exc, duckdb.Error):
                raise SwarmscopeError(f"cannot open store {self.path}: {str(exc).splitlines()[0]}"
                                      "; choose another --db") from None
            raise

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _configure(self) -> None:
        """The engine settings, checked here rather than at the first spill or allocation."""
        s = self.settings
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        # a transaction that writes more than this goes straight into the file at commit
        # (a checkpoint) instead of through the write-ahead log first: written once, not twice
        self.con.execute("SET checkpoint_threshold = '1MB'")
        if s.memory_limit:
            if memory_bytes(s.memory_limit) < MIN_MEMORY:
                raise SwarmscopeError(f"--memory-limit {s.memory_limit} is below the "
                                      f"{MIN_MEMORY // 10**6}MB the engine needs: give e.g. 2GB")
            self.con.execute(f"SET memory_limit = {literal(s.memory_limit)}")
        temp = Path(s.temp_directory) if s.temp_directory else Path(f"{self.path}.tmp")
        if s.temp_directory:
            _check_temp_dir(temp)
        self.con.execute(f"SET temp_directory = {literal(str(temp))}")
        if s.threads:
            self.con.execute(f"SET threads = {int(s.threads)}")

    def _create_or_check(self) -> None:
        if self._has_table("meta"):
            found = self._check_version()
            with self.db.transaction():
                for version in range(found, SCHEMA_VERSION):
                    for table, statements in UPGRADES[version]:
                        if not self._has_table(table):
                            continue
                        if callable(statements):
                            statements(self.con)
                            continue
                        for sql in statements:
                            self.con.execute(sql)
                for sql in create_sql(CANONICAL):  # tables added since without an upgrade
                    self.con.execute(sql)
                self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 [str(SCHEMA_VERSION)])
            return
        others = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal "
            "AND database_name = current_database() ORDER BY 1").fetchall()
        if others:
            shown = ", ".join(r[0] for r in others[:5]) + (", …" if len(others) > 5 else "")
            raise StoreVersionError(
                f"{self.path} is a DuckDB database but not a swarmscope store (it holds "
                f"{shown} and no meta table); nothing was written to it: choose another --db path")
        with self.db.transaction():
            for sql in create_sql(CANONICAL):
                self.con.execute(sql)
            self.con.execute("CREATE SEQUENCE IF NOT EXISTS run_ids START 1")
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_by', ?)",
                             [str(SCHEMA_VERSION), __version__])

    def _has_table(self, name: str) -> bool:
        """A base table (not a view) of that name in the store."""
        return self._one(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name = ?", [name])[0] > 0

    def _one(self, sql: str, params: list | None = None) -> tuple | None:
        """The first row of a query (None without), its result read to the end: a result
        left open would make the user's next ``store.con.sql(…)`` fail."""
        rows = self.con.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def _check_version(self) -> int:
        try:
            row = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        except duckdb.CatalogException:
            raise StoreVersionError(
                f"{self.path} is a DuckDB file but not a swarmscope store (no meta table): "
                "choose another --db path") from None
        value = row[0] if row else None
        found = int(value) if str(value).isdigit() else value   # a corrupt one is shown
        if found != SCHEMA_VERSION and found not in UPGRADABLE_VERSIONS:
            raise StoreVersionError(
                f"store {self.path} has schema version {found}, this swarmscope "
                f"({__version__}) reads version {SCHEMA_VERSION}: re-ingest into a new store")
        return found

    # -- queries for a notebook --------------------------------------------------------------
    def arrow(self, sql: str, params: list | None = None) -> pa.Table:
        """The whole result of a query as a :class:`pyarrow.Table`: unlike DuckDB's
        ``.arrow()`` (a reader that streams from the connection) it leaves no result open, so
        the next query works."""
        return self.db.to_arrow(sql, params)

    def df(self, sql: str, params: list | None = None) -> Any:
        """The whole result of a query as a pandas DataFrame (``pip install
        'swarmscope[pandas]'``)."""
        return to_pandas(self.arrow(sql, params))

    # -- detect runs -----------------------------------------------------------------------
    def use_run(self, run: int | None = None) -> int:
        """Bind the ``detect_*`` names to the kept detect run ``run`` (default: the latest);
        returns its id."""
        self.run, schema = self.kept_run(run)
        runs.bind(self.con, schema)
        self.db.absent = runs.latest_only(self.con, schema)
        self._evidence_by_key(schema)
        return self.run

    def _evidence_by_key(self, schema: str) -> None:
        """A store older than version 7 opened read-only (so not upgraded) holds its evidence
        readable, not by key: a temporary view of it by key, as every reader reads it."""
        self.con.execute("DROP VIEW IF EXISTS temp.main.detect_evidence")
        columns = {r[0] for r in self.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = 'detect_evidence'", [schema]).fetchall()}
        if "account_a" in columns:
            self.con.execute("CREATE TEMP VIEW detect_evidence AS " + keyed_evidence_sql(
                f'{CATALOG}."{schema}".detect_evidence', "e.run_id, e.kind, e.window_s",
                ", e.basis"))

    def kept_run(self, run: int | None = None) -> tuple[int, str]:
        """The id and schema of the kept detect run ``run`` (default: the latest). Raises
        :class:`SwarmscopeError` naming the kept runs when there is none or ``run`` is not
        one of them."""
        kept = runs.kept_runs(self.con)
        if not kept:
            raise SwarmscopeError("no detection results in this store: run `swarmscope detect` "
                                  "first")
        if run is None:
            run = max(kept)
        elif run not in kept:
            status = self._one("SELECT command, status FROM runs WHERE run_id = ?", [run])
            why = ("is no run of this store" if status is None else
                   f"was an {status[0]} run, not detect" if status[0] == "ingest" else
                   f"was a {status[0]} run, not detect" if status[0] != "detect" else
                   f"did not finish (status {status[1]}): it kept no results")
            raise SwarmscopeError(
                f"run {run} {why}; the detect runs kept are "
                f"{', '.join(map(str, kept))} (swarmscope runs lists them)")
        return run, kept[run]

    def new_results(self, run_id: int) -> None:
        """A fresh schema for the tables of detect run ``run_id``, bound: what it writes
        replaces no other run's; the tables of runs killed before they finished go."""
        runs.discard_unfinished(self.con)
        runs.create(self.con, run_id)
        self.db.absent = set()   # its stages read only what they wrote before
        self.run = run_id

    def show_latest(self) -> None:
        """After a detect run kept its results: the views of ``main`` show them to any DuckDB
        client (:func:`swarmscope.store.runs.show_latest`)."""
        with self.db.transaction():
            runs.show_latest(self.con)
        self.use_run(self.run)

    def discard_results(self, run_id: int) -> None:
        """Drop what the failed detect run ``run_id`` wrote (where the engine still can) and
        bind the latest kept run again."""
        try:
            runs.discard(self.con, run_id)
        except duckdb.Error:
            pass   # a failed run's tables are never shown: no kept run is 'failed'
        kept = runs.kept_runs(self.con)
        runs.bind(self.con, kept[max(kept)] if kept else None)
        self.db.absent = set()
        self.run = max(kept) if kept else None

    # -- run log ---------------------------------------------------------------------------
    def start_run(self, command: str, parameters: dict[str, Any], *, seed: int | None = None,
                  inputs: list[dict[str, Any]] | None = None) -> int:
        """Record that ``command`` started; returns its run id."""
        run_id = self._one("SELECT nextval('run_ids')")[0]
        self.con.execute(
            "INSERT INTO runs (run_id, command, version, parameters, seed, started_at, status, inputs)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            [run_id, command, __version__, json.dumps(parameters, default=str), seed, utc_now(),
             inputs or []])
        return run_id

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any] | None = None) -> None:
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            [utc_now(), status, json.dumps(summary or {}, default=str), run_id])

    def add_run_input(self, run_id: int, path: str, sha256: str, size: int) -> None:
        self.con.execute(
            "UPDATE runs SET inputs = list_append(inputs, {'path': ?, 'sha256': ?, 'bytes': ?}) "
            "WHERE run_id = ?", [path, sha256, size, run_id])


def to_pandas(table: pa.Table) -> Any:
    """An Arrow table as a pandas DataFrame, or a clear error without pandas."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise SwarmscopeError("pandas is not installed: pip install 'swarmscope[pandas]' (or "
                              "use .arrow(), which needs nothing more)") from None
    return table.to_pandas()


def memory_bytes(size: str) -> float:
    """The bytes of a memory size as :data:`~swarmscope.params.MEMORY` spells it (``80%`` of
    this machine's memory)."""
    number, unit = re.fullmatch(r"([\d.]+)\s*(%|[KMGT]?I?B)", size.strip().upper()).groups()
    if unit == "%":
        return float(number) / 100 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    power = "BKMGT".index(unit[0])
    return float(number) * (1024 if "I" in unit else 1000) ** power


def _check_temp_dir(path: Path) -> None:
    """--temp-dir must be a directory the engine can write to (it spills there later)."""
    if not path.is_dir():
        raise SwarmscopeError(f"--temp-dir {path} is not a directory: create it or choose "
                              "another")
    try:
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise SwarmscopeError(f"--temp-dir {path} is not writable ({exc.strerror}): choose "
                              "another") from None


def utc_now() -> datetime:
    """Now in UTC, naive (as every stored time)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)



def _open_error(path: Path, exc: duckdb.IOException) -> SwarmscopeError:
    text = str(exc)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        who = f" (process {pid.group(1)})" if pid else ""
        return StoreInUseError(
            f"store {path} is in use by another process{who}: wait for it to finish, "
            "or use another --db")
    if "not a valid DuckDB database" in text or "database file" in text:
        return SwarmscopeError(f"{path} is not a swarmscope store (not a DuckDB file): "
                               "choose another --db path")
    return SwarmscopeError(f"cannot open store {path}: {text.splitlines()[0]}; check the path "
                           "or choose another --db")
