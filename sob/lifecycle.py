"""A contract through its life: the change guard and quarter gaps (SPEC 10.1, 10.4).

Every run recomputes entitlement from the start of the contract, so an edit
to the contract file restates quarters that were already closed and paid.
:func:`restatement` measures that: every row's entitled as at the end of the
latest closed quarter P under the current contract against the same under
P's copy of the contract (or P's closed table, for a ledger closed before
copies existed), both from the current evidence.  :func:`skipped_quarters`
names the quarters a close would leave unclosed for ever.

Plain data in, plain data out: the workflows decide what to refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sob import ledger
from sob.assessment import assess
from sob.contract import Contract
from sob.contract.load import check_contract_text, decode_contract_bytes
from sob.contract.paths import contract_folder
from sob.findings import SobError
from sob.money import format_minor
from sob.payers import payer_parts
from sob.quarters import Quarter

#: how many restated claim ids a message and the JSON name
FIRST_IDS = 10


@dataclass
class ContractChange:
    """How the contract file differs from the one the latest closed quarter was closed with.

    Amounts are minor units of the current contract; ``restated_amount`` is
    signed (new entitled − old, summed over the restated rows).
    """

    since: Quarter
    previous_sha256: str
    restated_rows: int = 0
    restated_amount: int = 0
    #: (outcome id, rows, amount), outcome ``""`` for rows that have none
    by_outcome: list[tuple[str, int, int]] = field(default_factory=list)
    claim_ids: list[str] = field(default_factory=list)
    #: every restated row: claim_id, old and new entitled (for ``sob explain``'s story of one claim)
    rows: pl.DataFrame | None = field(default=None, repr=False, compare=False)

    def of_claim(self, claim_id: str) -> tuple[int, int] | None:
        """(old entitled, new entitled) as at end(P) when ``claim_id`` is restated, else ``None``.

        A restated row may keep its entitled (only a payer's part moved): then
        old equals new and the row is still restated.
        """
        if self.rows is None:
            return None
        hit = self.rows.filter(pl.col("claim_id") == claim_id)
        if hit.height == 0:
            return None
        return int(hit["entitled_old"][0]), int(hit["entitled"][0])

    def as_json(self, minor_units: int) -> dict[str, Any]:
        """The ``contract_change`` object of the JSON output (SPEC 10.1)."""
        return {
            "since": str(self.since),
            "previous_contract_sha256": self.previous_sha256,
            "restated_rows": self.restated_rows,
            "restated_amount": format_minor(self.restated_amount, minor_units),
            "by_outcome": [
                {"outcome_id": o, "restated_rows": n, "restated_amount": format_minor(a, minor_units)}
                for o, n, a in self.by_outcome
            ],
            "claim_ids": list(self.claim_ids),
        }

    def manifest_table(self, minor_units: int) -> dict[str, Any]:
        """The ``[contract_change]`` table a close writes into its manifest."""
        return {
            "since": str(self.since),
            "previous_contract_sha256": self.previous_sha256,
            "restated_rows": self.restated_rows,
            "restated_amount": format_minor(self.restated_amount, minor_units),
        }

    def describe(self, minor_units: int) -> str:
        """One paragraph for a warning or a refusal: rows, net amount, by outcome, first ids."""
        parts = ", ".join(
            f"{o or '(no outcome)'}: {n} row(s), {format_minor(a, minor_units)}" for o, n, a in self.by_outcome
        )
        more = " …" if self.restated_rows > len(self.claim_ids) else ""
        return (
            f"the contract changed since {self.since} was closed and restates {self.restated_rows} closed row(s), "
            f"net {format_minor(self.restated_amount, minor_units)} ({parts}); claim ids: "
            + ", ".join(self.claim_ids) + more
        )


def _side(
    contract: Contract | None,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    as_at: date,
    participant_rows: pl.Series | None,
) -> pl.DataFrame:
    """claim_id, outcome_id, entitled and ``_part_<payer>`` of one side as at ``as_at``.

    A side whose contract is missing, starts after ``as_at`` or cannot assess
    the evidence has no rows (SPEC 10.1): every row of the other side then
    counts against 0.
    """
    empty = pl.DataFrame(schema={"claim_id": pl.String, "outcome_id": pl.String, "entitled": pl.Int64})
    if contract is None or contract.start > as_at:
        return empty
    try:
        rows = entitled_rows(contract, claims, participants, results, as_at, participant_rows)
    except (SobError, pl.exceptions.PolarsError, KeyError, ValueError):
        return empty
    return rows.select("claim_id", "outcome_id", "entitled", *(f"_part_{p}" for p in contract.payer_ids))


def entitled_rows(
    contract: Contract,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    as_at: date,
    participant_rows: pl.Series | None,
) -> pl.DataFrame:
    """Every assessed row as at ``as_at`` with ``entitled`` and each payer's part, ``_part_<payer>``.

    The one way a contract's money is compared with another contract's, by
    the change guard (10.1) and by ``sob diff`` (10.2): both must see the
    same amounts a close would record.
    """
    rows = assess(contract, claims, participants, results, as_at, carry=False, participant_rows=participant_rows)
    rows = rows.with_columns(pl.col("payable").fill_null(0).cast(pl.Int64).alias("entitled"))
    return payer_parts(rows, contract, "entitled", "_part_")


_OUTCOME_ERRORS = ("UNKNOWN_OUTCOME", "WRONG_OUTCOME_KIND")


def outcomes_under(frame: pl.DataFrame | None, contract: Contract, kind: str) -> pl.DataFrame | None:
    """The evidence frame with its outcome checks (4.4) redone for another contract's rate card.

    The files are read once, checked against the current contract; a claim of
    an outcome only one contract has is a data error (rejected) under the
    other only, so the other side must not inherit the current verdict.
    Other data errors do not depend on the rate card and are kept.
    """
    if frame is None or "outcome_id" not in frame.columns:
        return frame
    known = [o.id for o in contract.outcomes]
    wrong = [o.id for o in contract.outcomes if o.kind != kind]
    oid = pl.col("outcome_id").cast(pl.String)
    error = pl.col("error") if "error" in frame.columns else pl.lit(None, pl.String)
    kept = pl.when(error.is_in(list(_OUTCOME_ERRORS))).then(pl.lit(None, pl.String)).otherwise(error)
    redone = (
        pl.when(kept.is_not_null()).then(kept)
        .when(oid.is_not_null() & ~oid.is_in(known)).then(pl.lit("UNKNOWN_OUTCOME"))
        .when(oid.is_in(wrong)).then(pl.lit("WRONG_OUTCOME_KIND"))
        .otherwise(pl.lit(None, pl.String))
    )
    return frame.with_columns(oid.alias("outcome_id"), redone.cast(frame.schema.get("error", pl.String())).alias("error"))


def load_copy(path: Path, current: Contract) -> Contract | None:
    """P's contract from its ledger copy; ``None`` when it no longer loads (then it has no rows).

    The copy is checked as if it stood where the current contract stands:
    its ``[evidence]`` paths are not used (the evidence is read once, with
    the current settings), and in the ledger folder they would not resolve.
    """
    text, problem = decode_contract_bytes(ledger.read_regular(path), path)
    if problem is not None or current.path is None:
        return None
    contract, _ = check_contract_text(text, current.path, folder=contract_folder(current.path))
    return contract


def restatement(
    current: Contract,
    previous: Contract | pl.DataFrame | None,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    since: Quarter,
    as_at: date,
    previous_sha256: str,
    participant_rows: pl.Series | None = None,
) -> ContractChange:
    """Rows whose entitled (or payer part) as at ``as_at`` differs between the two contracts.

    ``previous`` is P's contract, or (a ledger closed before copies existed)
    P's closed table with ``claim_id`` and ``entitled``, compared on entitled
    only.  Rows match by claim_id; a row one side lacks counts 0 there.
    """
    new = _side(current, claims, participants, results, as_at, participant_rows)
    if isinstance(previous, pl.DataFrame):
        old = previous.select("claim_id", pl.lit(None, pl.String).alias("outcome_id"), "entitled")
    else:
        old = _side(previous, outcomes_under(claims, previous, "claim") if previous else None, participants,
                    outcomes_under(results, previous, "improvement") if previous else None, as_at, participant_rows)
    parts = sorted({c for c in (*new.columns, *old.columns) if c.startswith("_part_")})
    both = new.join(old, on="claim_id", how="full", coalesce=True, suffix="_old")
    amounts = ["entitled", *parts]
    both = both.with_columns(
        [pl.col(c).fill_null(0) if c in new.columns else pl.lit(0, pl.Int64).alias(c) for c in amounts]
        + [pl.col(f"{c}_old").fill_null(0) if f"{c}_old" in both.columns else pl.lit(0, pl.Int64).alias(f"{c}_old")
           for c in amounts]
    )
    differs = pl.any_horizontal([pl.col(c) != pl.col(f"{c}_old") for c in amounts])
    restated = (
        both.filter(differs)
        .with_columns(
            (pl.col("entitled") - pl.col("entitled_old")).alias("_restated"),
            pl.coalesce(pl.col("outcome_id"), pl.col("outcome_id_old"), pl.lit("")).alias("_outcome"),
        )
        .sort("claim_id")
    )
    change = ContractChange(since, previous_sha256, restated.height, int(restated["_restated"].sum() or 0))
    change.claim_ids = restated["claim_id"].head(FIRST_IDS).to_list()
    change.rows = restated.select("claim_id", "entitled_old", "entitled")
    grouped = {
        o: (int(n), int(a or 0))
        for o, n, a in restated.group_by("_outcome").agg(pl.len(), pl.col("_restated").sum()).iter_rows()
    }
    order = [o.id for o in current.outcomes]
    if isinstance(previous, Contract):
        order += [o.id for o in previous.outcomes if o.id not in order]
    order += sorted(o for o in grouped if o not in order and o != "") + [""]
    change.by_outcome = [(o, *grouped[o]) for o in order if o in grouped]
    return change


def skipped_quarters(latest: Quarter | None, quarter: Quarter) -> list[Quarter]:
    """Quarters between the latest closed one and ``quarter`` that a close of ``quarter`` leaves unclosed (SPEC 10.4).

    A first close skips nothing: gaps count from the latest closed quarter.
    """
    if latest is None:
        return []
    out = []
    q = latest.next()
    while q < quarter:
        out.append(q)
        q = q.next()
    return out


def previous_side(directory: Path, contract: Contract, since: Quarter, parsed: dict[str, Any]) -> Contract | pl.DataFrame | None:
    """What P was closed with: its contract copy, or its closed entitled for a ledger without copies."""
    copy = ledger.closed_contract_copy(directory, contract.id, since, parsed)
    if copy is None:
        return ledger.closed_entitled(directory, contract.id, since, parsed, contract.minor_units)
    return load_copy(copy, contract)


def period_end(since: Quarter, parsed: dict[str, Any], previous: Contract | pl.DataFrame | None, current: Contract) -> date:
    """end(P) as P was closed: the manifest's ``period_end``, else from P's (or the current) fiscal year."""
    recorded = parsed.get("period_end")
    if isinstance(recorded, date):
        return recorded
    fy = previous.fiscal_year_start_month if isinstance(previous, Contract) else current.fiscal_year_start_month
    return since.end(fy)
