"use strict";
// swarmscope report: renders the JSON in #data. Every value goes through textContent (never
// innerHTML): post texts, handles and names are written by the adversary.
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                   "#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39"];
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  const clean = (v) => (v === null || v === undefined) ? "" :
    String(v).replace(BIDI, (c) => "[U+" + c.charCodeAt(0).toString(16).toUpperCase() + "]");
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = clean(text);
    if (cls) e.className = cls;
    return e;
  }
  function add(parent, ...children) { children.forEach((c) => parent.appendChild(c)); return parent; }
  const colour = (cluster) => cluster ? PALETTE[(cluster - 1) % PALETTE.length] : "#9aa3ad";
  const fmt = (x, d) => typeof x === "number" ? x.toFixed(d === undefined ? 3 : d) : clean(x);
  const name = (n) => n.handle ? "@" + n.handle + " (" + n.id + ")" : n.id;

  function table(headers, rows, untrustedCols) {
    const t = el("table");
    const head = add(el("tr"), ...headers.map((h) => el("th", h)));
    add(t, head);
    rows.forEach((r) => add(t, add(el("tr"), ...r.map((v, i) =>
      v instanceof Node ? add(el("td"), v) :
        el("td", v, untrustedCols && untrustedCols.includes(i) ? "untrusted" : undefined)))));
    return t;
  }

  // -- overview ------------------------------------------------------------------------------
  const g = data.generated;
  document.getElementById("generated").textContent =
    "swarmscope " + clean(g.version) + ", detection run " + clean(g.detect_run) + " finished " +
    clean(g.finished) + (g.pseudonymized ? "; account ids and handles are pseudonyms" : "");
  const headline = document.getElementById("headline");
  data.headline.forEach((line) => add(headline, el("li", line)));
  const scope = document.getElementById("scope");
  [["Platforms", (data.scope.platforms || []).join(", ")],
   ["Time span", clean(data.scope.first) + " to " + clean(data.scope.last)],
   ["Accounts", Number(data.scope.accounts).toLocaleString("en")],
   ["Posts", Number(data.scope.posts).toLocaleString("en")],
   ["Flagged accounts", data.nodes.length.toLocaleString("en")]]
    .forEach(([k, v]) => add(scope, el("dt", k), el("dd", v)));
  document.getElementById("parameters").textContent = JSON.stringify(data.parameters, null, 2);

  // -- manufactured trends and targeted attacks ----------------------------------------------
  const signatures = document.getElementById("signatures");
  const clusterList = (cs) => cs.map((c) => "cluster " + c.cluster_id + " (" + c.accounts + ")")
    .join(", ");
  const q = (x) => typeof x === "number" ? x.toExponential(1) : "";
  const trends = data.trends || [], attacks = data.attacks || [];
  add(signatures, el("h3", "Manufactured trends"), trends.length ?
    table(["Hashtag or domain", "From", "To", "Accounts", "Posts", "Expected", "q",
           "Posts by flagged accounts", "Clusters behind it"],
          trends.map((t) => [(t.kind === "hashtag" ? "#" : "") + t.value, t.start, t.end,
                             t.accounts, t.posts, fmt(t.expected, 1), q(t.q),
                             fmt(100 * (t.flagged_share || 0), 0) + "%", clusterList(t.clusters)]),
          [0]) :
    el("p", "None: no burst of a hashtag or domain came mostly from flagged accounts.", "note"));
  add(signatures, el("h3", "Targeted attacks"), attacks.length ?
    table(["Target", "From", "To", "Attackers", "Expected", "q", "Flagged attackers",
           "Clusters behind it"],
          attacks.map((a) => [a.kind + " " + a.target, a.start, a.end, a.attackers,
                              fmt(a.expected, 1), q(a.q), a.flagged, clusterList(a.clusters)])) :
    el("p", "None: no account or post drew a burst of replies and mentions.", "note"));
  const ephemeral = data.ephemeral || [], profile = data.profile || [];
  add(signatures, el("h3", "Ephemeral posting (posts deleted within 10 minutes)"),
      ephemeral.length ?
    table(["Hashtag (* all)", "From", "To", "Accounts", "Posts", "Median life (s)", "q",
           "Posts by flagged accounts"],
          ephemeral.map((e) => [e.object, e.start, e.end, e.accounts, e.posts,
                                fmt(e.median_life_s, 0), q(e.q),
                                fmt(100 * (e.flagged_share || 0), 0) + "%"])) :
    el("p", "None: no burst of short-lived posts (or no deletion times in the data).", "note"));
  add(signatures, el("h3", "Profile findings"), profile.length ?
    table(["Finding", "Value", "Cluster", "Accounts", "First", "Last", "q"],
          profile.map((f) => [f.kind + (f.automation ? " (automation)" : ""), f.key,
                              f.cluster || "", f.accounts, f.first || "", f.last || "",
                              q(f.q)])) :
    el("p", "None: no creation burst, shared name or description, client or handle pattern.",
       "note"));

  // -- neighbours ----------------------------------------------------------------------------
  const neighbours = data.nodes.map(() => []);
  data.edges.forEach(([a, b, w]) => { neighbours[a].push([b, w]); neighbours[b].push([a, w]); });
  neighbours.forEach((list) => list.sort((p, q) => q[1] - p[1]));

  // -- cards -----------------------------------------------------------------------------------
  const card = document.getElementById("card");
  function openAccount(i) {
    const n = data.nodes[i];
    card.hidden = false;
    document.getElementById("card-title").textContent = clean(name(n));
    const body = document.getElementById("card-body");
    body.replaceChildren();
    const clusterButton = n.cluster ? el("button", "cluster " + n.cluster, "link") : el("span", "none");
    if (n.cluster) clusterButton.addEventListener("click", () => openCluster(n.cluster));
    add(body, table(["score", "cluster", "posts", "partners beyond chance"],
                    [[fmt(n.score), clusterButton, n.posts, n.partners]]));
    if (n.joined) {
      add(body, el("p", `Joined cluster ${n.cluster} by affiliation (round ${n.joined.round}): ` +
                        `${n.joined.x} objects co-acted with its members, ${n.joined.kind} ` +
                        `within ${n.joined.window} s.`));
    }
    add(body, el("h3", "Score by signal"),
        table(data.kinds, [data.kinds.map((k) => fmt(n.signals[k]))]));
    const partners = neighbours[i].slice(0, 10).map(([j, w]) => {
      const b = el("button", name(data.nodes[j]), "link untrusted");
      b.addEventListener("click", () => { openAccount(j); centre(j); });
      return [b, fmt(w, 1)];
    });
    add(body, el("h3", "Strongest partners"), table(["account", "-log10 p"], partners));
    card.scrollIntoView({block: "nearest"});
    selected = i;
    draw();
  }
  function openCluster(id) {
    const section = document.getElementById("cluster-" + id);
    if (section) { section.open = true; section.scrollIntoView(); }
  }

  // -- clusters --------------------------------------------------------------------------------
  const clustersDiv = document.getElementById("clusters");
  if (!data.clusters.length) add(clustersDiv, el("p", "No cluster of two or more accounts."));
  data.clusters.forEach((c) => {
    const d = el("details", undefined, "cluster");
    d.id = "cluster-" + c.id;
    const summary = el("summary");
    const sw = el("span", undefined, "swatch");
    sw.style.background = colour(c.id);
    add(summary, sw, el("b", "Cluster " + c.id),
        el("span", ": " + c.size + " accounts, density " + fmt(c.density, 2) + ", " +
                   Object.entries(c.signals).filter(([, v]) => v > 0)
                     .map(([k, v]) => v + " " + k + " edges").join(", ")));
    add(d, summary);
    add(d, el("p", "Active " + clean(c.first) + " to " + clean(c.last) + ", " + c.posts + " posts."));
    [["Top hashtags", c.hashtags], ["Top domains", c.domains], ["Top texts", c.texts]]
      .forEach(([title, rows]) => {
        if (rows.length) add(d, el("h3", title), table(["value", "members"], rows, [0]));
      });
    add(d, el("h3", "Activity per hour (UTC)"), timeline(c.timeline));
    add(d, el("h3", "Hour of week (UTC)"), heatmap(c.heatmap));
    if (c.rhythm) rhythm(d, c.rhythm);
    add(d, el("h3", "Strongest evidence"), table(
      ["account a", "account b", "signal", "object", "a at", "b at", "Δt s", "text a", "text b"],
      c.evidence.map((e) => [e.a, e.b, e.kind, e.object, e.ts_a, e.ts_b, fmt(e.dt_s, 0),
                             e.text_a, e.text_b]), [0, 1, 3, 7, 8]));
    const members = el("p");
    c.members.forEach((i) => {
      const b = el("button", name(data.nodes[i]), "link untrusted");
      b.addEventListener("click", () => { openAccount(i); centre(i); });
      add(members, b, document.createTextNode(" "));
    });
    add(d, el("h3", "Members (strongest first)"), members);
    add(clustersDiv, d);
  });

  function rhythm(d, r) {
    const zone = (z) => "UTC" + (z >= 0 ? "+" : "") + z;
    const text = "Operation " + r.operation + " (clusters " + r.clusters.join(", ") + "): " +
      (r.zone === null ? "no working zone" : "working zone " + zone(r.zone) + " (" + r.rhythm +
       " rhythm, fit " + fmt(r.fit, 2) + ")") +
      (r.claimed === null ? "" : "; members claim " + zone(r.claimed) +
       (r.mismatch ? ": mismatch, strength " + fmt(r.mismatch_strength, 2) : "")) +
      "; active in " + r.coverage_hours + " h of the day; " +
      (r.shifts ? r.segments.length + " shifts, " + r.handoffs + " hand-offs in " + r.days +
       " days." : "no shift structure.");
    add(d, el("h3", "Working hours"), el("p", text));
    if (r.shifts) {
      add(d, table(["shift", "UTC", "local", "members", "hand-offs in", "median gap min"],
                   r.segments.map((s) => [s[0], s[1] + "–" + s[2], s[3] === null ? "—" :
                                          s[3] + "–" + s[4], s[5], s[6], fmt(s[7], 0)])));
    }
  }

  function timeline(all) {
    const series = all.filter(([t]) => Number.isFinite(Date.parse(t)));  // not "0044-03-15 (BC)"
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "timeline");
    svg.setAttribute("viewBox", "0 0 640 70");
    svg.setAttribute("preserveAspectRatio", "none");
    if (!series.length) return svg;
    const t0 = Date.parse(series[0][0]), t1 = Date.parse(series[series.length - 1][0]) || t0;
    const max = Math.max(...series.map((s) => s[1]));
    const w = Math.max(1, 640 / Math.max(1, (t1 - t0) / 3600000 + 1));
    series.forEach(([t, n]) => {
      const r = document.createElementNS(ns, "rect");
      const x = t1 > t0 ? (Date.parse(t) - t0) / (t1 - t0) * (640 - w) : 0;
      r.setAttribute("x", x); r.setAttribute("width", w);
      r.setAttribute("y", 70 - 68 * n / max); r.setAttribute("height", 68 * n / max);
      r.setAttribute("fill", "#2c5d9e");
      svg.appendChild(r);
    });
    return svg;
  }

  function heatmap(counts) {
    const grid = el("div", undefined, "heat");
    const max = Math.max(1, ...counts);
    add(grid, el("span", ""));
    for (let h = 0; h < 24; h++) add(grid, el("span", h % 3 === 0 ? String(h) : ""));
    DAYS.forEach((day, d) => {
      add(grid, el("span", day));
      for (let h = 0; h < 24; h++) {
        const cell = el("div");
        const v = counts[d * 24 + h];
        cell.style.background = "rgba(44, 93, 158, " + (v / max).toFixed(3) + ")";
        cell.title = day + " " + h + ":00 UTC: " + v + " posts";
        add(grid, cell);
      }
    });
    return grid;
  }

  // -- network ---------------------------------------------------------------------------------
  const canvas = document.getElementById("network");
  const ctx = canvas.getContext("2d");
  const tooltip = document.getElementById("tooltip");
  const WORLD = 1000;
  let view = {k: 1, x: 0, y: 0}, selected = null, hover = null;

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

  // -- search ----------------------------------------------------------------------------------
  const search = document.getElementById("search"), status = document.getElementById("search-status");
  function find(query) {
    const q = query.trim().replace(/^@/, "").toLowerCase();
    if (!q) return null;
    const key = (n) => [String(n.id).toLowerCase(), String(n.handle || "").toLowerCase()];
    let i = data.nodes.findIndex((n) => key(n).includes(q));
    if (i < 0) i = data.nodes.findIndex((n) => key(n).some((k) => k.startsWith(q)));
    return i < 0 ? null : i;
  }
  search.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const i = find(search.value);
    status.textContent = i === null ? "no flagged account matches" : "found " + clean(name(data.nodes[i]));
    if (i !== null) { openAccount(i); centre(i); }
  });

  resize(); fit(); draw();
  // for tests and for analysts' own scripts in the browser console
  window.swarmscope = {
    data, openAccount, find,
    nodeScreenPosition(id) {
      const i = data.nodes.findIndex((n) => n.id === id), r = canvas.getBoundingClientRect();
      return i < 0 ? null : {x: r.left + sx(data.nodes[i]), y: r.top + sy(data.nodes[i])};
    },
  };
})();
