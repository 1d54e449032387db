"""The participants register as claims are checked against it: its ids and its invalid rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

from sob.contract import Contract
from sob.evidence.cells import one_of_expr
from sob.findings import Finding
from sob.idkeys import Packing, comparable, keys_of, positions_in


@dataclass
class Register:
    """What the claims are checked against: the register's ids, and its invalid rows."""

    ids: pl.Series  # the register frame's participant_id column (unique; null on a row without one)
    bad_ids: list[str]  # participant ids whose register row is invalid ...
    bad_codes: list[str]  # ... and that row's code
    bad_rows: pl.Series  # ... and that row's position in the register frame

    def contains(self, e: pl.Expr) -> pl.Expr:
        """Is the value of ``e`` a register id?

        Compared exactly: a probabilistic test (hashes) would be faster, but
        an unknown participant taken for a known one could be paid, and no
        chance of that is small enough for public money.  Short ASCII ids are
        packed into integers (``sob.idkeys``), which is exact and cheaper.
        """
        if self.ids.len() <= 24:
            return one_of_expr(e, self.ids.drop_nulls().to_list())
        packing, keys = self._keys
        return comparable(e, packing).is_in(keys.implode()).fill_null(False)

    def rows_of(self, ids: pl.Series) -> pl.Series:
        """For each of ``ids``, the row of the register frame that has it (null: not in the register)."""
        return positions_in(ids, self.ids, keys=self._keys)

    @cached_property
    def _keys(self) -> tuple[Packing | None, pl.Series]:
        """The ids as compared: packed integers when every one packs (``sob.idkeys``), else strings."""
        return keys_of(self.ids)

    def code_of(self, e: pl.Expr) -> pl.Expr:
        """The code of the invalid register row of participant ``e`` (null when valid or unknown)."""
        if len(self.bad_ids) <= 24:
            chain: Any = None
            for ident, code in zip(self.bad_ids, self.bad_codes):
                chain = (pl.when(e == ident) if chain is None else chain.when(e == ident)).then(pl.lit(code))
            codes: pl.Expr = chain.otherwise(pl.lit(None, dtype=pl.String))
            return codes
        return e.replace_strict(self.bad_ids, self.bad_codes, default=None, return_dtype=pl.String)
def missing_register(contract: Contract, label: str) -> Finding:
    reasons = []
    if contract.referrals_end is not None:
        reasons.append("referrals_end")
    if any(o.window_days is not None for o in contract.outcomes):
        reasons.append("window_days")
    if any(o.cohorts is not None for o in contract.outcomes):
        reasons.append("cohorts")
    if contract.reads_date_of_birth:
        reasons.append("age_at_enrolment")
    return Finding(
        code="MISSING_REGISTER", file=label,
        message=f"the contract needs a participants register ({', '.join(reasons)}), and none was given",
        hint="pass --participants FILE or set participants in [evidence]",
    )


def register_of(participants: pl.DataFrame) -> Register:
    """What claims are checked against: the typed register's ids, and the codes of its invalid rows."""
    bad = participants.with_row_index("_row").filter(pl.col("error").is_not_null() & pl.col("participant_id").is_not_null())
    return Register(
        ids=participants["participant_id"],
        bad_ids=bad["participant_id"].to_list(),
        bad_codes=bad["error"].to_list(),
        bad_rows=bad["_row"],
    )
