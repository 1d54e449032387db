"""Text encodings of evidence files: checking a codec name, transcoding a file that is not UTF-8
into UTF-8 bytes for the one CSV reader, and the error that says where a file stops being UTF-8
and which encoding it most likely is.

UTF-8 files never pass through here: they are read straight from disk, so the usual path costs
nothing.  Another encoding is only ever used when the contract or ``--encoding`` names it; the
detected one is only suggested, never applied.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from sob.evidence.source import _not_a_file, _open_without_waiting, unreadable
from sob.findings import UsageError
from sob.textcodecs import UTF8_NAMES, codec_name

#: how much of a file is looked at to guess its encoding (enough for charset-normalizer, bounded)
_SAMPLE = 1 << 18
#: candidates preferred when the detector finds several equally likely (what spreadsheets on Windows write)
_PREFERRED = ("cp1252", "utf_16", "cp1250", "iso8859_15", "latin_1", "mac_roman")


def _read_all(path: Path, label: str, limit: int) -> bytes:
    """The bytes of a file or pipe, refused beyond ``limit`` bytes (the limit for a pipe)."""
    try:
        st = os.stat(path)
        if (what := _not_a_file(st.st_mode)) is not None:
            raise unreadable(label, what)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise unreadable(label, f"it holds more than {limit:,} bytes, the most sob transcodes from another "
                                    "encoding; save it as UTF-8")
        with _open_without_waiting(path) as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise unreadable(label, "no such file") from None
    except OSError as exc:
        raise unreadable(label, exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise unreadable(label, f"it holds more than {limit:,} bytes, the most sob transcodes from another "
                                "encoding; save it as UTF-8")
    return data


def transcode(path: Path, label: str, encoding: str, limit: int) -> tuple[bytes, bytes]:
    """``(original bytes, the same text as UTF-8)`` of a file in ``encoding``.

    A byte that does not decode is an error naming its line and offset: a
    wrong ``encoding`` must never turn into silently replaced characters.
    """
    data = _read_all(path, label, limit)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise unreadable(label, f"line {line}, byte {exc.start} (0x{data[exc.start]:02X}) is not valid {encoding} "
                                f"text; check [evidence] encoding (or --encoding){_guess_text(data)}") from None
    return data, text.removeprefix("\ufeff").encode("utf-8")


def first_bad_utf8(path: Path | None, data: bytes | None) -> tuple[int, int, bytes] | None:
    """``(byte offset, line, sample)`` of the first byte that is not UTF-8, read in bounded chunks.

    ``sample`` is up to ``_SAMPLE`` bytes of the file around it, for guessing the encoding.
    """
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    chunk_size = 1 << 20
    fh = None if data is not None or path is None else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        while True:
            chunk = data[offset: offset + chunk_size] if data is not None else fh.read(chunk_size)  # type: ignore[union-attr]
            if not chunk:
                return None
            held = len(dec.getstate()[0])  # bytes of a sequence begun in the previous chunk
            try:
                dec.decode(chunk, final=len(chunk) < chunk_size)
            except UnicodeDecodeError as exc:
                start = exc.start - held  # may be negative: the sequence began in the previous chunk
                at = offset + start
                line = lines + chunk.count(b"\n", 0, max(start, 0)) + 1
                head = data[:_SAMPLE] if data is not None else _head(path, _SAMPLE)
                around = chunk[max(start - 4096, 0): max(start, 0) + _SAMPLE // 2]
                return at, line, head + b"\n" + around
            lines += chunk.count(b"\n")
            offset += len(chunk)
    finally:
        if fh is not None:
            fh.close()


def _head(path: Path | None, n: int) -> bytes:
    if path is None:
        return b""
    with open(path, "rb") as fh:
        return fh.read(n)


def likely_encoding(sample: bytes) -> str | None:
    """The encoding charset-normalizer finds most likely for ``sample`` (a Python codec name), or ``None``.

    Short Western-European samples fit several single-byte code pages
    equally well (the same "chaos" score); among those, the one spreadsheets
    on Windows write is named.
    """
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a core dependency
        return None
    results = list(from_bytes(sample))
    if not results:
        return None
    best = results[0]
    tied = [r for r in results if r.chaos <= best.chaos + 0.01]
    candidates = {name for r in tied for name in (r.encoding, *r.could_be_from_charset)}
    for name in _PREFERRED:
        if name in candidates:
            return codec_name(name)
    return codec_name(best.encoding)


def _guess_text(sample: bytes) -> str:
    """``; it looks like X (...)`` when an encoding can be guessed from ``sample``."""
    guess = likely_encoding(sample)
    if guess is None or guess in UTF8_NAMES:
        return ""
    return f"; it looks like {guess}"


def not_utf8(label: str, path: Path | None, data: bytes | None = None) -> UsageError:
    """The error for a file that is not UTF-8: where, the likely encoding, and how to say so.

    Exit 2 (the file cannot be read as it is); nothing is guessed silently.
    """
    try:
        found = first_bad_utf8(path, data)
    except OSError as exc:
        return unreadable(label, exc.strerror or str(exc))
    if found is None:  # pragma: no cover - polars and Python disagree on what UTF-8 is
        return unreadable(label, "it is not UTF-8 text")
    at, line, sample = found
    bad = (data[at] if data is not None else _byte_at(path, at))
    guess = likely_encoding(sample)
    where = f"it is not UTF-8 text: line {line}, byte {at} (0x{bad:02X}) cannot be read as UTF-8"
    if guess is None or guess in UTF8_NAMES:
        return unreadable(label, f"{where} (a binary file, or text in an unknown encoding); save it as UTF-8 CSV")
    return unreadable(label, f"{where}; it looks like {guess} text. If it is, set encoding = \"{guess}\" under "
                             f"[evidence] in the contract, or pass --encoding {guess} (or save it as UTF-8 CSV)")


def _byte_at(path: Path | None, at: int) -> int:
    if path is None:
        return 0
    with open(path, "rb") as fh:
        fh.seek(at)
        b = fh.read(1)
    return b[0] if b else 0
