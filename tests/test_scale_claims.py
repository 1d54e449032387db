"""SPEC 11.4 ``scale`` on claim outcomes: the claims' ``value`` column, ``BELOW_THRESHOLD`` after rule 7,
and the scaled price.

Every amount is worked by hand from the SPEC text: price × min(1, (value − zero_at) /
(full_at − zero_at)), exact, rounded once, half away from zero, to the minor unit.  The
scale of most tests is Ways to Wellness's: nothing at or below 0.5 Wellbeing Star points,
the full price from 1.4 (a width of 0.9).
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

import polars as pl
import pytest
from conftest import make_contract, write_rows

from sob.contract.model import Contract, Outcome, Payer, Scale
from sob.findings import InputError
from sob.pricing import ClaimScales, ScaleTerms, claim_scales, scaled_decimal
from sob.workflows import EvidencePaths, PayRequest, compute_pay

STAR = {"id": "STAR", "price": 100, "scale": {"zero_at": "0.5", "full_at": "1.4"}, "max_claims": 9}
COLUMNS = ("claim_id", "participant_id", "outcome_id", "achieved_on", "value")


def pay(tmp_path: Path, rows, outcomes=(STAR,), columns=COLUMNS, reject_invalid=False, **contract):
    """Run ``sob pay`` for 2020-Q1 on these claims; claim id -> (status, reason, price, entitled) in minor units."""
    path = make_contract(tmp_path, outcomes=list(outcomes), **contract)
    claims = write_rows(tmp_path / "claims.csv", columns, rows)
    run = compute_pay(PayRequest(path, "2020-Q1", EvidencePaths(claims=claims), reject_invalid=reject_invalid)).run
    return {r["claim_id"]: (r["status"], r["reason"], r["price"], r["entitled"])
            for r in run.table.iter_rows(named=True)}


def one(tmp_path: Path, value: str, outcome=STAR) -> tuple:
    return pay(tmp_path, [("c1", "A", outcome["id"], "2020-02-01", value)], outcomes=(outcome,))["c1"]


# --- the threshold and the fraction, at the boundaries -------------------------------------------


def test_exactly_at_zero_at_is_below_threshold(tmp_path):
    assert one(tmp_path, "0.5") == ("rejected", "BELOW_THRESHOLD", None, 0)
    assert one(tmp_path, "0.50000") == ("rejected", "BELOW_THRESHOLD", None, 0)


def test_below_zero_at_is_below_threshold(tmp_path):
    assert one(tmp_path, "-3") == ("rejected", "BELOW_THRESHOLD", None, 0)


def test_just_past_zero_at_pays_its_exact_share(tmp_path):
    # 10000 × 0.001 / 0.9 = 11.11… minor units -> 11 (0.11)
    assert one(tmp_path, "0.501") == ("paid", None, 11, 11)


def test_exactly_at_full_at_pays_the_whole_price(tmp_path):
    assert one(tmp_path, "1.4") == ("paid", None, 10000, 10000)


def test_past_full_at_pays_the_whole_price_never_more(tmp_path):
    assert one(tmp_path, "7.25") == ("paid", None, 10000, 10000)


def test_midway_pays_half(tmp_path):
    # (0.95 − 0.5) / 0.9 = 1/2 of 10000
    assert one(tmp_path, "0.95") == ("paid", None, 5000, 5000)


def test_a_half_minor_unit_rounds_away_from_zero(tmp_path):
    # price 0.01 (1 minor unit) × 1/2 = 0.5 minor units -> 1
    outcome = {**STAR, "price": "0.01"}
    assert one(tmp_path, "0.95", outcome) == ("paid", None, 1, 1)
    # price 0.03 × 1/2 = 1.5 -> 2; × 1/3 (value 0.8) = 1 exactly
    outcome = {**STAR, "price": "0.03"}
    assert one(tmp_path, "0.95", outcome)[2] == 2
    assert one(tmp_path, "0.8", outcome)[2] == 1


def test_just_below_a_half_rounds_down_exactly(tmp_path):
    """0.01 × (0.949999999999999999 − 0.5) / 0.9 = 0.4999…99888 of a minor unit: 0, where 0.95 gives 1.

    Binary floating point would see 0.5 here; only exact arithmetic keeps the two apart.
    """
    outcome = {**STAR, "price": "0.01"}
    assert one(tmp_path, "0.949999999999999999", outcome) == ("paid", None, 0, 0)
    # 1.00 × (0.94549991 − 0.5) / 0.9 = 49.49999 minor units -> 49
    assert one(tmp_path, "0.94549991", {**STAR, "price": 1})[2] == 49


def test_a_decreasing_scale_pays_for_lower_values(tmp_path):
    down = {"id": "DOWN", "price": 100, "scale": {"zero_at": 10, "full_at": 4}}
    assert one(tmp_path, "10", down) == ("rejected", "BELOW_THRESHOLD", None, 0)  # at zero_at
    assert one(tmp_path, "11", down)[1] == "BELOW_THRESHOLD"
    assert one(tmp_path, "7", down)[2:] == (5000, 5000)  # (7 − 10) / (4 − 10) = 1/2
    assert one(tmp_path, "4", down)[2:] == (10000, 10000)  # at full_at
    assert one(tmp_path, "0", down)[2:] == (10000, 10000)  # past it


def test_the_price_of_5_4_is_scaled_dated_price(tmp_path):
    dated = {"id": "STAR", "prices": [{"from": date(2020, 1, 1), "price": 100}, {"from": date(2020, 2, 15), "price": 200}],
             "scale": {"zero_at": "0.5", "full_at": "1.4"}, "max_claims": 9}
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "0.95"), ("c2", "A", "STAR", "2020-03-01", "0.95")],
              outcomes=(dated,))
    assert got["c1"][2] == 5000 and got["c2"][2] == 10000


def test_a_below_threshold_claim_takes_no_tier_rank(tmp_path):
    """Tiers: the first accepted claim is rank 1 (500.00), the next rank 2 (300.00); the BELOW_THRESHOLD claim
    in between takes no rank."""
    tiered = {"id": "STAR", "tiers": [{"up_to": 1, "price": 500}, {"price": 300}],
              "scale": {"zero_at": "0.5", "full_at": "1.4"}, "max_claims": 9}
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "1.4"), ("c2", "B", "STAR", "2020-02-02", "0.1"),
                         ("c3", "C", "STAR", "2020-02-03", "0.95")], outcomes=(tiered,))
    assert got["c1"][2] == 50000
    assert got["c2"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["c3"][2] == 15000  # rank 2: 300.00 × 1/2


def test_a_below_threshold_claim_takes_no_max_claims_slot_and_qualifies_nothing(tmp_path):
    once = {**STAR, "max_claims": 1}
    after = {"id": "NEXT", "price": 10, "requires": ["STAR"]}
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "0.2"), ("c2", "A", "STAR", "2020-02-02", "1.4"),
                         ("c3", "B", "STAR", "2020-02-01", "0.1"), ("c4", "B", "NEXT", "2020-02-05", "")],
              outcomes=(once, after))
    assert got["c1"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["c2"] == ("paid", None, 10000, 10000)  # the first slot is still free
    assert got["c4"][:2] == ("rejected", "PREREQUISITE_MISSING")  # c3 is not a qualified STAR claim


def test_withdrawn_and_late_come_before_the_threshold(tmp_path):
    cols = (*COLUMNS, "status")
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "0.1", "withdrawn")], columns=cols)
    assert got["c1"][:2] == ("rejected", "WITHDRAWN")


def test_a_cap_applies_to_the_scaled_price(tmp_path):
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "0.95"), ("c2", "B", "STAR", "2020-02-02", "0.95")],
              caps={"total": 80})
    assert got["c1"] == ("paid", None, 5000, 5000)
    assert got["c2"] == ("partial", "CONTRACT_CAP", 5000, 3000)


# --- the value column: read, checked, carried ----------------------------------------------------


def test_a_missing_value_on_a_scaled_claim_is_a_data_error(tmp_path):
    rows = [("c1", "A", "STAR", "2020-02-01", ""), ("c2", "A", "P", "2020-02-01", "")]
    with pytest.raises(InputError) as err:
        pay(tmp_path, rows, outcomes=(STAR, {"id": "P", "price": 1}))
    assert [(f.code, f.line, f.field) for f in err.value.findings] == [("MISSING_VALUE", 2, "value")]
    got = pay(tmp_path, rows, outcomes=(STAR, {"id": "P", "price": 1}), reject_invalid=True)
    assert got["c1"][:2] == ("rejected", "MISSING_VALUE") and got["c2"][0] == "paid"


def test_a_file_without_the_column_has_every_scaled_claim_missing_its_value(tmp_path):
    with pytest.raises(InputError) as err:
        pay(tmp_path, [("c1", "A", "STAR", "2020-02-01")], columns=COLUMNS[:4])
    assert [f.code for f in err.value.findings] == ["MISSING_VALUE"]


def test_a_bad_value_is_bad_number_on_every_claim_when_some_outcome_has_a_scale(tmp_path):
    rows = [("c1", "A", "P", "2020-02-01", "1e3"), ("c2", "A", "STAR", "2020-02-01", "1,5"),
            ("c3", "B", "P", "2020-02-01", "1" * 19)]  # 19 digits before the point: out of range
    with pytest.raises(InputError) as err:
        pay(tmp_path, rows, outcomes=(STAR, {"id": "P", "price": 1}))
    assert [(f.code, f.line) for f in err.value.findings] == [("BAD_NUMBER", 2), ("BAD_NUMBER", 3), ("BAD_NUMBER", 4)]


def test_under_reject_invalid_a_missing_value_comes_after_the_required_columns_and_a_bad_one_last(tmp_path):
    cols = (*COLUMNS, "amount_claimed")
    rows = [("c1", "A", "STAR", "", "", ""),  # achieved_on and value missing: the required column first
            ("c2", "A", "STAR", "2020-02-01", "x", "1.234")]  # amount_claimed's BAD_NUMBER before value's
    got = pay(tmp_path, rows, columns=cols, reject_invalid=True)
    assert got["c1"][1] == "MISSING_VALUE"
    assert got["c2"][1] == "BAD_NUMBER"
    rows = [("c3", "A", "STAR", "2020-02-01", "", "")]
    assert pay(tmp_path, rows, columns=cols, reject_invalid=True)["c3"][1] == "MISSING_VALUE"


def test_evidence_columns_maps_value(tmp_path):
    got = pay(tmp_path, [("c1", "A", "STAR", "2020-02-01", "0.95")],
              columns=("claim_id", "participant_id", "outcome_id", "achieved_on", "Star change"),
              evidence={"columns": {"value": "Star change"}})
    assert got["c1"][2] == 5000


def test_without_a_scale_a_value_column_is_carried_and_never_read(tmp_path):
    """A version-1 claims file with a column named value: unchanged, whatever the cells hold."""
    path = make_contract(tmp_path)
    claims = write_rows(tmp_path / "claims.csv", (*COLUMNS, "note"),
                        [("c1", "A", "P", "2020-02-01", "not a number", "=x"), ("c2", "B", "P", "2020-02-02", "", "")])
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(path), "--quarter", "2020-Q1", "--claims", str(claims),
                           "--export", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0])[-2:] == ["value", "note"]  # carried, in its place
    assert [(r["claim_id"], r["status"], r["entitled"], r["value"]) for r in rows] == [
        ("c1", "paid", "400.00", "not a number"), ("c2", "paid", "400.00", "")]


def test_the_cli_pays_a_scaled_quarter_and_exports_the_value_in_its_place(tmp_path):
    path = make_contract(tmp_path, outcomes=[STAR])
    claims = write_rows(tmp_path / "claims.csv", ("claim_id", "value", "participant_id", "outcome_id", "achieved_on"),
                        [("c1", "0.95", "A", "STAR", "2020-02-01"), ("c2", "0.4", "B", "STAR", "2020-02-01"),
                         ("c3", "2", "C", "STAR", "2020-02-01")])
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(path), "--quarter", "2020-Q1", "--claims", str(claims),
                           "--export", str(out), "--format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["totals"]["entitled"] == "150.00" and summary["rejections"] == {"BELOW_THRESHOLD": 1}
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0])[-1] == "value"
    assert [(r["claim_id"], r["price"], r["value"]) for r in rows] == [("c1", "50.00", "0.95"), ("c2", "", "0.4"),
                                                                       ("c3", "100.00", "2")]


def test_a_worked_example_with_values_runs_under_sob_test(tmp_path):
    example = {"name": "half a scale", "quarter": "2020-Q1",
               "claims": [{"claim_id": "1", "participant_id": "A", "outcome_id": "STAR",
                           "achieved_on": date(2020, 2, 1), "value": Decimal("0.95")}],
               "expect": {"entitled": "50.00", "claims": {"1": {"status": "paid", "entitled": "50.00"}}}}
    path = make_contract(tmp_path, outcomes=[STAR], examples=[example])
    proc = subprocess.run([sys.executable, "-m", "sob", "test", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the exact arithmetic itself ------------------------------------------------------------------


def test_values_are_read_exactly_at_the_common_scale():
    frame = pl.DataFrame({"v": ["1.25", "-0.5", "+.5", "3.", "0007.100", None, "x"]})
    got = frame.select(scaled_decimal("v", 3))["v"].to_list()
    assert got == [1250, -500, 500, 3000, 7100, None, None]
    # finer than the scale: not read (the caller picks digits to cover every value)
    assert pl.DataFrame({"v": ["0.0001"]}).select(scaled_decimal("v", 3))["v"].to_list() == [None]


def test_the_common_scale_covers_the_values_and_the_ends():
    c = make_outcomes([Outcome("S", price=100, scale=Scale(Decimal("0.5"), Decimal("1.4")))])
    frame = pl.DataFrame({"_o": [0, 0], "value": ["1.23456", "2"]}, schema={"_o": pl.UInt32, "value": pl.String})
    scales = claim_scales(c, frame)
    assert isinstance(scales, ClaimScales) and scales.digits == 5
    assert scales.terms == (ScaleTerms(0, Fraction(1, 2), Fraction(7, 5), 50000, 140000, True),)


def test_an_absurd_rate_card_is_priced_exactly_by_hand(tmp_path):
    """Ends of 30 digits would overflow 128-bit integers: those claims are priced with fractions."""
    huge = {"id": "STAR", "price": 100, "scale": {"zero_at": "0", "full_at": "1" + "0" * 35}}
    contract = make_outcomes([Outcome("STAR", price=10000, scale=Scale(Decimal(0), Decimal("1" + "0" * 35)))])
    assert claim_scales(contract, pl.DataFrame()).by_hand()  # type: ignore[union-attr]
    assert one(tmp_path, "5" + "0" * 17, huge) == ("paid", None, 0, 0)  # 10000 × 5e17 / 1e35 -> 0
    # 10000 × (999999999999999999.5 / 1e35) = 9.99…e-14 -> 0; exactly half a unit needs 5e30: out of range
    assert one(tmp_path, "0", huge)[1] == "BELOW_THRESHOLD"
    tiny = {"id": "STAR", "price": "92233720368547758.07", "scale": {"zero_at": "0", "full_at": "3"}}
    # 9223372036854775807 × 1/3 = 3074457345618258602.33… -> 3074457345618258602
    assert one(tmp_path, "1", tiny)[2] == 3074457345618258602


def make_outcomes(outcomes):
    return Contract(id="t", name="", currency="GBP", minor_units=2, start=date(2020, 1, 1),
                    outcomes_end=date(2022, 12, 31), claims_end=date(2022, 12, 31), referrals_end=None,
                    fiscal_year_start_month=1, payers=(Payer("LA", "", Decimal(1)),), outcomes=tuple(outcomes))


def test_explain_shows_the_scale_rule_between_rules_7_and_8_and_the_fraction(tmp_path):
    from sob.explain import explain_claim

    path = make_contract(tmp_path, outcomes=[STAR])
    claims = write_rows(tmp_path / "claims.csv", COLUMNS, [("c1", "A", "STAR", "2020-02-01", "0.95"),
                                                          ("c2", "B", "STAR", "2020-02-01", "0.5")])
    run = compute_pay(PayRequest(path, "2020-Q1", EvidencePaths(claims=claims))).run
    story = explain_claim(run, "c1")
    codes = [s.code for s in story.steps]
    assert codes.index("LATE_CLAIM") + 1 == codes.index("BELOW_THRESHOLD") == codes.index("PREREQUISITE_MISSING") - 1
    step = story.steps[codes.index("BELOW_THRESHOLD")]
    assert step.verdict == "pass" and "1/2 of the price" in step.detail
    assert "scaled by value 0.95" in (story.price_source or "")
    below = explain_claim(run, "c2").steps[codes.index("BELOW_THRESHOLD")]
    assert below.verdict == "fail" and below.decides
