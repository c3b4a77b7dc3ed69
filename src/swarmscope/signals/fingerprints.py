"""Activity fingerprints: when and how each account acts, from its posts' times and kinds.

Per account with at least ``min_posts`` posts (temp table ``fingerprints``):

- ``hour_of_week``: 168 post counts by UTC hour of the week (Monday 00h first), and
  ``hour_of_day``: 24 counts by UTC hour.
- Inter-event times (gaps between consecutive posts) shorter than ``SESSION_GAP_S`` (one day;
  longer gaps are dormancy, which would swamp the rhythm): ``burstiness``
  B = (σ - μ) / (σ + μ) in [-1, 1] (-1 periodic, 0 Poisson, towards 1 bursty) and ``memory``
  M, the correlation of consecutive gaps (Goh & Barabási, EPL 81:48002, 2008);
  ``gap_entropy``, the Shannon entropy (bits) of the gaps binned by powers of two seconds:
  schedulers posting at fixed intervals have little.
- ``bloc``: the account's BLOC action string (Nwala, Flammini & Menczer, EPJ Data Science 12:46,
  2023): one letter per post, T post, r repost, ρ repost of itself, p reply, π reply to itself,
  q quote (not in BLOC; it has no quote), each preceded by the pause since the previous post:
  □ < 1 min, ⚀ < 1 h, ⚁ < 1 day, ⚂ < 1 week, ⚃ < 1 month, ⚄ < 1 year, ⚅ longer.

Similarity of BLOC strings (:func:`bloc_similarity`): TF-IDF vectors of the strings' character
bigrams (BLOC's bigram model), cosine between accounts; per group of accounts the mean pairwise
cosine and each member's mean cosine to the others.
"""

from __future__ import annotations

from swarmscope.store.backend import Backend


#: Gaps longer than this are dormancy, not rhythm: left out of burstiness, memory and entropy.
SESSION_GAP_S = 86_400
#: Accounts with fewer posts get no fingerprint: a rhythm needs a few posts to show.
MIN_POSTS = 10

_PAUSES = ((60, "□"), (3600, "⚀"), (86_400, "⚁"), (7 * 86_400, "⚂"), (30 * 86_400, "⚃"),
           (365 * 86_400, "⚄"))


def _pause_sql(gap: str) -> str:
    cases = " ".join(f"WHEN {gap} < {s} THEN '{c}'" for s, c in _PAUSES)
    return f"CASE WHEN {gap} IS NULL THEN '' {cases} ELSE '⚅' END"


def build_fingerprints(db: Backend, where: str = "true",
                       min_posts: int = MIN_POSTS) -> int:
    """Fill the temp tables ``activity(account, posted, ts, action, gap, seq)`` (the fingerprinted
    accounts' posts, ``posted`` UTC, ``ts`` in epoch seconds) and ``fingerprints``; ``where`` filters ``posts``. Returns
    the number of fingerprinted accounts."""
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE activity AS
        WITH p AS (
            SELECT account_key AS account, created_at AS posted, epoch(created_at) AS ts, post_id,
                   CASE kind WHEN 'repost' THEN CASE WHEN parent_account_id = account_id
                                                     THEN 'ρ' ELSE 'r' END
                             WHEN 'reply' THEN CASE WHEN parent_account_id = account_id
                                                    THEN 'π' ELSE 'p' END
                             WHEN 'quote' THEN 'q' ELSE 'T' END AS action,
                   count(*) OVER (PARTITION BY account_key) AS n
            FROM posts WHERE {where})
        SELECT account, posted, ts, action,
               ts - lag(ts) OVER (PARTITION BY account ORDER BY ts, post_id) AS gap,
               row_number() OVER (PARTITION BY account ORDER BY ts, post_id) AS seq
        FROM p WHERE n >= {int(min_posts)};
        CREATE OR REPLACE TEMP TABLE fingerprints AS
        WITH g AS (
            SELECT account, gap, lag(gap) OVER (PARTITION BY account ORDER BY seq) AS prev_gap
            FROM activity),
        gaps AS (
            SELECT account, (sd - mean) / nullif(sd + mean, 0) AS burstiness, memory
            FROM (SELECT account, stddev_pop(gap ORDER BY gap) AS sd, avg(gap ORDER BY gap) AS mean,
                         corr(gap, prev_gap ORDER BY gap, prev_gap)
                             FILTER (WHERE prev_gap < {SESSION_GAP_S}) AS memory
                  FROM g WHERE gap < {SESSION_GAP_S} GROUP BY account)),
        bins AS (
            SELECT account, count(*) AS n FROM activity WHERE gap < {SESSION_GAP_S}
            GROUP BY account, floor(log2(greatest(gap, 1)))),
        entropy AS (
            SELECT account, -sum(n / total * log2(n / total) ORDER BY n) AS gap_entropy
            FROM (SELECT *, sum(n) OVER (PARTITION BY account) AS total FROM bins)
            GROUP BY account),
        how AS (
            SELECT account, (isodow(posted) - 1) * 24 + hour(posted) AS how,
                   count(*) AS n
            FROM activity GROUP BY ALL),
        week AS (
            SELECT account,
                   list_transform(range(168), lambda i: coalesce(map_from_entries(list(struct_pack(
                       k := how, v := n)))[i], 0)::INTEGER) AS hour_of_week
            FROM how GROUP BY account)
        SELECT a.account, a.posts, a.first_post, a.last_post, a.active_days, w.hour_of_week,
               list_transform(range(24), lambda h: list_sum(list_transform(range(7),
                   lambda d: w.hour_of_week[d * 24 + h + 1])))::INTEGER[] AS hour_of_day,
               g.burstiness, g.memory, e.gap_entropy, a.bloc
        FROM (SELECT account, count(*) AS posts, min(posted) AS first_post,
                     max(posted) AS last_post,
                     count(DISTINCT CAST(posted AS DATE)) AS active_days,
                     string_agg({_pause_sql('gap')} || action, '' ORDER BY seq) AS bloc
              FROM activity GROUP BY account) a
        JOIN week w USING (account)
        LEFT JOIN gaps g USING (account) LEFT JOIN entropy e USING (account);""")
    return db.scalar("SELECT count(*) FROM fingerprints")


def bloc_similarity(db: Backend, groups: str) -> None:
    """Fill the temp tables ``bloc_groups(group_id, members, bloc_similarity)`` and
    ``bloc_members(account, group_id, bloc_similarity)``: the mean TF-IDF cosine of the BLOC
    bigram vectors over a group's pairs, and each member's mean cosine to the other members.
    ``groups`` is a relation ``(account, group_id)``; accounts without a fingerprint are left
    out, and document frequencies are counted over the grouped accounts. With unit vectors,
    the mean pairwise cosine of a group is (|Σv|² - n) / (n (n - 1)), so no pair is enumerated."""
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE bloc_vectors AS
        WITH m AS (SELECT g.account, g.group_id, f.bloc FROM ({groups}) g
                   JOIN fingerprints f USING (account)),
        tf AS (SELECT account, group_id, substr(bloc, i, 2) AS term, count(*) AS n
               FROM (SELECT *, unnest(range(1, length(bloc))) AS i FROM m) GROUP BY ALL),
        df AS (SELECT term, ln((SELECT count(*) FROM m) / count(DISTINCT account)) + 1 AS idf
               FROM tf GROUP BY term),
        w AS (SELECT account, group_id, term, n * idf AS w FROM tf JOIN df USING (term))
        SELECT account, group_id, term,
               w / sqrt(sum(w * w ORDER BY w * w) OVER (PARTITION BY account)) AS w
        FROM w;
        CREATE OR REPLACE TEMP TABLE bloc_sums AS
        SELECT group_id, term, sum(w ORDER BY w) AS s FROM bloc_vectors GROUP BY ALL;
        CREATE OR REPLACE TEMP TABLE bloc_groups AS
        SELECT group_id, n AS members,
               CASE WHEN n > 1 THEN (s2 - n) / (n * (n - 1)) END AS bloc_similarity
        FROM (SELECT group_id, sum(s * s ORDER BY s * s) AS s2 FROM bloc_sums GROUP BY group_id)
        JOIN (SELECT group_id, count(DISTINCT account) AS n FROM bloc_vectors GROUP BY group_id)
        USING (group_id);
        CREATE OR REPLACE TEMP TABLE bloc_members AS
        SELECT v.account, v.group_id,
               CASE WHEN g.members > 1 THEN (sum(v.w * s.s ORDER BY v.w * s.s) - 1)
                                            / (g.members - 1) END
                   AS bloc_similarity
        FROM bloc_vectors v JOIN bloc_sums s USING (group_id, term)
        JOIN bloc_groups g USING (group_id) GROUP BY v.account, v.group_id, g.members;""")
