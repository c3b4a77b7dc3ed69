"""Bad input: a one-line error naming file, line and field, no traceback, nothing lost."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


from swarmscope import Store
from tests.conftest import run

HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"


def cnt_file(tmp_path: Path, body: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    data = (HEADER.encode() + body) if isinstance(body, bytes) else (HEADER + body).encode()
    path.write_bytes(data)
    return path


def rejects(db: Path) -> list[tuple]:
    with Store(db, read_only=True) as s:
        return s.con.execute("SELECT file, line, field, reason FROM rejects ORDER BY line"
                             ).fetchall()


def counts(db: Path) -> tuple[int, int]:
    with Store(db, read_only=True) as s:
        return (s.con.execute("SELECT count(*) FROM posts").fetchone()[0],
                s.con.execute("SELECT count(*) FROM rejects").fetchone()[0])


def assert_clean_error(r, *needles: str) -> None:
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    line = r.output.strip().splitlines()[-1]
    assert line.startswith("Error: ")
    for n in needles:
        assert n in line, (n, line)


def test_empty_file(tmp_path, db):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert_clean_error(run("ingest", path, db=db), str(path), "empty")


def test_header_only(tmp_path, db):
    path = cnt_file(tmp_path, "")
    assert_clean_error(run("ingest", path, "--format", "cnt", db=db), str(path), "no records")


def test_missing_required_column(tmp_path, db):
    path = tmp_path / "tweets.csv"
    path.write_text("tweetid,userid,tweet_text\n1,2,hello\n")
    assert_clean_error(run("ingest", path, "--format", "io-archive", db=db),
                       str(path), "line 1", "tweet_time")


def test_other_delimiters_are_detected(tmp_path, db):
    path = tmp_path / "semi.csv"
    path.write_text(HEADER.replace(",", ";") + "1;u1;n1;;;hi;1600000000;\n2;u2;n2;1;;rt;1600000001;\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0, r.output
    assert "read 2 = stored 2 + duplicates 0 + rejected 0" in r.output


def test_wrong_delimiter_is_named(tmp_path, db):
    path = tmp_path / "caret.csv"
    path.write_text("tweetid^userid^tweet_time\n1^2^2020-01-01 00:00\n")
    assert_clean_error(run("ingest", path, "--format", "io-archive", db=db),
                       str(path), "delimiter", "missing required column")


def test_unparseable_timestamp_is_rejected_with_line_and_field(tmp_path, db):
    body = ('1,u1,n1,,,"a text\nover two lines",1600000000,\n'
            "2,u2,n2,,,bad time,yesterday,\n"
            "3,u3,n3,,,fine,1600000002,\n")
    path = cnt_file(tmp_path, body)
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert "read 3 = stored 2 + duplicates 0 + rejected 1" in r.output
    assert "unparseable timestamp (field timestamp)" in r.output
    [(file, line, field, reason)] = rejects(db)
    assert (file, line, field) == (str(path), 4, "timestamp")   # line 4: record 1 spans 2-3
    assert reason == "unparseable timestamp: yesterday, expected epoch seconds"


def test_invalid_utf8_is_rejected_with_its_line(tmp_path, db):
    path = cnt_file(tmp_path, b"1,u1,n1,,,ok,1600000000,\n2,u2,n2,,,bad \xff\xfe bytes,1600000001,\n"
                              b"3,u3,n3,,,ok,1600000002,\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert "read 3 = stored 2 + duplicates 0 + rejected 1" in r.output
    [(_, line, field, reason)] = rejects(db)
    assert line == 3 and "invalid encoding" in reason


def test_nul_bytes_are_rejected_naming_the_field(tmp_path, db):
    path = cnt_file(tmp_path, b"1,u1,n1,,,nul\x00here,1600000000,\n2,u2,n2,,,ok,1600000001,\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert "read 2 = stored 1 + duplicates 0 + rejected 1" in r.output
    [(_, line, field, reason)] = rejects(db)
    assert (line, field) == (2, "text") and "NUL byte" in reason


def test_ten_megabyte_field_is_rejected_not_fatal(tmp_path, db):
    path = cnt_file(tmp_path, "1,u1,n1,,," + "x" * 10_000_000 + ",1600000000,\n"
                              "2,u2,n2,,,ok,1600000001,\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert "read 2 = stored 1 + duplicates 0 + rejected 1" in r.output
    [(_, line, field, reason)] = rejects(db)
    assert (line, field) == (2, "text") and reason.startswith("field too long: 10000000 characters")


def test_wrong_column_count_is_rejected_with_its_line(tmp_path, db):
    path = cnt_file(tmp_path, "1,u1,n1,,,ok,1600000000,\n2,u2,too,many,,,fields,1,2,3\n"
                              "3,u3,n3,,,ok,1600000002,\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0
    assert "read 3 = stored 2 + duplicates 0 + rejected 1" in r.output
    [(_, line, _, reason)] = rejects(db)
    assert line == 3 and "too many columns" in reason


def test_truncated_gzip(tmp_path, db):
    data = gzip.compress((HEADER + "".join(f"{i},u{i},n,,,t{i},{1600000000 + i},\n"
                                           for i in range(20000))).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert_clean_error(run("ingest", path, db=db), str(path), "truncated")
    assert counts(db) == (0, 0)


def test_json_with_one_broken_line_keeps_the_good_lines(tmp_path, db, shared):
    objs = [json.loads(line) for line in _osome_lines(shared)][:3]
    lines = [json.dumps(o) for o in objs]
    lines[1] = lines[1][: len(lines[1]) // 2]
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0, r.output
    assert "read 3 = stored 2 + duplicates 0 + rejected 1" in r.output
    [(_, line, _, reason)] = rejects(db)
    assert line == 2 and reason.startswith("invalid JSON: ")


def test_a_file_whose_every_record_is_rejected_is_unusable(tmp_path, db):
    path = cnt_file(tmp_path, "1,u1,n1,,,a,never,\n2,u2,n2,,,b,nope,\n")
    assert_clean_error(run("ingest", path, db=db), str(path), "every one of its 2 records")
    assert counts(db) == (0, 2)      # the rejects are kept for inspection


def test_unknown_format_from_the_shape(tmp_path, db):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    assert_clean_error(run("ingest", path, db=db), "cannot tell the format", "saw columns [a, b, c]",
                       "--format")


def test_a_usable_file_after_an_unusable_one_is_still_ingested(tmp_path, db):
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    good = cnt_file(tmp_path, "1,u1,n1,,,a,1600000000,\n", name="good.csv")
    r = run("ingest", bad, good, db=db)
    assert r.exit_code == 1
    assert "read 1 = stored 1" in r.output and "empty" in r.output
    assert counts(db) == (1, 0)


def _osome_lines(shared: Path) -> list[str]:
    text = (shared / "fixtures/osome_cs4_sample_hashed_tweets.json").read_text()
    dec, pos, out = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        obj, pos = dec.raw_decode(text, pos)
        out.append(json.dumps(obj))


def test_lines_of_rejects_in_a_headerless_file(tmp_path, db):
    path = tmp_path / "noheader.csv"
    path.write_text("1,u1,n1,,,ok,1600000000,\n2,u2,n2,,,late,later,\n")
    r = run("ingest", path, "--format", "cnt", db=db)
    assert r.exit_code == 0 and "read 2 = stored 1 + duplicates 0 + rejected 1" in r.output
    [(_, line, field, _)] = rejects(db)
    assert (line, field) == (2, "timestamp")


def test_higgs_text_with_a_bad_row(tmp_path, db):
    path = tmp_path / "higgs.txt"
    path.write_text("1 2 1341100972 RT\n3 4 1341100973 MT\n5 6 1341100974 XX\n")
    r = run("ingest", path, "--format", "snap-higgs", db=db)
    assert r.exit_code == 0 and "read 3 = stored 2 + duplicates 0 + rejected 1" in r.output
    [(_, line, field, reason)] = rejects(db)
    assert (line, field) == (3, "interaction") and reason.startswith("unknown interaction: XX")
