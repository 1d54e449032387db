"""Exact integer keys for id strings, so millions of ids are matched as integers.

Looking up ids by string hashes a string and compares it byte by byte on
every probe; the same lookup on 64-bit integers costs a fraction of that.  A
hash would be cheaper still, but two ids with the same hash would be taken for one
another, and an unknown participant must never be taken for a known one.

So an id is *packed*, not hashed: its bytes, padded with NUL to 8 (or 16),
read as one unsigned integer.  Two different ids of at most that many ASCII
characters always give different integers (ids holding a NUL are left
unpacked, as the padding would make ``"A\\0"`` and ``"A"`` alike).  An id that
cannot be packed (longer, or not ASCII) gets a null key; when every id of the
register packs, such an id is simply not in the register.  When some register
id does not pack, callers compare strings as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["Packing", "comparable", "keys_of", "packed", "positions_in"]


def packed(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The id ``e`` packed into ``dtype`` (null when it is null, too long, not ASCII or holds a NUL)."""
    width = 8 if dtype == pl.UInt64 else 16
    bytes_ = e.str.pad_end(width, "\x00").cast(pl.Binary)
    # pad_end counts characters: a non-ASCII id comes out longer than ``width`` bytes,
    # and reinterpret gives null for any value that is not exactly ``width`` bytes.
    return pl.when(~e.str.contains("\x00", literal=True)).then(bytes_.bin.reinterpret(dtype=dtype))


@dataclass(frozen=True)
class Packing:
    """How ids are compared with a set of packed keys.

    ``fixed``: every id of the set is exactly as long as the integer (8 or 16
    bytes, ids of one fixed width, as registers often have).  Then an id is
    its bytes read as the integer, with no padding, so a NUL cannot make two
    ids alike and needs no check; an id of any other length gets no key and
    is, rightly, not in the set.  That is several times cheaper per id.
    """

    dtype: pl.DataType
    fixed: bool = False


def comparable(e: pl.Expr, packing: Packing | None) -> pl.Expr:
    """``e`` as it is compared with keys packed by :func:`keys_of`: packed, or the string."""
    if packing is None:
        return e
    if packing.fixed:
        return e.cast(pl.Binary).bin.reinterpret(dtype=packing.dtype)
    return packed(e, packing.dtype)


def keys_of(ids: pl.Series) -> tuple[Packing | None, pl.Series]:
    """How ``ids`` are packed (the narrowest integer every non-null id fits), and the ids as compared.

    ``None`` and the ids themselves when some id does not pack.  Each id is packed once.
    """
    frame = ids.to_frame("id")
    lengths = ids.str.len_bytes().drop_nulls()
    for dtype in (pl.UInt64(), pl.UInt128()):
        width = 8 if dtype == pl.UInt64 else 16
        fixed = lengths.len() > 0 and lengths.min() == lengths.max() == width
        packing = Packing(dtype, fixed=fixed)
        keys = frame.select(comparable(pl.col("id"), packing))["id"]
        if keys.null_count() == ids.null_count():
            return packing, keys
    return None, ids


def positions_in(ids: pl.Series, table: pl.Series, *, keys: tuple[Packing | None, pl.Series] | None = None,
                 nulls_equal: bool = False) -> pl.Series:
    """For each of ``ids``, its position in ``table`` (unique values), or null: a UInt32 Series.

    Joining with the row order kept costs several times more than without on
    millions of rows, so only (row, position) pairs are joined, in any order,
    and the positions are put back in place with one scatter.  Ids are
    compared as packed integers when every one of ``table`` packs, as strings
    otherwise.  ``keys``: ``keys_of(table)`` when the caller has it already.
    """
    if nulls_equal:  # null is a value here: compared as strings
        packing, table_keys = None, table
    else:
        packing, table_keys = keys if keys is not None else keys_of(table)
    left = ids.to_frame("id").lazy().select(comparable(pl.col("id"), packing).alias("_k")).with_row_index("_r")
    right = table_keys.to_frame("_k").lazy().with_row_index("_t")
    pairs = left.join(right, on="_k", how="inner", nulls_equal=nulls_equal).collect()
    positions = pl.repeat(None, ids.len(), dtype=pl.UInt32, eager=True).alias("_p")
    return positions.scatter(pairs["_r"], pairs["_t"]) if pairs.height else positions
