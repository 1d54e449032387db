"""Money cells as spreadsheets write them (``[evidence] money = "lenient"``): ``£1,200.00``,
``1,200.00 GBP``, ``(1,200.00)``, turned into the plain decimal text the money parser reads.

Two twins: a polars expression for evidence columns, and a function on one string for the
opening balance's cells (read row by row).  A test holds them to the same answers.

Only the contract's own currency symbol (or its ISO code) is removed, so a ``$`` in a GBP
contract stays an error; separators are removed only where they group exactly three digits
(``1,200`` but never ``1,20``), so a decimal comma cannot be misread as a thousands separator.
"""

from __future__ import annotations

import re

import polars as pl

#: the symbol written before amounts in each currency (others are recognised by ISO code only)
SYMBOLS: dict[str, tuple[str, ...]] = {
    "GBP": ("£",), "EUR": ("€",), "USD": ("$", "US$"), "AUD": ("$", "A$"), "CAD": ("$", "C$"),
    "NZD": ("$", "NZ$"), "JPY": ("¥",), "CNY": ("¥",), "INR": ("₹",), "CHF": ("Fr.",), "ZAR": ("R",),
    "SEK": ("kr",), "NOK": ("kr",), "DKK": ("kr",), "KRW": ("₩",), "ILS": ("₪",), "NGN": ("₦",),
}

_GROUPED = r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$"
_PAREN = r"(?s)^\((.*)\)$"


def _py(pattern: str) -> str:
    """A pattern for Python's ``re``: its ``$`` also matches before a final line break, polars' does not."""
    return pattern.replace("$", r"\Z")


def _marks(currency: str) -> str:
    """A regular expression alternation of the currency's symbols and code, longest first."""
    marks = sorted({*SYMBOLS.get(currency.upper(), ()), currency.upper()}, key=len, reverse=True)
    return "|".join(re.escape(m) for m in marks)


def lenient_expr(text: pl.Expr, currency: str) -> pl.Expr:
    """Plain decimal text from a lenient money cell; text that is not such a cell comes out unparseable."""
    marks = _marks(currency)
    paren = text.str.contains(_PAREN)
    t = text.str.replace(_PAREN, "${1}").str.strip_chars()
    t = t.str.replace(rf"^([+-]?)\s*(?:{marks})\s*", "${1}").str.replace(rf"\s*(?:{marks})$", "")
    t = pl.when(t.str.contains(_GROUPED)).then(t.str.replace_all(",", "", literal=True)).otherwise(t)
    signed = t.str.starts_with("-") | t.str.starts_with("+")
    return pl.when(paren & signed).then(pl.lit("()")).when(paren).then(pl.lit("-") + t).otherwise(t)


def lenient_text(text: str, currency: str) -> str:
    """``lenient_expr`` of one cell (its twin for the opening balance)."""
    marks = _marks(currency)
    paren = re.search(_py(_PAREN), text) is not None
    t = re.sub(_py(_PAREN), r"\1", text, count=1).strip()
    t = re.sub(rf"^([+-]?)\s*(?:{marks})\s*", r"\1", t, count=1)
    t = re.sub(_py(rf"\s*(?:{marks})$"), "", t, count=1)
    if re.search(_py(_GROUPED), t):
        t = t.replace(",", "")
    if paren and t.startswith(("-", "+")):
        return "()"
    return "-" + t if paren else t
