"""What `sob` prints on a real terminal (a pseudo-terminal at 80 and 200 columns) and into a pipe.

Rich decides width, colour and wrapping from the stream it writes to, so
these tests run the real command on a pty made with :mod:`pty`, with the
window size set as a terminal emulator would, and compare with the same
command piped.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
KBOP = ROOT / "sample_contracts" / "kirklees-bop"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(TERM="xterm-256color", **extra)
    return env


def on_terminal(args: list[str], cols: int, cwd: Path = ROOT, **env: str) -> tuple[int, str]:
    """Run ``sob ARGS`` with stdout on a pty ``cols`` wide; return (exit code, what the terminal got).

    Standard error is piped, so no progress spinner is drawn between the
    lines under test.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "sob", *args], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, cwd=cwd, env=_env(**env))
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.stderr.read()  # type: ignore[union-attr]
        code = proc.wait(timeout=60)
        proc.stderr.close()  # type: ignore[union-attr]
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def piped(args: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(**env), timeout=120)


def widths(text: str) -> list[int]:
    return [len(ANSI.sub("", line).rstrip()) for line in text.splitlines()]


PAY = ["pay", str(KBOP / "contract.toml"), "--quarter", "2021-Q2"]
OUTCOME_IDS = ["WB_1", "MH_SUSTAINED", "ACC_ENTRY", "ACC_12M", "QUAL_FULL", "EMP_26W"]


@pytest.mark.parametrize("cols", [80, 200])
def test_pay_fits_the_terminal_and_keeps_ids_whole(cols):
    code, out = on_terminal(PAY, cols)
    assert code == 0, out
    assert max(widths(out)) <= cols
    plain = ANSI.sub("", out)
    assert plain.startswith("Quarter preview: kirklees-bop 2021-Q2 — not closed")
    for oid in OUTCOME_IDS:  # each id on one line, whole: never folded across two
        assert re.search(rf"^\s+{oid}\s", plain, re.MULTILINE), oid
    assert "£106,400.00" in plain


def test_piped_output_is_plain_and_80_columns():
    result = piped(PAY)
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    assert max(widths(result.stdout)) <= 80
    assert "Quarter preview" in result.stdout and "£517,200.00" in result.stdout


def test_wide_does_not_shrink_tables():
    narrow = piped(PAY).stdout
    wide = piped([*PAY, "--wide"]).stdout
    assert max(widths(wide)) > 80
    # a path folded at 80 columns is whole with --wide
    path = "kirklees-bop/evidence/participants.csv"
    assert path in wide and path not in narrow


def test_ledger_show_fits_80_columns_with_whole_timestamps(tmp_path):
    shutil.copytree(KBOP, tmp_path / "kbop")
    (tmp_path / "ledger").mkdir()
    for q, first in (("2021-Q1", ["--opening", "none"]), ("2021-Q2", [])):  # the first close mid-life: SPEC 10.3
        result = piped(["pay", "kbop/contract.toml", "--quarter", q, "--ledger", "ledger", "--close", *first], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Quarter close: kirklees-bop {q} — closed in the ledger")
    code, out = on_terminal(["ledger", "show", "ledger"], 80, cwd=tmp_path)
    assert code == 0
    assert max(widths(out)) <= 80
    plain = ANSI.sub("", out)
    stamps = re.findall(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", plain)
    assert len(stamps) == 2
    assert "…" not in plain
    # 1,046 claims and the three COVID adjustments (SPEC 10.6: rows of the table); entitled 517,200.00 of claims
    # + 971,234.00 + 1,136,486.00 + 1,194,738.00 = 3,819,658.00, all paid by the two closes (--opening none)
    assert re.search(r"2021-Q2\s+1,049\s+3,819,658\.00\s+106,400\.00\s+3,819,658\.00", plain)


def _broken_evidence(tmp_path: Path) -> Path:
    """The MHEP sample with one bad date: an error finding to colour."""
    shutil.copytree(ROOT / "sample_contracts" / "mhep-employment", tmp_path / "mhep")
    claims = tmp_path / "mhep" / "evidence" / "claims.csv"
    lines = claims.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[3] = "2019-13-45"
    lines[1] = ",".join(cells)
    claims.write_text("".join(lines), encoding="utf-8")
    return tmp_path / "mhep" / "contract.toml"


def test_errors_are_coloured_on_a_terminal_and_plain_when_piped(tmp_path):
    contract = _broken_evidence(tmp_path)
    code, out = on_terminal(["validate", str(contract)], 80)
    assert code == 1
    assert re.search(r"\x1b\[[0-9;]*31m\s*BAD_DATE", out), repr(out[:300])  # red code
    result = piped(["validate", str(contract)])
    assert result.returncode == 1
    assert "\x1b[" not in result.stdout + result.stderr
    # the same characters either way: colour only adds styles
    assert ANSI.sub("", out).splitlines()[0] == result.stdout.splitlines()[0]


def test_no_color_keeps_a_terminal_plain(tmp_path):
    contract = _broken_evidence(tmp_path)
    for args, env in ((["validate", str(contract)], {"NO_COLOR": "1"}), (["--no-color", "validate", str(contract)], {})):
        code, out = on_terminal(args, 80, **env)
        assert code == 1
        assert "BAD_DATE" in out and "\x1b[" not in out


def test_explain_fits_80_columns_with_every_rule_on_its_line():
    args = ["explain", str(KBOP / "contract.toml"), "--quarter", "2021-Q2", "--claim", "KBOP-00074"]
    code, out = on_terminal(args, 80)
    assert code == 0, out
    assert max(widths(out)) <= 80
    plain = ANSI.sub("", out)
    for rule in ("WITHDRAWN", "INELIGIBLE", "ENROLMENT_OUT_OF_PERIOD", "OUT_OF_CONTRACT_PERIOD", "VOLUME_CAP"):
        assert re.search(rf"^\s+{rule}\s+(PASS|FAIL|n/a)", plain, re.MULTILINE), rule
    assert re.search(r"INELIGIBLE\s+FAIL ← reason", plain)


def _cp1252_evidence(tmp_path: Path) -> Path:
    """A semicolon export from Excel on Windows (cp1252) with one error and one warning to colour."""
    text = ("claim_id;participant_id;outcome_id;achieved_on;amount_claimed\r\n"
            "c1;Zoë;P;2020-02-01;£1,200.00\r\nc2;Renée;P;2020-13-03;400\r\n")
    (tmp_path / "claims.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "contract.toml").write_text(
        'schema = "sob/1"\n[contract]\nid = "t"\ncurrency = "GBP"\nstart = 2020-01-01\noutcomes_end = 2022-12-31\n'
        '[[payers]]\nid = "LA"\nshare = 1\n[[outcomes]]\nid = "P"\nprice = 400\n'
        '[evidence]\nclaims = "claims.csv"\nencoding = "cp1252"\n', encoding="utf-8")
    return tmp_path / "contract.toml"


@pytest.mark.parametrize("cols", [80, 200])
def test_warnings_are_yellow_errors_red_and_lines_read_in_the_files_encoding(tmp_path, cols):
    _cp1252_evidence(tmp_path)
    code, out = on_terminal(["validate", "contract.toml"], cols, cwd=tmp_path)
    assert code == 1
    assert re.search(r"\x1b\[[0-9;]*33m\s*warning BAD_AMOUNT_CLAIMED", out), repr(out[:400])  # yellow warning
    assert re.search(r"\x1b\[[0-9;]*31m\s*BAD_DATE", out), repr(out[:400])  # red error
    plain = ANSI.sub("", out)
    # the excerpts show the cp1252 file's own characters, not replacement characters
    assert "  2 | c1;Zoë;P;2020-02-01;£1,200.00" in plain and "  3 | c2;Renée;P;2020-13-03;400" in plain
    assert "\ufffd" not in plain
    assert "delimiter semicolon (detected), encoding cp1252" in plain
    result = piped(["validate", "contract.toml"], cwd=tmp_path)
    assert result.returncode == 1 and "\x1b[" not in result.stdout + result.stderr
    assert result.stdout.splitlines() == plain.splitlines()  # colour only adds styles, at any width
    assert result.stderr == "1 error, 1 warning in 1 of 2 files\n"


def test_explain_at_200_columns_and_piped_keeps_the_same_verdicts():
    args = ["explain", str(KBOP / "contract.toml"), "--quarter", "2021-Q2", "--claim", "KBOP-00074"]
    code, out = on_terminal(args, 200)
    assert code == 0, out
    assert max(widths(out)) <= 200
    result = piped(args)
    assert result.returncode == 0 and "\x1b[" not in result.stdout
    assert max(widths(result.stdout)) <= 80
    verdicts = re.compile(r"^\s+([A-Z_]+)\s+(PASS|FAIL|n/a)", re.MULTILINE)
    found = verdicts.findall(ANSI.sub("", out))
    assert found == verdicts.findall(result.stdout) and len(found) == 11
    # at 200 columns the reason's data is on the rule's own line, not folded under it
    assert re.search(r"INELIGIBLE\s+FAIL ← reason\s+eligible = False, cohort = Holme Valley", ANSI.sub("", out))


def test_ledger_show_at_200_columns_and_piped(tmp_path):
    shutil.copytree(KBOP, tmp_path / "kbop")
    (tmp_path / "ledger").mkdir()
    result = piped(["pay", "kbop/contract.toml", "--quarter", "2021-Q1", "--ledger", "ledger", "--close", "--opening", "none"],
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    code, out = on_terminal(["ledger", "show", "ledger"], 200, cwd=tmp_path)
    assert code == 0 and max(widths(out)) <= 200
    shown = piped(["ledger", "show", "ledger"], cwd=tmp_path)
    assert shown.returncode == 0 and "\x1b[" not in shown.stdout and max(widths(shown.stdout)) <= 80
    for text in (ANSI.sub("", out), shown.stdout):
        assert len(re.findall(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", text)) == 1
        assert "2021-Q1" in text and "…" not in text
        # the two closes of test_ledger_show_fits_80_columns_with_whole_timestamps paid 3,819,658.00 in all,
        # 106,400.00 of it in 2021-Q2: 2021-Q1 paid 3,713,258.00
        assert re.search(r"2021-Q1\s+864\s+3,713,258\.00\s+3,713,258\.00\s+3,713,258\.00", text)
