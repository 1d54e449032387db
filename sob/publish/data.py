"""The figures ``sob publish`` takes from the ledger: counts and money per outcome and closed quarter.

The ledger is the record of what was paid, so nothing here reads evidence.
:func:`sob.ledger.show` checks every manifest against its table first, so
only figures the hash chain vouches for are published.

Each closed ``Q.csv`` is the claim table as at the end of Q (every claim
submitted so far), so a quarter's counts are the claims *newly accepted at
that close*: accepted in Q's table and not accepted in the table of the
close before.  That matches the quarter's money, which is the ``due`` of
the close (what was paid then, clawbacks included).  Adjustments (SPEC 10.6)
are agreed payments tied to no outcome and no count: their due per payer and
quarter is collected apart.  The opening balance (SPEC 10.3) was paid before
the ledger and is not published (docs/publish.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from sob import ledger
from sob.contract import Contract
from sob.findings import InputError
from sob.quarters import Quarter

#: statuses of a row that passed rules 1–11 (SPEC 9 ``accepted``); capped by VOLUME_CAP is not one
ACCEPTED = (pl.col("status").is_in(["paid", "partial"])) | (
    (pl.col("status") == "capped") & (pl.col("reason").fill_null("") != "VOLUME_CAP")
)


@dataclass
class Figures:
    """Counts and money of one contract, per outcome (rows, contract order) and closed quarter (columns).

    ``claims`` and ``participants`` count claims newly accepted at each close
    and the distinct participants they belong to; ``paid[payer]`` is that
    payer's due per outcome (minor units).  ``manifest_sha256`` is the hash of
    the last manifest published: the head of the chain the figures come from.
    """

    outcomes: list[str]
    quarters: list[str]
    claims: list[list[int]]
    participants: list[list[int]]
    paid: dict[str, list[list[int]]]
    manifest_sha256: str
    payer_ids: list[str] = field(default_factory=list)
    #: per payer, the due of adjustment rows per quarter (minor units)
    adjustments: dict[str, list[int]] = field(default_factory=dict)


def closed_rows(directory: Path, contract: Contract, upto: Quarter | None) -> list[str]:
    """Closed quarters of the contract up to ``upto``; InputError for no ledger entry or an unclosed ``upto``."""
    labels = [r["quarter"] for r in ledger.show(directory, {contract.id}) if r["contract"] == contract.id]
    if not labels:
        raise InputError(f"{directory} holds no closed quarter of {contract.id}: close one with "
                         f"`sob pay ... --ledger {directory} --close` first")
    if upto is not None:
        if str(upto) not in labels:
            raise InputError(f"{upto} is not a closed quarter of {contract.id} in {directory} "
                             f"(closed: {labels[0]} to {labels[-1]}); only closed quarters are published")
        labels = [q for q in labels if Quarter.parse(q) <= upto]
    return labels


def _money(name: str) -> pl.Expr:
    """A ledger amount (decimal text with the minor unit's digits) as integer minor units, exactly."""
    return pl.col(name).fill_null("0").str.replace(".", "", literal=True).cast(pl.Int64).alias(name)


def _table(directory: Path, contract_id: str, q: str, payers: list[str]) -> pl.DataFrame:
    """The columns of a closed ``Q.csv`` publishing needs; identifiers stay in memory, never in the output."""
    path = Path(directory) / contract_id / f"{q}.csv"
    wanted = ["claim_id", "kind", "participant_id", "outcome_id", "status", "reason", *[f"due_{p}" for p in payers]]
    try:
        table = ledger.read_ledger_csv(ledger.read_regular(path), columns=wanted)
        return table.with_columns(*[_money(f"due_{p}") for p in payers], ACCEPTED.fill_null(False).alias("accepted"))
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise InputError(f"{path}: not a closed claim table ({exc.__class__.__name__}); run `sob ledger verify`") from exc


def _grid(frame: pl.DataFrame, value: str, outcomes: list[str]) -> list[int]:
    """One quarter's column: ``value`` per outcome in contract order, 0 where an outcome has no row."""
    found = dict(frame.select("outcome_id", value).iter_rows())
    return [int(found.get(o) or 0) for o in outcomes]


def collect(contract: Contract, directory: Path, upto: Quarter | None = None) -> Figures:
    """Every figure of the publication from the ledger (see the module docstring)."""
    quarters = closed_rows(directory, contract, upto)
    outcomes = [o.id for o in contract.outcomes]
    payers = [p.id for p in contract.payers]
    columns: dict[str, list[list[int]]] = {"claims": [], "participants": [], **{p: [] for p in payers}}
    before = pl.DataFrame({"claim_id": []}, schema={"claim_id": pl.String})
    adjustments: dict[str, list[int]] = {p: [] for p in payers}
    for q in quarters:
        every = _table(directory, contract.id, q, payers)
        agreed = every.filter(pl.col("kind") == "adjustment")
        for p in payers:
            adjustments[p].append(int(agreed[f"due_{p}"].sum()))
        table = every.filter(pl.col("kind") != "adjustment")
        new = table.filter(pl.col("accepted")).join(before, on="claim_id", how="anti")
        counts = new.group_by("outcome_id").agg(
            pl.len().alias("claims"), pl.col("participant_id").drop_nulls().n_unique().alias("participants"))
        money = table.group_by("outcome_id").agg(pl.col(f"due_{p}").sum() for p in payers)
        columns["claims"].append(_grid(counts, "claims", outcomes))
        columns["participants"].append(_grid(counts, "participants", outcomes))
        for p in payers:
            columns[p].append(_grid(money, f"due_{p}", outcomes))
        before = table.filter(pl.col("accepted")).select("claim_id")

    def rows(cols: list[list[int]]) -> list[list[int]]:
        return [[col[i] for col in cols] for i in range(len(outcomes))]

    head = Path(directory) / contract.id / f"{quarters[-1]}.toml"
    return Figures(outcomes, quarters, rows(columns["claims"]), rows(columns["participants"]),
                   {p: rows(columns[p]) for p in payers}, ledger.sha256_file(head), payers, adjustments)


__all__ = ["ACCEPTED", "Figures", "closed_rows", "collect"]
