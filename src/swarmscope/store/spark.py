"""The Spark backend: the stages' SQL on Apache Spark, for data no single machine holds.

Spark has no transactions and no temporary tables: a materialised table is a temporary view of
a locally checkpointed DataFrame (memory, spilling to disk), computed when it is made, so that
a named step is one real pass over the data and later steps read its result, not its lineage. The SQL
that differs from DuckDB's is in :class:`~swarmscope.store.dialect.SparkDialect`.

Example::

    from pyspark.sql import SparkSession
    from swarmscope.store.spark import SparkBackend
    db = SparkBackend(SparkSession.builder.master("local[2]").getOrCreate())
    db.materialise("big_accounts", "SELECT account_key FROM posts GROUP BY 1 "
                                   "HAVING count(*) > 100")
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pyarrow as pa

from swarmscope.store.backend import Backend, arrow_function
from swarmscope.store.dialect import SparkDialect


def spark_session(master: str = "local[2]", config: dict[str, str] | None = None):
    """A Spark session as swarmscope needs it: UTC session time (timestamps are UTC
    throughout), Arrow transfers, no UI, double-quoted identifiers; ``config`` adds or
    overrides settings."""
    from pyspark.sql import SparkSession
    if master.startswith("local"):   # the Python workers of Arrow UDFs: this interpreter
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("swarmscope")
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.sql.shuffle.partitions": "8",
                # "p_repost" is a column, as in DuckDB; strings are always in single quotes
                "spark.sql.ansi.doubleQuotedIdentifiers": "true",
                # Spark 4.3's constraint propagation fails on a filter over the UNION ALL of
                # the per-kind traces ("key not found: ts#…"); the engine needs none of it
                "spark.sql.constraintPropagation.enabled": "false", **(config or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def start_session(master: str, config: dict[str, str] | None = None):
    """:func:`spark_session` for a command: a user error (no traceback) where pyspark is
    missing, no JVM starts or the master is unknown."""
    from swarmscope.errors import SwarmscopeError
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SwarmscopeError("--engine spark needs pyspark: pip install 'swarmscope[spark]' "
                              "(and Java 17)") from None
    try:
        return spark_session(master, config)
    except Exception as exc:  # pyspark's errors when no JVM starts or the master is unknown
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SwarmscopeError(f"cannot start Spark at {master} ({first}): Spark needs Java 17 "
                              "(java on the PATH or JAVA_HOME) and a reachable master") from None


#: The SQL types of :meth:`Backend.register_function` as Spark names them.
_SPARK_TYPES = {"VARCHAR": "string", "BLOB": "binary", "BIGINT": "bigint", "BOOLEAN": "boolean",
                "DOUBLE": "double"}


class SparkBackend(Backend):
    """The stages' SQL on a Spark session; tables are temporary views."""

    name = "spark"
    dialect = SparkDialect()

    def __init__(self, spark: Any, *, debug_steps: bool = False) -> None:
        super().__init__(debug_steps=debug_steps)
        self.spark = spark
        self._persisted: dict[str, Any] = {}

    def _sql(self, sql: str, params: Sequence[Any] | None):
        return self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._sql(sql, params).collect()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return [tuple(r) for r in self._sql(sql, params).collect()]

    def to_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self._sql(sql, params).toArrow()

    def write_parquet(self, sql: str, path: str | Path) -> None:
        """The result as a Parquet dataset (a directory of part files) at ``path``."""
        self.spark.sql(sql).write.mode("overwrite").parquet(str(path))

    def write_output(self, sql: str, out: str | Path, name: str) -> None:
        """The result as the Parquet dataset ``out/<name>.parquet`` (a directory of part files,
        in order; complete when it holds ``_SUCCESS``, by the Hadoop output committer), on a
        local path or any Hadoop URI."""
        self.write_parquet(sql, f"{str(out).rstrip('/')}/{name}.parquet")

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self._keep(name, self.spark.createDataFrame(table))

    def materialise(self, name: str, sql: str, *, temporary: bool = True) -> None:
        """The step ``name``: the view ``name`` of the persisted result of ``sql`` (Spark has
        no persistent tables of its own here: ``detect`` writes its results as Parquet)."""
        with self.step(name, table=name):
            self._keep(name, self.spark.sql(sql))

    def _keep(self, name: str, df: Any) -> None:
        """Compute ``df`` now and keep it (memory, spilling to disk) without its lineage, so
        that a table remade from itself (or a chain of stages) does not grow its plan."""
        from pyspark import StorageLevel
        df = df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        old = self._persisted.pop(name, None)
        df.createOrReplaceTempView(name)
        self._persisted[name] = df
        if old is not None:
            old.unpersist()

    def materialise_numbered(self, name: str, sql: str, order: Sequence[str],
                             column: str) -> None:
        """As on one machine, without a window over all rows (one task): the rows are
        range-partitioned by ``order``, counted per partition, and numbered within their
        partition from the count of the partitions before it."""
        from pyspark.sql import Window, functions as F
        with self.step(name, table=name):
            rows = self.spark.sql(sql)
            parts = int(self.spark.conf.get("spark.sql.shuffle.partitions"))
            ranged = rows.repartitionByRange(parts, *order).withColumn(
                "_part", F.spark_partition_id()).localCheckpoint(eager=True)
            offsets, before = [], 0
            for part, n in sorted(tuple(r) for r in ranged.groupBy("_part").count().collect()):
                offsets.append((part, before))
                before += n
            offsets = self.spark.createDataFrame(offsets, "_part INT, _before BIGINT")
            within = F.row_number().over(Window.partitionBy("_part").orderBy(*order))
            self._keep(name, ranged.join(F.broadcast(offsets), "_part").select(
                (F.col("_before") + within).cast("bigint").alias(column), *rows.columns))

    def register_function(self, name: str, fn: Callable[..., pa.Array], args: Sequence[str],
                          returns: str) -> None:
        """An Arrow UDF (``arrow_udf``, Spark 4.1): the executors' Python workers call ``fn`` on
        Arrow batches (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows), so they need
        swarmscope installed."""
        from pyspark.sql.functions import arrow_udf
        self.spark.udf.register(name, arrow_udf(arrow_function(fn, len(args)),
                                                _SPARK_TYPES[returns]))

    def append(self, name: str, sql: str) -> None:
        """The view ``name`` remade with the rows of ``sql`` added (by position)."""
        self.materialise(name, f"SELECT * FROM {name} UNION ALL SELECT * FROM ({sql}) added")

    def has_table(self, name: str, *, temporary: bool | None = None) -> bool:
        return temporary is not False and self.spark.catalog.tableExists(name)

    def columns(self, name: str) -> list[str]:
        return self.spark.table(name).columns

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Spark has no transactions: what a stage writes is views, and files are written
        whole by :meth:`write_parquet`."""
        yield

    def drop(self, *names: str) -> None:
        for name in names:
            self.spark.catalog.dropTempView(name)
            df = self._persisted.pop(name, None)
            if df is not None:
                df.unpersist()
