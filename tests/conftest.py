"""Shared fixtures: the real data in ../shared/data, fresh stores, and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmscope import Store
from swarmscope.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWARMSCOPE_SHARED_DATA", ROOT.parent / "shared" / "data"))
HANDMADE = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data; tests that need it skip when it is absent, except under CI."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared real data is missing at {SHARED}")
        pytest.skip(f"real data not found at {SHARED} (set SWARMSCOPE_SHARED_DATA)")
    return SHARED


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def store(db: Path):
    with Store(db) as s:
        yield s


def run(*args: str, db: Path | None = None):
    """Run the real CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    argv = (["--db", str(db)] if db else []) + [str(a) for a in args]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)
