"""The SQL engine: windowed self-joins over dictionary-encoded traces, on any Backend.

Every step is one SQL statement materialised as a named table, so the engine (DuckDB, or
Spark) streams, parallelises and spills within its memory settings. The SQL is the part
common to DuckDB and Spark SQL, with the rest in the backend's dialect. Objects that would
produce more pairs than ``popular_pairs`` inside the window never enter the self-join (see
:class:`PairParams`): on Spark too, no object's pairs are listed beyond that bound.
"""

from __future__ import annotations

import time

from swarmscope.engine import PairParams, PairsResult
from swarmscope.store.backend import Backend
from swarmscope.store.schema import PAIRS, create_sql
from swarmscope.traces import stored_object_sql

#: Traces per bucket (``object % buckets``; object keys are dense integers) when looking for
#: popular objects: far fewer than a popular object has.
TRACES_PER_BUCKET = 64

EMPTY_EVIDENCE = ("SELECT CAST(NULL AS INTEGER) AS a, CAST(NULL AS INTEGER) AS b, "
                  "CAST(NULL AS BIGINT) AS object, CAST(NULL AS BIGINT) AS pa, "
                  "CAST(NULL AS BIGINT) AS pb, CAST(NULL AS BIGINT) AS ta, "
                  "CAST(NULL AS BIGINT) AS tb WHERE false")


def windowed_join(db: Backend, left: str, right: str, w: int, l: str = "l",
                  r: str = "r") -> str:
    """FROM-clause SQL: ``left`` AS ``l`` joined to ``right`` AS ``r`` (relations with the
    columns ``object`` and ``ts``, ms) on the same object within ``w`` ms, |r.ts - l.ts| <= w.

    The join's equality is on (object, time bucket of width max(w, 1)), each left row copied
    into its own bucket and the two beside it: two times within w of each other lie at most
    one bucket apart, so every windowed pair is found exactly once, and an object's traces
    meet only those of neighbouring buckets. A join on the object alone lists every two of its
    traces before the window filters them: the square of a long-lived object's traces (a
    hashtag over a year, an account retweeted all week), 1.5 billion rows for 8.8 million
    windowed at 60 s on the 3.4-million-post scaling input."""
    d, width = db.dialect, str(max(w, 1))
    return (f"(SELECT x.*, {d.int_div('x.ts', width)} + o.o AS _bucket "
            f"FROM {left} x, {d.offsets(-1, 1, 'o', 'o')}) {l} "
            f"JOIN (SELECT y.*, {d.int_div('y.ts', width)} AS _bucket FROM {right} y) {r} "
            f"ON {l}.object = {r}.object AND {l}._bucket = {r}._bucket "
            f"AND {r}.ts BETWEEN {l}.ts - {w} AND {l}.ts + {w}")


class SQLEngine:
    """Runs :class:`PairParams` on a :class:`~swarmscope.store.backend.Backend` (DuckDB or
    Spark: the same statements, the same answers).

    Reads the view ``traces`` (:func:`swarmscope.traces.build_traces`); writes the temp
    tables ``pair_candidates`` (edges on account keys, ``a <= b``), ``popular_candidates``,
    ``popular_traces`` and ``candidate_evidence``, which :meth:`pairs` stores and the
    significance stage reads."""

    def __init__(self, db: Backend) -> None:
        self.db = db

    @property
    def name(self) -> str:
        return self.db.name

    def _run(self, step: str, made: str, sql: str, timings: dict[str, float], *,
             view: bool = False) -> None:
        """The step ``pairs.<step>``: the table (or view) ``made`` as the result of ``sql``."""
        start = time.perf_counter()
        if view:
            self.db.view(made, sql)
        else:
            self.db.materialise(f"{made}", sql)
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start

    def pairs(self, p: PairParams, run_id: int) -> PairsResult:
        res = self.candidates(p, run_id)
        self._store(p, run_id, res)
        return res

    def candidates(self, p: PairParams, run_id: int) -> PairsResult:
        """Compute the edges into the temp table ``pair_candidates`` (account keys ``a`` < ``b``) and the
        popular objects into ``popular_candidates``, without storing them."""
        res = PairsResult(run_id)
        self._load(p, res)
        t = res.seconds
        w = int(round(p.window * 1000))
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

    def _load(self, p: PairParams, res: PairsResult) -> None:
        """The kind's traces (the view ``t``) and its popular objects (``popular_candidates``,
        ``popular_traces``; the other traces in the view ``tn``), their count into ``res``."""
        kind = p.kind.replace("'", "''")
        participation = "" if p.semantics == "coortweet" or p.min_participation <= 1 else (
            f"AND account IN (SELECT account FROM traces WHERE kind = '{kind}' GROUP BY account "
            f"HAVING count(*) >= {p.min_participation})")
        self._run("load", "t", f"""
            SELECT account, object, post, ts FROM traces
            WHERE kind = '{kind}' {participation}""", res.seconds, view=True)
        res.traces = self.db.scalar("SELECT count(*) FROM t")
        self._popular(p, int(round(p.window * 1000)), max(1, res.traces // TRACES_PER_BUCKET),
                      res.seconds)

    def count_parts(self, p: PairParams, rows_per_part: int) -> int:
        """Load the kind's traces and popular objects for :meth:`candidate_counts`, and return
        into how many parts of accounts its pairs must be split so that no part's join lists
        more than about ``rows_per_part`` co-actions (each part's tables, and the engine's
        memory and disk, stay bounded as the input grows). The co-actions are estimated before
        the join from the traces per (object, time bucket), as the join pairs them (before the
        window's own filter)."""
        if not (p.semantics == "sliding" and p.evidence == 0 and not p.keep_loops
                and p.weight_floor <= 1):
            raise ValueError("the counts of candidate pairs are those of the sliding semantics "
                             "without evidence, loops or a weight floor")
        self._load(p, PairsResult(0))
        w = int(round(p.window * 1000))
        d = self.db.dialect
        if self._whole_objects(p.kind, w):
            rows = self.db.scalar("""
                SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (
                    SELECT object, count(DISTINCT account) AS n FROM tn GROUP BY object) g""")
        else:   # a bucket's traces meet their own and the two beside it: 3 n² / 2 if alike
            bucket = d.int_div("ts", str(max(w, 1)))
            rows = self.db.scalar(f"""
                SELECT coalesce(sum(n * n), 0) * 1.5 FROM (
                    SELECT count(*) AS n FROM tn GROUP BY object, {bucket}) g""")
        return max(1, -(-int(rows or 0) // max(int(rows_per_part), 1)))

    def _one_per_post(self, kind: str) -> bool:
        """Whether each post has one trace of the kind (``trace_kinds.one_per_post``)."""
        return bool(self.db.scalar(
            "SELECT coalesce(bool_and(one_per_post), false) FROM trace_kinds WHERE kind = ?",
            [kind]))

    def _whole_objects(self, kind: str, w: int) -> bool:
        """Whether each post has one trace of the kind and no object's traces (in ``tn``)
        span more than the window (``sync``: the object is a bin no longer than it), so that
        every two traces of an object co-act."""
        return self._one_per_post(kind) and self.db.scalar(
            "SELECT coalesce(max(span), 0) FROM (SELECT max(ts) - min(ts) AS span FROM tn "
            "GROUP BY object) s") <= w

    # -- popular objects ---------------------------------------------------------------------
    def _popular(self, p: PairParams, w: int, buckets: int, t: dict[str, float]) -> None:
        """Objects whose windowed pairs would exceed ``popular_pairs`` (and, with a cap, those
        with too many accounts), in ``popular_candidates``; their traces in ``popular_traces``, the others in the
        view ``tn``. Only objects with enough actions to possibly qualify are counted with the
        windowed range count, and only objects in a bucket (``object % buckets``) with that
        many actions are counted at all."""
        cap = p.max_object_accounts
        min_actions = int((2 * p.popular_pairs) ** 0.5)
        min_actions = min(min_actions, cap) if cap else min_actions
        div = self.db.dialect.int_div
        window_pairs = (div("actions * (actions - 1)", "2") if p.semantics == "timefree" else
                        div("sum(in_window) - actions", "2"))
        in_window = ("1" if p.semantics == "timefree" else
                     f"count(*) OVER (PARTITION BY object ORDER BY ts RANGE BETWEEN {w} PRECEDING "
                     f"AND {w} FOLLOWING)")
        self._run("popular", "popular_candidates", f"""
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
                       CAST({window_pairs.replace('actions', 'count(*)')} AS BIGINT) AS window_pairs
                FROM counted GROUP BY object)
            SELECT *, CASE WHEN {f'accounts > {cap}' if cap else 'false'} THEN 'capped'
                           ELSE 'aggregated' END AS mode
            FROM stats WHERE {f'accounts > {cap} OR ' if cap else ''}window_pairs > {p.popular_pairs}
            """, t)
        any_popular = self.db.scalar("SELECT count(*) FROM popular_candidates") > 0
        self._run("popular", "popular_traces", """
            SELECT t.* FROM t JOIN popular_candidates p USING (object)
            WHERE p.mode = 'aggregated'""", t)
        self._run("popular", "tn", "SELECT * FROM t" + (
            " WHERE object NOT IN (SELECT object FROM popular_candidates)" if any_popular
            else ""), t, view=True)

    # -- semantics ---------------------------------------------------------------------------
    def _sliding(self, p: PairParams, w: int, t: dict[str, float]) -> None:
        loops = " OR (l.account = r.account AND l.post <> r.post)" if p.keep_loops else ""
        self._aggregate(p, f"""
            SELECT l.account AS a, r.account AS b, l.object, l.post AS pa, r.post AS pb,
                   l.ts AS ta, r.ts AS tb
            FROM {windowed_join(self.db, 'tn', 'tn', w)} AND (l.account < r.account{loops})""",
                        t, weight="greatest(a_actions, b_actions)")

    def candidate_counts(self, p: PairParams, part: tuple[int, int] = (0, 1)) -> None:
        """The sliding edges with only their counts (``pair_candidates(a, b, shared_objects,
        a_actions, b_actions)``, every edge: its weight is at least 1), the same as the full
        aggregation gives them, at a fraction of its cost; with ``part`` (c, k), only the edges
        whose account ``a`` is c modulo k (:meth:`count_parts`, which loads the traces, runs
        first; the k parts hold every edge once).

        Where each post has one trace of the kind, every co-acting post is on one shared
        object, so each side has at least as many co-acting posts as shared objects: the
        tests' ``x`` is the number of shared objects, counted on distinct (a, b, object). And
        where no object's traces span more than the window, every two traces of an object
        co-act, so the self-join runs on distinct (account, object) rather than on posts."""
        t: dict[str, float] = {}
        w = int(round(p.window * 1000))
        c, k = part
        left = "tn" if k == 1 else f"(SELECT * FROM tn WHERE account % {int(k)} = {int(c)})"
        events = f"""
            SELECT l.account AS a, r.account AS b, l.object, l.post AS pa, r.post AS pb
            FROM {windowed_join(self.db, left, 'tn', w)} AND l.account < r.account"""
        if not self._one_per_post(p.kind):
            self._run("pairs", "pair_candidates", f"""
                SELECT a, b, count(DISTINCT object) AS shared_objects,
                       count(DISTINCT pa) AS a_actions, count(DISTINCT pb) AS b_actions
                FROM ({events}) ev GROUP BY a, b""", t)
            return
        shared = (f"SELECT DISTINCT a, b, object FROM ({events}) ev"
                  if not self._whole_objects(p.kind, w) else f"""
            SELECT l.account AS a, r.account AS b, l.object
            FROM (SELECT DISTINCT account, object FROM {left} x) l
            JOIN (SELECT DISTINCT account, object FROM tn) r
                 ON l.object = r.object AND l.account < r.account""")
        self._run("pairs", "pair_candidates", f"""
            SELECT a, b, count(*) AS shared_objects, count(*) AS a_actions,
                   count(*) AS b_actions
            FROM ({shared}) s GROUP BY a, b""", t)

    def _coortweet(self, p: PairParams, w: int, t: dict[str, float]) -> None:
        mp = p.min_participation
        loops = "" if p.keep_loops else (
            "AND NOT l.self_share AND NOT r.self_share AND l.account <> r.account")
        self._run("pairs", "rows1", f"""
            SELECT tn.*, o.value = ps.post_id AS self_share FROM tn
            JOIN trace_objects o ON o.kind = '{p.kind.replace("'", "''")}'
                 AND o.object_key = tn.object
            JOIN posts ps ON ps.post_key = tn.post
            WHERE account IN (SELECT account FROM tn GROUP BY account HAVING count(*) >= {mp})""",
                  t)
        self._run("pairs", "share_pairs", f"""
            SELECT l.account AS la, r.account AS rac, l.object,
                   l.post AS lp, r.post AS rp, l.ts AS lt, r.ts AS rt
            FROM {windowed_join(self.db, 'rows1', 'rows1', w)} AND l.post < r.post {loops}""", t)
        self._run("pairs", "participants", f"""
            SELECT account FROM rows1
            WHERE post IN (SELECT lp FROM share_pairs UNION SELECT rp FROM share_pairs)
            GROUP BY account HAVING count(*) >= {mp}""", t)
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
        """Aggregate co-action events (a, b, object, posts pa/pb, times ta/tb) into ``pair_candidates``, and
        the closest ``p.evidence`` events of each edge into ``candidate_evidence``. ``a_actions``
        counts distinct posts (a post with two links is one action).

        Where each post has one trace of the kind (``trace_kinds.one_per_post``), an edge
        with as many events as objects has one post per object on each side, so its actions
        are its objects; only the rare other edges (two events of one object differ in a post)
        and loops count distinct posts. That saves two distinct counts over all events, the
        costliest part of the aggregation."""
        k = p.evidence
        per_object = self._one_per_post(p.kind)
        if k != 0 or per_object:   # the events are needed twice: materialised once
            self._run("pairs", "pair_events", events_sql, t)
            events_sql = "SELECT * FROM pair_events"
        # a loop (a = b) of the sliding semantics lists each pair twice, once per order
        events = ("count(*)" if loop_pairs else
                  self.db.dialect.int_div("count(*)", "CASE WHEN a = b THEN 2 ELSE 1 END"))
        dt = "abs(tb - ta)"
        actions = ("count(DISTINCT object) AS a_actions, count(DISTINCT object) AS b_actions, "
                   "a = b OR count(*) > count(DISTINCT object) AS mixed" if per_object else
                   "count(DISTINCT pa) AS a_actions, count(DISTINCT pb) AS b_actions")
        self._run("pairs", "e_counts", f"""
            SELECT a, b, {events} AS events, count(DISTINCT object) AS shared_objects,
                   {actions},
                   CASE WHEN a <> b THEN count(*) FILTER (WHERE ta < tb) END AS a_first,
                   CASE WHEN a <> b THEN count(*) FILTER (WHERE tb < ta) END AS b_first,
                   avg({dt}) / 1000 AS mean_dt_s, min({dt}) / 1000 AS min_dt_s
            FROM ({events_sql}) ev GROUP BY a, b""", t)
        if per_object:   # exact distinct posts for the few edges with more events than objects
            self._run("pairs", "mixed_actions", """
                SELECT a, b, count(DISTINCT pa) AS a_actions, count(DISTINCT pb) AS b_actions
                FROM pair_events SEMI JOIN (SELECT a, b FROM e_counts WHERE mixed) m USING (a, b)
                GROUP BY a, b""", t)
            self._run("pairs", "e_actions", """
                SELECT c.a, c.b, c.events, c.shared_objects,
                       coalesce(x.a_actions, c.a_actions) AS a_actions,
                       coalesce(x.b_actions, c.b_actions) AS b_actions,
                       c.a_first, c.b_first, c.mean_dt_s, c.min_dt_s
                FROM e_counts c LEFT JOIN mixed_actions x ON x.a = c.a AND x.b = c.b""", t,
                      view=True)
        counts = "e_actions" if per_object else "e_counts"
        self._run("pairs", "pair_candidates", f"""
            SELECT *, {weight} AS weight,
                   least(a_actions, b_actions) / greatest(a_actions, b_actions) AS symmetry,
                   CAST(NULL AS DOUBLE) AS cosine
            FROM {counts} WHERE {weight} >= {p.weight_floor}""", t)
        closest = "" if k is None else (
            f"QUALIFY row_number() OVER (PARTITION BY a, b ORDER BY {dt}, ta, tb, pa, pb, object)"
            f" <= {k}")
        self._run("evidence", "candidate_evidence", f"""
            SELECT a, b, object, pa, pb, ta, tb FROM pair_events
            SEMI JOIN pair_candidates c USING (a, b)
            {closest}""" if k != 0 else EMPTY_EVIDENCE, t)

    def _timefree(self, p: PairParams, t: dict[str, float]) -> None:
        k = 10 if p.evidence is None else p.evidence
        loops = " OR l.account = r.account" if p.keep_loops else ""
        total = self.db.dialect.sorted_sum
        self._tfidf(t)
        self._run("pairs", "pair_candidates", f"""
            SELECT *, cosine AS weight FROM (
                SELECT l.account AS a, r.account AS b, count(*) AS shared_objects,
                       CAST(NULL AS BIGINT) AS events, sum(l.n) AS a_actions,
                       sum(r.n) AS b_actions, CAST(NULL AS BIGINT) AS a_first,
                       CAST(NULL AS BIGINT) AS b_first, CAST(NULL AS DOUBLE) AS mean_dt_s,
                       CAST(NULL AS DOUBLE) AS min_dt_s,
                       least(sum(l.n), sum(r.n)) / greatest(sum(l.n), sum(r.n)) AS symmetry,
                       coalesce({total('l.w * r.w')}
                                / nullif(any_value(na.norm) * any_value(nb.norm), 0), 0) AS cosine
                FROM tfidf l JOIN tfidf r ON l.object = r.object
                     AND (l.account < r.account{loops})
                JOIN norms na ON na.account = l.account JOIN norms nb ON nb.account = r.account
                GROUP BY l.account, r.account) c
            WHERE cosine >= {p.weight_floor}""", t)
        # evidence: each edge's k shared objects of the largest weight products
        self._run("evidence", "candidate_evidence", f"""
            SELECT l.account AS a, r.account AS b, l.object, l.post AS pa, r.post AS pb,
                   l.ts AS ta, r.ts AS tb
            FROM tfidf l JOIN tfidf r ON l.object = r.object AND (l.account < r.account{loops})
            SEMI JOIN pair_candidates c ON c.a = l.account AND c.b = r.account
            QUALIFY row_number() OVER (PARTITION BY l.account, r.account
                                       ORDER BY l.w * r.w DESC, l.object) <= {k}"""
                  if k != 0 else EMPTY_EVIDENCE, t)

    def _tfidf(self, t: dict[str, float]) -> None:
        """Accounts as TF-IDF weighted object counts (``tfidf``) and their norms (``norms``)."""
        self._run("tfidf", "tf", """
            SELECT account, object, count(*) AS n, min(post) AS post, min(ts) AS ts
            FROM tn GROUP BY account, object""", t)
        self._run("tfidf", "tfidf", """
            SELECT tf.*, n * ln((SELECT count(DISTINCT account) FROM t) / df.df) AS w
            FROM tf JOIN (SELECT object, count(*) AS df FROM tf GROUP BY object) df
                 USING (object)""", t)
        self._run("tfidf", "norms", f"""
            SELECT account, sqrt({self.db.dialect.sorted_sum('w * w')}) AS norm FROM tfidf
            GROUP BY account""", t)

    def _edge_cosine(self, t: dict[str, float]) -> None:
        """The TF-IDF cosine of the two accounts of every windowed edge."""
        self._tfidf(t)
        self._run("tfidf", "pair_cosines", f"""
            SELECT e.a, e.b, coalesce({self.db.dialect.sorted_sum('l.w * r.w')}
                   / nullif(any_value(na.norm) * any_value(nb.norm), 0), 0) AS cosine
            FROM (SELECT a, b FROM pair_candidates) e
            JOIN tfidf l ON l.account = e.a
            JOIN tfidf r ON r.account = e.b AND r.object = l.object
            JOIN norms na ON na.account = e.a JOIN norms nb ON nb.account = e.b
            GROUP BY e.a, e.b""", t)
        columns = [c for c in self.db.columns("pair_candidates") if c != "cosine"]
        self._run("tfidf", "pair_candidates", f"""
            SELECT {', '.join(f'e.{c}' for c in columns)}, c.cosine
            FROM pair_candidates e LEFT JOIN pair_cosines c ON c.a = e.a AND c.b = e.b""", t)

    def _popular_events(self, w: int, t: dict[str, float]) -> None:
        """Co-actions on aggregated popular objects, for the edges that exist anyway."""
        self._run("popular", "e_pop", f"""
            SELECT e.a, e.b, count(*) AS popular_events
            FROM (SELECT a, b FROM pair_candidates) e
            JOIN popular_traces l ON l.account = e.a
            JOIN popular_traces r ON r.account = e.b AND r.object = l.object
                 AND abs(r.ts - l.ts) <= {w} AND (e.a <> e.b OR l.post <> r.post)
            GROUP BY e.a, e.b""", t)

    # -- results -----------------------------------------------------------------------------
    def _store(self, p: PairParams, run_id: int, res: PairsResult) -> None:
        kind = p.kind.replace("'", "''")
        window = "NULL" if p.semantics == "timefree" else str(float(p.window))
        pop_join = ("LEFT JOIN e_pop USING (a, b)" if p.semantics != "timefree" else
                    "LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS a, CAST(NULL AS INTEGER) AS b, "
                    "CAST(NULL AS BIGINT) AS popular_events) e_pop USING (a, b)")
        db = self.db
        objects, object_joins = stored_object_sql("x.object", f"'{kind}'")
        for sql in create_sql(PAIRS):
            db.execute(sql)
        with db.transaction():
            db.execute(f"""
                CREATE OR REPLACE TEMP TABLE replaced AS SELECT run_id FROM pair_runs
                WHERE kind = '{kind}' AND semantics = '{p.semantics}'
                      AND window_s IS NOT DISTINCT FROM {window};""")
            for table in ("pair_evidence", "popular_objects", "pair_edges", "pair_runs"):
                db.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM replaced)")
            db.execute(f"INSERT INTO pair_runs VALUES ({run_id}, '{kind}', '{p.semantics}', "
                       f"{window})")
            db.execute(f"""
                INSERT INTO pair_edges
                SELECT {run_id}, a, b, weight, shared_objects, events, a_actions, b_actions,
                       a_first, b_first, mean_dt_s, min_dt_s, symmetry, cosine,
                       coalesce(popular_events, 0)
                FROM pair_candidates {pop_join}""")
            res.edges = db.scalar("SELECT count(*) FROM pair_candidates")
            if p.evidence != 0:   # by key: resolved to ids and texts when read
                db.execute(f"""
                    INSERT INTO pair_evidence
                    SELECT {run_id}, '{kind}', x.a, x.b, {objects}, x.pa,
                           {db.dialect.from_epoch_ms('x.ta')}, x.pb,
                           {db.dialect.from_epoch_ms('x.tb')}, abs(x.tb - x.ta) / 1000
                    FROM candidate_evidence x {object_joins}""")
                res.evidence = db.scalar("SELECT count(*) FROM candidate_evidence")
            db.execute(f"""
                INSERT INTO popular_objects
                SELECT {run_id}, '{kind}', o.value, accounts, actions, window_pairs,
                       {db.dialect.from_epoch_ms('first_ts')}, {db.dialect.from_epoch_ms('last_ts')},
                       mode
                FROM popular_candidates
                JOIN trace_objects o ON o.kind = '{kind}' AND o.object_key = object""")
        res.accounts = db.scalar(
            "SELECT count(*) FROM (SELECT a FROM pair_candidates UNION SELECT b FROM pair_candidates)")
        res.popular = [dict(zip(("object", "accounts", "actions", "window_pairs", "mode"), r))
                       for r in db.query(
                           f"SELECT value, accounts, actions, window_pairs, mode FROM popular_candidates "
                           f"JOIN trace_objects o ON o.kind = '{kind}' AND o.object_key = object "
                           "ORDER BY window_pairs DESC")]
