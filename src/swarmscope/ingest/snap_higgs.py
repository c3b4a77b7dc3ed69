"""``snap-higgs``: SNAP's Higgs Twitter activity (De Domenico et al., Sci. Rep. 3:2980, 2013).

Rows ``user_a user_b ts RT|MT|RE`` (space-separated text, or Parquet with those columns): user_a
retweeted (RT), mentioned (MT) or replied to (RE) user_b at ``ts`` (epoch seconds). One post is
one (user_a, ts). Its kind is repost if any of its rows is RT, else reply if any is RE, else
post; its parent account is the RT target (the smallest id if several), else the RE target. MT
targets become mentions, and so do further RT/RE targets of the same post, so no row is lost.
"""

import re

from swarmscope.errors import UnusableInputError
from swarmscope.ingest.normalize import timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader
from swarmscope.ingest.sources import Dialect, InputFile, read_head

COLUMNS = ["user_a", "user_b", "ts", "interaction"]
_LINE = re.compile(r"^\d+ \d+ \d+ (RT|MT|RE)\r?$")


def looks_like(f: InputFile) -> bool:
    lines = read_head(f, 4096).splitlines()[:5]
    return bool(lines) and all(_LINE.match(x) for x in lines[:-1] or lines)


def mapping(columns: list[str], _: dict) -> Mapping:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise UnusableInputError(f"snap-higgs input lacks columns {', '.join(missing)}")
    source = """(
        SELECT r.*, g.kind, g.parent,
               CAST(r.user_a AS VARCHAR) || '-' || coalesce(CAST(r.ts AS VARCHAR), '') AS post_key
        FROM scratch.raw r JOIN (
            SELECT user_a, ts,
                   CASE WHEN bool_or(interaction = 'RT') THEN 'repost'
                        WHEN bool_or(interaction = 'RE') THEN 'reply' ELSE 'post' END AS kind,
                   coalesce(min(CAST(user_b AS VARCHAR)) FILTER (WHERE interaction = 'RT'),
                            min(CAST(user_b AS VARCHAR)) FILTER (WHERE interaction = 'RE')) AS parent
            FROM scratch.raw GROUP BY user_a, ts) g
          ON g.user_a IS NOT DISTINCT FROM r.user_a AND g.ts IS NOT DISTINCT FROM r.ts)"""
    return Mapping(
        source=source,
        fields={
            "post_id": "post_key",
            "account_id": "CAST(user_a AS VARCHAR)",
            "created_at": timestamp_sql("ts"),
            "kind": "kind",
            "parent_account_id": "parent",
        },
        entities={"mention": "CASE WHEN interaction = 'MT' OR CAST(user_b AS VARCHAR) <> parent "
                             "THEN [CAST(user_b AS VARCHAR)] ELSE [] END"},
        record_key="concat_ws(' ', user_a, user_b, ts, interaction)",
        time_raw="ts", time_field="ts", time_hint="epoch seconds",
        checks=[("interaction NOT IN ('RT', 'MT', 'RE') OR interaction IS NULL", "interaction",
                 "'unknown interaction: ' || coalesce(interaction, 'NULL') || "
                 "', expected RT, MT or RE'"),
                ("user_b IS NULL", "user_b", "'missing user_b: every row names the account acted on'")],
        excerpt="concat_ws(' ', user_a, user_b, ts, interaction)",
    )


READER = Reader(
    name="snap-higgs", summary="SNAP Higgs activity (user_a user_b ts RT|MT|RE)",
    shape="csv-or-parquet", default_platform="twitter", mapping=mapping,
    signature=("user_a", "user_b", "ts", "interaction"),
    dialect=lambda columns, delim: Dialect(tuple(COLUMNS), False, " "))
