"""Inputs of the bad-input corpus too big to keep in the repository, written on demand.

Each function takes the case's temporary folder and writes the files its ``case.toml`` names.
"""

from __future__ import annotations

from pathlib import Path

CNT_HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"


def cnt_rows(n: int, start: int = 0) -> str:
    """``n`` valid rows of the toolkit's CSV: account u{i % 50} reposting o{i % 97}."""
    return "".join(f"m{i},u{i % 50},user{i % 50},o{i % 97},,RT o{i % 97},{1341100800 + i},\n"
                   for i in range(start, start + n))


def _planted(case: Path, change) -> None:
    """``in.csv``: a small planted operation (``conftest.synthetic``: 100 independent accounts
    over 24 h, and g0..g7 reposting the same fresh objects within seconds), every row passed
    through ``change(row)`` (the toolkit's columns, as a list) first."""
    import csv
    from conftest import synthetic
    path = synthetic(case / "in.csv", seed=3, accounts=100, hours=24, group=8)
    with path.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *(change(r) for r in rows)])


def planted_template_markers(case: Path) -> None:
    """The group's posts and one handle read like the report template's markers."""
    def change(row: list[str]) -> list[str]:
        if row[1].startswith("g"):
            row[5] = "{{SCRIPT}} {{DATA}} {{STYLE}} " + row[5]
            row[2] = "{{SCRIPT}}" if row[1] == "g2" else row[2]
        return row
    _planted(case, change)


def planted_before_year_1(case: Path) -> None:
    """The group's first post dated in 4 BC (a negative epoch)."""
    dated: list[list[str]] = []

    def change(row: list[str]) -> list[str]:
        if row[1] == "g0" and not dated:
            row[6] = "-62235000000"
            dated.append(row)
        return row
    _planted(case, change)


def planted_control_handles(case: Path) -> None:
    """The group's handles hold control characters (an escape sequence, SOH)."""
    def change(row: list[str]) -> list[str]:
        if row[1].startswith("g"):
            row[2] = f"{row[1]}\x01\x1b[31m"
        return row
    _planted(case, change)


def corrupt_schema_version(case: Path) -> None:
    """``store.duckdb``: a swarmscope store whose schema version reads ``x4``."""
    from swarmscope import Store
    with Store(case / "store.duckdb") as store:
        store.con.execute("UPDATE meta SET value = 'x4' WHERE key = 'schema_version'")


def foreign_duckdb(case: Path) -> None:
    """``other.duckdb``: a DuckDB database of another application, with its own ``posts``."""
    import duckdb
    with duckdb.connect(str(case / "other.duckdb")) as con:
        con.execute("CREATE TABLE posts AS SELECT 1 AS id, 'theirs' AS body")


def control_chars_in_file_name(case: Path) -> None:
    """``dir/`` holding one valid file whose name sets the terminal's title and rings."""
    (case / "dir").mkdir()
    (case / "dir" / "posts\x1b]0;pwned\x07.csv").write_text(
        CNT_HEADER + cnt_rows(3), encoding="utf-8")
