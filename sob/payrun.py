"""A quarter close (SPEC 6): entitled, previously paid and due, per row and per payer.

``pay_quarter`` assesses the evidence as at the end of the quarter and takes
what was paid before either from a ledger of closed quarters or, without one,
from the same evidence assessed as at the end of the previous quarter.  It
returns the claim table of SPEC 9 plus the aggregates every output needs, as
data; rendering and export live elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import polars as pl

from sob.assessment import assess
from sob.caps import PART
from sob.contract import Contract
from sob.payers import one_payer_takes_all, split_amounts
from sob.quarters import Quarter
from sob.rules import CLAIM_RULES, RESULT_RULES, keyed_like, qualified, stacked

TABLE_HEAD = (
    "claim_id",
    "kind",
    "participant_id",
    "cohort",
    "outcome_id",
    "achieved_on",
    "submitted_on",
    "status",
    "reason",
    "price",
    "entitled",
    "previously_paid",
    "due",
)
_STATUSES = ("paid", "partial", "capped", "rejected")


@dataclass(frozen=True)
class RowGroup:
    """The claim table's rows of one (outcome, status, reason), summed; minor units.

    Every figure of the JSON summary and of the sign-off view is a sum over
    these groups, so the table of millions of rows is grouped once.
    """

    outcome_id: str | None
    status: str
    reason: str | None
    rows: int
    entitled: int
    previously_paid: int
    due: int
    cut: int  # price − entitled: what a money cap took (0 where nothing was cut)
    invoiced: int | None  # amount_claimed, when the claims carry it
    kind: str = "claim"  # "adjustment" for the rows of adjustments (SPEC 10.6), which most counts leave out


@dataclass
class PayRun:
    """Everything a quarter close computed; amounts are minor units."""

    contract: Contract
    quarter: Quarter
    table: pl.DataFrame  # the claim table of SPEC 9, export column order
    assessed: pl.DataFrame  # the as-at-Q assessment with diagnostic columns
    payer_totals: pl.DataFrame  # payer_id, entitled, previously_paid, due
    with_ledger: bool = False
    missing_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @cached_property
    def groups(self) -> list[RowGroup]:
        """The claim table grouped by (outcome, status, reason): one pass, shared by every report."""
        t = self.table
        invoiced = pl.col("amount_claimed").sum() if "amount_claimed" in t.columns else pl.lit(None, pl.Int64)
        adjustment = (pl.col("kind") == "adjustment").fill_null(False)
        rows = (
            t.lazy()
            .group_by("outcome_id", "status", "reason", adjustment.alias("_adjustment"))
            .agg(
                pl.len(), pl.col("entitled").sum(), pl.col("previously_paid").sum(), pl.col("due").sum(),
                # an adjustment is never cut: nothing of its price counts as cut (it may be negative)
                pl.when(~adjustment).then(pl.col("price") - pl.col("entitled")).sum().alias("cut"),
                invoiced.alias("invoiced"),
            )
            .collect()
            .rows()
        )
        return [
            RowGroup(oid, status, reason, n, int(e or 0), int(p or 0), int(d or 0), int(x or 0),
                     None if inv is None else int(inv), "adjustment" if adj else "claim")
            for oid, status, reason, adj, n, e, p, d, x, inv in rows
        ]

    @property
    def has_adjustments(self) -> bool:
        """Adjustments show in the outputs (SPEC 10.6): the contract has some, or the run has a line of one.

        The ``note`` column, ``totals.adjustments`` and the ``adjustments``
        list are present under this one condition, so the outputs of a
        contract without adjustments are unchanged.
        """
        return bool(self.contract.adjustments) or any(g.kind == "adjustment" for g in self.groups)

    @property
    def money_columns(self) -> list[str]:
        cols = ["price", "entitled", "previously_paid", "due"] + [f"due_{p}" for p in self.contract.payer_ids]
        return cols + [c for c in ("amount_claimed", "claimed_variance") if c in self.table.columns]


def pay_quarter(
    contract: Contract,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    quarter: Quarter,
    *,
    ledger: pl.DataFrame | None = None,
    carried: list[str] | None = None,
    amount_claimed: bool = False,
    full_table: bool = True,
    participant_rows: pl.Series | None = None,
) -> PayRun:
    """Close ``quarter``: the claim table and per-payer totals.

    ``ledger`` is what :func:`sob.ledger.previously_paid` returns for the
    quarters closed before ``quarter`` (``paid`` and ``paid_<payer>`` per
    claim id); without it previously paid is the entitlement as at the end
    of the previous quarter, recomputed from the same files.  With
    ``full_table=False`` the table stops at the SPEC 9 head and payer
    columns (enough for :func:`summary`), which saves gathering the
    evidence's other columns onto millions of rows.  ``participant_rows``:
    see :func:`sob.assessment.assess`.
    """
    fy = contract.fiscal_year_start_month
    contract = contract.in_force(quarter.end(fy))  # SPEC 10.5: the run, its JSON and its close use the caps of end(Q)
    payers = contract.payer_ids
    claims, results, carried = _rename_clashing_columns(contract, claims, results, carried or [])
    if not full_table:
        carried, amount_claimed = [], False
    current = assess(contract, claims, participants, results, quarter.end(fy), carry=full_table,
                     participant_rows=participant_rows)
    rows = current.rename({"payable": "entitled"})
    rows = _parts(rows, contract, "entitled", "_ent_")
    prev_cols = ["previously_paid"] + [f"_prev_{p}" for p in payers]
    missing = pl.DataFrame()
    if ledger is None:
        rows = _recomputed_previous(contract, rows, claims, participants, results, quarter.previous().end(fy),
                                    participant_rows)
        if not contract.has_payer_caps:  # with payer caps the recomputed parts came with it
            rows = split_amounts(rows, contract, "previously_paid", "_prev_")
    else:
        paid = ledger.rename({"paid": "previously_paid"} | {f"paid_{p}": f"_prev_{p}" for p in payers}
                             | ({NOTE: _LEDGER_NOTE} if NOTE in ledger.columns else {}))
        rows = rows.join(keyed_like(paid.select("claim_id", *prev_cols), rows, ["claim_id"]), on="claim_id",
                         how="left", maintain_order="left")
        missing = _missing_rows(paid, current, payers)
    rows = rows.with_columns([pl.col(c).fill_null(0) for c in prev_cols])
    rows = rows.with_columns(due=pl.col("entitled") - pl.col("previously_paid"))
    # without a ledger both parts were split from this contract's shares; a ledger's payer columns
    # come from the quarters closed before, whose payers may have differed
    if ledger is None and one_payer_takes_all(contract):  # the payer's due is the row's due
        rows = rows.with_columns(pl.col("due").alias(f"due_{payers[0]}"))
    else:
        rows = rows.with_columns(**{f"due_{p}": pl.col(f"_ent_{p}") - pl.col(f"_prev_{p}") for p in payers})
    if missing.height:
        rows = stacked([rows, missing])
    payer_totals = _payer_totals(rows, payers)
    table = _claim_table(rows, contract, carried, amount_claimed)
    return PayRun(
        contract=contract,
        quarter=quarter,
        table=table,
        assessed=current,
        payer_totals=payer_totals,
        with_ledger=ledger is not None,
        missing_rows=missing.height,
    )


#: Names the engine and the claim table use; an evidence column may not shadow them.
_RESERVED = set(TABLE_HEAD) | {
    "amount_claimed", "claimed_variance", "payable", "error", "line", "enrolled_on", "eligible",
    "result_id", "baseline", "observed", "units",
}


def _rename_clashing_columns(
    contract: Contract, claims: pl.DataFrame | None, results: pl.DataFrame | None, carried: list[str]
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, list[str]]:
    """Carry an extra evidence column named like an output column as ``<name>_evidence``.

    A provider's own ``reason`` or ``due`` column is kept (SPEC 4: unknown
    columns are carried into exports) without ever being mistaken for the
    engine's.
    """
    reserved = _RESERVED | {f"due_{p}" for p in contract.payer_ids}
    taken = reserved | set(carried)
    renames: dict[str, str] = {}
    for name in carried:
        if name in reserved or name.startswith("_"):
            new = f"{name}_evidence"
            while new in taken:
                new += "_"
            taken.add(new)
            renames[name] = new
    if not renames:
        return claims, results, carried

    def apply(frame: pl.DataFrame | None) -> pl.DataFrame | None:
        if frame is None:
            return None
        return frame.rename({k: v for k, v in renames.items() if k in frame.columns})

    return apply(claims), apply(results), [renames.get(c, c) for c in carried]


def _parts(rows: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """``<prefix><payer>``: each row's parts of ``amount``.

    Without payer caps they are the split of 5.6; with them they are the
    parts the cap walk gave (SPEC 11.1: a row's amounts per payer are its
    parts, not a new split of its payable amount).
    """
    if not contract.has_payer_caps:
        return split_amounts(rows, contract, amount, prefix)
    return rows.rename({f"{PART}{p}": f"{prefix}{p}" for p in contract.payer_ids})


def _recomputed_previous(
    contract: Contract,
    rows: pl.DataFrame,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    previous_end: date,
    participant_rows: pl.Series | None = None,
) -> pl.DataFrame:
    """Add ``previously_paid``: the entitlement as at ``previous_end``, recomputed from the same files.

    Processing order starts with ``submitted_on``, so the rows submitted by
    ``previous_end`` are a prefix of the current order (rows with unreadable
    dates are last in both, and rejected).  Ranks, tiers and caps of a prefix
    do not depend on what comes after it, so the earlier rows keep their
    verdicts and their entitlement — unless a newly submitted claim is the
    prerequisite of an earlier one (rule 8 looks at every in-scope claim,
    whatever its order).  Only then is the evidence assessed a second time.
    With payer caps the recomputed parts (``_prev_<payer>``) come along the
    same way (SPEC 11.1).  When no rule or cap looks across participants,
    only the claims of the participants such a claim touches are assessed
    again (:func:`_own_rows_only`).
    """
    parts = list(contract.payer_ids) if contract.has_payer_caps else []
    earlier = pl.col("_undated") | (pl.col("submitted_on") <= pl.lit(previous_end))
    shortcut = rows.with_columns(previously_paid=pl.when(earlier).then(pl.col("entitled")).otherwise(0),
                                 **{f"_prev_{p}": pl.when(earlier).then(pl.col(f"_ent_{p}")).otherwise(0)
                                    for p in parts})
    moved = _caps_moved(contract, previous_end)
    touched = None if moved else _participants_met_by_new_rows(contract, rows, previous_end)
    if touched is not None and touched.height == 0:
        return shortcut
    if touched is not None and claims is not None and _own_rows_only(contract):
        return _reassessed_participants(contract, shortcut, claims, participants, previous_end, participant_rows,
                                        touched)
    before = assess(contract, claims, participants, results, previous_end, carry=False,
                    participant_rows=participant_rows)
    before = before.select("claim_id", pl.col("payable").alias("previously_paid"),
                           *[pl.col(f"{PART}{p}").alias(f"_prev_{p}") for p in parts])
    return rows.join(before, on="claim_id", how="left", maintain_order="left")


def _own_rows_only(contract: Contract) -> bool:
    """Does each participant's claims' assessment depend on that participant's rows alone?

    True without tiers, volume and amount caps, a contract total and payer
    caps: every other rule of SPEC 5.2 and 5.5 (prerequisites, max_claims,
    exclusive groups, the participant cap) looks only at the same
    participant's claims, and cohort results, adjustments and netting touch
    no participant's claims without a total or a payer cap.  A participant
    whose claims did not change between two runs then keeps their verdicts.
    """
    if contract.has_payer_caps or contract.caps.total is not None or contract.caps.total_schedule:
        return False
    return not any(o.tiers or o.volume_cap is not None or o.amount_cap is not None or o.volume_cap_schedule
                   or o.amount_cap_schedule for o in contract.outcomes)


def _reassessed_participants(
    contract: Contract,
    shortcut: pl.DataFrame,
    claims: pl.DataFrame,
    participants: pl.DataFrame | None,
    previous_end: date,
    participant_rows: pl.Series | None,
    touched: pl.DataFrame,
) -> pl.DataFrame:
    """``shortcut`` with the previously paid amounts of ``touched`` participants' claims assessed again.

    Only for contracts where :func:`_own_rows_only` holds: the other
    participants' earlier claims keep their verdicts and amounts, so the
    prefix shortcut is exact for them, and the touched participants' claims
    are assessed as at ``previous_end`` on their own (a claim of theirs not
    in scope then was previously paid nothing).
    """
    ids = touched.to_series()
    mine = claims.select(pl.col("participant_id").is_in(ids.cast(claims.schema["participant_id"]).implode())).to_series()
    rows = None if participant_rows is None else participant_rows.filter(mine)
    before = assess(contract, claims.filter(mine), participants, None, previous_end, carry=False,
                    participant_rows=rows)
    before = before.filter(pl.col("kind") == "claim").select("claim_id", pl.col("payable").alias("_again"))
    out = shortcut.join(before, on="claim_id", how="left", maintain_order="left")
    again = (pl.col("kind") == "claim") & pl.col("participant_id").is_in(ids.cast(shortcut.schema["participant_id"]).implode())
    return out.with_columns(previously_paid=pl.when(again).then(pl.col("_again").fill_null(0))
                            .otherwise(pl.col("previously_paid"))).drop("_again")


def _caps_moved(contract: Contract, previous_end: date) -> bool:
    """A dated cap has another entry in force at ``previous_end`` than in this run (SPEC 10.5).

    The prefix shortcut assumes both runs use the same limits; when a
    variation took effect in between, the quarter before is assessed again
    with the entries in force at its own end.
    """
    return contract.has_cap_schedules and contract.in_force(previous_end) != contract


def _new_rows_meet_old_prerequisites(contract: Contract, current: pl.DataFrame, previous_end: date) -> bool:
    """Could a claim submitted after ``previous_end`` satisfy a ``requires`` of an earlier-submitted one?"""
    return _participants_met_by_new_rows(contract, current, previous_end).height > 0


def _participants_met_by_new_rows(contract: Contract, current: pl.DataFrame, previous_end: date) -> pl.DataFrame:
    """The participants (one column, unique) of :func:`_new_rows_meet_old_prerequisites`' matches.

    Prerequisites are met within one participant, so only these
    participants' earlier claims can have another verdict as at
    ``previous_end`` than now (given the same caps).
    """
    none = current.select("participant_id").clear()
    edges = [(o.id, r.outcome, r.min_days) for o in contract.outcomes for r in o.requires]
    if not edges:
        return none
    # lazy throughout, so only the five columns read here are filtered and joined
    dated = current.lazy().filter(~pl.col("_undated") & (pl.col("kind") == "claim"))
    # Only a claim that is qualified now can meet a requirement; a late or
    # withdrawn new claim changes nothing for the earlier ones.
    new = dated.filter((pl.col("submitted_on") > pl.lit(previous_end)) & qualified()).select(
        "participant_id", pl.col("outcome_id").alias("_req"), pl.col("achieved_on").alias("_req_on")
    ).collect()
    if new.height == 0:
        return none
    old = dated.filter(pl.col("submitted_on") <= pl.lit(previous_end)).select("participant_id", "outcome_id", "achieved_on")
    graph = pl.DataFrame(edges, schema={"outcome_id": pl.String, "_req": pl.String, "_min_days": pl.Int64}, orient="row")
    graph = keyed_like(keyed_like(graph, old, ["outcome_id"]), new, ["_req"])
    return (
        old.join(graph.lazy(), on="outcome_id")
        .join(new.lazy(), on=["participant_id", "_req"])
        .filter(pl.col("_req_on") <= pl.col("achieved_on") - pl.duration(days=pl.col("_min_days")))
        .select(pl.col("participant_id").unique())
        .collect()
    )


def _missing_rows(paid: pl.DataFrame, current: pl.DataFrame, payers: list[str]) -> pl.DataFrame:
    """Ledger claims that are not in-scope rows now: nothing paid disappears silently (SPEC 6)."""
    present = current.select("claim_id")
    if present.schema["claim_id"] != paid.schema["claim_id"]:  # ids typed differently: compare the text
        paid, present = paid.with_columns(pl.col("claim_id").cast(pl.String)), present.cast(pl.String)
    gone = paid.join(present, on="claim_id", how="anti").sort("claim_id")
    return gone.with_columns(
        status=pl.lit("rejected"),
        reason=pl.lit("MISSING_FROM_EVIDENCE"),
        price=pl.lit(None, pl.Int64),
        entitled=pl.lit(0, pl.Int64),
        due=-pl.col("previously_paid"),
        **{f"_ent_{p}": pl.lit(0, pl.Int64) for p in payers},
        **{f"due_{p}": -pl.col(f"_prev_{p}") for p in payers},
    )


def _payer_totals(rows: pl.DataFrame, payers: list[str]) -> pl.DataFrame:
    """Entitled, previously paid and due per payer; each column sums to the row totals."""
    sums = rows.select(
        [pl.col(f"_ent_{p}").sum().alias(f"e{i}") for i, p in enumerate(payers)]
        + [pl.col(f"_prev_{p}").sum().alias(f"p{i}") for i, p in enumerate(payers)]
    ).row(0)
    n = len(payers)
    entitled = [int(v or 0) for v in sums[:n]]
    previous = [int(v or 0) for v in sums[n:]]
    return pl.DataFrame(
        {
            "payer_id": payers,
            "entitled": entitled,
            "previously_paid": previous,
            "due": [e - p for e, p in zip(entitled, previous)],
        },
        schema={"payer_id": pl.String, "entitled": pl.Int64, "previously_paid": pl.Int64, "due": pl.Int64},
    )


def _claim_table(rows: pl.DataFrame, contract: Contract, carried: list[str], amount_claimed: bool) -> pl.DataFrame:
    """The rows in the column order of SPEC 9 (export, ledger and JSON all use it)."""
    cols = [pl.col(c) for c in TABLE_HEAD] + [pl.col(f"due_{p}") for p in contract.payer_ids]
    if amount_claimed:
        if "amount_claimed" not in rows.columns:
            rows = rows.with_columns(amount_claimed=pl.lit(None, pl.Int64))
        cols += [pl.col("amount_claimed"), (pl.col("amount_claimed") - pl.col("entitled")).alias("claimed_variance")]
    for c in carried:
        if c not in rows.columns:
            rows = rows.with_columns(pl.lit(None, pl.String).alias(c))
        cols.append(pl.col(c))
    note = _note_expr(rows, contract)
    if note is not None:
        if NOTE in carried:  # the evidence's own note column takes the reasons; no second one (SPEC 10.6)
            cols[_position(cols, NOTE)] = note
        else:
            cols.append(note)
    return rows.select(cols)


#: the claim table's last column when adjustments show: an adjustment's reason (SPEC 10.6)
NOTE = "note"
_LEDGER_NOTE = "_ledger_note"


def _position(cols: list[pl.Expr], name: str) -> int:
    """Where the expression producing column ``name`` is in ``cols``."""
    return next(i for i, c in enumerate(cols) if c.meta.output_name() == name)


def _note_expr(rows: pl.DataFrame, contract: Contract) -> pl.Expr | None:
    """``note``: each adjustment's reason, empty on other rows; None when adjustments do not show.

    A live adjustment's reason comes from the contract; a deleted one's
    (its ``MISSING_FROM_EVIDENCE`` line) from its latest closed row.  When
    the evidence carries a ``note`` column, other rows keep their own text.
    """
    is_adjustment = (pl.col("kind") == "adjustment").fill_null(False)
    if not contract.adjustments and not rows.select(is_adjustment.any()).item():
        return None
    reasons = {a.id: a.reason for a in contract.adjustments}
    live = (pl.col("claim_id").cast(pl.String).replace_strict(reasons, default=None, return_dtype=pl.String)
            if reasons else pl.lit(None, pl.String))
    if _LEDGER_NOTE in rows.columns:
        live = pl.when(pl.col("reason").cast(pl.String) == "MISSING_FROM_EVIDENCE").then(
            pl.col(_LEDGER_NOTE)).otherwise(live)
    other = pl.col(NOTE).cast(pl.String) if NOTE in rows.columns else pl.lit(None, pl.String)
    return pl.when(is_adjustment).then(live).otherwise(other).alias(NOTE)


def reason_order() -> list[str]:
    """Every reason code in the order rules apply (for stable listings)."""
    seen: list[str] = []
    for code in (*CLAIM_RULES, *RESULT_RULES, "PARTICIPANT_CAP", "OUTCOME_CAP", "CONTRACT_CAP", "PAYER_CAP", "ADJUSTMENT",
                 "MISSING_FROM_EVIDENCE"):
        if code not in seen:
            seen.append(code)
    return seen


def accepted(group: RowGroup) -> bool:
    """Passed rules 1–11 (SPEC 9 ``accepted``): paid, partial, or capped by a money cap."""
    return group.status in ("paid", "partial") or (group.status == "capped" and group.reason != "VOLUME_CAP")


def _payer_cap(contract: Contract, payer_id: str, entitled: int) -> dict[str, Any]:
    """``{"cap": {limit, used, headroom}}`` for a payer with a cap (SPEC 11.1), else nothing.

    ``used`` is the payer's entitled in the run, so the headroom is what it
    can still be asked to pay; it may be negative.
    """
    limit = next(p.cap for p in contract.payers if p.id == payer_id)
    if limit is None:
        return {}
    money = contract.money
    return {"cap": {"limit": money(limit), "used": money(entitled), "headroom": money(limit - entitled)}}


def summary(run: PayRun) -> dict[str, Any]:
    """The JSON object of ``sob pay --format json`` (SPEC 9), amounts as strings.

    Every figure is a sum over ``run.groups``: a few dozen rows, whatever
    the number of claims.
    """
    c = run.contract
    money = c.money
    fy = c.fiscal_year_start_month
    counts: dict[str, int] = {}
    rejected: dict[str | None, int] = {}
    per_outcome: dict[str | None, list[int]] = {}
    entitled = previous = due = 0
    adjustments = 0
    for g in run.groups:
        entitled, previous, due = entitled + g.entitled, previous + g.previously_paid, due + g.due
        if g.kind == "adjustment":  # in the money totals, in no count of claims (SPEC 10.6)
            adjustments += g.rows
            continue
        counts[g.status] = counts.get(g.status, 0) + g.rows
        if g.status == "rejected":
            rejected[g.reason] = rejected.get(g.reason, 0) + g.rows
        sums = per_outcome.setdefault(g.outcome_id, [0, 0, 0, 0])
        sums[0], sums[1] = sums[0] + g.rows, sums[1] + (g.rows if accepted(g) else 0)
        sums[2], sums[3] = sums[2] + g.entitled, sums[3] + g.due
    by_outcome = []
    for o in c.outcomes:
        n, acc, e, du = per_outcome.get(o.id, (0, 0, 0, 0))
        by_outcome.append({"outcome_id": o.id, "claims": n, "accepted": acc, "entitled": money(e), "due": money(du)})
    order = reason_order()
    rejections = {
        code: rejected[code]
        for code in sorted(rejected, key=lambda r: (order.index(r) if r in order else len(order), r or ""))
    }
    caps: dict[str, dict[str, str]] = {}
    if c.caps.total is not None:
        caps["total"] = {"limit": money(c.caps.total), "used": money(entitled), "headroom": money(c.caps.total - entitled)}
    out: dict[str, Any] = {
        "contract": c.id,
        "quarter": str(run.quarter),
        "period": {"start": run.quarter.start(fy).isoformat(), "end": run.quarter.end(fy).isoformat()},
        "totals": {
            "claims": run.table.height - adjustments,
            **{s: int(counts.get(s, 0)) for s in _STATUSES},
            **({"adjustments": adjustments} if run.has_adjustments else {}),
            "entitled": money(entitled),
            "previously_paid": money(previous),
            "due": money(due),
        },
        "by_outcome": by_outcome,
        "by_payer": [
            {"payer_id": pid, "entitled": money(e), "previously_paid": money(p), "due": money(d)}
            | _payer_cap(c, pid, e)
            for pid, e, p, d in run.payer_totals.iter_rows()
        ],
        "rejections": rejections,
        "caps": caps,
    }
    if run.has_adjustments:
        out["adjustments"] = adjustment_list(run)
    return out


def adjustment_list(run: PayRun) -> list[dict[str, Any]]:
    """The JSON's ``adjustments``: id, on, reason and the three amounts of each adjustment row, in table order.

    A deleted adjustment's line (``MISSING_FROM_EVIDENCE``) is listed too,
    with its date and reason from its latest closed row (SPEC 10.6).
    """
    money = run.contract.money
    return [
        {"id": ident, "on": on.isoformat() if on is not None else None, "reason": reason,
         "entitled": money(e), "previously_paid": money(p), "due": money(d)}
        for ident, on, reason, e, p, d in adjustment_lines(run)
    ]


def adjustment_lines(run: PayRun) -> list[tuple[str, date | None, str, int, int, int]]:
    """(id, on, reason, entitled, previously_paid, due) of every adjustment row, in table order; minor units."""
    t = run.table
    rows = t.filter((pl.col("kind") == "adjustment").fill_null(False))
    note = pl.col(NOTE) if NOTE in t.columns else pl.lit(None, pl.String)
    return [
        (ident, on, reason or "", int(e), int(p), int(d))
        for ident, on, reason, e, p, d in rows.select(
            pl.col("claim_id").cast(pl.String), "achieved_on", note.cast(pl.String), "entitled", "previously_paid", "due"
        ).iter_rows()
    ]
