"""Exact money: ISO 4217 minor units, parsing and formatting.

Inside ``sob`` an amount is an ``int`` count of the currency's minor unit
(pence for GBP).  Integers add, subtract and compare exactly, in Python and in
polars ``Int64`` columns alike; only the few places that multiply by a share or
a rate go through ``Decimal`` and round once, explicitly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# ISO 4217 minor units for the currencies that are not 2 (the usual case).
_ISO_NON_TWO: dict[str, int] = {
    # zero digits
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # three digits
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four digits
    "CLF": 4, "UYW": 4,
}
# Codes ISO lists with no minor unit ("N.A."): a contract must give minor_units.
_ISO_NO_MINOR: frozenset[str] = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
# Active ISO 4217 alphabetic codes with two minor digits.
_ISO_TWO: frozenset[str] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD
    KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB
    SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY
    TTD TWD TZS UAH USD USN UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL""".split()  # noqa: SIM905 - a table is easier to check as text
)

_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def is_iso_currency(code: str) -> bool:
    """True for an ISO 4217 alphabetic code this table knows."""
    return code in _ISO_TWO or code in _ISO_NON_TWO or code in _ISO_NO_MINOR


def iso_minor_units(code: str) -> int | None:
    """ISO 4217 minor unit of ``code``; ``None`` when ISO gives none (XAU, XDR)."""
    if code in _ISO_NON_TWO:
        return _ISO_NON_TWO[code]
    if code in _ISO_TWO:
        return 2
    return None


def parse_decimal(text: str) -> Decimal | None:
    """A plain decimal (sign, digits, optional point and digits) or ``None``.

    Exponents, thousands separators and currency symbols are refused because
    evidence and contracts must say exactly what they mean (SPEC 4).
    """
    text = text.strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already guards
        return None


def _scale(units: int) -> int:
    """10 to the ``units``: one minor unit per major unit (``10**units`` types as Any)."""
    scale: int = 10**units
    return scale


def fits_minor_units(value: Decimal, units: int) -> bool:
    """``500.000`` fits GBP, ``500.005`` does not (SPEC 3.1)."""
    if not value.is_finite():
        return False
    return (Fraction(value) * _scale(units)).denominator == 1


def to_minor(value: Decimal | int, units: int) -> int:
    """Exact minor units of ``value``; raises ``ValueError`` if it needs rounding.

    Goes through ``Fraction``: ``Decimal`` arithmetic would round silently at
    its context precision (28 digits).
    """
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    scaled = Fraction(d) * _scale(units)
    if scaled.denominator != 1:
        raise ValueError(f"{value} has more than {units} decimal places")
    return scaled.numerator


def format_minor(minor: int, units: int) -> str:
    """``150000`` pence → ``"1500.00"``: plain digits, exactly ``units`` decimals."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if units == 0:
        return sign + digits
    digits = digits.rjust(units + 1, "0")
    return f"{sign}{digits[:-units]}.{digits[-units:]}"


def minor_to_decimal(minor: int, units: int) -> Decimal:
    """The exact ``Decimal`` of an amount in minor units."""
    return Decimal(minor).scaleb(-units)


def round_half_away(value: Fraction | Decimal, units: int) -> int:
    """Round an exact amount once, half away from zero, to minor units (SPEC 5.4)."""
    frac = Fraction(value) * _scale(units)
    sign = -1 if frac < 0 else 1
    frac = abs(frac)
    whole, rest = divmod(frac.numerator, frac.denominator)
    if 2 * rest >= frac.denominator:
        whole += 1
    return sign * whole


def split_largest_remainder(amount: int, shares: list[Fraction]) -> list[int]:
    """Split ``amount`` minor units by ``shares`` (summing to 1), exactly (SPEC 5.6).

    Each payer gets floor(amount × share); the units left over go one each to
    the largest remainders, ties to the payer listed first.  The parts always
    sum to ``amount``.
    """
    parts: list[int] = []
    remainders: list[Fraction] = []
    for share in shares:
        exact = amount * share
        whole = exact.numerator // exact.denominator
        parts.append(whole)
        remainders.append(exact - whole)
    left = amount - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        parts[i] += 1
    return parts


__all__ = [
    "fits_minor_units",
    "format_minor",
    "is_iso_currency",
    "iso_minor_units",
    "minor_to_decimal",
    "parse_decimal",
    "round_half_away",
    "split_largest_remainder",
    "to_minor",
]
