"""``report``: one self-contained, offline HTML file of the latest detection, and its PDF.

Everything is inlined (the page's own script and style, from this package; no library, no CDN,
no network), and a Content-Security-Policy with the hashes of exactly that script and style
keeps anything else from running. The data travel as JSON in a non-executable ``<script
type="application/json">`` block with ``<``, ``>`` and ``&`` escaped, and the page writes every
value with ``textContent``: post texts, names and handles are written by the adversary and stay
inert (bidirectional-override characters are shown as ``[U+202E]``, never applied). The only
links are to the platform's own address of a post, built from a numeric post id.

What the page shows is read in :mod:`~swarmscope.report.data`, its sentences made in
:mod:`~swarmscope.report.wording`, its evidence chosen in :mod:`~swarmscope.report.evidence`;
:mod:`~swarmscope.report.pdf` prints it with headless chromium.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from datetime import datetime
from importlib import resources
from pathlib import Path

from swarmscope.outputs import atomic_write, check_output
from swarmscope.report.data import report_data
from swarmscope.store import Store

PLACEHOLDER = re.compile(r"\{\{(CSP|STYLE|DATA|SCRIPT|TITLE)\}\}")


def build_report(store: Store, out: str | Path, *, key: bytes | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 title: str | None = None, pdf: str | Path | None = None,
                 run: int | None = None) -> Path:
    """Write the report of detect run ``run`` (default: the one the store shows, the latest
    unless :meth:`Store.use_run` chose another) to ``out`` (and with ``pdf``, the same page
    printed to that PDF file); returns the HTML file's path."""
    out = check_output(out)
    pdf_path = check_output(pdf) if pdf else None
    page = render(report_data(store, key=key, since=since, until=until, title=title, run=run))
    with atomic_write(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    if pdf_path:
        from swarmscope.report.pdf import print_pdf
        print_pdf(out, pdf_path)
    return out


def render(data: dict) -> str:
    """The HTML page: template + inlined style and script + the data, under a hash-based CSP."""
    files = resources.files("swarmscope.report")
    script = (files / "report.js").read_text(encoding="utf-8")
    style = (files / "report.css").read_text(encoding="utf-8")
    template = (files / "template.html").read_text(encoding="utf-8")
    payload = (json.dumps(data, ensure_ascii=True, default=str, separators=(",", ":"))
               .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    csp = (f"default-src 'none'; script-src '{_sha256(script)}'; style-src '{_sha256(style)}'; "
           "img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")
    parts = {"CSP": csp, "STYLE": style, "DATA": payload, "SCRIPT": script,
             "TITLE": html.escape(str(data["title"]))}
    # one pass over the template alone: a marker inside the data or the script is never
    # substituted (a post reading {{SCRIPT}} stays text)
    return PLACEHOLDER.sub(lambda m: parts[m[1]], template)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
