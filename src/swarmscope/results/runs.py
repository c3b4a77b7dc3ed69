"""The runs of a store (``swarmscope runs``) and the tables of one kept detect run, as Arrow
tables or pandas DataFrames (:class:`RunTables`).

Example::

    import swarmscope
    with swarmscope.Store("case.duckdb", read_only=True) as store:
        tables = swarmscope.RunTables(store)          # the latest detect run; run=N for another
        accounts = tables.df("accounts")              # pandas (pip install 'swarmscope[pandas]')
        edges = tables.arrow("edges")                 # a pyarrow.Table
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa

from swarmscope.errors import SwarmscopeError
from swarmscope.store import Store, runs, to_pandas
from swarmscope.store.schema import DETECT
from swarmscope.store.sql import shown_time

_BY_NAME = {**{t.file: t for t in DETECT}, **{t.name: t for t in DETECT}}


class RunTables:
    """The tables of one kept detect run (default: the latest), each read whole when asked:
    no result is left open on the store's connection, so the next query works, and the tables
    stay the run's whatever run the ``detect_*`` names are bound to later."""

    def __init__(self, store: Store, run: int | None = None) -> None:
        self.store = store
        self.run_id, self.schema = store.kept_run(run)
        self._cache: dict[str, pa.Table] = {}

    @property
    def names(self) -> list[str]:
        """The tables this run holds, by the name of their ``detect --out`` file."""
        held = set(self._query(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND starts_with(table_name, 'detect_')",
            [self.schema]).column(0).to_pylist())
        return [t.file for t in DETECT if t.name in held] + sorted(
            n.removeprefix("detect_") for n in held - {t.name for t in DETECT})

    def arrow(self, name: str) -> pa.Table:
        """The table ``name`` (``accounts``, ``edges``, ``clusters``, ``evidence``, … or
        ``detect_accounts``) as a :class:`pyarrow.Table`, in its documented order."""
        if name not in self._cache:
            table = _BY_NAME.get(name) or _BY_NAME.get(f"detect_{name}")
            full = table.name if table else (name if name.startswith("detect_")
                                             else f"detect_{name}")
            if (table.file if table else full.removeprefix("detect_")) not in self.names:
                raise SwarmscopeError(f"run {self.run_id} has no table {name!r}: it holds "
                                      f"{', '.join(self.names)}")
            order = f" ORDER BY {table.order}" if table else ""
            self._cache[name] = self._query(f'SELECT * FROM "{self.schema}".{full}{order}')
        return self._cache[name]

    def df(self, name: str) -> Any:
        """The table ``name`` as a pandas DataFrame (needs pandas: ``pip install
        'swarmscope[pandas]'``)."""
        return to_pandas(self.arrow(name))

    def _query(self, sql: str, params: list | None = None) -> pa.Table:
        try:
            return self.store.db.to_arrow(sql, params)
        except duckdb.ConnectionException:
            raise SwarmscopeError(
                f"the store {self.store.path} is closed: open it again and read run "
                f"{self.run_id} with swarmscope.RunTables(store, run={self.run_id})") from None


def list_runs(store: Store) -> list[dict]:
    """Every run of the store, oldest first: its command, status, times, parameters and
    summary; for detect runs whether its results are kept and whether the ``detect_*`` names
    show them."""
    kept = runs.kept_runs(store.con)
    rows = store.db.to_arrow(f"""
        SELECT run_id, command, status, version, {shown_time('started_at')} AS started_at,
               {shown_time('finished_at')} AS finished_at, parameters, summary, inputs
        FROM runs ORDER BY run_id""").to_pylist()
    for r in rows:
        r["parameters"] = json.loads(r["parameters"]) if r["parameters"] else {}
        r["summary"] = json.loads(r["summary"]) if r["summary"] else {}
        r["kept"] = r["run_id"] in kept
        r["shown"] = r["run_id"] == store.run
    return rows


def describe(run: dict) -> tuple[str, str]:
    """A run's parameters and outcome in a few words each."""
    p, s = run["parameters"], run["summary"]
    if run["command"] == "detect":
        windows = "; ".join(f"{k} {','.join(f'{w:g}' for w in ws)} s"
                            for k, ws in p.get("windows", {}).items())
        extra = [f"{k} {p[k]}" for k in ("since", "until") if p.get(k)]
        if p.get("permutations"):
            extra.append(f"{p['permutations']} permutations")
        params = f"fdr {p.get('fdr')}, seed {p.get('seed')}; {windows}" + "".join(
            f"; {e}" for e in extra)
        outcome = (f"{s['flagged']:,} of {s['accounts']:,} accounts flagged, "
                   f"{s['clusters']:,} clusters" if "flagged" in s else s.get("error", ""))
    elif run["command"] == "ingest":
        files = [i["path"] for i in run["inputs"] or []] or p.get("paths", [])
        params = f"{len(files)} file{'s' * (len(files) != 1)}: " + ", ".join(files[:3]) + (
            ", …" if len(files) > 3 else "")
        outcome = (f"stored {s['stored']:,} of {s['read']:,} read" if "stored" in s
                   else s.get("error", ""))
    else:
        params = ", ".join(f"{k} {v}" for k, v in p.items() if v not in (None, {}, []))
        outcome = ", ".join(f"{k} {v:,}" for k, v in s.items() if isinstance(v, int))
    return params, outcome
