"""The store: one DuckDB file holding the canonical tables, the rejects and the run log.

Tables (columns documented in the README, "The store"):

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
  the view ``edges``), ``evidence`` and ``popular_objects`` (:data:`RESULT_TABLES`).

Uniqueness is kept by the ingest stage, which holds the store's write lock; DuckDB's own file
lock makes a second writing process fail with :class:`StoreInUseError` instead of damaging the
file. Ingest writes in transactions of whole partitions of a file, so a killed process leaves
the store consistent.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from swarmscope import __version__
from swarmscope.sql import literal
from swarmscope.errors import StoreInUseError, StoreVersionError, SwarmscopeError

#: Schema 3 stores pairs' edges by account key (``pair_edges``, ``pair_runs``, the view
#: ``edges``); a schema-2 store (``edges`` a table) is read as it is and upgraded when it is next
#: opened for writing.
SCHEMA_VERSION = 3
UPGRADABLE_VERSIONS = (2,)
DEFAULT_DB = "swarmscope.duckdb"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS posts (
    platform VARCHAR NOT NULL,
    post_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,      -- UTC, millisecond precision where the input has it
    kind VARCHAR NOT NULL,              -- post | repost | reply | quote
    text VARCHAR,
    lang VARCHAR,
    client VARCHAR,
    parent_post_id VARCHAR,             -- the post this one reposts, replies to or quotes
    parent_account_id VARCHAR,
    quoted_post_id VARCHAR,             -- the quoted post, when any (also for a quoting reply)
    latitude DOUBLE,
    longitude DOUBLE,
    source_file VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,         -- 1-based record number in source_file
    run_id BIGINT NOT NULL,
    account_key INTEGER NOT NULL,       -- the author in account_keys
    parent_key BIGINT                   -- what it reposts or replies to, in object_keys
);
CREATE TABLE IF NOT EXISTS accounts (
    platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    handle VARCHAR,
    display_name VARCHAR,
    description VARCHAR,
    created_at TIMESTAMP,
    followers BIGINT,
    following BIGINT,
    reported_location VARCHAR,
    run_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_labels (
    platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    value VARCHAR
);
CREATE TABLE IF NOT EXISTS post_deletions (
    platform VARCHAR NOT NULL,
    post_id VARCHAR NOT NULL,
    deleted_at TIMESTAMP NOT NULL       -- UTC
);
CREATE TABLE IF NOT EXISTS entities (
    platform VARCHAR NOT NULL,
    post_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- hashtag | url | domain | mention | media | object
    value VARCHAR NOT NULL,
    position INTEGER,                   -- order within the post, from 0
    value_key BIGINT NOT NULL           -- the value in object_keys
);
CREATE TABLE IF NOT EXISTS account_keys (
    account_key INTEGER PRIMARY KEY,
    platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS object_keys (
    object_key BIGINT NOT NULL,         -- unique, as value
    value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    run_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT,                        -- physical line (CSV) or line where the record starts
    field VARCHAR,
    reason VARCHAR NOT NULL,
    excerpt VARCHAR                     -- the start of the rejected record, for a human
);
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY,
    command VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    parameters JSON,
    seed BIGINT,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,            -- running | ok | failed (a killed run stays 'running')
    inputs STRUCT(path VARCHAR, sha256 VARCHAR, bytes BIGINT)[],
    summary JSON
);
"""

#: The co-action results of ``swarmscope pairs``, created by its first run. Edges are stored by
#: account key (``pair_edges``), each run's kind, semantics and window once (``pair_runs``); the
#: view ``edges`` gives them with account ids, in the columns of ``engine.EDGE_COLUMNS``.
RESULT_TABLES = """
CREATE TABLE IF NOT EXISTS pair_runs (
    run_id BIGINT, kind VARCHAR, semantics VARCHAR, window_s DOUBLE);
CREATE TABLE IF NOT EXISTS pair_edges (
    run_id BIGINT, account_key_a INTEGER, account_key_b INTEGER,
    weight DOUBLE, shared_objects BIGINT, events BIGINT, a_actions BIGINT, b_actions BIGINT,
    a_first BIGINT, b_first BIGINT, mean_dt_s DOUBLE, min_dt_s DOUBLE, symmetry DOUBLE,
    cosine DOUBLE, popular_events BIGINT);
CREATE VIEW IF NOT EXISTS edges AS
SELECT run_id, kind, semantics, window_s, ka.platform AS platform_a, ka.account_id AS account_a,
       kb.platform AS platform_b, kb.account_id AS account_b, weight, shared_objects, events,
       a_actions, b_actions, a_first, b_first, mean_dt_s, min_dt_s, symmetry, cosine,
       popular_events
FROM pair_edges JOIN pair_runs USING (run_id)
JOIN account_keys ka ON ka.account_key = account_key_a
JOIN account_keys kb ON kb.account_key = account_key_b;
CREATE TABLE IF NOT EXISTS evidence (
    run_id BIGINT, kind VARCHAR, account_a VARCHAR, account_b VARCHAR, object VARCHAR,
    post_a VARCHAR, ts_a TIMESTAMP, post_b VARCHAR, ts_b TIMESTAMP, dt_s DOUBLE);
CREATE TABLE IF NOT EXISTS popular_objects (
    run_id BIGINT, kind VARCHAR, object VARCHAR, accounts BIGINT, actions BIGINT,
    window_pairs HUGEINT, first_ts TIMESTAMP, last_ts TIMESTAMP, mode VARCHAR);
"""

#: Tables added since schema 2 without changing what the older ones hold: created when a store
#: is opened for writing, so older stores keep working.
MIGRATIONS = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS post_deletions"):
                    SCHEMA.index("CREATE TABLE IF NOT EXISTS entities")]

CANONICAL_TABLES = ("posts", "accounts", "account_labels", "entities", "rejects", "runs")


@dataclass(frozen=True)
class Settings:
    """Engine settings; ``None`` leaves DuckDB's own default."""

    memory_limit: str | None = None
    temp_directory: str | None = None
    threads: int | None = None


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
        The store's schema version is not the one this swarmscope writes.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 settings: Settings = Settings()) -> None:
        self.path = Path(path)
        self.settings = settings
        if read_only and not self.path.exists():
            raise SwarmscopeError(
                f"no store at {self.path}: ingest data first (swarmscope --db {self.path} ingest FILE)")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise _open_error(self.path, exc) from None
        except duckdb.Error as exc:
            raise SwarmscopeError(f"cannot open store {self.path}: {exc}") from None
        self._configure()
        if read_only:
            self._check_version()
        else:
            self._create_or_check()

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _configure(self) -> None:
        s = self.settings
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        # a transaction that writes more than this goes straight into the file at commit
        # (a checkpoint) instead of through the write-ahead log first: written once, not twice
        self.con.execute("SET checkpoint_threshold = '1MB'")
        if s.memory_limit:
            self.con.execute(f"SET memory_limit = {literal(s.memory_limit)}")
        if s.temp_directory:
            self.con.execute(f"SET temp_directory = {literal(s.temp_directory)}")
        if s.threads:
            self.con.execute(f"SET threads = {int(s.threads)}")

    def _create_or_check(self) -> None:
        if self._has_table("meta"):
            if self._check_version() != SCHEMA_VERSION:
                self._upgrade()
            self.con.execute(MIGRATIONS)
            return
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(SCHEMA)
        self.con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_by', ?)",
                         [str(SCHEMA_VERSION), __version__])
        self.con.execute("COMMIT")

    def _has_table(self, name: str) -> bool:
        """A base table (not a view) of that name in the store."""
        return self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name = ?", [name]).fetchone()[0] > 0

    def _check_version(self) -> int | None:
        try:
            row = self.con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.CatalogException:
            raise StoreVersionError(
                f"{self.path} is a DuckDB file but not a swarmscope store (no meta table): "
                "choose another --db path") from None
        found = int(row[0]) if row else None
        if found != SCHEMA_VERSION and found not in UPGRADABLE_VERSIONS:
            raise StoreVersionError(
                f"store {self.path} has schema version {found}, this swarmscope "
                f"({__version__}) reads version {SCHEMA_VERSION}: re-ingest into a new store")
        return found

    def _upgrade(self) -> None:
        """Schema 2 -> 3: the table ``edges`` becomes ``pair_runs`` and ``pair_edges``."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if self._has_table("edges"):
                con.execute("ALTER TABLE edges RENAME TO edges_v2")
                con.execute(RESULT_TABLES)
                con.execute("""
                    INSERT INTO pair_runs SELECT DISTINCT run_id, kind, semantics, window_s
                    FROM edges_v2;
                    INSERT INTO pair_edges
                    SELECT run_id, ka.account_key, kb.account_key, weight, shared_objects,
                           events, a_actions, b_actions, a_first, b_first, mean_dt_s, min_dt_s,
                           symmetry, cosine, popular_events
                    FROM edges_v2
                    JOIN account_keys ka ON ka.platform = platform_a AND ka.account_id = account_a
                    JOIN account_keys kb ON kb.platform = platform_b AND kb.account_id = account_b;
                    DROP TABLE edges_v2;""")
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                        [str(SCHEMA_VERSION)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- run log ---------------------------------------------------------------------------
    def start_run(self, command: str, parameters: dict[str, Any], *, seed: int | None = None,
                  inputs: list[dict[str, Any]] | None = None) -> int:
        """Record that ``command`` started; returns its run id."""
        run_id = self.con.execute("SELECT nextval('run_ids')").fetchone()[0]
        self.con.execute(
            "INSERT INTO runs (run_id, command, version, parameters, seed, started_at, status, inputs)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            [run_id, command, __version__, json.dumps(parameters, default=str), seed, _now(),
             inputs or []])
        return run_id

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any] | None = None) -> None:
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            [_now(), status, json.dumps(summary or {}, default=str), run_id])

    def add_run_input(self, run_id: int, path: str, sha256: str, size: int) -> None:
        self.con.execute(
            "UPDATE runs SET inputs = list_append(inputs, {'path': ?, 'sha256': ?, 'bytes': ?}) "
            "WHERE run_id = ?", [path, sha256, size, run_id])


def _now() -> datetime:
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
    return SwarmscopeError(f"cannot open store {path}: {text.splitlines()[0]}")
