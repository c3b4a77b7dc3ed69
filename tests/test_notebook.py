"""docs/notebook.md runs as written, and gives what it says: two kept runs, their tables as
pandas and Arrow, read-only queries, explain, report and export through the top-level API."""

from __future__ import annotations

import re

import pyarrow as pa

from conftest import ROOT


def test_the_notebook_page_runs_as_written(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "notebook.md").read_text(encoding="utf-8")
    cells = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(cells) == 2
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for cell in cells:
        exec(compile(cell, "docs/notebook.md", "exec"), ns)
    first, second = ns["first"], ns["second"]
    assert (first.run_id, second.run_id) == (2, 3)
    assert second.p_cut < first.p_cut and 0 < second.flagged <= first.flagged
    accounts = ns["accounts"]
    assert set(accounts["run_id"]) == {2}
    assert len(accounts) == first.accounts and accounts["flagged"].sum() == first.flagged
    assert list(accounts["score"]) == sorted(accounts["score"], reverse=True)
    assert isinstance(ns["edges"], pa.Table) and ns["edges"].num_rows == first.edges
    assert ns["why"]["run"] == 2 and ns["why"]["account"]["flagged"]
    assert len(ns["clusters"]) == first.clusters
    assert (tmp_path / "case.html").stat().st_size > 0
    assert (tmp_path / "case.gexf").read_text().count("<node ") <= second.flagged
