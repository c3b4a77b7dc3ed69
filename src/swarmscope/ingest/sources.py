"""Input files: listing, fingerprints, sanity checks, and staging raw records into scratch tables.

A staged file becomes ``scratch.raw`` with a 1-based record number ``_row`` (and ``_line`` where
the physical line is known), plus ``scratch.raw_rejects(line, field, reason, excerpt)`` for the
records the parser itself could not read. CSV parsing runs in DuckDB (streaming, out of core);
JSON records are split in Python (one pass, constant memory) and extracted with DuckDB's JSON
functions.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import duckdb

from swarmscope.store.sql import literal
from swarmscope.errors import UnusableInputError
from swarmscope.params import parse_size

#: The default record limit (``--max-record-bytes``): a CSV line, a JSON record, a top-level
#: JSON array; DuckDB's default line limit (2 MB) would make one long field fatal for the file.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: The default ``--max-decompressed``: a gzipped file may expand to 100 times its size, and
#: always to ``MIN_DECOMPRESSED`` (real archives expand 3-20 times, gzip bombs 1,000).
MAX_DECOMPRESSED = "100x"
MIN_DECOMPRESSED = 1 << 30
#: Header columns read at most (the formats have up to 40; DuckDB takes minutes over 10,000).
MAX_COLUMNS = 2048
JSON_BATCH = 20_000
#: A batch of JSON records is written to DuckDB when its text reaches this size.
JSON_BATCH_BYTES = 32 * 1024 * 1024
BLOCK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    path: Path
    sha256: str
    size: int
    max_record: int = MAX_RECORD_BYTES
    #: whether a line is longer than ``max_record`` (such lines are rejected when staged)
    overlong: bool = False

    @property
    def gz(self) -> bool:
        return self.path.name.endswith(".gz")

    @property
    def kind(self) -> str:
        """'parquet', 'json' or 'text' (CSV and other delimited text)."""
        name = self.path.name.lower().removesuffix(".gz")
        if name.endswith(".parquet"):
            return "parquet"
        head = read_head(self)
        first = head.lstrip("\ufeff \t\r\n")[:1]
        return "json" if first in ("{", "[") else "text"


def list_inputs(paths: list[str | Path], own: set[tuple[int, int]]) -> list[Path]:
    """Expand directories into their regular files (sorted, so numbered parts keep their
    order), leaving out hidden files and the store's own files (``own``, see
    :func:`store_files`)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                              and _identity(f) not in own))
        elif p.exists():
            out.append(p)
        else:
            raise UnusableInputError(f"{p}: no such file or directory")
    return out


def store_files(store: Path) -> set[tuple[int, int]]:
    """The store file and its write-ahead log as (device, inode), so that links match too."""
    files = (store, store.with_name(store.name + ".wal"))
    return {_identity(f) for f in files if f.is_file()}


def check_input(path: Path, own: set[tuple[int, int]]) -> None:
    """Refuse what is not a regular file (reading a device or pipe may never end) and the
    store's own files."""
    if not path.is_file():
        raise UnusableInputError(f"{path}: not a regular file (a device, pipe or socket): "
                                 "ingest reads files; save the data to a file first")
    if _identity(path) in own:
        raise UnusableInputError(f"{path}: this is the store itself (or its log): name the "
                                 "input files, or pass another --db")
    with path.open("rb") as fh:
        head = fh.read(10)
    packed = next((name for magic, name in _PACKED if re.match(magic, head)), None)
    if packed == "gzip" and not path.name.endswith(".gz"):
        raise UnusableInputError(f"{path}: the file is gzip-compressed: name it with .gz at the "
                                 "end and retry")
    if packed not in (None, "gzip"):
        raise UnusableInputError(f"{path}: the file is {packed}-compressed, which ingest does "
                                 "not read: decompress it, or recompress it with gzip, and retry")


#: The magic numbers of compressed files: only gzip is read (and checked against the limits).
_PACKED = ((rb"\x1f\x8b", "gzip"), (rb"\x28\xb5\x2f\xfd", "zstd"),
           (rb"BZh[1-9]1AY&SY", "bzip2"), (rb"\xfd7zXZ\x00", "xz"), (rb"PK\x03\x04", "zip"))


def _identity(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_dev, st.st_ino


def decompressed_limit(spec: int | str, size: int) -> int:
    """The bytes a gzipped file of ``size`` bytes may expand to: a size, or a ratio ``NNx``
    (at least ``MIN_DECOMPRESSED``)."""
    if isinstance(spec, str) and spec.strip().lower().endswith("x"):
        return max(MIN_DECOMPRESSED, int(float(spec.strip()[:-1]) * size))
    return parse_size(spec)


def fingerprint(path: Path, max_decompressed: int | str = MAX_DECOMPRESSED,
                max_record: int = MAX_RECORD_BYTES) -> InputFile:
    """SHA-256 and size of a file, read in 1 MiB blocks; rejects empty, truncated and corrupt
    gzip files and those that expand beyond ``max_decompressed``. Memory stays under a few MiB
    whatever the file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise UnusableInputError(f"{path}: the file is empty: nothing to ingest")
        content = _digested(fh, digest)
        if path.name.endswith(".gz"):
            content = _bounded(path, _inflated(path, content),
                               decompressed_limit(max_decompressed, size))
        if path.name.endswith(".parquet"):
            produced, overlong = sum(map(len, content)), False
        else:
            produced, overlong = _scan_lines(content, max_record)
    if produced == 0:
        raise UnusableInputError(f"{path}: the file is empty: nothing to ingest")
    return InputFile(path, digest.hexdigest(), size, max_record, overlong)


def _digested(fh: io.BufferedReader, digest: "hashlib._Hash") -> Iterator[bytes]:
    for block in iter(lambda: fh.read(BLOCK), b""):
        digest.update(block)
        yield block


def _inflated(path: Path, blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces (each at most ``BLOCK``) that a gzip stream of one or more members
    decompresses to; raises on a corrupt or truncated stream."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        for data in blocks:
            while True:
                piece = inflater.decompress(data, BLOCK)
                yield piece
                if inflater.eof and inflater.unused_data:   # concatenated gzip members
                    data, inflater = inflater.unused_data, zlib.decompressobj(wbits=31)
                    continue
                data = inflater.unconsumed_tail
                if inflater.eof or not data and len(piece) < BLOCK:
                    break
    except zlib.error as exc:
        hint = ("it is not gzip-compressed although its name ends in .gz: rename it without "
                ".gz" if "header" in str(exc) else "copy or download it again")
        raise UnusableInputError(f"{path}: not a valid gzip file ({exc}): {hint}") from None
    if not inflater.eof:
        raise UnusableInputError(
            f"{path}: the gzip stream is truncated (the file ends before the compressed data "
            "does): copy or download it again")


def _bounded(path: Path, pieces: Iterator[bytes], limit: int) -> Iterator[bytes]:
    produced = 0
    for piece in pieces:
        produced += len(piece)
        if produced > limit:
            raise UnusableInputError(
                f"{path}: decompresses to more than {_mib(limit)} (a gzip bomb?): if it is real "
                "data, raise the limit with --max-decompressed (a size such as 20GB, or a ratio "
                f"to the compressed size; default {MAX_DECOMPRESSED})")
        yield piece


def _scan_lines(content: Iterator[bytes], limit: int) -> tuple[int, bool]:
    """Bytes in ``content`` and whether a line (with its newline) is longer than ``limit``;
    pieces no longer than ``limit`` make only the runs across their ends worth checking."""
    total = run = 0
    overlong = False
    for block in content:
        total += len(block)
        view = memoryview(block)
        for at in range(0, len(block), limit):
            piece = view[at:at + limit].tobytes() if limit < len(block) else block
            first = piece.find(b"\n")
            if first < 0:
                run += len(piece)
                continue
            overlong = overlong or run + first + 1 > limit
            run = len(piece) - piece.rfind(b"\n") - 1
    return total, overlong or run > limit


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


#: Byte-order marks of the encodings that are not read (UTF-32 before UTF-16: they share a start).
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def check_encoding(f: InputFile) -> None:
    """Refuse UTF-16 and UTF-32 text (known by its byte-order mark, or by NUL bytes between
    the characters of its first line), which would be read as garbled UTF-8."""
    with gzip.open(f.path, "rb") if f.gz else f.path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PAR1"):
        return
    utf = next((name for bom, name in _BOMS if head.startswith(bom)), None)
    first = head.split(b"\n", 1)[0]
    if utf is None and len(first) >= 8 and first.count(0) >= len(first) // 3:
        utf = "UTF-16"
    if utf:
        raise UnusableInputError(
            f"{f.path}: the file is {utf} text, not UTF-8: convert it (iconv -f {utf} -t UTF-8 "
            f"{f.path.name} > utf8-{f.path.name.removesuffix('.gz')}) and retry")


def open_text(f: InputFile, errors: str = "replace") -> io.TextIOBase:
    raw = gzip.open(f.path, "rb") if f.gz else f.path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors=errors, newline="")


#: What a byte that is not UTF-8 reads as in a JSON file: a noncharacter, never in real text,
#: so that its record is rejected instead of being stored with U+FFFD in its place.
BAD_BYTE = "\ufdd0"
codecs.register_error("swarmscope-mark", lambda exc: (BAD_BYTE, exc.end))


def read_head(f: InputFile, size: int = 65536) -> str:
    with open_text(f) as fh:
        return fh.read(size)


# -- delimited text ----------------------------------------------------------------------------
#: Files with more unclosed quotes than this are refused (each one costs a pass over the rest).
MAX_QUOTE_RESTARTS = 100
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Dialect:
    """How a delimited file is read: its column names, whether line 1 is a header, the delimiter."""

    columns: tuple[str, ...]
    header: bool = True
    delim: str = ","

    def options(self, header: bool | None = None) -> str:
        """read_csv options: all text, strict quotes and no sniffing, so that a bad record
        further down can neither fail the sniffer nor change how the file is read."""
        header = self.header if header is None else header
        columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in self.columns)
        return ", ".join([
            "auto_detect = false", "store_rejects = true", "quote = '\"'", "escape = '\"'",
            "encoding = 'utf-8'", f"header = {str(header).lower()}", f"delim = {literal(self.delim)}",
            f"columns = {{{columns}}}"])


@dataclass
class CsvLayout:
    """A staged delimited file: its dialect and the physical lines where parsing restarted
    (the line after each unclosed quote)."""

    dialect: Dialect
    restarts: list[int] = field(default_factory=list)


def sniff_columns(f: InputFile) -> tuple[list[str], str]:
    """Header columns and delimiter of a delimited file: the delimiter that splits the first
    line into the most fields (read in Python, so a bad record further down cannot stop it).
    Blank and repeated names are numbered, as DuckDB would (``column3``, ``id_1``)."""
    with open_text(f) as fh:
        first = next(_bounded_lines(fh, f.max_record), "")
    if isinstance(first, Overlong):
        raise UnusableInputError(f"{f.path}: line 1: the header is longer than "
                                 f"{_mib(f.max_record)} (the record limit): raise it with "
                                 "--max-record-bytes")
    return header_columns(first, f.path, f.max_record)


def header_columns(first: str, path: object, max_record: int = MAX_RECORD_BYTES
                   ) -> tuple[list[str], str]:
    """Header columns and delimiter of the first line ``first`` of the file ``path`` (see
    :func:`sniff_columns`)."""
    first = first.rstrip("\r\n")
    csv.field_size_limit(max_record)
    split = {d: next(csv.reader([first], delimiter=d), []) for d in DELIMITERS}
    delim = max(DELIMITERS, key=lambda d: len(split[d]))
    if len(split[delim]) > MAX_COLUMNS:
        raise UnusableInputError(
            f"{path}: line 1: the header has {len(split[delim]):,} columns, more than the "
            f"{MAX_COLUMNS:,} ingest reads: keep the columns you need (e.g. with cut or "
            "csvcut) and ingest that")
    columns: list[str] = []
    for i, name in enumerate(c.strip() for c in split[delim]):
        name = name or f"column{i}"
        while name.lower() in (c.lower() for c in columns):
            name += f"_{i}"
        columns.append(name)
    return columns, delim


def stage_csv(con: duckdb.DuckDBPyConnection, f: InputFile, dialect: Dialect,
              work_dir: Path) -> CsvLayout:
    """Parse a delimited file into ``scratch.raw`` (all VARCHAR) and its parse rejects.

    ``scratch.raw_rejects.line`` holds DuckDB's record number here (a quoted field may span
    lines); :func:`locate_csv_lines` turns it into the physical line. An unclosed quote makes
    DuckDB read the rest of the file (or up to the record limit) as one field: that record is
    rejected, and parsing starts again on the next physical line, so that the records after it
    are kept; where no record after it parses, the file was cut inside that record (``head``
    on a file with multi-line fields): it is one rejected record running to the end of the
    file (:func:`_cut_last_record`). Lines over the record limit are blanked first (DuckDB
    drops them without a word).
    """
    layout = CsvLayout(dialect)
    _no_parse_rejects(con)
    source, overlong = _without_overlong(f, work_dir) if f.overlong else (f, [])
    header, base_line, base_record, n_rows, relined = dialect.header, 0, 0, 0, False
    unclosed_records: list[tuple[int, int]] = []   # (record number, rows staged before it)
    while True:
        con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        try:
            # the buffer holds two of the longest lines (DuckDB's default, 16 x, takes 256 MB);
            # the compression is the checksum pass's, so that no other (a .zst) escapes its limits
            con.execute("CREATE OR REPLACE TABLE scratch.raw0 AS SELECT * FROM read_csv("
                        f"{literal(str(source.path))}, {dialect.options(header)}, "
                        f"max_line_size = {f.max_record}, buffer_size = {2 * f.max_record}, "
                        f"compression = '{'gzip' if source is f and f.gz else 'none'}')")
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error as exc:
            if "invalid state" in str(exc) and not relined:   # mixed \r, \n, \r\n line ends
                source, relined = _rest_of(source, 0, work_dir / "lf.csv", "\n"), True
                continue
            raise UnusableInputError(f"{f.path}: cannot parse it as delimited text: "
                                     f"{_first_line(exc)}") from None
        unclosed = con.execute(
            "SELECT min(line) FROM reject_errors WHERE error_message LIKE '%unterminated quote%' "
            "OR error_type = 'LINE SIZE OVER MAXIMUM'").fetchone()[0]
        keep = None
        if unclosed is not None:
            line, keep = _record_start(source, dialect.delim, unclosed, header, con)
        con.execute(f"""
            INSERT INTO scratch.raw_rejects
            SELECT {base_record} + line - {int(header)}, min(field),
                   CASE WHEN bool_or(unterminated) THEN 'unclosed quote: a field opens a quote '
                        || 'that no later line closes; close or remove it and retry'
                   ELSE string_agg(reason, '; ' ORDER BY reason) END, any_value(excerpt)
            FROM (SELECT line, min(column_name) AS field, {_reject_reason(f)} AS reason,
                         bool_or(error_message LIKE '%unterminated quote%') AS unterminated,
                         left(replace(any_value(csv_line), chr(0), ''), 200) AS excerpt
                  FROM reject_errors WHERE {f'line <= {unclosed}' if unclosed else 'true'}
                  GROUP BY line, error_type)
            GROUP BY line""")
        if unclosed is None and not layout.restarts:   # parsed in one go: read in place
            con.execute("ALTER TABLE scratch.raw0 RENAME TO parsed")
            con.execute("CREATE VIEW scratch.raw AS SELECT rowid + 1 AS _row, "
                        "CAST(NULL AS BIGINT) AS _line, * FROM scratch.parsed")
            break
        rows = "" if keep is None else f" WHERE rowid < {keep}"
        con.execute("CREATE TABLE IF NOT EXISTS scratch.raw AS SELECT NULL::BIGINT AS _row, "
                    "NULL::BIGINT AS _line, * FROM scratch.raw0 WHERE false")
        n_rows += con.execute(f"INSERT INTO scratch.raw SELECT {n_rows} + rowid + 1, NULL, * "
                              f"FROM scratch.raw0{rows}").fetchone()[0]
        con.execute("DROP TABLE scratch.raw0")
        if unclosed is None:
            break
        unclosed_records.append((base_record + unclosed - int(header), n_rows))
        if len(layout.restarts) >= MAX_QUOTE_RESTARTS:
            raise UnusableInputError(
                f"{f.path}: line {base_line + line}: more than {MAX_QUOTE_RESTARTS} unclosed "
                "quotes: is '\"' really its quote character? Fix the file and retry")
        base_line += line
        base_record += unclosed - int(header)
        layout.restarts.append(base_line + 1)
        rest = _rest_of(source, line, work_dir / f"rest{len(layout.restarts)}.csv")
        if source is not f:
            source.path.unlink()
        source, header = rest, False
    _cut_last_record(con, layout, unclosed_records, n_rows)
    if overlong:   # DuckDB saw blank lines there: their record numbers, as for its own rejects
        wanted = {line: (reason, head) for line, reason, head in overlong}
        numbered = []
        for n, (line, _) in enumerate(_records(f, dialect.delim, layout.restarts), 1):
            if line in wanted:
                numbered.append((n - dialect.header, *wanted[line]))
                if len(numbered) == len(wanted):
                    break
        con.executemany("INSERT INTO scratch.raw_rejects VALUES (?, NULL, ?, ?)", numbered)
    return layout


def _cut_last_record(con: duckdb.DuckDBPyConnection, layout: CsvLayout,
                     unclosed_records: list[tuple[int, int]], n_rows: int) -> None:
    """Where no row parsed after an unclosed quote, the quote runs to the end of the file: the
    first such record is rejected as cut short, and the fragments read after it (the rest of
    its own lines, parsed afresh) are part of it, not records of their own."""
    cut = next((i for i, (_, before) in enumerate(unclosed_records) if before == n_rows), None)
    if cut is None:
        return
    record = unclosed_records[cut][0]
    con.execute(f"DELETE FROM scratch.raw_rejects WHERE line > {record}")
    con.execute("UPDATE scratch.raw_rejects SET reason = 'unclosed quote: the file ends inside "
                "this record (was it cut short, e.g. by head?); complete or remove the record "
                f"and retry' WHERE line = {record}")
    del layout.restarts[cut:]


def _reject_reason(f: InputFile) -> str:
    """SQL: a reject's reason from DuckDB's reject_errors (per line and error type), saying
    what to do."""
    return ("CASE error_type WHEN 'INVALID ENCODING' THEN 'invalid encoding: the line is not "
            "UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1252 -t UTF-8) and retry' "
            f"WHEN 'LINE SIZE OVER MAXIMUM' THEN {literal(_too_long(f))} "
            "ELSE lower(error_type) || ': ' || arg_max(error_message, column_idx) END")


def _without_overlong(f: InputFile, work_dir: Path) -> tuple[InputFile, list[tuple[int, str, str]]]:
    """A copy of ``f`` in ``work_dir`` with each line over the record limit made blank
    (DuckDB drops a line longer than its buffer without a word), and their rejects by line."""
    copy = work_dir / "overlong-removed.txt"
    rejects = []
    with open_text(f, "surrogateescape") as src, copy.open(
            "w", encoding="utf-8", errors="surrogateescape", newline="") as dst:
        for lineno, line in enumerate(_bounded_lines(src, f.max_record), 1):
            if isinstance(line, Overlong):   # a header line over the limit is refused earlier
                rejects.append((lineno, _too_long(f), line.head))
                line = "\n"
            dst.write(line)
    return InputFile(copy, "", copy.stat().st_size, f.max_record), rejects


def _records(f: InputFile, delim: str, restarts: Sequence[int] = ()
             ) -> Iterator[tuple[int, bool]]:
    """(physical start line, blank?) of each record, as DuckDB counts them (blank lines too,
    and lines over the record limit, which it is given blank); parsing starts afresh at each
    line of ``restarts``. Memory stays bounded by the record limit."""
    csv.field_size_limit(f.max_record)
    with open_text(f) as fh:
        lines = ("\n" if isinstance(x, Overlong) else x for x in _bounded_lines(fh, f.max_record))
        start = 1
        for end in [*restarts, None]:
            reader = csv.reader(islice(lines, None if end is None else end - start),
                                delimiter=delim, strict=False)
            first = start
            while True:
                try:
                    blank = not next(reader)
                except StopIteration:
                    break
                except csv.Error:   # a field over the limit: DuckDB rejects its record
                    blank = False
                yield start, blank
                start = first + reader.line_num
            start = end


def _record_start(source: InputFile, delim: str, record: int, header: bool,
                  con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The physical line of DuckDB's record number ``record``, and how many rows DuckDB gave
    before it (what it read after an unclosed quote is dropped and read again)."""
    rejected = {r[0] for r in con.execute("SELECT DISTINCT line FROM reject_errors").fetchall()}
    rows = 0
    for n, (line, blank) in enumerate(_records(source, delim), 1):
        if n == record:
            return line, rows
        rows += not blank and n not in rejected and n > header
    raise UnusableInputError(f"{source.path}: an unclosed quote in record {record}, which "
                             "cannot be found: close the quote and retry")


def _rest_of(source: InputFile, line: int, path: Path, line_end: str | None = None
             ) -> InputFile:
    """The lines of ``source`` after ``line``, as a plain file ``path`` (bytes as they are);
    with ``line_end``, every line ends with it (DuckDB reads one kind of line end per file)."""
    with (open_text(source, "surrogateescape") as fh,
          path.open("w", encoding="utf-8", errors="surrogateescape", newline="") as out):
        lines = islice(fh, line, None)
        if line_end is not None:
            lines = (x.rstrip("\r\n") + line_end for x in lines)
        out.writelines(lines)
    return InputFile(path, "", path.stat().st_size, source.max_record)


def locate_csv_lines(f: InputFile, layout: CsvLayout, rows: set[int],
                     records: set[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Physical start lines of the given staged rows (``_row``) and parse-rejected records
    (DuckDB's record numbers, header excluded): only called for rejected records.

    DuckDB numbers records but not lines (a quoted field may span lines), so the lines of the
    few rejected records are found in one pass of Python's csv module, counting records as
    DuckDB does: blank lines are numbered but give no row, rejected records give no row.
    """
    by_row: dict[int, int] = {}
    by_record: dict[int, int] = {}
    n_rows = 0
    numbered = _records(f, layout.dialect.delim, layout.restarts)
    if layout.dialect.header:
        next(numbered, None)
    for n, (line, blank) in enumerate(numbered, 1):
        if n in records:
            by_record[n] = line
        elif not blank:
            n_rows += 1
            if n_rows in rows:
                by_row[n_rows] = line
        if len(by_row) == len(rows) and len(by_record) == len(records):
            break
    return by_row, by_record


# -- parquet -----------------------------------------------------------------------------------
def parquet_columns(con: duckdb.DuckDBPyConnection, f: InputFile) -> list[str]:
    """The top-level column names of a Parquet file (a struct is one column)."""
    try:
        return [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({literal(str(f.path))})").fetchall()]
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: not a readable Parquet file "
                                 f"({_first_line(exc)})") from None


def stage_parquet(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    """Read a Parquet file into ``scratch.raw``; binary (BLOB) columns are read as UTF-8 text,
    and a row whose bytes are not UTF-8 is rejected naming its column (never stringified)."""
    try:
        con.execute("CREATE TABLE scratch.raw0 AS SELECT file_row_number + 1 AS _row, "
                    "file_row_number + 1 AS _line, * EXCLUDE (file_row_number) "
                    f"FROM read_parquet({literal(str(f.path))}, file_row_number = true)")
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: cannot read the Parquet file: "
                                 f"{_first_line(exc)}") from None
    _no_parse_rejects(con)
    blobs = [literal(r[0])[1:-1] for r in con.execute("DESCRIBE scratch.raw0").fetchall()
             if r[1] == "BLOB"]
    if not blobs:
        con.execute("ALTER TABLE scratch.raw0 RENAME TO raw")
        return
    bad = {b: f'("{b}" IS NOT NULL AND try(decode("{b}")) IS NULL)' for b in blobs}
    column = "CASE " + " ".join(f"WHEN {c} THEN {literal(b)}" for b, c in bad.items()) + " END"
    con.execute(f"""
        INSERT INTO scratch.raw_rejects SELECT _line, {column}, 'invalid encoding: a binary '
               || 'column holding bytes that are not UTF-8 text; write it as UTF-8 strings', NULL
        FROM scratch.raw0 WHERE {' OR '.join(bad.values())}""")
    decoded = ", ".join(f'try(decode("{b}")) AS "{b}"' for b in blobs)
    con.execute(f"CREATE TABLE scratch.raw AS SELECT * REPLACE ({decoded}) FROM scratch.raw0 "
                f"WHERE NOT ({' OR '.join(bad.values())})")
    con.execute("DROP TABLE scratch.raw0")


def _no_parse_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE scratch.raw_rejects (line BIGINT, field VARCHAR, reason VARCHAR, "
                "excerpt VARCHAR)")


# -- JSON --------------------------------------------------------------------------------------
def stage_json(con: duckdb.DuckDBPyConnection, f: InputFile,
               records: Iterator[tuple[int, str, tuple[str | None, str] | None]] | None = None
               ) -> None:
    """Split a JSON file into records (``scratch.raw(_row, _line, json)``).

    Accepted shapes: one object per line (also indented), concatenated objects (also
    pretty-printed), and a top-level array; or the ``records`` a reader finds in one
    document (see :mod:`swarmscope.ingest.jsondoc`). A record that does not parse is rejected with its
    line and the reason; the records around it are kept. So is a record that holds a byte that
    is not UTF-8, or that Python's parser reads but DuckDB's refuses (a lone surrogate escape
    such as ``\\ud800``, left by a truncated emoji), naming the field; of an API response page,
    only the items at fault.
    """
    import pyarrow as pa   # here: importing it costs every CLI start 0.2 s

    con.execute("CREATE TABLE scratch.raw (_row BIGINT, _line BIGINT, json VARCHAR)")
    _no_parse_rejects(con)
    rows, lines, texts, rejects = [], [], [], []
    n = chars = 0

    def flush() -> None:
        if rows:
            batch = pa.table({"_row": rows, "_line": lines, "json": texts})
            con.execute("INSERT INTO scratch.raw SELECT * FROM batch")
            rows.clear(), lines.clear(), texts.clear()
        if rejects:
            con.executemany("INSERT INTO scratch.raw_rejects VALUES (?, ?, ?, ?)", rejects)
            rejects.clear()

    for line, text, error in records or iter_json_records(f):
        if error is not None:
            rejects.append((line, *error, text[:200].replace(BAD_BYTE, "\ufffd")))
        else:
            n += 1
            chars += len(text)
            rows.append(n), lines.append(line), texts.append(text)
        if len(rows) >= JSON_BATCH or len(rejects) >= JSON_BATCH or chars >= JSON_BATCH_BYTES:
            flush()
            chars = 0
    flush()
    refused = f"NOT json_valid(json) OR contains(json, chr({ord(BAD_BYTE)}))"
    records = con.execute(f"SELECT _line, json FROM scratch.raw WHERE {refused}").fetchall()
    if records:
        con.execute(f"DELETE FROM scratch.raw WHERE {refused}")
    for line, text in records:
        for part in _page_items(text):
            if con.execute(f"SELECT NOT ({refused}) FROM (SELECT ? AS json)", [part]).fetchone()[0]:
                n += 1
                rows.append(n), lines.append(line), texts.append(part)
            else:
                rejects.append((line, *_refusal(con, part, line),
                                part[:200].replace(BAD_BYTE, "\ufffd")))
    flush()


def _page_items(text: str) -> list[str]:
    """A refused record as it is or, if it is an API response page (a list ``data`` of
    objects, as twarc2 writes), one page per item of ``data`` with the page's other keys, so
    that a refused tweet costs only itself."""
    page = json.loads(text)
    items = page.get("data") if isinstance(page, dict) else None
    if not isinstance(items, list) or len(items) < 2:
        return [text]
    try:
        return [json.dumps({**page, "data": item}).replace("\\ufdd0", BAD_BYTE) for item in items]
    except RecursionError:
        return [text]


def _refusal(con: duckdb.DuckDBPyConnection, text: str, line: int) -> tuple[str | None, str]:
    """(field, reason) for a record (starting at ``line``) that holds a byte that is not UTF-8,
    or that Python's JSON parser reads and DuckDB's refuses."""
    bad = BAD_BYTE in text
    try:
        found = _first_match(json.loads(text), _BAD_BYTE if bad else _SURROGATE)
    except RecursionError:
        found = None
    if bad:
        at = line + text.count("\n", 0, text.index(BAD_BYTE))
        return found and found[0], (
            f"invalid encoding: a byte that is not UTF-8 at line {at}; the file is not UTF-8 "
            "throughout: convert it (iconv -f LATIN1 -t UTF-8, if that was its encoding) and "
            "ingest it again")
    if found is not None:
        return found[0], (f"invalid JSON: a lone surrogate escape (\\u{found[1]:04x} without its "
                          f"pair, as a truncated emoji leaves) in {found[0]}: remove or complete "
                          "it and ingest the file again")
    try:
        con.execute("SELECT json(?)", [text])
        message = "DuckDB's JSON reader refuses it"
    except duckdb.Error as exc:
        message = _first_line(exc).split("Error: ", 1)[-1].split("  Input:")[0]
    return None, f"invalid JSON: {message}: fix the record and ingest the file again"


def _first_match(value: object, pattern: re.Pattern, path: str = "") -> tuple[str, int] | None:
    """The path (``user.description``) of the first string (or key) of a decoded record in
    which ``pattern`` matches, and the character matched; None if there is none."""
    if isinstance(value, str):
        found = pattern.search(value)
        return (path or "json", ord(found.group())) if found else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        name = ((f"{path}.{k}" if path else k) if isinstance(k, str) and k.isidentifier()
                else f"{path}[{ascii(k)}]")
        found = ((isinstance(k, str) and _first_match(k, pattern, name))
                 or _first_match(v, pattern, name))
        if found:
            return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_BYTE = re.compile(BAD_BYTE)
_SPACE = re.compile(r"\s*")
_INDENT = re.compile(r"[ \t]*")
_DECODER = json.JSONDecoder()


def iter_json_records(f: InputFile
                      ) -> Iterator[tuple[int, str, tuple[str | None, str] | None]]:
    """Yield (start line, record text, None or the (field, reason) it is rejected for) for each
    top-level JSON value; a record longer than ``f.max_record`` bytes is rejected, and never
    held in memory whole.

    Lines are grouped into candidate records: a group starts at a line beginning with ``{``,
    or with a ``{`` indented no deeper than the group's first line, after a line that ends
    with ``}`` (or ``},``: commas between objects are skipped). A group that does not parse
    is taken up again at its next line that holds a whole object (see :func:`_resync`), so one
    broken record never takes the records after it along.
    """
    if read_head(f, 4096).lstrip()[:1] == "[":
        yield from _json_array(f)
        return
    with open_text(f, errors="swarmscope-mark") as fh:
        group: list[str] = []
        size = start = indent = 0
        last = ""
        for lineno, line in enumerate(_bounded_lines(fh, f.max_record), 1):
            stripped = "" if isinstance(line, Overlong) else line.strip()
            depth = len(line) - len(line.lstrip()) if stripped[:1] == "{" else 0
            if group and (isinstance(line, Overlong) or stripped[:1] == "{" and (
                    depth == 0 or depth <= indent and last.endswith(("}", "},")))):
                yield from _close_group(f, start, group, size)
                group, size = [], 0
            if isinstance(line, Overlong):
                yield lineno, line.head, (None, _too_long(f))
                continue
            if not group:
                if not stripped:
                    continue
                start, indent = lineno, len(line) - len(line.lstrip())
            size += _nbytes(line)
            if size <= f.max_record:
                group.append(line)
            last = stripped or last
        if group:
            yield from _close_group(f, start, group, size)


@dataclass(frozen=True)
class Overlong:
    """A line longer than the record limit: only its start is kept."""

    head: str


def _bounded_lines(fh: io.TextIOBase, limit: int) -> Iterator[str | Overlong]:
    """The lines of ``fh``, none held longer than ``limit`` characters."""
    while line := fh.readline(limit + 1):
        if len(line) <= limit and _nbytes(line) <= limit:
            yield line
            continue
        rest = line
        while rest and not rest.endswith("\n"):
            rest = fh.readline(BLOCK)
        yield Overlong(line[:200])


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _too_long(f: InputFile) -> str:
    return (f"record longer than {_mib(f.max_record)} (the record limit): raise it with "
            "--max-record-bytes")


def _close_group(f: InputFile, start: int, group: list[str], size: int
                 ) -> Iterator[tuple[int, str, tuple[str | None, str] | None]]:
    if size > f.max_record:
        yield start, group[0][:200], (None, _too_long(f))
    else:
        yield from _decode_group(start, "".join(group))


def _decode_group(start: int, text: str
                  ) -> Iterator[tuple[int, str, tuple[str | None, str] | None]]:
    """Decode one group of lines; it may hold several concatenated objects, and broken ones."""
    pos, line, counted = 0, start, 0
    while (pos := _SPACE.match(text, pos).end()) < len(text):
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:   # JSONDecodeError is a ValueError
            end = _resync(text, pos)
            yield line, text[pos:end].strip(), (None, _decode_error(exc, text, start, end))
        else:
            error = None if isinstance(obj, dict) else (None, "not a JSON object")
            yield line, text[pos:end], error
            after = _SPACE.match(text, end).end()
            if text.startswith(",", after):   # a comma between objects (an array's, unbracketed)
                end = after + 1
        pos = end


def _resync(text: str, pos: int) -> int:
    """Where the records after a broken one (at ``pos``) resume: the start of the next line
    that begins with a whole object that ends its line, or that is followed by another object
    (or a comma, or the group's end) and is indented no deeper than the broken record (not a
    nested object of a pretty-printed one); else the group's end."""
    indent = pos - (text.rfind("\n", 0, pos) + 1)
    nl = text.find("\n", pos)
    while nl != -1:
        at = _INDENT.match(text, nl + 1).end()
        end = _object_end(text, at)
        if end is not None:
            eol = text.find("\n", end)
            rest = text[end:] if eol == -1 else text[end:eol]
            whole_line = text.find("\n", at, end) == -1 and rest.strip() in ("", ",")
            after = _SPACE.match(text, end).end()
            if whole_line or (at - nl - 1 <= indent and text[after:after + 1] in ("", "{", ",")):
                return nl + 1
        nl = text.find("\n", nl + 1)
    return len(text)


def _object_end(text: str, at: int) -> int | None:
    """The end of the JSON object that starts at ``at``, or None if none does."""
    if not text.startswith("{", at):
        return None
    try:
        return _DECODER.raw_decode(text, at)[1]
    except (ValueError, RecursionError):
        return None


def _decode_error(exc: Exception, text: str, start: int, end: int) -> str:
    """The reason a record that Python's parser stops on is rejected."""
    if isinstance(exc, RecursionError):
        return ("invalid JSON: nested more than about 1,000 levels deep (no post is): the "
                "record is corrupt or hostile; remove it and ingest the file again")
    if not isinstance(exc, json.JSONDecodeError):   # an integer of more than 4,300 digits
        return (f"invalid JSON: {str(exc).split(';')[0]} (no post has such a number): the "
                "record is corrupt or hostile; remove it and ingest the file again")
    if exc.pos < len(text[:end].rstrip()):
        return f"invalid JSON: {exc.msg} (seen at line {start + exc.lineno - 1} column {exc.colno})"
    last = start + text.count("\n", 0, len(text[:end].rstrip()))
    return (f"invalid JSON: the record ends at line {last} before it is complete (a truncated "
            "line?)")


def _json_array(f: InputFile) -> Iterator[tuple[int, str, tuple[str | None, str] | None]]:
    """The elements of a top-level array, each with its line; the array is read whole (it must
    fit the record limit), and a broken array is unusable."""
    with open_text(f, errors="swarmscope-mark") as fh:
        text = fh.read(f.max_record + 1)
    if len(text) > f.max_record or _nbytes(text) > f.max_record:
        raise UnusableInputError(
            f"{f.path}: the top-level JSON array is longer than {_mib(f.max_record)} (the record "
            "limit): write one object per line (jq -c '.[]') or raise --max-record-bytes")
    pos, line, counted = text.index("[") + 1, 1, 0
    while True:
        pos = _SPACE.match(text, pos).end()
        line += text.count("\n", counted, pos)
        counted = pos
        if text.startswith("]", pos) and not text[pos + 1:].strip():
            return
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            reason = _decode_error(exc, text, 1, len(text)).removeprefix("invalid JSON: ")
            raise UnusableInputError(f"{f.path}: line {line}: the top-level JSON array is broken "
                                     f"({reason.split(': ')[0]}): fix it or write one object "
                                     "per line") from None
        yield line, text[pos:end], None if isinstance(obj, dict) else \
            (None, "array element is not a JSON object")
        pos = _SPACE.match(text, end).end()
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            raise UnusableInputError(f"{f.path}: line {line}: the top-level JSON array is broken "
                                     "(expecting ',' or ']' after an element): fix it or write "
                                     "one object per line")


# -- helpers -----------------------------------------------------------------------------------
# -- helpers -----------------------------------------------------------------------------------
def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
