"""``ingest --engine spark`` against ``ingest --dataset`` on DuckDB, on real files: the same
dataset table by table (keys included), the same rejects and counts; a re-run stores nothing;
``detect --engine spark`` gives the same outputs on either dataset.

Spark runs ``local[2]`` in one session for the module; the commands are the real CLI (the
Spark ingest reuses the module's session)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from swarmscope.store.dataset import COMMIT_RECORD, DATASET_TABLES, STAGING
from swarmscope.store.schema import TABLES
from tests.conftest import HANDMADE, run

pytestmark = pytest.mark.spark

CNT = "fixtures/coordination_network_toolkit/coretweet_test_input.csv"
CNT_SAMPLE = "fixtures/coordination_network_toolkit/sample_data.csv"
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
#: The toolkit's columns read by the table format (which also reads Parquet).
TABLE_MAPS = ("--format", "table", "--map", "post_id=message_id", "--map", "account_id=user_id",
              "--map", "handle=username", "--map", "created_at=timestamp",
              "--map", "text=message", "--map", "urls=urls")
#: The table format without a post id: each row its own post, its id from its content.
ROW_MAPS = ("--format", "table", "--map", "account_id=user_id", "--map", "created_at=timestamp",
            "--map", "text=message", "--map", "urls=urls")


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
    (CNT, ()), (IO_ARCHIVE, ()), (IO_ARCHIVE_2018, IRAN_MAPS), (CNT_SAMPLE, ROW_MAPS)],
    ids=["cnt", "io-archive", "table-iran-2018", "table-rows"])
def test_spark_writes_the_dataset_duckdb_writes(spark, shared, tmp_path, source, options):
    duck, sp = ingest_both(tmp_path, [shared / source], *options)
    assert_same_ingest(tmp_path, duck, sp)


def _edited_cnt(shared: Path, tmp: Path) -> Path:
    """The toolkit's fixture with a bad time on line 3, line 5 repeated as line 17 (a
    duplicate) and line 6's post repeated with another text as line 18 (a conflict)."""
    lines = (shared / CNT).read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[2] = lines[2].replace(",59,", ",fifty-nine,")
    conflict = lines[5].replace("Example tweet", "Another tweet")
    out = tmp / "edited.csv"
    out.write_text("".join(lines + [lines[4], conflict]), encoding="utf-8")
    return out


def test_bad_records_are_rejected_naming_file_line_and_field(spark, shared, tmp_path):
    """A bad time, a duplicate and a conflicting record: the same rejects (file, line, field,
    reason, excerpt) and counts on both engines."""
    edited = _edited_cnt(shared, tmp_path)
    duck, sp = ingest_both(tmp_path, [edited])
    assert_same_ingest(tmp_path, duck, sp)
    [counts] = sp["files"]
    assert (counts["read"], counts["duplicates"], counts["rejected"]) == (17, 1, 2)
    rejects = {(line, field): reason for _, line, field, reason, _ in spark_rejects(
        tmp_path / "spark")}
    assert rejects[(3, "timestamp")].startswith("unparseable timestamp: fifty-nine")
    assert rejects[(18, "text")].startswith("conflicting record: post 4 is already read")


def test_a_malformed_record_is_rejected_with_its_line(spark, shared, tmp_path):
    """A record that Spark's parser cannot split into the header's columns is rejected, named
    by its physical line; the records after it are kept."""
    lines = (shared / CNT).read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\n") + ',extra,"columns"\n'
    bad = tmp_path / "malformed.csv"
    bad.write_text("".join(lines), encoding="utf-8")
    [counts] = ingest_spark(tmp_path, [bad])["files"]
    assert (counts["read"], counts["stored"], counts["rejected"]) == (15, 14, 1)
    [(_, line, field, reason, excerpt)] = spark_rejects(tmp_path / "spark")
    assert (line, field) == (5, None) and reason.startswith("malformed record")
    assert excerpt.startswith("3,uid3")


def test_detect_on_the_spark_dataset_answers_as_duckdb_on_its_store(spark, shared, tmp_path):
    """The toolkit's sample ingested by both engines (the same dataset, rejects and counts),
    then ``detect --engine spark`` on the dataset Spark ingested, and ``detect`` on the store
    DuckDB ingested the same file into: the same tables, row for row (the signals and
    signatures are DuckDB's only). Ingesting again stores nothing: the killed-ingest test.
    The sample's times have microseconds: both engines truncate them to milliseconds."""
    from tests.test_spark import _detect_tables, assert_same_table
    assert_same_ingest(tmp_path, *ingest_both(tmp_path, [shared / CNT_SAMPLE]))
    args = ("--kinds", "repost,link", "--window", "60")
    result = run("detect", *args, "--out", tmp_path / "out-duck", db=tmp_path / "s.duckdb")
    assert result.exit_code == 0, result.output
    result = run("detect", *args, "--engine", "spark", "--master", "local[2]", "--input",
                 tmp_path / "spark", "--out", tmp_path / "out-spark")
    assert result.exit_code == 0, result.output
    duck, sp = _detect_tables(tmp_path / "out-duck"), _detect_tables(tmp_path / "out-spark")
    assert duck["edges"].num_rows > 0 and "accounts" in sp
    for table in set(sp) - {"run"}:
        assert_same_table(duck[table], sp[table])


def test_formats_that_are_not_sql_say_to_use_duckdb(spark, shared, tmp_path):
    """A JSON format, named or detected, is refused with the way to ingest it."""
    osome = shared / "fixtures/osome_cs4_sample_hashed_tweets.json"
    for options in (("--format", "osome-hashed"), ()):
        result = run("ingest", "--engine", "spark", "--master", "local[2]", osome, *options,
                     "--dataset", tmp_path / "ds")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "ingest it with DuckDB" in result.output
    result = run("ingest", "--engine", "spark", shared / CNT)
    assert result.exit_code == 1 and "--dataset PATH" in result.output


def test_a_mapping_that_fails_on_a_value_names_the_file(spark, shared, tmp_path):
    """A --map expression that DuckDB cannot evaluate on some value (a CAST of text to an
    integer) fails the file with DuckDB's reason, as on DuckDB, not with a traceback."""
    maps = ("--format", "table", "--map", "account_id=user_id",
            "--map", "created_at=CAST(message AS INTEGER)")
    result = run("ingest", "--engine", "spark", "--master", "local[2]", shared / CNT, *maps,
                 "--dataset", tmp_path / "ds")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{shared / CNT}: cannot map its records as table" in result.output
    assert "Could not convert string" in result.output


def dataset_rows(root: Path) -> dict[str, list[tuple]]:
    return {table: table_rows(root, table) for table in DATASET_TABLES}


def ingest_log(root: Path) -> dict[int, tuple[list, list]]:
    """Each run's rejects and files (path, format, read, rejected) in ``_ingest``."""
    def rows(folder: str, cols: str) -> list[tuple]:
        files = [str(p) for p in (root / "_ingest" / folder).glob("*.parquet")]
        return duckdb.read_parquet(files).select(f"run_id, {cols}").fetchall() if files else []
    runs: dict[int, tuple[list, list]] = {}
    for part, folder, cols in ((0, "rejects", "file, line, field, reason, excerpt"),
                               (1, "files", "path, format, read, rejected")):
        for run_id, *row in rows(folder, cols):
            runs.setdefault(run_id, ([], []))[part].append(tuple(row))
    return {r: (sorted(a, key=str), sorted(b, key=str)) for r, (a, b) in runs.items()}


def ingest_killed_at(point: str, files: list[Path], dataset: Path, log: Path) -> None:
    """``ingest --engine spark`` in a process group of its own, paused at ``point`` (the hook
    :func:`swarmscope.store.dataset.pause_for_crash_test`) and killed there with SIGKILL to the
    group (the driver and its JVM)."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "swarmscope", "ingest", "--engine", "spark", "--master",
             "local[2]", "--spark-conf", "spark.sql.shuffle.partitions=2", *map(str, files),
             "--dataset", str(dataset)],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
            env={**os.environ, "SWARMSCOPE_PAUSE_AT": point})
    try:
        deadline = time.monotonic() + 180
        while f"paused at {point}" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the ingest never reached " + point
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_ingest_ends_as_an_uninterrupted_one(spark, shared, tmp_path):
    """A second run (the edited fixture: new accounts, posts, rejects, conflicts with the
    first run's sample) killed by SIGKILL on its process group, first with everything staged
    but no commit record: readers see nothing of it; then again (the next run discards that
    stage) after its commit record and first rename: detect refuses the dataset. The same
    command once more finishes the commit and stores nothing: every table equals the one
    DuckDB writes uninterrupted, keys included, and each run's rejects and counts are whole."""
    edited = _edited_cnt(shared, tmp_path)
    store = tmp_path / "s.duckdb"
    assert run("ingest", shared / CNT_SAMPLE, "--dataset", tmp_path / "duck",
               db=store).exit_code == 0
    shutil.copytree(tmp_path / "duck", tmp_path / "spark")
    duck = run("ingest", edited, "--dataset", tmp_path / "duck", "--json", db=store)
    assert duck.exit_code == 0, duck.output
    before = dataset_rows(tmp_path / "spark")
    staging = tmp_path / "spark" / STAGING
    ingest_killed_at("staged", [edited], tmp_path / "spark", tmp_path / "staged.log")
    [stage] = staging.iterdir()
    assert not (stage / COMMIT_RECORD).exists() and any(stage.rglob("*.parquet"))
    assert dataset_rows(tmp_path / "spark") == before
    ingest_killed_at("moving", [edited], tmp_path / "spark", tmp_path / "moving.log")
    assert [stage] == list(staging.iterdir()) and (stage / COMMIT_RECORD).exists()
    result = run("detect", "--engine", "spark", "--master", "local[2]", "--input",
                 tmp_path / "spark", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"killed while it put its files in place ({stage})" in result.output
    again = ingest_spark(tmp_path, [edited])
    assert [f["stored"] for f in again["files"]] == [0] and not any(staging.iterdir())
    assert dataset_rows(tmp_path / "spark") == dataset_rows(tmp_path / "duck")
    with duckdb.connect(str(store), read_only=True) as con:
        rejects = sorted(con.execute("SELECT file, line, field, reason, excerpt FROM rejects "
                                     "WHERE run_id = 2").fetchall(), key=str)
    files = [(f["path"], f["format"], f["read"], f["rejected"])
             for f in json.loads(duck.stdout)["files"]]
    assert rejects and ingest_log(tmp_path / "spark") == {2: (rejects, files),
                                                          3: (rejects, files)}


def renamed(tables: dict[str, list[tuple]], old: str, new: str) -> dict[str, list[tuple]]:
    """The tables with ``old`` replaced by ``new`` in every text value (a file's name)."""
    return {t: sorted((tuple(v.replace(old, new) if isinstance(v, str) else v for v in row)
                       for row in rows), key=lambda r: tuple("" if v is None else v for v in r))
            for t, rows in tables.items()}


def test_parquet_and_file_uris_read_as_csv_and_local_paths(spark, shared, tmp_path):
    """The edited fixture (a bad time, a duplicate, a conflict) as CSV and as Parquet (every
    column text, as DuckDB reads the CSV), each given to Spark as a ``file://`` URI with the
    dataset given as one too. From Parquet: the dataset, rejects (naming the row) and counts
    DuckDB writes from the same Parquet, and the dataset DuckDB writes from the CSV, the
    file's name aside. From the CSV behind a URI: the dataset DuckDB writes from the local
    CSV, its rejects naming the record's number (here the line less the header's)."""
    csv = _edited_cnt(shared, tmp_path)
    parquet = tmp_path / "edited.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}', all_varchar = true)) TO '{parquet}' "
               "(FORMAT parquet)")
    out = {}
    for name, source in (("csv", csv), ("parquet", parquet)):
        duck = run("ingest", source, *TABLE_MAPS, "--dataset", tmp_path / f"duck-{name}",
                   "--json", db=tmp_path / f"{name}.duckdb")
        assert duck.exit_code == 0, duck.output
        spark_ds = tmp_path / f"spark-{name}"
        result = run("ingest", "--engine", "spark", "--master", "local[2]", source.as_uri(),
                     *TABLE_MAPS, "--dataset", spark_ds.as_uri(), "--json")
        assert result.exit_code == 0, result.output
        sp, dk = json.loads(result.stdout), json.loads(duck.stdout)
        assert [dict(f, path=f["path"].replace(source.as_uri(), str(source)))
                for f in sp["files"]] == dk["files"]
        out[name] = (renamed(dataset_rows(spark_ds), source.as_uri(), str(source)),
                     dataset_rows(tmp_path / f"duck-{name}"),
                     sorted((tuple(v.replace(source.as_uri(), str(source))
                                   if isinstance(v, str) else v for v in r)
                             for r in spark_rejects(spark_ds)), key=str),
                     duck_rejects(tmp_path / f"{name}.duckdb"))
    spark_pq, duck_pq, spark_pq_rejects, duck_pq_rejects = out["parquet"]
    assert spark_pq == duck_pq and spark_pq_rejects == duck_pq_rejects
    assert {(line, field) for _, line, field, _, _ in spark_pq_rejects} == {
        (2, "created_at"), (17, "text")}
    spark_csv, duck_csv, spark_csv_rejects, duck_csv_rejects = out["csv"]
    assert renamed(duck_pq, str(parquet), str(csv)) == duck_csv == spark_csv
    assert spark_csv_rejects == sorted(((f, line - 1, *rest) for f, line, *rest
                                        in duck_csv_rejects), key=str)


def test_io_archive_users_as_on_duckdb(spark, tmp_path):
    """An IO-archive release (two tweets parts, one gzipped) and its users file, which adds
    and completes the tweets' accounts and their labels: the same dataset, rejects and counts
    on both engines."""
    io = HANDMADE / "io_archive"
    files = [io / "handmade_102016_tweets_csv_hashed_1.csv",
             io / "handmade_102016_tweets_csv_hashed_2.csv.gz",
             io / "handmade_102016_users_csv_hashed.csv"]
    duck, sp = ingest_both(tmp_path, files)
    assert_same_ingest(tmp_path, duck, sp)
    users = sp["files"][-1]
    assert users["format"] == "io-archive-users" and users["stored"] > 0
