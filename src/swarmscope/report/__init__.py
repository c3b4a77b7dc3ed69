"""``report``: one self-contained, offline HTML file of the latest detection.

Everything is inlined (the page's own script and style, from this package; no library, no CDN,
no network), and a Content-Security-Policy with the hashes of exactly that script and style
keeps anything else from running. The data travel as JSON in a non-executable ``<script
type="application/json">`` block with ``<``, ``>`` and ``&`` escaped, and the page writes every
value with ``textContent``: post texts, names and handles are written by the adversary and stay
inert (bidirectional-override characters are shown as ``[U+202E]``, never applied).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np

from swarmscope import __version__
from swarmscope.errors import SwarmscopeError
from swarmscope.export import pseudonym
from swarmscope.outputs import atomic_write, check_output
from swarmscope.params import check_time_range
from swarmscope.store.sql import time_filter
from swarmscope.store import Store
from swarmscope.store.backend import Backend

EVIDENCE_PER_CLUSTER = 12
MEMBERS_PER_CLUSTER = 200
MENTION = re.compile(r"@(\w{1,30})")
PLACEHOLDER = re.compile(r"\{\{(CSP|STYLE|DATA|SCRIPT)\}\}")


def build_report(store: Store, out: str | Path, *, key: bytes | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Path:
    """Write the report of the store's latest ``detect`` run to ``out``; returns the path."""
    out = check_output(out)
    page = render(report_data(store, key=key, since=since, until=until))
    with atomic_write(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def render(data: dict) -> str:
    """The HTML page: template + inlined style and script + the data, under a hash-based CSP."""
    files = resources.files("swarmscope.report")
    script = (files / "report.js").read_text(encoding="utf-8")
    style = (files / "report.css").read_text(encoding="utf-8")
    template = (files / "template.html").read_text(encoding="utf-8")
    payload = (json.dumps(data, ensure_ascii=True, default=str, separators=(",", ":"))
               .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    csp = (f"default-src 'none'; script-src '{_sha256(script)}'; style-src '{_sha256(style)}'; "
           "img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")
    parts = {"CSP": csp, "STYLE": style, "DATA": payload, "SCRIPT": script}
    # one pass over the template alone: a marker inside the data or the script is never
    # substituted (a post reading {{SCRIPT}} stays text)
    return PLACEHOLDER.sub(lambda m: parts[m[1]], template)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def report_data(store: Store, *, key: bytes | None = None, since: datetime | None = None,
                until: datetime | None = None) -> dict:
    """Everything the page shows, as plain JSON-able values."""
    check_time_range(since, until)
    db = store.db
    run = db.query("""SELECT run_id, parameters, finished_at, version, summary FROM runs
                         WHERE command = 'detect' AND status = 'ok'
                         ORDER BY run_id DESC LIMIT 1""")
    if not run:
        raise SwarmscopeError("no detection results in this store: run `swarmscope detect` "
                              "first")
    run_id, parameters, finished, version, summary = run[0]
    where = time_filter(since, until)
    acc = (lambda v: pseudonym(key, v)) if key else (lambda v: v)
    post = (lambda v: pseudonym(key, v, "post")) if key else (lambda v: v)
    text = (lambda t: t if t is None else MENTION.sub(
        lambda m: "@" + pseudonym(key, m.group(1).lower(), "user"), t)) if key else (lambda t: t)

    platforms, first, last, n_accounts, n_posts = db.query(f"""
        SELECT list(DISTINCT platform ORDER BY platform), min(created_at), max(created_at),
               count(DISTINCT (platform, account_id)), count(*) FROM posts WHERE {where}"""
    )[0]
    columns = db.columns("detect_accounts")
    kinds = [c.removeprefix("score_") for c in columns if c.startswith("score_")]
    affiliation = ("affiliation_round, affiliation_kind, affiliation_window_s, affiliation_x"
                   if "affiliation_round" in columns else "NULL, NULL, NULL, NULL")
    nodes = db.query(f"""
        SELECT platform, account_id, handle, score, cluster_id, posts, significant_partners,
               {affiliation}, {', '.join(f'"score_{k}"' for k in kinds)}
        FROM detect_accounts WHERE flagged ORDER BY cluster_id NULLS LAST, score DESC,
        account_id""")
    index = {(r[0], r[1]): i for i, r in enumerate(nodes)}
    edges = [(index[(r[0], r[1])], index[(r[2], r[3])], r[4]) for r in db.query("""
        SELECT platform_a, account_a, platform_b, account_b, weight FROM detect_edges
        ORDER BY weight DESC, platform_a, account_a, platform_b, account_b""") if (r[0], r[1]) in index and (r[2], r[3]) in index]
    xy = _layout(len(nodes), edges)
    clusters = _clusters(db, kinds, index, where, acc if key else None, post, text)
    flagged = len(nodes)
    return {
        "title": "swarmscope report",
        "generated": {"version": __version__, "detect_run": run_id,
                      "finished": f"{finished:%Y-%m-%d %H:%M:%S} UTC" if finished else None,
                      "detect_version": version, "pseudonymized": key is not None},
        "scope": {"platforms": platforms, "first": first, "last": last,
                  "accounts": n_accounts, "posts": n_posts},
        "parameters": json.loads(parameters) if parameters else {},
        "summary": json.loads(summary) if summary else {},
        "headline": _headline(flagged, n_accounts, clusters, json.loads(parameters or "{}")),
        "kinds": kinds,
        "nodes": [{"id": acc(r[1]), "platform": r[0], "handle": None if key else r[2],
                   "score": round(r[3], 4), "cluster": r[4], "posts": r[5],
                   "partners": r[6], "x": round(float(xy[i][0]), 4),
                   "y": round(float(xy[i][1]), 4),
                   "joined": None if r[7] is None else dict(zip(
                       ("round", "kind", "window", "x"), r[7:11])),
                   "signals": {k: round(v or 0.0, 4) for k, v in zip(kinds, r[11:])}}
                  for i, r in enumerate(nodes)],
        "edges": [[a, b, round(w, 3)] for a, b, w in edges],
        "clusters": clusters,
        **_signatures(db, acc, post, hide_names=key is not None),
    }


def _layout(n: int, edges: list[tuple[int, int, float]]) -> np.ndarray:
    """Node positions in [0, 1]² (Fruchterman–Reingold; DrL above 3,000 nodes), seeded."""
    import igraph as ig  # imported when used, as the command line starts faster without
    if n == 0:
        return np.zeros((0, 2))
    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in edges])
    rng_state = np.random.default_rng(0).uniform(size=(n, 2)).tolist()
    layout = (g.layout_drl(seed=rng_state) if n > 3000 else
              g.layout_fruchterman_reingold(seed=rng_state, niter=300))
    xy = np.asarray(layout.coords, dtype=float)
    span = np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    return (xy - xy.min(axis=0)) / span


def _clusters(db: Backend, kinds: list[str], index: dict, where: str, acc, post, text) -> list[dict]:
    """Cluster cards; ``acc`` pseudonymises account ids (None: ids as they are)."""
    identifying = {"repost", "reply", "mention", "fast_repost"}
    keep = acc or (lambda v: v)
    rows = db.query(f"""
        SELECT cluster_id, size, edges, density, first_activity, last_activity, posts,
               top_hashtags, top_domains, top_texts,
               {', '.join(f'"edges_{k}"' for k in kinds)}
        FROM detect_clusters ORDER BY cluster_id""")
    out = []
    for r in rows:
        cid = r[0]
        members = db.query("""
            SELECT platform, account_id FROM detect_accounts WHERE cluster_id = ?
            ORDER BY score DESC, account_id, platform LIMIT ?""", [cid, MEMBERS_PER_CLUSTER])
        activity = db.query(f"""
            SELECT h, (isodow(h) - 1) * 24 + hour(h), n FROM (
                SELECT date_trunc('hour', p.created_at) AS h, count(*) AS n FROM posts p
                JOIN detect_accounts d ON d.platform = p.platform AND d.account_id = p.account_id
                WHERE d.cluster_id = ? AND {where} GROUP BY h) ORDER BY h""", [cid])
        heat = [0] * 168   # hour of the week, from the engine: a time before year 1 is no datetime
        for _, cell, n in activity:
            heat[cell] += n
        evidence = db.query("""
            SELECT v.account_a, v.account_b, v.kind, v.object, v.post_a, v.ts_a, v.post_b,
                   v.ts_b, v.dt_s, v.text_a, v.text_b
            FROM detect_evidence v
            JOIN detect_accounts a ON a.account_id = v.account_a AND a.cluster_id = ?
            JOIN detect_accounts b ON b.account_id = v.account_b AND b.cluster_id = ?
            JOIN detect_edges e ON e.account_a = v.account_a AND e.account_b = v.account_b
            ORDER BY e.weight DESC, v.dt_s, v.ts_a, v.account_a, v.account_b, v.kind, v.post_a,
                     v.post_b, v.object LIMIT ?""",
                               [cid, cid, EVIDENCE_PER_CLUSTER])
        out.append({
            "id": cid, "size": r[1], "edges": r[2], "density": round(r[3] or 0, 3),
            "first": r[4], "last": r[5], "posts": r[6],
            "hashtags": [[t["value"], t["members"]] for t in r[7] or []],
            "domains": [[t["value"], t["members"]] for t in r[8] or []],
            "texts": [[text(t["value"]), t["members"]] for t in r[9] or []],
            "signals": {k: v or 0 for k, v in zip(kinds, r[10:])},
            "members": [index[m] for m in members if m in index],
            "timeline": [[h, n] for h, _, n in activity],
            "heatmap": heat,
            "rhythm": _rhythm(db, cid),
            "evidence": [{"a": keep(e[0]), "b": keep(e[1]), "kind": e[2],
                          "object": "the same minute" if e[2] == "sync" else
                          keep(e[3]) if e[2] in identifying else e[3],
                          "post_a": post(e[4]), "ts_a": e[5], "post_b": post(e[6]),
                          "ts_b": e[7], "dt_s": e[8], "text_a": text(e[9]),
                          "text_b": text(e[10])} for e in evidence],
        })
    return out


def _rhythm(db: Backend, cid: int) -> dict | None:
    """The working zone and shift segments of the cluster's operation (:mod:`swarmscope.signals.operations`);
    None for a store detected before them or a cluster without fingerprinted members."""
    if not db.has_table("detect_operations", temporary=False):
        return None
    op = db.query("""
        SELECT o.operation_id, o.clusters, o.zone_offset, o.zone_rhythm, o.zone_fit,
               o.claimed_offset, o.zone_mismatch, o.mismatch_strength, o.coverage_hours,
               o.shift_structure, o.handoffs, o.days
        FROM detect_operations o WHERE o.operation_id = (
            SELECT any_value(operation_id) FROM detect_fingerprints WHERE cluster_id = ?)""",
                     [cid])
    if not op:
        return None
    keys = ("operation", "clusters", "zone", "rhythm", "fit", "claimed", "mismatch",
            "mismatch_strength", "coverage_hours", "shifts", "handoffs", "days")
    segments = db.query("""
        SELECT segment, start_utc, end_utc, start_local, end_local, members, handoffs_in,
               handoff_gap_min FROM detect_shifts WHERE operation_id = ? ORDER BY segment""",
                           [op[0][0]])
    return {**dict(zip(keys, op[0])), "segments": [list(r) for r in segments]}

def _signatures(db: Backend, acc, post, hide_names: bool = False) -> dict:
    """The run's manufactured trends (top 20), targeted attacks (top 10), ephemeral bursts
    (top 10) and profile findings (top 20); empty lists for a store detected before these
    tables existed. ``hide_names`` leaves out shared display names and descriptions."""
    have = {t for t in ("detect_trends", "detect_attacks", "detect_ephemeral", "detect_profile")
            if db.has_table(t, temporary=False)}

    def rows(table: str, sql: str) -> list[tuple]:
        return db.query(sql) if table in have else []
    trends = rows("detect_trends", """
        SELECT kind, value, start_time, end_time, accounts, posts, expected, q_value,
               flagged_share, clusters FROM detect_trends WHERE manufactured
        ORDER BY rank LIMIT 20""")
    attacks = rows("detect_attacks", """
        SELECT target_kind, target, start_time, end_time, attackers, expected, q_value,
               flagged_accounts, clusters FROM detect_attacks ORDER BY rank LIMIT 10""")
    ephemeral = rows("detect_ephemeral", """
        SELECT object, start_time, end_time, accounts, posts, median_life_s, q_value,
               flagged_share FROM detect_ephemeral ORDER BY rank LIMIT 10""")
    profile = rows("detect_profile", """
        SELECT kind, key, cluster_id, accounts, first_time, last_time, q_value, automation
        FROM detect_profile ORDER BY q_value NULLS LAST, accounts DESC, kind, key, cluster_id
        LIMIT 20""")
    named = ("display_name", "description")
    return {
        "trends": [{"kind": t[0], "value": t[1], "start": t[2], "end": t[3], "accounts": t[4],
                    "posts": t[5], "expected": t[6], "q": t[7], "flagged_share": t[8],
                    "clusters": t[9] or []} for t in trends],
        "attacks": [{"kind": a[0], "target": acc(a[1]) if a[0] == "account" else post(a[1]),
                     "start": a[2], "end": a[3], "attackers": a[4], "expected": a[5],
                     "q": a[6], "flagged": a[7], "clusters": a[8] or []} for a in attacks],
        "ephemeral": [{"object": e[0], "start": e[1], "end": e[2], "accounts": e[3],
                       "posts": e[4], "median_life_s": e[5], "q": e[6], "flagged_share": e[7]}
                      for e in ephemeral],
        "profile": [{"kind": f[0], "key": "(hidden)" if hide_names and f[0] in named else f[1],
                     "cluster": f[2], "accounts": f[3], "first": f[4], "last": f[5], "q": f[6],
                     "automation": f[7]} for f in profile],
    }


def _headline(flagged: int, accounts: int, clusters: list[dict], parameters: dict) -> list[str]:
    fdr = parameters.get("fdr", 0.01)
    tests = "; ".join(f"{k} within {', '.join(f'{w:g}' for w in ws)} s"
                      for k, ws in parameters.get("windows", {}).items())
    lines = [f"{flagged:,} of {accounts:,} accounts co-act beyond chance (false discovery rate "
             f"{fdr:g}), in {len(clusters):,} clusters of two or more."]
    if clusters:
        c = clusters[0]
        binding = max(c["signals"], key=c["signals"].get) if c["signals"] else "—"
        lines.append(f"The largest cluster has {c['size']:,} accounts (density "
                     f"{c['density']:.2f}), bound mostly by {binding}.")
    lines.append(f"Tests: {tests}." if tests else "Tests: none recorded.")
    return lines
