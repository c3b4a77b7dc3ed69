"""How long a report takes to open and redraw in Debian's chromium (offline), as JSON lines.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/report_load.py REPORT.html [--screenshot PNG]

Prints ``{"bench": "report_load", "bytes", "load_to_ready_s", "wheel_redraw_s", "nodes",
"edges", "errors"}``: seconds from navigation until the page's script has run, and for one
wheel-zoom redraw of the network.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path)
    ap.add_argument("--screenshot", type=Path)
    args = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_context(offline=True, viewport={"width": 1280, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        start = time.perf_counter()
        page.goto(args.report.resolve().as_uri())
        page.wait_for_function("() => window.swarmscope !== undefined")
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        page.evaluate("() => document.getElementById('network').dispatchEvent(new WheelEvent("
                      "'wheel', {deltaY: -200, clientX: 400, clientY: 400}))")
        redraw = time.perf_counter() - start
        counts = page.evaluate("() => [window.swarmscope.data.nodes.length, "
                               "window.swarmscope.data.edges.length]")
        if args.screenshot:
            page.screenshot(path=str(args.screenshot))
        browser.close()
    emit({"bench": "report_load", "bytes": args.report.stat().st_size,
          "load_to_ready_s": round(loaded, 3), "wheel_redraw_s": round(redraw, 3),
          "nodes": counts[0], "edges": counts[1], "errors": errors})


if __name__ == "__main__":
    main()
