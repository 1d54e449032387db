"""`sob validate` summaries: cheap by default, the full assessment with --quarter."""

from __future__ import annotations

import json
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
