"""Input files: listing, fingerprints, sanity checks, and staging raw records into scratch tables.

A staged file becomes ``scratch.raw`` with a 1-based record number ``_row`` (and ``_line`` where
the physical line is known), plus ``scratch.raw_rejects(line, field, reason, excerpt)`` for the
records the parser itself could not read. CSV parsing runs in DuckDB (streaming, out of core);
JSON records are split in Python (one pass, constant memory) and extracted with DuckDB's JSON
functions.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from swarmscope.store.sql import literal
from swarmscope.errors import UnusableInputError

#: DuckDB's default line limit (2 MB) would make one long field fatal for the whole file.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: The CSV reader's buffer; DuckDB's default (16 × the line limit) would take 256 MB per buffer.
CSV_BUFFER_BYTES = 2 * MAX_LINE_BYTES
JSON_BATCH = 20_000
MAX_JSON_RECORD = 64 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    path: Path
    sha256: str
    size: int

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


def list_inputs(paths: list[str | Path]) -> list[Path]:
    """Expand directories into their files (sorted, so numbered parts keep their order)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")))
        elif p.exists():
            out.append(p)
        else:
            raise UnusableInputError(f"{p}: no such file or directory")
    return out


def fingerprint(path: Path) -> InputFile:
    """SHA-256 and size of a file, read in 1 MiB blocks; rejects empty and truncated gzip files."""
    digest = hashlib.sha256()
    size = 0
    inflater = zlib.decompressobj(wbits=47) if path.name.endswith(".gz") else None
    produced = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            if inflater is not None:
                produced += len(_inflate(path, inflater, block))
                while inflater.eof and inflater.unused_data:   # concatenated gzip members
                    rest = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=47)
                    produced += len(_inflate(path, inflater, rest))
    if size == 0 or (inflater is not None and produced == 0 and inflater.eof):
        raise UnusableInputError(f"{path}: the file is empty: nothing to ingest")
    if inflater is not None and not inflater.eof:
        raise UnusableInputError(
            f"{path}: the gzip stream is truncated (the file ends before the compressed data "
            "does): copy or download it again")
    return InputFile(path, digest.hexdigest(), size)


def _inflate(path: Path, inflater: zlib._Decompress, block: bytes) -> bytes:
    try:
        return inflater.decompress(block, 1 << 20) + inflater.decompress(inflater.unconsumed_tail)
    except zlib.error as exc:
        raise UnusableInputError(f"{path}: not a valid gzip file ({exc}): decompress it or "
                                 "copy it again") from None


def open_text(f: InputFile) -> io.TextIOBase:
    raw = gzip.open(f.path, "rb") if f.gz else f.path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def read_head(f: InputFile, size: int = 65536) -> str:
    with open_text(f) as fh:
        return fh.read(size)


# -- delimited text ----------------------------------------------------------------------------
def csv_options(*, header: bool | None = True, delim: str | None = None,
                columns: list[str] | None = None) -> str:
    """The read_csv options shared by every delimited reader (all text, strict quotes)."""
    opts = ["all_varchar = true", "store_rejects = true", f"max_line_size = {MAX_LINE_BYTES}",
            f"buffer_size = {CSV_BUFFER_BYTES}",
            "quote = '\"'", "escape = '\"'", "encoding = 'utf-8'"]
    if header is not None:
        opts.append(f"header = {str(header).lower()}")
    if delim is not None:
        opts.append(f"delim = '{delim}'")
    if columns is not None:
        opts.append("names = [" + ", ".join(literal(c) for c in columns) + "]")
    return ", ".join(opts)


DELIMITERS = (",", ";", "\t", "|")


def sniff_columns(f: InputFile) -> tuple[list[str], str]:
    """Header columns and delimiter of a delimited file: the delimiter that splits the first
    line into the most fields (read in Python, so a bad record further down cannot stop it)."""
    first = next(iter(read_head(f).splitlines()), "")
    split = {d: next(csv.reader([first], delimiter=d), []) for d in DELIMITERS}
    delim = max(DELIMITERS, key=lambda d: len(split[d]))
    return [c.strip() for c in split[delim]], delim


def stage_csv(con: duckdb.DuckDBPyConnection, f: InputFile, options: str) -> None:
    """Parse a delimited file into ``scratch.raw`` (all VARCHAR) and its parse rejects."""
    con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    try:
        con.execute(f"CREATE TABLE scratch.raw0 AS SELECT * FROM read_csv({literal(str(f.path))}, "
                    f"{options})")
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: cannot parse it as delimited text: "
                                 f"{_first_line(exc)}") from None
    con.execute("CREATE TABLE scratch.raw AS SELECT rowid + 1 AS _row, NULL::BIGINT AS _line, * "
                "FROM scratch.raw0")
    con.execute("DROP TABLE scratch.raw0")
    con.execute("""
        CREATE TABLE scratch.raw_rejects AS
        SELECT line::BIGINT AS line, min(column_name) AS field,
               string_agg(DISTINCT lower(error_type) || ': ' || error_message, '; ') AS reason,
               left(any_value(csv_line), 200) AS excerpt
        FROM reject_errors GROUP BY line""")


def locate_csv_lines(f: InputFile, rows: list[int], parse_reject_lines: set[int],
                     header: bool) -> dict[int, int]:
    """Physical start line of the given record numbers (only called for rejected records).

    DuckDB numbers records but not lines (a quoted field may span lines), so the lines of the
    few rejected records are found in one pass of Python's csv module, skipping the records
    DuckDB itself rejected so that numbering stays aligned.
    """
    wanted = set(rows)
    found: dict[int, int] = {}
    if not wanted:
        return found
    csv.field_size_limit(MAX_LINE_BYTES)
    with open_text(f) as fh:
        reader = csv.reader(fh)
        record = 0
        start = 1
        if header:
            next(reader, None)
            start = reader.line_num + 1
        for _ in reader:
            if start not in parse_reject_lines:
                record += 1
                if record in wanted:
                    found[record] = start
                    if len(found) == len(wanted):
                        break
            start = reader.line_num + 1
    return found


# -- parquet -----------------------------------------------------------------------------------
def parquet_columns(con: duckdb.DuckDBPyConnection, f: InputFile) -> list[str]:
    try:
        return [r[0] for r in con.execute(
            "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL OR num_children = 0",
            [str(f.path)]).fetchall()]
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: not a readable Parquet file "
                                 f"({_first_line(exc)})") from None


def stage_parquet(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    try:
        con.execute("CREATE TABLE scratch.raw AS SELECT file_row_number + 1 AS _row, "
                    "file_row_number + 1 AS _line, * EXCLUDE (file_row_number) "
                    f"FROM read_parquet({literal(str(f.path))}, file_row_number = true)")
    except duckdb.Error as exc:
        raise UnusableInputError(f"{f.path}: cannot read the Parquet file: "
                                 f"{_first_line(exc)}") from None
    _no_parse_rejects(con)


def _no_parse_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE scratch.raw_rejects (line BIGINT, field VARCHAR, reason VARCHAR, "
                "excerpt VARCHAR)")


# -- JSON --------------------------------------------------------------------------------------
def stage_json(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    """Split a JSON file into records (``scratch.raw(_row, _line, json)``).

    Accepted shapes: one object per line, concatenated objects (also pretty-printed, with each
    top-level object starting at column 0), and a top-level array. A record that does not parse
    is rejected with its line and the parser's message; the records around it are kept.
    """
    import pyarrow as pa   # here: importing it costs every CLI start 0.2 s

    con.execute("CREATE TABLE scratch.raw (_row BIGINT, _line BIGINT, json VARCHAR)")
    _no_parse_rejects(con)
    rows, lines, texts, rejects = [], [], [], []
    n = 0

    def flush() -> None:
        if rows:
            batch = pa.table({"_row": rows, "_line": lines, "json": texts})
            con.execute("INSERT INTO scratch.raw SELECT * FROM batch")
            rows.clear(), lines.clear(), texts.clear()
        if rejects:
            con.executemany("INSERT INTO scratch.raw_rejects VALUES (?, NULL, ?, ?)", rejects)
            rejects.clear()

    for line, text, error in iter_json_records(f):
        if error is not None:
            rejects.append((line, error, text[:200]))
        else:
            n += 1
            rows.append(n), lines.append(line), texts.append(text)
        if len(rows) >= JSON_BATCH or len(rejects) >= JSON_BATCH:
            flush()
    flush()


def iter_json_records(f: InputFile) -> Iterator[tuple[int, str, str | None]]:
    """Yield (start line, record text, error or None) for each top-level JSON value."""
    decoder = json.JSONDecoder()
    with open_text(f) as fh:
        head = fh.read(4096)
        if head.lstrip()[:1] == "[":
            yield from _json_array(f, head + fh.read())
            return
        fh = _chain(head, fh)
        group: list[str] = []
        start = 1
        for lineno, line in enumerate(fh, 1):
            if line[:1] == "{" and group:
                yield from _decode_group(decoder, start, "".join(group))
                group = []
            if not group:
                if not line.strip():
                    continue
                start = lineno
            group.append(line)
        if group:
            yield from _decode_group(decoder, start, "".join(group))


def _chain(head: str, fh: io.TextIOBase) -> Iterator[str]:
    rest = fh.readline()
    yield from io.StringIO(head + rest)
    yield from fh


def _decode_group(decoder: json.JSONDecoder, start: int, text: str
                  ) -> Iterator[tuple[int, str, str | None]]:
    """Decode one group of lines; it may hold several concatenated objects."""
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return
        line = start + text.count("\n", 0, pos)
        try:
            obj, nxt = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield line, text[pos:].strip(), (
                f"invalid JSON: {exc.msg} (seen at line {start + exc.lineno - 1} column "
                f"{exc.colno})")
            return
        if not isinstance(obj, dict):
            yield line, text[pos:nxt], "not a JSON object"
        else:
            yield line, text[pos:nxt], None
        pos = nxt


def _json_array(f: InputFile, text: str) -> Iterator[tuple[int, str, str | None]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnusableInputError(f"{f.path}: line {exc.lineno}: the top-level JSON array is "
                                 f"broken ({exc.msg}): fix it or write one object per line") \
            from None
    for i, obj in enumerate(items, 1):
        if isinstance(obj, dict):
            yield i, json.dumps(obj), None
        else:
            yield i, json.dumps(obj)[:200], "array element is not a JSON object"


# -- helpers -----------------------------------------------------------------------------------
def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
