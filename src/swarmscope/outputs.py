"""Writing outputs safely, and showing data safely.

An output (report, export, ``--out`` Parquet) is checked before the work that makes it
(:func:`check_output`), then written to a temporary name beside it and renamed over it
(:func:`atomic_write`), so a failed or interrupted write never leaves a half-written file and
never destroys an earlier one. Text from the data (handles, texts, file names, header cells) is
written by the operations under study: :func:`visible` turns the characters that a terminal or
an XML parser would act on into visible escapes.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from swarmscope.errors import SwarmscopeError

#: What a terminal acts on: C0 controls but tab and newline, DEL, C1 controls (CSI is U+009B),
#: and the bidirectional overrides and isolates that reorder a line.
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: What XML 1.0 cannot hold (outside its Char production), and the C1 controls.
XML_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def visible(text: object, unsafe: re.Pattern = TERMINAL_UNSAFE) -> str:
    """``text`` with every ``unsafe`` character as a visible escape: ESC -> ``\\x1b``."""
    return unsafe.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                      else f"\\u{ord(m[0]):04x}", str(text))


def check_output(path: str | Path, *, directory: bool = False) -> Path:
    """Refuse an output path that cannot be written (before any work is done): a directory
    where a file is to go, a file where a directory is to go, a file on the way, no write
    permission."""
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        raise SwarmscopeError(f"{path} is a file, but a directory is written there: choose a "
                              "directory for --out")
    if not directory and path.is_dir():
        raise SwarmscopeError(f"{path} is a directory: give a file name for --out")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SwarmscopeError(f"cannot write {path}: {parent} is a file, not a directory; "
                              "choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SwarmscopeError(f"cannot write {path}: the directory {parent} is not writable; "
                              "choose another --out")
    return path


def output_dir(path: str | Path) -> Path:
    """The output directory ``path``, checked and created."""
    path = check_output(path, directory=True)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block succeeds it replaces
    ``path`` (``os.replace``, after an fsync), when it fails it is removed and ``path`` is left
    as it was. Write errors become a :class:`SwarmscopeError` naming ``path``."""
    path = check_output(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, duckdb.IOException) as exc:
        raise write_error(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_error(path: str | Path, exc: BaseException) -> SwarmscopeError:
    """The one-line error of a failed write of ``path``."""
    if is_disk_full(exc):
        return SwarmscopeError(f"no space left on the device to write {path}: free some space "
                               "or choose another --out (an earlier file there is kept)")
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    return SwarmscopeError(f"cannot write {path}: {reason}; choose another --out")


def is_disk_full(exc: BaseException) -> bool:
    """The error is a full disk (ENOSPC), from Python or from the engine."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)
