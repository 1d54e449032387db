"""SPEC 11.4 ``scale``: the key's contract checks, and the sliding scale on improvement outcomes.

The amounts are worked by hand from the SPEC text: price × units × f ×
(1 − deadweight), f = min(1, (improvement − zero_at) / (full_at − zero_at)),
rounded once, half away from zero, to the minor unit.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import tomli_w
from conftest import contract_dict, make_contract, write_claims, write_results
from engine_helpers import Outcome, contract, d
from typer.testing import CliRunner

from sob.cli import app
from sob.contract import check_contract_text
from sob.contract.model import Scale
from sob.pricing import price_result, scale_fraction


def check(**overrides):
    text = tomli_w.dumps(contract_dict(**overrides))
    return check_contract_text(text, Path("c.toml"))


def improvement(**keys):
    return {"id": "I", "kind": "improvement", "direction": "increase", "price": 100, **keys}


def codes(findings):
    return sorted(f.code for f in findings if f.severity == "error")


def test_a_scale_is_read_exactly_on_both_kinds():
    contract, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": "0.5", "full_at": "1.4"}},
                                         improvement(scale={"zero_at": 0, "full_at": "0.30"})])
    assert findings == []
    assert contract.outcome("P").scale == Scale(Decimal("0.5"), Decimal("1.4"))
    assert contract.outcome("I").scale == Scale(Decimal(0), Decimal("0.30"))


def test_a_decreasing_scale_is_fine_on_a_claim_outcome():
    contract, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 10, "full_at": 2}}])
    assert findings == [] and contract.outcome("P").scale == Scale(Decimal(10), Decimal(2))


def test_zero_at_equal_to_full_at_is_bad_scale():
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": "1.40", "full_at": "1.4"}}])
    assert codes(findings) == ["BAD_SCALE"]


def test_zero_at_above_full_at_on_an_improvement_is_bad_scale():
    _, findings = check(outcomes=[improvement(scale={"zero_at": 5, "full_at": 1})])
    assert codes(findings) == ["BAD_SCALE"]


def test_scale_with_steps_is_bad_scale():
    out = improvement(steps=[{"at": "0.1", "amount": 5}], scale={"zero_at": 0, "full_at": 1})
    del out["price"]
    _, findings = check(outcomes=[out])
    assert codes(findings) == ["BAD_SCALE"]


def test_a_scale_needs_both_ends_as_numbers():
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1}}])
    assert codes(findings) == ["MISSING_KEY"]
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1, "full_at": "lots"}}])
    assert codes(findings) == ["WRONG_TYPE"]
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1, "full_at": 2, "mid": 1}}])
    assert codes(findings) == ["UNKNOWN_KEY"]


# --- the scale on cohort results (SPEC 11.4), worked by hand --------------------------------------------
# Ways to Wellness-like: 100.00 (10000 minor units) per Wellbeing Star point of average gain,
# nothing up to a gain of 0.5, the full price from 1.4; baseline 10, direction increase.

WELLBEING = Outcome("W", kind="improvement", direction="increase", price=10000,
                    scale=Scale(Decimal("0.5"), Decimal("1.4")))


def _priced(observed, outcome=WELLBEING, units="1"):
    return price_result(outcome, contract([outcome]), d("2020-02-01"), "10", observed, units)


def test_at_zero_at_nothing_is_paid():
    got = _priced("10.5")  # a gain of exactly 0.5 does not pass zero_at
    assert (got.passes, got.amount, got.fraction) == (False, None, None)


def test_halfway_up_the_scale_pays_half():
    got = _priced("10.95")  # gain 0.95: f = 0.45 / 0.9 = 1/2; 10000 × 0.95 × 1/2 = 4750
    assert (got.passes, got.fraction, got.amount) == (True, Fraction(1, 2), 4750)


def test_at_full_at_and_beyond_the_full_price_is_paid():
    assert (_priced("11.4").fraction, _priced("11.4").amount) == (1, 14000)  # gain 1.4 × 10000
    assert (_priced("12").fraction, _priced("12").amount) == (1, 20000)      # f stays 1: 2 × 10000


def test_units_and_deadweight_multiply_the_scaled_price_exactly():
    out = Outcome("W", kind="improvement", direction="increase", price=10000, deadweight=Decimal("0.1"),
                  scale=Scale(Decimal("0.5"), Decimal("1.4")))
    # gain 0.8: f = 0.3 / 0.9 = 1/3; 10000 × 3 units × 0.8 × 1/3 × 0.9 = 7200 exactly
    assert _priced("10.8", out, units="3").amount == 7200


def test_the_product_is_rounded_once_half_away_from_zero():
    # gain 0.6: f = 1/9; 10000 × 0.6 / 9 = 666.67 → 667
    assert _priced("10.6").amount == 667
    cheap = Outcome("W", kind="improvement", direction="increase", price=1, scale=Scale(Decimal(0), Decimal(10)))
    # gain 5: f = 1/2; 1 × 3 × 5 × 1/2 = 7.5 → 8 (half away from zero, not to even)
    assert _priced("15", cheap, units="3").amount == 8


def test_min_improvement_still_applies_before_the_scale():
    strict = Outcome("W", kind="improvement", direction="increase", price=10000, min_improvement=Decimal("0.2"),
                     scale=Scale(Decimal("0.5"), Decimal("1.4")))
    assert _priced("11.9", strict).passes is False  # gain 1.9 < 0.2 × 10 although above zero_at
    assert _priced("12", strict).amount == 20000


def test_a_decreasing_result_gains_as_observed_falls():
    down = Outcome("D", kind="improvement", direction="decrease", price=10000, scale=Scale(Decimal(1), Decimal(3)))
    got = _priced("8", down)  # improvement 10 − 8 = 2: f = 1/2; 10000 × 2 × 1/2
    assert (got.fraction, got.amount) == (Fraction(1, 2), 10000)
    assert _priced("9", down).passes is False  # improvement 1 = zero_at


def test_scale_fraction_on_a_decreasing_scale():
    # claim values where lower is better: nothing at or above 10, full from 2
    assert scale_fraction(Decimal(10), Decimal(2), Fraction(10)) is None
    assert scale_fraction(Decimal(10), Decimal(2), Fraction(6)) == Fraction(1, 2)
    assert scale_fraction(Decimal(10), Decimal(2), Fraction(1)) == 1


def test_pay_on_real_files_scales_the_price(tmp_path):
    c = make_contract(tmp_path, outcomes=[
        {"id": "P", "price": 1},
        {"id": "W", "kind": "improvement", "direction": "increase", "price": "100.00",
         "scale": {"zero_at": "0.5", "full_at": "1.4"}}])
    write_claims(tmp_path / "claims.csv", [])
    write_results(tmp_path / "results.csv", [("r1", "W", "A", "2020-02-01", "", "10", "10.95", "", ""),
                                             ("r2", "W", "B", "2020-02-01", "", "10", "10.5", "", ""),
                                             ("r3", "W", "C", "2020-02-01", "", "10", "13", "2", "")])
    out = tmp_path / "out.csv"
    run = subprocess.run([sys.executable, "-m", "sob", "pay", str(c), "--quarter", "2020-Q1", "--claims",
                          str(tmp_path / "claims.csv"), "--results", str(tmp_path / "results.csv"), "--export", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    rows = {r["claim_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["r1"]["status"], rows["r1"]["entitled"]) == ("paid", "47.50")
    assert (rows["r2"]["reason"], rows["r2"]["entitled"]) == ("BELOW_THRESHOLD", "0.00")
    assert rows["r3"]["entitled"] == "600.00"  # gain 3, f = 1: 100 × 2 units × 3


def test_explain_shows_the_fraction_of_the_scale_on_a_result(tmp_path):
    # gain 10.95 - 10 = 0.95 = 19/20; f = (0.95 - 0.5) / (1.4 - 0.5) = 0.45 / 0.9 = 1/2; 100.00 × 1 × 0.95 × 1/2 = 47.50
    c = make_contract(tmp_path, outcomes=[
        {"id": "P", "price": 1},
        {"id": "W", "kind": "improvement", "direction": "increase", "price": "100.00",
         "scale": {"zero_at": "0.5", "full_at": "1.4"}}])
    write_claims(tmp_path / "claims.csv", [])
    write_results(tmp_path / "results.csv", [("r1", "W", "A", "2020-02-01", "", "10", "10.95", "", "")])
    result = CliRunner().invoke(app, ["explain", str(c), "--quarter", "2020-Q1", "--claim", "r1", "--claims",
                                      str(tmp_path / "claims.csv"), "--results", str(tmp_path / "results.csv")],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    price = " ".join(next(line for line in result.output.splitlines() if line.strip().startswith("price")).split())
    assert price == ("price £47.50 (price × units 1 × improvement × scale fraction 1/2 (improvement 19/20 between "
                     "zero_at 0.5 and full_at 1.4) × (1 − deadweight 0), rounded once)")
