"""Cut swarmscope's bundled demo data from ../shared/data (run from the repository root).

The demo is one busy week of real IRA troll activity (7 days from 2015-11-10) placed inside the
real organic Higgs Twitter week (1-7 July 2012): the IRA posts are shifted by a whole number of
days onto 2012-07-01, so each keeps its time of day. Nothing else is changed.

    python scripts/cut_demo_data.py [--data-dir ../shared/data]
"""

import argparse
import shutil
from pathlib import Path

import duckdb

OUT = Path("src/swarmscope/demo_data")
IRA_START = "2015-11-10"
HIGGS_START = "2012-07-01"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    data = Path(ap.parse_args().data_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    shift_days = con.execute(f"SELECT DATE '{IRA_START}' - DATE '{HIGGS_START}'").fetchone()[0]
    con.execute(f"""
        COPY (SELECT * REPLACE (publish_date - INTERVAL {shift_days} DAY AS publish_date)
              FROM read_parquet('{data / "ira/ira_tweets.parquet"}')
              WHERE publish_date >= TIMESTAMP '{IRA_START}'
                AND publish_date < TIMESTAMP '{IRA_START}' + INTERVAL 7 DAY
              ORDER BY publish_date, author)
        TO '{OUT / "ira_week_2015-11-10_shifted.parquet"}' (FORMAT parquet, COMPRESSION zstd)""")
    shutil.copyfile(data / "higgs/higgs_activity.parquet", OUT / "higgs_activity.parquet")
    for name in sorted(OUT.glob("*.parquet")):
        n = con.execute(f"SELECT count(*) FROM '{name}'").fetchone()[0]
        print(f"{name}: {n:,} rows, {name.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
