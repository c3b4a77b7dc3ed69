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
