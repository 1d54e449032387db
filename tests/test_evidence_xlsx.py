"""XLSX/ODS evidence (issue 16): sheets written by xlsxwriter with real date, number, text and
boolean cells, read into the same checks as CSV; findings name cells; CSV, Parquet and XLSX of
the same data pay the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from sob.contract import load_contract
from sob.evidence import read_evidence, spreadsheet
from sob.evidence.spreadsheet import cell_ref, column_letters
from tests.conftest import make_contract

COLUMNS = ["claim_id", "participant_id", "outcome_id", "achieved_on", "amount_claimed", "evidence_ref"]
# the same claims as Python values; dates as real date cells in the workbook
DATA = [
    ["c1", "A", "P", date(2020, 2, 1), 400, "first"],
    ["c2", "B", "P", date(2020, 3, 31), 399.5, "=cmd"],
    ["c3", "A", "P", date(2020, 5, 2), 400, None],  # a second claim of A for P: rejected (one claim per outcome)
    ["c4", "C", "P", date(2020, 4, 1), None, "q2"],
]


def sob(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Claims", *, first: str | None = None,
               header: list[str] = COLUMNS, start_row: int = 0) -> Path:
    """A workbook as a provider's system exports it: dates as date cells shown dd/mm/yyyy."""
    wb = xlsxwriter.Workbook(str(path))
    if first is not None:
        wb.add_worksheet(first).write(0, 0, "notes, not claims")
    ws = wb.add_worksheet(sheet)
    fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(start_row, 0, header)
    for i, row in enumerate(rows, start=start_row + 1):
        for j, v in enumerate(row):
            if isinstance(v, datetime | date):
                ws.write_datetime(i, j, v if isinstance(v, datetime) else datetime(v.year, v.month, v.day), fmt)
            elif isinstance(v, str):
                ws.write_string(i, j, v)  # text, even when it looks like a formula
            elif v is not None:
                ws.write(i, j, v)
    wb.close()
    return path


def test_cells_of_every_type_are_read_like_csv(tmp_path):
    path = write_xlsx(tmp_path / "claims.xlsx", DATA)
    contract, _ = load_contract(make_contract(tmp_path, evidence={"date_format": "%d/%m/%Y"}))
    ev = read_evidence(contract, path, None, None)
    assert ev.findings == []
    assert ev.claims.select("line", "claim_id", "achieved_on", "amount_claimed", "evidence_ref").rows() == [
        (2, "c1", date(2020, 2, 1), 40000, "first"), (3, "c2", date(2020, 3, 31), 39950, "=cmd"),
        (4, "c3", date(2020, 5, 2), 40000, None), (5, "c4", date(2020, 4, 1), None, "q2")]
    assert ev.files[0].sheet == "Claims"


def test_findings_name_cells(tmp_path):
    rows = [["c1", "A", "P", "2020-13-01", 400, None], ["c2", "A", "PP", datetime(2020, 3, 31, 9, 30), "£5", None]]
    write_xlsx(tmp_path / "claims.xlsx", rows, sheet="Q1 claims", start_row=2)
    make_contract(tmp_path, evidence={"claims": "claims.xlsx"})
    done = sob("validate", "contract.toml", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    found = [(f["code"], f["cell"], f["line"]) for f in json.loads(done.stdout)["findings"]]
    # the header is on row 3, so the rows are 4 and 5; columns D (achieved_on), C, E
    assert found == [("BAD_DATE", "'Q1 claims'!D4", 4), ("UNKNOWN_OUTCOME", "'Q1 claims'!C5", 5),
                     ("BAD_DATE", "'Q1 claims'!D5", 5), ("BAD_AMOUNT_CLAIMED", "'Q1 claims'!E5", 5)]
    text = sob("validate", "contract.toml", cwd=tmp_path).stdout
    assert "claims.xlsx:'Q1 claims'!D4: BAD_DATE" in text
    assert "time of day" in text  # 09:30 is not dropped silently


def test_the_sheet_is_chosen_by_name_or_is_the_first(tmp_path):
    write_xlsx(tmp_path / "claims.xlsx", DATA, first="Notes")
    make_contract(tmp_path, evidence={"claims": "claims.xlsx", "date_format": "%d/%m/%Y", "sheet": "Claims"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "claims.xlsx: read sheet 'Claims'" in done.stdout
    make_contract(tmp_path, evidence={"claims": "claims.xlsx"})  # the first sheet has no claims header
    assert sob("validate", "contract.toml", cwd=tmp_path).returncode == 1
    make_contract(tmp_path, evidence={"claims": "claims.xlsx", "sheet": "Claim"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 2 and "no sheet 'Claim' (did you mean 'Claims'?)" in done.stderr


def test_csv_parquet_and_xlsx_pay_the_same(tmp_path):
    write_xlsx(tmp_path / "claims.xlsx", DATA)
    text = [",".join(COLUMNS)] + [
        ",".join("" if v is None else v.strftime("%d/%m/%Y") if isinstance(v, date) else str(v) for v in row)
        for row in DATA]
    (tmp_path / "claims.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    pl.DataFrame([dict(zip(COLUMNS, row)) for row in DATA],
                 schema={"claim_id": pl.String, "participant_id": pl.String, "outcome_id": pl.String,
                         "achieved_on": pl.Date, "amount_claimed": pl.Float64, "evidence_ref": pl.String},
                 orient="row").write_parquet(tmp_path / "claims.parquet")
    make_contract(tmp_path, evidence={"date_format": "%d/%m/%Y"})
    outs = {}
    for name in ("claims.csv", "claims.parquet", "claims.xlsx"):
        for quarter in ("2020-Q1", "2020-Q2"):
            done = sob("pay", "contract.toml", "--quarter", quarter, "--claims", name, "--format", "json",
                       "--export", f"{name}.{quarter}.json", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            rows = json.loads((tmp_path / f"{name}.{quarter}.json").read_text(encoding="utf-8"))
            outs[name, quarter] = (json.loads(done.stdout), rows)
    for quarter in ("2020-Q1", "2020-Q2"):
        assert outs["claims.csv", quarter] == outs["claims.parquet", quarter] == outs["claims.xlsx", quarter]
    # by hand: Q1 pays c1 and c2 (400 each); in Q2 c3 is rejected (A already claimed P) and c4 pays 400
    assert outs["claims.xlsx", "2020-Q1"][0]["totals"]["entitled"] == "800.00"
    assert outs["claims.xlsx", "2020-Q2"][0]["totals"]["entitled"] == "1200.00"
    variance = {r["claim_id"]: r["claimed_variance"] for r in outs["claims.xlsx", "2020-Q1"][1]}
    assert variance["c2"] in ("-0.50", -0.5)  # claimed 399.50 against 400.00


def test_an_ods_sheet_is_read(tmp_path):
    path = tmp_path / "claims.ods"
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet><table:table table:name=\"Claims\">"
        + "".join("<table:table-row>" + "".join(cell for cell in row) + "</table:table-row>" for row in [
            [f'<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>'
             for c in ("claim_id", "participant_id", "outcome_id", "achieved_on")],
            ['<table:table-cell office:value-type="string"><text:p>c1</text:p></table:table-cell>',
             '<table:table-cell office:value-type="string"><text:p>A</text:p></table:table-cell>',
             '<table:table-cell office:value-type="string"><text:p>P</text:p></table:table-cell>',
             '<table:table-cell office:value-type="date" office:date-value="2020-02-01"><text:p>01/02/2020</text:p>'
             "</table:table-cell>"],
        ]) + "</table:table></office:spreadsheet></office:body></office:document-content>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml",
                    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                    "</manifest:manifest>")
    contract, _ = load_contract(make_contract(tmp_path))
    ev = read_evidence(contract, path, None, None)
    assert ev.findings == [] and ev.claims.select("claim_id", "achieved_on").rows() == [("c1", date(2020, 2, 1))]


def test_what_is_not_a_spreadsheet_or_unpacks_too_far_is_refused(tmp_path, monkeypatch):
    (tmp_path / "claims.xlsx").write_bytes(b"claim_id,participant_id\n")
    make_contract(tmp_path, evidence={"claims": "claims.xlsx"})
    done = sob("validate", "contract.toml", cwd=tmp_path)
    assert done.returncode == 2 and "not an XLSX/ODS spreadsheet" in done.stderr
    write_xlsx(tmp_path / "big.xlsx", DATA)
    monkeypatch.setattr(spreadsheet, "MAX_SPREADSHEET_UNPACKED", 1000)
    contract, _ = load_contract(tmp_path / "contract.toml")
    from sob.findings import UsageError

    with pytest.raises(UsageError, match="unpacks to more than 1,000 bytes"):
        read_evidence(contract, tmp_path / "big.xlsx", None, None)


@pytest.mark.parametrize(("n", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"), (703, "AAA")])
def test_column_letters(n, letters):
    assert column_letters(n) == letters


def test_cell_refs_quote_sheet_names_as_spreadsheets_do():
    assert cell_ref("Claims", 12, 4) == "Claims!D12"
    assert cell_ref("Bob's claims", 3, None) == "'Bob''s claims'!3:3"
