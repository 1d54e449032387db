"""Prices (SPEC 5.4): flat, dated and tiered for claims; exact improvement for results.

Claim prices are polars expressions built from the small rate card, so a
million claims are priced in one pass.  Cohort results are priced one by one
with exact fractions: there is one row per cohort and measurement, and the
product price × units × improvement × (1 − deadweight) — times the fraction
of a sliding scale (SPEC 11.4) — must be exact before its single rounding;
an outcome with threshold steps (SPEC 11.3) pays the amount of the highest
step reached instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import polars as pl

from sob.contract import Contract, Outcome
from sob.money import round_half_away

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then


def claim_price_expr(contract: Contract, rank: str = "_rank_outcome") -> pl.Expr:
    """Price of an accepted claim, by outcome: flat, by ``achieved_on``, or by tier of ``rank``."""
    outcome = pl.col("outcome_id")
    expr: Then | ChainedThen | None = None

    def add(cond: pl.Expr, value: int) -> None:
        nonlocal expr
        expr = pl.when(cond).then(pl.lit(value, pl.Int64)) if expr is None else expr.when(cond).then(pl.lit(value, pl.Int64))

    for o in contract.outcomes:
        if o.kind != "claim":
            continue
        if o.price is not None:
            add(outcome == o.id, o.price)
        elif o.prices:
            for point in reversed(o.prices):  # latest `from` first: the first match wins
                add((outcome == o.id) & (pl.col("achieved_on") >= pl.lit(point.start)), point.price)
        else:
            for tier in o.tiers:  # increasing up_to: the first tier the rank fits wins
                if tier.up_to is None:
                    add(outcome == o.id, tier.price)
                else:
                    add((outcome == o.id) & (pl.col(rank) <= tier.up_to), tier.price)
    if expr is None:
        return pl.lit(None, pl.Int64).alias("price")
    return expr.otherwise(pl.lit(None, pl.Int64)).alias("price")


def price_source(outcome: Outcome, achieved_on: date, rank: int | None) -> str:
    """Where a claim's price came from, in words (for ``sob explain``)."""
    if outcome.price is not None:
        return f"flat price of {outcome.id}"
    if outcome.prices:
        chosen = [p for p in outcome.prices if p.start <= achieved_on]
        if chosen:
            return f"dated price from {chosen[-1].start.isoformat()} (achieved {achieved_on.isoformat()})"
        return "no dated price in force"
    lower = 0
    for i, tier in enumerate(outcome.tiers, start=1):
        if tier.up_to is None or (rank is not None and rank <= tier.up_to):
            upper = "" if tier.up_to is None else str(tier.up_to)
            return f"tier {i} (ranks {lower + 1}–{upper}) for rank {rank} among accepted {outcome.id} claims"
        lower = tier.up_to
    return "no tier"


@dataclass(frozen=True)
class ResultPrice:
    """Threshold verdict and amount of one cohort result."""

    passes: bool
    amount: int | None  # minor units, rounded once; None when the threshold fails
    improvement: Fraction
    #: the 1-based number of the highest step reached (SPEC 11.3), None without steps or below them
    step: int | None = None
    #: the fraction f of a sliding scale (SPEC 11.4), None without a scale or below zero_at
    fraction: Fraction | None = None


def price_result(outcome: Outcome, contract: Contract, achieved_on: date, baseline: str, observed: str, units: str) -> ResultPrice:
    """Exact threshold test and amount of a cohort result (SPEC 5.3, 5.4, 11.3, 11.4).

    The threshold compares ``improvement < min_improvement × baseline`` so no
    rounded ratio can tip a result over it; steps compare
    ``improvement >= at × baseline`` the same way.
    """
    base, obs, n = Fraction(Decimal(baseline)), Fraction(Decimal(observed)), Fraction(Decimal(units))
    improvement = base - obs if outcome.direction == "decrease" else obs - base
    if outcome.steps:
        return _price_by_steps(outcome, base, improvement)
    if improvement < Fraction(outcome.min_improvement) * base:
        return ResultPrice(False, None, improvement)
    fraction = None
    if outcome.scale is not None:
        fraction = scale_fraction(outcome.scale.zero_at, outcome.scale.full_at, improvement)
        if fraction is None:
            return ResultPrice(False, None, improvement)
    price = outcome.price_on(achieved_on)
    if price is None:
        return ResultPrice(True, None, improvement, fraction=fraction)
    # price is in minor units already, so round at the unit (0 extra digits).
    exact = Fraction(price) * n * improvement * (1 - Fraction(outcome.deadweight)) * (1 if fraction is None else fraction)
    return ResultPrice(True, round_half_away(exact, 0), improvement, fraction=fraction)


def _price_by_steps(outcome: Outcome, base: Fraction, improvement: Fraction) -> ResultPrice:
    """The amount of the highest step whose ``at`` × baseline the improvement reaches (SPEC 11.3).

    Steps are sorted by ``at`` (a contract check), so the last one reached is
    the highest; none reached is the threshold failing.
    """
    reached = [i for i, step in enumerate(outcome.steps, start=1) if improvement >= Fraction(step.at) * base]
    if not reached:
        return ResultPrice(False, None, improvement)
    return ResultPrice(True, outcome.steps[reached[-1] - 1].amount, improvement, step=reached[-1])


def scale_fraction(zero_at: Decimal, full_at: Decimal, value: Fraction) -> Fraction | None:
    """min(1, (value − zero_at) / (full_at − zero_at)) exactly; None when value does not pass zero_at (SPEC 11.4).

    Works for a decreasing scale too (``zero_at > full_at``): both the
    test and the ratio then run the other way.
    """
    zero, full = Fraction(zero_at), Fraction(full_at)
    passes = value > zero if zero < full else value < zero
    if not passes:
        return None
    return min(Fraction(1), (value - zero) / (full - zero))
