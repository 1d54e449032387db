"""Fiscal quarters for calendar years and April years (SPEC 5.1)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sob.quarters import Quarter, quarters_between

ROOT = Path(__file__).parent.parent


def test_calendar_quarters():
    q = Quarter.parse("2025-Q1")
    assert (q.start(1), q.end(1)) == (date(2025, 1, 1), date(2025, 3, 31))
    assert Quarter.parse("2025-Q4").end(1) == date(2025, 12, 31)


def test_april_fiscal_year():
    assert (Quarter(2025, 1).start(4), Quarter(2025, 1).end(4)) == (date(2025, 4, 1), date(2025, 6, 30))
    assert (Quarter(2025, 4).start(4), Quarter(2025, 4).end(4)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert Quarter.containing(date(2026, 3, 31), 4) == Quarter(2025, 4)
    assert Quarter.containing(date(2026, 4, 1), 4) == Quarter(2026, 1)
    assert Quarter(2025, 1).fiscal_label(4) == "FY2025/26 Q1"


def test_previous_and_next_cross_years():
    assert Quarter(2025, 1).previous() == Quarter(2024, 4)
    assert Quarter(2024, 4).next() == Quarter(2025, 1)
    assert [str(q) for q in quarters_between(date(2024, 12, 1), date(2025, 4, 1), 1)] == ["2024-Q4", "2025-Q1", "2025-Q2"]


@pytest.mark.parametrize("label", ["2025-Q5", "2025Q1", "25-Q1", "", "2025-q1x"])
def test_bad_labels(label):
    with pytest.raises(ValueError):
        Quarter.parse(label)


@pytest.mark.parametrize("month", range(1, 13))
def test_every_day_is_in_exactly_the_quarter_that_contains_it(month):
    day = date(2023, 1, 1)
    while day.year == 2023:
        q = Quarter.containing(day, month)
        assert q.start(month) <= day <= q.end(month)
        day = date.fromordinal(day.toordinal() + 7)


# --- what people type for --quarter ------------------------------------------


@pytest.mark.parametrize("label", ["2018-Q4", "2018-q4", "2018Q4", "2018q4", "FY2018/19 Q4", "fy2018/19 q4",
                                   "FY2018/2019 Q4", " 2018-Q4 ", "2018 Q4"])
def test_user_forms_name_the_same_quarter(label):
    assert Quarter.from_user(label, 4) == Quarter(2018, 4)


def test_fiscal_form_is_the_year_that_starts_in_its_first_year():
    q = Quarter.from_user("FY2018/19 Q4", 4)
    assert (q.start(4), q.end(4)) == (date(2019, 1, 1), date(2019, 3, 31))
    assert Quarter.from_user("FY2099/00 Q1") == Quarter(2099, 1)  # across a century


@pytest.mark.parametrize("label", ["2018-Q5", "18-Q4", "2018-Q4x", "", "Q4-2018", "FY2018/20 Q4", "FY2018 Q4"])
def test_bad_user_labels_list_the_accepted_forms(label):
    with pytest.raises(ValueError, match="FY2018/19"):
        Quarter.from_user(label, 4)


def test_a_two_year_fiscal_label_is_refused_for_calendar_years():
    with pytest.raises(ValueError, match="calendar year; write 2018-Q4"):
        Quarter.from_user("FY2018/19 Q4", 1)


def test_stored_labels_stay_exact():
    """Ledger file names and contract examples are read with ``parse``, which stays strict."""
    for label in ("2018q4", "2018Q4", "FY2018/19 Q4"):
        with pytest.raises(ValueError):
            Quarter.parse(label)


def _sob(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_pay_accepts_every_form_with_the_same_result():
    kbop = str(ROOT / "sample_contracts" / "kirklees-bop" / "contract.toml")  # April fiscal years
    outputs = {form: _sob("pay", kbop, "--quarter", form, "--format", "json") for form in ("2021-Q2", "2021q2", "FY2021/22 Q2")}
    assert all(r.returncode == 0 for r in outputs.values()), {k: r.stderr for k, r in outputs.items()}
    assert len({r.stdout for r in outputs.values()}) == 1
    assert '"quarter": "2021-Q2"' in outputs["2021q2"].stdout


def test_a_bad_quarter_is_exit_2_with_the_accepted_forms():
    mhep = str(ROOT / "sample_contracts" / "mhep-employment" / "contract.toml")
    result = _sob("pay", mhep, "--quarter", "2020-Q5")
    assert result.returncode == 2
    assert "2018-q4" in result.stderr and "FY2018/19 Q4" in result.stderr
    calendar = _sob("pay", mhep, "--quarter", "FY2020/21 Q1")  # MHEP's fiscal year is the calendar year
    assert calendar.returncode == 2
    assert "write 2020-Q1" in calendar.stderr
