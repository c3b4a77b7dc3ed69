"""The ``swarmscope`` command line: each command a thin call into the library."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from swarmscope import __version__
from swarmscope.errors import NotBuiltError, SwarmscopeError
from swarmscope.ingest import FORMATS, ingest
from swarmscope.info import store_info
from swarmscope.store import Settings, Store, default_db_path

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

KINDS = ("repost", "fast_repost", "link", "domain", "hashtag", "hashtag_seq", "hashtag_set",
         "text", "similar_text", "reply", "mention", "image", "sync")


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


# -- the rest of the CLI contract: the options are fixed now so that the capabilities fit ---------
def _planned(name: str, capability: str, summary: str, example: str,
             params: list[click.Parameter]) -> click.Command:
    """A command of the contract whose capability has not landed: it says so and exits 1."""
    def run(**_: Any) -> None:
        raise NotBuiltError(f"`swarmscope {name}` is not built yet ({capability})")
    return click.Command(name, callback=run, params=params,
                         help=f"{summary}\n\n\b\nExample:\n  {example}")


def _time_range() -> list[click.Parameter]:
    return [click.Option(["--since"], type=click.DateTime(), help="Only activity from (UTC)."),
            click.Option(["--until"], type=click.DateTime(), help="Only activity before (UTC).")]


def _pseudonyms() -> list[click.Parameter]:
    return [click.Option(["--pseudonymize"], is_flag=True,
                         help="Replace account ids and handles with keyed pseudonyms."),
            click.Option(["--key-file"], type=click.Path(), help="The pseudonym key.")]


for _cmd in (
    _planned("pairs", "the co-action engine",
             "Account pairs that left the same object within a window, with evidence.",
             "swarmscope pairs --kind repost --window 60 --out pairs.parquet",
             [click.Option(["--kind"], type=click.Choice(KINDS), required=True),
              click.Option(["--window"], type=click.FloatRange(0), required=True, help="Seconds."),
              click.Option(["--semantics"], type=click.Choice(["sliding", "coortweet", "timefree"]),
                           default="sliding", show_default=True),
              click.Option(["--min-participation"], type=click.IntRange(1), default=1),
              click.Option(["--min-weight"], type=click.FloatRange(0), default=1),
              click.Option(["--keep-loops"], is_flag=True),
              click.Option(["--out"], type=click.Path()), *_time_range()]),
    _planned("detect", "detection", "Significant coordination: edges, clusters, account scores.",
             "swarmscope detect --fdr 0.01 --out results/",
             [click.Option(["--kinds"]), click.Option(["--window"], multiple=True, metavar="K=S"),
              click.Option(["--fdr"], type=click.FloatRange(0, 1, min_open=True), default=0.01),
              click.Option(["--seed"], type=int, default=0),
              click.Option(["--out"], type=click.Path()), *_time_range()]),
    _planned("evaluate", "detection",
             "Metrics of the account scores against labels (CSV account_id,label[,group]).",
             "swarmscope evaluate --labels labels.csv --json",
             [click.Option(["--labels"], type=click.Path(), required=True),
              click.Option(["--json"], "as_json", is_flag=True)]),
    _planned("explain", "detection", "The evidence for one account, in the terminal.",
             "swarmscope explain 1234567890", [click.Argument(["account"])]),
    _planned("report", "the HTML report", "A self-contained offline HTML report.",
             "swarmscope report --out report.html --pseudonymize --key-file key.txt",
             [click.Option(["--out"], type=click.Path(), default="report.html"), *_pseudonyms(),
              *_time_range()]),
    _planned("export", "the exports",
             "Export results: gexf/graphml to a file, csv/parquet to a directory.",
             "swarmscope export --format gexf --out network.gexf",
             [click.Option(["--format"], "fmt", required=True,
                           type=click.Choice(["gexf", "graphml", "csv", "parquet"])),
              click.Option(["--out"], type=click.Path(), required=True), *_pseudonyms()]),
):
    cli.add_command(_cmd)


def main() -> None:
    """Console entry point."""
    cli(prog_name="swarmscope")


if __name__ == "__main__":
    main()
