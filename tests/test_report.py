"""The HTML report in a real browser (Debian's chromium driven by Playwright): it opens from disk
with the network off, logs no error, draws the network, opens cards, finds accounts, and shows
the adversary's text as text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import planted_store, run

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOADS = ["<script>window.__pwned = 1; alert(1)</script>",
            '"><img src=x onerror="window.__pwned = 2; alert(2)">',
            "javascript:alert(3)", "\u202egnp.exe"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing (make test installs it)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A planted group whose posts and handles carry XSS payloads, detected and reported."""
    tmp = tmp_path_factory.mktemp("report")
    db = planted_store(tmp, 6, [
        ("UPDATE posts SET text = ? WHERE account_id LIKE 'g%'", [" | ".join(PAYLOADS)]),
        ("UPDATE accounts SET handle = ? WHERE account_id = 'g4'", ['<img src=x onerror="alert(4)">'])])
    path = tmp / "report.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    return db, path


def _open(browser, path: Path):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    problems = {"errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and problems["errors"].append(m.text))
    page.on("pageerror", lambda e: problems["errors"].append(str(e)))
    page.on("dialog", lambda d: (problems["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: r.url.startswith("file:") or problems["requests"].append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.swarmscope !== undefined")
    return context, page, problems


def test_report_opens_offline_and_draws_the_network(browser, report):
    _, path = report
    html = path.read_text()
    outside_data = re.sub(r'<script id="data".*?</script>', "", html, flags=re.S)
    assert not re.search(r"\b(src|href)\s*=", outside_data)  # nothing to fetch, ever
    context, page, problems = _open(browser, path)
    painted = page.evaluate("""() => {
        const c = document.getElementById('network');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n; }""")
    assert painted > 500
    assert problems == {"errors": [], "dialogs": [], "requests": []}
    context.close()


def test_clicking_a_node_opens_its_card_and_search_finds_an_account(browser, report):
    context, page, problems = _open(browser, report[1])
    page.evaluate("() => document.getElementById('network').scrollIntoView({block: 'center'})")
    pos = page.evaluate("() => window.swarmscope.nodeScreenPosition('g1')")
    page.mouse.click(pos["x"], pos["y"])
    assert page.locator("#card").is_visible()
    assert "g1" in page.locator("#card-title").text_content()
    page.fill("#search", "g7")
    page.press("#search", "Enter")
    assert "g7" in page.locator("#card-title").text_content()
    page.fill("#search", "nobody-at-all")
    page.press("#search", "Enter")
    assert "no flagged account" in page.locator("#search-status").text_content()
    assert problems["errors"] == []
    context.close()


def test_the_adversarys_text_is_inert(browser, report):
    context, page, problems = _open(browser, report[1])
    page.locator("details.cluster summary").first.click()
    text = page.locator("#clusters").text_content()
    for payload in PAYLOADS[:3]:
        assert payload in text
    assert "[U+202E]gnp.exe" in text and "\u202e" not in text
    page.fill("#search", "g4")
    page.press("#search", "Enter")
    assert '<img src=x onerror="alert(4)">' in page.locator("#card-title").text_content()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img").count() == 0 and page.locator("script").count() == 2
    assert page.locator("a").count() == 0
    assert problems["dialogs"] == [] and problems["errors"] == []
    context.close()


def test_pseudonymized_report_hides_ids_and_the_key(report, tmp_path):
    db, _ = report
    key = tmp_path / "key.txt"
    key.write_text("another-secret-key-123")
    out = tmp_path / "p.html"
    assert run("report", "--out", out, "--pseudonymize", "--key-file", key, db=db).exit_code == 0
    html = out.read_text()
    assert "another-secret-key" not in html and "acct_" in html
    assert not re.search(r'"id":"g\d"', html) and '"handle":null' in html


def test_template_markers_and_a_time_before_year_1_in_the_data_render(browser, tmp_path):
    """Texts and a handle reading {{SCRIPT}}, {{DATA}}, …, and a member's post dated 4 BC: the
    page renders, with the markers shown as text and no error."""
    markers = "{{SCRIPT}} {{DATA}} {{STYLE}} {{CSP}}"
    db = planted_store(tmp_path, 6, [
        ("UPDATE posts SET text = ? WHERE account_id LIKE 'g%'", [markers]),
        ("UPDATE accounts SET handle = '{{SCRIPT}}' WHERE account_id = 'g3'", []),
        ("UPDATE posts SET created_at = make_timestamp(-62235000000 * 1000000) WHERE post_id = ("
         "SELECT min(post_id) FROM posts WHERE account_id = 'g0')", [])])
    path = tmp_path / "report.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    context, page, problems = _open(browser, path)
    page.locator("details.cluster summary").first.click()
    assert markers in page.locator("#clusters").text_content()
    page.fill("#search", "g3")
    page.press("#search", "Enter")
    assert "{{SCRIPT}}" in page.locator("#card-title").text_content()
    assert problems == {"errors": [], "dialogs": [], "requests": []}
    context.close()
