"""The bytes of one evidence file: opening it, sniffing its encoding, the background byte scan
that vouches for the fast CSV reader, delimiter counts and the SHA-256.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from sob.columns import MAX_PIPE_BYTES
from sob.findings import UsageError

# Unicode white space other than the ASCII space, as UTF-8 bytes: a file without them (and without
# tab, VT, FF) can only hold ASCII spaces at the edges of its cells.
_WIDE_WS = re.compile(rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")
_CHUNK = 1 << 23
#: why a file whose bytes do not decode is refused (said the same way by every reader)
NOT_UTF8 = "it is not UTF-8 text (a binary file, or text in another encoding: save it as UTF-8 CSV)"


#: the delimiters ``detect_delimiter`` chooses between, in the order that breaks a tie
DELIMITERS = (",", ";", "\t", "|")


def detect_delimiter(head: bytes) -> str:
    """The delimiter of a file with none configured: the candidate that splits its header most.

    The header is the first line that is not blank; delimiters inside quotes
    do not count.  A header that none of them splits (one column) is read
    with ``,``.  A tie goes to the earlier of ``DELIMITERS``.
    """
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    line = next((ln for ln in text.splitlines() if ln.strip(" \t,;|")), "")
    outside = re.sub(r'"(?:[^"]|"")*"?', "", line)
    counts = [(outside.count(d), -i) for i, d in enumerate(DELIMITERS)]
    n, i = max(counts)
    return DELIMITERS[-i] if n else ","


def unreadable(label: str, why: str) -> UsageError:
    """A file that cannot be read at all: exit 2, naming the file and why."""
    return UsageError(f"cannot read {label}: {why}")


@dataclass
class _Counts:
    """Byte facts about a whole file, gathered in one pass while polars parses it."""

    delimiters: int | None  # None when the pass did not count them (see Source.delimiters)
    newlines: int
    carriage_returns: int
    crlf: int
    ends_with_newline: bool
    odd_whitespace: bool  # tab (unless it is the delimiter), VT, FF or non-ASCII white space somewhere
    has_nul: bool
    nuls: int  # NUL bytes in the file (counted only when there is one)
    uncounted: int = 0  # delimiters were counted from this offset on (the chunk of the first quote)


class _ByteScan:
    """Counts over a file read chunk by chunk (state carried across chunk edges).

    Every test but the counts is a ``memchr``-speed ``find``; the newline count
    is the one full count always taken (by polars for a file: ``_lines_in``;
    ``count_newlines=False`` then).  Delimiters are counted only when asked
    (files with quotes), because a file without quotes can only have a short
    row where a row's last cell is empty, which the reader sees for itself.

    ``find_marks``: the scan also finds the first quote and the spaces that
    ``Source.space_from_line`` asks about (``Source`` otherwise finds them up
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
        self.nuls = 0
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
        if chunk.find(b"\x00") >= 0:  # a memchr; counted only in the rare file that has one
            self.has_nul = True
            self.nuls += chunk.count(b"\x00")
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
                       odd_whitespace=self.odd_whitespace, has_nul=self.has_nul, nuls=self.nuls, uncounted=self.uncounted)


class _Marks:
    """Where a file's first quote is, its first space, and the first space on a later line (-1: none).

    Found chunk by chunk; the same answers as ``find`` over the whole file.
    """

    def __init__(self) -> None:
        self.quote = self.space = self.later_space = -1
        self._step = 0  # looking for: 0 the first space, 1 the end of its line, 2 a space after that

    def find(self, chunk: bytes | bytearray | mmap.mmap, offset: int) -> None:
        if self.quote < 0 and (at := chunk.find(b'"')) >= 0:
            self.quote = offset + at
        pos = 0
        while self._step < 3 and (pos := chunk.find(b"\n" if self._step == 1 else b" ", pos)) >= 0:
            if self._step == 0:
                self.space = offset + pos
            elif self._step == 2:
                self.later_space = offset + pos
            self._step += 1


def _not_a_file(mode: int) -> str | None:
    """Why a path cannot be evidence, or ``None`` for a regular file or a pipe (``<(zcat claims.csv.gz)``).

    Checked before a byte is read: a device such as /dev/zero never ends.
    """
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return "it is a directory, not a file"
    what = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special"
    return f"it is {what}, not a file; evidence is read from regular files and pipes"


def _open_without_waiting(path: Path) -> BinaryIO:
    """Open for reading without waiting for a writer: a named pipe that nobody writes to reads as empty.

    A plain ``open`` of a FIFO blocks until some process opens it for writing;
    with ``O_NONBLOCK`` the open returns at once, and the flag is then cleared
    so that reads wait for data as usual (a pipe with no writer is at its end).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bounded(fh: BinaryIO, label: str) -> bytes:
    """The whole of a file that is not memory-mapped (a pipe), refused beyond ``MAX_PIPE_BYTES``."""
    data = fh.read(MAX_PIPE_BYTES + 1)
    if len(data) > MAX_PIPE_BYTES:
        raise unreadable(label, f"it holds more than {MAX_PIPE_BYTES:,} bytes, the most sob reads from a pipe; "
                                "write it to a file first")
    return data


def _mostly_nul(nuls: int, size: int) -> bool:
    """A tenth or more of the bytes are NUL: UTF-16/32 text (one in two or four) or a binary file.

    A few NULs in UTF-8 text are stray characters in cells: data errors of
    those cells (``BAD_TEXT``), not a reason to refuse the whole file.
    """
    return nuls > 0 and nuls * 10 >= size


def _lines_in(path: Path) -> int | None:
    """The lines of a file, counted by polars (line breaks, plus a last line without one); ``None`` if it fails.

    polars counts on both cores without the GIL, faster than ``bytes.count``.  With no quote character every line break ends a line,
    whatever the bytes (``test_polars_counts_every_line`` holds it to that).
    """
    try:
        return int(pl.scan_csv(path, has_header=False, quote_char=None, infer_schema=False, raise_if_empty=False,
                               glob=False).select(pl.len()).collect().item())
    except pl.exceptions.PolarsError:  # pragma: no cover
        return None


def _chunks(path: Path, end: int | None = None) -> Iterator[tuple[bytearray, memoryview, int]]:
    """The file's bytes (up to offset ``end``) in chunks of ``_CHUNK`` (one reused buffer): ``(buffer, length)``."""
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    left = end
    with open(path, "rb") as fh:
        while n := fh.readinto(buf if left is None or left >= _CHUNK else view[:left]):
            yield buf, view, n
            if left is not None:
                left -= n


class Source:
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

    #: What runs the byte scan beside polars: a thread, joined by ``counts()`` (and ``close()``).
    #: Tests put a class here that runs the scan only when joined, so what they see never depends on timing.
    background: type[threading.Thread] = threading.Thread

    def __init__(self, path: Path, label: str, delim: str | None, *, scan: bool = True, later: bool = False,
                 data: bytes | None = None, original: bytes | None = None) -> None:
        """``scan=False``: no byte counts (a Parquet file, which polars checks itself).

        ``delim=None``: the delimiter is detected from the head (``detect_delimiter``).
        ``data``: the file's text already read and transcoded to UTF-8 (another
        encoding, see :mod:`sob.evidence.encoding`); ``original``: its bytes as
        on disk, which the SHA-256 is of.
        """
        self.label = label
        self.path = path
        self._original = original
        self._counts: _Counts | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._sha256: str | None = None
        self._delimiters: int | None = None
        self._marks: _Marks | None = None
        self.data: bytes | None = data
        if data is not None:
            self._from_data(data, delim, scan)
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise unreadable(label, "no such file") from None
        except OSError as exc:
            raise unreadable(label, exc.strerror or str(exc)) from None
        if (what := _not_a_file(st.st_mode)) is not None:
            raise unreadable(label, what)
        later = later and scan and stat.S_ISREG(st.st_mode)
        mm: mmap.mmap | None = None
        try:
            with _open_without_waiting(path) as fh:
                if stat.S_IFMT(os.fstat(fh.fileno()).st_mode) != stat.S_IFMT(st.st_mode):
                    raise unreadable(label, "it was replaced while it was being opened")
                if stat.S_ISREG(st.st_mode) and st.st_size > 0 and not later:
                    try:
                        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                    except (OSError, ValueError):  # pragma: no cover - odd file systems
                        mm = None
                if later:
                    self.head_bytes = fh.read(1 << 16)
                elif mm is None:
                    self.data = _read_bounded(fh, label)
        except OSError as exc:
            raise unreadable(label, exc.strerror or str(exc)) from None
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
        self.delim = detect_delimiter(self.head_bytes) if delim is None else delim
        self._delim = self.delim.encode("utf-8")
        self.source: str | bytes = str(path) if self.data is None else self.data
        if not scan:
            return
        if self.data is None:
            self._thread = self.background(target=self._scan_file, args=(later,), daemon=True)
            self._thread.start()
        else:
            counter = _ByteScan(self._delim, count_delimiters=True)
            counter.feed(self.data, len(self.data))
            self._counts = counter.result()

    def _from_data(self, data: bytes, delim: str | None, scan: bool) -> None:
        """The state of a source whose bytes are already in memory (transcoded text)."""
        self.size = len(data)
        self.head_bytes = data[: 1 << 16]
        self._marks = _Marks()
        self._marks.find(data, 0)
        self.delim = detect_delimiter(self.head_bytes) if delim is None else delim
        self._delim = self.delim.encode("utf-8")
        self.source = data
        if scan:
            counter = _ByteScan(self._delim, count_delimiters=True)
            counter.feed(data, len(data))
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
            raise unreadable(self.label, "it is UTF-16 (or UTF-32) text; save it as UTF-8")
        if _mostly_nul(self.head_bytes.count(b"\x00"), len(self.head_bytes)) or (
                whole and _mostly_nul(self.counts().nuls, self.size)):
            raise unreadable(
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
            raise unreadable(self.label, exc.strerror or str(exc)) from None

    def all_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise unreadable(self.label, exc.strerror or str(exc)) from None

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
        except BaseException as exc:  # pragma: no cover - re-raised in counts()
            self._error = exc

    def counts(self) -> _Counts:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise unreadable(self.label, str(self._error))
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
                raise unreadable(self.label, exc.strerror or str(exc)) from None
        return self._delimiters

    def sha256(self) -> str:
        """The SHA-256 of the file's bytes, computed on first use (``hashlib`` releases the GIL)."""
        if self._sha256 is None and self._original is not None:
            self._sha256 = hashlib.sha256(self._original).hexdigest()
        if self._sha256 is None:
            if self.data is not None:
                self._sha256 = hashlib.sha256(self.data).hexdigest()
            else:
                h = hashlib.sha256()
                try:
                    for _buf, view, n in _chunks(self.path):
                        h.update(view[:n])
                except OSError as exc:
                    raise unreadable(self.label, exc.strerror or str(exc)) from None
                self._sha256 = h.hexdigest()
        return self._sha256

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
