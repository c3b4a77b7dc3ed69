"""The DuckDB engine: windowed self-joins over dictionary-encoded, sorted traces.

Every step is one SQL statement over temporary tables, so DuckDB streams, parallelises and
spills to ``temp_directory`` within ``memory_limit``. Objects that would produce more pairs than
``popular_pairs`` inside the window never enter the self-join (see :class:`PairParams`).
"""

from __future__ import annotations

import time

import duckdb

from swarmscope.engine import PairParams, PairsResult
from swarmscope.store import RESULT_TABLES

#: Traces per bucket (``object % buckets``; object keys are dense integers) when looking for
#: popular objects: far fewer than a popular object has.
TRACES_PER_BUCKET = 64

EMPTY_EVIDENCE = """
CREATE OR REPLACE TEMP TABLE pair_evidence (a INTEGER, b INTEGER, object BIGINT, pa BIGINT,
                                            pb BIGINT, ta BIGINT, tb BIGINT)"""


class DuckDBEngine:
    """Runs :class:`PairParams` on an open store connection."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def _run(self, step: str, sql: str, timings: dict[str, float]) -> None:
        start = time.perf_counter()
        self.con.execute(sql)
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start

    def pairs(self, p: PairParams, run_id: int) -> PairsResult:
        res = self.candidates(p, run_id)
        self._store(p, run_id, res)
        return res

    def candidates(self, p: PairParams, run_id: int) -> PairsResult:
        """Compute the edges into the temp table ``e`` (account keys ``a`` < ``b``) and the
        popular objects into ``popular``, without storing them."""
        res = PairsResult(run_id)
        t = res.seconds
        w = int(round(p.window * 1000))
        kind = p.kind.replace("'", "''")
        run = self._run
        participation = "" if p.semantics == "coortweet" or p.min_participation <= 1 else (
            f"AND account IN (SELECT account FROM traces WHERE kind = '{kind}' GROUP BY account "
            f"HAVING count(*) >= {p.min_participation})")
        run("load", f"""
            CREATE OR REPLACE TEMP VIEW t AS
            SELECT account, object, post, ts, rowid AS rid FROM traces
            WHERE kind = '{kind}' {participation}""", t)
        res.traces = self.con.execute("SELECT count(*) FROM t").fetchone()[0]
        self._popular(p, w, max(1, res.traces // TRACES_PER_BUCKET), t)
        if p.semantics == "sliding":
            self._sliding(p, w, t)
        elif p.semantics == "coortweet":
            self._coortweet(p, w, t)
        else:
            self._timefree(p, t)
        if p.semantics != "timefree":
            self._popular_events(w, t)
            if p.cosine:
                self._edge_cosine(t)
        return res

    # -- popular objects ---------------------------------------------------------------------
    def _popular(self, p: PairParams, w: int, buckets: int, t: dict[str, float]) -> None:
        """Objects whose windowed pairs would exceed ``popular_pairs`` (and, with a cap, those
        with too many accounts), in ``popular``; their traces in ``t_pop``, the others in the
        view ``tn``. Only objects with enough actions to possibly qualify are counted with the
        windowed range count, and only objects in a bucket (``object % buckets``) with that
        many actions are counted at all."""
        cap = p.max_object_accounts
        min_actions = int((2 * p.popular_pairs) ** 0.5)
        min_actions = min(min_actions, cap) if cap else min_actions
        window_pairs = ("actions * (actions - 1) // 2" if p.semantics == "timefree" else
                        "(sum(in_window) - actions) // 2")
        in_window = ("1" if p.semantics == "timefree" else
                     f"count(*) OVER (PARTITION BY object ORDER BY ts RANGE BETWEEN {w} PRECEDING "
                     f"AND {w} FOLLOWING)")
        self._run("popular", f"""
            CREATE OR REPLACE TEMP TABLE popular AS
            WITH heavy AS (
                SELECT object % {buckets} AS bucket FROM t GROUP BY bucket
                HAVING count(*) > {min_actions}),
            big AS (
                SELECT object FROM t WHERE object % {buckets} IN (SELECT bucket FROM heavy)
                GROUP BY object HAVING count(*) > {min_actions}),
            counted AS (
                SELECT object, account, ts, {in_window} AS in_window
                FROM t WHERE object IN (SELECT object FROM big)),
            stats AS (
                SELECT object, count(DISTINCT account) AS accounts, count(*) AS actions,
                       min(ts) AS first_ts, max(ts) AS last_ts,
                       CAST({window_pairs.replace('actions', 'count(*)')} AS HUGEINT) AS window_pairs
                FROM counted GROUP BY object)
            SELECT *, CASE WHEN {f'accounts > {cap}' if cap else 'false'} THEN 'capped'
                           ELSE 'aggregated' END AS mode
            FROM stats WHERE {f'accounts > {cap} OR ' if cap else ''}window_pairs > {p.popular_pairs}
            """, t)
        any_popular = self.con.execute("SELECT count(*) FROM popular").fetchone()[0] > 0
        self._run("popular", f"""
            CREATE OR REPLACE TEMP TABLE t_pop AS
            SELECT t.* FROM t JOIN popular USING (object) WHERE popular.mode = 'aggregated';
            CREATE OR REPLACE TEMP VIEW tn AS SELECT * FROM t
            {'WHERE object NOT IN (SELECT object FROM popular)' if any_popular else ''};""", t)

    # -- semantics ---------------------------------------------------------------------------
    def _sliding(self, p: PairParams, w: int, t: dict[str, float]) -> None:
        loops = " OR (l.account = r.account AND l.rid <> r.rid)" if p.keep_loops else ""
        self._aggregate(p, f"""
            SELECT l.account AS a, r.account AS b, l.object, l.post AS pa, r.post AS pb,
                   l.ts AS ta, r.ts AS tb
            FROM tn l JOIN tn r ON l.object = r.object
                 AND r.ts BETWEEN l.ts - {w} AND l.ts + {w}
                 AND (l.account < r.account{loops})""", t, weight="greatest(a_actions, b_actions)")

    def _coortweet(self, p: PairParams, w: int, t: dict[str, float]) -> None:
        mp = p.min_participation
        loops = "" if p.keep_loops else (
            "AND NOT l.self_share AND NOT r.self_share AND l.account <> r.account")
        self._run("pairs", f"""
            CREATE OR REPLACE TEMP TABLE rows1 AS
            SELECT tn.*, o.value = ps.post_id AS self_share FROM tn
            JOIN trace_objects o ON o.kind = '{p.kind.replace("'", "''")}'
                 AND o.object_key = tn.object
            JOIN posts ps ON ps.rowid = tn.post
            WHERE account IN (SELECT account FROM tn GROUP BY account HAVING count(*) >= {mp});
            CREATE OR REPLACE TEMP TABLE share_pairs AS
            SELECT l.account AS la, r.account AS rac, l.object,
                   l.post AS lp, r.post AS rp, l.ts AS lt, r.ts AS rt
            FROM rows1 l JOIN rows1 r ON l.object = r.object AND l.rid < r.rid
                 AND l.post <> r.post AND abs(l.ts - r.ts) <= {w} {loops};
            CREATE OR REPLACE TEMP TABLE participants AS
            SELECT account FROM rows1
            WHERE post IN (SELECT lp FROM share_pairs UNION SELECT rp FROM share_pairs)
            GROUP BY account HAVING count(*) >= {mp};""", t)
        # orient each pair on the account keys; a loop's two shares are both "a" and "b"
        self._aggregate(p, """
            SELECT least(la, rac) AS a, greatest(la, rac) AS b, object,
                   CASE WHEN la <= rac THEN lp ELSE rp END AS pa,
                   CASE WHEN la <= rac THEN rp ELSE lp END AS pb,
                   CASE WHEN la <= rac THEN lt ELSE rt END AS ta,
                   CASE WHEN la <= rac THEN rt ELSE lt END AS tb
            FROM share_pairs
            WHERE la IN (SELECT account FROM participants)
               OR rac IN (SELECT account FROM participants)""", t, weight="events", loop_pairs=True)

    def _aggregate(self, p: PairParams, events_sql: str, t: dict[str, float], *, weight: str,
                   loop_pairs: bool = False) -> None:
        """Aggregate co-action events (a, b, object, posts pa/pb, times ta/tb) into ``e``, and
        the closest ``p.evidence`` events of each edge into ``pair_evidence``. ``a_actions``
        counts distinct posts (a post with two links is one action).

        Where each post has one trace of the kind (``trace_kinds.one_per_post``), an edge
        with as many events as objects has one post per object on each side, so its actions
        are its objects; only the rare other edges (two events of one object differ in a post)
        and loops count distinct posts. That saves two distinct counts over all events, the
        costliest part of the aggregation."""
        k = p.evidence
        per_object = self.con.execute(
            "SELECT coalesce(bool_and(one_per_post), false) FROM trace_kinds WHERE kind = ?",
            [p.kind]).fetchone()[0]
        if k != 0 or per_object:   # the events are needed twice: materialised once
            self._run("pairs", f"CREATE OR REPLACE TEMP TABLE pair_events AS {events_sql}", t)
            events_sql = "SELECT * FROM pair_events"
        # a loop (a = b) of the sliding semantics lists each pair twice, once per order
        dup = "" if loop_pairs else " // CASE WHEN a = b THEN 2 ELSE 1 END"
        dt = "abs(tb - ta)"
        actions = ("count(DISTINCT object) AS a_actions, count(DISTINCT object) AS b_actions, "
                   "a = b OR count(*) > count(DISTINCT object) AS mixed" if per_object else
                   "count(DISTINCT pa) AS a_actions, count(DISTINCT pb) AS b_actions")
        self._run("pairs", f"""
            CREATE OR REPLACE TEMP TABLE e_counts AS
            SELECT a, b, count(*){dup} AS events, count(DISTINCT object) AS shared_objects,
                   {actions},
                   CASE WHEN a <> b THEN count(*) FILTER (WHERE ta < tb) END AS a_first,
                   CASE WHEN a <> b THEN count(*) FILTER (WHERE tb < ta) END AS b_first,
                   avg({dt}) / 1000 AS mean_dt_s, min({dt}) / 1000 AS min_dt_s
            FROM ({events_sql}) GROUP BY a, b""", t)
        if per_object:   # exact distinct posts for the few edges with more events than objects
            self._run("pairs", """
                CREATE OR REPLACE TEMP TABLE mixed_actions AS
                SELECT a, b, count(DISTINCT pa) AS a_actions, count(DISTINCT pb) AS b_actions
                FROM pair_events SEMI JOIN (SELECT a, b FROM e_counts WHERE mixed) USING (a, b)
                GROUP BY a, b;
                CREATE OR REPLACE TEMP VIEW e_actions AS
                SELECT e_counts.* EXCLUDE (mixed) REPLACE (
                    coalesce(x.a_actions, e_counts.a_actions) AS a_actions,
                    coalesce(x.b_actions, e_counts.b_actions) AS b_actions)
                FROM e_counts LEFT JOIN mixed_actions x USING (a, b)""", t)
        counts = "e_actions" if per_object else "e_counts"
        self._run("pairs", f"""
            CREATE OR REPLACE TEMP TABLE e AS
            SELECT *, {weight} AS weight,
                   least(a_actions, b_actions) / greatest(a_actions, b_actions) AS symmetry,
                   NULL::DOUBLE AS cosine
            FROM {counts} WHERE {weight} >= {p.weight_floor}""", t)
        closest = "" if k is None else (
            f"QUALIFY row_number() OVER (PARTITION BY a, b ORDER BY {dt}, ta) <= {k}")
        self._run("evidence", f"""
            CREATE OR REPLACE TEMP TABLE pair_evidence AS
            SELECT a, b, object, pa, pb, ta, tb FROM pair_events SEMI JOIN e USING (a, b)
            {closest}""" if k != 0 else EMPTY_EVIDENCE, t)

    def _timefree(self, p: PairParams, t: dict[str, float]) -> None:
        k = 10 if p.evidence is None else p.evidence
        ev = "NULL" if k == 0 else (
            "max_by({'object': l.object, 'pa': l.post, 'pb': r.post, 'ta': l.ts, 'tb': r.ts}, "
            f"l.w * r.w, {k})")
        self._tfidf(t)
        self._run("pairs", f"""
            CREATE OR REPLACE TEMP TABLE e AS
            SELECT *, cosine AS weight FROM (
                SELECT l.account AS a, r.account AS b, count(*) AS shared_objects,
                       NULL::BIGINT AS events, sum(l.n) AS a_actions, sum(r.n) AS b_actions,
                       NULL::BIGINT AS a_first, NULL::BIGINT AS b_first,
                       NULL::DOUBLE AS mean_dt_s, NULL::DOUBLE AS min_dt_s,
                       least(sum(l.n), sum(r.n)) / greatest(sum(l.n), sum(r.n)) AS symmetry,
                       coalesce(sum(l.w * r.w) / nullif(any_value(na.norm) * any_value(nb.norm), 0),
                                0) AS cosine,
                       {ev} AS ev
                FROM tfidf l JOIN tfidf r ON l.object = r.object
                     AND (l.account < r.account{' OR l.account = r.account' if p.keep_loops else ''})
                JOIN norms na ON na.account = l.account JOIN norms nb ON nb.account = r.account
                GROUP BY l.account, r.account)
            WHERE cosine >= {p.weight_floor}""", t)
        self._run("evidence", """
            CREATE OR REPLACE TEMP TABLE pair_evidence AS
            SELECT a, b, unnest(ev, recursive := true) FROM e WHERE ev IS NOT NULL"""
                  if k != 0 else EMPTY_EVIDENCE, t)

    def _tfidf(self, t: dict[str, float]) -> None:
        """Accounts as TF-IDF weighted object counts (``tfidf``) and their norms (``norms``)."""
        self._run("tfidf", """
            CREATE OR REPLACE TEMP TABLE tf AS
            SELECT account, object, count(*) AS n, min(post) AS post, min(ts) AS ts
            FROM tn GROUP BY account, object;
            CREATE OR REPLACE TEMP TABLE tfidf AS
            SELECT tf.*, n * ln((SELECT count(DISTINCT account) FROM t) / df.df) AS w
            FROM tf JOIN (SELECT object, count(*) AS df FROM tf GROUP BY object) df USING (object);
            CREATE OR REPLACE TEMP TABLE norms AS
            SELECT account, sqrt(sum(w * w)) AS norm FROM tfidf GROUP BY account;""", t)

    def _edge_cosine(self, t: dict[str, float]) -> None:
        """The TF-IDF cosine of the two accounts of every windowed edge."""
        self._tfidf(t)
        self._run("tfidf", """
            UPDATE e SET cosine = c.cosine FROM (
                SELECT e.a, e.b, coalesce(sum(l.w * r.w) / nullif(any_value(na.norm)
                       * any_value(nb.norm), 0), 0) AS cosine
                FROM (SELECT a, b FROM e) e
                JOIN tfidf l ON l.account = e.a
                JOIN tfidf r ON r.account = e.b AND r.object = l.object
                JOIN norms na ON na.account = e.a JOIN norms nb ON nb.account = e.b
                GROUP BY e.a, e.b) c
            WHERE e.a = c.a AND e.b = c.b""", t)

    def _popular_events(self, w: int, t: dict[str, float]) -> None:
        """Co-actions on aggregated popular objects, for the edges that exist anyway."""
        self._run("popular", f"""
            CREATE OR REPLACE TEMP TABLE e_pop AS
            SELECT e.a, e.b, count(*) AS popular_events
            FROM (SELECT a, b FROM e) e
            JOIN t_pop l ON l.account = e.a
            JOIN t_pop r ON r.account = e.b AND r.object = l.object AND abs(r.ts - l.ts) <= {w}
                 AND l.rid <> r.rid
            GROUP BY e.a, e.b""", t)

    # -- results -----------------------------------------------------------------------------
    def _store(self, p: PairParams, run_id: int, res: PairsResult) -> None:
        kind = p.kind.replace("'", "''")
        window = "NULL" if p.semantics == "timefree" else str(float(p.window))
        pop_join = ("LEFT JOIN e_pop USING (a, b)" if p.semantics != "timefree" else
                    "LEFT JOIN (SELECT NULL::INTEGER AS a, NULL::INTEGER AS b, "
                    "NULL::BIGINT AS popular_events) e_pop USING (a, b)")
        con = self.con
        con.execute(RESULT_TABLES)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE replaced AS SELECT run_id FROM pair_runs
                WHERE kind = '{kind}' AND semantics = '{p.semantics}'
                      AND window_s IS NOT DISTINCT FROM {window};""")
            for table in ("evidence", "popular_objects", "pair_edges", "pair_runs"):
                con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM replaced)")
            con.execute(f"INSERT INTO pair_runs VALUES ({run_id}, '{kind}', '{p.semantics}', "
                        f"{window})")
            res.edges = con.execute(f"""
                INSERT INTO pair_edges
                SELECT {run_id}, a, b, weight, shared_objects, events, a_actions, b_actions,
                       a_first, b_first, mean_dt_s, min_dt_s, symmetry, cosine,
                       coalesce(popular_events, 0)
                FROM e {pop_join}""").fetchone()[0]
            res.evidence = con.execute(f"""
                INSERT INTO evidence
                WITH ids AS (SELECT rowid AS post, post_id FROM posts WHERE rowid IN (
                                 SELECT pa FROM pair_evidence UNION SELECT pb FROM pair_evidence))
                SELECT {run_id}, '{kind}', ka.account_id, kb.account_id, o.value,
                       pa.post_id, make_timestamp(x.ta * 1000), pb.post_id,
                       make_timestamp(x.tb * 1000), abs(x.tb - x.ta) / 1000
                FROM pair_evidence x
                JOIN account_keys ka ON ka.account_key = x.a
                JOIN account_keys kb ON kb.account_key = x.b
                JOIN trace_objects o ON o.kind = '{kind}' AND o.object_key = x.object
                JOIN ids pa ON pa.post = x.pa JOIN ids pb ON pb.post = x.pb""").fetchone()[0] \
                if p.evidence != 0 else 0
            con.execute(f"""
                INSERT INTO popular_objects
                SELECT {run_id}, '{kind}', o.value, accounts, actions, window_pairs,
                       make_timestamp(first_ts * 1000), make_timestamp(last_ts * 1000), mode
                FROM popular JOIN trace_objects o ON o.kind = '{kind}' AND o.object_key = object""")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        res.accounts = con.execute(
            "SELECT count(*) FROM (SELECT a FROM e UNION SELECT b FROM e)").fetchone()[0]
        res.popular = [dict(zip(("object", "accounts", "actions", "window_pairs", "mode"), r))
                       for r in con.execute(
                           f"SELECT value, accounts, actions, window_pairs, mode FROM popular "
                           f"JOIN trace_objects o ON o.kind = '{kind}' AND o.object_key = object "
                           "ORDER BY window_pairs DESC").fetchall()]
