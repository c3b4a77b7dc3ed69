"""``explain``: one account's score, its strongest partners and the co-actions behind them,
for an account that joined a cluster by affiliation its co-actions with the members, and its
activity fingerprint."""

from __future__ import annotations

import json

from swarmscope.detection.evidence import detect_evidence
from swarmscope.errors import SwarmscopeError
from swarmscope.params import TEXT, Interval, validate
from swarmscope.store import Store
from swarmscope.store.sql import shown_time

#: The co-actions' times as text (as every time explain returns): any stored time, even one
#: before year 1, which no Python datetime holds.
TIMES = f"{shown_time('ts_a')} AS ts_a, post_b, {shown_time('ts_b')} AS ts_b"


def explain(store: Store, account: str, partners: int = 10, events: int = 3,
            run: int | None = None) -> dict:
    """In detect run ``run`` (default: the one the store shows, the latest unless
    :meth:`Store.use_run` chose another): the account's ``detect_accounts`` row, its
    ``partners`` strongest edges, and for each the ``events`` closest co-actions with both
    posts' texts, and its ``detect_fingerprints`` row (``None`` without one). ``account`` is
    an account id or handle. A ``sync`` co-action's object is its time bin, shown as the
    bin's start (``2012-07-04 10:11 UTC``)."""
    validate("explain", {"account": account, "partners": partners, "events": events},
             {"account": [TEXT], "partners": [Interval(1, None, integer=True)],
              "events": [Interval(0, None, integer=True)]})
    db = store.db
    store.use_run(run if run is not None else store.run)
    parameters = json.loads(db.scalar("SELECT parameters FROM runs WHERE run_id = ?",
                                      [store.run]) or "{}")
    bin_s = float(parameters.get("traces", {}).get("sync_bin_seconds", 60))
    shown = (f"CASE WHEN kind = 'sync' AND TRY_CAST(object AS BIGINT) IS NOT NULL THEN "
             f"strftime(make_timestamp(CAST(object AS BIGINT) * {int(bin_s * 1e6)}), "
             f"'%Y-%m-%d %H:%M:%S UTC') ELSE object END AS object")
    columns = f"kind, window_s, {shown}, post_a, {TIMES}, dt_s, text_a, text_b"

    def rows(sql: str, params: list) -> list[dict]:
        return db.to_arrow(sql, params).to_pylist()

    found = rows("""SELECT * FROM detect_accounts WHERE account_id = ? OR lower(handle) = lower(?)
                    ORDER BY score DESC""", [account, account.lstrip("@")])
    if not found:
        raise SwarmscopeError(f"account {account!r} is not in the store's detection results")
    row = found[0]
    me = [row["account_id"], row["platform"]]
    edges = rows("""
        SELECT CASE WHEN account_a = ? THEN account_b ELSE account_a END AS partner, *
        FROM detect_edges WHERE (account_a = ? AND platform_a = ?)
                             OR (account_b = ? AND platform_b = ?)
        ORDER BY weight DESC LIMIT ?""", [row["account_id"], *me, *me, partners])
    for edge in edges:
        edge["evidence"] = rows(f"""
            SELECT {columns} FROM ({detect_evidence()}) v
            WHERE account_a = ? AND account_b = ? AND basis = 'pair'
            ORDER BY dt_s, v.ts_a LIMIT ?""",
            [edge["account_a"], edge["account_b"], events])
    affiliation = rows(f"""
        SELECT account_b AS member, {columns} FROM ({detect_evidence()}) v WHERE account_a = ? AND basis = 'affiliation'
        ORDER BY dt_s, v.ts_a LIMIT ?""", [row["account_id"], events * partners])
    fingerprint = None
    if db.has_table("detect_fingerprints", temporary=False):  # stores detected before it
        fp = rows(f"""SELECT * EXCLUDE (hour_of_week) REPLACE (
                          {shown_time('first_post')} AS first_post,
                          {shown_time('last_post')} AS last_post) FROM detect_fingerprints
                      WHERE account_id = ? AND platform = ?""", me)
        fingerprint = fp[0] if fp else None
    return {"run": store.run, "fdr": float(parameters.get("fdr", 0.01)), "account": row, "edges": edges, "affiliation": affiliation,
            "fingerprint": fingerprint}
