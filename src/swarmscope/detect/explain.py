"""``explain``: one account's score, its strongest partners and the co-actions behind them,
for an account that joined a cluster by affiliation its co-actions with the members, and its
activity fingerprint."""

from __future__ import annotations

from swarmscope.errors import SwarmscopeError
from swarmscope.store import Store


def explain(store: Store, account: str, partners: int = 10, events: int = 3) -> dict:
    """The account's ``detect_accounts`` row, its ``partners`` strongest edges, and for each the
    ``events`` closest co-actions, and its ``detect_fingerprints`` row (``None`` without one).
    ``account`` is an account id or handle."""
    con = store.con
    try:
        rows = con.execute("""
            SELECT * FROM detect_accounts WHERE account_id = ? OR lower(handle) = lower(?)
            ORDER BY score DESC""", [account, account.lstrip("@")])
    except Exception:
        raise SwarmscopeError("no detection results in this store: run `swarmscope detect` "
                              "first") from None
    cols = [d[0] for d in rows.description]
    found = [dict(zip(cols, r)) for r in rows.fetchall()]
    if not found:
        raise SwarmscopeError(f"account {account!r} is not in the store's detection results")
    row = found[0]
    edge_rows = con.execute("""
        SELECT CASE WHEN account_a = ? THEN account_b ELSE account_a END AS partner, *
        FROM detect_edges WHERE (account_a = ? AND platform_a = ?)
                             OR (account_b = ? AND platform_b = ?)
        ORDER BY weight DESC LIMIT ?""", [row["account_id"], row["account_id"], row["platform"],
                                          row["account_id"], row["platform"], partners])
    ecols = [d[0] for d in edge_rows.description]
    edges = [dict(zip(ecols, r)) for r in edge_rows.fetchall()]
    for edge in edges:
        ev = con.execute("""
            SELECT kind, window_s, object, post_a, ts_a, post_b, ts_b, dt_s FROM detect_evidence
            WHERE account_a = ? AND account_b = ? AND basis = 'pair' ORDER BY dt_s, ts_a
            LIMIT ?""",
                         [edge["account_a"], edge["account_b"], events])
        edge["evidence"] = [dict(zip([d[0] for d in ev.description], r)) for r in ev.fetchall()]
    aff = con.execute("""
        SELECT account_b AS member, kind, window_s, object, post_a, ts_a, post_b, ts_b, dt_s
        FROM detect_evidence WHERE account_a = ? AND basis = 'affiliation'
        ORDER BY dt_s, ts_a LIMIT ?""", [row["account_id"], events * partners])
    affiliation = [dict(zip([d[0] for d in aff.description], r)) for r in aff.fetchall()]
    fingerprint = None
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                   "'detect_fingerprints'").fetchall()[0][0]:  # stores detected before it
        fp = con.execute("""
            SELECT * EXCLUDE (hour_of_week) FROM detect_fingerprints
            WHERE platform = ? AND account_id = ?""", [row["platform"], row["account_id"]])
        found = fp.fetchall()
        fingerprint = dict(zip([d[0] for d in fp.description], found[0])) if found else None
    return {"account": row, "edges": edges, "affiliation": affiliation,
            "fingerprint": fingerprint}
