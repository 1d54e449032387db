"""The story of one claim (``sob explain``): each rule with the data that decided it.

Built from the same assessment the pay run uses, so the story can never
disagree with the numbers: ranks, prerequisite matches and cap headrooms are
read back from the assessed frame of the quarter.  Every rule is evaluated on
the claim's own data (the engine stops at the first failure; a reader fixing
evidence wants every problem at once), and the first failure is marked as the
one that decided.  With a ledger, the story also says what each closed quarter
paid for the claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from sob import codes, ledger
from sob.caps import PART
from sob.contract import Contract
from sob.contract.model import Outcome, entry_in_force
from sob.findings import InputError
from sob.lifecycle import ContractChange
from sob.payers import share_table, split_integers
from sob.payrun import PayRun
from sob.pricing import price_result, price_source, scale_fraction
from sob.quarters import Quarter
from sob.rules import CAP_REASONS, SCALE_RULE, qualified

#: A row of the assessed frame, by column name.
Row = dict[str, Any]


@dataclass
class Step:
    """One rule or stage: its code, verdict and the data that decided it.

    ``verdict`` is ``pass``, ``fail`` or ``n/a`` (the rule does not apply:
    no register, no window, no group).  Every rule is evaluated on the
    claim's own data, also after the first failure, so a reader sees every
    problem at once; ``decides`` marks the rule that gave the claim its
    reason (the first failure, SPEC 5.2).
    """

    code: str
    verdict: str
    detail: str
    decides: bool = False


@dataclass(frozen=True)
class CapStory:
    """One applicable money cap: its limit and headroom around this claim, in minor units."""

    cap: str
    limit: int
    headroom_before: int
    headroom_after: int
    #: for a dated cap (SPEC 10.5): the ``from`` of the schedule entry in force for the run
    in_force_from: date | None = None

    @property
    def used_before(self) -> int:
        """What earlier rows used of the cap: limit − headroom before."""
        return self.limit - self.headroom_before


@dataclass(frozen=True)
class PayerMove:
    """One payer's part of a claim next to its plain share, when a payer cap moved money (SPEC 11.1).

    ``share`` is the 5.6 split of the amount the other caps left; ``part``
    what the payer pays after the payer caps.  A capped payer's part below
    its share was cut (``on_cap = "cut"``) or passed on (``"shift"``); a part
    above the share is what the payer took over from capped payers.
    """

    payer: str
    share: int
    part: int
    capped: bool
    on_cap: str


@dataclass(frozen=True)
class LedgerQuarter:
    """What one closed quarter of the ledger paid for the claim (minor units; None = not in it yet)."""

    quarter: str
    due: int | None
    paid_to_date: int | None


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
    #: Where the price came from, in words (flat, dated, tier, result formula).
    price_source: str | None = None
    #: What the caps left of the price: the amount this claim adds to the entitlement.
    payable: int | None = None
    entitled: int = 0
    previously_paid: int = 0
    due: int = 0
    #: Each closed quarter of ``--ledger`` and what it paid for the claim, oldest first.
    ledger: list[LedgerQuarter] | None = None
    #: Adjustments processed before this row that used (or gave back) cap headroom: (id, on, amount), SPEC 10.6.
    adjustments_before: list[tuple[str, date, int]] = field(default_factory=list)
    #: SPEC 10.1: how an edit of the contract since the latest close bears on this row; ``None``: no edit
    restatement: Restatement | None = None
    #: Each payer of the claim when a payer cap moved money between the split and the parts (SPEC 11.1).
    payer_moves: list[PayerMove] = field(default_factory=list)
    #: The amount the other caps left (split between the payers before the payer caps), when moves are shown.
    before_payer_caps: int | None = None


@dataclass(frozen=True)
class Restatement:
    """This row under the contract as closed in ``since`` and as it is now, both as at end(``since``).

    ``old``/``new`` are entitled in minor units, ``None`` when the row is not
    restated (the edit leaves its closed amounts as they were).
    """

    since: str
    old: int | None
    new: int | None


def explain_claim(
    run: PayRun, claim_id: str, ledger_dir: Path | None = None, change: ContractChange | None = None
) -> Explanation:
    """Explain ``claim_id`` within a computed pay run (and its history in ``ledger_dir``).

    ``change`` is the run's restatement (SPEC 10.1): a reader asking why a
    claim is due money again after its quarter was closed needs to see that
    the contract was edited, and by how much that moved this claim.
    """
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
        payable=info.get("payable"),
        entitled=t["entitled"],
        previously_paid=t["previously_paid"],
        due=t["due"],
        split=[(p, t[f"due_{p}"]) for p in contract.payer_ids],
    )
    if ledger_dir is not None:
        ex.ledger = ledger_history(ledger_dir, contract, claim_id)
    if change is not None:
        amounts = change.of_claim(claim_id)
        ex.restatement = Restatement(str(change.since), *(amounts if amounts else (None, None)))
    if t["reason"] == "MISSING_FROM_EVIDENCE":
        ex.steps.append(Step("MISSING_FROM_EVIDENCE", "fail", "paid in a closed quarter but not an in-scope row now", True))
        return ex
    if info.get("error"):
        ex.steps.append(Step(info["error"], "fail", "the row has a data error (run `sob validate` for details)", True))
        return ex
    if t["kind"] == "adjustment":
        return _explain_adjustment(ex, contract, assessed, info)
    ex.adjustments_before = _adjustments_before(contract, assessed, info)
    o = contract.outcome(info["outcome_id"])
    if t["kind"] == "claim":
        ex.steps.extend(_claim_steps(contract, assessed, info))
        ex.price_source = price_source(o, info["achieved_on"], info.get("_rank_outcome")) if info.get("price") is not None else None
        if ex.price_source is not None and o.scale is not None:  # SPEC 11.4: the price of 5.4, then the scale
            ex.price_source += f", scaled by value {info.get('value')} (see {SCALE_RULE})"
    else:
        ex.steps.extend(_result_steps(contract, assessed, info))
        if info.get("price") is not None:
            ex.price_source = _result_price_source(contract, assessed, info)
    _mark_decisive(ex.steps, t["reason"])
    _note_volume_schedule(ex.steps, o, run.quarter.end(contract.fiscal_year_start_month))
    if t["status"] != "rejected" and t["reason"] != "VOLUME_CAP":
        as_at = run.quarter.end(contract.fiscal_year_start_month)
        ex.caps = _with_schedule_entries(_cap_story(contract, assessed, info), contract, o, as_at)
        _payer_moves(ex, contract, o, info)
    return ex


def _payer_moves(ex: Explanation, contract: Contract, o: Outcome, info: Row) -> None:
    """How each payer's cap cut or shifted its part of this claim (SPEC 11.1), when one did.

    The amount split between the payers is what the participant, outcome and
    contract caps left (their headrooms before this row are in ``ex.caps``);
    its plain 5.6 split is set beside the parts the cap walk gave.  Nothing is
    added when the parts are the plain split: no payer cap moved anything.
    """
    if not contract.has_payer_caps or ex.price is None or f"{PART}{contract.payer_ids[0]}" not in info:
        return
    rooms = [c.headroom_before for c in ex.caps if not c.cap.startswith("PAYER_CAP")]
    if contract.caps.partial:
        amount = max(0, min([ex.price, *rooms]))
    else:
        amount = ex.price if all(ex.price <= room for room in rooms) else 0
    denominator, numerators, _ = share_table(contract)
    shares = split_integers(amount, numerators[o.id], denominator)
    parts = [int(info[f"{PART}{pid}"] or 0) for pid in contract.payer_ids]
    if parts == shares or (not contract.caps.partial and not any(parts)):
        return  # all or nothing: the status line already says a payer cap left the claim unpaid
    ex.before_payer_caps = amount
    ex.payer_moves = [PayerMove(p.id, share, part, p.cap is not None, p.on_cap)
                      for p, n, share, part in zip(contract.payers, numerators[o.id], shares, parts, strict=True)
                      if n > 0]


def _explain_adjustment(ex: Explanation, contract: Contract, assessed: pl.DataFrame, info: Row) -> Explanation:
    """An adjustment's story (SPEC 10.6): what was agreed, that no rule applies, and the headroom it used."""
    adjustment = next(a for a in contract.adjustments if a.id == ex.claim_id)
    split = adjustment.payers if adjustment.payers is not None else tuple((p.id, p.share) for p in contract.payers)
    ex.facts = {"on": adjustment.on.isoformat(), "reason": adjustment.reason,
                "payers": ", ".join(f"{pid} {share}" for pid, share in split)
                + ("" if adjustment.payers is not None else " (the contract's split)")}
    ex.steps.append(Step("ADJUSTMENT", "pass", f"agreed on {adjustment.on}: an adjustment passes no rule and is "
                         "never cut; it counts against the total cap and every payer cap", True))
    ex.price_source = "the adjustment's amount, as agreed"
    before = assessed.filter(pl.col("_order") < info["_order"])
    payable = info["payable"]
    if contract.caps.total is not None:
        used = int(before["payable"].sum() or 0)
        ex.caps.append(CapStory("CONTRACT_CAP", contract.caps.total, contract.caps.total - used,
                                contract.caps.total - used - payable))
    for payer in contract.payers:
        column = f"{PART}{payer.id}"
        if payer.cap is not None and column in assessed.columns and info.get(column):
            used = int(before[column].sum() or 0)
            ex.caps.append(CapStory(f"PAYER_CAP {payer.id}", payer.cap, payer.cap - used, payer.cap - used - info[column]))
    ex.adjustments_before = _adjustments_before(contract, assessed, info)
    return ex


def _adjustments_before(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[tuple[str, date, int]]:
    """Adjustments earlier in processing order, when a cap they count against exists (SPEC 10.6).

    They used (or, when negative, gave back) headroom of the total cap and
    the payer caps, so a claim capped after a large payment on profile is
    explained by it.
    """
    if contract.caps.total is None and not contract.has_payer_caps:
        return []
    rows = _earlier(assessed, info, pl.col("kind") == "adjustment").sort("_order")
    return [(str(i), on, int(p or 0)) for i, on, p in rows.select("claim_id", "achieved_on", "payable").iter_rows()]


def ledger_history(directory: Path, contract: Contract, claim_id: str) -> list[LedgerQuarter]:
    """What each closed quarter paid for ``claim_id``, from the ledger's vouched tables.

    Read through :func:`sob.ledger.previously_paid`, the same reading a pay
    run uses: the paid-to-date after each closed quarter, minus the one
    before it, is what that quarter paid.  Quarters are few, so reading the
    ledger once per quarter is cheap next to the assessment itself.
    """
    history: list[LedgerQuarter] = []
    before: int | None = None
    for label in ledger.closed_quarters(directory, contract.id):
        after_q = Quarter.parse(label).next()
        paid = ledger.previously_paid(directory, contract.id, after_q, contract.payer_ids, contract.minor_units)
        mine = paid.filter(pl.col("claim_id") == claim_id)
        to_date = int(mine["paid"][0]) if mine.height else None
        due = None if to_date is None else to_date - (before or 0)
        history.append(LedgerQuarter(label, due, to_date))
        before = to_date
    return history


def _mark_decisive(steps: list[Step], reason: str | None) -> None:
    """Mark the step whose code is the claim's reason: the first failure the engine recorded."""
    for step in steps:
        if step.code == reason and step.verdict == "fail":
            step.decides = True
            return


def _text(value: object) -> str:
    if value is None:
        return "—"
    return value.isoformat() if isinstance(value, date) else str(value)


def _verdict(failed: bool | None) -> str:
    """``fail`` / ``pass``, or ``n/a`` when the data the rule reads is missing."""
    if failed is None:
        return "n/a"
    return "fail" if failed else "pass"


def _earlier(assessed: pl.DataFrame, info: Row, *conditions: pl.Expr) -> pl.DataFrame:
    """Rows processed before this one that meet ``conditions``."""
    return assessed.filter(pl.col("_order") < info["_order"], *conditions)


def _claim_steps(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[Step]:
    """Rules 1–11 for a claim, each evaluated on the claim's own data, with what decided it.

    The ranked rules (9–11) count the earlier claims that passed the rules
    before them, exactly as the engine does, and count this claim as the
    next one: for a claim rejected earlier, they say what the rule would do
    had it got that far.
    """
    o = contract.outcome(info["outcome_id"])
    enrolled = info.get("enrolled_on")
    # without a register every claim's register columns are null (rules 2-5 do not run, SPEC 4.2)
    register = enrolled is not None or info.get("eligible") is not None
    ach, sub = info["achieved_on"], info["submitted_on"]
    steps: list[Step] = []
    status = info["_evidence_status"]
    steps.append(Step("WITHDRAWN", _verdict(status in ("withdrawn", "failed")), f"status in the evidence is {status}"))
    reg_note = "no participants register given: rule not applied"
    if register:
        refused = info.get("eligible") is False or (o.cohorts is not None and info.get("cohort") not in o.cohorts)
        age_refused, age_note = _age_check(o, info)
        steps.append(Step("INELIGIBLE", _verdict(refused or age_refused),
                          f"eligible = {info.get('eligible')}, cohort = {_text(info.get('cohort'))}"
                          + (f", outcome admits {', '.join(o.cohorts)}" if o.cohorts else "") + age_note))
        period = f"{contract.start}" + (f" to {contract.referrals_end}" if contract.referrals_end else " onwards")
        outside = None if enrolled is None else (
            enrolled < contract.start or (contract.referrals_end is not None and enrolled > contract.referrals_end))
        steps.append(Step("ENROLMENT_OUT_OF_PERIOD", _verdict(outside), f"enrolled on {_text(enrolled)}; enrolment period {period}"))
        before = None if ach is None or enrolled is None else ach < enrolled
        steps.append(Step("BEFORE_ENROLMENT", _verdict(before), f"achieved {_text(ach)}, enrolled {_text(enrolled)}"))
    else:
        steps += [Step(code, "n/a", reg_note) for code in ("INELIGIBLE", "ENROLMENT_OUT_OF_PERIOD", "BEFORE_ENROLMENT")]
    if o.window_days is not None and enrolled is not None:
        ends = enrolled + timedelta(days=o.window_days)
        steps.append(Step("OUT_OF_WINDOW", _verdict(None if ach is None else ach > ends),
                          f"window of {o.window_days} days ends {ends}; achieved {_text(ach)}"))
    else:
        steps.append(Step("OUT_OF_WINDOW", "n/a", "no window_days on this outcome" if register else reg_note))
    outside = None if ach is None else (ach < contract.start or ach > contract.outcomes_end)
    steps.append(Step("OUT_OF_CONTRACT_PERIOD", _verdict(outside),
                      f"achieved {_text(ach)}; outcomes count from {contract.start} to {contract.outcomes_end}"))
    steps.append(Step("LATE_CLAIM", _verdict(None if sub is None else sub > contract.claims_end),
                      f"submitted {_text(sub)}; claims accepted until {contract.claims_end}"))
    if o.scale is not None:  # the rule SPEC 11.4 adds after rule 7, on scaled outcomes only
        steps.append(_scale_step(o, info))
    steps.append(_prerequisite_step(contract, assessed, info))
    steps += _ranked_steps(contract, assessed, info)
    return steps


def _age_check(o: Outcome, info: Row) -> tuple[bool, str]:
    """SPEC 11.5 for rule 2: is the participant's age at enrolment outside the outcome's band, and why."""
    band = o.age_at_enrolment
    if band is None:
        return False, ""
    born, enrolled = info.get("_dob"), info.get("enrolled_on")
    bounds = f"{'' if band.min is None else band.min}–{'' if band.max is None else band.max}"
    if born is None or enrolled is None:
        return True, f"; no date of birth, so the age band {bounds} cannot be shown"
    age = enrolled.year - born.year - ((enrolled.month, enrolled.day) < (born.month, born.day))
    outside = (band.min is not None and age < band.min) or (band.max is not None and age > band.max)
    return outside, f"; born {born}, age {age} at enrolment, outcome admits ages {bounds}"


def _scale_step(o: Outcome, info: Row) -> Step:
    """The scale rule (SPEC 11.4): the claim's value against ``zero_at``, and the fraction of the price."""
    assert o.scale is not None
    value = info.get("value")
    ends = f"scale from {o.scale.zero_at} (nothing) to {o.scale.full_at} (full price)"
    if value is None:
        return Step("BELOW_THRESHOLD", "n/a", f"no value; {ends}")
    fraction = scale_fraction(o.scale.zero_at, o.scale.full_at, Fraction(Decimal(value)))
    if fraction is None:
        return Step("BELOW_THRESHOLD", "fail", f"value {value} does not pass zero_at; {ends}")
    percent = (Decimal(fraction.numerator) * 100 / Decimal(fraction.denominator)).quantize(Decimal("0.01"))
    return Step("BELOW_THRESHOLD", "pass", f"value {value}: {fraction} of the price (about {percent}%), {ends}")


def _ranked_steps(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[Step]:
    """Rules 9–11: this claim's rank among the earlier claims that reached each rule."""
    o = contract.outcome(info["outcome_id"])
    reason = pl.col("reason")
    same_person = (pl.col("kind") == "claim") & (pl.col("participant_id") == info["participant_id"])
    # passed rules 1-8 (reached rule 9), 1-9 (reached rule 10), 1-10 (reached rule 11)
    reached_9 = qualified()
    reached_10 = reason.is_null() | reason.is_in(["EXCLUSIVE", "VOLUME_CAP", *CAP_REASONS])
    reached_11 = reason.is_null() | reason.is_in(["VOLUME_CAP", *CAP_REASONS])
    rank = _earlier(assessed, info, same_person, pl.col("outcome_id") == o.id, reached_9).height + 1
    steps = [Step("MAX_CLAIMS", _verdict(rank > o.max_claims),
                  f"rank {rank} among this participant's {o.id} claims that passed rules 1–8; max_claims = {o.max_claims}")]
    if o.exclusive:
        group = [x.id for x in contract.outcomes if x.exclusive == o.exclusive]
        holders = _earlier(assessed, info, same_person, pl.col("outcome_id").is_in(group), reached_10).sort("_order")
        who = f"held by earlier claim {holders['claim_id'][0]}" if holders.height else "no earlier claim holds it"
        steps.append(Step("EXCLUSIVE", _verdict(holders.height > 0), f"group {o.exclusive!r} ({', '.join(group)}): {who}"))
    else:
        steps.append(Step("EXCLUSIVE", "n/a", "no exclusive group"))
    if o.volume_cap is not None:
        accepted = _earlier(assessed, info, pl.col("kind") == "claim", pl.col("outcome_id") == o.id, reached_11).height + 1
        steps.append(Step("VOLUME_CAP", _verdict(accepted > o.volume_cap),
                          f"rank {accepted} among accepted {o.id} claims; volume_cap = {o.volume_cap}"))
    else:
        steps.append(Step("VOLUME_CAP", "n/a", "no volume_cap"))
    return steps


def _prerequisite_step(contract: Contract, assessed: pl.DataFrame, info: Row) -> Step:
    """Rule 8: each ``requires`` entry with the qualified claim found, or why none counts."""
    o = contract.outcome(info["outcome_id"])
    if not o.requires:
        return Step("PREREQUISITE_MISSING", "n/a", "no prerequisites")
    if info["achieved_on"] is None:
        return Step("PREREQUISITE_MISSING", "n/a", "no achieved_on date")
    parts, missing = [], False
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
            missing = True
            parts.append(f"{req.outcome} by {latest} (min_days {req.min_days}): no qualified claim found")
    return Step("PREREQUISITE_MISSING", _verdict(missing), "; ".join(parts))


def _result_steps(contract: Contract, assessed: pl.DataFrame, info: Row) -> list[Step]:
    """Rules of SPEC 5.3 for a cohort result, each evaluated on the result's own data."""
    o = contract.outcome(info["outcome_id"])
    ach, sub, status = info["achieved_on"], info["submitted_on"], info["_evidence_status"]
    reason = pl.col("reason")
    reached_4 = reason.is_null() | reason.is_in(["MAX_CLAIMS", "BELOW_THRESHOLD", "NETTED", "PAYER_CAP", *CAP_REASONS])
    earlier = _earlier(assessed, info, pl.col("kind") == "improvement", pl.col("outcome_id") == o.id,
                       pl.col("cohort").cast(pl.String).eq_missing(info.get("cohort")), reached_4).sort("_order")
    first = f"earlier result {earlier['claim_id'][0]} took the slot" if earlier.height else "no earlier result took the slot"
    steps = [
        Step("WITHDRAWN", _verdict(status in ("withdrawn", "failed")), f"status in the evidence is {status}"),
        Step("OUT_OF_CONTRACT_PERIOD", _verdict(None if ach is None else (ach < contract.start or ach > contract.outcomes_end)),
             f"measured {_text(ach)}; outcomes count from {contract.start} to {contract.outcomes_end}"),
        Step("LATE_CLAIM", _verdict(None if sub is None else sub > contract.claims_end),
             f"submitted {_text(sub)}; claims accepted until {contract.claims_end}"),
        Step("MAX_CLAIMS", _verdict(earlier.height > 0), f"one result of {o.id} per cohort {_text(info.get('cohort'))}: {first}"),
    ]
    detail = (f"{o.direction}: baseline {info.get('baseline')}, observed {info.get('observed')}; "
              f"needs a relative improvement of at least {o.steps[0].at if o.steps else o.min_improvement}")
    if o.scale is not None:
        detail += f" and an improvement above the scale's zero_at {o.scale.zero_at}"
    if ach is None or info.get("baseline") is None or info.get("observed") is None:
        steps.append(Step("BELOW_THRESHOLD", "n/a", detail))
    else:
        verdict = price_result(o, contract, ach, info["baseline"], info["observed"], info.get("units") or "1")
        steps.append(Step("BELOW_THRESHOLD", _verdict(not verdict.passes), f"{detail}; improvement {verdict.improvement}"))
    steps.append(_netted_step(contract, assessed, info))
    return steps


def _netted_step(contract: Contract, assessed: pl.DataFrame, info: Row) -> Step:
    """SPEC 11.6: was a pooled payment that lists this outcome made before this result?"""
    o = contract.outcome(info["outcome_id"])
    pools = [other.id for other in contract.outcomes if o.id in other.net_of]
    if not pools:
        return Step("NETTED", "n/a", f"no outcome is net of {o.id}")
    if info.get("reason") != "NETTED":
        return Step("NETTED", "pass", f"no pooled payment of {', '.join(pools)} settled {o.id} before this result")
    settling = _earlier(assessed, info, pl.col("kind") == "improvement",
                        pl.col("outcome_id").cast(pl.String).is_in(pools)).sort("_order")
    first = settling["claim_id"][-1] if settling.height else "an earlier pooled result"
    return Step("NETTED", "fail", f"pooled result {first} ({', '.join(pools)}, net of {o.id}) came before it")


def _result_price_source(contract: Contract, assessed: pl.DataFrame, info: Row) -> str:
    """The price of a cohort result in words: the formula, the step reached or the scale's fraction, the netting."""
    o = contract.outcome(info["outcome_id"])
    verdict = price_result(o, contract, info["achieved_on"], info["baseline"], info["observed"], info.get("units") or "1")
    if verdict.step is not None:
        step = o.steps[verdict.step - 1]
        text = (f"step {verdict.step} of {len(o.steps)} reached: improvement {verdict.improvement} >= "
                f"{step.at} × baseline {info['baseline']}, amount {contract.money(step.amount)}")
    else:
        text = f"price × units {info['units']} × improvement"
        if verdict.fraction is not None and o.scale is not None:
            text += (f" × scale fraction {verdict.fraction} (improvement {verdict.improvement} between "
                     f"zero_at {o.scale.zero_at} and full_at {o.scale.full_at})")
        text += f" × (1 − deadweight {o.deadweight}), rounded once"
    if o.net_of and verdict.amount is not None:
        listed = _earlier(assessed, info, pl.col("kind") == "improvement",
                          pl.col("outcome_id").cast(pl.String).is_in(list(o.net_of)), pl.col("payable") > 0)
        netted = int(listed["payable"].sum() or 0)
        text += (f" = {contract.money(verdict.amount)}, less {contract.money(netted)} entitled by "
                 f"{listed.height} earlier paid result(s) of {', '.join(o.net_of)} (net_of), floored at 0")
    return text


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


def _note_volume_schedule(steps: list[Step], o: Outcome, as_at: date) -> None:
    """Say which entry of a dated ``volume_cap`` the run used (SPEC 10.5)."""
    entry = entry_in_force(o.volume_cap_schedule, as_at)
    if entry is None:
        return
    for step in steps:
        if step.code == "VOLUME_CAP" and step.verdict != "n/a":
            step.detail += f" (the schedule's entry from {entry.start}, in force at {as_at})"


def _with_schedule_entries(story: list[CapStory], contract: Contract, o: Outcome, as_at: date) -> list[CapStory]:
    """Mark each dated cap with the ``from`` of its schedule entry in force at ``as_at`` (SPEC 10.5)."""
    schedules = {"PARTICIPANT_CAP": contract.caps.per_participant_schedule, "OUTCOME_CAP": o.amount_cap_schedule,
                 "CONTRACT_CAP": contract.caps.total_schedule}
    schedules |= {f"PAYER_CAP {p.id}": p.cap_schedule for p in contract.payers}
    out = []
    for cap in story:
        entry = entry_in_force(schedules.get(cap.cap, ()), as_at)
        out.append(cap if entry is None else replace(cap, in_force_from=entry.start))
    return out
