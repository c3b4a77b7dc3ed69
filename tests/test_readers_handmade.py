"""Readers for the formats the shared real data has no sample of, on hand-made files.

- ``data/io_archive/``: a Twitter Information Operations archive release (tweets CSV in two
  numbered parts, the second gzipped, plus the users CSV);
- ``data/io_archive_2018/``: the October 2018 releases' style (SHA-256 hex hashes, lists written
  without quotes: ``[MAGA, TrumpTrain]``);
- ``data/twitter_v1/``: API v1.1 stream capture, as JSON lines and as pretty-printed,
  concatenated objects (the same records);
- ``data/twitter_v2/``: twarc2 search output, as response pages and as ``twarc2 flatten`` lines
  (the same tweets).

Expected values are the ones written in those files; times are decoded here from the tweet ids
with the snowflake formula, independently of the code under test.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import swarmscope
from swarmscope import Store
from conftest import HANDMADE, run

IO_DIR = HANDMADE / "io_archive"
IO_PART1 = IO_DIR / "handmade_102016_tweets_csv_hashed_1.csv"
IO_PART2 = IO_DIR / "handmade_102016_tweets_csv_hashed_2.csv.gz"
IO_USERS = IO_DIR / "handmade_102016_users_csv_hashed.csv"
V1_DIR = HANDMADE / "twitter_v1"
V1_LINES = V1_DIR / "stream_2019-11-20.jsonl"
V1_PRETTY = V1_DIR / "stream_2019-11-20_pretty.json"
V2_DIR = HANDMADE / "twitter_v2"
V2_PAGES = V2_DIR / "search_kyiv_pages.jsonl"
V2_FLAT = V2_DIR / "search_kyiv_flat.jsonl"

SNOWFLAKE_EPOCH_MS = 1288834974657


def snowflake_time(tweet_id: str) -> datetime:
    """The creation time a snowflake id encodes: ``(id >> 22) + 1288834974657`` ms (UTC)."""
    return datetime(1970, 1, 1) + timedelta(milliseconds=(int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS)


def rows(store: Store, sql: str, *params) -> list[tuple]:
    return store.con.execute(sql, list(params)).fetchall()


def post_map(store: Store, cols: str) -> dict[str, tuple]:
    return {r[0]: tuple(r[1:]) for r in rows(store, f"SELECT post_id, {cols} FROM posts")}


def entity_map(store: Store, kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pid, value in rows(store, "SELECT post_id, value FROM entities WHERE kind = ? "
                                  "ORDER BY post_id, position, value", kind):
        out.setdefault(pid, []).append(value)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = gzip.open(path, "rb").read() if path.name.endswith(".gz") else path.read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def counts(report) -> list[tuple]:
    return [(Path(f.path).name, f.format, f.read, f.stored, f.duplicates, f.rejected)
            for f in report.files]


# -- Information Operations archive ---------------------------------------------------------------
H1 = "Wi9rD66vlY2k/vX3nW0alZ+2qPVWXrVR33BxaVRTfFc="     # hashed ids (accounts < 5,000 followers)
H2 = "gAYmEA2TB8oLhwGz9KZFtbwlk+28IOOkpfXUx3IP/CY="
N1, N2, N3 = "2561235478", "755964046649995264", "3301446711"
R1, R2, R3, R4 = ("783673921427099654", "783674364037967872", "783676049063305217",
                  "783683662775881728")
R5, R6, R7, R8 = "783958096999223298", "4567890123", "784163095458246656", "784347788815114243"
R9, R10, R11 = "784389112599040000", "784543830638149632", "784664626586845189"
R9_ORIG = "783400212126507008"


@pytest.fixture
def io_store(store: Store) -> Store:
    swarmscope.ingest(store, [IO_DIR])
    return store


def test_io_archive_parts_detected_and_accounted(store):
    report = swarmscope.ingest(store, [IO_DIR])
    assert not report.failed
    assert counts(report) == [
        (IO_PART1.name, "io-archive", 7, 7, 0, 0),
        # part 2 repeats one retweet of part 1 (overlapping exports): a duplicate
        (IO_PART2.name, "io-archive", 5, 4, 1, 0),
        # the users file adds one account without tweets; the others are already complete
        (IO_USERS.name, "io-archive-users", 5, 1, 4, 0),
    ]
    for f in report.files:
        assert f.read == f.stored + f.duplicates + f.rejected
        assert f.read == len(read_csv(Path(f.path)))     # one record per CSV record, not line
    assert rows(store, "SELECT count(*) FROM posts")[0][0] == 11
    assert rows(store, "SELECT count(*) FROM accounts")[0][0] == 5
    assert rows(store, "SELECT count(*) FROM rejects")[0][0] == 0


def test_io_archive_users_csv_gzipped_alone(store, tmp_path):
    users = tmp_path / "x_users_csv_hashed.csv.gz"
    users.write_bytes(gzip.compress(IO_USERS.read_bytes()))
    report = swarmscope.ingest(store, [users])
    assert counts(report) == [(users.name, "io-archive-users", 5, 5, 0, 0)]


def test_io_archive_kinds_and_parents(io_store):
    got = post_map(io_store, "kind, parent_post_id, parent_account_id, quoted_post_id")
    assert got == {
        R1: ("post", None, None, None),
        R2: ("repost", R1, N1, None),
        R3: ("reply", R1, N1, None),
        R4: ("quote", R1, None, R1),
        R5: ("post", None, None, None),
        R6: ("post", None, None, None),
        R7: ("post", None, None, None),
        R8: ("reply", R4, N2, R5),         # a reply that also quotes
        R9: ("repost", R9_ORIG, N3, None),
        R10: ("post", None, None, None),
        R11: ("post", None, None, None),
    }
    authors = post_map(io_store, "account_id")
    assert authors[R2] == (H1,) and authors[R3] == (H2,) and authors[R4] == (N2,)


def test_io_archive_time_from_snowflake_else_minute(io_store):
    minute = {r["tweetid"]: datetime.strptime(r["tweet_time"], "%Y-%m-%d %H:%M")
              for r in read_csv(IO_PART1) + read_csv(IO_PART2)}
    got = {pid: t for pid, (t,) in post_map(io_store, "created_at").items()}
    assert set(got) == set(minute)
    for pid, t in got.items():
        if pid == R6:
            continue
        exact = snowflake_time(pid)
        assert t == exact, pid
        assert exact.replace(second=0, microsecond=0) == minute[pid], pid
    # a 2009 tweet: its id predates snowflakes and encodes no time; the minute is used
    assert got[R6] == datetime(2009, 10, 4, 8, 15) == minute[R6]
    # the edges of a minute: 07:59:59.999 stays in 07:59, 00:00:00.000 is itself
    assert got[R11] == datetime(2016, 10, 8, 7, 59, 59, 999000)
    assert got[R10] == datetime(2016, 10, 8, 0, 0, 0)
    assert got[R1] == datetime(2016, 10, 5, 14, 23, 17, 482000)


def test_io_archive_minute_wins_when_the_id_disagrees(store, tmp_path):
    text = IO_PART1.read_text(encoding="utf-8")
    assert text.count("2016-10-05 14:23") == 1
    changed = tmp_path / "x_tweets_csv_hashed_1.csv"
    changed.write_text(text.replace("2016-10-05 14:23", "2016-10-05 16:23"), encoding="utf-8")
    swarmscope.ingest(store, [changed])
    assert rows(store, "SELECT created_at FROM posts WHERE post_id = ?", R1)[0][0] == \
        datetime(2016, 10, 5, 16, 23)
    assert rows(store, "SELECT created_at FROM posts WHERE post_id = ?", R2)[0][0] == \
        snowflake_time(R2)


def test_io_archive_text_and_fields_kept_verbatim(io_store):
    by_id = {r["tweetid"]: r for r in read_csv(IO_PART1) + read_csv(IO_PART2)}
    got = post_map(io_store, "text, lang, client")
    for pid, (text, lang, client) in got.items():
        assert text == by_id[pid]["tweet_text"], pid
        assert lang == by_id[pid]["tweet_language"] and client == by_id[pid]["tweet_client_name"]
    assert got[R5][0] == ("Breaking, from our sources in Columbus:\n"
                          "the count in #OHIO is being changed #Ohio #VoterFraud")
    assert got[R3][0].endswith("they don't want you to know")
    assert got[R10][:2] == ("Вибори 2016: все, що треба знати http://WWW.Example-News.com:80/", "uk")
    assert got[R6][2] == "web"


def test_io_archive_geo_absent_and_present(io_store):
    geo = post_map(io_store, "latitude, longitude")
    assert geo[R5] == (39.9612, -82.9988)
    assert all(v == (None, None) for k, v in geo.items() if k != R5)


def test_io_archive_hashtags_urls_mentions(io_store):
    tags = entity_map(io_store, "hashtag")
    assert tags == {R1: ["election2016", "votenow"], R2: ["election2016", "votenow"],
                    R5: ["ohio", "voterfraud"],          # OHIO and Ohio are one tag
                    R10: ["вибори2016"]}
    urls = entity_map(io_store, "url")
    assert urls == {
        R1: ["https://example-news.com/politics/deadlines?id=42"],   # utm_*, www. dropped
        R2: ["https://example-news.com/politics/deadlines?id=42"],
        R4: [f"https://twitter.com/NewsFlashDaily/status/{R1}"],
        R7: ["https://blog.example.org/it's-rigged"],               # ["it's"]: double quotes
        R8: [f"https://twitter.com/i/web/status/{R5}"],
        R10: ["http://example-news.com"],                           # host case, port 80, '/'
    }
    domains = entity_map(io_store, "domain")
    assert domains == {R1: ["example-news.com"], R2: ["example-news.com"], R4: ["twitter.com"],
                       R7: ["example.org"], R8: ["twitter.com"], R10: ["example-news.com"]}
    assert entity_map(io_store, "mention") == {R2: [N1], R3: [N1], R8: [N2], R9: [N3]}
    # poll choices are not entities of any kind
    assert rows(io_store, "SELECT count(*) FROM entities WHERE value ILIKE '%fine%'")[0][0] == 0


def test_io_archive_accounts_and_labels(io_store):
    acc = {r[0]: r[1:] for r in rows(io_store, """
        SELECT account_id, handle, display_name, followers, following, created_at,
               reported_location FROM accounts""")}
    assert acc == {
        H1: (H1, H1, 312, 1455, datetime(2016, 2, 11), None),
        H2: (H2, H2, 87, 640, datetime(2015, 7, 29), "Москва"),
        N1: ("NewsFlashDaily", "NewsFlash Daily", 48213, 1022, datetime(2009, 6, 18),
             "New York, NY"),
        N2: ("patriot_voice_17", "Patriot Voice", 7310, 5002, datetime(2016, 7, 21), "USA"),
        N3: ("ohio_votes_now", "Ohio Votes", 5120, 233, datetime(2015, 5, 2), "Columbus, OH"),
    }
    assert len(H1) == len(H2) == 44
    assert dict(rows(io_store, "SELECT typeof(followers), count(*) FROM accounts GROUP BY 1")) == \
        {"BIGINT": 5}
    labels = {(a, n): v for a, n, v in rows(
        io_store, "SELECT account_id, name, value FROM account_labels")}
    assert labels == {
        (H1, "account_language"): "en", (H2, "account_language"): "ru",
        (N1, "account_language"): "en", (N2, "account_language"): "en",
        (N3, "account_language"): "en",
        (N1, "profile_url"): "https://t.co/xYz12AbC9q",
        (N2, "profile_url"): "https://t.co/Pv17aBcDeF",
    }


def test_io_archive_cli_reingest_is_all_duplicates(db):
    first = run("ingest", IO_DIR, db=db)
    assert first.exit_code == 0, first.output
    assert f"{IO_PART1.name} (io-archive): read 7 = stored 7 + duplicates 0 + rejected 0" in \
        first.output
    assert f"{IO_PART2.name} (io-archive): read 5 = stored 4 + duplicates 1 + rejected 0" in \
        first.output
    assert f"{IO_USERS.name} (io-archive-users): read 5 = stored 1 + duplicates 4 + rejected 0" \
        in first.output
    assert "total: read 17 = stored 12 + duplicates 5 + rejected 0" in first.output
    again = run("ingest", IO_PART1, IO_PART2, IO_USERS, db=db)
    assert again.exit_code == 0, again.output
    assert "total: read 17 = stored 0 + duplicates 17 + rejected 0" in again.output
    with Store(db, read_only=True) as s:
        assert rows(s, "SELECT count(*), count(DISTINCT post_id) FROM posts")[0] == (11, 11)
        assert rows(s, "SELECT count(*) FROM entities")[0][0] == 23
        assert rows(s, "SELECT count(*) FROM account_labels")[0][0] == 7


def test_labels_new_to_a_platform_count_as_stored(db, tmp_path):
    """An account file stored on one platform, then on another where its accounts are stored
    already without labels: the labels are new there, so their records count as stored
    (they counted as duplicates where the same account ids had them on the first platform)."""
    plain = tmp_path / "plain_users_csv_hashed.csv"
    with IO_USERS.open(encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    with plain.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(records[0]))
        out.writeheader()
        out.writerows({**r, "account_language": "", "user_profile_url": ""} for r in records)
    for platform, path in (("a", IO_USERS), ("b", plain)):
        assert run("ingest", path, "--platform", platform, db=db).exit_code == 0
    again = run("ingest", IO_USERS, "--platform", "b", db=db)
    assert again.exit_code == 0, again.output
    assert f"{IO_USERS.name} (io-archive-users): read 5 = stored 5 + duplicates 0 + rejected 0" \
        in again.output
    with Store(db, read_only=True) as s:
        assert rows(s, "SELECT platform, count(*) FROM account_labels GROUP BY 1 ORDER BY 1") \
            == [("a", 7), ("b", 7)]


def test_io_archive_bad_coordinate_rejected_with_line(store, tmp_path):
    text = IO_PART1.read_text(encoding="utf-8")
    assert text.count(",39.9612,-82.9988,") == 1
    broken = tmp_path / "x_tweets_csv_hashed_1.csv"
    broken.write_text(text.replace(",39.9612,-82.9988,", ",39.9612,82.99.88,"), encoding="utf-8")
    report = swarmscope.ingest(store, [broken])
    assert counts(report) == [(broken.name, "io-archive", 7, 6, 0, 1)]
    # R5 starts on line 6 (its text spans lines 6 and 7)
    assert rows(store, "SELECT line, field, reason FROM rejects") == \
        [(6, "longitude", "not a number: 82.99.88")]
    assert rows(store, "SELECT count(*) FROM posts WHERE post_id = ?", R5)[0][0] == 0


# The October 2018 releases (IRA, Iran): SHA-256 hex hashes, lists written without quotes
IO_2018 = HANDMADE / "io_archive_2018" / "handmade_102018_tweets_csv_hashed.csv"
HX = "9608eabedf75837190b0ea9bc0921a6dad3440f9bad73b7c2e9aa9b735c307cd"
HY = "14558b8364985aaae228990a5da4207d9ade03839af8d79a4579b788b7012031"
E1, E2, E3, E4 = ("795687946669531136", "795689526644326401", "795709960729927683",
                  "795868453165744128")


def test_io_archive_2018_unquoted_lists(store):
    report = swarmscope.ingest(store, [IO_2018])
    assert counts(report) == [(IO_2018.name, "io-archive", 4, 4, 0, 0)]
    assert rows(store, "SELECT count(*) FROM rejects")[0][0] == 0
    assert post_map(store, "account_id, kind, parent_post_id, parent_account_id") == {
        E1: (HX, "post", None, None),
        E2: (HY, "repost", "795686125040701440", "2572896396"),
        E3: (HX, "reply", "795702617057529856", "759251"),
        E4: (HY, "post", None, None)}
    assert entity_map(store, "hashtag") == {E1: ["maga", "trumptrain"], E2: ["blacklivesmatter"]}
    assert entity_map(store, "url") == {E1: ["http://example-patriot.com/2016/11/07/polls"]}
    assert entity_map(store, "domain") == {E1: ["example-patriot.com"]}
    assert entity_map(store, "mention") == {E2: ["2572896396"], E3: ["759251", "2572896396"]}
    assert {r[0] for r in rows(store, "SELECT account_id FROM accounts")} == {HX, HY}
    for pid, (t,) in post_map(store, "created_at").items():
        assert t == snowflake_time(pid)


# -- API v1.1 --------------------------------------------------------------------------------------
T1, T2, T3, T4 = ("1197168750616133635", "1197169441756033024", "1197170105057546240",
                  "1197172747270238209")
T5, T6 = "1197194181746642944", "5678901234"
U1, U2, U3, NWS = "19923144", "1012887431937880064", "331203774", "1140713448"


def v1_records() -> list[dict]:
    return [json.loads(line) for line in V1_LINES.read_text().splitlines()]


def v1_tweets() -> dict[str, dict]:
    return {t["id_str"]: t for t in v1_records() if "id_str" in t}


@pytest.fixture
def v1_store(store: Store) -> Store:
    swarmscope.ingest(store, [V1_LINES])
    return store


@pytest.mark.parametrize("path", [V1_LINES, V1_PRETTY], ids=["lines", "pretty"])
def test_v1_detected_and_accounted(store, path):
    report = swarmscope.ingest(store, [path])
    # six tweets and the stream's rate-limit notice, which is rejected as such
    assert counts(report) == [(path.name, "twitter-v1", 7, 6, 0, 1)]
    ((line, field, reason),) = rows(store, "SELECT line, field, reason FROM rejects")
    assert field == "json" and "limit notice, not a tweet" in reason
    lines = path.read_text().splitlines()
    if path == V1_LINES:
        assert line == 5 and lines[4].startswith('{"limit": ')
    else:
        assert lines[line - 1] == "{" and lines[line] == '  "limit": {'


def test_v1_pretty_and_lines_give_identical_posts(tmp_path):
    tables = {}
    for name, path in (("lines", V1_LINES), ("pretty", V1_PRETTY)):
        with Store(tmp_path / f"{name}.duckdb") as s:
            swarmscope.ingest(s, [path])
            tables[name] = (
                rows(s, "SELECT * EXCLUDE (source_file, run_id) FROM posts ORDER BY post_id"),
                rows(s, "SELECT * FROM entities ORDER BY ALL"),
                rows(s, "SELECT * EXCLUDE (run_id) FROM accounts ORDER BY account_id"))
    assert len(tables["lines"][0]) == 6
    assert tables["lines"] == tables["pretty"]


def test_v1_kinds_parents_and_clients(v1_store):
    assert post_map(v1_store, "kind, parent_post_id, parent_account_id, quoted_post_id, "
                              "account_id, client") == {
        T1: ("post", None, None, None, U1, "Twitter Web App"),
        T2: ("repost", T1, U1, None, U2, "Twitter for Android"),
        T3: ("reply", T1, U1, None, U3, "Twitter for iPhone"),
        T4: ("quote", T3, None, T3, U2, "Twitter for Android"),
        T5: ("post", None, None, None, U3, "TweetDeck"),
        T6: ("post", None, None, None, U1, "web"),
    }


def test_v1_mention_first_tweets_are_not_replies(store, tmp_path):
    """A tweet that starts with @name carries in_reply_to_user_id without a status: the user is
    no parent of a post (nor of the quoted post, whose author is someone else)."""
    src = v1_tweets()
    quote, post = src[T4], src[T5]
    for t in (quote, post):
        t.update(in_reply_to_user_id=19923144, in_reply_to_user_id_str=U1,
                 in_reply_to_screen_name="citydesk")
        t["text" if "text" in t else "full_text"] = "@citydesk " + t.get("text", t.get("full_text"))
    path = tmp_path / "mentions_first.jsonl"
    path.write_text(json.dumps(quote) + "\n" + json.dumps(post) + "\n")
    swarmscope.ingest(store, [path])
    assert post_map(store, "kind, parent_post_id, parent_account_id, quoted_post_id") == {
        T4: ("quote", T3, None, T3), T5: ("post", None, None, None)}


def test_v1_texts_full_and_retweet_from_original(v1_store):
    src = v1_tweets()
    got = {pid: t for pid, (t,) in post_map(v1_store, "text").items()}
    full = src[T1]["extended_tweet"]["full_text"]
    assert got[T1] == full and src[T1]["truncated"] and src[T1]["text"] != full
    # the retweet's own text is cut; the stored text is the original's full text
    assert got[T2] == src[T2]["retweeted_status"]["extended_tweet"]["full_text"] == full
    assert not got[T2].startswith("RT @")
    assert got[T3] == src[T3]["text"] and got[T4] == src[T4]["text"]
    assert got[T5] == src[T5]["full_text"] and got[T6] == src[T6]["full_text"]


def test_v1_times(v1_store):
    src = v1_tweets()
    got = {pid: t for pid, (t,) in post_map(v1_store, "created_at").items()}
    for pid in (T1, T2, T3, T4):      # stream tweets: timestamp_ms
        ms = int(src[pid]["timestamp_ms"])
        assert got[pid] == datetime(1970, 1, 1) + timedelta(milliseconds=ms)
        assert got[pid] == snowflake_time(pid)
    assert "timestamp_ms" not in src[T5]                  # REST: the id's millisecond
    assert got[T5] == snowflake_time(T5) == datetime(2019, 11, 20, 16, 45, 10, 377000)
    assert got[T6] == datetime(2009, 11, 13, 14, 2, 11)    # pre-snowflake id: created_at


def test_v1_geo(v1_store):
    geo = post_map(v1_store, "latitude, longitude")
    lon, lat = v1_tweets()[T1]["coordinates"]["coordinates"]
    assert geo[T1] == (lat, lon) == (41.8868, -87.6297)
    assert all(v == (None, None) for k, v in geo.items() if k != T1)


def test_v1_entities(v1_store):
    # the retweet's entities are the original's extended ones (#FloodWatch is past the cut)
    assert entity_map(v1_store, "hashtag") == {
        T1: ["chicagoriver", "floodwatch"], T2: ["chicagoriver", "floodwatch"],
        T4: ["chicagoflood"], T5: ["chicago"]}
    assert "FloodWatch" not in json.dumps(v1_tweets()[T2]["entities"])
    article = "https://citydesk-news.com/2019/11/20/river-flood-warning/"
    assert entity_map(v1_store, "url") == {
        T1: [article], T2: [article],
        T4: [f"https://twitter.com/rustbelt_dan/status/{T3}"],
        T5: ["http://chicago.gov/city/en/depts/oem.html?lang=en"]}   # fbclid and #fragment go
    assert entity_map(v1_store, "domain") == {
        T1: ["citydesk-news.com"], T2: ["citydesk-news.com"], T4: ["twitter.com"],
        T5: ["chicago.gov"]}
    assert entity_map(v1_store, "mention") == {T1: [NWS], T2: [NWS], T3: [U1], T5: [U1]}
    media = v1_tweets()[T1]["extended_tweet"]["extended_entities"]["media"][0]["media_url_https"]
    assert entity_map(v1_store, "media") == {T1: [media], T2: [media]}


def test_v1_accounts(v1_store):
    acc = {r[0]: r[1:] for r in rows(v1_store, """
        SELECT account_id, handle, display_name, description, followers, following, created_at,
               reported_location FROM accounts""")}
    assert acc == {
        U1: ("citydesk", "City Desk",
             "Local news from the City Desk team. Tips: tips@citydesk-news.com", 152340, 1203,
             datetime(2009, 2, 1, 22, 30, 13), "Chicago, IL"),
        U2: ("maria_k_news", "Maria K.", "retweets mostly. opinions my own", 843, 1950,
             datetime(2018, 6, 30, 2, 11, 46), None),                 # location ""
        U3: ("rustbelt_dan", "Dan \U0001F3D7", None, 2077, 388, datetime(2011, 7, 7, 19, 2, 54),
             "Gary, IN"),
    }


def test_v1_cli_reingest_is_all_duplicates(db):
    first = run("ingest", V1_DIR, db=db)
    assert first.exit_code == 0, first.output
    assert "total: read 14 = stored 6 + duplicates 6 + rejected 2" in first.output
    again = run("ingest", V1_LINES, db=db)
    assert again.exit_code == 0, again.output
    assert "(twitter-v1): read 7 = stored 0 + duplicates 6 + rejected 1" in again.output
    with Store(db, read_only=True) as s:
        assert rows(s, "SELECT count(*) FROM posts")[0][0] == 6


# -- API v2 (twarc2) -------------------------------------------------------------------------------
X, A1, C1, B1 = ("1496695934216970240", "1496699039996469249", "1496699161176969216",
                 "1496699848595345410")
B2, C2, A2, B3 = ("1496702675975671808", "1496703004526776321", "1496704437579177984",
                  "1496706481257975809")
GONE = "1496697061948403712"
UA, UB, UC, UD = "1351234567890123777", "2882812044", "1288442108812345344", "1119283745"


def v2_pages() -> list[dict]:
    return [json.loads(line) for line in V2_PAGES.read_text().splitlines()]


def v2_included(tid: str) -> dict:
    for page in v2_pages():
        for t in page["includes"]["tweets"]:
            if t["id"] == tid:
                return t
    raise KeyError(tid)


@pytest.fixture
def v2_store(store: Store) -> Store:
    swarmscope.ingest(store, [V2_PAGES])
    return store


def test_v2_pages_one_record_per_tweet_in_data(store):
    pages = v2_pages()
    n = sum(len(p["data"]) for p in pages)
    assert len(pages) == 2 and n == 7
    report = swarmscope.ingest(store, [V2_PAGES])
    assert counts(report) == [(V2_PAGES.name, "twitter-v2", n, n, 0, 0)]
    assert {r[0] for r in rows(store, "SELECT post_id FROM posts")} == \
        {t["id"] for p in pages for t in p["data"]}
    # referenced tweets in includes (X, A1 as seen by others) are not records themselves
    assert rows(store, "SELECT count(*) FROM posts WHERE post_id = ?", X)[0][0] == 0


def test_v2_flat_detected_and_same_as_pages(tmp_path):
    tables = {}
    for name, path in (("pages", V2_PAGES), ("flat", V2_FLAT)):
        with Store(tmp_path / f"{name}.duckdb") as s:
            report = swarmscope.ingest(s, [path])
            assert counts(report) == [(path.name, "twitter-v2", 7, 7, 0, 0)]
            tables[name] = (
                rows(s, "SELECT * EXCLUDE (source_file, run_id) FROM posts ORDER BY post_id"),
                rows(s, "SELECT * FROM entities ORDER BY ALL"),
                rows(s, "SELECT * EXCLUDE (run_id) FROM accounts ORDER BY account_id"))
    assert len(V2_FLAT.read_text().splitlines()) == 7
    assert tables["pages"] == tables["flat"]


def test_v2_kinds_and_parents(v2_store):
    assert post_map(v2_store, "kind, parent_post_id, parent_account_id, quoted_post_id, "
                              "account_id") == {
        A1: ("post", None, None, None, UA),
        C1: ("repost", X, UD, None, UC),
        B1: ("reply", A1, UA, None, UB),
        B2: ("quote", A1, None, A1, UB),
        C2: ("repost", A1, UA, None, UC),
        A2: ("reply", B2, UB, X, UA),          # replies to B2 and quotes X
        B3: ("repost", GONE, None, None, UB),  # the retweeted tweet is gone (page errors)
    }


def test_v2_parent_account_only_for_replies_and_reposts(store, tmp_path):
    flat = [json.loads(line) for line in V2_FLAT.read_text().splitlines()]
    (quote,) = [t for t in flat if t["id"] == B2]
    quote["in_reply_to_user_id"] = UA          # a quote that opens with @kyiv_watch
    path = tmp_path / "quote.jsonl"
    path.write_text(json.dumps(quote) + "\n")
    swarmscope.ingest(store, [path])
    assert post_map(store, "kind, parent_post_id, parent_account_id, quoted_post_id") == {
        B2: ("quote", A1, None, A1)}


def test_v2_retweet_text_is_the_original(v2_store):
    texts = {pid: t for pid, (t,) in post_map(v2_store, "text").items()}
    x = v2_included(X)
    assert texts[C1] == x["note_tweet"]["text"] and len(texts[C1]) > 280 >= len(x["text"])
    assert texts[C2] == v2_included(A1)["text"]
    own = {t["id"]: t["text"] for p in v2_pages() for t in p["data"]}
    assert own[C1].startswith("RT @global_newswire: ") and own[C1] != texts[C1]
    assert texts[B3] == own[B3]            # nothing else to take it from
    assert all(texts[k] == own[k] for k in (A1, B1, B2, A2))


def test_v2_millisecond_times_from_ids(v2_store):
    created = {t["id"]: datetime.strptime(t["created_at"], "%Y-%m-%dT%H:%M:%S.000Z")
               for p in v2_pages() for t in p["data"]}
    got = {pid: t for pid, (t,) in post_map(v2_store, "created_at").items()}
    for pid, t in got.items():
        assert t == snowflake_time(pid), pid
        assert t.replace(microsecond=0) == created[pid], pid
    assert got[B1] == datetime(2022, 2, 24, 4, 13, 45, 900000)
    assert got[A2] == datetime(2022, 2, 24, 4, 31, 59, 999000)


def test_v2_created_at_wins_when_the_id_disagrees(store, tmp_path):
    one = json.loads(V2_FLAT.read_text().splitlines()[0])
    assert one["id"] == B1
    one["created_at"] = "2022-02-24T05:13:45.000Z"
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(one) + "\n")
    swarmscope.ingest(store, [path])
    assert rows(store, "SELECT created_at FROM posts")[0][0] == datetime(2022, 2, 24, 5, 13, 45)


def test_v2_geo_lang_client(v2_store):
    got = post_map(v2_store, "latitude, longitude, lang, client")
    assert got[A1] == (50.4501, 30.5234, "en", "Twitter for iPhone")
    assert got[C1] == (None, None, "en", "Twitter for Android")


def test_v2_entities(v2_store):
    # C1 retweets a long (note) tweet: its hashtag and link are only in note_tweet.entities
    assert entity_map(v2_store, "hashtag") == {
        A1: ["standwithukraine", "kyiv"], C2: ["standwithukraine", "kyiv"], C1: ["ukraine"],
        B2: ["ukraine"]}
    reuters = "https://reuters.com/world/europe/live-ukraine-2022-02-24/"
    photo = f"https://twitter.com/kyiv_watch/status/{A1}/photo/1"
    assert entity_map(v2_store, "url") == {
        A1: [reuters, photo], C2: [reuters, photo],
        C1: ["https://globalnewswire.com/live/ukraine-2022-02-24"],
        B2: [f"https://twitter.com/kyiv_watch/status/{A1}"],
        A2: [f"https://twitter.com/global_newswire/status/{X}"]}
    assert entity_map(v2_store, "domain") == {
        A1: ["reuters.com", "twitter.com"], C2: ["reuters.com", "twitter.com"],
        C1: ["globalnewswire.com"], B2: ["twitter.com"], A2: ["twitter.com"]}
    assert entity_map(v2_store, "mention") == {
        B1: [UA], B2: [UA], A2: [UB], B3: ["1405061224510992385"]}
    key = v2_included(A1)["attachments"]["media_keys"][0]
    # the retweet C2 shows the photo of the tweet it retweets
    assert entity_map(v2_store, "media") == {A1: [key], C2: [key]}


def test_v2_mentions_without_ids_resolved_through_includes(store, tmp_path):
    """Older v2 data gave mentions as usernames only: the page's includes.users has the ids."""
    pages = v2_pages()
    for page in pages:
        for t in page["data"] + page["includes"]["tweets"]:
            for m in t.get("entities", {}).get("mentions", []):
                del m["id"]
                if m["username"] == "kyiv_watch":
                    m["username"] = "Kyiv_Watch"       # as typed in the tweet
    path = tmp_path / "old_pages.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pages))
    swarmscope.ingest(store, [path])
    assert entity_map(store, "mention") == {
        B1: [UA], B2: [UA], A2: [UB],
        B3: ["kyiv_local_news"]}        # not in includes.users: the username is all there is


def test_v2_accounts(v2_store):
    acc = {r[0]: r[1:] for r in rows(v2_store, """
        SELECT account_id, handle, display_name, followers, following, created_at,
               reported_location FROM accounts""")}
    # UD only appears in includes (author of a retweeted tweet): not an account record
    assert acc == {
        UA: ("kyiv_watch", "Kyiv Watch 🇺🇦", 20911, 301, datetime(2021, 1, 18, 19, 22, 5),
             "Kyiv, Ukraine"),
        UB: ("eu_desk_anna", "Anna | EU desk", 4410, 1287, datetime(2014, 11, 17, 9, 3, 41),
             "Brussels"),
        UC: ("truthseeker_88", "TruthSeeker", 61, 4980, datetime(2020, 7, 29, 11, 40, 2), None),
    }


def test_v2_cli_reingest_is_all_duplicates(db):
    first = run("ingest", V2_PAGES, V2_FLAT, db=db)
    assert first.exit_code == 0, first.output
    assert f"{V2_PAGES.name} (twitter-v2): read 7 = stored 7 + duplicates 0 + rejected 0" in \
        first.output
    assert f"{V2_FLAT.name} (twitter-v2): read 7 = stored 0 + duplicates 7 + rejected 0" in \
        first.output
    again = run("ingest", V2_DIR, db=db)
    assert again.exit_code == 0, again.output
    assert "total: read 14 = stored 0 + duplicates 14 + rejected 0" in again.output


def test_a_stream_capture_starting_with_notices_is_detected(tmp_path, db):
    """v1 stream captures often open with limit/delete notices; detection looks further."""
    src = HANDMADE / "twitter_v1" / "stream_2019-11-20.jsonl"
    tweets = [line for line in src.read_text().splitlines() if '"limit"' not in line]
    path = tmp_path / "capture.jsonl"
    path.write_text('{"limit": {"track": 5, "timestamp_ms": "1574208000000"}}\n'
                    '{"delete": {"status": {"id": 1, "id_str": "1", "user_id": 2}}}\n'
                    + "\n".join(tweets) + "\n")
    r = run("ingest", path, db=db)
    assert r.exit_code == 0, r.output
    assert "(twitter-v1): read" in r.output and "rejected 2" in r.output
