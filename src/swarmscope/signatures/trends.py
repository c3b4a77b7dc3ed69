"""Manufactured trends: bursts in the use of a hashtag or a domain, and who made them.

Each hashtag (case-folded) and each domain is tested for surges of distinct accounts per time
bin against its own rate over the span (:mod:`swarmscope.signatures.surges`: Kleinberg's baseline
rate, a Poisson surge test, Benjamini-Hochberg over all cells). A burst is *manufactured* when at
least half of its posts come from accounts that ``detect`` flagged: a trend that a few
coordinated accounts were told to push (the IRA "hashtag games", Linvill & Warren 2020; the fake
Turkish trends, Elmas et al., EuroS&P 2021). Bursts are ranked by the posts of flagged accounts,
then by p-value, so the top of the list is where coordination made volume. Link shorteners
(``SHORTENERS``) are left out of the domains: their volume says nothing of where links lead.
"""

from __future__ import annotations

from dataclasses import dataclass


from swarmscope.store.backend import Backend
from swarmscope.signatures.surges import (SurgeParams, coordination_shares, evidence_sql,
                                          find_surges)
from swarmscope.store.sql import literal

SHORTENERS = ("t.co", "bit.ly", "ow.ly", "buff.ly", "dlvr.it", "goo.gl", "tinyurl.com", "ift.tt",
              "fb.me", "is.gd", "trib.al", "j.mp", "lnkd.in")


@dataclass(frozen=True)
class TrendParams(SurgeParams):
    """:class:`SurgeParams` and the least share of a burst's posts by flagged accounts that
    makes it manufactured."""

    manufactured_share: float = 0.5


def trend_bursts(db: Backend, time_filter: str = "true",
                 params: TrendParams = TrendParams()) -> int:
    """Fill the temp table ``trends_found`` (columns in ``swarmscope.store.schema``);
    ``time_filter`` is a SQL condition on ``posts.created_at``. Returns the burst count."""
    source = f"""
        SELECT e.kind || ':' || CASE WHEN e.kind = 'hashtag' THEN lower(e.value) ELSE e.value END
                   AS object, p.account_key AS account, p.post_id, p.created_at AS ts
        FROM entities e JOIN (SELECT * FROM posts WHERE {time_filter}) p USING (platform, post_id)
        WHERE e.kind = 'hashtag' OR (e.kind = 'domain'
                                     AND e.value NOT IN ({", ".join(map(literal, SHORTENERS))}))"""
    n = find_surges(db, source, "trend", bin_s=params.bin_s, fdr=params.fdr,
                    min_accounts=params.min_accounts)
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE trends_found AS
        SELECT row_number() OVER (ORDER BY coalesce(s.flagged_share, 0) * b.posts DESC,
                                  b.p_value, b.posts DESC, b.object, b.start_time) AS rank,
               split_part(b.object, ':', 1) AS kind,
               substr(b.object, length(split_part(b.object, ':', 1)) + 2) AS value,
               b.start_time, b.end_time, b.accounts, b.posts, b.expected, b.p_value, b.q_value,
               s.flagged_share, s.clustered_share, s.flagged_accounts,
               coalesce(s.flagged_share >= {float(params.manufactured_share)}, false)
                   AS manufactured, s.clusters, e.evidence
        FROM trend_bursts b JOIN ({coordination_shares(db, "trend")}) s USING (object, burst)
        JOIN ({evidence_sql("trend")}) e USING (object, burst)
        ORDER BY rank""")
    return n
