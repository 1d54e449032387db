"""Worked examples (SPEC 8): the contract's own payment schedule, run as tests.

Each ``[[examples]]`` entry is a tiny quarter close: its inline rows go
through the same evidence validation and engine as real files, and every
expectation it states is compared with what the engine computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from sob.contract.model import Contract, Example
from sob.evidence import read_inline
from sob.findings import Finding
from sob.money import to_minor
from sob.payrun import pay_quarter
from sob.quarters import Quarter


@dataclass
class ExampleResult:
    """Outcome of one worked example: passed, or the differences found."""

    name: str
    quarter: str
    passed: bool
    differences: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    line: int | None = None


def example_quarter(contract: Contract, example: Example) -> Quarter:
    """The example's ``quarter``, else the quarter holding the latest submission."""
    if example.quarter:
        return Quarter.parse(example.quarter)
    days: list[date] = []
    for row in (*example.claims, *example.results):
        day = row.get("submitted_on") or row.get("achieved_on")
        if isinstance(day, date):
            days.append(day)
    latest = max(days) if days else contract.start
    return Quarter.containing(latest, contract.fiscal_year_start_month)


def run_example(contract: Contract, example: Example) -> ExampleResult:
    """Run one example and compare every stated expectation."""
    try:
        quarter = example_quarter(contract, example)
    except ValueError as exc:
        return ExampleResult(example.name, str(example.quarter), False, [str(exc)], line=example.line)
    evidence = read_inline(
        contract, list(example.participants), list(example.claims), list(example.results), name=example.name
    )
    if evidence.file_errors:
        return ExampleResult(
            example.name, str(quarter), False, [f.message for f in evidence.file_errors], evidence.file_errors, example.line
        )
    run = pay_quarter(contract, evidence.claims, evidence.participants, evidence.results, quarter)
    diffs = _compare(contract, example.expect, run.table, run.payer_totals)
    return ExampleResult(example.name, str(quarter), not diffs, diffs, evidence.findings, example.line)


def run_examples(contract: Contract) -> list[ExampleResult]:
    """Every worked example of the contract, in file order."""
    return [run_example(contract, ex) for ex in contract.examples]


def _money(contract: Contract, value: object) -> int | None:
    try:
        return to_minor(Decimal(str(value)), contract.minor_units)
    except Exception:
        return None


def _compare(contract: Contract, expect: dict[str, Any], table: pl.DataFrame, payer_totals: pl.DataFrame) -> list[str]:
    """Differences between the example's ``expect`` and the computed quarter."""
    diffs: list[str] = []
    m = contract.money

    def check_amount(label: str, wanted: object, got: int) -> None:
        want = _money(contract, wanted)
        if want is None:
            diffs.append(f"{label}: expected value {wanted!r} is not an amount in {contract.currency}")
        elif want != got:
            diffs.append(f"{label}: expected {m(want)}, computed {m(got)}")

    for key in ("entitled", "due"):
        if key in expect:
            check_amount(key, expect[key], int(table[key].sum() or 0))
    if "payers" in expect:
        got_payers = {pid: e for pid, e, _, _ in payer_totals.iter_rows()}
        for pid, wanted in dict(expect["payers"]).items():
            if pid not in got_payers:
                diffs.append(f"payers.{pid}: no such payer")
            else:
                check_amount(f"payers.{pid} entitled", wanted, got_payers[pid])
    rows = {r["claim_id"]: r for r in table.select("claim_id", "status", "reason", "entitled", "due").iter_rows(named=True)}
    for cid, wanted in dict(expect.get("claims", {})).items():
        row = rows.get(str(cid))
        if row is None:
            diffs.append(f"claim {cid}: not in scope of the quarter")
            continue
        for key, value in dict(wanted).items():
            if key in ("entitled", "due"):
                check_amount(f"claim {cid} {key}", value, int(row[key]))
            elif key == "reason" and (row["reason"] or "") != (value or ""):
                diffs.append(f"claim {cid} reason: expected {value}, computed {row['reason'] or '(none)'}")
            elif key == "status" and row["status"] != str(value).lower():
                diffs.append(f"claim {cid} status: expected {value}, computed {row['status']}")
    return diffs
