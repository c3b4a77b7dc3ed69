"""Canonical Parquet: the store's canonical tables as a dataset another engine reads.

``swarmscope ingest --dataset PATH`` writes it; ``detect --engine spark --input PATH`` reads it
(local paths or any Hadoop-compatible URI: ``s3a://``, ``abfss://``, ``hdfs://``), so no DuckDB
file is needed on the Spark path. Layout: one folder per table; ``posts`` and ``entities`` are
Hive-partitioned by ``platform`` and ``day`` (the post's UTC date), so a cluster reads a week of
one platform without listing the rest; the others are small and unpartitioned. The integer keys
(``account_keys``, ``object_keys``, ``posts.post_key``) travel with the data: every engine
numbers accounts, objects and posts alike, which parity needs. ``ingest --engine spark`` adds
to it, each run staged under ``_ingest/staging`` and committed by renames (:func:`commit_run`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
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
    unfinished = unfinished_commits(DatasetFiles(spark, base))
    if unfinished:
        raise SwarmscopeError(
            f"the dataset at {base} is partly written: an ingest was killed while it put its "
            f"files in place ({unfinished[0]}); run the same swarmscope ingest --engine spark "
            f"--dataset {base} again, which finishes that commit first")
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


# -- a Spark run's commit ------------------------------------------------------------------
#: A Spark ingest's rejects and each file's counts (folders that readers of the tables skip).
INGEST_REJECTS, INGEST_FILES = "_ingest/rejects", "_ingest/files"
#: Where a Spark ingest stages what a run adds (``run=N`` below it), and the commit record.
STAGING = "_ingest/staging"
COMMIT_RECORD = "_commit.json"
#: What a commit moves, in this order: the key dictionaries before the rows that use their
#: keys, the run's rejects and counts last.
COMMIT_ORDER = ("object_keys", "account_keys", "accounts", "account_labels", "posts",
                "entities", INGEST_REJECTS, INGEST_FILES)


class DatasetFiles:
    """The files of a dataset, through the Hadoop FileSystem of its root (local paths,
    ``hdfs://``, ``s3a://``, …) on the driver of the Spark session ``spark``."""

    def __init__(self, spark, root: str) -> None:
        self.root = root.rstrip("/")
        self._jvm = spark._jvm
        self.fs = self._path(self.root).getFileSystem(spark._jsc.hadoopConfiguration())

    def _path(self, uri: str):
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, uri: str) -> bool:
        return self.fs.exists(self._path(uri))

    def folders(self, uri: str) -> list[str]:
        """The names of the folders in ``uri`` (none where it does not exist)."""
        if not self.exists(uri):
            return []
        return sorted(s.getPath().getName() for s in self.fs.listStatus(self._path(uri))
                      if s.isDirectory())

    def data_files(self, uri: str) -> list[str]:
        """The paths, relative to ``uri``, of the files below it that readers read: none of
        whose folders or name starts with ``_`` or ``.`` (``_SUCCESS``, ``_temporary``,
        checksums)."""
        if not self.exists(uri):
            return []
        base = self.fs.makeQualified(self._path(uri)).toUri().getPath().rstrip("/") + "/"
        found = self.fs.listFiles(self._path(uri), True)
        out = []
        while found.hasNext():
            rel = found.next().getPath().toUri().getPath().removeprefix(base)
            if not any(part.startswith(("_", ".")) for part in rel.split("/")):
                out.append(rel)
        return sorted(out)

    def move(self, src: str, dst: str) -> None:
        """Rename the file ``src`` to ``dst`` (its folder made first); a user error naming
        both where the file system refuses."""
        from py4j.protocol import Py4JJavaError
        target = self._path(dst)
        try:
            self.fs.mkdirs(target.getParent())
            if self.fs.rename(self._path(src), target):
                return
            why = "the file system refused; does the target exist already?"
        except Py4JJavaError as exc:   # an object store's refusal, a permission
            why = str(exc.java_exception).splitlines()[0]
        raise SwarmscopeError(f"cannot move {src} to {dst} ({why})")

    def delete(self, uri: str) -> None:
        self.fs.delete(self._path(uri), True)

    def write_text(self, uri: str, text: str) -> None:
        """``uri`` holding ``text``, whole or not at all: written beside it, then renamed."""
        out = self.fs.create(self._path(uri + ".tmp"), True)
        out.write(text.encode("utf-8"))
        out.close()
        self.move(uri + ".tmp", uri)

    def read_text(self, uri: str) -> str:
        stream = self.fs.open(self._path(uri))
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()


def unfinished_commits(files: DatasetFiles) -> list[str]:
    """The staged runs of the dataset whose commit record is written: a commit begun and not
    finished (its files are partly in place)."""
    staging = f"{files.root}/{STAGING}"
    return [f"{staging}/{run}" for run in files.folders(staging)
            if files.exists(f"{staging}/{run}/{COMMIT_RECORD}")]


def commit_run(files: DatasetFiles, stage: str, replaced: list[str]) -> None:
    """Put the run staged at ``stage`` in place: the commit record (the files of the dataset
    that the staged ones replace, ``replaced``) written whole, then :func:`finish_commit`."""
    files.write_text(f"{stage}/{COMMIT_RECORD}", json.dumps({"replaced": replaced}))
    finish_commit(files, stage)


def finish_commit(files: DatasetFiles, stage: str) -> None:
    """Move each staged file still in ``stage`` to its place in the dataset (the tables in
    :data:`COMMIT_ORDER`; a table's replaced files deleted once its new ones are in), then
    remove ``stage``. Running it again after a kill finishes the moves."""
    replaced = json.loads(files.read_text(f"{stage}/{COMMIT_RECORD}"))["replaced"]
    for table in COMMIT_ORDER:
        for rel in files.data_files(f"{stage}/{table}"):
            files.move(f"{stage}/{table}/{rel}", f"{files.root}/{table}/{rel}")
            pause_for_crash_test("moving")
        for rel in replaced:
            if rel.startswith(table + "/") and files.exists(f"{files.root}/{rel}"):
                files.delete(f"{files.root}/{rel}")
    files.delete(stage)


def recover(files: DatasetFiles) -> None:
    """Before a run: finish each staged run whose commit record is written, delete the
    others (a run killed before its commit, of which readers saw nothing)."""
    staging = f"{files.root}/{STAGING}"
    for run in files.folders(staging):
        if files.exists(f"{staging}/{run}/{COMMIT_RECORD}"):
            finish_commit(files, f"{staging}/{run}")
        else:
            files.delete(f"{staging}/{run}")


def pause_for_crash_test(point: str) -> None:
    """The crash tests' hook: where ``SWARMSCOPE_PAUSE_AT`` names ``point``, say so on stderr
    and wait there to be killed."""
    if os.environ.get("SWARMSCOPE_PAUSE_AT") == point:
        print(f"swarmscope: paused at {point}", file=sys.stderr, flush=True)
        while True:
            time.sleep(1)
