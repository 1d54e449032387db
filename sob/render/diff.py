"""Rich view of ``sob diff``: the listed rows, the outcomes and payers whose entitled differs, the totals.

The row table stops after :data:`ROW_LIMIT` rows (a rate-card edit can list
every claim); the JSON and ``--export`` always hold them all.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sob.diff import ContractDiff

ROW_LIMIT = 50


def render_diff(result: ContractDiff, console: Console) -> None:
    """Print the comparison; one line when nothing differs."""
    title = f"{result.new.id} {result.quarter}: OLD → NEW"
    if result.rows.height == 0:
        console.print(f"{title}: no row differs; no money moves")
        return
    rows = Table(title=f"{title}: {result.rows.height} row(s) differ")
    for col in ("claim id", "outcome", "status", "reason", "price", "entitled", "difference"):
        rows.add_column(col, justify="right" if col in ("price", "entitled", "difference") else "left", no_wrap=True)
    for r in result.rows.head(ROW_LIMIT).iter_rows(named=True):
        rows.add_row(
            str(r["claim_id"]), str(r["outcome_id"] or ""),
            _pair(r["old_status"], r["new_status"]), _pair(_reason(r, "old"), _reason(r, "new")),
            _pair(result.money(r["old_price"]), result.money(r["new_price"])),
            _pair(result.money(r["old_entitled"]), result.money(r["new_entitled"])),
            result.money(r["difference"]) or "",
        )
    console.print(rows)
    if result.rows.height > ROW_LIMIT:
        console.print(f"… and {result.rows.height - ROW_LIMIT} more row(s): use --format json or --export FILE")
    for name, key, pairs in (("outcome", "outcome", result.by_outcome), ("payer", "payer", result.by_payer)):
        table = Table(title=f"entitled by {name}, where it differs")
        for col in (key, "old", "new", "difference"):
            table.add_column(col, justify="left" if col == key else "right", no_wrap=True)
        for ident, old, new in pairs:
            if old != new:
                table.add_row(ident, result.money(old), result.money(new), result.money(new - old))
        if table.row_count:
            console.print(table)
    verdict = "money moves" if result.money_moves else "no money moves"
    console.print(
        f"total entitled: {result.money(result.old_total)} → {result.money(result.new_total)} "
        f"(difference {result.money(result.new_total - result.old_total)}); {verdict}"
    )


def _reason(row: dict[str, object], side: str) -> object:
    """A side's reason: empty when it has the row but no reason, ``None`` when it lacks the row."""
    return (row[f"{side}_reason"] or "") if row[f"_in_{side}"] else None


def _pair(old: object, new: object) -> str:
    """``old → new``, or the one value when both are the same; ``-`` for a side that lacks the row."""
    a = "-" if old is None else str(old)
    b = "-" if new is None else str(new)
    return a if a == b else f"{a} → {b}"
