"""The report's evidence: which co-actions it shows for each cluster and each account.

Every read of ``detect_evidence`` the report makes is here, so that a change in how evidence
is stored (keys resolved to text on read) is one change. A cluster's rows are drawn from many
pairs and every kind: one co-action per pair and kind (the closest in time), the same two posts
once; then the kinds taken in turn, each kind's rows every object once before any object twice,
by p-value, the kind with the smallest p first. An account's rows are its strongest partners',
one per partner and kind, by p-value, the same two posts once.
"""

from __future__ import annotations

from swarmscope.detection.evidence import detect_evidence
from swarmscope.store.backend import Backend
from swarmscope.store.sql import shown_time

PER_CLUSTER = 12
PER_ACCOUNT = 6
COLUMNS = ("v.account_a, v.account_b, v.kind, v.object, v.post_a, v.ts_a, v.post_b, v.ts_b, "
           "v.dt_s, v.text_a, v.text_b, e.platform_a, e.platform_b")
TS_A, TS_B = f"{shown_time('ts_a')} AS ts_a", f"{shown_time('ts_b')} AS ts_b"
FIELDS = ("a", "b", "kind", "object", "post_a", "ts_a", "post_b", "ts_b", "dt_s", "text_a",
          "text_b", "platform_a", "platform_b", "p")


def _pair_p(kinds: list[str]) -> str:
    """The edge's p-value for the evidence row's kind (its windows combined)."""
    if not kinds:
        return "e.p_value"
    cases = " ".join(f"WHEN '{k}' THEN e.\"p_{k}\"" for k in kinds)
    return f"coalesce(CASE v.kind {cases} END, e.p_value)"


def cluster_evidence(db: Backend, kinds: list[str], per_cluster: int = PER_CLUSTER) -> dict:
    """{cluster_id: [evidence row dicts]}: each cluster's strongest and most diverse
    co-actions between its members (see the module's docstring), best first."""
    rows = db.query(f"""
        WITH ev AS (
            SELECT e.cluster_id, {COLUMNS}, {_pair_p(kinds)} AS p
            FROM ({detect_evidence()}) v
            JOIN detect_edges e ON e.account_a = v.account_a AND e.account_b = v.account_b
            WHERE v.basis = 'pair' AND e.cluster_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY e.cluster_id, v.account_a, v.account_b,
                                       v.kind ORDER BY v.dt_s, v.ts_a, v.post_a, v.post_b,
                                       v.object) = 1),
        distinct_posts AS (  -- the same two posts under a second kind add nothing
            SELECT * FROM ev QUALIFY row_number() OVER (
                PARTITION BY cluster_id, least(post_a, post_b), greatest(post_a, post_b)
                ORDER BY p, kind, account_a, account_b) = 1),
        ranked AS (  -- in each kind, every object once before any object twice
            SELECT *, row_number() OVER (PARTITION BY cluster_id, kind
                                         ORDER BY seen, p, dt_s, account_a, account_b) AS turn,
                   min(p) OVER (PARTITION BY cluster_id, kind) AS kind_p
            FROM (SELECT *, row_number() OVER (PARTITION BY cluster_id, kind, object
                                               ORDER BY p, dt_s, account_a, account_b) AS seen
                  FROM distinct_posts))
        SELECT cluster_id, account_a, account_b, kind, object, post_a, {TS_A}, post_b,
               {TS_B}, dt_s, text_a, text_b, platform_a, platform_b, p
        FROM ranked
        QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY turn, kind_p, kind)
                <= {int(per_cluster)}
        ORDER BY cluster_id, turn, kind_p, kind""")
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(dict(zip(FIELDS, r[1:])))
    return out


def account_evidence(db: Backend, kinds: list[str], affiliation: bool,
                     per_account: int = PER_ACCOUNT) -> dict:
    """{(platform, account_id): [evidence row dicts]}: for every flagged account, one co-action
    per partner and kind (the closest in time), the smallest p-value first; with
    ``affiliation`` (the store has its columns), the rows that recruited an account by
    affiliation come after its pair rows."""
    recruited = f"""
            UNION ALL
            SELECT {COLUMNS.replace('e.platform_a, e.platform_b', 'd.platform, d.platform')},
                   d.affiliation_p, v.basis
            FROM ({detect_evidence()}) v
            JOIN detect_accounts d ON d.account_id = v.account_a
            WHERE v.basis = 'affiliation'""" if affiliation else ""
    rows = db.query(f"""
        WITH ev AS (
            SELECT {COLUMNS}, {_pair_p(kinds)} AS p, v.basis
            FROM ({detect_evidence()}) v
            JOIN detect_edges e ON e.account_a = v.account_a AND e.account_b = v.account_b
            WHERE v.basis = 'pair'{recruited}),
        mine AS (
            SELECT platform_a AS platform, account_a AS account, * FROM ev
            UNION ALL
            SELECT platform_b, account_b, * FROM ev WHERE basis = 'pair'),
        one AS (
            SELECT m.* FROM mine m
            JOIN detect_accounts d ON d.platform = m.platform AND d.account_id = m.account
            WHERE d.flagged
            QUALIFY row_number() OVER (PARTITION BY m.platform, m.account, m.account_a,
                                       m.account_b, m.kind
                                       ORDER BY m.dt_s, m.ts_a, m.post_a, m.post_b,
                                       m.object) = 1),
        distinct_posts AS (
            SELECT * FROM one QUALIFY row_number() OVER (
                PARTITION BY platform, account, least(post_a, post_b), greatest(post_a, post_b)
                ORDER BY basis DESC, p, kind, account_a, account_b) = 1)
        SELECT platform, account, account_a, account_b, kind, object, post_a, {TS_A}, post_b,
               {TS_B}, dt_s, text_a, text_b, platform_a, platform_b, p
        FROM distinct_posts
        QUALIFY row_number() OVER (PARTITION BY platform, account
                                   ORDER BY basis DESC, p, dt_s, account_a, account_b, kind)
                <= {int(per_account)}
        ORDER BY platform, account, basis DESC, p, dt_s, account_a, account_b, kind""")
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault((r[0], r[1]), []).append(dict(zip(FIELDS, r[2:])))
    return out
