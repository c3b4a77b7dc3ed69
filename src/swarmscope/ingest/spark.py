"""``ingest --engine spark``: the readers that are pure SQL over a staged table, on a Spark
cluster, into the canonical Parquet dataset (:mod:`swarmscope.store.dataset`), with no DuckDB
file.

The work splits in two, by what each step needs:

- **Row by row** (a record's fields, entities, checks; a URL's canonical form, a hashtag's, a
  host's registered domain): the readers' own DuckDB SQL (:func:`merge.checked_record_sql`,
  :func:`normalize.canonical_urls_sql`), evaluated per Arrow batch
  by an in-memory DuckDB inside Spark's tasks (``mapInArrow``). These expressions are DuckDB
  SQL with lambdas, ``try_strptime`` and RE2 regular expressions; Spark's are Java's, which
  differ on classes such as ``\\s``, so a transpiled expression (sqlglot) could read another
  value from the same text. Evaluated by DuckDB, every record maps exactly as it does on one
  machine, and ``--map`` keeps taking DuckDB SQL.
- **Across rows** (conflicts, de-duplication against the dataset, the integer keys, accounts
  and labels): Spark SQL over the whole batch, the same steps as :mod:`merge`.

Files are read by Spark (local paths or Hadoop URIs): delimited text with Spark's CSV reader in
``multiLine`` mode (a quoted field may span lines; Spark reads such a file in one task, as
gzip), Parquet with its row index. A record is numbered (``source_row``) as DuckDB numbers it:
the records that parse, in file order. Rejects name the physical line for local files (found by
:func:`sources.locate_csv_lines`, as on DuckDB); for a file behind a Hadoop URI they name the
record number among the file's records. Records Spark's parser cannot split into the header's
columns are rejected as malformed.

Rejects go to ``PATH/_ingest/rejects``, each file's counts to ``PATH/_ingest/files`` (folders
Spark's readers skip). Each run reads the dataset as it is and adds what is new (accounts are
rewritten when one is added or completed), so ingesting the same files again stores nothing.
A run writes what it adds to a staging folder and then commits it by renames
(:func:`swarmscope.store.dataset.commit_run`): a run killed before its commit record leaves
nothing readers see, one killed after it is finished by the next run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swarmscope.errors import SwarmscopeError, UnusableInputError
from swarmscope.ingest.merge import (ACCOUNT_FIELDS, FIELD_TYPES, POST_FIELDS, RECORD_FIELDS,
                                     FileCounts, checked_record_sql, conflicts_sql,
                                     _reason_kind)
from swarmscope.ingest.normalize import canonical_urls_sql
from swarmscope.ingest.reader import Reader
from swarmscope.ingest.sources import (CsvLayout, InputFile, check_encoding, check_input,
                                       header_columns, list_inputs, locate_csv_lines,
                                       sniff_columns)
from swarmscope.store.dataset import (DATASET_TABLES, INGEST_FILES, INGEST_REJECTS, STAGING,
                                      DatasetFiles, commit_run, pause_for_crash_test,
                                      recover)
from swarmscope.store.schema import TABLES
from swarmscope.store.sql import literal

#: The readers that run on Spark: a staged table mapped by SQL alone.
SPARK_FORMATS = ("io-archive", "io-archive-users", "table", "coortweet", "cnt")
#: The Spark SQL type of each DuckDB type of the canonical tables (DuckDB's TIMESTAMP has no
#: time zone, as Spark's TIMESTAMP_NTZ; both write it so to Parquet).
_TYPES = {"VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP_NTZ", "BIGINT": "BIGINT",
          "INTEGER": "INT", "DOUBLE": "DOUBLE", "VARCHAR[]": "ARRAY<STRING>"}


def _spark_type(duckdb_type: str) -> str:
    return _TYPES[duckdb_type.split()[0]]


def ingest_dataset(paths: list[str], dataset: str, *, master: str = "local[*]",
                   config: dict[str, str] | None = None, **options: Any) -> Any:
    """``ingest --engine spark``: a Spark session at ``master`` (with ``config``), then
    :func:`ingest_on_spark` (``options``: format, mappings, platform, on_file)."""
    from swarmscope.store.spark import SparkBackend, start_session
    return ingest_on_spark(SparkBackend(start_session(master, config)), paths, dataset,
                           **options)


def ingest_on_spark(db: Any, paths: list[str], dataset: str, *, format: str | None = None,
                    mappings: dict[str, str] | None = None, platform: str | None = None,
                    on_file: Callable[[FileCounts], None] | None = None) -> Any:
    """Ingest ``paths`` (files, folders, Hadoop URIs) on the Spark backend ``db`` into the
    dataset at ``dataset``; returns an :class:`~swarmscope.ingest.IngestReport`."""
    from swarmscope.ingest import FORMATS, IngestReport
    if format is not None and format not in FORMATS:
        raise SwarmscopeError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    if format is not None and format not in SPARK_FORMATS:
        raise SwarmscopeError(_not_on_spark(format))
    if mappings and format != "table":
        raise SwarmscopeError("--map applies to --format table only")
    files = _inputs(paths)
    root = dataset.rstrip("/")
    dataset_files = DatasetFiles(db.spark, root)
    recover(dataset_files)
    state = _State(db, dataset_files)
    report = IngestReport(state.run_id)
    for path in files:
        try:
            counts = _ingest_file(db, state, path, format, mappings or {}, platform)
        except UnusableInputError as exc:
            report.failed.append((str(path), str(exc)))
            continue
        report.files.append(counts)
        if on_file:
            on_file(counts)
    replaced = state.write()
    _write_files(db, state.stage, state.run_id, report)
    pause_for_crash_test("staged")
    commit_run(dataset_files, state.stage, replaced)
    return report


def _not_on_spark(name: str) -> str:
    return (f"format {name} is not read on Spark (only {', '.join(SPARK_FORMATS)}, whose "
            "readers are SQL over a table): ingest it with DuckDB (swarmscope ingest FILE "
            "--dataset PATH) and detect --engine spark reads the dataset it writes")


def _remote(path: str | Path) -> bool:
    return "://" in str(path)


def _inputs(paths: list[str]) -> list[str | Path]:
    """Local files as ``ingest`` lists them (folders in name order); URIs as given."""
    out: list[str | Path] = []
    for p in paths:
        out.extend([p] if _remote(p) else list_inputs([p], set()))
    if not out:
        raise UnusableInputError("no input files given")
    return out


class _State:
    """The dataset as this run reads it (``ds_<table>``), what the run adds (``run_<table>``)
    and the view of both (``all_<table>``) that each file is checked against; the accounts,
    which a file may complete, are held whole (``run_accounts``). What the run writes goes to
    its staging folder (``stage``) until the commit."""

    def __init__(self, db: Any, files: DatasetFiles) -> None:
        self.db, self.files = db, files
        self.root = root = files.root
        self.accounts_changed = False
        spark = db.spark
        spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        self.existing: set[str] = set()
        for table in DATASET_TABLES:
            types = TABLES[table].types
            if files.exists(f"{root}/{table}"):
                self.existing.add(table)
                spark.read.option("basePath", f"{root}/{table}").parquet(
                    f"{root}/{table}").createOrReplaceTempView(f"ds0_{table}")
                db.view(f"ds_{table}", "SELECT " + ", ".join(
                    f"CAST({c} AS {_spark_type(t)}) AS {c}" for c, t in types.items())
                    + f" FROM ds0_{table}")
            else:
                db.view(f"ds_{table}", "SELECT " + ", ".join(
                    f"CAST(NULL AS {_spark_type(t)}) AS {c}" for c, t in types.items())
                    + " WHERE false")
            if table == "accounts":
                db.materialise("run_accounts", "SELECT * FROM ds_accounts")
                db.view("all_accounts", "SELECT * FROM run_accounts")
            else:
                db.materialise(f"run_{table}", f"SELECT * FROM ds_{table} WHERE false")
                db.view(f"all_{table}", f"SELECT * FROM ds_{table} UNION ALL "
                                        f"SELECT * FROM run_{table}")
        self.run_id = 1 + (db.scalar("SELECT max(run_id) FROM (SELECT run_id FROM ds_posts "
                                     "UNION ALL SELECT run_id FROM ds_accounts)") or 0)
        self.stage = f"{root}/{STAGING}/run={self.run_id}"

    def add(self, table: str, sql: str) -> None:
        self.db.append(f"run_{table}", sql)

    def write(self) -> list[str]:
        """Stage each table's new rows (a table the dataset lacks is written, empty or not)
        and the accounts whole when one was added or completed; returns the dataset's files
        that the staged accounts replace."""
        day = "date_format(p.created_at, 'yyyy-MM-dd') AS day"
        replaced: list[str] = []
        for table, partitions in DATASET_TABLES.items():
            target = f"{self.stage}/{table}"
            if table == "accounts":
                if self.accounts_changed or table not in self.existing:
                    self.db.spark.table("run_accounts").write.parquet(target)
                    replaced = [f"{table}/{rel}" for rel in
                                self.files.data_files(f"{self.root}/{table}")]
                continue
            sql = {"posts": f"SELECT p.*, {day} FROM run_posts p",
                   "entities": f"SELECT e.*, {day} FROM run_entities e JOIN all_posts p "
                               "USING (platform, post_id)"}.get(table, f"SELECT * FROM run_{table}")
            empty = not self.db.scalar(f"SELECT count(*) FROM run_{table}")
            df = self.db.spark.sql(sql)
            if empty and table not in self.existing:  # one file, which carries the columns
                df.coalesce(1).write.parquet(target)
            elif not empty:
                writer = df.write.partitionBy(*partitions) if partitions else df.write
                writer.parquet(target)
        return replaced


# -- one file --------------------------------------------------------------------------------
def _ingest_file(db: Any, state: _State, path: str | Path, format: str | None,
                 mappings: dict[str, str], platform: str | None) -> FileCounts:
    from swarmscope.ingest import FORMATS, _check_required, format_of_columns
    spark = db.spark
    name = str(path).lower().removesuffix(".gz")
    kind = "parquet" if name.endswith(".parquet") else "text"
    f = InputFile(path, "", 0) if _remote(path) else InputFile(Path(path), "",
                                                                Path(path).stat().st_size)
    if not _remote(path):
        check_input(f.path, set())
        check_encoding(f)
    if kind == "parquet":
        raw = _read(lambda: spark.read.parquet(str(path)), path)
        columns = list(raw.columns)
    else:
        if not _remote(path) and f.kind == "json":
            raise UnusableInputError(f"{path}: this is a JSON file; " + _not_on_spark("JSON"))
        columns, delim = (sniff_columns(f) if not _remote(path) else
                          header_columns(_first_line(spark, str(path)), path))
    reader = FORMATS[format] if format else format_of_columns(path, kind, columns)
    if reader.name not in SPARK_FORMATS:
        raise UnusableInputError(f"{path}: " + _not_on_spark(reader.name))
    if kind == "parquet" and reader.shape not in ("parquet", "csv-or-parquet"):
        raise UnusableInputError(f"{path}: format {reader.name} is not read from Parquet")
    _check_required(f, reader, columns, None if kind == "parquet" else delim, mappings)
    layout = None
    if kind == "parquet":
        _stage_parquet(db, raw)
    else:
        layout = CsvLayout(reader.dialect(columns, delim or ","))
        _stage_csv(db, str(path), layout)
    m = reader.mapping(columns, mappings)
    if m.source != "scratch.raw":   # table without post_id: numbered across the whole file
        _derive_ids(db, columns)
        m = dataclasses.replace(m, source="scratch.raw")
    plat = platform or reader.default_platform
    counts = FileCounts(str(f.path), reader.name)
    _map(db, reader, m, f)
    db.materialise("bad", conflicts_union(literal(plat), reader.posts))
    _locate(db, f, layout)
    _count_rejects(db, counts)
    _write_rejects(db, state, str(f.path))
    db.materialise("valid", "SELECT * FROM rec WHERE _row NOT IN (SELECT _row FROM bad)")
    _prepare(db, reader, m, literal(plat))
    _commit(db, state, reader.posts, literal(plat), literal(str(f.path)), counts)
    counts.duplicates = counts.read - counts.rejected - counts.stored
    if counts.read and counts.rejected == counts.read:
        field_, why = counts.reasons.most_common(1)[0][0]
        raise UnusableInputError(
            f"{path}: every one of its {counts.read} records was rejected (first reason: "
            f"{why} in field {field_ or '-'}); is it really format {reader.name}? The rejects "
            f"are in {state.root}/{INGEST_REJECTS}")
    if counts.read == 0:
        raise UnusableInputError(f"{path}: the file holds no records (only a header?)")
    return counts


def _read(read: Callable[[], Any], path: str | Path) -> Any:
    """``read()``, or a user error naming the file where Spark cannot read it."""
    from pyspark.errors import AnalysisException
    try:
        return read()
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0]
        raise UnusableInputError(f"{path}: Spark cannot read it ({first})") from None


def _first_line(spark: Any, uri: str) -> str:
    rows = _read(lambda: spark.read.text(uri).limit(1).collect(), uri)
    if not rows:
        raise UnusableInputError(f"{uri}: the file is empty")
    return rows[0][0].lstrip("\ufeff")


def _stage_csv(db: Any, uri: str, layout: CsvLayout) -> None:
    """``raw``: the file's records as Spark's CSV reader splits them (all text, quotes and
    escapes as DuckDB reads them), numbered: ``_pos`` among all records, ``_row`` among those
    that parse; ``malformed``: those that do not."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType
    d = layout.dialect
    schema = StructType([StructField(c, StringType()) for c in d.columns]
                        + [StructField("_corrupt", StringType())])
    df = (db.spark.read.schema(schema)
          .options(header=str(d.header).lower(), sep=d.delim, quote='"', escape='"',
                   multiLine="true", mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt",
                   enforceSchema="true", encoding="UTF-8")
          .csv(uri))
    if df.rdd.getNumPartitions() > 1:  # multiLine reads a file in one task, in its order
        raise SwarmscopeError(f"{uri}: Spark split the file into parts; record numbers need "
                              "it read whole")
    df = df.withColumn("_pos", F.monotonically_increasing_id() + 1)
    db._keep("raw_all", df)
    db.materialise_numbered("raw0", "SELECT * FROM raw_all WHERE _corrupt IS NULL",
                            ["_pos"], "_row")
    # DuckDB reads an empty field, quoted or not, as NULL
    cols = ", ".join(f'nullif("{c}", \'\') AS "{c}"' for c in d.columns)
    db.view("raw", f"SELECT _row, CAST(NULL AS BIGINT) AS _line, _pos, {cols} FROM raw0")
    db.view("malformed", f"SELECT _pos, _corrupt FROM raw_all WHERE _corrupt IS NOT NULL")


def _stage_parquet(db: Any, raw: Any) -> None:
    from pyspark.sql import functions as F
    db._keep("raw", raw.select((F.col("_metadata.row_index") + 1).alias("_row"),
                               (F.col("_metadata.row_index") + 1).alias("_line"),
                               (F.col("_metadata.row_index") + 1).alias("_pos"), "*"))
    db.view("malformed", "SELECT CAST(NULL AS BIGINT) AS _pos, CAST(NULL AS STRING) AS "
                         "_corrupt WHERE false")


def _derive_ids(db: Any, columns: list[str]) -> None:
    """``_derived_id`` of :func:`table.mapping` on Spark: the row's MD5 and its number among
    the identical rows before it (DuckDB numbers within a hash of the row, Spark within the
    row's text: the same numbers but where two different rows share a 64-bit hash)."""
    data = [c for c in columns if c not in ("_row", "_line")]
    text = "concat_ws(chr(31), " + ", ".join(
        f"coalesce(CAST(\"{c}\" AS STRING), '')" for c in data) + ")"
    db.materialise("raw_ids", f"SELECT *, 'row:' || md5({text}) || ':' || row_number() OVER "
                              f"(PARTITION BY {text} ORDER BY _row) AS _derived_id FROM raw")
    db.view("raw", "SELECT * FROM raw_ids")


def _duckdb_batches(sql: str, schema: pa.Schema) -> Callable[[Iterator], Iterator]:
    """A ``mapInArrow`` function: ``sql`` (DuckDB SQL over ``scratch.raw``) on each batch, in
    an in-memory DuckDB with the normalisers registered, its result in ``schema``."""
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import duckdb
        from swarmscope.ingest.normalize import register_functions
        con = duckdb.connect(config={"threads": 1})   # a task is one core
        con.execute("SET TimeZone = 'UTC'")
        con.execute("ATTACH ':memory:' AS scratch")
        register_functions(con)
        for batch in batches:
            con.register("batch", pa.Table.from_batches([batch]))
            con.execute("CREATE OR REPLACE TABLE scratch.raw AS SELECT * FROM batch")
            con.unregister("batch")
            out = con.sql(sql).to_arrow_table()
            yield from out.select(schema.names).cast(schema).to_batches()
        con.close()
    return run


def _arrow_schema(db: Any, columns: dict[str, str]) -> tuple[str, pa.Schema]:
    """A Spark DDL schema and its Arrow form for ``{column: Spark type}``."""
    from pyspark.sql.pandas.types import to_arrow_schema
    ddl = ", ".join(f"`{c}` {t}" for c, t in columns.items())
    struct = db.spark.createDataFrame([], ddl).schema
    return ddl, to_arrow_schema(struct)


def _map(db: Any, reader: Reader, m: Any, f: InputFile) -> None:
    """``rec``: each staged record mapped by the reader's SQL (with its reject columns and
    the object it reposts or replies to) in DuckDB per batch; a mapping DuckDB cannot
    evaluate is refused before any task runs."""
    import duckdb
    from swarmscope.ingest.normalize import register_functions
    from swarmscope.ingest.merge import _mapping, _refuse_nested
    sql = checked_record_sql(reader, m)
    raw = db.spark.table("raw")
    types = {"_row": "BIGINT", "_line": "BIGINT"}
    types |= {n: _spark_type(FIELD_TYPES.get(n, "VARCHAR")) for n in RECORD_FIELDS}
    types |= {c: "STRING" for c in ("_key", "_time_raw", "_excerpt", "_check_field",
                                    "_check_reason")}
    types |= {f"_e_{k}": "ARRAY<STRING>" for k in m.entities}
    types |= {f"_l_{n}": "STRING" for n in m.labels}
    types |= {c: "STRING" for c in ("_bad_field", "_bad_reason", "_bad_excerpt", "_parent")}
    ddl, schema = _arrow_schema(db, types)
    con = duckdb.connect()      # the mapping checked on no rows, with the batches' columns
    con.execute("ATTACH ':memory:' AS scratch")
    register_functions(con)
    con.register("empty", raw.limit(0).toArrow())
    con.execute("CREATE TABLE scratch.raw AS SELECT * FROM empty")
    try:
        with _mapping(reader, f):
            _refuse_nested(con, m, f)
            con.execute(f"DESCRIBE {sql}")
    finally:
        con.close()
    from pyspark.errors import PythonException
    try:
        db._keep("rec", raw.mapInArrow(_duckdb_batches(sql, schema), ddl))
    except PythonException as exc:   # a value the mapping cannot convert (an invalid CAST)
        raised = [line.split(": ", 1)[-1] for line in str(exc).splitlines()
                  if line.startswith(("_duckdb.", "duckdb."))]
        reason = raised[-1] if raised else str(exc).strip().splitlines()[0]
        raise UnusableInputError(f"{f.path}: cannot map its records as {reader.name}: "
                                 f"{reason}") from None


def conflicts_union(p: str, posts: bool) -> str:
    """``bad``: the checks' rejects and, for a reader of posts, the conflicts
    (:func:`merge.conflicts_sql`)."""
    checks = ("SELECT _row, _line, _bad_field AS field, _bad_reason AS reason, "
              "_bad_excerpt AS excerpt FROM rec WHERE _bad_reason IS NOT NULL")
    if not posts:
        return checks
    conflicts = conflicts_sql(p, "", "rec", f"({checks})", "STRING", "all_posts")
    return f"{checks} UNION ALL SELECT * FROM ({conflicts}) conflicts"


def _locate(db: Any, f: InputFile, layout: CsvLayout | None) -> None:
    """``rejects_file``: the rejects with their lines: the physical line of a local
    delimited file, else the record's number among the file's records (Parquet: its row)."""
    field_, reason = "CAST(NULL AS STRING)", literal(
        "malformed record: it does not split into the header's columns (a stray quote, or a "
        "delimiter too many or too few); fix it and retry")
    cut = _cut_short(db, layout) if layout is not None else None
    if cut is not None:   # as sources._cut_last_record says it
        pos, column = cut
        field_ = f"CASE WHEN _pos = {pos} THEN {literal(column)} END"
        reason = (f"CASE WHEN _pos = {pos} THEN 'unclosed quote: the file ends inside this "
                  "record (was it cut short, e.g. by head?); complete or remove the record and "
                  f"retry' ELSE {reason} END")
    parse = (f"SELECT _pos, {field_} AS field, {reason} AS reason, "
             "left(replace(_corrupt, chr(0), ''), 200) AS excerpt FROM malformed")
    db.materialise("rejects0", "SELECT r._pos, b.field, b.reason, b.excerpt FROM bad b "
                               f"JOIN raw r USING (_row) UNION ALL {parse}")
    if layout is None or _remote(f.path):
        db.view("rejects_file", "SELECT _pos AS line, field, reason, excerpt FROM rejects0")
        return
    positions = {r[0] for r in db.query("SELECT _pos FROM rejects0")}
    by_pos, _ = locate_csv_lines(f, layout, positions, set()) if positions else ({}, {})
    db.register_arrow("reject_lines", pa.table({"_pos": pa.array(list(by_pos), pa.int64()),
                                                "line": pa.array(list(by_pos.values()),
                                                                 pa.int64())}))
    db.view("rejects_file", "SELECT l.line, r.field, r.reason, r.excerpt FROM rejects0 r "
                            "LEFT JOIN reject_lines l USING (_pos)")


def _cut_short(db: Any, layout: CsvLayout) -> tuple[int, str | None] | None:
    """The last record of the file and the column whose quote it leaves open, where the file
    ends inside a quoted field (Spark reads the rest of the file as that field)."""
    last = db.query("SELECT _pos, _corrupt FROM malformed WHERE _pos = "
                    "(SELECT max(_pos) FROM raw_all)")
    if not last:
        return None
    quoted, index = False, 0
    for ch in last[0][1]:
        if ch == '"':
            quoted = not quoted
        elif ch == layout.dialect.delim and not quoted:
            index += 1
    columns = layout.dialect.columns
    return (last[0][0], columns[index] if index < len(columns) else None) if quoted else None


def _count_rejects(db: Any, counts: FileCounts) -> None:
    n_rec = db.scalar("SELECT count(*) FROM rec")
    n_parse = db.scalar("SELECT count(*) FROM malformed")
    counts.read = n_rec + n_parse
    counts.rejected = db.scalar("SELECT count(*) FROM bad") + n_parse
    for field_, reason, n in db.query("SELECT field, reason, count(*) FROM rejects_file "
                                      "GROUP BY field, reason"):
        counts.reasons[(field_, _reason_kind(reason))] += n


def _write_rejects(db: Any, state: _State, path: str) -> None:
    """Append the file's rejects to ``PATH/_ingest/rejects`` (run, file, line, field, reason,
    excerpt: the store's ``rejects`` table)."""
    df = db.spark.sql(f"SELECT CAST({state.run_id} AS BIGINT) AS run_id, {literal(path)} AS "
                      "file, CAST(line AS BIGINT) AS line, field, reason, excerpt "
                      "FROM rejects_file")
    df.write.mode("append").parquet(f"{state.stage}/{INGEST_REJECTS}")


# -- what a file adds ----------------------------------------------------------------------
def _numbered(db: Any, name: str, sql: str, order: list[str], key: str, base: str) -> None:
    """``name``: the rows of ``sql`` with ``key`` numbered in the order ``order`` after the
    largest ``key`` of ``base`` (the keys ``merge._keys`` gives)."""
    db.materialise_numbered(f"{name}_n", sql, order, "_n")
    db.materialise(name, f"SELECT *, _n + (SELECT coalesce(max({key}), 0) FROM {base}) AS "
                         f"_new_key FROM {name}_n")


def _prepare(db: Any, reader: Reader, m: Any, p: str) -> None:
    """The steps of ``merge._prepare`` in Spark SQL: the file's new posts, entities, keys,
    accounts and labels. What reads the run's tables (``all_*``) and is read again after
    :func:`_commit` adds to them is materialised; the rest are views."""
    if reader.posts:
        _prepare_posts(db, m, p)
    _prepare_accounts(db, m, p, reader.posts)
    db.view("accts0", f"""SELECT a.account_id, d.account_key FROM
        (SELECT DISTINCT account_id FROM valid) a LEFT JOIN
        (SELECT account_id, account_key FROM all_account_keys WHERE platform = {p}) d
        USING (account_id)""")
    _numbered(db, "acctnew", "SELECT account_id FROM accts0 WHERE account_key IS NULL",
              ["account_id"], "account_key", "all_account_keys")
    db.materialise("acctmap", "SELECT account_id, account_key, false AS is_new FROM accts0 "
                              "WHERE account_key IS NOT NULL UNION ALL "
                              "SELECT account_id, CAST(_new_key AS INT), true FROM acctnew")


def _prepare_posts(db: Any, m: Any, p: str) -> None:
    """The file's new posts, their entities and the keys of both."""
    db.materialise("batch_posts", f"""
        SELECT v.post_id, min(v._row) AS first_row, max(s.post_id IS NOT NULL) AS existed
        FROM valid v LEFT JOIN (SELECT DISTINCT post_id FROM all_posts WHERE platform = {p}) s
        USING (post_id) GROUP BY v.post_id""")
    _prepare_entities(db, m, p)
    new_posts = ("SELECT first_row AS _row FROM batch_posts WHERE NOT existed"
                 if m.record_key is None else
                 "SELECT min(v._row) AS _row FROM valid v JOIN batch_posts b USING (post_id) "
                 "WHERE NOT b.existed GROUP BY v._key")
    db.view("stored_rows", f"{new_posts} UNION ALL "
                                  "SELECT DISTINCT owner FROM new_entities WHERE existed")
    db.view("new_posts0", "SELECT b.first_row, v._parent AS parent FROM valid v "
                                 "JOIN batch_posts b ON v._row = b.first_row WHERE NOT b.existed")
    values = ("SELECT parent AS value FROM new_posts0 WHERE parent IS NOT NULL "
              "UNION SELECT value FROM new_entities")
    db.view("values0", f"SELECT v.value, d.object_key FROM ({values}) v "
                              "LEFT JOIN all_object_keys d USING (value)")
    _numbered(db, "objnew", "SELECT value FROM values0 WHERE object_key IS NULL", ["value"],
              "object_key", "all_object_keys")
    db.materialise("objmap", "SELECT value, object_key, false AS is_new FROM values0 "
                             "WHERE object_key IS NOT NULL UNION ALL "
                             "SELECT value, _new_key, true FROM objnew")
    _numbered(db, "postnew", "SELECT b.first_row, o.object_key AS parent_key FROM new_posts0 b "
                             "LEFT JOIN objmap o ON o.value = b.parent", ["first_row"],
              "post_key", "all_posts")


def _urls_sql() -> str:
    """DuckDB SQL over a batch of distinct raw values (``kind``, ``raw``): the canonical value
    (URLs, hashtags) and a URL's registered domain, as ``merge._prepare_entities`` makes them."""
    return f"""
        SELECT r.kind, r.raw, CASE r.kind WHEN 'url' THEN coalesce(u.url, r.raw)
                                          ELSE swarmscope_hashtag(r.raw) END AS value,
               CASE WHEN r.kind = 'url' THEN swarmscope_registered_domain(u.host) END AS domain
        FROM scratch.raw r LEFT JOIN ({canonical_urls_sql(
            "(SELECT DISTINCT raw FROM scratch.raw WHERE kind = 'url')")}) u
        ON r.kind = 'url' AND u.raw = r.raw"""


def _prepare_entities(db: Any, m: Any, p: str) -> None:
    parts = [f"SELECT _row, post_id, {literal(kind)} AS kind, e.pos AS position, "
             f"trim(e.col) AS value FROM valid LATERAL VIEW posexplode(_e_{kind}) e AS pos, col "
             for kind in m.entities]
    if not parts:
        parts = ["SELECT CAST(NULL AS BIGINT) AS _row, CAST(NULL AS STRING) AS post_id, "
                 "CAST(NULL AS STRING) AS kind, CAST(NULL AS INT) AS position, "
                 "CAST(NULL AS STRING) AS value WHERE false"]
    db.view("ent0", f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE value <> ''")
    ddl, schema = _arrow_schema(db, {"kind": "STRING", "raw": "STRING", "value": "STRING",
                                     "domain": "STRING"})
    distinct = db.spark.sql("SELECT DISTINCT kind, value AS raw FROM ent0 "
                            "WHERE kind IN ('url', 'hashtag')")
    db._keep("valmap", distinct.mapInArrow(_duckdb_batches(_urls_sql(), schema), ddl))
    db.view("ent", """
        SELECT e._row, e.post_id, e.kind,
               CASE e.kind WHEN 'url' THEN u.value WHEN 'hashtag' THEN u.value
                           WHEN 'mention' THEN TRIM(LEADING '@' FROM e.value)
                           ELSE e.value END AS value,
               e.position
        FROM ent0 e LEFT JOIN valmap u ON u.kind = e.kind AND u.raw = e.value
        UNION ALL
        SELECT e._row, e.post_id, 'domain', u.domain, e.position
        FROM ent0 e JOIN valmap u ON e.kind = 'url' AND u.kind = 'url' AND u.raw = e.value
        WHERE u.domain IS NOT NULL""")
    db.materialise("new_entities", f"""
        SELECT e.post_id, e.kind, e.value, min(e.position) AS position, min(e._row) AS owner,
               max(b.existed) AS existed
        FROM ent e JOIN batch_posts b USING (post_id)
        LEFT ANTI JOIN (SELECT post_id, kind, value FROM all_entities WHERE platform = {p}) s
            ON b.existed AND s.post_id = e.post_id AND s.kind = e.kind AND s.value = e.value
        WHERE e.value IS NOT NULL AND e.value <> ''
        GROUP BY e.post_id, e.kind, e.value""")


def _prepare_accounts(db: Any, m: Any, p: str, posts: bool) -> None:
    latest = ", ".join(f"max_by({c}, _row) FILTER (WHERE {c} IS NOT NULL) AS {c}"
                       for c in ACCOUNT_FIELDS)
    stored = ", ".join(f"{c.removeprefix('account_')} AS s_{c}" for c in ACCOUNT_FIELDS)
    fills = " OR ".join(f"(s.s_{c} IS NULL AND a.{c} IS NOT NULL)" for c in ACCOUNT_FIELDS)
    db.materialise("acct", f"""
        SELECT a.*, s.account_id IS NULL AS is_new,
               s.account_id IS NOT NULL AND ({fills}) AS fills
        FROM (SELECT account_id, min(_row) AS first_row, {latest}
              FROM valid GROUP BY account_id) a
        LEFT JOIN (SELECT account_id, {stored} FROM all_accounts WHERE platform = {p}) s
        USING (account_id)""")
    labels = [f"SELECT account_id, {literal(n)} AS name, max_by(`_l_{n}`, _row) AS value "
              f"FROM valid WHERE `_l_{n}` IS NOT NULL AND `_l_{n}` <> '' GROUP BY account_id"
              for n in m.labels]
    db.view("labels", " UNION ALL ".join(labels) if labels else
                   "SELECT CAST(NULL AS STRING) AS account_id, CAST(NULL AS STRING) AS name, "
                   "CAST(NULL AS STRING) AS value WHERE false")
    if not posts:   # a record of accounts is stored where it adds or completes one, or a label
        db.materialise("stored_rows", f"""
            SELECT min(v._row) AS _row FROM valid v JOIN acct a USING (account_id)
            WHERE a.is_new OR a.fills GROUP BY v._key
            UNION
            SELECT min(v._row) FROM valid v JOIN labels l USING (account_id)
            LEFT ANTI JOIN (SELECT account_id, name FROM all_account_labels
                            WHERE platform = {p}) s
                ON s.account_id = l.account_id AND s.name = l.name
            GROUP BY v.account_id""")


def _commit(db: Any, state: _State, posts: bool, p: str, src: str,
            counts: FileCounts) -> None:
    """Add the file's new rows to the run's tables (``merge._commit_partition``)."""
    counts.stored += db.scalar("SELECT count(*) FROM stored_rows")
    if posts:
        post_cols = ", ".join(f"v.{c}" for c in ("post_id",) + POST_FIELDS)
        state.add("object_keys", "SELECT _new_key AS object_key, value FROM objnew")
        state.add("posts", f"""
            SELECT {p}, {post_cols}, {src}, v._row, {state.run_id}, a.account_key,
                   b.parent_key, b._new_key
            FROM valid v JOIN postnew b ON v._row = b.first_row
            JOIN acctmap a ON a.account_id = v.account_id""")
        state.add("entities", f"""
            SELECT {p}, e.post_id, e.kind, e.value, e.position, o.object_key
            FROM new_entities e JOIN objmap o USING (value)""")
    state.add("account_keys", f"SELECT CAST(_new_key AS INT), {p}, account_id FROM acctnew")
    fields = ", ".join(ACCOUNT_FIELDS)
    filled = ", ".join(f"coalesce(s.{c.removeprefix('account_')}, a.{c}) AS "
                       f"{c.removeprefix('account_')}" for c in ACCOUNT_FIELDS)
    names = ", ".join(c.removeprefix("account_") for c in ACCOUNT_FIELDS)
    db.view("accounts_next", f"""
        SELECT s.platform, s.account_id, {filled}, s.run_id
        FROM all_accounts s LEFT JOIN (SELECT * FROM acct WHERE fills) a
        ON s.platform = {p} AND s.account_id = a.account_id
        UNION ALL
        SELECT {p}, account_id, {fields}, {state.run_id} FROM acct WHERE is_new""")
    if db.scalar("SELECT count(*) FROM acct WHERE is_new OR fills"):
        state.accounts_changed = True
    db.materialise("run_accounts", f"SELECT platform, account_id, {names}, run_id "
                                   "FROM accounts_next")
    state.add("account_labels", f"""
        SELECT {p}, l.account_id, l.name, l.value FROM labels l
        LEFT ANTI JOIN (SELECT account_id, name FROM all_account_labels WHERE platform = {p}) s
        ON s.account_id = l.account_id AND s.name = l.name""")


def _write_files(db: Any, stage: str, run_id: int, report: Any) -> None:
    """Each file's counts to ``_ingest/files`` of the run's ``stage`` (the ``files`` of the
    store's run)."""
    rows = [{"run_id": run_id, "path": c.path, "format": c.format, "read": c.read,
             "stored": c.stored, "duplicates": c.duplicates, "rejected": c.rejected}
            for c in report.files]
    if rows:
        db.spark.createDataFrame(rows, "run_id BIGINT, path STRING, format STRING, read BIGINT, "
                                 "stored BIGINT, duplicates BIGINT, rejected BIGINT").write.mode(
            "append").parquet(f"{stage}/{INGEST_FILES}")
