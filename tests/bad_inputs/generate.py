"""Inputs of the bad-input corpus too big to keep in the repository, written on demand.

Each function takes the case's temporary folder and writes the files its ``case.toml`` names.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

CNT_HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"


def cnt_rows(n: int, start: int = 0) -> str:
    """``n`` valid rows of the toolkit's CSV: account u{i % 50} reposting o{i % 97}."""
    return "".join(f"m{i},u{i % 50},user{i % 50},o{i % 97},,RT o{i % 97},{1341100800 + i},\n"
                   for i in range(start, start + n))


def _planted(case: Path, change) -> None:
    """``in.csv``: a small planted operation (``conftest.synthetic``: 100 independent accounts
    over 24 h, and g0..g7 reposting the same fresh objects within seconds), every row passed
    through ``change(row)`` (the toolkit's columns, as a list) first."""
    import csv
    from conftest import synthetic
    path = synthetic(case / "in.csv", seed=3, accounts=100, hours=24, group=8)
    with path.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *(change(r) for r in rows)])


def planted_template_markers(case: Path) -> None:
    """The group's posts and one handle read like the report template's markers."""
    def change(row: list[str]) -> list[str]:
        if row[1].startswith("g"):
            row[5] = "{{SCRIPT}} {{DATA}} {{STYLE}} " + row[5]
            row[2] = "{{SCRIPT}}" if row[1] == "g2" else row[2]
        return row
    _planted(case, change)


def _dated_before_year_1(case: Path, post_id: str) -> None:
    """``store.duckdb``: ``in.csv`` ingested, then the post ``post_id`` (SQL) dated in 4 BC.
    Ingest rejects such a time; a store written before that rule, or by another tool, can hold
    one."""
    from swarmscope import Store, ingest
    with Store(case / "store.duckdb") as store:
        ingest(store, [case / "in.csv"])
        store.con.execute("UPDATE posts SET created_at = make_timestamp(-62235000000 * 1000000) "
                          f"WHERE post_id = ({post_id})")


def planted_before_year_1(case: Path) -> None:
    """The planted operation in a store, the group's first post dated in 4 BC."""
    _planted(case, lambda row: row)
    _dated_before_year_1(case, "SELECT min(post_id) FROM posts WHERE account_id = 'g0'")


def post_before_year_1(case: Path) -> None:
    """``in.csv`` in a store, its post m1 dated in 4 BC."""
    _dated_before_year_1(case, "'m1'")


def planted_control_handles(case: Path) -> None:
    """The group's handles hold control characters (an escape sequence, SOH)."""
    def change(row: list[str]) -> list[str]:
        if row[1].startswith("g"):
            row[2] = f"{row[1]}\x01\x1b[31m"
        return row
    _planted(case, change)


def corrupt_schema_version(case: Path) -> None:
    """``store.duckdb``: a swarmscope store whose schema version reads ``x4``."""
    from swarmscope import Store
    with Store(case / "store.duckdb") as store:
        store.con.execute("UPDATE meta SET value = 'x4' WHERE key = 'schema_version'")


def foreign_duckdb(case: Path) -> None:
    """``other.duckdb``: a DuckDB database of another application, with its own ``posts``."""
    import duckdb
    with duckdb.connect(str(case / "other.duckdb")) as con:
        con.execute("CREATE TABLE posts AS SELECT 1 AS id, 'theirs' AS body")


def control_chars_in_file_name(case: Path) -> None:
    """``dir/`` holding one valid file whose name sets the terminal's title and rings."""
    (case / "dir").mkdir()
    (case / "dir" / "posts\x1b]0;pwned\x07.csv").write_text(
        CNT_HEADER + cnt_rows(3), encoding="utf-8")


# -- bounded resources (gzip bombs, records over the limit, what is not a file) -----------------
V1_LINE = ('{{"id_str": "{i}", "created_at": "Sun Jul 01 00:00:{s:02d} +0000 2012", "text": '
           '"hi #tag{i}", "user": {{"id_str": "u{u}", "screen_name": "user{u}"}}}}\n')


def v1_lines(n: int, start: int = 0) -> str:
    """``n`` valid X/Twitter v1.1 JSON lines."""
    return "".join(V1_LINE.format(i=i, s=i % 60, u=i % 7) for i in range(start, start + n))


def gzip_bomb(path: Path, head: bytes, filler: bytes, copies: int, tail: bytes = b"") -> None:
    """``head``, ``filler`` repeated ``copies`` times and ``tail`` as concatenated gzip members:
    one member of filler compressed once and written ``copies`` times (fast, a few KB each)."""
    member = gzip.compress(filler, compresslevel=9, mtime=0)
    with path.open("wb") as fh:
        fh.write(gzip.compress(head, mtime=0))
        for _ in range(copies):
            fh.write(member)
        fh.write(gzip.compress(tail, mtime=0))


def jsonl_gzip_bomb(case: Path) -> None:
    """200 MB of JSON lines from about 200 KB."""
    line = v1_lines(1).encode()
    gzip_bomb(case / "bomb.jsonl.gz", line, line * (10_000_000 // len(line)), 20)


def csv_gzip_bomb(case: Path) -> None:
    """200 MB of the toolkit's CSV rows from about 200 KB."""
    rows = cnt_rows(100).encode()
    gzip_bomb(case / "bomb.csv.gz", CNT_HEADER.encode(), rows * (10_000_000 // len(rows)), 20)


def jsonl_gzip_long_line(case: Path) -> None:
    """Valid lines around one line of 100 MB (no newline in it), gzipped."""
    gzip_bomb(case / "long.jsonl.gz", (v1_lines(3) + '{"id_str": "x", "text": "').encode(),
               b"a" * 10_000_000, 10, ('"}\n' + v1_lines(3, 3)).encode())


def csv_gzip_long_line(case: Path) -> None:
    """Valid rows around one row of 100 MB, gzipped."""
    gzip_bomb(case / "long.csv.gz", (CNT_HEADER + cnt_rows(3) + "m9,u1,user1,,,").encode(),
               b"a" * 10_000_000, 10, (",1341100800,\n" + cnt_rows(3, 3)).encode())


def wide_header(case: Path) -> None:
    """A toolkit CSV whose header has 50,000 columns."""
    extra = ",".join(f"c{i}" for i in range(50_000 - 8))
    (case / "wide.csv").write_text(CNT_HEADER.rstrip("\n") + "," + extra + "\n"
                                   + cnt_rows(2).replace("\n", "," * (50_000 - 8) + "\n"))


def fifo(case: Path) -> None:
    os.mkfifo(case / "pipe.csv")


def gzip_members(case: Path) -> None:
    """A valid CSV written as three concatenated gzip members (as `cat a.gz b.gz` makes)."""
    parts = [CNT_HEADER + cnt_rows(5), cnt_rows(5, 5), cnt_rows(5, 10)]
    (case / "parts.csv.gz").write_bytes(b"".join(gzip.compress(p.encode()) for p in parts))


def gzip_truncated(case: Path) -> None:
    data = gzip.compress(v1_lines(200).encode())
    (case / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])


def big_texts(case: Path) -> None:
    """40 JSON records with texts of 990 KB (40 MB): more than a 100 MB engine can map (it
    works on 2,048 records at a time)."""
    (case / "big.jsonl").write_text("".join(
        v1_lines(1, i).replace('"hi #', '"' + "b" * 990_000 + " #") for i in range(40)))


def other_compressions(case: Path) -> None:
    """A zstd file (its magic number; DuckDB would decompress it past the limits), a bzip2 file
    named .jsonl, and a gzip file named without .gz."""
    (case / "in.csv.zst").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(60))
    (case / "in.jsonl").write_bytes(b"BZh91AY&SY" + bytes(60))
    (case / "in.csv").write_bytes(gzip.compress((CNT_HEADER + cnt_rows(3)).encode()))


def v1_tweet(i: int) -> str:
    """A compact v1.1 stream tweet (one line): account u{i % 50} posting about hashtag t{i % 7}."""
    tid = 1197168750616133635 + i * 4194304
    return json.dumps({
        "created_at": "Wed Nov 20 15:04:07 +0000 2019", "id": tid, "id_str": str(tid),
        "text": f"Flood warning update {i} #t{i % 7}", "source": "<a href=\"https://mobile.twitter"
        ".com\" rel=\"nofollow\">Twitter Web App</a>", "in_reply_to_status_id_str": None,
        "user": {"id": 1000 + i % 50, "id_str": str(1000 + i % 50), "screen_name": f"u{i % 50}"},
        "entities": {"hashtags": [{"text": f"t{i % 7}"}], "user_mentions": [], "urls": []},
        "lang": "en", "timestamp_ms": str((tid >> 22) + 1288834974657)})


def v1_indented_truncated(folder: Path) -> None:
    """1,000 tab-indented tweets, line 2 cut short (issue 18: it took every line after it along)."""
    lines = ["\t" + v1_tweet(i) for i in range(1000)]
    lines[1] = lines[1][:60]
    (folder / "stream.jsonl").write_text("\n".join(lines) + "\n")


def _write_parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table(columns), path)


def unclosed_quote_late(case: Path) -> None:
    """40,000 rows; row 30,000 (line 30,001) opens a quote it never closes."""
    bad = 'm29999,u1,user1,o1,,"RT o1 never closed,1341130799,\n'
    (case / "in.csv").write_text(CNT_HEADER + cnt_rows(29999) + bad + cnt_rows(10000, 30000))


def unclosed_quote_early_big(case: Path) -> None:
    """300,000 rows (9 MB); row 2 opens a quote it never closes."""
    bad = 'm1,u1,user1,o1,,"RT o1 never closed,1341100801,\n'
    (case / "in.csv").write_text(CNT_HEADER + cnt_rows(1) + bad + cnt_rows(299998, 2))


def parquet_timestamp_out_of_range(case: Path) -> None:
    """A CooRTweet share table whose second row's int64 time is 1e18."""
    _write_parquet(case / "shares.parquet", {
        "object_id": ["o1", "o1", "o1"], "account_id": ["a1", "a2", "a3"],
        "content_id": ["p1", "p2", "p3"],
        "timestamp_share": [1629589836, 10 ** 18, 1629589838]})


def fivethirtyeight_required_parquet(case: Path) -> None:
    """The FiveThirtyEight IRA columns author, content, publish_date (TIMESTAMP) only."""
    from datetime import datetime
    _write_parquet(case / "ira.parquet", {
        "author": ["BOB", "AMY"], "content": ["hello #x", "hi @BOB"],
        "publish_date": [datetime(2017, 1, 2, 14, 43), datetime(2017, 1, 2, 14, 44)]})


def parquet_binary_not_utf8(case: Path) -> None:
    """A share table whose object_id is a binary column; row 2 is not UTF-8."""
    _write_parquet(case / "shares.parquet", {
        "object_id": [b"https://a.com/1", b"https://a.com/\xff", b"https://a.com/3"],
        "account_id": ["a1", "a2", "a3"], "content_id": ["p1", "p2", "p3"],
        "timestamp_share": [1629589836, 1629589837, 1629589838]})


def parquet_binary_nul(case: Path) -> None:
    """A table whose binary id column holds a NUL byte in row 1."""
    _write_parquet(case / "posts.parquet", {
        "id": [b"p\x001", b"p2"], "user": ["a1", "a2"], "time": [1629589836, 1629589837]})


def parquet_struct_column(case: Path) -> None:
    """A share table whose account_id is a struct; also a ``user`` struct for --map user.id."""
    accounts = [{"id": "a1", "name": "Ann"}, {"id": "a2", "name": "Bob"}]
    _write_parquet(case / "shares.parquet", {
        "object_id": ["o1", "o1"], "account_id": accounts, "content_id": ["p1", "p2"],
        "timestamp_share": [1629589836, 1629589837]})
    _write_parquet(case / "posts.parquet", {
        "id": ["p1", "p2"], "user": accounts, "time": [1629589836, 1629589837]})
