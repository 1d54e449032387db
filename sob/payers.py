"""The split between payers (SPEC 5.6), vectorised over distinct amounts.

The largest-remainder split needs exact rational arithmetic, but a quarter's
rows carry few distinct (outcome, amount) pairs — prices repeat — so each
distinct pair is split once in Python and the parts are joined back.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from sob.contract import Contract
from sob.money import split_largest_remainder


def split_amounts(frame: pl.DataFrame, contract: Contract, amount: str, prefix: str) -> pl.DataFrame:
    """Add ``<prefix><payer id>`` columns splitting ``amount`` per the outcome's shares.

    Null amounts split as 0.  The parts of every row sum to its amount.
    """
    names = [f"{prefix}{pid}" for pid in contract.payer_ids]
    pairs = frame.select(pl.col("outcome_id"), pl.col(amount).fill_null(0).alias("_amount")).unique()
    shares = {o.id: contract.shares_for(o) for o in contract.outcomes}
    default = [Fraction(p.share) for p in contract.payers]  # rows naming no known outcome
    rows = []
    for outcome_id, value in pairs.iter_rows():
        parts = split_largest_remainder(value, shares.get(outcome_id, default))
        rows.append([outcome_id, value, *parts])
    schema = {"outcome_id": pl.String, "_amount": pl.Int64} | {n: pl.Int64 for n in names}
    table = pl.DataFrame(rows, schema=schema, orient="row")
    return (
        frame.with_columns(pl.col(amount).fill_null(0).alias("_amount"))
        .join(table, on=["outcome_id", "_amount"], how="left", maintain_order="left", nulls_equal=True)
        .drop("_amount")
    )
