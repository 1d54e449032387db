"""``[evidence.values]``: the values a provider's system writes (``Approved``, ``Y``) read as the
canonical ones (``claimed``, ``true``) before any check runs.

A cell matches a mapped value ignoring case and surrounding space.  Cells that match no
mapped value are left as they are, so canonical values still read, and anything else is the
column's usual error (``BAD_STATUS``, ``BAD_BOOLEAN``, ``UNKNOWN_OUTCOME``) with the mapped
values among its "did you mean" hints.
"""

from __future__ import annotations

import polars as pl

from sob.contract import Contract
from sob.evidence.raw import Planned, Raw


def mapped(contract: Contract, raw: Raw) -> list[pl.Expr]:
    """The expressions that replace mapped values in the file's columns (none without maps)."""
    exprs = []
    for column, pairs in contract.evidence.values:
        if not pairs or column not in raw.kind.columns or column not in raw.present:
            continue
        keys = [k for k, _ in pairs]
        low = pl.col(column).str.to_lowercase()
        exprs.append(pl.when(low.is_in(keys)).then(low.replace_strict(keys, [t for _, t in pairs], default=None,
                                                                        return_dtype=pl.String))
                     .otherwise(pl.col(column)).alias(column))
    return exprs


def with_values(plan: Planned | None, contract: Contract) -> Planned | None:
    """A file's reading with its mapped values replaced, whichever reader (or redo) gives its frame."""
    if plan is None or not contract.evidence.values:
        return plan
    if callable(plan):
        later = plan
        return lambda: _apply(later(), contract)
    return _apply(plan, contract)


def _apply(raw: Raw, contract: Contract) -> Raw:
    exprs = mapped(contract, raw)
    if not exprs:
        return raw
    raw.lf = raw.lf.with_columns(exprs)
    if raw.redo is not None:
        redo = raw.redo

        def again(how: str, done: pl.DataFrame | None = None) -> pl.LazyFrame:
            # mapping twice is harmless: no mapped-to value is also a mapped value (contract check)
            return redo(how, done).with_columns(exprs)  # type: ignore[no-any-return]

        raw.redo = again
    return raw


def hint_values(contract: Contract, column: str, value: str | None, canonical: list[str]) -> str | None:
    """``did you mean …?`` among the column's mapped values and canonical ones, when a map is configured."""
    import difflib

    keys = list(contract.evidence.value_map(column))
    if not keys or value is None:
        return None
    close = difflib.get_close_matches(value.lower(), keys + canonical, n=1, cutoff=0.5)
    known = ", ".join(keys)
    return (f"did you mean {close[0]!r}? " if close else "") + f"[evidence.values] {column} maps: {known}"
