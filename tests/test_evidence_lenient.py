"""Cells as providers write them (issue 16): lenient money (``[evidence] money = "lenient"``),
amount_claimed as a warning that never rejects a claim, value maps (``[evidence.values]``) and
dates exported as datetimes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sob.contract import load_contract
from sob.evidence import read_evidence
from sob.evidence.money_cells import lenient_expr, lenient_text
from sob.findings import InputError
from sob.opening import read_opening
from tests.conftest import make_contract

AMOUNT_HEADER = "claim_id,participant_id,outcome_id,achieved_on,amount_claimed\n"


def sob(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def claims(tmp_path: Path, cells: list[str], **evidence: object):
    text = AMOUNT_HEADER + "".join(f'c{i},A,P,2020-02-01,"{v}"\n' for i, v in enumerate(cells))
    path = tmp_path / "claims.csv"
    path.write_text(text, encoding="utf-8")
    contract, found = load_contract(make_contract(tmp_path, evidence=dict(evidence)))
    assert contract is not None, found
    return read_evidence(contract, path, None, None)


# --- money ------------------------------------------------------------------------------------

LENIENT = {  # cell -> minor units, worked out by hand
    "£1,200.00": 120000, "(1,200.00)": -120000, "(£1,200.50)": -120050, "-£5": -500, "£-5": -500,
    "1,234,567.89": 123456789, "1200 GBP": 120000, "GBP 12.5": 1250, "£ 7": 700, "1,200": 120000, "3": 300,
}
STILL_BAD = ["$5", "1,20", "12,34,567", "(-5)", "£", "€3", "1.200,00", "1,200.001", "five"]


def test_lenient_money_reads_symbols_separators_and_accounting_negatives(tmp_path):
    ev = claims(tmp_path, list(LENIENT) + STILL_BAD, money="lenient")
    assert ev.claims["amount_claimed"].to_list() == list(LENIENT.values()) + [None] * len(STILL_BAD)
    assert [(f.code, f.value) for f in ev.findings] == [("BAD_AMOUNT_CLAIMED", v) for v in STILL_BAD]


def test_plain_money_is_the_default_and_a_bad_amount_is_only_a_warning(tmp_path):
    ev = claims(tmp_path, ["£1,200.00", "1200.00"])
    assert ev.claims["amount_claimed"].to_list() == [None, 120000]
    assert [(f.code, f.severity, f.line) for f in ev.findings] == [("BAD_AMOUNT_CLAIMED", "warning", 2)]
    assert ev.claims["error"].to_list() == [None, None]


@given(st.text(alphabet="£$GBP(),.-+ 0123456789x", max_size=14))
def test_the_two_lenient_readers_agree(text):
    """The polars expression (evidence) and the string function (opening balance) are one rule."""
    got = pl.DataFrame({"a": [text]}).select(lenient_expr(pl.col("a"), "GBP")).item()
    assert got == lenient_text(text, "GBP")


def test_reject_invalid_never_rejects_a_claim_for_its_amount(tmp_path):
    (tmp_path / "claims.csv").write_text(
        AMOUNT_HEADER + "c1,A,P,2020-02-01,£400.00\nc2,B,P,2020-02-02,450.00\n", encoding="utf-8")
    make_contract(tmp_path, evidence={"claims": "claims.csv"})
    for extra in ([], ["--reject-invalid"]):
        done = sob("pay", "contract.toml", "--quarter", "2020-Q1", "--format", "json", "--export", "x.csv", *extra,
                   cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["totals"]["rejected"] == 0 and out["totals"]["entitled"] == "800.00"
        assert "BAD_AMOUNT_CLAIMED" in done.stderr and "claims.csv:2" in done.stderr
        table = pl.read_csv(tmp_path / "x.csv", infer_schema=False)
        # the variance is empty where the amount could not be read; 450 - 400 = 50 where it could
        assert table.select("claim_id", "claimed_variance").rows() == [("c1", None), ("c2", "50.00")]


def test_opening_paid_reads_lenient_money(tmp_path):
    contract, _ = load_contract(make_contract(tmp_path, evidence={"money": "lenient"}))
    path = tmp_path / "opening.csv"
    path.write_text('claim_id,paid\nc1,"£1,200.00"\nc2,(£5.00)\n', encoding="utf-8")
    outcome_of = pl.DataFrame({"claim_id": ["c1", "c2"], "outcome_id": ["P", "P"]})
    frame, _ = read_opening(path, contract, outcome_of)
    assert frame.select("claim_id", "paid").rows() == [("c1", 120000), ("c2", -500)]
    plain, _ = load_contract(make_contract(tmp_path))
    with pytest.raises(InputError) as err:
        read_opening(path, plain, outcome_of)
    assert [f.code for f in err.value.findings] == ["BAD_NUMBER", "BAD_NUMBER"]


def test_money_must_be_plain_or_lenient(tmp_path):
    _, found = load_contract(make_contract(tmp_path, evidence={"money": "loose"}))
    assert [(f.code, f.field) for f in found] == [("UNKNOWN_VALUE", "evidence.money")]


# --- value maps -------------------------------------------------------------------------------

VALUES = {"status": {"Approved": "claimed", "Rejected": "failed", "Pending": "withdrawn"},
          "eligible": {"Y": True, "N": False}}


def test_value_maps_read_provider_words(tmp_path):
    (tmp_path / "claims.csv").write_text(
        "claim_id,participant_id,outcome_id,achieved_on,status\n"
        "c1,A,P,2020-02-01,Approved\nc2,B,P,2020-02-01,REJECTED\nc3,A,P,2020-02-02,claimed\n"
        "c4,A,P,2020-02-03,Aproved\n", encoding="utf-8")
    (tmp_path / "participants.csv").write_text(
        "participant_id,enrolled_on,eligible\nA,2020-01-01,Y\nB,2020-01-01,n\nC,2020-01-01,maybe\n", encoding="utf-8")
    make_contract(tmp_path, evidence={"claims": "claims.csv", "participants": "participants.csv", "values": VALUES})
    contract, _ = load_contract(tmp_path / "contract.toml")
    ev = read_evidence(contract, tmp_path / "claims.csv", tmp_path / "participants.csv", None)
    assert ev.claims["status"].cast(pl.String).to_list()[:3] == ["claimed", "failed", "claimed"]
    assert ev.participants["eligible"].to_list() == [True, False, None]
    found = {f.code: f for f in ev.findings}
    assert set(found) == {"BAD_STATUS", "BAD_BOOLEAN"}
    assert found["BAD_STATUS"].line == 5 and "did you mean 'approved'?" in (found["BAD_STATUS"].hint or "")
    assert found["BAD_BOOLEAN"].line == 4 and "eligible maps: y, n" in (found["BAD_BOOLEAN"].hint or "")
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 1 and "did you mean 'approved'?" in done.stdout


@pytest.mark.parametrize(("values", "code", "field"), [
    ({"status": {"Approved": "paid"}}, "UNKNOWN_VALUE", "evidence.values.status.Approved"),
    ({"eligible": {"Y": "yes"}}, "WRONG_TYPE", "evidence.values.eligible.Y"),
    ({"cohort": {"a": "b"}}, "UNKNOWN_KEY", "evidence.values.cohort"),
    ({"status": {"Approved": "claimed", "claimed": "failed"}}, "BAD_FORMAT", "evidence.values.status.claimed"),
])
def test_value_maps_are_checked_with_the_contract(tmp_path, values, code, field):
    _, found = load_contract(make_contract(tmp_path, evidence={"values": values}))
    assert (code, field) in [(f.code, f.field) for f in found]


def test_outcome_ids_can_be_mapped(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,participant_id,outcome_id,achieved_on\nc1,A,Job start,2020-02-01\nc2,A,Job strat,2020-02-01\n",
                    encoding="utf-8")
    contract, _ = load_contract(make_contract(tmp_path, evidence={"values": {"outcome_id": {"Job start": "P"}}}))
    ev = read_evidence(contract, path, None, None)
    assert ev.claims["outcome_id"].cast(pl.String).to_list() == ["P", "Job strat"]
    assert [(f.code, f.line) for f in ev.findings] == [("UNKNOWN_OUTCOME", 3)]
    assert "did you mean 'job start'?" in (ev.findings[0].hint or "")


# --- dates exported as datetimes --------------------------------------------------------------


def test_midnight_datetimes_are_dates_and_other_times_are_errors(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,participant_id,outcome_id,achieved_on\n"
                    "c1,A,P,31/03/2020 00:00:00\nc2,A,P,31/03/2020 00:00\nc3,A,P,31/03/2020\n"
                    "c4,A,P,31/03/2020 23:30:00\n", encoding="utf-8")
    contract, _ = load_contract(make_contract(tmp_path, evidence={"date_format": "%d/%m/%Y"}))
    ev = read_evidence(contract, path, None, None)
    assert ev.claims["achieved_on"].to_list() == [date(2020, 3, 31)] * 3 + [None]
    [f] = ev.findings
    assert (f.code, f.line) == ("BAD_DATE", 5) and "time of day" in f.message and "%H:%M:%S" in (f.hint or "")


def test_a_date_format_with_a_time_reads_the_day(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,participant_id,outcome_id,achieved_on\nc1,A,P,31/03/2020 23:30\n", encoding="utf-8")
    make_contract(tmp_path, evidence={"claims": "claims.csv", "date_format": "%d/%m/%Y %H:%M"})
    done = sob("pay", "contract.toml", "--quarter", "2020-Q1", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["entitled"] == "400.00"  # the claim is in Q1: 31 March
