"""SPEC 11.5 ``age_at_enrolment``: the register's ``date_of_birth``, the age rule in rule 2, and its checks.

The age is the number of birthdays passed on or before ``enrolled_on``; a 29 February
birthday falls on 1 March in other years; a birth on ``enrolled_on`` is age 0.  Every
age below is counted by hand from those words.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import tomli_w
from conftest import contract_dict, make_contract, write_rows

from sob.contract import check_contract_text
from sob.contract.model import AgeBand
from sob.findings import InputError
from sob.rules import age_at_enrolment
from sob.workflows import EvidencePaths, PayRequest, compute_pay

YOUNG = {"id": "YOUNG", "price": 100, "age_at_enrolment": {"min": 14, "max": 15}}
OLDER = {"id": "OLDER", "price": 200, "age_at_enrolment": {"min": 16}}
ANY = {"id": "ANY", "price": 50}
REGISTER = ("participant_id", "enrolled_on", "date_of_birth")
LATER = {"outcomes_end": date(2025, 12, 31)}


def age(born: str, enrolled: str) -> int | None:
    frame = pl.DataFrame({"_dob": [date.fromisoformat(born)], "enrolled_on": [date.fromisoformat(enrolled)]})
    return frame.select(age_at_enrolment())[0, 0]


@pytest.mark.parametrize(("born", "enrolled", "years"), [
    ("2008-02-29", "2023-02-28", 14),  # no 29 February in 2023: the birthday is 1 March, not yet passed
    ("2008-02-29", "2023-03-01", 15),  # passed on 1 March
    ("2008-02-29", "2024-02-28", 15),  # a leap year: the birthday is 29 February, not yet passed
    ("2008-02-29", "2024-02-29", 16),  # passed on the day
    ("2008-02-29", "2024-03-01", 16),
    ("2008-02-29", "2008-02-29", 0),  # born on enrolled_on: age 0
    ("2008-02-29", "2009-02-28", 0),
    ("2008-02-29", "2009-03-01", 1),
    ("2010-06-15", "2010-06-15", 0),
    ("2010-06-15", "2024-06-14", 13),  # the day before the 14th birthday
    ("2010-06-15", "2024-06-15", 14),  # on it
    ("2009-12-31", "2024-01-01", 14),
    ("2009-01-01", "2023-12-31", 14),
])
def test_the_age_is_the_birthdays_passed_on_or_before_enrolment(born, enrolled, years):
    assert age(born, enrolled) == years


def pay(tmp_path: Path, register_rows, claims_rows, outcomes=(YOUNG, OLDER, ANY), reject_invalid=False,
        register_columns=REGISTER):
    path = make_contract(tmp_path, outcomes=list(outcomes), contract=LATER)
    claims = write_rows(tmp_path / "claims.csv", ("claim_id", "participant_id", "outcome_id", "achieved_on"), claims_rows)
    register = write_rows(tmp_path / "participants.csv", register_columns, register_rows)
    run = compute_pay(PayRequest(path, "2024-Q2", EvidencePaths(claims=claims, participants=register),
                                 reject_invalid=reject_invalid)).run
    return {r["claim_id"]: (r["status"], r["reason"], r["entitled"]) for r in run.table.iter_rows(named=True)}


def test_age_bands_are_inclusive_and_decide_rule_2(tmp_path):
    register = [("A13", "2024-01-10", "2010-01-11"),  # 13: the 14th birthday is the day after enrolment
                ("A14", "2024-01-10", "2010-01-10"),  # 14 on the day
                ("A15", "2024-01-10", "2008-01-11"),  # 15, a day short of 16
                ("A16", "2024-01-10", "2008-01-10")]  # 16 on the day
    claims = [(f"y{p}", p, "YOUNG", "2024-04-01") for p in ("A13", "A14", "A15", "A16")]
    claims += [(f"o{p}", p, "OLDER", "2024-04-01") for p in ("A13", "A14", "A15", "A16")]
    got = pay(tmp_path, register, claims)
    assert {k: v[:2] for k, v in got.items()} == {
        "yA13": ("rejected", "INELIGIBLE"), "yA14": ("paid", None), "yA15": ("paid", None),
        "yA16": ("rejected", "INELIGIBLE"),
        "oA13": ("rejected", "INELIGIBLE"), "oA14": ("rejected", "INELIGIBLE"), "oA15": ("rejected", "INELIGIBLE"),
        "oA16": ("paid", None)}


def test_the_29_february_birthday_in_the_band(tmp_path):
    register = [("L", "2024-02-28", "2008-02-29"),  # 15 in a leap year, a day before the birthday
                ("M", "2024-02-29", "2008-02-29"),  # 16 on it
                ("N", "2023-02-28", "2009-02-28"),  # 14 exactly
                ("P", "2023-02-28", "2007-02-28")]  # 16 exactly
    got = pay(tmp_path, register, [(f"c{p}", p, "YOUNG", "2024-04-01") for p in "LMNP"])
    assert {k: v[1] for k, v in got.items()} == {"cL": None, "cM": "INELIGIBLE", "cN": None, "cP": "INELIGIBLE"}


def test_no_date_of_birth_is_ineligible_only_for_an_outcome_with_an_age_band(tmp_path):
    got = pay(tmp_path, [("A", "2024-01-10", "")],
              [("c1", "A", "YOUNG", "2024-04-01"), ("c2", "A", "ANY", "2024-04-01")])
    assert got["c1"][:2] == ("rejected", "INELIGIBLE")
    assert got["c2"] == ("paid", None, 5000)


def test_a_register_without_the_column_makes_every_age_unknown(tmp_path):
    got = pay(tmp_path, [("A", "2024-01-10")], [("c1", "A", "YOUNG", "2024-04-01"), ("c2", "A", "ANY", "2024-04-01")],
              register_columns=REGISTER[:2])
    assert got["c1"][1] == "INELIGIBLE" and got["c2"][0] == "paid"


def test_eligible_false_and_the_age_both_give_ineligible(tmp_path):
    got = pay(tmp_path, [("A", "2024-01-10", "2010-01-10", "no")], [("c1", "A", "YOUNG", "2024-04-01")],
              register_columns=(*REGISTER, "eligible"))
    assert got["c1"][1] == "INELIGIBLE"


def test_a_date_of_birth_after_enrolment_is_bad_date_and_rejects_every_claim_of_the_participant(tmp_path):
    register = [("A", "2024-01-10", "2024-01-11"), ("B", "2024-01-10", "2010-01-10")]
    claims = [("c1", "A", "YOUNG", "2024-04-01"), ("c2", "A", "ANY", "2024-04-01"), ("c3", "B", "ANY", "2024-04-01")]
    with pytest.raises(InputError) as err:
        pay(tmp_path, register, claims)
    assert [(f.code, f.line, f.field) for f in err.value.findings] == [("BAD_DATE", 2, "date_of_birth")]
    assert "after enrolled_on" in err.value.findings[0].message
    got = pay(tmp_path, register, claims, reject_invalid=True)
    assert got == {"c1": ("rejected", "BAD_DATE", 0), "c2": ("rejected", "BAD_DATE", 0), "c3": ("paid", None, 5000)}


def test_a_date_of_birth_on_enrolment_is_fine(tmp_path):
    got = pay(tmp_path, [("A", "2024-01-10", "2024-01-10")], [("c1", "A", "ANY", "2024-04-01")],
              outcomes=(ANY, {"id": "BABY", "price": 1, "age_at_enrolment": {"max": 0}}))
    assert got["c1"][0] == "paid"


def test_an_unreadable_date_of_birth_is_bad_date(tmp_path):
    with pytest.raises(InputError) as err:
        pay(tmp_path, [("A", "2024-01-10", "10/01/2010")], [("c1", "A", "ANY", "2024-04-01")])
    assert [f.code for f in err.value.findings] == ["BAD_DATE"]


def test_without_an_age_band_date_of_birth_is_an_ordinary_column(tmp_path):
    """A version-1 register with a date_of_birth column, even a broken one, reads as before."""
    got = pay(tmp_path, [("A", "2024-01-10", "not a date"), ("B", "2024-01-10", "2030-01-01")],
              [("c1", "A", "ANY", "2024-04-01"), ("c2", "B", "ANY", "2024-04-01")], outcomes=(ANY,))
    assert got == {"c1": ("paid", None, 5000), "c2": ("paid", None, 5000)}


def test_an_age_band_needs_a_register(tmp_path):
    path = make_contract(tmp_path, outcomes=[YOUNG])
    claims = write_rows(tmp_path / "claims.csv", ("claim_id", "participant_id", "outcome_id", "achieved_on"),
                        [("c1", "A", "YOUNG", "2020-02-01")])
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(path), "--quarter", "2020-Q1", "--claims", str(claims)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "MISSING_REGISTER" in proc.stdout + proc.stderr and "age_at_enrolment" in proc.stdout + proc.stderr


def test_the_cli_pays_by_age_band_with_a_mapped_column(tmp_path):
    path = make_contract(tmp_path, outcomes=[YOUNG, OLDER], contract=LATER, evidence={"columns": {"date_of_birth": "DOB"},
                                                                       "date_format": "%d/%m/%Y"})
    claims = write_rows(tmp_path / "claims.csv", ("claim_id", "participant_id", "outcome_id", "achieved_on"),
                        [("c1", "A", "YOUNG", "01/04/2024"), ("c2", "A", "OLDER", "01/04/2024"),
                         ("c3", "B", "OLDER", "01/04/2024")])
    register = write_rows(tmp_path / "participants.csv", ("participant_id", "enrolled_on", "DOB"),
                          [("A", "28/02/2023", "29/02/2008"), ("B", "01/03/2023", "29/02/2008")])
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(path), "--quarter", "2024-Q2", "--claims", str(claims),
                           "--participants", str(register), "--export", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["claim_id"]: (r["status"], r["reason"], r["entitled"]) for r in csv.DictReader(out.open(encoding="utf-8"))}
    # A: 14 at enrolment (birthday 1 March 2023 not passed); B: 15 (passed on 1 March) -> neither is 16
    assert rows == {"c1": ("paid", "", "100.00"), "c2": ("rejected", "INELIGIBLE", "0.00"),
                    "c3": ("rejected", "INELIGIBLE", "0.00")}


# --- the contract key --------------------------------------------------------------------------


def check(outcome):
    return check_contract_text(tomli_w.dumps(contract_dict(outcomes=[outcome])), Path("c.toml"))


def codes(findings):
    return sorted(f.code for f in findings if f.severity == "error")


def test_the_band_is_read_with_either_bound_open():
    assert check(YOUNG)[0].outcome("YOUNG").age_at_enrolment == AgeBand(14, 15)
    assert check(OLDER)[0].outcome("OLDER").age_at_enrolment == AgeBand(16, None)
    assert check({**ANY, "age_at_enrolment": {"max": 0}})[0].outcome("ANY").age_at_enrolment == AgeBand(None, 0)
    assert check({**ANY, "age_at_enrolment": {"min": 15, "max": 15}})[1] == []


def test_min_above_max_and_negative_bounds_are_errors():
    assert codes(check({**ANY, "age_at_enrolment": {"min": 16, "max": 15}})[1]) == ["BAD_RANGE"]
    assert codes(check({**ANY, "age_at_enrolment": {"min": -1}})[1]) == ["BAD_RANGE"]
    assert codes(check({**ANY, "age_at_enrolment": {"max": 14.5}})[1]) == ["WRONG_TYPE"]
    assert codes(check({**ANY, "age_at_enrolment": {"minimum": 14}})[1]) == ["UNKNOWN_KEY"]
    assert codes(check({**ANY, "age_at_enrolment": 14})[1]) == ["WRONG_TYPE"]


def test_an_age_band_is_for_claim_outcomes_only():
    outcome = {"id": "I", "kind": "improvement", "direction": "decrease", "price": 1, "age_at_enrolment": {"min": 1}}
    assert codes(check(outcome)[1]) == ["WRONG_KIND_KEY"]


def test_explain_shows_the_age_in_rule_2(tmp_path):
    from sob.explain import explain_claim

    path = make_contract(tmp_path, outcomes=[YOUNG], contract=LATER)
    claims = write_rows(tmp_path / "claims.csv", ("claim_id", "participant_id", "outcome_id", "achieved_on"),
                        [("c1", "A", "YOUNG", "2024-04-01"), ("c2", "B", "YOUNG", "2024-04-01")])
    register = write_rows(tmp_path / "participants.csv", REGISTER, [("A", "2024-02-28", "2008-02-29"),
                                                                    ("B", "2024-02-29", "2008-02-29")])
    run = compute_pay(PayRequest(path, "2024-Q2", EvidencePaths(claims=claims, participants=register))).run
    young = {s.code: s for s in explain_claim(run, "c1").steps}["INELIGIBLE"]
    assert young.verdict == "pass" and "age 15 at enrolment" in young.detail
    old = {s.code: s for s in explain_claim(run, "c2").steps}["INELIGIBLE"]
    assert old.verdict == "fail" and old.decides and "age 16 at enrolment" in old.detail


def test_sob_schema_covers_the_band_and_the_register_column():
    proc = subprocess.run([sys.executable, "-m", "sob", "schema"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)["$defs"]
    assert schema["outcome"]["properties"]["age_at_enrolment"] == {"$ref": "#/$defs/age_band"}
    assert set(schema["age_band"]["properties"]) == {"min", "max"} and not schema["age_band"]["additionalProperties"]
    assert schema["age"]["minimum"] == 0
    assert "date_of_birth" in schema["example"]["properties"]["participants"]["items"]["properties"]
    assert {"date_of_birth", "value"} <= set(schema["columns"]["properties"])
