"""Validate, normalise, de-duplicate and store the records a reader maps, the same for every format.

The accounting rule (checked by tests): every input record is exactly one of

- **rejected**: the parser or a check refused it; a ``rejects`` row names file, line, field, reason;
- **stored**: it created a post (the first record of a new post id and record key), added an
  entity to a post that was already stored, or (account files) created or completed an account;
- **duplicate**: everything it carries is already in the store.

A record whose post id is stored, or read earlier in the file, with other content is rejected as
a conflict (never counted as a duplicate), its reason naming the earlier record.

All heavy work is SQL over scratch tables on disk, in partitions of a bounded number of
records, each stored in one transaction (see :func:`merge`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb

from swarmscope.store.backend import rollback
from swarmscope.store.sql import literal
from swarmscope.errors import UnusableInputError
from swarmscope.ingest.normalize import (EPOCH_RULE, PLAUSIBLE_BEFORE, PLAUSIBLE_FROM,
                                         canonical_urls_sql, clean_id_sql, parent_object_sql)
from swarmscope.ingest.reader import ENTITY_KINDS, POST_KINDS, RECORD_FIELDS, Mapping, Reader
from swarmscope.ingest.sources import CsvLayout, InputFile, locate_csv_lines

FIELD_TYPES = {"created_at": "TIMESTAMP", "account_created_at": "TIMESTAMP",
               "deleted_at": "TIMESTAMP",
               "followers": "BIGINT", "following": "BIGINT", "latitude": "DOUBLE",
               "longitude": "DOUBLE"}
STRING_FIELDS = [f for f in RECORD_FIELDS if f not in FIELD_TYPES]
ID_FIELDS = ("post_id", "account_id", "parent_post_id", "parent_account_id", "quoted_post_id")
ACCOUNT_FIELDS = ("handle", "display_name", "description", "account_created_at", "followers",
                  "following", "reported_location")
#: What a post is (the posts table's columns after its id): a record whose post id is stored, or
#: read earlier in the same file, with another value in one of them conflicts with it.
POST_FIELDS = ("account_id", "created_at", "kind", "text", "lang", "client", "parent_post_id",
               "parent_account_id", "quoted_post_id", "latitude", "longitude")
MAX_FIELD_CHARS = 1_000_000
#: Records stored per transaction: bounds the hash tables, so memory does not grow with a file.
PARTITION_RECORDS = 2_000_000


@dataclass
class FileCounts:
    """What happened to the records of one file: ``read == stored + duplicates + rejected``."""

    path: str
    format: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    posts: int = 0
    accounts: int = 0
    entities: int = 0


def map_records(con: duckdb.DuckDBPyConnection, reader: Reader, m: Mapping, f: InputFile,
                rows: str) -> int:
    """Evaluate the reader's expressions on the records of ``m.source`` that meet ``rows``
    into ``scratch.rec``, add the rejects of its checks to ``scratch.bad``, and return how
    many records it mapped.

    Ids are trimmed of white space and byte-order marks alike (a BOM mid-file, where files
    were concatenated, is no part of an id)."""
    part = dataclasses.replace(m, source=f"(SELECT * FROM {m.source} WHERE {rows})")
    with _mapping(reader, f):
        con.execute(f"CREATE OR REPLACE TABLE scratch.rec AS {checked_record_sql(reader, part)}")
    con.execute("""
        INSERT INTO scratch.bad SELECT _row, _line, _bad_field, _bad_reason, _bad_excerpt
        FROM scratch.rec WHERE _bad_reason IS NOT NULL""")
    return con.execute("SELECT count(*) FROM scratch.rec").fetchone()[0]


@contextmanager
def _mapping(reader: Reader, f: InputFile) -> Iterator[None]:
    """An engine error in the reader's SQL (a column the file lacks) is the file's fault:
    say so, naming the file and the format (running out of memory is not)."""
    try:
        yield
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: cannot map its records as {reader.name}: "
                                 f"{str(exc).splitlines()[0]}") from None


def checked_record_sql(reader: Reader, m: Mapping) -> str:
    """:func:`record_sql` with its reject (``_bad_field``, ``_bad_reason``, ``_bad_excerpt``:
    NULL for a record that passes, :func:`reject_sql`) and the object the post reposts,
    replies to or likes (``_parent``), computed in the one pass that maps the records."""
    field_, reason, excerpt = reject_sql(reader, m)
    parent = parent_object_sql("kind", "parent_post_id", "parent_account_id", "text")
    return f"""
        SELECT * EXCLUDE (_bad_reason), CASE WHEN _bad_reason IS NOT NULL THEN {field_} END
               AS _bad_field, _bad_reason,
               CASE WHEN _bad_reason IS NOT NULL THEN {excerpt} END AS _bad_excerpt
        FROM (SELECT *, {reason} AS _bad_reason, {parent} AS _parent
              FROM ({record_sql(reader, m)}) r) c"""


def record_sql(reader: Reader, m: Mapping) -> str:
    """The query (DuckDB SQL over ``m.source``) of the mapped records: each canonical field,
    the record key, the raw time, the excerpt, the reader's own check, entities and labels.
    Row by row, so that it gives the same rows on a whole file or on any batch of its rows
    (the Spark path evaluates it per Arrow batch: :mod:`swarmscope.ingest.spark`)."""
    cols = ["_row", "_line"] + [f"{field_sql(m, name)} AS {name}" for name in RECORD_FIELDS]
    key = m.record_key or m.fields["post_id" if reader.posts else "account_id"]
    cols.append(f"CAST({key} AS VARCHAR) AS _key")
    cols.append(f"CAST({m.time_raw} AS VARCHAR) AS _time_raw")
    cols.append(f"CAST({m.excerpt or 'NULL'} AS VARCHAR) AS _excerpt")
    cols.append(f"{_case(m.checks, 1)} AS _check_field")
    cols.append(f"{_case(m.checks, 2)} AS _check_reason")
    for kind, expr in m.entities.items():
        assert kind in ENTITY_KINDS, kind
        cols.append(f"CAST({expr} AS VARCHAR[]) AS _e_{kind}")
    for name, expr in m.labels.items():
        cols.append(f"CAST({expr} AS VARCHAR) AS \"_l_{name}\"")
    return f"SELECT {', '.join(cols)} FROM {m.source}"


def field_sql(m: Mapping, name: str) -> str:
    """The SQL of the canonical field ``name`` of a record: the reader's expression cast to
    the field's type, an id trimmed (:func:`~swarmscope.ingest.normalize.clean_id_sql`)."""
    expr = f"CAST({m.fields.get(name, 'NULL')} AS {FIELD_TYPES.get(name, 'VARCHAR')})"
    return clean_id_sql(expr) if name in ID_FIELDS else expr


def reject_sql(reader: Reader, m: Mapping) -> tuple[str, str, str]:
    """DuckDB SQL over a mapped record (:func:`record_sql`): the field at fault, the reason
    (NULL for a record that passes every check; the first failing check wins) and the
    excerpt of its reject."""
    checks = [("_check_reason IS NOT NULL", "_check_field", "_check_reason")]
    checks += _central_checks(reader, m)
    return (_case(checks, 1), _case(checks, 2),
            "left(coalesce(_excerpt, text, post_id, account_id, ''), 200)")


def _refuse_nested(con: duckdb.DuckDBPyConnection, m: Mapping, f: InputFile) -> None:
    """A text field mapped from a struct, map or list (Parquet) is refused: its text form is
    no value of the field."""
    exprs = ", ".join(f"{m.fields[n]} AS {n}" for n in STRING_FIELDS if n in m.fields)
    for name, type_, *_ in con.execute(f"DESCRIBE SELECT {exprs} FROM {m.source}").fetchall():
        if type_.startswith(("STRUCT", "MAP", "UNION")) or type_.endswith("]"):
            raise UnusableInputError(
                f"{f.path}: field {name} would be read from a {type_.split('(')[0]} value, "
                f"not text: map one scalar part of it (--format table --map {name}=column.part)"
                " or flatten the file")


def _case(checks: list[tuple[str, str, str]], part: int) -> str:
    """``CASE WHEN cond THEN field-or-reason … END`` over (condition, field, reason) checks;
    the first condition that holds wins. Fields are names (quoted unless a column)."""
    if not checks:
        return "NULL::VARCHAR"
    whens = []
    for check in checks:
        value = check[part]
        if part == 1 and not value.startswith("_check"):
            value = literal(value)
        whens.append(f"WHEN {check[0]} THEN {value}")
    return "CASE " + " ".join(whens) + " END"


def _central_checks(reader: Reader, m: Mapping) -> list[tuple[str, str, str]]:
    checks = []
    if reader.posts:
        checks.append(("post_id IS NULL OR trim(post_id) = ''", "post_id",
                       "'missing post id: every post needs an id'"))
    checks.append(("account_id IS NULL OR trim(account_id) = ''", "account_id",
                   "'missing account id: every record needs its author'"))
    if reader.posts:
        checks.append(("created_at IS NULL", m.time_field,
                       "CASE WHEN _time_raw IS NULL OR trim(_time_raw) = '' THEN 'missing time: ' "
                       f"|| {literal('expected ' + m.time_hint)} "
                       "WHEN regexp_full_match(trim(_time_raw), '-?[0-9]+(\\.[0-9]+)?') "
                       "THEN 'timestamp out of range: ' || left(_time_raw, 60) || "
                       f"{literal(', expected ' + EPOCH_RULE)} "
                       "ELSE 'unparseable timestamp: ' || left(_time_raw, 60) || "
                       f"{literal(', expected ' + m.time_hint)} END"))
        checks.append((f"created_at < TIMESTAMP '{PLAUSIBLE_FROM}' "
                       f"OR created_at >= TIMESTAMP '{PLAUSIBLE_BEFORE}'", m.time_field,
                       "'implausible time: ' || coalesce(left(_time_raw, 60) || ' reads as ', '') "
                       f"|| created_at || ', outside {PLAUSIBLE_FROM[:4]} to "
                       f"{int(PLAUSIBLE_BEFORE[:4]) - 1}; fix the value and retry'"))
        checks.append((f"kind NOT IN {tuple(POST_KINDS)}", "kind",
                       "'unknown post kind: ' || coalesce(kind, 'NULL') || "
                       "', expected post, repost, reply, quote or like'"))
    for f in STRING_FIELDS:
        checks.append((f"contains({f}, chr(0))", f,
                       "'NUL byte: the field contains one; the file is corrupt or binary, "
                       "clean it and retry'"))
    for f in ("text", "description", "display_name"):
        checks.append((f"length({f}) > {MAX_FIELD_CHARS}", f,
                       f"'field too long: ' || length({f}) || ' characters (more than "
                       f"{MAX_FIELD_CHARS}); a quoting error in the file? fix it and retry'"))
    return checks


def merge(con: duckdb.DuckDBPyConnection, reader: Reader, m: Mapping, f: InputFile,
          platform: str, run_id: int, layout: CsvLayout | None) -> FileCounts:
    """Map and store the records of one file (``m.source``) and count what happened to each.

    The records fall in partitions of about ``PARTITION_RECORDS``: ranges of records in input
    order, every record of a post (or, in an account file, of an account) going with its
    first. Each partition is mapped, checked for conflicts and stored in its own transaction,
    reading only its own range of the staged records: the mapped records and the hash tables
    of a partition stay small, so memory and time stay bounded whatever the file's size. The
    rejects (parser's, checks', conflicts) are stored after the partitions. A killed ingest
    leaves whole partitions; running it again stores the rest (what is stored counts as
    duplicate) and every reject. ``layout`` is how a delimited file was staged (None: not
    delimited text).
    """
    counts = FileCounts(str(f.path), reader.name)
    with _mapping(reader, f):
        _refuse_nested(con, m, f)
    n = con.execute(f"SELECT count(*) FROM {m.source}").fetchone()[0]
    if n > PARTITION_RECORDS and m.source != "scratch.raw":
        # a reader's own relation, numbered over the whole file: staged once, read by ranges
        con.execute(f"CREATE TABLE scratch.src AS SELECT * FROM {m.source}")
        m = dataclasses.replace(m, source="scratch.src")
    con.execute("CREATE TABLE scratch.bad (_row BIGINT, _line BIGINT, field VARCHAR, "
                "reason VARCHAR, excerpt VARCHAR)")
    key = "post_id" if reader.posts else "account_id"
    # the posts stored before this file (keys grow as posts are added): only they can hold
    # an id of a partition, whose ids no other partition reads
    before = con.execute("SELECT max(post_key) FROM posts WHERE platform = "
                         f"{literal(platform)}").fetchone()[0] if reader.posts else None
    # the accounts this file stores get keys above it, as the accounts of no other file
    keys_before = con.execute("SELECT coalesce(max(account_key), 0) FROM account_keys"
                              ).fetchone()[0]
    n_rec = 0
    for rows in _partitions(con, m, key, n):
        n_rec += map_records(con, reader, m, f, rows)
        conflicts = False
        if reader.posts:
            _group_posts(con, literal(platform), before)
            conflicts = _reject_conflicts(con, literal(platform))
        con.execute("CREATE OR REPLACE VIEW scratch.valid AS SELECT * FROM scratch.rec WHERE "
                    "_bad_reason IS NULL" + (" AND _row NOT IN (SELECT _row FROM scratch.bad)"
                                             if conflicts else ""))
        _prepare(con, reader, m, platform, keys_before)
        _commit_partition(con, reader, f, platform, run_id, counts)
    if layout is not None:
        _locate_reject_lines(con, f, layout)
    _commit_rejects(con, f, run_id, n_rec, counts)
    counts.duplicates = counts.read - counts.rejected - counts.stored
    return counts


def _partitions(con: duckdb.DuckDBPyConnection, m: Mapping, key: str, n: int) -> list[str]:
    """Conditions on the ``n`` records of ``m.source``, one per partition: ranges of ``_row``
    of about ``PARTITION_RECORDS`` records, a record whose key (``post_id`` or ``account_id``)
    was read in an earlier range going with its first record (``scratch.moved``)."""
    parts = max(1, -(-n // PARTITION_RECORDS))
    if parts == 1:
        return ["true"]
    lo, hi = con.execute(f"SELECT min(_row), max(_row) FROM {m.source}").fetchone()
    step = -(-(hi - lo + 1) // parts)

    def part(row: str) -> str:   # SQL: the partition of a row number
        return f"({row} - {lo}) // {step}"

    con.execute(f"""
        CREATE TABLE scratch.moved AS
        WITH k AS (SELECT _row, {field_sql(m, key)} AS k FROM {m.source}),
        again AS (SELECT k, min(_row) AS first_row FROM k WHERE k IS NOT NULL
                  GROUP BY k HAVING count(*) > 1)
        SELECT k._row, {part('again.first_row')} AS part FROM k JOIN again USING (k)
        WHERE {part('k._row')} <> {part('again.first_row')}""")
    moved = con.execute("SELECT count(*) FROM scratch.moved").fetchone()[0]
    out = []
    for i in range(parts):
        rows = f"_row BETWEEN {lo + i * step} AND {lo + (i + 1) * step - 1}"
        if moved:
            rows = (f"{rows} AND _row NOT IN (SELECT _row FROM scratch.moved) OR _row IN "
                    f"(SELECT _row FROM scratch.moved WHERE part = {i})")
        out.append(rows)
    return out


def _group_posts(con: duckdb.DuckDBPyConnection, p: str, before: int | None) -> None:
    """``scratch.batch_posts``: each post id of the partition among the records that pass the
    checks, with its records (``n``), its first record and the object that one reposts,
    replies to or likes, and whether the store holds the id (``existed``: among the posts of
    platform ``p`` with a key up to ``before``; None: none). Conflicts keep the first record
    of a post new to the store, so these hold after them too."""
    existed = ("false" if before is None else
               f"post_id IN (SELECT post_id FROM posts WHERE platform = {p} "
               f"AND post_key <= {before})")
    con.execute(f"""
        CREATE OR REPLACE TABLE scratch.batch_posts AS
        SELECT post_id, count(*) AS n, min(_row) AS first_row, arg_min(_parent, _row) AS parent,
               {existed} AS existed
        FROM scratch.rec WHERE _bad_reason IS NULL GROUP BY post_id""")


def _reject_conflicts(con: duckdb.DuckDBPyConnection, p: str) -> bool:
    """Add to ``scratch.bad`` every record of the partition whose post id is stored, or read
    earlier in this file, with other content (:data:`POST_FIELDS`): a conflict, never a
    duplicate. The earlier record is kept; the reason names it and the first field that
    differs, with both values. Only ids read twice or stored can conflict
    (``scratch.batch_posts``): most files have none. True where it found any."""
    again = "SELECT post_id FROM scratch.batch_posts WHERE n > 1 OR existed"
    if not con.execute(f"SELECT count(*) FROM ({again})").fetchone()[0]:
        return False
    rejects = conflicts_sql(p, f"AND post_id IN ({again})")
    return con.execute(f"INSERT INTO scratch.bad {rejects}").fetchone()[0] > 0


def conflicts_sql(p: str, where: str, rec: str = "scratch.rec", bad: str = "scratch.bad",
                  text: str = "VARCHAR", posts: str = "posts") -> str:
    """The rejects (``_row, _line, field, reason, excerpt``) of :func:`_reject_conflicts`, in
    the SQL DuckDB and Spark share: the mapped records ``rec`` less the rejects ``bad``
    against the ``posts`` of platform ``p``; ``text`` is the engine's name of the string type."""
    def first(value) -> str:   # the value for the first field that differs
        return "CASE " + " ".join(f"WHEN v.{c} IS DISTINCT FROM r.{c} THEN {value(c)}"
                                  for c in POST_FIELDS) + " END"

    def shown(side: str):
        return lambda c: f"coalesce(left(CAST({side}.{c} AS {text}), 60), 'none')"

    cols = ", ".join(POST_FIELDS)
    return f"""
        WITH v AS (SELECT * FROM {rec}
                   WHERE _row NOT IN (SELECT _row FROM {bad}) {where}),
        stored AS (SELECT post_id, {cols},
                          'record ' || source_row || ' of ' || source_file AS origin
                   FROM {posts} WHERE platform = {p} AND post_id IN (SELECT post_id FROM v)),
        again AS (SELECT post_id FROM v GROUP BY post_id HAVING count(*) > 1),
        ref AS (SELECT * FROM stored UNION ALL
                SELECT post_id, {cols},
                       coalesce('line ' || _line, 'record ' || _row) || ' of this file'
                FROM v WHERE post_id IN (SELECT post_id FROM again)
                  AND post_id NOT IN (SELECT post_id FROM stored)
                QUALIFY _row = min(_row) OVER (PARTITION BY post_id))
        SELECT v._row, v._line, {first(literal)},
               'conflicting record: post ' || v.post_id || ' is already read from ' || r.origin
               || ' with another ' || {first(literal)} || ' (' || {first(shown('r'))} || ' there, '
               || {first(shown('v'))} || ' here): the same id for other content; the earlier '
               || 'record is kept, check which one is right',
               left(coalesce(v._excerpt, v.text, v.post_id, ''), 200)
        FROM v JOIN ref r USING (post_id)
        WHERE {' OR '.join(f'v.{c} IS DISTINCT FROM r.{c}' for c in POST_FIELDS)}"""


def _prepare(con: duckdb.DuckDBPyConnection, reader: Reader, m: Mapping, platform: str,
             keys_before: int) -> None:
    """Compute, in scratch tables, everything the transaction of a partition will insert
    (``keys_before``: the largest account key before the file)."""
    p = literal(platform)
    if reader.posts:
        _prepare_entities(con, m, p)
        # a record is keyed by its post id unless the format says otherwise (a share, a row)
        new_posts = ("SELECT first_row FROM scratch.batch_posts WHERE NOT existed"
                     if m.record_key is None else
                     "SELECT min(v._row) FROM scratch.valid v JOIN scratch.batch_posts b "
                     "USING (post_id) WHERE NOT b.existed GROUP BY v._key")
        con.execute(f"""
            CREATE OR REPLACE TABLE scratch.stored_rows AS
            {new_posts}
            UNION ALL
            SELECT DISTINCT owner FROM scratch.new_entities WHERE existed""")
        con.execute("""
            CREATE OR REPLACE VIEW scratch.new_posts AS
            SELECT first_row, parent FROM scratch.batch_posts WHERE NOT existed""")
        _keys(con, "objmap", "object_keys", "object_key", "value",
              "SELECT parent AS value FROM scratch.new_posts WHERE parent IS NOT NULL "
              "UNION SELECT value FROM scratch.new_entities")
        # the keys of the new posts, on narrow rows: numbered in input order after the
        # largest key (the partition is committed next, by the store's only writer)
        con.execute("""
            CREATE OR REPLACE TABLE scratch.new_post_keys AS
            SELECT b.first_row, o.object_key AS parent_key,
                   (SELECT coalesce(max(post_key), 0) FROM posts)
                       + row_number() OVER (ORDER BY b.first_row) AS post_key
            FROM scratch.new_posts b LEFT JOIN scratch.objmap o ON o.value = b.parent""")
    _keys(con, "acctmap", "account_keys", "account_key", "platform, account_id",
          f"SELECT DISTINCT {p} AS platform, account_id FROM scratch.valid")
    _prepare_accounts(con, m, p, reader.posts, keys_before)


def _keys(con: duckdb.DuckDBPyConnection, name: str, table: str, key: str, cols: str,
          values: str) -> None:
    """``scratch.<name>``: each (distinct) row of ``values`` with its integer key in the
    dictionary ``table``; rows new to it (``is_new``) are numbered after the largest key, in
    the order of ``cols``: the same input gives the same keys (and an edge's account_a, the
    account with the smaller key, has the smaller id where the accounts came in one partition)."""
    con.execute(f"""
        CREATE OR REPLACE TABLE scratch.{name} AS
        SELECT v.*, coalesce(d.{key}, (SELECT coalesce(max({key}), 0) FROM {table})
                             + row_number() OVER (PARTITION BY d.{key} IS NULL ORDER BY {cols}))
                    AS {key},
               d.{key} IS NULL AS is_new
        FROM ({values}) v LEFT JOIN {table} d USING ({cols})""")


def _prepare_entities(con: duckdb.DuckDBPyConnection, m: Mapping, p: str) -> None:
    parts = [f"SELECT _row, post_id, {literal(kind)} AS kind, "
             f"unnest(_e_{kind}) AS value, unnest(generate_series(0, len(_e_{kind}) - 1)) AS position "
             f"FROM scratch.valid WHERE len(_e_{kind}) > 0" for kind in m.entities]
    if not parts:
        parts = ["SELECT NULL::BIGINT AS _row, NULL AS post_id, NULL AS kind, NULL AS value, "
                 "NULL::BIGINT AS position WHERE false"]
    con.execute("CREATE OR REPLACE TABLE scratch.ent0 AS SELECT _row, post_id, kind, trim(value) AS value, "
                f"position FROM ({' UNION ALL '.join(parts)}) WHERE trim(value) <> ''")
    con.execute("CREATE OR REPLACE TABLE scratch.urlmap0 AS " + canonical_urls_sql(
        "(SELECT DISTINCT value AS raw FROM scratch.ent0 WHERE kind = 'url')"))
    con.execute("""
        CREATE OR REPLACE TABLE scratch.urlmap AS
        SELECT u.raw, coalesce(u.url, u.raw) AS url, h.domain
        FROM scratch.urlmap0 u LEFT JOIN (
            SELECT host, swarmscope_registered_domain(host) AS domain
            FROM (SELECT DISTINCT host FROM scratch.urlmap0 WHERE host IS NOT NULL)) h
        USING (host)""")
    con.execute("""
        CREATE OR REPLACE TABLE scratch.tagmap AS
        SELECT raw, swarmscope_hashtag(raw) AS tag
        FROM (SELECT DISTINCT value AS raw FROM scratch.ent0 WHERE kind = 'hashtag')""")
    con.execute("""
        CREATE OR REPLACE TABLE scratch.ent AS
        SELECT e._row, e.post_id, e.kind,
               CASE e.kind WHEN 'url' THEN u.url WHEN 'hashtag' THEN t.tag
                           WHEN 'mention' THEN ltrim(e.value, '@') ELSE e.value END AS value,
               e.position
        FROM scratch.ent0 e
        LEFT JOIN scratch.urlmap u ON e.kind = 'url' AND u.raw = e.value
        LEFT JOIN scratch.tagmap t ON e.kind = 'hashtag' AND t.raw = e.value
        UNION ALL
        SELECT e._row, e.post_id, 'domain', u.domain, e.position
        FROM scratch.ent0 e JOIN scratch.urlmap u ON e.kind = 'url' AND u.raw = e.value
        WHERE u.domain IS NOT NULL""")
    con.execute(f"""
        CREATE OR REPLACE TABLE scratch.new_entities AS
        SELECT e.post_id, e.kind, e.value, min(e.position) AS position, min(e._row) AS owner,
               any_value(b.existed) AS existed
        FROM scratch.ent e JOIN scratch.batch_posts b USING (post_id)
        WHERE e.value IS NOT NULL AND e.value <> ''
        GROUP BY e.post_id, e.kind, e.value
        HAVING NOT any_value(b.existed) OR NOT EXISTS (
            SELECT 1 FROM entities s WHERE s.platform = {p} AND s.post_id = e.post_id
            AND s.kind = e.kind AND s.value = e.value)""")


def _prepare_accounts(con: duckdb.DuckDBPyConnection, m: Mapping, p: str, posts: bool,
                      keys_before: int) -> None:
    """``scratch.acct`` and ``scratch.labels``: each account of the partition with its latest
    value of each field and label. An account already stored gets only the fields it lacks
    (``fills``), unless this file stored it (``ours``: an earlier partition; its key is above
    ``keys_before``), whose later records win, as they would in one partition. Only the
    stored accounts with a key already (``scratch.acctmap``: every stored account has one) are
    read, not every stored account: a partition's cost does not grow with the store."""
    latest = ", ".join(f"max_by({c}, _row) FILTER (WHERE {c} IS NOT NULL) AS {c}"
                       for c in ACCOUNT_FIELDS)
    lacks = " OR ".join(f"(s.{c} IS NULL AND a.{c} IS NOT NULL)" for c in ACCOUNT_FIELDS)
    newer = " OR ".join(f"(a.{c} IS NOT NULL AND a.{c} IS DISTINCT FROM s.{c})"
                        for c in ACCOUNT_FIELDS)
    con.execute(f"""
        CREATE OR REPLACE TABLE scratch.acct AS
        SELECT a.*, s.account_id IS NULL AS is_new, ours,
               s.account_id IS NOT NULL AND ({lacks} OR ours AND ({newer})) AS fills
        FROM (SELECT account_id, min(_row) AS first_row, {latest}
              FROM scratch.valid GROUP BY account_id) a
        LEFT JOIN (SELECT * EXCLUDE (created_at), created_at AS account_created_at
                   FROM accounts WHERE platform = {p} AND account_id IN (
                       SELECT account_id FROM scratch.acctmap WHERE NOT is_new)) s
             USING (account_id)
        JOIN (SELECT account_id, NOT is_new AND account_key > {int(keys_before)} AS ours
              FROM scratch.acctmap) k USING (account_id)""")
    labels = [f"SELECT account_id, {literal(n)} AS name, max_by(\"_l_{n}\", _row) AS value "
              f"FROM scratch.valid WHERE \"_l_{n}\" IS NOT NULL AND \"_l_{n}\" <> '' "
              "GROUP BY account_id" for n in m.labels]
    con.execute("CREATE OR REPLACE TABLE scratch.labels AS " + (" UNION ALL ".join(labels) if labels else
                "SELECT NULL AS account_id, NULL AS name, NULL AS value WHERE false"))
    if not posts:
        con.execute(f"""
            CREATE OR REPLACE TABLE scratch.stored_rows AS
            SELECT min(v._row) AS _row FROM scratch.valid v
            JOIN scratch.acct a USING (account_id) WHERE a.is_new OR a.fills GROUP BY v._key
            UNION
            SELECT min(v._row) FROM scratch.valid v JOIN scratch.labels l USING (account_id)
            WHERE NOT EXISTS (SELECT 1 FROM account_labels s WHERE s.platform = {p}
                              AND s.account_id = l.account_id AND s.name = l.name)
            GROUP BY v.account_id""")


def _locate_reject_lines(con: duckdb.DuckDBPyConnection, f: InputFile,
                         layout: CsvLayout) -> None:
    """Physical lines for the rejects of a delimited file (staged with record numbers)."""
    rows = {r[0] for r in con.execute(
        "SELECT _row FROM scratch.bad WHERE _line IS NULL ORDER BY _row LIMIT 100000").fetchall()}
    records = {r[0] for r in con.execute("SELECT DISTINCT line FROM scratch.raw_rejects")
               .fetchall()}
    if not rows and not records:
        return
    by_row, by_record = locate_csv_lines(f, layout, rows, records)
    con.execute("CREATE TABLE scratch.bad_lines (kind VARCHAR, n BIGINT, line BIGINT)")
    con.executemany("INSERT INTO scratch.bad_lines VALUES (?, ?, ?)",
                    [("row", *x) for x in by_row.items()]
                    + [("record", *x) for x in by_record.items()])
    con.execute("UPDATE scratch.bad SET _line = l.line FROM scratch.bad_lines l "
                "WHERE l.kind = 'row' AND scratch.bad._row = l.n")
    con.execute("UPDATE scratch.raw_rejects SET line = l.line FROM scratch.bad_lines l "
                "WHERE l.kind = 'record' AND scratch.raw_rejects.line = l.n")


def _commit_rejects(con: duckdb.DuckDBPyConnection, f: InputFile, run_id: int, n_rec: int,
                    counts: FileCounts) -> None:
    """Count the file's records (``n_rec`` mapped) and store its rejects (parser's, checks'
    and conflicts)."""
    src = literal(str(f.path))
    parse_rejects = con.execute("SELECT count(*) FROM scratch.raw_rejects").fetchone()[0]
    n_bad = con.execute("SELECT count(*) FROM scratch.bad").fetchone()[0]
    counts.read = n_rec + parse_rejects
    counts.rejected = n_bad + parse_rejects
    for field_, reason, n in con.execute(
            "SELECT field, reason, count(*) FROM (SELECT field, reason FROM scratch.raw_rejects "
            "UNION ALL SELECT field, reason FROM scratch.bad) GROUP BY ALL").fetchall():
        counts.reasons[(field_, _reason_kind(reason))] += n
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"INSERT INTO rejects SELECT {run_id}, {src}, line, field, reason, excerpt "
                    "FROM scratch.raw_rejects")
        con.execute(f"INSERT INTO rejects SELECT {run_id}, {src}, _line, field, reason, excerpt "
                    "FROM scratch.bad")
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def _commit_partition(con: duckdb.DuckDBPyConnection, reader: Reader, f: InputFile,
                      platform: str, run_id: int, counts: FileCounts) -> None:
    """Write one prepared partition into the store in one transaction; add to ``counts``."""
    p, src = literal(platform), literal(str(f.path))
    counts.stored += con.execute("SELECT count(*) FROM scratch.stored_rows").fetchone()[0]
    con.execute("BEGIN TRANSACTION")
    try:
        if reader.posts:
            post_cols = ", ".join(("post_id",) + POST_FIELDS)
            con.execute("INSERT INTO object_keys SELECT object_key, value FROM scratch.objmap "
                        "WHERE is_new")
            counts.posts += con.execute(f"""
                INSERT INTO posts SELECT {p}, {', '.join('v.' + c for c in post_cols.split(', '))},
                       {src}, v._row, {run_id}, a.account_key, b.parent_key, b.post_key
                FROM scratch.valid v JOIN scratch.new_post_keys b ON v._row = b.first_row
                JOIN scratch.acctmap a ON a.account_id = v.account_id""").fetchone()[0]
            con.execute(f"""
                INSERT INTO post_deletions SELECT {p}, v.post_id, v.deleted_at
                FROM scratch.valid v JOIN scratch.new_posts b ON v._row = b.first_row
                WHERE v.deleted_at IS NOT NULL""")
            counts.entities += con.execute(
                f"INSERT INTO entities SELECT {p}, post_id, kind, value, position, o.object_key "
                "FROM scratch.new_entities JOIN scratch.objmap o USING (value)").fetchone()[0]
        con.execute("INSERT INTO account_keys SELECT account_key, platform, account_id "
                    "FROM scratch.acctmap WHERE is_new")
        store_cols = ", ".join(_store_column(c) for c in ACCOUNT_FIELDS)
        counts.accounts += con.execute(
            f"INSERT INTO accounts (platform, account_id, {store_cols}, run_id) "
            f"SELECT {p}, account_id, {', '.join(ACCOUNT_FIELDS)}, {run_id} FROM scratch.acct "
            "WHERE is_new").fetchone()[0]
        sets = ", ".join(f"{_store_column(c)} = CASE WHEN a.ours THEN coalesce(a.{c}, "
                         f"accounts.{_store_column(c)}) ELSE coalesce(accounts.{_store_column(c)}, "
                         f"a.{c}) END" for c in ACCOUNT_FIELDS)
        con.execute(f"UPDATE accounts SET {sets} FROM scratch.acct a WHERE a.fills "
                    f"AND accounts.platform = {p} AND accounts.account_id = a.account_id")
        con.execute(f"""
            UPDATE account_labels SET value = l.value FROM scratch.labels l
            JOIN scratch.acct a USING (account_id)
            WHERE a.ours AND account_labels.platform = {p}
              AND account_labels.account_id = l.account_id AND account_labels.name = l.name""")
        con.execute(f"""
            INSERT INTO account_labels SELECT {p}, l.account_id, l.name, l.value
            FROM scratch.labels l WHERE NOT EXISTS (
                SELECT 1 FROM account_labels s WHERE s.platform = {p}
                AND s.account_id = l.account_id AND s.name = l.name)""")
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def _store_column(field_: str) -> str:
    """The accounts table's column for a record field (``account_created_at`` -> ``created_at``)."""
    return field_.removeprefix("account_")


def _reason_kind(reason: str) -> str:
    """A reject reason without the record's own values: the text before the first colon."""
    return reason.split(":", 1)[0]

