"""Records inside one large JSON document, streamed: a Telegram Desktop export's ``messages``
array, TGDataset's channels of messages. The document is never held whole: one record (at most
the record limit) and one block of text at a time.

A reader names where its records lie with a *walk*: one selector per level of objects (a set of
member names, or ``"*"`` for every member); arrays on the way are gone through element by
element without using up a selector. Each record is staged as
``{"ctx": [...], "key": ..., "item": <the record>}``: ``key`` is the record's member name or
array index, and ``ctx`` holds, for each level above it, the scalar members of the enclosing
object (its own name under ``_key``), wherever they stand in it (a first pass collects them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import count

from swarmscope.errors import UnusableInputError
from swarmscope.ingest.sources import BLOCK, InputFile, _nbytes, _too_long, open_text

Walk = tuple[frozenset[str] | str, ...]
Record = tuple[int, str, "tuple[str | None, str] | None"]

_SPACE = re.compile(r"\s*")
#: A string (closed, or cut by the buffer's end) or a bracket: enough to find a value's end.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?P<close>"|\\?\Z)|[\[\]{}]', re.S)
_DECODER = json.JSONDecoder()


def iter_document_records(f: InputFile, walk: Walk) -> Iterator[Record]:
    """(line, staged text, None or the (field, reason) it is rejected for) for each record
    that ``walk`` reaches in ``f`` (see the module's docstring)."""
    contexts: dict[tuple, dict] = {}
    with _Doc(f) as doc:                         # first pass: the contexts, wherever they are
        for _ in doc.walk(walk, contexts):
            pass
    with _Doc(f) as doc:
        for keys, line, text, error in doc.walk(walk, None):
            if error is not None:
                yield line, text, error
                continue
            ctx = [contexts.get(keys[:i], {}) for i in range(len(keys))]
            yield line, (f'{{"ctx":{json.dumps(ctx, ensure_ascii=False)},'
                         f'"key":{json.dumps(keys[-1], ensure_ascii=False)},"item":{text}}}'), None


class _Doc:
    """A JSON document read a block at a time, with the line of any position."""

    def __init__(self, f: InputFile) -> None:
        self.f, self.fh = f, open_text(f, errors="swarmscope-mark")
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.counted = 1, 0       # the line at buf[counted]
        self.keep: int | None = None         # the start of the record being read
        self.done = False                    # the file ended inside a record

    def __enter__(self) -> "_Doc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def fill(self) -> bool:
        done = self.pos if self.keep is None else self.keep
        if done > BLOCK:                     # drop what is read (not each time: a copy)
            self.line_at(done)
            self.buf, self.counted, self.pos = self.buf[done:], 0, self.pos - done
            self.keep = None if self.keep is None else 0
        chunk = self.fh.read(BLOCK)
        self.eof = not chunk
        self.buf += chunk
        return bool(chunk)

    def line_at(self, pos: int) -> int:
        self.line += self.buf.count("\n", self.counted, pos)
        self.counted = pos
        return self.line

    def peek(self) -> str:
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self.fill():
                return self.buf[self.pos:self.pos + 1]

    def expect(self, chars: str) -> str:
        c = self.peek()
        if not c and (self.eof or self.done):
            raise EOFError
        if c not in chars:
            what = " or ".join(repr(ch) for ch in chars)
            raise UnusableInputError(
                f"{self.f.path}: line {self.line_at(self.pos)}: the JSON document is broken "
                f"(expecting {what}, found {c!r}): fix it and ingest the file again")
        self.pos += 1
        return c

    def value(self) -> tuple[object, str]:
        """The next value, decoded, and its text; raises EOFError where the file ends first."""
        start = self.peek()
        if not start:
            raise EOFError
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    text, self.pos = self.buf[self.pos:end], end
                    return obj, text
            except (ValueError, RecursionError):
                if self.eof or len(self.buf) - self.pos > self.f.max_record:
                    raise
            self.fill()

    def record(self, keys: tuple) -> tuple[tuple, int, str, tuple[str | None, str] | None]:
        line = self.line_at(self.pos)
        self.keep = self.pos
        try:
            obj, text = self.value()
        except (ValueError, RecursionError) as exc:
            start, self.keep = self.keep, None
            head = self.buf[start:start + 200]
            if len(self.buf) - start > self.f.max_record:
                reason = _too_long(self.f)
            elif isinstance(exc, json.JSONDecodeError):
                reason = (f"invalid JSON: {exc.msg} (seen at line "
                          f"{line + self.buf.count(chr(10), start, exc.pos)})")
            else:
                reason = "invalid JSON: nested too deep, or a number too long for any post"
            if self.skip() is None:
                self.done = True
                reason = (f"invalid JSON: the file ends at line {self.line_at(len(self.buf))} "
                          "before this record is complete (a truncated file?)")
            return keys, line, head, (None, reason)
        self.keep = None
        if _nbytes(text) > self.f.max_record:
            return keys, line, text[:200], (None, _too_long(self.f))
        return keys, line, text, None if isinstance(obj, dict) else (None, "not a JSON object")

    def skip(self) -> int | None:
        """Move past the container at ``pos``, holding no more than a block or two; None where
        the file ends first."""
        depth, at = 0, self.pos
        while True:
            for m in _TOKEN.finditer(self.buf, at):
                if m.group("close") is not None and m.group("close") != '"':
                    break                          # a string cut by the buffer's end: read on
                at = m.end()
                if m.group("close") is None:
                    depth += 1 if m.group() in "[{" else -1
                    if depth <= 0:
                        self.pos = at
                        return at
            self.pos = at
            if not self.fill():
                return None
            at = self.pos

    def walk(self, walk: Walk, contexts: dict | None, keys: tuple = ()
             ) -> Iterator[tuple[tuple, int, str, tuple[str | None, str] | None]]:
        """The records under the value at ``pos``, as (keys, line, text, error); given
        ``contexts`` (the first pass), it collects the scalar members of each object on the way
        instead, and yields no record."""
        try:
            c = self.peek()
            if c == "[":
                self.pos += 1
                if self.peek() == "]":
                    self.pos += 1
                    return
                for i in count():
                    yield from self.walk(walk, contexts, keys + (i,))
                    if self.done or self.expect(",]") == "]":
                        return
            if not walk:
                record = self.record(keys)     # decoded in C: far faster than skip()
                if contexts is None:
                    yield record
                return
            if c != "{":
                self.value()
                return
            self.pos += 1
            ctx = {"_key": keys[-1]} if keys else {}
            if contexts is not None:
                contexts[keys] = ctx
            if self.peek() == "}":
                self.pos += 1
                return
            while True:
                name, _ = self.value()
                if not isinstance(name, str):
                    raise ValueError("a member name that is not a string")
                self.expect(":")
                if walk[0] == "*" or name in walk[0]:
                    yield from self.walk(walk[1:], contexts, keys + (name,))
                    if self.done:
                        return
                elif self.peek() in ("[", "{"):
                    if self.skip() is None:
                        raise EOFError
                else:
                    ctx[name] = self.value()[0]
                if self.expect(",}") == "}":
                    return
        except EOFError:
            self.done = True
        except (ValueError, RecursionError) as exc:
            raise UnusableInputError(
                f"{self.f.path}: line {self.line_at(self.pos)}: the JSON document is broken "
                f"({str(exc).split(':')[0]}) outside its records: fix it and ingest the file "
                f"again") from None

