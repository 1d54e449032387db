"""Names of text encodings: which Python codecs evidence files may be declared in.

Kept apart from the evidence readers so that the contract checks can refuse an
unknown ``[evidence] encoding`` without importing them.
"""

from __future__ import annotations

import codecs

#: the encodings that need no transcoding (a byte-order mark is skipped by the reader)
UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})


def codec_name(name: str) -> str | None:
    """Python's canonical name of an encoding (``cp1252``, ``utf-8``), or ``None`` if it is unknown.

    Only text encodings count: ``rot13`` or ``base64`` are codecs too, but a file is not text in them.
    """
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def is_utf8(name: str) -> bool:
    """The encoding is UTF-8 (with or without a byte-order mark): the file is read as it is."""
    return codec_name(name) in UTF8_NAMES


def unknown_codec(name: str, where: str) -> str:
    """Why an encoding name is refused, with the names people usually mean."""
    return (f"{where} {name!r} is not a text encoding Python knows; "
            "use a Python codec name such as \"utf-8\", \"cp1252\" (Excel on Windows), \"latin-1\" or \"utf-16\"")
