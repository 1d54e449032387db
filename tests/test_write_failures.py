"""Writes that fail: a clear message naming the file, exit 2, and nothing half-written (issue 21, part 3).

A full disk, a file too big, a read-only file system and a name too long are
simulated by making the write functions raise the operating system's error
at each step of a close (Q.csv, the manifest, the export), in-process and
through a real ``python -m sob`` process.  Standard output on a full disk
(``/dev/full``) and closed (``>&-``) runs the real program.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sob import export as sob_export
from sob import ledger as sob_ledger
from sob.cli import app

ROOT = Path(__file__).resolve().parent.parent
MHEP = ROOT / "sample_contracts" / "mhep-employment" / "contract.toml"
QUARTER = "2021-Q1"
ERRORS = {
    errno.ENOSPC: "No space left on device",
    errno.EFBIG: "File too large",
    errno.EROFS: "Read-only file system",
    errno.ENAMETOOLONG: "File name too long",
}
RAW = ("Traceback", "internal error", "Exception ignored")


def _snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (folders and hidden files too) with its content hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def _pay(*args: object) -> Result:
    return CliRunner().invoke(app, ["pay", str(MHEP), "--quarter", QUARTER, *map(str, args)])


def _failing(code: int):
    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "ledger").mkdir()
    return tmp_path


def _assert_nothing_closed(result: Result, work: Path, before: dict[str, str], names: str, code: int) -> None:
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    for raw in RAW:
        assert raw not in text
    assert names in result.stderr and ERRORS[code] in result.stderr, result.stderr
    assert "nothing was closed" in result.stderr, result.stderr
    assert _snapshot(work) == before  # exactly as before: no Q.csv, no folder, no lock, no temporary file


@pytest.mark.parametrize("code", list(ERRORS), ids=[errno.errorcode[c] for c in ERRORS])
@pytest.mark.parametrize(("step", "names"), [("_write_table_file", f"{QUARTER}.csv"), ("_write_manifest_file", f"{QUARTER}.toml")])
def test_a_close_that_cannot_write_names_the_file_and_closes_nothing(
    work: Path, monkeypatch: pytest.MonkeyPatch, step: str, names: str, code: int
) -> None:
    before = _snapshot(work)
    monkeypatch.setattr(sob_ledger, step, _failing(code))
    result = _pay("--ledger", work / "ledger", "--close", "--opening", "none", "--export", work / "out.csv")
    _assert_nothing_closed(result, work, before, names, code)
    monkeypatch.undo()
    again = _pay("--ledger", work / "ledger", "--close", "--opening", "none", "--export", work / "out.csv")
    assert again.exit_code == 0, again.stderr  # the retry is not told "already closed"
    assert (work / "out.csv").exists()


def test_a_failed_second_close_leaves_the_first_untouched(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _pay("--ledger", work / "ledger", "--close", "--opening", "none").exit_code == 0
    before = _snapshot(work)
    monkeypatch.setattr(sob_ledger, "_write_manifest_file", _failing(errno.ENOSPC))
    result = CliRunner().invoke(app, ["pay", str(MHEP), "--quarter", "2021-Q2", "--ledger", str(work / "ledger"), "--close"])
    _assert_nothing_closed(result, work, before, "2021-Q2.toml", errno.ENOSPC)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet", ".xlsx"])
def test_close_with_an_export_that_cannot_be_written_closes_nothing(
    work: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """The export is written before the commit: a full disk there refuses the whole close."""
    before = _snapshot(work)
    real_replace = os.replace

    def full_disk_for_the_export(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith(suffix) and Path(dst).parent == work:
            raise AssertionError("the export must not be moved into place before the close commits")
        real_replace(src, dst)

    monkeypatch.setattr(sob_export.os, "replace", full_disk_for_the_export)
    monkeypatch.setattr(sob_export, "stage_write", _failing(errno.ENOSPC))
    result = _pay("--ledger", work / "ledger", "--close", "--opening", "none", "--export", work / f"out{suffix}")
    assert result.exit_code == 2, result.stderr
    assert f"cannot write {work / f'out{suffix}'}: No space left on device" in result.stderr
    assert "nothing was" in result.stderr
    assert _snapshot(work) == before


def test_an_export_rename_that_fails_after_the_commit_says_the_quarter_is_closed(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def no_rename_for_the_export(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith("out.csv"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(src, dst)

    monkeypatch.setattr(sob_export.os, "replace", no_rename_for_the_export)
    result = _pay("--ledger", work / "ledger", "--close", "--opening", "none", "--export", work / "out.csv")
    assert result.exit_code == 2
    assert f"quarter {QUARTER} was closed" in result.stderr and "--export" in result.stderr, result.stderr
    assert "without --close" in result.stderr
    assert not (work / "out.csv").exists()
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.undo()
    again = _pay("--ledger", work / "ledger", "--export", work / "out.csv")  # what the message says to run
    assert again.exit_code == 0 and (work / "out.csv").exists()


# --------------------------------------------------------------------------
# through a real process: a file object that fails as a full disk does


DRIVER = textwrap.dedent(
    """
    import os, sys
    from sob import export
    from sob.cli import main

    real_fdopen = os.fdopen
    def fdopen(fd, *args, **kwargs):  # the export's temporary file is created; its writes go to a full device
        where = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.dirname(where) != os.getcwd():  # evidence and ledger files are opened as usual
            return real_fdopen(fd, *args, **kwargs)
        real_fdopen(fd, *args, **kwargs).close()
        return open("/dev/full", "wb")
    export.os.fdopen = fdopen
    sys.argv = ["sob", *sys.argv[1:]]
    main()
    """
)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet", ".xlsx"])
@pytest.mark.parametrize("close", [False, True], ids=["export", "close-export"])
def test_an_export_on_a_full_disk_is_a_clean_message(tmp_path: Path, suffix: str, close: bool) -> None:
    (tmp_path / "ledger").mkdir()
    target = tmp_path / f"out{suffix}"
    args = ["pay", str(MHEP), "--quarter", QUARTER, "--export", str(target)]
    if close:
        args += ["--ledger", str(tmp_path / "ledger"), "--close", "--opening", "none"]
    before = _snapshot(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    for raw in RAW:
        assert raw not in proc.stderr, proc.stderr
    assert f"cannot write {target}: No space left on device" in proc.stderr, proc.stderr
    assert _snapshot(tmp_path) == before


def test_a_255_byte_export_name_can_be_written(tmp_path: Path) -> None:
    name = "e" * (255 - len(".csv")) + ".csv"
    result = _pay("--export", tmp_path / name)
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_256_byte_export_name_is_a_clean_error(tmp_path: Path) -> None:
    name = "e" * (256 - len(".csv")) + ".csv"
    result = _pay("--export", tmp_path / name)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "internal error" not in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# standard output


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, PYTHONPATH=str(ROOT), PY=sys.executable, MHEP=str(MHEP)),
    )


@pytest.mark.parametrize(
    "command",
    ["schema", 'pay "$MHEP" --quarter 2021-Q1 --format json', 'pay "$MHEP" --quarter 2021-Q1', 'validate "$MHEP" --format json'],
)
@pytest.mark.parametrize(("redirect", "says"), [(">/dev/full", "No space left on device"), (">&-", "closed")])
def test_standard_output_that_cannot_be_written_is_a_clear_error(command: str, redirect: str, says: str) -> None:
    proc = _shell(f'exec "$PY" -m sob {command} {redirect}')
    assert proc.returncode == 2, proc.stderr
    assert "sob: error: cannot write to standard output: " in proc.stderr and says in proc.stderr, proc.stderr
    for raw in RAW:
        assert raw not in proc.stderr


def test_a_reader_that_stops_early_is_quiet() -> None:
    proc = _shell('"$PY" -m sob schema | head -c 1 >/dev/null; "$PY" -m sob pay "$MHEP" --quarter 2021-Q1 | head -c 1')
    assert proc.stderr == "", proc.stderr


def test_init_with_a_name_too_long_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / ("c" * 300 + ".toml"))])
    assert result.exit_code == 2
    assert "File name too long" in result.stderr and "internal error" not in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []
