"""swarmscope: expose coordinated inauthentic behaviour on social media, with evidence.

The library is usable from a notebook (docs/notebook.md runs this example and more)::

    import swarmscope
    with swarmscope.Store("case.duckdb") as store:
        report = swarmscope.ingest(store, ["tweets.csv"])
        result = swarmscope.detect(store)              # kept as run result.run_id
        accounts = result.tables.df("accounts")        # pandas: pip install 'swarmscope[pandas]'
        swarmscope.explain(store, "1234567890")["account"]["score"]
        swarmscope.report(store, "report.html")

Every ``detect`` run is kept; ``explain``, ``report``, ``export`` and ``evaluate`` read the
latest, or the one given as ``run=N`` (:meth:`Store.use_run`).
"""

__version__ = "0.1.0"

from swarmscope.errors import SwarmscopeError  # noqa: E402
from swarmscope.store import Settings, Store  # noqa: E402
from swarmscope.ingest import FORMATS, IngestReport, ingest  # noqa: E402
from swarmscope.results.info import store_info  # noqa: E402
from swarmscope.results.runs import RunTables  # noqa: E402
from swarmscope.engine.pairs import pairs  # noqa: E402
# the functions shadow their modules' names (import the modules with importlib)
from swarmscope.export import export  # noqa: E402
from swarmscope.report import build_report as report  # noqa: E402

#: What ``from swarmscope import …`` loads only when used (numpy, scipy, igraph).
_LAZY = {"detect": "swarmscope.pipeline", "DetectParams": "swarmscope.pipeline",
         "explain": "swarmscope.results.explain", "evaluate": "swarmscope.results.evaluate"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'swarmscope' has no attribute {name!r}")


__all__ = ["DetectParams", "FORMATS", "IngestReport", "RunTables", "Settings", "Store",
           "SwarmscopeError", "__version__", "detect", "evaluate", "explain", "export", "ingest",
           "pairs", "report", "store_info"]
