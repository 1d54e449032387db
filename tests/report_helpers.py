"""Helpers for the finance pack, statement and report tests: sample ledgers and an independent reading of them.

``ledger_figures`` reads the closed ``Q.csv`` files with the standard
library's csv module and ``Decimal`` (not polars, not sob), so the report's
figures are checked against a second reading of the same record.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sob.cli import app

SAMPLES = Path(__file__).parent.parent / "sample_contracts"
KIRKLEES_QUARTERS = ["2019-Q2", "2019-Q3", "2019-Q4", "2020-Q1", "2020-Q2"]
DWP_QUARTERS = ["2012-Q4", "2013-Q1", "2013-Q2", "2013-Q3", "2013-Q4"]
#: the profile added to the Kirklees copy: expected WB_1 and ACC_ENTRY claims per quarter
WB1_PROFILE = {"2019-Q3": 20, "2019-Q4": 40, "2020-Q1": 40, "2020-Q2": 40}
ACC_PROFILE = {"2019-Q4": 10, "2020-Q1": 20, "2020-Q2": 20}


def sob(*args: str | Path) -> Any:
    """``sob`` through the typer CliRunner (in process, so a ledger of several closes stays fast)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def sob_subprocess(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The real ``sob`` program in a new process."""
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, timeout=120)


def _profile_line(plan: dict[str, int]) -> str:
    return "profile = { " + ", ".join(f'"{q}" = {n}' for q, n in plan.items()) + " }\n"


def sample_copy(tmp: Path, name: str, *, profile: bool = False) -> Path:
    """A copy of a sample contract folder; with ``profile`` the Kirklees copy gets the profiles above."""
    folder = tmp / name
    shutil.copytree(SAMPLES / name, folder)
    contract = folder / "contract.toml"
    if profile:
        text = contract.read_text(encoding="utf-8")
        text = text.replace('id = "WB_1"\n', 'id = "WB_1"\n' + _profile_line(WB1_PROFILE), 1)
        text = text.replace('id = "ACC_ENTRY"\n', 'id = "ACC_ENTRY"\n' + _profile_line(ACC_PROFILE), 1)
        contract.write_text(text, encoding="utf-8")
    return contract


def close_all(contract: Path, ledger: Path, quarters: list[str]) -> None:
    """Close each quarter in turn; every close must succeed."""
    ledger.mkdir(exist_ok=True)
    for q in quarters:
        result = sob("pay", contract, "--quarter", q, "--ledger", ledger, "--close", "--format", "json")
        assert result.exit_code == 0, result.output


def pay_json(contract: Path, quarter: str, *extra: str | Path) -> dict[str, Any]:
    result = sob("pay", contract, "--quarter", quarter, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ledger_figures(ledger: Path, contract_id: str, quarters: list[str], payers: list[str]) -> dict[str, Any]:
    """Per quarter, from Q.csv alone: due, due per payer, due per outcome, rejected rows by reason, accepted per outcome."""
    out: dict[str, Any] = {"quarters": {}}
    paid = Decimal(0)
    paid_by = {p: Decimal(0) for p in payers}
    for q in quarters:
        rows = read_rows(ledger / contract_id / f"{q}.csv")
        due = sum((Decimal(r["due"]) for r in rows), Decimal(0))
        by_payer = {p: sum((Decimal(r[f"due_{p}"]) for r in rows), Decimal(0)) for p in payers}
        by_outcome: dict[str, Decimal] = {}
        accepted: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in rows:
            if r["kind"] == "adjustment":
                continue
            by_outcome[r["outcome_id"]] = by_outcome.get(r["outcome_id"], Decimal(0)) + Decimal(r["due"])
            ok = r["status"] in ("paid", "partial") or (r["status"] == "capped" and r["reason"] != "VOLUME_CAP")
            accepted[r["outcome_id"]] = accepted.get(r["outcome_id"], 0) + ok
            if r["status"] == "rejected":
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        paid += due
        for p in payers:
            paid_by[p] += by_payer[p]
        participants = {r["participant_id"] for r in rows if r["participant_id"] and Decimal(r["entitled"]) > 0}
        out["quarters"][q] = {"due": due, "by_payer": by_payer, "by_outcome": by_outcome, "accepted": accepted,
                              "reasons": reasons, "paid_to_date": paid, "paid_by": dict(paid_by),
                              "participants": len(participants), "rows": len(rows)}
    return out
