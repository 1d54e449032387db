"""Evidence files: read, type and check claims, the register and cohort results (SPEC 4).

``read_evidence`` turns the evidence files into typed polars frames plus a
:class:`~sob.findings.Finding` for every data error, without a Python loop
over rows: the only per-row Python work is building ``Finding`` objects for
rows that have errors, and the csv-module reader for files that are not
well-formed RFC 4180.

How a CSV file is read
----------------------
Every cell is read as text, trimmed, and an empty cell is null.  The record
structure (the line a record starts on, and whether it has the header's number
of cells) comes from one of three readers, tried in this order:

* **fast** (no ``"`` in the file): one streaming ``pl.scan_csv`` query that
  parses *and* runs every check.  It is trusted only after the fact, against
  byte counts a background thread takes while polars parses: the file must
  have exactly one record per line (newline count = rows), no lone CR, and
  the header's number of cells on every line (a delimiter count, taken only
  when some row's last cell came out empty: without quotes only such a row
  can be short).  Cells are not trimmed on the first try (trimming costs as
  much as parsing); when a data row holds a space byte the query flags rows
  with a space at the edge of a cell, and the read is redone with trimming
  when any row (or tab / Unicode white space in the bytes) says it is needed.
  The SHA-256 of a file is computed only when asked for.
* **structured** (quotes, blank lines, short rows...): ``pl.read_csv`` parses
  the cells (RFC 4180) while a ``pl.scan_lines`` pass works out the record
  structure: a line starts a record when the quotes before it are balanced,
  and a record's cells are its delimiters outside quotes plus one.  Every line
  is first matched against the RFC 4180 grammar, so the two views agree.
* **csv module** (malformed quoting, lone CR line breaks, anything the others
  cannot vouch for): Python's :mod:`csv`, record by record.  Always right,
  slower.  The other two readers are tested to give exactly what it gives.

Checks are vectorised polars expressions (text is parsed with ``strict=False``
and a cell is bad when its text is non-null and its parsed value is null); the
``error`` column is one ``pl.when`` chain in the order of SPEC 4.4.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import itertools
import mmap
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import polars as pl

from sob.contract import Contract
from sob.findings import Finding, UsageError, cut
from sob.idkeys import Packing, comparable, keys_of, positions_in

__all__ = ["KIND_COLUMNS", "Evidence", "EvidenceFile", "read_evidence", "read_inline"]

# --------------------------------------------------------------------------------------
# Column specifications
# --------------------------------------------------------------------------------------

STATUSES = ("claimed", "withdrawn", "failed")
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_RESERVED = ("line", "error")  # columns sob adds to every frame
_INTERNAL = "__sob"  # prefix of working columns; a header may not start with it


@dataclass(frozen=True)
class _Kind:
    kind: str  # "claims" | "participants" | "results"
    id_col: str
    columns: tuple[str, ...]  # canonical columns, in frame order
    required: tuple[str, ...]


_CLAIMS = _Kind(
    "claims",
    "claim_id",
    ("claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status",
     "evidence_ref", "amount_claimed"),
    ("claim_id", "participant_id", "outcome_id", "achieved_on"),
)
_PARTICIPANTS = _Kind(
    "participants",
    "participant_id",
    ("participant_id", "enrolled_on", "eligible", "cohort"),
    ("participant_id", "enrolled_on"),
)
_RESULTS = _Kind(
    "results",
    "result_id",
    ("result_id", "outcome_id", "cohort", "achieved_on", "submitted_on", "baseline", "observed",
     "units", "status"),
    ("result_id", "outcome_id", "cohort", "achieved_on", "baseline", "observed"),
)
_KINDS = {k.kind: k for k in (_CLAIMS, _PARTICIPANTS, _RESULTS)}

#: canonical columns of each evidence file, in the order of the typed frames
KIND_COLUMNS: dict[str, tuple[str, ...]] = {k: v.columns for k, v in _KINDS.items()}

_TYPED_SCHEMA: dict[str, dict[str, pl.DataType]] = {
    "claims": {
        "line": pl.Int64(), "claim_id": pl.String(), "participant_id": pl.String(),
        "outcome_id": pl.String(), "achieved_on": pl.Date(), "submitted_on": pl.Date(),  # see _typed_schema
        "status": pl.Enum(STATUSES), "evidence_ref": pl.String(), "amount_claimed": pl.Int64(),
        "error": pl.String(),
    },
    "participants": {
        "line": pl.Int64(), "participant_id": pl.String(), "enrolled_on": pl.Date(),
        "eligible": pl.Boolean(), "cohort": pl.String(), "error": pl.String(),
    },
    "results": {
        "line": pl.Int64(), "result_id": pl.String(), "outcome_id": pl.String(),
        "cohort": pl.String(), "achieved_on": pl.Date(), "submitted_on": pl.Date(),
        "baseline": pl.String(), "observed": pl.String(), "units": pl.String(),
        "status": pl.String(), "error": pl.String(),
    },
}


def _typed_schema(kind: _Kind, contract: Contract, frame: pl.DataFrame | None = None) -> dict[str, pl.DataType]:
    """The typed frame's columns; a claim's ``outcome_id`` is an Enum of the rate card's ids.

    An Enum costs a byte a row where the text costs 16, on millions of claims.
    Its values are the contract's outcome ids in rate-card order, then the
    unknown ids ``frame`` holds (rows rejected as ``UNKNOWN_OUTCOME``), so
    no id is lost.
    """
    schema = dict(_TYPED_SCHEMA[kind.kind])
    if kind is _CLAIMS:
        ids = [o.id for o in contract.outcomes]
        if frame is not None:
            known = set(ids)
            ids += sorted(v for v in frame["outcome_id"].drop_nulls().unique().to_list() if v not in known)
        schema["outcome_id"] = pl.Enum(ids)
    return schema


# Order in which a row's reject reason is chosen (SPEC 4.4); findings of one
# line are listed in this order too.
_PRIORITY = (
    "DUPLICATE_ID", "DUPLICATE_PARTICIPANT", "DUPLICATE_ROW",
    "BAD_ROW_LENGTH", "MISSING_VALUE", "BAD_DATE", "SUBMITTED_BEFORE_ACHIEVED", "BAD_STATUS",
    "BAD_BOOLEAN", "UNKNOWN_OUTCOME", "WRONG_OUTCOME_KIND", "UNKNOWN_PARTICIPANT",
    "BAD_NUMBER", "NON_POSITIVE_BASELINE",
)
_PRIO = {c: i for i, c in enumerate(_PRIORITY)}

_DECIMAL_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
# What "trimmed of white space" removes: Unicode White_Space, as polars' strip_chars() does.
_WS = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
       + "\u2028\u2029\u202f\u205f\u3000")
# The non-ASCII ones as UTF-8 bytes: a file without them (and without tab, VT, FF)
# can only hold ASCII spaces at the edges of its cells.
_WIDE_WS = re.compile(rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")
_CHUNK = 1 << 23

try:  # very long cells are data, not a reason to crash the csv module
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
except OverflowError:  # pragma: no cover
    csv.field_size_limit(2**31 - 1)


# --------------------------------------------------------------------------------------
# Public data classes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence file as read: its kind, path, record count and SHA-256.

    The SHA-256 is computed when first asked for: a ledger close and the
    sign-off view need it, ``validate`` and ``pay --format json`` do not.
    """

    kind: str  # "claims" | "participants" | "results"
    path: Path
    rows: int  # data records read (blank lines excluded)
    digest: Callable[[], str] = field(repr=False, compare=False)

    @cached_property
    def sha256(self) -> str:
        """Hex digest of the file's bytes."""
        return self.digest()


@dataclass
class Evidence:
    """Typed evidence frames plus every problem found while reading them.

    ``findings`` holds the data errors (severity ``error``) and warnings
    (``DUPLICATE_ROW``) in file order (claims, participants, results) and line
    order; ``file_errors`` holds the file-level errors (``MISSING_COLUMN``,
    ``MISSING_REGISTER``, ``DUPLICATE_COLUMN``) that stop any run — they are
    not repeated in ``findings``.  A file with a file-level error has no frame.
    """

    claims: pl.DataFrame | None = None
    participants: pl.DataFrame | None = None
    results: pl.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    file_errors: list[Finding] = field(default_factory=list)
    files: list[EvidenceFile] = field(default_factory=list)
    carried_columns: list[str] = field(default_factory=list)
    has_amount_claimed: bool = False  # the claims file has an amount_claimed column (SPEC 9 export)
    has_evidence_ref: bool = False  # the claims file has an evidence_ref column (carried through, SPEC 4.1)
    #: For each row of ``claims``, the row of ``participants`` that holds its participant (UInt32, null
    #: when the register does not have it), as the reader found them; ``None`` when it did not keep them.
    #: ``assess(..., participant_rows=...)`` then does not search the register again.
    participant_rows: pl.Series | None = None

    @property
    def errors(self) -> list[Finding]:
        """File-level errors and data errors (warnings left out)."""
        return self.file_errors + [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------------------
# Reading bytes: existence, encoding sniffing, hashing and byte counts
# --------------------------------------------------------------------------------------


def _unreadable(label: str, why: str) -> UsageError:
    return UsageError(f"cannot read {label}: {why}")


@dataclass
class _Counts:
    """Byte facts about a whole file, gathered in one pass while polars parses it."""

    delimiters: int | None  # None when the pass did not count them (see _Source.delimiters)
    newlines: int
    carriage_returns: int
    crlf: int
    ends_with_newline: bool
    odd_whitespace: bool  # tab (unless it is the delimiter), VT, FF or non-ASCII white space somewhere
    has_nul: bool
    uncounted: int = 0  # delimiters were counted from this offset on (the chunk of the first quote)


class _ByteScan:
    """Counts over a file read chunk by chunk (state carried across chunk edges).

    Every test but the counts is a ``memchr``-speed ``find``; the newline count
    is the one full count always taken (by polars for a file: ``_lines_in``;
    ``count_newlines=False`` then).  Delimiters are counted only when asked
    (files with quotes), because a file without quotes can only have a short
    row where a row's last cell is empty, which the reader sees for itself.

    ``find_marks``: the scan also finds the first quote and the spaces that
    ``_Source.space_from_line`` asks about (``_Source`` otherwise finds them up
    front), and counts delimiters from the chunk holding the first quote on.
    """

    def __init__(self, delim: bytes, count_delimiters: bool, find_marks: bool = False,
                 count_newlines: bool = True) -> None:
        self.delim = delim
        self.count_delimiters = count_delimiters
        self.count_newlines = count_newlines
        self.delimiters = self.newlines = self.carriage_returns = self.crlf = 0
        self.odd_whitespace = False
        self.has_nul = False
        self.tail = b""  # the last bytes of the previous chunk
        self.offset = 0  # bytes fed so far
        self.uncounted = 0
        self.marks = _Marks() if find_marks else None

    def feed(self, data: bytes | bytearray, n: int) -> None:
        chunk = data if n == len(data) else data[:n]
        if not n:
            return
        if self.marks is not None:
            self.marks.find(chunk, self.offset)
            if not self.count_delimiters and self.marks.quote >= 0:
                self.count_delimiters, self.uncounted = True, self.offset
        if not self.odd_whitespace:
            self.odd_whitespace = self._odd_whitespace(chunk)
        if not self.has_nul:
            self.has_nul = chunk.find(b"\x00") >= 0
        if self.count_delimiters:
            self.delimiters += chunk.count(self.delim)
        if self.count_newlines:
            self.newlines += chunk.count(b"\n")
        if self.tail.endswith(b"\r") and chunk[0] == 10:
            self.crlf += 1
        if chunk.find(b"\r") >= 0:
            self.carriage_returns += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n")
        self.tail = bytes(chunk[-2:])
        self.offset += n

    def _odd_whitespace(self, chunk: bytes | bytearray) -> bool:
        """White space other than the ASCII space: tab (unless it is the delimiter), VT, FF, Unicode."""
        if self.delim != b"\t" and chunk.find(b"\t") >= 0:
            return True
        if chunk.find(b"\x0b") >= 0 or chunk.find(b"\x0c") >= 0:
            return True
        if chunk.isascii():
            return False
        # a multi-byte space may straddle the previous chunk's end
        return bool(_WIDE_WS.search(chunk) or _WIDE_WS.search(self.tail + chunk[:2]))

    def result(self) -> _Counts:
        return _Counts(self.delimiters if self.count_delimiters else None, self.newlines, self.carriage_returns,
                       self.crlf, ends_with_newline=self.tail.endswith(b"\n"),
                       odd_whitespace=self.odd_whitespace, has_nul=self.has_nul, uncounted=self.uncounted)


class _Marks:
    """Where a file's first quote is, its first space, and the first space on a later line (-1: none).

    Found chunk by chunk; the same answers as ``find`` over the whole file.
    """

    def __init__(self) -> None:
        self.quote = self.space = self.later_space = -1
        self._step = 0  # looking for: 0 the first space, 1 the end of its line, 2 a space after that

    def find(self, chunk: bytes | bytearray, offset: int) -> None:
        if self.quote < 0 and (at := chunk.find(b'"')) >= 0:
            self.quote = offset + at
        pos = 0
        while self._step < 3 and (pos := chunk.find(b"\n" if self._step == 1 else b" ", pos)) >= 0:
            if self._step == 0:
                self.space = offset + pos
            elif self._step == 2:
                self.later_space = offset + pos
            self._step += 1


def _lines_in(path: Path) -> int | None:
    """The lines of a file, counted by polars (line breaks, plus a last line without one); ``None`` if it fails.

    polars counts on both cores without the GIL, about twice as fast as
    ``bytes.count``.  With no quote character every line break ends a line,
    whatever the bytes (``test_polars_counts_every_line`` holds it to that).
    """
    try:
        return int(pl.scan_csv(path, has_header=False, quote_char=None, infer_schema=False, raise_if_empty=False,
                               glob=False).select(pl.len()).collect().item())
    except pl.exceptions.PolarsError:  # pragma: no cover
        return None


def _chunks(path: Path, end: int | None = None):
    """The file's bytes (up to offset ``end``) in chunks of ``_CHUNK`` (one reused buffer): ``(buffer, length)``."""
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    left = end
    with open(path, "rb") as fh:
        while n := fh.readinto(buf if left is None or left >= _CHUNK else view[:left]):
            yield buf, view, n
            if left is not None:
                left -= n


class _Source:
    """A file opened for reading.

    Up front: the head (for the header and encoding sniffing) and whether the
    file holds a quote at all (one ``memchr`` over a memory map).  The byte
    counts that verify the fast reader (``_ByteScan``) come from a background
    thread while polars parses (polars releases the GIL).  The SHA-256 is
    only computed when asked for (a ledger close, the sign-off view): most
    runs never need it, and hashing competes with parsing for the two cores.
    ``source`` is what polars reads: the path of a regular file, or the
    bytes of anything else (a pipe).

    ``later=True`` (the claims, read after the register): nothing is searched
    up front.  The background scan finds the quote and spaces too, in the
    one pass it makes anyway, while polars reads the register; asking for
    them waits for the scan.  The claims are then parsed with both cores to
    themselves, instead of beside a scan of their own bytes.
    """

    def __init__(self, path: Path, label: str, delim: str, *, scan: bool = True, later: bool = False) -> None:
        """``scan=False``: no byte counts (a Parquet file, which polars checks itself)."""
        self.label = label
        self.path = path
        self.delim = delim
        self._delim = delim.encode("utf-8")
        self._counts: _Counts | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._sha256: str | None = None
        self._delimiters: int | None = None
        self._marks: _Marks | None = None
        self.data: bytes | None = None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise _unreadable(label, "no such file") from None
        except OSError as exc:
            raise _unreadable(label, exc.strerror or str(exc)) from None
        if stat.S_ISDIR(st.st_mode):
            raise _unreadable(label, "it is a directory, not a file")
        later = later and scan and stat.S_ISREG(st.st_mode)
        mm: mmap.mmap | None = None
        try:
            with open(path, "rb") as fh:
                if stat.S_ISREG(st.st_mode) and st.st_size > 0 and not later:
                    try:
                        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                    except (OSError, ValueError):  # pragma: no cover - odd file systems
                        mm = None
                if later:
                    self.head_bytes = fh.read(1 << 16)
                elif mm is None:
                    self.data = fh.read()
        except OSError as exc:
            raise _unreadable(label, exc.strerror or str(exc)) from None
        if later:
            self.size = st.st_size
        else:
            buf: bytes | mmap.mmap = mm if mm is not None else self.data  # type: ignore[assignment]
            try:
                self.size = len(buf)
                self.head_bytes = bytes(buf[: 1 << 16])
                # the whole-file facts needed before reading (memchr); the rest comes from _ByteScan
                self._marks = _Marks()
                self._marks.find(buf, 0)
            finally:
                if mm is not None:
                    mm.close()
        self.source: str | bytes = str(path) if self.data is None else self.data
        if not scan:
            return
        if self.data is None:
            self._thread = threading.Thread(target=self._scan_file, args=(later,), daemon=True)
            self._thread.start()
        else:
            counter = _ByteScan(self._delim, count_delimiters=True)
            counter.feed(self.data, len(self.data))
            self._counts = counter.result()

    @property
    def marks(self) -> _Marks:
        """The quote and spaces found, up front or by the scan (then waited for)."""
        if self._marks is None:
            self.counts()
        assert self._marks is not None
        return self._marks

    @property
    def has_quote(self) -> bool:
        return self.marks.quote >= 0

    def space_from_line(self, line: int) -> bool:
        """Could a space byte lie on line ``line`` (0-based) or after?  ``True`` when unsure."""
        if self.marks.space < 0:
            return False
        offset = 0
        for _ in range(line):
            offset = self.head_bytes.find(b"\n", offset) + 1
            if offset == 0:
                return True  # the line starts beyond the head
        # the first space is before ``line``, so its whole line is: only a space on another line counts
        return self.marks.space >= offset or self.marks.later_space >= 0

    def sniff(self, whole: bool = False) -> None:
        """Refuse what is not UTF-8 text: UTF-16/32 (by BOM or NUL bytes) and binary files.

        The head is checked up front; ``whole=True`` checks the byte scan of the
        whole file (call it before returning anything read from the file).
        """
        if self.head_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise _unreadable(self.label, "it is UTF-16 (or UTF-32) text; save it as UTF-8")
        if b"\x00" in self.head_bytes or (whole and self.counts().has_nul):
            raise _unreadable(
                self.label, "it holds NUL bytes (a binary file, or UTF-16 text); evidence must be UTF-8 CSV"
            )

    @property
    def has_cr(self) -> bool:
        return self.counts().carriage_returns > 0

    def head(self, n: int) -> bytes:
        if n <= len(self.head_bytes) or self.size <= len(self.head_bytes):
            return self.head_bytes[:n]
        if self.data is not None:
            return self.data[:n]
        try:
            with open(self.path, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            raise _unreadable(self.label, exc.strerror or str(exc)) from None

    def all_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise _unreadable(self.label, exc.strerror or str(exc)) from None

    def _scan_file(self, later: bool) -> None:
        try:
            scan = _ByteScan(self._delim, count_delimiters=not later and self.has_quote, find_marks=later,
                             count_newlines=False)
            for buf, _view, n in _chunks(self.path):
                scan.feed(buf, n)
            lines = _lines_in(self.path)
            if lines is None:  # pragma: no cover - polars could not count: count here
                scan.newlines = sum(buf.count(b"\n", 0, n) for buf, _view, n in _chunks(self.path))
            else:  # a last line without a line break is a line too
                scan.newlines = lines - (0 if scan.offset == 0 or scan.tail.endswith(b"\n") else 1)
            self._counts = scan.result()
            if later:
                self._marks = scan.marks
        except BaseException as exc:  # noqa: BLE001  # pragma: no cover - re-raised in counts()
            self._error = exc

    def counts(self) -> _Counts:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise _unreadable(self.label, str(self._error))
        assert self._counts is not None
        return self._counts

    def delimiters(self) -> int:
        """How many delimiter bytes the file holds (a second pass when the scan did not count them)."""
        c = self.counts()
        if c.delimiters is not None and not c.uncounted:
            return c.delimiters
        if self._delimiters is None:
            end = c.uncounted if c.delimiters is not None else self.size
            try:
                self._delimiters = (c.delimiters or 0) + sum(
                    buf.count(self._delim, 0, n) for buf, _view, n in _chunks(self.path, end))
            except OSError as exc:
                raise _unreadable(self.label, exc.strerror or str(exc)) from None
        return self._delimiters

    def sha256(self) -> str:
        """The SHA-256 of the file's bytes, computed on first use (``hashlib`` releases the GIL)."""
        if self._sha256 is None:
            if self.data is not None:
                self._sha256 = hashlib.sha256(self.data).hexdigest()
            else:
                h = hashlib.sha256()
                try:
                    for _buf, view, n in _chunks(self.path):
                        h.update(view[:n])
                except OSError as exc:
                    raise _unreadable(self.label, exc.strerror or str(exc)) from None
                self._sha256 = h.hexdigest()
        return self._sha256

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


# --------------------------------------------------------------------------------------
# Header handling
# --------------------------------------------------------------------------------------


def _is_blank(cells: list[str]) -> bool:
    return not any(c.strip(_WS) for c in cells)


@dataclass
class _HeaderAt:
    cells: list[str]  # raw cells of the header record
    start: int  # 0-based line the header starts on (lines before it are blank)
    data_start: int  # lines up to and including the header's last line
    pre_delimiters: int  # delimiters on the blank lines before the header


def _find_header(src: _Source, delim: str) -> _HeaderAt | None:
    """The header record: the first record that is not blank.  ``None`` when there is none."""
    n = 1 << 16
    while True:
        complete = n >= src.size
        chunk = src.head(n)
        if not complete:
            cut_at = chunk.rfind(b"\n")
            if cut_at < 0:
                n *= 4
                continue
            chunk = chunk[: cut_at + 1]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable(src.label, "it is not UTF-8 text") from None
        text = text.removeprefix("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False)
        before = 0
        total_lines = len(io.StringIO(text, newline="").readlines())
        for row in reader:
            if not _is_blank(row):
                end = reader.line_num
                if not complete and end >= total_lines:
                    break  # the record may go on past this chunk: read more
                lines = io.StringIO(text, newline="").readlines()[:before]
                return _HeaderAt(row, before, end, sum(line.count(delim) for line in lines))
            before = reader.line_num
        if complete:
            return None
        n *= 4


def _regex_char(ch: str) -> str:
    return f"\\x{{{ord(ch):X}}}"


@dataclass
class _Header:
    names: list[str]  # frame name per file column (canonical or carried), first ncols columns
    canon_pos: dict[str, int]  # canonical column -> 0-based position
    carried: list[str]
    shown: dict[str, str]  # frame name -> header as written in the file
    ncols: int
    nraw: int  # cells in the header record, trailing empty ones included
    line: int  # 1-based line of the header


def _resolve_header(
    kind: _Kind, raw_cells: list[str], line: int, label: str, columns_map: dict[str, str]
) -> tuple[_Header | None, list[Finding]]:
    errors: list[Finding] = []
    cells = [c.strip(_WS) for c in raw_cells]
    if cells and cells[0].startswith("\ufeff"):
        cells[0] = cells[0][1:].strip(_WS)
    nraw = len(cells)
    while cells and cells[-1] == "":
        cells.pop()
    names = [c if c else f"column_{i + 1}" for i, c in enumerate(cells)]
    first_at: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first_at:
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"column {name!r} appears twice in the header (columns {first_at[name] + 1} and {i + 1})",
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint="rename or remove one of them",
            ))
        else:
            first_at[name] = i
    # where each canonical column is looked for ("found only under its mapped header")
    wanted = {c: str(columns_map.get(c, c)).strip() for c in kind.columns}
    by_header: dict[str, list[str]] = {}
    for canon, header in wanted.items():
        by_header.setdefault(header, []).append(canon)
    for header, canons in by_header.items():
        if len(canons) > 1:
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"[evidence.columns] maps {', '.join(canons)} to the same header {header!r}",
                file=label, line=line, field=header, value=cut(header),
                hint="each column needs a header of its own",
            ))
    canon_pos: dict[str, int] = {}
    for canon in kind.columns:
        if wanted[canon] in first_at and len(by_header[wanted[canon]]) == 1:
            canon_pos[canon] = first_at[wanted[canon]]
    for canon in kind.required:
        if canon in canon_pos or len(by_header[wanted[canon]]) > 1:
            continue
        header = wanted[canon]
        label_h = f"{canon!r}" if header == canon else f"{header!r} (the header [evidence.columns] gives for {canon})"
        hint = None
        lower = {n.lower(): n for n in first_at}
        if header != canon and canon in first_at:
            hint = f"the file has a {canon!r} column, but [evidence.columns] says {canon} is under {header!r}"
        elif header.lower() in lower:
            hint = f"did you mean {lower[header.lower()]!r}? (headers are case-sensitive)"
        else:
            close = difflib.get_close_matches(header, list(first_at), n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
        errors.append(Finding(
            code="MISSING_COLUMN",
            message=f"the {kind.kind} file has no column {label_h}",
            file=label, line=line, field=canon, value=None, hint=hint,
        ))
    taken = set(canon_pos.values())
    carried: list[str] = []
    for i, name in enumerate(names):
        if i in taken or first_at.get(name) != i:
            continue
        if name in kind.columns:
            if name in kind.required and name not in canon_pos:
                continue  # already reported as MISSING_COLUMN (with a hint about the mapping)
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=(f"column {name!r} clashes with the {name} column, which [evidence.columns] "
                         f"maps to {wanted[name]!r}"),
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint=f"rename the column, or remove {name} from [evidence.columns]",
            ))
            continue
        if name in _RESERVED or name.startswith(_INTERNAL):
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"column {name!r} clashes with the {name!r} column sob adds to every row",
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint="rename the column",
            ))
            continue
        carried.append(name)
    frame_names = list(names)
    for canon, pos in canon_pos.items():
        frame_names[pos] = canon
    shown = {frame_names[i]: names[i] for i in range(len(names))}
    header = _Header(
        names=frame_names, canon_pos=canon_pos, carried=carried, shown=shown,
        ncols=len(names), nraw=nraw, line=line,
    )
    return (None if errors else header), errors


# --------------------------------------------------------------------------------------
# CSV readers.  Each gives `line`, `__sob_ncells` (null = right length) and
# `_c0.._c{ncols-1}` (trimmed text, empty -> null), blank records left out.
# --------------------------------------------------------------------------------------


class _Fallback(Exception):
    """The faster reader cannot vouch for this file: use a slower one."""


def _clean(e: pl.Expr) -> pl.Expr:
    """Trimmed text, null when empty (polars already reads an empty cell as null)."""
    return e.str.strip_chars().replace("", None)


def _cells_frame_schema(ncols: int) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"line": pl.Int64(), "__sob_ncells": pl.Int64()}
    schema.update({f"_c{i}": pl.String() for i in range(ncols)})
    return schema


def _fast_lazy(src: _Source, at: _HeaderAt, header: _Header, delim: str, strip: bool) -> pl.LazyFrame:
    """``scan_csv`` straight into the checks, verified afterwards by ``_fast_check``.

    Rows keep a ``__sob_blank`` flag instead of being filtered, so the row count
    can be checked against the file's line count.  With ``strip=False`` cells
    are not trimmed (trimming costs as much as parsing); instead ``__sob_ws``
    flags rows with a cell that starts or ends with a space, and the read is
    redone with trimming when any row (or the byte scan) says it was needed.
    When the file holds quotes, ``__sob_qd`` counts the delimiters inside each
    row's cells (they can only be there in quoted cells).
    """
    ncols, nraw = header.ncols, header.nraw
    quoted = src.has_quote
    lf = pl.scan_csv(
        src.source, has_header=True, skip_lines=at.start, new_columns=[f"_c{i}" for i in range(nraw)],
        infer_schema=False, separator=delim, quote_char='"' if quoted else None, truncate_ragged_lines=False,
        raise_if_empty=False, glob=False,
    ).with_row_index("__sob_i")
    if strip:
        clean = _clean
    elif quoted:  # polars reads a quoted empty cell ("") as "", not null
        def clean(e: pl.Expr) -> pl.Expr:
            return pl.when(e.str.len_bytes() > 0).then(e)
    else:
        def clean(e: pl.Expr) -> pl.Expr:
            return e
    cells = [clean(pl.col(f"_c{i}")).alias(f"_c{i}") for i in range(ncols)]
    if nraw > ncols:  # cells under trailing blank header names must be empty
        long: pl.Expr = pl.any_horizontal([clean(pl.col(f"_c{i}")).is_not_null() for i in range(ncols, nraw)])
    else:
        long = pl.lit(False)
    if not strip and (quoted or src.space_from_line(at.data_start)):
        edge = [pl.col(f"_c{i}") for i in range(nraw)]
        ws = [pl.any_horizontal([e.str.starts_with(" ") | e.str.ends_with(" ") for e in edge]).alias("__sob_ws")]
    elif not strip:  # no space byte among the data rows: no cell starts or ends with one
        ws = [pl.lit(False).alias("__sob_ws")]
    else:
        ws = []
    if quoted:
        ws.append(pl.sum_horizontal([pl.col(f"_c{i}").str.count_matches(delim, literal=True)
                                     for i in range(nraw)]).cast(pl.Int64).alias("__sob_qd"))
    else:  # only a row whose last cell is empty can be short of cells (see _fast_check)
        ws.append(pl.col(f"_c{nraw - 1}").is_null().alias("__sob_last_null"))
    lf = lf.select(
        (pl.col("__sob_i").cast(pl.Int64) + (at.data_start + 1)).alias("line"),
        pl.when(long).then(pl.lit(nraw, dtype=pl.Int64)).otherwise(pl.lit(None, dtype=pl.Int64)).alias("__sob_ncells"),
        *cells,
        long.alias("__sob_long"),
        *ws,
    )
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & ~pl.col("__sob_long")
    return lf.with_columns(blank.alias("__sob_blank")).drop("__sob_long")


def _fast_check(src: _Source, at: _HeaderAt, header: _Header, df: pl.DataFrame) -> str:
    """Can the fast read be trusted?  ``ok``, ``strip`` (redo it trimming cells) or ``exact``.

    ``exact``: the file is not one record per line with the header's number of
    cells on every line (counted from the bytes), so the line numbers or row
    lengths polars saw cannot be trusted.
    """
    c = src.counts()
    rows = df.height
    lines = c.newlines + (0 if c.ends_with_newline or src.size == 0 else 1)
    if not (c.carriage_returns == c.crlf and lines == at.data_start + rows):
        return "exact"
    # Every line is one record.  Without quotes, polars reads every cell a line
    # has (more than the header's is an error), so a line can only be short of
    # cells where its last cell came out empty: only then are delimiters counted.
    if "__sob_qd" in df.columns or df["__sob_last_null"].any():
        inside = 0
        if "__sob_qd" in df.columns:  # delimiters inside quoted cells, header and rows
            inside = sum(cell.count(src.delim) for cell in at.cells) + int(df["__sob_qd"].sum() or 0)
        if src.delimiters() != at.pre_delimiters + (header.nraw - 1) * (rows + 1) + inside:
            return "exact"
    if "__sob_ws" in df.columns and (c.odd_whitespace or df["__sob_ws"].any()):
        return "strip"
    return "ok"


def _well_formed(src: _Source, at: _HeaderAt) -> bool:
    """Every line from the header on is a whole RFC 4180 record (no quote left open).

    Only then do polars and Python's csv module read the same cells from it.
    One allocation-free regular expression match per line.
    """
    d = _regex_char(src.delim)
    f = f'(?:"(?:[^"]|"")*"|[^"{d}\r]*)'
    line = f"^(?:{f}{d})*{f}$"
    try:
        return bool(
            pl.scan_lines(src.source, name="_t", glob=False).slice(at.start)
            .select(pl.col("_t").str.contains(line).all()).collect().item()
        )
    except pl.exceptions.PolarsError:
        return False


# RFC 4180 building blocks for one line of text (a quoted field may span lines).
def _line_patterns(delim: str) -> tuple[str, str, str, str]:
    d = _regex_char(delim)
    q = r'"(?:[^"]|"")*"'  # a closed quoted field
    u = f'[^"{d}\\r]*'  # an unquoted field
    o = r'"(?:[^"]|"")*'  # a quoted field still open at the end of the line
    f = f"(?:{q}|{u})"
    outside = f"^(?:{f}{d})*(?:{f}|{o})$"  # a line that starts outside quotes
    inside = f'^(?:[^"]|"")*(?:"(?:{d}{f})*(?:{d}{o})?)?$'  # a line that starts inside a quoted field
    prefix = r'^(?:[^"]|"")*(?:"|$)'  # the rest of a quoted field at the start of a continuation line
    qseg = r'"(?:[^"]|"")*(?:"|$)'
    return outside, inside, prefix, qseg


def _read_structured(src: _Source, at: _HeaderAt, header: _Header, delim: str) -> pl.DataFrame:
    """Cells from ``pl.read_csv`` (RFC 4180); record structure from a scan of the lines.

    A line starts a new record when the quotes before it are balanced; the
    cells of a record are the delimiters outside quotes plus one.  Every line
    is checked against the RFC 4180 grammar first, so polars, this structure
    and Python's csv module agree; otherwise ``_Fallback``.
    """
    ncols = header.ncols
    if src.has_cr:
        c = src.counts()
        if c.carriage_returns != c.crlf:
            # a lone CR, even inside quotes, is a line break to the csv module: let it number the lines
            raise _Fallback("lone carriage return")
    outside, inside, prefix, qseg = _line_patterns(delim)
    try:
        vals = pl.read_csv(
            src.source, has_header=True, skip_lines=at.start,
            new_columns=[f"_c{i}" for i in range(header.nraw)], infer_schema=False,
            truncate_ragged_lines=True, separator=delim, quote_char='"', raise_if_empty=False,
            glob=False,
        )
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise _unreadable(src.label, "it is not UTF-8 text") from None
        raise _Fallback(str(exc)) from None
    if vals.width != header.nraw:
        raise _Fallback("header width")
    t = pl.col("_t")
    lines_lf = pl.scan_lines(src.source, name="_t", glob=False).with_row_index("_ln", offset=1).slice(at.data_start)
    if src.has_quote:
        q = t.str.count_matches('"', literal=True).cast(pl.Int64)
        cont = ((pl.col("_q").cum_sum() - pl.col("_q")) % 2 == 1)
        # The regular expressions only run on lines that hold a quote or continue a quoted
        # cell; other lines are blanked first (``when`` evaluates both branches on every row).
        quoted = (pl.col("_q") > 0) | pl.col("_cont")
        tq = pl.when(quoted).then(t).otherwise(pl.lit(""))
        lines_lf = lines_lf.with_columns(q.alias("_q")).with_columns(cont.alias("_cont")).with_columns(
            tq.alias("_tq")).select(
            pl.col("_ln").cast(pl.Int64),
            pl.col("_cont"),
            pl.col("_q"),
            pl.when(pl.col("_cont")).then(pl.col("_tq").str.contains(inside))
            .otherwise(pl.col("_tq").str.contains(outside)).alias("_ok"),
            pl.when(quoted).then(
                pl.when(pl.col("_cont")).then(pl.col("_tq").str.replace(prefix, "")).otherwise(pl.col("_tq"))
                .str.replace_all(qseg, "\x01").str.count_matches(delim, literal=True)
            ).otherwise(t.str.count_matches(delim, literal=True)).cast(pl.Int64).alias("_d"),
        )
    else:
        lines_lf = lines_lf.select(
            pl.col("_ln").cast(pl.Int64),
            pl.lit(False).alias("_cont"),
            pl.lit(0, dtype=pl.Int64).alias("_q"),
            pl.lit(True).alias("_ok"),
            t.str.count_matches(delim, literal=True).cast(pl.Int64).alias("_d"),
        )
    try:
        lines = lines_lf.collect()
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise _unreadable(src.label, "it is not UTF-8 text") from None
        raise _Fallback(str(exc)) from None
    if lines.height and (not lines["_ok"].all() or lines["_q"].sum() % 2 == 1):
        raise _Fallback("not well-formed RFC 4180")
    lines = lines.with_columns(
        pl.col("_d").cum_sum().alias("_cd"),
        (~pl.col("_cont")).shift(-1, fill_value=True).alias("_end"),
    )
    starts = lines.filter(~pl.col("_cont")).select(
        pl.col("_ln").alias("line"), (pl.col("_cd") - pl.col("_d")).alias("_b"))
    ends = lines.filter(pl.col("_end")).select(pl.col("_ln").alias("_ln_end"), pl.col("_cd").alias("_e"))
    del lines
    if starts.height != ends.height or starts.height != vals.height:
        raise _Fallback("record count")
    rec = pl.concat([starts, ends], how="horizontal").select(
        "line", "_ln_end", (pl.col("_e") - pl.col("_b") + 1).alias("_n")
    )
    long_nonempty = _beyond_nonempty(src, rec.filter(pl.col("_n") > ncols), ncols, delim)
    vals = vals.select([_clean(pl.col(f"_c{i}")).alias(f"_c{i}") for i in range(ncols)])
    df = pl.concat([rec, vals], how="horizontal")
    if long_nonempty is not None and long_nonempty.height:
        df = df.join(long_nonempty, on="line", how="left", maintain_order="left")
        long = pl.col("_long").fill_null(False)
    else:
        long = pl.lit(False)
    df = df.with_columns(
        pl.when((pl.col("_n") < ncols) | long).then(pl.col("_n")).alias("__sob_ncells"),
        long.alias("_long"),
    )
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & ~pl.col("_long")
    return df.filter(~blank).select(["line", "__sob_ncells"] + [f"_c{i}" for i in range(ncols)])


def _beyond_nonempty(src: _Source, cand: pl.DataFrame, ncols: int, delim: str) -> pl.DataFrame | None:
    """For records with more cells than the header: is any cell beyond the header non-empty?"""
    if cand.height == 0:
        return None
    d = _regex_char(delim)
    ranges = cand.select(pl.int_ranges(pl.col("line"), pl.col("_ln_end") + 1).alias("_ln")).explode("_ln")
    texts = (
        pl.scan_lines(src.source, name="_t", glob=False)
        .with_row_index("_ln", offset=1)
        .with_columns(pl.col("_ln").cast(pl.Int64))
        .filter(pl.col("_ln").is_in(ranges["_ln"].implode()))
        .collect()
    )
    single = cand.filter(pl.col("line") == pl.col("_ln_end")).join(
        texts.rename({"_ln": "line"}), on="line", how="left"
    )
    _, _, _, qseg = _line_patterns(delim)
    blank_q = f'(^|{d})"\\s*"({d}|$)'
    s = pl.col("_t")
    for _ in range(2):
        s = s.str.replace_all(blank_q, "${1}${2}")
    s = s.str.replace_all(qseg, "\x01")
    out = [single.select(
        "line",
        s.str.splitn(delim, ncols + 1).struct.field(f"field_{ncols}").str.contains(f"[^\\s{d}]")
        .fill_null(False).alias("_long"),
    )]
    multi = cand.filter(pl.col("line") != pl.col("_ln_end"))
    if multi.height:  # rare: a record spanning lines with cells beyond the header
        by_line = dict(zip(texts["_ln"].to_list(), texts["_t"].to_list()))
        lines_out, flags = [], []
        for first, last in multi.select("line", "_ln_end").iter_rows():
            text = "\n".join(by_line.get(i, "") for i in range(first, last + 1))
            row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False), [])
            lines_out.append(first)
            flags.append(any(c.strip(_WS) for c in row[ncols:]))
        out.append(pl.DataFrame({"line": lines_out, "_long": flags}, schema={"line": pl.Int64, "_long": pl.Boolean}))
    return pl.concat(out)


def _read_slow(src: _Source, delim: str, ncols: int) -> pl.DataFrame:
    """Python's csv module, record by record, for files the faster readers cannot vouch for.

    The header is the first non-blank record (as ``_find_header`` found it).
    """
    try:
        text = src.all_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable(src.label, "it is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False)
    seen_header = False
    before = 0
    lines: list[int] = []
    ncells: list[int | None] = []
    cols: list[list[str | None]] = [[] for _ in range(ncols)]
    for row in reader:
        start = before + 1
        before = reader.line_num
        if not seen_header:
            seen_header = not _is_blank(row)
            continue
        cells = [c.strip(_WS) for c in row]
        if not any(cells):
            continue
        n = len(cells)
        lines.append(start)
        ncells.append(n if n < ncols or any(cells[ncols:]) else None)
        for i in range(ncols):
            cols[i].append((cells[i] or None) if i < n else None)
    data: dict[str, Any] = {"line": lines, "__sob_ncells": ncells}
    data.update({f"_c{i}": cols[i] for i in range(ncols)})
    return pl.DataFrame(data, schema=_cells_frame_schema(ncols))


def _no_header(kind: _Kind, label: str) -> list[Finding]:
    return [
        Finding(code="MISSING_COLUMN", message=f"the {kind.kind} file is empty: it has no header row",
                file=label, line=1, field=c, value=None,
                hint="the first non-blank line must name the columns")
        for c in kind.required
    ]


# --------------------------------------------------------------------------------------
# Loading one file into a raw (all-text) lazy frame
# --------------------------------------------------------------------------------------


@dataclass
class _Raw:
    kind: _Kind
    label: str
    lf: pl.LazyFrame  # line, __sob_ncells, every canonical column (String), carried columns
    carried: list[str]
    shown: dict[str, str]  # frame column -> header as written
    col_no: dict[str, int]  # frame column -> 1-based column number in the file
    date_format: str
    ncols: int | None = None
    path: Path | None = None
    src: _Source | None = None
    # The fast reader is checked after it ran; when the check fails, ``redo``
    # gives the same frame from a reader that is exact for this file.
    verify: Any = None  # Callable[[pl.DataFrame], str] | None: "ok", "strip" or "exact"
    redo: Any = None  # Callable[[str, pl.DataFrame | None], pl.LazyFrame] | None
    digest: Callable[[], str] | None = None  # the SHA-256, for files read without a _Source (parquet)
    present: frozenset[str] = frozenset()  # canonical columns the file has
    marks: tuple[str, ...] = ()  # the fast reader's per-row marks in ``lf`` (see _fast_lazy)
    checked: str | None = None  # what ``verify`` said of ``lf`` (every query of ``lf`` has its rows)

    def check(self, df: pl.DataFrame) -> str:
        """``verify`` of a frame read from ``lf``, asked once per file (it may count the file's bytes)."""
        if self.checked is None:
            self.checked = "ok" if self.verify is None else self.verify(df)
        return self.checked

    def evidence_file(self, rows: int) -> EvidenceFile | None:
        if self.path is None:
            return None
        digest = self.digest if self.digest is not None else self.src.sha256  # type: ignore[union-attr]
        return EvidenceFile(kind=self.kind.kind, path=self.path, rows=rows, digest=digest)


def _named(kind: _Kind, header: _Header, cells: pl.LazyFrame, extra: tuple[str, ...] = ()) -> pl.LazyFrame:
    """Rename the positional ``_c{i}`` columns to canonical / carried names; add absent canonical columns."""
    rename = {f"_c{i}": header.names[i] for i in range(header.ncols)}
    keep = [f"_c{i}" for i in range(header.ncols)
            if i in header.canon_pos.values() or header.names[i] in header.carried]
    lf = cells.select(["line", "__sob_ncells", *keep, *extra]).rename({c: rename[c] for c in keep})
    missing = [c for c in kind.columns if c not in header.canon_pos]
    if missing:
        lf = lf.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])
    return lf


_Planned = _Raw | Callable[[], _Raw]  # a reading, or the function that plans it (``later`` in _load_csv)
_Loaded = tuple[_Planned | None, list[Finding], EvidenceFile | None]


def _load_csv(kind: _Kind, path: Path, label: str, contract: Contract, *, later: bool = False) -> _Loaded:
    """Open a CSV file, find and check its header, and plan its reading.

    ``later=True``: the plan is returned as a function to call when the file
    is to be read, so that its background scan runs meanwhile (see ``_Source``).
    """
    cfg = contract.evidence
    delim = cfg.delimiter
    if not isinstance(delim, str) or len(delim) != 1 or delim in '"\r\n':
        raise UsageError(f"cannot read {label}: the delimiter {delim!r} must be one character "
                         "other than a quote or line break")
    columns_map = dict(cfg.columns)
    src = _Source(path, label, delim, later=later)
    src.sniff()
    at = _find_header(src, delim)
    if at is None:
        src.sniff(whole=True)
        return None, _no_header(kind, label), EvidenceFile(kind.kind, path, 0, src.sha256)
    header, errors = _resolve_header(kind, at.cells, at.start + 1, label, columns_map)
    if header is None:
        src.sniff(whole=True)
        return None, errors, EvidenceFile(kind.kind, path, 0, src.sha256)
    plan = partial(_plan_csv, kind, path, label, contract, src, at, header)
    return (plan if later else plan()), [], None


def _plan_csv(kind: _Kind, path: Path, label: str, contract: Contract, src: _Source, at: _HeaderAt,
              hdr: _Header) -> _Raw:
    """How a CSV file with a good header is read: the fast reader when the file qualifies, else the exact one."""
    cfg = contract.evidence
    delim = cfg.delimiter

    def exact() -> pl.LazyFrame:
        try:
            cells = _read_structured(src, at, hdr, delim)
        except _Fallback:
            cells = _read_slow(src, delim, hdr.ncols)
        return _named(kind, hdr, cells.lazy())

    raw = _Raw(kind=kind, label=label, lf=pl.LazyFrame(), carried=list(hdr.carried), shown=hdr.shown,
               col_no={hdr.names[i]: i + 1 for i in range(hdr.ncols)}, date_format=cfg.date_format,
               ncols=hdr.ncols, path=path, src=src, present=frozenset(hdr.canon_pos))
    # quoted files qualify when every line is a whole, well-formed record (checked up front,
    # so a file with line breaks inside quotes goes straight to the structured reader)
    fast = delim.isascii() and at.data_start == at.start + 1 and (not src.has_quote or _well_formed(src, at))
    if fast:
        marks = ("__sob_blank", "__sob_ws", "__sob_qd") if src.has_quote else ("__sob_blank", "__sob_ws", "__sob_last_null")
        raw.lf = _named(kind, hdr, _fast_lazy(src, at, hdr, delim, strip=False), marks)
        raw.marks = marks
        raw.verify = lambda df: _fast_check(src, at, hdr, df)

        def redo(how: str, done: pl.DataFrame | None = None) -> pl.LazyFrame:
            if how == "strip" and done is not None and hdr.nraw == hdr.ncols:
                # the text is already parsed: trim it in memory instead of reading the file again
                names = list(kind.columns) + list(hdr.carried)
                keep = [c for c in ("__sob_qd", "__sob_last_null") if c in done.columns]
                lf = done.lazy().select("line", "__sob_ncells", *keep, *[_clean(pl.col(n)).alias(n) for n in names])
                blank = pl.all_horizontal([pl.col(n).is_null() for n in names]) & pl.col("__sob_ncells").is_null()
                return lf.with_columns(blank.alias("__sob_blank"))
            if how == "strip":
                marks = ("__sob_blank", "__sob_qd") if src.has_quote else ("__sob_blank", "__sob_last_null")
                return _named(kind, hdr, _fast_lazy(src, at, hdr, delim, strip=True), marks)
            return exact()

        raw.redo = redo
    else:
        raw.lf = exact()
    return raw


def _load_parquet(kind: _Kind, path: Path, label: str, contract: Contract) -> _Loaded:
    src = _Source(path, label, ",", scan=False)
    digest = src.sha256
    try:
        df = pl.read_parquet(src.source if isinstance(src.source, bytes) else path, glob=False)
    except Exception as exc:  # noqa: BLE001 - polars raises several types for a bad file
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise _unreadable(label, f"it is not a readable Parquet file ({why})") from None
    fmt = contract.evidence.date_format
    texts = []
    for name, dtype in df.schema.items():
        c = pl.col(name)
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            e = c.dt.strftime(fmt)
        elif dtype == pl.String:
            e = c
        elif dtype.is_nested() or dtype == pl.Object or dtype == pl.Binary:
            e = c.map_elements(lambda v: None if v is None else str(v), return_dtype=pl.String)
        else:
            e = c.cast(pl.String, strict=False)
        texts.append(e.alias(name))
    if texts:
        df = df.select(texts)
    header, errors = _resolve_header(kind, list(df.columns), 1, label, dict(contract.evidence.columns))
    if header is None:
        return None, errors, EvidenceFile(kind=kind.kind, path=path, rows=0, digest=digest)
    ncols = header.ncols
    cells = df.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("line"),
        pl.lit(None, dtype=pl.Int64).alias("__sob_ncells"),
        *[_clean(pl.col(df.columns[i])).alias(f"_c{i}") for i in range(ncols)],
    )
    if df.width > ncols:  # columns with blank names after the last named one must be empty
        long = df.select(pl.any_horizontal([_clean(pl.col(df.columns[i])).is_not_null()
                                            for i in range(ncols, df.width)])).to_series()
        cells = cells.with_columns(pl.when(long).then(pl.lit(df.width, dtype=pl.Int64)).alias("__sob_ncells"))
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & pl.col("__sob_ncells").is_null()
    cells = cells.filter(~blank)
    raw = _Raw(kind=kind, label=label, lf=_named(kind, header, cells.lazy()), carried=list(header.carried),
               shown=header.shown, col_no={header.names[i]: i + 1 for i in range(ncols)},
               date_format=fmt, ncols=ncols, path=path, digest=digest, present=frozenset(header.canon_pos))
    return raw, [], None


def _load(kind: _Kind, path: Path | str, contract: Contract, *, later: bool = False) -> _Loaded:
    """Open an evidence file; ``later``: a CSV file's reading may be planned when it is read (``_load_csv``)."""
    path = Path(path)
    label = str(path)
    if path.suffix.lower() == ".parquet":
        return _load_parquet(kind, path, label, contract)
    return _load_csv(kind, path, label, contract, later=later)


# --------------------------------------------------------------------------------------
# Inline rows (worked examples)
# --------------------------------------------------------------------------------------


def _inline_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return str(value)  # a date-time is not a date: BAD_DATE
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _inline_raw(kind: _Kind, rows: Iterable[dict[str, Any]], label: str) -> _Raw:
    rows = list(rows)
    extra: list[str] = []
    for r in rows:
        for k in r:
            if k not in kind.columns and k not in extra:
                extra.append(str(k))
    extra = [e for e in extra if e not in _RESERVED]
    names = list(kind.columns) + extra
    data: dict[str, list[Any]] = {"line": list(range(1, len(rows) + 1)), "__sob_ncells": [None] * len(rows)}
    for n in names:
        col = []
        for r in rows:
            t = _inline_text(r.get(n))
            t = t.strip(_WS) if t is not None else None
            col.append(t or None)
        data[n] = col
    schema = {"line": pl.Int64(), "__sob_ncells": pl.Int64(), **{n: pl.String() for n in names}}
    frame = pl.DataFrame(data, schema=schema)
    present = frozenset(k for r in rows for k in r if k in kind.columns)
    return _Raw(kind=kind, label=label, lf=frame.lazy(), carried=extra, shown={n: n for n in names},
                col_no={}, date_format="%Y-%m-%d", present=present)


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


@dataclass
class _Check:
    code: str
    field: str | None
    flag: pl.Expr
    value: str | None  # raw column whose text is the offending value


def _parse_date(col: str, fmt: str) -> pl.Expr:
    d = pl.col(col).str.to_date(fmt, strict=False)  # cached: a file holds few distinct dates
    if "%Y" in fmt:  # chrono accepts 1- to 3-digit years for %Y; strftime wants four
        d = pl.when(d >= _YEAR_1000).then(d)  # one comparison a row, not a year computed from days
    return d


def _unparsed(raw: str, parsed: str) -> pl.Expr:
    """The cell has text, but it did not parse."""
    return pl.col(raw).is_not_null() & pl.col(parsed).is_null()


def _decimal_ok(col: str) -> pl.Expr:
    return pl.col(col).str.contains(_DECIMAL_RE)


def _positive(col: str) -> pl.Expr:
    c = pl.col(col)
    return _decimal_ok(col) & ~c.str.starts_with("-") & c.str.contains("[1-9]")


def _non_negative(col: str) -> pl.Expr:
    c = pl.col(col)
    return _decimal_ok(col) & (~c.str.starts_with("-") | ~c.str.contains("[1-9]"))


def _money_minor(col: str, units: int) -> pl.Expr:
    """Plain decimal text -> Int64 minor units; null when not a number, too precise or too large."""
    c = pl.col(col)
    neg = c.str.starts_with("-")
    body = c.str.strip_chars_start("+-")
    parts = body.str.splitn(".", 2)
    whole = parts.struct.field("field_0").str.strip_chars_start("0")
    frac = parts.struct.field("field_1").fill_null("").str.strip_chars_end("0")
    fits = (frac.str.len_bytes() <= units) & (whole.str.len_bytes() <= 18 - units)
    whole_v = pl.when(whole == "").then(pl.lit(0, dtype=pl.Int64)).otherwise(whole.str.to_integer(strict=False))
    if units:
        frac_v = frac.str.pad_end(units, "0").str.to_integer(strict=False)
        minor = whole_v * (10**units) + frac_v
    else:
        minor = whole_v
    minor = pl.when(neg).then(-minor).otherwise(minor)
    return pl.when(_decimal_ok(col) & fits).then(minor)


def _one_of(col: str, values: Iterable[str]) -> pl.Expr:
    return _one_of_expr(pl.col(col), values)


def _one_of_expr(c: pl.Expr, values: Iterable[str]) -> pl.Expr:
    """``c`` is one of ``values`` (false for null).

    A chain of ``==`` is several times faster than ``is_in`` for the handful of
    values a rate card or status list has (string views compare inline).
    """
    values = list(dict.fromkeys(values))
    if not values:
        return pl.lit(False)
    if len(values) > 24:
        return c.is_in(values).fill_null(False)
    e = c == values[0]
    for v in values[1:]:
        e = e | (c == v)
    return e.fill_null(False)


def _case_variants(word: str) -> list[str]:
    return ["".join(p) for p in itertools.product(*[(ch.lower(), ch.upper()) for ch in word])]


_STATUS_ANY_CASE = [v for w in STATUSES for v in _case_variants(w)]
_STATUS_OF_SPELLING = pl.Series([v.lower() for v in _STATUS_ANY_CASE], dtype=pl.Enum(STATUSES))
_YEAR_1000 = date(1000, 1, 1)


def _outcome_checks(kind: _Kind, contract: Contract) -> tuple[pl.Expr, list[_Check]]:
    """``__sob_oc``, the outcome as an Enum of the rate card's ids (null when unknown), and its checks.

    One lookup per row both checks the id and gives the compact column a
    clean file keeps (see ``_typed_schema``).
    """
    all_ids = [o.id for o in contract.outcomes]
    want = "claim" if kind is _CLAIMS else "improvement"
    wrong = [o.id for o in contract.outcomes if o.kind != want]
    oc = pl.col("outcome_id")
    return oc.cast(pl.Enum(all_ids), strict=False).alias("__sob_oc"), [
        _Check("UNKNOWN_OUTCOME", "outcome_id", oc.is_not_null() & pl.col("__sob_oc").is_null(), "outcome_id"),
        _Check("WRONG_OUTCOME_KIND", "outcome_id", _one_of("outcome_id", wrong), "outcome_id"),
    ]


def _common_date_checks(fmt: str) -> tuple[list[pl.Expr], list[_Check]]:
    exprs = [_parse_date("achieved_on", fmt).alias("__sob_ach"), _parse_date("submitted_on", fmt).alias("__sob_sub")]
    checks = [
        _Check("BAD_DATE", "achieved_on", _unparsed("achieved_on", "__sob_ach"), "achieved_on"),
        _Check("BAD_DATE", "submitted_on", _unparsed("submitted_on", "__sob_sub"), "submitted_on"),
        _Check("SUBMITTED_BEFORE_ACHIEVED", "submitted_on",
               (pl.col("__sob_sub") < pl.col("__sob_ach")).fill_null(False), "submitted_on"),
    ]
    return exprs, checks


def _status_check() -> tuple[list[pl.Expr], _Check]:
    """``__sob_st``, the status in lower case (null when invalid), and its check.

    Every spelling in any case is a category of one Enum, so one lookup a
    row reads it, and a table of their lower-case statuses gives the status:
    cheaper than lower-casing every row's text, and the streaming engine
    keeps it batch by batch (``replace`` would hold the column whole).
    """
    spelled = pl.col("status").cast(pl.Enum(_STATUS_ANY_CASE), strict=False).to_physical()
    return (
        [pl.lit(_STATUS_OF_SPELLING).gather(spelled).alias("__sob_st")],
        _Check("BAD_STATUS", "status", pl.col("status").is_not_null() & pl.col("__sob_st").is_null(), "status"),
    )


def _checks(kind: _Kind, contract: Contract, fmt: str, register: _Register | None,
            present: frozenset[str]) -> tuple[list[pl.Expr], list[_Check], dict[str, pl.Expr]]:
    """Derived columns, checks in priority order, and the typed output columns.

    ``submitted_on`` comes out as read (the parsed date); rows without one
    are mended after the query by ``_mend_outputs``, so the usual file costs
    no extra column of millions of rows.
    """
    length = _Check("BAD_ROW_LENGTH", None, pl.col("__sob_ncells").is_not_null(), None)
    missing = [_Check("MISSING_VALUE", c, pl.col(c).is_null(), None) for c in kind.required]
    if kind is _PARTICIPANTS:
        el = pl.col("eligible").str.to_lowercase()
        derived = [
            _parse_date("enrolled_on", fmt).alias("__sob_enr"),
            pl.when(el.is_in(_TRUE)).then(True).when(el.is_in(_FALSE)).then(False).alias("__sob_el"),
        ]
        checks = [length, *missing,
                  _Check("BAD_DATE", "enrolled_on", _unparsed("enrolled_on", "__sob_enr"), "enrolled_on"),
                  _Check("BAD_BOOLEAN", "eligible", _unparsed("eligible", "__sob_el"), "eligible")]
        out = {
            "enrolled_on": pl.col("__sob_enr"),
            "eligible": pl.when(pl.col("eligible").is_null()).then(True).otherwise(pl.col("__sob_el")),
        }
        return derived, checks, out
    dexprs, dchecks = _common_date_checks(fmt)
    st_exprs, st_check = _status_check()
    oc_expr, oc_checks = _outcome_checks(kind, contract)
    derived = [*dexprs, *st_exprs, oc_expr]
    checks = [length, *missing, *dchecks, st_check, *oc_checks]
    status_out, submitted_out = _typed_status(), pl.col("__sob_sub")
    if kind is _CLAIMS:
        # a file without the column is not parsed for amounts
        amount = (_money_minor("amount_claimed", contract.minor_units) if "amount_claimed" in present
                  else pl.lit(None, dtype=pl.Int64))
        derived.append(amount.alias("__sob_amt"))
        if register is not None:
            pid = pl.col("participant_id")
            checks.append(_Check("UNKNOWN_PARTICIPANT", "participant_id",
                                 pid.is_not_null() & ~register.contains(pid), "participant_id"))
        checks.append(_Check("BAD_NUMBER", "amount_claimed",
                             pl.col("amount_claimed").is_not_null() & pl.col("__sob_amt").is_null(), "amount_claimed"))
        out = {
            "achieved_on": pl.col("__sob_ach"), "submitted_on": submitted_out, "status": status_out,
            "amount_claimed": pl.col("__sob_amt"),
        }
        return derived, checks, out
    # results
    b, o, u = pl.col("baseline"), pl.col("observed"), pl.col("units")
    checks += [
        _Check("BAD_NUMBER", "baseline", b.is_not_null() & ~_decimal_ok("baseline"), "baseline"),
        _Check("NON_POSITIVE_BASELINE", "baseline",
               b.is_not_null() & _decimal_ok("baseline") & ~_positive("baseline"), "baseline"),
        _Check("BAD_NUMBER", "observed", o.is_not_null() & ~_non_negative("observed"), "observed"),
        _Check("BAD_NUMBER", "units", u.is_not_null() & ~_positive("units"), "units"),
    ]
    out = {
        "achieved_on": pl.col("__sob_ach"), "submitted_on": submitted_out,
        "baseline": pl.when(_positive("baseline")).then(b),
        "observed": pl.when(_non_negative("observed")).then(o),
        "units": pl.when(u.is_null()).then(pl.lit("1")).when(_positive("units")).then(u),
        "status": status_out,
    }
    return derived, checks, out


# --------------------------------------------------------------------------------------
# Typing one file
# --------------------------------------------------------------------------------------


@dataclass
class _Register:
    """What the claims are checked against: the register's ids, and its invalid rows."""

    ids: pl.Series  # the register frame's participant_id column (unique; null on a row without one)
    bad_ids: list[str]  # participant ids whose register row is invalid ...
    bad_codes: list[str]  # ... and that row's code
    bad_rows: pl.Series  # ... and that row's position in the register frame

    def contains(self, e: pl.Expr) -> pl.Expr:
        """Is the value of ``e`` a register id?

        Compared exactly: a probabilistic test (hashes) would be faster, but
        an unknown participant taken for a known one could be paid, and no
        chance of that is small enough for public money.  Short ASCII ids are
        packed into integers (``sob.idkeys``), which is exact and cheaper.
        """
        if self.ids.len() <= 24:
            return _one_of_expr(e, self.ids.drop_nulls().to_list())
        packing, keys = self._keys
        return comparable(e, packing).is_in(keys.implode()).fill_null(False)

    def rows_of(self, ids: pl.Series) -> pl.Series:
        """For each of ``ids``, the row of the register frame that has it (null: not in the register)."""
        return positions_in(ids, self.ids, keys=self._keys)

    @cached_property
    def _keys(self) -> tuple[Packing | None, pl.Series]:
        """The ids as compared: packed integers when every one packs (``sob.idkeys``), else strings."""
        return keys_of(self.ids)

    def code_of(self, e: pl.Expr) -> pl.Expr:
        """The code of the invalid register row of participant ``e`` (null when valid or unknown)."""
        if len(self.bad_ids) <= 24:
            chain: Any = None
            for ident, code in zip(self.bad_ids, self.bad_codes):
                chain = (pl.when(e == ident) if chain is None else chain.when(e == ident)).then(pl.lit(code))
            return chain.otherwise(pl.lit(None, dtype=pl.String))
        return e.replace_strict(self.bad_ids, self.bad_codes, default=None, return_dtype=pl.String)


@dataclass
class _Typed:
    raw: _Raw
    frame: pl.DataFrame  # raw text columns + derived + flags + __sob_err0 + error + __sob_o_* outputs
    checks: list[_Check]
    out: dict[str, pl.Expr]
    rows: int = 0


def _typed_query(raw: _Raw, lf: pl.LazyFrame, contract: Contract, register: _Register | None
                 ) -> tuple[pl.LazyFrame, list[_Check], dict[str, pl.Expr]]:
    kind = raw.kind
    derived, checks, out = _checks(kind, contract, raw.date_format, register, raw.present)
    flags = [c.flag.fill_null(False).alias(f"__sob_f{i}") for i, c in enumerate(checks)]
    chain: Any = None
    for i, c in enumerate(checks):
        flag = pl.col(f"__sob_f{i}")
        chain = (pl.when(flag) if chain is None else chain.when(flag)).then(pl.lit(c.code))
    err0 = chain.otherwise(pl.lit(None, dtype=pl.String)).alias("__sob_err0")
    lf = lf.with_columns(derived).with_columns(flags).with_columns(err0)
    if kind is _CLAIMS and register is not None and register.bad_ids:
        error = pl.coalesce(pl.col("__sob_err0"), register.code_of(pl.col("participant_id")))
    else:
        error = pl.col("__sob_err0")
    lf = lf.with_columns(error.alias("error"),
                         *[e.alias(f"__sob_o_{n}") for n, e in out.items()])
    return lf, checks, out


def _collect(raw: _Raw, lf: pl.LazyFrame) -> pl.DataFrame:
    try:
        return _aligned(lf.collect())
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise _unreadable(raw.label, "it is not UTF-8 text") from None
        raise _Fallback(str(exc)) from None


def _aligned(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every chunked column cut into the same pieces (zero-copy slices).

    The streaming engine gives most columns one chunk per batch, but a column
    that is null on nearly every row (the first error of each row) can come
    out in a couple of chunks.  polars then copies the *whole frame* into one
    piece on the next filter or select: at 10M claims a file with one invalid
    row peaked at 3.5 GB instead of 2 GB.  Columns in one piece (constants
    among them) are left as they are.
    """
    lengths = _pieces(df)
    if len(lengths) < 2:
        return df
    odd = [name for name, n in zip(df.columns, df.n_chunks("all"))
           if 1 < n and df.get_column(name).chunk_lengths() != lengths]
    return df.with_columns(_cut(df.get_column(name), lengths) for name in odd) if odd else df


def _pieces(df: pl.DataFrame) -> list[int]:
    """The chunk lengths of ``df``'s most chunked column (the pieces the streaming engine gave)."""
    counts = df.n_chunks("all")
    return df.get_column(df.columns[counts.index(max(counts))]).chunk_lengths() if counts else []


def _cut(s: pl.Series, lengths: list[int]) -> pl.Series:
    """``s`` in pieces of ``lengths`` (zero-copy slices), to sit beside columns in those pieces."""
    starts = itertools.accumulate(lengths, initial=0)
    return pl.concat([s.slice(start, n) for start, n in zip(starts, lengths)], rechunk=False)


def _beside(df: pl.DataFrame, *columns: pl.Series) -> pl.DataFrame:
    """``df`` with ``columns`` added or replaced, cut like its columns (see ``_aligned``)."""
    lengths = _pieces(df)
    return df.with_columns(_cut(s, lengths) if len(lengths) > 1 else s for s in columns)


def _type(raw: _Raw, contract: Contract, register: _Register | None) -> _Typed:
    """Run every per-row check in one polars query (the fast reader's scan included)."""
    lf, checks, out = _typed_query(raw, raw.lf, contract, register)
    df: pl.DataFrame | None = None
    try:
        df = _collect(raw, lf)
        how = raw.check(df)
    except _Fallback:
        if raw.redo is None:
            raise
        how = "exact"
    while how != "ok":
        done, df = df, None
        try:
            df = _collect(raw, _typed_query(raw, raw.redo(how, done), contract, register)[0])
            del done
            how = "ok" if how == "exact" else raw.verify(df)
        except _Fallback:
            if how == "exact":
                raise
            how = "exact"
    assert df is not None
    if raw.src is not None:
        raw.src.sniff(whole=True)
    df = _mend_outputs(df)
    drop = [c for c in ("__sob_blank", "__sob_ws", "__sob_qd", "__sob_last_null") if c in df.columns]
    if "__sob_blank" in drop and df["__sob_blank"].any():
        df = df.filter(~pl.col("__sob_blank"))
    if drop:
        df = df.drop(drop)
    return _Typed(raw=raw, frame=df, checks=checks, out=out, rows=df.height)


def _mend_outputs(df: pl.DataFrame) -> pl.DataFrame:
    """The typed submission date where it differs from the date read (see ``_checks``).

    No submission date means the achievement date.  Only files that have
    such rows pay for a new column.
    """
    if "__sob_sub" in df.columns and df["submitted_on"].null_count():
        df = df.with_columns(_typed_submitted().alias("__sob_o_submitted_on"))
    return df


def _typed_status() -> pl.Expr:
    """The status as typed from the text: none is ``claimed``, another case lower-cased, invalid null."""
    claimed = pl.lit("claimed", dtype=pl.Enum(STATUSES))
    return pl.when(pl.col("status").is_null()).then(claimed).otherwise(pl.col("__sob_st"))


def _typed_submitted() -> pl.Expr:
    """The submission date as typed from the text: none means the achievement date."""
    return pl.when(pl.col("submitted_on").is_null()).then(pl.col("__sob_ach")).otherwise(pl.col("__sob_sub"))


def _read_clean(raw: _Raw, contract: Contract, register: _Register | None, keep: Collection[str] | None = None,
                ) -> tuple[pl.DataFrame, list[tuple[int, int, Finding]], pl.Series | None] | None:
    """The typed frame of a file and its row findings, from one compact query; ``None`` to read in detail.

    Large files are usually clean.  For them the query keeps only what the
    typed frame holds (a date, not its text; one flag for all the checks) and
    the streaming engine drops each batch's text once it is typed, so memory
    peaks at the typed frame rather than at the text.  A few invalid rows are
    read again in detail on their own (``_mend_bad_rows``).  A file with more
    to report (many invalid rows, a possibly repeated id, cells to trim,
    lines the fast reader cannot vouch for) gives ``None``: the detailed
    reading (``_type`` and ``_finalise``) then says what and where.
    ``keep``: the typed columns wanted (the id is always read); ``None`` for
    all of them and the carried ones.

    Claims are looked up in the register after the query, by a join that
    also gives each claim its participant's row in the register (returned
    third, ``None`` for other files): the assessment needs those rows, and
    one search of the register costs what a check in the query would.
    """
    kind = raw.kind
    locate = kind is _CLAIMS and register is not None
    derived, checks, out = _checks(kind, contract, raw.date_format, None if locate else register, raw.present)
    flags = [c.flag.fill_null(False) for c in checks]
    marks = list(raw.marks)
    bad = pl.any_horizontal(flags)
    if "__sob_blank" in marks:
        bad = bad & ~pl.col("__sob_blank")
    if kind is not _PARTICIPANTS:  # what _mend_outputs does after the detailed query
        out = {**out, "submitted_on": _typed_submitted()}
    if kind is _CLAIMS:  # unknown outcomes come out null here; _mend_bad_rows puts them back
        out["outcome_id"] = pl.col("__sob_oc")
    schema = {n: t for n, t in _typed_schema(kind, contract).items() if keep is None or n in keep or n == kind.id_col}
    carried = raw.carried if keep is None else [c for c in raw.carried if c in keep]
    # typed inside the query, batch by batch: a column's text is never held whole
    cols = [(out[n] if n in out else pl.col(n)).cast(schema[n]).alias(n) for n in schema if n != "error"]
    line = [] if "line" in schema else ["line"]  # how invalid rows are found again
    if locate and "participant_id" not in schema:
        cols.append(pl.col("participant_id"))
    lf = raw.lf.with_columns(derived).select(*cols, *line, *carried, *marks, bad.alias("__sob_bad"))
    try:
        df = _collect(raw, lf)
    except _Fallback:
        return None
    too_many = max(1000, df.height // 100)
    if int(df["__sob_bad"].sum()) > too_many or raw.check(df) != "ok":
        return None
    if locate:
        assert register is not None
        rows = register.rows_of(df["participant_id"])
        # an unknown participant, or one whose register row is invalid: read again in detail
        flagged = df["participant_id"].is_not_null() & rows.is_null()
        if register.bad_ids:
            flagged = flagged | rows.is_in(register.bad_rows.implode()).fill_null(False)
        df = _beside(df, rows.alias("__sob_preg"), (df["__sob_bad"] | flagged).alias("__sob_bad"))
    n_bad = int(df["__sob_bad"].sum())
    if n_bad > too_many:
        return None
    if raw.src is not None:
        raw.src.sniff(whole=True)
    if "__sob_blank" in marks and df["__sob_blank"].any():
        df = df.filter(~pl.col("__sob_blank"))
    ids = df[kind.id_col]
    if ids.null_count() == 0 and ids.is_sorted():  # said once, so later order checks cost nothing
        df = df.with_columns(ids := ids.set_sorted())
    if not _ids_distinct(ids):
        return None
    error = pl.lit(None, dtype=pl.String).alias("error")
    findings: list[tuple[int, int, Finding]] = []
    if n_bad:
        mended = _mend_bad_rows(raw, contract, register, df)
        if mended is None:
            return None
        error, outcome, findings = mended
        if outcome is not None and "outcome_id" in schema:
            schema["outcome_id"] = outcome.dtype
            df = df.with_columns(outcome)
    df = df.drop(*marks, "__sob_bad")
    if "error" in schema:
        df = df.with_columns(error)
    rows = df["__sob_preg"].alias("participant_rows") if locate else None
    return df.select(*schema, *carried).cast(schema), findings, rows  # type: ignore[arg-type]


def _mend_bad_rows(raw: _Raw, contract: Contract, register: _Register | None, df: pl.DataFrame,
                   ) -> tuple[pl.Series, pl.Series | None, list[tuple[int, int, Finding]]] | None:
    """The invalid rows of a compact read, read again in detail: their errors and findings.

    Only those rows are typed with their text kept (the file is parsed again,
    but nothing else is held), so a file with a handful of invalid rows costs
    one more parse, not a detailed reading of every row.  Returns the
    ``error`` column, the claims' ``outcome_id`` with unknown ids put back
    (``None`` for other files), and the findings; ``None`` when the rows read
    again are not the rows flagged (the caller then reads the file in detail).
    """
    at = df["__sob_bad"].arg_true()
    lines = df["line"].gather(at)
    lf, checks, out = _typed_query(raw, raw.lf.filter(pl.col("line").is_in(lines.implode())), contract, register)
    try:
        rows = _mend_outputs(_collect(raw, lf))
    except _Fallback:
        return None
    if "__sob_blank" in rows.columns:
        rows = rows.filter(~pl.col("__sob_blank"))
    if not rows["line"].equals(lines, check_names=False):
        return None
    typed = _Typed(raw=raw, frame=rows, checks=checks, out=out, rows=rows.height)
    findings = _row_findings(typed, contract, rows.filter(pl.col("__sob_err0").is_not_null()))
    error = pl.repeat(None, df.height, dtype=pl.String, eager=True).scatter(at, rows["error"]).alias("error")
    outcome = None
    if raw.kind is _CLAIMS and "outcome_id" in df.columns:
        enum = _typed_schema(raw.kind, contract, rows)["outcome_id"]
        outcome = df["outcome_id"].cast(enum).scatter(at, rows["outcome_id"].cast(enum)).alias("outcome_id")
    return error, outcome, findings


def _value_text(v: Any) -> str | None:
    return None if v is None else cut(v)


def _message(code: str, fieldname: str | None, value: str | None, raw: _Raw, row: dict[str, Any],
             header_cols: int | None, contract: Contract) -> tuple[str, str | None]:
    shown = raw.shown.get(fieldname or "", fieldname)
    where = fieldname if shown == fieldname else f"{fieldname} (column {shown!r})"
    fmt = raw.date_format
    if code == "BAD_ROW_LENGTH":
        n = row.get("__sob_ncells")
        if n is not None and header_cols is not None and n < header_cols:
            return f"the record has {n} cells but the header has {header_cols}", "a cell is missing, or a delimiter"
        return (f"the record has {n} cells but the header has {header_cols}, and a cell beyond the last "
                "header column is not empty"), "remove the extra cells, or quote a cell that holds the delimiter"
    if code == "MISSING_VALUE":
        return f"{where} is empty", None
    if code == "BAD_DATE":
        return (f"{where} {value!r} is not a date in the format {fmt!r}",
                f"write dates like {date(2025, 4, 30).strftime(fmt)}")
    if code == "SUBMITTED_BEFORE_ACHIEVED":
        return (f"submitted_on {value!r} is before achieved_on {cut(row.get('achieved_on'))!r}",
                "a claim cannot be submitted before the outcome is achieved")
    if code == "BAD_STATUS":
        return f"{where} {value!r} is not one of claimed, withdrawn, failed", None
    if code == "BAD_BOOLEAN":
        return f"{where} {value!r} is not true/false/yes/no/1/0", None
    if code == "UNKNOWN_OUTCOME":
        ids = [o.id for o in contract.outcomes]
        close = difflib.get_close_matches(str(row.get("outcome_id")), ids, n=1, cutoff=0.6)
        return (f"{where} {value!r} is not an outcome of the contract",
                f"did you mean {close[0]!r}?" if close else None)
    if code == "WRONG_OUTCOME_KIND":
        if raw.kind is _CLAIMS:
            return (f"outcome {value!r} is an improvement outcome: it is paid on cohort results, not claims",
                    "put it in the results file")
        return (f"outcome {value!r} is a claim outcome: it is paid on claims, not cohort results",
                "put it in the claims file")
    if code == "UNKNOWN_PARTICIPANT":
        return f"{where} {value!r} is not in the participants register", None
    if code == "NON_POSITIVE_BASELINE":
        return f"{where} {value!r} must be greater than 0", None
    if code == "BAD_NUMBER":
        if fieldname == "amount_claimed":
            return (f"{where} {value!r} is not an amount in {contract.currency}",
                    f"a plain decimal with at most {contract.minor_units} decimal places, no symbol or separators")
        rule = {"observed": "a decimal >= 0", "units": "a decimal > 0"}.get(fieldname or "", "a plain decimal")
        return f"{where} {value!r} is not {rule}", "plain decimals only: no exponent, thousands separator or symbol"
    return f"{where}: {code}", None  # pragma: no cover


def _row_findings(typed: _Typed, contract: Contract, bad: pl.DataFrame) -> list[tuple[int, int, Finding]]:
    raw = typed.raw
    if bad.height == 0:
        return []
    out: list[tuple[int, int, Finding]] = []
    wanted = [c for c in ("line", "__sob_ncells", "achieved_on", "outcome_id") if c in bad.columns]
    for i, chk in enumerate(typed.checks):
        cols = list(dict.fromkeys(wanted + ([chk.value] if chk.value else [])))
        part = bad.filter(pl.col(f"__sob_f{i}")).select(cols)
        for row in part.iter_rows(named=True):
            value = _value_text(row.get(chk.value)) if chk.value else None
            msg, hint = _message(chk.code, chk.field, value, raw, row, raw.ncols, contract)
            out.append((row["line"], 100 + i, Finding(
                code=chk.code, message=msg, file=raw.label, line=row["line"],
                col=raw.col_no.get(chk.field or ""), field=chk.field, value=value, hint=hint,
            )))
    return out


# --------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------


@dataclass
class _Dups:
    differing: list[str] = field(default_factory=list)  # ids whose rows differ
    drop: pl.DataFrame | None = None  # line, __sob_first, id: identical repeats to drop (warnings)


def _ids_distinct(ids: pl.Series) -> bool:
    """No two rows share an id (nulls aside)?  ``False`` may be a false alarm (two ids share a hash).

    Costs one hash of the column, or one comparison of neighbours when the
    ids are sorted (files often are).
    """
    nulls = ids.null_count()
    nonnull = ids.len() - nulls
    if nonnull < 2:
        return True
    if nulls == 0 and ids.is_sorted():
        return not _equal_neighbours(ids)
    return ids.hash().n_unique() == nonnull + (1 if nulls else 0)


def _equal_neighbours(ids: pl.Series) -> bool:
    """Does any id equal the one before it?  Compared piece by piece, in place.

    A shifted copy of millions of ids costs fresh memory; slices of the
    whole column, cut unlike its pieces, make polars join the pieces first.
    """
    last = None
    for piece in ids.get_chunks():
        if piece.len() == 0:
            continue
        if (last is not None and piece[0] == last) or (piece.slice(1) == piece.slice(0, piece.len() - 1)).any():
            return True
        last = piece[-1]
    return False


def _find_dups(typed: _Typed) -> _Dups:
    """Ids used by more than one row: those whose rows differ, and identical repeats.

    Rows are compared on their trimmed text (every canonical and carried
    column), case-sensitively.  The common case, no duplicates at all, costs
    one hash of the id column.
    """
    raw, df = typed.raw, typed.frame
    id_col = raw.kind.id_col
    if _ids_distinct(df[id_col]):
        return _Dups()
    compare = list(raw.kind.columns) + raw.carried
    cand = df.select("line", *compare).filter(pl.col(id_col).is_not_null() & pl.col(id_col).is_duplicated())
    if cand.height == 0:
        return _Dups()
    variants = cand.unique(subset=compare).group_by(id_col).len()
    differing = variants.filter(pl.col("len") > 1)[id_col].to_list()
    same = cand.filter(~pl.col(id_col).is_in(differing)).select(
        "line", pl.col("line").min().over(id_col).alias("__sob_first"), pl.col(id_col)
    )
    drop = same.filter(pl.col("line") != pl.col("__sob_first"))
    return _Dups(differing=sorted(differing), drop=drop if drop.height else None)


def _dup_findings(typed: _Typed, dup_ids: list[str], code: str,
                  other: dict[str, list[tuple[str, int]]]) -> list[tuple[int, int, Finding]]:
    """One finding per row whose id is duplicated (``other``: lines of the id in another file)."""
    if not dup_ids:
        return []
    raw = typed.raw
    id_col = raw.kind.id_col
    rows = typed.frame.filter(pl.col(id_col).is_in(dup_ids)).select("line", id_col).sort("line")
    lines_of: dict[str, list[int]] = {}
    for line, ident in rows.iter_rows():
        lines_of.setdefault(ident, []).append(line)
    out = []
    for line, ident in rows.iter_rows():
        here = [f"line {n}" for n in lines_of[ident] if n != line]
        elsewhere = [f"{label} line {n}" for label, n in other.get(ident, [])]
        seen = ", ".join(here + elsewhere)
        what = "rows that differ" if not elsewhere else "rows"
        out.append((line, _PRIO[code], Finding(
            code=code, file=raw.label, line=line, col=raw.col_no.get(id_col), field=id_col, value=cut(ident),
            message=f"{id_col} {cut(ident)!r} is used by {len(lines_of[ident]) + len(other.get(ident, []))} {what}"
                    + (f" (also {seen})" if seen else ""),
            hint=("a claim and a cohort result cannot share an id" if elsewhere
                  else "give each row its own id, or remove the repeats"),
        )))
    return out


def _finalise(typed: _Typed, drop: pl.DataFrame | None, dup_ids: list[str], dup_code: str,
              contract: Contract) -> tuple[pl.DataFrame, list[tuple[int, int, Finding]]]:
    """Drop identical repeats, collapse duplicated ids, pull out findings, select the typed columns."""
    raw = typed.raw
    kind = raw.kind
    id_col = kind.id_col
    frame = typed.frame
    findings: list[tuple[int, int, Finding]] = []
    drop_lines: list[int] = []
    if drop is not None and drop.height:
        for line, first, ident in drop.select("line", "__sob_first", id_col).iter_rows():
            drop_lines.append(line)
            findings.append((line, _PRIO["DUPLICATE_ROW"], Finding(
                code="DUPLICATE_ROW", severity="warning", file=raw.label, line=line,
                col=raw.col_no.get(id_col), field=id_col, value=cut(ident),
                message=f"line {line} repeats line {first} exactly ({id_col} {cut(ident)!r}); it is counted once",
            )))
        frame = frame.filter(~pl.col("line").is_in(drop_lines))
    findings += _row_findings(typed, contract, frame.filter(pl.col("__sob_err0").is_not_null()))
    schema = _typed_schema(kind, contract, frame)
    cols = [pl.col(f"__sob_o_{n}").alias(n) if n in typed.out else pl.col(n) for n in schema]
    cols += [pl.col(c) for c in raw.carried]
    merged = None
    if dup_ids:
        in_dup = pl.col(id_col).is_in(dup_ids)
        merged = (frame.filter(in_dup).group_by(id_col).agg(pl.col("line").min())
                  .with_columns(pl.lit(dup_code).alias("error")))
        frame = frame.filter(~in_dup)
    out = frame.select(cols)
    if merged is not None and merged.height:
        out = pl.concat([out, merged], how="diagonal_relaxed").select(out.columns).sort("line")
    out = out.cast(schema)  # type: ignore[arg-type]
    return out, findings


# --------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------


def _sorted(findings: list[tuple[int, int, Finding]]) -> list[Finding]:
    return [f for _, _, f in sorted(findings, key=lambda t: (t[0], t[1], t[2].col or 0))]


def _drop_minus(drop: pl.DataFrame | None, id_col: str, ids: list[str]) -> pl.DataFrame | None:
    if drop is None or not ids:
        return drop
    drop = drop.filter(~pl.col(id_col).is_in(ids))
    return drop if drop.height else None


def _missing_register(contract: Contract, label: str) -> Finding:
    reasons = []
    if contract.referrals_end is not None:
        reasons.append("referrals_end")
    if any(o.window_days is not None for o in contract.outcomes):
        reasons.append("window_days")
    if any(o.cohorts is not None for o in contract.outcomes):
        reasons.append("cohorts")
    return Finding(
        code="MISSING_REGISTER", file=label,
        message=f"the contract needs a participants register ({', '.join(reasons)}), and none was given",
        hint="pass --participants FILE or set participants in [evidence]",
    )


def _register(participants: pl.DataFrame) -> _Register:
    """What claims are checked against: the typed register's ids, and the codes of its invalid rows."""
    bad = participants.with_row_index("_row").filter(pl.col("error").is_not_null() & pl.col("participant_id").is_not_null())
    return _Register(
        ids=participants["participant_id"],
        bad_ids=bad["participant_id"].to_list(),
        bad_codes=bad["error"].to_list(),
        bad_rows=bad["_row"],
    )


def _assemble_clean(ev: Evidence, contract: Contract, craw: _Raw | None, rraw: _Raw | None,
                    register: _Register | None, files: dict[str, EvidenceFile],
                    per_file: dict[str, list[tuple[int, int, Finding]]], keep: Collection[str] | None = None) -> bool:
    """Claims and results read by ``_read_clean`` into ``ev``; ``False`` when either must be read in detail.

    Ids shared by a claim and a cohort result are reported by the detailed
    reading too, so they also give ``False``.
    """
    claims = results = None
    if craw is not None and (claims := _read_clean(craw, contract, register, keep)) is None:
        return False
    if rraw is not None and (results := _read_clean(rraw, contract, None)) is None:
        return False
    if (claims is not None and results is not None and claims[0].height and results[0].height
            and claims[0]["claim_id"].is_in(results[0]["result_id"].implode()).any()):
        return False
    for raw, read in ((craw, claims), (rraw, results)):
        if raw is None or read is None:
            continue
        frame, found, _ = read
        if raw.path is not None:
            files[raw.kind.kind] = raw.evidence_file(frame.height)  # type: ignore[assignment]
        per_file[raw.kind.kind] += found
        ev.carried_columns += [c for c in raw.carried if c not in ev.carried_columns]
    ev.claims = None if claims is None else claims[0]
    ev.participant_rows = None if claims is None else claims[2]
    ev.results = None if results is None else results[0]
    if craw is not None:
        ev.has_amount_claimed = "amount_claimed" in craw.present
        ev.has_evidence_ref = "evidence_ref" in craw.present
    return True


def _assemble(contract: Contract, raws: dict[str, _Planned | None], register_given: bool,
              file_errors: list[Finding], files: dict[str, EvidenceFile], register_label: str,
              keep: Collection[str] | None = None) -> Evidence:
    ev = Evidence(file_errors=list(file_errors))
    if contract.needs_register and not register_given:
        ev.file_errors.append(_missing_register(contract, register_label))
    per_file: dict[str, list[tuple[int, int, Finding]]] = {"claims": [], "participants": [], "results": []}

    # -- the register first: claims are checked against it ----------------------------
    register: _Register | None = None
    praw = raws.get("participants")
    clean = _read_clean(praw, contract, None) if praw is not None else None
    if praw is not None and clean is not None:
        frame, found, _ = clean
        if praw.path is not None:
            files["participants"] = praw.evidence_file(frame.height)  # type: ignore[assignment]
        per_file["participants"] += found
        ev.participants = frame
        register = _register(frame)
    elif praw is not None:
        typed = _type(praw, contract, None)
        if praw.path is not None:
            files["participants"] = praw.evidence_file(typed.rows)  # type: ignore[assignment]
        dups = _find_dups(typed)
        per_file["participants"] += _dup_findings(typed, dups.differing, "DUPLICATE_PARTICIPANT", {})
        frame, found = _finalise(typed, dups.drop, dups.differing, "DUPLICATE_PARTICIPANT", contract)
        del typed
        per_file["participants"] += found
        ev.participants = frame
        register = _register(frame)

    craw, rraw = raws.get("claims"), raws.get("results")
    if callable(craw):  # planned now that the register is read (its byte scan ran meanwhile)
        craw = craw()
    if _assemble_clean(ev, contract, craw, rraw, register, files, per_file, keep):
        for kind in ("claims", "participants", "results"):
            ev.findings += _sorted(per_file[kind])
        ev.files = [files[k] for k in ("claims", "participants", "results") if k in files]
        return ev
    rtyped = _type(rraw, contract, None) if rraw is not None else None
    ctyped = _type(craw, contract, register) if craw is not None else None
    for kind, typed_ in (("claims", ctyped), ("results", rtyped)):
        if typed_ is not None and typed_.raw.path is not None:
            files[kind] = typed_.raw.evidence_file(typed_.rows)  # type: ignore[assignment]
    cdups = _find_dups(ctyped) if ctyped is not None else _Dups()
    rdups = _find_dups(rtyped) if rtyped is not None else _Dups()

    # -- ids shared by a claim and a result: every row of them is a DUPLICATE_ID -----
    shared: list[str] = []
    if ctyped is not None and rtyped is not None and rtyped.frame.height and ctyped.frame.height:
        rids = rtyped.frame["result_id"].drop_nulls().unique()
        shared = sorted(ctyped.frame.filter(pl.col("claim_id").is_in(rids.implode()))["claim_id"].unique().to_list())
    c_ids = sorted(set(cdups.differing) | set(shared))
    r_ids = sorted(set(rdups.differing) | set(shared))

    def lines_in(typed_: _Typed | None, ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        if typed_ is None or not ids:
            return {}
        id_col = typed_.raw.kind.id_col
        got: dict[str, list[tuple[str, int]]] = {}
        rows = typed_.frame.filter(pl.col(id_col).is_in(ids)).select("line", id_col).sort("line")
        for line, ident in rows.iter_rows():
            got.setdefault(ident, []).append((f"{typed_.raw.kind.kind} file", line))
        return got

    r_lines, c_lines = lines_in(rtyped, shared), lines_in(ctyped, shared)
    if ctyped is not None:
        per_file["claims"] += _dup_findings(ctyped, c_ids, "DUPLICATE_ID", r_lines)
        drop = _drop_minus(cdups.drop, "claim_id", shared)
        ev.claims, found = _finalise(ctyped, drop, c_ids, "DUPLICATE_ID", contract)
        if keep is not None:
            ev.claims = ev.claims.select(c for c in ev.claims.columns if c in keep or c == "claim_id")
        per_file["claims"] += found
        ev.carried_columns += [c for c in ctyped.raw.carried if c not in ev.carried_columns]
        ev.has_amount_claimed = "amount_claimed" in ctyped.raw.present
        ev.has_evidence_ref = "evidence_ref" in ctyped.raw.present
        del ctyped
    if rtyped is not None:
        per_file["results"] += _dup_findings(rtyped, r_ids, "DUPLICATE_ID", c_lines)
        frame, found = _finalise(rtyped, _drop_minus(rdups.drop, "result_id", shared), r_ids, "DUPLICATE_ID", contract)
        if shared:  # the merged row of an id shared with a claim lives in the claims frame
            frame = frame.filter(~pl.col("result_id").is_in(shared))
        ev.results = frame
        per_file["results"] += found
        ev.carried_columns += [c for c in rtyped.raw.carried if c not in ev.carried_columns]
    for kind in ("claims", "participants", "results"):
        ev.findings += _sorted(per_file[kind])
    ev.files = [files[k] for k in ("claims", "participants", "results") if k in files]
    return ev


def read_evidence(contract: Contract, claims: Path | None, participants: Path | None,
                  results: Path | None, *, claim_columns: Collection[str] | None = None) -> Evidence:
    """Read and check the evidence files (SPEC 4).

    ``claim_columns``: only these columns of the claims frame are kept
    (``claim_id`` always is); every column is still read and checked.  A
    caller that needs totals only saves the memory of the others.

    Raises :class:`~sob.findings.UsageError` (exit 2) for a file that cannot
    be read: missing, a directory, no permission, not UTF-8 text (UTF-16,
    binary).  Everything else is reported in the returned :class:`Evidence`.
    """
    raws: dict[str, _Planned | None] = {}
    file_errors: list[Finding] = []
    files: dict[str, EvidenceFile] = {}
    for kind, path in (("claims", claims), ("participants", participants), ("results", results)):
        if path is None:
            raws[kind] = None
            continue
        # the claims' reading is planned after the register is read, their byte scan running meanwhile
        raw, errors, ef = _load(_KINDS[kind], path, contract, later=kind == "claims" and participants is not None)
        raws[kind] = raw
        file_errors += errors
        if ef is not None:
            files[kind] = ef
    reg_label = str(participants) if participants is not None else "participants register"
    return _assemble(contract, raws, participants is not None, file_errors, files, reg_label, claim_columns)


def read_inline(contract: Contract, participants: list[dict], claims: list[dict], results: list[dict],
                *, name: str | None = None) -> Evidence:
    """The rows of a worked example, typed and checked exactly like evidence files.

    Rows use canonical column names and TOML values (``date``, ``str``,
    ``Decimal``/``int``, ``bool``); dates are read as dates whatever the
    contract's ``date_format``.  ``line`` is the row's 1-based index and
    ``file`` is ``<example NAME: claims>`` (or participants, results; just
    ``<example: claims>`` without a name).  An empty ``participants`` list
    means no register was given.
    """
    tag = f"<example {name}" if name else "<example"
    raws: dict[str, _Raw | None] = {
        "claims": _inline_raw(_CLAIMS, claims or [], f"{tag}: claims>"),
        "participants": (_inline_raw(_PARTICIPANTS, participants, f"{tag}: participants>")
                         if participants else None),
        "results": _inline_raw(_RESULTS, results or [], f"{tag}: results>"),
    }
    return _assemble(contract, raws, bool(participants), [], {}, f"{tag}: participants>")
