"""Ids have a length limit (MAX_ID_LENGTH): they become file and folder names later."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sob.contract import check_contract_text
from sob.contract import format as fmt

TEMPLATE = """\
schema = "sob/1"

[contract]
id = "{contract}"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2020-12-31

[[payers]]
id = "{payer}"

[[outcomes]]
id = "{outcome}"
price = 100
"""


def text(contract: str = "c", payer: str = "LA", outcome: str = "P") -> str:
    return TEMPLATE.format(contract=contract, payer=payer, outcome=outcome)


def test_the_limit_is_64_characters():
    assert fmt.MAX_ID_LENGTH == 64  # documented in docs/contract-format.md


@pytest.mark.parametrize(("key", "line"), [("contract", 4), ("payer", 10), ("outcome", 13)])
def test_an_id_one_over_the_limit_is_bad_id_at_its_key(key, line):
    contract, findings = check_contract_text(text(**{key: "a" * (fmt.MAX_ID_LENGTH + 1)}), Path("c.toml"))
    assert contract is None
    assert [(f.code, f.line, f.col) for f in findings] == [("BAD_ID", line, 1)]
    assert "at most 64" in findings[0].message


@pytest.mark.parametrize("key", ["contract", "payer", "outcome"])
def test_an_id_at_the_limit_is_accepted(key):
    contract, findings = check_contract_text(text(**{key: "a" * fmt.MAX_ID_LENGTH}), Path("c.toml"))
    assert findings == [] and contract is not None


def test_a_300_character_contract_id_is_refused_by_sob_validate(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_text(text(contract="x" * 300))
    result = subprocess.run([sys.executable, "-m", "sob", "validate", str(path), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["line"], f["col"]) for f in findings] == [("BAD_ID", 4, 1)]
