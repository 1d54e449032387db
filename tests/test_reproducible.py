"""The same inputs give the same export bytes (issue 21, part 5).

XLSX is the format that records a time (``docProps/core.xml``): a close's
export takes the ledger's close time, and any other export honours
``SOURCE_DATE_EPOCH`` when it is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MHEP = ROOT / "sample_contracts" / "mhep-employment" / "contract.toml"
EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z


def _export(target: Path, *extra: str, epoch: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SOURCE_DATE_EPOCH", None)
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    proc = subprocess.run(
        [sys.executable, "-m", "sob", "pay", str(MHEP), "--quarter", "2021-Q1", "--export", str(target), *extra],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _core_times(path: Path) -> tuple[str, str]:
    core = zipfile.ZipFile(path).read("docProps/core.xml").decode()
    created = core.split("<dcterms:created", 1)[1].split(">", 1)[1].split("<", 1)[0]
    modified = core.split("<dcterms:modified", 1)[1].split(">", 1)[1].split("<", 1)[0]
    return created, modified


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".json", ".parquet"])
def test_two_exports_with_source_date_epoch_are_byte_identical(tmp_path: Path, suffix: str) -> None:
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    _export(first, epoch=EPOCH)
    if suffix == ".xlsx":
        time.sleep(1.1)  # a run a second later: a workbook stamped with the run's time would differ
    _export(second, epoch=EPOCH)
    assert first.read_bytes() == second.read_bytes()
    if suffix == ".xlsx":
        assert _core_times(first) == ("2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z")


def test_a_close_stamps_its_workbook_with_the_close_time(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    export = tmp_path / "q.xlsx"
    _export(export, "--ledger", str(ledger), "--close", "--opening", "none", epoch=EPOCH)  # the close time wins over the epoch
    manifest = tomllib.loads(next(ledger.rglob("????-Q?.toml")).read_text())
    assert _core_times(export) == (manifest["closed_at"], manifest["closed_at"])
    assert manifest["closed_at"] != "2023-11-14T22:13:20Z"
