"""The XLSX/ODS reader: one sheet (``[evidence] sheet``, else the first) read with python-calamine,
every cell turned into the text a CSV cell would hold, then checked like a CSV file.

Real date cells become dates in the contract's ``date_format`` (so they always read back),
number cells their shortest exact decimal (``1200.5``, ``3``), booleans ``true``/``false``.
A datetime cell at midnight is its date; another time of day is kept as text, so it is a
``BAD_DATE`` unless ``date_format`` reads times.  Findings name cells (``Claims!D12``).

A spreadsheet is a zip archive: the file is read whole up to ``MAX_SPREADSHEET_BYTES`` and
refused when it would unpack to more than ``MAX_SPREADSHEET_UNPACKED`` (a zip bomb), before
any sheet is parsed.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from sob.contract import Contract
from sob.evidence.cells import has_time
from sob.evidence.csv_reader import clean_text
from sob.evidence.encoding import _read_all
from sob.evidence.header import no_header, resolve_header
from sob.evidence.kinds import Kind
from sob.evidence.model import EvidenceFile
from sob.evidence.raw import Loaded, Raw, named_columns
from sob.evidence.source import unreadable

#: the file name endings read as spreadsheets
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".ods")
#: the largest spreadsheet file read (its bytes are held in memory)
MAX_SPREADSHEET_BYTES = 256 << 20
#: the most its zip archive may unpack to
MAX_SPREADSHEET_UNPACKED = 2 << 30


def column_letters(n: int) -> str:
    """The spreadsheet letters of 1-based column ``n``: 1 -> A, 27 -> AA."""
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def cell_ref(sheet: str, line: int | None, col: int | None) -> str | None:
    """``Sheet!D12`` (or ``Sheet!12:12`` for a whole row); quoted as spreadsheets quote sheet names."""
    if line is None:
        return None
    name = sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"
    return f"{name}!{column_letters(col)}{line}" if col is not None else f"{name}!{line}:{line}"


def _check_archive(data: bytes, label: str) -> None:
    """Refuse what is not a zip archive, or would unpack beyond ``MAX_SPREADSHEET_UNPACKED``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise unreadable(label, "it is not an XLSX/ODS spreadsheet (not a zip archive)") from None
    if unpacked > MAX_SPREADSHEET_UNPACKED:
        raise unreadable(label, f"it unpacks to more than {MAX_SPREADSHEET_UNPACKED:,} bytes, the most sob reads "
                                "from a spreadsheet; save the sheet as CSV")


def _sheet_rows(data: bytes, label: str, wanted: str | None) -> tuple[str, int, int, list[list[Any]]]:
    """``(sheet name, first row, first column, rows)`` of the chosen sheet (0-based offsets)."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(wb.sheet_names)
        if not names:
            raise unreadable(label, "it has no sheets")
        name = names[0] if wanted is None else wanted
        if name not in names:
            close = difflib.get_close_matches(wanted or "", names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise unreadable(label, f"it has no sheet {wanted!r}{hint}; its sheets: {', '.join(names)}")
        sheet = wb.get_sheet_by_name(name)
        start = sheet.start or (0, 0)
        rows = sheet.to_python(skip_empty_area=True)
    except (ValueError, OSError, RuntimeError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise unreadable(label, f"it is not a readable XLSX/ODS spreadsheet ({why})") from None
    except Exception as exc:  # calamine raises its own error types for broken archives
        if type(exc).__module__.startswith("python_calamine"):
            raise unreadable(label, f"it is not a readable XLSX/ODS spreadsheet ({str(exc)[:200]})") from None
        raise
    return name, int(start[0]), int(start[1]), rows


def _text(value: Any, fmt: str, timed: bool) -> str | None:
    """A cell as the text a CSV export would hold (``None`` for an empty cell)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if timed or value.time() == datetime.min.time():
            return value.strftime(fmt)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.strftime(fmt)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def _columns(rows: list[list[Any]], width: int, fmt: str) -> list[list[str | None]]:
    """The cells column by column, as text; only columns holding non-text cells are converted cell by cell."""
    timed = has_time(fmt)
    cols: list[list[str | None]] = []
    for j in range(width):
        col = [r[j] if j < len(r) else None for r in rows]
        if all(type(v) is str for v in col):
            cols.append([v or None for v in col])
        else:
            cols.append([_text(v, fmt, timed) for v in col])
    return cols


def load_spreadsheet(kind: Kind, path: Path, label: str, contract: Contract) -> Loaded:
    """Read one sheet of an XLSX/ODS file into the raw all-text frame the checks read."""
    data = _read_all(path, label, MAX_SPREADSHEET_BYTES)
    _check_archive(data, label)

    def digest() -> str:
        return hashlib.sha256(data).hexdigest()

    cfg = contract.evidence
    sheet, row0, col0, rows = _sheet_rows(data, label, cfg.sheet)
    width = max((len(r) for r in rows), default=0)
    cols = _columns(rows, width, cfg.date_format)
    # the header is the first row that is not blank
    h = next((i for i in range(len(rows)) if any((c[i] or "").strip() for c in cols)), None)
    if h is None:
        return None, no_header(kind, label), EvidenceFile(kind=kind.kind, path=path, rows=0, digest=digest, sheet=sheet)
    header_cells = [c[h] or "" for c in cols]
    while header_cells and not header_cells[-1].strip():
        header_cells.pop()
    header, errors = resolve_header(kind, header_cells, row0 + h + 1, label, dict(cfg.columns))
    if header is None:
        return None, errors, EvidenceFile(kind=kind.kind, path=path, rows=0, digest=digest, sheet=sheet)
    ncols = header.ncols
    body = {f"_c{j}": cols[j][h + 1:] for j in range(width)}
    df = pl.DataFrame(body, schema={f"_c{j}": pl.String for j in range(width)})
    cells = df.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + row0 + h + 2).alias("line"),
        pl.lit(None, dtype=pl.Int64).alias("__sob_ncells"),
        *[clean_text(pl.col(f"_c{j}")).alias(f"_c{j}") for j in range(ncols)],
    )
    if width > ncols:  # a non-empty cell right of the last header column
        long = df.select(pl.any_horizontal([clean_text(pl.col(f"_c{j}")).is_not_null()
                                            for j in range(ncols, width)])).to_series()
        cells = cells.with_columns(pl.when(long).then(pl.lit(width, dtype=pl.Int64)).alias("__sob_ncells"))
    blank = pl.all_horizontal([pl.col(f"_c{j}").is_null() for j in range(ncols)]) & pl.col("__sob_ncells").is_null()
    cells = cells.filter(~blank)
    nul = bool(cells.select(pl.any_horizontal(pl.col(f"_c{j}").str.contains("\x00", literal=True).any()
                                              for j in range(ncols))).item()) if ncols else False
    raw = Raw(kind=kind, label=label, lf=named_columns(kind, header, cells.lazy()), carried=list(header.carried),
              shown=header.shown, col_no={header.names[j]: col0 + j + 1 for j in range(ncols)},
              date_format=cfg.date_format, ncols=ncols, path=path, digest=digest,
              present=frozenset(header.canon_pos), nul=nul, sheet=sheet)
    return raw, [], None

