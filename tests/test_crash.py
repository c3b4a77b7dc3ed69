"""Crash consistency: a few trials of ``bench/crash.py`` (ingest and detect killed with SIGKILL
at seeded random moments, then run again; the store must end as an uninterrupted run leaves it).
The benchmark runs 100 trials and more."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_killed_ingest_and_detect_end_as_uninterrupted_runs(tmp_path, shared):
    r = subprocess.run([sys.executable, str(ROOT / "bench/crash.py"), "--trials", "6",
                        "--seed", "18", "--rows", "2000", "--data-dir", str(shared),
                        "--out-dir", str(tmp_path)], capture_output=True, text=True)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    failed = [t for t in lines if t.get("bench") == "crash_trial" and t["problems"]]
    assert not failed, failed
    assert r.returncode == 0, r.stderr[-2000:]
    summary = lines[-1]
    assert summary["bench"] == "crash_summary" and summary["trials"] == 6, summary
