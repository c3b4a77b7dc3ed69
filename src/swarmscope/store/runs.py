"""Detect runs kept side by side: each run's ``detect_*`` tables in a schema of their own,
``run_<id>``, and the ``detect_*`` names bound to one run through the connection's search path
(that schema first, then ``main``), so that a reader queries ``detect_accounts`` and gets the
chosen run's, and a detect run writes its tables into its own schema without replacing any
other run's.

For any other DuckDB client, ``main`` holds a view of each table of the latest run under the
same name (:func:`show_latest`), so that ``SELECT * FROM detect_accounts`` in the DuckDB shell
reads the latest run. A swarmscope store bound to an earlier run that lacks one of those tables
(a table added by a later version) must not read the latest run's instead:
:func:`latest_only` names them, and the backend reports them absent.

A store of schema version 5 or older held one run's tables in ``main``: opened for writing they move to
their run's schema (:func:`keep_legacy_results`); opened read-only they are read where they are.
"""

from __future__ import annotations

import re

import duckdb

from swarmscope.store.sql import literal

PREFIX = "run_"
#: The table every detect run writes: a schema holding it holds a run's results.
MARKER = "detect_accounts"


def schema_of(run_id: int) -> str:
    """The schema of a detect run's tables."""
    return f"{PREFIX}{int(run_id)}"


def kept_runs(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Run id -> schema of every detect run that finished and whose tables the store holds,
    oldest first (a version-4 store's one run: ``main``)."""
    found = {}
    for (schema,) in con.execute(
            "SELECT schema_name FROM duckdb_tables() WHERE database_name = current_database() "
            f"AND table_name = '{MARKER}'").fetchall():
        if schema == "main":
            run_id = con.execute(f"SELECT max(run_id) FROM main.{MARKER}").fetchall()[0][0]
        elif (run_id := _run_of(schema)) is None:
            continue
        found[run_id] = schema
    finished = _finished(con)
    return {r: found[r] for r in sorted(found) if r in finished}


def _run_of(schema: str) -> int | None:
    """The run id of a run's schema (``run_<id>``); None for any other schema."""
    m = re.fullmatch(f"{PREFIX}([0-9]+)", schema)
    return int(m[1]) if m else None


def _finished(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The ids of the detect runs that finished."""
    return {r[0] for r in con.execute(
        "SELECT run_id FROM runs WHERE command = 'detect' AND status = 'ok'").fetchall()}


def bind(con: duckdb.DuckDBPyConnection, schema: str | None) -> None:
    """Resolve unqualified names in ``schema`` first, then in ``main`` (``None``: ``main``
    only); new tables go to the first."""
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    path = [schema] if schema and schema != "main" else []
    con.execute("SET search_path = " + literal(",".join(f'"{catalog}"."{s}"'
                                                        for s in [*path, "main"])))


def create(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """A fresh, empty schema for the results of ``run_id``, bound."""
    con.execute(f"CREATE SCHEMA {schema_of(run_id)}")
    bind(con, schema_of(run_id))


def discard(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Drop the schema of ``run_id`` and what it holds."""
    con.execute(f"DROP SCHEMA IF EXISTS {schema_of(run_id)} CASCADE")


def discard_unfinished(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the schemas of detect runs that never finished: a run killed after storing some
    of its tables (SIGKILL, power loss) leaves them, and a store open for writing has no other
    writer, so such a run is dead and what it wrote is never shown."""
    finished = _finished(con)
    for (schema,) in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            ).fetchall():
        if (run_id := _run_of(schema)) is not None and run_id not in finished:
            discard(con, run_id)


def keep_legacy_results(con: duckdb.DuckDBPyConnection) -> None:
    """Schema upgrade 5 -> 6: move the ``detect_*`` tables of ``main`` (the one run a store
    of version 5 or older kept) to their run's schema."""
    tables = _legacy_tables(con)
    if not tables:
        return
    run_id = con.execute(f"SELECT max(run_id) FROM main.{MARKER}").fetchall()[0][0]
    if run_id is None:
        run_id = con.execute("SELECT coalesce(max(run_id), 0) FROM runs "
                             "WHERE command = 'detect'").fetchall()[0][0]
    schema = schema_of(run_id)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in tables:
        con.execute(f"CREATE TABLE {schema}.{table} AS SELECT * FROM main.{table}")
        con.execute(f"DROP TABLE main.{table}")
        con.execute(f"CREATE VIEW main.{table} AS SELECT * FROM {schema}.{table}")


def show_latest(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the views in ``main`` of the latest kept run's tables."""
    for name in _main_views(con):
        con.execute(f"DROP VIEW main.{name}")
    kept = kept_runs(con)
    if kept and kept[max(kept)] != "main":
        schema = kept[max(kept)]
        for name in _tables(con, schema):
            con.execute(f"CREATE VIEW main.{name} AS SELECT * FROM {schema}.{name}")


def latest_only(con: duckdb.DuckDBPyConnection, schema: str | None) -> set[str]:
    """The views of :func:`show_latest` that the run in ``schema`` has no table for."""
    return set(_main_views(con)) - set(_tables(con, schema)) if schema else set()


def _main_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND starts_with(view_name, 'detect_')").fetchall()]


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND starts_with(table_name, 'detect_') ORDER BY 1",
        [schema]).fetchall()]


def _legacy_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return _tables(con, "main")
