"""Surges: time bins in which unusually many accounts act on one object, against that object's
own rate; the shared test behind manufactured trends, targeted attacks and ephemeral bursts.

Per object (a hashtag, a domain, a target account or post), the count in a bin is the number of
distinct accounts acting on it there. Its background rate is the object's mean count per bin over
the observed span, as in the baseline state of Kleinberg's burst model (Kleinberg, "Bursty
and Hierarchical Structure in Streams", KDD 2002; DMKD 7:373, 2003). The observed span is the
bins from the first to the last action, less every whole day without any action: a collection
with gaps counts only the time it covers, and one post dated decades off (a 1900 date in a 2012
collection) adds its own bin, instead of stretching the span over a century and every rate
towards zero, which made every busy hour a surge. The burst is a bin whose
count is improbable under Poisson(rate): p = P(X >= x). Benjamini-Hochberg (JRSS-B 57:289, 1995)
over every (object, bin) cell, the empty ones included (they count as p = 1), keeps the false
discovery rate over all cells. Significant bins of an object one bin apart or adjacent merge into
one burst. Counting accounts, not posts, keeps one prolific account from making a surge.

Limits: the rate is constant over the span (no daily cycle), so a daily peak of a steadily busy
object can test as a surge; organic news also surges: coordination comes from the shares of a
burst's posts by flagged or clustered accounts (:func:`coordination_shares`).
"""

from __future__ import annotations

import pyarrow as pa

from dataclasses import dataclass

from swarmscope.detection.stats import benjamini_hochberg, poisson_p
from swarmscope.store.backend import Backend


@dataclass(frozen=True)
class SurgeParams:
    """Bin width (seconds), FDR level over every (object, bin) cell, and the least distinct
    accounts in a bin (the parameters every signature built on surges shares)."""

    bin_s: float = 3600.0
    fdr: float = 0.01
    min_accounts: int = 5


def find_surges(db: Backend, source: str, prefix: str, *, bin_s: float,
                fdr: float, min_accounts: int) -> int:
    """Test the actions of ``source`` (SQL with columns ``object VARCHAR, account INTEGER,
    post_id VARCHAR, ts TIMESTAMP``) and fill the temp tables ``{prefix}_bursts(object, burst,
    start_time, end_time, bins, accounts, posts, expected, p_value, q_value)`` and
    ``{prefix}_burst_posts(object, burst, account, post_id, ts)``; returns the burst count."""
    db.materialise(f"{prefix}_acts", f"""
        SELECT object, account, post_id, ts,
               CAST(floor(epoch(ts) / {float(bin_s)}) AS BIGINT) AS bin FROM ({source})
        WHERE object IS NOT NULL AND ts IS NOT NULL""")
    db.materialise(f"{prefix}_cells", f"""
        SELECT object, bin, count(DISTINCT account) AS x FROM {prefix}_acts GROUP BY ALL""")
    nbins, objects = db.query(f"""
        WITH days AS (SELECT floor(bin / {max(1, round(86400 / bin_s))}) AS day, min(bin) AS b0,
                             max(bin) AS b1 FROM {prefix}_cells GROUP BY day),
             runs AS (SELECT b0, b1, day - row_number() OVER (ORDER BY day) AS run FROM days)
        SELECT (SELECT coalesce(sum(span), 0) FROM (
                    SELECT max(b1) - min(b0) + 1 AS span FROM runs GROUP BY run)),
               (SELECT count(DISTINCT object) FROM {prefix}_cells)""")[0]
    cells = db.to_arrow(f"""
        SELECT c.object, c.bin, c.x, t.total / {max(nbins, 1)} AS rate FROM {prefix}_cells c
        JOIN (SELECT object, sum(x) AS total FROM {prefix}_cells GROUP BY ALL) t USING (object)
        WHERE c.x >= {int(min_accounts)} ORDER BY c.object, c.bin""")
    p = poisson_p(cells.column("x").to_numpy(), cells.column("rate").to_numpy())
    q = benjamini_hochberg(p, max(nbins * objects, 1))
    keep = q <= fdr
    db.register_arrow(f"{prefix}_sig", cells.filter(pa.array(keep)).append_column(
        "p", pa.array(p[keep], pa.float64())).append_column("q", pa.array(q[keep], pa.float64())))
    db.materialise(f"{prefix}_islands", f"""
        SELECT object, bin, rate, p, q, dense_rank() OVER (ORDER BY object, grp) AS burst FROM (
            SELECT *, sum(CASE WHEN prev IS NULL OR bin - prev > 2 THEN 1 ELSE 0 END)
                          OVER (PARTITION BY object ORDER BY bin) AS grp
            FROM (SELECT *, lag(bin) OVER (PARTITION BY object ORDER BY bin) AS prev
                  FROM {prefix}_sig))""")
    db.materialise(f"{prefix}_burst_posts", f"""
        SELECT i.object, i.burst, a.account, a.post_id, a.ts FROM {prefix}_acts a
        JOIN (SELECT object, burst, min(bin) AS b0, max(bin) AS b1 FROM {prefix}_islands
              GROUP BY ALL) i ON i.object = a.object AND a.bin BETWEEN i.b0 AND i.b1""")
    db.materialise(f"{prefix}_bursts", f"""
        SELECT i.object, i.burst, bp.start_time, bp.end_time, i.bins, bp.accounts, bp.posts,
               i.rate * i.bins AS expected, i.p_value, i.q_value
        FROM (SELECT object, burst, max(bin) - min(bin) + 1 AS bins, any_value(rate) AS rate,
                     min(p) AS p_value, min(q) AS q_value FROM {prefix}_islands GROUP BY ALL) i
        JOIN (SELECT object, burst, min(ts) AS start_time, max(ts) AS end_time,
                     count(DISTINCT account) AS accounts, count(DISTINCT post_id) AS posts
              FROM {prefix}_burst_posts GROUP BY ALL) bp USING (object, burst)""")
    return db.scalar(f"SELECT count(*) FROM {prefix}_bursts")


def coordination_shares(db: Backend, prefix: str, *, top: int = 5) -> str:
    """SQL giving, per ``(object, burst)`` of ``{prefix}_burst_posts``: ``flagged_share`` and
    ``clustered_share`` (the shares of its posts by accounts that ``detect`` flagged or put in a
    cluster; NULL when no ``detect_accounts`` table exists), ``flagged_accounts`` and
    ``clusters`` (the ``top`` clusters by posts, as ``{cluster_id, accounts, posts}``)."""
    if not db.has_table("detect_accounts", temporary=False):
        return (f"SELECT DISTINCT object, burst, NULL::DOUBLE AS flagged_share, "
                f"NULL::DOUBLE AS clustered_share, NULL::BIGINT AS flagged_accounts, "
                f"NULL::STRUCT(cluster_id BIGINT, accounts BIGINT, posts BIGINT)[] AS clusters "
                f"FROM {prefix}_burst_posts")
    return f"""
        WITH tagged AS (
            SELECT bp.object, bp.burst, bp.account, bp.post_id,
                   coalesce(d.flagged, false) AS flagged, d.cluster_id
            FROM {prefix}_burst_posts bp JOIN account_keys k ON k.account_key = bp.account
            LEFT JOIN detect_accounts d ON d.platform = k.platform AND d.account_id = k.account_id),
        per_cluster AS (
            SELECT object, burst, cluster_id, count(DISTINCT account) AS accounts,
                   count(DISTINCT post_id) AS posts FROM tagged WHERE cluster_id IS NOT NULL
            GROUP BY ALL)
        SELECT t.object, t.burst,
               count(DISTINCT post_id) FILTER (WHERE flagged) / count(DISTINCT post_id)
                   AS flagged_share,
               count(DISTINCT post_id) FILTER (WHERE cluster_id IS NOT NULL)
                   / count(DISTINCT post_id) AS clustered_share,
               count(DISTINCT account) FILTER (WHERE flagged) AS flagged_accounts,
               any_value(c.clusters) AS clusters
        FROM tagged t LEFT JOIN (
            SELECT object, burst, list({{'cluster_id': cluster_id, 'accounts': accounts,
                                        'posts': posts}} ORDER BY posts DESC, cluster_id)[:{top}]
                                  AS clusters FROM per_cluster GROUP BY ALL) c USING (object, burst)
        GROUP BY t.object, t.burst"""


def evidence_sql(prefix: str, *, limit: int = 20) -> str:
    """SQL giving, per ``(object, burst)``, ``evidence``: its first ``limit`` posts as
    ``{post_id, account_id, ts}`` in time order."""
    return f"""
        SELECT bp.object, bp.burst,
               list({{'post_id': bp.post_id, 'account_id': k.account_id, 'ts': bp.ts}}
                    ORDER BY bp.ts, bp.post_id)[:{int(limit)}] AS evidence
        FROM {prefix}_burst_posts bp JOIN account_keys k ON k.account_key = bp.account
        GROUP BY ALL"""
