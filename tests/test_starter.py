"""The starter contract of ``sob init`` (sob.contract.starter)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sob import columns
from sob.contract import load_contract
from sob.contract.starter import STARTER_EVIDENCE, starter_contract, starter_text, write_starter
from sob.findings import InputError
from sob.quarters import Quarter


def test_written_starter_is_a_valid_contract(tmp_path):
    path = tmp_path / "contract.toml"
    write_starter(path)
    contract, findings = load_contract(path)
    assert findings == []
    assert contract is not None
    assert [o.id for o in contract.outcomes] == ["ENTRY", "SUSTAIN_3M"]
    assert contract.outcome("SUSTAIN_3M").requires[0].outcome == "ENTRY"
    assert len(contract.payers) == 1 and contract.payers[0].share == 1
    assert contract.caps.per_participant is not None
    assert len(contract.examples) == 1


def test_text_round_trips_to_the_data():
    text = starter_text()
    assert tomllib.loads(text, parse_float=Decimal) == starter_contract()
    assert "[[payers]]" in text and "[[outcomes]]" in text
    assert text.startswith("#")


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_text("mine\n")
    with pytest.raises(InputError) as info:
        write_starter(path)
    assert info.value.exit_code == 1
    assert str(path) in info.value.message
    assert path.read_text() == "mine\n"


def test_refuses_a_directory(tmp_path):
    with pytest.raises(InputError):
        write_starter(tmp_path)


def test_creates_missing_folders(tmp_path):
    path = tmp_path / "new" / "deal" / "contract.toml"
    write_starter(path)
    assert load_contract(path)[1] == []


def test_worked_example_is_consistent_by_hand():
    """Re-derive the expectations from the rules, independently of the engine."""
    data = starter_contract()
    fy = data["contract"]["fiscal_year_start_month"]
    (example,) = data["examples"]
    entry, sustain = data["examples"][0]["claims"]
    prices = {o["id"]: o["price"] for o in data["outcomes"]}
    cap = data["caps"]["per_participant"]
    min_days = data["outcomes"][1]["requires"][0]["min_days"]
    enrolled = example["participants"][0]["enrolled_on"]
    quarter = Quarter.parse(example["quarter"])

    # Both claims are in scope at the end of the quarter; only the entry a quarter earlier.
    assert sustain["submitted_on"] <= quarter.end(fy)
    assert entry["submitted_on"] <= quarter.previous().end(fy) < sustain["submitted_on"]
    # Windows and prerequisite gap hold.
    assert entry["achieved_on"] <= enrolled + timedelta(days=data["outcomes"][0]["window_days"])
    assert entry["achieved_on"] <= sustain["achieved_on"] - timedelta(days=min_days)
    # The participant cap cuts the second payment to the headroom.
    paid_entry = min(prices["ENTRY"], cap)
    paid_sustain = min(prices["SUSTAIN_3M"], cap - paid_entry)
    assert 0 < paid_sustain < prices["SUSTAIN_3M"]
    expect = example["expect"]
    assert expect["claims"]["C1"]["entitled"] == paid_entry
    assert expect["claims"]["C2"]["entitled"] == paid_sustain
    assert expect["claims"]["C2"]["status"] == "partial"
    assert expect["claims"]["C2"]["reason"] == "PARTICIPANT_CAP"
    assert expect["entitled"] == paid_entry + paid_sustain == expect["payers"]["PAYER"]
    # Due = entitled now − entitled at the end of the previous quarter (no ledger).
    assert expect["claims"]["C1"]["due"] == 0
    assert expect["claims"]["C2"]["due"] == paid_sustain
    assert expect["due"] == expect["entitled"] - paid_entry


def test_write_starter_accepts_str_paths(tmp_path):
    target = tmp_path / "c.toml"
    write_starter(Path(str(target)))
    assert target.exists()


def test_worked_example_passes_in_the_engine(tmp_path):
    examples = pytest.importorskip("sob.contract.examples")
    path = tmp_path / "contract.toml"
    write_starter(path)
    contract, _ = load_contract(path)
    results = examples.run_examples(contract)
    assert [(r.passed, r.differences) for r in results] == [(True, [])]


# ---------------------------------------------------------------- sob init through the command line


def _sob(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_sob_init_writes_a_starter_that_validates_tests_and_pays_as_written(tmp_path):
    """A new user's first three commands all succeed on what `sob init` wrote, without editing it."""
    init = _sob(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "contract.toml", "evidence/claims.csv", "evidence/participants.csv"]
    text = (tmp_path / "contract.toml").read_text(encoding="utf-8")
    assert "[evidence]" in text and "[[examples]]" in text
    assert sum(line.startswith("#") for line in text.splitlines()) >= 20  # commented, not bare data
    validate = _sob(tmp_path, "validate", "contract.toml")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "claims 2 rows" in validate.stdout and "participants 2 rows" in validate.stdout
    test = _sob(tmp_path, "test", "contract.toml")
    assert test.returncode == 0 and test.stdout.startswith("PASS"), test.stdout
    # the template claims are the worked example's: the same quarter pays the same, by hand
    # ENTRY 500.00 paid in 2025-Q1; SUSTAIN_3M 1500.00 cut to 1800.00 - 500.00 = 1300.00 in 2025-Q2
    pay = _sob(tmp_path, "pay", "contract.toml", "--quarter", "2025-Q2", "--format", "json")
    assert pay.returncode == 0, pay.stderr
    totals = json.loads(pay.stdout)["totals"]
    assert (totals["entitled"], totals["previously_paid"], totals["due"]) == ("1800.00", "500.00", "1300.00")


def test_template_evidence_has_every_canonical_column_and_two_rows():
    for name, text in STARTER_EVIDENCE.items():
        kind = Path(name).stem
        header, *rows = text.splitlines()
        # every canonical column but those only read when a contract key turns them on (SPEC 11.4, 11.5)
        wanted = tuple(c.name for c in columns.columns_of(kind) if c.read_with is None)
        assert tuple(header.split(",")) == wanted
        assert len(rows) == 2


def test_sob_init_refuses_when_a_template_file_exists_and_writes_nothing(tmp_path):
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "participants.csv").write_text("mine\n")
    result = _sob(tmp_path, "init", "contract.toml")
    assert result.returncode == 1
    assert "participants.csv already exists" in result.stderr
    assert not (tmp_path / "contract.toml").exists() and not (tmp_path / "evidence" / "claims.csv").exists()
    assert (tmp_path / "evidence" / "participants.csv").read_text() == "mine\n"
