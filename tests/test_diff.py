"""`sob diff OLD NEW --quarter Q` (SPEC 10.2) through real files and the real command.

OLD: payers LA 0.7, CF 0.3; outcome P at 400.00.  Claims c1, c2 (2020-Q1)
and c3 (2020-Q2).  NEW raises P to 450.00: each claim moves by 50.00, split
LA 35.00 / CF 15.00 (both exact), so 2020-Q2 moves 150.00 in all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import make_contract, write_claims
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sob.cli import app
from sob.diff import DiffRequest, compute_diff

ROOT = Path(__file__).parent.parent
PAYERS = [{"id": "LA", "share": 0.7}, {"id": "CF", "share": 0.3}]
CLAIMS = [
    ("c1", "A", "P", date(2020, 1, 5), date(2020, 1, 10)),
    ("c2", "B", "P", date(2020, 2, 5), date(2020, 2, 10)),
    ("c3", "C", "P", date(2020, 4, 5), date(2020, 4, 10)),
]
HEAD = ("claim_id,kind,participant_id,cohort,outcome_id,achieved_on,submitted_on,old_status,new_status,old_reason,"
        "new_reason,old_price,new_price,old_entitled,new_entitled,difference,old_entitled_LA,new_entitled_LA,"
        "old_entitled_CF,new_entitled_CF")


def _pair(folder: Path, old_outcomes: list[dict[str, object]], new_outcomes: list[dict[str, object]]) -> tuple[Path, Path]:
    write_claims(folder / "claims.csv", CLAIMS)
    old = make_contract(folder, "old.toml", payers=PAYERS, outcomes=old_outcomes, evidence={"claims": "claims.csv"})
    new = make_contract(folder, "new.toml", payers=PAYERS, outcomes=new_outcomes, evidence={"claims": "claims.csv"})
    return old, new


def _sob(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_a_raised_price_moves_money_and_exits_1(tmp_path):
    old, new = _pair(tmp_path, [{"id": "P", "price": 400}], [{"id": "P", "price": 450}])
    export = tmp_path / "diff.csv"
    code, out, err = _sob("diff", old, new, "--quarter", "2020-Q2", "--format", "json", "--export", export)
    assert code == 1, err
    data = json.loads(out)
    assert data["contract"] == "t" and data["quarter"] == "2020-Q2"
    assert data["period"] == {"start": "2020-04-01", "end": "2020-06-30"}
    assert [r["claim_id"] for r in data["rows"]] == ["c1", "c2", "c3"]
    assert data["rows"][0] == {
        "claim_id": "c1", "kind": "claim", "participant_id": "A", "outcome_id": "P",
        "old": {"status": "paid", "reason": "", "price": "400.00", "entitled": "400.00",
                "payers": {"LA": "280.00", "CF": "120.00"}},
        "new": {"status": "paid", "reason": "", "price": "450.00", "entitled": "450.00",
                "payers": {"LA": "315.00", "CF": "135.00"}},
        "difference": "50.00",
    }
    assert data["by_outcome"] == [{"outcome_id": "P", "old_entitled": "1200.00", "new_entitled": "1350.00",
                                   "difference": "150.00"}]
    assert data["by_payer"] == [
        {"payer_id": "LA", "old_entitled": "840.00", "new_entitled": "945.00", "difference": "105.00"},
        {"payer_id": "CF", "old_entitled": "360.00", "new_entitled": "405.00", "difference": "45.00"},
    ]
    assert data["totals"] == {"rows": 3, "old_entitled": "1200.00", "new_entitled": "1350.00", "difference": "150.00"}
    lines = export.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEAD
    assert lines[1] == ("c1,claim,A,,P,2020-01-05,2020-01-10,paid,paid,,,400.00,450.00,400.00,450.00,50.00,"
                        "280.00,315.00,120.00,135.00")
    code, out, _ = _sob("diff", old, new, "--quarter", "2020-Q2")
    assert code == 1 and "400.00 → 450.00" in out and "money moves" in out


def test_a_contract_against_itself_lists_nothing_and_exits_0(tmp_path):
    old, _ = _pair(tmp_path, [{"id": "P", "price": 400}], [{"id": "P", "price": 400}])
    export = tmp_path / "diff.xlsx"
    code, out, err = _sob("diff", old, old, "--quarter", "2020-Q2", "--format", "json", "--export", export)
    assert code == 0, err
    assert json.loads(out)["rows"] == [] and json.loads(out)["totals"]["difference"] == "0.00"
    assert export.exists()
    csv_export = tmp_path / "diff.csv"
    assert _sob("diff", old, old, "--quarter", "2020-Q2", "--export", csv_export)[0] == 0
    assert csv_export.read_text(encoding="utf-8").splitlines() == [HEAD]


def test_a_status_change_without_money_is_listed_with_exit_0(tmp_path):
    """NEW adds outcome Q at price 0: c4 of Q is paid 0 under NEW, rejected (UNKNOWN_OUTCOME) under OLD."""
    old, new = _pair(tmp_path, [{"id": "P", "price": 400}], [{"id": "P", "price": 400}, {"id": "Q", "price": 0}])
    write_claims(tmp_path / "claims.csv", [*CLAIMS, ("c4", "D", "Q", date(2020, 4, 5), date(2020, 4, 10))])
    code, out, err = _sob("diff", old, new, "--quarter", "2020-Q2", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["claim_id"], r["old"]["status"], r["old"]["reason"], r["new"]["status"]) for r in rows] == [
        ("c4", "rejected", "UNKNOWN_OUTCOME", "paid")
    ]
    assert [o["outcome_id"] for o in json.loads(out)["by_outcome"]] == ["P", "Q"]


def test_an_outcome_only_old_has_counts_under_old(tmp_path):
    old, new = _pair(tmp_path, [{"id": "P", "price": 400}, {"id": "R", "price": 10}], [{"id": "P", "price": 400}])
    code, out, _ = _sob("diff", old, new, "--quarter", "2020-Q1", "--format", "json")
    assert code == 0 and [o["outcome_id"] for o in json.loads(out)["by_outcome"]] == ["P", "R"]


def test_usage_and_contract_errors(tmp_path):
    old, new = _pair(tmp_path, [{"id": "P", "price": 400}], [{"id": "P", "price": 450}])
    other = make_contract(tmp_path, "other.toml", contract={"id": "other"}, evidence={"claims": "claims.csv"})
    broken = tmp_path / "broken.toml"
    broken.write_text("schema = 'sob/1'\n[contract]\nid = 3\n", encoding="utf-8")
    assert _sob("diff", old, new, "--quarter", "2020-5")[0] == 2
    assert _sob("diff", old, other, "--quarter", "2020-Q2")[0] == 2
    assert _sob("diff", broken, new, "--quarter", "2020-Q2")[0] == 1
    assert _sob("diff", old, broken, "--quarter", "2020-Q2")[0] == 1
    assert _sob("diff", broken, other, "--quarter", "bad")[0] == 2  # the quarter's syntax is checked first
    export = tmp_path / "d.csv"
    assert _sob("diff", old, new, "--quarter", "2019-Q4", "--export", export)[0] == 2  # before the start
    assert not export.exists()
    code, _, err = _sob("diff", old, new, "--quarter", "2020-Q2", "--export", tmp_path / "claims.csv")
    assert code == 2 and "overwrite" in err


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    prices=st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=3),
    share=st.integers(min_value=1, max_value=99),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=200_000)),
)
def test_diff_of_a_contract_with_itself_is_always_empty(tmp_path_factory, prices, share, cap):
    folder = tmp_path_factory.mktemp("same")
    outcomes = [{"id": f"O{i}", "price": Decimal(p) / 100} for i, p in enumerate(prices)]
    payers = [{"id": "LA", "share": Decimal(share) / 100}, {"id": "CF", "share": Decimal(100 - share) / 100}]
    claims = [(f"k{i}", f"p{i % 3}", f"O{i % len(prices)}", date(2020, 1, 1 + i), date(2020, 2, 1 + i))
              for i in range(6)]
    write_claims(folder / "claims.csv", claims)
    path = make_contract(folder, payers=payers, outcomes=outcomes, evidence={"claims": "claims.csv"},
                         caps=None if cap is None else {"total": Decimal(cap) / 100})
    result = compute_diff(DiffRequest(path, path, "2020-Q1"))
    assert result.rows.height == 0 and not result.money_moves
    assert all(old == new for _, old, new in result.by_outcome + result.by_payer)


# --------------------------------------------------------------------------
# the README's CI recipe, run as written


def _recipe() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```\n", readme, re.S) if "sob diff" in b)
    script = block.split("run: |\n", 1)[1]
    return textwrap.dedent(script)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize(("new_price", "status"), [(450, 1), (400, 0)])
def test_the_readme_ci_recipe_runs_and_writes_the_step_summary(tmp_path, new_price, status):
    origin, work, bin_dir = tmp_path / "origin.git", tmp_path / "work", tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "sob"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sob "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], env=env, check=True)
    (work / "contracts").mkdir(parents=True)
    git("init", "-q", "-b", "main")
    write_claims(work / "contracts" / "claims.csv", CLAIMS)
    make_contract(work / "contracts", "kbop.toml", payers=PAYERS, outcomes=[{"id": "P", "price": 400}],
                  evidence={"claims": "claims.csv"})
    git("add", ".")
    git("commit", "-q", "-m", "contract")
    git("remote", "add", "origin", str(origin))
    git("push", "-q", "origin", "main")
    git("checkout", "-q", "-b", "edit")
    make_contract(work / "contracts", "kbop.toml", payers=PAYERS, outcomes=[{"id": "P", "price": new_price}],
                  evidence={"claims": "claims.csv"})
    summary = tmp_path / "summary.md"
    run_env = dict(env, GITHUB_BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary), CONTRACT="contracts/kbop.toml",
                   QUARTER="2020-Q2")
    done = subprocess.run(["bash", "-e", "-c", _recipe()], cwd=work, env=run_env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == status, done.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### sob diff contracts/kbop.toml 2020-Q2\n```\n")
    if status:
        assert "400.00 → 450.00" in text and "money moves" in text
    else:
        assert "no row differs" in text
    with (work / "old.toml").open(encoding="utf-8") as fh:
        assert "price = 400" in fh.read()


def test_a_shifting_payer_cap_moves_money_between_payers_not_in_total(tmp_path):
    # SPEC 11.1 in a diff: each payer's amounts are the cap walk's parts, not a fresh 70/30 split.
    # Three claims of 400 to 2020-Q2: CF's 30% is 120 each (360); with cap 200 and shift, CF pays
    # 120 + 80 and nothing more; LA takes the 160 shifted (LA 840 -> 1,000, CF 360 -> 200). Total 1,200 both ways.
    write_claims(tmp_path / "claims.csv", CLAIMS)
    capped = [{"id": "LA", "share": 0.7}, {"id": "CF", "share": 0.3, "cap": 200, "on_cap": "shift"}]
    old = make_contract(tmp_path, "old.toml", payers=PAYERS, outcomes=[{"id": "P", "price": 400}],
                        evidence={"claims": "claims.csv"})
    new = make_contract(tmp_path, "new.toml", payers=capped, outcomes=[{"id": "P", "price": 400}],
                        evidence={"claims": "claims.csv"})
    code, out, err = _sob("diff", old, new, "--quarter", "2020-Q2", "--format", "json")
    assert code == 1, err
    data = json.loads(out)
    assert data["totals"]["old_entitled"] == data["totals"]["new_entitled"] == "1200.00"
    payers = {p["payer_id"]: (p["old_entitled"], p["new_entitled"]) for p in data["by_payer"]}
    assert payers == {"LA": ("840.00", "1000.00"), "CF": ("360.00", "200.00")}


def test_an_adjustment_only_new_has_is_a_row_old_lacks(tmp_path):
    """NEW adds an adjustment of 100.00 (split 0.7/0.3: LA 70.00, CF 30.00): one row with a null old side; the
    totals move from 1,200.00 (c1, c2, c3 at 400.00) to 1,300.00, and by_payer counts it, by_outcome does not."""
    write_claims(tmp_path / "claims.csv", CLAIMS)
    outcomes = [{"id": "P", "price": 400}]
    old = make_contract(tmp_path, "old.toml", payers=PAYERS, outcomes=outcomes, evidence={"claims": "claims.csv"})
    adjustment = {"id": "a1", "on": date(2020, 2, 15), "amount": 100, "reason": "agreed on profile"}
    new = make_contract(tmp_path, "new.toml", payers=PAYERS, outcomes=outcomes, evidence={"claims": "claims.csv"},
                        adjustments=[adjustment])
    code, out, err = _sob("diff", old, new, "--quarter", "2020-Q2", "--format", "json")
    assert code == 1, err
    data = json.loads(out)
    (row,) = data["rows"]
    assert (row["claim_id"], row["kind"], row["old"], row["difference"]) == ("a1", "adjustment", None, "100.00")
    assert row["new"] == {"status": "paid", "reason": "ADJUSTMENT", "price": "100.00", "entitled": "100.00",
                          "payers": {"LA": "70.00", "CF": "30.00"}}
    assert data["totals"] == {"rows": 1, "old_entitled": "1200.00", "new_entitled": "1300.00", "difference": "100.00"}
    assert data["by_outcome"] == [{"outcome_id": "P", "old_entitled": "1200.00", "new_entitled": "1200.00",
                                   "difference": "0.00"}]
    assert {p["payer_id"]: p["new_entitled"] for p in data["by_payer"]} == {"LA": "910.00", "CF": "390.00"}
    # the other way round the adjustment is a row NEW lacks
    code, out, _ = _sob("diff", new, old, "--quarter", "2020-Q2", "--format", "json")
    assert code == 1 and json.loads(out)["rows"][0]["new"] is None
