"""The ledger's CSV files are formula-safe in a spreadsheet and read back exactly by `sob` (SPEC 9, issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from conftest import make_contract, write_claims, write_participants

IDS = ["=1+1", "-C2", "'C3"]  # a formula, a minus sign, and an apostrophe the escape itself uses
PEOPLE = ["=P1", "@P2", "+P3", "P4"]  # one claim of the outcome each (max_claims 1)


def _sob(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, timeout=60)


def test_ids_starting_with_formula_characters_survive_two_closes_and_verify(tmp_path: Path) -> None:
    """Q1 pays three claims at 400; Q2 adds one more. Read back wrongly, Q2 would pay the first three again."""
    contract = make_contract(tmp_path)
    write_participants(tmp_path / "participants.csv", [(p, date(2020, 1, 5)) for p in PEOPLE])
    q1_rows = [(i, p, "P", date(2020, 2, 1), date(2020, 3, 1)) for i, p in zip(IDS, PEOPLE, strict=False)]
    write_claims(tmp_path / "claims.csv", q1_rows)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    evidence = ["--claims", tmp_path / "claims.csv", "--participants", tmp_path / "participants.csv"]
    first = _sob("pay", contract, "--quarter", "2020-Q1", *evidence, "--ledger", ledger, "--close", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["totals"]["due"] == "1200.00"  # 3 x 400
    text = (ledger / "t" / "2020-Q1.csv").read_text(encoding="utf-8")
    # a spreadsheet shows these as text: every id is prefixed with one apostrophe, amounts are plain numbers
    assert "\n'=1+1,claim,'=P1," in text and "\n'-C2,claim,'@P2," in text and "\n''C3,claim,'+P3," in text
    assert ",400.00," in text and ",'400.00" not in text

    write_claims(tmp_path / "claims.csv", [*q1_rows, ("=HYPERLINK(1)", "P4", "P", date(2020, 4, 2), date(2020, 5, 1))])
    second = _sob("pay", contract, "--quarter", "2020-Q2", *evidence, "--ledger", ledger, "--close", "--format", "json")
    assert second.returncode == 0, second.stderr
    totals = json.loads(second.stdout)["totals"]
    assert (totals["entitled"], totals["previously_paid"], totals["due"]) == ("1600.00", "1200.00", "400.00")

    verify = _sob("ledger", "verify", ledger)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    show = _sob("ledger", "show", ledger, "--format", "json")
    assert show.returncode == 0, show.stderr
    assert "1600.00" in show.stdout or "1,600.00" in show.stdout
