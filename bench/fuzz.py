"""Coverage-guided fuzzing: every target of ``tests/fuzz/targets.py`` under atheris
(libFuzzer), each for ``--seconds``, starting from its stored corpus.

A benchmark, not a test (``tests/test_fuzz.py`` is the short run). From the repository root::

    nice -n 10 .venv/bin/python bench/fuzz.py [--seconds 20] [--targets url list_repr ...]
        [--out-dir DIR] [--merge]

Each target runs in a child of its own (libFuzzer exits the process when done) with the stored
corpus ``tests/fuzz/corpus/<target>/`` read and new inputs written to OUT_DIR/corpus/<target>;
a crash, a failed assertion or a hang (over ``--timeout`` seconds for one input) stops that
target and leaves the input in OUT_DIR (``crash-*``, ``timeout-*``). ``--merge`` adds to the
stored corpus the new inputs (those that reached code the corpus did not). One JSON line per target (executions,
seconds, inputs added, the failure if any), then a summary line; exit status 1 when a target
failed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import REPO, code_state, emit, fresh_dir, host  # noqa: E402

CORPUS = REPO / "tests/fuzz/corpus"
#: Longest input libFuzzer makes: a normaliser's value, a reader's file.
MAX_LEN = {"normaliser": 4096, "reader": 65536}


def child(name: str, libfuzzer_args: list[str]) -> None:
    """Fuzz target ``name`` in this process, swarmscope instrumented for coverage."""
    import atheris
    with atheris.instrument_imports(include=["swarmscope", "fuzz"]):
        from fuzz import targets

    def one_input(data: bytes) -> None:
        targets.run_input(name, data)

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def fuzz(args: argparse.Namespace, name: str) -> dict:
    stored, work = CORPUS / name, fresh_dir(args.out_dir / "corpus" / name)
    kind = "reader" if name.startswith("reader_") else "normaliser"
    artifacts = fresh_dir(args.out_dir / "artifacts" / name)
    lf = [f"-max_total_time={args.seconds}", f"-timeout={args.timeout}",
          f"-max_len={MAX_LEN[kind]}", "-rss_limit_mb=4096", f"-artifact_prefix={artifacts}/",
          "-print_final_stats=1", str(work), str(stored)]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--child", name, *lf], capture_output=True,
                       text=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr) or re.search(
        r"Done (\d+) runs", r.stderr)
    failure = sorted(p.name for p in artifacts.iterdir())
    res = {"bench": "fuzz", "target": name, "executions": int(runs[1]) if runs else None,
           "seconds": round(seconds, 1), "corpus": len(list(stored.iterdir())),
           "new_inputs": len(list(work.iterdir())), "rc": r.returncode, "failure": failure}
    if r.returncode != 0 or failure:
        at = r.stderr.find("Uncaught Python exception")      # the traceback, if any
        res["error"] = r.stderr[at:at + 3000] if at >= 0 else r.stderr[-3000:]
        res["inputs"] = {f: (artifacts / f).read_bytes()[:500].decode("utf-8", "replace")
                         for f in failure}
    if args.merge and not failure:      # libFuzzer kept only inputs that reached new code
        for p in work.iterdir():
            shutil.copy(p, stored / p.name)
        res["merged"] = len(list(stored.iterdir())) - res["corpus"]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=20, help="per target")
    ap.add_argument("--timeout", type=int, default=30, help="seconds for one input: a hang")
    ap.add_argument("--targets", nargs="*", help="default: every target")
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/swarmscope_fuzz"))
    ap.add_argument("--merge", action="store_true",
                    help="add the new inputs (they reached new code) to the stored corpus")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.child:
        child(args.child, rest)
        return 0
    names = args.targets or sorted(p.name for p in CORPUS.iterdir())
    emit({"bench": "fuzz_machine", **host(), "code": code_state(), "seconds": args.seconds})
    t0, failed, executions = time.perf_counter(), [], 0
    for name in names:
        res = fuzz(args, name)
        emit(res)
        executions += res["executions"] or 0
        if res["failure"] or res["rc"] != 0:
            failed.append(name)
    emit({"bench": "fuzz_summary", "targets": len(names), "failed": failed,
          "executions": executions, "wall_s": round(time.perf_counter() - t0, 1)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
