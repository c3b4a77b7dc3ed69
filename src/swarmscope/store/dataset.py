"""Canonical Parquet: the store's canonical tables as a dataset another engine reads.

``swarmscope ingest --dataset PATH`` writes it; ``detect --engine spark --input PATH`` reads it
(local paths or any Hadoop-compatible URI: ``s3a://``, ``abfss://``, ``hdfs://``), so no DuckDB
file is needed on the Spark path. Layout: one folder per table; ``posts`` and ``entities`` are
Hive-partitioned by ``platform`` and ``day`` (the post's UTC date), so a cluster reads a week of
one platform without listing the rest; the others are small and unpartitioned. The integer keys
(``account_keys``, ``object_keys``, ``posts.post_key``) travel with the data: every engine
numbers accounts, objects and posts alike, which parity needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from swarmscope.errors import SwarmscopeError
from swarmscope.store.backend import Backend
from swarmscope.store.sql import literal

#: Each table of the dataset and its partition columns.
DATASET_TABLES = {
    "posts": ("platform", "day"), "entities": ("platform", "day"), "accounts": (),
    "account_labels": (), "account_keys": (), "object_keys": ()}

_DAY = "strftime(created_at, '%Y-%m-%d')"


def write_dataset(db: Backend, path: str | Path) -> dict[str, int]:
    """Write the canonical tables of the store behind ``db`` (DuckDB) under ``path``,
    replacing an earlier dataset there; returns the rows written per table."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    queries = {
        "posts": f"SELECT *, {_DAY} AS day FROM posts",
        "entities": f"""SELECT e.*, {_DAY.replace('created_at', 'p.created_at')} AS day
                        FROM entities e JOIN posts p USING (platform, post_id)""",
    }
    rows = {}
    for table, partitions in DATASET_TABLES.items():
        sql = queries.get(table, f"SELECT * FROM {table}")
        target = root / table
        if target.exists():
            shutil.rmtree(target)
        rows[table] = db.scalar(  # COPY answers with the rows it wrote
            f"COPY ({sql}) TO {literal(str(target))} "
            f"(FORMAT parquet, PARTITION_BY ({', '.join(partitions)}))") if partitions else 0
        if not rows[table]:   # one file, which also carries the columns of an empty table
            target.mkdir(exist_ok=True)
            rows[table] = db.scalar(f"COPY ({sql}) TO {literal(str(target / 'part-0.parquet'))} "
                                    "(FORMAT parquet)")
    return rows


def register_dataset(spark_db: Backend, path: str) -> None:
    """Make the tables of the dataset at ``path`` (a local path or a Hadoop URI) views of the
    Spark backend ``spark_db``, read lazily from Parquet; partition values are read as text
    (a platform named ``123`` stays a name)."""
    from pyspark.errors import AnalysisException
    spark = spark_db.spark
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    base = path.rstrip("/")
    for table, partitions in DATASET_TABLES.items():
        try:
            df = spark.read.option("basePath", f"{base}/{table}").parquet(f"{base}/{table}")
        except AnalysisException as exc:
            first = str(exc).strip().splitlines()[0]
            raise SwarmscopeError(
                f"cannot read the dataset's table {table} at {base}/{table} ({first}): give "
                "the folder that swarmscope ingest --dataset PATH wrote") from None
        if "day" in partitions:
            df = df.drop("day")
        df.createOrReplaceTempView(table)
