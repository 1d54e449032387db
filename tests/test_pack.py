"""The finance pack (``sob pay ... --export pack.xlsx``), read back with openpyxl, a different library from the writer."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_helpers import KIRKLEES_QUARTERS, close_all, pay_json, read_rows, sample_copy, sob, sob_subprocess

openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is in the test extra: pip install -e '.[test]'")

SHEETS = ["Summary", "By payer", "By outcome", "Claims", "Rejections"]


def _money(value: Any) -> Decimal:
    """A money cell read back: a number cell (float of at most 15 digits) as its exact 2-decimal amount."""
    assert isinstance(value, (int, float)), f"amount cell is not a number: {value!r}"
    return Decimal(repr(float(value))).quantize(Decimal("0.01"))


def _labelled(ws: Any) -> dict[str, list[Any]]:
    """First-column label → the rest of its row, for the label/value blocks of Summary and By payer."""
    out: dict[str, list[Any]] = {}
    for row in ws.iter_rows(values_only=True):
        if row and isinstance(row[0], str):
            out.setdefault(row[0], list(row[1:]))
    return out


@pytest.fixture(scope="module")
def closed_pack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Kirklees closed over four quarters; the fifth closed with --export pack.xlsx; the same run's JSON and CSV."""
    tmp = tmp_path_factory.mktemp("pack")
    contract = sample_copy(tmp, "kirklees-bop", profile=True)
    ledger = tmp / "ledger"
    close_all(contract, ledger, KIRKLEES_QUARTERS[:-1])
    q = KIRKLEES_QUARTERS[-1]
    data = pay_json(contract, q, "--ledger", ledger)  # the preview of the close that follows: same figures
    csv_export = tmp / "claims.csv"
    assert sob("pay", contract, "--quarter", q, "--ledger", ledger, "--export", csv_export).exit_code == 0
    pack = tmp / "pack.xlsx"
    result = sob("pay", contract, "--quarter", q, "--ledger", ledger, "--close", "--export", pack)
    assert result.exit_code == 0, result.output
    return {"tmp": tmp, "contract": contract, "ledger": ledger, "quarter": q, "json": data, "pack": pack,
            "csv": read_rows(csv_export), "wb": openpyxl.load_workbook(pack)}


def test_the_pack_has_the_five_sheets_in_order(closed_pack: dict[str, Any]) -> None:
    assert closed_pack["wb"].sheetnames == SHEETS


def test_summary_totals_payers_and_rejections_are_the_json_figures(closed_pack: dict[str, Any]) -> None:
    ws, data = closed_pack["wb"]["Summary"], closed_pack["json"]
    rows = _labelled(ws)
    assert rows["Contract id"][0] == "kirklees-bop"
    assert rows["Quarter"][0] == closed_pack["quarter"]
    assert rows["Period start"][0] == datetime(2020, 7, 1)  # a date cell: fiscal 2020-Q2 is July–September
    assert rows["Period end"][0] == datetime(2020, 9, 30)
    assert rows["Status"][0] == "closed"
    t = data["totals"]
    assert _money(rows["Entitled"][0]) == Decimal(t["entitled"])
    assert _money(rows["Previously paid"][0]) == Decimal(t["previously_paid"])
    assert _money(rows["Due"][0]) == Decimal(t["due"])
    assert rows["Claims"][0] == t["claims"] and rows["Rejected"][0] == t["rejected"]
    for p in data["by_payer"]:
        _name, entitled, previous, due = rows[p["payer_id"]][:4]
        assert (_money(entitled), _money(previous), _money(due)) == (
            Decimal(p["entitled"]), Decimal(p["previously_paid"]), Decimal(p["due"]))
    for reason, n in data["rejections"].items():
        assert rows[reason][0] == n
        assert rows[reason][1]  # its meaning from the code catalogue
    cap = data["caps"]["total"]
    assert [_money(v) for v in rows["Contract total"][:3]] == [Decimal(cap[k]) for k in ("limit", "used", "headroom")]


def test_the_manifest_hash_and_close_time_are_the_ledgers(closed_pack: dict[str, Any]) -> None:
    """Hashed here with hashlib from the manifest file, independently of the ledger code."""
    manifest = closed_pack["ledger"] / "kirklees-bop" / f"{closed_pack['quarter']}.toml"
    sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    rows = _labelled(closed_pack["wb"]["Summary"])
    assert rows["Ledger manifest SHA-256"][0] == sha
    closed_at = next(line for line in manifest.read_text().splitlines() if line.startswith("closed_at"))
    when = rows["Closed at (UTC)"][0]
    assert isinstance(when, datetime), when  # a date cell, not text
    assert f'"{when:%Y-%m-%dT%H:%M:%S}Z"' in closed_at
    cell = next(c for c in closed_pack["wb"]["Summary"]["B"] if c.value == when)
    assert "hh:mm" in cell.number_format
    props = closed_pack["wb"].custom_doc_props
    custom = {p.name: p.value for p in props.props}
    assert custom == {"contract_id": "kirklees-bop", "quarter": closed_pack["quarter"], "status": "closed",
                      "ledger_manifest_sha256": sha}
    assert sha in closed_pack["wb"].properties.keywords


def test_by_payer_blocks_add_up_to_the_json_and_to_the_claim_table(closed_pack: dict[str, Any]) -> None:
    ws, data = closed_pack["wb"]["By payer"], closed_pack["json"]
    rows = list(ws.iter_rows(values_only=True))
    for p in data["by_payer"]:
        pid = p["payer_id"]
        start = next(i for i, r in enumerate(rows) if isinstance(r[0], str) and r[0].startswith(f"{pid}:"))
        block = {r[0]: r for r in rows[start + 1:start + 4]}
        assert _money(block["Previously paid"][3]) == Decimal(p["previously_paid"])
        assert _money(block["Entitled"][3]) == Decimal(p["entitled"])
        assert _money(block["Due this quarter"][3]) == Decimal(p["due"])
        lines, reasons, i = {}, {}, start + 5
        while rows[i][0] != "Total due":
            lines[rows[i][0]] = _money(rows[i][3])
            reasons[rows[i][0]] = rows[i][1]
            i += 1
        assert _money(rows[i][3]) == Decimal(p["due"])
        assert sum(lines.values()) == Decimal(p["due"])
        expected: dict[str, Decimal] = {}  # due_<payer> of the CSV export, summed by outcome by hand
        notes: dict[str, str] = {}
        for r in closed_pack["csv"]:
            # an adjustment row (SPEC 10.6) is its own line, by id with its reason, as on the statement
            key = r["claim_id"] if r["kind"] == "adjustment" else r["outcome_id"] or "(rows with no outcome)"
            expected[key] = expected.get(key, Decimal(0)) + Decimal(r[f"due_{pid}"])
            if r["kind"] == "adjustment":
                notes[key] = r["note"]
        assert lines == {k: v for k, v in expected.items() if k in lines}
        assert all(v == 0 for k, v in expected.items() if k not in lines)
        # the quarter closed here (fiscal 2020-Q2) pays the second COVID adjustment
        # by hand (the contract's worked example 3): 113,648,600p x 0.704 = 80,008,614.4 -> KC 800,086.14, LCF the rest
        assert lines["COVID-PROFILE-2020-Q2"] == {"KC": Decimal("800086.14"), "LCF": Decimal("336399.86")}[pid]
        assert {k: reasons[k] for k in notes if k in lines} == {k: v for k, v in notes.items() if k in lines}
        assert reasons["COVID-PROFILE-2020-Q2"].startswith("COVID-19 payment on profile, July-September 2020")


def test_by_outcome_is_the_json_with_the_profile(closed_pack: dict[str, Any]) -> None:
    rows = list(closed_pack["wb"]["By outcome"].iter_rows(values_only=True))
    assert rows[0][:6] == ("Outcome", "Name", "Rows", "Accepted", "Entitled", "Due")
    got = {r[0]: r for r in rows[1:]}
    for o in closed_pack["json"]["by_outcome"]:
        r = got[o["outcome_id"]]
        assert (r[2], r[3], _money(r[4]), _money(r[5])) == (o["claims"], o["accepted"], Decimal(o["entitled"]),
                                                            Decimal(o["due"]))
    assert got["WB_1"][6] == 40 and got["WB_1"][7] == got["WB_1"][3] - 40  # profile "2020-Q2" = 40
    assert got["WB_2"][6] is None


def test_claims_sheet_is_the_claim_table_as_an_excel_table(closed_pack: dict[str, Any]) -> None:
    ws = closed_pack["wb"]["Claims"]
    rows = list(ws.iter_rows(values_only=True))
    csv_rows = closed_pack["csv"]
    assert list(rows[0]) == list(csv_rows[0].keys())
    assert len(rows) - 1 == len(csv_rows)
    head = rows[0]
    for got, want in zip(rows[1:], csv_rows):
        cells = dict(zip(head, got))
        assert cells["claim_id"] == want["claim_id"]
        assert _money(cells["due"]) == Decimal(want["due"])
        assert cells["achieved_on"] == datetime.combine(date.fromisoformat(want["achieved_on"]), datetime.min.time())
    table = ws.tables["Claims"]
    assert table.ref == f"A1:{openpyxl.utils.get_column_letter(len(head))}{len(rows)}"
    assert table.autoFilter is not None


def test_rejections_sheet_lists_every_rejected_row_with_its_meaning(closed_pack: dict[str, Any]) -> None:
    rows = list(closed_pack["wb"]["Rejections"].iter_rows(values_only=True))
    head = rows[0]
    got = {r[0]: dict(zip(head, r)) for r in rows[1:]}
    want = {r["claim_id"]: r for r in closed_pack["csv"] if r["status"] == "rejected"}
    assert set(got) == set(want)
    assert len(got) == closed_pack["json"]["totals"]["rejected"]
    for cid, cells in got.items():
        assert cells["reason"] == want[cid]["reason"]
        assert cells["meaning"] and cells["meaning"] != cells["reason"]


def test_every_sheet_prints_a4_landscape_one_page_wide_with_headers_and_footer(closed_pack: dict[str, Any]) -> None:
    for ws in closed_pack["wb"]:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.freeze_panes == "A2", ws.title
        footer = ws.oddFooter
        assert f"kirklees-bop {closed_pack['quarter']}" in footer.left.text
        assert "&P" in footer.right.text
    assert closed_pack["wb"]["Claims"].column_dimensions["A"].width >= 10


def test_amount_cells_carry_the_currency_format(closed_pack: dict[str, Any]) -> None:
    ws = closed_pack["wb"]["Claims"]
    head = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=head.index("due") + 1)
    assert isinstance(cell.value, (int, float))
    assert "£" in cell.number_format and "#,##0.00" in cell.number_format


def test_a_preview_pack_says_preview_and_names_the_close_it_builds_on(closed_pack: dict[str, Any], tmp_path: Path) -> None:
    pack = tmp_path / "preview.xlsx"
    result = sob_subprocess("pay", closed_pack["contract"], "--quarter", "2020-Q3", "--ledger", closed_pack["ledger"],
                            "--export", pack)
    assert result.returncode == 0, result.stderr
    wb = openpyxl.load_workbook(pack)
    rows = _labelled(wb["Summary"])
    assert rows["Status"][0] == "preview"
    assert rows["Ledger manifest SHA-256"][0] == "none: not closed"
    manifest = closed_pack["ledger"] / "kirklees-bop" / "2020-Q2.toml"
    assert rows["Builds on the close"][0] == f"2020-Q2 {hashlib.sha256(manifest.read_bytes()).hexdigest()}"


def test_a_pack_and_statement_asked_for_again_after_a_later_close_carry_their_own_close(
        closed_pack: dict[str, Any], tmp_path: Path) -> None:
    """2020-Q2's pack re-exported after 2020-Q3 closed: still the closed figures, under 2020-Q2's manifest hash."""
    import shutil

    ledger = tmp_path / "ledger"
    shutil.copytree(closed_pack["ledger"], ledger)
    c, q = closed_pack["contract"], closed_pack["quarter"]
    assert sob("pay", c, "--quarter", "2020-Q3", "--ledger", ledger, "--close", "--format", "json").exit_code == 0
    manifest = (ledger / "kirklees-bop" / f"{q}.toml").read_bytes()
    sha = hashlib.sha256(manifest).hexdigest()
    pack, statement = tmp_path / "again.xlsx", tmp_path / "kc.html"
    assert sob("pay", c, "--quarter", q, "--ledger", ledger, "--export", pack).exit_code == 0
    rows = _labelled(openpyxl.load_workbook(pack)["Summary"])
    assert (rows["Status"][0], rows["Ledger manifest SHA-256"][0]) == ("closed", sha)
    assert f'"{rows["Closed at (UTC)"][0]:%Y-%m-%dT%H:%M:%S}Z"' in manifest.decode()
    result = sob_subprocess("pay", c, "--quarter", q, "--ledger", ledger, "--statement", "KC", "--export", statement)
    assert result.returncode == 0, result.stderr
    html = statement.read_text(encoding="utf-8")
    assert "<td>Status</td><td>closed</td>" in html and sha in html


def test_a_preview_of_a_closed_quarter_whose_evidence_changed_is_not_called_closed(closed_pack: dict[str, Any],
                                                                                     tmp_path: Path) -> None:
    """Filing changed figures under the closed quarter's hash would misstate what was paid."""
    folder = tmp_path / "k"
    contract = sample_copy(folder, "kirklees-bop", profile=True)
    claims = contract.parent / "evidence" / "claims.csv"
    lines = claims.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.split(",")[4].endswith("/08/2020")]  # claims submitted in August 2020
    assert len(kept) < len(lines)
    claims.write_text("".join(kept), encoding="utf-8")
    pack = tmp_path / "again.xlsx"
    result = sob("pay", contract, "--quarter", "2020-Q2", "--ledger", closed_pack["ledger"], "--export", pack)
    assert result.exit_code == 0, result.output
    rows = _labelled(openpyxl.load_workbook(pack)["Summary"])
    assert rows["Status"][0] == "preview (differs from the closed quarter)"


def test_text_cells_are_formula_safe_and_amounts_stay_numbers(tmp_path: Path) -> None:
    """SPEC 9 in every sheet: a claim id like a formula is prefixed with ', never run."""
    contract = sample_copy(tmp_path, "dwp-innovation-fund")
    claims = contract.parent / "evidence" / "claims.csv"
    text = claims.read_text(encoding="utf-8").replace("C00001,", "=HYPERLINK(1),", 1)
    text = text.replace("C00002,", "@SUM(A1),", 1)
    claims.write_text(text, encoding="utf-8")
    pack = tmp_path / "p.xlsx"
    result = sob("pay", contract, "--quarter", "2013-Q4", "--export", pack)
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(pack)
    ids = [r[0] for r in wb["Claims"].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(1)" in ids and "'@SUM(A1)" in ids
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "@")), (ws.title, cell.coordinate)


def test_a_summary_shows_a_contract_change_and_adjustments_when_the_run_has_them(closed_pack: dict[str, Any]) -> None:
    """SPEC 10.1/10.6 keys, as ``sob pay --format json`` gives them, appear on the Summary."""
    from sob.pack import CloseRecord, pack_bytes
    from sob.workflows import PayRequest, compute_pay

    outcome = compute_pay(PayRequest(closed_pack["contract"], "2020-Q3", ledger=closed_pack["ledger"]))
    from sob.payrun import summary

    data = summary(outcome.run)
    data["contract_change"] = {"since": "2020-Q2", "previous_contract_sha256": "ab" * 32, "restated_rows": 3,
                               "restated_amount": "-150.00", "by_outcome": [], "claim_ids": []}
    data["adjustments"] = [{"id": "ADJ-1", "on": "2020-08-01", "reason": "=payment on profile", "entitled": "1000.00",
                            "previously_paid": "0.00", "due": "1000.00"}]
    path = closed_pack["tmp"] / "life.xlsx"
    path.write_bytes(pack_bytes(outcome.run, CloseRecord("preview"), data=data))
    rows = _labelled(openpyxl.load_workbook(path)["Summary"])
    assert rows["2020-Q2"][0] == 3 and _money(rows["2020-Q2"][1]) == Decimal("-150.00")
    assert rows["ADJ-1"][0] == datetime(2020, 8, 1)
    assert rows["ADJ-1"][1] == "'=payment on profile"
    assert _money(rows["ADJ-1"][4]) == Decimal("1000.00")


def test_the_summary_lists_the_adjustments_of_a_real_close(closed_pack: dict[str, Any]) -> None:
    """Fiscal 2020-Q2 closed for real: both COVID payments in scope are listed, by id, date, reason and amounts."""
    rows = _labelled(closed_pack["wb"]["Summary"])
    listed = closed_pack["json"]["adjustments"]
    assert [a["id"] for a in listed] == ["COVID-PROFILE-2020-Q1", "COVID-PROFILE-2020-Q2"]
    assert closed_pack["json"]["totals"]["adjustments"] == 2 and rows["Adjustments"][0] == 2
    on, reason, entitled, previous, due = rows["COVID-PROFILE-2020-Q2"][:5]
    assert on == datetime(2020, 9, 30)  # a date cell: the adjustment's `on`
    assert reason.startswith("COVID-19 payment on profile, July-September 2020")
    assert (_money(entitled), _money(previous), _money(due)) == (Decimal("1136486.00"), 0, Decimal("1136486.00"))
    # paid at the 2020-Q1 close: entitled still, nothing more due
    first = rows["COVID-PROFILE-2020-Q1"]
    assert (_money(first[2]), _money(first[3]), _money(first[4])) == (Decimal("971234.00"), Decimal("971234.00"), 0)


def test_the_pack_json_and_the_ledger_agree(closed_pack: dict[str, Any]) -> None:
    """The closed Q.csv (read with csv) sums to the pack's due: what was filed is what was recorded."""
    rows = read_rows(closed_pack["ledger"] / "kirklees-bop" / f"{closed_pack['quarter']}.csv")
    due = sum((Decimal(r["due"]) for r in rows), Decimal(0))
    assert due == Decimal(closed_pack["json"]["totals"]["due"])
    assert _money(_labelled(closed_pack["wb"]["Summary"])["Due"][0]) == due
    assert json.dumps(closed_pack["json"])  # the JSON itself stays serialisable


def test_a_contract_change_accepted_at_a_real_close_shows_in_the_pack_and_the_report(tmp_path: Path) -> None:
    """SPEC 10.1: WB_2's price raised from 100.00 to 110.00 after 2019-Q3 closed, then 2019-Q4 closed with
    --accept-contract-change and --export; the restatement is counted by hand from the closed table."""
    contract = sample_copy(tmp_path, "kirklees-bop")
    ledger = tmp_path / "ledger"
    close_all(contract, ledger, KIRKLEES_QUARTERS[:2])
    before = hashlib.sha256(contract.read_bytes()).hexdigest()
    text = contract.read_text(encoding="utf-8")
    old = 'id = "WB_2"\nname = "2nd wellbeing assessment"\nprice = 100.00'
    assert old in text
    contract.write_text(text.replace(old, old.replace("100.00", "110.00")), encoding="utf-8")
    closed = read_rows(ledger / "kirklees-bop" / f"{KIRKLEES_QUARTERS[1]}.csv")
    restated = [r["claim_id"] for r in closed if r["outcome_id"] == "WB_2" and Decimal(r["entitled"]) > 0]
    assert restated  # the sample pays some WB_2 claims by then
    pack = tmp_path / "pack.xlsx"
    q = KIRKLEES_QUARTERS[2]
    refused = sob("pay", contract, "--quarter", q, "--ledger", ledger, "--close", "--export", pack)
    assert refused.exit_code == 1 and not pack.exists()
    result = sob_subprocess("pay", contract, "--quarter", q, "--ledger", ledger, "--close", "--accept-contract-change",
                            "--export", pack)
    assert result.returncode == 0, result.stderr
    rows = _labelled(openpyxl.load_workbook(pack)["Summary"])
    assert rows["Status"][0] == "closed"
    n, amount, sha = rows[KIRKLEES_QUARTERS[1]][:3]  # the row of "Since" = the quarter closed before
    assert (n, _money(amount), sha) == (len(restated), Decimal("10.00") * len(restated), before)
    report = sob("report", contract, "--ledger", ledger, "--format", "json")
    assert report.exit_code == 0, report.output
    changes = json.loads(report.stdout)["contract_changes"]
    assert changes == [{"quarter": q, "since": KIRKLEES_QUARTERS[1], "previous_contract_sha256": before,
                        "restated_rows": len(restated), "restated_amount": f"{10 * len(restated)}.00"}]
    page = tmp_path / "r.html"
    assert sob("report", contract, "--ledger", ledger, "--out", page).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert before in html and f"{10 * len(restated)}.00" in html
