"""The publication as an INDIGO Data Standard 4.1.0 project document (JSON).

Sections filled: ``name``, ``outcome_metrics``, ``outcome_pricings``,
``outcome_payment_commitments`` (each payer's maximum), ``outcome_payments``
(per quarter, outcome and payer: ``Actual`` from the ledger, ``Planned`` from
the profile) and ``results`` (per quarter and outcome: accepted claims in
``outcomes_achieved``, distinct participants in
``number_with_positive_social_outcomes``, both named in ``notes``).  A
suppressed figure keeps its record, with the value left out and the note
``suppressed``, so a reader sees that a figure exists and was withheld.

INDIGO amounts are JSON numbers.  Money is exact here, so an amount is kept as
its decimal string until the document is serialised, and then written as a
JSON number literal with exactly that text (:func:`dumps`), never through a
binary float.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NUMBER = "\x00number:"
_LITERAL = re.compile(r'"\\u0000number:(-?[0-9]+(?:\.[0-9]+)?)"')


def number(text: str) -> str:
    """An exact decimal string marked to be written as a JSON number literal by :func:`dumps`."""
    return _NUMBER + text


def dumps(document: dict[str, Any]) -> bytes:
    """``document`` as deterministic JSON (sorted keys, two-space indent), marked numbers as literals."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return (_LITERAL.sub(r"\1", text) + "\n").encode("utf-8")


def value(v: Any) -> dict[str, Any]:
    """INDIGO's ``{"value": ...}`` wrapper."""
    return {"value": v}


def period(start: str, end: str) -> dict[str, Any]:
    """An INDIGO period of ISO dates (the quarter's first and last day)."""
    return {"start_date": value(start), "end_date": value(end)}


def money(currency: str, amount: str | None) -> dict[str, Any]:
    """An INDIGO money object; ``None`` (suppressed) leaves the amount out."""
    out: dict[str, Any] = {"currency": value(currency)}
    if amount is not None:
        out["amount"] = value(number(amount))
    return out


__all__ = ["dumps", "money", "number", "period", "value"]
