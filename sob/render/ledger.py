"""Rich view of ``sob ledger show``: closed quarters, totals per payer, paid to date.

Two narrow tables per contract rather than one wide one, so a pipe or a CI
log (80 columns) shows whole amounts.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_ledger(rows: list[dict[str, Any]], console: Console) -> None:
    """Per contract: quarter totals, then due and paid to date per payer."""
    if not rows:
        console.print("no closed quarters")
        return
    by_contract: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_contract.setdefault(str(row["contract"]), []).append(row)
    for contract, quarters in by_contract.items():
        totals = Table(title=f"{contract}: closed quarters")
        totals.add_column("quarter", no_wrap=True)
        for col in ("claims", "entitled", "due", "paid to date"):
            totals.add_column(col, justify="right", no_wrap=True)
        totals.add_column("closed at", no_wrap=True)
        for q in quarters:
            totals.add_row(
                str(q["quarter"]), str(q.get("claims", "")), str(q.get("entitled", "")), str(q.get("due", "")),
                str(q.get("paid_to_date", "")), str(q.get("closed_at", "")),
            )
        console.print(totals)
        payers = list(quarters[0].get("due_by_payer", {}))
        per_payer = Table(title=f"{contract}: per payer")
        for col in ("quarter", "payer", "due", "paid to date"):
            per_payer.add_column(col, justify="right" if col in ("due", "paid to date") else "left", no_wrap=True)
        for q in quarters:
            for p in payers:
                per_payer.add_row(
                    str(q["quarter"]), p, str(q["due_by_payer"].get(p, "")),
                    str(q.get("paid_to_date_by_payer", {}).get(p, "")),
                )
        console.print(per_payer)
        caps = Table(title=f"{contract}: paid to date against each cap")
        for col in ("quarter", "cap", "limit", "paid to date", "headroom"):
            caps.add_column(col, justify="right" if col in ("limit", "paid to date", "headroom") else "left", no_wrap=True)
        for q in quarters:
            for name, use in q.get("caps", {}).items():
                caps.add_row(str(q["quarter"]), name, use["limit"], use["paid_to_date"], use["headroom"])
        if caps.row_count:
            console.print(caps)
