"""What reading evidence returns: :class:`Evidence` (typed frames and findings) and :class:`EvidenceFile`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from sob.findings import Finding


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence file as read: its kind, path, record count and SHA-256.

    The SHA-256 is computed when first asked for: a ledger close and the
    sign-off view need it, ``validate`` and ``pay --format json`` do not.
    """

    kind: str  # "claims" | "participants" | "results"
    path: Path
    rows: int  # data records read (blank lines excluded)
    digest: Callable[[], str] = field(repr=False, compare=False)
    delimiter: str | None = None  # a CSV file's delimiter (configured or detected), for the validate report
    encoding: str | None = None  # a CSV file's encoding
    sheet: str | None = None  # the sheet read from an XLSX/ODS file

    @cached_property
    def sha256(self) -> str:
        """Hex digest of the file's bytes."""
        return self.digest()


@dataclass
class Evidence:
    """Typed evidence frames plus every problem found while reading them.

    ``findings`` holds the data errors (severity ``error``) and warnings
    (``DUPLICATE_ROW``) in file order (claims, participants, results) and line
    order; ``file_errors`` holds the file-level errors (``MISSING_COLUMN``,
    ``MISSING_REGISTER``, ``DUPLICATE_COLUMN``) that stop any run — they are
    not repeated in ``findings``.  A file with a file-level error has no frame.
    """

    claims: pl.DataFrame | None = None
    participants: pl.DataFrame | None = None
    results: pl.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    file_errors: list[Finding] = field(default_factory=list)
    files: list[EvidenceFile] = field(default_factory=list)
    carried_columns: list[str] = field(default_factory=list)
    has_amount_claimed: bool = False  # the claims file has an amount_claimed column (SPEC 9 export)
    has_evidence_ref: bool = False  # the claims file has an evidence_ref column (carried through, SPEC 4.1)
    #: For each row of ``claims``, the row of ``participants`` that holds its participant (UInt32, null
    #: when the register does not have it), as the reader found them; ``None`` when it did not keep them.
    #: ``assess(..., participant_rows=...)`` then does not search the register again.
    participant_rows: pl.Series | None = None

    @property
    def errors(self) -> list[Finding]:
        """File-level errors and data errors (warnings left out)."""
        return self.file_errors + [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors
