"""Telegram, Bluesky and Mastodon readers on the real samples in ../shared/data/platforms (read
in place): counts checked against the raw files read independently with Python's json, mapped
values checked against records picked from the raw files, re-ingest adds nothing, and pairs and
detect run on the store."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from swarmscope import Store, ingest
from tests.conftest import ROOT, run
from tests.test_readers_real import assert_balanced, assert_reingest_adds_nothing, one, q

TELEGRAM = "platforms/telegram"
BLUESKY = "platforms/bluesky"
MASTODON = "platforms/mastodon/extracted"


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# -- Telegram ----------------------------------------------------------------------------------
def test_telegram_desktop_channel_text_entities(store, shared):
    path = shared / TELEGRAM / "pachumarchive_public_channel_result.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    report = ingest(store, [path])
    assert_balanced(report)
    f = report.files[0]
    assert (f.format, f.read, f.stored, f.rejected) == ("telegram-desktop", 6, 6, 0)
    # message 3858: text is a list of strings and entities (text_link, hashtag, custom_emoji)
    post = q(store, "SELECT account_id, kind, text, epoch(created_at) FROM posts "
                    "WHERE post_id = '2447843635/3858'")[0]
    m = next(m for m in raw["messages"] if m["id"] == 3858)
    assert post == ("2447843635", "post", "".join(e["text"] for e in m["text_entities"]),
                    int(m["date_unixtime"]))
    assert post[2].startswith("Очень странные дела (S1 E1-5)")
    ents = q(store, "SELECT kind, value FROM entities WHERE post_id = '2447843635/3858' "
                    "AND kind IN ('url', 'hashtag') ORDER BY kind, position")
    assert ents == [("hashtag", "кинострим"), ("hashtag", "осд"),
                    ("url", "https://twitch.tv/guz3lka"), ("url", "https://boosty.to/guzelka_games"),
                    ("url", "http://t.me/papapachuca")]
    assert q(store, "SELECT display_name FROM accounts WHERE account_id = '2447843635'") == [
        ("ГУЗЕЛЬСКИЕ ПЕРЕЗАЛИВЫ",)]
    assert_reingest_adds_nothing(store, [path])


def test_telegram_desktop_group_service_messages_rejected_with_their_line(store, shared):
    path = shared / TELEGRAM / "python2022i_private_group_result.json"
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    report = ingest(store, [path])
    assert_balanced(report)
    service = [m["id"] for m in raw["messages"] if m["type"] == "service"]
    f = report.files[0]
    assert (f.read, f.stored, f.rejected) == (10, 10 - len(service), len(service)) == (10, 7, 3)
    file_lines = text.splitlines()
    starts = sorted(file_lines.index(f'   "id": {i},') for i in service)   # 0-based "id" line
    assert q(store, "SELECT line, field FROM rejects ORDER BY line") == [(s, "type") for s in starts]
    assert all("service message (join_group_by_link)" in r for (r,) in q(
        store, "SELECT reason FROM rejects"))
    # authors are the users, without the 'user' prefix; each has its display name
    authors = Counter(m["from_id"].removeprefix("user") for m in raw["messages"]
                      if m["type"] == "message")
    assert dict(q(store, "SELECT account_id, count(*) FROM posts GROUP BY 1")) == authors
    assert q(store, "SELECT display_name FROM accounts WHERE account_id = '1868330241'") == [
        ("@𝐑𝐮𝐬𝐭𝐚𝐦𝐁𝐞𝐤",)]
    assert_reingest_adds_nothing(store, [path])


def test_telegram_desktop_forward_and_reply_hand_made(store):
    """No real Desktop export with forwards or replies was found: the bad-input corpus's
    hand-made one (its last message cut off) shows how they map."""
    path = ROOT / "tests/bad_inputs/telegram-desktop-truncated-export/result.json"
    assert_balanced(ingest(store, [path]))
    assert q(store, "SELECT p.post_id, p.kind, p.parent_post_id, p.parent_account_id, o.value "
                    "FROM posts p LEFT JOIN object_keys o ON o.object_key = p.parent_key "
                    "ORDER BY 1") == [
        ("777/1", "post", None, None, None),
        ("777/2", "repost", None, "55", "account:55"),   # forwarded_from_id channel55
        ("777/3", "reply", "777/1", None, "777/1")]


def test_tgdataset_forwards_are_reposts_of_their_source(store, shared):
    path = shared / TELEGRAM / "tgdataset_preview.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    messages: dict[str, dict] = {}      # a message's text and media entries are one record
    for cid, channel in raw.items():
        for section in ("text_messages", "generic_media"):
            for mid, m in channel[section].items():
                messages.setdefault(f"{cid}/{mid}", {}).update(m)
    report = ingest(store, [path])
    assert_balanced(report)
    f = report.files[0]
    assert (f.format, f.read, f.stored, f.rejected) == ("tgdataset", len(messages),
                                                        len(messages), 0)
    assert len(messages) == 4010        # 2,847 texts + 1,685 media, 522 of them the same message
    forwards = {k: m["forwarded_from_id"] for k, m in messages.items() if m["is_forwarded"]}
    stored = dict(q(store, "SELECT post_id, parent_account_id FROM posts WHERE kind = 'repost'"))
    assert stored == {k: None if v is None else str(v) for k, v in forwards.items()}
    # channel 1008738564's message 646, forwarded from 749891673: its repost object is the
    # source channel (the source message's id is not in the layout)
    assert q(store, "SELECT p.account_id, p.parent_account_id, o.value FROM posts p "
                    "JOIN object_keys o ON o.object_key = p.parent_key "
                    "WHERE p.post_id = '1008738564/646'") == [
        ("1008738564", "749891673", "account:749891673")]
    # a hidden-origin forward with text is a repost of its text
    hidden = next(k for k, m in forwards.items() if m is None and messages[k].get("message"))
    assert one(store, f"SELECT o.value FROM posts p JOIN object_keys o ON o.object_key = "
                      f"p.parent_key WHERE p.post_id = '{hidden}'").startswith("text:")
    # media ids are entities; the channel's profile fields come from after its messages
    media = sum(1 for m in messages.values() if m.get("media_id"))
    assert one(store, "SELECT count(*) FROM entities WHERE kind = 'media'") == media
    assert q(store, "SELECT handle, followers, epoch(created_at) FROM accounts "
                    "WHERE account_id = '1008738564'") == [("CATARACT_BOOKS", 13322, 1450995556)]
    assert_reingest_adds_nothing(store, [path])


# -- Bluesky -----------------------------------------------------------------------------------
def test_bluesky_jetstream_posts_reposts_likes(store, shared):
    path = shared / BLUESKY / "jetstream_v1_expected_v1.jsonl"
    events = lines_of(path)
    created = Counter(e["commit"]["collection"] for e in events
                      if e["kind"] == "commit" and e["commit"]["operation"] == "create")
    kept = sum(created[c] for c in ("app.bsky.feed.post", "app.bsky.feed.repost",
                                    "app.bsky.feed.like"))
    report = ingest(store, [path])
    assert_balanced(report)
    f = report.files[0]
    assert (f.format, f.read, f.stored, f.rejected) == ("bluesky", 152, kept, 152 - kept)
    assert kept == 137
    kinds = dict(q(store, "SELECT kind, count(*) FROM posts GROUP BY 1"))
    assert kinds["like"] == created["app.bsky.feed.like"] == 105
    assert kinds["repost"] == created["app.bsky.feed.repost"] == 15
    replies = [e for e in events if e.get("commit", {}).get("operation") == "create"
               and "reply" in e["commit"].get("record", {})]
    assert kinds["reply"] == len(replies) == 8
    # a reply: its parent is reply.parent's URI, the parent's author the DID in that URI
    e = replies[0]
    uri = f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}"
    parent = e["commit"]["record"]["reply"]["parent"]["uri"]
    assert q(store, f"SELECT account_id, parent_post_id, parent_account_id, text FROM posts "
                    f"WHERE post_id = '{uri}'") == [
        (e["did"], parent, parent.split("/")[2], e["commit"]["record"]["text"])]
    # a repost and a like: of their subject
    for kind, rkey, subject in (
            ("repost", "3mptbypowzs2e",
             "at://did:plc:lthsfxxeghkgg44eummxtvbe/app.bsky.feed.post/3mpt6c57uy22u"),):
        assert q(store, f"SELECT kind, parent_post_id, parent_account_id FROM posts "
                        f"WHERE post_id LIKE '%/{rkey}'") == [(kind, subject, subject.split("/")[2])]
    like = next(e for e in events if e.get("commit", {}).get("collection") == "app.bsky.feed.like")
    assert one(store, f"SELECT parent_post_id FROM posts WHERE post_id = 'at://{like['did']}/"
                      f"app.bsky.feed.like/{like['commit']['rkey']}'") == \
        like["commit"]["record"]["subject"]["uri"]
    # facets: #link (with the external embed's URI) and #tag; image blobs are media CIDs
    assert ("url", "https://youtube.com/watch?v=V5lDo-jw8mA") in q(
        store, "SELECT kind, value FROM entities WHERE post_id = "
               "'at://did:plc:dclwtltrt2ggsryagfzk7dp4/app.bsky.feed.post/3mptbyoeyc22k'")
    tags = {f["tag"].lower() for e in events for fc in e.get("commit", {}).get("record", {}).get(
        "facets", []) for f in fc["features"] if f["$type"].endswith("#tag")}
    assert set(v for (v,) in q(store, "SELECT value FROM entities WHERE kind = 'hashtag'")) == tags
    reasons = dict(q(store, "SELECT field, count(*) FROM rejects GROUP BY 1"))
    assert reasons == {"kind": 2, "commit.collection": 13}
    assert_reingest_adds_nothing(store, [path])


def test_bluesky_golden_events_each_kind_accounted(store, shared):
    path = shared / BLUESKY / "jetstream_v1_golden_v1.jsonl"
    report = ingest(store, [path])
    assert_balanced(report)
    assert (report.files[0].read, report.files[0].stored, report.files[0].rejected) == (10, 3, 7)
    assert sorted(k for (k,) in q(store, "SELECT kind FROM posts")) == ["like", "reply", "repost"]
    lines = dict(q(store, "SELECT line, reason FROM rejects"))
    assert "app.bsky.graph.follow" in lines[4] and "identity event" in lines[8]


def test_bluesky_author_feed_reposts_and_mentions(store, shared):
    path = shared / BLUESKY / "getAuthorFeed.json"
    feed = json.loads(path.read_text(encoding="utf-8"))["feed"]
    reposts = [i for i in feed if i.get("reason", {}).get("$type", "").endswith("#reasonRepost")]
    report = ingest(store, [path])
    assert_balanced(report)
    assert (report.files[0].read, report.files[0].stored) == (len(feed) + len(reposts), 27)
    got = q(store, "SELECT account_id, parent_post_id, epoch_ms(created_at) FROM posts "
                   "WHERE kind = 'repost' ORDER BY 2")
    by = {i["post"]["uri"]: i["reason"] for i in reposts}
    assert [(a, p) for a, p, _ in got] == sorted(((r["by"]["did"], u) for u, r in by.items()),
                                                 key=lambda x: x[1])
    assert q(store, "SELECT handle FROM accounts WHERE account_id = "
                    "'did:plc:iijrtk7ocored6zuziwmqq3c'") == [("shinyakato.dev",)]
    assert dict(q(store, "SELECT kind, count(*) FROM posts GROUP BY 1"))["reply"] == sum(
        1 for i in feed if "reply" in i["post"]["record"])
    seattle = "at://did:plc:gggcwmwoyak6op4pkqm76ckz/app.bsky.feed.post/3jukz62npim26"
    assert q(store, f"SELECT kind, value FROM entities WHERE post_id = '{seattle}' "
                    "ORDER BY kind, position") == [
        ("media", "bafkreiactiikzqoiisabzjvapodlm4ldcrgvh2pc7bqyasdgsz67vi2l7a"),
        ("mention", "did:plc:qjeavhlw222ppsre4rscd3n2"),
        ("mention", "did:plc:oky5czdrnfjpqslsw2a5iclo")]
    assert_reingest_adds_nothing(store, [path])


# -- Mastodon ----------------------------------------------------------------------------------
def test_mastodon_account_pages_reblogs_are_reposts(store, shared):
    paths = sorted((shared / MASTODON).glob("get_account_statuses_limit.*.json"))
    pages = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    report = ingest(store, paths)
    assert_balanced(report)
    for f, page in zip(report.files, pages):     # every status, and every boosted status
        assert (f.format, f.read) == ("mastodon", len(page) + sum(1 for s in page if s["reblog"]))
    statuses = [s for page in pages for s in page]
    reblogs = {s["id"]: s["reblog"] for s in statuses if s["reblog"]}
    assert len(statuses) == 43 and len(reblogs) == 4
    got = dict(q(store, "SELECT post_id, parent_post_id FROM posts WHERE kind = 'repost'"))
    assert got == {k: r["id"] for k, r in reblogs.items()}
    # the boost of rtoot's announcement by chainsawriot: the text is the boosted status's,
    # HTML turned into text; the boosted status is stored under its own author
    assert q(store, "SELECT account_id, parent_account_id, text FROM posts "
                    "WHERE post_id = '109326585201181342'") == [(
        "chainsawriot@social.tchncs.de", "schochastics@fosstodon.org",
        "#rstats package rtoot to interact with the Mastodon API is on its way to CRAN\n"
        "https://github.com/schochastics/rtoot\n\nthanks to my coauthor @chainsawriot and "
        "contributors @JBGruber and @urswilke to make this happen so fast")]
    assert q(store, "SELECT account_id, kind, lang FROM posts WHERE post_id = "
                    "'109326579741510097'") == [("schochastics@fosstodon.org", "post", "en")]
    assert q(store, "SELECT kind, value FROM entities WHERE post_id = '109326579741510097' AND "
                    "kind IN ('mention', 'url') ORDER BY kind, value") == [
        ("mention", "JBGruber@fosstodon.org"), ("mention", "chainsawriot@social.tchncs.de"),
        ("mention", "urswilke@fosstodon.org"), ("url", "https://github.com/schochastics/rtoot")]
    replies = {s["id"]: s["in_reply_to_id"] for s in statuses if s["in_reply_to_id"]}
    assert dict(q(store, "SELECT post_id, parent_post_id FROM posts WHERE kind = 'reply'")) == \
        replies and len(replies) == 10
    assert_reingest_adds_nothing(store, paths)


def test_mastodon_thread_context_and_tag_timeline(store, shared):
    context = shared / MASTODON / "get_context_default.interaction0.body.json"
    tag_pages = sorted((shared / MASTODON).glob("handle_params_max_id.*.json"))
    thread = json.loads(context.read_text(encoding="utf-8"))["descendants"]
    report = ingest(store, [context, *tag_pages])
    assert_balanced(report)
    assert [f.read for f in report.files] == [127, 40, 40, 40, 40]
    assert sum(f.stored for f in report.files) == 127 + 160
    got = dict(q(store, "SELECT post_id, parent_post_id FROM posts WHERE kind = 'reply' AND "
                        "source_file LIKE '%context%'"))
    assert got == {s["id"]: s["in_reply_to_id"] for s in thread}
    # 115 accounts on 54 instances, each user@instance
    accounts = {s["account"]["acct"] if "@" in s["account"]["acct"] else
                s["account"]["acct"] + "@mastodon.social" for s in thread}
    assert len(accounts) == 115 and accounts <= {a for (a,) in q(
        store, "SELECT account_id FROM accounts")}
    assert len({a.split("@")[1] for a in accounts}) == 54
    # content is text: no tags or entities left; tags are hashtags
    assert one(store, "SELECT count(*) FROM posts WHERE regexp_matches(text, '<[a-z/]|&amp;')") == 0
    tags = Counter(t["name"].lower() for s in thread for t in s["tags"])
    stored = Counter(v for (v,) in q(store, "SELECT e.value FROM entities e JOIN posts p USING "
                                            "(platform, post_id) WHERE e.kind = 'hashtag' AND "
                                            "p.source_file LIKE '%context%'"))
    assert stored == tags
    assert_reingest_adds_nothing(store, [context, *tag_pages])


def test_mastodon_cassettes_are_not_read_as_json(db, shared):
    r = run("ingest", shared / "platforms/mastodon/get_context_default.yml", db=db)
    assert r.exit_code == 1 and "cannot tell the format" in r.output
    assert "Traceback" not in r.output


# -- the three together ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def social_store(tmp_path_factory, shared):
    db = tmp_path_factory.mktemp("social") / "social.duckdb"
    r = run("--memory-limit", "2GB", "ingest", shared / TELEGRAM / "tgdataset_preview.json",
            *(shared / TELEGRAM).glob("*result.json"), *(shared / BLUESKY).glob("*.json*"),
            *(shared / MASTODON).glob("*.json"), db=db)
    assert r.exit_code == 0, r.output
    return db


def test_pairs_and_detect_run_on_the_social_platforms(social_store, tmp_path):
    with Store(social_store, read_only=True) as store:
        assert dict(q(store, "SELECT platform, count(*) FROM posts GROUP BY 1")) == {
            "telegram": 4023, "bluesky": 167, "mastodon": 334}
    r = run("--memory-limit", "2GB", "pairs", "--kind", "hashtag", "--window", "3600",
            db=social_store)
    assert r.exit_code == 0, r.output
    assert re.search(r"hashtag \(sliding, window 3600 s\): [\d,]+ actions", r.output)
    r = run("--memory-limit", "2GB", "pairs", "--kind", "like", "--window", "60",
            db=social_store)
    assert r.exit_code == 0 and "like (sliding, window 60 s): 106 actions" in r.output, r.output
    r = run("--memory-limit", "2GB", "detect", "--out", tmp_path / "out", db=social_store)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out").is_dir()
