"""The HTML report in a real browser (Debian's chromium driven by Playwright): it opens from disk
with the network off, logs no error, puts the case summary first, draws the network with its
legend, the timeline with axes, opens cards with their evidence, finds any account of the store,
prints every card, writes the same content to PDF, and shows the adversary's text as text.

Most tests read one real case: the bundled IRA week (whole, with its note that its times are
shifted) inside the first 30,000 records of the real Higgs week, detected with the defaults."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest

from conftest import demo_slice, planted_store, run, synthetic
from swarmscope import Store, ingest
from swarmscope.detection.evidence import detect_evidence
from swarmscope.pipeline import DetectParams, detect
from swarmscope.report import evidence, wording
from swarmscope.report.data import layout, report_data

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOADS = ["<script>window.__pwned = 1; alert(1)</script>",
            '"><img src=x onerror="window.__pwned = 2; alert(2)">',
            "javascript:alert(3)", "\u202egnp.exe"]
TITLE = "Case 12: <b>trolls</b> & the Higgs week"


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
def case(tmp_path_factory):
    """The real case (see the module's docstring), ingested, detected and reported to HTML."""
    tmp = tmp_path_factory.mktemp("case")
    db = tmp / "case.duckdb"
    files = demo_slice(tmp, (None, 30_000))
    assert run("ingest", *files, db=db).exit_code == 0
    assert run("--memory-limit", "2GB", "detect", db=db).exit_code == 0
    path = tmp / "report.html"
    result = run("report", "--title", TITLE, "--out", path, db=db)
    assert result.exit_code == 0, result.output
    with Store(db, read_only=True) as store:
        data = report_data(store, title=TITLE)
    return db, path, data, files


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A planted group whose posts and handles carry XSS payloads, detected and reported."""
    tmp = tmp_path_factory.mktemp("report")
    db = planted_store(tmp, 6, [
        ("UPDATE posts SET text = ? WHERE account_id LIKE 'g%'", [" | ".join(PAYLOADS)]),
        ("UPDATE accounts SET handle = ? WHERE account_id = 'g4'", ['<img src=x onerror="alert(4)">'])])
    path = tmp / "report.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    return db, path


def _open(browser, path: Path, media: str = "screen"):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.emulate_media(media=media)
    problems = {"errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and problems["errors"].append(m.text))
    page.on("pageerror", lambda e: problems["errors"].append(str(e)))
    page.on("dialog", lambda d: (problems["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: r.url.startswith("file:") or problems["requests"].append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.swarmscope !== undefined")
    return context, page, problems


def _painted(page) -> int:
    return page.evaluate("""() => {
        const c = document.getElementById('network');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n; }""")


# -- summary first -------------------------------------------------------------------------------

def test_the_summary_comes_first_with_title_inputs_notes_findings_and_ranked_accounts(
        browser, case):
    db, path, data, files = case
    html = path.read_text()
    assert "<title>Case 12: &lt;b&gt;trolls&lt;/b&gt; &amp; the Higgs week</title>" in html
    context, page, problems = _open(browser, path)
    assert page.locator("h1").text_content() == TITLE
    order = page.evaluate("() => [...document.querySelectorAll('main > section')].map(s => s.id)")
    assert order.index("summary") < order.index("accounts-section") < order.index(
        "network-section") < order.index("clusters-section") < order.index("methods")
    # the inputs: every file with its format, counts and SHA-256; the shifted IRA file noted
    inputs = page.locator("#inputs").text_content()
    for f in files:
        assert hashlib.sha256(f.read_bytes()).hexdigest() in inputs
    assert "fivethirtyeight-ira" in inputs and "snap-higgs" in inputs and "21,964" in inputs
    notes = page.locator("#notes").text_content()
    assert "Times shifted" in notes and "1,227 whole days" in notes
    assert "higgs_activity.parquet: Bundled" not in notes  # the slice is not the bundled file
    # what a flag means, and what it does not
    headline = page.locator("#headline").text_content()
    assert "chance alone" in headline and "does not mean that 99%" in headline
    assert "organic retweet cascades" in headline and "followers of one account" in headline
    findings = page.locator("#findings li")
    assert findings.count() >= 3 and "Cluster" in findings.first.text_content()
    assert page.locator("#findings").text_content().count("%–") >= 1  # trend shares: intervals
    # the ranked accounts, highest score first, open to their card
    first = page.locator("details.account").first
    best = max(data["nodes"], key=lambda n: n["score"])
    assert best["id"] in first.locator("summary").text_content()
    first.locator("summary").click()
    # the card is drawn on the toggle event, which fires after the click returns
    from playwright.sync_api import expect
    expect(first).to_contain_text("Its evidence")
    assert "q" in first.text_content()
    assert problems == {"errors": [], "dialogs": [], "requests": []}
    context.close()


def test_a_bundled_file_is_noted_only_with_its_own_bytes(tmp_path):
    from swarmscope.report.data import _bundled_note
    ira = demo_slice(tmp_path, (None, None))[0]
    sha = hashlib.sha256(ira.read_bytes()).hexdigest()
    assert "Times shifted" in _bundled_note(str(ira), sha)
    assert _bundled_note(str(ira), "0" * 64) is None
    assert _bundled_note("elsewhere/other.parquet", sha) is None


# -- saying no more than the evidence ----------------------------------------------------------

def test_wording_keeps_labels_within_their_evidence(case):
    _, _, data, _ = case
    weak = {"zone": 10, "rhythm": "office", "fit": 0.41, "claimed": 3, "mismatch": True,
            "mismatch_strength": 0.6, "coverage_hours": 7, "shifts": False, "handoffs": 0,
            "days": 5, "segments": []}
    sentence = wording.zone_sentence(weak, "dataset")
    assert sentence.startswith("No clear working zone") and "fit r = 0.41" in sentence
    assert "not the accounts' own statement" in sentence and "posing" not in sentence
    unknown = wording.zone_sentence({**weak, "fit": 0.7}, "unknown")
    assert "not recorded" in unknown and "posing" not in unknown
    stated = wording.zone_sentence({**weak, "fit": 0.7}, "profile")
    assert stated.startswith("Its activity fits office hours at UTC+10 (fit r = 0.70)")
    assert "profiles most often state a place at UTC+3" in stated
    # the case's own operations: the IRA file's locations are its region column
    rhythms = [c["rhythm"]["sentence"] for c in data["clusters"] if c["rhythm"]]
    assert rhythms and all("claim" not in s and "mismatch" not in s for s in rhythms)
    assert all("region column" in s for s in rhythms if "location field" in s)
    # a burst of attention accuses nobody
    text = " ".join(f["text"] for f in data["findings"] if f["kind"] == "attention")
    assert "attack" not in text.lower() and (not text or "not accused" in text)
    lo, hi = wording.wilson(80, 100)
    assert round(lo, 3) == 0.711 and round(hi, 3) == 0.867   # Wilson 1927, 80 of 100


# -- evidence ----------------------------------------------------------------------------------

def test_cluster_evidence_is_drawn_from_many_pairs_and_kinds_without_repeats(case):
    db, _, data, _ = case
    for c in data["clusters"]:
        rows = c["evidence"]
        assert len(rows) == min(evidence.PER_CLUSTER, len(rows)) > 0
        assert len({(e["a"], e["b"], e["kind"]) for e in rows}) == len(rows)
        assert len({tuple(sorted((e["post_a"], e["post_b"]))) for e in rows}) == len(rows)
        for kind in {e["kind"] for e in rows}:
            ps = [e["p"] for e in rows if e["kind"] == kind]
            assert ps[0] == min(ps)   # each kind's strongest pair first
    big = [c for c in data["clusters"] if c["size"] >= 20]
    assert big and all(len(c["evidence"]) == evidence.PER_CLUSTER for c in big)
    assert all(len({(e["a"], e["b"]) for e in c["evidence"]}) >= 6 for c in big)
    kinds = {e["kind"] for c in data["clusters"] for e in c["evidence"]}
    assert {"repost", "sync", "similar_text"} <= kinds
    # objects as what they are: no object hash is shown
    shown = [e["object"] for c in data["clusters"] for e in c["evidence"]]
    assert all(not (o["value"] or "").startswith("text:") for o in shown)
    with Store(db, read_only=True) as store:
        hashed = store.db.scalar(f"SELECT count(*) FROM ({detect_evidence()}) v "
                                 "WHERE object LIKE 'text:%'")
    assert hashed > 0   # the store holds them, the page does not
    # the account cards carry their own evidence, each row naming the account
    flagged = [n for n in data["nodes"] if n["evidence"]]
    assert len(flagged) > 0.9 * len(data["nodes"])
    assert all(n["id"] in (e["a"], e["b"]) for n in flagged for e in n["evidence"])


def test_near_duplicate_texts_are_side_by_side_with_the_differences_marked(browser, case):
    _, path, data, _ = case
    cid = next(c["id"] for c in data["clusters"] for e in c["evidence"]
               if e["kind"] == "similar_text" and e["text_a"] != e["text_b"])
    context, page, problems = _open(browser, path)
    page.locator(f"#cluster-{cid} summary").click()
    marks = page.locator(f"#cluster-{cid} mark")
    assert marks.count() >= 2
    row = marks.first.locator("xpath=ancestor::tr")
    posts = row.locator(".post")
    assert posts.count() == 2 and posts.nth(0).text_content() != posts.nth(1).text_content()
    # what is marked is what differs: the rest of the two texts is the same
    unmarked = [posts.nth(i).evaluate("e => [...e.childNodes].filter(n => n.nodeName !== 'MARK')"
                                      ".map(n => n.textContent).join('').split(/\\s+/)"
                                      ".filter(Boolean)") for i in (0, 1)]
    assert unmarked[0] == unmarked[1]
    assert problems["errors"] == []
    context.close()


def test_links_go_only_to_the_platforms_address_of_a_numeric_post(browser, tmp_path):
    db = planted_store(tmp_path, 6, [("UPDATE posts SET post_id = CAST(90000000 + post_key AS "
                                      "VARCHAR)", [])])
    with Store(db, read_only=True) as store:
        platform = store.db.scalar("SELECT any_value(platform) FROM posts")
    path = tmp_path / "r.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    context, page, _ = _open(browser, path)
    page.locator("details.cluster summary").first.click()
    hrefs = page.evaluate("() => [...document.querySelectorAll('a')].map(a => [a.href, a.rel])")
    assert platform == "twitter"   # the coordination-network-toolkit layout's platform
    assert hrefs and all(re.fullmatch(r"https://twitter\.com/i/web/status/9\d{7}", h)
                         and r == "noopener noreferrer" for h, r in hrefs)
    context.close()
    key = tmp_path / "key.txt"
    key.write_text("a-secret-key-for-links")
    assert run("report", "--out", path, "--pseudonymize", "--key-file", key, db=db).exit_code == 0
    assert "twitter.com" not in path.read_text()


# -- pictures ----------------------------------------------------------------------------------

def test_the_network_has_a_legend_labels_and_a_stable_layout(browser, case):
    db, path, data, _ = case
    context, page, problems = _open(browser, path)
    assert _painted(page) > 500
    legend = page.locator("#legend").text_content()
    for c in data["clusters"]:
        assert f"cluster {c['id']} ({c['size']})" in legend
    assert "in no cluster" in legend and "Dot size: score" in legend
    colours = page.evaluate("() => [...document.querySelectorAll('#legend .swatch')]"
                            ".map(s => s.style.background)")
    assert len(set(colours)) == len(colours) == len(data["clusters"]) + 1
    labelled = [n for n in data["nodes"] if n.get("label")]
    assert len(labelled) == min(20, len(data["clusters"]))
    assert len({n["cluster"] for n in labelled}) == len(labelled)
    page.locator("#legend button").first.click()   # a legend entry opens its cluster
    assert page.locator("details.cluster[open]").count() == 1
    assert problems["errors"] == []
    context.close()
    random.seed(12345)   # igraph draws from Python's random unless told otherwise
    with Store(db, read_only=True) as store:
        again = report_data(store, title=TITLE)
    assert [(n["x"], n["y"]) for n in again["nodes"]] == [(n["x"], n["y"]) for n in data["nodes"]]
    edges = [(a, b, w) for a, b, w in data["edges"]]
    assert (layout(len(data["nodes"]), edges) == layout(len(data["nodes"]), edges)).all()


def test_the_timeline_and_charts_have_axes_and_trend_bursts(browser, case):
    _, path, data, _ = case
    context, page, problems = _open(browser, path)
    assert page.locator("#timeline svg.chart").count() == 2   # on one scale; the clusters'
    chart = page.locator("#timeline svg.chart").first
    ticks = chart.locator("text.tick").all_text_contents()
    assert "2012-07-02" in ticks and "date (UTC)" in ticks and "posts per hour" in ticks
    assert chart.locator("path").count() == 2   # all posts, and the flagged clusters'
    assert chart.locator("rect.band").count() == min(8, len(data["trends"])) > 0
    labels = " ".join(chart.locator("text.band-label").all_text_contents())
    assert "#" + min(data["trends"][:8], key=lambda t: t["start_ms"])["value"] in labels
    page.locator("details.cluster summary").first.click()
    assert page.locator("details.cluster[open] svg.chart text.tick").count() > 5
    assert problems["errors"] == []
    context.close()


def test_no_flagged_account_shows_a_message_instead_of_an_empty_picture(browser, tmp_path):
    db = tmp_path / "quiet.duckdb"
    with Store(db) as store:
        ingest(store, [synthetic(tmp_path / "quiet.csv", seed=3, accounts=60, hours=12)])
        detect(store, DetectParams(windows={"repost": (60.0,)}))
    path = tmp_path / "r.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    context, page, problems = _open(browser, path)
    assert not page.locator("#network").is_visible()
    assert "No account was flagged" in page.locator("#network-empty").text_content()
    assert "No finding" in page.locator("#findings").text_content()
    assert problems["errors"] == []
    context.close()


# -- cards and search --------------------------------------------------------------------------

def test_clicking_a_node_opens_its_card_and_search_finds_every_account(browser, case):
    db, path, data, _ = case
    context, page, problems = _open(browser, path)
    node = data["nodes"][0]
    page.evaluate("() => document.getElementById('network').scrollIntoView({block: 'center'})")
    pos = page.evaluate(f"() => window.swarmscope.nodeScreenPosition({json.dumps(node['id'])})")
    page.mouse.click(pos["x"], pos["y"])
    assert page.locator("#card").is_visible()
    card = page.locator("#card").text_content()
    assert node["id"] in card and "flagged" in card and "Working hours" in card
    assert f"{node['p']:.1e}" in card and "Its evidence" in card
    # an account detect did not flag is found too
    with Store(db, read_only=True) as store:
        quiet, posts = store.db.query("SELECT account_id, posts FROM detect_accounts "
                                      "WHERE NOT flagged ORDER BY posts DESC, account_id "
                                      "LIMIT 1")[0]
    page.fill("#search", quiet)
    page.press("#search", "Enter")
    assert "not flagged" in page.locator("#search-status").text_content()
    assert quiet in page.locator("#card-title").text_content()
    assert f"{posts:,}" in page.locator("#card-body").text_content()
    page.fill("#search", "nobody-at-all")
    page.press("#search", "Enter")
    assert "no account in the store" in page.locator("#search-status").text_content()
    assert problems["errors"] == []
    context.close()


# -- print and PDF -----------------------------------------------------------------------------

def test_printing_shows_every_card(browser, case):
    _, path, data, _ = case
    context, page, problems = _open(browser, path, media="print")
    closed = page.locator("details.cluster").last
    assert not closed.evaluate("d => d.open")
    assert closed.locator("table").first.is_visible()   # the print style shows closed cards
    assert not page.locator("#search").is_visible()
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("details:not([open])").count() == 0
    assert page.locator("details.account[open] table").count() > 0   # built when opened
    assert problems["errors"] == []
    context.close()


def test_report_pdf_writes_the_same_content(case, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    db, _, data, _ = case
    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    result = run("report", "--title", "Case 12", "--out", out, "--pdf", pdf, db=db)
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(pdf).pages)
    text = text.replace("\ufb01", "fi").replace("\ufb02", "fl")
    assert "Case 12" in text and "Times shifted" in text and "Methods and limits" in text
    for c in data["clusters"]:   # every cluster card, open, with its evidence
        assert f"Cluster {c['id']}:" in text
    assert text.count("Strongest evidence") == len(data["clusters"])
    assert text.count("Its evidence") >= 50   # the ranked accounts' cards


def test_report_pdf_without_chromium_is_a_clear_error(case, tmp_path, monkeypatch):
    db = case[0]
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run("report", "--out", tmp_path / "r.html", "--pdf", tmp_path / "r.pdf", db=db)
    assert result.exit_code == 1
    assert "Error: --pdf prints the report with chromium" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r.pdf").exists()


# -- cluster traits, where detect computed them --------------------------------------------------

def test_cluster_traits_and_ranking_are_shown_when_computed(browser, tmp_path, case):
    """A store whose detect wrote the traits table and the ranking columns of the contract
    (refilled here from the case's own clusters) shows them, ordered by evidence strength."""
    import shutil
    db = Path(shutil.copy(case[0], tmp_path / "traits.duckdb"))
    with Store(db) as store:
        con = store.con
        con.execute("""CREATE OR REPLACE TABLE detect_cluster_traits AS
            SELECT d.run_id, d.cluster_id, 'operator' AS family, 'identical_texts' AS trait,
                   count(*) / 2.0 AS value, 0.1 AS baseline, 1e-6 AS p_value,
                   count(*) AS members, list(d.account_id ORDER BY d.account_id)[1:20] AS accounts,
                   count(*) || ' members post texts another member posted' AS detail
            FROM detect_accounts d WHERE d.cluster_id IS NOT NULL GROUP BY ALL""")
        con.execute("ALTER TABLE detect_clusters ADD COLUMN IF NOT EXISTS assessment VARCHAR")
        con.execute("ALTER TABLE detect_clusters ADD COLUMN IF NOT EXISTS evidence_strength "
                    "DOUBLE")
        con.execute("UPDATE detect_clusters SET assessment = CASE WHEN cluster_id % 2 = 0 "
                    "THEN 'operated' ELSE 'organic-like' END, evidence_strength = cluster_id")
    path = tmp_path / "r.html"
    assert run("report", "--out", path, db=db).exit_code == 0
    context, page, problems = _open(browser, path)
    ids = page.evaluate("() => [...document.querySelectorAll('details.cluster')].map(d => d.id)")
    n = len(case[2]["clusters"])
    assert ids == [f"cluster-{i}" for i in range(n, 0, -1)]   # strongest evidence first
    first = page.locator("details.cluster").first
    assert ("operated" if n % 2 == 0 else "organic-like") in first.locator("summary").text_content()
    first.locator("summary").click()
    assert "members post texts another member posted" in first.text_content()
    assert "Kind of coordination" in page.locator("#findings").text_content()
    assert "ranked by the strength" in page.locator("#findings-note").text_content()
    assert problems["errors"] == []
    context.close()


# -- hostile input -------------------------------------------------------------------------------

def test_report_opens_offline_and_the_adversarys_text_is_inert(browser, planted):
    _, path = planted
    html = path.read_text()
    outside_data = re.sub(r'<script id="data".*?</script>', "", html, flags=re.S)
    assert not re.search(r"\b(src|href)\s*=", outside_data)  # nothing to fetch, ever
    context, page, problems = _open(browser, path)
    assert _painted(page) > 500
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
    assert problems == {"errors": [], "dialogs": [], "requests": []}
    context.close()


def test_pseudonymized_report_hides_ids_and_the_key(planted, tmp_path):
    db, _ = planted
    key = tmp_path / "key.txt"
    key.write_text("another-secret-key-123")
    out = tmp_path / "p.html"
    assert run("report", "--out", out, "--pseudonymize", "--key-file", key, db=db).exit_code == 0
    html = out.read_text()
    assert "another-secret-key" not in html and "acct_" in html
    assert not re.search(r'"id":"g\d"', html) and '"handle":null' in html
    assert str(db.parent) not in html and '"path":"planted.csv"' in html
    directory = json.loads(re.search(r'"directory":(\{.*?\})', html).group(1))
    assert directory["handles"] == "" and not re.search(r"(^|\n)u\d+(\n|$)", directory["ids"])


def test_template_markers_and_a_time_before_year_1_in_the_data_render(browser, tmp_path):
    """Texts and a handle reading {{SCRIPT}}, {{DATA}}, …, and a member's post dated 4 BC: the
    page renders, with the markers shown as text and no error."""
    markers = "{{SCRIPT}} {{DATA}} {{STYLE}} {{CSP}} {{TITLE}}"
    db = planted_store(tmp_path, 6, [
        ("UPDATE posts SET text = ? WHERE account_id LIKE 'g%'", [markers]),
        ("UPDATE accounts SET handle = '{{SCRIPT}}' WHERE account_id = 'g3'", []),
        ("UPDATE posts SET created_at = make_timestamp(-62235000000 * 1000000) WHERE post_id = ("
         "SELECT min(post_id) FROM posts WHERE account_id = 'g0')", [])])
    path = tmp_path / "report.html"
    assert run("report", "--title", "{{DATA}}", "--out", path, db=db).exit_code == 0
    context, page, problems = _open(browser, path)
    assert page.locator("h1").text_content() == "{{DATA}}"
    page.locator("details.cluster summary").first.click()
    assert markers in page.locator("#clusters").text_content()
    page.fill("#search", "g3")
    page.press("#search", "Enter")
    assert "{{SCRIPT}}" in page.locator("#card-title").text_content()
    assert problems == {"errors": [], "dialogs": [], "requests": []}
    context.close()
