"""Prices (SPEC 5.4): flat, dated and tiered for claims; exact improvement for results.

Claim prices are polars expressions built from the small rate card, so a
million claims are priced in one pass.  Cohort results are priced one by one
with exact fractions: there is one row per cohort and measurement, and the
product price × units × improvement × (1 − deadweight) must be exact before
its single rounding.
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


def price_result(outcome: Outcome, contract: Contract, achieved_on: date, baseline: str, observed: str, units: str) -> ResultPrice:
    """Exact threshold test and amount of a cohort result (SPEC 5.3, 5.4).

    The threshold compares ``improvement < min_improvement × baseline`` so no
    rounded ratio can tip a result over it.
    """
    base, obs, n = Fraction(Decimal(baseline)), Fraction(Decimal(observed)), Fraction(Decimal(units))
    improvement = base - obs if outcome.direction == "decrease" else obs - base
    if improvement < Fraction(outcome.min_improvement) * base:
        return ResultPrice(False, None, improvement)
    price = outcome.price_on(achieved_on)
    if price is None:
        return ResultPrice(True, None, improvement)
    # price is in minor units already, so round at the unit (0 extra digits).
    exact = Fraction(price) * n * improvement * (1 - Fraction(outcome.deadweight))
    return ResultPrice(True, round_half_away(exact, 0), improvement)
