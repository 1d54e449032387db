"""The pre-commit hooks: what they run, when they run, and the README's snippet run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sob.contract.changed import contracts_for_changed
from sob.contract.starter import write_starter

ROOT = Path(__file__).parent.parent


def test_hooks_file_names_sob_commands():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)", text, re.M)
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    assert "sob-validate" in ids
    assert entries and all(e.startswith("sob ") for e in entries)
    assert "sob-validate" in (ROOT / "README.md").read_text()


def test_sob_validate_hook_matches_evidence_files_not_only_contracts():
    """A commit that changes only a claims file must run the hook (issue 16)."""
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    block = text.split("- id: sob-validate\n", 1)[1].split("\n- id:", 1)[0]
    files = re.search(r"^  files: (.+)$", block, re.M)
    assert files is not None and "types:" not in block  # a `types: [toml]` filter would drop CSVs again
    pattern = re.compile(files.group(1))
    for changed in ("contracts/kbop/contract.toml", "kbop.toml", "evidence/claims.csv", "a/b/register.parquet",
                    "evidence/claims.xlsx"):
        assert pattern.search(changed), changed
    assert not pattern.search("README.md")


def _layout(tmp_path: Path) -> None:
    write_starter(tmp_path / "contracts" / "kbop" / "contract.toml")
    write_starter(tmp_path / "contracts" / "other" / "deal.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "contracts" / "kbop" / "notes.toml").write_text("title = 'not a contract'\n")


def test_changed_files_map_to_the_contracts_that_read_them(tmp_path):
    _layout(tmp_path)
    kbop, deal = Path("contracts/kbop/contract.toml"), Path("contracts/other/deal.toml")
    # an evidence file brings the contracts of its folder and the folders above it, nothing else
    assert contracts_for_changed([Path("contracts/kbop/evidence/claims.csv")], tmp_path) == [kbop]
    # a changed contract is itself, once, however often it is reached
    assert contracts_for_changed([deal, Path("contracts/other/evidence/participants.csv"), kbop], tmp_path) == [deal, kbop]
    # files that are not contracts and have no contract above them bring nothing
    assert contracts_for_changed([Path("pyproject.toml"), Path("contracts/kbop/notes.toml")], tmp_path) == [kbop]
    assert contracts_for_changed([Path("pyproject.toml"), Path("docs/x.csv")], tmp_path) == []


def _sob(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_validate_changed_checks_the_contract_of_a_broken_evidence_file(tmp_path):
    _layout(tmp_path)
    claims = tmp_path / "contracts" / "kbop" / "evidence" / "claims.csv"
    claims.write_text(claims.read_text().replace("2025-05-01", "01/05/2025"))
    bad = _sob(tmp_path, "validate", "--changed", "contracts/kbop/evidence/claims.csv")
    assert bad.returncode == 1
    assert "contracts/kbop/evidence/claims.csv:2:" in bad.stdout and "BAD_DATE" in bad.stdout
    # the other contract's evidence is fine, and a change that concerns no contract passes quietly
    assert _sob(tmp_path, "validate", "--changed", "contracts/other/evidence/claims.csv").returncode == 0
    none = _sob(tmp_path, "validate", "--changed", "pyproject.toml")
    assert none.returncode == 0 and "no contract among the changed files" in none.stderr
