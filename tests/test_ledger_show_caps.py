"""`sob ledger show` reports what was paid to date against each money cap."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from sob.cli import app

MHEP = str(Path(__file__).parent.parent / "sample_contracts" / "mhep-employment" / "contract.toml")


def sob(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_outcome_cap_paid_to_date_is_the_sum_of_that_outcomes_dues(tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    dues = Decimal(0)
    for q in ("2021-Q4", "2022-Q1"):
        first = ["--opening", "none"] if q == "2021-Q4" else []  # SPEC 10.3: a first close mid-life
        result = sob("pay", MHEP, "--quarter", q, "--ledger", ledger, "--close", *first, "--format", "json")
        assert result.exit_code == 0, result.output
        engage = next(o for o in json.loads(result.stdout)["by_outcome"] if o["outcome_id"] == "ENGAGE")
        dues += Decimal(engage["due"])
    shown = json.loads(sob("ledger", "show", ledger, "--format", "json").stdout)
    last = shown[-1]["caps"]["outcome_ENGAGE"]
    assert Decimal(last["paid_to_date"]) == dues
    assert Decimal(last["limit"]) - dues == Decimal(last["headroom"])
    assert Decimal(last["paid_to_date"]) <= Decimal(last["limit"])
