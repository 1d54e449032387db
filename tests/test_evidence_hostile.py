"""Hostile evidence never reaches an internal error, and costs time linear in its rows.

Each defect has a regression test through the real ``sob`` command on written
files, and its class a property test (hypothesis, bounded and derandomized):
numbers too large for the exact engine, many rows sharing one id, a stray NUL
in a cell, files that are not files, and fuzzed bytes and cells.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sob.cli import app
from sob.columns import MAX_DECIMAL_FRACTION_DIGITS, MAX_DECIMAL_WHOLE_DIGITS
from sob.contract import load_contract
from sob.evidence import read_evidence, source
from sob.evidence.duplicates import LISTED
from sob.findings import UsageError

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = """schema = "sob/1"
[contract]
id = "hostile"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2022-12-31
[[payers]]
id = "LA"
share = 1
[[outcomes]]
id = "JOB"
price = 100
[[outcomes]]
id = "FEWER"
kind = "improvement"
direction = "decrease"
price = 2000.00
[evidence]
claims = "claims.csv"
"""
CLAIMS_HEAD = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref\n"
RESULTS_HEAD = "result_id,outcome_id,cohort,achieved_on,baseline,observed,units\n"
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def folder(tmp: Path, claims: str | bytes = CLAIMS_HEAD, results: str | None = None) -> Path:
    """A contract folder with its claims (and results) file; returns the contract's path."""
    tmp.mkdir(parents=True, exist_ok=True)
    text = CONTRACT + ('results = "results.csv"\n' if results is not None else "")
    (tmp / "contract.toml").write_text(text, encoding="utf-8")
    data = claims.encode() if isinstance(claims, str) else claims
    (tmp / "claims.csv").write_bytes(data)
    if results is not None:
        (tmp / "results.csv").write_text(results, encoding="utf-8")
    return tmp / "contract.toml"


def sob(*args: object, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    """The real ``sob`` command, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False, **kwargs)


def in_process(*args: object) -> tuple[int, str]:
    """``sob`` in this process (typer's runner): the exit code and everything printed."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    text = result.output
    with contextlib.suppress(ValueError):  # when stderr is mixed into output
        text += result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"internal error: {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, text


def findings_of(run: subprocess.CompletedProcess[str]) -> list[dict]:
    return json.loads(run.stdout)["findings"]


# --- 1. numbers beyond the exact engine --------------------------------------------------------

HUGE = "1000000000000000000000000000000"  # a valid plain decimal of 31 digits


@pytest.mark.parametrize(("column", "row"), [
    ("baseline", f"R1,FEWER,c1,2020-02-01,{HUGE},1.42,1000\n"),
    ("units", f"R1,FEWER,c1,2020-02-01,1.55,1.42,{HUGE}\n"),
    ("observed", f"R1,FEWER,c1,2020-02-01,1.55,{HUGE},1000\n"),
])
def test_a_number_too_large_is_a_data_error_naming_line_column_and_range(tmp_path, column, row):
    contract = folder(tmp_path, results=RESULTS_HEAD + row + "R2,FEWER,c2,2020-02-01,1.55,1.00,1000\n")
    run = sob("validate", contract, "--format", "json")
    assert run.returncode == 1 and "internal error" not in run.stderr
    [finding] = findings_of(run)
    assert (finding["code"], finding["line"], finding["field"], finding["value"]) == ("BAD_NUMBER", 2, column, HUGE)
    assert finding["col"] == RESULTS_HEAD.strip().split(",").index(column) + 1
    assert f"at most {MAX_DECIMAL_WHOLE_DIGITS} digits before the point" in finding["message"]
    pay = sob("pay", contract, "--quarter", "2020-Q1", "--reject-invalid", "--format", "json")
    assert pay.returncode == 0, pay.stderr
    assert json.loads(pay.stdout)["rejections"] == {"BAD_NUMBER": 1}


def test_a_payment_beyond_18_digits_of_minor_units_is_a_data_error(tmp_path):
    row = "R1,FEWER,c1,2020-02-01,99999999999999999,1.42,1000\n"  # in range, but x 1000 x 200000 minor units
    contract = folder(tmp_path, results=RESULTS_HEAD + row)
    run = sob("validate", contract, "--format", "json")
    assert run.returncode == 1, run.stderr
    [finding] = findings_of(run)
    assert (finding["code"], finding["line"], finding["field"]) == ("BAD_NUMBER", 2, "units")
    assert "too large" in finding["message"]
    assert sob("pay", contract, "--quarter", "2020-Q1", "--reject-invalid").returncode == 0


def _decimal(draw) -> str:
    whole = draw(st.integers(0, 45))
    frac = draw(st.integers(0, 25))
    digits = st.text("0123456789", min_size=whole, max_size=whole)
    out = draw(st.sampled_from(["", "-", "+"])) + draw(digits)
    if frac or draw(st.booleans()):
        out += "." + draw(st.text("0123456789", min_size=frac, max_size=frac))
    return out or "0"


@st.composite
def result_rows(draw) -> str:
    return "".join(f"R{i},FEWER,c{i},2020-02-01,{_decimal(draw)},{_decimal(draw)},{_decimal(draw)}\n"
                   for i in range(draw(st.integers(1, 3))))


@settings(SETTINGS, max_examples=15)  # two whole commands an example
@given(rows=result_rows())
def test_any_plain_decimals_are_paid_exactly_or_rejected_never_an_internal_error(tmp_path_factory, rows):
    contract = folder(tmp_path_factory.mktemp("num"), results=RESULTS_HEAD + rows)
    code, text = in_process("pay", contract, "--quarter", "2020-Q1", "--reject-invalid", "--format", "json")
    assert code == 0 and "internal error" not in text, text
    code, text = in_process("validate", contract, "--format", "json")
    assert code in (0, 1) and "internal error" not in text, text
    for cells in (line.split(",")[4:] for line in rows.splitlines()):
        for cell in cells:
            whole, _, frac = cell.lstrip("+-").partition(".")
            if len(whole.lstrip("0")) > MAX_DECIMAL_WHOLE_DIGITS or len(frac.rstrip("0")) > MAX_DECIMAL_FRACTION_DIGITS:
                assert "outside the supported range" in text


# --- 2. many rows sharing one id --------------------------------------------------------------


def test_thousands_of_rows_sharing_one_id_name_a_few_lines_each(tmp_path):
    rows = 3000
    claims = CLAIMS_HEAD + "".join(f"same,P{i},JOB,2020-01-01,,,ref{i}\n" for i in range(rows))
    run = sob("validate", folder(tmp_path, claims), "--format", "json")
    assert run.returncode == 1, run.stderr
    found = findings_of(run)
    assert len(found) == rows and {f["code"] for f in found} == {"DUPLICATE_ID"}
    assert found[0]["message"] == (f"claim_id 'same' is used by {rows} rows that differ "
                                   f"(also line 3, line 4, line 5, line 6, line 7 and {rows - 6:,} more)")
    assert found[-1]["message"].endswith(f"(also line 2, line 3, line 4, line 5, line 6 and {rows - 6:,} more)")
    assert len(run.stdout) < 500 * rows  # each finding's size is bounded: the output is linear in the rows


@SETTINGS
@given(groups=st.lists(st.integers(1, 12), min_size=1, max_size=5), seed=st.randoms(use_true_random=False))
def test_a_duplicated_id_lists_at_most_a_few_other_lines_and_counts_the_rest(tmp_path_factory, groups, seed):
    ids = [f"id{g}" for g, size in enumerate(groups) for _ in range(size)]
    seed.shuffle(ids)
    tmp = tmp_path_factory.mktemp("dups")
    claims = CLAIMS_HEAD + "".join(f"{ident},P{i},JOB,2020-01-01,,,r{i}\n" for i, ident in enumerate(ids))
    contract, _ = load_contract(folder(tmp, claims))
    ev = read_evidence(contract, tmp / "claims.csv", None, None)
    lines_of: dict[str, list[int]] = {}
    for i, ident in enumerate(ids):
        lines_of.setdefault(ident, []).append(i + 2)
    dups = [f for f in ev.findings if f.code == "DUPLICATE_ID"]
    assert len(dups) == sum(size for size in groups if size > 1)
    for f in dups:
        group = lines_of[f.value]
        listed = [int(n) for n in re.findall(r"line (\d+)", f.message)]
        more = re.search(r"and ([\d,]+) more\)", f.message)
        assert len(listed) <= LISTED and f.line not in listed and set(listed) <= set(group)
        assert listed == sorted(n for n in group if n != f.line)[:LISTED]
        assert len(listed) + (int(more.group(1).replace(",", "")) if more else 0) == len(group) - 1


# --- 3. a stray NUL is a data error of its cell -------------------------------------------------


def test_a_nul_in_one_cell_is_a_data_error_of_that_cell_and_only_its_row_is_rejected(tmp_path):
    claims = (CLAIMS_HEAD + "c1,P1,JOB,2020-01-01,,,r1\nc\x002,P2,JOB,2020-01-02,,,r2\n"
              "c3,P3,JOB,2020-0\x001-03,,,r3\nc4,P4,JOB,2020-01-04,,,r\x004\nc5,P5,JOB,2020-01-05,,,r5\n")
    contract = folder(tmp_path, claims)
    run = sob("validate", contract, "--format", "json")
    assert run.returncode == 1, run.stderr
    nul = [(f["line"], f["col"], f["field"]) for f in findings_of(run) if f["code"] == "BAD_TEXT"]
    assert nul == [(3, 1, "claim_id"), (4, 4, "achieved_on"), (5, 7, "evidence_ref")]
    pay = sob("pay", contract, "--quarter", "2020-Q1", "--reject-invalid", "--format", "json")
    assert pay.returncode == 0, pay.stderr
    out = json.loads(pay.stdout)
    assert out["rejections"] == {"BAD_TEXT": 3}


@pytest.mark.parametrize(("data", "says"), [
    ("claim_id,participant_id\nc1,P1\n".encode("utf-16-le"), "UTF-16"),  # no BOM: NULs in every other byte
    ("claim_id,participant_id\nc1,P1\n".encode("utf-16"), "UTF-16"),
    ("claim_id,participant_id\n".encode("utf-32-le"), "UTF-16"),
    (b"\x00" * 64 + b"claim_id\n", "NUL bytes"),
])
def test_utf16_and_binary_files_are_still_refused_whole(tmp_path, data, says):
    run = sob("validate", folder(tmp_path, data))
    assert run.returncode == 2 and says in run.stderr and "internal error" not in run.stderr


@SETTINGS
@given(row=st.integers(0, 4), col=st.integers(0, 6), at=st.integers(0, 12))
def test_a_nul_anywhere_in_a_cell_is_reported_at_that_cell(tmp_path_factory, row, col, at):
    rows = [f"c{i},P{i},JOB,2020-01-0{i + 1},,claimed,ref{i}".split(",") for i in range(5)]
    cell = rows[row][col]
    rows[row][col] = cell[: at % (len(cell) + 1)] + "\x00" + cell[at % (len(cell) + 1):]
    tmp = tmp_path_factory.mktemp("nul")
    contract, _ = load_contract(folder(tmp, CLAIMS_HEAD + "".join(",".join(r) + "\n" for r in rows)))
    ev = read_evidence(contract, tmp / "claims.csv", None, None)
    assert [(f.line, f.col) for f in ev.findings if f.code == "BAD_TEXT"] == [(row + 2, col + 1)]
    assert ev.claims is not None and ev.claims["error"].to_list()[row] == "BAD_TEXT"


# --- 4. files that are not files -----------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_before_it_is_read(tmp_path):
    contract = folder(tmp_path)
    run = sob("pay", contract, "--quarter", "2020-Q1", "--claims", "/dev/zero", timeout=30)
    assert run.returncode == 2 and "it is a device" in run.stderr
    (tmp_path / "claims.csv").unlink()
    (tmp_path / "claims.csv").symlink_to("/dev/zero")  # named by the contract: not a regular file inside its folder
    run = sob("validate", contract, "--format", "json", timeout=30)
    assert run.returncode == 1 and [f["code"] for f in json.loads(run.stdout)["findings"]] == ["UNSAFE_PATH"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_nobody_writes_to_does_not_hang(tmp_path):
    contract = folder(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    run = sob("validate", contract, "--claims", fifo, timeout=30)
    assert run.returncode == 1 and "empty" in run.stdout + run.stderr and "internal error" not in run.stderr


def test_a_pipe_given_on_the_command_line_is_read(tmp_path):
    """``--claims <(zcat claims.csv.gz)`` keeps working: the shell passes /dev/fd/N, a pipe."""
    contract = folder(tmp_path)
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_end, (CLAIMS_HEAD + "c1,P1,JOB,2020-01-05,,,\n").encode()),
                                              os.close(write_end)))
    writer.start()
    try:
        run = sob("pay", contract, "--quarter", "2020-Q1", "--claims", f"/dev/fd/{read_end}", "--format", "json",
                  pass_fds=(read_end,))
    finally:
        writer.join()
        os.close(read_end)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["totals"]["paid"] == 1


def test_a_pipe_is_read_up_to_a_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "MAX_PIPE_BYTES", 64)
    contract, _ = load_contract(folder(tmp_path))
    read_end, write_end = os.pipe()
    os.write(write_end, (CLAIMS_HEAD + "c1,P1,JOB,2020-01-05,,,\n").encode())
    os.close(write_end)
    try:
        assert stat.S_ISFIFO(os.fstat(read_end).st_mode)
        with pytest.raises(UsageError, match="more than 64 bytes"):
            read_evidence(contract, Path(f"/dev/fd/{read_end}"), None, None)
    finally:
        os.close(read_end)


# --- 5. fuzzing the readers through the whole command -------------------------------------------

CELL = st.one_of(
    st.sampled_from(["c1", "c1", "P1", "JOB", "FEWER", "2020-01-05", "2020-02-30", "", " ", "claimed", "Failed",
                     "1e3", HUGE, "-0", '"q"', '"a,b"', '"x\ny"', '"open', "\x00", "\ufeff", "é", "\r"]),
    st.text(max_size=6),
)


@st.composite
def evidence_text(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:  # raw bytes now and then
        return draw(st.binary(max_size=200))
    head = draw(st.sampled_from([CLAIMS_HEAD, CLAIMS_HEAD.replace("evidence_ref", "note"), "claim_id\n", ""]))
    width = draw(st.integers(1, 8))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=width), max_size=6))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return (head + "".join(",".join(r) + end for r in rows)).encode("utf-8", "surrogatepass")


@SETTINGS
@given(claims=evidence_text(), results=st.one_of(st.none(), evidence_text()), parquet=st.booleans())
def test_fuzzed_evidence_never_reaches_an_internal_error(tmp_path_factory, claims, results, parquet):
    tmp = tmp_path_factory.mktemp("fuzz")
    contract = folder(tmp, claims)
    args: list[object] = ["--claims", tmp / "claims.csv"]
    if results is not None:
        (tmp / "r.csv").write_bytes(results.replace(b"claim_id", b"result_id"))
        args += ["--results", tmp / "r.csv"]
    if parquet:
        (tmp / "c.parquet").write_bytes(claims)  # not Parquet at all: a clear error
        args[1] = tmp / "c.parquet"
    for command in (["validate", contract, "--format", "json", *args],
                    ["pay", contract, "--quarter", "2020-Q1", "--format", "json", *args],
                    ["pay", contract, "--quarter", "2020-Q1", "--reject-invalid", *args]):
        code, text = in_process(*command)
        assert code in (0, 1, 2), (command, code, text)
        assert "internal error" not in text, (command, text)
