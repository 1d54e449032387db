"""Adjustments (SPEC 10.6): agreed payments in the contract that no claim explains.

Every expected figure below is worked by hand in the comments, from the SPEC
text: an adjustment is a row of kind ``adjustment`` (status ``paid``, reason
``ADJUSTMENT``, price = entitled = its signed amount), never cut, counted
against the total cap (a headroom below zero counts as zero for the claims
after it), split as in 5.6 with its own ``payers`` (a negative amount as the
negative of the split of its absolute value).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import load, make_contract, write_claims, write_results
from typer.testing import CliRunner

from sob.assessment import assess
from sob.cli import app

# The base contract of conftest: payer LA (share 1), outcome P at 400.00, calendar quarters from 2020.
A1 = {"id": "a1", "on": date(2020, 2, 15), "amount": 900, "reason": "payment on profile"}
CLAIMS = [("c1", "A", "P", "2020-02-01"), ("c2", "B", "P", "2020-03-01")]


def invoke(*args: object) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def pay_json(contract: Path, quarter: str, *extra: object) -> dict[str, Any]:
    result = invoke("pay", contract, "--quarter", quarter, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def export_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def assessed(tmp_path: Path, quarter_end: str, claims: list[tuple[str, ...]], **contract: Any) -> pl.DataFrame:
    """The assessment frame of real files: the contract as loaded, the claims as read."""
    from sob.evidence import read_evidence

    c = load(make_contract(tmp_path, **contract))
    ev = read_evidence(c, write_claims(tmp_path / "claims.csv", claims), None, None)
    assert ev.ok, ev.errors
    return assess(c, ev.claims, None, None, date.fromisoformat(quarter_end))


# --------------------------------------------------------------------------
# contract checks (SPEC 11.7)


@pytest.mark.parametrize(("adjustments", "code", "text"), [
    ([A1, {**A1, "reason": "twice"}], "DUPLICATE_ID", "used twice"),
    ([{**A1, "amount": 0}], "BAD_RANGE", "must not be zero"),
    ([{**A1, "amount": "0.00"}], "BAD_RANGE", "must not be zero"),
    ([{**A1, "on": date(2019, 12, 31)}], "DATES_OUT_OF_ORDER", "before the contract start"),
    ([{**A1, "on": date(2023, 1, 1)}], "DATES_OUT_OF_ORDER", "after the contract's claims_end"),
    ([{**A1, "amount": "1.005"}], "TOO_MANY_DECIMALS", "decimal places"),
    ([{**A1, "payers": {"XX": 1}}], "UNKNOWN_REFERENCE", "not in [[payers]]"),
    ([{**A1, "payers": {"LA": 0.5}}], "SHARES_NOT_ONE", "not exactly 1"),
    ([{k: v for k, v in A1.items() if k != "reason"}], "MISSING_KEY", "no 'reason'"),
    ([{**A1, "reasn": "x"}], "UNKNOWN_KEY", "did you mean 'reason'"),
    ([{**A1, "on": "2020-02-15"}], "WRONG_TYPE", "remove the quotes"),
])
def test_validate_reports_bad_adjustments_with_code_and_line(tmp_path, adjustments, code, text):
    contract = make_contract(tmp_path, adjustments=adjustments)
    result = invoke("validate", contract, "--format", "json")
    assert result.exit_code == 1, result.output
    found = [f for f in json.loads(result.stdout)["findings"] if f["code"] == code]
    assert found and any(text in f["message"] + (f.get("hint") or "") for f in found), found
    lines = contract.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "adjustments" in line)
    assert all(f["line"] is not None and first <= f["line"] <= first + 2 * len(adjustments) + 6 for f in found), found


def test_a_valid_adjustment_is_loaded_exactly(tmp_path):
    c = load(make_contract(tmp_path, payers=[{"id": "LA", "share": 0.5}, {"id": "CF", "share": 0.5}],
                           adjustments=[{**A1, "amount": "-1234.56", "payers": {"LA": "1/3", "CF": "2/3"}}]))
    (adj,) = c.adjustments
    assert (adj.id, adj.on, adj.amount, adj.reason) == ("a1", date(2020, 2, 15), -123456, "payment on profile")
    assert [(p, str(s)) for p, s in adj.payers] == [("LA", "1/3"), ("CF", "2/3")]
    assert adj.line is not None and (tmp_path / "contract.toml").read_text().splitlines()[adj.line - 1] == "[[adjustments]]"


# --------------------------------------------------------------------------
# the assessment (no caps: independent of the cap walk)


def test_an_adjustment_is_a_paid_row_in_processing_order(tmp_path):
    # processing order (submitted_on, achieved_on, id): c1 2020-02-01, a1 2020-02-15, c2 2020-03-01
    rows = assessed(tmp_path, "2020-03-31", CLAIMS, adjustments=[A1])
    assert rows["claim_id"].to_list() == ["c1", "a1", "c2"]
    a1 = rows.row(1, named=True)
    assert (a1["kind"], a1["status"], a1["reason"], a1["price"], a1["payable"]) == (
        "adjustment", "paid", "ADJUSTMENT", 90000, 90000)
    assert a1["participant_id"] is None and a1["outcome_id"] is None
    assert a1["achieved_on"] == a1["submitted_on"] == date(2020, 2, 15)
    assert rows["payable"].to_list() == [40000, 90000, 40000]


def test_an_adjustment_is_in_scope_only_from_its_date(tmp_path):
    assert "a1" not in assessed(tmp_path, "2020-02-14", CLAIMS, adjustments=[A1])["claim_id"].to_list()
    assert "a1" in assessed(tmp_path, "2020-02-15", CLAIMS, adjustments=[A1])["claim_id"].to_list()


def test_a_negative_adjustment_is_paid_as_written(tmp_path):
    rows = assessed(tmp_path, "2020-03-31", CLAIMS, adjustments=[{**A1, "amount": "-150.25"}])
    a1 = rows.filter(pl.col("claim_id") == "a1").row(0, named=True)
    assert (a1["status"], a1["reason"], a1["price"], a1["payable"]) == ("paid", "ADJUSTMENT", -15025, -15025)


# --------------------------------------------------------------------------
# caps (these need the cap walk to treat adjustment rows as SPEC 10.6 says)


def test_headroom_goes_negative_then_later_claims_are_capped_at_zero(tmp_path):
    # total cap 1000.00: c1 400.00 paid (headroom 600.00); a1 900.00 never cut (headroom -300.00);
    # c2 400.00: a headroom below zero counts as zero -> capped, paid 0.00, reason CONTRACT_CAP.
    rows = assessed(tmp_path, "2020-03-31", CLAIMS, adjustments=[A1], caps={"total": 1000})
    got = {r["claim_id"]: (r["status"], r["reason"], r["payable"]) for r in rows.iter_rows(named=True)}
    assert got == {"c1": ("paid", None, 40000), "a1": ("paid", "ADJUSTMENT", 90000),
                   "c2": ("capped", "CONTRACT_CAP", 0)}


def test_a_negative_adjustment_gives_headroom_back(tmp_path):
    # total cap 1000.00: c1 400 (600 left), c2 400 (200 left), a1 -300.00 (500 left), c3 400 paid in full
    # (100 left). Without a1, c3 would be partial at 200.00.
    claims = [*CLAIMS, ("c3", "C", "P", "2020-03-10")]
    adjustment = {**A1, "on": date(2020, 3, 5), "amount": -300}
    rows = assessed(tmp_path, "2020-03-31", claims, adjustments=[adjustment], caps={"total": 1000})
    got = {r["claim_id"]: (r["status"], r["payable"]) for r in rows.iter_rows(named=True)}
    assert got == {"c1": ("paid", 40000), "c2": ("paid", 40000), "a1": ("paid", -30000), "c3": ("paid", 40000)}
    without = assessed(tmp_path, "2020-03-31", claims, caps={"total": 1000})
    assert without.filter(pl.col("claim_id") == "c3")["payable"].item() == 20000


@pytest.mark.parametrize("partial", [True, False])
def test_an_adjustment_is_never_cut(tmp_path, partial):
    # total cap 500.00 and a1 900.00 before any claim: a1 is paid 900.00 all the same; c1 and c2 get 0.
    rows = assessed(tmp_path, "2020-03-31", CLAIMS, adjustments=[{**A1, "on": date(2020, 1, 15)}],
                    caps={"total": 500, "partial": partial})
    got = {r["claim_id"]: (r["status"], r["payable"]) for r in rows.iter_rows(named=True)}
    assert got == {"a1": ("paid", 90000), "c1": ("capped", 0), "c2": ("capped", 0)}


# --------------------------------------------------------------------------
# the split (SPEC 5.6 with the adjustment's own payers)


@pytest.mark.parametrize(("amount", "la", "cf"), [
    # 100.00 = 10000p: LA 10000/3 = 3333.33 (rem 1/3), CF 20000/3 = 6666.67 (rem 2/3); the spare penny to CF
    ("100.00", "33.33", "66.67"),
    # the negative of the split of 100.00 (a floor split of -10000p would give -33.34 / -66.66)
    ("-100.00", "-33.33", "-66.67"),
])
def test_an_adjustment_is_split_with_its_own_payers(tmp_path, amount, la, cf):
    contract = make_contract(tmp_path, payers=[{"id": "LA", "share": 0.5}, {"id": "CF", "share": 0.5}],
                             adjustments=[{**A1, "amount": amount, "payers": {"LA": "1/3", "CF": "2/3"}}])
    claims = write_claims(tmp_path / "claims.csv", CLAIMS[:1])
    doc = pay_json(contract, "2020-Q1", "--claims", claims)
    # c1 400.00 splits 200.00 / 200.00
    by_payer = {p["payer_id"]: p["entitled"] for p in doc["by_payer"]}
    assert by_payer == {"LA": str(Decimal("200.00") + Decimal(la)), "CF": str(Decimal("200.00") + Decimal(cf))}


# --------------------------------------------------------------------------
# outputs: JSON, export, note


def test_json_fields_appear_only_when_the_contract_has_adjustments(tmp_path):
    claims = write_claims(tmp_path / "claims.csv", CLAIMS)
    plain = pay_json(make_contract(tmp_path, name="plain.toml"), "2020-Q1", "--claims", claims)
    assert "adjustments" not in plain and "adjustments" not in plain["totals"]
    # an adjustment agreed after the quarter: the keys are there, empty
    later = make_contract(tmp_path, name="later.toml", adjustments=[{**A1, "on": date(2020, 5, 1)}])
    doc = pay_json(later, "2020-Q1", "--claims", claims)
    assert doc["adjustments"] == [] and doc["totals"]["adjustments"] == 0


def test_json_counts_adjustments_apart_from_claims(tmp_path):
    claims = write_claims(tmp_path / "claims.csv", CLAIMS)
    doc = pay_json(make_contract(tmp_path, adjustments=[A1]), "2020-Q1", "--claims", claims)
    t = doc["totals"]
    # 2 claims paid 400.00 each, 1 adjustment 900.00: entitled 1700.00, nothing before 2020-Q1
    assert (t["claims"], t["paid"], t["adjustments"]) == (2, 2, 1)
    assert (t["entitled"], t["previously_paid"], t["due"]) == ("1700.00", "0.00", "1700.00")
    assert doc["by_outcome"] == [{"outcome_id": "P", "claims": 2, "accepted": 2, "entitled": "800.00", "due": "800.00"}]
    assert doc["by_payer"] == [{"payer_id": "LA", "entitled": "1700.00", "previously_paid": "0.00", "due": "1700.00"}]
    assert doc["rejections"] == {}
    assert doc["adjustments"] == [{"id": "a1", "on": "2020-02-15", "reason": "payment on profile",
                                   "entitled": "900.00", "previously_paid": "0.00", "due": "900.00"}]


def test_json_caps_total_used_counts_the_adjustment(tmp_path):
    # total cap 5000.00: c1 400 + a1 900 + c2 400 = 1700.00 used, 3300.00 headroom
    claims = write_claims(tmp_path / "claims.csv", CLAIMS)
    doc = pay_json(make_contract(tmp_path, adjustments=[A1], caps={"total": 5000}), "2020-Q1", "--claims", claims)
    assert doc["caps"]["total"] == {"limit": "5000.00", "used": "1700.00", "headroom": "3300.00"}


def test_export_has_kind_adjustment_and_the_note_column_last(tmp_path):
    claims = write_claims(tmp_path / "claims.csv", [(*CLAIMS[0], "2020-02-01", "claimed")],
                          columns=("claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on",
                                   "status"))
    contract = make_contract(tmp_path, adjustments=[{**A1, "reason": "=formula? no: settlement"}])
    out = tmp_path / "out.csv"
    assert invoke("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--export", out).exit_code == 0
    header, rows = export_rows(out)
    assert header[-1] == "note" and header.count("note") == 1
    a1 = next(r for r in rows if r["claim_id"] == "a1")
    assert (a1["kind"], a1["status"], a1["reason"], a1["price"], a1["entitled"]) == (
        "adjustment", "paid", "ADJUSTMENT", "900.00", "900.00")
    assert a1["note"] == "'=formula? no: settlement"  # a text cell, made safe for spreadsheets (SPEC 9)
    assert next(r for r in rows if r["claim_id"] == "c1")["note"] == ""


def test_no_note_column_without_adjustments(tmp_path):
    claims = write_claims(tmp_path / "claims.csv", CLAIMS)
    out = tmp_path / "out.csv"
    assert invoke("pay", make_contract(tmp_path), "--quarter", "2020-Q1", "--claims", claims, "--export",
                  out).exit_code == 0
    assert "note" not in export_rows(out)[0]


def test_an_evidence_note_column_takes_the_reasons_and_no_second_one_is_added(tmp_path):
    columns = ("claim_id", "participant_id", "outcome_id", "achieved_on", "note", "region")
    claims = write_claims(tmp_path / "claims.csv", [("c1", "A", "P", "2020-02-01", "checked by JB", "north")],
                          columns=columns)
    out = tmp_path / "out.json"
    result = invoke("pay", make_contract(tmp_path, adjustments=[A1]), "--quarter", "2020-Q1", "--claims", claims,
                    "--export", out)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert list(rows[0]).count("note") == 1
    assert list(rows[0])[-2:] == ["note", "region"]  # the evidence's own column keeps its place
    notes = {r["claim_id"]: r["note"] for r in rows}
    assert notes == {"c1": "checked by JB", "a1": "payment on profile"}


# --------------------------------------------------------------------------
# DUPLICATE_ID: a claim or result with an adjustment's id


def test_a_claim_with_an_adjustment_id_is_a_duplicate_id(tmp_path):
    contract = make_contract(tmp_path, adjustments=[A1])
    claims = write_claims(tmp_path / "claims.csv", [CLAIMS[0], ("a1", "B", "P", "2020-03-01")])
    result = invoke("validate", contract, "--claims", claims, "--format", "json")
    assert result.exit_code == 1
    (found,) = [f for f in json.loads(result.stdout)["findings"] if f["code"] == "DUPLICATE_ID"]
    assert (Path(found["file"]).name, found["line"], found["col"]) == ("claims.csv", 3, 1)
    assert "adjustment" in found["message"]
    refused = invoke("pay", contract, "--quarter", "2020-Q1", "--claims", claims)
    assert refused.exit_code == 1
    # --reject-invalid: one rejected row for the id, kind claim, only id and kind filled; the adjustment is not paid
    out = tmp_path / "out.csv"
    result = invoke("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--reject-invalid",
                    "--export", out, "--format", "json")
    assert result.exit_code == 0, result.output
    _, rows = export_rows(out)
    assert [r["claim_id"] for r in rows] == ["c1", "a1"]
    a1 = rows[1]
    assert (a1["kind"], a1["status"], a1["reason"], a1["entitled"], a1["participant_id"], a1["note"]) == (
        "claim", "rejected", "DUPLICATE_ID", "0.00", "", "")
    doc = json.loads(result.stdout)
    assert doc["totals"]["entitled"] == "400.00" and doc["adjustments"] == []
    assert doc["rejections"] == {"DUPLICATE_ID": 1}


def test_a_result_with_an_adjustment_id_becomes_an_improvement_row(tmp_path):
    outcomes = [{"id": "P", "price": 400}, {"id": "I", "kind": "improvement", "direction": "decrease", "price": 10}]
    contract = make_contract(tmp_path, outcomes=outcomes, adjustments=[A1])
    claims = write_claims(tmp_path / "claims.csv", CLAIMS[:1])
    results = write_results(tmp_path / "results.csv", [("a1", "I", "x", "2020-02-01", "2020-02-02", "10", "9", "1")])
    out = tmp_path / "out.csv"
    result = invoke("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--results", results,
                    "--reject-invalid", "--export", out)
    assert result.exit_code == 0, result.output
    a1 = [r for r in export_rows(out)[1] if r["claim_id"] == "a1"]
    assert [(r["kind"], r["reason"]) for r in a1] == [("improvement", "DUPLICATE_ID")]


# --------------------------------------------------------------------------
# the ledger: an adjustment closed, then deleted from the contract


def test_a_deleted_adjustment_after_a_close_is_missing_from_evidence(tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    claims = write_claims(tmp_path / "claims.csv", CLAIMS)
    contract = make_contract(tmp_path, adjustments=[A1])
    closed = invoke("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--ledger", ledger, "--close")
    assert closed.exit_code == 0, closed.output
    header, rows = export_rows(ledger / "t" / "2020-Q1.csv")
    assert header[-1] == "note" and [r["note"] for r in rows if r["kind"] == "adjustment"] == ["payment on profile"]
    make_contract(tmp_path)  # the adjustment deleted from the contract
    out = tmp_path / "q2.csv"
    doc = pay_json(contract, "2020-Q2", "--claims", claims, "--ledger", ledger, "--export", out)
    # a1 was paid 900.00 in 2020-Q1: its line keeps kind, note and on from the ledger; due = -900.00
    assert doc["adjustments"] == [{"id": "a1", "on": "2020-02-15", "reason": "payment on profile", "entitled": "0.00",
                                   "previously_paid": "900.00", "due": "-900.00"}]
    t = doc["totals"]
    assert (t["claims"], t["rejected"], t["adjustments"]) == (2, 0, 1)  # counted as an adjustment, not a claim
    assert (t["entitled"], t["previously_paid"], t["due"]) == ("800.00", "1700.00", "-900.00")
    assert doc["rejections"] == {}
    header, rows = export_rows(out)
    a1 = next(r for r in rows if r["claim_id"] == "a1")
    assert (a1["kind"], a1["status"], a1["reason"], a1["due"], a1["note"]) == (
        "adjustment", "rejected", "MISSING_FROM_EVIDENCE", "-900.00", "payment on profile")
    assert rows[-1]["claim_id"] == "a1"  # missing lines come after the others


def test_close_explain_and_ledger_show_through_the_real_command(tmp_path):
    """`sob pay --close`, `sob explain` and `sob ledger show` as a user runs them (a subprocess)."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    write_claims(tmp_path / "claims.csv", CLAIMS)
    make_contract(tmp_path, adjustments=[A1], caps={"total": 5000})  # a cap the adjustment counts against

    def sob(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)

    close = sob("pay", "contract.toml", "--quarter", "2020-Q1", "--claims", "claims.csv", "--ledger", "ledger",
                "--close", "--export", "q1.csv")
    assert close.returncode == 0, close.stderr
    assert "Adjustments" in close.stdout and "payment on profile" in close.stdout
    told = sob("explain", "contract.toml", "--quarter", "2020-Q1", "--claims", "claims.csv", "--claim", "a1")
    assert told.returncode == 0, told.stderr
    assert "adjustment a1" in told.stdout and "never cut" in told.stdout and "ADJUSTMENT" in told.stdout
    # c2 comes after a1, which used 900.00 of the cap's headroom
    after = sob("explain", "contract.toml", "--quarter", "2020-Q1", "--claims", "claims.csv", "--claim", "c2")
    assert after.returncode == 0, after.stderr
    assert "adjustment a1" in after.stdout and "£900.00" in after.stdout
    shown = sob("ledger", "show", "ledger", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    (q1,) = json.loads(shown.stdout)
    assert [(a["id"], a["on"], a["reason"], a["due"]) for a in q1["adjustments"]] == [
        ("a1", "2020-02-15", "payment on profile", "900.00")]
    table = sob("ledger", "show", "ledger")
    assert table.returncode == 0 and "a1 on 2020-02-15" in table.stdout


def test_the_starter_shows_a_commented_adjustment_that_is_valid_when_uncommented(tmp_path):
    from sob.contract.starter import starter_text

    text = starter_text()
    assert "\n# [[adjustments]]\n" in text and "\n[[adjustments]]" not in text  # commented: not part of the contract
    head, _, tail = text.partition("# [[adjustments]]\n")
    path = tmp_path / "contract.toml"
    path.write_text(head + "[[adjustments]]\n" + "".join(line[2:] + "\n" for line in tail.splitlines()),
                    encoding="utf-8")
    c = load(path)  # its worked example (2025-Q2, ending 2025-09-30) still passes: the adjustment comes later
    assert [(a.id, a.on, a.amount) for a in c.adjustments] == [("ADJ-2025-Q3-PROFILE", date(2025, 12, 31), 1200000)]
    assert invoke("test", path).exit_code == 0
