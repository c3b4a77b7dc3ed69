"""``telegram-desktop`` and ``tgdataset``: Telegram channels and groups.

``telegram-desktop`` reads the JSON that Telegram Desktop writes (Export chat history, JSON):
one object ``{name, type, id, messages: [...]}``, streamed message by message (see
:mod:`swarmscope.ingest.jsondoc`). A message's author is ``from_id`` (``user…``/``channel…``),
else the chat; ``date_unixtime`` is its time (``date`` is the exporting machine's local time,
read as UTC only where the epoch is missing). ``text`` is a string or a list of strings and
entity objects; the text is the flat ``text_entities`` joined, and its ``link``/``text_link``,
``mention``/``mention_name`` and ``hashtag`` entities are the post's links, mentions and
hashtags. ``reply_to_message_id`` makes a reply (in ``reply_to_peer_id``'s chat where given). A
forward (``forwarded_from``) is a repost of its source message where the export names it
(``forwarded_from_message_id``), else of the source chat or user (``forwarded_from_id``), else of
its text. Service messages (joins, pins) are rejected as such.

``tgdataset`` reads the layout of TGDataset (La Morgia et al., KDD 2025), collected with
Telethon: ``{channel_id: {username, title, description, creation_date, n_subscribers, …,
text_messages: {message_id: {message, date, is_forwarded, forwarded_from_id, …}},
generic_media: {message_id: {title, media_id, date, …}}}}``, streamed. A message with both a
text and a media entry is one record (the media id is its ``media`` entity); a forward is a
repost of its source (the source message's id is not in the layout); links, mentions and
hashtags are read from the text.

Ids: accounts and chats are their bare numeric ids (``channel123`` and ``user123`` are both
``123``, as in TGDataset, where a forward's source may be either); a post is
``<chat id>/<message id>``, as in ``t.me/c/<chat id>/<message id>`` links.
"""

import re

from swarmscope.ingest.jsonsql import json_text as s
from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader

#: The chat types of a single-chat export (Telegram Desktop's ``type``).
CHAT_TYPES = ("personal_chat", "bot_chat", "private_group", "private_supergroup",
              "public_supergroup", "private_channel", "public_channel", "saved_messages")


def bare_id(expr: str) -> str:
    """SQL: a Telegram peer id without its kind (``channel123``, ``user123``, ``-100123``)."""
    return f"nullif(regexp_replace({expr}, '^(user|channel|chat|-100|-)', ''), '')"


def _desktop(columns: list[str], _: dict) -> Mapping:
    m = "json_extract(json, '$.item')"
    chat = bare_id(s("json", "ctx[0].id"))
    author = f"coalesce({bare_id(s(m, 'from_id'))}, {chat})"
    fwd = f"({s(m, 'forwarded_from')} IS NOT NULL OR {s(m, 'forwarded_from_id')} IS NOT NULL)"
    source = bare_id(s(m, "forwarded_from_id"))
    reply = s(m, "reply_to_message_id")
    reply_chat = f"coalesce({bare_id(s(m, 'reply_to_peer_id'))}, {chat})"
    ents = f"json_extract({m}, '$.text_entities[*]')"

    def entities(*types: str, value: str = "$.text") -> str:
        kinds = ", ".join(f"'{t}'" for t in types)
        return (f"list_transform(list_filter({ents}, lambda e: json_extract_string(e, '$.type') "
                f"IN ({kinds})), lambda e: json_extract_string(e, '{value}'))")

    text = (f"nullif(CASE WHEN json_type({m}, '$.text') = 'VARCHAR' THEN {s(m, 'text')} "
            f"ELSE array_to_string(list_transform(json_extract({m}, '$.text[*]'), lambda t: "
            "CASE WHEN json_type(t) = 'VARCHAR' THEN json_extract_string(t, '$') "
            "ELSE json_extract_string(t, '$.text') END), '') END, '')")
    return Mapping(
        fields={
            "post_id": f"{chat} || '/' || {s(m, 'id')}",
            "account_id": author,
            "created_at": f"coalesce({timestamp_sql(s(m, 'date_unixtime'))}, "
                          f"{timestamp_sql(s(m, 'date'))})",
            "kind": f"CASE WHEN {fwd} THEN 'repost' WHEN {reply} IS NOT NULL THEN 'reply' "
                    "ELSE 'post' END",
            "text": text,
            "parent_post_id": f"CASE WHEN {fwd} THEN {source} || '/' || "
                              f"{s(m, 'forwarded_from_message_id')} "
                              f"WHEN {reply} IS NOT NULL THEN {reply_chat} || '/' || {reply} END",
            "parent_account_id": f"CASE WHEN {fwd} THEN {source} END",
            "display_name": f"coalesce({s(m, 'from')}, CASE WHEN {s(m, 'from_id')} IS NULL "
                            f"THEN {s('json', 'ctx[0].name')} END)",
        },
        entities={
            "url": f"list_concat({entities('link')}, {entities('text_link', value='$.href')})",
            "mention": f"list_concat(list_transform({entities('mention')}, lambda u: "
                       f"lower(ltrim(u, '@'))), {entities('mention_name', value='$.user_id')})",
            "hashtag": f"list_transform({entities('hashtag')}, lambda h: ltrim(h, '#＃'))",
        },
        time_raw=f"coalesce({s(m, 'date_unixtime')}, {s(m, 'date')})",
        time_field="date_unixtime", time_hint="epoch seconds (date_unixtime) or an ISO date",
        checks=[(f"json_type({m}) <> 'OBJECT'", "messages", "'not a JSON object'"),
                (f"{s(m, 'type')} = 'service'", "type",
                 f"'a service message (' || coalesce({s(m, 'action')}, '?') || '), not a post: "
                 "nothing to store'"),
                (f"{s(m, 'id')} IS NULL", "id", "'missing message id: every post needs an id'"),
                (f"{chat} IS NULL", "id", "'the export names no chat id (its top-level id)'")],
        excerpt=f"left(CAST({m} AS VARCHAR), 200)",
    )


#: TGDataset: one record per message, its text and media entries joined.
TGDATASET_SOURCE = """(
  SELECT min(_row) AS _row, min(_line) AS _line, any_value(channel) AS channel, chat, key,
         any_value(item) FILTER (WHERE section = 'text_messages') AS msg,
         any_value(item) FILTER (WHERE section = 'generic_media') AS media
  FROM (SELECT _row, _line, json_extract(json, '$.ctx[1]') AS channel,
               json_extract_string(json, '$.ctx[1]._key') AS chat,
               json_extract_string(json, '$.ctx[2]._key') AS section,
               json_extract_string(json, '$.key') AS key, json_extract(json, '$.item') AS item
        FROM scratch.raw)
  GROUP BY chat, key)"""


def _tgdataset(columns: list[str], _: dict) -> Mapping:
    either = "coalesce(msg, media)"
    text = s("msg", "message")
    source = s(either, "forwarded_from_id")
    return Mapping(
        source=TGDATASET_SOURCE,
        fields={
            "post_id": "chat || '/' || key",
            "account_id": "chat",
            "created_at": timestamp_sql(s(either, "date")),
            "kind": f"CASE WHEN {s(either, 'is_forwarded')} = 'true' "
                    "THEN 'repost' ELSE 'post' END",
            "text": text,
            "parent_account_id": f"CASE WHEN {s(either, 'is_forwarded')} = 'true' "
                                 f"THEN {source} END",
            "handle": s("channel", "username"),
            "display_name": s("channel", "title"),
            "description": s("channel", "description"),
            "account_created_at": timestamp_sql(s("channel", "creation_date")),
            "followers": f"TRY_CAST({s('channel', 'n_subscribers')} AS BIGINT)",
        },
        entities={
            "url": text_list_sql(text, URL_PATTERN, "http"),
            "hashtag": text_list_sql(text, HASHTAG_PATTERN, "#", "＃"),
            "mention": f"list_transform({text_list_sql(text, MENTION_PATTERN, '@', '＠')}, "
                       "lambda u: lower(u))",
            "media": f"[{s('media', 'media_id')}]",
        },
        time_raw=s(either, "date"), time_field="date", time_hint="epoch seconds",
        checks=[(f"json_type({either}) <> 'OBJECT'", "json", "'a message that is not a JSON "
                 "object'"),
                ("chat IS NULL OR NOT regexp_full_match(chat, '-?[0-9]+')", "channel_id",
                 "'not a channel id: ' || coalesce(left(chat, 40), 'none') || ' (the TGDataset "
                 "top-level keys are numeric channel ids)'")],
        excerpt=f"left(CAST({either} AS VARCHAR), 200)",
    )


_DESKTOP_HEAD = re.compile(r'\A\s*\{\s*(?:"(?:name|id)"\s*:\s*(?:"(?:[^"\\]|\\.)*"|-?\d+|null)'
                           r'\s*,\s*)*"type"\s*:\s*"(' + "|".join(CHAT_TYPES) + ')"')
_TGDATASET_HEAD = re.compile(r'\A\s*\{\s*"-?\d+"\s*:\s*\{\s*"username"\s*:')

DESKTOP = Reader(name="telegram-desktop",
                 summary="Telegram Desktop chat export (result.json, one channel or group)",
                 shape="json", default_platform="telegram", mapping=_desktop,
                 walk=("messages",), detect_head=lambda head: bool(_DESKTOP_HEAD.match(head)))
TGDATASET = Reader(name="tgdataset", summary="TGDataset channels (Telethon-collected JSON)",
                   shape="json", default_platform="telegram", mapping=_tgdataset,
                   walk=("*", frozenset({"text_messages", "generic_media"}), "*"),
                   detect_head=lambda head: bool(_TGDATASET_HEAD.match(head)))
