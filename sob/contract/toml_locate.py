"""Where each key of a TOML document is written: key path → (line, column).

Python's TOML parsers return plain values with no positions (the research
notes, §2.4), yet a contract error is only useful when it points at the line
of the offending key.  This module scans the TOML text once and records the
1-based line and column of every key it meets, under the same key path the
parsed document uses:

* ``[table]`` and ``[[array.of.tables]]`` headers, with the index of each
  ``[[...]]`` entry (``("outcomes", 2)`` is the third ``[[outcomes]]``);
* dotted and quoted keys (``evidence.columns."Client Ref"``), each prefix
  pointing at its own part of the key;
* inline tables and arrays, however they are spread over lines: an array
  element is recorded at its first character, an inline table's keys at
  their own position (``("outcomes", 1, "requires", 0, "min_days")``).

The scanner is deliberately lenient and iterative: it is meant for text that
``tomllib`` has accepted, never raises, and on text it cannot follow it just
stops and keeps what it has found so far.  A missing key is located with
:meth:`TomlIndex.nearest`, which falls back to the closest ancestor that is
written down (usually the table header).
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field

KeyPart = str | int
KeyPath = tuple[KeyPart, ...]
Position = tuple[int, int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?"
)
_BARE_VALUE = re.compile(r"[^,\]\}\s#]+")
_BASIC_STOP = re.compile(r'\\.|"|\n', re.DOTALL)
_ML_BASIC_STOP = re.compile(r'\\.|"""', re.DOTALL)


class _Stop(Exception):
    """The text cannot be followed any further (or nesting went too deep)."""


@dataclass
class _Frame:
    """An open array or inline table while scanning a value."""

    kind: str  # "array" or "table"
    path: KeyPath
    count: int = 0


@dataclass(frozen=True)
class TomlIndex:
    """Positions of the keys of one TOML document."""

    positions: dict[KeyPath, Position] = field(default_factory=dict)

    def get(self, path: Iterable[KeyPart]) -> Position | None:
        """Where ``path`` itself is written, or ``None``."""
        return self.positions.get(tuple(path))

    def nearest(self, path: Iterable[KeyPart]) -> tuple[KeyPath, Position] | None:
        """The longest prefix of ``path`` that is written down, with its position.

        A missing key has no line of its own; pointing at its table header
        (or the array element that should hold it) is the next best thing.
        """
        key = tuple(path)
        while key:
            pos = self.positions.get(key)
            if pos is not None:
                return key, pos
            key = key[:-1]
        return None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and path in self.positions

    def __len__(self) -> int:
        return len(self.positions)


class _Scanner:
    """A forgiving, iterative TOML tokenizer that records key positions."""

    def __init__(self, text: str, depth_limit: int | None = None) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.positions: dict[KeyPath, Position] = {}
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.depth_limit = depth_limit
        self.too_deep_at: Position | None = None
        self.table: KeyPath = ()
        # Resolved path of an array of tables -> index of its latest entry.
        self.aot_index: dict[KeyPath, int] = {}

    # --- positions -------------------------------------------------------------------
    def where(self, offset: int) -> Position:
        """1-based (line, column) of a character offset."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def record(self, path: KeyPath, offset: int) -> None:
        """Remember the first place ``path`` is written."""
        self.positions.setdefault(path, self.where(offset))

    # --- low-level helpers ------------------------------------------------------------
    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.n else ""

    def skip_spaces(self) -> None:
        while self.pos < self.n and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_blank(self) -> None:
        """Skip white space, newlines and comments (inside arrays)."""
        while self.pos < self.n:
            c = self.text[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                self.skip_line()
            else:
                return

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = self.n if end < 0 else end + 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise _Stop
        self.pos += 1

    # --- strings and keys ---------------------------------------------------------
    def skip_string(self) -> str:
        """Skip a string starting at ``pos``; return its raw text (quotes included)."""
        start = self.pos
        text = self.text
        if text.startswith('"""', start):
            self.pos = start + 3
            while True:
                m = _ML_BASIC_STOP.search(text, self.pos)
                if m is None:
                    raise _Stop
                self.pos = m.end()
                if m.group() == '"""':
                    break
            self._absorb_extra_quotes('"')
        elif text.startswith("'''", start):
            end = text.find("'''", start + 3)
            if end < 0:
                raise _Stop
            self.pos = end + 3
            self._absorb_extra_quotes("'")
        elif text.startswith('"', start):
            self.pos = start + 1
            while True:
                m = _BASIC_STOP.search(text, self.pos)
                if m is None or m.group() == "\n":
                    raise _Stop
                self.pos = m.end()
                if m.group() == '"':
                    break
        elif text.startswith("'", start):
            end = text.find("'", start + 1)
            newline = text.find("\n", start + 1)
            if end < 0 or 0 <= newline < end:
                raise _Stop
            self.pos = end + 1
        else:
            raise _Stop
        return text[start : self.pos]

    def _absorb_extra_quotes(self, quote: str) -> None:
        """TOML lets up to two quotes sit right before a closing triple quote."""
        for _ in range(2):
            if self.peek() == quote:
                self.pos += 1

    def key(self) -> list[tuple[str, int]]:
        """A possibly dotted key: its parts with the offset of each."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_spaces()
            start = self.pos
            c = self.peek()
            if c in ('"', "'"):
                raw = self.skip_string()
                try:
                    name = tomllib.loads("k = " + raw)["k"]
                except (tomllib.TOMLDecodeError, KeyError):
                    raise _Stop from None
            else:
                m = _BARE_KEY.match(self.text, self.pos)
                if m is None:
                    raise _Stop
                name = m.group()
                self.pos = m.end()
            parts.append((name, start))
            self.skip_spaces()
            if self.peek() != ".":
                return parts
            self.pos += 1

    def record_key(self, base: KeyPath, parts: list[tuple[str, int]]) -> KeyPath:
        """Record every prefix of a dotted key below ``base``; return the full path."""
        path = base
        for name, offset in parts:
            path = (*path, name)
            self.record(path, offset)
        return path

    # --- values ---------------------------------------------------------------------
    def scalar(self) -> None:
        """Skip a string, number, boolean or date-time."""
        if self.peek() in ('"', "'"):
            self.skip_string()
            return
        m = _DATETIME.match(self.text, self.pos) or _BARE_VALUE.match(self.text, self.pos)
        if m is None:
            raise _Stop
        self.pos = m.end()

    def value(self, path: KeyPath) -> None:
        """Scan one value for ``path``, recording the keys and elements inside it.

        Arrays and inline tables are followed with an explicit stack, not
        recursion, so no nesting depth can overflow Python's call stack.
        """
        stack: list[_Frame] = []
        current = path
        while True:
            self.skip_spaces()
            c = self.peek()
            if c in ("[", "{"):
                self.pos += 1
                stack.append(_Frame("array" if c == "[" else "table", current))
                if self.depth_limit is not None and len(stack) > self.depth_limit:
                    self.too_deep_at = self.where(self.pos - 1)
                    raise _Stop
            else:
                self.scalar()
            following = self.advance(stack)
            if following is None:
                return
            current = following

    def advance(self, stack: list[_Frame]) -> KeyPath | None:
        """Close finished containers; return the path of the next value to scan."""
        while stack:
            frame = stack[-1]
            closer = "]" if frame.kind == "array" else "}"
            self.skip_blank()
            if self.peek() == closer:
                self.pos += 1
                stack.pop()
                continue
            if frame.count > 0:
                self.expect(",")
                self.skip_blank()
                if self.peek() == closer:  # trailing comma
                    self.pos += 1
                    stack.pop()
                    continue
            if frame.kind == "array":
                path = (*frame.path, frame.count)
                self.record(path, self.pos)
            else:
                path = self.record_key(frame.path, self.key())
                self.skip_spaces()
                self.expect("=")
            frame.count += 1
            return path
        return None

    # --- document ---------------------------------------------------------------------
    def header(self) -> None:
        """A ``[table]`` or ``[[array.of.tables]]`` header line."""
        start = self.pos
        array = self.text.startswith("[[", start)
        self.pos += 2 if array else 1
        parts = self.key()
        self.expect("]")
        if array:
            self.expect("]")
        path: KeyPath = ()
        for i, (name, _offset) in enumerate(parts):
            path = (*path, name)
            last = i == len(parts) - 1
            if last and array:
                self.record(path, start)
                index = self.aot_index.get(path, -1) + 1
                self.aot_index[path] = index
                path = (*path, index)
            elif path in self.aot_index:
                path = (*path, self.aot_index[path])
            self.record(path, start)
        self.table = path

    def document(self) -> None:
        """Scan the whole text: headers, key/value lines, comments."""
        while self.pos < self.n:
            self.skip_spaces()
            c = self.peek()
            if c == "":
                return
            if c in "\r\n":
                self.pos += 1
            elif c == "#":
                self.skip_line()
            elif c == "[":
                self.header()
            else:
                path = self.record_key(self.table, self.key())
                self.skip_spaces()
                self.expect("=")
                self.value(path)


def build_index(text: str) -> TomlIndex:
    """Index every key of ``text``; never raises, keeps what it could read."""
    scanner = _Scanner(text.removeprefix("\ufeff"))
    with contextlib.suppress(Exception):  # a broken document still yields the keys read so far
        scanner.document()
    return TomlIndex(scanner.positions)


def locate(text: str, path: Iterable[KeyPart]) -> Position | None:
    """Position of ``path`` in ``text``, or of its nearest written ancestor."""
    found = build_index(text).nearest(path)
    return found[1] if found else None


def find_deep_nesting(text: str, limit: int = 100) -> Position | None:
    """Where arrays or inline tables first nest deeper than ``limit``.

    ``tomllib`` parses nested values recursively and fails with a bare
    ``RecursionError``; this gives the user a line and column to look at.
    """
    scanner = _Scanner(text.removeprefix("\ufeff"), depth_limit=limit)
    with contextlib.suppress(Exception):  # the scanner stops at the first problem; where it got to is the answer
        scanner.document()
    return scanner.too_deep_at


def format_key_path(path: Iterable[KeyPart]) -> str:
    """The user's own spelling of a key path: ``outcomes[2].window_days``.

    Array indices are 0-based, as in the key path; keys that are not bare
    TOML keys are quoted (``evidence.columns."Client Ref"``).
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else _quote(part)
        out += f".{name}" if out else name
    return out


def _quote(name: str) -> str:
    """A TOML basic-string key, with control characters escaped."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


__all__ = [
    "KeyPath",
    "Position",
    "TomlIndex",
    "build_index",
    "find_deep_nesting",
    "format_key_path",
    "locate",
]
