"""``coortweet``: CooRTweet's four-column share table (Righetti & Balluff, CCR 7(1) 2025).

A row is one *share*: post ``content_id`` by ``account_id`` at ``timestamp_share`` (epoch
seconds) shared object ``object_id``. A post sharing several objects spans several rows: it is
stored once, with one ``object`` entity per shared object. A row is a duplicate only when its
(post, object) pair is already stored.
"""

from swarmscope.ingest.normalize import timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

REQUIRED = ("object_id", "account_id", "content_id", "timestamp_share")


def mapping(columns: list[str], _: dict) -> Mapping:
    return Mapping(
        fields={
            "post_id": "content_id",
            "account_id": "account_id",
            "created_at": timestamp_sql("timestamp_share"),
            "kind": "'post'",
        },
        entities={"object": "[CAST(object_id AS VARCHAR)]"},
        record_key="post_id || chr(31) || coalesce(CAST(object_id AS VARCHAR), '')",
        time_raw="timestamp_share", time_field="timestamp_share", time_hint="epoch seconds",
        checks=[("object_id IS NULL OR trim(CAST(object_id AS VARCHAR)) = ''", "object_id",
                 "'missing object id: a share needs the object it shares'")],
    )


READER = Reader(
    name="coortweet", summary="CooRTweet share table (object_id, account_id, content_id, "
    "timestamp_share)", shape="csv-or-parquet", default_platform="unknown", mapping=mapping,
    required=REQUIRED, signature=REQUIRED)
