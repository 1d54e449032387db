"""The worked example in the README is computed, not just written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sob.cli import app

DWP = Path(__file__).parent.parent / "sample_contracts" / "dwp-innovation-fund" / "contract.toml"


def test_readme_cap_example(tmp_path):
    (tmp_path / "p.csv").write_text("participant_id,enrolled_on,eligible,cohort\nA,2013-01-07,true,age-14\n")
    (tmp_path / "c.csv").write_text(
        "claim_id,participant_id,outcome_id,achieved_on,submitted_on\n"
        "1,A,QUAL_L3,2013-03-01,2013-03-01\n"
        "2,A,QUAL_L2,2013-04-01,2013-04-01\n"
        "3,A,ATTENDANCE,2013-05-01,2013-05-01\n"
        "4,A,JOB_13W,2013-06-01,2013-06-01\n"
        "5,A,JOB_26W,2013-09-02,2013-09-02\n"  # 93 days after the 13-week job: prerequisite met
    )
    out = tmp_path / "t.json"
    result = CliRunner().invoke(
        app,
        ["pay", str(DWP), "--quarter", "2013-Q3", "--claims", str(tmp_path / "c.csv"),
         "--participants", str(tmp_path / "p.csv"), "--format", "json", "--export", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["entitled"] == "11700.00"
    rows = {r["claim_id"]: r for r in json.loads(out.read_text())}
    assert [(rows[i]["status"], rows[i]["reason"], rows[i]["entitled"]) for i in "12345"] == [
        ("paid", None, "5100.00"),
        ("paid", None, "3300.00"),
        ("paid", None, "1400.00"),
        ("partial", "PARTICIPANT_CAP", "1900.00"),
        ("capped", "PARTICIPANT_CAP", "0.00"),
    ]
