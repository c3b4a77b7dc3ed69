"""The evaluation protocol of issue 4: real IRA troll weeks inside the real organic Higgs week.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/eval_ira_in_higgs.py [--data-dir ../shared/data] [--out FILE.json]
        [--work-dir bench/out/eval] [--windows 2015-07-15 ...] [--detect-args "--fdr 0.05"]
        [--seed 0] [--no-ablation] [--reuse] [--coordinationz-python PY] [--no-coordinationz]

Prints progress on stderr, a compact summary (one JSON object per line) on stdout, and the whole
result to ``--out`` (default ``WORK_DIR/eval_ira_in_higgs.json``).

For each 7-day IRA window (``WINDOWS``) one scenario:

1. **Build.** Every IRA row whose ``publish_date`` falls in the week, shifted by a whole number of
   days so that the week starts on 2012-07-01 00:00 UTC (time of day kept; ``harvested_date``
   shifted alike); the whole Higgs week with ``ts`` floored to the minute (both sides then have
   minute resolution). Every account gets a fresh opaque id ``u-NNNNNNN``, drawn from one random
   permutation (seeded per scenario) over the IRA ``author_id``\\ s and the Higgs users together,
   so an id tells neither the source nor the original account. IRA ``author`` and ``author_id``
   carry it; ``external_author_id`` (the original account's number) is blanked; every other
   IRA column is kept, so the ``fivethirtyeight-ira`` reader ingests the file as it would the
   release. Higgs ``user_a`` and ``user_b`` go through the same mapping (Higgs objects are
   accounts). Namespaces cannot collide: IRA objects are text hashes, hashtags, URLs and
   ``@handles`` (``[A-Za-z0-9_]``), Higgs objects are fresh ids with a ``-``; checked in the store.
2. **Ingest** both files with ``swarmscope ingest`` (a subprocess); the detected formats and the
   ``read = stored + duplicates + rejected`` counts are checked.
3. **Label.** Scoreable accounts have >= 5 posts in the store (an IRA row; a distinct
   (user_a, minute) in Higgs, the ``snap-higgs`` reader's post). IRA = 1, Higgs actors = 0;
   ``labels.csv`` (``account_id,label,group``, group = ``account_category``).
4. **Detect** with defaults (``swarmscope detect --out DIR`` plus ``--detect-args``), then
   ``swarmscope evaluate --labels labels.csv --json``. Scores are read from
   ``DIR/accounts.parquet``; an account missing there scores 0 (and is counted as a contract
   breach). Pooled metrics are computed here with scikit-learn.
5. **Peers**, with swarmscope's parity-tested implementations (``PEER_RULES``), and
   coordinationz 0.2.2 in its own environment (``peers/cz_peer.py``; skipped, with a line
   saying how to enable it, where ``bash bench/peers/coordinationz_env.sh`` has not been run).
6. **Ablation**: detect again with each ``ABLATION`` entry.

Honesty checks (keys of the JSON): ``ceiling``, ``artefact_baseline``, ``volume_matched``,
``ablation``, ``organic_flagged_audit``, ``residual_edges`` (what is left between unflagged
accounts: the price of a looser rule); ``peers``; ``checks`` holds the data and contract
checks. ``overall`` is pooled over the windows (IRA account-weeks; each Higgs account once per
window, the same organic week each time).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DATA_DIR, DEFAULT_SWARMSCOPE, HIGGS, HIGGS_START, IRA,  # noqa: E402
                    REPO, CommandFailed, DetectUnavailable, Scenario, Timings, attached,
                    detect_defaults, emit, find_swarmscope, fresh_dir, fresh_ids, git,
                    in_week_sql, ingest_scenario, insert, jsonable, log, open_higgs, r4,
                    run_detect, scenario_rng, swarmscope, week_shift, write_higgs)
from peers import cz_peer  # noqa: E402

WINDOWS = ("2015-07-15", "2015-11-10", "2016-10-01", "2017-01-14", "2017-08-05")
MIN_ACTIONS = 5

#: detect runs of the ablation: the defaults without affiliation, co-action evidence only, then
#: each other signal family added (the defaults are co-action + 1-minute sync + affiliation).
#: Account-only signals (rhythm, time zone, profile) are reported by detect but not scored.
#: A 30-minute sync bin (``--sync-bin 1800``) is not here: listing its pairs (every two accounts
#: active in the same half hour) ran out of 24 GB on one week.
ABLATION = (
    ("defaults_without_affiliation", ["--affiliation-rounds", "0"]),
    ("co_action", ["--kinds", "repost,mention"]),
    ("co_action+sync+content", ["--kinds", "repost,mention,sync,hashtag,link,domain,text"]),
    ("co_action+sync+similar_text", ["--kinds", "repost,mention,sync,similar_text"]),
)

#: The peers' rules, run with ``swarmscope pairs``: an account is flagged when it is in the
#: rule's output network (an edge whose ``column`` is >= ``min`` or above the ``quantile`` of all
#: edges); its continuous score is its largest ``column`` over all its edges.
CNT_PAIRS = ("--kind", "repost", "--window", "60", "--min-weight", "1")
PEER_RULES = {
    "cnt_coretweet": {
        "rule": "coordination-network-toolkit co_retweet: |dt| <= 60 s, edge weight >= 2",
        "pairs": CNT_PAIRS, "column": "weight", "min": 2,
        "how": ("swarmscope pairs --kind repost --window 60 (sliding semantics: identical "
                "loop-free edges and directed weights to coordination-network-toolkit 1.5.2, "
                "tests/test_pairs_parity.py); weight = the larger directed weight (the number "
                "of one side's retweets with a partner retweet within 60 s). Run with "
                "--min-weight 1 so that the continuous score also ranks weight-1 accounts; "
                "flagged = in an edge of weight >= 2, the network of --min-weight 2."),
    },
    "cnt_coretweet_distinct_objects": {
        "rule": "the feasibility note's peer rule: co-retweet |dt| <= 60 s on >= 2 distinct "
                "retweeted objects",
        "pairs": CNT_PAIRS, "column": "shared_objects", "min": 2,
        "how": ("the same pairs, edges with shared_objects >= 2. It differs from the toolkit's "
                "weight where one side retweets the same object several times: a Higgs "
                "retweet's object is the retweeted account, so two retweets of one account "
                "within a minute give toolkit weight 2 but one shared object."),
    },
    "coortweet": {
        "rule": "CooRTweet 2.1.3: detect_groups(min_participation = 2, time_window = 10), "
                "generate_coordinated_network(edge_weight = 0.5)",
        "pairs": ("--kind", "repost", "--semantics", "coortweet", "--window", "10",
                  "--min-participation", "2"),
        "column": "weight", "quantile": 0.5,
        "how": ("swarmscope pairs --semantics coortweet (CooRTweet's detect_groups: identical "
                "pairs and weights to its reference networks, tests/test_pairs_parity.py); "
                "weight = number of share pairs; the output network keeps edges with weight "
                "strictly above quantile(weights, 0.5) (R's default type-7 quantile over all "
                "edges of the scenario), as generate_coordinated_network's weight_threshold "
                "(R/generate_coordinated_network.R: weight > threshold; checked on "
                "../shared/data/peer_reference: 4 of 442, 60 of 3,721, 1 of 20, 5 of 27 edges)."),
    },
}

#: Ceiling: co-actions between two IRA accounts (the IRA side only), as in the feasibility note.
CEILING_WINDOW_S = 3600
CEILING_FAST_S = 60


# -- 1. scenario files; 2. ingest (common.ingest_scenario; the shared pieces are in common) --------
def build_scenario(data_dir: Path, work: Path, window: str, seed: int) -> Scenario:
    start, shift = week_shift(window)
    d = fresh_dir(work / window)
    con = open_higgs(data_dir)
    con.execute(f"""
        CREATE TEMP TABLE ira_week AS SELECT * FROM read_parquet('{data_dir / IRA}')
        WHERE {in_week_sql("publish_date", start)}""")
    fresh_ids(con, "SELECT 'ira', author_id, any_value(account_category) FROM ira_week "
                   "GROUP BY author_id", scenario_rng(seed, window))
    ira_cols = [c[0] for c in con.execute("DESCRIBE ira_week").fetchall()]
    replaced = {
        "author_id": "m.fresh", "author": "m.fresh",
        "external_author_id": "CAST(NULL AS VARCHAR)",
        "publish_date": f"t.publish_date + INTERVAL ({shift}) DAY",
        "harvested_date": f"t.harvested_date + INTERVAL ({shift}) DAY",
    }
    select = ", ".join(f"{replaced.get(c, 't.' + c)} AS {c}" for c in ira_cols)
    con.execute(f"""
        COPY (SELECT {select} FROM ira_week t
              JOIN ids m ON m.source = 'ira' AND m.original = t.author_id
              ORDER BY t.publish_date, m.fresh, t.content)
        TO '{d / 'ira.parquet'}' (FORMAT parquet)""")
    rows = {"ira": con.execute("SELECT count(*) FROM ira_week").fetchone()[0],
            **write_higgs(con, d)}
    con.close()
    return Scenario(window, d, shift, rows)


# -- 3. accounts and labels ------------------------------------------------------------------------
HOURS = ", ".join(f"count(*) FILTER (WHERE hour(p.created_at) = {h}) AS h{h:02d}"
                  for h in range(24))


def load_accounts(ana: duckdb.DuckDBPyConnection, scn: Scenario) -> dict[str, Any]:
    """Scoreable accounts of a scenario into ``ana.accounts``; writes labels.csv; checks."""
    with attached(ana, scn.db):
        ana.execute(f"""
            INSERT INTO accounts
            SELECT '{scn.window}', p.account_id, m.source, m.original, m.category,
                   count(*) AS n_actions, CAST(m.source <> 'higgs' AS INTEGER), {HOURS}
            FROM s.posts p JOIN read_parquet('{scn.ids}') m ON m.fresh = p.account_id
            GROUP BY ALL HAVING count(*) >= {MIN_ACTIONS}""")
        checks = store_checks(ana, scn)
    ana.execute(f"""
        COPY (SELECT account_id, label, coalesce(category, '') AS "group" FROM accounts
              WHERE "window" = '{scn.window}' ORDER BY account_id)
        TO '{scn.dir / 'labels.csv'}' (HEADER, DELIMITER ',')""")
    return checks


def store_checks(ana: duckdb.DuckDBPyConnection, scn: Scenario) -> dict[str, Any]:
    """Counts per source, unmapped accounts, and the object namespace collisions."""
    q = ana.execute
    per_source = q(f"""
        SELECT m.source, count(*) AS posts, count(DISTINCT p.account_id) AS accounts
        FROM s.posts p LEFT JOIN read_parquet('{scn.ids}') m ON m.fresh = p.account_id
        GROUP BY ALL ORDER BY ALL""").fetchall()
    collide = q(f"""
        WITH src AS (SELECT p.post_id, m.source FROM s.posts p
                     JOIN read_parquet('{scn.ids}') m ON m.fresh = p.account_id),
        ent AS (SELECT DISTINCT src.source, e.kind, e.value FROM s.entities e
                JOIN src USING (post_id))
        SELECT a.kind, count(*) FROM ent a JOIN ent b ON a.kind = b.kind AND a.value = b.value
        WHERE a.source = 'ira' AND b.source = 'higgs' GROUP BY ALL""").fetchall()
    parents = q(f"""
        SELECT count(*) FROM s.posts p JOIN read_parquet('{scn.ids}') m
        ON m.fresh = p.account_id AND m.source = 'ira' AND p.parent_account_id IS NOT NULL
        """).fetchone()[0]
    return {"posts_accounts_by_source": {str(s): {"posts": n, "accounts": a}
                                         for s, n, a in per_source},
            "shared_entity_values_ira_higgs": dict(collide),
            "ira_posts_with_parent_account": parents}


# -- 4. metrics ------------------------------------------------------------------------------------
PRECISION_AT = (10, 50, 100)


def precision_at(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Precision among the k highest scores, k in PRECISION_AT, tie-averaged: the accounts tied
    at the k-th score count by their positive share (the mean over random tie orders)."""
    out = {}
    for k in PRECISION_AT:
        if k <= len(y):
            kth = np.sort(score)[::-1][k - 1]
            above, tied = score > kth, score == kth
            tp = y[above].sum() + (k - above.sum()) * y[tied].mean()
            out[str(k)] = r4(float(tp / k))
    return out


def metrics(y: np.ndarray, score: np.ndarray, flagged: np.ndarray,
            w: np.ndarray | None = None) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score
    at_k = precision_at(y, score) if w is None else None
    w = np.ones(len(y)) if w is None else w
    tp = float(w[(y == 1) & flagged].sum())
    fp = float(w[(y == 0) & flagged].sum())
    pos, neg = float(w[y == 1].sum()), float(w[y == 0].sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else 0.0
    both = pos > 0 and neg > 0
    return {
        "precision": r4(precision), "recall": r4(recall),
        "f1": r4(2 * precision * recall / (precision + recall) if precision + recall else 0.0),
        "roc_auc": r4(roc_auc_score(y, score, sample_weight=w)) if both else None,
        "pr_auc": r4(average_precision_score(y, score, sample_weight=w)) if both else None,
        "fpr": r4(fp / neg if neg else 0.0), "n_pos": int(pos), "n_neg": int(neg),
        "tp": int(tp), "fp": int(fp), **({"precision_at": at_k} if at_k else {}),
    }


def cluster_scores(y_cat: list[str], clusters: list[str]) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    if not y_cat:
        return {"nmi": None, "ari": None}
    return {"nmi": r4(normalized_mutual_info_score(y_cat, clusters)),
            "ari": r4(adjusted_rand_score(y_cat, clusters))}


#: the label when the organic accounts shown to be automation count as positives
AUTOMATION_LABEL = ("CASE WHEN a.source = 'higgs' AND (a.original IN (SELECT original FROM "
                    "automation_ring) OR a.original IN (SELECT original FROM "
                    "automation_lockstep)) THEN 1 ELSE a.label END")


def scored(ana: duckdb.DuckDBPyConnection, method: str, where: str = "true",
           weighted: bool = False, label: str = "a.label") -> dict[str, np.ndarray]:
    """The scoreable accounts with a method's score (0 / unflagged where it has none)."""
    wcol = "coalesce(v.w, 0)" if weighted else "1"
    join = 'LEFT JOIN vm_weights v ON v."window" = a."window" AND v.account_id = a.account_id' \
        if weighted else ""
    rows = ana.execute(f"""
        SELECT {label}, coalesce(s.score, 0), coalesce(s.flagged, false), {wcol},
               coalesce(a.category, ''),
               CASE WHEN s.cluster_id IS NULL THEN 'single:' || a."window" || ':' || a.account_id
                    ELSE a."window" || ':' || CAST(s.cluster_id AS VARCHAR) END
        FROM accounts a LEFT JOIN scores s ON s.method = ? AND s."window" = a."window"
             AND s.account_id = a.account_id {join}
        WHERE {where} ORDER BY a."window", a.account_id""", [method]).fetchall()
    cols = list(zip(*rows)) if rows else [()] * 6
    out = {"y": np.array(cols[0], dtype=int), "score": np.array(cols[1], dtype=float),
           "flagged": np.array(cols[2], dtype=bool), "w": np.array(cols[3], dtype=float),
           "category": np.array(cols[4], dtype=object), "cluster": np.array(cols[5], dtype=object)}
    if weighted:
        keep = out["w"] > 0
        out = {k: v[keep] for k, v in out.items()}
    return out


def method_metrics(ana: duckdb.DuckDBPyConnection, method: str, where: str = "true",
                   weighted: bool = False, clusters: bool = True,
                   label: str = "a.label") -> dict[str, Any]:
    d = scored(ana, method, where, weighted, label)
    m = metrics(d["y"], d["score"], d["flagged"], d["w"] if weighted else None)
    ira = d["y"] == 1
    by_cat = defaultdict(lambda: [0, 0])
    for cat, f in zip(d["category"][ira], d["flagged"][ira]):
        by_cat[cat][0] += 1
        by_cat[cat][1] += int(f)
    m["recall_by_category"] = {c: {"n": n, "recall": r4(k / n)}
                               for c, (n, k) in sorted(by_cat.items(), key=lambda x: -x[1][0])}
    if clusters:
        m.update(cluster_scores(list(d["category"][ira]), list(d["cluster"][ira])))
    return m


def per_window(ana: duckdb.DuckDBPyConnection, method: str, windows: list[str],
               weighted: bool = False, clusters: bool = True,
               label: str = "a.label") -> dict[str, Any]:
    """Metrics per window and pooled over ``windows``."""
    out = {w: method_metrics(ana, method, f"a.\"window\" = '{w}'", weighted, clusters, label)
           for w in windows}
    pooled = "a.\"window\" IN (" + ", ".join(f"'{w}'" for w in windows) + ")"
    out["overall"] = method_metrics(ana, method, pooled, weighted, clusters, label)
    return out


def compact(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("precision", "recall", "f1", "roc_auc", "pr_auc", "fpr", "n_pos", "n_neg", "nmi",
            "precision_at")
    return {k: m[k] for k in keys if k in m}


# -- 5. detect, evaluate and peers -----------------------------------------------------------------
def load_detect_scores(ana: duckdb.DuckDBPyConnection, method: str, window: str,
                       out: Path) -> dict[str, Any]:
    """accounts.parquet -> ana.scores; contract checks on its columns and rows."""
    f = out / "accounts.parquet"
    cols = [r[0] for r in ana.execute(f"DESCRIBE SELECT * FROM read_parquet('{f}')").fetchall()]
    missing = [c for c in ("account_id", "score", "flagged", "cluster_id") if c not in cols]
    if missing:
        raise CommandFailed(f"{f} lacks columns {missing}")
    ana.execute(f"""
        INSERT INTO scores SELECT ?, ?, account_id, score, flagged, cluster_id
        FROM read_parquet('{f}')""", [method, window])
    bad = ana.execute("""
        SELECT count(*) FILTER (WHERE score < 0 OR score > 1 OR score IS NULL),
               count(*) FILTER (WHERE a.account_id IS NOT NULL AND s.account_id IS NULL)
        FROM accounts a FULL JOIN (SELECT * FROM scores WHERE method = ? AND "window" = ?) s
             USING (account_id) WHERE a."window" = ? OR a."window" IS NULL""",
                      [method, window, window]).fetchone()
    signals = [c for c in cols if c.startswith(("score_", "p_"))]
    return {"columns": cols, "signal_columns": signals, "scores_outside_0_1": bad[0],
            "scoreable_accounts_missing": bad[1]}


def run_evaluate(exe: str, scn: Scenario) -> dict[str, Any]:
    stdout = swarmscope(exe, scn.db, "evaluate", "--labels", scn.dir / "labels.csv", "--json")
    return json.loads(stdout[stdout.index("{"):])


def run_peer(exe: str, ana: duckdb.DuckDBPyConnection, scn: Scenario, name: str) -> dict:
    """A peer rule's scores into ``ana.scores`` (pairs computed once per argument list)."""
    rule = PEER_RULES[name]
    f = scn.dir / ("pairs" + re.sub(r"\W+", "_", " ".join(rule["pairs"])) + ".parquet")
    if not f.exists():
        swarmscope(exe, scn.db, "pairs", *rule["pairs"], "--evidence", "0", "--out", f)
    edges, col = f"read_parquet('{f}')", rule["column"]
    if "quantile" in rule:
        values = np.array([r[0] for r in ana.execute(f"SELECT {col} FROM {edges}").fetchall()])
        threshold = float(np.quantile(values, rule["quantile"])) if len(values) else 0.0
        keep = f"{col} > {threshold}"
    else:
        threshold, keep = float(rule["min"]), f"{col} >= {rule['min']}"
    ana.execute(f"""
        INSERT INTO scores
        SELECT ?, ?, account_id, max(v), bool_or(k), NULL
        FROM (SELECT account_a AS account_id, {col} AS v, {keep} AS k FROM {edges}
              UNION ALL SELECT account_b, {col}, {keep} FROM {edges}) GROUP BY account_id""",
                [f"peer:{name}", scn.window])
    n, kept = ana.execute(f"SELECT count(*), count(*) FILTER (WHERE {keep}) FROM {edges}"
                          ).fetchone()
    return {"edges": n, "edges_in_network": kept, "threshold": threshold, "keep": keep}


# -- honesty checks --------------------------------------------------------------------------------
def repost_key_sql(col: str) -> str:
    """The feasibility note's retweet key: lower-case, no ``RT @x:``, no quotes, whitespace."""
    t = f"regexp_replace(lower({col}), '^rt @[a-z0-9_]+:?\\s*', '')"
    t = f"regexp_replace({t}, '[\"“”‘’'']', '', 'g')"
    return f"md5(trim(regexp_replace({t}, '\\s+', ' ', 'g')))"


def ceiling_partners(ana: duckdb.DuckDBPyConnection, scn: Scenario) -> None:
    """Per scoreable IRA account: its IRA partners' shared objects, into ``ana.ceiling``."""
    with attached(ana, scn.db):
        ana.execute(f"""
            CREATE OR REPLACE TEMP TABLE ev AS
            WITH ira AS (SELECT p.* FROM s.posts p JOIN read_parquet('{scn.ids}') m
                         ON m.fresh = p.account_id AND m.source = 'ira')
            SELECT account_id AS a, 'rt' AS trace, {repost_key_sql('text')} AS obj,
                   epoch(created_at) AS t FROM ira WHERE kind = 'repost'
            UNION ALL
            SELECT p.account_id, CASE e.kind WHEN 'mention' THEN 'mt' WHEN 'hashtag' THEN 'ht'
                   ELSE 'url' END, e.value, epoch(p.created_at)
            FROM ira p JOIN s.entities e ON e.platform = p.platform AND e.post_id = p.post_id
            WHERE e.kind = 'mention' OR (e.kind IN ('hashtag', 'url') AND p.kind <> 'repost')""")
    ana.execute(f"""
        INSERT INTO ceiling
        SELECT '{scn.window}', x.a, y.a, x.trace, x.obj, min(abs(x.t - y.t))
        FROM (SELECT DISTINCT * FROM ev) x JOIN (SELECT DISTINCT * FROM ev) y
          ON x.trace = y.trace AND x.obj = y.obj AND x.a <> y.a
         AND abs(x.t - y.t) <= {CEILING_WINDOW_S}
        WHERE x.a IN (SELECT account_id FROM accounts WHERE "window" = '{scn.window}'
                      AND label = 1)
        GROUP BY ALL""")
    ana.execute("DROP TABLE ev")


def ceiling_report(ana: duckdb.DuckDBPyConnection, windows: list[str]) -> dict[str, Any]:
    variants = {
        "any_rt_mt_1h": ("('rt', 'mt')", CEILING_WINDOW_S, 1),
        "ge2_one_partner_rt_mt_1h": ("('rt', 'mt')", CEILING_WINDOW_S, 2),
        "any_rt_mt_60s": ("('rt', 'mt')", CEILING_FAST_S, 1),
        "ge2_one_partner_rt_mt_60s": ("('rt', 'mt')", CEILING_FAST_S, 2),
        "any_all_traces_1h": ("('rt', 'mt', 'ht', 'url')", CEILING_WINDOW_S, 1),
        "ge2_one_partner_all_traces_1h": ("('rt', 'mt', 'ht', 'url')", CEILING_WINDOW_S, 2),
    }
    parts = []
    for name, (traces, win, k) in variants.items():
        parts.append(f"""coalesce((SELECT max(n) >= {k} FROM (
            SELECT b, count(DISTINCT (trace, obj)) AS n FROM ceiling c
            WHERE c."window" = a."window" AND c.a = a.account_id AND c.trace IN {traces}
              AND c.dt <= {win} GROUP BY b)), false) AS {name}""")
    ana.execute(f"""
        CREATE OR REPLACE TEMP TABLE ceiling_acc AS
        SELECT a."window", a.account_id, a.category, {', '.join(parts)}
        FROM accounts a WHERE a.label = 1""")
    cols = ", ".join(f"round(avg(CAST({v} AS INTEGER)), 4) AS {v}" for v in variants)

    def rows(group: str) -> dict[str, Any]:
        res = ana.execute(f"SELECT {group} AS g, count(*) AS n, {cols} FROM ceiling_acc "
                          f"GROUP BY ALL ORDER BY n DESC")
        names = [c[0] for c in res.description]
        return {str(r[0]): dict(zip(names[1:], r[1:])) for r in res.fetchall()}

    return {
        "definition": ("share of scoreable IRA account-weeks with a co-action with another IRA "
                       "account of the same week (any IRA account, scoreable or not): co-retweet "
                       "of the same normalised text (lower-case, 'RT @x:' and quotes removed, "
                       "whitespace collapsed) or co-mention of the same @handle (in all tweets, "
                       "retweets included, as Higgs MT lists users inside retweets) within |dt| "
                       "<= 1 h; ge2_one_partner = >= 2 distinct shared objects with one partner. "
                       "The *_all_traces variants add hashtags and URLs of originals and quotes, "
                       "which only the IRA side has. No co-action method can exceed the "
                       "rt_mt figures."),
        "windows": rows("\"window\""), "overall": rows("'overall'")["overall"],
        "by_category": rows("category"),
    }


def artefact_baseline(ana: duckdb.DuckDBPyConnection, seed: int) -> dict[str, Any]:
    """Volume + hour-of-day classifier, out-of-fold scores into ``ana.scores``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score, roc_curve
    from sklearn.model_selection import StratifiedGroupKFold
    hours = ", ".join(f"h{h:02d}" for h in range(24))
    res = ana.execute(f"""SELECT "window", account_id, label, source || ':' || original,
                                 n_actions, {hours} FROM accounts ORDER BY "window", account_id""")
    rows = res.fetchall()
    win = [r[0] for r in rows]
    acc = [r[1] for r in rows]
    y = np.array([r[2] for r in rows])
    groups = np.array([r[3] for r in rows])
    n = np.array([r[4] for r in rows], dtype=float)
    hist = np.array([r[5:] for r in rows], dtype=float) / n[:, None]
    x = np.column_stack([np.log(n), hist])
    oof = np.zeros(len(y))
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y, groups):
        model = HistGradientBoostingClassifier(random_state=seed).fit(x[train], y[train])
        oof[test] = model.predict_proba(x[test])[:, 1]
    fpr, tpr, thr = roc_curve(y, oof)
    prec, rec, pthr = precision_recall_curve(y, oof)
    f1s = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    best = int(np.argmax(f1s[:-1])) if len(f1s) > 1 else 0
    cut = float(pthr[best]) if len(pthr) else 0.5
    insert(ana, "scores", method=["artefact_baseline"] * len(y), window=win, account_id=acc,
           score=oof.tolist(), flagged=(oof >= cut).tolist(), cluster_id=[None] * len(y))
    per_win = {}
    for w in sorted(set(win)):
        m = np.array(win) == w
        per_win[w] = r4(roc_auc_score(y[m], oof[m])) if len(set(y[m])) == 2 else None
    return {
        "features": "log(#actions) + share of actions in each of the 24 UTC hours of day",
        "model": f"HistGradientBoostingClassifier(random_state={seed}), out-of-fold scores",
        "cv": (f"StratifiedGroupKFold(5, shuffle=True, random_state={seed}) grouped by original "
               "account, pooled over the windows (a Higgs account's 5 copies share a fold)"),
        "roc_auc": r4(roc_auc_score(y, oof)),
        "recall_at_1pct_fpr": r4(float(tpr[fpr <= 0.01].max())),
        "best_f1": r4(float(f1s[best])), "best_f1_threshold": r4(cut),
        "f1_at_best_threshold": r4(f1_score(y, oof >= cut)),
        "roc_auc_by_window": per_win, "n_pos": int(y.sum()), "n_neg": int((1 - y).sum()),
    }


VOLUME_METHOD = (
    "Per window, the Higgs negatives are redrawn (seeded, with replacement) so that their "
    "activity follows the IRA accounts': volume bins b = floor(log2(#actions)) (5-7, 8-15, "
    "16-31, ...); IRA bins above the largest Higgs bin are merged into it. As many negatives "
    "are drawn as the window has (prevalence unchanged): a bin by the IRA share of that bin, "
    "then a Higgs account of that bin uniformly. Positives are all IRA accounts. Metrics are "
    "computed with each negative weighted by its number of draws (the same as listing the "
    "draws).")


def volume_weights(ana: duckdb.DuckDBPyConnection, windows: list[str], seed: int,
                   label: str = "a.label") -> dict:
    """Resampled negatives as weights into ``ana.vm_weights`` (replacing what it held), the
    positives and negatives as ``label`` says; the bins per window."""
    rng = np.random.default_rng([seed, 7919])
    ana.execute("DELETE FROM vm_weights")
    bins_out = {}
    for w in windows:
        rows = ana.execute(f"""SELECT account_id, {label},
                                      CAST(floor(log2(n_actions)) AS INTEGER)
                               FROM accounts a WHERE "window" = ? ORDER BY account_id""",
                           [w]).fetchall()
        neg = [(a, b) for a, lab, b in rows if lab == 0]
        pos_bins = [b for _, lab, b in rows if lab == 1]
        if not neg or not pos_bins:
            continue
        top = max(b for _, b in neg)
        by_bin = defaultdict(list)
        for a, b in neg:
            by_bin[b].append(a)
        target = defaultdict(int)
        for b in pos_bins:
            target[min(b, top) if min(b, top) in by_bin else
                   max(k for k in by_bin if k <= min(b, top))] += 1
        bins = sorted(target)
        p = np.array([target[b] for b in bins], dtype=float) / len(pos_bins)
        counts = rng.multinomial(len(neg), p)
        draws = defaultdict(int)
        for b, k in zip(bins, counts):
            for i in rng.integers(0, len(by_bin[b]), size=k):
                draws[by_bin[b][i]] += 1
        weights = {**{a: 1.0 for a, lab, _ in rows if lab == 1},
                   **{a: float(k) for a, k in draws.items()}}
        insert(ana, "vm_weights", window=[w] * len(weights), account_id=list(weights),
               w=list(weights.values()))
        bins_out[w] = {f"{max(2 ** b, MIN_ACTIONS)}-{2 ** (b + 1) - 1}": {
            "ira": target[b], "higgs_available": len(by_bin[b]), "drawn": int(k)}
            for b, k in zip(bins, counts)}
        bins_out[w]["distinct_negatives_drawn"] = len(draws)
    return bins_out


def organic_audit(ana: duckdb.DuckDBPyConnection, det_dirs: dict[str, Path],
                  top: int = 3) -> dict[str, Any]:
    """Flagged Higgs accounts, by original id across windows, with their strongest edges."""
    ana.execute("""
        CREATE OR REPLACE TEMP TABLE flagged_higgs AS
        SELECT s."window", s.account_id, m.original, s.score, a.n_actions,
               a.account_id IS NOT NULL AS scoreable
        FROM scores s JOIN ids m ON m."window" = s."window" AND m.fresh = s.account_id
        LEFT JOIN accounts a ON a."window" = s."window" AND a.account_id = s.account_id
        WHERE s.method = 'detect' AND s.flagged AND m.source = 'higgs'""")
    edges = {}
    for w, d in det_dirs.items():
        edges.update(flagged_edges(ana, w, d / "edges.parquet", top))
    rows = ana.execute("""
        SELECT original, list("window" ORDER BY "window"), max(score), max(n_actions),
               bool_or(scoreable), list("window" ORDER BY score DESC, "window")[1],
               list(account_id ORDER BY score DESC, "window")[1]
        FROM flagged_higgs GROUP BY original ORDER BY max(score) DESC, original""").fetchall()
    out = [{"higgs_user": orig, "windows": wins, "max_score": r4(score), "n_actions": n,
            "scoreable": scoreable, "best_window": bw, "top_edges": edges.get((bw, fresh), [])}
           for orig, wins, score, n, scoreable, bw, fresh in rows]
    scoreable_ids = {o["higgs_user"] for o in out if o["scoreable"]}
    partners = defaultdict(int)
    for o in out:
        for e in o["top_edges"]:
            partners[e.get("partner_source")] += 1
    return {"distinct_higgs_flagged": len(out),
            "distinct_scoreable_higgs_flagged": len(scoreable_ids),
            "top_edge_partner_sources": dict(partners),
            "july4_burst_share": july4_share(ana, scoreable_ids),
            "note": ("edges: the account's strongest edges (smallest p_value, else largest "
                     "weight) in the window where it scored highest; partner_original is the "
                     "Higgs user id or the IRA author_id"),
            "accounts": out}


#: Edge p-values at which ``residual_edges`` counts what is left among the unflagged accounts.
RESIDUAL_P = (1e-2, 1e-4, 1e-6, 1e-8)


def residual_edges(ana: duckdb.DuckDBPyConnection, det_dirs: dict[str, Path],
                   label: str) -> dict[str, Any]:
    """What a looser account rule could still find: the fused edges whose two ends are both
    scoreable and not flagged, by the labels of the ends (``label``: 1 positive, 0 organic),
    pooled over the windows, at each p in ``RESIDUAL_P``; and the unflagged positive and
    organic accounts with such an edge (those a rule 'flag every end of an edge at p' would
    add)."""
    parts = [(w, d / "edges.parquet") for w, d in det_dirs.items()
             if (d / "edges.parquet").exists()]
    if not parts:
        return {"status": "no edges.parquet"}
    ana.execute("""
        CREATE OR REPLACE TEMP TABLE residual_ends AS
        SELECT a."window", a.account_id, CAST(""" + label + """ AS INTEGER) AS y
        FROM accounts a LEFT JOIN scores s ON s.method = 'detect' AND s."window" = a."window"
             AND s.account_id = a.account_id
        WHERE NOT coalesce(s.flagged, false)""")
    ana.execute("CREATE OR REPLACE TEMP TABLE residual AS " + " UNION ALL ".join(f"""
        SELECT '{w}' AS "window", e.account_a, e.account_b, e.p_value, ea.y AS ya, eb.y AS yb
        FROM read_parquet('{f}') e
        JOIN residual_ends ea ON ea."window" = '{w}' AND ea.account_id = e.account_a
        JOIN residual_ends eb ON eb."window" = '{w}' AND eb.account_id = e.account_b"""
        for w, f in parts))
    out = {}
    for p in RESIDUAL_P:
        pairs = dict(ana.execute(f"""
            SELECT CASE ya + yb WHEN 2 THEN 'positive_positive' WHEN 1 THEN 'positive_organic'
                   ELSE 'organic_organic' END, count(*)
            FROM residual WHERE p_value <= {p!r} GROUP BY 1""").fetchall())
        ends = dict(ana.execute(f"""
            SELECT CASE y WHEN 1 THEN 'positive' ELSE 'organic' END, count(*) FROM (
                SELECT DISTINCT "window", account_a AS account, ya AS y FROM residual
                WHERE p_value <= {p!r}
                UNION SELECT "window", account_b, yb FROM residual WHERE p_value <= {p!r})
            GROUP BY 1""").fetchall())
        out[f"{p:g}"] = {"edges": pairs, "accounts": ends}
    unflagged = dict(ana.execute("""
        SELECT CASE y WHEN 1 THEN 'positive' ELSE 'organic' END, count(*) FROM residual_ends
        WHERE "window" IN (SELECT DISTINCT "window" FROM residual) GROUP BY 1""").fetchall())
    return {"note": "fused edges between two scoreable, unflagged accounts, pooled over the "
                    "windows; accounts: the unflagged ends of such edges",
            "unflagged_scoreable": unflagged, "by_edge_p": out}


EDGE_NOISE = ("run_id", "platform_a", "platform_b", "account_a", "account_b", "semantics")


def flagged_edges(ana: duckdb.DuckDBPyConnection, window: str, f: Path,
                  top: int) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """{(window, account): its top edges} for the flagged Higgs accounts of one window."""
    if not f.exists():
        return {}
    cols = [r[0] for r in ana.execute(f"DESCRIBE SELECT * FROM read_parquet('{f}')").fetchall()]
    order = "p_value ASC" if "p_value" in cols else "weight DESC" if "weight" in cols else "1"
    keep = ", ".join(f'e."{c}"' for c in cols if c not in EDGE_NOISE)
    res = ana.execute(f"""
        WITH e AS (SELECT * FROM read_parquet('{f}')),
        ends AS (SELECT account_a AS account_id, account_b AS partner, * FROM e
                 UNION ALL SELECT account_b, account_a, * FROM e)
        SELECT e.account_id, e.partner, m.source AS partner_source,
               m.original AS partner_original, {keep}
        FROM ends e JOIN flagged_higgs f ON f."window" = ? AND f.account_id = e.account_id
        LEFT JOIN ids m ON m."window" = ? AND m.fresh = e.partner
        QUALIFY row_number() OVER (PARTITION BY e.account_id ORDER BY {order}, e.partner)
                <= {top}
        ORDER BY e.account_id, {order}, e.partner""", [window, window])
    names = [c[0] for c in res.description]
    out = defaultdict(list)
    for r in res.fetchall():
        out[(window, r[0])].append({k: jsonable(v) for k, v in zip(names[1:], r[1:])
                                    if v is not None})
    return out


def july4_share(ana: duckdb.DuckDBPyConnection, flagged: set[str]) -> dict[str, Any]:
    """Share of actions on 4 July 06-12 UTC (the news burst): flagged vs all scoreable Higgs."""
    ana.execute("CREATE OR REPLACE TEMP TABLE flagged_orig (original VARCHAR)")
    insert(ana, "flagged_orig", original=sorted(flagged))
    res = ana.execute("""
        SELECT original IN (SELECT original FROM flagged_orig) AS flagged,
               round(avg(CAST(ts BETWEEN 1341381600 AND 1341403199 AS INTEGER)), 4)
        FROM higgs_actions GROUP BY ALL""").fetchall()
    return {"flagged" if f else "all_scoreable_higgs_not_flagged": s for f, s in res}


#: the automation audit: cascades (a retweeted Higgs account) with this many flagged retweeters,
#: compared in pairs that start this far apart with this many retweeters in common
CASCADE_MIN, CASCADE_APART_S, CASCADE_COMMON, AUDIT_PERMUTATIONS = 10, 6 * 3600, 10, 1000


def automation_audit(ana: duckdb.DuckDBPyConnection, data_dir: Path,
                     seed: int) -> dict[str, Any]:
    """Are the flagged Higgs accounts automation? On the original Higgs file (timing to the
    second): the retweeters of each account they retweet form a cascade; a script that logs its
    accounts in one after another retweets in the same order every time, people do not. The
    statistic is the mean Spearman correlation of the common retweeters' order over pairs of
    cascades >= 6 h apart; its null permutes each cascade's order (seeded). Also: retweets in
    the same second as the cascade's previous one (simultaneous scripts), against the other
    Higgs cascades. Where p <= 0.01, the Higgs accounts (flagged or not) in >= 2 such cascades
    form ``automation_ring``, which the figures also count as positives."""
    from scipy.stats import rankdata
    f = Path(data_dir) / HIGGS
    ana.execute(f"""
        CREATE OR REPLACE TEMP TABLE rts AS
        SELECT CAST(user_b AS VARCHAR) AS target, CAST(user_a AS VARCHAR) AS original,
               min(ts) AS ts FROM read_parquet('{f}') WHERE interaction = 'RT' GROUP BY ALL""")
    ana.execute(f"""
        CREATE OR REPLACE TEMP TABLE cascades AS
        SELECT target FROM rts WHERE original IN (SELECT original FROM flagged_higgs
                                                  WHERE scoreable)
        GROUP BY target HAVING count(*) >= {CASCADE_MIN}""")
    rows = ana.execute("""SELECT target, original, ts FROM rts
                          WHERE target IN (SELECT target FROM cascades)
                          ORDER BY target, original""").fetchall()
    times: dict[str, dict[str, int]] = defaultdict(dict)
    for target, original, ts in rows:
        times[target][original] = ts
    pairs = []
    for i, a in enumerate(sorted(times)):
        for b in sorted(times)[i + 1:]:
            common = sorted(set(times[a]) & set(times[b]))
            apart = abs(min(times[a].values()) - min(times[b].values()))
            if len(common) >= CASCADE_COMMON and apart >= CASCADE_APART_S:
                pairs.append((a, b, common))

    def mean_rho(order: dict[str, dict[str, float]]) -> float:
        rhos = [np.corrcoef(rankdata([order[a][u] for u in c]),
                            rankdata([order[b][u] for u in c]))[0, 1] for a, b, c in pairs]
        return float(np.mean(rhos)) if rhos else float("nan")

    observed = mean_rho(times)
    rng = np.random.default_rng([seed, 4241])
    null = []
    for _ in range(AUDIT_PERMUTATIONS if pairs else 0):
        shuffled = {t: dict(zip(d, rng.permutation(list(d.values())))) for t, d in times.items()}
        null.append(mean_rho(shuffled))
    p = (1 + sum(x >= observed for x in null)) / (1 + len(null)) if pairs else None
    same_second = ana.execute("""
        WITH g AS (SELECT target, target IN (SELECT target FROM cascades) AS ring,
                          ts - lag(ts) OVER (PARTITION BY target ORDER BY ts) AS gap FROM rts)
        SELECT ring, round(avg(CAST(gap = 0 AS INTEGER)), 4), median(gap), count(*)
        FROM g WHERE gap IS NOT NULL GROUP BY ring""").fetchall()
    automated = p is not None and p <= 0.01
    ana.execute(f"""
        CREATE OR REPLACE TEMP TABLE automation_ring AS
        SELECT original FROM rts WHERE {str(automated).lower()}
        AND target IN (SELECT target FROM cascades)
        AND original IN (SELECT original FROM accounts WHERE source = 'higgs')
        GROUP BY original HAVING count(*) >= 2""")
    ring = [r[0] for r in ana.execute("SELECT original FROM automation_ring ORDER BY 1")
            .fetchall()]
    return {
        "test": ("mean Spearman correlation of the common retweeters' order over pairs of "
                 f"cascades >= {CASCADE_APART_S // 3600} h apart (>= {CASCADE_COMMON} common; a "
                 f"cascade = the retweets of one Higgs account with >= {CASCADE_MIN} flagged "
                 f"retweeters), against {AUDIT_PERMUTATIONS} permutations of each cascade's "
                 "order"),
        "cascades": len(times), "cascade_pairs": len(pairs),
        "mean_order_correlation": r4(observed) if pairs else None,
        "null_mean": r4(float(np.mean(null))) if null else None,
        "null_p99": r4(float(np.quantile(null, 0.99))) if null else None, "p_value": p,
        "same_second_share": {("flagged_cascades" if ring_ else "other_cascades"):
                              {"share_gap_0s": share, "median_gap_s": med, "gaps": n}
                              for ring_, share, med, n in same_second},
        "automation": automated, "ring_accounts": len(ring), "ring": ring,
    }


#: the lockstep audit: consecutive actions on one target by two accounts this close (seconds) are
#: a co-action, and this close lockstep; a cluster is automation where its lockstep share passes
#: the organic one at this level, Bonferroni over the clusters tested
COACT_S, LOCKSTEP_S, LOCKSTEP_ALPHA = 60, 2, 0.01


def lockstep_audit(ana: duckdb.DuckDBPyConnection, data_dir: Path,
                   det_dirs: dict[str, Path]) -> dict[str, Any]:
    """Are the other flagged Higgs clusters automation? On the original Higgs file (timing to the
    second): a script posting from its accounts one after another acts on the same target
    within a second or two, again and again; people reacting to the same post are seconds to
    minutes apart. For each detected cluster whose members are mostly Higgs accounts and not the
    ring, its members' actions (retweet, mention, reply) on each target in time order: of the
    gaps between two members <= 60 s apart (co-actions), the share <= 2 s, against that share
    among every pair of consecutive actions on a target by two Higgs accounts <= 60 s apart (a
    binomial tail; conservative for the cluster, whose consecutive member actions skip the other
    accounts' in between). Where p * clusters <= 0.01, its Higgs members form
    ``automation_lockstep``, which the figures also count as positives."""
    from scipy.stats import binom
    f = Path(data_dir) / HIGGS
    ana.execute(f"""
        CREATE OR REPLACE TEMP TABLE higgs_acts AS
        SELECT DISTINCT CAST(user_a AS VARCHAR) AS original, CAST(user_b AS VARCHAR) AS target,
               ts FROM read_parquet('{f}')""")
    gaps = """
        SELECT {by}, ts - lag(ts) OVER w AS gap, original <> lag(original) OVER w AS other
        FROM ({acts}) a WINDOW w AS (PARTITION BY {by}, target ORDER BY ts, original)"""
    n0, k0 = ana.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE gap <= {LOCKSTEP_S})
        FROM ({gaps.format(by='cluster', acts="SELECT 'all' AS cluster, * FROM higgs_acts")}) g
        WHERE other AND gap <= {COACT_S}""").fetchone()
    p0 = k0 / n0
    ana.execute("CREATE OR REPLACE TEMP TABLE lockstep_members (cluster VARCHAR, original VARCHAR)")
    for w, d in det_dirs.items():
        ana.execute(f"""
            INSERT INTO lockstep_members
            WITH m AS (SELECT m.cluster_id, i.source, i.original
                       FROM read_parquet('{d / 'accounts.parquet'}') m
                       JOIN ids i ON i."window" = '{w}' AND i.fresh = m.account_id
                       WHERE m.cluster_id IS NOT NULL),
            higgs AS (SELECT cluster_id FROM m GROUP BY cluster_id
                      HAVING avg(CAST(source = 'higgs' AS INTEGER)) > 0.5
                         AND avg(CAST(original IN (SELECT original FROM automation_ring)
                                      AS INTEGER)) <= 0.5)
            SELECT (SELECT string_agg(original, ',' ORDER BY original) FROM m m2
                    WHERE m2.cluster_id = m.cluster_id AND m2.source = 'higgs'), original
            FROM m WHERE source = 'higgs' AND cluster_id IN (SELECT cluster_id FROM higgs)""")
    member_acts = ("SELECT DISTINCT l.cluster, h.* FROM higgs_acts h "
                   "JOIN lockstep_members l USING (original)")
    clusters = ana.execute(f"""
        SELECT cluster, length(string_split(cluster, ',')),
               count(*) FILTER (WHERE other AND gap <= {COACT_S}),
               count(*) FILTER (WHERE other AND gap <= {LOCKSTEP_S})
        FROM ({gaps.format(by='cluster', acts=member_acts)}) g
        GROUP BY cluster ORDER BY cluster""").fetchall()
    tested = []
    for cluster, members, n, k in clusters:
        p = float(binom.sf(k - 1, n, p0)) if n else 1.0
        tested.append({"members": cluster.split(","), "size": members, "coactions": n,
                       "lockstep": k, "share": r4(k / n) if n else None, "p_value": p,
                       "automation": p * len(clusters) <= LOCKSTEP_ALPHA})
    shown = sorted({o for t in tested if t["automation"] for o in t["members"]})
    ana.execute("CREATE OR REPLACE TEMP TABLE automation_lockstep (original VARCHAR)")
    insert(ana, "automation_lockstep", original=shown)
    return {"test": (f"share of a cluster's co-actions (consecutive member actions on one target "
                     f"<= {COACT_S} s apart) within {LOCKSTEP_S} s, against that share in every "
                     f"pair of consecutive Higgs actions on a target; binomial tail, automation "
                     f"where p * clusters <= {LOCKSTEP_ALPHA}"),
            "organic_share": r4(p0), "organic_coactions": n0, "clusters": tested,
            "lockstep_accounts": len(shown)}


TRAIT_WARNING = (
    "The sources of a mix differ in time zone, text presence and clients (Higgs has no texts, "
    "no clients, and RT/MT/RE only): a trait measured against every account (gap_regularity, "
    "round_the_clock, repost_only, shared_rhythm, identical_texts, one_client, conversations) "
    "can separate the sources without being evidence; serial_order and diverse_content are "
    "measured inside the cluster, relative to its own members.")


def trait_separation(ana: duckdb.DuckDBPyConnection, det_dirs: dict[str, Path]) -> dict:
    """Each detected cluster by the source of most of its scoreable members ('ira', 'bot',
    'higgs', or 'higgs_automation_ring' / 'higgs_lockstep' where most of those are in
    ``automation_ring`` / ``automation_lockstep``): its
    assessment, and per trait the clusters measured, median value and baseline, the share where
    the trait passes (p · traits <= 0.001, value above baseline) and the ROC-AUC of the value
    between each operated source and the organic clusters."""
    from sklearn.metrics import roc_auc_score
    def shown(table: str) -> str:   # SQL: the account is in that audit's automation
        return f"a.original IN (SELECT original FROM {table})" if ana.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]
        ).fetchone()[0] else "false"
    parts = [(w, d) for w, d in det_dirs.items() if (d / "cluster_traits.parquet").exists()]
    if not parts:
        return {"status": "no cluster_traits.parquet"}
    ana.execute("CREATE OR REPLACE TEMP TABLE sep AS " + " UNION ALL ".join(f"""
        SELECT '{w}' AS "window", c.cluster_id, c.size, c.assessment, c.evidence_strength,
               (SELECT CASE WHEN count(*) = 0 THEN 'unscored'
                            WHEN mode(a.source) = 'higgs' AND avg(CAST(
                                 {shown('automation_ring')} AS INTEGER)) > 0.5
                            THEN 'higgs_automation_ring'
                            WHEN mode(a.source) = 'higgs' AND avg(CAST(
                                 {shown('automation_lockstep')} AS INTEGER)) > 0.5
                            THEN 'higgs_lockstep' ELSE mode(a.source) END
                FROM read_parquet('{d / 'accounts.parquet'}') m
                JOIN accounts a ON a."window" = '{w}' AND a.account_id = m.account_id
                WHERE m.cluster_id = c.cluster_id) AS grp
        FROM read_parquet('{d / 'clusters.parquet'}') c""" for w, d in parts))
    ana.execute("CREATE OR REPLACE TEMP TABLE sep_traits AS " + " UNION ALL ".join(f"""
        SELECT '{w}' AS "window", cluster_id, trait, value, baseline, p_value,
               coalesce(p_value * count(*) OVER (PARTITION BY cluster_id) <= 0.001
                        AND value > baseline, false) AS passes
        FROM read_parquet('{d / 'cluster_traits.parquet'}')""" for w, d in parts))
    groups = {g: {"clusters": n, "members": m, "assessment": dict(
        ana.execute("""SELECT assessment, count(*) FROM sep WHERE grp = ? GROUP BY ALL
                       ORDER BY ALL""", [g]).fetchall())}
        for g, n, m in ana.execute("SELECT grp, count(*), sum(size) FROM sep GROUP BY ALL "
                                   "ORDER BY ALL").fetchall()}
    traits: dict[str, Any] = defaultdict(dict)
    rows = ana.execute("""
        SELECT t.trait, s.grp, count(*), median(t.value), median(t.baseline),
               avg(CAST(t.passes AS INTEGER)), list(t.value ORDER BY t.value)
        FROM sep_traits t JOIN sep s USING ("window", cluster_id)
        GROUP BY ALL ORDER BY ALL""").fetchall()
    for trait, g, n, med, base, share, values in rows:
        traits[trait][g] = {"clusters": n, "median_value": r4(med), "median_baseline":
                            r4(base) if base is not None else None, "passing_share": r4(share),
                            "values": values}
    for trait, by in traits.items():
        organic = by.get("higgs", {}).get("values", [])
        for g, e in by.items():
            if g != "higgs" and organic and e["values"]:
                e["auc_vs_higgs"] = r4(roc_auc_score(
                    [1] * len(e["values"]) + [0] * len(organic), e["values"] + organic))
        for e in by.values():
            e.pop("values")
    top = {w: ana.execute("""SELECT cluster_id, grp, assessment, size,
                                    round(evidence_strength, 2) FROM sep WHERE "window" = ?
                             ORDER BY evidence_strength DESC, cluster_id LIMIT 5""",
                          [w]).fetchall() for w, _ in parts}
    return {"groups": groups, "traits": dict(traits), "first_five_clusters": {
        w: [dict(zip(("cluster_id", "group", "assessment", "size", "evidence_strength"), r))
            for r in rows] for w, rows in top.items()}, "artefact_warning": TRAIT_WARNING}


# -- the protocol ----------------------------------------------------------------------------------
ANALYSIS_SCHEMA = f"""
CREATE TABLE accounts ("window" VARCHAR, account_id VARCHAR, source VARCHAR, original VARCHAR,
                       category VARCHAR, n_actions BIGINT, label INTEGER,
                       {', '.join(f'h{h:02d} BIGINT' for h in range(24))});
CREATE TABLE scores (method VARCHAR, "window" VARCHAR, account_id VARCHAR, score DOUBLE,
                     flagged BOOLEAN, cluster_id BIGINT);
CREATE TABLE vm_weights ("window" VARCHAR, account_id VARCHAR, w DOUBLE);
CREATE TABLE ids ("window" VARCHAR, fresh VARCHAR, source VARCHAR, original VARCHAR,
                  category VARCHAR);
CREATE TABLE ceiling ("window" VARCHAR, a VARCHAR, b VARCHAR, trace VARCHAR, obj VARCHAR,
                      dt DOUBLE);
"""


@dataclass
class Run:
    args: argparse.Namespace
    exe: str
    ana: duckdb.DuckDBPyConnection
    timings: Timings = field(default_factory=Timings)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    detect_dirs: dict[str, Path] = field(default_factory=dict)
    detect_error: str | None = None  # detect is not built: no detect run at all
    ablation_windows: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    started: str = ""
    cz_python: Path | None = None   # coordinationz's interpreter; None: that peer is skipped

    def peers(self) -> dict[str, dict[str, Any]]:
        """The peers run: the rules, and coordinationz's methods where it runs."""
        return {**PEER_RULES, **(cz_peer.SPECS if self.cz_python else {})}


def scenario_for(run: Run, window: str) -> Scenario:
    a, work = run.args, Path(run.args.work_dir)
    d = work / window
    if a.reuse and (d / "scenario.duckdb").exists() and (d / "meta.json").exists():
        meta = json.loads((d / "meta.json").read_text())
        log(f"{window}: reusing {d}")
        return Scenario(window, d, meta["shift_days"], meta["rows"])
    with run.timings.stage("build"):
        scn = build_scenario(Path(a.data_dir), work, window, a.seed)
    log(f"{window}: built ({scn.rows['ira']:,} IRA rows, {scn.rows['higgs']:,} Higgs rows, "
        f"shift {scn.shift_days} days)")
    with run.timings.stage("ingest"):
        report = ingest_scenario(run.exe, scn, {"ira.parquet": "fivethirtyeight-ira",
                                                "higgs.parquet": "snap-higgs"})
    (d / "ingest.json").write_text(json.dumps(report))
    (d / "meta.json").write_text(json.dumps({"shift_days": scn.shift_days, "rows": scn.rows}))
    log(f"{window}: ingested {report['files']}")
    return scn


def run_window(run: Run, window: str) -> None:
    scn = scenario_for(run, window)
    ana, entry = run.ana, {"shift_days": scn.shift_days, "rows": scn.rows}
    entry["ingest"] = json.loads((scn.dir / "ingest.json").read_text())
    ana.execute(f"INSERT INTO ids SELECT '{window}', fresh, source, original, category "
                f"FROM read_parquet('{scn.ids}')")
    with run.timings.stage("labels"):
        entry["store"] = load_accounts(ana, scn)
    with run.timings.stage("ceiling"):
        ceiling_partners(ana, scn)
    if run.detect_error is None:
        detect_window(run, scn, entry)
    entry["peers"] = {}
    for name in PEER_RULES:
        with run.timings.stage(f"peer:{name}"):
            entry["peers"][name] = run_peer(run.exe, ana, scn, name)
    log(f"{window}: peers {entry['peers']}")
    if run.cz_python:
        with run.timings.stage("peer:coordinationz"):
            entry["coordinationz"] = cz_peer.run_peers(run.cz_python, ana, scn.db,
                                                       scn.dir / "coordinationz", window,
                                                       run.args.seed)
        log(f"{window}: coordinationz {jsonable(entry['coordinationz'])}")
    if run.detect_error is None and not run.args.no_ablation:
        for name, extra in ABLATION:
            try:
                with run.timings.stage("ablation"):
                    out = run_detect(run.exe, scn.db, scn.dir / "ablation" / name, extra)
            except CommandFailed as exc:
                entry.setdefault("ablation_errors", {})[name] = str(exc)
                log(f"{window}: ablation {name} failed: {exc}")
                continue
            load_detect_scores(ana, f"ablation:{name}", window, out)
            run.ablation_windows[name].append(window)
            log(f"{window}: ablation {name} done")
    run.windows[window] = entry


def detect_window(run: Run, scn: Scenario, entry: dict[str, Any]) -> None:
    extra = shlex.split(run.args.detect_args or "")
    try:
        with run.timings.stage("detect"):
            out = run_detect(run.exe, scn.db, scn.dir / "detect", extra)
    except DetectUnavailable as exc:
        run.detect_error = str(exc)
        log(f"{scn.window}: detect unavailable: {exc}")
        return
    except CommandFailed as exc:  # this window only: it is left out of detect's figures
        entry["detect_error"] = str(exc)
        log(f"{scn.window}: detect failed: {exc}")
        return
    run.detect_dirs[scn.window] = out
    entry["detect_contract"] = load_detect_scores(run.ana, "detect", scn.window, out)
    with run.timings.stage("evaluate"):
        try:
            entry["swarmscope_evaluate"] = run_evaluate(run.exe, scn)
        except (CommandFailed, ValueError) as exc:
            entry["swarmscope_evaluate"] = {"error": str(exc)}
    log(f"{scn.window}: detect + evaluate done: {entry['swarmscope_evaluate']}")


def evaluate_mismatch(theirs: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """Keys where ``swarmscope evaluate`` and this script disagree by more than 1e-3."""
    return {k: {"evaluate": theirs[k], "script": ours[k]} for k in
            ("roc_auc", "pr_auc", "precision", "recall", "f1", "nmi")
            if k in theirs and k in ours and theirs[k] is not None and ours[k] is not None
            and abs(float(theirs[k]) - float(ours[k])) > 1e-3}


def signal_aucs(run: Run) -> dict[str, Any]:
    """Pooled ROC-AUC of each score_<kind> column of accounts.parquet on its own."""
    from sklearn.metrics import roc_auc_score
    signals = sorted({c for e in run.windows.values()
                      for c in e.get("detect_contract", {}).get("signal_columns", [])
                      if c.startswith("score_")})
    out = {}
    for col in signals:
        parts = []
        for w, d in run.detect_dirs.items():
            parts.append(f"""SELECT a.label, coalesce(TRY_CAST(d.{col} AS DOUBLE), 0) AS s
                FROM accounts a LEFT JOIN read_parquet('{d / 'accounts.parquet'}') d
                ON d.account_id = a.account_id WHERE a."window" = '{w}'""")
        rows = run.ana.execute(" UNION ALL ".join(parts)).fetchall()
        y, s = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
        out[col] = r4(roc_auc_score(y, s)) if len(set(y)) == 2 else None
    return out


def assemble(run: Run, ceiling: dict, baseline: dict, vm_bins: dict) -> dict[str, Any]:
    ana, wins, det_wins = run.ana, list(run.windows), list(run.detect_dirs)
    res: dict[str, Any] = {"protocol": protocol(run), "windows": {}, "overall": None}
    detect = per_window(ana, "detect", det_wins) if det_wins else None
    for w, entry in run.windows.items():
        own = detect[w] if detect and w in detect else {"status": "no detect result"}
        theirs = entry.get("swarmscope_evaluate", {})
        if detect and "error" not in theirs:
            # the window's figures are swarmscope evaluate's; this script's where it has none
            own["evaluate_vs_script"] = evaluate_mismatch(theirs, own)
            own.update({k: r4(v) if isinstance(v, float) else v for k, v in theirs.items()
                        if k in own and v is not None})
        res["windows"][w] = {**own, "scenario": entry}
    res["overall"] = detect["overall"] if detect else {
        "status": "detect not available", "error": run.detect_error}
    if detect:
        res["overall"]["auc_by_signal"] = signal_aucs(run)
    res["ceiling"] = ceiling
    res["artefact_baseline"] = baseline
    res["artefact_baseline"]["operating_point_metrics"] = per_window(
        ana, "artefact_baseline", wins, clusters=False)["overall"]
    res["volume_matched"] = {
        "method": VOLUME_METHOD, "bins": vm_bins,
        "detect": per_window(ana, "detect", det_wins, weighted=True) if detect else None,
        "peers": {n: per_window(ana, f"peer:{n}", wins, weighted=True, clusters=False)
                  for n in run.peers()},
        "artefact_baseline": per_window(ana, "artefact_baseline", wins, weighted=True,
                                        clusters=False)["overall"],
    }
    res["ablation"] = {name: ablation_entry(run, name, extra) for name, extra in ABLATION
                       if run.ablation_windows[name]} or None
    res["organic_flagged_audit"] = organic_audit(ana, run.detect_dirs) if detect else None
    if detect:
        audit = automation_audit(ana, Path(run.args.data_dir), run.args.seed)
        res["organic_flagged_audit"]["automation"] = audit
        lockstep = lockstep_audit(ana, Path(run.args.data_dir), run.detect_dirs)
        res["organic_flagged_audit"]["lockstep"] = lockstep
        if audit["automation"] or lockstep["lockstep_accounts"]:
            # not volume-matched: the matching draws negatives to follow the IRA accounts
            res["counting_automation_as_positive"] = per_window(
                ana, "detect", det_wins, label=AUTOMATION_LABEL)
            # the negatives drawn again to follow the positives' volume, automation included
            # (the weights of the volume-matched lines above are then replaced)
            volume_weights(ana, det_wins, run.args.seed, label=AUTOMATION_LABEL)
            res["volume_matched"]["detect_counting_automation_as_positive"] = per_window(
                ana, "detect", det_wins, weighted=True, label=AUTOMATION_LABEL)["overall"]
            res["peers_counting_automation_as_positive"] = {
                n: per_window(ana, f"peer:{n}", wins, clusters=False, label=AUTOMATION_LABEL)
                ["overall"] for n in run.peers()}
    if detect:
        counted = ("counting_automation_as_positive" in res)
        res["residual_edges"] = {
            "label": "IRA and the shown automation" if counted else "IRA",
            **residual_edges(ana, run.detect_dirs, AUTOMATION_LABEL if counted else "a.label")}
    res["traits_separation"] = trait_separation(ana, run.detect_dirs) if detect else None
    res["peers"] = {n: {"rule": r["rule"], "how": r["how"],
                        **per_window(ana, f"peer:{n}", wins, clusters=False)}
                    for n, r in run.peers().items()}
    for n in cz_peer.PEERS if run.cz_python else ():
        for w in wins:   # the cost of each child run
            res["peers"][n][w].update({k: run.windows[w]["coordinationz"][n].get(k) for k in
                                       ("seconds", "peak_mib", "pairs", "error")})
    res["checks"] = data_checks(run)
    res["timings_s"] = run.timings.as_dict()
    return res


def ablation_entry(run: Run, name: str, extra: list[str]) -> dict[str, Any]:
    method, wins = f"ablation:{name}", run.ablation_windows[name]
    by_window = per_window(run.ana, method, wins)
    return {"detect_args": extra, "overall": by_window.pop("overall"),
            "volume_matched": per_window(run.ana, method, wins, weighted=True)["overall"],
            "windows": {w: compact(m) for w, m in by_window.items()}}


def data_checks(run: Run) -> dict[str, Any]:
    problems = []
    for w, e in run.windows.items():
        problems += [f"{w}: {p}" for p in e["ingest"]["problems"]]
        collide = e["store"]["shared_entity_values_ira_higgs"]
        if collide:
            problems.append(f"{w}: entity values shared by IRA and Higgs posts: {collide}")
        failed = {"detect": e.get("detect_error"), **e.get("ablation_errors", {}),
                  **{n: r.get("error") for n, r in e.get("coordinationz", {}).items()
                     if n in cz_peer.PEERS}}
        problems += [f"{w}: {what} failed: {msg}" for what, msg in failed.items() if msg]
        c = e.get("detect_contract", {})
        if c.get("scoreable_accounts_missing"):
            problems.append(f"{w}: {c['scoreable_accounts_missing']} scoreable accounts have no "
                            "row in accounts.parquet (scored 0)")
        if c.get("scores_outside_0_1"):
            problems.append(f"{w}: {c['scores_outside_0_1']} scores outside [0, 1] or null")
    return {"problems": problems}


def protocol(run: Run) -> dict[str, Any]:
    a = run.args
    commit = git("rev-parse", "HEAD")
    version = subprocess.run([run.exe, "--version"], capture_output=True, text=True).stdout
    return {"command": shlex.join([sys.executable, *sys.argv]), "data_dir": a.data_dir,
            "seed": a.seed, "detect_args": a.detect_args, "windows": list(run.windows),
            "detect_defaults": detect_defaults(run.exe),
            "min_actions": MIN_ACTIONS, "git_commit": commit, "swarmscope": version.strip(),
            "coordinationz_python": str(run.cz_python) if run.cz_python else None,
            "higgs_start": HIGGS_START.isoformat(), "started": run.started}


def summary_lines(res: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    if isinstance(res["overall"], dict) and "precision" in res["overall"]:
        for w in res["windows"]:
            lines.append({"what": "detect", "window": w, **compact(res["windows"][w])})
        lines.append({"what": "detect", "window": "overall", **compact(res["overall"])})
        lines.append({"what": "detect_volume_matched", "window": "overall",
                      **compact(res["volume_matched"]["detect"]["overall"])})
        for name, ab in (res["ablation"] or {}).items():
            lines.append({"what": f"ablation:{name}", "window": "overall",
                          **compact(ab["overall"])})
        audit = res["organic_flagged_audit"]
        lines.append({"what": "organic_flagged_audit", "distinct_higgs_flagged":
                      audit["distinct_higgs_flagged"], "automation": {
                          k: v for k, v in audit["automation"].items() if k != "ring"}})
        both = res.get("counting_automation_as_positive")
        for w, m in (both or {}).items():
            lines.append({"what": "detect_counting_automation", "window": w,
                          **compact(m)})
        vm_both = res["volume_matched"].get("detect_counting_automation_as_positive")
        if vm_both:
            lines.append({"what": "detect_counting_automation_volume_matched",
                          "window": "overall", **compact(vm_both)})
        lines.append({"what": "organic_flagged_lockstep", **{
            k: v for k, v in audit["lockstep"].items() if k != "test"}})
        for g, e in (res["traits_separation"] or {}).get("groups", {}).items():
            lines.append({"what": "cluster_assessment", "group": g, **e})
    else:
        lines.append({"what": "detect", **res["overall"]})
    for n in res["peers"]:
        for w, m in res["peers"][n].items():
            if w not in ("rule", "how"):
                cost = {k: m[k] for k in ("seconds", "peak_mib", "error") if m.get(k)}
                lines.append({"what": f"peer:{n}", "window": w, **compact(m), **cost})
        lines.append({"what": f"peer:{n}_volume_matched", "window": "overall",
                      **compact(res["volume_matched"]["peers"][n]["overall"])})
        ring = res.get("peers_counting_automation_as_positive", {}).get(n)
        if ring:
            lines.append({"what": f"peer:{n}_counting_automation", "window": "overall",
                          **compact(ring)})
    if res.get("residual_edges", {}).get("by_edge_p"):
        lines.append({"what": "residual_edges", "label": res["residual_edges"]["label"],
                      **res["residual_edges"]["by_edge_p"]})
    lines.append({"what": "ceiling", "window": "overall", **res["ceiling"]["overall"]})
    lines.append({"what": "artefact_baseline", **{k: res["artefact_baseline"][k] for k in (
        "roc_auc", "recall_at_1pct_fpr", "best_f1")},
        "volume_matched_roc_auc": res["volume_matched"]["artefact_baseline"]["roc_auc"]})
    lines.append({"what": "timings_s", **res["timings_s"]})
    if res["checks"]["problems"]:
        lines.append({"what": "problems", "problems": res["checks"]["problems"]})
    return [{"bench": "eval_ira_in_higgs", **x} for x in lines]


def higgs_actions(run: Run) -> None:
    """Original Higgs user and (floored) time of every action, for the 4 July burst share."""
    p = Path(run.args.data_dir) / HIGGS
    run.ana.execute(f"""CREATE TABLE higgs_actions AS
        SELECT DISTINCT CAST(user_a AS VARCHAR) AS original, (ts // 60) * 60 AS ts
        FROM read_parquet('{p}') WHERE CAST(user_a AS VARCHAR) IN
             (SELECT original FROM accounts WHERE source = 'higgs')""")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=None, help="the JSON (default WORK_DIR/eval_ira_in_higgs.json)")
    p.add_argument("--work-dir", default=str(REPO / "bench" / "out" / "eval"))
    p.add_argument("--windows", nargs="+", default=list(WINDOWS), metavar="YYYY-MM-DD")
    p.add_argument("--detect-args", default="", help="extra arguments for swarmscope detect, "
                   "one string, e.g. \"--kinds repost,mention --fdr 0.05\"")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ablation", action="store_true", help="skip the ablation detect runs")
    p.add_argument("--reuse", action="store_true",
                   help="reuse scenario stores already ingested in the work dir (same seed)")
    p.add_argument("--swarmscope", default=None, help="the CLI (default .venv/bin/swarmscope)")
    p.add_argument("--coordinationz-python", default=None, metavar="PY",
                   help="coordinationz's interpreter (default .venv-coordinationz/bin/python, "
                        "made by bench/peers/coordinationz_env.sh; the peer is skipped without)")
    p.add_argument("--no-coordinationz", action="store_true", help="skip the coordinationz peer")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exe = args.swarmscope or str(DEFAULT_SWARMSCOPE)
    exe = find_swarmscope(exe) or exe
    for w in args.windows:
        datetime.fromisoformat(w)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    ana = duckdb.connect()
    ana.execute(ANALYSIS_SCHEMA)
    run = Run(args, exe, ana, started=datetime.now().isoformat(timespec="seconds"),
              cz_python=None if args.no_coordinationz else
              cz_peer.python(args.coordinationz_python))
    if run.cz_python is None:
        emit({"bench": "eval_ira_in_higgs", "what": "peer:coordinationz",
              "skipped": "--no-coordinationz" if args.no_coordinationz else cz_peer.SKIP})
    t0 = time.perf_counter()
    for w in args.windows:
        with run.timings.stage("windows_total"):
            run_window(run, w)
    with run.timings.stage("ceiling"):
        ceiling = ceiling_report(ana, args.windows)
    log(f"ceiling: {ceiling['overall']}")
    with run.timings.stage("artefact_baseline"):
        baseline = artefact_baseline(ana, args.seed)
    log(f"artefact baseline: roc_auc {baseline['roc_auc']}")
    vm_bins = volume_weights(ana, args.windows, args.seed)
    higgs_actions(run)
    with run.timings.stage("metrics"):
        res = assemble(run, ceiling, baseline, vm_bins)
    res["timings_s"]["total"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out or Path(args.work_dir) / "eval_ira_in_higgs.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=jsonable))
    for line in summary_lines(res):
        emit(line, default=jsonable)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
