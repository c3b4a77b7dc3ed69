"""What the report shows, read from the store as plain JSON-able values.

The page renders these values and nothing else; the sentences an editor reads (findings, the
working-zone sentence, notes) are made in :mod:`swarmscope.report.wording`, the evidence rows
in :mod:`swarmscope.report.evidence`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import numpy as np

from swarmscope import __version__
from swarmscope.export import pseudonym
from swarmscope.params import check_time_range
from swarmscope.report import evidence as ev
from swarmscope.report import wording
from swarmscope.store import Store
from swarmscope.store.backend import Backend
from swarmscope.store.sql import shown_time, time_filter

MENTION = re.compile(r"@(\w{1,30})")
#: Kinds whose objects name an account or a post (pseudonymised with the ids).
IDENTIFYING = {"repost", "reply", "mention", "fast_repost"}
#: Accounts named on the network picture: the most central of each cluster, at most this many.
LABELLED = 20
#: Platforms whose posts have a public address, from the post id.
POST_URLS = {"twitter": "https://twitter.com/i/web/status/{}"}
#: Formats whose location field is a dataset's classification, not the accounts' statement.
DATASET_LOCATIONS = {"fivethirtyeight-ira"}
#: Above this span the timelines count posts per day instead of per hour.
HOURLY_DAYS = 45


@dataclass(frozen=True)
class Names:
    """Account ids, post ids and @mentions as shown: as they are, or keyed pseudonyms."""

    key: bytes | None

    def account(self, v):
        return pseudonym(self.key, v) if self.key and v is not None else v

    def post(self, v):
        return pseudonym(self.key, v, "post") if self.key and v is not None else v

    def text(self, t):
        if not self.key or t is None:
            return t
        return MENTION.sub(lambda m: "@" + pseudonym(self.key, m.group(1).lower(), "user"), t)


class Texts:
    """The post texts that evidence rows show, each stored once (rows refer to them by index):
    the same text stands behind many co-actions."""

    def __init__(self, names: Names):
        self.names, self.values, self._index = names, [], {}

    def ref(self, text: str | None) -> int | None:
        if text is None:
            return None
        text = self.names.text(text)
        if text not in self._index:
            self._index[text] = len(self.values)
            self.values.append(text)
        return self._index[text]


def report_data(store: Store, *, key: bytes | None = None, since: datetime | None = None,
                until: datetime | None = None, title: str | None = None,
                run: int | None = None) -> dict:
    """Everything the page shows, as plain JSON-able values, of detect run ``run`` (default:
    the one the store shows)."""
    check_time_range(since, until)
    db = store.db
    run_id, parameters, finished, version, summary = _detect_run(store, run)
    parameters = json.loads(parameters) if parameters else {}
    names = Names(key)
    texts = Texts(names)
    where = time_filter(since, until)
    platforms, first, last, n_accounts, n_posts = db.query(f"""
        SELECT list(DISTINCT platform ORDER BY platform), {shown_time('min(created_at)')},
               {shown_time('max(created_at)')}, count(DISTINCT (platform, account_id)),
               count(*) FROM posts WHERE {where}""")[0]
    inputs = _inputs(db)
    if key:   # a copy to hand on names its files, not the analyst's folders
        for i in inputs:
            i["path"] = i["path"].replace("\\", "/").rsplit("/", 1)[-1]
    location_source = _location_source(inputs)
    columns = db.columns("detect_accounts")
    kinds = [c.removeprefix("score_") for c in columns if c.startswith("score_")]
    nodes, index = _nodes(db, columns, kinds, names)
    edges = [(index[(r[0], r[1])], index[(r[2], r[3])], r[4]) for r in db.query("""
        SELECT platform_a, account_a, platform_b, account_b, weight FROM detect_edges
        ORDER BY weight DESC, platform_a, account_a, platform_b, account_b""")
             if (r[0], r[1]) in index and (r[2], r[3]) in index]
    xy = layout(len(nodes), edges)
    for node, (x, y) in zip(nodes, xy):
        node["x"], node["y"] = round(float(x), 4), round(float(y), 4)
    for i in _central(nodes, edges):
        nodes[i]["label"] = True
    for (platform, account), rows in ev.account_evidence(
            db, kinds, "affiliation_p" in columns).items():
        if (platform, account) in index:
            nodes[index[(platform, account)]]["evidence"] = [_shown(e, names, texts)
                                                             for e in rows]
    signatures = _signatures(db, names)
    in_window = time_filter(since, until, "p.created_at")
    clusters = _clusters(db, kinds, names, texts, location_source, in_window)
    data = {
        "title": title or "swarmscope report",
        "generated": {"version": __version__, "detect_run": run_id,
                      "finished": f"{finished:%Y-%m-%d %H:%M:%S} UTC" if finished else None,
                      "detect_version": version, "pseudonymized": key is not None,
                      "since": since, "until": until},
        "scope": {"platforms": platforms, "first": first, "last": last,
                  "accounts": n_accounts, "posts": n_posts},
        "inputs": inputs,
        "parameters": parameters,
        "summary": json.loads(summary) if summary else {},
        "kinds": kinds,
        "nodes": nodes,
        "edges": [[a, b, round(w, 3)] for a, b, w in edges],
        "clusters": clusters,
        "traits_computed": db.has_table("detect_cluster_traits", temporary=False),
        "timeline": _timeline(db, in_window, first, last),
        "directory": _directory(db, names),
        "texts": texts.values,
        **signatures,
    }
    data["notes"] = wording.notes(data, location_source)
    data["headline"] = wording.headline(data)
    data["findings"] = wording.findings(data)
    return data


def _detect_run(store: Store, run: int | None) -> tuple:
    """The detect run the page shows: ``run``, by default the one the store shows (the
    latest unless :meth:`Store.use_run` chose another), its tables bound."""
    run_id = store.use_run(run if run is not None else store.run)
    return store.db.query("""SELECT run_id, parameters, finished_at, version, summary FROM runs
                             WHERE run_id = ?""", [run_id])[0]


def _inputs(db: Backend) -> list[dict]:
    """Every file ingested: path, format, SHA-256, bytes, records read / stored / duplicates /
    rejected, and its posts' time span; with a note where it is swarmscope's bundled demo data
    (times shifted: ``demo_data/notes.json``, checked by SHA-256)."""
    span = {r[0]: r[1:] for r in db.query(f"""
        SELECT source_file, count(*), {shown_time('min(created_at)')},
               {shown_time('max(created_at)')} FROM posts GROUP BY source_file""")}
    out = []
    for run_id, inputs, summary in db.query("""
            SELECT run_id, inputs, summary FROM runs WHERE command = 'ingest'
            ORDER BY run_id"""):
        counts = {f["path"]: f for f in json.loads(summary or "{}").get("files", [])}
        for f in inputs or []:
            c = counts.get(f["path"], {})
            posts, start, end = span.get(f["path"], (0, None, None))
            out.append({"run": run_id, "path": f["path"], "sha256": f["sha256"],
                        "bytes": f["bytes"], "format": c.get("format"),
                        "read": c.get("read"), "stored": c.get("stored"),
                        "duplicates": c.get("duplicates"), "rejected": c.get("rejected"),
                        "posts": posts, "first": start, "last": end,
                        "note": _bundled_note(f["path"], f["sha256"])})
    return out


def _location_source(inputs: list[dict]) -> str:
    """Where the accounts' location field comes from: 'dataset' (a dataset's classification:
    FiveThirtyEight's ``region``), 'profile' (what the accounts stated), or 'unknown' (a store
    whose ingest did not record its formats)."""
    formats = {i["format"] for i in inputs}
    if DATASET_LOCATIONS & formats:
        return "dataset"
    return "unknown" if None in formats else "profile"


def _bundled_note(path: str, sha256: str) -> str | None:
    """The note on a bundled demo file (the same name and bytes), else None."""
    folder = resources.files("swarmscope") / "demo_data"
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    notes = json.loads((folder / "notes.json").read_text(encoding="utf-8"))
    if name not in notes or not (folder / name).is_file():
        return None
    return notes[name] if hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha256 else None


def _nodes(db: Backend, columns: list[str], kinds: list[str], names: Names
           ) -> tuple[list[dict], dict]:
    """The flagged accounts (cluster, then score order) with their score parts, p and q values,
    working zone; and their index by (platform, account_id)."""
    affiliation = ("affiliation_round, affiliation_kind, affiliation_window_s, affiliation_x"
                   if "affiliation_round" in columns else "NULL, NULL, NULL, NULL")
    fingerprints = db.has_table("detect_fingerprints", temporary=False)
    zone = "f.zone_offset, f.zone_rhythm, f.zone_fit" if fingerprints else "NULL, NULL, NULL"
    rows = db.query(f"""
        SELECT d.platform, d.account_id, d.handle, d.score, d.cluster_id, d.posts,
               d.significant_partners, d.partners, d.p_value, d.q_value, {affiliation}, {zone},
               {', '.join(f'd."score_{k}", d."p_{k}"' for k in kinds) or 'NULL'}
        FROM detect_accounts d
        {'LEFT JOIN detect_fingerprints f ON f.platform = d.platform AND '
         'f.account_id = d.account_id' if fingerprints else ''}
        WHERE d.flagged ORDER BY d.cluster_id NULLS LAST, d.score DESC, d.account_id""")
    nodes = []
    for r in rows:
        parts = r[17:]
        nodes.append({
            "id": names.account(r[1]), "platform": r[0],
            "handle": None if names.key else r[2], "score": round(r[3], 4), "cluster": r[4],
            "posts": r[5], "partners": r[6], "testable": r[7], "p": _sig(r[8]),
            "q": _sig(r[9]),
            "joined": None if r[10] is None else dict(zip(("round", "kind", "window", "x"),
                                                          r[10:14])),
            "zone": wording.account_zone(int(r[14]), r[15], r[16]) if r[14] is not None
            else None,
            "signals": {k: round(parts[2 * i] or 0.0, 4) for i, k in enumerate(kinds)},
            "p_kind": {k: _sig(parts[2 * i + 1]) for i, k in enumerate(kinds)},
            "evidence": []})
    return nodes, {(r[0], r[1]): i for i, r in enumerate(rows)}


def layout(n: int, edges: list[tuple[int, int, float]]) -> np.ndarray:
    """Node positions in [0, 1]² (Fruchterman–Reingold; DrL above 3,000 nodes), seeded: the
    same nodes and edges give the same picture (igraph draws from Python's ``random`` unless
    given a generator of its own)."""
    import igraph as ig  # imported when used, as the command line starts faster without
    if n == 0:
        return np.zeros((0, 2))
    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in edges])
    start = np.random.default_rng(0).uniform(size=(n, 2)).tolist()
    ig.set_random_number_generator(random.Random(0))
    try:
        coords = (g.layout_drl(seed=start) if n > 3000 else
                  g.layout_fruchterman_reingold(seed=start, niter=300)).coords
    finally:
        ig.set_random_number_generator(random)
    xy = np.asarray(coords, dtype=float)
    span = np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    return (xy - xy.min(axis=0)) / span


def _central(nodes: list[dict], edges: list[tuple[int, int, float]]) -> list[int]:
    """The accounts to name on the picture: in each cluster (largest first), its account of
    largest weighted degree, up to ``LABELLED`` (ties: the smaller index)."""
    strength = np.zeros(len(nodes))
    for a, b, w in edges:
        strength[a] += w
        strength[b] += w
    best: dict[int, int] = {}
    size: dict[int, int] = {}
    for i, n in enumerate(nodes):
        c = n["cluster"]
        if c is None or strength[i] == 0:
            continue
        size[c] = size.get(c, 0) + 1
        if c not in best or (-strength[i], i) < (-strength[best[c]], best[c]):
            best[c] = i
    return [best[c] for c in sorted(best, key=lambda c: (-size[c], c))][:LABELLED]


def _shown(e: dict, names: Names, texts: Texts) -> dict:
    """An evidence row as the page shows it: the object as what it is, pseudonyms applied,
    the texts by their index in ``texts``, links to the posts where the platform has
    addresses (never with pseudonyms)."""
    kind, obj = e["kind"], e["object"]
    if kind in IDENTIFYING and obj is not None:
        prefix, _, rest = obj.partition(":") if obj.startswith(("account:", "text:")) else ("", "", obj)
        obj = f"{prefix}:{names.account(rest)}" if prefix == "account" else (
            obj if prefix == "text" else names.account(obj) if kind in ("mention", "fast_repost")
            else names.post(obj))
    return {"a": names.account(e["a"]), "b": names.account(e["b"]), "kind": kind,
            "object": wording.shown_object(kind, obj), "p": _sig(e["p"]),
            "post_a": names.post(e["post_a"]), "post_b": names.post(e["post_b"]),
            "ts_a": e["ts_a"], "ts_b": e["ts_b"], "dt_s": e["dt_s"],
            "text_a": texts.ref(e["text_a"]), "text_b": texts.ref(e["text_b"]),
            "url_a": None if names.key else _post_url(e["platform_a"], e["post_a"]),
            "url_b": None if names.key else _post_url(e["platform_b"], e["post_b"])}


def _sig(x: float | None) -> float | None:
    """A p-value to three significant digits (the page shows two)."""
    return None if x is None else float(f"{x:.3g}")


def _post_url(platform: str | None, post_id: str | None) -> str | None:
    form = POST_URLS.get(platform or "")
    return form.format(post_id) if form and post_id and re.fullmatch(r"\d{1,20}", post_id) else None


def _clusters(db: Backend, kinds: list[str], names: Names, texts: Texts,
              location_source: str, in_window: str) -> list[dict]:
    """Cluster cards, strongest evidence of operation first (where detect ranked them), with
    their traits, evidence, activity and working hours."""
    columns = db.columns("detect_clusters")
    ranked = "assessment" in columns and "evidence_strength" in columns
    rows = db.query(f"""
        SELECT cluster_id, size, edges, density, {shown_time('first_activity')},
               {shown_time('last_activity')}, posts, top_hashtags, top_domains, top_texts,
               {'assessment, evidence_strength' if ranked else 'NULL, NULL'},
               {', '.join(f'"edges_{k}"' for k in kinds) or 'NULL'}
        FROM detect_clusters
        ORDER BY {'evidence_strength DESC NULLS LAST, ' if ranked else ''}cluster_id""")
    traits = _traits(db, names)
    evidence = ev.cluster_evidence(db, kinds)
    activity = _cluster_activity(db, in_window)
    rhythms = _rhythms(db, location_source)
    out = []
    for r in rows:
        cid = r[0]
        out.append({
            "id": cid, "size": r[1], "edges": r[2], "density": round(r[3] or 0, 3),
            "first": r[4], "last": r[5], "posts": r[6],
            "assessment": r[10], "evidence_strength": r[11],
            "hashtags": [[t["value"], t["members"]] for t in r[7] or []],
            "domains": [[t["value"], t["members"]] for t in r[8] or []],
            "texts": [[names.text(t["value"]), t["members"]] for t in r[9] or []],
            "signals": {k: v or 0 for k, v in zip(kinds, r[12:])} if kinds else {},
            "traits": traits.get(cid, []) if traits is not None else None,
            "evidence": [_shown(e, names, texts) for e in evidence.get(cid, [])],
            "timeline": activity["timeline"].get(cid, []),
            "heatmap": activity["heatmap"].get(cid, [0] * 168),
            "rhythm": rhythms.get(cid),
        })
    return out


def _traits(db: Backend, names: Names) -> dict[int, list[dict]] | None:
    """Each cluster's traits of the kind of coordination (automation, operator, organic), as
    detect computed them; None where this detection did not compute them."""
    if not db.has_table("detect_cluster_traits", temporary=False):
        return None
    out: dict[int, list[dict]] = {}
    for r in db.query("""
            SELECT cluster_id, family, trait, value, baseline, p_value, members, accounts, detail
            FROM detect_cluster_traits
            ORDER BY cluster_id, family, p_value NULLS LAST, trait"""):
        out.setdefault(r[0], []).append({
            "family": r[1], "trait": r[2], "value": r[3], "baseline": r[4], "p": r[5],
            "members": r[6], "accounts": [names.account(a) for a in r[7] or []],
            "detail": r[8]})
    return out


def _bin_ms(first: str | None, last: str | None) -> int:
    """The timelines' bin: an hour, or a day over spans longer than ``HOURLY_DAYS``."""
    try:
        days = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).days
    except (TypeError, ValueError):   # no posts, or a time before year 1
        days = 0
    return 86_400_000 if days > HOURLY_DAYS else 3_600_000


def _timeline(db: Backend, where: str, first: str | None, last: str | None) -> dict:
    """The case's posts per bin: all of them, and those of accounts in a flagged cluster."""
    step = _bin_ms(first, last)
    rows = db.query(f"""
        SELECT (epoch_ms(p.created_at) // {step}) * {step} AS t, count(*),
               count(*) FILTER (WHERE d.cluster_id IS NOT NULL)
        FROM posts p LEFT JOIN detect_accounts d
             ON d.platform = p.platform AND d.account_id = p.account_id AND d.flagged
        WHERE {where} GROUP BY t ORDER BY t""")
    return {"step_ms": step, "all": [[t, n] for t, n, _ in rows],
            "clustered": [[t, c] for t, _, c in rows if c]}


def _cluster_activity(db: Backend, in_window: str) -> dict:
    """Per cluster: posts per hour (epoch ms) and per UTC hour of the week (168 cells, Monday
    00h first), in one pass over the members' posts within ``in_window``."""
    timeline: dict[int, list] = {}
    heatmap: dict[int, list[int]] = {}
    for cid, t, cell, n in db.query(f"""
            SELECT d.cluster_id, epoch_ms(date_trunc('hour', p.created_at)) AS t,
                   (isodow(p.created_at) - 1) * 24 + hour(p.created_at) AS cell, count(*)
            FROM posts p JOIN detect_accounts d
                 ON d.platform = p.platform AND d.account_id = p.account_id
            WHERE d.cluster_id IS NOT NULL AND {in_window} GROUP BY ALL ORDER BY 1, 2, 3"""):
        timeline.setdefault(cid, []).append([t, n])
        heatmap.setdefault(cid, [0] * 168)[cell] += n
    return {"timeline": timeline, "heatmap": heatmap}


def _rhythms(db: Backend, location_source: str) -> dict[int, dict]:
    """{cluster_id: its operation's working zone and shifts, with the sentence to show}
    (:mod:`swarmscope.signals.operations`); empty for a store detected before them."""
    if not db.has_table("detect_operations", temporary=False):
        return {}
    keys = ("operation", "clusters", "zone", "rhythm", "fit", "claimed", "mismatch",
            "mismatch_strength", "coverage_hours", "shifts", "handoffs", "days")
    ops = {r[0]: dict(zip(keys, r)) for r in db.query("""
        SELECT operation_id, clusters, zone_offset, zone_rhythm, zone_fit, claimed_offset,
               zone_mismatch, mismatch_strength, coverage_hours, shift_structure, handoffs,
               days FROM detect_operations""")}
    for op, *segment in db.query("""
            SELECT operation_id, segment, start_utc, end_utc, start_local, end_local, members,
                   handoffs_in, handoff_gap_min FROM detect_shifts
            ORDER BY operation_id, segment"""):
        ops[op].setdefault("segments", []).append(segment)
    out = {}
    for cid, op in db.query("""SELECT cluster_id, any_value(operation_id ORDER BY operation_id)
                               FROM detect_fingerprints WHERE cluster_id IS NOT NULL
                               AND operation_id IS NOT NULL GROUP BY cluster_id"""):
        if op in ops:
            r = {"segments": [], **ops[op]}
            out[cid] = {**r, "sentence": wording.zone_sentence(r, location_source)}
    return out


def _directory(db: Backend, names: Names) -> dict:
    """Every account of the store that detect did not flag, for the search box, compactly:
    ids and handles as newline-joined strings, scores (in thousandths) and posts as lists."""
    rows = db.to_arrow("""SELECT account_id, coalesce(handle, '') AS handle,
                                 CAST(round(1000 * coalesce(score, 0)) AS INTEGER) AS permille,
                                 CAST(posts AS BIGINT) AS posts
                          FROM detect_accounts WHERE NOT flagged
                          ORDER BY platform, account_id""").to_pydict()
    ids = rows["account_id"] if not names.key else [names.account(a) for a in rows["account_id"]]
    return {"ids": "\n".join(ids), "handles": "" if names.key else "\n".join(rows["handle"]),
            "score_permille": rows["permille"], "posts": rows["posts"]}


def _signatures(db: Backend, names: Names) -> dict:
    """The run's manufactured trends (top 20), bursts of attention on one target (top 10),
    ephemeral bursts (top 10) and profile findings (top 20); empty lists for a store detected
    before these tables existed. Pseudonyms leave out shared display names and
    descriptions."""
    have = {t for t in ("detect_trends", "detect_attacks", "detect_ephemeral", "detect_profile")
            if db.has_table(t, temporary=False)}

    def rows(table: str, sql: str) -> list[tuple]:
        return db.query(sql) if table in have else []
    trends = rows("detect_trends", f"""
        SELECT kind, value, {shown_time('start_time')}, {shown_time('end_time')}, accounts,
               posts, expected, q_value, flagged_share, clusters,
               epoch_ms(start_time), epoch_ms(end_time)
        FROM detect_trends WHERE manufactured ORDER BY rank LIMIT 20""")
    attacks = rows("detect_attacks", f"""
        SELECT target_kind, target, {shown_time('start_time')}, {shown_time('end_time')},
               attackers, expected, q_value, flagged_accounts, clusters
        FROM detect_attacks ORDER BY rank LIMIT 10""")
    ephemeral = rows("detect_ephemeral", f"""
        SELECT object, {shown_time('start_time')}, {shown_time('end_time')}, accounts, posts,
               median_life_s, q_value, flagged_share FROM detect_ephemeral ORDER BY rank LIMIT 10""")
    profile = rows("detect_profile", f"""
        SELECT kind, key, cluster_id, accounts, {shown_time('first_time')},
               {shown_time('last_time')}, q_value, automation
        FROM detect_profile ORDER BY q_value NULLS LAST, accounts DESC, kind, key, cluster_id
        LIMIT 20""")
    named = ("display_name", "description")
    return {
        "trends": [{"kind": t[0], "value": t[1], "start": t[2], "end": t[3], "accounts": t[4],
                    "posts": t[5], "expected": t[6], "q": t[7], "flagged_share": t[8],
                    "clusters": t[9] or [], "start_ms": t[10], "end_ms": t[11]}
                   for t in trends],
        "attacks": [{"kind": a[0], "target": names.account(a[1]) if a[0] == "account"
                     else names.post(a[1]), "start": a[2], "end": a[3], "attackers": a[4],
                     "expected": a[5], "q": a[6], "flagged": a[7], "clusters": a[8] or []}
                    for a in attacks],
        "ephemeral": [{"object": e[0], "start": e[1], "end": e[2], "accounts": e[3],
                       "posts": e[4], "median_life_s": e[5], "q": e[6], "flagged_share": e[7]}
                      for e in ephemeral],
        "profile": [{"kind": f[0], "key": "(hidden)" if names.key and f[0] in named else f[1],
                     "cluster": f[2], "accounts": f[3], "first": f[4], "last": f[5], "q": f[6],
                     "automation": f[7]} for f in profile],
    }
