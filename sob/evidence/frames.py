"""Collecting a reading query, and keeping the streaming engine's column pieces aligned.
"""

from __future__ import annotations

import itertools

import polars as pl

from sob.evidence.encoding import not_utf8
from sob.evidence.raw import Fallback, Raw


def collect(raw: Raw, lf: pl.LazyFrame) -> pl.DataFrame:
    try:
        return _aligned(lf.collect())
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise not_utf8(raw.label, raw.path, raw.src.data if raw.src is not None else None) from None
        raise Fallback(str(exc)) from None


def _aligned(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every chunked column cut into the same pieces (zero-copy slices).

    The streaming engine gives most columns one chunk per batch, but a column
    that is null on nearly every row (the first error of each row) can come
    out in a couple of chunks.  polars then copies the *whole frame* into one
    piece on the next filter or select, which on millions of claims costs the
    memory of a second frame.  Columns in one piece (constants
    among them) are left as they are.
    """
    lengths = _pieces(df)
    if len(lengths) < 2:
        return df
    odd = [name for name, n in zip(df.columns, df.n_chunks("all"))
           if n > 1 and df.get_column(name).chunk_lengths() != lengths]
    return df.with_columns(cut_like(df.get_column(name), lengths) for name in odd) if odd else df


def _pieces(df: pl.DataFrame) -> list[int]:
    """The chunk lengths of ``df``'s most chunked column (the pieces the streaming engine gave)."""
    counts = df.n_chunks("all")
    return df.get_column(df.columns[counts.index(max(counts))]).chunk_lengths() if counts else []


def cut_like(s: pl.Series, lengths: list[int]) -> pl.Series:
    """``s`` in pieces of ``lengths`` (zero-copy slices), to sit beside columns in those pieces."""
    starts = itertools.accumulate(lengths, initial=0)
    return pl.concat([s.slice(start, n) for start, n in zip(starts, lengths)], rechunk=False)


def beside(df: pl.DataFrame, *columns: pl.Series) -> pl.DataFrame:
    """``df`` with ``columns`` added or replaced, cut like its columns (see ``_aligned``)."""
    lengths = _pieces(df)
    return df.with_columns(cut_like(s, lengths) if len(lengths) > 1 else s for s in columns)
