"""The docs that come from the code are current, and every table and command is documented."""

from __future__ import annotations

import difflib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, run
from swarmscope.cli import cli
from swarmscope.signals.fingerprints import MIN_POSTS
from swarmscope.store.schema import CANONICAL, DETECT, PAIRS, TABLES

spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
gen_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen_docs)


def test_generated_docs_are_current():
    """docs/cli.md and docs/store.md hold what scripts/gen_docs.py generates from the code."""
    for path, text in gen_docs.generated().items():
        have = path.read_text(encoding="utf-8")
        diff = "".join(list(difflib.unified_diff(have.splitlines(True), text.splitlines(True),
                                                 "committed", "generated"))[:40])
        assert have == text, f"{path.name} is stale (run python scripts/gen_docs.py):\n{diff}"


def test_every_command_is_in_the_cli_reference():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"### swarmscope {name}\n" in text


def test_the_created_tables_are_the_schema(store):
    """The store's own tables and their columns are exactly the schema module's."""
    have = {r[0]: r[1] for r in store.con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() GROUP BY ALL").fetchall()}
    for t in CANONICAL:
        assert have[t.name] == list(t.types), t.name


def test_detect_tables_are_documented_column_by_column(demo):
    """Every column of every detect table of the demo run has its line in the schema (a
    column group 'a, b' or a pattern 'p_<kind>' covers its columns)."""
    with demo.store() as store:
        for t in DETECT:
            if not store.db.has_table(t.name, temporary=False):
                continue
            documented = set()
            patterns = []
            for key in t.columns:
                for part in (k.strip() for k in key.split(",")):
                    if "<" in part:
                        patterns.append(re.compile(re.sub(r"<\w+>", r"\\w+", part) + "$"))
                    documented.add(part)
            read = store.con.execute(f"DESCRIBE SELECT * FROM {t.source}").fetchall()
            for col in (r[0] for r in read):   # the columns readers get (resolved from keys)
                assert col in documented or any(p.match(col) for p in patterns), (t.name, col)


def test_schema_names_are_unique_and_the_fingerprint_threshold_is_the_code_s():
    assert len(TABLES) == len(CANONICAL) + len(PAIRS) + len(DETECT)
    assert f">= {MIN_POSTS} posts" in TABLES["detect_fingerprints"].columns[
        "platform, account_id, cluster_id, operation_id"]


@pytest.mark.parametrize("path", sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_links_resolve(path):
    """Relative links between the docs point at files that exist."""
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


SHARED_IN_DOCS = "../shared/data/"


def doc_commands(page: Path, tmp: Path) -> list[tuple[list[str], list[str]]]:
    """The ``swarmscope`` commands of a page's ``sh`` blocks that read the shared real data
    (``../shared/data/...``), as CLI arguments with that path made the tests' and ``--db`` put
    in ``tmp``, each with the lines of the output block right after its block (for the block's
    last command)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for block, output in re.findall(r"```sh\n(.*?)```\n(?:\n?```\n(.*?)```)?", text, re.S):
        commands = [shlex.split(c, comments=True) for c in block.replace("\\\n", " ").splitlines()]
        commands = [c[1:] for c in commands if c and c[0] == "swarmscope"
                    and any(a.startswith(SHARED_IN_DOCS) for a in c)]
        for i, argv in enumerate(commands):
            argv = [str(SHARED / a.removeprefix(SHARED_IN_DOCS)) if a.startswith(SHARED_IN_DOCS)
                    else a for a in argv]
            if "--db" in argv:
                at = argv.index("--db") + 1
                argv[at] = str(tmp / argv[at])
            shown = [line.replace(SHARED_IN_DOCS, f"{SHARED}/") for line in output.splitlines()
                     if line.strip()] if i == len(commands) - 1 else []
            found.append((argv, shown))
    return found


@pytest.mark.parametrize("page", sorted((ROOT / "docs" / "platforms").glob("*.md")),
                         ids=lambda p: p.name)
def test_platform_pages_commands_on_the_real_samples_work_as_shown(page, tmp_path):
    """Every command of a platform page that reads a real sample runs, in order, and prints
    the output the page shows."""
    commands = doc_commands(page, tmp_path)
    if commands and not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    for argv, shown in commands:
        result = run(*argv)
        assert result.exit_code == 0, (argv, result.output)
        for line in shown:
            assert line in result.output, (argv, line, result.output)


def test_the_platforms_index_links_every_platform_page():
    index = ROOT / "docs" / "platforms" / "README.md"
    text = index.read_text(encoding="utf-8")
    for page in sorted(index.parent.glob("*.md")):
        if page != index:
            assert f"]({page.name})" in text, f"docs/platforms/README.md does not link {page.name}"
