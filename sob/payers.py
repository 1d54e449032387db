"""The split between payers (SPEC 5.6), vectorised.

Largest remainder on integers: with every share written over one common
denominator D (share_i = n_i / D), payer i gets floor(amount × n_i / D) minor
units, and the units left over go to the payers with the largest remainders
(amount × n_i mod D), ties to the payer listed first.  That is a handful of
integer expressions per payer, evaluated over all rows at once.  When the
products could overflow 64 bits (shares with very many decimals, huge
amounts), the split falls back to splitting each distinct (outcome, amount)
pair exactly in Python and joining the parts back.

Adjustments (SPEC 10.6) are split with their own ``payers`` (else the
contract's shares), a negative amount as the negative of the split of its
absolute value; they are few, so their rows are split one by one.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import polars as pl

from sob.contract import Adjustment, Contract
from sob.money import split_largest_remainder
from sob.rules import keyed_like

_SAFE = 2**62


def share_table(contract: Contract) -> tuple[int, dict[str, list[int]], list[int]]:
    """Common denominator D and each outcome's numerators (contract order of payers), and the contract's own.

    Every share, decimal or ``"p/q"`` (SPEC 11.2), is an exact fraction, so
    over one common denominator each is an integer numerator.
    """
    shares = {o.id: contract.shares_for(o) for o in contract.outcomes}
    default = [Fraction(p.share) for p in contract.payers]
    own = [adjustment_shares(contract, a) for a in contract.adjustments]  # in D too, so their parts are integers
    denominator = lcm(*(s.denominator for row in [*shares.values(), default, *own] for s in row))
    numerators = {oid: [int(s * denominator) for s in row] for oid, row in shares.items()}
    return denominator, numerators, [int(s * denominator) for s in default]


def adjustment_shares(contract: Contract, adjustment: Adjustment) -> list[Fraction]:
    """Shares of every contract payer (``[[payers]]`` order) for an adjustment (SPEC 10.6).

    Its own ``payers`` table, payers it does not name getting 0, else the
    contract's shares, as an outcome's ``payers`` overrides them (5.6).
    """
    if adjustment.payers is None:
        return [Fraction(p.share) for p in contract.payers]
    named = dict(adjustment.payers)
    return [Fraction(named.get(p.id, 0)) for p in contract.payers]


def adjustment_numerators(contract: Contract) -> dict[str, list[int]]:
    """Each adjustment's numerators over the common denominator of :func:`share_table`, by adjustment id."""
    denominator = share_table(contract)[0]
    return {a.id: [int(s * denominator) for s in adjustment_shares(contract, a)] for a in contract.adjustments}


def signed_split(amount: int, numerators: list[int], denominator: int) -> list[int]:
    """SPEC 10.6: a negative amount splits as the negative of the split of its absolute value."""
    if amount < 0:
        return [-x for x in split_integers(-amount, numerators, denominator)]
    return split_integers(amount, numerators, denominator)


def one_payer_takes_all(contract: Contract) -> bool:
    """One payer with a share of exactly 1 for every outcome: its part of any amount is the amount.

    Many contracts have a single commissioner; for them the split is the
    amount itself, and no column of millions of rows needs computing.
    """
    denominator, numerators, default = share_table(contract)
    return len(contract.payers) == 1 and default == [denominator] and all(
        n == [denominator] for n in numerators.values())


def payer_parts(rows: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """``<prefix><payer>``: each assessed row's parts of ``amount`` (its payable amount).

    Without payer caps they are the split of SPEC 5.6; with them they are the
    parts the cap walk gave (``_part_<payer>``, the prefix of ``sob.caps.PART``;
    SPEC 11.1: a row's amounts per payer are its parts, not a new split).
    """
    if not contract.has_payer_caps:
        return split_amounts(rows, contract, amount, prefix)
    return rows.with_columns(pl.col(f"_part_{p}").fill_null(0).cast(pl.Int64).alias(f"{prefix}{p}") for p in contract.payer_ids)


def split_amounts(frame: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """Add ``<prefix><payer id>`` columns splitting ``amount`` per the outcome's shares.

    Null amounts split as 0.  The parts of every row sum to its amount.
    Rows of kind ``adjustment`` (when ``frame`` has ``kind`` and
    ``claim_id``) are split with the adjustment's own shares, signed.
    """
    if contract.adjustments and {"kind", "claim_id"} <= set(frame.columns):
        return _split_adjustments(_split_plain(frame, contract, amount, prefix), contract, amount, prefix)
    return _split_plain(frame, contract, amount, prefix)


def _split_adjustments(frame: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """Redo the parts of the adjustment rows (few) with their own shares and sign (SPEC 10.6)."""
    at = frame.select((pl.col("kind") == "adjustment").fill_null(False).arg_true()).to_series()
    if not at.len():
        return frame
    denominator, _, default = share_table(contract)
    own = adjustment_numerators(contract)
    picked = frame.select(pl.col("claim_id").gather(at), pl.col(amount).fill_null(0).gather(at)).rows()
    parts = [signed_split(int(value), own.get(str(aid), default), denominator) for aid, value in picked]
    return frame.with_columns(
        frame[f"{prefix}{pid}"].cast(pl.Int64).scatter(at, [p[i] for p in parts])
        for i, pid in enumerate(contract.payer_ids)
    )


def _split_plain(frame: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """The split of every row by its outcome's shares (the contract's for an unknown outcome)."""
    if one_payer_takes_all(contract):
        return frame.with_columns(pl.col(amount).fill_null(0).alias(f"{prefix}{contract.payer_ids[0]}"))
    denominator, numerators, default = share_table(contract)
    largest = frame.select(pl.col(amount).abs().max()).item() or 0
    biggest_n = max([max(v) for v in numerators.values()] + [max(default)])
    if largest * max(biggest_n, 1) >= _SAFE or denominator >= _SAFE:
        return _split_by_pairs(frame, contract, amount, prefix)
    payers = contract.payer_ids
    value = pl.col(amount).fill_null(0)
    cols = []
    for i in range(len(payers)):
        mapping = {oid: n[i] for oid, n in numerators.items()}
        if set(mapping.values()) <= {default[i]}:  # the same share for every outcome: no lookup per row
            share = pl.lit(default[i], pl.Int64)
        else:
            share = pl.col("outcome_id").replace_strict(mapping, default=default[i], return_dtype=pl.Int64)
        cols.append(share.alias(f"_n{i}"))
    frame = frame.with_columns(cols)
    products = [value * pl.col(f"_n{i}") for i in range(len(payers))]
    floors = [(p // denominator).alias(f"_f{i}") for i, p in enumerate(products)]
    rems = [(p % denominator).alias(f"_r{i}") for i, p in enumerate(products)]
    frame = frame.with_columns(floors + rems)
    left = value - pl.sum_horizontal([pl.col(f"_f{i}") for i in range(len(payers))])
    parts = []
    for i in range(len(payers)):
        ahead = [
            (pl.col(f"_r{j}") > pl.col(f"_r{i}")) | ((pl.col(f"_r{j}") == pl.col(f"_r{i}")) & pl.lit(j < i))
            for j in range(len(payers))
            if j != i
        ]
        rank = pl.sum_horizontal([a.cast(pl.Int64) for a in ahead]) if ahead else pl.lit(0, pl.Int64)
        parts.append((pl.col(f"_f{i}") + (rank < left).cast(pl.Int64)).alias(f"{prefix}{payers[i]}"))
    helpers = [f"_{k}{i}" for k in "nfr" for i in range(len(payers))]
    return frame.with_columns(parts).drop(helpers)


def _split_by_pairs(frame: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """Exact split of each distinct (outcome, amount) pair, joined back (no overflow possible)."""
    names = [f"{prefix}{pid}" for pid in contract.payer_ids]
    pairs = frame.select(pl.col("outcome_id"), pl.col(amount).fill_null(0).alias("_amount")).unique()
    shares = {o.id: contract.shares_for(o) for o in contract.outcomes}
    default = [Fraction(p.share) for p in contract.payers]  # rows naming no known outcome
    rows = []
    for outcome_id, value in pairs.iter_rows():
        rows.append([outcome_id, value, *split_largest_remainder(value, shares.get(outcome_id, default))])
    schema = {"outcome_id": pl.String, "_amount": pl.Int64} | dict.fromkeys(names, pl.Int64)
    table = keyed_like(pl.DataFrame(rows, schema=schema, orient="row"), frame, ["outcome_id"])
    return (
        frame.with_columns(pl.col(amount).fill_null(0).alias("_amount"))
        .join(table, on=["outcome_id", "_amount"], how="left", maintain_order="left", nulls_equal=True)
        .drop("_amount")
    )


def split_integers(amount: int, numerators: list[int], denominator: int) -> list[int]:
    """SPEC 5.6 on integers: ``amount`` split by shares ``numerators[i] / denominator`` (summing to 1).

    The same largest remainder as :func:`sob.money.split_largest_remainder`,
    without Fractions, for the payer-cap walk that splits one row at a time.
    """
    parts = [amount * n // denominator for n in numerators]
    left = amount - sum(parts)
    if left:
        rems = [amount * n % denominator for n in numerators]
        for i in sorted(range(len(numerators)), key=lambda i: (-rems[i], i))[:left]:
            parts[i] += 1
    return parts


def part_bounds(frame: pl.DataFrame, contract: Contract, amount: str, payer: int) -> pl.Series | None:
    """ceil(amount × share) of payer number ``payer``, per row: no split of ``amount`` or less gives it more.

    A largest-remainder part can grow when the amount shrinks (the Alabama
    paradox), so the bound is the ceiling of the exact product, not the part
    of the full amount.  ``None`` when the products could overflow 64 bits.
    """
    denominator, numerators, default = share_table(contract)
    mapping = {oid: n[payer] for oid, n in numerators.items()}
    largest = frame.select(pl.col(amount).abs().max()).item() or 0
    if largest * max([*mapping.values(), default[payer], 1]) >= _SAFE or denominator >= _SAFE:
        return None
    share = pl.col("outcome_id").replace_strict(mapping, default=default[payer], return_dtype=pl.Int64)
    return frame.select((pl.col(amount).fill_null(0) * share + (denominator - 1)) // denominator).to_series()
