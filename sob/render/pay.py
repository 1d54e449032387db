"""The human view of ``sob pay``: what a contract manager reads before signing off a quarter.

Every figure comes from the :class:`~sob.payrun.PayRun` in integer minor
units and is formatted once, at the edge, with the contract's minor unit;
thousands separators and the currency symbol appear here and nowhere else
(machine outputs keep the plain amounts of SPEC 3.1).  The title says whether
the view is a preview (nothing written) or a close, so a preview is never
signed off as the record.  Tables that a finance team adds up carry a total
row computed from the same integers, and the reconciliation checks its own
identities instead of trusting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import polars as pl
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from sob.contract import Contract
from sob.contract.model import entry_in_force
from sob.payrun import PayRun, RowGroup, adjustment_lines, summary
from sob.render.console import FitTable, currency_prefix, group_thousands, human_money
from sob.render.findings import printable

EvidenceFile = tuple[str, str, int, str]  # (kind, path, rows, sha256)

__all__ = ["EvidenceFile", "group_thousands", "pay_renderables", "reconcile", "render_pay"]

_STATUSES = ("paid", "partial", "capped", "rejected")
_CAP_REASONS = ("PARTICIPANT_CAP", "OUTCOME_CAP", "CONTRACT_CAP")


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def _money(contract: Contract, minor: int) -> Text:
    """An amount cell: symbol and grouped digits, negative amounts (clawbacks) in red."""
    return Text(_amount(contract, minor), style="red" if minor < 0 else "")


def _amount(contract: Contract, minor: int) -> str:
    """``£1,200.00``: the contract's currency, for people."""
    return human_money(int(minor), contract.minor_units, contract.currency)


def _text(value: object, style: str = "") -> Text:
    """A data cell as literal text: evidence values are never read as Rich markup."""
    return Text("" if value is None else printable(value), style=style)


def _table(title: str, columns: Iterable[tuple[str, str]], **kw: Any) -> Table:
    """A section table that stays legible at 80 columns (a pipe's width).

    Column kinds: ``num`` amounts and counts, right-aligned and never wrapped
    or cut (long headers are written on two lines instead); ``label`` row
    labels of our own, never wrapped; ``id`` codes and ids, kept whole on one
    line (cut with an ellipsis only when nothing else can give way: an id
    broken across lines reads as two ids); ``text`` names, paths and notes,
    which fold first.  :class:`~sob.render.console.FitTable` decides the
    widths when the table is drawn; ``--wide`` gives it room for every
    natural width.
    """
    table = FitTable(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, **kw)
    for header, kind in columns:
        if kind == "num":
            table.add_kind_column(header, kind, justify="right", no_wrap=True)
        elif kind in ("label", "id"):
            table.add_kind_column(header, kind, no_wrap=True, overflow="ellipsis")
        else:
            table.add_kind_column(header, kind, overflow="fold")
    return table


def _sum(table: pl.DataFrame, expr: pl.Expr) -> int:
    """Exact integer sum (0 for an empty frame or all nulls)."""
    if table.height == 0:
        return 0
    return int(table.select(expr.sum()).item() or 0)


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def render_pay(run: PayRun, files: list[EvidenceFile], console: Console, *, closed: bool = False) -> None:
    """Write the whole view to ``console`` (the CLI's stdout console): a preview, or ``closed``."""
    for i, part in enumerate(pay_renderables(run, files, closed=closed)):
        if i:
            console.print()
        console.print(part)


def pay_renderables(run: PayRun, files: list[EvidenceFile], *, closed: bool = False) -> list[RenderableType]:
    """The sections of the view in reading order, for callers that compose their own output."""
    data = summary(run)
    parts: list[RenderableType] = [
        header(run, files, closed=closed),
        totals(run, data),
        by_outcome(run, data),
        *([adjustments(run, data)] if "adjustments" in data else []),
        by_payer(run),
        rejections(run, data),
        caps(run, data),
    ]
    if run.with_ledger:
        parts.append(reconciliation_table(run))
    return parts


# --------------------------------------------------------------------------
# Header and totals
# --------------------------------------------------------------------------


def header(run: PayRun, files: list[EvidenceFile], *, closed: bool = False) -> RenderableType:
    """Which contract, which quarter, whether it was closed, which money, and exactly which files were read."""
    c, q = run.contract, run.quarter
    fy = c.fiscal_year_start_month
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Contract", _text(f"{c.id} — {c.name}" if c.name else c.id))
    grid.add_row("Quarter", _text(f"{q} ({q.fiscal_label(fy)}), {q.start(fy).isoformat()} to {q.end(fy).isoformat()}"))
    grid.add_row("Status", _status(run, closed))
    symbol = currency_prefix(c.currency).strip()
    shown = f"{c.currency}, shown as {symbol}" if symbol != c.currency else c.currency
    grid.add_row("Currency", _text(f"{shown} (amounts to {c.minor_units} decimal places)"))
    grid.add_row("Prior payments", _text(_previous_source(run)))
    for note in run.notes:
        grid.add_row("Note", _text(note))
    title = (Text(f"Quarter close: {printable(c.id)} {q} — closed in the ledger", style="bold") if closed
             else Text(f"Quarter preview: {printable(c.id)} {q} — not closed", style="bold"))
    parts: list[RenderableType] = [title, grid]
    if files:
        parts.append(evidence_files(files))
    return Group(*parts)


def _status(run: PayRun, closed: bool) -> Text:
    """Preview or close, in words a reader cannot mistake for the other."""
    if closed:
        return Text("CLOSED: this quarter is now recorded in the ledger", style="bold green")
    how = "add --close to close it" if run.with_ledger else "close it with --ledger DIR --close"
    return Text(f"PREVIEW, not closed: nothing was recorded ({how})", style="bold yellow")


def _previous_source(run: PayRun) -> str:
    """Say where "previously paid" comes from: the two sources mean different things (SPEC 6)."""
    if run.with_ledger:
        return "sum of due in the ledger's closed quarters"
    before = run.quarter.previous().end(run.contract.fiscal_year_start_month)
    return f"recomputed as at {before.isoformat()} from the same files (no ledger given)"


def evidence_files(files: list[EvidenceFile]) -> Table:
    """Each evidence file with its row count and SHA-256 prefix, so a signed view pins its inputs."""
    table = _table("Evidence files", [("File", "id"), ("Path", "text"), ("Rows", "num"), ("SHA-256", "id")])
    for kind, path, rows, sha in files:
        table.add_row(_text(kind), _text(path), f"{int(rows):,}", _text((sha or "")[:12] or "—"))
    return table


def totals(run: PayRun, data: dict[str, Any]) -> Table:
    """Entitled to date, previously paid and due now, then the rows by status."""
    c = run.contract
    entitled = sum(g.entitled for g in run.groups)
    previous = sum(g.previously_paid for g in run.groups)
    due = sum(g.due for g in run.groups)
    table = _table("Totals", [("", "text"), ("Amount", "num")])
    table.add_row("Entitled to date", _money(c, entitled))
    table.add_row("Previously paid", _money(c, previous))
    table.add_row(Text("Due now", style="bold"), _money(c, due), end_section=True)
    counts = data["totals"]
    table.add_row("Rows", f"{counts['claims']:,}")
    for status in _STATUSES:
        table.add_row(f"  {status}", f"{counts[status]:,}")
    if "adjustments" in counts:
        table.add_row("Adjustments", f"{counts['adjustments']:,}")
    if run.missing_rows:
        table.add_row("  of which missing from evidence", f"{run.missing_rows:,}")
    return table


# --------------------------------------------------------------------------
# By outcome and by payer
# --------------------------------------------------------------------------


def by_outcome(run: PayRun, data: dict[str, Any]) -> Table:
    """Every outcome of the rate card, plus rows naming no known outcome, with a total row.

    Rows whose outcome is not in the contract (invalid rows under
    ``--reject-invalid``) get their own line so the columns add up to the
    totals above.
    """
    c = run.contract
    table = _table(
        "By outcome",
        [("Outcome", "id"), ("Name", "text"), ("Claims", "num"), ("Accepted", "num"), ("Entitled", "num"), ("Due", "num")],
        show_footer=True,
    )
    names = {o.id: o.name for o in c.outcomes}
    per = _per_outcome(run.groups)
    sums = [0, 0, 0, 0]
    for row in data["by_outcome"]:
        oid = row["outcome_id"]
        n, acc = row["claims"], row["accepted"]
        e, d = per.get(oid, (0, 0, 0))[:2]
        table.add_row(_text(oid), _text(names.get(oid)), f"{n:,}", f"{acc:,}", _money(c, e), _money(c, d))
        sums = [a + b for a, b in zip(sums, (n, acc, e, d))]
    other = [v for oid, v in per.items() if oid not in names]
    if other:
        n, e, d = (sum(v[i] for v in other) for i in (2, 0, 1))
        table.add_row(_text("(other)", "italic"), _text("outcome not in the contract", "italic"),
                      f"{n:,}", "0", _money(c, e), _money(c, d))
        sums = [a + b for a, b in zip(sums, (n, 0, e, d))]
    _footer(table, ["Total", "", f"{sums[0]:,}", f"{sums[1]:,}", _money(c, sums[2]), _money(c, sums[3])])
    return table


def adjustments(run: PayRun, data: dict[str, Any]) -> Table:
    """The contract's adjustments in scope (SPEC 10.6): agreed payments beside the claims, with a total row.

    With the outcome table above they add up to the totals; a deleted
    adjustment's line (missing from the contract, clawed back) is listed too.
    """
    c = run.contract
    table = _table(
        "Adjustments",
        [("Id", "id"), ("On", "id"), ("Reason", "text"), ("Entitled", "num"), ("Previously\npaid", "num"),
         ("Due", "num")],
        show_footer=True,
    )
    sums = [0, 0, 0]
    lines = adjustment_lines(run)
    for ident, on, reason, *amounts in lines:
        table.add_row(_text(ident), _text(on.isoformat() if on else "—"), _text(reason), *(_money(c, a) for a in amounts))
        sums = [a + b for a, b in zip(sums, amounts)]
    _footer(table, ["Total", "", f"{len(lines):,} adjustment(s)"] + [_money(c, s) for s in sums])
    return table


def _per_outcome(groups: list[RowGroup]) -> dict[str | None, tuple[int, int, int]]:
    """Entitled, due and the row count per outcome id."""
    per: dict[str | None, tuple[int, int, int]] = {}
    for g in groups:
        if g.kind == "adjustment":  # no outcome: shown in their own table
            continue
        e, d, n = per.get(g.outcome_id, (0, 0, 0))
        per[g.outcome_id] = (e + g.entitled, d + g.due, n + g.rows)
    return per


def _cut(groups: list[RowGroup], reason: str, outcome_id: str | None = None) -> int:
    """Price minus entitlement over rows a money cap cut (partial or capped with that reason)."""
    return sum(g.cut for g in groups if g.reason == reason and (outcome_id is None or g.outcome_id == outcome_id))


def _footer(table: Table, cells: list[Any]) -> None:
    """Set the footer cells of a table built with ``show_footer=True``."""
    for column, cell in zip(table.columns, cells):
        column.footer = cell


def by_payer(run: PayRun) -> Table:
    """Entitled, previously paid and due per payer; the footer equals the totals."""
    c = run.contract
    names = {p.id: p.name for p in c.payers}
    table = _table(
        "By payer",
        [("Payer", "id"), ("Name", "text"), ("Entitled", "num"), ("Previously\npaid", "num"), ("Due", "num")],
        show_footer=True,
    )
    sums = [0, 0, 0]
    for pid, e, p, d in run.payer_totals.iter_rows():
        table.add_row(_text(pid), _text(names.get(pid)), _money(c, e), _money(c, p), _money(c, d))
        sums = [a + b for a, b in zip(sums, (e, p, d))]
    _footer(table, ["Total", ""] + [_money(c, s) for s in sums])
    return table


# --------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------


def rejections(run: PayRun, data: dict[str, Any]) -> RenderableType:
    """Rejected rows by reason: how many, what had been paid for them and what is clawed back.

    A rejected row is never priced, so there is no honest "value" to show
    beyond what was already paid for it (its clawback, when the claim was
    paid before and is now rejected) and, when the claims carry it, what the
    provider invoiced (``amount_claimed``, labelled as such).
    """
    c = run.contract
    reasons = data["rejections"]
    if not reasons:
        return Text("Rejections: none", style="bold")
    invoiced = "amount_claimed" in run.table.columns
    columns = [("Reason", "id"), ("Rows", "num"), ("Previously\npaid", "num"), ("Due now", "num")]
    if invoiced:
        columns.append(("Invoiced\n(amount_claimed)", "num"))
    table = _table("Rejections", columns, show_footer=True)
    sums = [0, 0, 0, 0]
    for reason, count in reasons.items():
        rows = [g for g in run.groups if g.status == "rejected" and g.reason == reason and g.kind != "adjustment"]
        vals = [count, sum(g.previously_paid for g in rows), sum(g.due for g in rows)]
        if invoiced:
            vals.append(sum(g.invoiced or 0 for g in rows))
        table.add_row(_text(reason or "(none)"), f"{count:,}", *(_money(c, v) for v in vals[1:]))
        sums = [a + b for a, b in zip(sums, vals)]
    _footer(table, ["Total", f"{sums[0]:,}"] + [_money(c, v) for v in sums[1 : len(columns) - 1]])
    return table


# --------------------------------------------------------------------------
# Caps
# --------------------------------------------------------------------------


def caps(run: PayRun, data: dict[str, Any]) -> RenderableType:
    """Every cap's limit, use and headroom, and what each cut this quarter."""
    parts: list[RenderableType] = []
    money = money_caps(run)
    if money is not None:
        parts.append(money)
    volume = volume_caps(run, data)
    if volume is not None:
        parts.append(volume)
    if not parts:
        return Text("Caps: none in this contract", style="bold")
    return Group(*parts)


def money_caps(run: PayRun) -> RenderableType | None:
    """Contract total, per-outcome amount caps and the per-participant cap, or None if none.

    "Cut" is what claims lost to a cap, attributed as the reason code does:
    to the cap with the smallest headroom (SPEC 5.5).
    """
    c = run.contract
    mode = "cut to the headroom" if c.caps.partial else "paid nothing"
    table = _table(
        "Money caps",
        [("Cap", "label"), ("Limit", "num"), ("Used", "num"), ("Headroom", "num"), ("Cut", "num")],
    )
    notes = [f"A claim crossing a money cap is {mode} (partial = {str(c.caps.partial).lower()})."]
    groups = run.groups
    if c.caps.total is not None:
        used = sum(g.entitled for g in groups)
        table.add_row("Contract total", _money(c, c.caps.total), _money(c, used),
                      _money(c, c.caps.total - used), _money(c, _cut(groups, "CONTRACT_CAP")))
    per = _per_outcome(groups)
    for o in c.outcomes:
        if o.amount_cap is not None:
            used = per.get(o.id, (0, 0, 0))[0]
            table.add_row(_text(f"Outcome {o.id}"), _money(c, o.amount_cap), _money(c, used),
                          _money(c, o.amount_cap - used), _money(c, _cut(groups, "OUTCOME_CAP", o.id)))
    if c.caps.per_participant is not None:
        row, note = _participant_cap_row(run)
        table.add_row(*row)
        notes.append(note)
    if not table.row_count:
        return None
    dated = _dated_caps_note(run)
    if dated:
        notes.append(dated)
    return Group(table, Text("\n".join(notes) + "\n"))


def _dated_caps_note(run: PayRun) -> str | None:
    """Which entry of each dated cap the run used (SPEC 10.5): the limits above are those in force at end(Q)."""
    c = run.contract
    end = run.quarter.end(c.fiscal_year_start_month)
    named = [("contract total", c.caps.total_schedule), ("per participant", c.caps.per_participant_schedule)]
    named += [(f"outcome {o.id} amount_cap", o.amount_cap_schedule) for o in c.outcomes]
    named += [(f"outcome {o.id} volume_cap", o.volume_cap_schedule) for o in c.outcomes]
    named += [(f"payer {p.id} cap", p.cap_schedule) for p in c.payers]
    used = [f"{name} from {entry.start}" for name, schedule in named
            if (entry := entry_in_force(schedule, end)) is not None]
    if not used:
        return None
    return f"Dated caps, the entries in force at {end}: " + "; ".join(used) + "."


def _participant_cap_row(run: PayRun) -> tuple[list[Any], str]:
    """Per-participant cap: its row (Used = the largest use) and a note on who is at the cap."""
    c = run.contract
    limit = c.caps.per_participant
    assert limit is not None
    # grouped on the assessment's integer participant key, not on millions of id strings
    use = (
        run.assessed.lazy()
        .filter((pl.col("kind") == "claim") & pl.col("participant_id").is_not_null())
        .group_by("_p")
        .agg(pl.col("payable").sum().alias("used"))
        .collect()
    )
    top = use["used"].max() if use.height else None
    largest = int(cast("int | None", top) or 0)
    at_cap = use.filter(pl.col("used") >= limit).height if use.height else 0
    row = ["Per participant", _money(c, limit), _money(c, largest), _money(c, limit - largest),
           _money(c, _cut(run.groups, "PARTICIPANT_CAP"))]
    note = (f"Per participant: Used is the largest participant's use; "
            f"{at_cap:,} of {use.height:,} participants with claims at the cap.")
    return row, note


def volume_caps(run: PayRun, data: dict[str, Any]) -> Table | None:
    """Per-outcome volume caps: accepted claims against the cap, and claims refused by it."""
    c = run.contract
    accepted = {row["outcome_id"]: row["accepted"] for row in data["by_outcome"]}
    table = _table("Volume caps", [("Outcome", "id"), ("Limit", "num"), ("Accepted", "num"),
                                   ("Headroom", "num"), ("Refused\n(VOLUME_CAP)", "num")])
    for o in c.outcomes:
        if o.volume_cap is None:
            continue
        used = accepted.get(o.id, 0)
        refused = sum(g.rows for g in run.groups if g.reason == "VOLUME_CAP" and g.outcome_id == o.id)
        table.add_row(_text(o.id), f"{o.volume_cap:,}", f"{used:,}", f"{o.volume_cap - used:,}", f"{refused:,}")
    return table if table.row_count else None


# --------------------------------------------------------------------------
# Reconciliation (with a ledger)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PayerReconciliation:
    """One payer's movement from what was paid before to what is owed after this quarter.

    ``brought_forward + movement + clawbacks == carried_forward`` and
    ``movement + clawbacks == due``; ``movement`` sums the positive per-row
    dues, ``clawbacks`` the negative ones.  Minor units throughout.
    """

    payer_id: str
    brought_forward: int
    movement: int
    clawbacks: int
    due: int
    carried_forward: int

    @property
    def difference(self) -> int:
        """Brought forward + movement + clawbacks − carried forward; 0 when it adds up."""
        return self.brought_forward + self.movement + self.clawbacks - self.carried_forward

    @property
    def balanced(self) -> bool:
        """Both identities hold exactly."""
        return self.difference == 0 and self.movement + self.clawbacks == self.due


def reconcile(run: PayRun) -> list[PayerReconciliation]:
    """Per-payer reconciliation from two independent sources, so a mismatch shows.

    Brought and carried forward come from ``run.payer_totals``; the movement,
    clawbacks and due from the per-row ``due_<payer>`` columns of the claim
    table.  Signs are taken per payer column, so every column adds up.
    """
    t = run.table
    out = []
    for pid, entitled, previous, _ in run.payer_totals.iter_rows():
        col = pl.col(f"due_{pid}")
        movement = _sum(t, pl.when(col > 0).then(col).otherwise(0))
        clawbacks = _sum(t, pl.when(col < 0).then(col).otherwise(0))
        out.append(PayerReconciliation(pid, int(previous), movement, clawbacks, _sum(t, col), int(entitled)))
    return out


def reconciliation_table(run: PayRun) -> RenderableType:
    """The table a finance team signs: brought forward, movement, clawbacks, due, carried forward."""
    c = run.contract
    rows = reconcile(run)
    table = _table(
        "Reconciliation by payer",
        [("Payer", "id"), ("Brought\nforward", "num"), ("Entitlement\nmovement", "num"), ("Clawbacks", "num"),
         ("Due now", "num"), ("Carried\nforward", "num")],
        show_footer=True,
    )
    sums = [0] * 5
    for r in rows:
        vals = (r.brought_forward, r.movement, r.clawbacks, r.due, r.carried_forward)
        table.add_row(_text(r.payer_id), *(_money(c, v) for v in vals))
        sums = [a + b for a, b in zip(sums, vals)]
    _footer(table, ["Total"] + [_money(c, s) for s in sums])
    rule = Text("Brought forward + entitlement movement + clawbacks = carried forward; "
                "entitlement movement + clawbacks = due now.")
    broken = [r for r in rows if not r.balanced]
    return Group(table, rule, *(_mismatch(c, r) for r in broken))


def _mismatch(c: Contract, r: PayerReconciliation) -> Text:
    """hledger-style: what should hold, what was computed, and the difference."""
    lhs = r.brought_forward + r.movement + r.clawbacks
    return Text(
        f"Payer {printable(r.payer_id)} does not reconcile: brought forward + movement + clawbacks = "
        f"{_amount(c, lhs)}, carried forward = {_amount(c, r.carried_forward)} "
        f"(difference {_amount(c, r.difference)}); due now = {_amount(c, r.due)}. "
        "Do not sign off; report this.",
        style="bold red",
    )
