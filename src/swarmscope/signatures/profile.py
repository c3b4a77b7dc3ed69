"""Profile signals: what the accounts' profiles share beyond chance.

Findings, one row each, in the temp table ``profile_findings``:

- ``creation_burst``: days on which many more accounts were created than the background
  rate, a scan statistic (Kulldorff, Commun. Stat. 26:1481, 1997) over windows of ``window_days``:
  the count in a window against Poisson with the larger of the local rate (the ``band_days``
  either side, the window left out) and the store-wide rate; Benjamini-Hochberg over windows;
  overlapping significant windows merge. Troll farms register accounts in batches
  (Linvill & Warren 2020; Elmas et al., EuroS&P 2021).
- ``creation_cluster`` (per ``detect`` cluster): the most members created within
  ``window_days`` against the share of all accounts created in those days, a binomial test
  Bonferroni-corrected over the cluster's windows, BH over clusters.
- ``display_name``, ``description``: the same display name or description on several accounts
  after case folding, accents and every non-letter-or-digit removed (stolen identities,
  impersonation, templates; Goga et al., "The Doppelgänger Bot Attack", WWW 2015).
- ``client`` (per ``detect`` cluster): the cluster's commonest posting application against its
  share among all accounts' main applications, a binomial test; ``automation`` says whether the
  application is a known scheduler or automation tool (``AUTOMATION``).
- ``handle_pattern`` (per cluster): members whose handle is a name followed by 8 digits (the
  handle Twitter suggests at sign-up) or by 2-7 digits, against the store-wide share, binomial.
  Skipped where handles are hashed (most handles hex or base64 of >= 32 characters).

``p_value`` is NULL for the name and description groups (a shared profile is evidence as it
stands; common names such as "John" are dropped by ``min_name_chars``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

#: Posting applications that schedule or automate posts (lower-case substrings of the name).
AUTOMATION = ("ifttt", "dlvr.it", "twittbot", "buffer", "hootsuite", "socialoomph", "tweetdeck",
              "zapier", "botize", "twitterfeed", "roundteam", "sprout", "later",
              "cheapbotsdonequick", "auto", "bot", "schedul", "rss", "api")
HASHED_HANDLE = r"^([0-9a-f]{32,}|[A-Za-z0-9+/=_-]{40,})$"
PATTERNS = (("default", r"^[A-Za-z][A-Za-z_]*[0-9]{8}$"),
            ("name_digits", r"^[A-Za-z][A-Za-z_]*[0-9]{2,7}$"))

from swarmscope.detection.stats import benjamini_hochberg, binomial_p, poisson_p
from swarmscope.store.backend import Backend


@dataclass(frozen=True)
class ProfileParams:
    """Creation scan window and background band (days), FDR level, least accounts in a
    finding, and the least normalised length of a shared name or description."""

    window_days: int = 3
    band_days: int = 60
    fdr: float = 0.01
    min_accounts: int = 5
    min_name_chars: int = 8


def profile_findings(db: Backend,
                     params: ProfileParams = ProfileParams()) -> int:
    """Fill the temp table ``profile_findings`` (columns in
    ``swarmscope.store.schema``); returns its row count."""
    db.execute("""CREATE OR REPLACE TEMP TABLE profile_findings (kind VARCHAR, key VARCHAR,
        cluster_id BIGINT, first_time TIMESTAMP, last_time TIMESTAMP, accounts BIGINT,
        observed DOUBLE, expected DOUBLE, p_value DOUBLE, q_value DOUBLE, automation BOOLEAN,
        account_ids VARCHAR[])""")
    _creation_bursts(db, params)
    _shared_profiles(db, params)
    if db.has_table("detect_accounts", temporary=False):
        _cluster_creation(db, params)
        _cluster_clients(db, params)
        _cluster_handles(db, params)
    return db.scalar("SELECT count(*) FROM profile_findings")


def _creation_bursts(db: Backend, prm: ProfileParams) -> None:
    w, band = int(prm.window_days), int(prm.band_days)
    days = db.to_arrow("""
        SELECT CAST(created_at AS DATE) - DATE '1970-01-01' AS day, count(*) AS n
        FROM (SELECT platform, account_id, min(created_at) AS created_at FROM accounts
              WHERE created_at IS NOT NULL GROUP BY ALL) GROUP BY ALL ORDER BY day""").to_pydict()
    if len(days["day"]) < 2:
        return
    days = {k: np.asarray(v) for k, v in days.items()}
    d0 = int(days["day"].min())
    counts = np.zeros(int(days["day"].max()) - d0 + 1)
    counts[days["day"].astype(int) - d0] = days["n"]
    total, span = counts.sum(), len(counts)
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    starts = np.arange(0, max(span - w + 1, 1))
    ends = np.minimum(starts + w, span)
    x = csum[ends] - csum[starts]
    lo, hi = np.maximum(starts - band, 0), np.minimum(ends + band, span)
    local = (csum[hi] - csum[lo] - x) / np.maximum((hi - lo) - (ends - starts), 1)
    rate = np.maximum(local, total / span) * (ends - starts)
    keep = x >= prm.min_accounts
    p = poisson_p(x[keep], rate[keep])
    q = benjamini_hochberg(p, len(starts))
    sig = q <= prm.fdr
    if not sig.any():
        return
    s, e = starts[keep][sig], ends[keep][sig]
    db.register_arrow("_creation_windows", pa.table({
        "s": s + d0, "e": e + d0, "observed": x[keep][sig], "expected": rate[keep][sig],
        "p": p[sig], "q": q[sig]}))
    db.execute("""
        INSERT INTO profile_findings
        WITH grouped AS (
            SELECT *, sum(CASE WHEN prev_e IS NULL OR s > prev_e THEN 1 ELSE 0 END)
                          OVER (ORDER BY s) AS burst
            FROM (SELECT *, max(e) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING
                                          AND 1 PRECEDING) AS prev_e FROM _creation_windows)),
        bursts AS (
            SELECT burst, DATE '1970-01-01' + CAST(min(s) AS INTEGER) AS d_from,
                   DATE '1970-01-01' + CAST(max(e) AS INTEGER) AS d_to,
                   arg_min(observed, (p, s)) AS observed, arg_min(expected, (p, s)) AS expected,
                   min(p) AS p, min(q) AS q FROM grouped GROUP BY burst)
        SELECT 'creation_burst', strftime(b.d_from, '%Y-%m-%d') || '..'
                   || strftime(b.d_to - 1, '%Y-%m-%d'), NULL, min(a.created_at), max(a.created_at),
               count(*), b.observed, b.expected, b.p, b.q, NULL,
               list(a.account_id ORDER BY a.created_at, a.account_id)
        FROM bursts b JOIN (SELECT platform, account_id, min(created_at) AS created_at
                            FROM accounts WHERE created_at IS NOT NULL GROUP BY ALL) a
          ON a.created_at >= b.d_from AND a.created_at < b.d_to
        GROUP BY b.burst, b.d_from, b.d_to, b.observed, b.expected, b.p, b.q""")
    db.drop("_creation_windows")


def _shared_profiles(db: Backend, prm: ProfileParams) -> None:
    for kind, column in (("display_name", "display_name"), ("description", "description")):
        db.execute(f"""
            INSERT INTO profile_findings
            SELECT '{kind}', min({column}), NULL, NULL, NULL, count(*), count(*), NULL,
                   NULL, NULL, NULL, list(account_id ORDER BY account_id)
            FROM (SELECT account_id, min({column}) AS {column},
                         regexp_replace(lower(strip_accents(min({column}))),
                                        '[^[:alnum:]]', '', 'g') AS norm
                  FROM accounts WHERE {column} IS NOT NULL GROUP BY account_id)
            WHERE length(norm) >= {int(prm.min_name_chars)}
            GROUP BY norm HAVING count(*) >= 2""")


def _binomial_findings(db: Backend, kind: str, sql: str, tests: int,
                       fdr: float) -> None:
    """Insert the rows of ``sql`` (key, cluster_id, accounts, observed, background share,
    automation, account_ids) that a binomial test with BH over ``tests`` keeps."""
    rows = db.to_arrow(sql)
    if not rows.num_rows:
        return
    x, n = rows.column("observed").to_numpy(), rows.column("accounts").to_numpy()
    p = binomial_p(x, n, rows.column("share").to_numpy())
    q = benjamini_hochberg(p, max(tests, rows.num_rows))
    db.register_arrow("_binom", rows.append_column("p", pa.array(p)).append_column("q", pa.array(q)))
    db.execute(f"""INSERT INTO profile_findings SELECT '{kind}', key, cluster_id, NULL, NULL,
        accounts, observed, share * accounts, p, q, automation, account_ids FROM _binom
        WHERE q <= {float(fdr)} AND observed >= 2""")
    db.drop("_binom")


def _cluster_creation(db: Backend, prm: ProfileParams) -> None:
    w = int(prm.window_days)
    rows = db.to_arrow(f"""
        WITH acc AS (SELECT platform, account_id, CAST(min(created_at) AS DATE) AS day
                     FROM accounts WHERE created_at IS NOT NULL GROUP BY ALL),
        mem AS (SELECT d.cluster_id, a.account_id, a.day FROM acc a
                JOIN detect_accounts d USING (platform, account_id)
                WHERE d.cluster_id IS NOT NULL),
        win AS (SELECT DISTINCT cluster_id, day AS d0 FROM mem),
        inside AS (SELECT w.cluster_id, w.d0, count(*) AS observed,
                          list(m.account_id ORDER BY m.account_id) AS account_ids
                   FROM win w JOIN mem m ON m.cluster_id = w.cluster_id
                    AND m.day >= w.d0 AND m.day < w.d0 + {w} GROUP BY ALL),
        bg AS (SELECT w.d0, count(*) / (SELECT count(*) FROM acc) AS share
               FROM (SELECT DISTINCT d0 FROM win) w JOIN acc a
                 ON a.day >= w.d0 AND a.day < w.d0 + {w} GROUP BY ALL)
        SELECT i.cluster_id, strftime(i.d0, '%Y-%m-%d') || '..'
                   || strftime(i.d0 + {w - 1}, '%Y-%m-%d') AS key, s.accounts, s.windows,
               i.observed, bg.share, i.account_ids
        FROM inside i JOIN bg USING (d0) JOIN (SELECT cluster_id, count(*) AS accounts,
            count(DISTINCT day) AS windows FROM mem GROUP BY ALL) s USING (cluster_id)
        WHERE i.observed >= 2 ORDER BY i.cluster_id, i.d0""")
    if not rows.num_rows:
        return
    cluster = rows.column("cluster_id").to_numpy()
    p = np.minimum(1.0, binomial_p(rows.column("observed").to_numpy(),
                                  rows.column("accounts").to_numpy(),
                                  rows.column("share").to_numpy())
                   * rows.column("windows").to_numpy())
    order = np.lexsort((p, cluster))                   # per cluster, its smallest p first
    best = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
    tests = db.scalar("SELECT count(DISTINCT cluster_id) FROM detect_accounts")
    q = benjamini_hochberg(p[best], max(tests, len(best)))
    keep = best[q <= prm.fdr]
    if not len(keep):
        return
    db.register_arrow("_creation_clusters", rows.take(keep).append_column(
        "p", pa.array(p[keep])).append_column("q", pa.array(q[q <= prm.fdr])))
    db.execute("""INSERT INTO profile_findings SELECT 'creation_cluster', key, cluster_id, NULL,
        NULL, accounts, observed, share * accounts, p, q, NULL, account_ids
        FROM _creation_clusters""")
    db.drop("_creation_clusters")


def _commonest_client(keys: str, source: str) -> str:
    """SQL: per ``keys``, the commonest ``client`` of ``source`` (ties to the first by name,
    where ``mode`` would pick any) and the rows counted (``n``)."""
    return f"""SELECT {keys}, arg_min(client, (-n, client)) AS client, sum(n) AS n
        FROM (SELECT {keys}, client, count(*) AS n FROM {source} GROUP BY ALL) GROUP BY ALL"""


def _cluster_clients(db: Backend, prm: ProfileParams) -> None:
    auto = " OR ".join(f"contains(lower(t.client), '{a}')" for a in AUTOMATION)
    db.execute(f"""CREATE OR REPLACE TEMP TABLE _main_client AS
        SELECT platform, account_id, client
        FROM ({_commonest_client('platform, account_id', 'posts WHERE client IS NOT NULL')})""")
    tests = db.scalar("SELECT count(DISTINCT cluster_id) FROM detect_accounts")
    _binomial_findings(db, "client", f"""
        WITH m AS (SELECT d.cluster_id, c.account_id, c.client FROM _main_client c
                   JOIN detect_accounts d USING (platform, account_id)
                   WHERE d.cluster_id IS NOT NULL),
        top AS (SELECT cluster_id, client, n AS accounts
                FROM ({_commonest_client('cluster_id', 'm')})),
        bg AS (SELECT client, count(*) / (SELECT count(*) FROM _main_client) AS share
               FROM _main_client GROUP BY ALL)
        SELECT t.client AS key, t.cluster_id, t.accounts,
               count(*) FILTER (WHERE m.client = t.client) AS observed, bg.share,
               bool_or({auto}) AS automation,
               list(m.account_id ORDER BY m.account_id) FILTER (WHERE m.client = t.client)
                   AS account_ids
        FROM top t JOIN m USING (cluster_id) JOIN bg ON bg.client = t.client
        GROUP BY t.client, t.cluster_id, t.accounts, bg.share""", tests, prm.fdr)


def _cluster_handles(db: Backend, prm: ProfileParams) -> None:
    hashed, total = db.query(f"""SELECT count(*) FILTER (WHERE regexp_matches(handle,
        '{HASHED_HANDLE}')), count(*) FROM accounts WHERE handle IS NOT NULL""")[0]
    if not total or hashed > total / 2:
        return
    tests = db.scalar("SELECT count(DISTINCT cluster_id) FROM detect_accounts")
    for name, rx in PATTERNS:
        _binomial_findings(db, "handle_pattern", f"""
            WITH h AS (SELECT platform, account_id, regexp_matches(any_value(handle), '{rx}') AS hit
                       FROM accounts WHERE handle IS NOT NULL GROUP BY ALL)
            SELECT '{name}' AS key, d.cluster_id, count(*) AS accounts,
                   count(*) FILTER (WHERE h.hit) AS observed,
                   (SELECT avg(hit::INTEGER) FROM h) AS share, NULL::BOOLEAN AS automation,
                   list(h.account_id ORDER BY h.account_id) FILTER (WHERE h.hit) AS account_ids
            FROM h JOIN detect_accounts d USING (platform, account_id)
            WHERE d.cluster_id IS NOT NULL GROUP BY d.cluster_id""", tests * len(PATTERNS),
            prm.fdr)
