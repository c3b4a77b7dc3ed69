"""A planted three-shift operation in the real Higgs week: are its shifts, working zone and
hand-offs recovered? And does the same operation without shifts show none?

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/planted_shifts.py [--data-dir ../shared/data] [--work-dir DIR]
        [--members 45] [--seed 0]

Two scenarios, each a fresh store with the whole real Higgs week (``snap-higgs``, organic
background, 1-7 July 2012) and a planted operation written as a CSV and ingested with
``--format table``:

- ``shifts``: ``--members`` accounts claiming "Tehran, Iran" (UTC+3:30) that work 8-hour
  shifts in UTC+1 (day 09-17, evening 17-01, night 01-09 local; staffed 40/33/27%; each day
  each comes 20-40 min early and leaves 20-40 min late: crews overlap at hand-over). While on
  duty each posts at 4 per hour: 70% reposts of the operation's current target post (a new one
  every 10 minutes, so colleagues on duty repost it within minutes of each other), 30% posts
  with the day's campaign hashtags (shared by every shift).
- ``control``: the same accounts, rates and co-actions, each active round the clock.

Each scenario runs ``swarmscope detect`` with its defaults and prints one JSON line: the
operation (clusters joined by edges, see ``swarmscope.signals.operations``) holding most planted
accounts, its clusters, its inferred zone against the claimed one, shift segments (UTC and
local), hand-offs, how many Higgs accounts share it, and zone mismatches among Higgs accounts.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_DIR, HIGGS, HIGGS_START_EPOCH, emit, fresh, swarmscope  # noqa: E402

T0 = HIGGS_START_EPOCH  # 2012-07-01 00:00 UTC, the first day of the Higgs week
#: the CLI of the Python running this script
CLI = [sys.executable, "-m", "swarmscope"]
DAYS = 7
ZONE = 1  # the operation's working zone (UTC+1)
SHIFTS_LOCAL = (9, 17, 1)  # day, evening, night shift starts, local time
STAFF = (0.4, 0.33, 0.27)
RATE_PER_HOUR = 4.0
HANDOVER_S = (1200, 2400)  # a crew comes 20-40 min early and leaves 20-40 min late
CLAIM = "Tehran, Iran"
MAPS = ["post_id=post_id", "account_id=account_id", "created_at=created_at", "kind=kind",
        "parent_post_id=parent_post_id", "hashtags=hashtags",
        "reported_location=reported_location"]


def plant(path: Path, members: int, *, shifts: bool = True, days: int = DAYS,
          seed: int = 0) -> dict[str, int]:
    """Write the planted operation as a CSV (columns ``MAPS`` names); returns each account's
    shift (0 day, 1 evening, 2 night; all 0 without shifts)."""
    rng = np.random.default_rng(seed)
    sizes = np.round(np.array(STAFF[:2]) * members).astype(int)
    crew = (np.repeat([0, 1, 2], [*sizes, members - sizes.sum()]) if shifts
            else np.zeros(members, int))
    roster = {f"op{i:03d}": int(c) for i, c in enumerate(crew)}
    rows = []
    for account, c in roster.items():
        for day in range(days):
            if shifts:
                early, late = rng.uniform(*HANDOVER_S, 2)
                start = T0 + day * 86400 + ((SHIFTS_LOCAL[c] - ZONE) % 24) * 3600 - early
                span = 8 * 3600 + early + late
                ts = start + rng.uniform(0, span, rng.poisson(RATE_PER_HOUR * span / 3600))
            else:
                ts = T0 + day * 86400 + rng.uniform(0, 86400, rng.poisson(RATE_PER_HOUR * 8))
            for t in np.sort(ts).astype(np.int64):
                if rng.uniform() < 0.7:
                    rows.append((account, t, "repost", f"op-target-{(t - T0) // 600}", ""))
                else:
                    tags = rng.choice(3, size=rng.integers(1, 3), replace=False)
                    rows.append((account, t, "post", "",
                                 " ".join(f"campaign{(t - T0) // 86400}x{k}" for k in tags)))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["post_id", "account_id", "created_at", "kind", "parent_post_id", "hashtags",
                     "reported_location"])
        for i, (account, t, kind, parent, tags) in enumerate(rows):
            w.writerow([f"op-post-{i}", account, t, kind, parent, tags, CLAIM])
    return roster


def scenario(name: str, args: argparse.Namespace) -> dict:
    work = Path(args.work_dir) / name
    work.mkdir(parents=True, exist_ok=True)
    db, planted = work / "store.duckdb", work / "planted.csv"
    fresh(db)
    roster = plant(planted, args.members, shifts=name == "shifts", seed=args.seed)
    clock = time.perf_counter()
    swarmscope(CLI, db, "ingest", str(Path(args.data_dir) / HIGGS))
    swarmscope(CLI, db, "ingest", str(planted), "--format", "table",
               *[x for m in MAPS for x in ("--map", m)])
    swarmscope(CLI, db, "detect", "--out", str(work / "out"))
    seconds = time.perf_counter() - clock
    con = duckdb.connect(str(db), read_only=True)
    ops = list(roster)
    best = con.execute("""
        SELECT operation_id, count(*) FILTER (WHERE account_id IN (SELECT unnest(?))) AS planted,
               count(*) FILTER (WHERE account_id NOT IN (SELECT unnest(?))) AS others
        FROM detect_fingerprints WHERE operation_id IS NOT NULL GROUP BY ALL
        ORDER BY planted DESC LIMIT 1""", [ops, ops]).fetchall()
    out = {"scenario": name, "planted": len(ops), "seconds": round(seconds, 1)}
    if not best:
        return {**out, "operation": None}
    cid, in_cluster, others = best[0]
    cols = ("clusters", "zone_offset", "zone_rhythm", "zone_fit", "claimed_offset", "zone_gap_hours",
            "mismatch_strength", "zone_mismatch", "coverage_hours", "shift_members",
            "shift_segments", "shift_structure", "handoffs", "days", "bloc_similarity")
    timing = dict(zip(cols, con.execute(f"SELECT {', '.join(cols)} FROM detect_operations "
                                        "WHERE operation_id = ?", [cid]).fetchall()[0]))
    segments = [dict(zip(("start_utc", "end_utc", "start_local", "end_local", "members",
                          "handoffs_in", "handoff_gap_min"), r)) for r in con.execute("""
        SELECT start_utc, end_utc, start_local, end_local, members, handoffs_in,
               round(handoff_gap_min, 1) FROM detect_shifts WHERE operation_id = ?
        ORDER BY segment""", [cid]).fetchall()]
    # members' true crew against their recovered segment (only meaningful with shifts)
    assigned = con.execute("""SELECT account_id, shift_segment FROM detect_fingerprints
                              WHERE operation_id = ? AND shift_segment IS NOT NULL""",
                           [cid]).fetchall()
    agree = sum(1 for a, seg in assigned if a in roster
                and sum(1 for b, s in assigned if b in roster and s == seg
                        and roster[b] == roster[a]) == sum(1 for b, s in assigned if s == seg))
    day_zone = con.execute("""SELECT median(zone_offset), count(*) FROM detect_fingerprints
        WHERE account_id IN (SELECT unnest(?)) AND zone_rhythm = 'office'""",
                           [[a for a, c in roster.items() if c == 0]]).fetchall()[0]
    higgs_mismatch = con.execute("""SELECT count(*) FILTER (WHERE zone_mismatch), count(*)
        FROM detect_fingerprints WHERE NOT starts_with(account_id, 'op')""").fetchall()[0]
    con.close()
    return {**out, "operation": cid, "planted_in_operation": in_cluster,
            "higgs_in_operation": others,
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in timing.items()},
            "segments": segments,
            "members_in_pure_segments": agree, "members_in_segments": len(assigned),
            "day_shift_office_zone_median": day_zone[0], "day_shift_office_fits": day_zone[1],
            "higgs_fingerprinted": higgs_mismatch[1], "higgs_mismatches": higgs_mismatch[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--work-dir", default="bench/out/planted_shifts")
    p.add_argument("--members", type=int, default=45)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for name in ("shifts", "control"):
        emit(scenario(name, args))


if __name__ == "__main__":
    main()
