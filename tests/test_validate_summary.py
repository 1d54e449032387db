"""`sob validate` summaries: cheap by default, the full assessment with --quarter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sob.cli import app

KBOP = str(Path(__file__).parent.parent / "sample_contracts" / "kirklees-bop" / "contract.toml")


def run(*args):
    return CliRunner().invoke(app, ["validate", *args])


def test_default_summary_counts_rows_and_statuses():
    result = run(KBOP, "--format", "json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)["contracts"][0]["summary"]
    claims = summary["claims"]
    assert claims["rows"] == claims.get("claimed", 0) + claims.get("withdrawn", 0) + claims.get("failed", 0)
    assert claims["invalid"] == 0
    statuses = [k for k in claims if k not in ("rows", "invalid")]
    assert len(statuses) > 1 and statuses == sorted(statuses)  # listed by name, whatever the frame's type


def test_quarter_summary_matches_pay():
    result = run(KBOP, "--quarter", "2021-Q2", "--format", "json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)["contracts"][0]["summary"]
    pay = json.loads(CliRunner().invoke(app, ["pay", KBOP, "--quarter", "2021-Q2", "--format", "json"]).stdout)
    assert summary["as_at"] == {"quarter": "2021-Q2"}
    for status in ("paid", "partial", "capped", "rejected"):
        assert summary["status"].get(status, 0) == pay["totals"][status]
    assert {k: v for k, v in summary["reasons"].items() if k in pay["rejections"]} == pay["rejections"]


def test_bad_quarter_is_a_usage_error():
    assert run(KBOP, "--quarter", "2021-Q5").exit_code == 2


# --- the summary line counts what is there ------------------------------------


def _mhep_with_bad_dates(tmp_path: Path, rows: int) -> Path:
    """The MHEP sample with ``rows`` bad dates in the claims file, and nothing else wrong."""
    import shutil

    shutil.copytree(Path(KBOP).parent.parent / "mhep-employment", tmp_path / "mhep")
    claims = tmp_path / "mhep" / "evidence" / "claims.csv"
    lines = claims.read_text(encoding="utf-8").splitlines(keepends=True)
    for i in range(1, rows + 1):
        cells = lines[i].split(",")
        cells[3] = "not-a-date"
        lines[i] = ",".join(cells)
    claims.write_text("".join(lines), encoding="utf-8")
    return tmp_path / "mhep" / "contract.toml"


def _sob(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_summary_names_how_many_of_the_files_have_problems(tmp_path):
    contract = _mhep_with_bad_dates(tmp_path, 5)
    result = _sob("validate", "mhep/contract.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("BAD_DATE") == 5
    # contract, claims and participants were checked; only the claims file has errors
    assert result.stderr.strip().splitlines()[-1] == "5 errors in 1 of 3 files"
    assert contract.exists()


def test_contracts_sharing_evidence_count_each_problem_and_file_once(tmp_path):
    contract = _mhep_with_bad_dates(tmp_path, 4)
    twin = contract.with_name("twin.toml")
    twin.write_text(contract.read_text(encoding="utf-8"), encoding="utf-8")
    result = _sob("validate", "mhep/contract.toml", "mhep/twin.toml", "mhep/contract.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("BAD_DATE") == 4  # the shared claims file's errors, once
    # four distinct files: two contracts, the claims and the participants
    assert result.stderr.strip().splitlines()[-1] == "4 errors in 1 of 4 files"
    data = json.loads(_sob("validate", "mhep/contract.toml", "mhep/twin.toml", "--format", "json", cwd=tmp_path).stdout)
    assert data["errors"] == len(data["findings"]) == 4


def test_summary_line_counts_files_with_findings():
    from sob.findings import Finding
    from sob.render.findings import summary_line

    findings = [Finding("BAD_DATE", "m", file="c.csv", line=n) for n in range(2, 250)]
    assert summary_line(findings, 3) == "248 errors in 1 of 3 files"
    findings.append(Finding("X", "m", file="contract.toml", severity="warning"))
    assert summary_line(findings, 3) == "248 errors, 1 warning in 2 of 3 files"
    assert summary_line(findings, 2) == "248 errors, 1 warning in 2 files"
