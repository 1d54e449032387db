"""The story of one claim (``sob explain``): each rule with the data that decided it.

Built from the same assessment the pay run uses, so the story can never
disagree with the numbers: ranks, prerequisite matches and cap headrooms are
read back from the assessed frame of the quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from sob import codes
from sob.caps import PART
from sob.contract import Contract
from sob.findings import InputError
from sob.payrun import PayRun
from sob.pricing import price_source
from sob.rules import CAP_REASONS, CLAIM_RULES, RESULT_RULES, qualified

#: A row of the assessed frame, by column name.
Row = dict[str, Any]


@dataclass
class Step:
    """One rule or stage: its code, verdict (pass, fail, skip) and the deciding data."""

    code: str
    verdict: str
    detail: str


@dataclass(frozen=True)
class CapStory:
    """One applicable money cap: its limit and headroom around this claim, in minor units."""

    cap: str
    limit: int
    headroom_before: int
    headroom_after: int


@dataclass
class Explanation:
    """Everything ``sob explain`` shows for one claim, amounts in minor units."""

    claim_id: str
    kind: str
    quarter: str
    facts: dict[str, str]
    steps: list[Step] = field(default_factory=list)
    caps: list[CapStory] = field(default_factory=list)
    split: list[tuple[str, int]] = field(default_factory=list)
    status: str = ""
    reason: str | None = None
    #: What the reason code means, from the code catalogue (:mod:`sob.codes`).
    reason_meaning: str | None = None
    price: int | None = None
    entitled: int = 0
    previously_paid: int = 0
    due: int = 0


def explain_claim(run: PayRun, claim_id: str) -> Explanation:
    """Explain ``claim_id`` within a computed pay run."""
    contract, assessed = run.contract, run.assessed
    row = run.table.filter(pl.col("claim_id") == claim_id)
    if row.height == 0:
        raise InputError(
            f"claim {claim_id!r} is not an in-scope row of {run.quarter} "
            f"(not in the evidence, or submitted after {run.quarter.end(contract.fiscal_year_start_month)})"
        )
    t = row.row(0, named=True)
    a = assessed.filter(pl.col("claim_id") == claim_id)
    info = a.row(0, named=True) if a.height else {}
    ex = Explanation(
        claim_id=claim_id,
        kind=t["kind"],
        quarter=str(run.quarter),
        facts={k: _text(t.get(k)) for k in ("participant_id", "cohort", "outcome_id", "achieved_on", "submitted_on")},
        status=t["status"],
        reason=t["reason"],
        reason_meaning=codes.meaning(t["reason"]) if t["reason"] else None,
        price=t["price"],
        entitled=t["entitled"],
        previously_paid=t["previously_paid"],
        due=t["due"],
        split=[(p, t[f"due_{p}"]) for p in contract.payer_ids],
    )
    if t["reason"] == "MISSING_FROM_EVIDENCE":
        ex.steps.append(Step("MISSING_FROM_EVIDENCE", "fail", "paid in a closed quarter but not an in-scope row now"))
        return ex
    if info.get("error"):
        ex.steps.append(Step(info["error"], "fail", "the row has a data error (run `sob validate` for details)"))
        return ex
    if t["kind"] == "claim":
        ex.steps.extend(_claim_steps(contract, assessed, info))
    else:
        ex.steps.extend(_result_steps(contract, info))
    if t["status"] != "rejected" and t["reason"] != "VOLUME_CAP":
        ex.caps = _cap_story(contract, assessed, info)
    return ex


def _text(value: object) -> str:
    if value is None:
        return "—"
    return value.isoformat() if isinstance(value, date) else str(value)


def _verdict(reason: str | None, code: str, reached: bool) -> str:
    if not reached:
        return "skip"
    return "fail" if reason == code else "pass"


def _claim_steps(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[Step]:
    """Rules 1–11 for a claim, each with what decided it."""
    o = contract.outcome(info["outcome_id"])
    reason = info["reason"]
    steps: list[Step] = []
    order = list(CLAIM_RULES)
    stop = order.index(reason) if reason in order else len(order)
    enrolled = info.get("enrolled_on")
    register = "enrolled_on" in info and enrolled is not None
    ach, sub = info["achieved_on"], info["submitted_on"]

    def add(code: str, detail: str, applies: bool = True) -> None:
        idx = order.index(code)
        verdict = "skip" if not applies else _verdict(reason, code, idx <= stop)
        steps.append(Step(code, verdict, detail))

    add("WITHDRAWN", f"status in the evidence is {info['_evidence_status']}")
    reg_note = "no participants register given: rule skipped"
    add("INELIGIBLE", f"eligible = {info.get('eligible')}, cohort = {_text(info.get('cohort'))}"
        + (f", outcome admits {', '.join(o.cohorts)}" if o.cohorts else "") if register else reg_note, register)
    period = f"{contract.start}" + (f" to {contract.referrals_end}" if contract.referrals_end else " onwards")
    add("ENROLMENT_OUT_OF_PERIOD", f"enrolled on {_text(enrolled)}; enrolment period {period}" if register else reg_note, register)
    add("BEFORE_ENROLMENT", f"achieved {_text(ach)}, enrolled {_text(enrolled)}" if register else reg_note, register)
    if o.window_days is not None and enrolled is not None:
        add("OUT_OF_WINDOW", f"window of {o.window_days} days ends {enrolled + timedelta(days=o.window_days)}; achieved {_text(ach)}")
    else:
        add("OUT_OF_WINDOW", "no window_days on this outcome" if register else reg_note, False)
    add("OUT_OF_CONTRACT_PERIOD", f"achieved {_text(ach)}; outcomes count from {contract.start} to {contract.outcomes_end}")
    add("LATE_CLAIM", f"submitted {_text(sub)}; claims accepted until {contract.claims_end}")
    add("PREREQUISITE_MISSING", _prerequisite_story(contract, assessed, info), bool(o.requires))
    mine = assessed.filter(
        (pl.col("kind") == "claim") & (pl.col("participant_id") == info["participant_id"]) & (pl.col("_order") <= info["_order"])
    )
    rank = mine.filter((pl.col("outcome_id") == o.id) & qualified()).height if reason not in order[:8] else None
    add("MAX_CLAIMS", f"rank {_text(rank)} among this participant's {o.id} claims that passed rules 1–8; max_claims = {o.max_claims}")
    if o.exclusive:
        group = [x.id for x in contract.outcomes if x.exclusive == o.exclusive]
        holders = assessed.filter(
            (pl.col("participant_id") == info["participant_id"])
            & pl.col("outcome_id").is_in(group)
            & (pl.col("reason").is_null() | pl.col("reason").is_in(["VOLUME_CAP", *CAP_REASONS]))
        ).sort("_order")
        who = holders["claim_id"][0] if holders.height else "—"
        add("EXCLUSIVE", f"group {o.exclusive!r} ({', '.join(group)}): the group is held by claim {who}")
    else:
        add("EXCLUSIVE", "no exclusive group", False)
    if o.volume_cap is not None:
        add("VOLUME_CAP", f"rank {_text(info.get('_rank_outcome'))} among accepted {o.id} claims; volume_cap = {o.volume_cap}")
    else:
        add("VOLUME_CAP", "no volume_cap", False)
    if reason is None or reason in CAP_REASONS:
        steps.append(Step("PRICE", "pass", f"{contract.money(info['price'])} — {price_source(o, ach, info.get('_rank_outcome'))}"))
    return steps


def _prerequisite_story(contract: Contract, assessed: pl.DataFrame, info: Row) -> str:
    """For each ``requires`` entry: the qualified claim found, or why none counts."""
    o = contract.outcome(info["outcome_id"])
    if not o.requires:
        return "no prerequisites"
    parts = []
    for req in o.requires:
        latest = info["achieved_on"] - timedelta(days=req.min_days)
        found = assessed.filter(
            (pl.col("participant_id") == info["participant_id"])
            & (pl.col("outcome_id") == req.outcome)
            & qualified()
            & (pl.col("achieved_on") <= latest)
        ).sort("achieved_on")
        if found.height:
            f = found.row(0, named=True)
            parts.append(f"{req.outcome} by {latest} (min_days {req.min_days}): found claim {f['claim_id']} achieved {f['achieved_on']}")
        else:
            parts.append(f"{req.outcome} by {latest} (min_days {req.min_days}): no qualified claim found")
    return "; ".join(parts)


def _result_steps(contract: Contract, info: Row) -> list[Step]:
    """Rules of SPEC 5.3 for a cohort result, each with what decided it."""
    o = contract.outcome(info["outcome_id"])
    reason = info["reason"]
    order = list(RESULT_RULES)
    stop = order.index(reason) if reason in order else len(order)
    details = {
        "WITHDRAWN": f"status in the evidence is {info['_evidence_status']}",
        "OUT_OF_CONTRACT_PERIOD": f"measured {info['achieved_on']}; outcomes count from {contract.start} to {contract.outcomes_end}",
        "LATE_CLAIM": f"submitted {info['submitted_on']}; claims accepted until {contract.claims_end}",
        "MAX_CLAIMS": f"first result of {o.id} for cohort {info.get('cohort')} takes the slot",
        "BELOW_THRESHOLD": f"{o.direction}: baseline {info['baseline']}, observed {info['observed']}; "
        f"needs a relative improvement of at least {o.min_improvement}",
    }
    steps = [Step(code, _verdict(reason, code, i <= stop), details[code]) for i, code in enumerate(order)]
    if info.get("price") is not None:
        steps.append(Step("PRICE", "pass", f"{contract.money(info['price'])} = price × units {info['units']} × improvement × (1 − deadweight {o.deadweight}), rounded once"))
    return steps


def _cap_story(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[CapStory]:
    """Each applicable cap's headroom before and after this claim."""
    before = assessed.filter(pl.col("_order") < info["_order"])
    payable = info["payable"]
    story: list[CapStory] = []
    caps = contract.caps
    o = contract.outcome(info["outcome_id"])
    scopes = []
    if caps.per_participant is not None and info["kind"] == "claim":
        scopes.append(("PARTICIPANT_CAP", caps.per_participant, before.filter(pl.col("participant_id") == info["participant_id"])))
    if o.amount_cap is not None:
        scopes.append(("OUTCOME_CAP", o.amount_cap, before.filter(pl.col("outcome_id") == o.id)))
    if caps.total is not None:
        scopes.append(("CONTRACT_CAP", caps.total, before))
    for code, limit, rows in scopes:
        used = int(rows["payable"].sum() or 0)
        story.append(CapStory(code, limit, limit - used, limit - used - payable))
    # SPEC 11.1: each capped payer of the claim, by its own part (a shift shows as a part above its share)
    for payer, share in zip(contract.payers, contract.shares_for(o), strict=True):
        column = f"{PART}{payer.id}"
        if payer.cap is not None and share > 0 and column in assessed.columns:
            used = int(before[column].sum() or 0)
            story.append(CapStory(f"PAYER_CAP {payer.id}", payer.cap, payer.cap - used, payer.cap - used - info[column]))
    return story
