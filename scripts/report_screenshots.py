"""Screenshots of a report in Debian's chromium, for docs/ (``docs/report-*.png``).

    .venv/bin/python scripts/report_screenshots.py REPORT.html OUT_DIR [--prefix report]
        [--cluster N] [--height PX]

Writes PREFIX-first-screen.png (what opens), PREFIX-network.png, PREFIX-timeline.png,
PREFIX-cluster.png (cluster N's card opened, by default the first) and PREFIX-account.png (the
first account's card), 1280 px wide, the cards cut at --height.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def top(page, locator, path: Path, height: int = 1500) -> None:
    """A screenshot of the element's first ``height`` pixels."""
    page.evaluate("() => { document.querySelector('header').style.position = 'static'; }")
    box = locator.bounding_box()
    scroll = page.evaluate("() => [window.scrollX, window.scrollY]")
    page.screenshot(path=str(path), full_page=True, clip={
        "x": box["x"] + scroll[0], "y": box["y"] + scroll[1], "width": box["width"],
        "height": min(box["height"], height)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--prefix", default="report")
    ap.add_argument("--cluster", type=int, help="the cluster card to show (default: the first)")
    ap.add_argument("--height", type=int, default=1500, help="where the cards are cut (px)")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    shot = lambda name: args.out_dir / f"{args.prefix}-{name}.png"  # noqa: E731
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_context(offline=True, viewport={"width": 1280, "height": 900}).new_page()
        page.goto(args.report.resolve().as_uri())
        page.wait_for_function("() => window.swarmscope !== undefined")
        page.screenshot(path=str(shot("first-screen")))
        for section in ("network", "timeline"):
            page.locator(f"#{section}-section").scroll_into_view_if_needed()
            page.locator(f"#{section}-section").screenshot(path=str(shot(section)))
        cluster = (page.locator(f"#cluster-{args.cluster}") if args.cluster else
                   page.locator("details.cluster").first)
        if cluster.count():
            cluster.locator("summary").click()
            top(page, cluster, shot("cluster"), args.height)
        page.evaluate("() => window.swarmscope.openAccount(0)")
        top(page, page.locator("#card"), shot("account"), args.height)
        browser.close()


if __name__ == "__main__":
    main()
