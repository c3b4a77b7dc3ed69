"""Shift work: groups whose members each work a block of hours while the group covers the day.

Per group (a detect cluster), from its members' fingerprints and zones:

- ``coverage_hours``: UTC hours of the day in which the group posts at least a quarter of its
  mean hourly rate.
- Each member's block is its active span (the shortest run of hours with 90% of its posts); a
  member with a block of at most ``MAX_SHIFT_HOURS`` is a shift worker. Shift workers whose
  blocks start within ``SEGMENT_GAP_HOURS`` of each other (chained, round the clock) form a
  shift segment: its start is their most common start hour, its length their median block.
- ``shift_structure``: at least two segments, shift workers are at least half of the
  fingerprinted members, and both the segments' blocks and the group's activity cover at least
  ``FULL_DAY_HOURS`` hours.
- Hand-offs: at each segment's start hour b on each day, the previous segment posted in the two
  hours before b, the segment itself posts in the two hours after b, and the previous segment
  is silent from b + 2 h to b + 4 h. ``handoff_gap_min``: the incoming segment's first post
  minus the outgoing segment's last post around b (negative when they overlap).
- The group's zone: :func:`~swarmscope.signals.zones.infer_zones` on the rhythm of its
  best-staffed segment when it works shifts (the day shift of an office, as a rule the best
  staffed), else on the whole group's rhythm.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from swarmscope.store.backend import Backend
from swarmscope.signals.zones import MISMATCH_HOURS, MIN_FIT, infer_zones

MAX_SHIFT_HOURS = 10
SEGMENT_GAP_HOURS = 3
FULL_DAY_HOURS = 20
HANDOFF_WINDOW_S = 7200


def _segments(starts: np.ndarray) -> list[np.ndarray]:
    """Indices of ``starts`` (hours 0-23) grouped into runs whose neighbours are less than
    ``SEGMENT_GAP_HOURS`` apart on the 24-hour circle."""
    if len(starts) == 0:
        return []
    order = np.argsort(starts, kind="stable")
    s = starts[order]
    gaps = np.diff(np.append(s, s[0] + 24))  # gaps[i]: from s[i] to the next, wrapping
    if gaps.max() < SEGMENT_GAP_HOURS:
        return [order]
    first = (int(gaps.argmax()) + 1) % len(s)  # start after the widest gap
    order, gaps = np.roll(order, -first), np.roll(gaps, -first)
    cuts = np.flatnonzero(gaps[:-1] >= SEGMENT_GAP_HOURS) + 1
    return np.split(order, cuts)


def _handoffs(out_ts: np.ndarray, in_ts: np.ndarray, boundary_h: int,
              days: np.ndarray) -> tuple[int, float | None]:
    """Days with a hand-off from sorted times ``out_ts`` to sorted ``in_ts`` at ``boundary_h``
    UTC, and the median gap (minutes) between the last outgoing and first incoming post."""
    b = days * 86400 + boundary_h * 3600

    def count(ts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.searchsorted(ts, hi, "left") - np.searchsorted(ts, lo, "left")

    w = HANDOFF_WINDOW_S
    ok = ((count(out_ts, b - w, b) > 0) & (count(in_ts, b, b + w) > 0)
          & (count(out_ts, b + w, b + 2 * w) == 0))
    if not ok.any():
        return 0, None
    last_out = out_ts[np.searchsorted(out_ts, b[ok] + w, "left") - 1]
    first_in = in_ts[np.searchsorted(in_ts, b[ok] - w, "left")]
    return int(ok.sum()), float(np.median(first_in - last_out) / 60)


def _zone_row(hours: np.ndarray, claimed: float | None) -> dict:
    z = infer_zones(hours[None, :], np.array([np.nan if claimed is None else claimed]))
    row = {k: (None if (v[0] is None or (isinstance(v[0], float) and np.isnan(v[0])))
               else v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in z.items()}
    row["zone_mismatch"] = bool((row["zone_gap_hours"] or 0) >= MISMATCH_HOURS
                                and (row["zone_fit"] or 0) >= MIN_FIT
                                and (row["mismatch_strength"] or 0) > 0)
    return row


def shift_tables(db: Backend, groups: str) -> dict[str, pa.Table]:
    """Per group of ``groups`` (a relation ``(account, group_id)``): ``timing`` (one row per
    group), ``segments`` (one row per shift segment) and ``members`` (each shift worker's
    segment). Needs the temp tables ``fingerprints``, ``account_zones`` and
    ``activity``."""
    members = db.to_arrow(f"""
        SELECT g.group_id, g.account, f.posts, f.hour_of_day, z.active_start_utc,
               z.active_hours, z.claimed_offset
        FROM ({groups}) g JOIN fingerprints f USING (account)
        JOIN account_zones z USING (account) ORDER BY g.group_id, g.account""")
    sizes = dict(db.query(f"SELECT group_id, count(*) FROM ({groups}) GROUP BY ALL"))
    events = db.to_arrow(f"""
        SELECT g.group_id, a.account, a.ts FROM ({groups}) g JOIN activity a USING (account)
        ORDER BY g.group_id, a.ts""")
    ev_group = events.column("group_id").to_numpy()
    ev_acc, ev_ts = events.column("account").to_numpy(), events.column("ts").to_numpy()
    gid = members.column("group_id").to_numpy()
    acc = members.column("account").to_numpy()
    hours = np.array(members.column("hour_of_day").to_pylist(), float).reshape(-1, 24)
    start = members.column("active_start_utc").to_numpy()
    length = members.column("active_hours").to_numpy()
    claimed = members.column("claimed_offset").to_pylist()
    timing, segments, assigned = [], [], []
    for g in sorted(sizes):  # one iteration per group; the work inside is vectorised
        rows = np.arange(*np.searchsorted(gid, [g, g + 1]))  # both sorted by group
        h = hours[rows].sum(axis=0)
        coverage = int((h >= 0.25 * h.mean()).sum()) if h.sum() else 0
        shift = rows[length[rows] <= MAX_SHIFT_HOURS]
        segs = sorted(_segments(start[shift]),
                      key=lambda s: Counter(start[shift][s]).most_common(1)[0][0])
        covered = np.zeros(24, bool)
        seg_rows = []
        for s in segs:
            first = Counter(start[shift][s]).most_common(1)[0][0]
            span = int(np.median(length[shift][s]))
            covered[(first + np.arange(span)) % 24] = True
            seg_rows.append({"rows": shift[s], "start": int(first), "hours": span})
        structure = (len(segs) >= 2 and len(shift) >= 0.5 * len(rows)
                     and covered.sum() >= FULL_DAY_HOURS and coverage >= FULL_DAY_HOURS)
        staffed = max(seg_rows, key=lambda s: (len(s["rows"]), hours[s["rows"]].sum()),
                      default=None)
        votes = Counter(c for c in (claimed[i] for i in rows) if c is not None)
        claim = votes.most_common(1)[0][0] if votes else None
        zone = _zone_row(hours[staffed["rows"]].sum(axis=0) if structure else h, claim)
        lo, hi = np.searchsorted(ev_group, [g, g + 1])
        g_acc, g_ts = ev_acc[lo:hi], ev_ts[lo:hi]
        days = np.unique(g_ts // 86400).astype(np.int64)  # UTC days with posts
        total_handoffs = 0
        for k, seg in enumerate(seg_rows):
            prev = seg_rows[k - 1]
            n, gap = 0, None
            if structure:
                out_ts = np.sort(g_ts[np.isin(g_acc, acc[prev["rows"]])])
                in_ts = np.sort(g_ts[np.isin(g_acc, acc[seg["rows"]])])
                n, gap = _handoffs(out_ts, in_ts, seg["start"], days)
            total_handoffs += n
            off = zone["zone_offset"]
            segments.append({
                "group_id": g, "segment": k + 1, "start_utc": seg["start"],
                "end_utc": (seg["start"] + seg["hours"]) % 24, "hours": seg["hours"],
                "start_local": None if off is None else (seg["start"] + off) % 24,
                "end_local": None if off is None else (seg["start"] + seg["hours"] + off) % 24,
                "members": len(seg["rows"]),
                "posts_share": float(hours[seg["rows"]].sum() / max(h.sum(), 1)),
                "handoffs_in": n, "handoff_gap_min": gap})
            assigned.append(pa.table({"group_id": np.full(len(seg["rows"]), g),
                                      "account": acc[seg["rows"]],
                                      "segment": np.full(len(seg["rows"]), k + 1)}))
        timing.append({"group_id": g, "members": sizes[g], "fingerprinted": len(rows),
                       **zone, "claimed_offset": claim, "coverage_hours": coverage,
                       "shift_members": len(shift), "shift_segments": len(segs),
                       "shift_structure": bool(structure), "handoffs": total_handoffs,
                       "days": len(days)})
    return {"timing": pa.Table.from_pylist(timing, schema=_TIMING),
            "segments": pa.Table.from_pylist(segments, schema=_SEGMENTS),
            "members": pa.concat_tables([t.cast(_MEMBERS) for t in assigned])
            if assigned else _MEMBERS.empty_table()}


_TIMING = pa.schema([
    ("group_id", pa.int64()), ("members", pa.int64()), ("fingerprinted", pa.int64()),
    ("zone_offset", pa.float64()), ("zone_rhythm", pa.string()), ("zone_fit", pa.float64()),
    ("zone_gap_hours", pa.float64()), ("mismatch_strength", pa.float64()),
    ("zone_mismatch", pa.bool_()), ("claimed_offset", pa.float64()),
    ("coverage_hours", pa.int64()), ("shift_members", pa.int64()),
    ("shift_segments", pa.int64()), ("shift_structure", pa.bool_()), ("handoffs", pa.int64()),
    ("days", pa.int64())])
_SEGMENTS = pa.schema([
    ("group_id", pa.int64()), ("segment", pa.int64()), ("start_utc", pa.int64()),
    ("end_utc", pa.int64()), ("hours", pa.int64()), ("start_local", pa.float64()),
    ("end_local", pa.float64()), ("members", pa.int64()), ("posts_share", pa.float64()),
    ("handoffs_in", pa.int64()), ("handoff_gap_min", pa.float64())])
_MEMBERS = pa.schema([("group_id", pa.int64()), ("account", pa.int32()),
                      ("segment", pa.int64())])
