"""The backend seam: every stage runs its SQL through a :class:`Backend`, never a raw connection.

Modelled on splink's ``DatabaseAPI`` (execution) beside its ``SplinkDialect`` (SQL text, here
:mod:`swarmscope.store.dialect`). A stage reads named tables and writes named tables: each table
it makes is one named step (:meth:`Backend.materialise`), small numeric work goes to and from
Arrow (:meth:`Backend.to_arrow`, :meth:`Backend.register_arrow`). With ``debug_steps`` every
step is timed and its rows counted (:attr:`Backend.steps`), which ``--debug-steps`` prints.

Example::

    from swarmscope import Store
    with Store("case.duckdb", debug_steps=True) as store:
        store.db.materialise("big_accounts", "SELECT account_key FROM posts GROUP BY 1 "
                                             "HAVING count(*) > 100")
        print(store.db.steps[-1])   # Step(name='big_accounts', seconds=…, rows=…)
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb
import pyarrow as pa

from swarmscope.outputs import atomic_write, output_dir
from swarmscope.store.dialect import DuckDBDialect, Dialect
from swarmscope.store.schema import TABLES
from swarmscope.store.sql import literal


@dataclass(frozen=True)
class Step:
    """One timed step: a materialised table (with its rows) or a named block of work."""

    name: str
    seconds: float
    rows: int | None = None


class Backend(ABC):
    """Executes a stage's SQL; ``dialect`` holds the SQL text that differs between engines."""

    name: str
    dialect: Dialect

    def __init__(self, *, debug_steps: bool = False) -> None:
        self.debug_steps = debug_steps
        self.steps: list[Step] = []

    # -- execution -------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement for its effect."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run a query; its rows as tuples."""

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first column of the first row (None without rows)."""
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @abstractmethod
    def to_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query; the result as an Arrow table that holds no connection."""

    @abstractmethod
    def write_parquet(self, sql: str, path: str | Path) -> None:
        """Write the result of a query to a Parquet file."""

    def write_output(self, sql: str, out: str | Path, name: str) -> None:
        """Write the result of a query as ``out/<name>.parquet``, whole or not at all."""
        with atomic_write(output_dir(out) / f"{name}.parquet") as tmp:
            self.write_parquet(sql, tmp)

    @abstractmethod
    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make ``name`` a temporary table holding a copy of ``table``."""

    @abstractmethod
    def register_function(self, name: str, fn: Callable[..., pa.Array], args: Sequence[str],
                          returns: str) -> None:
        """Make ``fn`` callable from SQL as ``name``: a vectorised function of Arrow arrays
        (one per argument, of the SQL types ``args``) to an Arrow array of the SQL type
        ``returns`` (``VARCHAR``, ``BLOB``, ``BIGINT``, ``BOOLEAN``), called on batches of
        rows, never on one row at a time; replaces an earlier function of that name."""

    @abstractmethod
    def has_table(self, name: str, *, temporary: bool | None = None) -> bool:
        """A table (or view) of that name exists where an unqualified name finds it (for the
        store's: the schemas of the search path); ``temporary`` narrows to one kind."""

    @abstractmethod
    def columns(self, name: str) -> list[str]:
        """The column names of a table or view."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""

    # -- named steps -----------------------------------------------------------------------
    def materialise(self, name: str, sql: str, *, temporary: bool = True) -> None:
        """The step ``name``: (re)create the table ``name`` as the result of ``sql``."""
        with self.step(name, table=name):
            self.execute(f"CREATE OR REPLACE {'TEMP ' if temporary else ''}TABLE {name} AS {sql}")

    def materialise_numbered(self, name: str, sql: str, order: Sequence[str],
                             column: str) -> None:
        """The step ``name``: the rows of ``sql`` with ``column`` first, numbered 1, 2, … in
        the order of the columns ``order`` (unique per row)."""
        self.materialise(name, f"SELECT CAST(row_number() OVER (ORDER BY {', '.join(order)}) "
                               f"AS BIGINT) AS {column}, * FROM ({sql}) numbered")

    def persist(self, name: str, sql: str) -> None:
        """The step ``name``: (re)create the store's result table ``name`` (of
        :data:`~swarmscope.store.schema.TABLES`) as the result of ``sql``, in the table's
        order (its stored order, for a table stored by key)."""
        table = TABLES[name]
        self.materialise(name, f"SELECT * FROM ({sql}) ORDER BY "
                               f"{table.stored_order or table.order}",
                         temporary=False)

    def append(self, name: str, sql: str) -> None:
        """The step ``name``: add the rows of ``sql`` to the temporary table ``name``."""
        with self.step(name, table=name):
            self.execute(f"INSERT INTO {name} {sql}")

    def view(self, name: str, sql: str) -> None:
        """(Re)create the temporary view ``name`` of ``sql``: evaluated where it is read."""
        self.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    @contextmanager
    def step(self, name: str, *, table: str | None = None) -> Iterator[None]:
        """Time a named block of work (recorded in :attr:`steps` in debug mode, with the rows
        of ``table`` when it made one)."""
        start = time.perf_counter()
        yield
        if self.debug_steps:
            seconds = time.perf_counter() - start
            rows = self.scalar(f"SELECT count(*) FROM {table}") if table else None
            self.steps.append(Step(name, seconds, rows))

    def drop(self, *names: str) -> None:
        """Drop the tables ``names`` where they exist."""
        for name in names:
            self.execute(f"DROP TABLE IF EXISTS {name}")


def arrow_function(fn: Callable[..., pa.Array], arity: int) -> Callable[..., pa.Array]:
    """``fn`` (a partial, say) as a function of exactly ``arity`` Arrow arrays, in its
    signature and type hints: what the engines read to call a vectorised function."""
    def call(*arrays: pa.Array) -> pa.Array:
        return fn(*arrays)
    params = [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=pa.Array) for i in range(arity)]
    call.__signature__ = inspect.Signature(params, return_annotation=pa.Array)  # type: ignore
    call.__annotations__ = {**{p.name: pa.Array for p in params}, "return": pa.Array}
    return call


class DuckDBBackend(Backend):
    """The embedded default: one DuckDB connection (the store's)."""

    name = "duckdb"
    dialect = DuckDBDialect()

    def __init__(self, con: duckdb.DuckDBPyConnection, *, debug_steps: bool = False) -> None:
        super().__init__(debug_steps=debug_steps)
        self.con = con
        #: Names that the search path finds but that :meth:`has_table` reports absent: the
        #: latest run's views, where the bound earlier run has no such table.
        self.absent: set[str] = set()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, params).fetchall()  # finished: the connection is free again

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def to_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        self.con.execute("SELECT 1").fetchall()  # finish a result a caller left unread
        return self.con.sql(sql, params=params).to_arrow_table()

    def write_parquet(self, sql: str, path: str | Path) -> None:
        self.con.execute(f"COPY ({sql}) TO {literal(str(path))} (FORMAT parquet)")

    def register_arrow(self, name: str, table: pa.Table) -> None:
        view = f"_arrow_{name}"
        self.con.register(view, table)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    def register_function(self, name: str, fn: Callable[..., pa.Array], args: Sequence[str],
                          returns: str) -> None:
        """DuckDB calls ``fn`` on each vector of rows (2,048), as Arrow (``type='arrow'``)."""
        call = arrow_function(fn, len(args))
        try:
            self.con.remove_function(name)
        except duckdb.InvalidInputException:
            pass   # not registered yet
        self.con.create_function(name, call, list(args), returns, type="arrow",
                                 null_handling="special")   # fn may return NULL

    def has_table(self, name: str, *, temporary: bool | None = None) -> bool:
        kind = "" if temporary is None else f"AND temporary = {str(temporary).lower()}"
        if name in self.absent and temporary is not True:
            return False
        return self.scalar(
            "SELECT count(*) FROM (SELECT table_name, temporary, database_name, schema_name "
            "FROM duckdb_tables() UNION ALL SELECT view_name, temporary, database_name, "
            "schema_name FROM duckdb_views() WHERE NOT internal) "
            f"WHERE table_name = ? {kind} AND (temporary OR database_name = current_database() "
            "AND (schema_name = current_schema() "
            "OR list_contains(current_schemas(false), schema_name)))", [name]) > 0

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            rollback(self.con)
            raise


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if the failure left one: an interrupted or failed
    COMMIT has already ended it (and a second error would hide the first)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass
