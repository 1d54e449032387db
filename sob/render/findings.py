"""Findings in the three formats of ``sob validate``: text, JSON and GitHub annotations.

The same :class:`~sob.findings.Finding` records come from contract checks and
from evidence data errors; this module only turns them into strings.  It
imports no Rich: the text format must be byte-identical on a terminal, in a
pipe and in CI, and editors parse its ``FILE:LINE:COL: CODE`` lines.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any
from unicodedata import east_asian_width

from sob.findings import Finding

SourceLine = Callable[[str, int], "str | None"]
# One delimiter for every evidence file, one per file, or None to sniff it from the line.
Delimiter = str | Mapping[str, str] | None

# Longest source line shown around a caret, and longest line ever kept in memory.
_SHOW_WIDTH = 120
_KEEP_BYTES = 64 * 1024
_SKIP_BLOCK = 1 << 22  # bytes read at a time while looking for a line
# Characters a caret underline stops at, unless it starts on a quote.
_TOKEN_STOP = set(" \t=,;|[]{}#")
# Evidence files, whose ``col`` is a field number; what to try when no delimiter is given.
_DELIMITED_SUFFIXES = (".csv", ".tsv", ".tab", ".psv", ".txt", ".dat")
_SNIFF = (",", ";", "\t", "|")
# Bidirectional controls can make a displayed line lie about its content.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def printable(text: object) -> str:
    """``text`` with control and bidi characters made harmless, one character for one.

    Evidence values end up in terminals and CI logs; an escape sequence or a
    line break inside a participant id must not recolour the terminal, fake
    a second finding or hide text.  Tabs become a space; every other control
    becomes U+FFFD, so caret columns stay where they were.
    """
    out = []
    for ch in str(text):
        if ch == "\t":
            out.append(" ")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _sort_key(f: Finding) -> tuple[bool, str, int, int]:
    """Findings without a file first, then by file, line and column (file-level first)."""
    return (f.file is not None, f.file or "", f.line or 0, f.col or 0)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable order for every format: by file, then line, then column.

    Stable, so findings on the same spot keep the order the checks found
    them in; sorted by line, so the line reader can stream each file once.
    """
    return sorted(findings, key=_sort_key)


def _count(findings: Iterable[Finding]) -> tuple[int, int]:
    """``(errors, warnings)``; any severity other than ``warning`` counts as an error."""
    errors = warnings = 0
    for f in findings:
        if f.severity == "warning":
            warnings += 1
        else:
            errors += 1
    return errors, warnings


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


def format_text(
    findings: list[Finding],
    source_line: SourceLine,
    *,
    delimiter: Delimiter = None,
) -> str:
    """hledger/ruff-style blocks, one per finding, blank line between blocks.

    Each block is ``FILE:LINE:COL: [warning ]CODE message``, then the source
    line under a line-number gutter with a caret under the column when the
    line can be read, then ``  hint: ...``: the finding's own hint, else the
    fix the code catalogue (:mod:`sob.codes`) gives for its code.  The summary line is not
    included: :func:`summary_line` makes it, so the CLI can send it to stderr.
    Returns ``""`` when there is nothing to report.

    In a TOML file ``col`` is a character column; in an evidence file it is
    the 1-based *field* number, so the caret goes under that field, found
    with ``delimiter`` (one for all files, or per file; sniffed from the
    line when not given).
    """
    blocks = [_text_block(f, source_line, delimiter) for f in sort_findings(findings)]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _text_block(f: Finding, source_line: SourceLine, delimiter: Delimiter) -> str:
    """One finding as its header line, excerpt and hint."""
    head = f"{printable(f.location)}: "
    if f.severity == "warning":
        head += "warning "
    lines = [f"{head}{printable(f.code)} {printable(f.message)}"]
    if f.file is not None and f.line is not None:
        text = _safe_source(source_line, f.file, f.line)
        if text is not None:
            lines.extend(_excerpt(f.line, text, _span(f, text, delimiter)))
    hint = f.shown_hint
    if hint:
        lines.append(f"  hint: {printable(hint)}")
    return "\n".join(lines)


def _safe_source(source_line: SourceLine, file: str, line: int) -> str | None:
    """The reader's answer, or None if it fails: a missing excerpt never hides a finding."""
    try:
        text = source_line(file, line)
    except Exception:  # a broken reader must not lose the report
        return None
    return text.rstrip("\r\n") if isinstance(text, str) else None


def _excerpt(line: int, text: str, span: tuple[int, int] | None) -> list[str]:
    """The gutter lines: the source line and, when the span is on it, a caret."""
    gutter = str(line)
    shown, span = _window(printable(text), span)
    out = [f"  {gutter} | {shown}".rstrip()]
    if span is not None:
        out.append(f"  {' ' * len(gutter)} | {_caret(shown, span)}")
    return out


# --- where the caret goes ----------------------------------------------------


def _is_delimited(file: str, delimiter: Delimiter) -> bool:
    """Whether ``col`` counts fields (evidence) rather than characters (the TOML contract)."""
    if isinstance(delimiter, Mapping) and file in delimiter:
        return True
    return file.lower().endswith(_DELIMITED_SUFFIXES)


def _delimiter_for(file: str, text: str, delimiter: Delimiter) -> str:
    """The delimiter given for ``file``, else the likeliest one in the line (``,`` on a tie)."""
    if isinstance(delimiter, str) and delimiter:
        return delimiter
    if isinstance(delimiter, Mapping) and delimiter.get(file):
        return delimiter[file]
    if file.lower().endswith((".tsv", ".tab")):
        return "\t"
    return max(_SNIFF, key=lambda d: (text.count(d), d == ","))


def _span(f: Finding, text: str, delimiter: Delimiter) -> tuple[int, int] | None:
    """``(1-based character column, width)`` to underline, or None when unknown."""
    if f.col is None or f.file is None:
        return None
    if _is_delimited(f.file, delimiter):
        return _field_span(text, f.col, _delimiter_for(f.file, text, delimiter))
    if not 1 <= f.col <= len(text) + 1:
        return None
    return f.col, _token_width(text[f.col - 1 :])


def _field_span(text: str, field: int, delim: str) -> tuple[int, int] | None:
    """Where CSV field number ``field`` sits in ``text`` (RFC 4180 quotes respected)."""
    if field < 1:
        return None
    i, n = 0, 1
    while True:
        start = i
        if i < len(text) and text[i] == '"':
            i += 1
            while i < len(text):
                if text[i] == '"':
                    if text[i + 1 : i + 2] == '"':
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
        while i < len(text) and text[i] != delim:
            i += 1
        if n == field:
            return start + 1, max(i - start, 1)
        if i >= len(text):
            return None  # fewer fields on this line (short row, or a quoted line break)
        i, n = i + len(delim), n + 1


def _token_width(rest: str) -> int:
    """Length of the key or value at the caret: a quoted string whole, else up to a separator."""
    if not rest:
        return 1
    if rest[0] in "\"'":
        close = rest.find(rest[0], 1)
        return close + 1 if close > 0 else 1
    n = 0
    while n < len(rest) and rest[n] not in _TOKEN_STOP:
        n += 1
    return max(n, 1)


def _window(text: str, span: tuple[int, int] | None) -> tuple[str, tuple[int, int] | None]:
    """Cut a long line to about ``_SHOW_WIDTH`` characters around the span.

    Evidence lines can be very long; the excerpt is there to point, not to
    reproduce the row.  Returns the shown text and the span within it.
    """
    if len(text) <= _SHOW_WIDTH:
        return text, span
    col = span[0] if span else 1
    start = max(0, min(col - 1 - _SHOW_WIDTH // 3, len(text) - _SHOW_WIDTH))
    end = start + _SHOW_WIDTH
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    if span is None:
        return shown, None
    new_col = col - start + (1 if start else 0)
    return shown, (new_col, max(1, min(span[1], len(shown) - new_col + 1)))


def _caret(text: str, span: tuple[int, int]) -> str:
    """Spaces up to the column (in terminal cells) and ``^`` under the span."""
    col, width = span
    prefix = text[: col - 1]
    cells = sum(2 if east_asian_width(ch) in "WF" else 1 for ch in prefix)
    return " " * cells + "^" * width


def summary_line(findings: list[Finding], n_files: int) -> str:
    """``3 errors, 1 warning in 2 files`` or ``no problems found in 2 files``.

    ``n_files`` is the number of distinct files checked.  When the problems
    sit in fewer of them, the line says so (``298 errors in 1 of 3 files``):
    "298 errors in 3 files" would send a reader looking through files that
    have none.
    """
    errors, warnings = _count(findings)
    files = _plural(n_files, "file")
    if not errors and not warnings:
        return f"no problems found in {files}"
    parts = [_plural(errors, "error") if errors else "no errors"]
    if warnings:
        parts.append(_plural(warnings, "warning"))
    named = len({f.file for f in findings if f.file is not None})
    if 0 < named < n_files:
        files = f"{named} of {files}"
    return f"{', '.join(parts)} in {files}"


def unique_findings(groups: Iterable[Iterable[Finding]]) -> list[Finding]:
    """The findings of several contracts, each problem once, in order.

    Two contracts that share an evidence file each report its data errors;
    listed and counted twice, one bad cell would read as two.
    """
    seen: set[Finding] = set()
    out: list[Finding] = []
    for group in groups:
        mine = list(group)
        out.extend(f for f in mine if f not in seen)
        seen.update(mine)
    return out


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------

_JSON_KEYS = ("valid", "files", "errors", "warnings", "findings")


def format_json(
    findings: list[Finding],
    files: list[str],
    extra: dict[str, Any] | None = None,
    *,
    strict: bool = False,
) -> str:
    """One JSON object: ``valid``, ``files``, ``errors``, ``warnings``, ``findings``, then ``extra``.

    ``valid`` is false when there is an error, or (``strict``) a warning.
    Findings are sorted by file and line like the text format.  ``extra``
    may add keys but never replace the stable ones (a ``ValueError``): CI
    scripts rely on them.  ASCII-only output, so no terminal encoding can
    break it.
    """
    errors, warnings = _count(findings)
    clash = set(extra or {}) & set(_JSON_KEYS)
    if clash:
        raise ValueError(f"extra keys would replace stable keys: {sorted(clash)}")
    doc: dict[str, Any] = {
        "valid": errors == 0 and not (strict and warnings),
        "files": list(files),
        "errors": errors,
        "warnings": warnings,
        "findings": [f.to_dict() for f in sort_findings(findings)],
    }
    doc.update(extra or {})
    return json.dumps(doc, indent=2, ensure_ascii=True, default=str) + "\n"


# --------------------------------------------------------------------------
# GitHub workflow commands
# --------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a workflow-command message: ``%``, CR and LF (GitHub's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(
    findings: list[Finding],
    source_line: SourceLine | None = None,
    *,
    delimiter: Delimiter = None,
) -> str:
    """One ``::error``/``::warning`` command per finding, hint included in the message.

    Warnings are emitted too (sqlfluff once dropped them silently).  Every
    value is escaped, so a line break in an evidence value cannot start a
    workflow command of its own.  GitHub's ``col`` is a character column:
    for an evidence finding (whose ``col`` is a field number) it is worked
    out from the line when ``source_line`` can read it, and left out
    otherwise rather than pointing at the wrong place.
    """
    return "".join(_github_line(f, source_line, delimiter) + "\n" for f in sort_findings(findings))


def _github_col(f: Finding, source_line: SourceLine | None, delimiter: Delimiter) -> int | None:
    """The character column of a finding, or None when it cannot be known."""
    if f.col is None or f.file is None or f.line is None:
        return None
    if not _is_delimited(f.file, delimiter):
        return f.col
    text = _safe_source(source_line, f.file, f.line) if source_line else None
    span = _field_span(text, f.col, _delimiter_for(f.file, text, delimiter)) if text is not None else None
    return span[0] if span else None


def _github_line(f: Finding, source_line: SourceLine | None = None, delimiter: Delimiter = None) -> str:
    """``::error file=F,line=L,col=C,title=CODE::message`` with missing parts left out."""
    level = "warning" if f.severity == "warning" else "error"
    props = []
    if f.file is not None:
        props.append(f"file={escape_property(f.file)}")
        if f.line is not None:
            props.append(f"line={f.line}")
            col = _github_col(f, source_line, delimiter)
            if col is not None:
                props.append(f"col={col}")
    props.append(f"title={escape_property(f.code)}")
    message = f.message if not f.hint else f"{f.message}\nhint: {f.hint}"
    return f"::{level} {','.join(props)}::{escape_data(message)}"


# --------------------------------------------------------------------------
# Source lines
# --------------------------------------------------------------------------


class _FileLines:
    """Requested lines of one file, read forward in one streaming pass.

    Only the lines asked for are kept; the byte offset after the last line
    read is remembered, so the next (later) request continues from there
    without holding the file open.  An earlier line that was not asked for
    before restarts from the top (rare: findings come sorted by line).
    """

    def __init__(self, path: str, encoding: str = "utf-8") -> None:
        self.path = path
        self.encoding = encoding
        self.lines: dict[int, str | None] = {}
        self.offset = 0  # byte offset of the start of line ``self.next_line``
        self.next_line = 1
        # a pipe or device is never opened again (a FIFO would wait for a writer)
        self.binary = path.lower().endswith((".parquet", ".pq", ".xlsx", ".xlsm", ".ods")) or not os.path.isfile(path)

    def get(self, line: int) -> str | None:
        if self.binary or line < 1:
            return None
        if line not in self.lines:
            if line < self.next_line:
                self.offset, self.next_line = 0, 1
            self.lines[line] = self._read_forward(line)
        return self.lines[line]

    def _read_forward(self, line: int) -> str | None:
        """Stream from the remembered offset to ``line``; None if the file ends first.

        Whole blocks are skipped by counting their line breaks (in C), so a
        finding on line 10,000,000 costs a read of the file, not a Python
        step per line.
        """
        try:
            with open(self.path, "rb") as fh:
                pos, at = self.offset, self.next_line
                fh.seek(pos)
                while at < line:
                    block = fh.read(_SKIP_BLOCK)
                    if not block:
                        return None
                    breaks = block.count(b"\n")
                    if at + breaks < line:  # ``line`` starts beyond this block
                        pos, at = pos + len(block), at + breaks
                        continue
                    end = -1
                    for _ in range(line - at):  # at most the breaks of one block
                        end = block.index(b"\n", end + 1)
                    pos, at = pos + end + 1, line
                fh.seek(pos)
                raw = _read_line(fh)
                if raw is None:
                    return None
                self.offset, self.next_line = fh.tell(), line + 1
        except (OSError, ValueError):
            return None
        return _decode(raw, line, self.encoding)


def _skip_line(fh: IO[bytes]) -> bool:
    """Consume one line without keeping it; False at end of file."""
    got = False
    while True:
        chunk = fh.readline(_KEEP_BYTES)
        if not chunk:
            return got
        got = True
        if chunk.endswith(b"\n"):
            return True


def _read_line(fh: IO[bytes]) -> bytes | None:
    """One line, cut to ``_KEEP_BYTES`` (the rest of a longer line is skipped); None at end."""
    raw = fh.readline(_KEEP_BYTES)
    if not raw:
        return None
    if not raw.endswith(b"\n"):
        _skip_line(fh)
    return raw


def _decode(raw: bytes, line: int, encoding: str = "utf-8") -> str | None:
    """The text of a line in the file's encoding (BOM dropped on line 1); None for binary content.

    The file was read in ``encoding`` (``[evidence] encoding``), so its line is
    shown in it too: a cp1252 "é" read as UTF-8 would show as a replacement
    character.  An encoding whose line break is not the byte ``\n`` (UTF-16)
    cannot be cut into lines here: no excerpt rather than a garbled one.
    """
    if b"\x00" in raw or not _splits_on_newline(encoding):
        return None
    text = raw.decode(encoding, errors="replace").rstrip("\r\n")
    if line == 1 and text.startswith("\ufeff"):
        text = text[1:]
    return text


def _splits_on_newline(encoding: str) -> bool:
    """The encoding writes a line break as the single byte ``\\n`` (UTF-8, cp1252, latin-1...); False if unknown."""
    try:
        return "\n".encode(encoding) == b"\n"
    except (LookupError, UnicodeError):
        return False


def file_line_reader(encodings: Mapping[str, str] | None = None) -> SourceLine:
    """A ``source_line(file, line)`` for :func:`format_text` that caches per file.

    Reads UTF-8, or the file's encoding in ``encodings`` (file name as the
    findings give it → Python codec name), with replacement characters, and
    never raises: a missing or unreadable file, a line past the end or a
    binary (Parquet) file gives None.  A large CSV is streamed up to the line
    asked for, never read whole; lines split on ``\\n`` as the contract and
    CSV readers count them.
    """
    files: dict[str, _FileLines] = {}
    known = dict(encodings or {})

    def source_line(file: str, line: int) -> str | None:
        try:
            reader = files.get(file)
            if reader is None:
                reader = files[file] = _FileLines(str(file), known.get(str(file), "utf-8"))
            return reader.get(int(line))
        except Exception:  # an excerpt is optional, the finding is not
            return None

    return source_line
