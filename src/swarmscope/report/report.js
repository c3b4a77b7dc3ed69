"use strict";
// swarmscope report: renders the JSON in #data. Every value goes through textContent (never
// innerHTML): post texts, handles and names are written by the adversary. The only links are
// the platform's addresses of posts, which the report builds from numeric post ids.
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  // 19 colours of high mutual contrast (after Trubetskoy's list of 20 distinct colours, grey
  // kept for accounts in no cluster); beyond them, hues a golden angle apart
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                   "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#ffe119",
                   "#fabed4", "#dcbeff", "#aaffc3", "#ffd8b1", "#000000"];
  const GREY = "#9aa3ad";
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const TOP_ACCOUNTS = 50;
  const POST_LINK = /^https:\/\/twitter\.com\/i\/web\/status\/\d{1,20}$/;
  const SVG = "http://www.w3.org/2000/svg";

  const clean = (v) => (v === null || v === undefined) ? "" :
    String(v).replace(BIDI, (c) => "[U+" + c.charCodeAt(0).toString(16).toUpperCase() + "]");
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = clean(text);
    if (cls) e.className = cls;
    return e;
  }
  function add(parent, ...children) { children.forEach((c) => parent.appendChild(c)); return parent; }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = clean(text);
    return e;
  }
  const clusterIds = data.clusters.map((c) => c.id).sort((a, b) => a - b);
  const colourOf = new Map(clusterIds.map((id, i) => [id, i < PALETTE.length ? PALETTE[i] :
    "hsl(" + Math.round((i * 137.508) % 360) + ", 70%, " + (i % 2 ? 38 : 55) + "%)"]));
  const colour = (cluster) => colourOf.get(cluster) || GREY;
  const fmt = (x, d) => typeof x === "number" ? x.toFixed(d === undefined ? 3 : d) : clean(x);
  const pv = (x) => typeof x !== "number" ? "—" : x < 0.001 ? x.toExponential(1) : x.toFixed(3);
  const int = (x) => typeof x === "number" ? x.toLocaleString("en") : clean(x);
  const name = (n) => !n.handle ? n.id : n.handle === n.id ? "@" + n.handle :
    "@" + n.handle + " (" + n.id + ")";
  const text = (i) => i === null || i === undefined ? null : data.texts[i];

  function table(headers, rows, untrustedCols) {
    const t = el("table");
    add(t, add(el("tr"), ...headers.map((h) => el("th", h))));
    rows.forEach((r) => add(t, add(el("tr"), ...r.map((v, i) =>
      v instanceof Node ? add(el("td"), v) :
        el("td", v, untrustedCols && untrustedCols.includes(i) ? "untrusted" : undefined)))));
    return t;
  }
  function button(label, onClick, cls) {
    const b = el("button", label, "link" + (cls ? " " + cls : ""));
    b.addEventListener("click", onClick);
    return b;
  }
  const accountButton = (i) => button(name(data.nodes[i]), () => { openAccount(i); centre(i); },
                                      "untrusted");

  // -- summary ---------------------------------------------------------------------------------
  const g = data.generated;
  document.getElementById("title").textContent = clean(data.title);
  document.getElementById("generated").textContent =
    "swarmscope " + clean(g.version) + ", detection run " + clean(g.detect_run) + " finished " +
    clean(g.finished) + (g.pseudonymized ? "; account ids and handles are pseudonyms" : "");
  const notes = document.getElementById("notes");
  if (data.notes.length) {
    notes.hidden = false;
    add(notes, el("b", "Read first"), add(el("ul"), ...data.notes.map((n) => el("li", n))));
  }
  const headline = document.getElementById("headline");
  data.headline.forEach((line) => add(headline, el("li", line)));
  const findings = document.getElementById("findings");
  if (!data.findings.length) add(findings, el("li", "No finding: no account was flagged."));
  data.findings.forEach((f) => {
    const li = el("li", f.text);
    if (f.kind === "cluster") {
      add(li, document.createTextNode(" "), button("See cluster " + f.ref, () => openCluster(f.ref)));
    }
    add(findings, li);
  });
  document.getElementById("findings-note").textContent = data.traits_computed ?
    "Clusters are ranked by the strength of the evidence that they are operated; trends by " +
    "the posts flagged accounts made; bursts of attention by their flagged accounts." :
    "This detection run did not compute what kind of coordination each cluster shows, so a " +
    "cluster here may be an operation or an organic crowd; clusters are ranked by their " +
    "strongest pair, trends by the posts flagged accounts made.";
  const inputs = document.getElementById("inputs");
  add(inputs, data.inputs.length ? table(
    ["File", "Format", "Records read", "Stored", "Duplicates", "Rejected", "Posts", "Time span (UTC)",
     "Bytes", "SHA-256"],
    data.inputs.map((i) => [i.path, i.format || "not recorded", int(i.read), int(i.stored),
                            int(i.duplicates), int(i.rejected), int(i.posts),
                            i.first ? clean(i.first) + " to " + clean(i.last) : "—",
                            int(i.bytes), el("code", i.sha256, "hash")]), [0]) :
    el("p", "No ingest run recorded in this store.", "note"));
  const scope = document.getElementById("scope");
  [["Platforms", (data.scope.platforms || []).join(", ")],
   ["Time span (UTC)", clean(data.scope.first) + " to " + clean(data.scope.last)],
   ["Accounts", int(data.scope.accounts)],
   ["Posts", int(data.scope.posts)],
   ["Flagged accounts", int(data.nodes.length)]]
    .forEach(([k, v]) => add(scope, el("dt", k), el("dd", v)));
  document.getElementById("parameters").textContent = JSON.stringify(data.parameters, null, 2);

  // -- evidence --------------------------------------------------------------------------------
  // Words of b that are not in the longest common subsequence with a are marked (and the
  // same for a): the differences of near-duplicate texts.
  function diffWords(a, b) {
    const x = a.split(/(\s+)/), y = b.split(/(\s+)/);
    if (x.length * y.length > 250000) return null;
    const L = Array.from({length: x.length + 1}, () => new Uint16Array(y.length + 1));
    for (let i = x.length - 1; i >= 0; i--)
      for (let j = y.length - 1; j >= 0; j--)
        L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const keepX = new Array(x.length).fill(false), keepY = new Array(y.length).fill(false);
    for (let i = 0, j = 0; i < x.length && j < y.length;) {
      if (x[i] === y[j]) { keepX[i++] = true; keepY[j++] = true; }
      else if (L[i + 1][j] >= L[i][j + 1]) i++; else j++;
    }
    return [[x, keepX], [y, keepY]];
  }
  function postText(t, parts, url) {
    const cell = el("div", undefined, "post untrusted");
    if (t === null) add(cell, el("span", "(no text in the data)", "note"));
    else if (!parts) cell.textContent = clean(t);
    else parts[0].forEach((w, i) => add(cell, parts[1][i] || !w.trim() ? document.createTextNode(clean(w))
                                                            : el("mark", w)));
    if (url && POST_LINK.test(url)) {
      const a = el("a", "open the post");
      a.setAttribute("href", url); a.rel = "noopener noreferrer"; a.target = "_blank";
      add(cell, el("br"), a);
    }
    return cell;
  }
  function evidenceTable(rows) {
    if (!rows.length) return el("p", "No co-action of its pairs was kept as evidence.", "note");
    return table(["Accounts", "What they did", "Pair p", "Times (UTC)", "Post of the first",
                  "Post of the second"], rows.map((e) => {
      const ta = text(e.text_a), tb = text(e.text_b);
      const near = ta !== null && tb !== null && ta !== tb && e.kind !== "sync";
      const parts = near ? diffWords(ta, tb) : null;
      const what = el("span", e.object.what + (e.object.value ? ": " : ""));
      if (e.object.value) add(what, el("span", e.object.value, "untrusted object"));
      return [add(el("span", undefined, "untrusted"), el("span", e.a), el("br"), el("span", e.b)),
              what, pv(e.p) + " (" + e.kind + ")",
              clean(e.ts_a) + (e.ts_b === e.ts_a ? "" : "\n" + clean(e.ts_b)) +
                "\n" + fmt(e.dt_s, 0) + " s apart",
              postText(ta, parts && parts[0], e.url_a), postText(tb, parts && parts[1], e.url_b)];
    }));
  }

  // -- accounts --------------------------------------------------------------------------------
  const neighbours = data.nodes.map(() => []);
  data.edges.forEach(([a, b, w]) => { neighbours[a].push([b, w]); neighbours[b].push([a, w]); });
  neighbours.forEach((list) => list.sort((p, q) => q[1] - p[1] || p[0] - q[0]));
  const byScore = data.nodes.map((_, i) => i)
    .sort((a, b) => data.nodes[b].score - data.nodes[a].score || a - b);

  function accountCard(i, body) {
    const n = data.nodes[i];
    const cluster = n.cluster ? button("cluster " + n.cluster, () => openCluster(n.cluster))
                              : el("span", "none");
    add(body, table(["score", "p", "q", "cluster", "posts", "partners beyond chance / testable"],
                    [[fmt(n.score), pv(n.p), pv(n.q), cluster, int(n.posts),
                      int(n.partners) + " / " + int(n.testable)]]));
    if (n.joined) {
      add(body, el("p", "Joined cluster " + n.cluster + " by affiliation (round " + n.joined.round +
                        "): " + n.joined.x + " objects co-acted with its members, " + n.joined.kind +
                        " within " + n.joined.window + " s."));
    }
    add(body, el("h3", "Score by signal (its p-value)"),
        table(data.kinds, [data.kinds.map((k) => fmt(n.signals[k], 2) + " (p " + pv(n.p_kind[k]) + ")")]));
    add(body, el("p", "Working hours: " + (n.zone ? n.zone.sentence :
                                            "not computed (too few posts for a rhythm).")));
    const partners = neighbours[i].slice(0, 10).map(([j, w]) => [accountButton(j), fmt(w, 1)]);
    add(body, el("h3", "Strongest partners"), table(["account", "-log10 p"], partners));
    add(body, el("h3", "Its evidence"), evidenceTable(n.evidence));
    return body;
  }
  const card = document.getElementById("card");
  function openAccount(i) {
    const n = data.nodes[i];
    card.hidden = false;
    document.getElementById("card-title").textContent = clean(name(n)) + ": flagged";
    const body = document.getElementById("card-body");
    body.replaceChildren();
    accountCard(i, body);
    card.scrollIntoView({block: "nearest"});
    selected = i;
    draw();
  }
  function openUnflagged(j) {
    const d = data.directory;
    card.hidden = false;
    const id = directory().ids[j], handle = directory().handles[j];
    document.getElementById("card-title").textContent =
      clean(handle ? "@" + handle + " (" + id + ")" : id) + ": not flagged";
    const body = document.getElementById("card-body");
    body.replaceChildren();
    add(body, table(["score", "posts"], [[fmt(d.score_permille[j] / 1000), int(d.posts[j])]]),
        el("p", "This account did not co-act with others beyond chance in this detection run " +
                "(a score of 0 means no partner could be tested).", "note"));
    card.scrollIntoView({block: "nearest"});
  }
  const accounts = document.getElementById("accounts");
  document.getElementById("accounts-note").textContent = data.nodes.length ?
    "The " + Math.min(TOP_ACCOUNTS, data.nodes.length) + " highest of " + int(data.nodes.length) +
    " flagged accounts; open one for its score parts, zone and evidence. Search finds every account." :
    "No account was flagged.";
  if (data.nodes.length) {
    const rows = byScore.slice(0, TOP_ACCOUNTS).map((i, r) => {
      const n = data.nodes[i];
      const d = el("details", undefined, "account");
      d.id = "account-" + i;
      const s = el("summary");
      const sw = el("span", undefined, "swatch");
      sw.style.background = colour(n.cluster);
      add(s, el("span", (r + 1) + ". "), sw, el("b", name(n), "untrusted"),
          el("span", " · score " + fmt(n.score, 3) + " · p " + pv(n.p) + " · q " + pv(n.q) +
                     " · " + (n.cluster ? "cluster " + n.cluster : "no cluster") + " · " +
                     int(n.posts) + " posts · " + int(n.partners) + " partners beyond chance"));
      add(d, s);
      d.addEventListener("toggle", () => { if (d.open && d.children.length === 1) accountCard(i, add(d, el("div"))); });
      return d;
    });
    add(accounts, ...rows);
  }

  // -- clusters --------------------------------------------------------------------------------
  function openCluster(id) {
    const section = document.getElementById("cluster-" + id);
    if (section) { section.open = true; section.scrollIntoView(); }
  }
  const clustersDiv = document.getElementById("clusters");
  document.getElementById("clusters-note").textContent =
    data.clusters.some((c) => c.evidence_strength !== null) ?
      "Ordered by the strength of the evidence that the cluster is operated (detect's ranking)." :
      "This detection run did not rank clusters by the kind of coordination: they are in the " +
      "order of their number (by size).";
  if (!data.clusters.length) add(clustersDiv, el("p", "No cluster of two or more accounts."));
  const members = new Map();
  data.nodes.forEach((n, i) => { if (n.cluster) (members.get(n.cluster) || members.set(n.cluster, []).get(n.cluster)).push(i); });
  data.clusters.forEach((c) => {
    const d = el("details", undefined, "cluster");
    d.id = "cluster-" + c.id;
    const summary = el("summary");
    const sw = el("span", undefined, "swatch");
    sw.style.background = colour(c.id);
    add(summary, sw, el("b", "Cluster " + c.id),
        el("span", ": " + int(c.size) + " accounts, " + int(c.edges) + " pairs beyond chance, density " +
                   fmt(c.density, 2) + " · "),
        el("span", c.assessment ? "kind: " + c.assessment : "kind of coordination not computed",
           "badge " + (c.assessment ? "kind-" + c.assessment.replace(/[^a-z]/g, "") : "kind-none")));
    add(d, summary);
    add(d, el("p", "Active " + clean(c.first) + " to " + clean(c.last) + " (UTC), " + int(c.posts) +
                   " posts; edges by signal: " + Object.entries(c.signals).filter(([, v]) => v > 0)
                     .map(([k, v]) => int(v) + " " + k).join(", ") + "."));
    add(d, el("h3", "What kind of coordination"));
    if (c.traits === null) {
      add(d, el("p", "Not computed by this detection run: the flag alone does not tell an " +
                     "operation (automation, operators running several accounts) from an organic " +
                     "crowd. Read the evidence below with that in mind.", "note"));
    } else if (!c.traits.length) {
      add(d, el("p", "No trait was measured for this cluster.", "note"));
    } else {
      if (c.assessment) add(d, el("p", "Assessment: " + c.assessment + (c.evidence_strength === null ? "" :
                                       " (evidence strength " + fmt(c.evidence_strength, 2) + ")") + "."));
      add(d, table(["Family", "Trait", "What it shows", "Value (reference)", "p", "Members behind it"],
                   c.traits.map((t) => [t.family, t.trait, t.detail || "",
                                        fmt(t.value, 2) + (t.baseline === null ? "" : " (" + fmt(t.baseline, 2) + ")"),
                                        pv(t.p), add(el("span", int(t.members) + (t.accounts.length ? ": " : "")),
                                                     el("span", t.accounts.join(", "), "untrusted"))])));
    }
    add(d, el("h3", "Strongest evidence (many pairs, every kind, smallest p first)"), evidenceTable(c.evidence));
    [["Top hashtags", c.hashtags], ["Top domains", c.domains], ["Top texts", c.texts]]
      .forEach(([title, rows]) => {
        if (rows.length) add(d, el("h3", title), table(["value", "members"], rows, [0]));
      });
    add(d, el("h3", "Posts per hour (UTC)"),
        chart([{name: "cluster " + c.id, colour: colour(c.id), points: c.timeline}], [], "posts per hour"));
    add(d, el("h3", "Hour of week (UTC)"), heatmap(c.heatmap));
    if (c.rhythm) rhythm(d, c.rhythm);
    const list = members.get(c.id) || [];
    const m = el("p");
    list.forEach((i) => add(m, accountButton(i), document.createTextNode(" ")));
    add(d, el("h3", "All " + int(list.length) + " members (highest score first)"), m);
    add(clustersDiv, d);
  });

  function rhythm(d, r) {
    add(d, el("h3", "Working hours"), el("p", r.sentence));
    if (r.shifts) {
      add(d, table(["shift", "UTC", "local", "members", "hand-offs in", "median gap min"],
                   r.segments.map((s) => [s[0], s[1] + "–" + s[2], s[3] === null ? "—" :
                                          s[3] + "–" + s[4], s[5], s[6], fmt(s[7], 0)])));
    }
  }

  // -- charts ----------------------------------------------------------------------------------
  // A time chart with axes: series of [epoch ms, count] as step lines, bands [start, end, label]
  // shaded behind them, days along x (UTC), counts up y.
  function chart(series, bands, yLabel) {
    const W = 900, H = 210, L = 66, R = 40, T = 40, B = 38;
    const s = svg("svg", {"class": "chart", viewBox: "0 0 " + W + " " + H, role: "img",
                          "aria-label": yLabel + " over time"});
    const points = series.flatMap((x) => x.points).filter((p) => Number.isFinite(p[0]));
    if (!points.length) return el("p", "No activity to show.", "note");
    let t0 = Math.min(...points.map((p) => p[0])), t1 = Math.max(...points.map((p) => p[0])) + 3600000;
    const ymax = Math.max(1, ...points.map((p) => p[1]));
    const x = (t) => L + (W - L - R) * (t - t0) / Math.max(1, t1 - t0);
    const y = (v) => H - B - (H - T - B) * v / ymax;
    const groups = [];   // overlapping bands share one label: "#a, #b +3"
    bands.filter(([a, b]) => b >= t0 && a <= t1).sort((p, q) => p[0] - q[0]).forEach((band) => {
      const last = groups[groups.length - 1];
      if (last && band[0] <= last.end) { last.names.push(band[2]); last.end = Math.max(last.end, band[1]); }
      else groups.push({start: band[0], end: band[1], names: [band[2]]});
      const x0 = x(Math.max(band[0], t0)), x1 = Math.max(x0 + 2, x(Math.min(band[1], t1)));
      add(s, svg("rect", {x: x0, y: T, width: x1 - x0, height: H - T - B, "class": "band"}));
    });
    groups.forEach((grp, k) => {
      const x0 = x(Math.max(grp.start, t0));
      add(s, svg("text", {x: x0, y: 14 + 12 * (k % 2), "class": "band-label",
                          "text-anchor": x0 > W / 2 ? "end" : "start"},
                 grp.names.slice(0, 2).join(", ") + (grp.names.length > 2 ? " +" + (grp.names.length - 2) : "")));
    });
    add(s, svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, "class": "axis"}),
        svg("line", {x1: L, y1: T, x2: L, y2: H - B, "class": "axis"}));
    const day = 86400000, span = t1 - t0, every = Math.max(1, Math.ceil(span / day / 10));
    for (let t = Math.ceil(t0 / day) * day; t <= t1; t += every * day) {
      add(s, svg("line", {x1: x(t), y1: H - B, x2: x(t), y2: H - B + 4, "class": "axis"}),
          svg("text", {x: x(t), y: H - B + 16, "text-anchor": "middle", "class": "tick"},
              new Date(t).toISOString().slice(0, 10)));
    }
    [0, Math.round(ymax / 2), ymax].forEach((v) => add(s,
      svg("line", {x1: L - 4, y1: y(v), x2: L, y2: y(v), "class": "axis"}),
      svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end", "class": "tick"}, int(v))));
    add(s, svg("text", {x: 12, y: T + (H - T - B) / 2, "class": "tick",
                        transform: "rotate(-90 12 " + (T + (H - T - B) / 2) + ")", "text-anchor": "middle"}, yLabel),
        svg("text", {x: L + (W - L - R) / 2, y: H - 4, "text-anchor": "middle", "class": "tick"}, "date (UTC)"));
    const key = el("p", undefined, "chart-key");
    series.forEach((ser) => {
      const pts = ser.points.filter((p) => Number.isFinite(p[0])).sort((a, b) => a[0] - b[0]);
      const path = pts.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1) +
                                       " H" + x(p[0] + 3600000).toFixed(1)).join(" ");
      add(s, svg("path", {d: path, fill: "none", stroke: ser.colour, "stroke-width": 1.4}));
      const sw = el("span", undefined, "swatch");
      sw.style.background = ser.colour;
      add(key, sw, el("span", ser.name + "   "));
    });
    if (bands.length) {
      const sw = el("span", undefined, "swatch band-swatch");
      add(key, sw, el("span", "burst of a manufactured trend"));
    }
    return add(el("div", undefined, "chart-wrap"), s, key);
  }
  const tl = data.timeline, per = "posts per " + (tl.step_ms > 3600000 ? "day" : "hour");
  const bursts = data.trends.slice(0, 8).map((t) => [t.start_ms, t.end_ms,
                                                     (t.kind === "hashtag" ? "#" : "") + t.value]);
  add(document.getElementById("timeline"),
      el("p", per[0].toUpperCase() + per.slice(1) + " in the whole store against those of the " +
              "accounts in flagged clusters, on one scale, then the clusters' alone; shaded: " +
              "the bursts of manufactured trends (listed below).", "note"),
      chart([{name: "all posts", colour: "#8792a2", points: tl.all},
             {name: "posts of flagged clusters", colour: "#c0392b", points: tl.clustered}],
            bursts, per),
      chart([{name: "posts of flagged clusters", colour: "#c0392b", points: tl.clustered}],
            bursts, per));

  function heatmap(counts) {
    const grid = el("div", undefined, "heat");
    const max = Math.max(1, ...counts);
    add(grid, el("span", ""));
    for (let h = 0; h < 24; h++) add(grid, el("span", h % 3 === 0 ? String(h) : ""));
    DAYS.forEach((dayName, d) => {
      add(grid, el("span", dayName));
      for (let h = 0; h < 24; h++) {
        const cell = el("div");
        const v = counts[d * 24 + h];
        cell.style.background = "rgba(44, 93, 158, " + (v / max).toFixed(3) + ")";
        cell.title = dayName + " " + h + ":00 UTC: " + v + " posts";
        add(grid, cell);
      }
    });
    return grid;
  }

  // -- trends and bursts of attention ----------------------------------------------------------
  const signatures = document.getElementById("signatures");
  const clusterList = (cs) => cs.map((c) => "cluster " + c.cluster_id + " (" + c.accounts + ")").join(", ");
  const trends = data.trends || [], attacks = data.attacks || [];
  add(signatures, el("h3", "Manufactured trends"), trends.length ?
    table(["Hashtag or domain", "From", "To", "Accounts", "Posts", "Expected", "q",
           "Posts by flagged accounts (95% interval)", "Clusters behind it"],
          trends.map((t) => [(t.kind === "hashtag" ? "#" : "") + t.value, t.start, t.end,
                             t.accounts, t.posts, fmt(t.expected, 1), pv(t.q),
                             share(t.flagged_share, t.posts), clusterList(t.clusters)]), [0]) :
    el("p", "None: no burst of a hashtag or domain came mostly from flagged accounts.", "note"));
  add(signatures, el("h3", "Bursts of attention on one account or post"),
      el("p", "Many accounts replied to or mentioned the same target within a short time, " +
              "far above its usual rate. The target is named, not accused; a burst made mostly " +
              "by flagged accounts may be a pile-on, one made by others is usually news.", "note"),
      attacks.length ?
    table(["Target", "From", "To", "Accounts replying or mentioning", "Expected", "q",
           "Of them flagged", "Clusters behind it"],
          attacks.map((a) => [a.kind + " " + a.target, a.start, a.end, a.attackers,
                              fmt(a.expected, 1), pv(a.q), a.flagged, clusterList(a.clusters)]), [0]) :
    el("p", "None: no account or post drew a burst of replies and mentions.", "note"));
  const ephemeral = data.ephemeral || [], profile = data.profile || [];
  add(signatures, el("h3", "Ephemeral posting (posts deleted within 10 minutes)"),
      ephemeral.length ?
    table(["Hashtag (* all)", "From", "To", "Accounts", "Posts", "Median life (s)", "q",
           "Posts by flagged accounts (95% interval)"],
          ephemeral.map((e) => [e.object, e.start, e.end, e.accounts, e.posts,
                                fmt(e.median_life_s, 0), pv(e.q), share(e.flagged_share, e.posts)])) :
    el("p", "None: no burst of short-lived posts (or no deletion times in the data).", "note"));
  add(signatures, el("h3", "Profile findings"), profile.length ?
    table(["Finding", "Value", "Cluster", "Accounts", "First", "Last", "q"],
          profile.map((f) => [f.kind + (f.automation ? " (automation)" : ""), f.key,
                              f.cluster || "", f.accounts, f.first || "", f.last || "", pv(f.q)]), [1]) :
    el("p", "None: no creation burst, shared name or description, client or handle pattern.", "note"));
  function share(p, n) {  // a share with its 95% Wilson interval
    if (typeof p !== "number" || !n) return "—";
    const z = 1.96, c = (p + z * z / (2 * n)) / (1 + z * z / n);
    const h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
    return fmt(100 * p, 0) + "% (" + fmt(100 * Math.max(0, c - h), 0) + "–" + fmt(100 * Math.min(1, c + h), 0) + "%)";
  }

  // -- network ---------------------------------------------------------------------------------
  const canvas = document.getElementById("network");
  const ctx = canvas.getContext("2d");
  const tooltip = document.getElementById("tooltip");
  const WORLD = 1000;
  let view = {k: 1, x: 0, y: 0}, selected = null, hover = null;
  const legend = document.getElementById("legend");
  if (!data.nodes.length) {
    document.getElementById("network-wrap").hidden = true;
    const empty = document.getElementById("network-empty");
    empty.hidden = false;
    empty.textContent = "No account was flagged in this detection run, so there is no network " +
      "to draw: no pair of accounts co-acted beyond chance at false discovery rate " +
      clean(data.parameters.fdr) + ".";
  } else {
    data.clusters.slice().sort((a, b) => a.id - b.id).forEach((c) => {
      const item = button("", () => openCluster(c.id), "legend-item");
      const sw = el("span", undefined, "swatch");
      sw.style.background = colour(c.id);
      add(item, sw, el("span", "cluster " + c.id + " (" + c.size + ")"));
      add(legend, item);
    });
    const grey = el("span", undefined, "legend-item");
    const sw = el("span", undefined, "swatch");
    sw.style.background = GREY;
    add(legend, add(grey, sw, el("span", "flagged, in no cluster of two or more")),
        el("span", "Dot size: score. Line: a pair with a test beyond chance. Named: the most connected " +
                   "account of each of the " + data.nodes.filter((n) => n.label).length + " largest clusters.", "note legend-note"));
  }

  function resize() {
    const rect = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(rect.width * dpr));
    canvas.height = Math.max(1, Math.round(rect.height * dpr));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function fit() {
    const rect = canvas.getBoundingClientRect();
    view.k = 0.9 * Math.min(rect.width, rect.height) / WORLD;
    view.x = (rect.width - WORLD * view.k) / 2;
    view.y = (rect.height - WORLD * view.k) / 2;
  }
  const sx = (n) => view.x + n.x * WORLD * view.k;
  const sy = (n) => view.y + n.y * WORLD * view.k;
  const radius = (n) => 2.5 + 4 * n.score;

  function draw() {
    const rect = canvas.getBoundingClientRect();
    ctx.clearRect(0, 0, rect.width, rect.height);
    ctx.lineWidth = 0.6;
    ctx.strokeStyle = "rgba(90, 100, 115, 0.18)";
    ctx.beginPath();
    data.edges.forEach(([a, b]) => {
      const p = data.nodes[a], q = data.nodes[b];
      ctx.moveTo(sx(p), sy(p)); ctx.lineTo(sx(q), sy(q));
    });
    ctx.stroke();
    data.nodes.forEach((n, i) => {
      ctx.beginPath();
      ctx.fillStyle = colour(n.cluster);
      ctx.arc(sx(n), sy(n), radius(n) * (i === selected || i === hover ? 1.8 : 1), 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.font = "12px system-ui, sans-serif";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
    ctx.fillStyle = "#1d232b";
    data.nodes.forEach((n, i) => {
      if (!n.label && i !== selected) return;
      const label = clean(n.handle ? "@" + n.handle : n.id);
      ctx.strokeText(label, sx(n) + 6, sy(n) - 6);
      ctx.fillText(label, sx(n) + 6, sy(n) - 6);
    });
  }
  function nodeAt(px, py) {
    let best = null, bestD = 10 * 10;
    data.nodes.forEach((n, i) => {
      const d = (sx(n) - px) ** 2 + (sy(n) - py) ** 2;
      if (d < bestD) { best = i; bestD = d; }
    });
    return best;
  }
  function centre(i) {
    const rect = canvas.getBoundingClientRect(), n = data.nodes[i];
    view.k = Math.max(view.k, 2 * Math.min(rect.width, rect.height) / WORLD);
    view.x = rect.width / 2 - n.x * WORLD * view.k;
    view.y = rect.height / 2 - n.y * WORLD * view.k;
    draw();
  }
  const local = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  let drag = null;
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [px, py] = local(ev), f = Math.exp(-ev.deltaY * 0.0015);
    view.x = px - (px - view.x) * f; view.y = py - (py - view.y) * f; view.k *= f;
    draw();
  }, {passive: false});
  canvas.addEventListener("mousedown", (ev) => { drag = {p: local(ev), moved: false}; });
  window.addEventListener("mouseup", (ev) => {
    if (drag && !drag.moved) {
      const [px, py] = local(ev), i = nodeAt(px, py);
      if (i !== null) openAccount(i);
    }
    drag = null;
  });
  canvas.addEventListener("mousemove", (ev) => {
    const [px, py] = local(ev);
    if (drag) {
      const dx = px - drag.p[0], dy = py - drag.p[1];
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      view.x += dx; view.y += dy; drag.p = [px, py];
      draw();
      return;
    }
    const i = nodeAt(px, py);
    if (i !== hover) { hover = i; draw(); }
    tooltip.hidden = i === null;
    if (i !== null) {
      const n = data.nodes[i];
      tooltip.textContent = clean(name(n)) + " · score " + fmt(n.score, 2) +
        (n.cluster ? " · cluster " + n.cluster : "");
      tooltip.style.left = (px + 12) + "px"; tooltip.style.top = (py + 12) + "px";
    }
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; hover = null; draw(); });
  window.addEventListener("resize", () => { resize(); draw(); });

  // -- search over every account ---------------------------------------------------------------
  let dir = null;   // the unflagged accounts, split on first use
  function directory() {
    if (!dir) {
      const d = data.directory;
      dir = {ids: d.ids ? d.ids.split("\n") : [], handles: d.handles ? d.handles.split("\n") : []};
      dir.lowerHandles = dir.handles.map((h) => h.toLowerCase());
      dir.lowerIds = dir.ids.map((h) => h.toLowerCase());
    }
    return dir;
  }
  // {flagged: node index} or {unflagged: directory index}: an exact id or handle first, then
  // the first that starts with the query; null when none matches
  function find(query) {
    const q = query.trim().replace(/^@/, "").toLowerCase();
    if (!q) return null;
    const key = (n) => [String(n.id).toLowerCase(), String(n.handle || "").toLowerCase()];
    let i = data.nodes.findIndex((n) => key(n).includes(q));
    if (i >= 0) return {flagged: i};
    const d = directory();
    let j = d.lowerIds.indexOf(q);
    if (j < 0) j = d.lowerHandles.indexOf(q);
    if (j >= 0) return {unflagged: j};
    i = data.nodes.findIndex((n) => key(n).some((k) => k.startsWith(q)));
    if (i >= 0) return {flagged: i};
    j = d.lowerIds.findIndex((k) => k.startsWith(q));
    if (j < 0) j = d.lowerHandles.findIndex((k) => k && k.startsWith(q));
    return j >= 0 ? {unflagged: j} : null;
  }
  const search = document.getElementById("search"), status = document.getElementById("search-status");
  search.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const hit = find(search.value);
    if (hit === null) {
      status.textContent = "no account in the store matches";
    } else if ("flagged" in hit) {
      status.textContent = "found " + clean(name(data.nodes[hit.flagged])) + " (flagged)";
      openAccount(hit.flagged); centre(hit.flagged);
    } else {
      status.textContent = "found " + clean(directory().ids[hit.unflagged]) + " (not flagged)";
      openUnflagged(hit.unflagged);
    }
  });

  // -- print: every card open ------------------------------------------------------------------
  function openAll() {
    document.querySelectorAll("details").forEach((d) => {
      d.open = true;
      d.dispatchEvent(new Event("toggle"));
    });
  }
  window.addEventListener("beforeprint", openAll);
  if (location.hash === "#print") openAll();

  if (data.nodes.length) { resize(); fit(); draw(); }
  // for tests and for analysts' own scripts in the browser console
  window.swarmscope = {
    data, openAccount, find, openAll,
    nodeScreenPosition(id) {
      const i = data.nodes.findIndex((n) => n.id === id), r = canvas.getBoundingClientRect();
      return i < 0 ? null : {x: r.left + sx(data.nodes[i]), y: r.top + sy(data.nodes[i])};
    },
  };
})();
