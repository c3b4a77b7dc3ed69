"""``report --pdf``: the report printed to PDF by headless chromium (Debian's ``chromium``).

The page is opened from disk with the network off and ``#print`` in its address, which opens
every card before printing; the print style sheet does the rest (no controls, no sticky
header, cards not split where avoidable).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import atomic_write

#: Seconds chromium may take to load, lay out and print the page.
TIMEOUT_S = 300
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--no-pdf-header-footer", "--virtual-time-budget=30000"]


def chromium() -> str:
    """The chromium executable, or a user error saying how to get one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SwarmscopeError("--pdf prints the report with chromium, which is not installed: "
                              "install it (Debian: apt-get install chromium), or open the "
                              "HTML report in a browser and print it to PDF")
    return found


def print_pdf(page: Path, out: Path) -> Path:
    """Print the HTML ``page`` to the PDF file ``out``; returns ``out``."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="swarmscope-pdf-") as profile, \
            atomic_write(out) as tmp:
        try:
            done = subprocess.run(
                [exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
                 page.resolve().as_uri() + "#print"],
                capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SwarmscopeError(f"chromium did not print {page} to PDF within {TIMEOUT_S} "
                                  "s: open the HTML report in a browser and print it") from None
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise SwarmscopeError(f"chromium could not print {page} to PDF (exit "
                                  f"{done.returncode}): {' | '.join(tail) or 'no message'}")
    return out
