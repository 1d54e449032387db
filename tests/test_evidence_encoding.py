"""Evidence in other encodings and with other delimiters (issue 16): cp1252 exports as Excel and
LibreOffice write them, ``[evidence] encoding`` and ``--encoding``, the not-UTF-8 error, and
delimiter detection stated by ``sob validate``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sob.contract import load_contract
from sob.evidence import read_evidence
from sob.evidence.encoding import first_bad_utf8
from sob.evidence.source import detect_delimiter
from tests.conftest import make_contract

HEADER = "claim_id;participant_id;outcome_id;achieved_on;evidence_ref\r\n"
ROWS = "c1;Renée;P;2020-02-01;café £5\r\nc2;Zoë;P;2020-02-03;naïve\r\n"


def sob(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def excel_cp1252(folder: Path, text: str = HEADER + ROWS, name: str = "claims.csv") -> Path:
    """A "CSV (semicolon)" export as Excel on Windows writes it: cp1252 bytes, CRLF line ends."""
    path = folder / name
    path.write_bytes(text.encode("cp1252"))
    return path


def test_a_cp1252_file_is_refused_naming_line_byte_and_likely_encoding(tmp_path):
    excel_cp1252(tmp_path)
    make_contract(tmp_path, evidence={"claims": "claims.csv", "delimiter": ";"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 2
    # by hand: the header is 61 bytes with its CRLF; "c1;Ren" is 6 more, so "é" (0xE9) is byte 65 on line 2
    assert len(HEADER) == 61
    assert "claims.csv" in done.stderr and "line 2, byte 67 (0xE9)" in done.stderr
    assert "cp1252" in done.stderr and "--encoding cp1252" in done.stderr and 'encoding = "cp1252"' in done.stderr


@pytest.mark.parametrize("how", ["contract", "option"])
def test_a_cp1252_file_reads_with_its_encoding_declared(tmp_path, how):
    excel_cp1252(tmp_path)
    evidence = {"claims": "claims.csv", "delimiter": ";"}
    if how == "contract":
        evidence["encoding"] = "cp1252"
    make_contract(tmp_path, evidence=evidence)
    extra = ["--encoding", "cp1252"] if how == "option" else []
    done = sob("validate", "contract.toml", *extra, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "encoding cp1252" in done.stdout
    out = sob("pay", "contract.toml", "--quarter", "2020-Q1", "--format", "json", "--export", "x.json", *extra, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["totals"]["entitled"] == "800.00"  # two claims at 400
    rows = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
    assert [(r["participant_id"], r["evidence_ref"]) for r in rows] == [("Renée", "café £5"), ("Zoë", "naïve")]


def test_the_digest_is_of_the_bytes_on_disk_not_the_transcoded_text(tmp_path):
    path = excel_cp1252(tmp_path)
    contract, _ = load_contract(make_contract(tmp_path, evidence={"delimiter": ";", "encoding": "cp1252"}))
    ev = read_evidence(contract, path, None, None)
    assert ev.findings == [] and ev.files[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_byte_the_declared_encoding_cannot_read_names_its_line(tmp_path):
    excel_cp1252(tmp_path)
    make_contract(tmp_path, evidence={"claims": "claims.csv", "delimiter": ";", "encoding": "ascii"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert "line 2, byte 67 (0xE9) is not valid ascii text" in done.stderr


def test_an_unknown_encoding_is_a_contract_error_and_a_bad_option(tmp_path):
    excel_cp1252(tmp_path)
    make_contract(tmp_path, evidence={"claims": "claims.csv", "encoding": "windows-9999"})
    done = sob("validate", "contract.toml", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1
    found = json.loads(done.stdout)["findings"]
    assert [(f["code"], f["field"]) for f in found] == [("BAD_FORMAT", "evidence.encoding")]
    assert "cp1252" in found[0]["message"]
    make_contract(tmp_path, evidence={"claims": "claims.csv"})
    bad = sob("validate", "contract.toml", "--encoding", "rot13", cwd=tmp_path)  # a codec, but not for text
    assert bad.returncode == 2 and "--encoding 'rot13' is not a text encoding" in bad.stderr


def test_utf8_with_a_byte_order_mark_needs_nothing(tmp_path):
    (tmp_path / "claims.csv").write_bytes("\ufeff".encode() + (HEADER + ROWS).encode("utf-8"))
    make_contract(tmp_path, evidence={"claims": "claims.csv"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "delimiter semicolon (detected), encoding utf-8" in done.stdout


@pytest.mark.parametrize(("delim", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_the_delimiter_is_detected_and_stated(tmp_path, delim, name):
    text = (HEADER + ROWS).replace(";", delim)
    (tmp_path / "claims.csv").write_text(text, encoding="utf-8", newline="")
    make_contract(tmp_path, evidence={"claims": "claims.csv"})
    done = sob("validate", "contract.toml", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    reading = json.loads(done.stdout)["contracts"][0]["evidence_files"]
    assert reading == [{"file": str(Path("claims.csv")), "format": "csv", "delimiter": delim, "detected": True,
                        "encoding": "utf-8"}]
    text_out = sob("validate", "contract.toml", cwd=tmp_path).stdout
    assert f"delimiter {name} (detected)" in text_out


def test_a_configured_delimiter_is_never_second_guessed(tmp_path):
    (tmp_path / "claims.csv").write_text(HEADER + ROWS, encoding="utf-8", newline="")
    make_contract(tmp_path, evidence={"claims": "claims.csv", "delimiter": ","})
    done = sob("validate", "contract.toml", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1
    assert {f["code"] for f in json.loads(done.stdout)["findings"]} == {"MISSING_COLUMN"}


def test_detection_ignores_delimiters_inside_quotes_and_breaks_ties_in_order():
    assert detect_delimiter(b'"a;b;c;d",x,y\n1,2,3\n') == ","
    assert detect_delimiter(b"\n\nid|name;x|y\n") == "|"  # blank lines first; 2 pipes beat 1 semicolon
    assert detect_delimiter(b"a;b,c\n") == ","  # a tie goes to the comma
    assert detect_delimiter(b"claim_id\n1\n") == ","  # one column


def test_the_first_bad_byte_is_found_across_chunk_edges(tmp_path):
    # a 2-byte "é" straddles the 1 MiB chunk edge; the first bad byte is the 0xA3 after it
    data = b"a" * ((1 << 20) - 1) + "é".encode() + b"\n" + b"x\xa3\n"
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    at, line, _ = first_bad_utf8(path, None)  # type: ignore[misc]
    assert (at, line) == ((1 << 20) - 1 + 2 + 1 + 1, 2)  # the a's, the é's two bytes, the line break, "x"
    assert first_bad_utf8(None, data)[:2] == (at, line)  # type: ignore[index]
    assert first_bad_utf8(None, b"plain\n") is None
