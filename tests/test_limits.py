"""Bounded resources at ingest: the size parsers, the line scan of the checksum pass, and the
memory the checksum pass takes on a gzip bomb (the CLI cases are in tests/bad_inputs)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscope.errors import SwarmscopeError, UnusableInputError
from swarmscope.ingest.sources import (MIN_DECOMPRESSED, Overlong, _bounded_lines, _scan_lines,
                                       decompressed_limit, fingerprint)
from swarmscope.params import parse_size
from tests.bad_inputs import generate


def test_sizes_and_ratios():
    assert parse_size("64MB") == 64_000_000 and parse_size("1GiB") == 1 << 30
    assert parse_size(12) == 12
    assert decompressed_limit("50MB", 10) == 50_000_000
    assert decompressed_limit("100x", 10) == MIN_DECOMPRESSED       # a ratio allows 1 GiB
    assert decompressed_limit("100x", 50 << 20) == 100 * (50 << 20)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=12), st.integers(1, 30), st.integers(1, 50),
       st.booleans())
def test_line_scan_agrees_with_the_line_reader(lengths, limit, block, final_newline):
    """The checksum pass's verdict (any line longer than the limit, over blocks of any size)
    is what the line reader of the staging pass finds."""
    text = "\n".join("a" * n for n in lengths) + ("\n" if final_newline else "")
    data = text.encode()
    blocks = [data[i:i + block] for i in range(0, len(data), block)]
    total, overlong = _scan_lines(iter(blocks), limit)
    lines = list(_bounded_lines(io.StringIO(text, newline=""), limit))
    assert total == len(data)
    assert overlong == any(isinstance(x, Overlong) for x in lines)
    assert len(lines) == text.count("\n") + (not text.endswith("\n") and text != "")


def test_checksum_pass_of_a_bomb_stays_small(tmp_path: Path):
    generate.jsonl_gzip_bomb(tmp_path)      # 200 MB from about 200 KB
    bomb = tmp_path / "bomb.jsonl.gz"
    tracemalloc.start()
    f = fingerprint(bomb, "1GB")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert f.size == bomb.stat().st_size and not f.overlong
    assert peak < 8 << 20, peak
    with pytest.raises(UnusableInputError, match="--max-decompressed"):
        fingerprint(bomb, "50MB")


def test_limits_are_checked_by_the_library(tmp_path: Path):
    from swarmscope import Store
    from swarmscope.ingest import ingest
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(SwarmscopeError, match="'max_record_bytes' parameter of ingest"):
            ingest(store, [tmp_path], max_record_bytes=-1)
        with pytest.raises(SwarmscopeError, match="'max_decompressed' parameter of ingest"):
            ingest(store, [tmp_path], max_decompressed="ten")
