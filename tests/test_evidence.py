"""Reading evidence files (SPEC 4): CSV rules, typed frames, duplicates, hostile inputs.

The readers have three paths (see ``sob.evidence``): a fast ``scan_csv`` path
for files without quotes, a structured path (``read_csv`` plus a line scan)
for quoted files, and Python's csv module for anything else.  The property
tests at the end check that the fast paths give exactly what the csv-module
path gives.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from evidence_paths import ScanOnJoin, read_evidence  # both typing paths, which must agree (the spies below read once)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sob.contract import Contract, EvidenceConfig, Outcome, Payer
from sob.evidence import Evidence, assemble, compact, csv_reader, duplicates, frames, header, raw, read_inline, source
from sob.evidence import read_evidence as read_once
from sob.findings import UsageError

HEADER = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref\n"


@pytest.fixture(autouse=True)
def _deterministic_scan(monkeypatch):
    """Every test here runs the byte scan at a fixed point (when its result is first needed)."""
    monkeypatch.setattr(source.Source, "background", ScanOnJoin)


def make_contract(*, minor_units: int = 2, referrals_end: date | None = None, **evidence) -> Contract:
    """A small contract built straight from the dataclasses."""
    return Contract(
        id="t", name="T", currency="GBP" if minor_units == 2 else "JPY", minor_units=minor_units,
        start=date(2019, 4, 1), outcomes_end=date(2023, 3, 31), claims_end=date(2023, 6, 30),
        referrals_end=referrals_end, fiscal_year_start_month=4, payers=(Payer("KC", "Kirklees", Decimal(1)),),
        outcomes=(
            Outcome("ACC_ENTRY", price=50000),
            Outcome("ACC_3M", price=150000),
            Outcome("REOFFENDING", kind="improvement", price=200000, direction="decrease"),
        ),
        evidence=EvidenceConfig(**evidence),
    )


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_bytes(content.encode("utf-8"))
    return p


def claims_only(tmp_path: Path, content: str | bytes, *, read=read_evidence, **evidence) -> Evidence:
    return read(make_contract(**evidence), write(tmp_path, "claims.csv", content), None, None)


def codes(ev: Evidence) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in ev.file_errors + ev.findings]


# --- frames -----------------------------------------------------------------------------------


def test_claims_frame_schema_and_typed_values(tmp_path):
    ev = claims_only(tmp_path, "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref,"
                               "amount_claimed,notes\n"
                               "C1,A,ACC_ENTRY,2020-01-05,,,ref,500,hello\n"
                               "C2,A,ACC_3M,2020-04-05,2020-05-01,Withdrawn,,1500.5,\n")
    assert ev.findings == [] and ev.file_errors == []
    assert ev.claims.schema == pl.Schema({
        "line": pl.Int64, "claim_id": pl.String, "participant_id": pl.String,
        "outcome_id": pl.Enum(["ACC_ENTRY", "ACC_3M", "REOFFENDING"]),  # the rate card's ids, in its order
        "achieved_on": pl.Date, "submitted_on": pl.Date, "status": pl.Enum(["claimed", "withdrawn", "failed"]),
        "evidence_ref": pl.String,
        "amount_claimed": pl.Int64, "error": pl.String, "notes": pl.String,
    })
    assert ev.claims.rows() == [
        (2, "C1", "A", "ACC_ENTRY", date(2020, 1, 5), date(2020, 1, 5), "claimed", "ref", 50000, None, "hello"),
        (3, "C2", "A", "ACC_3M", date(2020, 4, 5), date(2020, 5, 1), "withdrawn", None, 150050, None, None),
    ]
    assert ev.carried_columns == ["notes"]
    assert ev.has_amount_claimed


def test_unknown_outcome_ids_are_kept_after_the_rate_cards(tmp_path):
    ev = claims_only(tmp_path, HEADER + "1,A,ZZZ,2020-01-05,,,\n2,A,ACC_3M,2020-01-05,,,\n3,A,BBB,2020-01-05,,,\n")
    assert codes(ev) == [("UNKNOWN_OUTCOME", 2), ("UNKNOWN_OUTCOME", 4)]
    assert ev.claims.schema["outcome_id"] == pl.Enum(["ACC_ENTRY", "ACC_3M", "REOFFENDING", "BBB", "ZZZ"])
    assert ev.claims["outcome_id"].to_list() == ["ZZZ", "ACC_3M", "BBB"]


def test_optional_columns_may_be_absent(tmp_path):
    ev = claims_only(tmp_path, "outcome_id,claim_id,achieved_on,participant_id\nACC_ENTRY,1,2020-01-01,A\n")
    assert ev.findings == []
    assert ev.claims.row(0, named=True) == {
        "line": 2, "claim_id": "1", "participant_id": "A", "outcome_id": "ACC_ENTRY",
        "achieved_on": date(2020, 1, 1), "submitted_on": date(2020, 1, 1), "status": "claimed",
        "evidence_ref": None, "amount_claimed": None, "error": None,
    }
    assert not ev.has_amount_claimed


def test_participants_and_results_frames(tmp_path):
    reg = write(tmp_path, "p.csv", "participant_id,enrolled_on,eligible,cohort\nA,2019-05-01,YES,18-24\n"
                                   "B,2019-05-01,0,\nC,2019-05-01,,x\n")
    res = write(tmp_path, "r.csv", "result_id,outcome_id,cohort,achieved_on,baseline,observed,units,status,extra\n"
                                   "R1,REOFFENDING,c1,2020-06-01, 0.50 ,0.4,,FAILED,e\n"
                                   "R2,REOFFENDING,c1,2020-06-01,+2,0,12.5,,\n")
    ev = read_evidence(make_contract(), write(tmp_path, "c.csv", HEADER), reg, res)
    assert ev.findings == []
    assert ev.participants.schema == pl.Schema({
        "line": pl.Int64, "participant_id": pl.String, "enrolled_on": pl.Date, "eligible": pl.Boolean,
        "cohort": pl.String, "error": pl.String,
    })
    assert ev.participants["eligible"].to_list() == [True, False, True]
    assert ev.results.columns == ["line", "result_id", "outcome_id", "cohort", "achieved_on", "submitted_on",
                                  "baseline", "observed", "units", "status", "error", "extra"]
    assert ev.results.select("baseline", "observed", "units", "status").rows() == [
        ("0.50", "0.4", "1", "failed"), ("+2", "0", "12.5", "claimed"),
    ]
    assert ev.carried_columns == ["extra"]


def test_carried_columns_claims_first_then_results_without_repeats(tmp_path):
    c = write(tmp_path, "c.csv", HEADER.strip() + ",b,a\n")
    r = write(tmp_path, "r.csv", "result_id,outcome_id,cohort,achieved_on,baseline,observed,a,z\n")
    ev = read_evidence(make_contract(), c, None, r)
    assert ev.carried_columns == ["b", "a", "z"]


def test_amount_claimed_minor_units(tmp_path):
    rows = ["500", "500.000", "-5", "+5.5", ".5", "5.", "0"]
    bad = ["500.005", "1,000", "£5", "1e3", "5 00", "12345678901234567.00", "-", "."]
    text = "claim_id,participant_id,outcome_id,achieved_on,amount_claimed\n" + "".join(
        f'{i},A,ACC_ENTRY,2020-01-01,"{v}"\n' for i, v in enumerate(rows + bad))
    ev = claims_only(tmp_path, text)
    assert ev.claims["amount_claimed"].to_list() == [50000, 50000, -500, 550, 50, 500, 0] + [None] * len(bad)
    assert [f.value for f in ev.findings] == bad
    # amount_claimed is only compared: a warning, and the row stays valid (issue 16)
    assert {(f.code, f.severity) for f in ev.findings} == {("BAD_AMOUNT_CLAIMED", "warning")}
    assert ev.claims["error"].null_count() == ev.claims.height


def test_amount_claimed_in_a_currency_without_minor_units(tmp_path):
    text = "claim_id,participant_id,outcome_id,achieved_on,amount_claimed\n1,A,ACC_ENTRY,2020-01-01,500\n" \
           "2,A,ACC_ENTRY,2020-01-01,500.5\n"
    ev = read_evidence(make_contract(minor_units=0), write(tmp_path, "c.csv", text), None, None)
    assert ev.claims["amount_claimed"].to_list() == [500, None]
    assert codes(ev) == [("BAD_AMOUNT_CLAIMED", 3)]


def test_status_is_case_insensitive_and_defaults_to_claimed(tmp_path):
    text = HEADER + "".join(f"{i},A,ACC_ENTRY,2020-01-01,,{s},\n"
                            for i, s in enumerate(["", "CLAIMED", "Withdrawn", "failed", "fAiLeD", "paid"]))
    ev = claims_only(tmp_path, text)
    assert ev.claims["status"].to_list() == ["claimed", "claimed", "withdrawn", "failed", "failed", None]
    assert codes(ev) == [("BAD_STATUS", 7)]


def test_dates_reject_two_digit_years_under_percent_capital_y(tmp_path):
    ev = claims_only(tmp_path, HEADER + "1,A,ACC_ENTRY,05/01/20,,,\n2,A,ACC_ENTRY,05/01/2020,,,\n",
                     date_format="%d/%m/%Y")
    assert ev.claims["achieved_on"].to_list() == [None, date(2020, 1, 5)]
    assert codes(ev) == [("BAD_DATE", 2)]


def test_custom_date_format_and_delimiter(tmp_path):
    text = HEADER.replace(",", ";") + "1;A;ACC_ENTRY;31/12/2020;02/01/2021;;a,b\n"
    ev = claims_only(tmp_path, text, date_format="%d/%m/%Y", delimiter=";")
    assert ev.findings == []
    assert ev.claims.select("achieved_on", "submitted_on", "evidence_ref").row(0) == (
        date(2020, 12, 31), date(2021, 1, 2), "a,b")


def test_tab_delimited(tmp_path):
    ev = claims_only(tmp_path, HEADER.replace(",", "\t") + "1\tA\tACC_ENTRY\t2020-01-01\t\t\tnote, with comma\n",
                     delimiter="\t")
    assert ev.findings == []
    assert ev.claims["evidence_ref"].to_list() == ["note, with comma"]


# --- CSV rules --------------------------------------------------------------------------------


def test_cells_and_headers_are_trimmed_and_blank_cells_are_missing(tmp_path):
    text = " claim_id , participant_id,outcome_id ,achieved_on\n  1 ,\tA\u00a0, ACC_ENTRY,2020-01-01 \n2, ,ACC_ENTRY,2020-01-01\n"
    ev = claims_only(tmp_path, text)
    assert ev.claims.select("claim_id", "participant_id", "outcome_id").rows() == [
        ("1", "A", "ACC_ENTRY"), ("2", None, "ACC_ENTRY")]
    assert codes(ev) == [("MISSING_VALUE", 3)]


def test_blank_and_delimiter_only_lines_are_skipped_and_lines_still_count(tmp_path):
    text = HEADER + "\n1,A,ACC_ENTRY,2020-01-01,,,\n,,,\n   \n , ,,,,,,,,\n2,A,ACC_ENTRY,2020-13-01,,,\n\n"
    ev = claims_only(tmp_path, text)
    assert ev.claims["line"].to_list() == [3, 7]
    assert codes(ev) == [("BAD_DATE", 7)]
    assert ev.files[0].rows == 2


def test_blank_lines_before_the_header(tmp_path):
    ev = claims_only(tmp_path, "\n,,\n" + HEADER + "1,A,ACC_ENTRY,2020-13-01,,,\n")
    assert codes(ev) == [("BAD_DATE", 4)]


def test_quoted_cells_hold_delimiters_quotes_and_line_breaks(tmp_path):
    text = (HEADER
            + '1,A,ACC_ENTRY,2020-01-01,,,"a, ""b"""\n'
            + '2,A,ACC_ENTRY,2020-01-01,,,"line one\nline two\r\nline three"\n'
            + '3,A,ACC_ENTRY,2020-13-01,,,""\n'
            + '"4",A,ACC_ENTRY,2020-01-01,,,\n')
    ev = claims_only(tmp_path, text)
    assert ev.claims.select("line", "claim_id", "evidence_ref").rows() == [
        (2, "1", 'a, "b"'), (3, "2", "line one\nline two\r\nline three"), (6, "3", None), (7, "4", None)]
    assert codes(ev) == [("BAD_DATE", 6)]


def test_quoted_header_and_quoted_row_length(tmp_path):
    text = ('"claim_id","participant_id","outcome_id","achieved_on"\n'
            '"1","A","ACC_ENTRY","2020-01-01",""\n'
            '"2","A","ACC_ENTRY","2020-01-01","x"\n'
            '"3","A,B","ACC_ENTRY"\n')
    ev = claims_only(tmp_path, text)
    assert codes(ev) == [("BAD_ROW_LENGTH", 3), ("BAD_ROW_LENGTH", 4), ("MISSING_VALUE", 4)]
    assert ev.claims["participant_id"].to_list() == ["A", "A", "A,B"]


def test_bom_is_ignored(tmp_path):
    ev = claims_only(tmp_path, b"\xef\xbb\xbf" + HEADER.encode() + b"1,A,ACC_ENTRY,2020-01-01,,,\n")
    assert ev.findings == [] and ev.file_errors == []
    assert ev.claims["claim_id"].to_list() == ["1"]


def test_crlf_line_ends(tmp_path):
    ev = claims_only(tmp_path, (HEADER + "1,A,ACC_ENTRY,2020-01-01,,,x\n\n2,A,ACC_ENTRY,2020-13-01,,,y\n").replace("\n", "\r\n"))
    assert ev.claims.select("line", "evidence_ref").rows() == [(2, "x"), (4, "y")]
    assert codes(ev) == [("BAD_DATE", 4)]


def test_lone_carriage_returns_are_line_breaks(tmp_path):
    ev = claims_only(tmp_path, (HEADER + "1,A,ACC_ENTRY,2020-01-01,,,x\n2,A,ACC_ENTRY,2020-13-01,,,y\n").replace("\n", "\r"))
    assert ev.claims.select("line", "evidence_ref").rows() == [(2, "x"), (3, "y")]
    assert codes(ev) == [("BAD_DATE", 3)]


def test_malformed_quotes_are_read_like_pythons_csv_module(tmp_path):
    text = HEADER + '1,A,ACC_ENTRY,2020-01-01,,,say "hi"\n2,A,ACC_3M,2020-13-01,,,"x"y\n'
    ev = claims_only(tmp_path, text)
    assert ev.claims.select("line", "evidence_ref").rows() == [(2, 'say "hi"'), (3, "xy")]
    assert codes(ev) == [("BAD_DATE", 3)]


def test_column_mapping_finds_a_renamed_column_only_under_its_mapped_header(tmp_path):
    text = "claim_id,Client Ref,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n"
    ev = claims_only(tmp_path, text, columns=(("participant_id", "Client Ref"),))
    assert ev.findings == [] and ev.claims["participant_id"].to_list() == ["A"]
    # the canonical header no longer counts
    text = "claim_id,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n"
    ev = claims_only(tmp_path, text, columns=(("participant_id", "Client Ref"),))
    assert codes(ev) == [("MISSING_COLUMN", 1)]
    assert "Client Ref" in ev.file_errors[0].message and "participant_id" in ev.file_errors[0].hint


def test_mapped_header_and_canonical_header_together_clash(tmp_path):
    text = "claim_id,participant_id,Client Ref,outcome_id,achieved_on\n1,A,B,ACC_ENTRY,2020-01-01\n"
    ev = claims_only(tmp_path, text, columns=(("participant_id", "Client Ref"),))
    assert [(f.code, f.field) for f in ev.file_errors] == [("DUPLICATE_COLUMN", "participant_id")]


def test_the_same_mapping_may_serve_two_files(tmp_path):
    c = write(tmp_path, "c.csv", "ID,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n")
    r = write(tmp_path, "r.csv", "ID,outcome_id,cohort,achieved_on,baseline,observed\nR,REOFFENDING,c,2020-01-01,1,0\n")
    ev = read_evidence(make_contract(columns=(("claim_id", "ID"), ("result_id", "ID"))), c, None, r)
    assert ev.file_errors == [] and ev.findings == []


def test_reserved_headers_are_refused(tmp_path):
    ev = claims_only(tmp_path, HEADER.strip() + ",line,error\n")
    assert [(f.code, f.field) for f in ev.file_errors] == [("DUPLICATE_COLUMN", "line"), ("DUPLICATE_COLUMN", "error")]


def test_trailing_blank_headers_are_not_columns(tmp_path):
    ev = claims_only(tmp_path, HEADER.strip() + ",,\n1,A,ACC_ENTRY,2020-01-01,,,,,\n2,A,ACC_ENTRY,2020-01-01,,,,x,\n")
    assert codes(ev) == [("BAD_ROW_LENGTH", 3)]
    assert ev.carried_columns == []


# --- duplicates -------------------------------------------------------------------------------


def test_identical_rows_are_one_row_with_a_warning(tmp_path):
    text = HEADER + "1,A,ACC_ENTRY,2020-01-01,,,x\n2,A,ACC_3M,2020-05-01,,,\n1,A,ACC_ENTRY,2020-01-01,,,x\n"
    ev = claims_only(tmp_path, text)
    assert [(f.code, f.severity, f.line) for f in ev.findings] == [("DUPLICATE_ROW", "warning", 4)]
    assert ev.ok
    assert ev.claims["line"].to_list() == [2, 3]


def test_rows_differing_only_in_a_carried_column_or_date_text_are_duplicate_ids(tmp_path):
    text = (HEADER.strip() + ",note\n"
            + "1,A,ACC_ENTRY,2020-01-01,,,,a\n1,A,ACC_ENTRY,2020-01-01,,,,b\n"
            + "2,A,ACC_ENTRY,2020-01-01,,,,\n2,A,ACC_ENTRY,2020-1-1,,,,\n")
    ev = claims_only(tmp_path, text)
    assert codes(ev) == [("DUPLICATE_ID", 2), ("DUPLICATE_ID", 3), ("DUPLICATE_ID", 4), ("DUPLICATE_ID", 5)]
    assert ev.claims.select("line", "claim_id", "error").rows() == [(2, "1", "DUPLICATE_ID"), (4, "2", "DUPLICATE_ID")]


def test_duplicate_rows_keep_their_other_errors(tmp_path):
    text = HEADER + "1,A,ACC_ENTRY,2020-13-01,,,\n1,A,ACC_ENTRY,2020-01-01,,,\n5,A,X,2020-01-01,,,\n5,A,X,2020-01-01,,,\n"
    ev = claims_only(tmp_path, text)
    assert codes(ev) == [("DUPLICATE_ID", 2), ("BAD_DATE", 2), ("DUPLICATE_ID", 3),
                         ("UNKNOWN_OUTCOME", 4), ("DUPLICATE_ROW", 5)]


def test_a_claim_and_a_result_sharing_an_id_always_differ(tmp_path):
    c = write(tmp_path, "c.csv", HEADER + "X1,A,ACC_ENTRY,2020-01-01,,,\nC2,A,ACC_ENTRY,2020-01-01,,,\n")
    r = write(tmp_path, "r.csv", "result_id,outcome_id,cohort,achieved_on,baseline,observed\n"
                                 "R1,REOFFENDING,c,2020-06-01,1,0.5\nX1,REOFFENDING,c,2020-06-01,1,0.5\n")
    ev = read_evidence(make_contract(), c, None, r)
    assert [(Path(f.file).name, f.code, f.line, f.value) for f in ev.findings] == [
        ("c.csv", "DUPLICATE_ID", 2, "X1"), ("r.csv", "DUPLICATE_ID", 3, "X1")]
    assert ev.claims.filter(pl.col("claim_id") == "X1").select("claim_id", "outcome_id", "error").rows() == [
        ("X1", None, "DUPLICATE_ID")]
    assert ev.results["result_id"].to_list() == ["R1"]


def test_register_errors_propagate_to_claims(tmp_path):
    reg = write(tmp_path, "p.csv", "participant_id,enrolled_on,eligible\nA,2019-05-01,yes\nB,2019-13-01,yes\n"
                                   "C,2019-05-01,maybe\nD,2019-05-01,\nD,2019-05-01,\n")
    c = write(tmp_path, "c.csv", HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n2,B,ACC_ENTRY,2020-01-01,,,\n"
                                          "3,C,ACC_ENTRY,2020-01-01,,,\n4,C,NOPE,2020-01-01,,,\n"
                                          "5,D,ACC_ENTRY,2020-01-01,,,\n")
    ev = read_evidence(make_contract(), c, reg, None)
    assert ev.claims["error"].to_list() == [None, "BAD_DATE", "BAD_BOOLEAN", "UNKNOWN_OUTCOME", None]
    # the propagated code is the claim's reason, not a finding of the claims file
    assert [(Path(f.file).name, f.code) for f in ev.findings] == [
        ("c.csv", "UNKNOWN_OUTCOME"), ("p.csv", "BAD_DATE"), ("p.csv", "BAD_BOOLEAN"), ("p.csv", "DUPLICATE_ROW")]


@pytest.mark.parametrize("detailed", [False, True])
def test_register_errors_propagate_whichever_reading_types_the_register(tmp_path, monkeypatch, detailed):
    """A register with a few invalid rows and no repeats is typed by the compact read and mended."""
    if detailed:
        _detailed_only(monkeypatch)
    reg = write(tmp_path, "p.csv", "participant_id,enrolled_on,eligible\nA,2019-05-01,yes\nB,2019-13-01,yes\n"
                                   "C,2019-05-01,maybe\n")
    c = write(tmp_path, "c.csv", HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n2,B,ACC_ENTRY,2020-01-01,,,\n"
                                          "3,C,NOPE,2020-01-01,,,\n")
    ev = read_evidence(make_contract(), c, reg, None)
    assert ev.participants["error"].to_list() == [None, "BAD_DATE", "BAD_BOOLEAN"]
    assert ev.claims["error"].to_list() == [None, "BAD_DATE", "UNKNOWN_OUTCOME"]
    assert ev.claims["outcome_id"].to_list() == ["ACC_ENTRY", "ACC_ENTRY", "NOPE"]
    assert [(Path(f.file).name, f.code, f.line) for f in ev.findings] == [
        ("c.csv", "UNKNOWN_OUTCOME", 4), ("p.csv", "BAD_DATE", 3), ("p.csv", "BAD_BOOLEAN", 4)]


def test_many_register_ids_and_many_invalid_register_rows(tmp_path):
    n = 300
    reg = "participant_id,enrolled_on\n" + "".join(f"P{i},{'2019-05-01' if i % 2 else 'bad'}\n" for i in range(n))
    claims = HEADER + "".join(f"{i},P{i},ACC_ENTRY,2020-01-01,,,\n" for i in range(n + 5))
    ev = read_evidence(make_contract(), write(tmp_path, "c.csv", claims), write(tmp_path, "p.csv", reg), None)
    errors = ev.claims["error"].to_list()
    assert errors[:n] == ["BAD_DATE" if i % 2 == 0 else None for i in range(n)]
    assert errors[n:] == ["UNKNOWN_PARTICIPANT"] * 5


@pytest.mark.parametrize("prefix", ["P", "PARTICIPANT-", "a-participant-with-a-long-id-", "Zoë-"])
def test_register_membership_is_exact_however_ids_are_compared(tmp_path, prefix):
    """Short ASCII ids are compared packed into integers, others as strings: the same verdicts."""
    n = 40
    reg = "participant_id,enrolled_on\n" + "".join(f"{prefix}{i},2019-05-01\n" for i in range(n))
    near = [f"{prefix}{n}", f"{prefix}{n - 1}x", f"{prefix}", f"{prefix}é", f"{prefix}1".lower()]
    ids = [f"{prefix}{i}" for i in range(n)] + near
    claims = HEADER + "".join(f"{i},{pid},ACC_ENTRY,2020-01-01,,,\n" for i, pid in enumerate(ids))
    ev = read_evidence(make_contract(), write(tmp_path, "c.csv", claims), write(tmp_path, "p.csv", reg), None)
    expected = [None] * n + ["UNKNOWN_PARTICIPANT"] * (len(near) - 1) + [None if prefix.islower() else "UNKNOWN_PARTICIPANT"]
    assert ev.claims["error"].to_list() == expected


@pytest.mark.parametrize("prefix", ["P", "a-participant-with-a-long-id-"])
def test_the_compact_read_gives_each_claim_its_register_row(tmp_path, monkeypatch, prefix):
    """Rows of the register frame (an invalid row without an id counts), null for an unknown id."""
    n = 40
    reg = ("participant_id,enrolled_on\n,2019-05-01\n"
           + "".join(f"{prefix}{i},2019-05-01\n" for i in range(n)))
    ids = [f"{prefix}{(7 * i) % n}" for i in range(2 * n)] + [f"{prefix}{n}", ""]
    claims = HEADER + "".join(f"{i},{pid},ACC_ENTRY,2020-01-01,,,\n" for i, pid in enumerate(ids))
    c, r = write(tmp_path, "c.csv", claims), write(tmp_path, "p.csv", reg)
    ev = read_evidence(make_contract(), c, r, None)
    row_of = {pid: i for i, pid in enumerate(ev.participants["participant_id"].to_list()) if pid is not None}
    assert ev.participant_rows.to_list() == [row_of.get(pid) for pid in ev.claims["participant_id"].to_list()]
    assert ev.participant_rows.to_list()[-2:] == [None, None]
    assert ev.claims["error"].to_list()[-2:] == ["UNKNOWN_PARTICIPANT", "MISSING_VALUE"]
    _detailed_only(monkeypatch)
    assert read_evidence(make_contract(), c, r, None).participant_rows is None


# --- files: hashes, parquet, inline rows ---------------------------------------------------------


def test_evidence_files_record_rows_and_sha256(tmp_path):
    content = HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n\n2,A,ACC_ENTRY,2020-01-01,,,\n"
    p = write(tmp_path, "claims.csv", content)
    ev = read_evidence(make_contract(), p, None, None)
    assert [(f.kind, f.path, f.rows, f.sha256) for f in ev.files] == [
        ("claims", p, 2, hashlib.sha256(content.encode()).hexdigest())]


def test_parquet_input_is_checked_like_csv(tmp_path):
    df = pl.DataFrame({
        "claim_id": ["1", "2", None, "3"],
        "participant_id": ["A", "A", None, " B "],
        "outcome_id": ["ACC_ENTRY", "ACC_3M", None, "ACC_ENTRY"],
        "achieved_on": [date(2020, 1, 1), date(2020, 5, 1), None, None],
        "amount_claimed": [Decimal("500.00"), Decimal("1.234"), None, None],
        "n": [1, 2, None, 3],
    })
    p = tmp_path / "claims.parquet"
    df.write_parquet(p)
    ev = read_evidence(make_contract(date_format="%d/%m/%Y"), p, None, None)
    assert ev.claims.select("line", "participant_id", "achieved_on", "amount_claimed", "n").rows() == [
        (2, "A", date(2020, 1, 1), 50000, "1"), (3, "A", date(2020, 5, 1), None, "2"), (5, "B", None, None, "3")]
    assert codes(ev) == [("BAD_AMOUNT_CLAIMED", 3), ("MISSING_VALUE", 5)]
    assert ev.files[0].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_read_inline_applies_the_same_checks():
    ev = read_inline(
        make_contract(),
        [{"participant_id": "A", "enrolled_on": date(2019, 5, 1), "cohort": "18-24", "eligible": True}],
        [{"claim_id": "1", "participant_id": "A", "outcome_id": "ACC_ENTRY", "achieved_on": date(2019, 6, 1),
          "amount_claimed": Decimal("500.00")},
         {"claim_id": 2, "participant_id": "Z", "outcome_id": "ACC_3X", "achieved_on": "2019-06-01"}],
        [{"result_id": "R1", "outcome_id": "REOFFENDING", "cohort": "c", "achieved_on": date(2020, 1, 1),
          "baseline": Decimal("0.5"), "observed": 0, "units": 100}],
        name="entry",
    )
    assert ev.claims.select("line", "claim_id", "achieved_on", "amount_claimed", "error").rows() == [
        (1, "1", date(2019, 6, 1), 50000, None), (2, "2", date(2019, 6, 1), None, "UNKNOWN_OUTCOME")]
    assert [(f.file, f.line, f.code) for f in ev.findings] == [
        ("<example entry: claims>", 2, "UNKNOWN_OUTCOME"), ("<example entry: claims>", 2, "UNKNOWN_PARTICIPANT")]
    assert ev.participants["eligible"].to_list() == [True]
    assert ev.results.select("baseline", "observed", "units").row(0) == ("0.5", "0", "100")
    assert ev.files == []


def test_read_inline_without_participants_means_no_register():
    contract = make_contract(referrals_end=date(2021, 3, 31))
    ev = read_inline(contract, [], [{"claim_id": "1", "participant_id": "Z", "outcome_id": "ACC_ENTRY",
                                     "achieved_on": date(2020, 1, 1)}], [])
    assert [f.code for f in ev.file_errors] == ["MISSING_REGISTER"]
    assert ev.claims["error"].to_list() == [None]


# --- hostile inputs: never anything but UsageError ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (HEADER.encode("utf-16"), "UTF-16"),
        (HEADER.encode("utf-16-le"), "NUL"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
        (b"claim_id\n\xff\xfe\xfd\n", "UTF-8"),
    ],
)
def test_unreadable_content_is_a_usage_error(tmp_path, content, why):
    with pytest.raises(UsageError) as err:
        claims_only(tmp_path, content)
    assert "claims.csv" in err.value.message and why in err.value.message
    assert err.value.exit_code == 2


def test_invalid_utf8_far_into_a_large_file_is_a_usage_error(tmp_path):
    body = HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n" * 20000
    p = write(tmp_path, "claims.csv", body.encode() + b"2,A,ACC_ENTRY,2020-01-01,,,\xe9t\xe9\n")
    with pytest.raises(UsageError, match="UTF-8"):
        read_evidence(make_contract(), p, None, None)


def test_a_stray_nul_far_into_a_large_file_is_a_data_error_of_its_cell(tmp_path):
    """The head holds no NUL, so the first query does not look for one: the byte scan finds it."""
    body = HEADER + "".join(f"{i},A,ACC_ENTRY,2020-01-01,,,\n" for i in range(20000))
    p = write(tmp_path, "claims.csv", body.encode() + b"x,A,ACC_ENTRY,2020-01-01,,,x\x00y\n")
    ev = read_evidence(make_contract(), p, None, None)
    assert [(f.code, f.line, f.col, f.value) for f in ev.findings] == [("BAD_TEXT", 20002, 7, "x\x00y")]
    assert ev.claims.height == 20001


def test_nul_bytes_making_up_much_of_a_large_file_are_a_usage_error(tmp_path):
    body = (HEADER + "".join(f"{i},A,ACC_ENTRY,2020-01-01,,,\n" for i in range(20000))).encode()
    p = write(tmp_path, "claims.csv", body + b"\x00" * (len(body) // 8))  # a binary tail: a tenth of the bytes
    with pytest.raises(UsageError, match="NUL"):
        read_evidence(make_contract(), p, None, None)


def test_missing_file_and_directory_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_evidence(make_contract(), tmp_path / "nope.csv", None, None)
    with pytest.raises(UsageError, match="directory"):
        read_evidence(make_contract(), tmp_path, None, None)
    with pytest.raises(UsageError, match="Parquet"):
        read_evidence(make_contract(), write(tmp_path, "x.parquet", HEADER), None, None)


def test_unreadable_permissions_are_a_usage_error(tmp_path):
    import os
    p = write(tmp_path, "claims.csv", HEADER)
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):  # running as root: permissions do not apply
            pytest.skip("cannot drop read permission as root")
        with pytest.raises(UsageError):
            read_evidence(make_contract(), p, None, None)
    finally:
        p.chmod(0o644)


@pytest.mark.parametrize("content", ["", "\n\n", ",,,\n \n"])
def test_an_empty_file_has_no_header(tmp_path, content):
    ev = claims_only(tmp_path, content)
    assert {f.code for f in ev.file_errors} == {"MISSING_COLUMN"}
    assert ev.claims is None and ev.files[0].rows == 0


def test_header_only(tmp_path):
    ev = claims_only(tmp_path, HEADER.strip())
    assert ev.claims.height == 0 and ev.findings == [] and ev.file_errors == []
    assert ev.claims.schema["achieved_on"] == pl.Date


def test_very_long_cells(tmp_path):
    long = "x" * 2_000_000
    ev = claims_only(tmp_path, HEADER + f'1,A,ACC_ENTRY,{long},,,"{long}"\n2,A,ACC_ENTRY,2020-01-01,,,{long}\n')
    f = ev.findings[0]
    assert (f.code, f.line, len(f.value)) == ("BAD_DATE", 2, 80)
    assert ev.claims["evidence_ref"].str.len_chars().to_list() == [2_000_000, 2_000_000]


def test_a_very_long_header_line(tmp_path):
    # 5,000 columns keep the test short; the reader is linear in the header's width
    # (benchmarks/README.md: 8,000 and 16,000 columns; membership tests use sets)
    header = HEADER.strip() + "," + ",".join(f"extra{i}" for i in range(5000)) + "\n"
    ev = claims_only(tmp_path, header + "1,A,ACC_ENTRY,2020-01-01\n")
    assert codes(ev) == [("BAD_ROW_LENGTH", 2)]
    assert ev.carried_columns == [f"extra{i}" for i in range(5000)]


def test_weird_headers_do_not_crash(tmp_path):
    ev = claims_only(tmp_path, "__sob_f0,claim_id,participant_id,outcome_id,achieved_on,\n")
    assert [f.code for f in ev.file_errors] == ["DUPLICATE_COLUMN"]
    ev = claims_only(tmp_path, "claim_id,,participant_id,outcome_id,achieved_on\n1,x,A,ACC_ENTRY,2020-01-01\n")
    assert ev.carried_columns == ["column_2"]


# --- the fast readers agree with the csv module -----------------------------------------------


def _force_csv_module(monkeypatch):
    def refuse(*args, **kwargs):
        raise raw.Fallback("forced")

    monkeypatch.setattr(csv_reader, "_read_structured", refuse)
    monkeypatch.setattr(csv_reader, "_fast_check", lambda *a, **k: "exact")


def _snapshot(ev: Evidence):
    frames = {k: (getattr(ev, k).to_dicts() if getattr(ev, k) is not None else None)
              for k in ("claims", "participants", "results")}
    return frames, [f.to_dict() for f in ev.file_errors + ev.findings], ev.carried_columns, \
        [(f.kind, f.rows, f.sha256) for f in ev.files]


def _read_both_ways(read, patch):
    """The snapshot of ``read()`` as the code is, and with ``patch(monkeypatch)`` applied."""
    first = _snapshot(read())
    with pytest.MonkeyPatch.context() as mp:
        patch(mp)
        second = _snapshot(read())
    return first, second


def _paths_taken(monkeypatch) -> list[str]:
    taken: list[str] = []
    for name in ("fast_lazy", "_read_structured", "_read_slow"):
        original = getattr(csv_reader, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            taken.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(csv_reader, name, spy)
    return taken


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n", ["fast_lazy"]),
        (HEADER + "1, A,ACC_ENTRY,2020-01-01,,,\n", ["fast_lazy"]),  # then trimmed in memory
        (HEADER.strip() + ",\n" + "1, A,ACC_ENTRY,2020-01-01,,,,\n", ["fast_lazy", "fast_lazy"]),  # read again
        (HEADER + '1, A,ACC_ENTRY,2020-01-01,,,"x, y"\n', ["fast_lazy"]),
        (HEADER + "1,A,ACC_ENTRY\n", ["fast_lazy", "_read_structured"]),
        (HEADER + '1,A,ACC_ENTRY,2020-01-01,,,"x"\n', ["fast_lazy"]),
        (HEADER + '1,A,ACC_ENTRY,2020-01-01,,,"x\ny"\n', ["_read_structured"]),
        (HEADER + '1,A,ACC_ENTRY,2020-01-01,,"x"\n', ["fast_lazy", "_read_structured"]),
        (HEADER + '1,A,ACC_ENTRY,2020-01-01,,,x"y"\n', ["_read_structured", "_read_slow"]),
    ],
)
def test_each_reader_is_used_where_it_should_be(tmp_path, monkeypatch, text, path):
    taken = _paths_taken(monkeypatch)
    claims_only(tmp_path, text, read=read_once)
    assert taken == path


def _count_calls(monkeypatch, name: str) -> list[str]:
    calls: list[str] = []
    original = getattr(source.Source, name)

    def spy(self, *args, **kwargs):
        calls.append(self.label)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(source.Source, name, spy)
    return calls


def test_delimiters_are_counted_only_when_a_row_could_be_short(tmp_path, monkeypatch):
    """Without quotes a row can only lack cells where its last cell came out empty."""
    full = "claim_id,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n2,A,ACC_3M,2020-02-01\n"
    calls = _count_calls(monkeypatch, "delimiters")
    assert claims_only(tmp_path, full, read=read_once).findings == []
    assert calls == []
    ev = claims_only(tmp_path, full + "3,A,ACC_3M\n", read=read_once)  # short: polars reads achieved_on as empty
    assert len(calls) == 1
    assert codes(ev) == [("BAD_ROW_LENGTH", 4), ("MISSING_VALUE", 4)]


def test_the_sha256_is_computed_only_when_asked_for(tmp_path, monkeypatch):
    p = write(tmp_path, "claims.csv", HEADER + "1,A,ACC_ENTRY,2020-01-01,,,\n")
    calls = _count_calls(monkeypatch, "sha256")
    ev = read_once(make_contract(), p, None, None)
    assert calls == [] and ev.files[0].rows == 1
    assert ev.files[0].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert ev.files[0].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert len(calls) == 1  # computed once


PLAIN = ["", " ", "1", "A", "ACC_ENTRY", "ACC_3M", "2020-01-01", "2020-13-01", "claimed", "Failed", "x y",
         " pad ", "\t", "\u00a0z", "REOFFENDING", "500.00", "1e3", "a\u3000"]
QUOTED = ['"q"', '"a,b"', '"l1\nl2"', '""', 'a"b', '" "', '"open', '"x\ry"', "x\ry"]


@st.composite
def csv_files(draw) -> str:
    """Small claims files: mostly well-formed rows of the header's length, sometimes not."""
    extra = draw(st.booleans())
    width = 8 if extra else 7
    cells = st.sampled_from(PLAIN + (QUOTED if draw(st.booleans()) else []))
    row = st.one_of(st.lists(cells, min_size=width, max_size=width),
                    st.lists(cells, min_size=width, max_size=width),
                    st.lists(cells, min_size=0, max_size=width + 2))
    end = st.sampled_from(["\n", "\n", "\n", "\r\n", "\n\n", "\r"])
    rows = draw(st.lists(st.tuples(row, end), max_size=8))
    header = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,amount_claimed" + (",note" if extra else "")
    return header + draw(end) + "".join(",".join(r) + e for r, e in rows)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_files())
def test_fast_and_structured_readers_match_the_csv_module(tmp_path_factory, text):
    tmp_path = tmp_path_factory.mktemp("prop")
    reg = write(tmp_path, "p.csv", "participant_id,enrolled_on\nA,2019-01-01\n1,2019-01-01\n")
    p = write(tmp_path, "claims.csv", text)
    fast, slow = _read_both_ways(lambda: read_once(make_contract(), p, reg, None), _force_csv_module)
    assert fast == slow


@pytest.mark.parametrize("pad", ["\t", "\u00a0", "\u3000", "\x0b", "\u2009"])
def test_tabs_and_unicode_spaces_at_cell_edges_are_trimmed(tmp_path, pad):
    ev = claims_only(tmp_path, HEADER + f"1,{pad}A,ACC_ENTRY{pad},2020-01-01,,,\n")
    assert ev.claims.select("participant_id", "outcome_id").row(0) == ("A", "ACC_ENTRY")
    assert ev.findings == []


def test_a_file_with_many_rows_takes_the_fast_path_and_keeps_line_numbers(tmp_path, monkeypatch):
    taken = _paths_taken(monkeypatch)
    rows = "".join(f"{i},P{i % 7},ACC_ENTRY,2020-01-{1 + i % 28:02d},,{'Claimed' if i % 3 else ''},\n"
                   for i in range(50_000))
    ev = claims_only(tmp_path, HEADER + rows + "bad,P1,ACC_ENTRY,2020-02-30,,,\n", read=read_once)
    assert taken == ["fast_lazy"]
    assert codes(ev) == [("BAD_DATE", 50_002)]
    assert ev.claims.height == 50_001
    assert ev.claims["status"].value_counts().sort("status").rows() == [("claimed", 50_001)]


def test_claims_quoted_only_after_the_first_chunk_are_read_like_the_csv_module(tmp_path, monkeypatch):
    """Delimiters before the chunk of the first quote are counted afterwards, once."""
    monkeypatch.setattr(source, "_CHUNK", 64)
    rows = [f"{i},A,ACC_ENTRY,2020-01-0{1 + i % 9},,,r{i}" for i in range(40)]
    rows[30] = '30,A,ACC_ENTRY,2020-01-01,,,"a, b"'
    rows[33] = "33,A,ACC_ENTRY,2020-13-01,,,r33"
    claims = write(tmp_path, "claims.csv", HEADER + "\n".join(rows) + "\n")
    register = write(tmp_path, "participants.csv", "participant_id,enrolled_on,eligible\nA,2019-01-01,true\n")
    taken = _paths_taken(monkeypatch)
    fast = _snapshot(read_once(make_contract(), claims, register, None))
    assert taken == ["fast_lazy", "fast_lazy"]  # the register's and the claims': the count vouched for them
    with pytest.MonkeyPatch.context() as mp:
        _force_csv_module(mp)
        slow = _snapshot(read_once(make_contract(), claims, register, None))
    assert fast == slow
    assert [f["line"] for f in fast[1]] == [35]


def test_a_large_quoted_file_matches_the_csv_module(tmp_path, monkeypatch):
    """Quote parity is a running sum over lines: check it across polars' batch boundaries."""
    rows = []
    for i in range(60_000):
        if i % 7 == 0:
            ref = f'"note {i}\nsecond line, with comma"'
        elif i % 11 == 0:
            ref = f'"say ""{i}"""'
        else:
            ref = f"r{i}"
        short = i % 5003 == 0
        date_ = "2020-13-01" if i % 9973 == 0 else f"2020-01-{1 + i % 28:02d}"
        rows.append(f"{i},P{i % 13},ACC_ENTRY,{date_}" + ("" if short else f",,claimed,{ref}"))
    p = write(tmp_path, "claims.csv", HEADER + "\n".join(rows) + "\n")
    taken = _paths_taken(monkeypatch)
    fast = _snapshot(read_once(make_contract(), p, None, None))
    assert taken == ["_read_structured"]
    with pytest.MonkeyPatch.context() as mp:
        _force_csv_module(mp)
        slow = _snapshot(read_once(make_contract(), p, None, None))
    assert fast == slow
    lines = {f["line"] for f in fast[1] if f["code"] == "BAD_DATE"}
    # row 9973 starts after the quoted line breaks of rows 7, 14, ... 9968 (row 0 is short: no note)
    assert 2 + 9973 + 9968 // 7 in lines


@pytest.mark.parametrize("delim", ["|", ";", "\t", "."])
def test_any_one_character_delimiter_works_on_every_reader(tmp_path, delim):
    rows = [f"1{delim}A{delim}ACC_ENTRY{delim}2020-01-01{delim}{delim}{delim}plain",
            f'2{delim}A{delim}ACC_ENTRY{delim}2020-13-01{delim}{delim}{delim}"has {delim} and ""q"""',
            f'3{delim}A{delim}ACC_ENTRY',
            f'4{delim}A{delim}ACC_ENTRY{delim}2020-01-01{delim}{delim}{delim}"two\nlines"']
    text = HEADER.replace(",", delim) + "\n".join(rows) + "\n"
    ev = claims_only(tmp_path, text, delimiter=delim)
    assert ev.claims.select("line", "evidence_ref").rows() == [
        (2, "plain"), (3, f'has {delim} and "q"'), (4, None), (5, "two\nlines")]
    assert codes(ev) == [("BAD_DATE", 3), ("BAD_ROW_LENGTH", 4), ("MISSING_VALUE", 4)]


@pytest.mark.parametrize(
    ("text", "ws_flag"),
    [
        ("claim_id,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n", False),
        ("claim_id,participant_id,outcome_id,achieved_on,case note\n1,A,ACC_ENTRY,2020-01-01,x\n", False),  # header only
        ("claim_id,participant_id,outcome_id,achieved_on\n1,A ,ACC_ENTRY,2020-01-01\n", True),
        ("claim_id,participant_id,outcome_id,achieved_on,case note\n1,A,ACC_ENTRY,2020-01-01,x\n2, A,ACC_ENTRY,2020-01-01,y\n",
         True),
        ("\n \nclaim_id,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n", False),
        (" \n \nclaim_id,participant_id,outcome_id,achieved_on\n1,A,ACC_ENTRY,2020-01-01\n", True),  # unsure: checks
    ],
)
def test_cells_are_checked_for_edge_spaces_only_when_the_data_rows_hold_a_space(tmp_path, text, ws_flag):
    p = write(tmp_path, "claims.csv", text)
    src = source.Source(p, str(p), ",")
    at = header.find_header(src, ",")
    assert src.space_from_line(at.data_start) is ws_flag
    ev = claims_only(tmp_path, text)
    assert ev.claims["participant_id"].to_list()[-1] == "A"


# --- a clean file is read in one compact query; anything to report falls back -------------------


def _detailed_only(monkeypatch):
    monkeypatch.setattr(assemble, "read_clean", lambda *a, **k: None)


def _spy_clean(monkeypatch) -> list[bool]:
    """Record, per file, whether the compact read kept it (``True``) or handed it on (``False``)."""
    kept: list[bool] = []
    original = compact.read_clean

    def spy(*args, **kwargs):
        frame = original(*args, **kwargs)
        kept.append(frame is not None)
        return frame

    monkeypatch.setattr(assemble, "read_clean", spy)
    return kept


REGISTER = "participant_id,enrolled_on,eligible,cohort\nA,2019-05-01,yes,c1\nB,2019-06-01,,\n"
RESULTS = "result_id,outcome_id,cohort,achieved_on,baseline,observed,units,status\nR1,REOFFENDING,c1,2020-06-01,1,0.5,,\n"


def test_a_clean_file_is_typed_by_the_compact_read_alone(tmp_path, monkeypatch):
    kept = _spy_clean(monkeypatch)
    typed = []
    monkeypatch.setattr(assemble, "type_detailed", lambda *a, **k: typed.append(1))
    c = write(tmp_path, "c.csv", HEADER.strip() + ",note\n1,A,ACC_ENTRY,2020-01-01,,Claimed,x,n\n"
                                 "2,B,ACC_3M,2020-05-01,2020-05-03,,,m\n")
    ev = read_once(make_contract(), c, write(tmp_path, "p.csv", REGISTER), write(tmp_path, "r.csv", RESULTS))
    assert kept == [True, True, True] and typed == []
    assert ev.claims.select("line", "claim_id", "submitted_on", "status", "note").rows() == [
        (2, "1", date(2020, 1, 1), "claimed", "n"), (3, "2", date(2020, 5, 3), "claimed", "m")]
    assert [(f.kind, f.rows) for f in ev.files] == [("claims", 2), ("participants", 2), ("results", 1)]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("1,A,ACC_ENTRY,2020-13-01,,,\n2,A,NOPE,2020-01-01,,,\n", [("BAD_DATE", 2), ("UNKNOWN_OUTCOME", 3)]),
        ("1,Z,ACC_ENTRY,2020-01-01,,,\n", [("UNKNOWN_PARTICIPANT", 2)]),
    ],
)
def test_a_few_invalid_rows_are_read_again_on_their_own(tmp_path, monkeypatch, rows, expected):
    detailed: list[str] = []
    original = assemble.type_detailed
    monkeypatch.setattr(assemble, "type_detailed", lambda raw, *a: detailed.append(raw.kind.kind) or original(raw, *a))
    c = write(tmp_path, "c.csv", HEADER + rows + "3,B,ACC_3M,2020-02-01,,,\n")
    ev = read_once(make_contract(), c, write(tmp_path, "p.csv", REGISTER), write(tmp_path, "r.csv", RESULTS))
    assert detailed == []
    assert codes(ev) == expected
    assert ev.claims["error"].to_list()[:len(expected)] == [code for code, _ in expected]
    assert ev.claims["error"].to_list()[len(expected):] == [None]


def test_many_invalid_rows_are_read_in_detail(tmp_path, monkeypatch):
    detailed: list[str] = []
    original = assemble.type_detailed
    monkeypatch.setattr(assemble, "type_detailed", lambda raw, *a: detailed.append(raw.kind.kind) or original(raw, *a))
    rows = "".join(f"{i},A,ACC_ENTRY,2020-13-01,,,\n" for i in range(1001))
    ev = claims_only(tmp_path, HEADER + rows, read=read_once)
    assert detailed == ["claims"] and len(ev.findings) == 1001


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("1,A,ACC_ENTRY,2020-01-01,,,\n1,A,ACC_ENTRY,2020-01-01,,,\n", [("DUPLICATE_ROW", 3)]),  # a warning only
        ("1,A,ACC_ENTRY,2020-01-01,,,\n2,A,ACC_ENTRY,2020-01-01,,,x \n", []),  # cells to trim
        ("R1,A,ACC_ENTRY,2020-01-01,,,\n", [("DUPLICATE_ID", 2), ("DUPLICATE_ID", 2)]),  # shared with a result
    ],
)
def test_anything_to_report_is_read_again_in_detail(tmp_path, monkeypatch, rows, expected):
    kept = _spy_clean(monkeypatch)
    detailed: list[str] = []
    original = assemble.type_detailed
    monkeypatch.setattr(assemble, "type_detailed", lambda raw, *a: detailed.append(raw.kind.kind) or original(raw, *a))
    c = write(tmp_path, "c.csv", HEADER + rows)
    ev = read_once(make_contract(), c, write(tmp_path, "p.csv", REGISTER), write(tmp_path, "r.csv", RESULTS))
    assert kept[0] is True and "participants" not in detailed  # the register is clean
    assert "claims" in detailed
    assert codes(ev) == expected


VALID_CELLS = {
    "claim_id": ["1", "2", "3", "C4", "R1"],
    "participant_id": ["A", "B", "A", "B", "Z"],
    "outcome_id": ["ACC_ENTRY", "ACC_3M", "ACC_3M", "ACC_ENTRY", "REOFFENDING", "NOPE", "ZZZ"],
    "achieved_on": ["2020-01-01", "2020-02-29", "2021-12-31", "2020-1-5"],
    "submitted_on": ["", "2020-03-01", "2022-01-01", "2019-01-01"],
    "status": ["", "claimed", "Claimed", "WITHDRAWN", "failed", "done"],
    "amount_claimed": ["", "500.00", "12", "1.005"],
    "note": ["", "x", "z", " y", "a,b"],
}


@st.composite
def mostly_clean_files(draw) -> tuple[str, str]:
    """A claims file and a results file: usually clean, sometimes with one thing to report."""
    def cell(name: str) -> str:
        values = VALID_CELLS[name]
        # the first three values of each column are clean; the rest appear now and then
        return draw(st.sampled_from(values[:3]) if draw(st.integers(0, 9)) else st.sampled_from(values))

    n = draw(st.integers(0, 8))
    lines = []
    for i in range(n):
        row = {name: cell(name) for name in VALID_CELLS}
        if draw(st.integers(0, 9)):
            row["claim_id"] = f"K{i}"  # ids are usually distinct
        note = row["note"]
        row["note"] = f'"{note}"' if "," in note else note
        lines.append(",".join(row.values()))
        if not draw(st.integers(0, 9)):
            lines.append("")
    claims = ",".join(VALID_CELLS) + "\n" + "".join(line + draw(st.sampled_from(["\n", "\r\n"])) for line in lines)
    result_id = draw(st.sampled_from(["R1", "R1", "R1", "K0"]))
    results = f"result_id,outcome_id,cohort,achieved_on,baseline,observed\n{result_id},REOFFENDING,c1,2020-06-01,1,0.5\n"
    return claims, results


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=mostly_clean_files())
def test_the_compact_read_matches_the_detailed_reading(tmp_path_factory, files):
    tmp_path = tmp_path_factory.mktemp("clean")
    c, r = write(tmp_path, "c.csv", files[0]), write(tmp_path, "r.csv", files[1])
    reg = write(tmp_path, "p.csv", REGISTER)
    compact, detailed = _read_both_ways(lambda: read_once(make_contract(), c, reg, r), _detailed_only)
    assert compact == detailed


@pytest.mark.parametrize("rows", ["1,A,ACC_ENTRY,2020-01-01,,Failed,x\n", "1,A,ACC_ENTRY,2020-13-01,,,x\n"])
def test_claim_columns_keeps_only_the_columns_asked_for_on_either_reading(tmp_path, rows):
    c = write(tmp_path, "c.csv", HEADER + rows + "2,A,ACC_3M,2020-05-01,,,y\n")
    full = read_evidence(make_contract(), c, None, None)
    cut_down = read_evidence(make_contract(), c, None, None, claim_columns=("status", "achieved_on", "error"))
    assert cut_down.claims.columns == ["claim_id", "achieved_on", "status", "error"]  # the id always
    assert cut_down.claims.equals(full.claims.select(cut_down.claims.columns))
    assert _snapshot(cut_down)[1:] == _snapshot(full)[1:]  # the same findings and files


def test_columns_out_of_the_reading_query_are_cut_into_the_same_pieces():
    """A column in other pieces than the rest makes polars copy the whole frame on the next filter."""
    a = pl.concat([pl.DataFrame({"a": [1, 2, 3]}), pl.DataFrame({"a": [4, 5]}), pl.DataFrame({"a": [6]})], rechunk=False)
    b = pl.concat([pl.Series("b", ["x", None, None]), pl.Series("b", [None, None, "y"])], rechunk=False)
    df = a.with_columns(b, c=pl.lit(None, pl.String))
    assert df["b"].chunk_lengths() != df["a"].chunk_lengths()
    out = frames._aligned(df)
    assert out["b"].chunk_lengths() == out["a"].chunk_lengths() == [3, 2, 1]
    assert out.equals(df) and out.n_chunks("all")[2] == 1  # the constant column is left alone
    added = frames.beside(out, pl.Series("d", [9, 8, 7, 6, 5, 4]), pl.Series("a", [0] * 6))
    assert added["d"].chunk_lengths() == added["a"].chunk_lengths() == [3, 2, 1]  # new and replaced alike
    assert added["d"].to_list() == [9, 8, 7, 6, 5, 4] and added["a"].to_list() == [0] * 6


def test_a_big_clean_read_keeps_the_streaming_pieces_and_its_register_rows_sit_beside_them(tmp_path):
    """A column in other pieces than the rest makes polars copy the whole frame (+0.4 GB at 10M claims)."""
    n = 200_000
    reg = "participant_id,enrolled_on\n" + "".join(f"P{i:07d},2019-05-01\n" for i in range(n // 4))
    claims = HEADER + "".join(f"{i},P{(7 * i) % (n // 4):07d},ACC_ENTRY,2020-01-01,,,\n" for i in range(n))
    c, r = write(tmp_path, "c.csv", claims), write(tmp_path, "p.csv", reg)
    if pl.scan_csv(c).collect(engine="streaming")["claim_id"].n_chunks() < 2:
        pytest.skip("this polars reads the file in one piece")
    ev = read_once(make_contract(), c, r, None)
    pieces = ev.claims["claim_id"].chunk_lengths()
    assert len(pieces) > 1  # not copied into one piece
    assert ev.participant_rows.chunk_lengths() == pieces
    assert all(ev.claims[name].chunk_lengths() == pieces for name in ev.claims.columns if ev.claims[name].n_chunks() > 1)


@pytest.mark.parametrize(
    ("pieces", "distinct"),
    [
        ([["a", "b"], ["c", "d"]], True),
        ([["a", "b"], ["b", "c"]], False),  # repeated across the edge of two pieces
        ([["a", "b", "b"], ["c"]], False),  # within a piece
        ([["a"], [], ["a"]], False),  # across an empty piece
        ([["a"], [], ["b"], ["c", "c"]], False),
        ([[], ["a"], ["b"]], True),
    ],
)
def test_sorted_ids_are_distinct_only_without_equal_neighbours_in_any_piece(pieces, distinct):
    ids = pl.concat([pl.Series("id", p, dtype=pl.String) for p in pieces], rechunk=False)
    assert ids.n_chunks() == sum(1 for p in pieces if p)
    assert duplicates.ids_distinct(ids.set_sorted()) is distinct
    assert duplicates.ids_distinct(ids.rechunk()) is distinct
