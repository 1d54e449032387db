"""The command line end to end: exit codes, machine outputs and the SPEC 9 contract.

Most tests go through ``typer.testing.CliRunner`` (fast, same process); a few
run ``python -m sob`` in a real process where piping or a terminal matters.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from sob import __version__
from sob.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_contracts"
SAMPLE_CONTRACTS = sorted(SAMPLES.glob("*/contract.toml"))
SAMPLE_IDS = [p.parent.name for p in SAMPLE_CONTRACTS]
KIRKLEES = SAMPLES / "kirklees-bop" / "contract.toml"
DWP = SAMPLES / "dwp-innovation-fund" / "contract.toml"
MHEP = SAMPLES / "mhep-employment" / "contract.toml"

#: a quarter with activity (and a quarter before it with activity) for each sample
SAMPLE_QUARTER = {
    "dwp-innovation-fund": "2014-Q2",
    "fair-chance-fund": "2016-Q2",
    "kirklees-bop": "2021-Q2",
    "london-rough-sleeping": "2018-Q1",
    "mhep-employment": "2020-Q4",
    "norfolk-families": "2021-Q1",
    "peterborough": "2016-Q3",
    "nyc-able": "2016-Q1",
    "ways-to-wellness": "2018-Q1",
    "youth-engagement-fund": "2016-Q4",
}

AMOUNT = re.compile(r"-?\d+\.\d{2}")
ANSI = re.compile(r"\x1b\[")

TINY = """\
schema = "sob/1"

[contract]
id = "tiny"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2021-12-31

[[payers]]
id = "P"
share = 1

[[outcomes]]
id = "JOB"
price = 100.00
"""

# Line 6 has a date written as a string: WRONG_TYPE on line 6.
BROKEN = TINY.replace("start = 2020-01-01", 'start = "2020-01-01"')

CLAIMS_HEAD = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status\n"


def sob(*args: object, env: dict[str, str] | None = None):
    """Invoke the CLI in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def outcome_ids(contract: Path) -> list[str]:
    with contract.open("rb") as fh:
        return [o["id"] for o in tomllib.load(fh)["outcomes"]]


def payer_ids(contract: Path) -> list[str]:
    with contract.open("rb") as fh:
        return [p["id"] for p in tomllib.load(fh)["payers"]]


def pay_json(contract: Path, quarter: str, *extra: object) -> dict:
    result = sob("pay", contract, "--quarter", quarter, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------
# --version, validate
# --------------------------------------------------------------------------


def test_validate_and_pay_run_behind_the_progress_spinner(monkeypatch):
    """Long runs go through ``_with_progress`` (drawn only on a terminal: see test_render_pay)."""
    import sob.cli as cli

    labels: list[str] = []
    original = cli._with_progress
    monkeypatch.setattr(cli, "_with_progress", lambda label, work: labels.append(label) or original(label, work))
    assert sob("validate", KIRKLEES).exit_code == 0
    assert sob("pay", KIRKLEES, "--quarter", "2021-Q2", "--format", "json").exit_code == 0
    assert labels == [f"checking {KIRKLEES}", "assessing"]


def test_version():
    result = sob("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sob {__version__}"


def test_validate_all_samples_exit_0():
    result = sob("validate", *SAMPLE_CONTRACTS)
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.stderr


@pytest.mark.parametrize("contract", SAMPLE_CONTRACTS, ids=SAMPLE_IDS)
def test_validate_json_is_valid(contract):
    result = sob("validate", contract, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["valid"] is True
    assert doc["errors"] == 0 and doc["findings"] == []
    assert str(contract) in doc["files"]
    assert all(e["passed"] for c in doc["contracts"] for e in c["examples"])


def test_validate_github_is_silent_for_clean_files():
    result = sob("validate", *SAMPLE_CONTRACTS, "--format", "github")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_validate_github_annotates_a_broken_contract(tmp_path):
    bad = write(tmp_path / "bad.toml", BROKEN)
    result = sob("validate", bad, "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines, result.output
    assert all(line.startswith("::") for line in lines)  # nothing else on stdout
    assert any(line.startswith(f"::error file={bad},line=6,") and "title=WRONG_TYPE" in line for line in lines), lines


def test_validate_text_shows_location_code_and_line(tmp_path):
    bad = write(tmp_path / "bad.toml", BROKEN)
    result = sob("validate", bad)
    assert result.exit_code == 1
    assert re.search(rf"^{re.escape(str(bad))}:6:\d+: WRONG_TYPE ", result.stdout, re.MULTILINE), result.stdout
    assert 'start = "2020-01-01"' in result.stdout  # the offending line is shown
    assert "^" in result.stdout  # with a caret under it
    assert "1 error in 1 file" in result.stderr


def test_validate_several_files_one_broken(tmp_path):
    good = write(tmp_path / "good.toml", TINY)
    bad = write(tmp_path / "bad.toml", BROKEN)
    result = sob("validate", good, bad, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert doc["files"] == [str(good), str(bad)]
    assert [c["file"] for c in doc["contracts"]] == [str(good), str(bad)]
    assert {f["file"] for f in doc["findings"]} == {str(bad)}


def test_validate_several_broken_files_are_all_reported(tmp_path):
    bad1 = write(tmp_path / "one.toml", BROKEN)
    bad2 = write(tmp_path / "two.toml", TINY.replace('currency = "GBP"', 'currency = "XYZ"'))
    result = sob("validate", bad1, bad2)
    assert result.exit_code == 1
    assert f"{bad1}:6:" in result.stdout and "WRONG_TYPE" in result.stdout
    assert f"{bad2}:5:" in result.stdout and "BAD_CURRENCY" in result.stdout
    assert "2 errors in 2 files" in result.stderr


def test_validate_evidence_options_with_several_contracts_is_usage_error(tmp_path):
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD)
    result = sob("validate", KIRKLEES, MHEP, "--claims", claims)
    assert result.exit_code == 2
    assert "single contract" in result.stderr


def _duplicate_rows(tmp_path: Path) -> tuple[Path, Path]:
    contract = write(tmp_path / "tiny.toml", TINY)
    row = "C1,A,JOB,2020-02-01,2020-02-01,claimed\n"
    claims = write(tmp_path / "claims.csv", CLAIMS_HEAD + row + row)
    return contract, claims


def test_duplicate_row_is_a_warning(tmp_path):
    contract, claims = _duplicate_rows(tmp_path)
    result = sob("validate", contract, "--claims", claims)
    assert result.exit_code == 0, result.output
    assert re.search(r":3:\d+: warning DUPLICATE_ROW", result.stdout), result.stdout


def test_strict_turns_a_warning_into_failure(tmp_path):
    contract, claims = _duplicate_rows(tmp_path)
    result = sob("validate", contract, "--claims", claims, "--strict")
    assert result.exit_code == 1
    assert "DUPLICATE_ROW" in result.stdout


def test_strict_json_says_not_valid(tmp_path):
    """The JSON verdict agrees with the exit code under --strict."""
    contract, claims = _duplicate_rows(tmp_path)
    loose = sob("validate", contract, "--claims", claims, "--format", "json")
    assert loose.exit_code == 0 and json.loads(loose.stdout)["valid"] is True
    strict = sob("validate", contract, "--claims", claims, "--format", "json", "--strict")
    assert strict.exit_code == 1
    doc = json.loads(strict.stdout)
    assert doc["valid"] is False and doc["warnings"] == 1
    assert [f["code"] for f in doc["findings"]] == ["DUPLICATE_ROW"]


def test_strict_github_emits_the_warning(tmp_path):
    contract, claims = _duplicate_rows(tmp_path)
    result = sob("validate", contract, "--claims", claims, "--format", "github", "--strict")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::warning file={claims},line=3,")


# --------------------------------------------------------------------------
# sob pay --format json (SPEC 9)
# --------------------------------------------------------------------------

TOP_KEYS = {"contract", "quarter", "period", "totals", "by_outcome", "by_payer", "rejections", "caps"}
TOTAL_KEYS = {"claims", "paid", "partial", "capped", "rejected", "entitled", "previously_paid", "due"}


@pytest.mark.parametrize("contract", SAMPLE_CONTRACTS, ids=SAMPLE_IDS)
def test_pay_json_shape(contract):
    quarter = SAMPLE_QUARTER[contract.parent.name]
    result = sob("pay", contract, "--quarter", quarter, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith("{")
    doc = json.loads(result.stdout)  # nothing but one JSON document on stdout
    with contract.open("rb") as fh:  # SPEC 10.6: the adjustment keys exactly when the contract has adjustments
        agreed = tomllib.load(fh).get("adjustments", [])
    extra = {"adjustments"} if agreed else set()
    assert set(doc) == TOP_KEYS | extra
    assert doc["contract"] == contract.parent.name and doc["quarter"] == quarter
    assert set(doc["period"]) == {"start", "end"}
    t = doc["totals"]
    assert set(t) == TOTAL_KEYS | extra
    in_scope = [a["id"] for a in agreed if a["on"].isoformat() <= doc["period"]["end"]]
    assert [a["id"] for a in doc.get("adjustments", [])] == in_scope
    assert t.get("adjustments", 0) == len(in_scope)
    adjusted = {key: sum(Decimal(a[key]) for a in doc.get("adjustments", [])) for key in ("entitled", "due")}
    assert t["claims"] > 0
    assert t["claims"] == t["paid"] + t["partial"] + t["capped"] + t["rejected"]
    for key in ("entitled", "previously_paid", "due"):
        assert isinstance(t[key], str) and AMOUNT.fullmatch(t[key]), (key, t[key])
    assert Decimal(t["due"]) == Decimal(t["entitled"]) - Decimal(t["previously_paid"])

    assert [o["outcome_id"] for o in doc["by_outcome"]] == outcome_ids(contract)
    for o in doc["by_outcome"]:
        assert set(o) == {"outcome_id", "claims", "accepted", "entitled", "due"}
        assert isinstance(o["claims"], int) and isinstance(o["accepted"], int)
        assert 0 <= o["accepted"] <= o["claims"]
        assert AMOUNT.fullmatch(o["entitled"]) and AMOUNT.fullmatch(o["due"])
    assert sum(o["claims"] for o in doc["by_outcome"]) == t["claims"]
    assert sum(Decimal(o["entitled"]) for o in doc["by_outcome"]) + adjusted["entitled"] == Decimal(t["entitled"])
    assert sum(Decimal(o["due"]) for o in doc["by_outcome"]) + adjusted["due"] == Decimal(t["due"])

    assert [p["payer_id"] for p in doc["by_payer"]] == payer_ids(contract)
    with contract.open("rb") as fh:  # SPEC 11.1: by_payer[].cap exactly for the payers with a cap
        payer_caps = {p["id"]: p["cap"] for p in tomllib.load(fh)["payers"] if "cap" in p}
    for p in doc["by_payer"]:
        if p["payer_id"] in payer_caps:
            limit = Decimal(str(payer_caps[p["payer_id"]]))  # a plain amount in every sample
            assert p["cap"] == {"limit": f"{limit:.2f}", "used": p["entitled"],
                                "headroom": f"{limit - Decimal(p['entitled']):.2f}"}
    for key in ("entitled", "previously_paid", "due"):
        for p in doc["by_payer"]:
            assert set(p) == {"payer_id", "entitled", "previously_paid", "due"} | ({"cap"} & set(p))
            assert ("cap" in p) == (p["payer_id"] in payer_caps)
            assert AMOUNT.fullmatch(p[key]), (key, p)
        assert sum(Decimal(p[key]) for p in doc["by_payer"]) == Decimal(t[key]), key

    assert all(isinstance(v, int) and v > 0 for v in doc["rejections"].values())
    assert sum(doc["rejections"].values()) == t["rejected"]
    with contract.open("rb") as fh:
        total_cap = tomllib.load(fh).get("caps", {}).get("total")
    if isinstance(total_cap, list):  # a dated cap (SPEC 10.5): the entry in force at the end of the quarter
        end = date.fromisoformat(doc["period"]["end"])
        total_cap = [entry["amount"] for entry in total_cap if entry["from"] <= end][-1]
    if total_cap is None:
        assert doc["caps"] == {}
    else:
        cap = doc["caps"]["total"]
        assert Decimal(cap["limit"]) == Decimal(str(total_cap))
        assert Decimal(cap["used"]) == Decimal(t["entitled"])
        assert Decimal(cap["headroom"]) == Decimal(cap["limit"]) - Decimal(cap["used"])


def test_pay_json_period_follows_fiscal_year():
    doc = pay_json(KIRKLEES, "2020-Q1")  # April fiscal year
    assert doc["period"] == {"start": "2020-04-01", "end": "2020-06-30"}
    doc = pay_json(KIRKLEES, "2019-Q4")
    assert doc["period"] == {"start": "2020-01-01", "end": "2020-03-31"}


def test_pay_json_stdout_is_pure_json_even_with_warnings(tmp_path):
    contract, claims = _duplicate_rows(tmp_path)
    result = sob("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"]["claims"] == 1  # identical rows are one row
    assert "DUPLICATE_ROW" in result.stderr and "DUPLICATE_ROW" not in result.stdout


# --------------------------------------------------------------------------
# --export
# --------------------------------------------------------------------------

HEAD = ["claim_id", "kind", "participant_id", "cohort", "outcome_id", "achieved_on", "submitted_on",
        "status", "reason", "price", "entitled", "previously_paid", "due"]
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _xlsx_rows(path: Path) -> list[list[str]]:
    """Cell text of an xlsx sheet, row by row (shared strings resolved)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as zf:
        strings = []
        if "xl/sharedStrings.xml" in zf.namelist():
            root = ET.fromstring(zf.read("xl/sharedStrings.xml"))
            strings = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")) for si in root.findall("m:si", ns)]
        # the finance pack (--export .xlsx) holds the claim table in its sheet "Claims"
        names = [s.get("name") for s in ET.fromstring(zf.read("xl/workbook.xml")).iter(f"{{{ns['m']}}}sheet")]
        index = names.index("Claims") + 1 if "Claims" in names else 1
        sheet = ET.fromstring(zf.read(f"xl/worksheets/sheet{index}.xml"))
        styles = zf.read("xl/styles.xml").decode()
    rows = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells = []
        for c in row.findall("m:c", ns):
            v = c.find("m:v", ns)
            text = "" if v is None else v.text or ""
            cells.append(strings[int(text)] if c.get("t") == "s" else text)
        rows.append(cells)
    assert 'formatCode="yyyy-mm-dd"' in styles  # date cells are shown as ISO dates
    return rows


@pytest.mark.parametrize("ext", ["csv", "json", "parquet", "xlsx"])
def test_export_columns_and_iso_dates(tmp_path, ext):
    """Kirklees: UK dates in the evidence, amount_claimed present, two payers."""
    out = tmp_path / f"table.{ext}"
    result = sob("pay", KIRKLEES, "--quarter", "2020-Q1", "--export", out, "--format", "json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    expected = HEAD + ["due_KC", "due_LCF", "amount_claimed", "claimed_variance"]
    if ext == "csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        columns = list(rows[0].keys())
    elif ext == "json":
        rows = json.loads(out.read_text(encoding="utf-8"))
        columns = list(rows[0].keys())
    elif ext == "parquet":
        frame = pl.read_parquet(out)
        columns = frame.columns
        assert frame.schema["achieved_on"] == pl.Date
        rows = frame.with_columns(pl.col("achieved_on", "submitted_on").cast(pl.String)).to_dicts()
    else:
        sheet = _xlsx_rows(out)
        columns = sheet[0]
        rows = []
    assert columns[: len(expected)] == expected, columns
    for row in rows:
        assert ISO.fullmatch(row["achieved_on"]) and ISO.fullmatch(row["submitted_on"]), row
    if rows:
        first = {r["claim_id"]: r for r in rows}["KBOP-00001"]
        assert (first["achieved_on"], first["submitted_on"]) == ("2019-10-03", "2019-10-18")  # 03/10/2019
    if ext in ("csv", "json"):
        doc = json.loads(result.stdout)  # the table also holds the quarter's adjustment (SPEC 10.6)
        assert len(rows) == doc["totals"]["claims"] + doc["totals"]["adjustments"] == doc["totals"]["claims"] + 1
        for r in rows:
            if r["kind"] == "adjustment":  # nothing invoiced for an agreed payment: no variance
                assert r["amount_claimed"] in ("", None) and r["claimed_variance"] in ("", None), r
                assert r["note"].startswith("COVID-19 payment on profile"), r
            else:
                assert Decimal(r["claimed_variance"]) == Decimal(r["amount_claimed"]) - Decimal(r["entitled"])
                assert r["note"] in ("", None), r
            assert Decimal(r["due"]) == Decimal(r["due_KC"]) + Decimal(r["due_LCF"])


def test_export_without_amount_claimed_has_no_variance_columns(tmp_path):
    out = tmp_path / "t.csv"
    result = sob("pay", MHEP, "--quarter", "2020-Q4", "--export", out, "--format", "json")
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0].split(",")
    assert header == HEAD + ["due_LOCAL", "due_LCF", "evidence_ref"]  # evidence_ref is carried through (SPEC 4.1)


def test_export_carries_extra_columns_last(tmp_path):
    contract = write(tmp_path / "tiny.toml", TINY)
    claims = write(
        tmp_path / "c.csv",
        "claim_id,zz_note,participant_id,outcome_id,achieved_on,amount_claimed,aa_more\n"
        "C1,hello,A,JOB,2020-02-01,120.00,x\n",
    )
    out = tmp_path / "t.json"
    result = sob("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--export", out, "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())
    assert list(row) == HEAD + ["due_P", "amount_claimed", "claimed_variance", "zz_note", "aa_more"]
    assert row["claimed_variance"] == "20.00" and row["zz_note"] == "hello"


def test_export_carries_evidence_ref(tmp_path):
    out = tmp_path / "t.json"
    result = sob("pay", DWP, "--quarter", "2013-Q1", "--export", out, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["claim_id"]: r for r in json.loads(out.read_text())}
    assert rows["C00001"].get("evidence_ref") == "TL-1211-0086"


def test_export_bad_extension_is_usage_error_and_writes_nothing(tmp_path):
    out = tmp_path / "table.txt"
    result = sob("pay", KIRKLEES, "--quarter", "2020-Q1", "--export", out)
    assert result.exit_code == 2
    assert ".csv" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_to_missing_folder_is_usage_error(tmp_path):
    result = sob("pay", KIRKLEES, "--quarter", "2020-Q1", "--export", tmp_path / "nope" / "t.csv")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_close_with_unwritable_export_closes_nothing(tmp_path):
    """A close whose --export cannot be written must not leave the quarter closed."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    bad = sob("pay", MHEP, "--quarter", "2020-Q1", "--ledger", ledger, "--close", "--export", tmp_path / "nope" / "t.csv")
    assert bad.exit_code == 2
    assert list(ledger.rglob("*.csv")) == [] and list(ledger.rglob("*.toml")) == []
    out = tmp_path / "t.csv"
    good = sob("pay", MHEP, "--quarter", "2020-Q1", "--ledger", ledger, "--close", "--opening", "none", "--export", out)
    assert good.exit_code == 0, good.output
    assert out.exists() and (ledger / "mhep-employment" / "2020-Q1.toml").exists()
    again = sob("pay", MHEP, "--quarter", "2020-Q1", "--ledger", ledger, "--close", "--export", tmp_path / "again.csv")
    assert again.exit_code == 1
    assert not (tmp_path / "again.csv").exists()


# --------------------------------------------------------------------------
# Exit-code order (SPEC 9)
# --------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write(tmp_path / "tiny.toml", TINY)


@pytest.fixture
def broken(tmp_path) -> Path:
    return write(tmp_path / "broken.toml", BROKEN)


def test_order_bad_quarter_syntax_beats_broken_contract(broken):
    result = sob("pay", broken, "--quarter", "2020-Q5")
    assert result.exit_code == 2
    assert "YYYY-Qn" in result.stderr
    assert "WRONG_TYPE" not in result.stderr


def test_order_broken_contract_is_1(broken, tmp_path):
    result = sob("pay", broken, "--quarter", "2020-Q1")
    assert result.exit_code == 1
    assert "WRONG_TYPE" in result.stderr


def test_order_broken_contract_beats_missing_claims(broken, tmp_path):
    result = sob("pay", broken, "--quarter", "2020-Q1", "--claims", tmp_path / "nope.csv")
    assert result.exit_code == 1


def test_order_quarter_before_start_is_2(tiny):
    result = sob("pay", tiny, "--quarter", "2019-Q4")
    assert result.exit_code == 2
    assert "before the contract starts" in result.stderr


def test_order_quarter_before_start_beats_data_errors(tiny, tmp_path):
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD + "C1,A,JOB,not-a-date,,claimed\n")
    result = sob("pay", tiny, "--quarter", "2019-Q4", "--claims", claims)
    assert result.exit_code == 2
    assert "BAD_DATE" not in result.stderr


def test_order_no_claims_file_is_2(tiny):
    result = sob("pay", tiny, "--quarter", "2020-Q1")
    assert result.exit_code == 2
    assert "no claims file" in result.stderr


@pytest.mark.parametrize("kind", ["missing", "directory", "utf16", "configured-missing"])
def test_order_unreadable_claims_file_is_2(tmp_path, tiny, kind):
    args: list[object] = []
    contract = tiny
    if kind == "missing":
        args = ["--claims", tmp_path / "nope.csv"]
    elif kind == "directory":
        (tmp_path / "dir.csv").mkdir()
        args = ["--claims", tmp_path / "dir.csv"]
    elif kind == "utf16":
        path = tmp_path / "u16.csv"
        path.write_text(CLAIMS_HEAD + "C1,A,JOB,2020-02-01,,\n", encoding="utf-16")
        args = ["--claims", path]
    else:
        contract = write(tmp_path / "cfg.toml", TINY + '\n[evidence]\nclaims = "evidence/claims.csv"\n')
    result = sob("pay", contract, "--quarter", "2020-Q1", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_order_unreadable_file_beats_data_errors(tmp_path):
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD + "C1,MH0001,ENGAGE,not-a-date,,claimed\n")
    result = sob("pay", MHEP, "--quarter", "2020-Q1", "--claims", claims, "--participants", tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "BAD_DATE" not in result.stderr


def test_order_unreadable_file_beats_file_level_errors(tmp_path):
    claims = write(tmp_path / "c.csv", "claim_id,participant_id\nC1,A\n")  # MISSING_COLUMN
    result = sob("pay", MHEP, "--quarter", "2020-Q1", "--claims", claims, "--participants", tmp_path / "nope.csv")
    assert result.exit_code == 2


def test_file_level_error_is_1(tiny, tmp_path):
    claims = write(tmp_path / "c.csv", "claim_id,participant_id\nC1,A\n")
    result = sob("pay", tiny, "--quarter", "2020-Q1", "--claims", claims)
    assert result.exit_code == 1
    assert "MISSING_COLUMN" in result.stderr


def _bad_rows(tmp_path: Path) -> Path:
    return write(
        tmp_path / "claims.csv",
        CLAIMS_HEAD
        + "C1,A,JOB,2020-02-01,2020-02-01,claimed\n"  # fine: paid 100.00
        + "C2,A,JOB,2020-13-01,2020-02-01,claimed\n"  # BAD_DATE
        + "C3,B,NOPE,2020-02-01,2020-02-01,claimed\n"  # UNKNOWN_OUTCOME
        + "C4,B,NOPE,yesterday,2020-02-01,maybe\n"  # BAD_DATE, BAD_STATUS, UNKNOWN_OUTCOME: BAD_DATE first
        + "C5,C,JOB,2020-02-01,2020-01-01,claimed\n",  # SUBMITTED_BEFORE_ACHIEVED
    )


def test_data_errors_are_1_and_write_nothing(tiny, tmp_path):
    claims = _bad_rows(tmp_path)
    out = tmp_path / "out.csv"
    result = sob("pay", tiny, "--quarter", "2020-Q1", "--claims", claims, "--export", out, "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert not out.exists()
    for code in ("BAD_DATE", "UNKNOWN_OUTCOME", "BAD_STATUS", "SUBMITTED_BEFORE_ACHIEVED"):
        assert code in result.stderr
    assert "--reject-invalid" in result.stderr


def test_reject_invalid_rejects_rows_with_their_code(tiny, tmp_path):
    claims = _bad_rows(tmp_path)
    out = tmp_path / "out.json"
    result = sob(
        "pay", tiny, "--quarter", "2020-Q1", "--claims", claims, "--export", out, "--format", "json", "--reject-invalid"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {r["claim_id"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"C1", "C2", "C3", "C4", "C5"}
    assert [(rows[i]["status"], rows[i]["reason"]) for i in ("C1", "C2", "C3", "C4", "C5")] == [
        ("paid", None),
        ("rejected", "BAD_DATE"),
        ("rejected", "UNKNOWN_OUTCOME"),
        ("rejected", "BAD_DATE"),
        ("rejected", "SUBMITTED_BEFORE_ACHIEVED"),
    ]
    assert rows["C3"]["outcome_id"] == "NOPE"  # an unknown outcome id is shown as the provider gave it
    assert doc["totals"]["claims"] == 5 and doc["totals"]["entitled"] == "100.00"
    assert doc["rejections"] == {"BAD_DATE": 2, "SUBMITTED_BEFORE_ACHIEVED": 1, "UNKNOWN_OUTCOME": 1}


def test_close_without_ledger_is_2(tiny, tmp_path):
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD)
    result = sob("pay", tiny, "--quarter", "2020-Q1", "--claims", claims, "--close")
    assert result.exit_code == 2
    assert "--ledger" in result.stderr


def test_missing_ledger_folder_is_2(tiny, tmp_path):
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD)
    result = sob("pay", tiny, "--quarter", "2020-Q1", "--claims", claims, "--ledger", tmp_path / "nope")
    assert result.exit_code == 2


def test_close_is_refused_on_invalid_evidence_even_with_reject_invalid(tiny, tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    result = sob(
        "pay", tiny, "--quarter", "2020-Q1", "--claims", _bad_rows(tmp_path), "--ledger", ledger, "--close",
        "--reject-invalid",
    )
    assert result.exit_code == 1
    assert list(ledger.iterdir()) == []


# --------------------------------------------------------------------------
# sob test, explain, init, schema, ledger
# --------------------------------------------------------------------------


def test_sob_test_all_samples_pass():
    result = sob("test", *SAMPLE_CONTRACTS)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    n_examples = 0
    for contract in SAMPLE_CONTRACTS:
        with contract.open("rb") as fh:
            examples = tomllib.load(fh).get("examples", [])
        n_examples += len(examples)
        for ex in examples:
            assert f"PASS {contract}: {ex['name']}" in result.stdout
    assert len(lines) == n_examples and all(line.startswith("PASS") for line in lines)


def test_sob_test_wrong_expectation_fails_with_difference(tmp_path):
    path = tmp_path / "c.toml"
    assert sob("init", path).exit_code == 0
    text = path.read_text()
    assert "\nentitled = 1800.00\n" in text
    path.write_text(text.replace("\nentitled = 1800.00\n", "\nentitled = 1900.00\n"))
    result = sob("test", path)
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL ")
    assert "expected 1900.00, computed 1800.00" in result.stdout


def test_sob_test_broken_contract_fails(broken):
    result = sob("test", broken)
    assert result.exit_code == 1
    assert "FAIL" in result.stdout


def test_explain_shows_every_rule_and_the_money():
    result = sob("explain", DWP, "--quarter", "2015-Q2", "--claim", "C00002")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for rule in ("WITHDRAWN", "INELIGIBLE", "ENROLMENT_OUT_OF_PERIOD", "BEFORE_ENROLMENT", "OUT_OF_WINDOW",
                 "OUT_OF_CONTRACT_PERIOD", "LATE_CLAIM", "PREREQUISITE_MISSING", "MAX_CLAIMS", "EXCLUSIVE",
                 "VOLUME_CAP", "PARTICIPANT_CAP"):
        assert rule in out, rule
    assert re.search(r"entitled\s*│\s*£700\.00", out), out
    assert re.search(r"due\s*│\s*£0\.00", out), out
    assert "status: paid" in out


def test_explain_agrees_with_the_export(tmp_path):
    out = tmp_path / "t.json"
    assert sob("pay", DWP, "--quarter", "2015-Q1", "--export", out, "--format", "json").exit_code == 0
    capped = next(r for r in json.loads(out.read_text()) if r["status"] == "partial")
    result = sob("explain", DWP, "--quarter", "2015-Q1", "--claim", capped["claim_id"])
    assert result.exit_code == 0, result.output
    assert "status: partial (PARTICIPANT_CAP)" in result.stdout
    shown = "£" + format(Decimal(capped["entitled"]), ",")  # the terminal groups thousands
    assert re.search(rf"entitled\s*│\s*{re.escape(shown)}", result.stdout)


def test_explain_unknown_claim_is_1():
    result = sob("explain", DWP, "--quarter", "2015-Q2", "--claim", "NO-SUCH-CLAIM")
    assert result.exit_code == 1
    assert "'NO-SUCH-CLAIM'" in result.stderr and "not an in-scope row" in result.stderr
    assert "Traceback" not in result.output


def test_init_writes_a_contract_that_passes_test_and_validates_with_evidence(tmp_path):
    path = tmp_path / "new" / "contract.toml"
    result = sob("init", path)
    assert result.exit_code == 0, result.output
    assert sob("test", path).exit_code == 0
    claims = write(path.parent / "evidence" / "claims.csv", CLAIMS_HEAD)
    register = write(path.parent / "evidence" / "participants.csv", "participant_id,enrolled_on,eligible,cohort\n")
    result = sob("validate", path, "--claims", claims, "--participants", register)
    assert result.exit_code == 0, result.output


def test_init_then_validate_passes(tmp_path):
    path = tmp_path / "contract.toml"
    assert sob("init", path).exit_code == 0
    result = sob("validate", path)
    assert result.exit_code == 0, result.output


def test_init_refuses_to_overwrite(tmp_path):
    path = tmp_path / "contract.toml"
    assert sob("init", path).exit_code == 0
    path.write_text("# mine\n")
    result = sob("init", path)
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert path.read_text() == "# mine\n"


def test_schema_is_draft_2020_12_json():
    result = sob("schema")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_ledger_verify_empty_folder_is_intact(tmp_path):
    result = sob("ledger", "verify", tmp_path)
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout


def test_ledger_verify_missing_folder_is_2(tmp_path):
    result = sob("ledger", "verify", tmp_path / "nope")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_ledger_close_then_verify_then_tamper(tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for q in ("2020-Q3", "2020-Q4"):
        first = ["--opening", "none"] if q == "2020-Q3" else []  # SPEC 10.3: a first close mid-life
        result = sob("pay", MHEP, "--quarter", q, "--ledger", ledger, "--close", *first, "--format", "json")
        assert result.exit_code == 0, result.output
    assert sob("ledger", "verify", ledger).exit_code == 0
    closed = ledger / "mhep-employment" / "2020-Q3.csv"
    closed.write_text(closed.read_text().replace("300.00", "301.00", 1))
    result = sob("ledger", "verify", ledger)
    assert result.exit_code == 1
    assert "2020-Q3.csv" in result.output


def test_ledger_previously_paid_matches_recomputation(tmp_path):
    """With files that only grew, the ledger and the recomputation agree (SPEC 6)."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    assert sob("pay", MHEP, "--quarter", "2020-Q3", "--ledger", ledger, "--close", "--opening", "none").exit_code == 0
    with_ledger = pay_json(MHEP, "2020-Q4", "--ledger", ledger)
    without = pay_json(MHEP, "2020-Q4")
    # Without a ledger previously_paid is entitled as at 2020-Q3; with one it is what was due
    # in the one closed quarter, 2020-Q3, which is also entitled as at 2020-Q3 (nothing before).
    assert with_ledger["totals"] == without["totals"]
    assert with_ledger["by_payer"] == without["by_payer"]


# --------------------------------------------------------------------------
# Colour and piping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("pay", MHEP, "--quarter", "2020-Q4"), ("explain", DWP, "--quarter", "2015-Q2",
                                                                          "--claim", "C00002")])
def test_no_color_env_gives_no_escapes(args):
    result = sob(*args, env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert not ANSI.search(result.output)
    flagged = sob("--no-color", *args)
    assert flagged.exit_code == 0 and not ANSI.search(flagged.output)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(extra)
    return env


@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}], ids=["plain", "NO_COLOR"])
def test_piped_output_has_no_escapes(env):
    """A real process writing into pipes: no colour, no spinner, no cursor codes."""
    for args in (["pay", str(MHEP), "--quarter", "2020-Q4"], ["validate", str(MHEP)], ["test", str(MHEP)]):
        proc = subprocess.run(
            [sys.executable, "-m", "sob", *args], check=False, capture_output=True, env=_env(TERM="xterm-256color", **env), timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert b"\x1b" not in proc.stdout and b"\x1b" not in proc.stderr, args


COLOUR_SGR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal():
    """On a real terminal colour is used, and NO_COLOR removes every colour code."""
    import pty  # noqa: F401 - POSIX only

    def run(**extra: str) -> bytes:
        master, slave = os.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sob", "pay", str(MHEP), "--quarter", "2020-Q4"],
            stdin=slave, stdout=slave, stderr=slave, env=_env(TERM="xterm-256color", COLUMNS="160", **extra),
            close_fds=True,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        assert proc.wait(timeout=120) == 0
        return b"".join(chunks)

    assert COLOUR_SGR.search(run()), "expected colour on a terminal (the check below would prove nothing)"
    assert not COLOUR_SGR.search(run(NO_COLOR="1"))


def test_a_closed_pipe_is_not_an_internal_error(tmp_path):
    """`sob validate ... | head -1`: the reader goes away; no traceback, no 'internal error'."""
    rows = "".join(f"X{i},A,NOPE,2020-01-01,,\n" for i in range(20_000))  # ~2 MB of findings
    claims = write(tmp_path / "c.csv", CLAIMS_HEAD + rows)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sob", "validate", str(MHEP), "--claims", str(claims)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert b"UNKNOWN_PARTICIPANT" in first or b"UNKNOWN_OUTCOME" in first
    assert b"Traceback" not in err and b"internal error" not in err and b"Exception ignored" not in err, err
    assert code == 1


def test_command_line_errors_come_first_like_the_quarter_syntax(broken, tmp_path):
    """--close without --ledger and a bad --export name are command-line errors: 2 before the contract's 1."""
    assert sob("pay", broken, "--quarter", "2020-Q1", "--close").exit_code == 2
    assert sob("pay", broken, "--quarter", "2020-Q1", "--export", tmp_path / "t.txt").exit_code == 2


@pytest.mark.parametrize("which", ["claims", "participants"])
def test_export_never_overwrites_an_input(tmp_path, which):
    contract = write(tmp_path / "tiny.toml", TINY)
    claims = write(tmp_path / "claims.csv", CLAIMS_HEAD + "C1,A,JOB,2020-02-01,2020-02-01,claimed\n")
    register = write(tmp_path / "participants.csv", "participant_id,enrolled_on\nA,2020-01-10\n")
    before = {p: p.read_bytes() for p in (claims, register)}
    target = claims if which == "claims" else tmp_path / "sub" / ".." / "participants.csv"
    (tmp_path / "sub").mkdir()
    result = sob("pay", contract, "--quarter", "2020-Q1", "--claims", claims, "--participants", register,
                 "--export", target)
    assert result.exit_code == 2
    assert "would overwrite the input file" in result.stderr
    assert {p: p.read_bytes() for p in before} == before


def test_export_never_writes_into_the_ledger(tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    assert sob("pay", MHEP, "--quarter", "2020-Q3", "--ledger", ledger, "--close", "--opening", "none").exit_code == 0
    closed = ledger / "mhep-employment" / "2020-Q3.csv"
    before = closed.read_bytes()
    result = sob("pay", MHEP, "--quarter", "2020-Q4", "--ledger", ledger, "--export", closed)
    assert result.exit_code == 2
    assert closed.read_bytes() == before
    assert sob("ledger", "verify", ledger).exit_code == 0


def test_unreadable_dates_come_last_by_id(tiny, tmp_path):
    claims = write(
        tmp_path / "c.csv",
        CLAIMS_HEAD
        + "Z1,A,JOB,not-a-date,2020-01-15,claimed\n"  # unreadable achieved_on, early submission
        + "A1,A,JOB,not-a-date,2020-02-20,claimed\n"  # unreadable achieved_on, later submission
        + "M1,A,JOB,2020-01-10,2020-01-10,claimed\n",
    )
    out = tmp_path / "t.json"
    result = sob("pay", tiny, "--quarter", "2020-Q1", "--claims", claims, "--reject-invalid", "--export", out)
    assert result.exit_code == 0, result.output
    assert [r["claim_id"] for r in json.loads(out.read_text())] == ["M1", "A1", "Z1"]


def test_a_real_process_flushes_everything_and_keeps_its_exit_code(tmp_path):
    """``main`` ends the process with os._exit: output must still arrive whole, codes unchanged."""
    schema = subprocess.run([sys.executable, "-m", "sob", "schema"], check=False, capture_output=True, timeout=120)
    assert schema.returncode == 0
    assert json.loads(schema.stdout)["$schema"].startswith("https://json-schema.org/")  # the whole document
    bad = write(tmp_path / "bad.toml", "[contract\n")
    invalid = subprocess.run([sys.executable, "-m", "sob", "validate", str(bad)], check=False, capture_output=True, timeout=120)
    assert invalid.returncode == 1 and b"bad.toml:1:" in invalid.stderr + invalid.stdout
    usage = subprocess.run([sys.executable, "-m", "sob", "pay", str(MHEP)], check=False, capture_output=True, timeout=120)
    assert usage.returncode == 2
