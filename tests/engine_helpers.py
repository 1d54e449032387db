"""Tiny contracts and evidence frames for engine tests, built without files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from sob.contract import Caps, Contract, Outcome, Payer, PricePoint, Requirement, Tier

__all__ = ["Caps", "Outcome", "PricePoint", "Requirement", "Tier", "claims", "contract", "d", "participants", "results"]


def d(text: str) -> date:
    return date.fromisoformat(text)


def contract(outcomes, payers=None, caps=None, **kw) -> Contract:
    base = {
        "id": "t",
        "name": "T",
        "currency": "GBP",
        "minor_units": 2,
        "start": d("2020-01-01"),
        "outcomes_end": d("2022-12-31"),
        "claims_end": kw.pop("claims_end", d("2022-12-31")),
        "referrals_end": None,
        "fiscal_year_start_month": 1,
        "payers": tuple(payers or [Payer("P", "Payer", Decimal(1))]),
        "outcomes": tuple(outcomes),
        "caps": caps or Caps(),
    }
    base.update(kw)
    return Contract(**base)


def claims(rows) -> pl.DataFrame:
    """rows: (claim_id, participant_id, outcome_id, achieved_on[, submitted_on[, status]])."""
    out = []
    for i, r in enumerate(rows):
        cid, pid, oid, ach = r[:4]
        sub = r[4] if len(r) > 4 and r[4] else ach
        status = r[5] if len(r) > 5 else "claimed"
        out.append(
            {
                "line": i + 2,
                "claim_id": cid,
                "participant_id": pid,
                "outcome_id": oid,
                "achieved_on": d(ach),
                "submitted_on": d(sub),
                "status": status,
                "evidence_ref": None,
                "amount_claimed": None,
                "error": None,
            }
        )
    schema = {
        "line": pl.Int64, "claim_id": pl.String, "participant_id": pl.String, "outcome_id": pl.String,
        "achieved_on": pl.Date, "submitted_on": pl.Date, "status": pl.String, "evidence_ref": pl.String,
        "amount_claimed": pl.Int64, "error": pl.String,
    }
    return pl.DataFrame(out, schema=schema)


def participants(rows) -> pl.DataFrame:
    """rows: (participant_id, enrolled_on[, eligible[, cohort]])."""
    out = [
        {
            "line": i + 2,
            "participant_id": r[0],
            "enrolled_on": d(r[1]),
            "eligible": r[2] if len(r) > 2 else True,
            "cohort": r[3] if len(r) > 3 else None,
            "error": None,
        }
        for i, r in enumerate(rows)
    ]
    schema = {"line": pl.Int64, "participant_id": pl.String, "enrolled_on": pl.Date, "eligible": pl.Boolean,
              "cohort": pl.String, "error": pl.String}
    return pl.DataFrame(out, schema=schema)


def results(rows) -> pl.DataFrame:
    """rows: (result_id, outcome_id, cohort, achieved_on, baseline, observed[, units[, submitted_on[, status]]])."""
    out = []
    for i, r in enumerate(rows):
        rid, oid, cohort, ach, base, obs = r[:6]
        units = r[6] if len(r) > 6 else "1"
        sub = r[7] if len(r) > 7 and r[7] else ach
        status = r[8] if len(r) > 8 else "claimed"
        out.append({"line": i + 2, "result_id": rid, "outcome_id": oid, "cohort": cohort, "achieved_on": d(ach),
                    "submitted_on": d(sub), "baseline": base, "observed": obs, "units": units, "status": status,
                    "error": None})
    schema = {"line": pl.Int64, "result_id": pl.String, "outcome_id": pl.String, "cohort": pl.String,
              "achieved_on": pl.Date, "submitted_on": pl.Date, "baseline": pl.String, "observed": pl.String,
              "units": pl.String, "status": pl.String, "error": pl.String}
    return pl.DataFrame(out, schema=schema)
