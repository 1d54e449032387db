"""Hostile inputs: no Python traceback, a clear message, and the exit code of SPEC 9.

Every case runs in-process through ``CliRunner`` (which would surface any
exception escaping a command as ``result.exception``) and a selection runs
again as a real ``python -m sob`` process, so nothing slips through Typer's
own exception handling either.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sob.cli import app

ROOT = Path(__file__).resolve().parent.parent
MHEP = ROOT / "sample_contracts" / "mhep-employment" / "contract.toml"
MHEP_TEXT = MHEP.read_text(encoding="utf-8")

CLAIMS_HEAD = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status\n"
GOOD_ROW = "X1,MH0001,ENGAGE,2021-03-20,2021-03-20,claimed\n"  # MH0001 is in the sample register

# Any sign that a raw Python error reached the user.
RAW_ERROR_SIGNS = ("Traceback", "File \"", "internal error")


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build the arguments, the exit code and a phrase of the message."""

    name: str
    build: Callable[[Path], list[str]]
    code: int
    says: str


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def _noise(n: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n))


# --------------------------------------------------------------------------
# The contract file
# --------------------------------------------------------------------------


def _contract_args(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda tmp: [str(make(tmp))]


CONTRACT_CASES = [
    Case("empty", _contract_args(lambda t: _bytes(t / "c.toml", b"")), 1, "MISSING_KEY"),
    Case("binary", _contract_args(lambda t: _bytes(t / "c.toml", _noise(4096))), 1, "NOT_UTF8"),
    Case("utf16", _contract_args(lambda t: _text(t / "c.toml", MHEP_TEXT, "utf-16")), 1, "UTF-16"),
    Case("latin1", _contract_args(lambda t: _bytes(t / "c.toml", b'schema = "sob/1"\nx = "caf\xe9"\n')), 1, "NOT_UTF8"),
    Case("directory", _contract_args(lambda t: (t / "c.toml").mkdir() or t / "c.toml"), 2, "directory"),
    Case("missing", _contract_args(lambda t: t / "nope.toml"), 2, "does not exist"),
    Case(
        "deep-nesting",
        _contract_args(lambda t: _text(t / "c.toml", "x = " + "[" * 10000 + "]" * 10000 + "\n")),
        1,
        "TOML_SYNTAX",
    ),
    Case(
        "deep-inline-tables",
        _contract_args(lambda t: _text(t / "c.toml", "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")),
        1,
        "TOML_SYNTAX",
    ),
    Case(
        "5MB-string",
        _contract_args(
            lambda t: _text(t / "c.toml", MHEP_TEXT.replace('schema = "sob/1"', 'schema = "' + "a" * 5_000_000 + '"'))
        ),
        1,
        "UNKNOWN_SCHEMA",
    ),
    Case(
        "5MB-unknown-key",
        _contract_args(
            lambda t: _text(t / "c.toml", MHEP_TEXT.replace("[caps]", 'whatever = "' + "b" * 5_000_000 + '"\n[caps]'))
        ),
        1,
        "UNKNOWN_KEY",
    ),
    Case("unclosed-string", _contract_args(lambda t: _text(t / "c.toml", 'schema = "sob/1\n')), 1, "TOML_SYNTAX"),
    Case("symlink-loop", _contract_args(lambda t: _loop(t)), 2, "cannot be read"),
]


def _loop(tmp: Path) -> Path:
    (tmp / "a.toml").symlink_to(tmp / "b.toml")
    (tmp / "b.toml").symlink_to(tmp / "a.toml")
    return tmp / "a.toml"


# --------------------------------------------------------------------------
# The evidence files (with the MHEP sample contract, whose register is bundled)
# --------------------------------------------------------------------------


def _claims(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda tmp: [str(MHEP), "--claims", str(make(tmp))]


def _wide(tmp: Path) -> Path:
    head = CLAIMS_HEAD.strip() + "".join(f",extra{i}" for i in range(994))
    row = GOOD_ROW.strip() + ",v" * 994
    # 1000 header columns, but one row is a cell short: BAD_ROW_LENGTH
    return _text(tmp / "c.csv", head + "\n" + row + "\n" + row.replace("X1", "X2")[:-2] + "\n")


EVIDENCE_CASES = [
    Case("claims-empty", _claims(lambda t: _bytes(t / "c.csv", b"")), 1, "MISSING_COLUMN"),
    Case("claims-binary", _claims(lambda t: _bytes(t / "c.csv", _noise(4096))), 2, "cannot read"),
    Case("claims-utf16", _claims(lambda t: _text(t / "c.csv", CLAIMS_HEAD + GOOD_ROW, "utf-16")), 2, "UTF-16"),
    Case("claims-latin1", _claims(lambda t: _bytes(t / "c.csv", CLAIMS_HEAD.encode() + b"X1,MH0001,\xe9,2021-03-20,,\n")),
         2, "not UTF-8"),
    Case("claims-directory", _claims(lambda t: (t / "c.csv").mkdir() or t / "c.csv"), 2, "directory"),
    Case("claims-1000-columns", _claims(_wide), 1, "BAD_ROW_LENGTH"),
    Case(
        "claims-1MB-cell",
        _claims(lambda t: _text(t / "c.csv", CLAIMS_HEAD + "X1,MH0001," + "Q" * 1_000_000 + ",2021-03-20,,\n")),
        1,
        "UNKNOWN_OUTCOME",
    ),
    Case("claims-blank-lines", _claims(lambda t: _text(t / "c.csv", "\n\n  \n\n")), 1, "MISSING_COLUMN"),
    Case("claims-only-delimiters", _claims(lambda t: _text(t / "c.csv", ",,,\n,,\n")), 1, "MISSING_COLUMN"),
    Case("claims-unterminated-quote", _claims(lambda t: _text(t / "c.csv", CLAIMS_HEAD + '"abc\n')), 1, "BAD_ROW_LENGTH"),
    Case(
        "claims-unterminated-quote-mid-file",
        _claims(lambda t: _text(t / "c.csv", CLAIMS_HEAD + 'X1,MH0001,"ENGAGE,2021-03-20,,\n' + GOOD_ROW)),
        1,
        "BAD_ROW_LENGTH",
    ),
    Case("claims-nul", _claims(lambda t: _bytes(t / "c.csv", (CLAIMS_HEAD + "X1,MH0001,EN\0GAGE,2021-03-20,,\n").encode())),
         1, "BAD_TEXT"),  # a stray NUL is a data error of its cell
    Case("claims-garbage-parquet", _claims(lambda t: _bytes(t / "c.parquet", _noise(2048))), 2, "Parquet"),
    Case("claims-missing", _claims(lambda t: t / "nope.csv"), 2, "no such file"),
    Case(
        "participants-missing",
        lambda t: [str(MHEP), "--claims", str(_text(t / "c.csv", CLAIMS_HEAD + GOOD_ROW)), "--participants",
                   str(t / "nope.csv")],
        2,
        "no such file",
    ),
    Case(
        "participants-directory",
        lambda t: [str(MHEP), "--claims", str(_text(t / "c.csv", CLAIMS_HEAD + GOOD_ROW)), "--participants", str(t)],
        2,
        "directory",
    ),
]


def _unsafe(path_value: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        folder = tmp / "deal"
        folder.mkdir()
        (tmp / "claims.csv").write_text(CLAIMS_HEAD + GOOD_ROW)  # the file exists, and must not be read
        text = MHEP_TEXT.replace('claims = "evidence/claims.csv"', f'claims = "{path_value}"')
        assert text != MHEP_TEXT
        return [str(_text(folder / "contract.toml", text))]

    return build


UNSAFE_CASES = [
    Case("evidence-dotdot", _unsafe("../claims.csv"), 1, "UNSAFE_PATH"),
    Case("evidence-dotdot-inside", _unsafe("evidence/../../claims.csv"), 1, "UNSAFE_PATH"),
    Case("evidence-absolute", _unsafe("/etc/passwd"), 1, "UNSAFE_PATH"),
]


# --------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------


def _pay(args: list[str], quarter: str = "2021-Q1") -> list[str]:
    return ["pay", args[0], "--quarter", quarter, *args[1:]]


def _assert_clean(code: int, out: str, err: str, case: Case) -> None:
    text = out + err
    for sign in RAW_ERROR_SIGNS:
        assert sign not in text, f"{case.name}: {sign!r} in output:\n{text[:2000]}"
    assert code == case.code, f"{case.name}: exit {code}, expected {case.code}:\n{text[:2000]}"
    assert case.says in text, f"{case.name}: {case.says!r} not in:\n{text[:2000]}"
    # A hostile value is quoted cut short, never echoed whole (5 MB in, a few KB out).
    assert len(text) < 20_000, f"{case.name}: {len(text)} characters of output"
    assert "\x1b" not in text


def _invoke(argv: list[str], case: Case) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        case.name,
        repr(result.exception),
    )
    _assert_clean(result.exit_code, result.stdout, result.stderr, case)


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=_ids(CONTRACT_CASES))
@pytest.mark.parametrize("command", ["validate", "pay", "test", "explain"])
def test_hostile_contract(tmp_path, case, command):
    if case.name == "symlink-loop" and not hasattr(os, "symlink"):
        pytest.skip("no symlinks")
    args = case.build(tmp_path)
    if command == "pay":
        argv = _pay(args)
    elif command == "explain":
        argv = ["explain", args[0], "--quarter", "2021-Q1", "--claim", "X1"]
    else:
        argv = [command, *args]
    if command == "test" and case.code == 1:
        # `sob test` reports a broken contract as one FAIL line and exit 1.
        case = Case(case.name, case.build, 1, "FAIL")
    _invoke(argv, case)


@pytest.mark.parametrize("case", EVIDENCE_CASES, ids=_ids(EVIDENCE_CASES))
@pytest.mark.parametrize("command", ["pay", "validate", "explain"])
def test_hostile_evidence(tmp_path, case, command):
    args = case.build(tmp_path)
    if command == "pay":
        argv = _pay(args)
    elif command == "explain":
        argv = ["explain", args[0], "--quarter", "2021-Q1", "--claim", "X1", *args[1:]]
    else:
        argv = ["validate", *args]
    _invoke(argv, case)


@pytest.mark.parametrize("case", UNSAFE_CASES, ids=_ids(UNSAFE_CASES))
@pytest.mark.parametrize("command", ["validate", "pay"])
def test_unsafe_evidence_path(tmp_path, case, command):
    args = case.build(tmp_path)
    _invoke(_pay(args) if command == "pay" else ["validate", *args], case)


@pytest.mark.parametrize("quarter", ["2020-Q9", "", "2020-Q0", "20-Q1", "2020-q1x", "2020-Q1 junk", "Q1-2020"])
def test_bad_quarter(quarter):
    case = Case(f"quarter {quarter!r}", lambda t: [], 2, "YYYY-Qn")
    _invoke(["pay", str(MHEP), "--quarter", quarter], case)
    _invoke(["explain", str(MHEP), "--quarter", quarter, "--claim", "X1"], case)


def test_header_only_claims_is_a_valid_empty_quarter(tmp_path):
    """Not an error at all: a quarter with no claims pays nothing (exit 0)."""
    claims = _text(tmp_path / "c.csv", CLAIMS_HEAD)
    result = CliRunner().invoke(app, ["pay", str(MHEP), "--quarter", "2021-Q1", "--claims", str(claims), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"claims": 0' in result.stdout and "Traceback" not in result.output


def test_a_thousand_columns_are_carried(tmp_path):
    head = CLAIMS_HEAD.strip() + "".join(f",extra{i}" for i in range(994))
    claims = _text(tmp_path / "c.csv", head + "\n" + GOOD_ROW.strip() + ",v" * 994 + "\n")
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(
        app, ["pay", str(MHEP), "--quarter", "2021-Q1", "--claims", str(claims), "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0].split(",")
    assert header[-994:] == [f"extra{i}" for i in range(994)]


def test_escape_sequences_in_evidence_are_not_replayed(tmp_path):
    claims = _text(tmp_path / "c.csv", CLAIMS_HEAD + "X1,MH0001,\x1b[2J\x1b]0;owned\x07,2021-03-20,,\n")
    case = Case("escapes", lambda t: [], 1, "UNKNOWN_OUTCOME")
    _invoke(["pay", str(MHEP), "--quarter", "2021-Q1", "--claims", str(claims)], case)
    _invoke(["validate", str(MHEP), "--claims", str(claims)], case)


def test_github_format_cannot_be_tricked_into_a_second_command(tmp_path):
    claims = _text(tmp_path / "c.csv", CLAIMS_HEAD + 'X1,MH0001,"A\n::error::fake",2021-03-20,,\n')
    result = CliRunner().invoke(app, ["validate", str(MHEP), "--claims", str(claims), "--format", "github"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ")) for line in lines), lines


# --------------------------------------------------------------------------
# The same through a real process
# --------------------------------------------------------------------------

SUBPROCESS_CASES = [
    ("validate", next(c for c in CONTRACT_CASES if c.name == "binary")),
    ("pay", next(c for c in CONTRACT_CASES if c.name == "deep-nesting")),
    ("validate", next(c for c in CONTRACT_CASES if c.name == "5MB-string")),
    ("pay", next(c for c in CONTRACT_CASES if c.name == "directory")),
    ("pay", next(c for c in EVIDENCE_CASES if c.name == "claims-utf16")),
    ("pay", next(c for c in EVIDENCE_CASES if c.name == "claims-nul")),
    ("pay", next(c for c in EVIDENCE_CASES if c.name == "claims-unterminated-quote")),
    ("pay", next(c for c in EVIDENCE_CASES if c.name == "participants-missing")),
    ("validate", next(c for c in UNSAFE_CASES if c.name == "evidence-dotdot")),
]


@pytest.mark.parametrize(("command", "case"), SUBPROCESS_CASES, ids=[f"{c}-{k.name}" for c, k in SUBPROCESS_CASES])
def test_hostile_in_a_real_process(tmp_path, command, case):
    args = case.build(tmp_path)
    argv = _pay(args) if command == "pay" else [command, *args]
    proc = subprocess.run([sys.executable, "-m", "sob", *argv], check=False, capture_output=True, timeout=300, cwd=tmp_path)
    _assert_clean(
        proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), case
    )


@pytest.mark.parametrize("quarter", ["", "2020-Q9"])
def test_bad_quarter_in_a_real_process(quarter):
    proc = subprocess.run(
        [sys.executable, "-m", "sob", "pay", str(MHEP), "--quarter", quarter], check=False, capture_output=True, timeout=120
    )
    case = Case("quarter", lambda t: [], 2, "YYYY-Qn")
    _assert_clean(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), case)


def test_missing_option_value_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(MHEP), "--quarter"], check=False, capture_output=True, timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr and b"--quarter" in proc.stderr


def test_unknown_command_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "sob", "payy"], check=False, capture_output=True, timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr and b"No such command" in proc.stderr
