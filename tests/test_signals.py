"""SIGINT and SIGTERM at exact points of a close and an export (issue 21, part 4).

Each run is the real ``python -m sob`` on a generated case.  The run is
stopped at a named stage with the test hook ``SOB_TEST_PAUSE_AT`` (see
``sob/interrupts.py``): it announces the stage on stderr and waits, the test
sends the signal then, so the signal lands at the same point on every run,
on any machine (no timing guess).  After each run: exit code 128 + signal,
no temporary file and no lock file anywhere, a ledger that is either as
before or fully closed and passes ``sob ledger verify``, and a message that
says which of the two it is.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUARTER = "2016-Q2"  # holds the generated case's last submission
STAGE_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated contract with a few thousand claims (the same bytes every time)."""
    out = tmp_path_factory.mktemp("signals") / "case"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "4000", str(out)],
        check=True, capture_output=True, timeout=120,
    )
    return out


def _start(args: list[str], stages: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SOB_TEST_PAUSE_AT=stages, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "sob", *args], cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait_for(proc: subprocess.Popen[bytes], stage: str) -> bytes:
    """Read stderr until the run announces ``stage``; fail (never hang) if it does not."""
    assert proc.stderr is not None
    seen = b""
    marker = f"sob: test pause at {stage}\n".encode()
    while marker not in seen:
        ready, _, _ = select.select([proc.stderr], [], [], STAGE_TIMEOUT)
        if not ready:
            proc.kill()
            pytest.fail(f"the run never reached stage {stage}: {seen.decode(errors='replace')}")
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            pytest.fail(f"the run ended before stage {stage}: {seen.decode(errors='replace')}")
        seen += chunk
    return seen


def _finish(proc: subprocess.Popen[bytes], before: bytes) -> tuple[int, str]:
    assert proc.stderr is not None
    rest = proc.stderr.read()
    code = proc.wait(timeout=STAGE_TIMEOUT)
    return code, (before + rest).decode(errors="replace")


def _interrupt(args: list[str], stages: list[str], sigs: list[signal.Signals], cwd: Path) -> tuple[int, str]:
    """Run, and at each stage in turn send the matching signal."""
    proc = _start(args, ",".join(stages), cwd)
    seen = b""
    try:
        for stage, sig in zip(stages, sigs, strict=True):
            seen += _wait_for(proc, stage)
            proc.send_signal(sig)
        return _finish(proc, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _leftovers(folder: Path) -> list[str]:
    """Temporary files and lock files anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name == ".lock")


def _verify(ledger: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sob", "ledger", "verify", str(ledger)],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def _close_args(case: Path, ledger: Path, export: Path | None) -> list[str]:
    args = ["pay", str(case / "contract.toml"), "--quarter", QUARTER, "--ledger", str(ledger), "--close", "--opening", "none"]
    return args + (["--export", str(export)] if export is not None else [])


SIGS = [signal.SIGINT, signal.SIGTERM]
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: NAMES[s])
@pytest.mark.parametrize(
    ("stage", "suffix"),
    [("temp-created", ".xlsx"), ("temp-created", ".csv"), ("table-written", ".parquet")],
)
def test_a_signal_before_the_commit_leaves_the_ledger_as_before(
    case: Path, tmp_path: Path, stage: str, suffix: str, sig: signal.Signals
) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    export = tmp_path / f"out{suffix}"
    code, err = _interrupt(_close_args(case, ledger, export), [stage], [sig], tmp_path)
    assert code == 128 + sig, err
    assert f"interrupted ({NAMES[sig]})" in err and "nothing was closed" in err, err
    assert "Traceback" not in err
    assert _leftovers(tmp_path) == []
    assert list(ledger.iterdir()) == []  # not even the contract folder: exactly as before
    assert not export.exists()
    assert _verify(ledger).returncode == 0


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: NAMES[s])
def test_a_signal_after_the_manifest_finishes_the_close_and_says_so(
    case: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    export = tmp_path / "out.xlsx"
    code, err = _interrupt(_close_args(case, ledger, export), ["closed"], [sig], tmp_path)
    assert code == 128 + sig, err
    assert f"interrupted ({NAMES[sig]}) after quarter {QUARTER} was closed" in err, err
    assert "nothing was closed" not in err
    assert _leftovers(tmp_path) == []
    manifests = list(ledger.rglob("????-Q?.toml"))  # quarter manifests (not the contract copy or opening.toml)
    assert [m.name for m in manifests] == [f"{QUARTER}.toml"]
    assert export.exists()  # the export moves into place in the same step as the commit
    check = _verify(ledger)
    assert check.returncode == 0 and "LEDGER_INCOMPLETE" not in check.stderr, check.stderr


def test_a_second_signal_during_the_cleanup_is_held_until_it_is_done(case: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    export = tmp_path / "out.csv"
    code, err = _interrupt(
        _close_args(case, ledger, export), ["temp-created", "cleanup"], [signal.SIGINT, signal.SIGTERM], tmp_path
    )
    assert code in (130, 143), err
    assert "nothing was closed" in err and "Traceback" not in err
    assert _leftovers(tmp_path) == []
    assert list(ledger.iterdir()) == []


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: NAMES[s])
def test_a_signal_during_a_plain_export_leaves_no_temporary_file(
    case: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    export = tmp_path / "out.parquet"
    args = ["pay", str(case / "contract.toml"), "--quarter", QUARTER, "--export", str(export)]
    code, err = _interrupt(args, ["temp-created"], [sig], tmp_path)
    assert code == 128 + sig, err
    assert err.strip().endswith(f"sob: interrupted ({NAMES[sig]})"), err
    assert _leftovers(tmp_path) == [] and not export.exists()


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: NAMES[s])
def test_a_signal_during_start_up_is_no_traceback(tmp_path: Path, sig: signal.Signals) -> None:
    code, err = _interrupt(["schema"], ["startup"], [sig], tmp_path)
    assert code == 128 + sig, err
    assert "Traceback" not in err and f"sob: interrupted ({NAMES[sig]})" in err
