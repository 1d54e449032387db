"""One test per evidence error code (SPEC 4.4), each from a tiny inline CSV.

Every test pins the code, the line, the column (``field`` and 1-based ``col``)
and the offending value, so a change in any of them is a visible diff.  Each
file is read by both typing paths (``evidence_paths``), which must agree.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from evidence_paths import read_evidence  # every file here is read by both typing paths, which must agree

from sob.contract import Contract, EvidenceConfig, Outcome, Payer
from sob.evidence import Evidence

CLAIMS_HEADER = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,amount_claimed\n"
REGISTER = "participant_id,enrolled_on,eligible,cohort\nA,2019-05-01,yes,18-24\nB,2019-05-01,no,25+\n"
RESULTS_HEADER = "result_id,outcome_id,cohort,achieved_on,baseline,observed,units\n"


def make_contract(**evidence) -> Contract:
    return Contract(
        id="t", name="T", currency="GBP", minor_units=2, start=date(2019, 4, 1),
        outcomes_end=date(2023, 3, 31), claims_end=date(2023, 6, 30), referrals_end=None,
        fiscal_year_start_month=4, payers=(Payer("KC", "Kirklees", Decimal(1)),),
        outcomes=(
            Outcome("ACC_ENTRY", price=50000),
            Outcome("ACC_3M", price=150000),
            Outcome("REOFFENDING", kind="improvement", price=200000, direction="decrease"),
        ),
        evidence=EvidenceConfig(**evidence),
    )


def run(tmp_path: Path, claims: str | None = None, register: str | None = None,
        results: str | None = None, **evidence) -> Evidence:
    paths = {}
    for name, text in (("claims", claims), ("participants", register), ("results", results)):
        if text is not None:
            p = tmp_path / f"{name}.csv"
            p.write_text(text, encoding="utf-8")
            paths[name] = p
    return read_evidence(make_contract(**evidence), paths.get("claims"), paths.get("participants"),
                         paths.get("results"))


def only(ev: Evidence, code: str):
    found = [f for f in ev.findings + ev.file_errors if f.code == code]
    assert len(found) == 1, [(f.code, f.line, f.field) for f in ev.findings + ev.file_errors]
    return found[0]


def spot(f) -> tuple:
    return (f.code, Path(f.file).name if f.file else None, f.line, f.field, f.col, f.value)


# --- row-level data errors --------------------------------------------------------------------


def test_bad_row_length_short_record(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n2,A,ACC_ENTRY,2020-01-01\n")
    f = only(ev, "BAD_ROW_LENGTH")
    assert spot(f) == ("BAD_ROW_LENGTH", "claims.csv", 3, None, None, None)
    assert "4 cells" in f.message and "7" in f.message
    assert ev.claims["error"].to_list() == [None, "BAD_ROW_LENGTH"]
    # its cells are still read by position
    assert ev.claims.row(1, named=True)["achieved_on"] == date(2020, 1, 1)


def test_bad_row_length_non_empty_cell_beyond_the_header(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-01-01,,,,,\n2,A,ACC_ENTRY,2020-01-01,,,,x\n")
    f = only(ev, "BAD_ROW_LENGTH")  # line 2 has only empty extra cells: fine
    assert spot(f) == ("BAD_ROW_LENGTH", "claims.csv", 3, None, None, None)
    assert "8 cells" in f.message


def test_missing_value(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,  ,ACC_ENTRY,2020-01-01,,,\n")
    assert spot(only(ev, "MISSING_VALUE")) == ("MISSING_VALUE", "claims.csv", 2, "participant_id", 2, None)
    assert ev.claims["error"].to_list() == ["MISSING_VALUE"]


def test_bad_date(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-30,,,\n")
    f = only(ev, "BAD_DATE")
    assert spot(f) == ("BAD_DATE", "claims.csv", 2, "achieved_on", 4, "2020-02-30")
    assert ev.claims["achieved_on"].to_list() == [None]


def test_bad_date_in_submitted_on(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,03/02/2020,,\n")
    assert spot(only(ev, "BAD_DATE")) == ("BAD_DATE", "claims.csv", 2, "submitted_on", 5, "03/02/2020")


def test_submitted_before_achieved(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,2020-02-02,,\n")
    f = only(ev, "SUBMITTED_BEFORE_ACHIEVED")
    assert spot(f) == ("SUBMITTED_BEFORE_ACHIEVED", "claims.csv", 2, "submitted_on", 5, "2020-02-02")
    assert "2020-02-03" in f.message


def test_bad_status(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,,paid,\n")
    assert spot(only(ev, "BAD_STATUS")) == ("BAD_STATUS", "claims.csv", 2, "status", 6, "paid")
    assert ev.claims["status"].to_list() == [None]


def test_bad_amount_claimed_too_many_places(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,,,500.005\n")
    f = only(ev, "BAD_AMOUNT_CLAIMED")
    assert spot(f) == ("BAD_AMOUNT_CLAIMED", "claims.csv", 2, "amount_claimed", 7, "500.005")
    assert f.severity == "warning" and ev.claims["error"].to_list() == [None]


def test_bad_amount_claimed_not_plain(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + '1,A,ACC_ENTRY,2020-02-03,,,"1,000.00"\n')
    f = only(ev, "BAD_AMOUNT_CLAIMED")
    assert spot(f) == ("BAD_AMOUNT_CLAIMED", "claims.csv", 2, "amount_claimed", 7, "1,000.00")
    assert 'money = "lenient"' in (f.hint or "")


def test_bad_boolean(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, "participant_id,enrolled_on,eligible\nA,2019-05-01,maybe\n")
    f = only(ev, "BAD_BOOLEAN")
    assert spot(f) == ("BAD_BOOLEAN", "participants.csv", 2, "eligible", 3, "maybe")
    assert ev.participants["error"].to_list() == ["BAD_BOOLEAN"]


def test_unknown_outcome_has_a_did_you_mean_hint(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_3N,2020-02-03,,,\n")
    f = only(ev, "UNKNOWN_OUTCOME")
    assert spot(f) == ("UNKNOWN_OUTCOME", "claims.csv", 2, "outcome_id", 3, "ACC_3N")
    assert f.hint == "did you mean 'ACC_3M'?"


def test_wrong_outcome_kind_in_claims(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,REOFFENDING,2020-02-03,,,\n")
    assert spot(only(ev, "WRONG_OUTCOME_KIND")) == ("WRONG_OUTCOME_KIND", "claims.csv", 2, "outcome_id", 3, "REOFFENDING")


def test_wrong_outcome_kind_in_results(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, results=RESULTS_HEADER + "R1,ACC_ENTRY,c1,2020-06-01,0.5,0.4,\n")
    assert spot(only(ev, "WRONG_OUTCOME_KIND")) == ("WRONG_OUTCOME_KIND", "results.csv", 2, "outcome_id", 2, "ACC_ENTRY")


def test_unknown_participant(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,,,\n2,Z,ACC_ENTRY,2020-02-03,,,\n", REGISTER)
    assert spot(only(ev, "UNKNOWN_PARTICIPANT")) == ("UNKNOWN_PARTICIPANT", "claims.csv", 3, "participant_id", 2, "Z")


def test_unknown_participant_is_not_checked_without_a_register(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "2,Z,ACC_ENTRY,2020-02-03,,,\n")
    assert ev.findings == [] and ev.claims["error"].to_list() == [None]


def test_duplicate_id(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,,,\n1,A,ACC_3M,2020-05-03,,,\n")
    found = [spot(f) for f in ev.findings]
    assert found == [
        ("DUPLICATE_ID", "claims.csv", 2, "claim_id", 1, "1"),
        ("DUPLICATE_ID", "claims.csv", 3, "claim_id", 1, "1"),
    ]
    assert ev.claims.select("line", "claim_id", "participant_id", "error").rows() == [(2, "1", None, "DUPLICATE_ID")]


def test_duplicate_participant(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,A,ACC_ENTRY,2020-02-03,,,\n",
             "participant_id,enrolled_on\nA,2019-05-01\nA,2019-05-02\n")
    found = [spot(f) for f in ev.findings]
    assert found == [
        ("DUPLICATE_PARTICIPANT", "participants.csv", 2, "participant_id", 1, "A"),
        ("DUPLICATE_PARTICIPANT", "participants.csv", 3, "participant_id", 1, "A"),
    ]
    assert ev.participants.rows() == [(2, "A", None, None, None, "DUPLICATE_PARTICIPANT")]
    # the claims of that participant are rejected with the register row's code
    assert ev.claims["error"].to_list() == ["DUPLICATE_PARTICIPANT"]


def test_non_positive_baseline(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, results=RESULTS_HEADER + "R1,REOFFENDING,c1,2020-06-01,-0.5,0.4,\n")
    assert spot(only(ev, "NON_POSITIVE_BASELINE")) == ("NON_POSITIVE_BASELINE", "results.csv", 2, "baseline", 5, "-0.5")


def test_bad_number_baseline_that_is_not_a_number(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, results=RESULTS_HEADER + "R1,REOFFENDING,c1,2020-06-01,5e-1,0.4,\n")
    assert spot(only(ev, "BAD_NUMBER")) == ("BAD_NUMBER", "results.csv", 2, "baseline", 5, "5e-1")


def test_bad_number_negative_observed(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, results=RESULTS_HEADER + "R1,REOFFENDING,c1,2020-06-01,0.5,-0.1,\n")
    assert spot(only(ev, "BAD_NUMBER")) == ("BAD_NUMBER", "results.csv", 2, "observed", 6, "-0.1")


def test_bad_number_zero_units(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER, results=RESULTS_HEADER + "R1,REOFFENDING,c1,2020-06-01,0.5,0.1,0.00\n")
    assert spot(only(ev, "BAD_NUMBER")) == ("BAD_NUMBER", "results.csv", 2, "units", 7, "0.00")


# --- file-level errors ----------------------------------------------------------------------


def test_missing_column(tmp_path):
    ev = run(tmp_path, "claim_id,participant_id,outcome_id,Achieved_On\n1,A,ACC_ENTRY,2020-01-01\n")
    f = only(ev, "MISSING_COLUMN")
    assert f in ev.file_errors and ev.findings == []
    assert spot(f) == ("MISSING_COLUMN", "claims.csv", 1, "achieved_on", None, None)
    assert "'Achieved_On'" in f.hint
    assert ev.claims is None


def test_missing_register(tmp_path):
    contract = make_contract()
    contract = Contract(**{**contract.__dict__, "referrals_end": date(2021, 3, 31)})
    p = tmp_path / "claims.csv"
    p.write_text(CLAIMS_HEADER, encoding="utf-8")
    ev = read_evidence(contract, p, None, None)
    f = only(ev, "MISSING_REGISTER")
    assert f in ev.file_errors
    assert "referrals_end" in f.message


def test_duplicate_column(tmp_path):
    ev = run(tmp_path, "claim_id,participant_id,outcome_id,achieved_on, notes ,notes\n")
    f = only(ev, "DUPLICATE_COLUMN")
    assert spot(f) == ("DUPLICATE_COLUMN", "claims.csv", 1, "notes", 6, "notes")
    assert ev.claims is None


def test_duplicate_column_from_two_mapping_entries(tmp_path):
    ev = run(tmp_path, "ID,outcome_id,achieved_on\n1,ACC_ENTRY,2020-01-01\n",
             columns=(("claim_id", "ID"), ("participant_id", "ID")))
    f = only(ev, "DUPLICATE_COLUMN")
    assert spot(f) == ("DUPLICATE_COLUMN", "claims.csv", 1, "ID", None, "ID")


# --- reasons and "lists them all" ------------------------------------------------------------


def test_a_row_with_several_errors_lists_them_all_and_its_reason_is_the_first(tmp_path):
    ev = run(tmp_path, CLAIMS_HEADER + "1,Z,NOPE,2020-01-01,2019-12-31,paid,1.234\n", REGISTER)
    assert [f.code for f in ev.findings] == [
        "SUBMITTED_BEFORE_ACHIEVED", "BAD_STATUS", "UNKNOWN_OUTCOME", "UNKNOWN_PARTICIPANT", "BAD_AMOUNT_CLAIMED",
    ]
    assert ev.claims["error"].to_list() == ["SUBMITTED_BEFORE_ACHIEVED"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("1,A,ACC_ENTRY\n", "BAD_ROW_LENGTH"),
        ("1,,NOPE,2020-13-01,,paid,x\n", "MISSING_VALUE"),
        ("1,A,NOPE,2020-13-01,,paid,x\n", "BAD_DATE"),
        ("1,A,NOPE,2020-01-02,2020-01-01,paid,x\n", "SUBMITTED_BEFORE_ACHIEVED"),
        ("1,A,NOPE,2020-01-02,,paid,x\n", "BAD_STATUS"),
        ("1,Z,NOPE,2020-01-02,,,x\n", "UNKNOWN_OUTCOME"),
        ("1,Z,REOFFENDING,2020-01-02,,,x\n", "WRONG_OUTCOME_KIND"),
        ("1,Z,ACC_ENTRY,2020-01-02,,,x\n", "UNKNOWN_PARTICIPANT"),
        ("1,B,ACC_ENTRY,2020-01-02,,,x\n", "BAD_BOOLEAN"),  # amount_claimed x is a warning, never the reason
        ("1,B,ACC_ENTRY,2020-01-02,,,\n", "BAD_BOOLEAN"),  # the register row's code comes last
    ],
)
def test_reject_reason_follows_the_spec_order(tmp_path, row, reason):
    register = "participant_id,enrolled_on,eligible\nA,2019-05-01,yes\nB,2019-05-01,perhaps\n"
    ev = run(tmp_path, CLAIMS_HEADER + row, register)
    assert ev.claims["error"].to_list() == [reason]
