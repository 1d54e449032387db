"""``sob.payrun`` (SPEC 6): entitled, previously paid and due, per row and per payer."""

from __future__ import annotations

import json
from decimal import Decimal

import polars as pl
from conftest import make_contract, write_claims
from engine_helpers import Caps, Outcome, Requirement, claims, contract, d
from typer.testing import CliRunner

from sob.assessment import assess
from sob.cli import app
from sob.contract import Payer
from sob.payrun import (
    TABLE_HEAD,
    RowGroup,
    _new_rows_meet_old_prerequisites,
    _rename_clashing_columns,
    accepted,
    pay_quarter,
    reason_order,
    summary,
)
from sob.quarters import Quarter

Q1, Q2 = Quarter(2020, 1), Quarter(2020, 2)
TWO_PAYERS = [Payer("LA", "Council", Decimal("0.7")), Payer("CF", "Fund", Decimal("0.3"))]


def _rows(run):
    return {r["claim_id"]: r for r in run.table.iter_rows(named=True)}


def test_without_a_ledger_previously_paid_is_last_quarters_entitlement():
    # c1 (Q1) pays 100 in Q1; in Q2 the total cap of 150 was already 100 used by c1, so c2 gets 50
    c = contract([Outcome("O", price=100)], caps=Caps(total=150))
    cl = claims([("c1", "A", "O", "2020-02-01"), ("c2", "B", "O", "2020-05-01")])
    rows = _rows(pay_quarter(c, cl, None, None, Q2))
    assert (rows["c1"]["entitled"], rows["c1"]["previously_paid"], rows["c1"]["due"]) == (100, 100, 0)
    assert (rows["c2"]["entitled"], rows["c2"]["previously_paid"], rows["c2"]["due"]) == (50, 0, 50)
    assert rows["c2"]["status"] == "partial" and rows["c2"]["reason"] == "CONTRACT_CAP"


def test_a_later_prerequisite_makes_an_earlier_claim_payable_now_not_before():
    # X needs E.  X is submitted in Q1 but E only in Q2: in Q1 X lacks its prerequisite, in Q2 it has it.
    c = contract([Outcome("E", price=100), Outcome("X", price=300, requires=(Requirement("E"),))])
    cl = claims([("x", "A", "X", "2020-03-01"), ("e", "A", "E", "2020-02-01", "2020-04-02")])
    current = assess(c, cl, None, None, Q2.end(1)).rename({"payable": "entitled"})
    assert _new_rows_meet_old_prerequisites(c, current, Q1.end(1))
    rows = _rows(pay_quarter(c, cl, None, None, Q2))
    assert (rows["x"]["entitled"], rows["x"]["previously_paid"], rows["x"]["due"]) == (300, 0, 300)
    assert (rows["e"]["entitled"], rows["e"]["previously_paid"], rows["e"]["due"]) == (100, 0, 100)


def test_a_new_claim_that_is_not_qualified_changes_nothing_earlier():
    c = contract([Outcome("E", price=100), Outcome("X", price=300, requires=(Requirement("E"),))])
    cl = claims([("x", "A", "X", "2020-03-01"), ("e", "A", "E", "2020-02-01", "2020-04-02", "withdrawn")])
    current = assess(c, cl, None, None, Q2.end(1)).rename({"payable": "entitled"})
    assert not _new_rows_meet_old_prerequisites(c, current, Q1.end(1))


def _ledger(rows, payers=("LA", "CF")):
    """What sob.ledger.previously_paid returns: per claim id its metadata, paid and paid_<payer>."""
    schema = {"claim_id": pl.String, "kind": pl.String, "participant_id": pl.String, "cohort": pl.String,
              "outcome_id": pl.String, "achieved_on": pl.Date, "submitted_on": pl.Date, "paid": pl.Int64,
              **{f"paid_{p}": pl.Int64 for p in payers}}
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_with_a_ledger_previously_paid_and_each_payers_part_come_from_it():
    c = contract([Outcome("O", price=1001)], payers=TWO_PAYERS)
    cl = claims([("c1", "A", "O", "2020-02-01")])
    day = d("2020-02-01")
    ledger = _ledger([
        ("c1", "claim", "A", None, "O", day, day, 1001, 701, 300),
        ("gone", "claim", "B", None, "O", day, day, 500, 350, 150),  # deleted from the files since
    ])
    run = pay_quarter(c, cl, None, None, Q2, ledger=ledger)
    rows = _rows(run)
    assert (rows["c1"]["due"], rows["c1"]["due_LA"], rows["c1"]["due_CF"]) == (0, 0, 0)
    gone = rows["gone"]
    assert (gone["status"], gone["reason"], gone["entitled"], gone["previously_paid"], gone["due"]) == (
        "rejected", "MISSING_FROM_EVIDENCE", 0, 500, -500)
    assert (gone["due_LA"], gone["due_CF"], gone["participant_id"]) == (-350, -150, "B")
    assert run.missing_rows == 1
    # 1001 splits 700.7 / 300.3: LA 700 + the left-over penny (remainder 0.7 > 0.3) = 701, CF 300
    totals = {p: (e, q, du) for p, e, q, du in run.payer_totals.iter_rows()}
    assert totals == {"LA": (701, 701 + 350, -350), "CF": (300, 300 + 150, -150)}


def test_ledger_ids_join_whatever_the_evidence_ids_dtype():
    c = contract([Outcome("O", price=100)], payers=TWO_PAYERS)
    cl = claims([("c1", "A", "O", "2020-02-01")]).cast({"claim_id": pl.Categorical(), "outcome_id": pl.Enum(["O"])})
    day = d("2020-02-01")
    ledger = _ledger([("c1", "claim", "A", None, "O", day, day, 60, 42, 18),
                      ("gone", "claim", "B", None, "Z", day, day, 5, 4, 1)])
    rows = _rows(pay_quarter(c, cl, None, None, Q2, ledger=ledger))
    assert (rows["c1"]["due"], rows["gone"]["due"], rows["gone"]["outcome_id"]) == (40, -5, "Z")


def test_evidence_columns_named_like_outputs_are_carried_under_another_name():
    c = contract([Outcome("O", price=100)])
    cl = claims([("c1", "A", "O", "2020-02-01")]).with_columns(reason=pl.lit("provider's"), _x=pl.lit("y"))
    renamed, _, carried = _rename_clashing_columns(c, cl, None, ["reason", "_x", "note"])
    assert carried == ["reason_evidence", "_x_evidence", "note"]
    assert {"reason_evidence", "_x_evidence"} <= set(renamed.columns)
    table = pay_quarter(c, cl, None, None, Q1, carried=["reason", "_x"]).table
    assert table.columns[: len(TABLE_HEAD)] == list(TABLE_HEAD)
    assert table.select("reason", "reason_evidence").row(0) == (None, "provider's")


def test_summary_totals_and_the_total_cap_headroom():
    c = contract([Outcome("O", price=100), Outcome("P", price=70)], caps=Caps(total=250))
    cl = claims([("1", "A", "O", "2020-02-01"), ("2", "B", "O", "2020-02-02"), ("3", "C", "P", "2020-02-03"),
                 ("4", "D", "O", "2020-02-04", None, "withdrawn")])
    s = summary(pay_quarter(c, cl, None, None, Q1))
    assert s["totals"] == {"claims": 4, "paid": 2, "partial": 1, "capped": 0, "rejected": 1,
                           "entitled": "2.50", "previously_paid": "0.00", "due": "2.50"}
    assert s["caps"] == {"total": {"limit": "2.50", "used": "2.50", "headroom": "0.00"}}
    assert s["rejections"] == {"WITHDRAWN": 1}
    assert [(o["outcome_id"], o["claims"], o["accepted"], o["entitled"]) for o in s["by_outcome"]] == [
        ("O", 3, 2, "2.00"), ("P", 1, 1, "0.50")]


def test_reason_order_and_what_counts_as_accepted():
    order = reason_order()
    assert order.index("WITHDRAWN") < order.index("VOLUME_CAP") < order.index("PARTICIPANT_CAP")
    assert order[-1] == "MISSING_FROM_EVIDENCE" and len(order) == len(set(order))
    assert accepted(RowGroup("O", "capped", "CONTRACT_CAP", 1, 0, 0, 0, 0, None))
    assert not accepted(RowGroup("O", "capped", "VOLUME_CAP", 1, 0, 0, 0, 0, None))
    assert not accepted(RowGroup("O", "rejected", "WITHDRAWN", 1, 0, 0, 0, 0, None))


def test_a_withdrawn_claim_is_clawed_back_through_the_ledger_and_the_command(tmp_path):
    """Close 2020-Q1 paying c1 and c2 (400.00 each); in Q2 c2 is withdrawn and c3 arrives:
    c2's due is -400.00, c3's 400.00, the quarter's due 0.00, and what was paid 800.00."""
    path = make_contract(tmp_path)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    runner = CliRunner()
    first = write_claims(tmp_path / "q1.csv", [("c1", "A", "P", "2020-02-01"), ("c2", "B", "P", "2020-02-02")])
    result = runner.invoke(app, ["pay", str(path), "--quarter", "2020-Q1", "--claims", str(first),
                                 "--ledger", str(ledger), "--close", "--format", "json"])
    assert result.exit_code == 0, result.output
    second = write_claims(tmp_path / "q2.csv", [("c1", "A", "P", "2020-02-01"),
                                                ("c2", "B", "P", "2020-02-02", None, "withdrawn"),
                                                ("c3", "C", "P", "2020-05-02")])
    out = tmp_path / "q2-table.csv"
    result = runner.invoke(app, ["pay", str(path), "--quarter", "2020-Q2", "--claims", str(second),
                                 "--ledger", str(ledger), "--format", "json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert (totals["entitled"], totals["previously_paid"], totals["due"]) == ("800.00", "800.00", "0.00")
    table = pl.read_csv(out, infer_schema=False)
    assert dict(table.select("claim_id", "due").iter_rows()) == {"c1": "0.00", "c2": "-400.00", "c3": "400.00"}
