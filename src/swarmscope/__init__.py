"""swarmscope: expose coordinated inauthentic behaviour on social media, with evidence.

The library is usable from a notebook::

    import swarmscope
    with swarmscope.Store("case.duckdb") as store:
        report = swarmscope.ingest(store, ["tweets.csv"])
        print(report.files[0].stored)
"""

__version__ = "0.1.0"

from swarmscope.errors import SwarmscopeError  # noqa: E402
from swarmscope.store import Settings, Store  # noqa: E402
from swarmscope.ingest import FORMATS, IngestReport, ingest  # noqa: E402
from swarmscope.results.info import store_info  # noqa: E402
from swarmscope.engine.pairs import pairs  # noqa: E402

__all__ = ["FORMATS", "IngestReport", "Settings", "Store", "SwarmscopeError", "__version__",
           "ingest", "pairs", "store_info"]
