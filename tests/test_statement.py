"""``sob pay ... --statement PAYER --export F.html|.pdf``: one payer's payment statement for the quarter."""

from __future__ import annotations

import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_helpers import KIRKLEES_QUARTERS, close_all, pay_json, read_rows, sample_copy, sob, sob_subprocess


def _cells(html: str) -> list[list[str]]:
    """The text of every table row of the page (tags stripped), row by row."""
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)])
    return rows


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("statement")
    contract = sample_copy(tmp, "kirklees-bop")
    ledger = tmp / "ledger"
    close_all(contract, ledger, KIRKLEES_QUARTERS[:3])
    return {"tmp": tmp, "contract": contract, "ledger": ledger}


def test_the_statement_is_the_payers_json_figures_and_its_lines_add_up(closed: dict[str, Any]) -> None:
    c, ledger, tmp = closed["contract"], closed["ledger"], closed["tmp"]
    q = KIRKLEES_QUARTERS[3]
    data = pay_json(c, q, "--ledger", ledger)
    table = tmp / "claims.csv"
    assert sob("pay", c, "--quarter", q, "--ledger", ledger, "--export", table).exit_code == 0
    out = tmp / "lcf.html"
    result = sob_subprocess("pay", c, "--quarter", q, "--ledger", ledger, "--close", "--statement", "LCF",
                            "--export", out)
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    rows = {r[0]: r[1:] for r in _cells(html) if r}
    lcf = next(p for p in data["by_payer"] if p["payer_id"] == "LCF")
    assert _amount(rows["Entitled to date"][0]) == Decimal(lcf["entitled"])
    assert _amount(rows["Previously paid"][0]) == Decimal(lcf["previously_paid"])
    assert _amount(rows["Due this quarter"][0]) == Decimal(lcf["due"])
    assert _amount(rows["Total due from LCF"][0]) == Decimal(lcf["due"])
    assert rows["Status"][0] == "closed"
    by_outcome: dict[str, Decimal] = {}  # due_LCF of the claim table, by outcome (adjustments: by id), by hand
    for r in read_rows(table):
        key = r["claim_id"] if r["kind"] == "adjustment" else r["outcome_id"]
        by_outcome[key] = by_outcome.get(key, Decimal(0)) + Decimal(r["due_LCF"])
    lines = {k: _amount(v[2]) for k, v in rows.items() if k in by_outcome}
    assert lines == {k: v for k, v in by_outcome.items() if v != 0}
    assert sum(lines.values()) == Decimal(lcf["due"])
    # by hand (the contract's worked example 2): 97,123,400p x 0.296 = 28,748,526.4 -> LCF 287,485.26
    assert lines["COVID-PROFILE-2020-Q1"] == Decimal("287485.26")
    assert rows["COVID-PROFILE-2020-Q1"][0].startswith("COVID-19 payment on profile, April-June 2020")
    manifest = ledger / "kirklees-bop" / f"{q}.toml"
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() in html
    assert "<script" not in html and "http:" not in html and "https:" not in html


def test_a_statement_prints_on_one_a4_page(closed: dict[str, Any]) -> None:
    pytest.importorskip("weasyprint", reason="the pdf extra is not installed")
    pypdf = pytest.importorskip("pypdf", reason="pypdf is in the test extra")
    out = closed["tmp"] / "kc.pdf"
    result = sob("pay", closed["contract"], "--quarter", KIRKLEES_QUARTERS[3], "--statement", "KC", "--export", out)
    assert result.exit_code == 0, result.output
    reader = pypdf.PdfReader(io.BytesIO(out.read_bytes()))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert abs(float(page.mediabox.width) - 595) < 3 and abs(float(page.mediabox.height) - 842) < 3  # A4 portrait
    assert "Kirklees Council" in page.extract_text()


@pytest.mark.parametrize("args, message", [
    (["--statement", "NOPE", "--export", "s.html"], "not a payer"),
    (["--statement", "KC", "--export", "s.xlsx"], ".html or .pdf"),
    (["--statement", "KC"], ".html or .pdf"),
])
def test_statement_usage_errors_exit_2_before_anything_is_closed(closed: dict[str, Any], tmp_path: Path,
                                                                 args: list[str], message: str) -> None:
    ledger = tmp_path / "ledger"
    import shutil

    shutil.copytree(closed["ledger"], ledger)
    before = sorted(p.name for p in (ledger / "kirklees-bop").iterdir())
    args = [str(tmp_path / a) if a.startswith("s.") else a for a in args]
    result = sob("pay", closed["contract"], "--quarter", KIRKLEES_QUARTERS[3], "--ledger", ledger, "--close", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in (ledger / "kirklees-bop").iterdir()) == before
    assert not any(p.name.startswith("s.") for p in tmp_path.iterdir())


def test_a_preview_statement_says_it_is_not_closed(closed: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "kc.html"
    result = sob("pay", closed["contract"], "--quarter", KIRKLEES_QUARTERS[4], "--statement", "KC", "--export", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "preview" in html and "not closed" in html


def test_a_pdf_statement_without_the_extra_closes_nothing(closed: dict[str, Any], tmp_path: Path) -> None:
    """The real program with WeasyPrint unloadable: exit 2 naming the extra, and the quarter is not closed."""
    import os
    import shutil
    import subprocess
    import sys

    ledger = tmp_path / "ledger"
    shutil.copytree(closed["ledger"], ledger)
    before = sorted(p.name for p in (ledger / "kirklees-bop").iterdir())
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "weasyprint.py").write_text("raise ImportError('not installed here')\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(root)])}
    out = tmp_path / "kc.pdf"
    result = subprocess.run([sys.executable, "-m", "sob", "pay", str(closed["contract"]), "--quarter",
                             KIRKLEES_QUARTERS[3], "--ledger", str(ledger), "--close", "--statement", "KC",
                             "--export", str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr
    assert "sob[pdf]" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (ledger / "kirklees-bop").iterdir()) == before
    assert not out.exists()


def test_a_statement_that_cannot_be_written_after_the_close_says_the_close_stands(
        closed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The statement is written once the close committed: a full disk then must not read as nothing done."""
    import errno
    import shutil

    from sob import export as sob_export

    ledger = tmp_path / "ledger"
    shutil.copytree(closed["ledger"], ledger)
    q = next(q for q in KIRKLEES_QUARTERS if not (ledger / "kirklees-bop" / f"{q}.toml").exists())
    out = tmp_path / "kc.html"
    real = sob_export.stage_write

    def full_disk_for_the_statement(path: Path, write: Any) -> Any:
        if Path(path) == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(sob_export, "stage_write", full_disk_for_the_statement)
    result = sob("pay", closed["contract"], "--quarter", q, "--ledger", ledger, "--close", "--statement", "KC",
                 "--export", out)
    assert result.exit_code == 2, result.output
    manifest = ledger / "kirklees-bop" / f"{q}.toml"
    assert manifest.exists()  # the close stands
    assert f"cannot write {out}: No space left on device" in result.output
    assert f"quarter {q} is closed in the ledger all the same" in result.output
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() in result.output
    assert "nothing was written" not in result.output and not out.exists()
    monkeypatch.undo()
    again = sob("pay", closed["contract"], "--quarter", q, "--ledger", ledger, "--statement", "KC", "--export", out)
    assert again.exit_code == 0, again.output
    assert "<td>Status</td><td>closed</td>" in out.read_text(encoding="utf-8")
