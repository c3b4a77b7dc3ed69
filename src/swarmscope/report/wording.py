"""The sentences an editor reads in the report: what the statistics mean, the key findings, the
working-zone sentence, notes on the inputs, objects named as what they are.

The rule throughout: say what the evidence shows and no more. A flag means "co-acts more than
chance under independence", never "is a troll"; a working zone is named only from a fit of
``MIN_FIT``; a location from a dataset's classification is not called the accounts' claim; a
burst of replies and mentions names its target, and accuses nobody.
"""

from __future__ import annotations

import math

from swarmscope.signals.zones import MIN_FIT

CLUSTERS_SHOWN, TRENDS_SHOWN, ATTACKS_SHOWN = 5, 3, 2
#: What two accounts did, by trace kind, and how its object is written.
OBJECTS = {
    "repost": ("reposted the same post", "{}"),
    "fast_repost": ("reposted the same account within seconds of its post", "{}"),
    "mention": ("mentioned the same account", "@{}"),
    "hashtag": ("used the same hashtag", "#{}"),
    "hashtag_seq": ("used the same hashtags in the same order", "{}"),
    "hashtag_set": ("used the same set of hashtags", "{}"),
    "link": ("shared the same link", "{}"),
    "domain": ("linked to the same site", "{}"),
    "image": ("posted the same image", "{}"),
    "reply": ("replied to the same post", "{}"),
    "text": ("posted the same text", None),
    "similar_text": ("posted near-identical texts", None),
    "sync": ("posted in the same minute", None),
}


def shown_object(kind: str, obj: str | None) -> dict:
    """What a co-action was and its object as what it is (the post, @account, #hashtag, URL);
    no value where the texts themselves are the object (shown beside each other)."""
    what, form = OBJECTS.get(kind, (f"co-acted on the same {kind}", "{}"))
    if kind == "repost" and obj and obj.startswith("account:"):
        return {"what": "reposted posts of the same account", "value": obj[len("account:"):]}
    if kind == "repost" and obj and obj.startswith("text:"):
        return {"what": "reposted the same text", "value": None}
    return {"what": what, "value": form.format(obj) if form and obj is not None else None}


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a share k / n (Wilson, JASA 1927)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _p(x: float | None) -> str:
    return "—" if x is None else f"{x:.1e}" if x < 0.001 else f"{x:.3f}"


def _zone(z: float) -> str:
    return f"UTC{'+' if z >= 0 else '−'}{abs(z):g}"


def account_zone(offset: int, rhythm: str, fit: float) -> dict:
    """An account's working zone, named only when its rhythm fits well enough."""
    clear = fit is not None and fit >= MIN_FIT
    hours = "office hours" if rhythm == "office" else "a waking day"
    sentence = (f"activity fits {hours} at {_zone(offset)} (fit r = {fit:.2f})" if clear else
                f"no clear working zone (best guess {hours} at {_zone(offset)}, fit r = "
                f"{fit:.2f}, below the {MIN_FIT:g} needed to name one)")
    return {"offset": offset, "rhythm": rhythm, "fit": fit, "clear": clear,
            "sentence": sentence}


def zone_sentence(op: dict, location_source: str) -> str:
    """The working hours of a cluster's operation in words: the zone only from a fit of
    ``MIN_FIT``; the location field compared with it only when the accounts stated it
    (``location_source`` 'profile'; not 'dataset' or 'unknown')."""
    if op["zone"] is None:
        parts = ["No working zone could be inferred"]
    else:
        parts = [account_zone(op["zone"], op["rhythm"], op["fit"])["sentence"]
                 .replace("activity fits", "Its activity fits")
                 .replace("no clear", "No clear")]
    if op["claimed"] is not None:
        if location_source != "profile":
            source = ("the dataset's region column, a classification by its authors, not "
                      "the accounts' own statement" if location_source == "dataset" else
                      "its source was not recorded: it may be a dataset's classification")
            parts.append(f"the location field ({source}) points to {_zone(op['claimed'])} "
                         "and is not compared with the activity")
        else:
            parts.append(f"the members' profiles most often state a place at "
                         f"{_zone(op['claimed'])}" + (
                             f"; the activity fits a zone away from it (strength "
                             f"{op['mismatch_strength']:.2f}), which accounts posing as local "
                             "would show, and so would travel or remote work"
                             if op["mismatch"] else ""))
    parts.append(f"active in {op['coverage_hours']} hours of the UTC day")
    parts.append(f"{len(op['segments'])} shifts with {op['handoffs']} hand-offs in "
                 f"{op['days']} days" if op["shifts"] else "no shift structure")
    return "; ".join(parts) + "."


def notes(data: dict, location_source: str) -> list[str]:
    """Notes the reader must see before the findings: shifted or bundled data, pseudonyms, a
    time window, where the location field comes from."""
    out = [f"{i['path'].rsplit('/', 1)[-1]}: {i['note']}" for i in data["inputs"] if i["note"]]
    g = data["generated"]
    if g["pseudonymized"]:
        out.append("Account ids, handles and post ids are keyed pseudonyms; links to posts "
                   "are left out.")
    if g["since"] or g["until"]:
        out.append(f"Activity shown from {g['since'] or 'the start'} to {g['until'] or 'the end'}"
                   "; the detection itself ran on its own time window (see its parameters).")
    if location_source == "dataset":
        out.append("Locations come from the FiveThirtyEight dataset's region column (a "
                   "classification, not what the accounts stated): no location claim is "
                   "checked against the accounts' activity.")
    elif location_source == "unknown":
        out.append("This store's ingest did not record its input formats, so where the "
                   "accounts' locations come from is not known: no location claim is checked "
                   "against the accounts' activity (ingest again to record them).")
    return out


def what_flagged_means(fdr: float) -> str:
    """What a flag at false discovery rate ``fdr`` says, and what it does not."""
    return (f"What that means: of the flagged accounts, at most about {fdr:.0%} are expected "
            "to be there by chance alone, where chance means accounts acting independently of "
            f"each other. It does not mean that {1 - fdr:.0%} of them are trolls or bots: "
            "organic retweet cascades, fandoms, news crowds and the followers of one account "
            "also act together, and the test flags them too.")


def headline(data: dict) -> list[str]:
    """What was flagged, what that means and what it does not."""
    fdr = data["parameters"].get("fdr", 0.01)
    flagged, accounts = len(data["nodes"]), data["scope"]["accounts"] or 0
    share = f" ({100 * flagged / accounts:.2g}%)" if accounts else ""
    tests = "; ".join(f"{k} within {', '.join(f'{w:g}' for w in ws)} s"
                      for k, ws in data["parameters"].get("windows", {}).items())
    return [
        f"{flagged:,} of {accounts:,} accounts{share} were flagged, in "
        f"{len(data['clusters']):,} clusters: each acted together with other accounts more "
        "often than chance would allow if accounts acted independently, given how active "
        f"each was and how popular each object was (false discovery rate {fdr:g}).",
        what_flagged_means(fdr) + " The kind of coordination each cluster shows is given "
        "with its evidence.",
        f"Tests: {tests}." if tests else "Tests: none recorded.",
    ]


def findings(data: dict) -> list[dict]:
    """The key findings in plain words, ranked: clusters (strongest evidence of operation
    first where detect ranked them, else by their strongest pair), then manufactured trends
    (most posts by flagged accounts first), then bursts of attention on one account that
    came mostly from flagged accounts."""
    out = []
    clusters = data["clusters"]
    if not any(c["evidence_strength"] is not None for c in clusters):
        clusters = sorted(clusters, key=lambda c: (min((e["p"] for e in c["evidence"]
                                                       if e["p"] is not None), default=1),
                                                  c["id"]))
    for c in clusters[:CLUSTERS_SHOWN]:
        out.append({"kind": "cluster", "ref": c["id"], "text": _cluster_finding(c, data)})
    for t in data["trends"][:TRENDS_SHOWN]:
        out.append({"kind": "trend", "ref": t["value"], "text": _trend_finding(t)})
    attacks = [a for a in data["attacks"] if a["kind"] == "account" and a["attackers"]
               and a["flagged"] / a["attackers"] >= 0.5]
    for a in attacks[:ATTACKS_SHOWN]:
        out.append({"kind": "attention", "ref": a["target"], "text": (
            f"Account {a['target']} drew a burst of replies and mentions from "
            f"{a['attackers']:,} accounts between {a['start']} and {a['end']} (about "
            f"{a['expected']:.1f} expected from its usual rate; q = {_p(a['q'])}); "
            f"{a['flagged']:,} of them are flagged. A pile-on by coordinated accounts is "
            "possible; the target is not accused of anything, and news alone also draws "
            "bursts.")})
    return out


def _cluster_finding(c: dict, data: dict) -> str:
    p = min((e["p"] for e in c["evidence"] if e["p"] is not None), default=None)
    kinds = sorted({e["kind"] for e in c["evidence"]})
    text = (f"Cluster {c['id']}: {c['size']:,} accounts acted together beyond chance "
            f"({c['edges']:,} pairs with a test passed; strongest pair p = {_p(p)}; "
            f"evidence of kinds {', '.join(kinds) or 'none shown'}). ")
    if c["assessment"] is None:
        return text.strip()
    traits = c["traits"] or []
    shown = "; ".join(t["detail"] for t in traits[:3] if t.get("detail"))
    return text + (f"Kind of coordination: {c['assessment']} (evidence strength "
                   f"{c['evidence_strength']:.2f})" + (f": {shown}." if shown else "."))


def _trend_finding(t: dict) -> str:
    share = t["flagged_share"] or 0.0
    lo, hi = wilson(share * t["posts"], t["posts"])
    name = ("#" if t["kind"] == "hashtag" else "") + t["value"]
    clusters = ", ".join(f"cluster {c['cluster_id']} ({c['accounts']} accounts)"
                         for c in t["clusters"][:3])
    return (f"{name} burst between {t['start']} and {t['end']}: {t['posts']:,} posts by "
            f"{t['accounts']:,} accounts where its own rate predicted about "
            f"{t['expected']:.0f}; {share:.0%} of the posts (95% interval {lo:.0%}–{hi:.0%}) "
            f"came from flagged accounts" + (f", mostly {clusters}" if clusters else "") +
            ". The trend was in large part made by them.")
