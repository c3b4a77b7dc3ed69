"""Fuzzing, the short run: every target of ``tests/fuzz/targets.py`` under hypothesis (the
normalisers on arbitrary and near-valid text, the readers on records of their format with
hostile values), and over its stored corpus. The long, coverage-guided run is
``bench/fuzz.py`` (atheris). The structured properties of the normalisers are in
``test_normalize.py``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz import targets

#: Per example; a hang shows as an example over its deadline.
NORMALISER = settings(max_examples=150, deadline=timedelta(seconds=5),
                      suppress_health_check=[HealthCheck.too_slow])
READER = settings(max_examples=4, deadline=timedelta(seconds=30),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Values that broke or nearly broke parsers before (issue 18) and other edge cases.
HOSTILE = st.sampled_from([
    "", " ", "absent", "[]", "['unclosed", "[a, [b]]", "99999999999999999999", "-1", "1e18",
    "1e308", "nan", "-0", "\ufeff", "\x00", "\x01", "😀", "\ud7ff", "'", '"', "\\", "\r\n",
    "{{SCRIPT}}", "0001-01-01", "9999-12-31 23:59", "http://", "www.", "#", "@"])
TEXT = st.one_of(st.text(), HOSTILE, st.text(st.characters(codec="ascii")),
                 st.text(alphabet="[]'\", \\#@:/?&=.wxyz0123456789"))


@NORMALISER
@given(value=st.one_of(TEXT, st.lists(TEXT, max_size=4).map(repr),
                       st.lists(TEXT, max_size=4).map(json.dumps),
                       st.lists(st.text("abc #\t", min_size=1), max_size=4).map(
                           lambda xs: "[" + ", ".join(xs) + "]")))
def test_list_repr(value):
    targets.list_repr(value)


@NORMALISER
@given(value=st.one_of(TEXT, st.integers(0, 2**64 + 5).map(str),
                       st.integers(targets.FIRST_SNOWFLAKE_ID, 2**64 - 1).map(str)))
def test_snowflake(value):
    targets.snowflake(value)


@NORMALISER
@given(value=st.one_of(TEXT, st.integers().map(str), st.floats().map(str),
                       st.datetimes().map(str), st.datetimes().map(lambda d: d.isoformat())))
def test_timestamp(value):
    targets.timestamp(value)


URLISH = st.builds(
    "{}://{}{}{}{}{}".format, st.sampled_from(["http", "HTTPS", "ftp", "h"]),
    st.sampled_from(["", "user:pw@", "@"]),
    st.one_of(st.from_regex(r"(www\.)*[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,8}){0,3}\.?",
                            fullmatch=True), TEXT),
    st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    st.from_regex(r"(/[A-Za-z0-9._~%-]{0,6}){0,3}", fullmatch=True),
    st.from_regex(r"(\?([A-Za-z_]{0,6}(=[A-Za-z0-9]{0,4})?&?){0,3})?(#.{0,4})?", fullmatch=True))


@NORMALISER
@given(value=st.one_of(TEXT, URLISH))
def test_url(value):
    targets.url(value)


@NORMALISER
@given(value=st.one_of(TEXT, st.from_regex(r"[a-z0-9.-]{0,30}", fullmatch=True)))
def test_domain(value):
    targets.domain(value)


@NORMALISER
@given(value=st.one_of(TEXT, TEXT.map(lambda t: "#" + t), TEXT.map(lambda t: "＃" + t)))
def test_hashtag(value):
    targets.hashtag(value)


@NORMALISER
@given(value=TEXT)
def test_text(value):
    targets.text(value)


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT,
                      st.lists(TEXT, max_size=2))


def _vary(template):
    """A strategy of values like ``template``: every leaf either kept or replaced, every key
    of an object possibly missing."""
    if isinstance(template, dict):
        return st.fixed_dictionaries({}, optional={k: _vary(v) for k, v in template.items()})
    if isinstance(template, list):
        return st.lists(_vary(template[0]), max_size=3) if template else st.just([])
    return st.one_of(st.just(template), JSON_LEAF)


def _records(fmt: str):
    if fmt in targets.JSON_RECORDS:
        return _vary(targets.JSON_RECORDS[fmt])
    typical = targets.CSV_RECORDS.get(fmt, targets.SNAP_RECORD)
    value = (st.from_regex(r"[0-9A-Za-z]{0,12}", fullmatch=True) if fmt == "snap-higgs"
             else TEXT)
    return st.fixed_dictionaries({k: st.one_of(st.just(v), value) for k, v in typical.items()})


@pytest.mark.parametrize("fmt", targets.READERS)
def test_reader(fmt):
    """A file of the format with up to 5 records, some values hostile: ingested without an
    error, every record counted once."""
    @READER
    @given(records=st.lists(_records(fmt), min_size=1, max_size=5))
    def check(records):
        report = targets.read_file(fmt, targets.file_bytes(fmt, records))
        assert report is not None
        assert report.failed or report.totals["read"] == len(records), report

    check()


CORPUS = sorted((t.name, p) for t in targets.CORPUS.iterdir() for p in sorted(t.iterdir()))


def test_every_target_has_a_corpus():
    assert {name for name, _ in CORPUS} == set(targets.TARGETS)


@pytest.mark.parametrize("name, path", CORPUS, ids=[f"{n}/{p.name}" for n, p in CORPUS])
def test_corpus(name, path):
    """The stored corpus (seeds and the inputs the long runs kept) through its target."""
    targets.run_input(name, path.read_bytes())
