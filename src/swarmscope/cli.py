"""The ``swarmscope`` command line: each command a thin call into the library."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from datetime import datetime
from typing import Any

import click
import duckdb
from rich.console import Console

from swarmscope import __version__
from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import is_disk_full, visible
from swarmscope.detection.defaults import AFFILIATION_ROUNDS, DEFAULT_WINDOWS, OTHER_KIND_WINDOWS
from swarmscope.engine import SEMANTICS, PairParams
from swarmscope.engine.pairs import pairs
from swarmscope.engine.registry import ENGINES
from swarmscope.ingest import FORMATS, ingest
from swarmscope.ingest.sources import MAX_DECOMPRESSED, MAX_RECORD_BYTES
from swarmscope.params import check_time_range, parse_evidence, parse_maps, parse_windows
from swarmscope.results.info import store_info
from swarmscope.store import Settings, Store, default_db_path, runs
from swarmscope.store.dataset import write_dataset
from swarmscope.traces import KIND_HELP, KINDS, TraceOptions

err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)  # a handle ":fire:" stays text



TIME_RANGE = [(("--since",), {"type": click.DateTime(), "help": "Only activity from (UTC)."}),
              (("--until",), {"type": click.DateTime(), "help": "Only activity before (UTC)."})]


_similar_text_option = click.option(
    "--similar-text-threshold", type=float,
    default=TraceOptions.similar_text_threshold, show_default=True,
    help="Jaccard similarity of character 4-shingles from which two texts are near-duplicates "
         "(kind similar_text).")


_run_option = click.option(
    "--run", "run", type=click.IntRange(1), default=None, metavar="N",
    help="The detect run to show (default: the latest; `swarmscope runs` lists them).")


def _shown_run(store: Store, run: int | None, *, quiet: bool = False) -> int:
    """Bind the store's detect_* names to run ``run`` (default the latest) and say which on
    stderr (``quiet``: not, where --json carries it)."""
    run_id = store.use_run(run)
    if quiet:
        return run_id
    finished = store._one("SELECT finished_at FROM runs WHERE run_id = ?", [run_id])[0]
    latest = max(runs.kept_runs(store.con))
    say(f"detect run {run_id} (finished {finished:%Y-%m-%d %H:%M} UTC"
        + ("; the latest" if run_id == latest else f"; the latest is {latest}") + ")",
        error=True)
    return run_id


def _time_range_options(fn: Any) -> Any:
    for decls, attrs in reversed(TIME_RANGE):
        fn = click.option(*decls, **attrs)(fn)
    return fn


class SwarmscopeGroup(click.Group):
    """Turns library errors, and the machine's (a full disk, no memory left, an unreadable
    file), into click errors: ``Error: …`` on stderr, exit 1, no traceback; Ctrl-C into one
    line and exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwarmscopeError as exc:
            raise click.ClickException(visible(exc)) from None
        except (KeyboardInterrupt, duckdb.InterruptException, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and str(exc) != "Query interrupted":
                raise   # the engine's Ctrl-C while a result is fetched, else a bug
            say("Error: interrupted; the store keeps what was committed before it: run the "
                "command again", error=True)
            sys.exit(130)
        except (OSError, duckdb.IOException, duckdb.OutOfMemoryException,
                duckdb.TransactionException) as exc:
            message = _machine_error(exc)
            if message is None:
                raise
            raise click.ClickException(visible(message)) from None


def _machine_error(exc: BaseException) -> str | None:
    """The one-line message of an error of the machine, not of swarmscope; None for others."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_disk_full(exc):
        where = re.search(r'file "([^"]+)"', str(exc))
        return ("no space left on the device" + (f" writing {where[1]}" if where else "")
                + ": free some space, or put the store (--db) or the engine's spill directory "
                "(--temp-dir) on a disk with room; the store keeps what was committed before")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (f"the engine ran out of memory ({first.split(': ', 1)[-1]}): raise "
                "--memory-limit, lower --threads, or give --temp-dir on a disk with room")
    if isinstance(exc, OSError):
        return f"{exc.filename or 'a file'}: {exc.strerror or first}"
    if isinstance(exc, duckdb.IOException):
        return f"the engine could not read or write a file: {first}"
    return None


class Context:
    """The store and engine settings of a command: the group's options, then the
    subcommand's (the same options may follow the subcommand)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def settings(self) -> Settings:
        o = self.options
        return Settings(memory_limit=o["memory_limit"], temp_directory=o["temp_dir"],
                        threads=o["threads"], debug_steps=o["debug_steps"])

    def store(self, *, read_only: bool = False) -> Store:
        store = Store(self.options["db"], read_only=read_only, settings=self.settings())
        if self.options["debug_steps"]:
            click.get_current_context().call_on_close(lambda: _print_steps(store.db.steps))
        return store


def _print_steps(steps: list) -> None:
    from rich.table import Table
    t = Table("step", "seconds", "rows", title="named steps (--debug-steps)",
              title_justify="left")
    for s in steps:
        t.add_row(s.name, f"{s.seconds:.3f}", "" if s.rows is None else f"{s.rows:,}")
    err.print(t)


#: The store options: accepted before the subcommand (with environment defaults) and after it.
STORE_OPTIONS = (
    ("--db", {"help": "The store (a DuckDB file).",
              "show_default": "swarmscope.duckdb or $SWARMSCOPE_DB"}, default_db_path, None),
    ("--memory-limit", {"metavar": "SIZE", "help": "Engine memory limit, e.g. 2GB (default: "
                        "DuckDB's, 80% of RAM; 1GB for ingest)."}, None, "SWARMSCOPE_MEMORY_LIMIT"),
    ("--temp-dir", {"help": "Where the engine spills to disk (default: beside the store)."},
     None, "SWARMSCOPE_TEMP_DIR"),
    ("--threads", {"type": int, "help": "Engine threads (default: all cores)."}, None,
     "SWARMSCOPE_THREADS"),
)
_DEBUG_STEPS_HELP = "Time every named step of the stages and print them (stderr)."


def _override(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A store option given after the subcommand replaces the group's."""
    if value not in (None, False):
        ctx.find_object(Context).options[param.name] = value


def store_options(fn: Any) -> Any:
    """The store options on a subcommand (``swarmscope ingest --db x f.csv``)."""
    for decl, attrs, _, _ in reversed(STORE_OPTIONS):
        extra = {k: v for k, v in attrs.items() if k != "show_default"}
        fn = click.option(decl, **extra, default=None, expose_value=False, is_eager=False,
                          callback=_override)(fn)
    return click.option("--debug-steps", is_flag=True, expose_value=False, callback=_override,
                        help=_DEBUG_STEPS_HELP)(fn)


def _group_options(fn: Any) -> Any:
    for decl, attrs, default, envvar in reversed(STORE_OPTIONS):
        fn = click.option(decl, **attrs, default=default, envvar=envvar)(fn)
    return click.option("--debug-steps", is_flag=True, help=_DEBUG_STEPS_HELP)(fn)


@click.group(cls=SwarmscopeGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                    "max_content_width": 100})
@click.version_option(__version__, prog_name="swarmscope")
@_group_options
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Expose coordinated inauthentic behaviour: which accounts act in concert, and the evidence.

    The store options (--db, --memory-limit, --temp-dir, --threads, --debug-steps) go before
    or after the subcommand.

    \b
    Example:
      swarmscope --db case.duckdb ingest tweets.csv users.csv
      swarmscope info --db case.duckdb
    """
    ctx.obj = Context(**options)


def say(text: str, *, error: bool = False) -> None:
    """Print a line that holds data (file names, handles, texts, header cells): the
    characters a terminal acts on as visible escapes (:func:`swarmscope.outputs.visible`),
    and no markup."""
    (err if error else out).print(visible(text), markup=False)


def _cell(value: object) -> Any:
    """A table cell that holds data: as :func:`say` prints it, never read as markup."""
    from rich.text import Text
    return Text(visible(value))


def _json(value: Any) -> None:
    say(json.dumps(value, default=str))


def _spark_options(fn: Any) -> Any:
    """``--master`` and ``--spark-conf``, for the commands that run on Spark."""
    fn = click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
                      help="With --engine spark: a Spark setting; repeatable.")(fn)
    return click.option("--master", default="local[*]", show_default=True,
                        help="With --engine spark: the Spark master URL (local[N], yarn, "
                             "spark://HOST:PORT).")(fn)


@cli.command("ingest")
@store_options
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
              help="Input format (default: detected from each file's header or first record).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=EXPR",
              help="For --format table: a canonical field and a column or DuckDB SQL expression.")
@click.option("--platform", default=None, help="Platform name stored with the records.")
@click.option("--max-decompressed", default=MAX_DECOMPRESSED, show_default=True,
              metavar="SIZE|RATIO",
              help="The most a gzipped file may expand to: a size such as 20GB, or a ratio to "
                   "its compressed size (a ratio always allows 1GiB); a file beyond it is "
                   "refused.")
@click.option("--max-record-bytes", default=f"{MAX_RECORD_BYTES >> 20}MiB", show_default=True,
              metavar="SIZE",
              help="The longest record read (a CSV line, a JSON record or top-level array); a "
                   "longer one is rejected.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: each file's counts and reasons, and the failures.")
@click.option("--dataset", type=click.Path(), default=None,
              help="Also write the store's canonical tables as a Parquet dataset there "
                   "(partitioned by platform and day), which detect --engine spark reads; "
                   "with --engine spark: the dataset to add to (a path or a Hadoop URI).")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where the files are read: the store's DuckDB, or Spark, into --dataset "
                   "with no store (formats io-archive, io-archive-users, table, coortweet, cnt).")
@_spark_options
@click.pass_obj
def ingest_cmd(obj: Context, paths: tuple[str, ...], fmt: str | None, maps: tuple[str, ...],
               platform: str | None, max_decompressed: str, max_record_bytes: str,
               as_json: bool, dataset: str | None, engine: str, master: str,
               spark_conf: tuple[str, ...]) -> None:
    """Read files into the store; every record is stored, a duplicate, or rejected with a reason.

    The format of each file is detected from its header or first record unless --format is
    given; directories are read file by file in name order (numbered parts). With --engine
    spark the files (local paths or Hadoop URIs) are read on Spark into the dataset at
    --dataset, its rejects and counts under --dataset's _ingest/.

    \b
    Example:
      swarmscope ingest ira_tweets_csv_hashed_1.csv.gz ira_users_csv_hashed.csv
      swarmscope ingest --engine spark --master yarn --dataset s3a://b/ds s3a://b/tweets.csv.gz
    """
    mappings = parse_maps(maps)
    if engine == "spark":
        report, written = _ingest_on_spark(paths, fmt, mappings, platform, dataset, master,
                                           spark_conf, as_json)
    else:
        with obj.store() as store, err.status("ingesting…") as status:
            def done(c: Any) -> None:
                status.update(f"ingested {visible(c.path)}")
                if not as_json:
                    _print_counts(c)
            report = ingest(store, list(paths), format=fmt, mappings=mappings,
                            platform=platform, max_decompressed=max_decompressed,
                            max_record_bytes=max_record_bytes, on_file=done)
            written = write_dataset(store.db, dataset) if dataset else None
    t = report.totals
    if as_json:
        _json({"run_id": report.run_id, "totals": t, "dataset": written,
               "files": [_counts_json(c) for c in report.files],
               "failed": [{"path": f, "error": msg} for f, msg in report.failed]})
    elif len(report.files) > 1:
        say(f"total: read {t['read']:,} = stored {t['stored']:,} + duplicates "
            f"{t['duplicates']:,} + rejected {t['rejected']:,}")
    if written is not None and not as_json:
        say(f"dataset {dataset}: " + ", ".join(f"{t} {n:,}" for t, n in written.items()))
    for f, msg in report.failed:
        say(f"Error: {msg}", error=True)
    if report.failed:
        sys.exit(1)


def _ingest_on_spark(paths: tuple[str, ...], fmt: str | None, mappings: dict[str, str],
                     platform: str | None, dataset: str | None, master: str,
                     spark_conf: tuple[str, ...], as_json: bool) -> tuple[Any, None]:
    """``ingest --engine spark``: the files into the dataset, no store."""
    from swarmscope.ingest.spark import ingest_dataset
    if not dataset:
        raise SwarmscopeError("--engine spark writes the dataset --dataset PATH: give it")
    config = parse_maps(spark_conf, "--spark-conf", "KEY=VALUE", "spark.executor.memory=8g")
    with err.status("ingesting on Spark…") as status:
        def done(c: Any) -> None:
            status.update(f"ingested {visible(c.path)}")
            if not as_json:
                _print_counts(c, f"{dataset}/_ingest/rejects")
        report = ingest_dataset(list(paths), dataset, format=fmt, mappings=mappings,
                                platform=platform, master=master, config=config, on_file=done)
    return report, None


def _counts_json(c: Any) -> dict[str, Any]:
    return {"path": c.path, "format": c.format, "read": c.read, "stored": c.stored,
            "duplicates": c.duplicates, "rejected": c.rejected,
            "reasons": [{"field": f, "reason": r, "records": n}
                        for (f, r), n in c.reasons.most_common()]}


def _print_counts(c: Any, rejects: str | None = None) -> None:
    say(f"{c.path} ({c.format}): read {c.read:,} = stored {c.stored:,} + duplicates "
        f"{c.duplicates:,} + rejected {c.rejected:,}")
    for (field, reason), n in c.reasons.most_common(10):
        say(f"  rejected {n:,}: {reason} (field {field or '-'})")
    if c.rejected:
        say("  every rejected record is listed in the store's rejects table "
            "(swarmscope info shows a summary)" if rejects is None else
            f"  every rejected record is listed in the Parquet table {rejects}")


@cli.command("info")
@store_options
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
        _json(info)
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    from rich.table import Table
    say(f"store {info['store']}")
    say("  " + ", ".join(f"{k} {v:,}" for k, v in info["tables"].items()))
    t = Table("platform", "posts", "accounts", "first post (UTC)", "last post (UTC)",
              title="posts per platform", title_justify="left")
    for p in info["platforms"]:
        t.add_row(_cell(p["platform"]), f"{p['posts']:,}", f"{p['accounts']:,}",
                  p["first"] or "-", p["last"] or "-")
    out.print(t)
    say("post kinds: " + ", ".join(f"{k} {v:,}" for k, v in info["post_kinds"].items()))
    say("entities: " + ", ".join(f"{k} {v:,}" for k, v in info["entity_kinds"].items()))
    for key, title in (("top_hashtags", "top hashtags"), ("top_domains", "top domains")):
        if info[key]:
            say(f"{title}: " + ", ".join(f"{v} ({n:,})" for v, n in info[key]))
    if info["labels"]:
        t = Table("label", "value", "accounts", title="accounts with labels",
                  title_justify="left")
        for lab in info["labels"][:30]:
            t.add_row(_cell(lab["label"]), _cell(lab["value"]), f"{lab['accounts']:,}")
        out.print(t)
    for r in info["top_reject_reasons"]:
        say(f"rejected {r['records']:,}: {r['reason']} (field {r['field'] or '-'})")


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
@store_options
@click.option("--kind", required=True, type=click.Choice(KINDS), help="Trace kind (listed below).")
@click.option("--window", required=True, type=float, metavar="SECONDS",
              help="Seconds: two actions co-act when |Δt| <= window (ignored by timefree).")
@click.option("--semantics", type=click.Choice(SEMANTICS), default="sliding", show_default=True,
              help="How pairs are counted (listed below).")
@click.option("--min-participation", type=int, default=1, show_default=True,
              help="Accounts with fewer actions of this kind take no part.")
@click.option("--min-weight", type=float, default=None,
              help="Drop edges of smaller weight (default 1; 0 for timefree).")
@click.option("--weight-quantile", type=float, default=None,
              help="Keep only edges above this quantile of the weights (the peers' cut-off: "
              "CooRTweet's edge_weight; OSoMe's top fraction f is 1 - f).")
@click.option("--keep-loops", is_flag=True, help="Keep co-actions of an account with itself.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Also write the edges to Parquet.")
@click.option("--evidence", "evidence", default="10", show_default=True, metavar="N|all",
              help="Co-action events kept per edge as evidence (closest first), or all.")
@click.option("--popular-pairs", type=int, default=PairParams.popular_pairs,
              show_default=True, help="Objects whose pairs inside the window would exceed this "
              "are aggregated without listing their pairs.")
@click.option("--max-object-accounts", type=int, default=None,
              help="Leave out objects with more accounts, and report them as too popular.")
@click.option("--cosine", is_flag=True, help="Also give each edge the TF-IDF cosine of the "
              "two accounts' object vectors.")
@_similar_text_option
@_time_range_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def pairs_cmd(obj: Context, kind: str, window: float, semantics: str, min_participation: int,
              min_weight: float | None, weight_quantile: float | None, keep_loops: bool,
              out_file: str | None, evidence: str,
              popular_pairs: int, max_object_accounts: int | None, cosine: bool,
              similar_text_threshold: float, since: datetime | None,
              until: datetime | None, as_json: bool) -> None:
    params = PairParams(kind=kind, window=window, semantics=semantics,
                        min_participation=min_participation, min_weight=min_weight,
                        keep_loops=keep_loops, popular_pairs=popular_pairs,
                        max_object_accounts=max_object_accounts, cosine=cosine,
                        evidence=parse_evidence(evidence))
    options = TraceOptions(similar_text_threshold=similar_text_threshold)
    with obj.store() as store, err.status(f"computing {kind} pairs…"):
        r = pairs(store, params, since=since, until=until, out=out_file,
                  weight_quantile=weight_quantile, options=options)
    if as_json:
        _json({**dataclasses.asdict(r), "out": out_file})
        return
    say(f"{kind} ({semantics}, window {window:g} s): {r.traces:,} actions -> {r.edges:,} "
        f"edges between {r.accounts:,} accounts; {r.evidence:,} evidence events")
    for pop in r.popular:
        verb = ("aggregated without listing its pairs" if pop["mode"] == "aggregated"
                else "left out (more accounts than --max-object-accounts)")
        say(f"  popular object {pop['object']}: {pop['accounts']:,} accounts, "
            f"{pop['actions']:,} actions, {pop['window_pairs']:,} pairs in the window; "
            f"{verb}")
    if out_file:
        say(f"edges written to {out_file}")


DETECT_HELP = """Significant coordination: edges, clusters and a score for every account.

Runs traces -> pairs -> significance (a popularity-adjusted Poisson null per pair, a binomial
test per account over its partners) -> fusion over kinds and windows -> Benjamini-Hochberg at
--fdr -> Leiden clusters -> affiliation (rounds of a test of every other account against each
cluster as a whole; those that pass join it) -> evidence, then the temporal signals and the
behavioural signatures, which leave the score alone. Results go to the store's detect_* tables
and, with --out, to one Parquet file each (accounts, edges, clusters, evidence, fingerprints,
operations, shifts, trends, attacks, …); every column is in docs/store.md.

\b
Defaults: """ + "; ".join(f"{k} within {', '.join(f'{w:g}' for w in ws)} s"
                          for k, ws in DEFAULT_WINDOWS.items()) + """.

\b
Example:
  swarmscope detect --fdr 0.01 --out results/
  swarmscope detect --kinds repost,mention,hashtag --window hashtag=600 --out results/
  swarmscope detect --engine spark --master local[4] --input dataset/ --out results/

With --engine spark, the input is a canonical Parquet dataset (ingest --dataset) on a local
path or a Hadoop URI (s3a://, abfss://, hdfs://), no store is opened, and every stage but the
signals and signatures runs on Spark (docs/spark.md).
"""


@cli.command("detect", help=DETECT_HELP)
@store_options
@click.option("--kinds", metavar="K1,K2", help="Trace kinds to test (default: the defaults "
              "above); a kind without a default window gets " +
              ", ".join(f"{w:g}" for w in OTHER_KIND_WINDOWS) + " s.")
@click.option("--window", "windows", multiple=True, metavar="[KIND=]S[,S]",
              help="Windows in seconds: of one kind (KIND=S), or of every chosen kind but "
              "sync (S); repeatable.")
@click.option("--fdr", type=float, default=0.01,
              show_default=True, help="False discovery rate of the flagged accounts.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the clustering and the permutations.")
@click.option("--permutations", type=int, default=0, show_default=True,
              help="Also run the test on B time-permuted copies: a calibration check of the "
              "null model and an empirical p per edge (costs B extra runs).")
@click.option("--sync-bin", type=float, default=None,
              metavar="SECONDS", help="The time bin of the sync test, which is also its window "
              f"(default {TraceOptions.sync_bin_seconds:g} s; Pacheco et al. 2021 use 1800).")
@_similar_text_option
@click.option("--affiliation-rounds", type=int, default=AFFILIATION_ROUNDS,
              show_default=True, help="Rounds of the affiliation test (0: clusters are the "
              "flagged accounts' Leiden communities only); stops early when a round adds none.")
@click.option("--cascade-window", type=float, default=0.0, show_default=True,
              metavar="SECONDS", help="Also measure each object's share of all actions within "
              "this many seconds (its cascade) and take the larger share in the null (0: off).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="PATH",
              help="Also write the result tables as Parquet into this directory (with "
                   "--engine spark: where the results go, a path or a Hadoop URI).")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where the stages run: the store's DuckDB, or Spark on --input.")
@click.option("--input", "dataset", metavar="PATH",
              help="With --engine spark: the canonical Parquet dataset (ingest --dataset).")
@_spark_options
@_time_range_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def detect_cmd(obj: Context, kinds: str | None, windows: tuple[str, ...], fdr: float, seed: int,
               permutations: int, sync_bin: float | None, similar_text_threshold: float,
               affiliation_rounds: int, cascade_window: float, out_dir: str | None,
               engine: str, dataset: str | None, master: str, spark_conf: tuple[str, ...],
               since: datetime | None, until: datetime | None, as_json: bool) -> None:
    from swarmscope.detection.significance import NullParams
    from swarmscope.pipeline import DetectParams, detect  # loads numpy, pyarrow: only when used
    from rich.progress import Progress
    chosen = parse_windows(kinds, windows, known=KINDS, defaults=DEFAULT_WINDOWS,
                           other=OTHER_KIND_WINDOWS)
    traces = TraceOptions(similar_text_threshold=similar_text_threshold)
    if sync_bin is not None:
        traces = dataclasses.replace(traces, sync_bin_seconds=sync_bin)
        chosen = {k: (sync_bin,) if k == "sync" else w for k, w in chosen.items()}
    params = DetectParams(windows=chosen, fdr=fdr, seed=seed, permutations=permutations,
                          traces=traces, affiliation_rounds=affiliation_rounds,
                          null=NullParams(cascade_window=cascade_window))
    steps = (len(params.tests) + len(params.windows)) + permutations * len(params.windows) + 5
    if engine == "spark":
        _detect_on_spark(params, dataset, out_dir, master, spark_conf, since, until, as_json)
        return
    if dataset is not None:
        raise SwarmscopeError("--input is the dataset of --engine spark: DuckDB reads the store "
                              "(--db)")
    with obj.store() as store, Progress(console=err, transient=True) as bar:
        task = bar.add_task("detect", total=steps)
        r = detect(store, params, since=since, until=until, out=out_dir,
                   progress=lambda step: bar.update(task, advance=1, description=step))
        top = store.db.query("SELECT cluster_id, size, density, top_hashtags, assessment "
                             "FROM detect_clusters "
                             "ORDER BY evidence_strength DESC, cluster_id LIMIT 5")
    if as_json:
        _json({**r.summary(), "out": out_dir, "clusters_top": [
            {"cluster_id": c, "size": n, "density": d, "top_hashtags": h, "assessment": a}
            for c, n, d, h, a in top]})
        return
    say(f"{r.accounts:,} accounts scored; {r.flagged:,} flagged at FDR {fdr:g} in "
        f"{r.clusters:,} clusters ({r.recruited:,} joined by affiliation); "
        f"{r.edges:,} edges with evidence "
        f"({r.evidence:,} co-actions)")
    say("signatures: " + ", ".join(f"{n:,} {t.removeprefix('detect_')}"
                                   for t, n in r.signatures.items()))
    calibration = [c for c in r.calibration if c["kind"] != "all"]
    if calibration:
        pairs = sum(c["testable_pairs"] for c in calibration)
        at = sum(c["pairs_at_alpha"] for c in calibration)
        flagged = [c["accounts_flagged"] for c in r.calibration if c["kind"] == "all"]
        say(f"permutation check ({permutations} time-shuffled copies): {at:,} of {pairs:,} "
            f"testable pairs at p <= {params.null.alpha_pair:g} ({at / max(pairs, 1):.2%}; "
            f"nominal at most {params.null.alpha_pair:.0%}); accounts flagged per copy: "
            f"{', '.join(map(str, flagged))}")
    for row in top:
        tags = ", ".join(f"#{t['value']}" for t in (row[3] or [])[:3])
        say(f"  cluster {row[0]} ({row[4]}): {row[1]} accounts, density {row[2]:.2f}"
            + (f", top hashtags {tags}" if tags else ""))
    if out_dir:
        say(f"tables written to {out_dir}/")
    say(f"kept as run {r.run_id}, beside the earlier runs (`swarmscope runs` lists them; "
        f"report, explain, export and evaluate show the latest, or --run N)")


@cli.command("runs")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def runs_cmd(obj: Context, as_json: bool) -> None:
    """Every run on the store with its parameters and outcome; each detect run's results are
    kept (report, explain, export and evaluate show the latest, or the one given with --run N).

    \b
    Example:
      swarmscope --db case.duckdb runs
      swarmscope --db case.duckdb report --run 3 --out run3.html
    """
    from rich.table import Table
    from swarmscope.results.runs import describe, list_runs
    with obj.store(read_only=True) as store:
        rows = list_runs(store)
    if as_json:
        _json(rows)
        return
    t = Table("run", "command", "status", "started (UTC)", "parameters", "outcome", "results",
              title="runs", title_justify="left")
    for r in rows:
        params, outcome = describe(r)
        kept = ("kept, shown by default" if r["shown"] else "kept") if r["kept"] else ""
        t.add_row(str(r["run_id"]), r["command"], r["status"], r["started_at"][:16],
                  _cell(params), _cell(outcome), kept)
    out.print(t)


def _detect_on_spark(params: Any, dataset: str | None, out_dir: str | None, master: str,
                     spark_conf: tuple[str, ...], since: datetime | None,
                     until: datetime | None, as_json: bool) -> None:
    """``detect --engine spark``: the dataset in, Parquet out, no store."""
    from swarmscope.pipeline import detect_dataset
    if not dataset or not out_dir:
        raise SwarmscopeError("--engine spark reads --input PATH (a dataset written by ingest "
                              "--dataset) and writes --out PATH: give both")
    config = parse_maps(spark_conf, "--spark-conf", "KEY=VALUE", "spark.executor.memory=8g")
    r = detect_dataset(dataset, out_dir, params, master=master, config=config, since=since,
                       until=until, progress=lambda step: err.print(step, style="dim"))
    if as_json:
        _json({**r.summary(), "out": out_dir, "engine": "spark"})
        return
    say(f"{r.accounts:,} accounts scored on Spark; {r.flagged:,} flagged at FDR "
        f"{params.fdr:g} in {r.clusters:,} clusters ({r.recruited:,} joined by affiliation); "
        f"{r.edges:,} edges with evidence ({r.evidence:,} co-actions); tables written to "
        f"{out_dir}/ (the signals and signatures run on DuckDB only)")


@cli.command("evaluate")
@store_options
@click.option("--labels", type=click.Path(dir_okay=False), required=True,
              help="CSV account_id,label[,group]; label 1/0 or true/false.")
@_run_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def evaluate_cmd(obj: Context, labels: str, run: int | None, as_json: bool) -> None:
    """Metrics of the account scores against labels (accounts missing from the file are not
    scored): ROC-AUC, PR-AUC, precision, recall, F1 at the flag, precision at k, NMI/ARI.

    \b
    Example:
      swarmscope evaluate --labels labels.csv --json
    """
    with obj.store(read_only=True) as store:
        from swarmscope.results.evaluate import evaluate
        run_id = _shown_run(store, run, quiet=as_json)
        m = evaluate(store, labels)
    if as_json:
        _json({"run": run_id, **m})
        return
    for key, value in m.items():
        say(f"{key:<16}{value:.4f}" if isinstance(value, float) else f"{key:<16}{value}")


@cli.command("explain")
@store_options
@click.argument("account")
@click.option("--partners", type=int, default=10, show_default=True,
              help="How many of its strongest partners to show.")
@_run_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def explain_cmd(obj: Context, account: str, partners: int, run: int | None,
                as_json: bool) -> None:
    """The evidence for one account (id or handle): its score and tests, its strongest partners
    and the co-actions behind them.

    \b
    Example:
      swarmscope explain 1234567890
    """
    with obj.store(read_only=True) as store:
        from swarmscope.results.explain import explain
        _shown_run(store, run, quiet=as_json)
        x = explain(store, account, partners=partners)
    if as_json:
        _json(x)
        return
    a = x["account"]
    say(f"{a['platform']}:{a['account_id']}" + (f" (@{a['handle']})" if a["handle"] else "")
        + f": score {a['score']:.3f}, {'FLAGGED' if a['flagged'] else 'not flagged'}, "
        f"p {a['p_value']:.2e}, q {a['q_value']:.2e}, cluster {a['cluster_id'] or '-'}, "
        f"{a['posts']:,} posts; {a['significant_partners']} of {a['partners']} testable "
        "partners beyond chance")
    if a["flagged"]:
        from swarmscope.report.wording import what_flagged_means
        say("  " + what_flagged_means(x["fdr"]))
    kinds = [k.removeprefix("score_") for k in a if k.startswith("score_")]
    say("  by kind: " + ", ".join(f"{k} {a['score_' + k]:.3f}" for k in kinds))
    if f := x["fingerprint"]:
        say(_fingerprint_line(f))
    for e in x["edges"]:
        parts = ", ".join(f"{k} x={e['x_' + k]} p={e['p_' + k]:.1e}" for k in kinds
                          if e.get("p_" + k) is not None)
        say(f"  with {e['partner']}: p {e['p_value']:.1e} ({parts})")
        for ev in e["evidence"]:
            _print_coaction(ev)
    if a["affiliation_round"] is not None:
        say(f"  joined cluster {a['cluster_id']} by affiliation (round "
            f"{a['affiliation_round']}): {a['affiliation_x']} objects co-acted with its "
            f"members, {a['affiliation_kind']} within {a['affiliation_window_s']:g} s; "
            f"p {a['affiliation_p']:.1e}, q {a['affiliation_q']:.1e}")
        for ev in x["affiliation"]:
            _print_coaction(ev, f"with member {ev['member']}: ")


def _print_coaction(ev: dict, prefix: str = "") -> None:
    what = (f"sync (the same {ev['window_s']:g} s from)" if ev["kind"] == "sync"
            else ev["kind"])
    say(f"    {prefix}{what} {ev['object'][:60]!r}: {ev['post_a']} at {ev['ts_a']} "
        f"and {ev['post_b']} at {ev['ts_b']} ({ev['dt_s']:g} s apart)")
    texts = [t for t in (ev.get("text_a"), ev.get("text_b")) if t]
    if len(texts) == 2 and texts[0] == texts[1]:
        say(f"      both: {_clip(texts[0])}")
    else:
        for side in ("a", "b"):
            if ev.get(f"text_{side}"):
                say(f"      {ev[f'post_{side}']}: {_clip(ev[f'text_{side}'])}")


def _clip(text: str, width: int = 160) -> str:
    """A post text on one line, at most ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


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
@store_options
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
@click.option("--all", "everyone", is_flag=True,
              help="gexf/graphml: every account with an edge, not only the flagged ones.")
@_run_option
@click.pass_obj
def export_cmd(obj: Context, fmt: str, out_path: str, pseudonymize: bool,
               key_file: str | None, everyone: bool, run: int | None) -> None:
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
        if fmt in ("gexf", "graphml") or run is not None or runs.kept_runs(store.con):
            _shown_run(store, run)
        written = export(store, fmt, out_path, key, everyone=everyone)
    for path in written:
        say(str(path))


@cli.command("report")
@store_options
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="report.html",
              show_default=True, help="The HTML file to write.")
@click.option("--pseudonymize", is_flag=True,
              help="Replace account ids, handles and post ids with keyed pseudonyms.")
@click.option("--key-file", type=click.Path(dir_okay=False), help="The pseudonym key (secret).")
@click.option("--title", help="The case title at the top of the report.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False),
              help="Also print the report, every card open, to this PDF file (needs chromium).")
@_time_range_options
@_run_option
@click.pass_obj
def report_cmd(obj: Context, out_path: str, pseudonymize: bool, key_file: str | None,
               title: str | None, pdf_path: str | None, since: datetime | None,
               until: datetime | None, run: int | None) -> None:
    """A self-contained offline HTML report of one detect run (the latest, or --run N): the
    case summary (inputs, key findings, ranked accounts), the network, the case timeline,
    cluster cards with their traits and evidence, search over every account, methods. It needs
    no network and runs no code but its own.

    \b
    Example:
      swarmscope report --title "Case 12" --out report.html --pdf report.pdf
      swarmscope report --out report.html --pseudonymize --key-file key.txt
    """
    if key_file and not pseudonymize:
        raise SwarmscopeError("--key-file is only used with --pseudonymize")
    from swarmscope.export import read_key
    from swarmscope.report import build_report
    key = read_key(key_file) if pseudonymize else None
    check_time_range(since, until)
    with obj.store(read_only=True) as store:
        _shown_run(store, run)
        path = build_report(store, out_path, key=key, since=since, until=until, title=title,
                            pdf=pdf_path)
    say(f"report written to {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)")
    if pdf_path:
        say(f"PDF written to {Path(pdf_path).resolve()}")


def main() -> None:
    """Console entry point."""
    cli(prog_name="swarmscope")


if __name__ == "__main__":
    main()
