"""The readers of Reddit, YouTube, CrowdTangle, the Meta Content Library and TikTok.

Reddit, YouTube and CrowdTangle are read on the real samples in
``../shared/data/platforms/`` (see each folder's README), in place; every expected value is
taken from the raw file here, with Python's own JSON and CSV readers. The Meta Content Library
and the TikTok Research API have no real sample anywhere public (the folder's README lists the
search): their tests read hand-made files in ``tests/data/`` built to the public field lists
(Meta's data dictionary; TikTok's Research API codebook and endpoint pages), so they check the
mapping of the documented schema, not that real exports look so.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from swarmscope import Store, ingest
from swarmscope.ingest.normalize import canonical_url
from tests.conftest import HANDMADE, run


@pytest.fixture(scope="module")
def platforms(shared) -> Path:
    return shared / "platforms"


def q(store: Store, sql: str, *params) -> list[tuple]:
    return store.con.execute(sql, list(params)).fetchall()


def one(store: Store, sql: str, *params):
    return store.con.execute(sql, list(params)).fetchone()[0]


def ingest_balanced(store: Store, paths: list[Path], **kw):
    """Ingest, check read = stored + duplicates + rejected per file, then ingest again and
    check that the second time adds nothing (all duplicates, the same rejects)."""
    report = ingest(store, paths, **kw)
    assert not report.failed, report.failed
    for f in report.files:
        assert f.read == f.stored + f.duplicates + f.rejected, f
    counts = [one(store, f"SELECT count(*) FROM {t}") for t in ("posts", "entities", "accounts")]
    again = ingest(store, paths, **kw)
    for first, second in zip(report.files, again.files):
        assert (second.read, second.stored, second.rejected) == (first.read, 0, first.rejected)
        assert second.duplicates == first.read - first.rejected
    assert [one(store, f"SELECT count(*) FROM {t}") for t in ("posts", "entities",
                                                             "accounts")] == counts
    return report


def utc(epoch) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=float(epoch))


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc) \
        .replace(tzinfo=None)


# -- Reddit ------------------------------------------------------------------------------------
def test_reddit_dump_lines_of_every_era(store, platforms):
    comments = platforms / "reddit/pushshift_test_comments.ndjson"
    submissions = platforms / "reddit/pushshift_test_submissions.ndjson"
    report = ingest_balanced(store, [comments, submissions])
    assert [(f.format, f.read, f.stored, f.rejected) for f in report.files] == [
        ("reddit", 27, 27, 0), ("reddit", 31, 31, 0)]
    raw_c = [json.loads(line) for line in comments.read_text().splitlines()]
    raw_s = [json.loads(line) for line in submissions.read_text().splitlines()]
    assert {type(r["created_utc"]) for r in raw_c} == {int, float, str}   # the eras' forms
    for r in raw_c:
        pid = "t1_" + r["id"]
        row = q(store, "SELECT kind, parent_post_id, created_at, account_id, text FROM posts "
                       "WHERE post_id = ?", pid)[0]
        assert row[:3] == ("reply", r["parent_id"], utc(r["created_utc"]))
        if r["author"] == "[deleted]":
            assert row[3] == "unknown:" + pid
        else:
            assert row[3] == r["author"]
        assert row[4] is None if r["body"] in ("[deleted]", "[removed]") else row[4]
        assert q(store, "SELECT value FROM entities WHERE post_id = ? AND kind = 'community'",
                 pid) == [("r/" + r["subreddit"].lower(),)]
    # deleted authors stay apart: one unknown account per deleted post, never one '[deleted]'
    deleted = [r for r in raw_c + raw_s if r["author"] == "[deleted]"]
    assert len(deleted) == 5
    assert one(store, "SELECT count(*) FROM accounts WHERE handle = '[deleted]'") == 5
    assert one(store, "SELECT count(*) FROM accounts WHERE account_id = '[deleted]'") == 0
    # a crosspost is a repost of its crosspost parent, by the parent's author
    cross = next(r for r in raw_s if r.get("crosspost_parent"))
    assert q(store, "SELECT kind, parent_post_id, parent_account_id FROM posts WHERE post_id = ?",
             "t3_" + cross["id"]) == [("repost", cross["crosspost_parent"],
                                       cross["crosspost_parent_list"][0]["author"])]
    # a link post links its url, unescaped (2007: '&amp;' in the dump); a self post links nothing
    escaped = next(r for r in raw_s if "&amp;" in r["url"])
    assert q(store, "SELECT value FROM entities WHERE post_id = ? AND kind = 'url'",
             "t3_" + escaped["id"]) == [(canonical_url(escaped["url"].replace("&amp;", "&")),)]
    assert one(store, "SELECT text FROM posts WHERE post_id = ?", "t3_" + escaped["id"]) == \
        escaped["title"].replace("&amp;", "&")
    self_posts = [r for r in raw_s if r.get("is_self")]
    assert len(self_posts) == 12
    for r in self_posts:     # its url is its own page; links in its text are links
        assert canonical_url(r["url"]) not in {v for (v,) in q(
            store, "SELECT value FROM entities WHERE post_id = ? AND kind = 'url'", "t3_" + r["id"])}


def _walk(children: list[dict], out: list[dict]) -> list[dict]:
    for c in children:
        out.append(c)
        if isinstance(c["data"].get("replies"), dict):
            _walk(c["data"]["replies"]["data"]["children"], out)
    return out


def test_reddit_api_comment_tree(store, platforms):
    body = platforms / "reddit/extracted/praw_TestMore.test_comments.interaction2.comments_3hahrw.body.json"
    more = platforms / "reddit/extracted/praw_TestMore.test_comments.interaction1.morechildren.body.json"
    report = ingest_balanced(store, [body, more])
    things = _walk([c for listing in json.loads(body.read_text())
                    for c in listing["data"]["children"]], [])
    kinds = [t["kind"] for t in things]
    assert (kinds.count("t3"), kinds.count("t1"), kinds.count("more")) == (1, 476, 18)
    f = report.files[0]
    assert (f.read, f.stored, f.rejected) == (495, 477, 18)      # the 'more' stubs rejected
    assert q(store, "SELECT DISTINCT field FROM rejects") == [("kind",)]
    assert one(store, "SELECT count(*) FROM rejects WHERE contains(reason, '\"more\" stub') "
                      "AND run_id = (SELECT min(run_id) FROM rejects)") == 18
    comments = [t["data"] for t in things if t["kind"] == "t1"]
    got = dict(q(store, "SELECT post_id, parent_post_id FROM posts WHERE kind = 'reply' "
                        "AND source_file = ?", str(body)))
    assert got == {"t1_" + c["id"]: c["parent_id"] for c in comments}
    deepest = max((t for t in things if t["kind"] == "t1"), key=lambda t: _depth(things, t))
    assert _depth(things, deepest) >= 5             # a reply to a reply to a reply …
    assert got["t1_" + deepest["data"]["id"]] == deepest["data"]["parent_id"]
    authors = {c["author"] for c in comments}
    n_deleted = sum(c["author"] == "[deleted]" for c in comments)
    assert (len(authors), n_deleted) == (388, 16)
    assert one(store, "SELECT count(DISTINCT account_id) FROM posts WHERE source_file = ? "
                      "AND kind = 'reply'", str(body)) == 387 + 16
    # the morechildren answer: 7 of the stub's comments, replies to the submission
    assert report.files[1].stored == 7
    assert q(store, "SELECT DISTINCT parent_post_id FROM posts WHERE source_file = ?",
             str(more)) == [("t3_3hahrw",)]


def _depth(things: list[dict], thing: dict) -> int:
    parents = {"t1_" + t["data"]["id"]: t["data"]["parent_id"] for t in things if t["kind"] == "t1"}
    depth, at = 0, "t1_" + thing["data"]["id"]
    while at in parents:
        depth, at = depth + 1, parents[at]
    return depth


def test_reddit_cassette_itself_is_refused_clearly(tmp_path, platforms):
    """The PRAW test cassette wraps the responses in HTTP interactions: its bodies are read
    (extracted/), the cassette is no Reddit data file."""
    r = run("ingest", platforms / "reddit/praw_cassette_TestMore.test_comments.json",
            db=tmp_path / "s.duckdb")
    assert r.exit_code == 1 and "cannot tell the JSON format" in r.output
    assert "Traceback" not in r.output


# -- YouTube -----------------------------------------------------------------------------------
def test_youtube_comments_videos_and_channels(store, platforms):
    d = platforms / "youtube"
    report = ingest_balanced(store, [d / "comment_threads_response.json",
                                     d / "search_videos_page_with_next.json",
                                     d / "channels_page_final.json"])
    assert [(f.format, f.read, f.stored) for f in report.files] == [
        ("youtube", 13, 13), ("youtube", 5, 5), ("youtube-channels", 2, 2)]
    threads = json.loads((d / "comment_threads_response.json").read_text())["items"]
    for t in threads:
        top = t["snippet"]["topLevelComment"]
        assert q(store, "SELECT account_id, kind, parent_post_id, parent_account_id, created_at, "
                        "text FROM posts WHERE post_id = ?", top["id"]) == [(
            top["snippet"]["authorChannelId"]["value"], "reply", t["snippet"]["videoId"],
            t["snippet"]["channelId"], iso(top["snippet"]["publishedAt"]),
            top["snippet"]["textOriginal"])]
        for reply in t.get("replies", {}).get("comments", []):
            assert q(store, "SELECT account_id, parent_post_id FROM posts WHERE post_id = ?",
                     reply["id"]) == [(reply["snippet"]["authorChannelId"]["value"], top["id"])]
    # the one reply in the sample: the channel answering under its own video
    assert q(store, "SELECT post_id, account_id, parent_post_id FROM posts WHERE contains(post_id, '.')"
             ) == [("UghpFKUJfaHCZHgCoAEC.8JEh4_ERo0a8JFaFXGFIQc", "UC5VgEt3Na1zZDJo-PBa86Rg",
                    "UghpFKUJfaHCZHgCoAEC")]
    videos = json.loads((d / "search_videos_page_with_next.json").read_text())["items"]
    assert sorted(q(store, "SELECT post_id, account_id, text FROM posts WHERE kind = 'post'")) == \
        sorted((v["id"]["videoId"], v["snippet"]["channelId"], v["snippet"]["title"]) for v in videos)
    for c in json.loads((d / "channels_page_final.json").read_text())["items"]:
        assert q(store, "SELECT display_name, followers, created_at FROM accounts "
                        "WHERE account_id = ?", c["id"]) == [(
            c["snippet"]["title"], int(c["statistics"]["subscriberCount"]),
            iso(c["snippet"]["publishedAt"]))]


# -- CrowdTangle -------------------------------------------------------------------------------
def test_crowdtangle_csv_partial_export(store, platforms):
    path = platforms / "facebook_crowdtangle/db2_rows_with_genocide.csv"
    report = ingest_balanced(store, [path])
    f = report.files[0]
    assert (f.format, f.read, f.stored, f.rejected) == ("crowdtangle", 382, 382, 0)
    eastern = ZoneInfo("America/New_York")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        page, post = re.search(r"facebook\.com/(\d+)/posts/(\d+)", r["URL"]).groups()
        wall, zone = r["Post Created"].rsplit(" ", 1)
        local = datetime.fromisoformat(wall).replace(tzinfo=eastern)
        assert local.tzname() == zone           # the file's EST/EDT agree with the date
        assert q(store, "SELECT account_id, created_at, text FROM posts WHERE post_id = ?",
                 f"{page}_{post}") == [(page, local.astimezone(timezone.utc).replace(tzinfo=None),
                                        r["Message"].strip())]
    assert dict(q(store, "SELECT account_id, display_name FROM accounts")) == {
        re.search(r"facebook\.com/(\d+)/", r["URL"]).group(1): r["Page Name"] for r in rows}
    tagged = sum("#Gaza" in r["Message"] for r in rows)
    assert tagged and one(store, "SELECT count(*) FROM entities WHERE kind = 'hashtag' "
                                 "AND value = 'gaza'") >= tagged


def test_crowdtangle_csv_texts_shared_between_pages(tmp_path, platforms):
    """106 rows share their Message with another row: the text co-action finds page pairs."""
    db = tmp_path / "ct.duckdb"
    assert run("ingest", platforms / "facebook_crowdtangle/db2_rows_with_genocide.csv",
               db=db).exit_code == 0
    out = tmp_path / "text.parquet"
    r = run("pairs", "--kind", "text", "--window", "86400", "--out", out, db=db)
    assert r.exit_code == 0, r.output
    with open(platforms / "facebook_crowdtangle/db2_rows_with_genocide.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pages_by_text: dict[str, set] = {}
    for row in rows:
        pages_by_text.setdefault(" ".join(row["Message"].lower().split()), set()).add(row["Page Name"])
    assert any(len(p) > 1 for p in pages_by_text.values())
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{out}' WHERE account_a <> account_b"
                                    ).fetchone()[0] > 0


def test_crowdtangle_api_response(store, platforms):
    path = platforms / "facebook_crowdtangle/phoenix_crowdtangle_mock_data.json"
    report = ingest_balanced(store, [path])
    assert (report.files[0].format, report.files[0].stored) == ("crowdtangle-api", 2)
    posts = json.loads(path.read_text())["result"]["posts"]
    for p in posts:
        assert q(store, "SELECT account_id, created_at FROM posts WHERE post_id = ?",
                 p["platformId"]) == [(p["account"]["platformId"],
                                       datetime.fromisoformat(p["date"]))]
        urls = {v for (v,) in q(store, "SELECT value FROM entities WHERE kind = 'url' AND "
                                       "post_id = ?", p["platformId"])}
        assert canonical_url(p["link"]) in urls
    assert q(store, "SELECT value FROM account_labels WHERE name = 'page_admin_top_country' "
                    "AND account_id = ?", posts[0]["account"]["platformId"]) == [("US",)]


def test_crowdtangle_instagram_csv_to_its_columns(store):
    """No real CrowdTangle Instagram export is public: the file is built to the columns of
    one (Account instead of Page Name, the caption in Description, no Message)."""
    path = HANDMADE / "crowdtangle/instagram_search_export.csv"
    report = ingest_balanced(store, [path])
    assert (report.files[0].format, report.files[0].stored) == ("crowdtangle-instagram", 2)
    assert q(store, "SELECT platform, post_id, account_id, created_at, text FROM posts "
                    "ORDER BY created_at")[0] == (
        "instagram", "https://www.instagram.com/p/C2AbCdEfGhI/", "examplenews",
        datetime(2024, 1, 13, 20, 15, 26), "Read this before you vote #NZpol @dailytruth")
    assert q(store, "SELECT DISTINCT value FROM entities WHERE kind = 'hashtag'") == [("nzpol",)]


# -- Meta Content Library and TikTok: hand-made files to the documented schemas -----------------
def test_meta_content_library_export_to_the_data_dictionary(store):
    """No real Meta Content Library export is public: the file is built to the API field
    names of Meta's data dictionary."""
    path = HANDMADE / "meta_content_library/facebook_posts_export.csv"
    report = ingest_balanced(store, [path])
    f = report.files[0]
    assert (f.format, f.read, f.stored, f.rejected) == ("meta-content-library", 4, 3, 1)
    assert q(store, "SELECT DISTINCT line, field FROM rejects") == [(5, "creation_time")]
    assert q(store, "SELECT post_id, account_id, created_at FROM posts ORDER BY post_id")[:2] == [
        ("874512369854123", "100064000000001", datetime(2024, 5, 2, 8, 15, 30)),
        ("874512369854124", "100064000000002", datetime(2024, 5, 2, 8, 15, 41))]
    # the link without its tracking parameter, shared by two pages; the group post's surface
    assert q(store, "SELECT DISTINCT value FROM entities WHERE kind = 'url'") == [
        ("https://example-news.eu/story",)]
    assert q(store, "SELECT post_id, value FROM entities WHERE kind = 'community'") == [
        ("874512369854124", "group:553210987654321")]
    assert q(store, "SELECT handle, display_name FROM accounts WHERE account_id = '100064000000002'"
             ) == [("dailytruth", "Daily Truth")]


def test_tiktok_research_api_pages_to_the_codebook(store):
    """No real TikTok Research API response is public (its terms forbid sharing them): the
    files are built to the fields of the API's codebook and endpoint pages."""
    d = HANDMADE / "tiktok"
    report = ingest_balanced(store, [d / "research_video_query.json",
                                     d / "research_video_comments.jsonl"])
    assert [(f.format, f.read, f.stored, f.rejected) for f in report.files] == [
        ("tiktok", 2, 2, 0), ("tiktok", 4, 3, 1)]
    assert q(store, "SELECT DISTINCT file, line, field FROM rejects") == [
        (str(d / "research_video_comments.jsonl"), 2, "data")]
    assert "invalid_params" in one(store, "SELECT any_value(reason) FROM rejects")
    video = json.loads((d / "research_video_query.json").read_text())["data"]["videos"][0]
    assert q(store, "SELECT account_id, created_at, text FROM posts WHERE post_id = ?",
             str(video["id"])) == [(video["username"], utc(video["create_time"]),
                                    video["video_description"])]
    assert sorted(q(store, "SELECT post_id, account_id, parent_post_id FROM posts "
                           "WHERE kind = 'reply'")) == [
        ("7316420000000000001", "unknown:7316420000000000001", "7316412875134323999"),
        ("7316420000000000002", "unknown:7316420000000000002", "7316420000000000001"),
        ("7316420000000000003", "unknown:7316420000000000003", "7316412875134323999")]
    assert one(store, "SELECT count(DISTINCT post_id) FROM entities WHERE kind = 'media' "
                      "AND value = 'music:7316412812345678901'") == 2
    assert q(store, "SELECT DISTINCT value FROM account_labels WHERE name = 'region_code'") == [("RO",)]
    assert q(store, "SELECT value FROM entities WHERE kind = 'mention'") == [("redactia_b",)]


# -- one store of every platform here, through pairs and detect --------------------------------
def test_pairs_and_detect_on_the_platform_samples(tmp_path, platforms):
    db = tmp_path / "all.duckdb"
    inputs = [*sorted((platforms / "reddit").glob("*.ndjson")),
              *sorted((platforms / "reddit/extracted").glob("*.json")),
              *sorted((platforms / "youtube").glob("*.json")),
              *sorted((platforms / "facebook_crowdtangle").glob("*.[cj]s*")),
              HANDMADE / "tiktok", HANDMADE / "meta_content_library"]
    r = run("--memory-limit", "2GB", "ingest", *inputs, db=db)
    assert r.exit_code == 0, r.output
    r = run("pairs", "--kind", "reply", "--window", "3600", "--out", tmp_path / "reply.parquet", db=db)
    assert r.exit_code == 0, r.output
    # replies to the same Reddit submission within the hour are co-replies
    assert duckdb.connect().execute(
        f"SELECT count(*) FROM '{tmp_path / 'reply.parquet'}' WHERE platform_a = 'reddit'"
    ).fetchone()[0] > 0
    r = run("--memory-limit", "2GB", "detect", "--out", tmp_path / "detect", db=db)
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as store:
        assert set(dict(q(store, "SELECT platform, count(*) FROM detect_accounts GROUP BY 1"))) == {
            "reddit", "youtube", "facebook", "tiktok"}
