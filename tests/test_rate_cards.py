"""Rate-card mechanics of SPEC 11, worked by hand from the spec's text.

Each feature has unit tests on the contract reader and the engine, with its
boundaries, and at least one test that writes real files and runs the real
``sob`` command.  The expected amounts are worked out in the comments, not
copied from the program's output.
"""

from __future__ import annotations

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
