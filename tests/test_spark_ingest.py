"""``ingest --engine spark`` against ``ingest --dataset`` on DuckDB, on real files: the same
dataset table by table (keys included), the same rejects and counts; a re-run stores nothing;
``detect --engine spark`` gives the same outputs on either dataset.

Spark runs ``local[2]`` in one session for the module; the commands are the real CLI (the
Spark ingest reuses the module's session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from swarmscope.store.dataset import DATASET_TABLES
from swarmscope.store.schema import TABLES
from tests.conftest import run

pytestmark = pytest.mark.spark

CNT = "fixtures/coordination_network_toolkit/coretweet_test_input.csv"
CNT_SAMPLE = "fixtures/coordination_network_toolkit/sample_data.csv"
COORTWEET = "coortweet/russian_coord_tweets.csv.gz"
IO_ARCHIVE = "platforms/twitter_io_archive/speed_layer_sample.csv"
IO_ARCHIVE_2018 = "platforms/twitter_io_archive_iran_2018/iranian_unseen.csv"
#: The mapping docs/platforms/twitter_io_archive.md gives the 2018 Iranian sample: DuckDB SQL
#: (regular expressions, a snowflake shift) that Spark's tasks evaluate as DuckDB does.
IRAN_MAPS = ("--format", "table", "--platform", "twitter", "--map", "post_id=tweetid",
             "--map", "account_id=user_screen_name", "--map", "handle=user_screen_name",
             "--map", "created_at=(CAST(tweetid AS BIGINT) >> 22) + 1288834974657",
             "--map", "text=tweet_text", "--map", "account_created_at=account_creation_date",
             "--map", "followers=follower_count", "--map", "following=following_count",
             "--map", "description=user_profile_description",
             "--map", "reported_location=user_reported_location",
             "--map", r"hashtags=regexp_extract_all(tweet_text, '#(\w+)', 1)",
             "--map", r"mentions=regexp_extract_all(tweet_text, '@(\w+)', 1)",
             "--map", r"urls=regexp_extract_all(tweet_text, 'https?://[^\s…]+')",
             "--map", "label.bot_or_not=bot_or_not")
#: The table format without a post id: each row its own post, its id from its content.
ROW_MAPS = ("--format", "table", "--map", "account_id=user_id", "--map", "created_at=timestamp",
            "--map", "text=message", "--map", "urls=urls")


@pytest.fixture(scope="module")
def spark():
    from swarmscope.store.spark import spark_session
    session = spark_session("local[2]", {"spark.driver.memory": "2g",
                                         "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def ingest_both(tmp: Path, files: list[Path], *options: str) -> tuple[dict, dict]:
    """The files ingested by DuckDB (store and ``--dataset``) and by Spark; each ``--json``."""
    duck = run("ingest", *files, *options, "--dataset", tmp / "duck", "--json",
               db=tmp / "s.duckdb")
    spark = ingest_spark(tmp, files, *options)
    assert duck.exit_code == 0, duck.output
    return json.loads(duck.stdout), spark


def ingest_spark(tmp: Path, files: list[Path], *options: str, code: int = 0) -> dict:
    result = run("ingest", "--engine", "spark", "--master", "local[2]", *files, *options,
                 "--dataset", tmp / "spark", "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def table_rows(root: Path, table: str) -> list[tuple]:
    """A dataset table's rows (partition columns included), sorted."""
    cols = list(TABLES[table].types) + (["day"] if DATASET_TABLES[table] else [])
    files = [str(p) for p in (root / table).rglob("*.parquet")]
    rel = duckdb.read_parquet(files, hive_partitioning=bool(DATASET_TABLES[table]),
                              union_by_name=True)
    return sorted(rel.select(", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)).fetchall(),
                  key=lambda r: tuple("" if v is None else v for v in r))


def spark_rejects(root: Path) -> list[tuple]:
    files = [str(p) for p in (root / "_ingest" / "rejects").glob("*.parquet")]
    return sorted(duckdb.read_parquet(files).select("file, line, field, reason, excerpt")
                  .fetchall(), key=str) if files else []


def duck_rejects(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(con.execute("SELECT file, line, field, reason, excerpt FROM rejects")
                      .fetchall(), key=str)


def assert_same_ingest(tmp: Path, duck: dict, spark: dict) -> None:
    """Every table of both datasets equal; the rejects and each file's counts equal."""
    for table in DATASET_TABLES:
        assert table_rows(tmp / "spark", table) == table_rows(tmp / "duck", table), table
    assert spark_rejects(tmp / "spark") == duck_rejects(tmp / "s.duckdb")
    assert spark["files"] == duck["files"] and spark["failed"] == duck["failed"] == []
    for f in spark["files"]:
        assert f["read"] == f["stored"] + f["duplicates"] + f["rejected"] > 0


@pytest.mark.parametrize("source, options", [
    (CNT, ()), (CNT_SAMPLE, ()), (COORTWEET, ()), (IO_ARCHIVE, ()), (IO_ARCHIVE_2018, IRAN_MAPS),
    (CNT_SAMPLE, ROW_MAPS)], ids=["cnt", "cnt-sample", "coortweet", "io-archive",
                                  "table-iran-2018", "table-rows"])
def test_spark_writes_the_dataset_duckdb_writes(spark, shared, tmp_path, source, options):
    duck, sp = ingest_both(tmp_path, [shared / source], *options)
    assert_same_ingest(tmp_path, duck, sp)
