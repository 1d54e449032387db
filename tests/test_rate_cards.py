"""Rate-card mechanics of SPEC 11, worked by hand from the spec's text.

Each feature has unit tests on the contract reader and the engine, with its
boundaries, and at least one test that writes real files and runs the real
``sob`` command.  The expected amounts are worked out in the comments, not
copied from the program's output.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import contract_dict, make_contract, write_claims
from typer.testing import CliRunner

from sob.cli import app
from sob.contract import check_contract_text
from sob.money import split_largest_remainder


def _findings(doc: dict[str, Any]) -> list[tuple[str, str]]:
    _, findings = check_contract_text(tomli_w.dumps(doc), Path("contract.toml"))
    return [(f.code, f.message) for f in findings]


def _contract(doc: dict[str, Any]) -> Any:
    contract, findings = check_contract_text(tomli_w.dumps(doc), Path("contract.toml"))
    assert not findings, findings
    return contract


def _sob(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          check=False)


# --------------------------------------------------------------------------------------
# 11.2 fractional shares
# --------------------------------------------------------------------------------------

THIRDS = [{"id": "A", "share": "1/3"}, {"id": "B", "share": " 1 / 3 "}, {"id": "C", "share": "1/3"}]


def test_three_thirds_sum_to_exactly_one():
    c = _contract(contract_dict(payers=THIRDS))
    assert [p.share for p in c.payers] == [Fraction(1, 3)] * 3


def test_a_decimal_share_is_the_fraction_it_writes_and_may_be_mixed_with_fractions():
    c = _contract(contract_dict(payers=[{"id": "A", "share": 0.5}, {"id": "B", "share": "1/3"},
                                        {"id": "C", "share": "1/6"}]))
    assert c.payers[0].share == Decimal("0.5")  # a version-1 share is read as before
    assert sum(Fraction(p.share) for p in c.payers) == 1


def test_a_fraction_in_an_outcome_split():
    c = _contract(contract_dict(payers=THIRDS, outcomes=[{"id": "P", "price": 1, "payers": {"A": "2/3", "C": "1/3"}}]))
    assert c.shares_for(c.outcome("P")) == [Fraction(2, 3), Fraction(0), Fraction(1, 3)]


@pytest.mark.parametrize("bad", ["0/3", "3/0", "-1/3", "+1/3", "1.5/3", "4/3", "a/b", "2/3x", "1/3/3", "/3", "١/٣"])
def test_a_share_fraction_that_is_not_p_over_q_of_positive_integers_at_most_one_is_bad(bad):
    findings = _findings(contract_dict(payers=[{"id": "A", "share": bad}, {"id": "B", "share": "1/3"}]))
    assert [code for code, _ in findings] == ["BAD_SHARE"], findings


def test_fractions_that_do_not_sum_to_one_are_reported_as_a_fraction():
    # 1/3 + 1/3 + 1/4 = 11/12
    findings = _findings(contract_dict(payers=[*THIRDS[:2], {"id": "C", "share": "1/4"}]))
    assert [code for code, _ in findings] == ["SHARES_NOT_ONE"]
    assert "11/12" in findings[0][1]


def test_decimal_shares_that_do_not_sum_to_one_are_shown_as_before():
    findings = _findings(contract_dict(payers=[{"id": "A", "share": 0.5}, {"id": "B", "share": 0.4}]))
    assert [code for code, _ in findings] == ["SHARES_NOT_ONE"]
    assert "sum to 0.9," in findings[0][1]


def test_a_penny_between_three_thirds_goes_to_the_payer_listed_first():
    # 1 × 1/3 = 1/3 each: floors 0, 0, 0; one unit left; equal remainders: the first payer takes it.
    assert split_largest_remainder(1, [Fraction(1, 3)] * 3) == [1, 0, 0]
    # 2 units: floors 0; two left, to the first two payers.
    assert split_largest_remainder(2, [Fraction(1, 3)] * 3) == [1, 1, 0]


def test_two_thirds_and_one_third_split_on_the_exact_products():
    # 100 × 2/3 = 66 + 2/3, 100 × 1/3 = 33 + 1/3: one unit left, to the larger remainder (2/3).
    assert split_largest_remainder(100, [Fraction(1, 3), Fraction(2, 3)]) == [33, 67]
    # 1000 × 1/3 = 333 + 1/3 and 1000 × 2/3 = 666 + 2/3 (a decimal 0.333 would give 333 exactly).
    assert split_largest_remainder(1000, [Fraction(1, 3), Fraction(2, 3)]) == [333, 667]


def test_thirds_through_files_and_the_command(tmp_path):
    """Three payers in thirds and an outcome split 2/3, 7/30, 1/10, through ``sob pay``."""
    contract = make_contract(tmp_path, payers=THIRDS, outcomes=[
        {"id": "X", "price": "0.01"},
        {"id": "Y", "price": "100.00", "payers": {"A": "2/3", "B": "7/30", "C": 0.1}},
    ])
    claims = write_claims(tmp_path / "claims.csv", [("1", "P", "X", "2020-02-01"), ("2", "P", "Y", "2020-02-01"),
                                                   ("3", "Q", "Y", "2020-02-02")])
    assert _sob("validate", contract, cwd=tmp_path).returncode == 0
    out = tmp_path / "out.csv"
    run = _sob("pay", contract, "--claims", claims, "--quarter", "2020-Q1", "--format", "json", "--export", out,
               cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # X: 1 unit in thirds -> A 1, B 0, C 0.
    # Y: 10000 × 2/3 = 6666 r 2/3, × 7/30 = 2333 r 1/3, × 1/10 = 1000 r 0; one unit left -> A: 6667, 2333, 1000.
    # Two Y claims: A 1 + 13334 = 13335, B 4666, C 2000.
    by_payer = {p["payer_id"]: p["entitled"] for p in json.loads(run.stdout)["by_payer"]}
    assert by_payer == {"A": "133.35", "B": "46.66", "C": "20.00"}
    assert json.loads(run.stdout)["totals"]["entitled"] == "200.01"
    exported = out.read_text(encoding="utf-8")
    assert "due_A" in exported.splitlines()[0]


def test_a_bad_fraction_through_the_command(tmp_path):
    contract = make_contract(tmp_path, payers=[{"id": "A", "share": "2/0"}])
    run = _sob("validate", contract, "--format", "json", cwd=tmp_path)
    assert run.returncode == 1
    assert [f["code"] for f in json.loads(run.stdout)["findings"]] == ["BAD_SHARE"]


# --------------------------------------------------------------------------------------
# 11.1 payer caps
# --------------------------------------------------------------------------------------


def _pay(tmp_path: Path, payers: list[dict[str, Any]], claims: list[tuple[str, ...]], **contract: Any,
         ) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """``sob pay --format json --export`` through real files: the summary and the exported rows by claim id."""
    path = make_contract(tmp_path, payers=payers, **contract)
    evidence = write_claims(tmp_path / "claims.csv", claims)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["pay", str(path), "--claims", str(evidence), "--quarter", "2020-Q1",
                                      "--format", "json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {row["claim_id"]: row for row in csv.DictReader(fh)}
    return json.loads(result.stdout), rows


def _cols(rows: dict[str, dict[str, str]], *names: str) -> dict[str, tuple[str, ...]]:
    return {cid: tuple(row[n] for n in names) for cid, row in rows.items()}


THOUSANDS = [(str(i), f"P{i}", "X", f"2020-02-0{i}") for i in range(1, 5)]
OUTCOME_X = [{"id": "X", "price": "1000.00"}]


def test_a_cut_payer_pays_up_to_its_cap_and_nobody_pays_the_rest(tmp_path):
    # KC 0.7, LCF 0.3 capped at 500: LCF parts 300, then 200 (its headroom), then 0.
    summary, rows = _pay(tmp_path, [{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": "500.00"}],
                         THOUSANDS[:3], outcomes=OUTCOME_X)
    assert _cols(rows, "status", "reason", "entitled", "due_KC", "due_LCF") == {
        "1": ("paid", "", "1000.00", "700.00", "300.00"),
        "2": ("partial", "PAYER_CAP", "900.00", "700.00", "200.00"),
        "3": ("partial", "PAYER_CAP", "700.00", "700.00", "0.00"),
    }
    lcf = summary["by_payer"][1]
    assert lcf["cap"] == {"limit": "500.00", "used": "500.00", "headroom": "0.00"}
    assert "cap" not in summary["by_payer"][0]
    assert summary["totals"]["partial"] == 2


def test_a_shift_payer_passes_its_excess_to_the_other_payer(tmp_path):
    # LCF's excess 100 (claim 2) and 300 (claim 3) go to KC; every claim is paid in full.
    _, rows = _pay(tmp_path, [{"id": "KC", "share": 0.7},
                              {"id": "LCF", "share": 0.3, "cap": "500.00", "on_cap": "shift"}],
                   THOUSANDS[:3], outcomes=OUTCOME_X)
    assert _cols(rows, "status", "reason", "due_KC", "due_LCF") == {
        "1": ("paid", "", "700.00", "300.00"), "2": ("paid", "", "800.00", "200.00"),
        "3": ("paid", "", "1000.00", "0.00"),
    }


def test_a_shift_that_exhausts_a_second_payer(tmp_path):
    # A 0.5 (cap 600, shift), B 0.3 (cap 650, shift), C 0.2 (cap 1500, shift); claims of 1000.
    # 1: 500 / 300 / 200.
    # 2: split 500 / 300 / 200; A has 100 left: A = 100, its 400 goes to B and C by 3/5 and 2/5: 240 and 160,
    #    so B = 540 > its 350 left: B = 350, its 190 goes to C: C = 200 + 160 + 190 = 550.  Paid 1000.
    # 3: A and B have nothing left: C takes 500 + 300 + 200 = 1000 but has 750 left: C = 750, the 250 is
    #    dropped (nobody is left unfixed).  Paid 750, partial, PAYER_CAP.
    # 4: every payer is exhausted: capped, PAYER_CAP.
    summary, rows = _pay(tmp_path, [{"id": "A", "share": 0.5, "cap": "600", "on_cap": "shift"},
                                    {"id": "B", "share": 0.3, "cap": "650", "on_cap": "shift"},
                                    {"id": "C", "share": 0.2, "cap": "1500", "on_cap": "shift"}],
                         THOUSANDS, outcomes=OUTCOME_X)
    assert _cols(rows, "status", "reason", "entitled", "due_A", "due_B", "due_C") == {
        "1": ("paid", "", "1000.00", "500.00", "300.00", "200.00"),
        "2": ("paid", "", "1000.00", "100.00", "350.00", "550.00"),
        "3": ("partial", "PAYER_CAP", "750.00", "0.00", "0.00", "750.00"),
        "4": ("capped", "PAYER_CAP", "0.00", "0.00", "0.00", "0.00"),
    }
    assert [p["cap"]["headroom"] for p in summary["by_payer"]] == ["0.00", "0.00", "0.00"]


def test_all_or_nothing_a_claim_cut_by_a_payer_cap_is_paid_nothing_and_uses_no_headroom(tmp_path):
    # partial = false: claim 2 would give LCF 300 with 200 left, so it is paid nothing (capped, PAYER_CAP)
    # and uses nothing; claim 3 likewise; claim 4 (500: 350 / 150) fits LCF's 200 and is paid in full.
    claims = [*THOUSANDS[:3], ("4", "P4", "Y", "2020-02-04")]
    _, rows = _pay(tmp_path, [{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": "500.00"}],
                   claims, outcomes=[*OUTCOME_X, {"id": "Y", "price": "500.00"}], caps={"partial": False})
    assert _cols(rows, "status", "reason", "due_KC", "due_LCF") == {
        "1": ("paid", "", "700.00", "300.00"), "2": ("capped", "PAYER_CAP", "0.00", "0.00"),
        "3": ("capped", "PAYER_CAP", "0.00", "0.00"), "4": ("paid", "", "350.00", "150.00"),
    }


def test_a_claim_already_cut_by_another_cap_keeps_its_reason_and_the_contract_cap_counts_what_was_paid(tmp_path):
    # total 1500; LCF 0.3 capped at 400 (cut).
    # 1: 1000 (700 / 300).  2: A = min(1000, 500) = 500, CONTRACT_CAP: 350 / 150, LCF has 100: 350 / 100, paid 450.
    # 3: the contract has 1500 - 1450 = 50 left: 35 / 15, LCF has 0: paid 35, still CONTRACT_CAP.
    summary, rows = _pay(tmp_path, [{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": 400}],
                         THOUSANDS[:3], outcomes=OUTCOME_X, caps={"total": 1500})
    assert _cols(rows, "status", "reason", "entitled", "due_KC", "due_LCF") == {
        "1": ("paid", "", "1000.00", "700.00", "300.00"),
        "2": ("partial", "CONTRACT_CAP", "450.00", "350.00", "100.00"),
        "3": ("partial", "CONTRACT_CAP", "35.00", "35.00", "0.00"),
    }
    assert summary["caps"]["total"] == {"limit": "1500.00", "used": "1485.00", "headroom": "15.00"}


def test_a_payer_that_is_not_in_a_claims_split_takes_no_part_and_its_cap_does_not_matter(tmp_path):
    # LCF's cap is 0, but outcome Y is paid by KC alone.
    _, rows = _pay(tmp_path, [{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": 0}],
                   [("1", "P1", "Y", "2020-02-01"), ("2", "P2", "X", "2020-02-02")],
                   outcomes=[*OUTCOME_X, {"id": "Y", "price": "1000.00", "payers": {"KC": 1}}])
    assert _cols(rows, "status", "reason", "due_KC", "due_LCF") == {
        "1": ("paid", "", "1000.00", "0.00"), "2": ("partial", "PAYER_CAP", "700.00", "0.00"),
    }


def test_payer_cap_parts_are_recorded_and_previously_paid_is_their_parts(tmp_path):
    # Q1: claim 1 (700 / 300).  Q2 adds claim 2: LCF has 200 left (cut): 700 / 200.  Without a ledger,
    # Q2's previously paid per payer is Q1's parts, so the dues are claim 2's parts.
    path = make_contract(tmp_path, payers=[{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": 500}],
                         outcomes=OUTCOME_X)
    evidence = write_claims(tmp_path / "claims.csv", [("1", "P1", "X", "2020-02-01"), ("2", "P2", "X", "2020-05-01")])
    result = CliRunner().invoke(app, ["pay", str(path), "--claims", str(evidence), "--quarter", "2020-Q2",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    payers = {p["payer_id"]: (p["entitled"], p["previously_paid"], p["due"]) for p in json.loads(result.stdout)["by_payer"]}
    assert payers == {"KC": ("1400.00", "700.00", "700.00"), "LCF": ("500.00", "300.00", "200.00")}


def test_payer_parts_rounds_by_hand():
    from sob.caps import payer_parts

    # shares 1/2, 1/3, 1/6 over D = 6; 7 units: 3.5 / 2.33 / 1.17 -> 3, 2, 1 and one left to the 1/2 payer: 4, 2, 1.
    assert payer_parts(7, [3, 2, 1], 6, [None, None, None], [False] * 3) == [4, 2, 1]
    # the first payer capped at 1 and shifting: 3 units over the others by 2/3 and 1/3: 2 and 1 -> 1, 4, 2.
    assert payer_parts(7, [3, 2, 1], 6, [1, None, None], [True, False, False]) == [1, 4, 2]
    # a headroom below zero counts as zero
    assert payer_parts(7, [3, 2, 1], 6, [-5, None, None], [False] * 3) == [0, 2, 1]


@pytest.mark.parametrize("bad", [{"on_cap": "move"}, {"cap": -1}, {"cap": "1.001"}])
def test_payer_cap_contract_checks(bad):
    codes = {"on_cap": "UNKNOWN_VALUE", "cap": None}
    findings = _findings(contract_dict(payers=[{"id": "LA", "share": 1, **bad}]))
    assert len(findings) == 1
    expected = codes["on_cap"] if "on_cap" in bad else ("NEGATIVE_MONEY" if bad["cap"] == -1 else "TOO_MANY_DECIMALS")
    assert findings[0][0] == expected


def test_explain_shows_each_capped_payers_headroom(tmp_path):
    path = make_contract(tmp_path, payers=[{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": 500}],
                         outcomes=OUTCOME_X)
    evidence = write_claims(tmp_path / "claims.csv", THOUSANDS[:2])
    result = CliRunner().invoke(app, ["explain", str(path), "--claim", "2", "--claims", str(evidence),
                                      "--quarter", "2020-Q1"])
    assert result.exit_code == 0, result.output
    # LCF had 500 - 300 = 200 left before claim 2, which took all of it
    row = next(line for line in result.output.splitlines() if "PAYER_CAP LCF" in line)
    assert row.split() == ["PAYER_CAP", "LCF", "limit", "£500.00", "−", "used", "before", "£300.00", "=", "headroom",
                           "£200.00;", "part", "paid", "£200.00;", "headroom", "after", "£0.00"]
    assert "partial (PAYER_CAP)" in result.output


def _explain_lines(tmp_path: Path, payers: list[dict[str, Any]], claim: str, label: str) -> list[str]:
    """``sob explain`` on THOUSANDS through real files: each line whose first word is ``label``, spaces squeezed."""
    path = make_contract(tmp_path, payers=payers, outcomes=OUTCOME_X)
    evidence = write_claims(tmp_path / "claims.csv", THOUSANDS)
    result = CliRunner().invoke(app, ["explain", str(path), "--claim", claim, "--claims", str(evidence),
                                      "--quarter", "2020-Q1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return [" ".join(line.split()) for line in result.output.splitlines() if line.split()[:1] == [label]]


def test_explain_shows_what_each_payers_cap_cut_or_shifted(tmp_path):
    # The shift chain of test_a_shift_that_exhausts_a_second_payer, claim 2: the other caps leave 1000.00,
    # split 500 / 300 / 200; A keeps 100 (400 over, shifted), B 350 (50 over its share), C 550 (+350).
    shift = [{"id": "A", "share": 0.5, "cap": "600", "on_cap": "shift"},
             {"id": "B", "share": 0.3, "cap": "650", "on_cap": "shift"},
             {"id": "C", "share": 0.2, "cap": "1500", "on_cap": "shift"}]
    assert _explain_lines(tmp_path, shift, "2", "split") == [
        "split £1,000.00 by share, then the payer caps:",
        "split A share £500.00 → part £100.00 (£400.00 over its cap, shifted to the claim's other payers)",
        "split B share £300.00 → part £350.00 (+£50.00 taken over from capped payers)",
        "split C share £200.00 → part £550.00 (+£350.00 taken over from capped payers)",
    ]
    # claim 3: A and B have nothing left, C takes 1000.00 but has 750.00 left: 250.00 is paid by nobody.
    assert _explain_lines(tmp_path, shift, "3", "not") == [
        "not paid £250.00 over the payer caps: paid by nobody"]
    # cut (test_a_cut_payer_pays_up_to_its_cap...): claim 2 splits 700 / 300, LCF has 200 left: 100 cut.
    cut = [{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": "500.00"}]
    assert _explain_lines(tmp_path, cut, "2", "split")[1:] == [
        "split KC share £700.00 → part £700.00",
        "split LCF share £300.00 → part £200.00 (£100.00 over its cap, cut: paid by nobody)",
    ]
    assert _explain_lines(tmp_path, cut, "2", "not") == [
        "not paid £100.00 over the payer caps: paid by nobody"]
    # claim 1 fits every cap: its parts are the plain split, and no split lines are shown
    assert _explain_lines(tmp_path, cut, "1", "split") == []


def test_a_ledger_records_the_parts_and_the_next_quarter_pays_the_rest(tmp_path):
    # Q1 closes claim 1 (700 / 300); Q2: claim 2 gets LCF's last 200.  The ledger's recorded parts
    # give the same dues as the recomputation without a ledger.
    path = make_contract(tmp_path, payers=[{"id": "KC", "share": 0.7}, {"id": "LCF", "share": 0.3, "cap": 500}],
                         outcomes=OUTCOME_X)
    evidence = write_claims(tmp_path / "claims.csv", [("1", "P1", "X", "2020-02-01"), ("2", "P2", "X", "2020-05-01")])
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    base = ["pay", str(path), "--claims", str(evidence), "--format", "json", "--ledger", str(ledger)]
    assert CliRunner().invoke(app, [*base, "--quarter", "2020-Q1", "--close"]).exit_code == 0
    result = CliRunner().invoke(app, [*base, "--quarter", "2020-Q2"])
    assert result.exit_code == 0, result.output
    payers = {p["payer_id"]: (p["previously_paid"], p["due"]) for p in json.loads(result.stdout)["by_payer"]}
    assert payers == {"KC": ("700.00", "700.00"), "LCF": ("300.00", "200.00")}
