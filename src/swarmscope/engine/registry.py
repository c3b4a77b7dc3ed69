"""The engines by name: ``pairs`` and ``detect`` look their engine up here."""

from __future__ import annotations

from swarmscope.engine import Engine
from swarmscope.engine.duckdb import DuckDBEngine
from swarmscope.errors import SwarmscopeError
from swarmscope.store.backend import Backend

ENGINES = {"duckdb": DuckDBEngine}


def get_engine(name: str, db: Backend) -> Engine:
    """The engine ``name`` on the backend ``db``."""
    if name not in ENGINES:
        raise SwarmscopeError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    return ENGINES[name](db)
