"""A funder's view across contracts (``sob portfolio``): paid to date, the quarter's due, caps and profile, from ledgers.

One ledger folder holds every contract (``DIR/C/Q.csv``); :func:`sob.ledger.show`
reads and checks it once, so the figures are those the hash chain vouches
for.  Per contract: paid to date (the opening balance included, as ``sob
ledger show`` counts it), the due of the quarter asked for, the share of
each money cap used, accepted outcomes against the profile, and the last
closed quarter, flagged when the ledger is behind the others.  With a payer,
every amount is that payer's part and the caps shown are that payer's cap.
Amounts are summed per currency only: money in different currencies is
never added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sob import ledger
from sob.contract import Contract
from sob.findings import InputError, UsageError
from sob.money import format_minor
from sob.publish.data import ACCEPTED
from sob.quarters import Quarter
from sob.report.data import percent


@dataclass(frozen=True)
class Entry:
    """One contract of the portfolio with its closed-quarter rows of ``ledger show`` (oldest first)."""

    contract: Contract
    rows: list[dict[str, Any]]


def _minor(text: Any, contract: Contract, what: str) -> int:
    """A ``ledger show`` amount as minor units; anything else is a damaged ledger (exit 1)."""
    from decimal import Decimal, InvalidOperation

    from sob.money import to_minor

    try:
        return to_minor(Decimal(str(text)), contract.minor_units) if text not in (None, "") else 0
    except (InvalidOperation, ValueError, ArithmeticError) as exc:
        raise InputError(f"ledger of {contract.id}: {what} {text!r} is not an amount; run `sob ledger verify`") from exc


def _accepted(directory: Path, contract: Contract, quarter: str) -> dict[str, int]:
    """Accepted rows per outcome in a closed table (SPEC 9 ``accepted``): outcomes achieved to date."""
    path = Path(directory) / contract.id / f"{quarter}.csv"
    try:
        table = ledger.read_ledger_csv(ledger.read_regular(path), columns=["kind", "outcome_id", "status", "reason"])
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise InputError(f"{path}: not a closed claim table ({exc.__class__.__name__}); run `sob ledger verify`") from exc
    counts = (table.filter((pl.col("kind") != "adjustment") & ACCEPTED.fill_null(False))
              .group_by("outcome_id").agg(pl.len()))
    return {str(o): int(n) for o, n in counts.iter_rows()}


def _profile(contract: Contract, accepted: dict[str, int], at: Quarter | None) -> dict[str, Any]:
    """Cumulative accepted outcomes against the cumulative profile, per outcome that has one, and in all."""
    outcomes: list[dict[str, Any]] = []
    plan_all = actual_all = 0
    for o in contract.outcomes:
        if not o.profile:
            continue
        plan = sum(int(n) for label, n in o.profile if at is not None and Quarter.parse(label) <= at)
        actual = accepted.get(o.id, 0)
        plan_all, actual_all = plan_all + plan, actual_all + actual
        outcomes.append({"outcome_id": o.id, "profile_to_date": plan, "actual_to_date": actual,
                         "variance": actual - plan, "variance_percent": percent(actual - plan, plan)})
    return {"profile_to_date": plan_all if outcomes else None, "actual_to_date": actual_all if outcomes else None,
            "variance_percent": percent(actual_all - plan_all, plan_all) if outcomes else None, "outcomes": outcomes}


def _caps(contract: Contract, last: dict[str, Any] | None, payer: str | None) -> list[dict[str, Any]]:
    """Share of each money cap used: the contract's and outcomes' caps as the close recorded, and payer caps."""
    money, out = contract.money, []
    if last is not None and payer is None:
        for name, use in sorted((last.get("caps") or {}).items()):
            limit, used = _minor(use["limit"], contract, name), _minor(use["paid_to_date"], contract, name)
            out.append({"cap": name, "limit": money(limit), "used": money(used), "used_percent": percent(used, limit)})
    for p in contract.payers:
        if p.cap is None or (payer is not None and p.id != payer):
            continue
        used = _minor((last or {}).get("paid_to_date_by_payer", {}).get(p.id), contract, f"paid_to_date_{p.id}")
        out.append({"cap": f"payer_{p.id}", "limit": money(p.cap), "used": money(used),
                    "used_percent": percent(used, p.cap)})
    return out


def _end(contract: Contract, label: str) -> date:
    """Last day of a quarter label in the contract's fiscal calendar."""
    return Quarter.parse(label).end(contract.fiscal_year_start_month)


def _line(entry: Entry, directory: Path, upto: str | None, payer: str | None, reference: date | None) -> dict[str, Any]:
    """The portfolio's figures of one contract (see the module docstring)."""
    c = entry.contract
    at = None if upto is None else Quarter.from_user(upto, c.fiscal_year_start_month)
    rows = [r for r in entry.rows if at is None or Quarter.parse(r["quarter"]) <= at]
    last = rows[-1] if rows else None
    quarter = str(at) if at is not None else (None if last is None else last["quarter"])
    closed = last is not None and last["quarter"] == quarter
    if payer is None:
        paid = _minor(last["paid_to_date"], c, "paid_to_date") if last else 0
        due = _minor(last["due"], c, "due") if closed and last else None
    else:
        paid = _minor(last["paid_to_date_by_payer"].get(payer), c, "paid_to_date") if last else 0
        due = _minor(last["due_by_payer"].get(payer), c, "due") if closed and last else None
    if at is not None:
        behind = not closed
    else:
        behind = last is None or (reference is not None and _next_end(c, last["quarter"]) <= reference)
    accepted = _accepted(directory, c, last["quarter"]) if last else {}
    return {
        "contract": c.id, "name": c.name, "currency": c.currency,
        "last_closed": None if last is None else last["quarter"], "behind": behind,
        "quarter": quarter, "quarter_due": None if due is None else c.money(due),
        "paid_to_date": c.money(paid), "caps": _caps(c, last, payer),
        "profile": _profile(c, accepted, None if last is None else Quarter.parse(last["quarter"])),
        "_paid": paid, "_due": due,
    }


def _next_end(contract: Contract, label: str) -> date:
    """End of the quarter after ``label``: a ledger is behind once a whole later quarter has ended by the reference."""
    return Quarter.parse(label).next().end(contract.fiscal_year_start_month)


def _totals(lines: list[dict[str, Any]], units: dict[str, int]) -> list[dict[str, Any]]:
    """Paid to date and the quarter's due summed per currency (never across currencies), in currency order."""
    out = []
    for currency in sorted({x["currency"] for x in lines}):
        same = [x for x in lines if x["currency"] == currency]
        dues = [x["_due"] for x in same if x["_due"] is not None]
        out.append({"currency": currency, "contracts": len(same),
                    "paid_to_date": format_minor(sum(x["_paid"] for x in same), units[currency]),
                    "quarter_due": format_minor(sum(dues), units[currency]) if dues else None,
                    "behind": sum(1 for x in same if x["behind"])})
    return out


def build_portfolio(contracts: list[Contract], directory: Path, upto: str | None = None,
                    payer: str | None = None) -> dict[str, Any]:
    """Every figure of ``sob portfolio``, JSON-ready.

    ``upto``: the quarter (each contract's own fiscal calendar); a contract
    that has not closed it is *behind*.  Without it each contract is shown at
    its last close, and a contract is behind when a whole quarter after its
    last close has ended by the end of the latest close in the portfolio.
    ``payer``: only contracts that payer pays, with that payer's part.
    """
    ids = [c.id for c in contracts]
    if len(set(ids)) != len(ids):
        raise UsageError("a contract is named twice: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
    left_out = []
    if payer is not None:
        known = {p.id for c in contracts for p in c.payers}
        left_out = [c.id for c in contracts if payer not in {p.id for p in c.payers}]
        contracts = [c for c in contracts if c.id not in left_out]
        if not contracts:
            raise UsageError(f"--payer {payer}: no contract given has that payer (payers: "
                             + ", ".join(sorted(known)) + ")")
    shown = ledger.show(directory, {c.id for c in contracts})
    entries = [Entry(c, [r for r in shown if r["contract"] == c.id]) for c in contracts]
    ends = [_end(e.contract, e.rows[-1]["quarter"]) for e in entries if e.rows]
    reference = max(ends) if ends else None
    lines = [_line(e, directory, upto, payer, reference) for e in entries]
    units = {c.currency: max(x.minor_units for x in contracts if x.currency == c.currency) for c in contracts}
    totals = _totals(lines, units)
    for x in lines:
        del x["_paid"], x["_due"]
    return {"quarter": upto, "payer": payer, "latest_close_ends": None if reference is None else reference.isoformat(),
            "contracts": lines, "totals": totals, "left_out": left_out}


def export_frame(data: dict[str, Any]) -> tuple[pl.DataFrame, int]:
    """One row per contract for ``--export`` (CSV or XLSX), amounts as integers of the largest minor unit.

    The export writes money from integer columns named ``due``/``due_*``, so
    paid to date (the sum of every close's due) is ``due_to_date``; contracts
    with fewer minor digits are scaled up exactly (JPY 100 is 100.00).
    """
    units = max((_digits(x["paid_to_date"]) for x in data["contracts"]), default=2)

    def scaled(text: str | None) -> int | None:
        if text is None:
            return None
        whole, _, frac = text.partition(".")
        return int(whole.replace("-", "") + frac.ljust(units, "0")) * (-1 if text.startswith("-") else 1)

    rows = [{
        "contract": x["contract"], "name": x["name"], "currency": x["currency"], "last_closed": x["last_closed"],
        "behind": "yes" if x["behind"] else "no", "quarter": x["quarter"],
        "due": scaled(x["quarter_due"]), "due_to_date": scaled(x["paid_to_date"]),
        "caps_used": "; ".join(f"{c['cap']} {c['used_percent']}%" for c in x["caps"] if c["used_percent"] is not None),
        "profile_to_date": x["profile"]["profile_to_date"], "actual_to_date": x["profile"]["actual_to_date"],
    } for x in data["contracts"]]
    schema = {"contract": pl.String, "name": pl.String, "currency": pl.String, "last_closed": pl.String,
              "behind": pl.String, "quarter": pl.String, "due": pl.Int64, "due_to_date": pl.Int64,
              "caps_used": pl.String, "profile_to_date": pl.Int64, "actual_to_date": pl.Int64}
    return pl.DataFrame(rows, schema=schema), units


def _digits(amount: str) -> int:
    """Digits after the point of an amount string (its currency's minor unit)."""
    return len(amount.partition(".")[2])


def build_portfolio_view(paths: list[Path], directory: Path, upto: str | None, payer: str | None) -> dict[str, Any]:
    """``sob portfolio``: load and check every contract, then :func:`build_portfolio` from the ledger."""
    from sob.workflows import load_valid_contract, parse_quarter

    if not paths:
        raise UsageError("sob portfolio needs at least one contract file")
    contracts = [load_valid_contract(p, run_examples_too=False)[0] for p in paths]
    if upto is not None:
        for c in contracts:
            parse_quarter(upto, c.fiscal_year_start_month)  # a malformed label is exit 2 before any reading
    if not Path(directory).is_dir():
        raise UsageError(f"{directory}: the ledger folder does not exist")
    return build_portfolio(contracts, directory, upto, payer)


def write_portfolio_export(data: dict[str, Any], path: Path) -> None:
    """``--export``: a .csv or .xlsx table (one row per contract) or an .html page; atomic, exit 2 on failure."""
    from sob.export import write_table
    from sob.pack import save_bytes

    if Path(path).suffix.lower() in (".html", ".htm"):
        from sob.portfolio_page import render_html

        save_bytes(Path(path), render_html(data).encode("utf-8"))
        return
    if Path(path).suffix.lower() not in (".csv", ".xlsx"):
        raise UsageError(f"--export {path}: use a name ending in .csv, .xlsx or .html")
    frame, units = export_frame(data)
    write_table(frame, Path(path), units)


__all__ = ["build_portfolio", "build_portfolio_view", "export_frame", "write_portfolio_export"]
