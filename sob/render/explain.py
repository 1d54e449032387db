"""Rich view of ``sob explain``: one claim's story, rule by rule, and what its reason means."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sob.contract import Contract
from sob.explain import Explanation

_MARKS = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]"}


def render_explanation(story: Explanation, contract: Contract, console: Console) -> None:
    """Print the facts, each rule's verdict and data, the caps, the split and the money."""
    m = contract.money
    console.print(f"[bold]{story.kind} {story.claim_id}[/] — {contract.id}, as at the end of {story.quarter}")
    for key, value in story.facts.items():
        console.print(f"  {key}: {value}")
    rules = Table(title="Rules", show_lines=False, expand=False)
    rules.add_column("rule")
    rules.add_column("verdict")
    rules.add_column("what decided it", overflow="fold")
    for step in story.steps:
        rules.add_row(step.code, _MARKS.get(step.verdict, step.verdict), step.detail)
    console.print(rules)
    if story.caps:
        caps = Table(title="Caps")
        for col in ("cap", "limit", "headroom before", "headroom after"):
            caps.add_column(col, justify="right" if col != "cap" else "left")
        for c in story.caps:
            caps.add_row(c.cap, m(c.limit), m(c.headroom_before), m(c.headroom_after))
        console.print(caps)
    reason = f" ({story.reason})" if story.reason else ""
    price = m(story.price) if story.price is not None else "—"
    console.print(f"status: [bold]{story.status}[/]{reason}   price: {price}")
    if story.reason and story.reason_meaning:
        console.print(f"  {story.reason}: {story.reason_meaning}", markup=False)
    money = Table(title="Money")
    for col in ("", "amount"):
        money.add_column(col, justify="right")
    money.add_row("entitled", m(story.entitled))
    money.add_row("previously paid", m(story.previously_paid))
    money.add_row("due", m(story.due))
    for payer, due in story.split:
        money.add_row(f"due to {payer}", m(due))
    console.print(money)
