"""Rich table of ``sob portfolio``: one line per contract, then the totals per currency."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sob.render.console import group_thousands
from sob.render.findings import printable


def _amount(value: str | None) -> Text:
    """An amount with thousands separators (red when negative); an em dash when there is none."""
    if value is None:
        return Text("—")
    return Text(group_thousands(value), style="red" if value.startswith("-") else "")


def _caps(caps: list[dict[str, Any]]) -> str:
    return "\n".join(f"{printable(c['cap'])} {c['used_percent']}%" for c in caps if c["used_percent"] is not None)


def _profile(profile: dict[str, Any]) -> str:
    if profile["profile_to_date"] is None:
        return ""
    pct = profile["variance_percent"]
    return f"{profile['actual_to_date']:,} / {profile['profile_to_date']:,}" + ("" if pct is None else f" ({pct}%)")


def render_portfolio(data: dict[str, Any], console: Console) -> None:
    """The portfolio table; a contract whose ledger is behind is flagged ``BEHIND``."""
    who = f" — payer {printable(data['payer'])}'s part" if data["payer"] else ""
    table = Table(title=f"Portfolio{who}", box=box.SIMPLE_HEAVY)
    for name, justify in (("Contract", "left"), ("Cur", "left"), ("Last closed", "left"), ("Quarter due", "right"),
                          ("Paid to date", "right"), ("Caps used", "left"), ("Outcomes / profile", "right")):
        # amounts and quarters are never cut; names and caps wrap instead
        wraps = name in ("Contract", "Caps used")
        table.add_column(name, justify=justify, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")  # type: ignore[arg-type]
    for x in data["contracts"]:
        last = Text(printable(x["last_closed"] or "none"))
        if x["behind"]:
            last.append(" BEHIND", style="bold red")
        table.add_row(printable(x["contract"]), printable(x["currency"]), last, _amount(x["quarter_due"]),
                      _amount(x["paid_to_date"]), _caps(x["caps"]), _profile(x["profile"]))
    console.print(table)
    totals = Table(title="Totals per currency (never summed across currencies)", box=box.SIMPLE_HEAVY)
    for name in ("Currency", "Contracts", "Behind", "Quarter due", "Paid to date"):
        totals.add_column(name, justify="left" if name == "Currency" else "right", no_wrap=True)
    for t in data["totals"]:
        totals.add_row(printable(t["currency"]), str(t["contracts"]), str(t["behind"]), _amount(t["quarter_due"]),
                       _amount(t["paid_to_date"]))
    console.print(totals)
    if data["left_out"]:
        console.print("not paid by this payer: " + ", ".join(printable(c) for c in data["left_out"]))
