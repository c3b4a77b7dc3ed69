"""Targeted attacks: many accounts replying to or mentioning one account (or replying to one
post) in a short time, far above that target's own rate: the pile-on of a smear campaign.

Targets are accounts replied to (``posts.parent_account_id`` of replies), accounts mentioned
(``entities`` of kind mention) and posts replied to (``parent_post_id``). Each target's distinct
attacking accounts per bin are tested for surges against its own rate over the span
(:mod:`swarmscope.signatures.surges`: Poisson, Benjamini-Hochberg over all cells). Attacks are ranked
by attackers that ``detect`` flagged, then by p-value, so that an organised pile-on comes before
an organic one (news makes organic surges too).

Reference for the behaviour: Marwick & Caplan, "Drinking male tears" (Feminist Media Studies
18:543, 2018) on networked harassment; for coordination behind it, Pacheco et al., ICWSM 2021.
"""

from __future__ import annotations

from dataclasses import dataclass


from swarmscope.store.backend import Backend
from swarmscope.signatures.surges import (SurgeParams, coordination_shares, evidence_sql,
                                          find_surges)


@dataclass(frozen=True)
class AttackParams(SurgeParams):
    """:class:`SurgeParams` with at least 10 distinct attackers in a bin."""

    min_accounts: int = 10


def attack_bursts(db: Backend, time_filter: str = "true",
                  params: AttackParams = AttackParams()) -> int:
    """Fill the temp table ``attacks_found`` (columns in ``swarmscope.store.schema``);
    ``time_filter`` is a SQL condition on ``posts.created_at``. Returns the attack count."""
    source = f"""
        WITH p AS (SELECT * FROM posts WHERE {time_filter})
        SELECT 'account:' || parent_account_id AS object, account_key AS account, post_id,
               created_at AS ts FROM p WHERE kind = 'reply' AND parent_account_id <> account_id
        UNION ALL
        SELECT 'post:' || parent_post_id, account_key, post_id, created_at FROM p
        WHERE kind = 'reply' AND parent_post_id IS NOT NULL AND parent_account_id <> account_id
        UNION ALL
        SELECT 'account:' || e.value, p.account_key, p.post_id, p.created_at
        FROM entities e JOIN p USING (platform, post_id)
        WHERE e.kind = 'mention' AND e.value <> p.account_id"""
    n = find_surges(db, source, "attack", bin_s=params.bin_s, fdr=params.fdr,
                    min_accounts=params.min_accounts)
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE attacks_found AS
        SELECT row_number() OVER (ORDER BY coalesce(s.flagged_accounts, 0) DESC, b.p_value,
                                  b.accounts DESC, b.object, b.start_time) AS rank,
               split_part(b.object, ':', 1) AS target_kind,
               substr(b.object, length(split_part(b.object, ':', 1)) + 2) AS target,
               b.start_time, b.end_time, b.accounts AS attackers, b.posts, b.expected,
               b.p_value, b.q_value, s.flagged_accounts,
               s.flagged_accounts / b.accounts AS flagged_attacker_share, s.flagged_share,
               s.clustered_share,
               s.clusters, a.attacker_ids, e.evidence
        FROM attack_bursts b JOIN ({coordination_shares(db, "attack")}) s USING (object, burst)
        JOIN ({evidence_sql("attack")}) e USING (object, burst)
        JOIN (SELECT bp.object, bp.burst, list(DISTINCT k.account_id ORDER BY k.account_id)
                  AS attacker_ids
              FROM attack_burst_posts bp JOIN account_keys k ON k.account_key = bp.account
              GROUP BY ALL) a USING (object, burst)
        ORDER BY rank""")
    return n
