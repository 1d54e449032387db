"""`sob explain`: every rule evaluated, the arithmetic shown, and the ledger's history of a claim."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from engine_helpers import Caps, Outcome, claims, contract

from sob.explain import explain_claim
from sob.payrun import pay_quarter
from sob.quarters import Quarter
from sob.render.console import human_money
from sob.rules import CLAIM_RULES, RESULT_RULES
from sob.workflows import EvidencePaths, PayRequest, close_and_export, compute_pay

ROOT = Path(__file__).parent.parent
SAMPLES = ROOT / "sample_contracts"


def sob(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("sample", "quarter"),
    [("mhep-employment", "2021-Q1"), ("dwp-innovation-fund", "2015-Q3"), ("peterborough", "2018-Q1"),
     ("norfolk-families", "2023-Q1")],
)
def test_the_first_failing_rule_is_the_engines_reason(sample, quarter):
    """Each rule is evaluated on its own; the first FAIL must be the reason the engine gave.

    This ties the story's independent evaluation to the vectorised rules on
    every claim of a real sample: a wrong condition in either shows here.
    """
    outcome = compute_pay(PayRequest(SAMPLES / sample / "contract.toml", quarter, EvidencePaths(), None))
    checked = 0
    for claim_id, kind, reason in outcome.run.table.select("claim_id", "kind", "reason").iter_rows():
        story = explain_claim(outcome.run, claim_id)
        rules = CLAIM_RULES if kind == "claim" else RESULT_RULES
        assert [s.code for s in story.steps] == list(rules), claim_id
        assert {s.verdict for s in story.steps} <= {"pass", "fail", "n/a"}
        fails = [s.code for s in story.steps if s.verdict == "fail"]
        expected = reason if reason in rules else None
        assert (fails[0] if fails else None) == expected, (claim_id, reason, fails)
        assert [s.code for s in story.steps if s.decides] == ([expected] if expected else [])
        checked += 1
    assert checked > 0


def test_rules_after_the_first_failure_are_still_evaluated():
    """A withdrawn claim that is also late and out of the contract period shows all three failures."""
    c = contract([Outcome("A", price=50000)])
    cl = claims([("1", "p1", "A", "2019-06-01", "2020-02-01", "withdrawn")])
    run = pay_quarter(c, cl, None, None, Quarter(2020, 1))
    story = explain_claim(run, "1")
    verdicts = {s.code: s.verdict for s in story.steps}
    assert verdicts["WITHDRAWN"] == "fail"
    assert verdicts["OUT_OF_CONTRACT_PERIOD"] == "fail"  # achieved before the contract started
    assert verdicts["INELIGIBLE"] == "n/a"  # no register given
    assert "skip" not in verdicts.values()
    assert [s.code for s in story.steps if s.decides] == ["WITHDRAWN"]


def test_cap_arithmetic_is_shown_with_formatted_amounts(tmp_path):
    c = contract([Outcome("A", price=150000)], caps=Caps(total=200000))
    run = pay_quarter(c, claims([("1", "p1", "A", "2020-02-01"), ("2", "p2", "A", "2020-02-02")]), None, None, Quarter(2020, 1))
    story = explain_claim(run, "2")
    assert [(k.cap, k.limit, k.used_before, k.headroom_before) for k in story.caps] == [("CONTRACT_CAP", 200000, 150000, 50000)]
    assert story.payable == 50000 and story.price == 150000


def test_explain_command_shows_every_rule_the_arithmetic_and_no_skip():
    dwp = SAMPLES / "dwp-innovation-fund" / "contract.toml"
    run = compute_pay(PayRequest(dwp, "2015-Q1", EvidencePaths(), None)).run
    partial = str(run.table.filter(pl.col("status") == "partial")["claim_id"][0])
    result = sob("explain", str(dwp), "--quarter", "2015-q1", "--claim", partial)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "skip" not in out
    for rule in CLAIM_RULES:
        assert rule in out
    assert re.search(r"PARTICIPANT_CAP\s+limit £11,700\.00 − used before £[0-9,]+\.\d\d = headroom", out), out
    assert "payable" in out and "status: partial (PARTICIPANT_CAP)" in out


def test_explain_with_a_ledger_says_what_each_closed_quarter_paid(tmp_path):
    shutil.copytree(SAMPLES / "mhep-employment", tmp_path / "mhep")
    contract_file = tmp_path / "mhep" / "contract.toml"
    (tmp_path / "ledger").mkdir()
    for q in ("2019-Q3", "2019-Q4"):  # closed in-process: only the command under test pays for a start-up
        req = PayRequest(contract_file, q, EvidencePaths(), tmp_path / "ledger", close=True)
        close_and_export(req, compute_pay(req))
    run = compute_pay(PayRequest(contract_file, "2019-Q4", EvidencePaths(), tmp_path / "ledger")).run
    # a claim first paid in 2019-Q4: not in the 2019-Q3 table, its due recorded in 2019-Q4
    new = run.table.filter((pl.col("previously_paid") == 0) & (pl.col("due") > 0)).row(0, named=True)
    result = sob("explain", "mhep/contract.toml", "--quarter", "2020-Q1", "--claim", new["claim_id"], "--ledger", "ledger",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Paid in the ledger's closed quarters" in out
    due = human_money(new["due"], 2, "GBP")
    assert re.search(rf"2019-Q4\s+{re.escape(due)}\s+{re.escape(due)}", out), out
    assert re.search(r"2019-Q3\s+(not in the ledger|£0\.00\s+£0\.00)", out), out
