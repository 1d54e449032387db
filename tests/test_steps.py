"""SPEC 11.3 threshold ``steps`` on improvement outcomes, worked by hand from the SPEC text.

NYC ABLE-like steps on a jail-days baseline of 100: a result reaches a step
when baseline − observed >= at × baseline, compared exactly, and its price is
the amount of the highest step reached (no units, no deadweight); the caps
of 5.5 then apply to it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import tomli_w
from conftest import contract_dict, make_contract, write_claims, write_results
from engine_helpers import Outcome, contract, d, results
from typer.testing import CliRunner

from sob.assessment import assess
from sob.cli import app
from sob.contract import check_contract_text
from sob.contract.model import Step
from sob.pricing import price_result

STEPS = (Step(Decimal("0.085"), 480_000_000), Step(Decimal("0.10"), 600_000_000), Step(Decimal("0.20"), 1_171_200_000))
JAIL = Outcome("JAIL", kind="improvement", direction="decrease", steps=STEPS)


def _price(observed: str, baseline: str = "100", outcome: Outcome = JAIL):
    return price_result(outcome, contract([outcome]), d("2020-02-01"), baseline, observed, "1")


@pytest.mark.parametrize(("observed", "step", "amount"), [
    ("91.5", 1, 480_000_000),      # 8.5 days fewer = 0.085 × 100: exactly at the first step
    ("91.4", 1, 480_000_000),
    ("90.01", 1, 480_000_000),     # 9.99 < 10: not yet the second step
    ("90", 2, 600_000_000),        # exactly at the second
    ("80.5", 2, 600_000_000),
    ("80", 3, 1_171_200_000),      # exactly at the top step
    ("0", 3, 1_171_200_000),       # far beyond it: still the top amount, never more
])
def test_the_highest_step_reached_is_the_price(observed, step, amount):
    got = _price(observed)
    assert (got.passes, got.step, got.amount) == (True, step, amount)


def test_just_below_the_first_step_is_below_threshold():
    got = _price("91.5000001")
    assert (got.passes, got.amount, got.step) == (False, None, None)
    assert got.improvement == Fraction("8.4999999")


def test_a_step_is_compared_exactly_not_through_a_rounded_ratio():
    # 0.255 / 3 is 0.085 exactly, but 0.085 * 3 in binary floating point is 0.25500000000000006
    assert _price("2.745", baseline="3").step == 1
    assert _price("2.7450000000000001", baseline="3").passes is False


def test_steps_on_an_increasing_outcome():
    up = Outcome("UP", kind="improvement", direction="increase", steps=(Step(Decimal("0.5"), 100), Step(Decimal("0.75"), 250)))
    assert _price("15", baseline="10", outcome=up).amount == 100    # +5 = 0.5 × 10
    assert _price("17.5", baseline="10", outcome=up).amount == 250  # +7.5 = 0.75 × 10
    assert _price("14.99", baseline="10", outcome=up).passes is False
    assert _price("5", baseline="10", outcome=up).passes is False   # worse is never paid


def test_a_step_amount_of_zero_passes_and_pays_nothing():
    tracked = Outcome("Z", kind="improvement", direction="decrease", steps=(Step(Decimal("0.1"), 0), Step(Decimal("0.2"), 50)))
    got = _price("90", outcome=tracked)
    assert (got.passes, got.amount, got.step) == (True, 0, 1)


def _assess(outcomes, rows, **kw):
    c = contract(outcomes, **kw)
    frame = assess(c, None, None, results(rows), date(2022, 12, 31))
    return {r["claim_id"]: (r["status"], r["reason"], r["price"], r["payable"]) for r in frame.iter_rows(named=True)}


def test_caps_apply_to_the_step_amount():
    capped = Outcome("JAIL", kind="improvement", direction="decrease", steps=STEPS, amount_cap=500_000_000)
    got = _assess([capped], [("r1", "JAIL", "A", "2020-02-01", "100", "90"),   # 6,000,000.00 against a 5,000,000.00 cap
                             ("r2", "JAIL", "B", "2020-03-01", "100", "91")])  # 4,800,000.00, nothing left
    assert got["r1"] == ("partial", "OUTCOME_CAP", 600_000_000, 500_000_000)
    assert got["r2"] == ("capped", "OUTCOME_CAP", 480_000_000, 0)


def test_the_cohort_slot_goes_to_the_first_result_even_when_it_reaches_no_step():
    got = _assess([JAIL], [("r1", "JAIL", "A", "2020-02-01", "100", "95"),   # 5%: no step, but it took the slot
                           ("r2", "JAIL", "A", "2020-06-01", "100", "80"),   # a better result later: MAX_CLAIMS
                           ("r3", "JAIL", "B", "2020-06-01", "100", "80")])  # another cohort: its own slot
    assert got["r1"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["r2"][:2] == ("rejected", "MAX_CLAIMS")
    assert got["r3"] == ("paid", None, 1_171_200_000, 1_171_200_000)


# --- contract checks (SPEC 11.3, 11.7) ---------------------------------------------------------------

def _errors(**outcome):
    doc = contract_dict(outcomes=[{"id": "I", "kind": "improvement", "direction": "decrease", **outcome}])
    _, findings = check_contract_text(tomli_w.dumps(doc), Path("c.toml"))
    return sorted(f.code for f in findings if f.severity == "error")


GOOD = [{"at": "0.085", "amount": "4800000.00"}, {"at": "0.10", "amount": "6000000.00"}]


def test_valid_steps_are_read_exactly():
    doc = contract_dict(outcomes=[{"id": "I", "kind": "improvement", "direction": "decrease", "steps": GOOD}])
    c, findings = check_contract_text(tomli_w.dumps(doc), Path("c.toml"))
    assert findings == []
    assert c.outcome("I").steps == (Step(Decimal("0.085"), 480_000_000), Step(Decimal("0.10"), 600_000_000))


@pytest.mark.parametrize(("extra", "code"), [
    ({"price": 5}, "PRICE_CHOICE"),
    ({"prices": [{"from": date(2020, 1, 1), "price": 5}]}, "PRICE_CHOICE"),
    ({"min_improvement": 0.05}, "BAD_STEPS"),
    ({"deadweight": 0.1}, "BAD_STEPS"),
    ({"scale": {"zero_at": 0, "full_at": 5}}, "BAD_SCALE"),
])
def test_steps_cannot_be_combined(extra, code):
    assert _errors(steps=GOOD, **extra) == [code]


@pytest.mark.parametrize("steps", [
    [],
    [{"at": "0.10", "amount": 1}, {"at": "0.10", "amount": 2}],      # not strictly increasing
    [{"at": "0.20", "amount": 1}, {"at": "0.10", "amount": 2}],      # decreasing
    [{"at": "0.10", "amount": 5}, {"at": "0.20", "amount": 4}],      # a better result paid less
    [{"at": 0, "amount": 5}],                                        # at must be above 0
    [{"at": 1, "amount": 5}],                                        # and below 1
])
def test_bad_steps(steps):
    assert _errors(steps=steps) == ["BAD_STEPS"]


def test_steps_are_for_improvement_outcomes_only():
    doc = contract_dict(outcomes=[{"id": "P", "price": 5, "steps": GOOD}])
    _, findings = check_contract_text(tomli_w.dumps(doc), Path("c.toml"))
    assert [f.code for f in findings] == ["WRONG_KIND_KEY"]


def test_an_improvement_outcome_needs_one_of_price_prices_steps():
    assert _errors() == ["PRICE_CHOICE"]


# --- the real command on real files ------------------------------------------------------------------

def _files(tmp_path: Path, rows):
    c = make_contract(tmp_path, contract={"currency": "USD"}, payers=[{"id": "NYC", "share": 1}],
                      outcomes=[{"id": "P", "price": 1},
                                {"id": "JAIL", "kind": "improvement", "direction": "decrease", "steps": GOOD}])
    write_claims(tmp_path / "claims.csv", [])
    write_results(tmp_path / "results.csv", rows)
    return c


def _sob(*args):
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, timeout=60)


def test_pay_on_real_files_pays_the_step_reached(tmp_path):
    c = _files(tmp_path, [("r1", "JAIL", "A", "2020-02-01", "", "100", "91.5", "", ""),
                          ("r2", "JAIL", "B", "2020-02-01", "", "100", "95", "1.0", ""),
                          ("r3", "JAIL", "C", "2020-02-01", "", "100", "89", "", "")])
    out = tmp_path / "out.csv"
    run = _sob("pay", c, "--quarter", "2020-Q1", "--claims", tmp_path / "claims.csv",
               "--results", tmp_path / "results.csv", "--export", out)
    assert run.returncode == 0, run.stderr
    rows = {r["claim_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["r1"]["status"], rows["r1"]["entitled"]) == ("paid", "4800000.00")
    assert (rows["r2"]["status"], rows["r2"]["reason"], rows["r2"]["entitled"]) == ("rejected", "BELOW_THRESHOLD", "0.00")
    assert (rows["r3"]["status"], rows["r3"]["entitled"]) == ("paid", "6000000.00")


def _in_process(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_units_other_than_one_on_a_steps_outcome_is_bad_number(tmp_path):
    c = _files(tmp_path, [("r1", "JAIL", "A", "2020-02-01", "", "100", "91.5", "250", "")])
    run = _in_process("validate", c, "--claims", tmp_path / "claims.csv", "--results", tmp_path / "results.csv")
    assert run.exit_code == 1
    assert "BAD_NUMBER" in run.output and "units" in run.output


def test_units_are_compared_as_a_number(tmp_path):
    c = _files(tmp_path, [(f"r{i}", "JAIL", f"k{i}", "2020-02-01", "", "100", "91.5", units, "")
                          for i, units in enumerate(["1.0", "+01", "", "1", "0.5", "10", "1.01"])])
    run = _in_process("validate", c, "--claims", tmp_path / "claims.csv", "--results", tmp_path / "results.csv",
                      "--format", "json")
    flagged = {(f["line"], f["field"]) for f in json.loads(run.stdout)["findings"] if f["code"] == "BAD_NUMBER"}
    assert flagged == {(6, "units"), (7, "units"), (8, "units")}  # 0.5, 10 and 1.01; the header is line 1



def test_explain_shows_the_step_reached_on_the_nyc_able_sample():
    # NYC-02 in the sample's evidence: baseline 36000 jail days, observed 32760: 3240 fewer, 3240 / 36000 = 9%,
    # at least 8.5% (3060) but below 10% (3600): the first of the 8 steps, USD 4,800,000.00.
    sample = Path(__file__).resolve().parent.parent / "sample_contracts" / "nyc-able" / "contract.toml"
    result = CliRunner().invoke(app, ["explain", str(sample), "--quarter", "2015-Q3", "--claim", "NYC-02"],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    price = " ".join(next(line for line in result.output.splitlines() if line.strip().startswith("price")).split())
    assert price == ("price $4,800,000.00 (step 1 of 8 reached: improvement 3240 >= 0.085 × baseline 36000, "
                     "amount 4800000.00)")
