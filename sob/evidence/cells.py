"""Cell-level polars expressions: parsing dates, decimals, money and statuses from trimmed text
(a cell is bad when its text is non-null and its parsed value is null).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from sob.columns import MAX_DECIMAL_FRACTION_DIGITS, MAX_DECIMAL_WHOLE_DIGITS, STATUSES

_DECIMAL_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
@dataclass
class Check:
    code: str
    field: str | None
    flag: pl.Expr
    value: str | None  # raw column whose text is the offending value
    why: str | None = None  # what is wrong, when the code's usual message does not say it
    warn: bool = False  # a warning: the row is still valid (an informational column such as amount_claimed)


#: a midnight time after a date, as spreadsheets export date cells (``2020-03-31 00:00:00``)
MIDNIGHT = r"[ T]00:00(?::00(?:\.0+)?)?$"
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%T", "%R", "%X", "%c", "%f")


def has_time(fmt: str) -> bool:
    """The date format reads a time of day too (the time is then dropped: SPEC dates are days)."""
    return any(d in fmt for d in _TIME_DIRECTIVES)


@functools.lru_cache(maxsize=64)
def _longest_date(fmt: str) -> int:
    """The most bytes a date of a leap year written in ``fmt`` takes (month and day names vary in length)."""
    first = date(2000, 1, 1).toordinal()
    return max(len(date.fromordinal(first + i).strftime(fmt).encode("utf-8")) for i in range(366))


def parse_date(col: str, fmt: str, midnight: bool = True) -> pl.Expr:
    """A date cell in ``fmt``; a cell that fails it but holds the date and a midnight time is read as the date.

    A datetime at midnight is how spreadsheets export a date cell.  A time
    other than midnight stays a ``BAD_DATE``: dropping it silently could move
    a claim across a quarter's end in a time zone the file does not state;
    a ``date_format`` with a time part says the time is expected and read.
    Only cells longer than any date ``fmt`` writes are looked at again.
    ``midnight=False``: the plain format only.  The compact path reads so (the
    second look costs a clean file about a third more time); a row it then
    finds bad is read again in detail with ``midnight=True``, and a row whose
    date that rescues sends the file to the detailed path (``_mend_bad_rows``).
    """
    c = pl.col(col)
    d = c.str.to_date(fmt, strict=False)  # cached: a file holds few distinct dates
    if midnight and not has_time(fmt):
        longer = c.str.len_bytes() > _longest_date(fmt)
        d = pl.coalesce(d, pl.when(longer).then(c.str.replace(MIDNIGHT, "").str.to_date(fmt, strict=False)))
    if "%Y" in fmt:  # chrono accepts 1- to 3-digit years for %Y; strftime wants four
        d = pl.when(d >= _YEAR_1000).then(d)  # one comparison a row, not a year computed from days
    return d


def unparsed(raw: str, parsed: str) -> pl.Expr:
    """The cell has text, but it did not parse."""
    return pl.col(raw).is_not_null() & pl.col(parsed).is_null()


def decimal_ok(col: str) -> pl.Expr:
    return pl.col(col).str.contains(_DECIMAL_RE)


def whole_digits(col: str) -> pl.Expr:
    """Digits of a plain decimal before its point, leading zeros aside (0 for a value below 1)."""
    body = pl.col(col).str.strip_chars_start("+-").str.splitn(".", 2).struct.field("field_0")
    return body.str.strip_chars_start("0").str.len_bytes().cast(pl.Int64)


def fraction_digits(col: str) -> pl.Expr:
    """Digits of a plain decimal after its point, trailing zeros aside."""
    frac = pl.col(col).str.splitn(".", 2).struct.field("field_1").fill_null("")
    return frac.str.strip_chars_end("0").str.len_bytes().cast(pl.Int64)


def out_of_range(col: str) -> pl.Expr:
    """A plain decimal with more digits than the engine computes with exactly (``sob.columns`` limits)."""
    return decimal_ok(col) & ((whole_digits(col) > MAX_DECIMAL_WHOLE_DIGITS)
                              | (fraction_digits(col) > MAX_DECIMAL_FRACTION_DIGITS))


def positive(col: str) -> pl.Expr:
    c = pl.col(col)
    return decimal_ok(col) & ~c.str.starts_with("-") & c.str.contains("[1-9]")


def non_negative(col: str) -> pl.Expr:
    c = pl.col(col)
    return decimal_ok(col) & (~c.str.starts_with("-") | ~c.str.contains("[1-9]"))


def money_minor(col: str, units: int, text: pl.Expr | None = None) -> pl.Expr:
    """Plain decimal text -> Int64 minor units; null when not a number, too precise or too large.

    ``text``: the text to read instead of the column's (a lenient money cell made plain).
    """
    c = pl.col(col) if text is None else text
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
    return pl.when(c.str.contains(_DECIMAL_RE) & fits).then(minor)


def one_of(col: str, values: Iterable[str]) -> pl.Expr:
    return one_of_expr(pl.col(col), values)


def one_of_expr(c: pl.Expr, values: Iterable[str]) -> pl.Expr:
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


STATUS_ANY_CASE = [v for w in STATUSES for v in _case_variants(w)]
STATUS_OF_SPELLING = pl.Series([v.lower() for v in STATUS_ANY_CASE], dtype=pl.Enum(STATUSES))
_YEAR_1000 = date(1000, 1, 1)
def typed_status() -> pl.Expr:
    """The status as typed from the text: none is ``claimed``, another case lower-cased, invalid null."""
    claimed = pl.lit("claimed", dtype=pl.Enum(STATUSES))
    return pl.when(pl.col("status").is_null()).then(claimed).otherwise(pl.col("__sob_st"))


def typed_submitted() -> pl.Expr:
    """The submission date as typed from the text: none means the achievement date."""
    return pl.when(pl.col("submitted_on").is_null()).then(pl.col("__sob_ach")).otherwise(pl.col("__sob_sub"))
