"""The ``swarmscope`` command line: each command a thin call into the library."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

import click
from rich.console import Console

from swarmscope import __version__
from swarmscope.errors import SwarmscopeError
from swarmscope.ingest import FORMATS, ingest
from swarmscope.info import store_info
from swarmscope.defaults import AFFILIATION_ROUNDS, DEFAULT_WINDOWS, OTHER_KIND_WINDOWS
from swarmscope.engine import SEMANTICS, PairParams
from swarmscope.pairs import pairs
from swarmscope.store import Settings, Store, default_db_path
from swarmscope.traces import KIND_HELP, KINDS, TraceOptions

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)



TIME_RANGE = [(("--since",), {"type": click.DateTime(), "help": "Only activity from (UTC)."}),
              (("--until",), {"type": click.DateTime(), "help": "Only activity before (UTC)."})]


_similar_text_option = click.option(
    "--similar-text-threshold", type=click.FloatRange(0, 1, min_open=True),
    default=TraceOptions.similar_text_threshold, show_default=True,
    help="Jaccard similarity of character 4-shingles from which two texts are near-duplicates "
         "(kind similar_text).")


def _time_range_options(fn: Any) -> Any:
    for decls, attrs in reversed(TIME_RANGE):
        fn = click.option(*decls, **attrs)(fn)
    return fn


class SwarmscopeGroup(click.Group):
    """Turns library errors into click errors: ``Error: …`` on stderr, exit 1, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwarmscopeError as exc:
            raise click.ClickException(str(exc)) from None


class Context:
    def __init__(self, db: str, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def store(self, *, read_only: bool = False) -> Store:
        return Store(self.db, read_only=read_only, settings=self.settings)


@click.group(cls=SwarmscopeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="swarmscope")
@click.option("--db", default=default_db_path, show_default="swarmscope.duckdb or $SWARMSCOPE_DB",
              help="The store (a DuckDB file).")
@click.option("--memory-limit", envvar="SWARMSCOPE_MEMORY_LIMIT", default=None,
              help="Engine memory limit, e.g. 2GB (default: DuckDB's, 80% of RAM).")
@click.option("--temp-dir", envvar="SWARMSCOPE_TEMP_DIR", default=None,
              help="Where the engine spills to disk (default: beside the store).")
@click.option("--threads", type=click.IntRange(1), envvar="SWARMSCOPE_THREADS", default=None,
              help="Engine threads (default: all cores).")
@click.pass_context
def cli(ctx: click.Context, db: str, memory_limit: str | None, temp_dir: str | None,
        threads: int | None) -> None:
    """Expose coordinated inauthentic behaviour: which accounts act in concert, and the evidence.

    \b
    Example:
      swarmscope --db case.duckdb ingest tweets.csv users.csv
      swarmscope --db case.duckdb info
    """
    ctx.obj = Context(db, Settings(memory_limit=memory_limit, temp_directory=temp_dir,
                                   threads=threads))


def _parse_maps(values: tuple[str, ...]) -> dict[str, str]:
    maps = {}
    for v in values:
        field, sep, expr = v.partition("=")
        if not sep or not field.strip() or not expr.strip():
            raise SwarmscopeError(f"--map {v!r}: expected FIELD=EXPR, e.g. --map account_id=user")
        maps[field.strip()] = expr.strip()
    return maps


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
              help="Input format (default: detected from each file's header or first record).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=EXPR",
              help="For --format table: a canonical field and a column or DuckDB SQL expression.")
@click.option("--platform", default=None, help="Platform name stored with the records.")
@click.pass_obj
def ingest_cmd(obj: Context, paths: tuple[str, ...], fmt: str | None, maps: tuple[str, ...],
               platform: str | None) -> None:
    """Read files into the store; every record is stored, a duplicate, or rejected with a reason.

    The format of each file is detected from its header or first record unless --format is
    given; directories are read file by file in name order (numbered parts).

    \b
    Example:
      swarmscope ingest ira_tweets_csv_hashed_1.csv.gz ira_users_csv_hashed.csv
    """
    mappings = _parse_maps(maps)
    with obj.store() as store, err.status("ingesting…") as status:
        def done(c: Any) -> None:
            status.update(f"ingested {c.path}")
            _print_counts(c)
        report = ingest(store, list(paths), format=fmt, mappings=mappings, platform=platform,
                        on_file=done)
    t = report.totals
    if len(report.files) > 1:
        out.print(f"total: read {t['read']:,} = stored {t['stored']:,} + duplicates "
                  f"{t['duplicates']:,} + rejected {t['rejected']:,}")
    for f, msg in report.failed:
        err.print(f"Error: {msg}", markup=False)
    if report.failed:
        sys.exit(1)


def _print_counts(c: Any) -> None:
    out.print(f"{c.path} ({c.format}): read {c.read:,} = stored {c.stored:,} + duplicates "
              f"{c.duplicates:,} + rejected {c.rejected:,}", markup=False)
    for (field, reason), n in c.reasons.most_common(10):
        out.print(f"  rejected {n:,}: {reason} (field {field or '-'})", markup=False)
    if c.rejected:
        out.print("  every rejected record is listed in the store's rejects table "
                  "(swarmscope info shows a summary)", markup=False)


@cli.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def info_cmd(obj: Context, as_json: bool) -> None:
    """What is in the store: counts, time span, post kinds, top hashtags and domains, labels.

    \b
    Example:
      swarmscope --db case.duckdb info
    """
    with obj.store(read_only=True) as store:
        info = store_info(store)
    if as_json:
        out.print_json(json.dumps(info, default=str))
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    from rich.table import Table
    out.print(f"[bold]store[/] {info['store']}")
    out.print("  " + ", ".join(f"{k} {v:,}" for k, v in info["tables"].items()))
    t = Table("platform", "posts", "accounts", "first post (UTC)", "last post (UTC)",
              title="posts per platform", title_justify="left")
    for p in info["platforms"]:
        t.add_row(p["platform"], f"{p['posts']:,}", f"{p['accounts']:,}", _ts(p["first"]),
                  _ts(p["last"]))
    out.print(t)
    out.print("post kinds: " + ", ".join(f"{k} {v:,}" for k, v in info["post_kinds"].items()))
    out.print("entities: " + ", ".join(f"{k} {v:,}" for k, v in info["entity_kinds"].items()))
    for key, title in (("top_hashtags", "top hashtags"), ("top_domains", "top domains")):
        if info[key]:
            out.print(f"{title}: " + ", ".join(f"{v} ({n:,})" for v, n in info[key]),
                      markup=False)
    if info["labels"]:
        t = Table("label", "value", "accounts", title="accounts with labels",
                  title_justify="left")
        for lab in info["labels"][:30]:
            t.add_row(lab["label"], str(lab["value"]), f"{lab['accounts']:,}")
        out.print(t)
    for r in info["top_reject_reasons"]:
        out.print(f"rejected {r['records']:,}: {r['reason']} (field {r['field'] or '-'})",
                  markup=False)


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


PAIRS_HELP = """Account pairs that left the same object within a window, with evidence.

Results go to the store (tables edges, evidence, popular_objects) and, with --out, to Parquet
with the same columns as detect's edges.parquet.

\b
Kinds:
""" + "\n".join(f"  {k:<13}{v}" for k, v in KIND_HELP.items()) + """

\b
Semantics:
  sliding      coordination-network-toolkit: actions on one object within ±window
  coortweet    CooRTweet: share pairs after its participation and loop rules
  timefree     OSoMe: TF-IDF cosine of account x object counts, no window

\b
Example:
  swarmscope pairs --kind repost --window 60 --out pairs.parquet
"""


@cli.command("pairs", help=PAIRS_HELP)
@click.option("--kind", required=True, type=click.Choice(KINDS), help="Trace kind (listed below).")
@click.option("--window", required=True, type=click.FloatRange(0),
              help="Seconds: two actions co-act when |Δt| <= window (ignored by timefree).")
@click.option("--semantics", type=click.Choice(SEMANTICS), default="sliding", show_default=True,
              help="How pairs are counted (listed below).")
@click.option("--min-participation", type=click.IntRange(1), default=1, show_default=True,
              help="Accounts with fewer actions of this kind take no part.")
@click.option("--min-weight", type=click.FloatRange(0), default=None,
              help="Drop edges of smaller weight (default 1; 0 for timefree).")
@click.option("--weight-quantile", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Keep only edges above this quantile of the weights (the peers' cut-off: "
              "CooRTweet's edge_weight; OSoMe's top fraction f is 1 - f).")
@click.option("--keep-loops", is_flag=True, help="Keep co-actions of an account with itself.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Also write the edges to Parquet.")
@click.option("--evidence", "evidence", default="10", show_default=True, metavar="N|all",
              help="Co-action events kept per edge as evidence (closest first), or all.")
@click.option("--popular-pairs", type=click.IntRange(1), default=PairParams.popular_pairs,
              show_default=True, help="Objects whose pairs inside the window would exceed this "
              "are aggregated without listing their pairs.")
@click.option("--max-object-accounts", type=click.IntRange(1), default=None,
              help="Leave out objects with more accounts, and report them as too popular.")
@click.option("--cosine", is_flag=True, help="Also give each edge the TF-IDF cosine of the "
              "two accounts' object vectors.")
@_similar_text_option
@_time_range_options
@click.pass_obj
def pairs_cmd(obj: Context, kind: str, window: float, semantics: str, min_participation: int,
              min_weight: float | None, weight_quantile: float | None, keep_loops: bool,
              out_file: str | None, evidence: str,
              popular_pairs: int, max_object_accounts: int | None, cosine: bool,
              similar_text_threshold: float, since: datetime | None,
              until: datetime | None) -> None:
    if evidence != "all" and not evidence.isdigit():
        raise SwarmscopeError(f"--evidence {evidence!r}: expected a number of events or 'all'")
    params = PairParams(kind=kind, window=window, semantics=semantics,
                        min_participation=min_participation, min_weight=min_weight,
                        keep_loops=keep_loops, popular_pairs=popular_pairs,
                        max_object_accounts=max_object_accounts, cosine=cosine,
                        evidence=None if evidence == "all" else int(evidence))
    with obj.store() as store, err.status(f"computing {kind} pairs…"):
        r = pairs(store, params, since=since, until=until, out=out_file,
                  weight_quantile=weight_quantile,
                  options=TraceOptions(similar_text_threshold=similar_text_threshold))
    out.print(f"{kind} ({semantics}, window {window:g} s): {r.traces:,} actions -> {r.edges:,} "
              f"edges between {r.accounts:,} accounts; {r.evidence:,} evidence events", markup=False)
    for pop in r.popular:
        verb = ("aggregated without listing its pairs" if pop["mode"] == "aggregated"
                else "left out (more accounts than --max-object-accounts)")
        out.print(f"  popular object {pop['object']}: {pop['accounts']:,} accounts, "
                  f"{pop['actions']:,} actions, {pop['window_pairs']:,} pairs in the window; "
                  f"{verb}", markup=False)
    if out_file:
        out.print(f"edges written to {out_file}", markup=False)


DETECT_HELP = """Significant coordination: edges, clusters and a score for every account.

Runs traces -> pairs -> significance (a popularity-adjusted Poisson null per pair, a binomial
test per account over its partners) -> fusion over kinds and windows -> Benjamini-Hochberg at
--fdr -> Leiden clusters -> affiliation (rounds of a test of every other account against each
cluster as a whole; those that pass join it). Results go to the store (tables detect_accounts, detect_edges,
detect_clusters, detect_evidence) and, with --out, to accounts.parquet, edges.parquet,
clusters.parquet and evidence.parquet (columns in the README). Behavioural signatures, which
leave the score alone, follow: detect_profile, detect_attacks, detect_trends, detect_ephemeral
(profile.parquet, attacks.parquet, trends.parquet, ephemeral.parquet).

\b
Defaults: """ + "; ".join(f"{k} within {', '.join(f'{w:g}' for w in ws)} s"
                          for k, ws in DEFAULT_WINDOWS.items()) + """.

\b
Example:
  swarmscope detect --fdr 0.01 --out results/
  swarmscope detect --kinds repost,mention,hashtag --window hashtag=600 --out results/
"""


def _windows(kinds: str | None, windows: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """--kinds and --window K=S[,S...] -> kind -> windows."""
    chosen = dict(DEFAULT_WINDOWS)
    if kinds:
        names = [k.strip() for k in kinds.split(",") if k.strip()]
        unknown = [k for k in names if k not in KINDS]
        if unknown:
            raise SwarmscopeError(f"--kinds: unknown kind {unknown[0]!r}; choose among "
                                  f"{', '.join(KINDS)}")
        chosen = {k: DEFAULT_WINDOWS.get(k, OTHER_KIND_WINDOWS) for k in names}
    for spec in windows:
        kind, sep, secs = spec.partition("=")
        try:
            values = tuple(float(x) for x in secs.split(",") if x.strip())
        except ValueError:
            values = ()
        if not sep or kind not in KINDS or not values or min(values) < 0:
            raise SwarmscopeError(f"--window {spec!r}: expected KIND=SECONDS[,SECONDS...], "
                                  "e.g. --window repost=60,600")
        chosen[kind] = values
    return chosen


@cli.command("detect", help=DETECT_HELP)
@click.option("--kinds", metavar="K1,K2", help="Trace kinds to test (default: the defaults "
              "above); a kind without a default window gets " +
              ", ".join(f"{w:g}" for w in OTHER_KIND_WINDOWS) + " s.")
@click.option("--window", "windows", multiple=True, metavar="KIND=S[,S]",
              help="The windows (seconds) of a kind; repeatable.")
@click.option("--fdr", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.01,
              show_default=True, help="False discovery rate of the flagged accounts.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the clustering and the permutations.")
@click.option("--permutations", type=click.IntRange(0), default=0, show_default=True,
              help="Also run the test on B time-permuted copies: a calibration check of the "
              "null model and an empirical p per edge (costs B extra runs).")
@click.option("--sync-bin", type=click.FloatRange(0, min_open=True), default=None,
              metavar="SECONDS", help="The time bin of the sync test, which is also its window "
              f"(default {TraceOptions.sync_bin_seconds:g} s; Pacheco et al. 2021 use 1800).")
@_similar_text_option
@click.option("--affiliation-rounds", type=click.IntRange(0), default=AFFILIATION_ROUNDS,
              show_default=True, help="Rounds of the affiliation test (0: clusters are the "
              "flagged accounts' Leiden communities only); stops early when a round adds none.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write the result tables as Parquet into this directory.")
@_time_range_options
@click.pass_obj
def detect_cmd(obj: Context, kinds: str | None, windows: tuple[str, ...], fdr: float, seed: int,
               permutations: int, sync_bin: float | None, similar_text_threshold: float,
               affiliation_rounds: int, out_dir: str | None, since: datetime | None,
               until: datetime | None) -> None:
    from swarmscope.detect import DetectParams, detect  # loads numpy, pyarrow: only when used
    from rich.progress import Progress
    chosen = _windows(kinds, windows)
    traces = TraceOptions(similar_text_threshold=similar_text_threshold)
    if sync_bin:
        traces = dataclasses.replace(traces, sync_bin_seconds=sync_bin)
        chosen = {k: (sync_bin,) if k == "sync" else w for k, w in chosen.items()}
    params = DetectParams(windows=chosen, fdr=fdr, seed=seed, permutations=permutations,
                          traces=traces, affiliation_rounds=affiliation_rounds)
    steps = (len(params.tests) + len(params.windows)) + permutations * len(params.windows) + 5
    with obj.store() as store, Progress(console=err, transient=True) as bar:
        task = bar.add_task("detect", total=steps)
        r = detect(store, params, since=since, until=until, out=out_dir,
                   progress=lambda step: bar.update(task, advance=1, description=step))
        top = store.con.execute("SELECT cluster_id, size, density, top_hashtags "
                                "FROM detect_clusters ORDER BY cluster_id LIMIT 5").fetchall()
    out.print(f"{r.accounts:,} accounts scored; {r.flagged:,} flagged at FDR {fdr:g} in "
              f"{r.clusters:,} clusters ({r.recruited:,} joined by affiliation); "
              f"{r.edges:,} edges with evidence "
              f"({r.evidence:,} co-actions)", markup=False)
    out.print("signatures: " + ", ".join(f"{n:,} {t.removeprefix('detect_')}"
                                         for t, n in r.signatures.items()), markup=False)
    calibration = [c for c in r.calibration if c["kind"] != "all"]
    if calibration:
        pairs = sum(c["testable_pairs"] for c in calibration)
        at = sum(c["pairs_at_alpha"] for c in calibration)
        flagged = [c["accounts_flagged"] for c in r.calibration if c["kind"] == "all"]
        out.print(f"permutation check ({permutations} time-shuffled copies): {at:,} of {pairs:,} "
                  f"testable pairs at p <= {params.null.alpha_pair:g} ({at / max(pairs, 1):.2%}; "
                  f"nominal at most {params.null.alpha_pair:.0%}); accounts flagged per copy: "
                  f"{', '.join(map(str, flagged))}", markup=False)
    for row in top:
        tags = ", ".join(f"#{t['value']}" for t in (row[3] or [])[:3])
        out.print(f"  cluster {row[0]}: {row[1]} accounts, density {row[2]:.2f}"
                  + (f", top hashtags {tags}" if tags else ""), markup=False)
    if out_dir:
        out.print(f"tables written to {out_dir}/", markup=False)


@cli.command("evaluate")
@click.option("--labels", type=click.Path(dir_okay=False), required=True,
              help="CSV account_id,label[,group]; label 1/0 or true/false.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def evaluate_cmd(obj: Context, labels: str, as_json: bool) -> None:
    """Metrics of the account scores against labels (accounts missing from the file are not
    scored): ROC-AUC, PR-AUC, precision, recall, F1 at the flag, precision at k, NMI/ARI.

    \b
    Example:
      swarmscope evaluate --labels labels.csv --json
    """
    with obj.store(read_only=True) as store:
        from swarmscope.detect.evaluate import evaluate
        m = evaluate(store, labels)
    if as_json:
        out.print(json.dumps(m), markup=False)
        return
    for key, value in m.items():
        out.print(f"{key:<16}{value:.4f}" if isinstance(value, float) else f"{key:<16}{value}",
                  markup=False)


@cli.command("explain")
@click.argument("account")
@click.option("--partners", type=click.IntRange(1), default=10, show_default=True)
@click.pass_obj
def explain_cmd(obj: Context, account: str, partners: int) -> None:
    """The evidence for one account (id or handle): its score and tests, its strongest partners
    and the co-actions behind them.

    \b
    Example:
      swarmscope explain 1234567890
    """
    with obj.store(read_only=True) as store:
        from swarmscope.detect.explain import explain
        x = explain(store, account, partners=partners)
    a = x["account"]
    out.print(f"{a['platform']}:{a['account_id']}" + (f" (@{a['handle']})" if a["handle"] else "")
              + f": score {a['score']:.3f}, {'FLAGGED' if a['flagged'] else 'not flagged'}, "
              f"p {a['p_value']:.2e}, q {a['q_value']:.2e}, cluster {a['cluster_id'] or '-'}, "
              f"{a['posts']:,} posts; {a['significant_partners']} of {a['partners']} testable "
              "partners beyond chance", markup=False)
    kinds = [k.removeprefix("score_") for k in a if k.startswith("score_")]
    out.print("  by kind: " + ", ".join(f"{k} {a['score_' + k]:.3f}" for k in kinds), markup=False)
    if f := x["fingerprint"]:
        out.print(_fingerprint_line(f), markup=False)
    for e in x["edges"]:
        parts = ", ".join(f"{k} x={e['x_' + k]} p={e['p_' + k]:.1e}" for k in kinds
                          if e.get("p_" + k) is not None)
        out.print(f"  with {e['partner']}: p {e['p_value']:.1e} ({parts})", markup=False)
        for ev in e["evidence"]:
            _print_coaction(ev)
    if a["affiliation_round"] is not None:
        out.print(f"  joined cluster {a['cluster_id']} by affiliation (round "
                  f"{a['affiliation_round']}): {a['affiliation_x']} objects co-acted with its "
                  f"members, {a['affiliation_kind']} within {a['affiliation_window_s']:g} s; "
                  f"p {a['affiliation_p']:.1e}, q {a['affiliation_q']:.1e}", markup=False)
        for ev in x["affiliation"]:
            _print_coaction(ev, f"with member {ev['member']}: ")


def _print_coaction(ev: dict, prefix: str = "") -> None:
    out.print(f"    {prefix}{ev['kind']} {ev['object'][:60]!r}: {ev['post_a']} at {ev['ts_a']} "
              f"and {ev['post_b']} at {ev['ts_b']} ({ev['dt_s']:g} s apart)", markup=False)


def _fingerprint_line(f: dict[str, Any]) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)
    zone = ("no zone" if f["zone_offset"] is None else
            f"zone UTC{f['zone_offset']:+g} ({f['zone_rhythm']} rhythm, fit {f['zone_fit']:.2f})")
    if f["claimed_offset"] is not None:
        zone += (f", claims {f['claimed_location']!r} = UTC{f['claimed_offset']:+g}"
                 + (f": MISMATCH, strength {f['mismatch_strength']:.2f}" if f["zone_mismatch"]
                    else ""))
    return (f"  rhythm: {zone}; active {f['active_hours']} h from {f['active_start_utc']:02d}:00 "
            f"UTC; burstiness {num(f['burstiness'], '.2f')}, gap entropy "
            f"{num(f['gap_entropy'], '.2f')} bits"
            + (f"; shift segment {f['shift_segment']}" if f["shift_segment"] else "")
            + f"\n  BLOC: {f['bloc'][:80]}" + ("..." if len(f["bloc"]) > 80 else ""))


@cli.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["gexf", "graphml", "csv",
                                                                   "parquet"]),
              help="gexf/graphml: the detected network to a file; csv/parquet: every result "
                   "table to a directory.")
@click.option("--out", "out_path", required=True, type=click.Path(),
              help="The file or directory.")
@click.option("--pseudonymize", is_flag=True,
              help="Replace account ids, handles and post ids with keyed pseudonyms and leave "
                   "post texts out.")
@click.option("--key-file", type=click.Path(dir_okay=False), help="The pseudonym key (secret).")
@click.pass_obj
def export_cmd(obj: Context, fmt: str, out_path: str, pseudonymize: bool,
               key_file: str | None) -> None:
    """Export results: gexf/graphml to a file (for Gephi), csv/parquet to a directory.

    \b
    Example:
      swarmscope export --format gexf --out network.gexf
      swarmscope export --format csv --out results/ --pseudonymize --key-file key.txt
    """
    from swarmscope.export import export, read_key
    key = read_key(key_file) if pseudonymize else None
    if key_file and not pseudonymize:
        raise SwarmscopeError("--key-file is only used with --pseudonymize")
    with obj.store(read_only=True) as store:
        written = export(store, fmt, out_path, key)
    for path in written:
        out.print(str(path), markup=False)


@cli.command("report")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="report.html",
              show_default=True, help="The HTML file to write.")
@click.option("--pseudonymize", is_flag=True,
              help="Replace account ids, handles and post ids with keyed pseudonyms.")
@click.option("--key-file", type=click.Path(dir_okay=False), help="The pseudonym key (secret).")
@_time_range_options
@click.pass_obj
def report_cmd(obj: Context, out_path: str, pseudonymize: bool, key_file: str | None,
               since: datetime | None, until: datetime | None) -> None:
    """A self-contained offline HTML report of the latest detection: overview, network, cluster
    cards with evidence, search, methods. It needs no network and runs no code but its own.

    \b
    Example:
      swarmscope report --out report.html --pseudonymize --key-file key.txt
    """
    if key_file and not pseudonymize:
        raise SwarmscopeError("--key-file is only used with --pseudonymize")
    from swarmscope.export import read_key
    from swarmscope.report import build_report
    key = read_key(key_file) if pseudonymize else None
    with obj.store(read_only=True) as store:
        path = build_report(store, out_path, key=key, since=since, until=until)
    out.print(f"report written to {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)",
              markup=False)


def main() -> None:
    """Console entry point."""
    cli(prog_name="swarmscope")


if __name__ == "__main__":
    main()
