"""Evidence: the co-actions behind each edge of a flagged account, and behind each account
recruited by affiliation, as posts with timestamps; stored by key (accounts, posts, objects)
and read through :func:`detect_evidence`."""

from __future__ import annotations

from swarmscope.engine.sql import windowed_join
from swarmscope.store.backend import Backend
from swarmscope.store.schema import TABLES
from swarmscope.traces import stored_object_sql


def detect_evidence() -> str:
    """SQL: the rows of ``detect_evidence`` (stored by key) with the account and post ids, the
    objects and the posts' texts they name, in the columns of ``schema.DETECT_EVIDENCE``
    (``run_id, account_a, account_b, kind, window_s, object, post_a, ts_a, post_b, ts_b, dt_s,
    text_a, text_b, basis``): what every reader of the evidence selects from
    (``SELECT … FROM ({detect_evidence()}) v WHERE …``)."""
    return TABLES["detect_evidence"].read


def collect_evidence(db: Backend, alpha_pair: float, per_edge: int = 10) -> int:
    """Fill the temp table ``edge_evidence``: for every fused edge of a flagged account and each
    kind whose test passed the pair level there, the ``per_edge`` co-actions closest in time
    (within the window of the kind's strongest test), basis 'pair'; for every account recruited
    by affiliation (the temp table ``affiliation``), its ``per_edge`` co-actions with members of
    its cluster closest in time, in its strongest test, basis 'affiliation'. Returns the row
    count."""
    # every order ends on the posts and the object, so that ties are broken the same each run
    closest = ("QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY abs(r.ts - l.ts), l.ts, "
               f"l.post, r.post, l.object) <= {int(per_edge)}")
    d = db.dialect
    objects, object_joins = stored_object_sql("ev.object", "ev.kind")
    # the recruits' traces in their strongest test, and the members' traces of every cluster
    recruits = ("(SELECT f.account, f.cluster_id, f.kind, f.window_s, t.object, t.post, t.ts "
                "FROM affiliation f JOIN traces t ON t.kind = f.kind AND t.account = f.account)")
    members = ("(SELECT m.cluster_id, t.kind, t.account, t.object, t.post, t.ts FROM traces t "
               "JOIN cluster_members m ON m.account = t.account)")
    widest = int(1000 * (db.scalar("SELECT max(window_s) FROM affiliation") or 0))
    db.materialise("edge_evidence", f"""
        WITH best AS (
            SELECT t.a, t.b, t.kind, {d.arg_min('t.window_s', 't.p', 't.window_s')} AS window_s, min(t.p) AS p
            FROM pair_tests t JOIN fused_edges e ON e.a = t.a AND e.b = t.b
            WHERE t.p <= {alpha_pair} AND (
                e.a IN (SELECT account FROM account_scores WHERE flagged)
                OR e.b IN (SELECT account FROM account_scores WHERE flagged))
            GROUP BY ALL),
        events AS (
            SELECT b.a, b.b, b.kind, b.window_s, l.object, l.post AS post_a, l.ts AS ts_a,
                   r.post AS post_b, r.ts AS ts_b, 'pair' AS basis
            FROM best b
            JOIN traces l ON l.kind = b.kind AND l.account = b.a
            JOIN traces r ON r.kind = b.kind AND r.account = b.b AND r.object = l.object
                 AND abs(r.ts - l.ts) <= b.window_s * 1000
            {closest.format(by='b.a, b.b, b.kind')}
            UNION ALL
            SELECT * FROM (  -- one co-action per object, the closest member's
                SELECT l.account AS a, r.account AS b, l.kind, l.window_s, l.object,
                       l.post AS post_a, l.ts AS ts_a, r.post AS post_b, r.ts AS ts_b,
                       'affiliation' AS basis
                FROM {windowed_join(db, recruits, members, widest)}
                     AND r.kind = l.kind AND r.cluster_id = l.cluster_id
                     AND abs(r.ts - l.ts) <= l.window_s * 1000 AND r.account <> l.account
                QUALIFY row_number() OVER (PARTITION BY l.account, l.object
                                           ORDER BY abs(r.ts - l.ts), l.ts, l.post, r.post) = 1)
            QUALIFY row_number() OVER (PARTITION BY a ORDER BY abs(ts_b - ts_a), ts_a, post_a,
                                       post_b, object) <= {int(per_edge)})
        SELECT ev.a, ev.b, ev.kind, ev.window_s, {objects}, ev.post_a,
               {d.from_epoch_ms('ev.ts_a')} AS ts_a, ev.post_b, {d.from_epoch_ms('ev.ts_b')} AS ts_b,
               abs(ev.ts_b - ev.ts_a) / 1000 AS dt_s, ev.basis
        FROM events ev {object_joins}""")
    return db.scalar("SELECT count(*) FROM edge_evidence")
