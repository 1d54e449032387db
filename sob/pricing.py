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


# --- sliding scales on claim outcomes (SPEC 11.4) ----------------------------------------------
#
# A claim's ``value`` is decimal text.  Values and the scale's ends are compared and priced as
# integers at one common scale 10**digits (Int128), which is exact: digits is at least the
# fraction digits of every value and of every end.  The scaled price is
# price × (value − zero_at) / (full_at − zero_at) rounded half away from zero; for a positive
# amount that is floor((2·price·N + D) / (2·D)) with N = |V − Z| < D = |F − Z|, all integers.
# An outcome whose numbers could overflow 128 bits (absurd ends or prices) is priced with
# Python fractions instead, row by row, so the answer is exact whatever the contract says.

_INT128_SAFE = 2**126
#: the most fraction digits a common scale may have: a value has at most 18 whole digits,
#: so V = value × 10**digits stays below 10**38, inside Int128
_MAX_SCALE_DIGITS = 20


@dataclass(frozen=True)
class ScaleTerms:
    """One scaled claim outcome: its rate-card position, ends at the common scale, and direction."""

    outcome: int  # ``_o``
    zero_at: Fraction
    full_at: Fraction
    zero: int  # zero_at × 10**digits (when ``exact``)
    full: int
    exact: bool  # Int128 arithmetic cannot overflow for this outcome

    @property
    def increasing(self) -> bool:
        return self.full_at > self.zero_at


@dataclass(frozen=True)
class ClaimScales:
    """The scaled claim outcomes of a contract and the common scale their values are read at."""

    digits: int
    terms: tuple[ScaleTerms, ...]

    def value(self) -> pl.Expr:
        """The claim's ``value`` as an Int128 at 10**digits (null when there is none).

        Read once into ``_sv`` by :meth:`read`, when the frame has it: the
        threshold and the price both use it.
        """
        return pl.col("_sv")

    def read(self) -> pl.Expr:
        """``_sv``: the value read at the common scale, on the rows of outcomes priced in Int128."""
        scaled = pl.col("_o").is_in([t.outcome for t in self.vectorised()])
        return pl.when(scaled).then(scaled_decimal("value", self.digits)).alias("_sv")

    def vectorised(self) -> list[ScaleTerms]:
        return [t for t in self.terms if t.exact]

    def by_hand(self) -> list[ScaleTerms]:
        return [t for t in self.terms if not t.exact]


def _fraction_digits(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _max_price(outcome: Outcome) -> int:
    prices = [outcome.price or 0, *(p.price for p in outcome.prices), *(t.price for t in outcome.tiers)]
    return max(prices)


def claim_scales(contract: Contract, claims: pl.DataFrame) -> ClaimScales | None:
    """The common scale of the claim outcomes with ``scale``, or None when there are none.

    ``digits`` covers the fraction digits of the scale ends and of every
    readable value of those outcomes' claims (at most 18, the evidence
    checks see to it), so reading them at 10**digits loses nothing.
    """
    scaled = [(i, o) for i, o in enumerate(contract.outcomes) if o.kind == "claim" and o.scale is not None]
    if not scaled:
        return None
    digits = max(_fraction_digits(d) for _, o in scaled for d in (o.scale.zero_at, o.scale.full_at))  # type: ignore[union-attr]
    if claims.height and "value" in claims.columns:  # the values of claims without a data error
        value = pl.col("value").cast(pl.String)
        of_scaled = pl.col("_o").is_in([i for i, _ in scaled]) & value.str.contains(_DECIMAL)
        if "reason" in claims.columns:
            of_scaled = of_scaled & pl.col("reason").is_null()
        frac = value.str.splitn(".", 2).struct.field("field_1").fill_null("").str.strip_chars_end("0")
        found = claims.lazy().filter(of_scaled).select(frac.str.len_bytes().max()).collect().item()
        digits = max(digits, int(found or 0))
    terms = []
    for i, o in scaled:
        assert o.scale is not None
        zero, full = Fraction(o.scale.zero_at), Fraction(o.scale.full_at)
        z, f = zero * 10**digits, full * 10**digits
        width = abs(f - z)
        exact = (digits <= _MAX_SCALE_DIGITS and max(abs(z), abs(f)) < _INT128_SAFE
                 and (2 * _max_price(o) + 1) * width < _INT128_SAFE)
        terms.append(ScaleTerms(i, zero, full, int(z) if exact else 0, int(f) if exact else 0, exact))
    return ClaimScales(digits, tuple(terms))


_DECIMAL = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"


def scaled_decimal(column: str, digits: int) -> pl.Expr:
    """Plain decimal text → Int128 of value × 10**digits (null when not a decimal or finer than digits)."""
    c = pl.col(column)
    parts = c.str.strip_chars_start("+-").str.splitn(".", 2)
    whole = parts.struct.field("field_0").str.strip_chars_start("0")
    frac = parts.struct.field("field_1").fill_null("").str.strip_chars_end("0")
    text = pl.concat_str([whole, frac.str.pad_end(digits, "0")])
    number = pl.when(text == "").then(pl.lit("0")).otherwise(text).str.to_integer(dtype=pl.Int128, strict=False)
    number = pl.when(c.str.starts_with("-")).then(pl.lit(0, pl.Int128) - number).otherwise(number)  # no Int128 neg
    return pl.when(c.str.contains(_DECIMAL) & (frac.str.len_bytes() <= digits)).then(number).alias(column)


def _passes(t: ScaleTerms, v: pl.Expr) -> pl.Expr:
    """The value passes ``zero_at``: above it on an increasing scale, below it on a decreasing one."""
    zero = pl.lit(t.zero, pl.Int128)
    return v > zero if t.increasing else v < zero


def below_threshold_expr(scales: ClaimScales) -> pl.Expr:
    """True for a claim of a (vectorised) scaled outcome whose value does not pass ``zero_at``."""
    v = scales.value()
    below = pl.lit(False)
    for t in scales.vectorised():
        below = below | ((pl.col("_o") == t.outcome) & ~_passes(t, v).fill_null(False))
    return below


def value_passes(t: ScaleTerms, value: str) -> bool:
    """The exact threshold test of one value, for outcomes priced by hand."""
    v = Fraction(Decimal(value))
    return v > t.zero_at if t.increasing else v < t.zero_at


def scaled_amount(t: ScaleTerms, price: int, value: str) -> int:
    """price × min(1, (value − zero_at) / (full_at − zero_at)), exact, rounded once half away from zero."""
    share = min(Fraction(1), (Fraction(Decimal(value)) - t.zero_at) / (t.full_at - t.zero_at))
    return round_half_away(Fraction(price) * share, 0)


def scaled_price_expr(scales: ClaimScales, price: pl.Expr) -> pl.Expr:
    """``price`` scaled by the claim's value for the vectorised scaled outcomes; unchanged for others.

    The rows reaching it passed ``zero_at`` (the rule after 7), so N > 0; a
    value at or past ``full_at`` pays the whole price.
    """
    v = scales.value()
    expr: Then | ChainedThen | None = None
    for t in scales.vectorised():
        zero, full = pl.lit(t.zero, pl.Int128), pl.lit(t.full, pl.Int128)
        width = pl.lit(abs(t.full - t.zero), pl.Int128)
        reached = v >= full if t.increasing else v <= full
        part = (v - zero) if t.increasing else (zero - v)  # > 0: the value passed zero_at
        cut = ((2 * price.cast(pl.Int128) * part + width) // (2 * width)).cast(pl.Int64)
        scaled = pl.when(reached).then(price).otherwise(cut)
        cond = pl.col("_o") == t.outcome
        expr = pl.when(cond).then(scaled) if expr is None else expr.when(cond).then(scaled)
    return price if expr is None else expr.otherwise(price)
