"""``sob diff OLD NEW --quarter Q``: what a contract edit does to the money (SPEC 10.2).

Both contracts are run as at the end of Q, without a ledger, from the same
evidence read once with NEW's settings; both runs assess it as under
``--reject-invalid``.  Rows are matched by claim_id and a row is listed when
its status, reason, price, entitled or any payer's part differs.  The result
is data (:class:`ContractDiff`); the command line renders it and exits 1
when money moves, so CI can ask for a review of a contract edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sob.assessment import RULE_COLUMNS
from sob.contract import Contract
from sob.export import money_text_expr
from sob.findings import UsageError
from sob.lifecycle import entitled_rows, outcomes_under
from sob.money import format_minor
from sob.quarters import Quarter
from sob.workflows import EvidencePaths, load_valid_contract, parse_quarter, read_files, resolve_evidence

#: the per-row columns each side contributes (besides ``_part_<payer>``)
_META = ("kind", "participant_id", "cohort", "outcome_id", "achieved_on", "submitted_on")
_SIDE = ("status", "reason", "price", "entitled")
_EXPORT_SUFFIXES = (".csv", ".parquet", ".json", ".xlsx")


@dataclass
class DiffRequest:
    """Options of ``sob diff`` as data."""

    old: Path
    new: Path
    quarter: str
    evidence: EvidencePaths = field(default_factory=EvidencePaths)
    export: Path | None = None


@dataclass
class ContractDiff:
    """Two runs of one quarter compared; amounts in minor units of NEW."""

    old: Contract
    new: Contract
    quarter: Quarter
    #: the listed rows, in claim_id order: export columns plus ``_in_old``/``_in_new``
    rows: pl.DataFrame
    payers: list[str]
    #: (outcome id, old entitled, new entitled): every outcome of NEW, then those only OLD has
    by_outcome: list[tuple[str, int, int]]
    #: (payer id, old entitled, new entitled): every payer of NEW, then those only OLD has
    by_payer: list[tuple[str, int, int]]
    old_total: int
    new_total: int
    money_moves: bool

    def money(self, minor: int | None) -> str | None:
        """An amount as the JSON writes it (SPEC 3.1)."""
        return None if minor is None else format_minor(minor, self.new.minor_units)

    def as_json(self) -> dict[str, Any]:
        """The JSON object of SPEC 10.2."""
        data = self._head()
        data["rows"] = [json.loads(line) for line in self.row_json_lines()]
        return data

    def json_text(self) -> str:
        """:meth:`as_json` as text, each row on one line: a rate-card edit can list a million rows,
        and encoding them in polars keeps ``sob diff`` within two ``sob pay`` runs."""
        text = json.dumps(self._head(), indent=2)
        lines = self.row_json_lines()
        if lines:
            text = text.replace('"rows": []', '"rows": [\n    ' + ",\n    ".join(lines) + "\n  ]", 1)
        return text + "\n"

    def row_json_lines(self) -> list[str]:
        """One compact JSON object per listed row, encoded by polars."""
        units = self.new.minor_units

        def money(column: str) -> pl.Expr:
            return money_text_expr(column, units)

        def side(name: str, contract: Contract) -> pl.Expr:
            payers = pl.struct(
                *(money(f"{name}_entitled_{p}").fill_null("0").alias(p) for p in contract.payer_ids)
            ).alias("payers") if contract.payer_ids else pl.lit(None).alias("payers")
            body = pl.struct(
                pl.col(f"{name}_status").alias("status"),
                pl.col(f"{name}_reason").fill_null("").alias("reason"),
                money(f"{name}_price").alias("price"),
                money(f"{name}_entitled").alias("entitled"),
                payers,
            )
            return pl.when(pl.col(f"_in_{name}")).then(body).otherwise(None).alias(name)

        if self.rows.height == 0:
            return []
        row = pl.struct(
            "claim_id", "kind", "participant_id", "outcome_id", side("old", self.old), side("new", self.new),
            money("difference").alias("difference"),
        )
        return self.rows.select(row.struct.json_encode()).to_series().to_list()

    def _head(self) -> dict[str, Any]:
        fy = self.new.fiscal_year_start_month
        return {
            "contract": self.new.id,
            "quarter": str(self.quarter),
            "period": {"start": self.quarter.start(fy).isoformat(), "end": self.quarter.end(fy).isoformat()},
            "rows": [],
            "by_outcome": [self._pair("outcome_id", *t) for t in self.by_outcome],
            "by_payer": [self._pair("payer_id", *t) for t in self.by_payer],
            "totals": {"rows": self.rows.height, **self._pair(None, "", self.old_total, self.new_total)},
        }

    def _pair(self, key: str | None, name: str, old: int, new: int) -> dict[str, Any]:
        head = {} if key is None else {key: name}
        return head | {"old_entitled": self.money(old), "new_entitled": self.money(new), "difference": self.money(new - old)}

    def export_table(self) -> pl.DataFrame:
        """The ``--export`` table: the listed rows, without the presence markers."""
        return self.rows.drop("_in_old", "_in_new")


def _empty_side(contract: Contract) -> pl.DataFrame:
    schema: dict[str, Any] = {"claim_id": pl.String, **dict.fromkeys(_META, pl.String)}
    schema.update({"achieved_on": pl.Date, "submitted_on": pl.Date, "status": pl.String, "reason": pl.String,
                   "price": pl.Int64, "entitled": pl.Int64})
    schema.update({f"_part_{p}": pl.Int64 for p in contract.payer_ids})
    return pl.DataFrame(schema=schema)


def run_side(
    contract: Contract,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    as_at: date,
    participant_rows: pl.Series | None,
) -> pl.DataFrame:
    """One contract's run as at ``as_at``: a row per claim id with its money and each payer's part.

    A contract that starts after ``as_at`` has no rows (it pays nothing yet).
    """
    if contract.start > as_at:
        return _empty_side(contract)
    rows = entitled_rows(contract, claims, participants, results, as_at, participant_rows)
    text = [pl.col(c).cast(pl.String) for c in ("kind", "participant_id", "cohort", "outcome_id", "status", "reason")]
    rows = rows.with_columns(*text, pl.col("price").cast(pl.Int64))
    return rows.select("claim_id", *_META, *_SIDE, *(f"_part_{p}" for p in contract.payer_ids))


def compare(
    old: Contract, new: Contract, quarter: Quarter, old_rows: pl.DataFrame, new_rows: pl.DataFrame
) -> ContractDiff:
    """Match the two runs by claim_id and keep the rows that differ (SPEC 10.2)."""
    payers = new.payer_ids + [p for p in old.payer_ids if p not in new.payer_ids]
    o = old_rows.rename({c: f"old_{c}" for c in old_rows.columns if c != "claim_id"}).with_columns(_in_old=pl.lit(True))
    n = new_rows.rename({c: f"new_{c}" for c in new_rows.columns if c != "claim_id"}).with_columns(_in_new=pl.lit(True))
    both = _match(n, o)
    both = both.with_columns(pl.col("_in_old").fill_null(False), pl.col("_in_new").fill_null(False))
    for side, contract in (("old", old), ("new", new)):
        parts = []
        for p in payers:
            source = f"{side}__part_{p}"
            value = pl.col(source) if p in contract.payer_ids else pl.lit(0, pl.Int64)
            parts.append(pl.when(pl.col(f"_in_{side}")).then(value).otherwise(None).alias(f"{side}_entitled_{p}"))
        both = both.with_columns(parts)
    meta = [pl.when(pl.col("_in_new")).then(pl.col(f"new_{c}")).otherwise(pl.col(f"old_{c}")).alias(c) for c in _META]
    money = [(pl.col(f"new_{c}").fill_null(0) != pl.col(f"old_{c}").fill_null(0)) for c in
             ["entitled", *(f"entitled_{p}" for p in payers)]]
    other = [pl.col(f"new_{c}").ne_missing(pl.col(f"old_{c}")) for c in ("status", "reason", "price")]
    other.append(pl.col("_in_new") != pl.col("_in_old"))
    both = both.with_columns(
        *meta,
        (pl.col("new_entitled").fill_null(0) - pl.col("old_entitled").fill_null(0)).alias("difference"),
        pl.any_horizontal(money).alias("_money"),
        pl.any_horizontal(other).alias("_other"),
    )
    listed = both.filter(pl.col("_money") | pl.col("_other")).sort("claim_id")
    columns = ["claim_id", *_META]
    for c in ("status", "reason", "price", "entitled"):
        columns += [f"old_{c}", f"new_{c}"]
    columns += ["difference"]
    for p in payers:
        columns += [f"old_entitled_{p}", f"new_entitled_{p}"]
    rows = listed.select(*columns, "_in_old", "_in_new")
    outcomes = [x.id for x in new.outcomes] + [x.id for x in old.outcomes if x.id not in {y.id for y in new.outcomes}]
    old_by, new_by = _by_outcome(old_rows), _by_outcome(new_rows)
    return ContractDiff(
        old, new, quarter, rows, payers,
        by_outcome=[(oid, old_by.get(oid, 0), new_by.get(oid, 0)) for oid in outcomes],
        by_payer=[(p, _sum(old_rows, f"_part_{p}"), _sum(new_rows, f"_part_{p}")) for p in payers],
        old_total=_sum(old_rows, "entitled"),
        new_total=_sum(new_rows, "entitled"),
        money_moves=bool(listed["_money"].any()),
    )


def _match(new: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame:
    """The two runs side by side, matched by claim_id (a full join: a row one run lacks has nulls there).

    Both runs assess the same evidence, so they nearly always hold the same
    ids in the same order: then the rows are put side by side without a join,
    which on a million rows costs more than an assessment.
    """
    if new["claim_id"].equals(old["claim_id"]):
        return pl.concat([new, old.drop("claim_id")], how="horizontal")
    return new.join(old, on="claim_id", how="full", coalesce=True)


def _by_outcome(rows: pl.DataFrame) -> dict[str, int]:
    """Exact entitled per outcome id of one run, in one pass (rows without an outcome left out)."""
    sums = rows.filter(pl.col("outcome_id").is_not_null()).group_by("outcome_id").agg(pl.col("entitled").sum())
    return {str(oid): int(total or 0) for oid, total in sums.iter_rows()}


def _sum(rows: pl.DataFrame, column: str, outcome: str | None = None) -> int:
    """Exact sum of a money column (0 when the run lacks it), optionally for one outcome."""
    if column not in rows.columns:
        return 0
    if outcome is not None:
        rows = rows.filter(pl.col("outcome_id") == outcome)
    return int(rows[column].sum() or 0)


def compute_diff(req: DiffRequest) -> ContractDiff:
    """Everything ``sob diff`` computes, checked in the exit-code order of SPEC 10.2."""
    quarter = parse_quarter(req.quarter)
    if req.export is not None and req.export.suffix.lower() not in _EXPORT_SUFFIXES:
        raise UsageError(f"--export {req.export}: use one of {', '.join(_EXPORT_SUFFIXES)}")
    old, _ = load_valid_contract(req.old)
    new, _ = load_valid_contract(req.new)
    if old.id != new.id:
        raise UsageError(f"{req.old} is contract {old.id!r} and {req.new} is {new.id!r}: sob diff compares two "
                         "versions of one contract")
    if old.minor_units != new.minor_units:
        raise UsageError(f"{req.old} and {req.new} count money in different minor units: they cannot be compared")
    as_at = quarter.end(new.fiscal_year_start_month)
    if as_at < new.start:
        raise UsageError(f"quarter {quarter} ends {as_at}, before the contract starts on {new.start}")
    paths = resolve_evidence(new, req.evidence, need_claims=True)
    if req.export is not None:
        target = req.export.resolve()
        for path in (req.old, req.new, paths.claims, paths.participants, paths.results):
            if path is not None and path.resolve() == target:
                raise UsageError(f"--export {req.export} would overwrite the input file {path}; choose another file")
    # both runs assess with carry=False and list no carried column: keep only what the rules read
    evidence = read_files(new, paths, claim_columns=RULE_COLUMNS)
    claims = evidence.claims
    if claims is not None and "line" in claims.columns:
        claims = claims.drop("line")
    new_rows = run_side(new, claims, evidence.participants, evidence.results, as_at, evidence.participant_rows)
    old_rows = run_side(old, outcomes_under(claims, old, "claim"), evidence.participants,
                        outcomes_under(evidence.results, old, "improvement"), as_at, evidence.participant_rows)
    return compare(old, new, quarter, old_rows, new_rows)


def write_export(result: ContractDiff, path: Path) -> None:
    """Write the listed rows (only the header when none is listed), atomically, as ``sob pay --export`` does."""
    from sob.export import write_table

    write_table(result.export_table(), path, result.new.minor_units)
