"""Rich view of ``sob explain``: one claim's story, rule by rule, the arithmetic and what its reason means.

Amounts are shown as people read them (``£1,200.00``), from the same integer
minor units as every machine output.
"""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sob.contract import Contract
from sob.explain import Explanation, Step
from sob.render.console import human_money
from sob.render.findings import printable

Money = Callable[[int], str]

_MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "bold red"), "n/a": ("n/a", "dim")}


def _verdict(step: Step) -> Text:
    """PASS / FAIL / n/a, with the deciding failure called out."""
    label, style = _MARKS.get(step.verdict, (step.verdict, ""))
    text = Text(label, style=style)
    if step.decides:
        text.append(" ← reason", style="bold red")
    return text


def render_explanation(story: Explanation, contract: Contract, console: Console) -> None:
    """Print the facts, every rule's verdict and data, the price and cap arithmetic, the split and the money."""
    def m(minor: int) -> str:
        return human_money(minor, contract.minor_units, contract.currency)

    head = Text(f"{story.kind} {printable(story.claim_id)}", style="bold")
    head.append(f" — {printable(contract.id)}, as at the end of {story.quarter}")
    console.print(head)
    for key, value in story.facts.items():
        console.print(Text(f"  {key}: {printable(value)}"))
    rules = Table(title="Rules (each evaluated on this claim's data)", title_justify="left", box=box.SIMPLE_HEAD)
    rules.add_column("Rule", no_wrap=True)
    rules.add_column("Verdict", no_wrap=True)
    rules.add_column("What decided it", overflow="fold", min_width=20)
    for step in story.steps:
        rules.add_row(step.code, _verdict(step), Text(printable(step.detail)))
    console.print(rules)
    _arithmetic(story, console, m)
    reason = f" ({story.reason})" if story.reason else ""
    price = m(story.price) if story.price is not None else "—"
    console.print(Text(f"status: {story.status}{reason}   price: {price}"))
    if story.reason and story.reason_meaning:
        console.print(Text(f"  {story.reason}: {story.reason_meaning}"))
    money = Table(title="Money", title_justify="left")
    for col in ("", "amount"):
        money.add_column(col, justify="right", no_wrap=True)
    money.add_row("entitled", m(story.entitled))
    money.add_row("previously paid", m(story.previously_paid))
    money.add_row("due", m(story.due))
    for payer, due in story.split:
        money.add_row(f"due to {printable(payer)}", m(due))
    console.print(money)
    console.print(Text(f"due = entitled {m(story.entitled)} − previously paid {m(story.previously_paid)} = {m(story.due)}"))
    if story.ledger is not None:
        _ledger(story, console, m)
    if story.restatement is not None:
        _restatement(story, console, m)


def _restatement(story: Explanation, console: Console, m: Money) -> None:
    """How the contract edit since the latest close bears on this row (SPEC 10.1)."""
    r = story.restatement
    assert r is not None
    lead = f"Contract change: the contract differs from the one {r.since} was closed with"
    if r.old is None or r.new is None:
        console.print(Text(f"{lead}; this row's closed amounts are not restated."))
        return
    console.print(Text(
        f"{lead}. As at the end of {r.since}, this row's entitled was {m(r.old)} under that contract and is "
        f"{m(r.new)} under this one: restated by {m(r.new - r.old)}"
        + (" (a payer's part moved)" if r.old == r.new else "")
        + "; the difference is part of its due now (previously paid counts what was paid under the old contract)."
    ))


def _arithmetic(story: Explanation, console: Console, m: Money) -> None:
    """Price, then each cap's headroom and what it left: how the entitlement was reached."""
    if story.price is None:
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column()  # wraps between words, so an amount is never split
    grid.add_row("  price", m(story.price) + (f" ({printable(story.price_source)})" if story.price_source else ""))
    amount = story.price
    for ident, on, used in story.adjustments_before:
        grid.add_row(f"  adjustment {printable(ident)}", f"on {on}: {m(used)} counted against the total and payer "
                     "caps before this row" + (" (gave headroom back)" if used < 0 else ""))
    for cap in story.caps:
        if cap.in_force_from is not None:  # SPEC 10.5: which entry of a dated cap the run used
            grid.add_row(f"  {cap.cap}", f"dated cap: the entry from {cap.in_force_from} is in force at the end of "
                         f"{printable(story.quarter)}")
        if story.kind == "adjustment":  # SPEC 10.6: never cut; its amount uses headroom, which may go below zero
            grid.add_row(f"  {cap.cap}", f"limit {m(cap.limit)} − used before {m(cap.used_before)} = headroom "
                         f"{m(cap.headroom_before)}; never cut, uses {m(cap.headroom_before - cap.headroom_after)}; "
                         f"headroom after {m(cap.headroom_after)}")
            continue
        if cap.cap.startswith("PAYER_CAP"):  # SPEC 11.1: a payer's cap bounds its own part, not the whole amount
            grid.add_row(f"  {cap.cap}", f"limit {m(cap.limit)} − used before {m(cap.used_before)} = headroom "
                         f"{m(cap.headroom_before)}; part paid {m(cap.headroom_before - cap.headroom_after)}; "
                         f"headroom after {m(cap.headroom_after)}")
            continue
        left = max(min(amount, cap.headroom_before), 0)
        grid.add_row(f"  {cap.cap}", f"limit {m(cap.limit)} − used before {m(cap.used_before)} = headroom "
                     f"{m(cap.headroom_before)}; {m(amount)} → {m(left)}; headroom after {m(cap.headroom_after)}")
        amount = left
    _payer_moves(story, grid, m)
    if story.payable is not None:
        grid.add_row("  payable", f"{m(story.payable)} (added to the entitlement)")
    console.print(Text("Price and caps", style="bold"))
    console.print(grid)


def _payer_moves(story: Explanation, grid: Table, m: Money) -> None:
    """Each payer's share of the amount beside its part: what its cap cut or shifted (SPEC 11.1)."""
    if not story.payer_moves or story.before_payer_caps is None:
        return
    grid.add_row("  split", f"{m(story.before_payer_caps)} by share, then the payer caps:")
    for move in story.payer_moves:
        text = f"share {m(move.share)} → part {m(move.part)}"
        if move.part < move.share and move.on_cap == "shift":
            text += f" ({m(move.share - move.part)} over its cap, shifted to the claim's other payers)"
        elif move.part < move.share:
            text += f" ({m(move.share - move.part)} over its cap, cut: paid by nobody)"
        elif move.part > move.share:
            text += f" (+{m(move.part - move.share)} taken over from capped payers)"
        grid.add_row(f"  split {printable(move.payer)}", text)
    dropped = story.before_payer_caps - sum(move.part for move in story.payer_moves)
    if dropped > 0:
        grid.add_row("  not paid", f"{m(dropped)} over the payer caps: paid by nobody")


def _ledger(story: Explanation, console: Console, m: Money) -> None:
    """What each closed quarter of the ledger paid for the claim."""
    history = story.ledger or []
    if not history:
        console.print(Text("Ledger: no closed quarters"))
        return
    table = Table(title="Paid in the ledger's closed quarters", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Quarter", no_wrap=True)
    table.add_column("Paid in the quarter", justify="right", no_wrap=True)
    table.add_column("Paid to date", justify="right", no_wrap=True)
    for q in history:
        if q.due is None:
            table.add_row(q.quarter, Text("not in the ledger", style="dim"), "—")
        else:
            table.add_row(q.quarter, m(q.due), m(q.paid_to_date or 0))
    console.print(table)
