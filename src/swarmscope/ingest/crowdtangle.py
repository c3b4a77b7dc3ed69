"""``crowdtangle`` and ``crowdtangle-api`` (and their ``-instagram`` twins): Facebook and
Instagram posts from CrowdTangle, as its dashboard's CSV exports (Historical Data, saved
searches) and as its API's ``/posts`` (and ``/posts/search``, ``/links``) responses.

CSV: the post id is the page id and post id of its ``URL``
(``facebook.com/<page>/posts/<post>`` -> ``<page>_<post>``, the API's ``platformId``), else the
URL itself; the account is ``Facebook Id``, else the page id in the URL, else ``User Name``,
else the page's name. ``Post Created`` is the dashboard's wall time with its zone abbreviation
(``2023-11-05 22:56:36 EST``); it is read in that zone (the abbreviations of :data:`ZONES`;
another is rejected). The text is ``Message`` (Facebook) or ``Description`` (Instagram, the
caption); links are ``Link``, ``Final Link`` and those in the text. ``Page Category`` and
``Page Admin Top Country`` become account labels. Every column but ``Post Created`` and ``URL``
may be missing (cut-down exports). A file is Facebook's when it has ``Message`` (Page and group
exports), Instagram's when it has ``Account`` instead.

API: the post id is ``platformId``, the account ``account.platformId``; ``date`` is UTC; links
are ``expandedLinks`` (expanded), ``link`` and those in the text. A post of the other platform
than the file's (detected from its first post) is rejected: split such files by platform.

CrowdTangle names no post that a post shares: shares are posts, and what they share is in
their links.
"""

from swarmscope.ingest.jsonsql import json_text as s, unnest_json
from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader, column_sql

#: Zone abbreviations the CrowdTangle dashboard writes, as minutes east of UTC (the US, Europe,
#: Japan, Korea, Australia, New Zealand; ambiguous ones such as IST are not read).
ZONES = {"UTC": 0, "GMT": 0, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420,
         "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
         "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180,
         "MSK": 180, "JST": 540, "KST": 540, "AWST": 480, "ACST": 570, "ACDT": 630,
         "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780}
POST_URL = r"facebook\.com/([0-9]+)/posts/([0-9]+)"


def zoned_time_sql(expr: str) -> str:
    """SQL: ``YYYY-MM-DD HH:MM[:SS] ZONE`` (a zone of :data:`ZONES`) as UTC; a time without a
    zone as :func:`timestamp_sql` reads it; NULL for an unknown zone."""
    zone = f"regexp_extract({expr}, '^\\S+ \\S+ ([A-Za-z]+)$', 1)"
    minutes = "CASE upper(" + zone + ") " + " ".join(
        f"WHEN '{z}' THEN {m}" for z, m in ZONES.items()) + " END"
    wall = (f"try_strptime(regexp_extract({expr}, '^(\\S+ \\S+)', 1), "
            "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M'])")
    return (f"CASE WHEN {zone} = '' THEN {timestamp_sql(expr)} "
            f"ELSE {wall} - to_minutes({minutes}) END")


def _csv_mapping(platform: str):
    def mapping(columns: list[str], _: dict) -> Mapping:
        col = column_sql(columns)
        url = col("URL")
        text = col("Message") if platform == "facebook" else col("Description")
        page_id = f"nullif(regexp_extract({url}, '{POST_URL}', 1), '')"
        name = f"coalesce({col('Page Name')}, {col('Account')}, {col('Group Name')})"
        return Mapping(
            fields={
                "post_id": f"coalesce(nullif(regexp_replace(regexp_extract({url}, '{POST_URL}'), "
                           f"'{POST_URL}', '\\1_\\2'), ''), {url})",
                "account_id": f"coalesce({col('Facebook Id')}, {page_id}, {col('User Name')}, {name})",
                "created_at": zoned_time_sql(col("Post Created")),
                "kind": "'post'",
                "text": text,
                "handle": col("User Name"),
                "display_name": name,
                "description": col("Page Description"),
                "account_created_at": zoned_time_sql(col("Page Created")),
                "followers": f"TRY_CAST(TRY_CAST({col('Followers at Posting')} AS DOUBLE) AS BIGINT)",
            },
            entities={
                "url": f"list_filter(list_concat([{col('Link')}, {col('Final Link')}], "
                       f"{text_list_sql(text, URL_PATTERN, 'http')}), lambda u: u IS NOT NULL)",
                "hashtag": text_list_sql(text, HASHTAG_PATTERN, "#", "＃"),
                "mention": text_list_sql(text, MENTION_PATTERN, "@", "＠"),
            },
            labels={"page_category": col("Page Category"),
                    "page_admin_top_country": col("Page Admin Top Country")},
            time_raw=col("Post Created"), time_field="Post Created",
            time_hint="YYYY-MM-DD HH:MM:SS and a zone abbreviation (EST, CET, UTC, …)",
            excerpt=f"left(concat_ws(',', {name}, {col('Post Created')}, {url}), 200)",
        )
    return mapping


def _api_mapping(platform: str):
    def mapping(columns: list[str], _: dict) -> Mapping:
        text = f"coalesce({s('json', 'message')}, {s('json', 'description')})"
        links = ("coalesce(list_transform(json_extract(json, '$.expandedLinks[*]'), lambda l: "
                 "coalesce(json_extract_string(l, '$.expanded'), "
                 "json_extract_string(l, '$.original'))), [])")
        stated = s("json", "platform")
        return Mapping(
            source=unnest_json("scratch.raw", "json_extract(json, '$.result.posts[*]')"),
            fields={
                "post_id": s("json", "platformId"),
                "account_id": s("json", "account.platformId"),
                "created_at": timestamp_sql(s("json", "date")),
                "kind": "'post'",
                "text": text,
                "handle": s("json", "account.handle"),
                "display_name": s("json", "account.name"),
                "followers": f"TRY_CAST({s('json', 'account.subscriberCount')} AS BIGINT)",
            },
            entities={
                "url": f"list_filter(list_concat({links}, [{s('json', 'link')}], "
                       f"{text_list_sql(text, URL_PATTERN, 'http')}), lambda u: u IS NOT NULL)",
                "hashtag": text_list_sql(text, HASHTAG_PATTERN, "#", "＃"),
                "mention": text_list_sql(text, MENTION_PATTERN, "@", "＠"),
            },
            labels={"account_type": s("json", "account.accountType"),
                    "page_admin_top_country": s("json", "account.pageAdminTopCountry")},
            time_raw=s("json", "date"), time_field="date", time_hint="YYYY-MM-DD HH:MM:SS (UTC)",
            checks=[("json_exists(json, '$.status') OR json_exists(json, '$.result')", "result.posts",
                     "'API status ' || coalesce(json_extract_string(json, '$.status'), '?') || "
                     "', no posts: ' || coalesce(left(json_extract_string(json, '$.message'), "
                     "200), 'no message')"),
                    (f"lower({stated}) <> '{platform}'", "platform",
                     f"'a post of another platform than the file''s ({platform}, its first "
                     "post''s): split the file by platform (jq) and ingest each part; this one is "
                     f"' || {stated}")],
            excerpt=f"left(concat_ws(' ', {s('json', 'platformId')}, {s('json', 'account.name')}, "
                    f"{text}), 200)",
        )
    return mapping


def _api_platform(obj: dict) -> str | None:
    """``facebook`` or ``instagram`` for a CrowdTangle API page or post (its first post's
    platform), None for anything else."""
    result = obj.get("result")
    if isinstance(result, dict) and isinstance(result.get("posts"), list):
        posts = result["posts"]
        obj = posts[0] if posts and isinstance(posts[0], dict) else {"platform": "Facebook"}
    elif not ("platformId" in obj and isinstance(obj.get("account"), dict)):
        return None
    return "instagram" if str(obj.get("platform")).lower() == "instagram" else "facebook"


def _readers(platform: str, suffix: str) -> tuple[Reader, Reader]:
    name = "Instagram" if suffix else "Facebook"
    csv = Reader(name="crowdtangle" + suffix, summary=f"CrowdTangle {name} CSV export",
                 shape="csv", default_platform=platform, mapping=_csv_mapping(platform),
                 required=("post created", "url"),
                 signature=("post created", "url") + (("message",) if platform == "facebook"
                                                      else ("account",)))
    api = Reader(name="crowdtangle-api" + suffix, summary=f"CrowdTangle API {name} posts (JSON)",
                 shape="json", default_platform=platform, mapping=_api_mapping(platform),
                 detect_json=lambda obj: _api_platform(obj) == platform)
    return csv, api


CSV, API = _readers("facebook", "")
CSV_INSTAGRAM, API_INSTAGRAM = _readers("instagram", "-instagram")
