"""Generate the parts of the docs that come from the code: the command-line reference in
``docs/cli.md`` (every command's ``--help``) and the schema tables in ``docs/store.md`` (from
:mod:`swarmscope.store.schema`), each between its markers.

    python scripts/gen_docs.py          # rewrite the generated parts
    python scripts/gen_docs.py --check  # exit 1, naming the stale files, when they differ

``tests/test_docs.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import click

from swarmscope.cli import cli
from swarmscope.store.schema import CANONICAL, DETECT, PAIRS, Table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def cli_reference() -> str:
    """Every command's help, as the terminal shows it at 100 columns."""
    parts = []
    settings = {"terminal_width": 100, "max_content_width": 100,
                "help_option_names": cli.context_settings["help_option_names"]}
    with click.Context(cli, info_name="swarmscope", **settings) as ctx:
        parts.append(f"### swarmscope\n\n```text\n{cli.get_help(ctx)}\n```\n")
        for name in cli.list_commands(ctx):
            command = cli.get_command(ctx, name)
            with click.Context(command, info_name=name, parent=ctx, **settings) as sub:
                parts.append(f"### swarmscope {name}\n\n```text\n{command.get_help(sub)}\n```\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def schema_reference() -> str:
    """A section per table: what one row is, its columns, their types and meaning."""
    def table_md(t: Table) -> str:
        where = " (a view)" if t.view else ""
        head = f"#### `{t.name}`{where}\n\n{t.doc[0].upper() + t.doc[1:]}."
        if t.file:
            head += f" `detect --out` writes it to `{t.file}.parquet`."
        rows = ["| column | type | meaning |", "|---|---|---|"]
        for col, doc in t.columns.items():
            rows.append(f"| `{_cell(col)}` | {_cell(t.types.get(col, ''))} | {_cell(doc)} |")
        return head + "\n\n" + "\n".join(rows) + "\n"
    groups = (("Ingested data", CANONICAL), ("Results of `pairs`", PAIRS),
              ("Results of `detect`", DETECT))
    return "\n".join(f"### {title}\n\n" + "\n".join(table_md(t) for t in tables)
                     for title, tables in groups)


def replace_between(text: str, marker: str, body: str) -> str:
    """``text`` with the part between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``
    replaced by ``body``."""
    pattern = re.compile(rf"(<!-- {marker}:begin -->\n).*?(<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"the markers <!-- {marker}:begin/end --> are missing")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def generated() -> dict[Path, str]:
    """Each generated file with its expected content."""
    out = {}
    for name, marker, body in (("cli.md", "cli", cli_reference()),
                               ("store.md", "schema", schema_reference())):
        path = DOCS / name
        out[path] = replace_between(path.read_text(encoding="utf-8"), marker, "\n" + body + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        sys.exit("stale: " + ", ".join(str(p) for p in stale)
                 + " (run python scripts/gen_docs.py)")


if __name__ == "__main__":
    main()
