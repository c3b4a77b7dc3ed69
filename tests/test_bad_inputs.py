"""The bad-input corpus (tests/bad_inputs): every case through the CLI, with its expected
outcome; see tests/bad_inputs/README.md for the format."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmscope import Store
from swarmscope.cli import cli
from tests.bad_inputs import generate

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.parent for p in CORPUS.glob("*/case.toml"))
TAKES_JSON = {"ingest", "info", "pairs", "detect", "explain", "evaluate"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _invoke(argv: list[str]):
    result = CliRunner().invoke(cli, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"traceback from {argv}:\n{tb}")
    assert "Traceback" not in result.output, result.output
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_case(case: Path, tmp_path: Path) -> None:
    spec = tomllib.loads((case / "case.toml").read_text())
    work = shutil.copytree(case, tmp_path / "case")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    if "generate" in spec:
        getattr(generate, spec["generate"])(work)
    db = tmp_path / "store.duckdb"

    def argv(args: list[str]) -> list[str]:
        args = [a.format(case=work, tmp=scratch) for a in args]
        extra = (["--json"] if args[0] in TAKES_JSON and "--json" not in args
                 and spec.get("json", True) else [])
        return ["--db", str(db), *args, *extra]

    for before in spec.get("before", []):
        r = _invoke(argv(before))
        assert r.exit_code == 0, (before, r.output)

    command = argv(spec["args"])
    r = _invoke(command)
    output = r.output
    assert not CONTROL.search(output), f"raw control characters in the output: {output!r}"
    assert r.exit_code == spec["exit"], output
    if spec["exit"] != 0:
        last = output.strip().splitlines()[-1]
        assert last.startswith("Error: "), output
        for needle in spec.get("error", {}).get("contains", []):
            assert needle.format(case=work, tmp=scratch) in last, (needle, last)
    for needle in spec.get("output", {}).get("contains", []):
        assert needle in output, (needle, output)
    for needle in spec.get("output", {}).get("excludes", []):
        assert needle not in output, (needle, output)

    _check_files(spec.get("files", {}), case, work, scratch)

    lines = [line for line in output.splitlines() if line.startswith("{")]
    if spec["args"][0] == "ingest" and (lines or spec["exit"] == 0) and spec.get("json", True):
        report = json.loads(lines[0])   # none when the store itself is refused
        for f in report["files"]:
            assert f["read"] == f["stored"] + f["duplicates"] + f["rejected"], f
        for key, value in spec.get("totals", {}).items():
            assert report["totals"][key] == value, (key, report["totals"])
    if spec.get("rejects"):
        with Store(db, read_only=True) as s:
            rows = s.db.query("SELECT file, line, field, reason FROM rejects")
        for want in spec["rejects"]:
            assert any(Path(file).name == want["file"]
                       and ("line" not in want or line == want["line"])
                       and ("field" not in want or field == want["field"])
                       and want.get("reason", "") in reason
                       for file, line, field, reason in rows), (want, rows)


def _check_files(files: dict, case: Path, work: Path, scratch: Path) -> None:
    """The ``[files]`` table: paths that must exist, be absent, be unchanged from the corpus,
    parse as XML, or be a report whose data block parses as JSON."""
    def paths(key: str) -> list[Path]:
        return [Path(p.format(case=work, tmp=scratch)) for p in files.get(key, [])]
    for path in paths("exist"):
        assert path.exists(), path
    for path in paths("absent"):
        assert not path.exists(), path
    for path in paths("same"):
        assert path.read_bytes() == (case / path.relative_to(work)).read_bytes(), path
    for path in paths("xml"):
        ET.parse(path)
    for path in paths("report"):
        block = re.search(r'<script id="data" type="application/json">(.*?)</script>',
                          path.read_text(encoding="utf-8"), re.S)
        assert block and json.loads(block[1]), path
