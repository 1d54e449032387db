"""Checks of the ``[[examples]]`` section (SPEC 8): worked examples written in the contract.

Every problem in an example is reported as BAD_EXAMPLE.  Inline rows are
typed the way the evidence readers would type the same cells; running the
examples is :mod:`sob.contract.examples`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sob.contract import format as fmt
from sob.contract.converters import Facts, as_date, choice, decimal, signed_money, table, text_value
from sob.contract.model import Example
from sob.contract.report import Reporter, did_you_mean, quoted, show
from sob.contract.toml_locate import KeyPath

_QUARTER = re.compile(fmt.QUARTER_PATTERN)


def check_examples(r: Reporter, data: dict[str, Any], facts: Facts) -> tuple[Example, ...] | None:
    """``[[examples]]``: every problem is reported as BAD_EXAMPLE."""
    if "examples" not in data:
        return ()
    value = data["examples"]
    r = r.as_code("BAD_EXAMPLE")
    if not isinstance(value, list):
        r.wrong_type(value, ("examples",), "an array of tables", hint="write [[examples]]")
        return None
    # an example is a run of this contract, so its expectations may name the adjustments too (SPEC 10.6)
    adjustments = data.get("adjustments")
    adjustment_ids = {a["id"] for a in adjustments if isinstance(a, dict) and isinstance(a.get("id"), str)} \
        if isinstance(adjustments, list) else set()
    examples = [check_example(r, facts, item, i, adjustment_ids) for i, item in enumerate(value)]
    if any(e is None for e in examples):
        return None
    return tuple(e for e in examples if e is not None)


def check_example(r: Reporter, facts: Facts, item: object, i: int,
                  adjustment_ids: set[str] | frozenset[str] = frozenset()) -> Example | None:
    """One worked example: its keys, quarter, rows and expectations (which may name the contract's adjustments)."""
    path: KeyPath = ("examples", i)
    example = table(r, item, path, "[[examples]]")
    if example is None:
        return None
    name = example.get("name")
    mark = r.mark()
    for key in example:
        if key not in fmt.EXAMPLE_KEYS:
            r.unknown_key(key, (*path, key), fmt.EXAMPLE_KEYS)
    if "name" in example:
        text_value(r, name, (*path, "name"))
    quarter = None
    if "quarter" in example:
        quarter = example_quarter(r, example["quarter"], (*path, "quarter"))
    rows = {key: example_rows(r, example.get(key, []), (*path, key), key) for key in fmt.EXAMPLE_ROWS}
    ids = {
        row[id_key]
        for key, id_key in (("claims", "claim_id"), ("results", "result_id"))
        for row in rows[key] or ()
        if id_key in row
    } | set(adjustment_ids)
    if "expect" not in example:
        r.missing(path, "expect", ": an example without expectations checks nothing")
        expect = None
    else:
        expect = example_expect(r, facts, example["expect"], (*path, "expect"), ids)
    if not r.clean_since(mark):
        return None
    found = r.index.get(path)
    return Example(
        name=name if isinstance(name, str) else f"examples[{i}]",
        quarter=quarter,
        participants=tuple(rows["participants"] or ()),
        claims=tuple(rows["claims"] or ()),
        results=tuple(rows["results"] or ()),
        expect=expect or {},
        line=found[0] if found else None,
    )


def example_quarter(r: Reporter, value: object, path: KeyPath) -> str | None:
    """The example's ``quarter``: a string like 2020-Q1."""
    text = text_value(r, value, path, 'a quarter such as "2020-Q1"')
    if text is None:
        return None
    if not _QUARTER.fullmatch(text):
        r.error("BAD_EXAMPLE", path, f"{r.subject(path)} {show(text)} is not a quarter like 2020-Q1", value=text)
        return None
    return text


def example_rows(r: Reporter, value: object, path: KeyPath, kind: str) -> list[dict[str, Any]] | None:
    """Inline evidence rows with canonical columns; values typed as the files would be."""
    columns = fmt.EXAMPLE_ROWS[kind]
    if not isinstance(value, list):
        r.wrong_type(value, path, f"an array of {kind} rows")
        return None
    rows: list[dict[str, Any]] = []
    for j, item in enumerate(value):
        rpath = (*path, j)
        row = table(r, item, rpath, f"a {kind} row")
        if row is None:
            continue
        out: dict[str, Any] = {}
        for key, cell in row.items():
            kpath = (*rpath, key)
            if key not in columns:
                r.error("BAD_EXAMPLE", kpath, f"{quoted(key)} is not a column of the {kind} file",
                        hint=did_you_mean(key, columns))
                continue
            converted = example_cell(r, columns[key], cell, kpath)
            if converted is not None:
                out[key] = converted
        for key in fmt.REQUIRED_COLUMNS[kind]:
            if key not in row:
                r.error("BAD_EXAMPLE", rpath, f"{r.subject(rpath)} has no '{key}', a required column of the {kind} file")
        rows.append(out)
    return rows


def example_cell(r: Reporter, kind: str, value: object, path: KeyPath) -> Any:
    """One inline cell, typed as the evidence readers type that column."""
    if kind == "date":
        return as_date(r, Facts(), value, path)
    if kind == "number":
        return decimal(r, value, path, "a number")
    if kind == "flag":
        if isinstance(value, bool | str):
            return value
        r.wrong_type(value, path, "true or false")
        return None
    if type(value) is int:  # ids written as numbers are read as text, like a CSV cell
        return str(value)
    return text_value(r, value, path)


def example_expect(r: Reporter, facts: Facts, value: object, path: KeyPath, ids: set[str]) -> dict[str, Any] | None:
    """``expect``: quarter totals, per-payer amounts and per-claim outcomes."""
    expect = table(r, value, path, "expect = { entitled = ..., claims = {...} }")
    if expect is None:
        return None
    out: dict[str, Any] = {}
    for key, item in expect.items():
        kpath = (*path, key)
        if key not in fmt.EXPECT_KEYS:
            r.unknown_key(key, kpath, fmt.EXPECT_KEYS)
        elif key in ("entitled", "due"):
            out[key] = signed_money(r, facts, item, kpath)
        elif key == "payers":
            out[key] = expect_payers(r, facts, item, kpath)
        else:
            out[key] = expect_claims(r, facts, item, kpath, ids)
    return out


def expect_payers(r: Reporter, facts: Facts, value: object, path: KeyPath) -> dict[str, Decimal] | None:
    """Expected entitled amount per payer; each payer must be in ``[[payers]]``."""
    amounts = table(r, value, path, "payer id = expected entitled")
    if amounts is None:
        return None
    out: dict[str, Decimal] = {}
    for payer_id, item in amounts.items():
        kpath = (*path, payer_id)
        if facts.payer_ids is not None and payer_id not in facts.payer_ids:
            r.error(
                "BAD_EXAMPLE",
                kpath,
                f"expect names payer {quoted(payer_id)}, which is not in [[payers]]",
                hint=did_you_mean(payer_id, facts.payer_ids),
            )
            continue
        amount = signed_money(r, facts, item, kpath)
        if amount is not None:
            out[payer_id] = amount
    return out


def expect_claims(r: Reporter, facts: Facts, value: object, path: KeyPath, ids: set[str]) -> dict[str, dict[str, Any]] | None:
    """Expected status, reason and amounts per claim (or result) id of the example."""
    claims = table(r, value, path, "claim id = { status = ..., entitled = ... }")
    if claims is None:
        return None
    out: dict[str, dict[str, Any]] = {}
    for claim_id, item in claims.items():
        cpath = (*path, claim_id)
        if claim_id not in ids:
            r.error(
                "BAD_EXAMPLE",
                cpath,
                f"expect names claim {quoted(claim_id)}, which is not among the example's claims or results",
                hint=did_you_mean(claim_id, ids),
            )
        spec = table(r, item, cpath, "status, reason, entitled, due")
        if spec is None:
            continue
        got: dict[str, Any] = {}
        for key, cell in spec.items():
            kpath = (*cpath, key)
            if key not in fmt.CLAIM_EXPECT_KEYS:
                r.unknown_key(key, kpath, fmt.CLAIM_EXPECT_KEYS)
            elif key == "status":
                got[key] = choice(r, cell, kpath, fmt.CLAIM_STATUSES)
            elif key == "reason":
                got[key] = text_value(r, cell, kpath)
            else:
                got[key] = signed_money(r, facts, cell, kpath)
        out[claim_id] = got
    return out
