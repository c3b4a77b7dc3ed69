"""Behavioural signatures beside the co-action score: profile findings, targeted attacks,
manufactured trends and ephemeral bursts, stored as ``detect_profile``, ``detect_attacks``,
``detect_trends`` and ``detect_ephemeral`` (and written as Parquet with ``--out``).

They run after the account scores are stored, read ``detect_accounts`` for the shares of
flagged and clustered accounts, and never change the score. Trends, attacks and ephemeral bursts
keep to ``--since``/``--until``; profile findings cover every account in the store.
"""

from __future__ import annotations

from swarmscope.signatures.attacks import attack_bursts
from swarmscope.signatures.ephemeral import ephemeral_bursts
from swarmscope.signatures.profile import profile_findings
from swarmscope.signatures.trends import trend_bursts
from swarmscope.store.backend import Backend

_FOUND = (("detect_profile", "profile_findings"), ("detect_attacks", "attacks_found"),
          ("detect_trends", "trends_found"), ("detect_ephemeral", "ephemeral_found"))


def signatures(db: Backend, run_id: int, where: str = "true") -> dict[str, int]:
    """Compute every signature over the posts matching ``where`` (a SQL condition on
    ``created_at``; profile findings read every account) and store the ``detect_*`` tables;
    returns the row count of each table."""
    profile_findings(db)
    attack_bursts(db, where)
    trend_bursts(db, where)
    ephemeral_bursts(db, where)
    rows = {}
    for table, temp in _FOUND:
        db.persist(table, f"SELECT {run_id} AS run_id, * FROM {temp}")
        rows[table] = db.scalar(f"SELECT count(*) FROM {table}")
    return rows
