"""Behavioural signatures beside the co-action score: profile findings, targeted attacks,
manufactured trends and ephemeral bursts, stored as ``detect_profile``, ``detect_attacks``,
``detect_trends`` and ``detect_ephemeral`` (and written as Parquet with ``--out``).

They run after the account scores are stored, read ``detect_accounts`` for the shares of
flagged and clustered accounts, and never change the score. Trends, attacks and ephemeral bursts
keep to ``--since``/``--until``; profile findings cover every account in the store.
"""

from __future__ import annotations

import duckdb

from swarmscope.detect.attacks import attack_bursts
from swarmscope.detect.ephemeral import ephemeral_bursts
from swarmscope.detect.trends import trend_bursts
from swarmscope.signals.profile import profile_findings

_SHARES = {
    "flagged_share, clustered_share": "shares of the burst's posts by accounts flagged / in a "
                                      "cluster (NULL without detect_accounts)",
    "flagged_accounts": "its accounts that detect flagged",
    "clusters": "the clusters behind it: [{cluster_id, accounts, posts}], most posts first (top 5)",
    "evidence": "its first 20 posts: [{post_id, account_id, ts}]",
}
_SURGE = {
    "start_time, end_time": "first and last post of the burst",
    "expected": "the object's mean count per bin over the span x the burst's bins (Kleinberg, "
                "KDD 2002: baseline rate)",
    "p_value": "smallest bin p: P(X >= distinct accounts in the bin), X ~ Poisson(rate)",
    "q_value": "Benjamini-Hochberg q over every (object, bin) cell, empty ones as p = 1",
}
SIGNATURE_COLUMNS = {
    "profile.parquet": {
        "kind": "creation_burst | creation_cluster | display_name | description | client | "
                "handle_pattern",
        "key": "the creation days, the shared name/description, the client, or the pattern "
               "(default: name + 8 digits; name_digits: name + 2-7 digits)",
        "cluster_id": "the detect cluster tested (creation_cluster, client, handle_pattern); "
                      "NULL store-wide",
        "first_time, last_time": "creation_burst: first and last creation time",
        "accounts": "accounts in the finding (cluster members for client/handle_pattern)",
        "observed, expected": "creation_burst: accounts created in the most significant "
                              "window and its expected count (Poisson scan, Kulldorff 1997); "
                              "creation_cluster: members created in its densest window; "
                              "client/handle_pattern: members with it; and members x background "
                              "share (binomial; creation_cluster Bonferroni over its windows)",
        "p_value, q_value": "the test and its BH q (NULL for shared names/descriptions)",
        "automation": "client: a known scheduler or automation tool",
        "account_ids": "the accounts",
    },
    "attacks.parquet": {
        "rank": "attackers flagged by detect first, then p_value",
        "target_kind, target": "account (replied to or mentioned) or post (replied to)",
        "attackers, posts": "distinct accounts replying/mentioning in the burst, and their posts",
        **_SURGE, **_SHARES, "attacker_ids": "every attacker",
        "flagged_attacker_share": "flagged_accounts / attackers",
    },
    "trends.parquet": {
        "rank": "posts by flagged accounts first (flagged_share x posts), then p_value",
        "kind, value": "hashtag (case-folded) or domain",
        "accounts, posts": "distinct accounts and posts in the burst",
        **_SURGE, **_SHARES,
        "manufactured": "flagged_share >= 0.5 (Elmas et al., EuroS&P 2021; Linvill & Warren 2020)",
    },
    "ephemeral.parquet": {
        "rank": "by p_value",
        "object": "* (all ephemeral posts) or hashtag:VALUE",
        "accounts, posts": "distinct accounts and posts deleted within 10 minutes, in the burst",
        **_SURGE, **_SHARES,
        "median_life_s": "median seconds between creation and deletion (Elmas et al., "
                         "'Ephemeral Astroturfing Attacks', EuroS&P 2021)",
    },
}
_FOUND = (("detect_profile", "profile_findings"), ("detect_attacks", "attacks_found"),
          ("detect_trends", "trends_found"), ("detect_ephemeral", "ephemeral_found"))
#: (table, --out file name) of every signature table.
TABLES = tuple((table, table.removeprefix("detect_")) for table, _ in _FOUND)


def signatures(con: duckdb.DuckDBPyConnection, run_id: int, where: str = "true") -> dict[str, int]:
    """Compute every signature over the posts matching ``where`` (a SQL condition on
    ``created_at``; profile findings read every account) and store the ``detect_*`` tables;
    returns the row count of each table."""
    profile_findings(con)
    attack_bursts(con, where)
    trend_bursts(con, where)
    ephemeral_bursts(con, where)
    rows = {}
    for table, temp in _FOUND:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {run_id} AS run_id, * FROM {temp}")
        rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return rows
