"""The opening balance file read like the evidence files (issue 16): its encoding, its detected
delimiter, the not-UTF-8 error, and findings whose excerpt shows the file's own characters.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from conftest import make_contract, write_claims

from sob.render.findings import file_line_reader

PAYERS = [{"id": "LA", "share": 0.7}, {"id": "CF", "share": 0.3}]
CLAIMS = [
    ("c1", "A", "P", date(2020, 1, 5), date(2020, 1, 10)),
    ("c2", "B", "P", date(2020, 2, 5), date(2020, 2, 10)),
    ("c3", "C", "P", date(2020, 4, 5), date(2020, 4, 10)),
]


def sob(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def _case(folder: Path, **evidence: str) -> Path:
    write_claims(folder / "claims.csv", CLAIMS)
    (folder / "L").mkdir()
    return make_contract(folder, payers=PAYERS, outcomes=[{"id": "P", "price": 400}],
                         evidence={"claims": "claims.csv", **evidence})


def _excel_export(folder: Path, text: str) -> Path:
    """What Excel on Windows saves as "CSV (semicolon)": cp1252 bytes, CRLF line ends."""
    path = folder / "opening.csv"
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
    return path


def test_a_cp1252_semicolon_opening_closes_with_encoding_and_detected_delimiter(tmp_path):
    _case(tmp_path)
    _excel_export(tmp_path, "claim_id;paid\nc1;£400.00\nRenée-9;50.00\n")
    done = sob("pay", "contract.toml", "--quarter", "2020-Q2", "--ledger", "L", "--close", "--opening", "opening.csv",
               "--encoding", "cp1252", "--format", "json", cwd=tmp_path)
    # "£400.00" is not a plain amount: refused without lenient money, so the contract asks for it
    assert done.returncode == 1 and "BAD_NUMBER" in done.stderr and "opening.csv:2:2" in done.stderr, done.stderr
    assert not (tmp_path / "L" / "t").exists()
    _case_lenient = make_contract(tmp_path, payers=PAYERS, outcomes=[{"id": "P", "price": 400}],
                                  evidence={"claims": "claims.csv", "money": "lenient"})
    done = sob("pay", _case_lenient, "--quarter", "2020-Q2", "--ledger", "L", "--close", "--opening", "opening.csv",
               "--encoding", "cp1252", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # by hand: 400.00 and 50.00 split 0.7/0.3 (no per-payer columns): 280.00/120.00 and 35.00/15.00;
    # the ledger keeps the id as read in cp1252 (UTF-8 on disk)
    assert (tmp_path / "L/t/opening.csv").read_text(encoding="utf-8").splitlines() == [
        "claim_id,paid,paid_LA,paid_CF", "Renée-9,50.00,35.00,15.00", "c1,400.00,280.00,120.00",
    ]


def test_an_opening_in_the_contracts_encoding_and_delimiter(tmp_path):
    _case(tmp_path, encoding="cp1252", delimiter="|")
    (tmp_path / "claims.csv").write_bytes(
        (tmp_path / "claims.csv").read_text(encoding="utf-8").replace(",", "|").encode("cp1252"))
    _excel_export(tmp_path, "claim_id|paid\nc1|100.00\n")
    done = sob("pay", "contract.toml", "--quarter", "2020-Q2", "--ledger", "L", "--opening", "opening.csv",
               "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"previously_paid": "100.00"' in done.stdout


def test_an_opening_that_is_not_utf8_names_line_byte_and_likely_encoding(tmp_path):
    _case(tmp_path)
    _excel_export(tmp_path, "claim_id;paid\nRenée-1;400.00\n")
    done = sob("pay", "contract.toml", "--quarter", "2020-Q2", "--ledger", "L", "--opening", "opening.csv", cwd=tmp_path)
    assert done.returncode == 2
    # by hand: "claim_id;paid\r\n" is 15 bytes, "Ren" 3 more: "é" (0xE9) is byte 18, on line 2
    assert "line 2, byte 18 (0xE9)" in done.stderr and "--encoding cp1252" in done.stderr, done.stderr
    assert not (tmp_path / "L" / "t").exists()


def test_an_opening_finding_in_cp1252_shows_its_line_as_written_with_the_caret_under_the_field(tmp_path):
    _case(tmp_path)
    _excel_export(tmp_path, "claim_id;paid\nRenée-1;4OO\n")
    done = sob("pay", "contract.toml", "--quarter", "2020-Q2", "--ledger", "L", "--opening", "opening.csv",
               "--encoding", "cp1252", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    at = lines.index("  2 | Renée-1;4OO")
    assert lines[at + 1] == "    |         ^^^"  # under "4OO", the second field, 8 characters in
    assert "opening.csv:2:2: BAD_NUMBER" in done.stderr and "\ufffd" not in done.stderr


def test_evidence_findings_in_cp1252_show_the_files_characters(tmp_path):
    text = "claim_id;participant_id;outcome_id;achieved_on\nc1;Zoë;P;2020-13-03\n"
    (tmp_path / "claims.csv").write_bytes(text.encode("cp1252"))
    make_contract(tmp_path, evidence={"claims": "claims.csv", "encoding": "cp1252"})
    for args in (["validate", "contract.toml"], ["pay", "contract.toml", "--quarter", "2020-Q1"]):
        done = sob(*args, cwd=tmp_path)
        assert done.returncode == 1
        shown = done.stdout + done.stderr
        assert "  2 | c1;Zoë;P;2020-13-03" in shown and "\ufffd" not in shown, shown
        assert "    |          ^^^^^^^^^^" in shown  # the caret under the date, the fourth field


def test_the_line_reader_reads_the_declared_encoding(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("a,b\nZoë,£1\n".encode("cp1252"))
    assert file_line_reader({str(path): "cp1252"})(str(path), 2) == "Zoë,£1"
    assert file_line_reader()(str(path), 2) == "Zo\ufffd,\ufffd1"  # UTF-8 by default: the bytes do not decode
    utf16 = tmp_path / "y.csv"
    utf16.write_bytes("a,b\nc,d\n".encode("utf-16"))
    assert file_line_reader({str(utf16): "utf-16"})(str(utf16), 2) is None  # no line to cut: no excerpt
