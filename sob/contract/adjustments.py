"""Checks of ``[[adjustments]]`` (SPEC 10.6, 11.7): agreed payments that no claim explains.

An adjustment is part of the contract record (a payment on profile, a
settlement, a recovery), so it is checked with the rest of the file: a
unique id, a date inside [start, claims_end], a signed amount that is not
zero, a reason, and an optional split whose payers are known and whose
shares sum to 1.  The clash of an adjustment id with a claim or result id
is an evidence matter, checked when the evidence is read
(:mod:`sob.evidence.duplicates`).
"""

from __future__ import annotations

from typing import Any

from sob.contract import format as fmt
from sob.contract.converters import Facts, convert_fields, table
from sob.contract.model import Adjustment
from sob.contract.report import Reporter
from sob.contract.toml_locate import KeyPath


def check_adjustments(r: Reporter, data: dict[str, Any], facts: Facts) -> tuple[Adjustment, ...] | None:
    """``[[adjustments]]``: every entry checked; the adjustments in file order, or None when any is wrong."""
    if "adjustments" not in data:
        return ()
    value = data["adjustments"]
    if not isinstance(value, list):
        r.wrong_type(value, ("adjustments",), "an array of tables", hint="write [[adjustments]], not [adjustments]")
        return None
    out: list[Adjustment] = []
    seen: dict[str, int] = {}
    ok = True
    for i, item in enumerate(value):
        adjustment = _check_one(r, facts, item, i, seen)
        if adjustment is None:
            ok = False
        else:
            out.append(adjustment)
    return tuple(out) if ok else None


def _check_one(r: Reporter, facts: Facts, item: object, i: int, seen: dict[str, int]) -> Adjustment | None:
    """One adjustment: its keys, a unique id and a date the contract can pay on."""
    path: KeyPath = ("adjustments", i)
    entry = table(r, item, path, "[[adjustments]]")
    if entry is None:
        return None
    mark = r.mark()
    fields = convert_fields(r, facts, entry, path, fmt.ADJUSTMENT_FIELDS, fmt.ADJUSTMENT_REQUIRED)
    ident = fields.get("id")
    if ident is not None:
        if ident in seen:
            r.error("DUPLICATE_ID", (*path, "id"),
                    f"adjustment id '{ident}' is used twice (first by adjustments[{seen[ident]}])", value=ident,
                    hint="give each adjustment its own id: the ledger matches payments by id")
        else:
            seen[ident] = i
    _check_on(r, facts, fields, path)
    if not r.clean_since(mark):
        return None
    found = r.index.get(path)
    return Adjustment(id=fields["id"], on=fields["on"], amount=fields["amount"], reason=fields["reason"],
                      payers=fields.get("payers"), line=found[0] if found else None)


def _check_on(r: Reporter, facts: Facts, fields: dict[str, Any], path: KeyPath) -> None:
    """``on`` inside [start, claims_end]: outside it no quarter of the contract could pay it."""
    on = fields.get("on")
    if on is None:
        return
    if facts.start is not None and on < facts.start:
        r.error("DATES_OUT_OF_ORDER", (*path, "on"),
                f"{r.subject(path)} on {on} is before the contract start {facts.start}", value=on,
                hint="an adjustment is dated inside the contract: between start and claims_end")
    elif facts.claims_end is not None and on > facts.claims_end:
        r.error("DATES_OUT_OF_ORDER", (*path, "on"),
                f"{r.subject(path)} on {on} is after the contract's claims_end {facts.claims_end}", value=on,
                hint="an adjustment is dated inside the contract: between start and claims_end")
