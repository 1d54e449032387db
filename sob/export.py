"""Writing the claim table to a file: CSV, Parquet, JSON records or XLSX.

The claim table (SPEC 9) holds amounts as ``Int64`` counts of the currency's
minor unit.  Every format here turns them into exact decimals without going
through binary floating point (SPEC 3.1); the single exception is the numeric
XLSX cell, see :func:`_xlsx_amount`.

Writes are atomic: the bytes go to a temporary file in the target's folder,
are flushed and ``fsync``-ed, and only then renamed over the target, so a
reader (or a crash) sees either the old file or the whole new one, never half
of one.  A write can also be *staged* (written and synced, renamed later), so
a close can refuse to commit when its export cannot be written.  A failed
write (disk full, read-only, name too long, SIGINT/SIGTERM) removes its
temporary file and, for the export, is a :class:`WriteError` naming the file.
The ledger (``sob.ledger``) uses the same helpers.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import polars as pl

from sob.columns import MONEY_COLUMNS
from sob.findings import InputError, UsageError
from sob.interrupts import pause_at, shielded
from sob.money import format_minor, minor_to_decimal

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".json", ".xlsx")

# Fixed money columns of the claim table (SPEC 9), with the evidence's money columns (sob.columns);
# ``due_<payer>`` are money too.
MONEY_NAMES: frozenset[str] = frozenset(
    {"price", "entitled", "previously_paid", "due", "claimed_variance"}
) | MONEY_COLUMNS

# SPEC 9: text cells starting with one of these are prefixed with "'" in CSV
# and XLSX so that a spreadsheet never runs them as a formula.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"

# Largest |minor| written to XLSX as a number; see _xlsx_amount.
_XLSX_EXACT_LIMIT = 10**15
_XLSX_MAX_ROWS = 1_048_576
_XLSX_MAX_TEXT = 32_767


# --------------------------------------------------------------------------
# column classification and vectorised money formatting


def is_money_column(name: str, dtype: pl.DataType) -> bool:
    """Money is told apart by name *and* integer type.

    Checking the type as well keeps a carried-through text column that happens
    to be called ``due_date`` from being treated as an amount.
    """
    diff = name == "difference" or name.startswith(("old_price", "new_price", "old_entitled", "new_entitled"))
    return (name in MONEY_NAMES or name.startswith("due_") or diff) and dtype.is_integer()  # diff: SPEC 10.2


def money_columns(table: pl.DataFrame) -> list[str]:
    """Names of the money columns of ``table``, in table order."""
    return [name for name, dtype in table.schema.items() if is_money_column(name, dtype)]


def money_text_expr(column: str, minor_units: int) -> pl.Expr:
    """Expression rendering integer minor units as a plain decimal string.

    Works on the decimal digits of the integer as text (strip the sign, pad
    with zeros to ``minor_units + 1`` digits, insert the point), which is
    exact for every ``Int64`` value including the most negative one, where
    ``abs()`` in integer arithmetic would overflow.  Null stays null.
    Matches :func:`sob.money.format_minor` value for value.
    """
    text = pl.col(column).cast(pl.String)
    negative = text.str.starts_with("-")
    digits = text.str.strip_prefix("-").str.zfill(minor_units + 1)
    if minor_units == 0:
        body = digits
    else:
        body = pl.concat_str(
            [digits.str.head(-minor_units), pl.lit("."), digits.str.tail(minor_units)]
        )
    return pl.when(negative).then(pl.lit("-") + body).otherwise(body).alias(column)


def format_money_columns(table: pl.DataFrame, minor_units: int) -> pl.DataFrame:
    """The table with every money column as a decimal string (``"1500.00"``).

    Used for JSON renderings, where SPEC 3.1 wants amounts as strings with
    exactly the minor unit's digits.  Other columns are left as they are.
    """
    _check_minor_units(minor_units)
    exprs = [money_text_expr(name, minor_units) for name in money_columns(table)]
    return table.with_columns(exprs) if exprs else table


def _is_coded(dtype: pl.DataType) -> bool:
    """Text held as codes of a few values (the engine's ``status``, ``reason``...)."""
    return isinstance(dtype, (pl.Enum, pl.Categorical))


def _is_text(dtype: pl.DataType) -> bool:
    """Text, stored as strings or as codes."""
    return dtype == pl.String or _is_coded(dtype)


def plain_text(table: pl.DataFrame) -> list[pl.Expr]:
    """Casts of the coded text columns to ``String``: files keep plain text columns whatever the engine used."""
    return [pl.col(n).cast(pl.String) for n, t in table.schema.items() if _is_coded(t)]


def formula_safe_expr(column: str) -> pl.Expr:
    """Prefix ``'`` to text that a spreadsheet would read as a formula (SPEC 9)."""
    col = pl.col(column).cast(pl.String)
    return (
        pl.when(col.str.contains(_FORMULA_PATTERN))
        .then(pl.lit("'") + col)
        .otherwise(col)
        .alias(column)
    )


def formula_safe(text: str) -> str:
    """Scalar version of :func:`formula_safe_expr` (headers, XLSX cells)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _check_minor_units(minor_units: int) -> None:
    """SPEC 3.1 allows 0 to 18 digits; anything else is a programming error."""
    if not isinstance(minor_units, int) or not 0 <= minor_units <= 18:
        raise ValueError(f"minor_units must be an integer from 0 to 18, not {minor_units!r}")


# --------------------------------------------------------------------------
# atomic writes


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX needs the folder synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without folder fds
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(path: Path) -> Path:
    """A hidden sibling of ``path`` (same folder, so the rename is atomic).

    The name is short and fixed in length (``.sob.<12 hex>.tmp``, 21 bytes)
    rather than derived from the target's: a legal 255-byte target name would
    otherwise give a temporary name too long for the file system.
    """
    return path.with_name(f".sob.{secrets.token_hex(6)}.tmp")


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file; a second SIGINT/SIGTERM cannot cut this short."""
    with shielded():
        pause_at("cleanup")
        with contextlib.suppress(OSError):
            os.unlink(path)


class StagedFile:
    """A file fully written and synced under its temporary name, not yet in place.

    A close writes its export this way *before* it commits, so a full disk
    refuses the whole close instead of leaving a closed quarter without its
    export; :meth:`commit` then only has to rename.
    """

    def __init__(self, path: Path, tmp: Path) -> None:
        self.path = path
        self.tmp = tmp

    def commit(self) -> None:
        """Move the file into place (atomic rename) and make that durable."""
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        """Remove the temporary file: the target is left as it was."""
        _remove_quietly(self.tmp)


def stage_write(path: Path, write: Callable[[BinaryIO], object]) -> StagedFile:
    """Run ``write`` on a new temporary file next to ``path`` and fsync it.

    On any exception (a write error, SIGINT, SIGTERM) the temporary file is
    removed, shielded from a second signal, and the exception goes on.  The
    file is created with mode 0o666 minus the umask, like a normal ``open()``.
    """
    path = Path(path)
    tmp = _temp_path(path)
    created = False
    try:
        with shielded():  # a signal here must not land between creating the file and knowing it
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            created = True
        with os.fdopen(fd, "wb") as fh:
            pause_at("temp-created")
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        if created:
            _remove_quietly(tmp)
        raise
    return StagedFile(path, tmp)


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through a temporary file, then rename: the old file or the whole new one.

    On any exception (including KeyboardInterrupt and SIGTERM) the temporary
    file is removed and ``path`` is untouched.
    """
    stage_write(path, write).commit()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """:func:`atomic_write` for bytes already rendered in memory."""
    atomic_write(path, lambda fh: fh.write(data))


# --------------------------------------------------------------------------
# renderers


def _text_frame(table: pl.DataFrame, minor_units: int, *, formula_prefix: bool) -> pl.DataFrame:
    """Every column as text: money as decimals, dates ISO, text made formula-safe.

    Only ``String`` columns are prefixed; amounts and dates are never (SPEC 9).
    """
    return table.select(_text_exprs(table, minor_units, formula_prefix=formula_prefix))


def _text_exprs(table: pl.DataFrame, minor_units: int, *, formula_prefix: bool) -> list[pl.Expr]:
    """The expressions of :func:`_text_frame`, one per column."""
    _check_minor_units(minor_units)
    exprs: list[pl.Expr] = []
    for name, dtype in table.schema.items():
        if is_money_column(name, dtype):
            exprs.append(money_text_expr(name, minor_units))
        elif dtype == pl.Date:
            exprs.append(pl.col(name).dt.strftime("%Y-%m-%d").alias(name))
        elif _is_text(dtype):
            exprs.append(formula_safe_expr(name) if formula_prefix else pl.col(name).cast(pl.String))
        else:
            exprs.append(pl.col(name).cast(pl.String).alias(name))
    return exprs


def csv_bytes(table: pl.DataFrame, minor_units: int, *, formula_prefix: bool = True) -> bytes:
    """The table as UTF-8 CSV: amounts ``1500.00``, ISO dates, null as empty.

    polars writes an empty string as ``""`` and a null as nothing, so the two
    stay distinct when the file is read back.  ``formula_prefix=False`` is for
    the ledger, a machine record that must round-trip exactly.
    """
    buf = io.BytesIO()
    _write_csv(table, minor_units, buf, formula_prefix=formula_prefix)
    return buf.getvalue()


def _write_csv(table: pl.DataFrame, minor_units: int, fh: BinaryIO, *, formula_prefix: bool = True) -> None:
    """:func:`csv_bytes` straight into ``fh``, streamed: the text of millions of rows is never held whole."""
    frame = table.lazy().select(_text_exprs(table, minor_units, formula_prefix=formula_prefix))
    if formula_prefix:
        frame = frame.rename({c: formula_safe(c) for c in table.columns})
    frame.sink_csv(fh)


def json_bytes(table: pl.DataFrame, minor_units: int) -> bytes:
    """Array of records: amounts as strings, dates ISO strings, nulls null; no prefixing."""
    frame = format_money_columns(table, minor_units).with_columns(plain_text(table))
    dates = [n for n, t in frame.schema.items() if t == pl.Date]
    if dates:
        frame = frame.with_columns(pl.col(n).dt.strftime("%Y-%m-%d") for n in dates)
    buf = io.BytesIO()
    frame.write_json(buf)
    return buf.getvalue()


def _parquet_money(table: pl.DataFrame, minor_units: int) -> list[pl.Expr]:
    """Money as ``Decimal(38, minor_units)``: minor units divided by 10^minor_units.

    A polars Decimal *is* its unscaled integer (an Int128) with a scale, so
    minor units are reinterpreted, not computed: exact by construction, with
    no arithmetic and no text on millions of rows.
    """
    _check_minor_units(minor_units)
    decimal = pl.Decimal(38, minor_units)
    return [pl.col(n).cast(pl.Int128).reinterpret(dtype=decimal).alias(n) for n in money_columns(table)]


class _ErrorRecorder(io.RawIOBase):
    """A writable passed to polars that remembers the operating system's error.

    polars reports a failed Parquet write as a ``ComputeError`` whose text
    may have lost the reason (``Invalid thrift: transport error``); the
    ``OSError`` recorded here is what the user needs to read.
    """

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__()
        self._fh = fh
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise


def _write_parquet(table: pl.DataFrame, minor_units: int, fh: BinaryIO) -> None:
    """Streamed: the 16-byte decimals of millions of rows are never held whole."""
    sink = _ErrorRecorder(fh)
    try:
        frame = table.lazy().with_columns(*plain_text(table), *_parquet_money(table, minor_units))
        frame.sink_parquet(cast("BinaryIO", sink))
    except pl.exceptions.PolarsError:
        if sink.error is not None:
            raise sink.error from None
        raise


def _xlsx_amount(minor: int, minor_units: int) -> float | str:
    """The value of an XLSX money cell: a number when that is exact, else text.

    XLSX stores numbers as IEEE doubles, so the float here is unavoidable.  A
    decimal with at most 15 significant digits survives decimal → double →
    decimal unchanged (DBL_DIG = 15), and Excel itself shows 15 digits, so
    ``|minor| < 10**15`` is written as the double nearest the exact decimal
    (converted from ``Decimal``, never computed in float).  This bound is
    stricter than ``2**53``: that keeps the *integer* minor count exact, but
    ``minor / 10**units`` near 2**53 cannot be told from its neighbours (the
    double spacing at 9e13 is 1/64, wider than a penny).  Larger amounts are
    written as their exact decimal text.
    """
    if abs(minor) < _XLSX_EXACT_LIMIT:
        return float(minor_to_decimal(minor, minor_units))
    return format_minor(minor, minor_units)


def _xlsx_width(table: pl.DataFrame, text: pl.DataFrame, name: str) -> float:
    """Column width from the longest rendered value, within 8..60 characters."""
    longest = text.select(pl.col(name).str.len_chars().max()).item() if text.height else 0
    longest = max(len(name), longest or 0)
    if is_money_column(name, table.schema[name]):
        longest += longest // 3  # room for thousands separators
    return float(min(60, max(8, longest + 2)))


def _write_xlsx(table: pl.DataFrame, minor_units: int, fh: BinaryIO, created: datetime | None = None) -> None:
    """Typed cells: amounts numbers, dates real dates, text formula-safe.

    The workbook is built in memory and then written in one call: a write
    error then surfaces here as one ``OSError``, instead of inside the zip
    writer, whose clean-up would raise it a second time from ``__del__``.
    ``created`` fixes the timestamps of ``docProps/core.xml`` (see
    :func:`workbook_time`), so the same table gives the same bytes.
    """
    import xlsxwriter  # imported here: only the xlsx export needs it

    _check_minor_units(minor_units)
    if table.height + 1 > _XLSX_MAX_ROWS:
        raise UsageError(
            f"the claim table has {table.height} rows; an XLSX sheet holds at most "
            f"{_XLSX_MAX_ROWS - 1}: export to .csv or .parquet instead"
        )
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    if created is not None:
        workbook.set_properties({"created": created})
    try:
        sheet = workbook.add_worksheet("claims")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format(
            {"num_format": "#,##0" + ("." + "0" * minor_units if minor_units else "")}
        )
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        text = _text_frame(table, minor_units, formula_prefix=True)
        for col, (name, dtype) in enumerate(table.schema.items()):
            sheet.write_string(0, col, formula_safe(name), bold)
            sheet.set_column(col, col, _xlsx_width(table, text, name))
            _write_xlsx_column(sheet, col, name, dtype, table, text, minor_units, money, day)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(table.height, 1), max(table.width - 1, 0))
    finally:
        workbook.close()
    fh.write(buffer.getbuffer())


def _write_xlsx_column(
    sheet: Any,
    col: int,
    name: str,
    dtype: pl.DataType,
    table: pl.DataFrame,
    text: pl.DataFrame,
    minor_units: int,
    money: Any,
    day: Any,
) -> None:
    """One column of cells; nulls are left blank."""
    if is_money_column(name, dtype):
        for row, minor in enumerate(table.get_column(name).to_list(), start=1):
            if minor is None:
                continue
            value = _xlsx_amount(minor, minor_units)
            if isinstance(value, float):
                sheet.write_number(row, col, value, money)
            else:  # exact text, never prefixed: amounts are not formulas
                sheet.write_string(row, col, value, money)
    elif dtype == pl.Date:
        for row, value in enumerate(table.get_column(name).to_list(), start=1):
            if isinstance(value, date):
                sheet.write_datetime(row, col, value, day)
    elif dtype.is_numeric():
        for row, value in enumerate(table.get_column(name).to_list(), start=1):
            if value is not None:
                sheet.write_number(row, col, value)
    elif dtype == pl.Boolean:
        for row, value in enumerate(table.get_column(name).to_list(), start=1):
            if value is not None:
                sheet.write_boolean(row, col, value)
    else:  # text (already prefixed by _text_frame) and anything else as text
        for row, value in enumerate(text.get_column(name).to_list(), start=1):
            if value is None:
                continue
            if len(value) > _XLSX_MAX_TEXT:
                raise InputError(
                    f"column {name!r} row {row} holds {len(value)} characters; an XLSX "
                    f"cell holds at most {_XLSX_MAX_TEXT}: export to .csv instead"
                )
            sheet.write_string(row, col, value)


# --------------------------------------------------------------------------
# entry point


class WriteError(UsageError):
    """A file could not be written (disk full, read-only, name too long...): exit 2, like an unreadable file."""


def workbook_time(closed_at: datetime | None = None) -> datetime | None:
    """The time an XLSX export records as created: reproducible whenever it can be.

    A close's export takes the ledger's close time, so the workbook says when
    the quarter was closed; otherwise ``SOURCE_DATE_EPOCH`` (seconds since
    1970, the reproducible-builds convention) when it is set; otherwise
    ``None``: the time of the run.
    """
    if closed_at is not None:
        return closed_at
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC).replace(tzinfo=None)
    return None


def _writer_for(
    path: Path, table: pl.DataFrame, minor_units: int, created: datetime | None = None
) -> Callable[[BinaryIO], object]:
    """The writer for ``path``'s extension; UsageError names the supported ones."""
    ext = path.suffix.lower()
    if ext == ".csv":
        return lambda fh: _write_csv(table, minor_units, fh, formula_prefix=True)
    if ext == ".json":
        return lambda fh: fh.write(json_bytes(table, minor_units))
    if ext == ".parquet":
        return lambda fh: _write_parquet(table, minor_units, fh)
    if ext == ".xlsx":
        return lambda fh: _write_xlsx(table, minor_units, fh, workbook_time(created))
    raise UsageError(
        f"cannot export to {path.name!r}: the file name must end in "
        + ", ".join(SUPPORTED_EXTENSIONS)
    )


def write_failure(path: Path, exc: BaseException) -> str:
    """``cannot write PATH: reason``: the OS's words, or the I/O part of a polars error.

    polars reports a failed write of a Parquet file as a ``ComputeError``
    (not an ``OSError``) whose text ends with the operating system's reason.
    """
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:  # a polars error: "[Errno 28] No space ..." or "...IO error: No space ... (os error 28)"
        reason = str(exc).rpartition("IO error: ")[2] or str(exc)
        reason = re.sub(r"^\[Errno \d+\] | \(os error \d+\)$", "", reason.strip())
    return f"cannot write {path}: {reason}"


def check_target(path: Path) -> None:
    """UsageError when ``path`` cannot be an export target at all (no folder, a folder, a name too long)."""
    try:
        if not path.parent.is_dir():
            raise UsageError(f"cannot write {path}: folder {path.parent} does not exist; nothing was written")
        if path.is_dir():
            raise UsageError(f"cannot write {path}: it is a folder; nothing was written")
    except OSError as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


def stage_table(
    table: pl.DataFrame, path: Path, minor_units: int, *, created: datetime | None = None
) -> StagedFile:
    """Write the claim table next to ``path`` under a temporary name; :meth:`StagedFile.commit` puts it in place.

    A failed write is a :class:`WriteError` naming ``path`` and leaves no
    file behind.  ``created``: the XLSX creation time (a close passes its
    close time); see :func:`workbook_time`.
    """
    path = Path(path)
    _check_minor_units(minor_units)
    writer = _writer_for(path, table, minor_units, created)
    check_target(path)
    try:
        return stage_write(path, writer)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


def write_table(table: pl.DataFrame, path: Path, minor_units: int, *, created: datetime | None = None) -> None:
    """Write the claim table to ``path`` in the format its extension names.

    Atomic (see :func:`atomic_write`).  An unsupported extension, a missing
    folder or a failed write is an error with exit 2 that leaves no file behind.
    """
    staged = stage_table(table, path, minor_units, created=created)
    try:
        staged.commit()
    except OSError as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


__all__ = [
    "FORMULA_TRIGGERS",
    "MONEY_NAMES",
    "SUPPORTED_EXTENSIONS",
    "StagedFile",
    "WriteError",
    "atomic_write",
    "atomic_write_bytes",
    "check_target",
    "csv_bytes",
    "format_money_columns",
    "formula_safe",
    "fsync_dir",
    "is_money_column",
    "json_bytes",
    "money_columns",
    "money_text_expr",
    "stage_table",
    "stage_write",
    "workbook_time",
    "write_failure",
    "write_table",
]
