"""``meta-content-library``: Facebook and Instagram posts exported as CSV from the Meta Content
Library (its web interface's downloads, or the Content Library API's results written out with
one column per field), read by the API field names of Meta's public data dictionary (no real
export was found to test on).

Columns (any case; only ``id``, ``creation_time`` and ``post_owner.id`` are required): ``id``
(the post), ``creation_time`` (ISO 8601), ``text``, ``lang``, ``post_owner.id``, ``.name``,
``.username``, ``.type`` (a label, ``owner_type``), ``surface.id`` and ``surface.type`` (where a
Facebook post was made: a ``community`` entity ``<type>:<id>`` when that is not the owner's
own Page or profile), ``link_attachment.link`` (a link, with those in the text). Posts are
Facebook's unless ``--platform instagram`` says otherwise. An id in scientific notation
(``8.74512E+14``: the file went through a spreadsheet, which rounds long ids) is rejected.
"""

from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader, column_sql

REQUIRED = ("id", "creation_time", "post_owner.id")


def mapping(columns: list[str], _: dict) -> Mapping:
    col = column_sql(columns)
    text, owner, surface = col("text"), col("post_owner.id"), col("surface.id")
    return Mapping(
        fields={
            "post_id": col("id"),
            "account_id": owner,
            "created_at": timestamp_sql(col("creation_time")),
            "kind": "'post'",
            "text": text,
            "lang": col("lang"),
            "handle": col("post_owner.username"),
            "display_name": col("post_owner.name"),
        },
        entities={
            "url": f"list_filter(list_prepend({col('link_attachment.link')}, "
                   f"{text_list_sql(text, URL_PATTERN, 'http')}), lambda u: u IS NOT NULL)",
            "hashtag": text_list_sql(text, HASHTAG_PATTERN, "#", "＃"),
            "mention": text_list_sql(text, MENTION_PATTERN, "@", "＠"),
            "community": f"[CASE WHEN {surface} IS DISTINCT FROM {owner} THEN "
                         f"coalesce(lower({col('surface.type')}), 'surface') || ':' || {surface} END]",
        },
        labels={"owner_type": col("post_owner.type")},
        checks=[(f"regexp_full_match({col(name)}, '[0-9.]+[eE][+][0-9]+')", name,
                 f"'{name} in scientific notation: ' || {col(name)} || '; the export went "
                 "through a spreadsheet, which rounds long ids (distinct posts would merge): "
                 "export it again and read the CSV as it came'")
                for name in ("id", "post_owner.id")],
        time_raw=col("creation_time"), time_field="creation_time", time_hint="ISO 8601",
        excerpt=f"left(concat_ws(',', {col('id')}, {owner}, {col('creation_time')}, {text}), 200)",
    )


READER = Reader(name="meta-content-library", summary="Meta Content Library CSV export "
                "(Facebook; Instagram with --platform instagram)", shape="csv",
                default_platform="facebook", mapping=mapping, required=REQUIRED,
                signature=REQUIRED)
