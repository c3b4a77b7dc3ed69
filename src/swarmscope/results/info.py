"""``info``: what is in a store, the first thing a newcomer checks."""

from __future__ import annotations

from typing import Any

from swarmscope.store import Store
from swarmscope.store.sql import shown_time


def store_info(store: Store, top: int = 10) -> dict[str, Any]:
    """Counts per table and platform, time span (as text: any stored time, even one before
    year 1, which no Python datetime holds), post kinds, top hashtags and domains, labels."""
    rows = store.db.query
    tables = {t: store.db.scalar(f"SELECT count(*) FROM {t}")
              for t in ("posts", "accounts", "entities", "account_labels", "rejects", "runs")}
    per_platform = [
        {"platform": p, "posts": n, "accounts": a, "first": first, "last": last}
        for p, n, a, first, last in rows(
            "SELECT platform, count(*), count(DISTINCT account_id), "
            f"{shown_time('min(created_at)')}, {shown_time('max(created_at)')} "
            "FROM posts GROUP BY platform ORDER BY platform")]
    kinds = dict(rows("SELECT kind, count(*) FROM posts GROUP BY kind ORDER BY 2 DESC"))
    entity_kinds = dict(rows("SELECT kind, count(*) FROM entities GROUP BY kind ORDER BY 2 DESC"))

    def top_values(kind: str) -> list[tuple[str, int]]:
        return rows(f"SELECT value, count(*) AS n FROM entities WHERE kind = '{kind}' "
                    f"GROUP BY value ORDER BY n DESC, value LIMIT {top}")

    labels = [{"label": n, "value": v, "accounts": c} for n, v, c in rows(
        "SELECT name, value, count(DISTINCT account_id) FROM account_labels "
        "GROUP BY ALL ORDER BY name, 3 DESC, value")]
    rejects = rows("SELECT field, split_part(reason, ':', 1) AS why, count(*) FROM rejects "
                   "GROUP BY ALL ORDER BY 3 DESC LIMIT 10")
    return {
        "store": str(store.path),
        "tables": tables,
        "platforms": per_platform,
        "post_kinds": kinds,
        "entity_kinds": entity_kinds,
        "top_hashtags": top_values("hashtag"),
        "top_domains": top_values("domain"),
        "labels": labels,
        "top_reject_reasons": [{"field": f, "reason": r, "records": n} for f, r, n in rejects],
    }
