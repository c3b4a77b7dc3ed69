"""``ingest``: read the files analysts hold into the store's canonical tables.

One module per format (see :data:`FORMATS`); this module finds each file's format, stages the
file in a scratch database (in memory), and hands it to :mod:`~swarmscope.ingest.merge`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from swarmscope.errors import SwarmscopeError, UnusableInputError
from swarmscope.ingest import (bluesky, cnt, coortweet, crowdtangle, fivethirtyeight, io_archive,
                               mastodon, meta_content_library, reddit, snap_higgs, table,
                               telegram, tiktok, twitter_v1, twitter_v2, youtube)
from swarmscope.ingest.jsondoc import iter_document_records
from swarmscope.ingest.merge import FileCounts, merge
from swarmscope.ingest.normalize import register_functions
from swarmscope.ingest.reader import Reader
from swarmscope.ingest.sources import (MAX_DECOMPRESSED, MAX_RECORD_BYTES, InputFile,
                                       check_encoding, check_input, fingerprint,
                                       iter_json_records, list_inputs, parquet_columns, read_head,
                                       sniff_columns, stage_csv, stage_json, stage_parquet,
                                       store_files)
from swarmscope.params import BYTES, RATIO, SIZE, parse_size, validate
from swarmscope.store import Store

#: The engine's memory limit during ingest where the store's settings give none (DuckDB's own
#: default is 80 % of RAM): the scratch tables spill to disk past it, so that a file of any size
#: is ingested in about 2 GiB (``bench/ingest_throughput.py`` checks it on 5 GB files).
INGEST_MEMORY = "1GB"

#: In the order formats are tried: the platforms' JSON before twitter-v2, whose pages
#: (``{"data": …}``) other APIs' responses resemble.
FORMATS: dict[str, Reader] = {r.name: r for r in (
    io_archive.TWEETS, io_archive.USERS, twitter_v1.V1, twitter_v1.OSOME, reddit.READER,
    youtube.READER, youtube.CHANNELS, crowdtangle.API, crowdtangle.API_INSTAGRAM, tiktok.READER,
    telegram.DESKTOP, telegram.TGDATASET, bluesky.READER, mastodon.READER, twitter_v2.V2,
    coortweet.READER, cnt.READER, fivethirtyeight.READER, snap_higgs.READER,
    crowdtangle.CSV, crowdtangle.CSV_INSTAGRAM, meta_content_library.READER, table.READER)}


@dataclass
class IngestReport:
    """The outcome of one ``ingest`` call: a :class:`FileCounts` per file."""

    run_id: int
    files: list[FileCounts] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("read", "stored", "duplicates", "rejected")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}


def ingest(store: Store, paths: list[str | Path], *, format: str | None = None,
           mappings: dict[str, str] | None = None, platform: str | None = None,
           max_decompressed: int | str = MAX_DECOMPRESSED,
           max_record_bytes: int | str = MAX_RECORD_BYTES,
           on_file: Callable[[FileCounts], None] | None = None) -> IngestReport:
    """Ingest files into ``store``; each file is its own transaction.

    Parameters
    ----------
    store : Store
        An open, writable store.
    paths : list of paths
        Files or directories (their files are read in name order, e.g. numbered parts).
    format : str, optional
        One of :data:`FORMATS`; detected per file from its header or first record when omitted.
    mappings : dict, optional
        ``FIELD -> SQL expression`` for the ``table`` format.
    platform : str, optional
        The platform name stored with every record (default: the format's own).
    max_decompressed : int or str
        The most a gzipped file may expand to: bytes, a size (``20GB``) or a ratio to its
        compressed size (``100x``, always allowing 1 GiB); a file beyond it is refused.
    max_record_bytes : int or str
        The longest record (a CSV line, a JSON record or top-level array); a longer one is
        rejected.
    on_file : callable, optional
        Called with each file's counts as soon as it is done.

    A file that cannot be read at all (empty, corrupt, wrong format) is listed in
    ``IngestReport.failed`` with the reason, and the other files are still ingested.
    """
    validate("ingest", {"max_decompressed": max_decompressed,
                        "max_record_bytes": max_record_bytes},
             {"max_decompressed": [BYTES, SIZE, RATIO], "max_record_bytes": [BYTES, SIZE]})
    max_record = parse_size(max_record_bytes)
    if format is not None and format not in FORMATS:
        raise SwarmscopeError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    if mappings and format != "table":
        raise SwarmscopeError("--map applies to --format table only")
    own = store_files(store.path)
    files = list_inputs(paths, own)
    if not files:
        raise UnusableInputError("no input files given")
    params = {"paths": [str(p) for p in paths], "format": format, "map": mappings or {},
              "platform": platform, "max_decompressed": max_decompressed,
              "max_record_bytes": max_record_bytes}
    run_id = store.start_run("ingest", params)
    report = IngestReport(run_id)
    scratch_dir = Path(str(store.path) + ".ingest-tmp")
    con = store.con
    register_functions(con)
    if store.settings.memory_limit is None:
        con.execute(f"SET memory_limit = '{INGEST_MEMORY}'")
    try:
        for path in files:
            try:
                check_input(path, own)
                f = fingerprint(path, max_decompressed, max_record)
                store.add_run_input(run_id, str(path), f.sha256, f.size)
                counts = _ingest_file(con, f, format, mappings or {}, platform, run_id,
                                      scratch_dir)
            except UnusableInputError as exc:
                report.failed.append((str(path), str(exc)))
                continue
            except duckdb.OutOfMemoryException as exc:
                report.failed.append((str(path), (
                    f"{path}: the engine ran out of memory ({str(exc).splitlines()[0]}): raise "
                    "--memory-limit, or lower --threads or --max-record-bytes")))
                continue
            report.files.append(counts)
            if on_file:
                on_file(counts)
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)[:500], **report.totals})
        raise
    finally:
        _drop_scratch(con, scratch_dir)
        if store.settings.memory_limit is None:
            con.execute("RESET memory_limit")
    files = [{"path": c.path, "format": c.format, "read": c.read, "stored": c.stored,
              "duplicates": c.duplicates, "rejected": c.rejected} for c in report.files]
    store.finish_run(run_id, "failed" if report.failed else "ok",
                     {**report.totals, "failed": report.failed, "files": files})
    return report


def _ingest_file(con: duckdb.DuckDBPyConnection, f: InputFile, format: str | None,
                 mappings: dict[str, str], platform: str | None, run_id: int,
                 scratch_dir: Path) -> FileCounts:
    _drop_scratch(con, scratch_dir)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    # in memory (spilling to the engine's temp dir past --memory-limit): a file-backed scratch
    # cost every input file about 0.25 s in writes and checkpoints
    con.execute("ATTACH ':memory:' AS scratch")
    check_encoding(f)
    kind = f.kind
    columns: list[str] = []
    delim = None
    if kind == "parquet":
        columns = parquet_columns(con, f)
    elif kind == "text" and format not in ("snap-higgs",):
        columns, delim = sniff_columns(f)
    reader = FORMATS[format] if format else detect_format(f, kind, columns)
    if kind == "parquet" and reader.shape not in ("parquet", "csv-or-parquet"):
        raise UnusableInputError(f"{f.path}: format {reader.name} is not read from Parquet")
    if kind == "json" and reader.shape != "json":
        json_formats = ", ".join(r.name for r in FORMATS.values() if r.shape == "json")
        raise UnusableInputError(f"{f.path}: this is a JSON file; format {reader.name} expects "
                                 f"delimited text. Pass --format one of {json_formats}, or leave "
                                 "--format out")
    if kind == "text" and reader.shape in ("json", "parquet"):
        raise UnusableInputError(f"{f.path}: format {reader.name} expects "
                                 f"{reader.shape.upper()}, but the file is delimited text")
    _check_required(f, reader, columns, delim, mappings)
    layout = None
    if reader.shape == "json":
        stage_json(con, f, iter_document_records(f, reader.walk) if reader.walk else None)
    elif kind == "parquet":
        stage_parquet(con, f)
    elif reader.shape == "text":
        reader.stage(con, f)
    else:
        layout = stage_csv(con, f, reader.dialect(columns, delim or ","), scratch_dir)
    staged_cols = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'scratch' "
        "AND table_name = 'raw'").fetchall()]
    m = reader.mapping(staged_cols, mappings)
    plat = platform or reader.default_platform
    counts = merge(con, reader, m, f, plat, run_id, layout)
    if counts.read and counts.rejected == counts.read:
        field_, why = counts.reasons.most_common(1)[0][0]
        line = con.execute("SELECT min(line) FROM (SELECT line FROM scratch.raw_rejects "
                           "UNION ALL SELECT _line FROM scratch.bad)").fetchone()[0]
        hint = (f"is it really format {reader.name}?" if why != "invalid encoding" else
                "the file is not UTF-8 (Latin-1 or Windows-1252?): convert it (iconv -f "
                "WINDOWS-1252 -t UTF-8) and retry.")
        raise UnusableInputError(
            f"{f.path}: every one of its {counts.read} records was rejected (first reason: "
            f"{why} in field {field_ or '-'}, line {line}); {hint} The rejects are in the "
            "store's rejects table")
    if counts.read == 0:
        raise UnusableInputError(f"{f.path}: the file holds no records (only a header?)")
    return counts


def detect_format(f: InputFile, kind: str, columns: list[str]) -> Reader:
    """Pick the reader whose signature the file matches, or explain what was seen."""
    if kind == "json":
        head = read_head(f)
        for r in FORMATS.values():
            if r.detect_head and r.detect_head(head):
                return r
        first: dict | None = None
        for _, text, err in islice(iter_json_records(f), 100):   # streams start with notices
            if err is None:
                obj = json.loads(text)
                first = first if first is not None else obj
                for r in FORMATS.values():
                    if r.detect_json and r.detect_json(obj):
                        return r
        if first is None:
            raise UnusableInputError(f"{f.path}: no readable JSON object in the file")
        raise UnusableInputError(
            f"{f.path}: cannot tell the JSON format (first object has keys "
            f"{', '.join(list(first)[:12])}); pass --format, one of: {', '.join(FORMATS)}")
    if kind == "text" and snap_higgs.looks_like(f):
        return snap_higgs.READER
    return format_of_columns(f.path, kind, columns)


def format_of_columns(path: object, kind: str, columns: list[str]) -> Reader:
    """The first reader whose signature the columns of a table (``kind`` 'text' or 'parquet')
    hold, or an error naming what was seen."""
    present = {c.lower() for c in columns}
    for r in FORMATS.values():
        if r.signature and set(r.signature) <= present and (
                kind != "parquet" or r.shape in ("parquet", "csv-or-parquet")):
            return r
    shown = ", ".join(columns[:12]) + (" …" if len(columns) > 12 else "")
    raise UnusableInputError(
        f"{path}: cannot tell the format: saw columns [{shown}]; pass --format, one of: "
        f"{', '.join(FORMATS)} (table with --map FIELD=EXPR for any other table)")


def _check_required(f: InputFile, reader: Reader, columns: list[str], delim: str | None,
                    mappings: dict[str, str]) -> None:
    if not columns or not reader.required:
        return
    present = {c.lower() for c in columns}
    missing = [c for c in reader.required if c not in present]
    if missing:
        hint = ""
        if len(columns) == 1 and any(d in columns[0] for d in ";\t|"):
            hint = " (the whole header is one column: is the delimiter something other than ','?)"
        raise UnusableInputError(
            f"{f.path}: line 1: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} for format {reader.name}; saw [{', '.join(columns[:12])}]"
            f"{hint}")


def _drop_scratch(con: duckdb.DuckDBPyConnection, scratch_dir: Path) -> None:
    try:
        con.execute("DETACH DATABASE IF EXISTS scratch")
    except duckdb.Error:
        pass
    shutil.rmtree(scratch_dir, ignore_errors=True)
