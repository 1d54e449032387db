"""``sob portfolio``: a funder's view across contracts, checked against a second reading of the ledger files."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_helpers import ACC_PROFILE, WB1_PROFILE, ledger_figures, read_rows, sob, sob_subprocess
from sample_ledgers import CLOSES, closed_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    return closed_samples(tmp_path_factory.mktemp("portfolio"))


def portfolio(samples: tuple[dict[str, Path], Path], *extra: str | Path) -> dict[str, Any]:
    contracts, ledger = samples
    result = sob("portfolio", *contracts.values(), "--ledger", ledger, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["contract"]: x for x in data["contracts"]}


def figures(ledger: Path, name: str, payers: list[str]) -> dict[str, Any]:
    return ledger_figures(ledger, name, CLOSES[name], payers)


def test_paid_due_and_totals_per_currency_from_the_ledger(samples: tuple[dict[str, Path], Path]) -> None:
    contracts, ledger = samples
    result = sob_subprocess("portfolio", *contracts.values(), "--ledger", ledger, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    lines = by_id(data)
    assert list(lines) == ["kirklees-bop", "dwp-innovation-fund", "nyc-able"]
    kb = figures(ledger, "kirklees-bop", ["KC", "LCF"])["quarters"]["2020-Q2"]
    assert Decimal(lines["kirklees-bop"]["paid_to_date"]) == kb["paid_to_date"]
    assert Decimal(lines["kirklees-bop"]["quarter_due"]) == kb["due"]
    dwp_payers = next(iter(read_rows(ledger / "dwp-innovation-fund" / "2013-Q4.csv")))
    dwp = figures(ledger, "dwp-innovation-fund", [k[4:] for k in dwp_payers if k.startswith("due_")])
    assert Decimal(lines["dwp-innovation-fund"]["paid_to_date"]) == dwp["quarters"]["2013-Q4"]["paid_to_date"]
    nyc_row = read_rows(ledger / "nyc-able" / "2015-Q3.csv")
    nyc = figures(ledger, "nyc-able", [k[4:] for k in nyc_row[0] if k.startswith("due_")]) if nyc_row else None
    nyc_paid = nyc["quarters"]["2015-Q3"]["paid_to_date"] if nyc else Decimal(0)
    assert Decimal(lines["nyc-able"]["paid_to_date"]) == nyc_paid
    # totals per currency, never across currencies
    totals = {t["currency"]: t for t in data["totals"]}
    assert set(totals) == {"GBP", "USD"}
    assert Decimal(totals["GBP"]["paid_to_date"]) == kb["paid_to_date"] + dwp["quarters"]["2013-Q4"]["paid_to_date"]
    assert Decimal(totals["USD"]["paid_to_date"]) == nyc_paid
    assert totals["GBP"]["contracts"] == 2 and totals["USD"]["contracts"] == 1


def test_ledgers_behind_are_flagged(samples: tuple[dict[str, Path], Path]) -> None:
    lines = by_id(portfolio(samples))
    assert lines["kirklees-bop"]["behind"] is False
    assert lines["dwp-innovation-fund"]["behind"] is True and lines["dwp-innovation-fund"]["last_closed"] == "2013-Q4"
    assert lines["nyc-able"]["behind"] is True
    # as at a quarter: a contract that has not closed it is behind and has no due for it
    at = by_id(portfolio(samples, "--quarter", "2019-Q4"))
    assert at["kirklees-bop"]["behind"] is False and at["kirklees-bop"]["last_closed"] == "2019-Q4"
    assert at["dwp-innovation-fund"]["behind"] is True and at["dwp-innovation-fund"]["quarter_due"] is None
    _contracts, ledger = samples
    kb = figures(ledger, "kirklees-bop", ["KC", "LCF"])["quarters"]["2019-Q4"]
    assert Decimal(at["kirklees-bop"]["paid_to_date"]) == kb["paid_to_date"]
    assert Decimal(at["kirklees-bop"]["quarter_due"]) == kb["due"]


def test_payer_restricts_every_figure_to_its_part(samples: tuple[dict[str, Path], Path]) -> None:
    _contracts, ledger = samples
    data = portfolio(samples, "--payer", "LCF")
    assert [x["contract"] for x in data["contracts"]] == ["kirklees-bop"]
    assert data["left_out"] == ["dwp-innovation-fund", "nyc-able"]
    kb = figures(ledger, "kirklees-bop", ["KC", "LCF"])["quarters"]["2020-Q2"]
    line = data["contracts"][0]
    assert Decimal(line["paid_to_date"]) == kb["paid_by"]["LCF"]
    assert Decimal(line["quarter_due"]) == kb["by_payer"]["LCF"]
    assert Decimal(data["totals"][0]["paid_to_date"]) == kb["paid_by"]["LCF"]
    assert all(not c["cap"].startswith("total") for c in line["caps"])  # only the payer's own caps


def test_cap_share_and_profile(samples: tuple[dict[str, Path], Path]) -> None:
    _contracts, ledger = samples
    line = by_id(portfolio(samples))["kirklees-bop"]
    kb = figures(ledger, "kirklees-bop", ["KC", "LCF"])["quarters"]["2020-Q2"]
    total = next(c for c in line["caps"] if c["cap"] == "total")
    assert Decimal(total["limit"]) == Decimal("22297917.00")
    share = (kb["paid_to_date"] * 100 / Decimal("22297917.00")).quantize(Decimal("0.1"))
    assert Decimal(total["used_percent"]) == share
    profile = {o["outcome_id"]: o for o in line["profile"]["outcomes"]}
    assert profile["WB_1"]["profile_to_date"] == sum(WB1_PROFILE.values())  # all four profile quarters are <= 2020-Q2
    assert profile["WB_1"]["actual_to_date"] == kb["accepted"]["WB_1"]
    assert profile["ACC_ENTRY"]["profile_to_date"] == sum(ACC_PROFILE.values())
    assert line["profile"]["profile_to_date"] == sum(WB1_PROFILE.values()) + sum(ACC_PROFILE.values())


def test_table_csv_xlsx_and_html(samples: tuple[dict[str, Path], Path], tmp_path: Path) -> None:
    contracts, ledger = samples
    table = sob_subprocess("portfolio", *contracts.values(), "--ledger", ledger, "--export", tmp_path / "p.csv")
    assert table.returncode == 0, table.stderr
    assert "BEHIND" in table.stdout and "never summed across currencies" in table.stdout
    rows = list(csv.DictReader((tmp_path / "p.csv").open(encoding="utf-8")))
    data = by_id(portfolio(samples))
    assert [r["contract"] for r in rows] == list(data)
    for r in rows:
        assert Decimal(r["due_to_date"]) == Decimal(data[r["contract"]]["paid_to_date"])
        assert r["behind"] == ("yes" if data[r["contract"]]["behind"] else "no")
    xlsx = sob("portfolio", *contracts.values(), "--ledger", ledger, "--export", tmp_path / "p.xlsx")
    assert xlsx.exit_code == 0, xlsx.output
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "p.xlsx").active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    values = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert Decimal(str(values[0]["due_to_date"])) == Decimal(data["kirklees-bop"]["paid_to_date"])
    page = sob("portfolio", *contracts.values(), "--ledger", ledger, "--export", tmp_path / "p.html")
    assert page.exit_code == 0, page.output
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert "kirklees-bop" in html and "BEHIND" in html and "Totals per currency" in html
    from sob.report.html import amount

    assert amount(data["kirklees-bop"]["paid_to_date"]) in html


@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--payer", "NOBODY"], 2, "no contract given has that payer"),
    (["--quarter", "soon"], 2, "quarter"),
    (["--export", "{tmp}/p.pdf"], 2, ".csv, .xlsx or .html"),
])
def test_bad_command_lines(samples: tuple[dict[str, Path], Path], tmp_path: Path, extra: list[str], code: int,
                           message: str) -> None:
    contracts, ledger = samples
    result = sob_subprocess("portfolio", *contracts.values(), "--ledger", ledger,
                            *[e.format(tmp=tmp_path) for e in extra])
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_no_ledger_and_a_broken_ledger(samples: tuple[dict[str, Path], Path], tmp_path: Path) -> None:
    contracts, ledger = samples
    missing = sob_subprocess("portfolio", *contracts.values(), "--ledger", tmp_path / "none")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "ledger"
    shutil.copytree(ledger, broken)
    table = broken / "kirklees-bop" / "2019-Q4.csv"
    table.write_text(table.read_text().replace("paid,,100.00,100.00", "paid,,100.00,900.00", 1))
    result = sob_subprocess("portfolio", *contracts.values(), "--ledger", broken)
    assert result.returncode == 1 and "ledger verify" in result.stderr and "Traceback" not in result.stderr


def test_a_contract_with_nothing_closed_is_listed_and_behind(samples: tuple[dict[str, Path], Path], tmp_path: Path) -> None:
    from report_helpers import sample_copy

    _contracts, _ledger = samples
    fresh = sample_copy(tmp_path, "peterborough")
    data = by_id(portfolio(samples, fresh))
    assert data["peterborough"]["last_closed"] is None and data["peterborough"]["behind"] is True
    assert data["peterborough"]["paid_to_date"] == "0.00"
