"""Evidence paths stay in the contract's folder, links included (sob.contract.paths, SPEC 3.2).

Every test plants a secret file outside the contract's folder and runs the
real ``sob`` command on a contract whose folder holds a link; the secret must
never appear in anything ``sob`` prints or writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sob.contract import load_contract
from sob.contract.paths import confine

SECRET = "s3cr3t-8f1c2e-do-not-print"

CONTRACT = """\
schema = "sob/1"

[contract]
id = "confined"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2020-12-31

[[payers]]
id = "LA"

[evidence]
claims = "evidence/claims.csv"

[[outcomes]]
id = "P"
price = 100
"""

CLAIMS = "claim_id,participant_id,outcome_id,achieved_on\nc1,A,P,2020-01-05\n"
# A file that would pass as claims, so that a followed link would print its values.
SECRET_CLAIMS = f"claim_id,participant_id,outcome_id,achieved_on\n{SECRET},{SECRET},{SECRET},2020-01-05\n"


def sob(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """A contract folder ``c`` and, beside it, an ``outside`` folder holding the secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "claims.csv").write_text(SECRET_CLAIMS)
    (outside / "evidence").mkdir()
    (outside / "evidence" / "claims.csv").write_text(SECRET_CLAIMS)
    folder = tmp_path / "c"
    (folder / "evidence").mkdir(parents=True)
    (folder / "contract.toml").write_text(CONTRACT)
    return folder, outside


def run_everything(folder: Path) -> list[tuple[str, subprocess.CompletedProcess[str], str]]:
    """validate (text, json), pay (json, export), explain: each result and any export written."""
    out = []
    for name, args in [
        ("validate", ["validate", "contract.toml"]),
        ("validate-json", ["validate", "contract.toml", "--format", "json"]),
        ("pay-json", ["pay", "contract.toml", "--quarter", "2020-Q1", "--format", "json"]),
        ("pay-export", ["pay", "contract.toml", "--quarter", "2020-Q1", "--export", "x.csv"]),
        ("explain", ["explain", "contract.toml", "--quarter", "2020-Q1", "--claim", "c1"]),
    ]:
        export = folder / "x.csv"
        export.unlink(missing_ok=True)
        result = sob(*args, cwd=folder)
        written = export.read_text(errors="replace") if export.exists() else ""
        out.append((name, result, written))
    return out


def assert_refused_without_leak(folder: Path) -> None:
    for name, result, written in run_everything(folder):
        shown = result.stdout + result.stderr + written
        assert SECRET not in shown, name
        assert "internal error" not in shown, name
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert "UNSAFE_PATH" in shown or "evidence paths" in shown, (name, shown)


def test_a_link_to_a_file_outside_is_refused(world):
    folder, outside = world
    (folder / "evidence" / "claims.csv").symlink_to(outside / "claims.csv")
    assert_refused_without_leak(folder)


def test_a_link_to_a_folder_outside_is_refused(world):
    folder, outside = world
    (folder / "evidence").rmdir()
    (folder / "evidence").symlink_to(outside / "evidence", target_is_directory=True)
    assert_refused_without_leak(folder)


def test_a_chain_of_links_leading_outside_is_refused(world):
    folder, outside = world
    (folder / "hop2").symlink_to(outside / "claims.csv")
    (folder / "hop1").symlink_to(folder / "hop2")
    (folder / "evidence" / "claims.csv").symlink_to(Path("..") / "hop1")
    assert_refused_without_leak(folder)


def test_a_dangling_link_is_refused(world):
    folder, _ = world
    (folder / "evidence" / "claims.csv").symlink_to(folder / "evidence" / "gone.csv")
    assert_refused_without_leak(folder)


def test_a_link_to_a_device_is_refused_before_it_is_read(world):
    folder, _ = world
    (folder / "evidence" / "claims.csv").symlink_to("/dev/zero")
    result = sob("validate", "contract.toml", "--format", "json", cwd=folder)
    assert result.returncode == 1
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert codes == ["UNSAFE_PATH"]


def test_a_link_that_stays_inside_is_followed(world):
    folder, _ = world
    (folder / "data").mkdir()
    (folder / "data" / "real.csv").write_text(CLAIMS)
    (folder / "evidence" / "claims.csv").symlink_to(Path("..") / "data" / "real.csv")
    results = run_everything(folder)
    for name, result, written in results:
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert SECRET not in result.stdout + result.stderr + written
    pay = json.loads({n: r for n, r, _ in results}["pay-json"].stdout)
    assert pay["by_payer"][0]["due"] == "100.00"  # the one claim, read through the link, is paid
    assert "c1" in {n: w for n, _, w in results}["pay-export"]


def test_the_model_keeps_the_resolved_path(world):
    folder, _ = world
    (folder / "data").mkdir()
    (folder / "data" / "real.csv").write_text(CLAIMS)
    (folder / "evidence" / "claims.csv").symlink_to(Path("..") / "data" / "real.csv")
    contract, findings = load_contract(folder / "contract.toml")
    assert findings == [] and contract is not None
    assert contract.evidence.claims == "data/real.csv"
    assert not (contract.base_dir / contract.evidence.claims).is_symlink()


def test_a_contract_reached_through_a_link_is_judged_from_its_own_folder(world, tmp_path):
    folder, outside = world
    (folder / "evidence" / "claims.csv").write_text(CLAIMS)
    # The link sits in a folder whose evidence/claims.csv is the secret: it must not be used.
    (outside / "contract.toml").symlink_to(folder / "contract.toml")
    result = sob("pay", "contract.toml", "--quarter", "2020-Q1", "--format", "json", cwd=outside)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert json.loads(result.stdout)["by_payer"][0]["due"] == "100.00"


def test_a_missing_file_without_links_is_still_a_missing_file(world):
    folder, _ = world
    result = sob("pay", "contract.toml", "--quarter", "2020-Q1", cwd=folder)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_a_folder_named_as_a_file_is_refused(world):
    folder, _ = world
    (folder / "evidence" / "claims.csv").mkdir()
    result = sob("validate", "contract.toml", cwd=folder)
    assert result.returncode == 1
    assert "UNSAFE_PATH" in result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_confine_refuses_a_pipe_inside_the_folder(tmp_path):
    os.mkfifo(tmp_path / "claims.csv")
    reason, _ = confine(tmp_path.resolve(), "claims.csv")
    assert reason is not None and "regular file" in reason


def test_confine_keeps_a_plain_relative_path_as_written(tmp_path):
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "claims.csv").write_text(CLAIMS)
    assert confine(tmp_path.resolve(), "evidence/claims.csv") == (None, "evidence/claims.csv")
    assert confine(tmp_path.resolve(), "evidence/nothing.csv") == (None, "evidence/nothing.csv")
