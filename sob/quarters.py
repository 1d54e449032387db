"""Fiscal quarters: ``YYYY-Qn`` labels and their dates.

``YYYY-Qn`` is the n-th quarter of the fiscal year that *starts* in calendar
year YYYY (SPEC 5.1).  With ``fiscal_year_start_month = 4``, ``2025-Q1`` is
1 April–30 June 2025 and ``2025-Q4`` is 1 January–31 March 2026.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_LABEL = re.compile(r"([0-9]{4})-Q([1-4])")
# What a person may type for --quarter: 2018-Q4, 2018-q4, 2018Q4, 2018 Q4, and FY2018/19 Q4.
_USER_LABEL = re.compile(r"([0-9]{4})[- ]?Q([1-4])", re.IGNORECASE)
_USER_FISCAL = re.compile(r"FY\s*([0-9]{4})/([0-9]{2}|[0-9]{4})[- ]?Q([1-4])", re.IGNORECASE)

#: The forms ``--quarter`` accepts, for error messages and help texts.
ACCEPTED_FORMS = "YYYY-Qn as in 2018-Q4, 2018-q4 or 2018Q4, or FY2018/19 Q4 (the fiscal year that starts in 2018)"


@dataclass(frozen=True, order=True)
class Quarter:
    """A fiscal quarter; ordering follows time for one fiscal calendar."""

    year: int
    n: int

    @classmethod
    def parse(cls, label: str) -> Quarter:
        """Parse ``YYYY-Qn``; raises ``ValueError`` with a usable message."""
        m = _LABEL.fullmatch(label.strip()) if isinstance(label, str) else None
        if not m:
            raise ValueError(f"quarter {label!r} is not of the form YYYY-Qn (for example 2025-Q1)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def from_user(cls, label: str, fy_start_month: int | None = None) -> Quarter:
        """Parse what a person types for ``--quarter``; ``ValueError`` lists the accepted forms.

        Lenient on purpose, unlike :meth:`parse` (which reads the labels ``sob``
        itself writes, in ledgers and contracts, and must stay exact).
        ``FY2018/19 Q4`` names the fiscal year that starts in 2018, which is
        what ``2018-Q4`` means too (SPEC 5.1).  With ``fy_start_month`` = 1 a
        fiscal year is a calendar year, so the two-year ``FY`` form is refused
        there rather than read as something the user may not have meant.
        """
        text = " ".join(label.split()) if isinstance(label, str) else ""
        m = _USER_LABEL.fullmatch(text)
        if m:
            return cls(int(m.group(1)), int(m.group(2)))
        f = _USER_FISCAL.fullmatch(text)
        if f:
            start, end = int(f.group(1)), f.group(2)
            if int(end) != (start + 1) % (100 if len(end) == 2 else 10_000):
                raise ValueError(f"quarter {label!r}: FY{start}/{end} is not a fiscal year (write FY{start}/{(start + 1) % 100:02d})")
            if fy_start_month == 1:
                raise ValueError(
                    f"quarter {label!r}: this contract's fiscal year is the calendar year; write {start}-Q{f.group(3)}"
                )
            return cls(start, int(f.group(3)))
        raise ValueError(f"quarter {label!r} is not a quarter; write {ACCEPTED_FORMS}")

    @classmethod
    def containing(cls, day: date, fy_start_month: int = 1) -> Quarter:
        """The fiscal quarter that holds ``day``."""
        months = (day.month - fy_start_month) % 12
        year = day.year if day.month >= fy_start_month else day.year - 1
        return cls(year, months // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.n}"

    def start(self, fy_start_month: int = 1) -> date:
        """First day of the quarter."""
        month0 = fy_start_month - 1 + 3 * (self.n - 1)
        return date(self.year + month0 // 12, month0 % 12 + 1, 1)

    def end(self, fy_start_month: int = 1) -> date:
        """Last day of the quarter (the run date of ``sob pay --quarter``)."""
        return self.next().start(fy_start_month) - timedelta(days=1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.n == 1 else Quarter(self.year, self.n - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.n == 4 else Quarter(self.year, self.n + 1)

    def fiscal_label(self, fy_start_month: int = 1) -> str:
        """Human label: ``FY2025/26 Q1`` for April years, ``2025 Q1`` for calendar years."""
        if fy_start_month == 1:
            return f"{self.year} Q{self.n}"
        return f"FY{self.year}/{(self.year + 1) % 100:02d} Q{self.n}"


def quarters_between(first: date, last: date, fy_start_month: int = 1) -> list[Quarter]:
    """Every quarter from the one holding ``first`` to the one holding ``last``."""
    q = Quarter.containing(first, fy_start_month)
    stop = Quarter.containing(last, fy_start_month)
    out = []
    while q <= stop:
        out.append(q)
        q = q.next()
    return out
