"""Problems as data.

Every check in ``sob`` (contract checks, evidence data errors, worked
examples) returns :class:`Finding` records instead of raising or printing, so
one run can report every problem at once and each output format (text, JSON,
GitHub annotations) renders the same records.  Codes are stable upper-case
strings, each described once in the catalogue :mod:`sob.codes` (and in the
``docs/codes.md`` generated from it); tests and CI scripts may rely on them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sob.codes import fix_hint


@dataclass(frozen=True)
class Finding:
    """One problem found in one file.

    ``line`` and ``col`` are 1-based positions in the file when known.
    ``field`` names the TOML key path (``outcomes[2].window_days``) or the CSV
    column the problem is about; ``value`` is the offending value, already cut
    to 80 characters by whoever built the finding.
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    field: str | None = None
    value: str | None = None
    hint: str | None = None
    severity: str = "error"
    cell: str | None = None  # a spreadsheet's cell reference (``Claims!D12``) when the file is XLSX/ODS

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the machine format of ``--format json``); ``cell`` only when there is one."""
        out = asdict(self)
        if out["cell"] is None:
            del out["cell"]
        return out

    @property
    def shown_hint(self) -> str | None:
        """The hint people read: the finding's own, else the catalogue's fix for its code.

        Only the text format shows it; the JSON ``hint`` stays the finding's
        own, so machine output does not change when the catalogue does.
        """
        return self.hint or fix_hint(self.code)

    @property
    def location(self) -> str:
        """``FILE:LINE:COL`` as far as it is known (hledger/ruff style)."""
        parts = [self.file or "<input>"]
        if self.cell is not None:
            return f"{parts[0]}:{self.cell}"
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


def cut(value: object, limit: int = 80) -> str:
    """Offending values are shown cut to ``limit`` characters (SPEC 4.4)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def errors_only(findings: list[Finding]) -> list[Finding]:
    """Findings that make an input invalid (warnings do not)."""
    return [f for f in findings if f.severity == "error"]


class SobError(Exception):
    """Base of the errors the command line turns into a message and exit code.

    The core raises these instead of printing; ``exit_code`` follows the
    README's table: 1 the inputs are invalid or a check failed, 2 the command
    line was wrong or a file could not be read.
    """

    exit_code = 1

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.findings: list[Finding] = list(findings or [])
        #: the text encoding of each file named by the findings that is not UTF-8 (``[evidence] encoding``),
        #: so the lines shown under them read as the file does
        self.encodings: dict[str, str] = {}


class InputError(SobError):
    """The inputs are invalid (exit 1)."""

    exit_code = 1


class UsageError(SobError):
    """The command line is wrong or a file cannot be read (exit 2)."""

    exit_code = 2


@dataclass
class Report:
    """Findings grouped by the file they came from, in the order found."""

    findings: list[Finding] = field(default_factory=list)

    def extend(self, more: list[Finding]) -> None:
        self.findings.extend(more)

    @property
    def ok(self) -> bool:
        return not errors_only(self.findings)
