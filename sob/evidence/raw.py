"""One file planned for reading: :class:`Raw` (its all-text lazy frame and how to check it) and
:class:`Typed` (the frame after the detailed typing query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sob.evidence.cells import Check
from sob.evidence.header import Header
from sob.evidence.kinds import Kind
from sob.evidence.model import EvidenceFile
from sob.evidence.source import Source
from sob.findings import Finding


class Fallback(Exception):
    """The faster reader cannot vouch for this file: use a slower one."""

@dataclass
class Raw:
    kind: Kind
    label: str
    lf: pl.LazyFrame  # line, __sob_ncells, every canonical column (String), carried columns
    carried: list[str]
    shown: dict[str, str]  # frame column -> header as written
    col_no: dict[str, int]  # frame column -> 1-based column number in the file
    date_format: str
    ncols: int | None = None
    path: Path | None = None
    src: Source | None = None
    # The fast reader is checked after it ran; when the check fails, ``redo``
    # gives the same frame from a reader that is exact for this file.
    verify: Any = None  # Callable[[pl.DataFrame], str] | None: "ok", "strip" or "exact"
    redo: Any = None  # Callable[[str, pl.DataFrame | None], pl.LazyFrame] | None
    digest: Callable[[], str] | None = None  # the SHA-256, for files read without a Source (parquet)
    present: frozenset[str] = frozenset()  # canonical columns the file has
    marks: tuple[str, ...] = ()  # the fast reader's per-row marks in ``lf`` (see fast_lazy)
    checked: str | None = None  # what ``verify`` said of ``lf`` (every query of ``lf`` has its rows)
    nul: bool = False  # the file may hold a NUL character: the checks look for it in every cell (BAD_TEXT)
    delimiter: str | None = None  # a CSV file's delimiter, as configured or detected
    encoding: str | None = None  # a CSV file's encoding, as configured
    sheet: str | None = None  # an XLSX/ODS file's sheet: findings name cells (``Sheet!B12``), not lines

    def nul_columns(self) -> tuple[str, ...]:
        """The columns whose cells are checked for a NUL character: none unless the file holds one."""
        if not self.nul:
            return ()
        return (*(c for c in self.kind.columns if c in self.present), *self.carried)

    def check(self, df: pl.DataFrame) -> str:
        """``verify`` of a frame read from ``lf``, asked once per file (it may count the file's bytes)."""
        if self.checked is None:
            self.checked = "ok" if self.verify is None else self.verify(df)
        return self.checked

    def evidence_file(self, rows: int) -> EvidenceFile | None:
        if self.path is None:
            return None
        digest = self.digest if self.digest is not None else self.src.sha256  # type: ignore[union-attr]
        return EvidenceFile(kind=self.kind.kind, path=self.path, rows=rows, digest=digest,
                            delimiter=self.delimiter, encoding=self.encoding, sheet=self.sheet)


def named_columns(kind: Kind, header: Header, cells: pl.LazyFrame, extra: tuple[str, ...] = ()) -> pl.LazyFrame:
    """Rename the positional ``_c{i}`` columns to canonical / carried names; add absent canonical columns."""
    rename = {f"_c{i}": header.names[i] for i in range(header.ncols)}
    canon, carried = set(header.canon_pos.values()), set(header.carried)  # sets: a header can have 30,000 columns
    keep = [f"_c{i}" for i in range(header.ncols) if i in canon or header.names[i] in carried]
    lf = cells.select(["line", "__sob_ncells", *keep, *extra]).rename({c: rename[c] for c in keep})
    missing = [c for c in kind.columns if c not in header.canon_pos]
    if missing:
        lf = lf.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])
    return lf


Planned = Raw | Callable[[], Raw]  # a reading, or the function that plans it (``later`` in load_csv)
Loaded = tuple[Planned | None, list[Finding], EvidenceFile | None]
@dataclass
class Typed:
    raw: Raw
    frame: pl.DataFrame  # raw text columns + derived + flags + __sob_err0 + error + __sob_o_* outputs
    checks: list[Check]
    out: dict[str, pl.Expr]
    rows: int = 0
