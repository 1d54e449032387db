"""Fiscal quarters for calendar years and April years (SPEC 5.1)."""

from __future__ import annotations

from datetime import date

import pytest

from sob.quarters import Quarter, quarters_between


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
