"""Very popular objects: swarmscope's ``pairs`` against coordination-network-toolkit on
synthetic power-law link shares.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/popular_objects.py [--n 1000000] [--out-dir bench/out] [--keep]
        [--toolkit-timeout 1800] [--toolkit-as-gib 3] [--memory-limit 8GB] [--max-wait 900]

Prints one JSON object per line on stdout (``"bench"`` names what the line is). The child-process
machinery (wall time, peak RSS/PSS of the process tree, waiting for an idle machine, the
toolkit's wrapper, edge parity) is that of ``bench/coaction_vs_peers.py``, in ``bench/common.py``;
see the former's docstring for what the memory fields mean (``peak_mib`` is the headline).

The input (``"bench": "input"``), seeded (``--seed``) and deterministic, in the toolkit's CSV
layout (``message_id, user_id, username, repost_id, reply_id, message, timestamp, urls``; one
URL per row, ``timestamp`` epoch seconds from 2024-01-01, ``repost_id`` empty):

- ``--n`` rows in all (default 10^6), of which ``--planted-accounts`` x ``--planted-urls`` are
  the planted group's and the rest background;
- background: the account uniform among ``--accounts`` (default 50,000: ``u00000`` …); the URL
  of rank r (1 … ``--urls``, default 200,000) with probability proportional to r^-s
  (``--zipf-s``, default 1.0: at 10^6 rows the top URL gets about 8 % of the rows, some
  20,000 accounts);
- time: a URL of rank <= ``--burst-top`` (default 20) has a burst: each of its shares falls,
  with probability ``--burst-frac`` (default 0.8), in a ``--burst-seconds`` (default 600 s)
  stretch starting at a random time, otherwise anywhere in ``--days`` (default 30); every other
  URL starts at a random time and its shares follow at exponential delays of mean
  ``--life-hours`` (default 6 h). The bursts put the top URLs' windowed pairs in the 10^8 range;
  the tail is URLs shared once or a few times;
- the planted group: accounts ``u00000`` … (``--planted-accounts``, default 50, who also take
  part in the background) each share the same ``--planted-urls`` (default 200) rare URLs, each
  URL by all of them within ``--planted-spread`` seconds (default 20) of a random time.

The input line says how many URLs there are, how many have more than 1,000 accounts, and the
largest objects' accounts, actions and windowed pairs (pairs of actions on the object at most
60 s apart, same-account pairs included: the count both tools would expand, and what swarmscope
compares with ``--popular-pairs``), and the sum of windowed pairs over all URLs.

Then, each in a child process of its own (``"bench": "run"``, one line per step):

1. ``swarmscope --db STORE ingest FILE --format cnt``;
2. ``swarmscope --db STORE pairs --kind link --window 60 --evidence 0 --max-object-accounts
   1000`` and then the same without the cap (the second replaces the first's results in the
   store: same kind, semantics and window), each followed by what its ``popular_objects``
   lists (``"bench": "popular"``: count, mode, the largest's accounts and windowed pairs);
3. the correctness checks (``"bench": "check"``; the script exits 1 when one fails):

   - planted group: every one of its pairs is an edge of the uncapped run with ``a_actions``
     and ``b_actions`` at least ``--planted-urls`` (each member shares each planted URL once,
     within the window of every other member's share);
   - edge parity on the non-popular part: a second input without the rows of the objects the
     uncapped run listed in ``popular_objects``, run through the toolkit (``preprocess``, then
     ``compute co_link --time_window 60 --min_edge_weight 1 --n_cpus T``); its directed
     loop-free edges ``{(user_1, user_2): weight}`` against swarmscope's edges of the full run
     expanded to both directions ``{(a, b): a_actions, (b, a): b_actions}`` (the comparison of
     ``bench/coaction_vs_peers.py``). These are the same thing by construction:
     swarmscope builds its edges and their ``a_actions`` / ``b_actions`` from the non-popular
     objects only, and adds the popular objects' co-actions as ``popular_events`` to edges
     that exist anyway, so neither the edge set nor the action counts depend on the popular
     objects.

4. the toolkit on the full input: ``preprocess``, then ``compute co_link`` as above, under
   ``timeout`` (``--toolkit-timeout`` s, TERM then KILL to the process group) and ``prlimit
   --as`` (``--toolkit-as-gib`` GiB of address space per process: its compute runs a parent, a
   ``multiprocessing`` manager and ``--toolkit-threads`` workers, so at the default 3 GiB and 2
   workers the tree stays under 12 GiB). A run stopped there is reported as ``"killed_at":
   "time limit"`` or ``"memory limit"`` with the time it had run, not as a result.

Semantics: the toolkit expands every pair of actions on an object within the window (its
co_link query is a self-join of ``message_url`` on the URL and ``|Δt| <= window``, grouped by
the two users), so its work grows with the windowed pairs of the most popular URL. swarmscope
counts each object's windowed pairs first; an object above ``--popular-pairs`` (default 10^6)
is not expanded but aggregated, and with ``--max-object-accounts N`` an object with more than N
accounts is left out altogether (``mode = 'capped'``). The two networks therefore differ on
the full input: the toolkit's has an edge for every pair of accounts that shared a popular URL
within a minute of each other; swarmscope's has not, unless the pair also co-acted elsewhere.

swarmscope runs with ``--memory-limit`` (default 8GB here; DuckDB's own default is 80 % of the
RAM). Generated files and stores are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SWARMSCOPE, TOOLKIT_WRAPPER, WINDOW,  # noqa: E402
                    add_dir_args, emit, finish_dir_args, fresh, gen_con, helper, lit, machine,
                    open_store, run_child, run_mode, slim, ss_ingest, ss_pairs, tk_compute_cmd,
                    tk_preprocess)

T0 = 1704067200          # 2024-01-01 00:00:00 UTC
PLANTED_HOST = "https://planted.example.net/r/"


def url_of_rank(r: int) -> str:
    return f"https://site{r % 997}.example.com/a/{r}"


# -- helper modes (children, so that the measuring parent stays small) ---------------------------
def generate(a: argparse.Namespace, out: Path) -> dict:
    import numpy as np
    rng = np.random.default_rng(a.seed)
    g, k = a.planted_accounts, a.planted_urls
    bg = a.n - g * k
    if bg < 0:
        raise SystemExit("--n is smaller than the planted group's rows")
    span = a.days * 86400
    ranks = np.arange(1, a.urls + 1, dtype=np.float64)
    prob = ranks ** -a.zipf_s
    prob /= prob.sum()
    rank = rng.choice(a.urls, size=bg, p=prob) + 1
    acct = rng.integers(0, a.accounts, size=bg)
    burst_start = rng.integers(0, span - a.burst_seconds, size=a.burst_top + 1)
    url_start = rng.integers(0, span, size=a.urls + 1)
    in_burst = (rank <= a.burst_top) & (rng.random(bg) < a.burst_frac)
    ts = np.where(
        in_burst,
        burst_start[np.minimum(rank, a.burst_top)] + rng.integers(0, a.burst_seconds, size=bg),
        np.where(rank <= a.burst_top, rng.integers(0, span, size=bg),
                 url_start[rank] + rng.exponential(a.life_hours * 3600, size=bg).astype(np.int64)))
    p_start = rng.integers(0, span, size=k)
    p_ts = (np.repeat(p_start, g) + rng.integers(0, a.planted_spread + 1, size=g * k))
    p_url = np.repeat(np.arange(k), g)
    p_acct = np.tile(np.arange(g), k)
    rows = [(int(t), int(u), url_of_rank(int(r))) for t, u, r in zip(ts, acct, rank)]
    rows += [(int(t), int(u), f"{PLANTED_HOST}{int(j)}") for t, u, j in zip(p_ts, p_acct, p_url)]
    rows.sort()
    width = len(str(a.accounts - 1))
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message",
                    "timestamp", "urls"])
        for i, (t, u, url) in enumerate(rows, 1):
            uid = f"u{u:0{width}d}"
            w.writerow([i, uid, f"name_{uid}", "", "", "shared a link", T0 + t, url])
    return {"rows": len(rows), "background_rows": bg, "planted_rows": g * k,
            "planted_accounts": [f"u{u:0{width}d}" for u in range(g)], **input_stats(out)}


def input_stats(path: Path) -> dict:
    """URLs, how many have > 1000 accounts, the largest ones' windowed pairs (DuckDB)."""
    con = gen_con()
    con.execute(f"""
        CREATE TEMP TABLE x AS SELECT user_id, urls AS url, CAST(timestamp AS BIGINT) AS ts
        FROM read_csv({lit(path)}, all_varchar = true)""")
    con.execute(f"""
        CREATE TEMP TABLE per_url AS
        SELECT url, count(DISTINCT user_id) AS accounts, count(*) AS actions,
               (sum(w) - count(*)) // 2 AS window_pairs
        FROM (SELECT user_id, url, count(*) OVER (PARTITION BY url ORDER BY ts
                     RANGE BETWEEN {WINDOW} PRECEDING AND {WINDOW} FOLLOWING) AS w FROM x)
        GROUP BY url""")
    urls, over_1000, total_pairs, accounts = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE accounts > 1000), sum(window_pairs),
               (SELECT count(DISTINCT user_id) FROM x) FROM per_url""").fetchone()
    top = con.execute("SELECT url, accounts, actions, window_pairs FROM per_url "
                      "ORDER BY window_pairs DESC LIMIT 5").fetchall()
    over_1e6 = con.execute(f"SELECT count(*), sum(window_pairs), sum(actions) FROM per_url "
                           f"WHERE window_pairs > {10**6}").fetchone()
    one = con.execute("SELECT count(*) FROM per_url WHERE actions = 1").fetchone()[0]
    return {"accounts": accounts, "urls": urls, "urls_shared_once": one,
            "urls_over_1000_accounts": over_1000,
            "urls_over_1e6_window_pairs": over_1e6[0],
            "their_window_pairs": int(over_1e6[1] or 0), "their_rows": int(over_1e6[2] or 0),
            "window_pairs_all_urls": int(total_pairs),
            "largest": [{"url": u, "accounts": ac, "actions": n, "window_pairs": int(p)}
                        for u, ac, n, p in top]}


def _store_con(store: Path):
    con = open_store(store)
    run_id = con.execute("SELECT max(run_id) FROM ss.pair_runs WHERE kind = 'link'").fetchone()[0]
    return con, run_id


def popular_listed(store: Path) -> dict:
    """What the latest link run listed in ``popular_objects``."""
    con, run_id = _store_con(store)
    rows = con.execute(f"""
        SELECT object, accounts, actions, CAST(window_pairs AS BIGINT), mode
        FROM ss.popular_objects WHERE run_id = {run_id} ORDER BY window_pairs DESC""").fetchall()
    modes: dict[str, int] = {}
    for r in rows:
        modes[r[4]] = modes.get(r[4], 0) + 1
    return {"run_id": run_id, "count": len(rows), "modes": modes,
            "rows": sum(r[2] for r in rows),
            "largest": rows and {"object": rows[0][0], "accounts": rows[0][1],
                                 "actions": rows[0][2], "window_pairs": rows[0][3]},
            "most_accounts": max((r[1] for r in rows), default=None),
            "fewest_accounts": min((r[1] for r in rows), default=None),
            "min_window_pairs": min((r[3] for r in rows), default=None)}


def planted_check(store: Path, accounts: list[str], k: int) -> dict:
    """The planted group's pairs among the latest link run's edges."""
    con, run_id = _store_con(store)
    con.execute("CREATE TEMP TABLE g (account VARCHAR)")
    con.executemany("INSERT INTO g VALUES (?)", [(x,) for x in accounts])
    found, full, lo, med, hi, pop = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE least(a_actions, b_actions) >= {k}),
               min(least(a_actions, b_actions)), median(least(a_actions, b_actions)),
               max(greatest(a_actions, b_actions)), sum(popular_events)
        FROM ss.edges WHERE run_id = {run_id}
             AND account_a IN (SELECT account FROM g) AND account_b IN (SELECT account FROM g)
        """).fetchone()
    expected = len(accounts) * (len(accounts) - 1) // 2
    return {"run_id": run_id, "expected_pairs": expected, "found_pairs": found,
            "pairs_with_actions_ge_planted_urls": full, "recall": round(full / expected, 4),
            "min_actions": lo, "median_actions": med, "max_actions": hi,
            "popular_events_sum": pop, "ok": full == expected}


def reduce_input(store: Path, full: Path, out: Path) -> dict:
    """The input without the rows of the objects the latest link run listed as popular."""
    con, run_id = _store_con(store)
    con.execute(f"""
        CREATE TEMP TABLE pop AS SELECT object FROM ss.popular_objects WHERE run_id = {run_id}""")
    con.execute(f"""
        COPY (SELECT * FROM read_csv({lit(full)}, all_varchar = true)
              WHERE urls NOT IN (SELECT object FROM pop) ORDER BY CAST(message_id AS BIGINT))
        TO {lit(out)} (FORMAT csv, HEADER)""")
    n = con.execute(f"SELECT count(*) FROM read_csv({lit(out)}, all_varchar = true)"
                    ).fetchone()[0]
    objects = con.execute("SELECT count(*) FROM pop").fetchone()[0]
    return {"run_id": run_id, "objects_removed": objects, "rows": n}


def child(args: argparse.Namespace, *argv: str) -> dict:
    """One of this script's helper modes, in a child process (``common.helper``)."""
    return helper(args, *argv, script=__file__)


# -- the benchmark --------------------------------------------------------------------------------
def ss_link_pairs(args, store: Path, name: str, *extra: str) -> dict:
    tag = "_".join(x.lstrip("-") for x in extra) or "default"
    return ss_pairs(args, store, "link", name, "0", *extra, tag=tag)


def tk_compute_limited(args, tk_db: Path, name: str) -> dict:
    """The toolkit's co_link compute under a wall-clock limit and an address-space limit."""
    limit = int(args.toolkit_as_gib * 2**30)
    cmd = (["timeout", "-k", "10", str(args.toolkit_timeout), "prlimit", f"--as={limit}", "--"]
           + tk_compute_cmd(args, tk_db, "co_link"))
    r = run_child(args, cmd, f"{name}.tk_co_link")
    r["limits"] = {"timeout_s": args.toolkit_timeout, "as_gib_per_process": args.toolkit_as_gib}
    if r["rc"] in (124, 137, -9, -15):
        r["killed_at"] = "time limit"
    elif r["rc"] != 0 and any(s in r.get("stderr_tail", "") for s in
                              ("MemoryError", "out of memory", "Cannot allocate")):
        r["killed_at"] = "memory limit"
    elif r["rc"] == 0:
        r["edges_directed"] = helper(args, "_tk_edges", str(tk_db), "co_link_network")["edges"]
    return r


def run_line(step: str, r: dict, **more) -> None:
    emit({"bench": "run", "step": step, **(slim(r) or {}),
          **{k: r[k] for k in ("limits", "killed_at", "edges_directed") if k in r},
          "cmd": r["cmd"].replace(TOOLKIT_WRAPPER, "<toolkit wrapper>"), **more})


def bench(args) -> int:
    name = f"popular_{args.n}"
    out = args.out_dir
    csv_full, csv_red = out / f"{name}.csv", out / f"{name}.reduced.csv"
    store = out / f"{name}.duckdb"
    tk_full, tk_red = out / f"{name}.cnt.db", out / f"{name}.reduced.cnt.db"
    gen_argv = [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in GEN_FLAGS]
    t0 = time.perf_counter()
    gen = child(args, *gen_argv, "_gen", str(csv_full))
    emit({"bench": "input", "n": args.n, "window_s": WINDOW, "seed": args.seed,
          "generator": {k: getattr(args, k) for k in GEN_FLAGS},
          "gen_seconds": round(time.perf_counter() - t0, 1), "bytes": csv_full.stat().st_size,
          **{k: v for k, v in gen.items() if k != "planted_accounts"}})
    failed = False
    ing = ss_ingest(args, store, csv_full, name)
    run_line("swarmscope_ingest", ing)
    if ing["rc"]:
        return 1
    for extra in (["--max-object-accounts", "1000"], []):
        p = ss_link_pairs(args, store, name, *extra)
        run_line("swarmscope_pairs" + ("_max_object_accounts_1000" if extra else ""), p)
        if p["rc"]:
            return 1
        emit({"bench": "popular", "pairs_options": " ".join(extra) or "defaults",
              **child(args, "_popular", str(store))})
    planted = child(args, "_planted", str(store),
                    json.dumps(gen["planted_accounts"]), str(args.planted_urls))
    emit({"bench": "check", "check": "planted_group", **planted})
    failed |= not planted["ok"]

    red = child(args, "_reduce", str(store), str(csv_full), str(csv_red))
    pre = tk_preprocess(args, tk_red, csv_red, f"{name}.reduced")
    run_line("toolkit_preprocess_reduced", pre, input_rows=red["rows"])
    comp = tk_compute_limited(args, tk_red, f"{name}.reduced") if pre["rc"] == 0 else None
    if comp:
        run_line("toolkit_compute_reduced", comp)
    parity = None
    if comp and comp["rc"] == 0:
        parity = helper(args, "_compare", str(tk_red), "co_link_network", str(store), "link",
                        f"{name}.parity")
    emit({"bench": "check", "check": "parity_non_popular", "reduced_input": red,
          "compared": "toolkit on the input without swarmscope's popular objects vs "
                      "swarmscope's edges of the full run (a_actions, b_actions)",
          **(parity or {"exact_equal": False, "error": "toolkit did not finish"})})
    failed |= not (parity and parity["exact_equal"])

    if not args.skip_toolkit_full:
        pre = tk_preprocess(args, tk_full, csv_full, name)
        run_line("toolkit_preprocess", pre)
        if pre["rc"] == 0:
            run_line("toolkit_compute", tk_compute_limited(args, tk_full, name))
    if not args.keep:
        fresh(csv_full, csv_red, store, tk_full, tk_red)
    emit({"bench": "done", "checks_ok": not failed})
    return 1 if failed else 0


#: helper modes, run as children of the benchmark
MODES = {
    "_gen": lambda a, r: generate(a, Path(r[0])),
    "_popular": lambda a, r: popular_listed(Path(r[0])),
    "_planted": lambda a, r: planted_check(Path(r[0]), json.loads(r[1]), int(r[2])),
    "_reduce": lambda a, r: reduce_input(Path(r[0]), Path(r[1]), Path(r[2])),
}

GEN_FLAGS = ("n", "seed", "accounts", "urls", "zipf_s", "days", "burst_top", "burst_frac",
             "burst_seconds", "life_hours", "planted_accounts", "planted_urls", "planted_spread")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--n", type=int, default=10**6, help="rows in all")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--urls", type=int, default=200_000, help="URL vocabulary (Zipf ranks)")
    ap.add_argument("--zipf-s", type=float, default=1.0, help="P(rank r) ~ r^-s")
    ap.add_argument("--days", type=int, default=30, help="time span")
    ap.add_argument("--burst-top", type=int, default=20, help="URLs of rank <= this burst")
    ap.add_argument("--burst-frac", type=float, default=0.8)
    ap.add_argument("--burst-seconds", type=int, default=600)
    ap.add_argument("--life-hours", type=float, default=6.0,
                    help="mean delay of a non-burst URL's shares after its start")
    ap.add_argument("--planted-accounts", type=int, default=50)
    ap.add_argument("--planted-urls", type=int, default=200)
    ap.add_argument("--planted-spread", type=int, default=20, help="seconds")
    add_dir_args(ap, data_dir_help=argparse.SUPPRESS)   # --data-dir: unused; helpers expect it
    ap.add_argument("--swarmscope", type=Path, default=DEFAULT_SWARMSCOPE)
    ap.add_argument("--threads", type=int, default=None, help="swarmscope --threads")
    ap.add_argument("--memory-limit", default="8GB", help="swarmscope --memory-limit")
    ap.add_argument("--toolkit-threads", type=int, default=2)
    ap.add_argument("--toolkit-timeout", type=int, default=1800, help="seconds per compute")
    ap.add_argument("--toolkit-as-gib", type=float, default=3.0,
                    help="address space per toolkit process (prlimit --as)")
    ap.add_argument("--skip-toolkit-full", action="store_true",
                    help="do not run the toolkit on the full input")
    ap.add_argument("--idle-cpus", type=float, default=0.5)
    ap.add_argument("--max-wait", type=float, default=900)
    ap.add_argument("--keep", action="store_true", help="keep inputs, stores and databases")
    ap.add_argument("mode", nargs="*", help=argparse.SUPPRESS)
    args = finish_dir_args(ap.parse_args(argv))
    if args.mode:
        run_mode(args, MODES)
        return 0
    mach = machine()
    mach["swarmscope_bin"] = str(args.swarmscope)
    emit(mach)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
