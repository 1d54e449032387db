"""Rich view of ``sob ledger show``: closed quarters, totals per payer, paid to date.

Narrow tables per contract rather than one wide one, so a pipe or a CI log
(80 columns) shows whole amounts and whole ISO timestamps.  Amounts get
thousands separators here and nowhere else (``--format json`` keeps the
manifests' plain decimal text); a manifest does not record the currency, so
no symbol is guessed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sob.render.console import group_thousands
from sob.render.findings import printable


def _amount(value: object) -> Text:
    """A manifest amount (``"106400.00"``) as ``106,400.00``; anything else as written."""
    if value is None or value == "":
        return Text("")
    text = printable(value)
    digits = text.lstrip("-").replace(".", "", 1)
    shown = group_thousands(text) if digits.isdigit() else text
    return Text(shown, style="red" if text.startswith("-") else "")


def _timestamp(value: object) -> str:
    """The close time in full ISO 8601 (``2026-12-08T01:20:44Z``), never cut."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return "" if value is None else printable(value)


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A compact table: one space between columns, numbers right-aligned, nothing wrapped."""
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  padding=(0, 1), collapse_padding=True, pad_edge=False)
    for header, kind in columns:
        if kind == "num":
            table.add_column(header, justify="right", no_wrap=True)
        elif kind == "time":
            table.add_column(header, no_wrap=True, min_width=20)
        elif kind == "wrap":  # free text (an adjustment's reason): wrapped between words, never cut
            table.add_column(header, overflow="fold", ratio=1)
        else:
            table.add_column(header, no_wrap=True, overflow="ellipsis")
    return table


def render_ledger(rows: list[dict[str, Any]], console: Console) -> None:
    """Per contract: quarter totals, due and paid to date per payer, cap use, then the adjustments that moved money."""
    if not rows:
        console.print("no closed quarters")
        return
    by_contract: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_contract.setdefault(str(row["contract"]), []).append(row)
    for contract, quarters in by_contract.items():
        name = printable(contract)
        totals = _table(f"{name}: closed quarters", [("Quarter", "id"), ("Claims", "num"), ("Entitled", "num"),
                                                      ("Due", "num"), ("Paid to date", "num"), ("Closed at (UTC)", "time")])
        for q in quarters:
            claims = q.get("claims")
            totals.add_row(
                printable(q["quarter"]), f"{claims:,}" if isinstance(claims, int) else printable(claims or ""),
                _amount(q.get("entitled")), _amount(q.get("due")), _amount(q.get("paid_to_date")),
                _timestamp(q.get("closed_at")),
            )
        console.print(totals)
        payers = list(quarters[0].get("due_by_payer", {}))
        per_payer = _table(f"{name}: per payer", [("Quarter", "id"), ("Payer", "id"), ("Due", "num"), ("Paid to date", "num")])
        for q in quarters:
            for p in payers:
                per_payer.add_row(
                    printable(q["quarter"]), printable(p), _amount(q["due_by_payer"].get(p)),
                    _amount(q.get("paid_to_date_by_payer", {}).get(p)),
                )
        console.print(per_payer)
        caps = _table(f"{name}: paid to date against each cap",
                      [("Quarter", "id"), ("Cap", "id"), ("Limit", "num"), ("Paid to date", "num"), ("Headroom", "num")])
        for q in quarters:
            for cap, use in q.get("caps", {}).items():
                caps.add_row(printable(q["quarter"]), printable(cap), _amount(use["limit"]),
                             _amount(use["paid_to_date"]), _amount(use["headroom"]))
        if caps.row_count:
            console.print(caps)
        events = _events(name, quarters)
        if events.row_count:
            console.print(events)


def _events(name: str, quarters: list[dict[str, Any]]) -> Table:
    """Per quarter, the adjustments whose money moved in it (SPEC 10.6): paid, changed or clawed back.

    Openings, contract changes and skipped quarters are listed after the
    tables, one line each, by the command.
    """
    table = _table(f"{name}: adjustments paid or clawed back",
                   [("Quarter", "id"), ("Adjustment", "wrap"), ("Due", "num")])
    for q in quarters:
        for adj in q.get("adjustments") or []:
            status = "" if adj.get("status") == "paid" else f" [{printable(adj.get('row_reason', ''))}]"
            detail = (f"{printable(adj.get('id', ''))} on {printable(adj.get('on') or '—')}{status}: "
                      f"{printable(adj.get('reason', ''))}")
            table.add_row(printable(q["quarter"]), detail, _amount(adj.get("due")))
    return table
