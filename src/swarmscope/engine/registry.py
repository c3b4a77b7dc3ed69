"""The engines by name: ``pairs`` and ``detect`` look their engine up here.

One engine, :class:`~swarmscope.engine.sql.SQLEngine`, runs on every backend; its name is its
backend's, and asking for one engine on another's backend is an error, not a silent switch.
"""

from __future__ import annotations

from swarmscope.engine import Engine
from swarmscope.engine.sql import SQLEngine
from swarmscope.errors import SwarmscopeError
from swarmscope.store.backend import Backend

ENGINES = ("duckdb", "spark")


def get_engine(name: str, db: Backend) -> Engine:
    """The engine ``name`` on the backend ``db``."""
    if name not in ENGINES:
        raise SwarmscopeError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    if name != db.name:
        raise SwarmscopeError(f"the {name} engine runs on a {name} backend, and this one is "
                              f"{db.name}: for Spark, run detect --engine spark --input PATH")
    return SQLEngine(db)
