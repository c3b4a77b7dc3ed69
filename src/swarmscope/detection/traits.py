"""Traits: what kind of coordination binds each cluster (automation, operators, organic).

A cluster of accounts that co-act beyond chance can be a script driving accounts, people running
several accounts each, or real people acting together. Each trait is a measurement on the
cluster's members with a reference (``baseline``) and, where there is a test, a p-value:

automation
    ``serial_order``: on the objects two members both acted on within an hour, the same member
    acts first again and again (a script that logs its accounts in one after another in a fixed
    order; also followers who always share a page's links after it); measured inside the
    cluster, against random order (no source can fake it).
    ``gap_regularity``: members whose gaps between posts are regular (coefficient of variation
    < 0.5; Poisson posting gives 1, people are burstier). ``round_the_clock``: members with
    posts in >= 20 of the 24 hours of the day. ``repost_only``: members with >= 5 posts, all
    reposts.
operator
    ``shared_rhythm``: each member's hour-of-day profile, outside its co-actions, is closer to
    the other members' than to everybody's (one operator's working day). ``identical_texts``: members who wrote a text (>=
    20 characters, not a repost) that another member wrote too. ``one_client``: the cluster's
    most used posting application, against its share of all posts.
organic
    ``diverse_content``: the share of a member's objects that no other member touched (own
    interests); ``conversations``: members who reply (>= 20% of their posts).

The share traits count members with the property and test that count against the property's
share among every account eligible for it (a binomial tail). Artefact warning: where a data set
mixes sources (the IRA-in-Higgs protocol), a population baseline also separates the sources
(time zone, text presence, clients); only ``serial_order`` and ``diverse_content`` are measured
relative to the cluster's own members alone.

``assessment``: 'automation' when an automation trait passes (value above baseline, p <= ``ALPHA``
after Bonferroni over the cluster's traits; ``repost_only`` only beside another, as people who only
repost are common where the data holds nothing else), else 'operated' when an operator trait
passes, else 'organic-like' when most of the members' objects are their own (a member without
content counting as none) or its members converse beyond the baseline, else 'undetermined'.
``evidence_strength`` orders the clusters, the surest operations first: −log10 of the smallest
passing automation or operator p (Bonferroni over the traits, capped at ``CAP``), plus the median
score of the cluster's edges (their fused p scored as accounts are, in [0, 1]: how strong the
typical pair evidence that binds it is, whatever the cluster's size; the members' account
scores grow with their number of partners, so a large organic group would outrank a small
operation).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from swarmscope.store.backend import Backend
from swarmscope.store.dialect import Dialect

ALPHA = 0.001
CAP = 50.0
MAX_ACCOUNTS = 20
FAMILY = {"serial_order": "automation", "gap_regularity": "automation",
          "round_the_clock": "automation", "repost_only": "automation",
          "shared_rhythm": "operator", "identical_texts": "operator", "one_client": "operator",
          "diverse_content": "organic", "conversations": "organic"}

#: share traits: (name, eligible accounts, property, what the detail sentence says)
SHARE_TRAITS = (
    ("gap_regularity", "posts >= 10", "gap_cv < 0.5", "post at regular intervals"),
    ("round_the_clock", "posts >= 20", "hours >= 20", "post in 20 or more hours of the day"),
    ("repost_only", "posts >= 5", "reposts = posts", "post only reposts"),
    ("identical_texts", "texts > 0", "copied_texts > 0", "wrote a text another member wrote"),
    ("conversations", "posts >= 5", "replies >= 0.2 * posts", "reply in 20% or more of posts"),
)


def cluster_traits(db: Backend) -> int:
    """Fill the temp table ``cluster_traits`` (cluster_id, family, trait, value, baseline,
    p_value, members, accounts, detail) from ``posts``, ``traces``, ``cluster_members`` and
    ``account_scores``, and add ``assessment`` and ``evidence_strength`` to
    ``cluster_summary`` (its edges' scores from ``cluster_edges`` through fusion's
    ``swarmscope_score``); returns the rows."""
    d = db.dialect
    _account_stats(db)
    db.materialise("trait_objects", """
        SELECT m.cluster_id, t.account, t.kind, t.object, min(t.ts) AS ts
        FROM traces t JOIN cluster_members m ON m.account = t.account
        WHERE t.kind <> 'sync' GROUP BY m.cluster_id, t.account, t.kind, t.object""")
    db.materialise("trait_shared_posts", """
        SELECT DISTINCT t.post FROM traces t JOIN cluster_members m ON m.account = t.account
        JOIN (SELECT m.cluster_id, t.kind, t.object FROM traces t
              JOIN cluster_members m ON m.account = t.account
              GROUP BY m.cluster_id, t.kind, t.object HAVING count(DISTINCT t.account) >= 2) s
             ON s.cluster_id = m.cluster_id AND s.kind = t.kind AND s.object = t.object""")
    parts = [_share_trait(d, *t) for t in SHARE_TRAITS]
    parts += [_serial_order(d), _shared_rhythm(d), _one_client(d), _diverse_content(d)]
    raw = db.to_arrow(" UNION ALL ".join(f"SELECT * FROM ({p}) t{i}" for i, p in enumerate(parts))
                      + " ORDER BY cluster_id, trait")
    keys = sorted({k for acc in raw.column("accounts").to_pylist() for k in acc or []})
    ids = dict(db.query("SELECT account_key, account_id FROM account_keys WHERE account_key IN ("
                        + ", ".join(str(int(k)) for k in keys) + ")")) if keys else {}
    db.register_arrow("cluster_traits", _tested(raw, ids))
    _assess(db)
    db.drop("trait_stats", "trait_objects", "trait_hours", "trait_shared_posts")
    return db.scalar("SELECT count(*) FROM cluster_traits")


def _account_stats(db: Backend) -> None:
    """``trait_stats``, per account: posts, reposts, replies, hours of the day used, the
    gaps' coefficient of variation, texts and texts another account wrote too;
    ``trait_hours``: its posts per hour of the day."""
    d = db.dialect
    ms = d.epoch_ms("created_at")
    db.materialise("trait_hours", """
        SELECT account_key AS account, hour(created_at) AS hour, count(*) AS n
        FROM posts GROUP BY account_key, hour(created_at)""")
    db.materialise("trait_stats", f"""
        WITH gaps AS (
            SELECT account_key, CAST(gap AS DOUBLE) AS gap FROM (
                SELECT account_key, {ms} - lag({ms}) OVER (PARTITION BY account_key
                                                         ORDER BY created_at, post_key) AS gap
                FROM posts) g WHERE gap IS NOT NULL),
        cv AS (
            SELECT account_key, sqrt(greatest({d.sorted_sum('gap * gap')} / count(*)
                   - ({d.sorted_sum('gap')} / count(*)) * ({d.sorted_sum('gap')} / count(*)), 0))
                   / nullif({d.sorted_sum('gap')} / count(*), 0) AS gap_cv
            FROM gaps GROUP BY account_key),
        texts AS (
            SELECT account_key, lower(trim(text)) AS t FROM posts
            WHERE kind <> 'repost' AND length(text) >= 20 GROUP BY account_key, lower(trim(text))),
        copied AS (SELECT t FROM texts GROUP BY t HAVING count(*) >= 2),
        own_texts AS (
            SELECT x.account_key, count(*) AS texts, count(c.t) AS copied_texts
            FROM texts x LEFT JOIN copied c ON c.t = x.t GROUP BY x.account_key)
        SELECT p.account_key AS account, count(*) AS posts,
               count(*) FILTER (WHERE p.kind = 'repost') AS reposts,
               count(*) FILTER (WHERE p.kind = 'reply') AS replies,
               count(DISTINCT hour(p.created_at)) AS hours, max(cv.gap_cv) AS gap_cv,
               coalesce(max(o.texts), 0) AS texts,
               coalesce(max(o.copied_texts), 0) AS copied_texts
        FROM posts p LEFT JOIN cv ON cv.account_key = p.account_key
        LEFT JOIN own_texts o ON o.account_key = p.account_key
        GROUP BY p.account_key""")


def _share_trait(d: Dialect, name: str, eligible: str, prop: str, says: str) -> str:
    """SQL: the members with ``prop`` among those ``eligible``, against every eligible account;
    ``p`` is left for :func:`_tested` (binomial)."""
    k = f"count(*) FILTER (WHERE {prop})"
    return f"""
        SELECT m.cluster_id, '{name}' AS trait, CAST({k} AS DOUBLE) / count(*) AS value,
               (SELECT CAST({k} AS DOUBLE) / count(*) FROM trait_stats WHERE {eligible})
               AS baseline, count(*) AS n, {k} AS members,
               {d.first_distinct(f'CASE WHEN {prop} THEN s.account END', MAX_ACCOUNTS)}
               AS accounts,
               CAST({k} AS STRING) || ' of ' || CAST(count(*) AS STRING) || ' members {says}'
               AS detail, 'binomial' AS test, CAST(NULL AS DOUBLE) AS z
        FROM cluster_members m JOIN trait_stats s ON s.account = m.account
        WHERE {eligible} GROUP BY m.cluster_id"""


def _serial_order(d: Dialect) -> str:
    """SQL: for each pair of members with >= 3 objects both acted on within an hour (at
    different times), |2k − n| / n where k is how often the first of the pair acted first;
    averaged over the pairs. Under random order k ~ Binomial(n, 1/2): ``baseline`` is the
    expected mean, ``z`` the standardised excess with the variance inflated by pairs/members
    (the pairs of one member are not independent), tested one-sided."""
    pairs = """
        SELECT a.cluster_id, a.account AS a, b.account AS b, count(*) AS n,
               count(*) FILTER (WHERE a.ts < b.ts) AS k
        FROM trait_objects a JOIN trait_objects b ON b.cluster_id = a.cluster_id
             AND b.kind = a.kind AND b.object = a.object AND b.account > a.account
             AND b.ts <> a.ts AND abs(b.ts - a.ts) <= 3600000
        GROUP BY a.cluster_id, a.account, b.account HAVING count(*) >= 3"""
    # E|2B − n| / n for B ~ Binomial(n, 1/2): the normal approximation with continuity
    # correction (within 2% from n = 3); Var = E(2B − n)² / n² − mean² = 1 / n − mean²
    mean = "sqrt(2 / (pi() * n)) * (1 - 1 / (4 * n))"
    var = f"greatest(1.0 / n - ({mean}) * ({mean}), 1e-6)"
    dev = "abs(2 * k - n) / n"
    ordered = "abs(2 * k - n) >= 0.8 * n"
    return f"""
        SELECT cluster_id, 'serial_order' AS trait, {d.sorted_sum(dev)} / count(*) AS value,
               {d.sorted_sum(mean)} / count(*) AS baseline, count(*) AS n,
               count(DISTINCT CASE WHEN {ordered} THEN a END) AS members,
               {d.first_distinct(f'CASE WHEN {ordered} THEN a END', MAX_ACCOUNTS)} AS accounts,
               CAST(count(*) FILTER (WHERE {ordered}) AS STRING) || ' of ' ||
               CAST(count(*) AS STRING) || ' member pairs act in the same order on 80% or '
               || 'more of the objects both acted on within an hour' AS detail,
               'normal' AS test,
               ({d.sorted_sum(dev)} - {d.sorted_sum(mean)})
               / sqrt({d.sorted_sum(var)} * count(*)
                      / (count(DISTINCT a) + count(DISTINCT b))) AS z
        FROM ({pairs}) pr GROUP BY cluster_id"""


def _shared_rhythm(d: Dialect) -> str:
    """SQL: per member, the cosine of its 24-hour profile p with the other members' summed
    profile O = C − p (|O|² = |C|² − 2 p·C + |p|²), against its cosine with everybody's; the
    value and baseline are their means, ``z`` a paired one-sample z over the members. The
    members' profiles leave out the posts of their co-actions (an object or a minute another
    member shares), which match in time by construction."""
    diff = "c_in - c_out"
    return f"""
        WITH prof AS (
            SELECT m.cluster_id, p.account_key AS account, hour(p.created_at) AS hour,
                   count(*) AS n
            FROM posts p JOIN cluster_members m ON m.account = p.account_key
            WHERE p.post_key NOT IN (SELECT post FROM trait_shared_posts)
            GROUP BY m.cluster_id, p.account_key, hour(p.created_at)),
        total AS (SELECT hour, sum(n) AS n FROM trait_hours GROUP BY hour),
        clus AS (SELECT cluster_id, hour, sum(n) AS n FROM prof GROUP BY cluster_id, hour),
        clus_norm AS (SELECT cluster_id, sum(n * n) AS cc FROM clus GROUP BY cluster_id),
        dots AS (
            SELECT p.cluster_id, p.account, sum(p.n * p.n) AS pp, sum(p.n * c.n) AS pc,
                   sum(p.n * t.n) AS pt
            FROM prof p JOIN clus c ON c.cluster_id = p.cluster_id AND c.hour = p.hour
            JOIN total t ON t.hour = p.hour GROUP BY p.cluster_id, p.account),
        cos AS (
            SELECT x.cluster_id, x.account,
                   (x.pc - x.pp) / sqrt(x.pp * (cn.cc - 2 * x.pc + x.pp)) AS c_in,
                   x.pt / sqrt(x.pp * tn.tt) AS c_out
            FROM dots x JOIN clus_norm cn ON cn.cluster_id = x.cluster_id
            CROSS JOIN (SELECT sum(n * n) AS tt FROM total) tn
            WHERE cn.cc - 2 * x.pc + x.pp > 0)
        SELECT cluster_id, 'shared_rhythm' AS trait, {d.sorted_sum('c_in')} / count(*) AS value,
               {d.sorted_sum('c_out')} / count(*) AS baseline, count(*) AS n,
               count(*) FILTER (WHERE c_in > c_out) AS members,
               {d.first_distinct('CASE WHEN c_in > c_out THEN account END', MAX_ACCOUNTS)}
               AS accounts,
               CAST(count(*) FILTER (WHERE c_in > c_out) AS STRING) || ' of ' ||
               CAST(count(*) AS STRING) || ' members keep hours closer to the other members '
               || 'than to everybody, outside their co-actions' AS detail, 'normal' AS test,
               ({d.sorted_sum(diff)} / count(*)) / sqrt(greatest(
                   ({d.sorted_sum(f'({diff}) * ({diff})')} - {d.sorted_sum(diff)}
                    * {d.sorted_sum(diff)} / count(*)) / (count(*) - 1), 1e-12) / count(*)) AS z
        FROM cos GROUP BY cluster_id HAVING count(*) >= 3"""


def _one_client(d: Dialect) -> str:
    """SQL: the members' most used posting application, its share of their posts against its
    share of all posts (binomial over posts)."""
    return f"""
        WITH used AS (
            SELECT m.cluster_id, p.client, count(*) AS n, count(DISTINCT p.account_key) AS acc,
                   {d.first_distinct('p.account_key', MAX_ACCOUNTS)} AS accounts
            FROM posts p JOIN cluster_members m ON m.account = p.account_key
            WHERE p.client IS NOT NULL GROUP BY m.cluster_id, p.client),
        top AS (
            SELECT *, sum(n) OVER (PARTITION BY cluster_id) AS total,
                   row_number() OVER (PARTITION BY cluster_id ORDER BY n DESC, client) AS r
            FROM used),
        everybody AS (SELECT client, count(*) AS n FROM posts WHERE client IS NOT NULL
                      GROUP BY client)
        SELECT t.cluster_id, 'one_client' AS trait, CAST(t.n AS DOUBLE) / t.total AS value,
               CAST(e.n AS DOUBLE) / (SELECT sum(n) FROM everybody) AS baseline,
               t.total AS n, t.acc AS members, t.accounts,
               CAST(t.n AS STRING) || ' of ' || CAST(t.total AS STRING) ||
               ' posts of the members come from ' || t.client AS detail,
               'binomial' AS test, CAST(NULL AS DOUBLE) AS z
        FROM top t JOIN everybody e ON e.client = t.client WHERE t.r = 1"""


def _diverse_content(d: Dialect) -> str:
    """SQL: the mean share of a member's objects that no other member acted on, over every
    member (one whose traces carry no content, only time bins, has no objects of its own: a
    cluster bound by synchrony alone shows no own interests); no test. Not measured where no
    member has content."""
    own = "s >= 0.5"
    return f"""
        WITH o AS (SELECT cluster_id, kind, object, count(*) AS k FROM trait_objects
                   GROUP BY cluster_id, kind, object),
        own AS (SELECT t.cluster_id, t.account,
                       CAST(count(*) FILTER (WHERE o.k = 1) AS DOUBLE) / count(*) AS s
                FROM trait_objects t JOIN o ON o.cluster_id = t.cluster_id AND o.kind = t.kind
                     AND o.object = t.object GROUP BY t.cluster_id, t.account),
        members AS (SELECT m.cluster_id, m.account, coalesce(own.s, 0) AS s,
                           CASE WHEN own.s IS NULL THEN 1 ELSE 0 END AS bare
                    FROM cluster_members m LEFT JOIN own ON own.cluster_id = m.cluster_id
                         AND own.account = m.account)
        SELECT cluster_id, 'diverse_content' AS trait, {d.sorted_sum('s')} / count(*) AS value,
               CAST(NULL AS DOUBLE) AS baseline, count(*) AS n,
               count(*) FILTER (WHERE {own}) AS members,
               {d.first_distinct(f'CASE WHEN {own} THEN account END', MAX_ACCOUNTS)} AS accounts,
               CAST(count(*) FILTER (WHERE {own}) AS STRING) || ' of ' ||
               CAST(count(*) AS STRING) || ' members act mostly on objects no other member '
               || 'touched' || CASE WHEN sum(bare) > 0 THEN ' (' || CAST(sum(bare) AS STRING)
               || ' have no traces with content)' ELSE '' END AS detail,
               'none' AS test, CAST(NULL AS DOUBLE) AS z
        FROM members GROUP BY cluster_id HAVING sum(bare) < count(*)"""


def _tested(raw: pa.Table, ids: dict[int, str]) -> pa.Table:
    """The traits with their family, p-values (binomial tails; one-sided normal tails) and the
    account ids behind them."""
    from scipy import stats
    t = raw.to_pydict()
    trait = np.asarray(t["trait"], dtype=object)
    n, k = np.asarray(t["n"], float), np.asarray(t["members"], float)
    value = np.asarray(t["value"], float)
    base = np.asarray([np.nan if b is None else b for b in t["baseline"]], float)
    z = np.asarray([np.nan if v is None else v for v in t["z"]], float)
    test = np.asarray(t["test"], dtype=object)
    # what the binomial counts: members, or for one_client the top client's posts
    count = np.where(trait == "one_client", np.rint(value * n), k)
    p = np.full(len(n), np.nan)
    binom, normal = test == "binomial", test == "normal"
    p[binom] = stats.binom.sf(count[binom] - 1, n[binom], np.clip(base[binom], 1e-12, 1.0))
    p[normal] = stats.norm.sf(z[normal])
    return pa.table({
        "cluster_id": pa.array(t["cluster_id"], pa.int32()),
        "family": pa.array([FAMILY[x] for x in trait], pa.string()),
        "trait": pa.array(trait, pa.string()),
        "value": pa.array(value, pa.float64()),
        "baseline": pa.array(base, pa.float64(), mask=np.isnan(base)),
        "p_value": pa.array(p, pa.float64(), mask=np.isnan(p)),
        "members": pa.array(k.astype(np.int64), pa.int64()),
        "accounts": pa.array([[ids[int(a)] for a in acc or []] for acc in t["accounts"]],
                             pa.list_(pa.string())),
        "detail": pa.array(t["detail"], pa.string())})


def _assess(db: Backend) -> None:
    """``assessment`` and ``evidence_strength`` (module docstring) into ``cluster_summary``."""
    bonferroni = "p_value * count(*) OVER (PARTITION BY cluster_id)"
    db.materialise("cluster_assessment", f"""
        WITH tested AS (
            SELECT cluster_id, family, trait, value,
                   coalesce({bonferroni} <= {ALPHA} AND value > baseline, false) AS passed,
                   least({CAP}, -log10(greatest(least({bonferroni}, 1), 1e-300))) AS strength
            FROM cluster_traits),
        t AS (  -- repost_only counts only beside another automation trait
            SELECT *, passed AND (trait <> 'repost_only' OR sum(CASE WHEN passed
                          AND family = 'automation' AND trait <> 'repost_only' THEN 1 ELSE 0 END)
                          OVER (PARTITION BY cluster_id) > 0) AS passes
            FROM tested),
        edge_scores AS (
            SELECT cluster_id, median(swarmscope_score(p)) AS score FROM cluster_edges
            GROUP BY cluster_id)
        SELECT c.cluster_id,
               CASE WHEN bool_or(t.passes AND t.family = 'automation') THEN 'automation'
                    WHEN bool_or(t.passes AND t.family = 'operator') THEN 'operated'
                    WHEN bool_or(t.trait = 'diverse_content' AND t.value >= 0.5)
                         OR bool_or(t.passes AND t.trait = 'conversations') THEN 'organic-like'
                    ELSE 'undetermined' END AS assessment,
               coalesce(max(t.strength) FILTER (WHERE t.passes AND t.family <> 'organic'), 0)
               + coalesce(max(es.score), 0) AS evidence_strength
        FROM (SELECT DISTINCT cluster_id FROM cluster_members) c
        LEFT JOIN t ON t.cluster_id = c.cluster_id
        LEFT JOIN edge_scores es ON es.cluster_id = c.cluster_id
        GROUP BY c.cluster_id""")
    db.materialise("cluster_summary", """
        SELECT s.*, a.assessment, a.evidence_strength FROM cluster_summary s
        LEFT JOIN cluster_assessment a ON a.cluster_id = s.cluster_id""")
    db.drop("cluster_assessment")
