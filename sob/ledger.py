"""The ledger: closed quarters on disk, what they paid, and a tamper check (SPEC 7).

Layout, for contract ``C`` and quarter ``Q`` (``YYYY-Qn``)::

    DIR/C/Q.csv    the claim table of Q exactly as closed
    DIR/C/Q.toml   the manifest: ids, totals, SHA-256 hashes, previous manifest
    DIR/C/Q.contract.toml   the contract file exactly as closed (SPEC 10.1)
    DIR/C/opening.csv, opening.toml   what was paid before the first close (SPEC 10.3)
    DIR/C/.lock    exists only while a close runs (it is flock-ed, then removed)

A quarter is *closed* when, and only when, its manifest exists: the close
writes Q.csv and Q.contract.toml first and the manifest (which holds their
hashes) last, each by
temporary file + fsync + rename, so a crash leaves either the old ledger or
the new one.  A Q.csv without a manifest is an incomplete close: it does not
count, the next close of Q overwrites it, and :func:`verify` reports it.

Q.csv is a machine record that ``sob`` reads back to work out what was paid,
and a file people open in a spreadsheet, so it is written with the export's
CSV rules (amounts ``1500.00``, ISO dates, null as an empty field) and the
formula prefix of SPEC 9 made reversible: a text cell (or header) starting
with ``= + - @``, a tab, a carriage return *or* ``'`` gets one leading ``'``,
and every text cell read back loses one.  Escaping ``'`` itself is what makes
the round trip exact: ``-P1`` is stored ``'-P1`` and ``'x`` is stored ``''x``.
Amounts are numbers and are never prefixed.

Each manifest records the SHA-256 of the previous closed quarter's manifest
bytes (``""`` for the first), so editing, removing or reordering a closed
quarter breaks the chain that later quarters recorded.

Ledger files are read only when they are regular files, checked on the open
file before a byte is read: a FIFO, a device, a folder or a symbolic link in
their place is refused (exit 2; ``verify`` reports it) instead of blocking or
reading forever.  A close that cannot write (disk full, read-only) removes
what it wrote and says that nothing was closed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import os
import re
import stat
import tomllib
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import tomli_w

from sob.export import (
    WriteError,
    atomic_write_bytes,
    csv_bytes,
    fsync_dir,
    is_money_column,
    money_text_expr,
    write_failure,
)
from sob.findings import Finding, InputError, UsageError, errors_only
from sob.interrupts import pause_at, set_note, shielded
from sob.money import format_minor, parse_decimal, to_minor
from sob.quarters import Quarter

LOCK_NAME = ".lock"
_CONTRACT_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_TEMP_FILE = re.compile(r"\..+\.[0-9a-f]+\.tmp")  # .sob.<hex>.tmp (older: .<name>.<hex>.tmp)
_SHA256 = re.compile(r"[0-9a-f]{64}")

# Columns previously_paid needs from every closed Q.csv (besides due_<payer>).
META_COLUMNS: tuple[str, ...] = (
    "claim_id", "kind", "participant_id", "cohort", "outcome_id", "achieved_on", "submitted_on",
)
_DATE_COLUMNS = ("achieved_on", "submitted_on")
#: An optional column of Q.csv: an adjustment's reason (SPEC 10.6), kept for its MISSING_FROM_EVIDENCE line.
NOTE_COLUMN = "note"
# Columns close_quarter needs in the claim table (besides due_<payer>).
_TABLE_COLUMNS = META_COLUMNS + ("status", "entitled", "previously_paid", "due")
_EVIDENCE_HASHES = ("contract", "claims", "participants", "results")


# --------------------------------------------------------------------------
# the ledger's CSV cells: formula-safe for spreadsheets, read back exactly

# A text cell starting with one of these gets a leading "'" (SPEC 9's triggers, and "'" itself
# so that the prefix can always be removed again without guessing).
_LEDGER_ESCAPE = r"^[=+\-@\t\r']"


def _ledger_escape(text: str) -> str:
    """One header: ``'`` before a formula trigger or an apostrophe, so it reads back exactly."""
    return "'" + text if re.match(_LEDGER_ESCAPE, text) else text


def ledger_csv_bytes(table: pl.DataFrame, minor_units: int, plain: tuple[str, ...] = ()) -> bytes:
    """``table`` as ledger CSV: the export's cells, with every text cell and header escaped.

    A ledger file is opened in spreadsheets by finance teams, so a claim id
    ``=HYPERLINK(...)`` must not run (SPEC 9); it is also read back by ``sob``,
    so the escape is reversible (:func:`read_ledger_csv` undoes it exactly).
    Money columns are integers here and written as plain amounts, never escaped;
    ``plain`` names amounts already formatted as text, which are not escaped either.
    """
    escaped = table.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(_LEDGER_ESCAPE))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name, dtype in table.schema.items()
        if (dtype == pl.String or isinstance(dtype, (pl.Enum, pl.Categorical))) and name not in plain
    ).rename({c: _ledger_escape(c) for c in table.columns})
    return csv_bytes(escaped, minor_units, formula_prefix=False)


def read_ledger_csv(data: bytes, columns: list[str] | None = None) -> pl.DataFrame:
    """Ledger CSV bytes as text columns, with the escape of :func:`ledger_csv_bytes` removed.

    Every cell and header loses one leading ``'``: the writer added one to
    exactly the cells that start with ``'`` or a trigger, so the text read is
    the text written.  ``columns`` (plain names) keeps only those columns.
    """
    df = pl.read_csv(io.BytesIO(data), infer_schema=False)
    df = df.rename({c: c.removeprefix("'") for c in df.columns if c.startswith("'")})
    if columns is not None:
        df = df.select(columns)
    return df.with_columns(pl.col(c).str.strip_prefix("'") for c in df.columns)


# --------------------------------------------------------------------------
# small helpers


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (for the manifest's evidence hashes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind_of(mode: int) -> str:
    """A file kind in words, for a message."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path) -> bytes:
    """The bytes of a ledger file, which must be a regular file (not a link, FIFO, device or folder).

    The kind is checked on the opened descriptor, opened without following
    a link and without blocking on a FIFO, so nothing can swap the file
    between the check and the read, and nothing is read from anything else.
    A missing file raises ``FileNotFoundError`` as ``open`` does.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _not_regular(path, "a symbolic link") from None
        if exc.errno in (errno.EISDIR, errno.ENXIO):
            raise _not_regular(path, _kind_of(os.lstat(path).st_mode)) from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise UsageError(f"ledger file {path} cannot be read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_regular(path, _kind_of(mode))
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _not_regular(path: Path, kind: str) -> UsageError:
    """The error for a ledger file that is not a regular file (exit 2: it cannot be read)."""
    return UsageError(
        f"ledger file {path} is {kind}, not a regular file: sob reads ledger files only from "
        "regular files; run `sob ledger verify`"
    )


def _is_regular(path: Path) -> bool:
    """A regular file itself, not a link to one (the kind a ledger holds)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _ledger_root(directory: Path) -> Path:
    """DIR must exist: a mistyped --ledger must not look like an empty ledger.

    An empty ledger would make every claim look unpaid and pay it again, so a
    missing folder is a command-line error rather than "nothing closed yet".
    """
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(
            f"ledger folder {root} does not exist (an empty ledger is an empty folder: create it first)"
        )
    return root


def _contract_dir(directory: Path, contract_id: str) -> Path:
    """``DIR/<contract id>``; the id pattern of SPEC 3 keeps paths inside DIR."""
    if not isinstance(contract_id, str) or not _CONTRACT_ID.fullmatch(contract_id):
        raise InputError(f"contract id {contract_id!r} cannot name a ledger folder")
    return _ledger_root(directory) / contract_id


def _as_quarter(quarter: Quarter | str) -> Quarter:
    """Accept ``Quarter`` or its ``YYYY-Qn`` label."""
    if isinstance(quarter, Quarter):
        return quarter
    try:
        return Quarter.parse(quarter)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _quarter_of(path: Path, suffix: str) -> Quarter | None:
    """The quarter a ledger file name stands for (``2025-Q1.toml``), if any."""
    if path.suffix != suffix:
        return None
    try:
        q = Quarter.parse(path.stem)
    except ValueError:
        return None
    return q if str(q) == path.stem else None


def _manifest_paths(cdir: Path) -> dict[Quarter, Path]:
    """Manifests of a contract folder by quarter: the closed quarters.

    Every entry with a manifest's name counts, whatever its kind: a manifest
    replaced by a FIFO or a folder must stop the run when it is read, not
    make its quarter look unpaid.
    """
    if not cdir.is_dir():
        if os.path.lexists(cdir):  # a file or a FIFO where the contract's folder belongs: not "nothing closed"
            raise UsageError(f"ledger entry {cdir} is {_kind_of(cdir.lstat().st_mode)}, not a folder; run `sob ledger verify`")
        return {}
    found: dict[Quarter, Path] = {}
    for entry in cdir.iterdir():
        q = _quarter_of(entry, ".toml")
        if q is not None:
            found[q] = entry
    return dict(sorted(found.items()))


def closed_quarters(directory: Path, contract_id: str) -> list[str]:
    """Labels of the closed quarters of a contract, oldest first.

    Only manifests count: a Q.csv left alone by an interrupted close is not a
    closed quarter.
    """
    return [str(q) for q in _manifest_paths(_contract_dir(directory, contract_id))]


def _read_manifest(path: Path) -> tuple[bytes, dict[str, Any]]:
    """Bytes and parsed content of a manifest; InputError if unreadable."""
    data = read_regular(path)
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"ledger manifest {path} cannot be read ({exc}); run `sob ledger verify`"
        ) from exc
    problem = _manifest_problem(parsed)
    if problem:
        raise InputError(f"ledger manifest {path} is damaged: {problem}; run `sob ledger verify`")
    return data, parsed


def _manifest_problem(parsed: dict[str, Any]) -> str | None:
    """Why a parsed manifest is unusable, or ``None``."""
    for key in ("contract", "quarter"):
        if not isinstance(parsed.get(key), str):
            return f"no {key}"
    hashes = parsed.get("hashes")
    if not isinstance(hashes, dict):
        return "no [hashes] table"
    for key in ("table", "previous_manifest"):
        if not isinstance(hashes.get(key), str):
            return f"no hashes.{key}"
    if not isinstance(parsed.get("totals", {}), dict):
        return "[totals] is not a table"
    return None


def copy_name(q: Quarter) -> str:
    """File name of the contract copy a close of ``q`` writes (SPEC 10.1)."""
    return f"{q}.contract.toml"


def _quarter_of_copy(path: Path) -> Quarter | None:
    """The quarter a ``Q.contract.toml`` name stands for, if any."""
    name = path.name
    if not name.endswith(".contract.toml"):
        return None
    try:
        q = Quarter.parse(name.removesuffix(".contract.toml"))
    except ValueError:
        return None
    return q if copy_name(q) == name else None


def latest_close(directory: Path, contract_id: str) -> tuple[Quarter, str, dict[str, Any]] | None:
    """The latest closed quarter of a contract: quarter, SHA-256 of its manifest, parsed manifest.

    ``None`` when nothing is closed.  The change guard (SPEC 10.1) and the
    gap check (10.4) compare a run with this close.
    """
    closed = _manifest_paths(_contract_dir(directory, contract_id))
    if not closed:
        return None
    q = max(closed)
    data, parsed = _read_manifest(closed[q])
    return q, sha256_bytes(data), parsed


def closed_contract_copy(directory: Path, contract_id: str, q: Quarter, parsed: dict[str, Any]) -> Path | None:
    """The contract copy of a closed quarter, when its manifest names one and it is unchanged.

    ``None`` for a quarter closed before copies existed.  A named copy that is
    missing or differs from the manifest's contract hash is an InputError:
    the restatement would compare against the wrong contract.
    """
    name = parsed.get("contract_copy")
    if name is None:
        return None
    cdir = _contract_dir(directory, contract_id)
    path = cdir / copy_name(q)
    if name != copy_name(q):
        raise InputError(f"ledger manifest of {q} names contract copy {name!r}; run `sob ledger verify`")
    try:
        data = read_regular(path)
    except FileNotFoundError as exc:
        raise InputError(f"ledger quarter {q} of {contract_id}: {path} is missing; run `sob ledger verify`") from exc
    if sha256_bytes(data) != parsed["hashes"].get("contract"):
        raise InputError(f"ledger quarter {q} of {contract_id}: {path} changed since it was closed; run `sob ledger verify`")
    return path


def closed_entitled(directory: Path, contract_id: str, q: Quarter, parsed: dict[str, Any], minor_units: int) -> pl.DataFrame:
    """``claim_id`` and ``entitled`` (minor units) of a closed quarter's table, checked against its manifest."""
    cdir = _contract_dir(directory, contract_id)
    data = _vouched_table(cdir, q, parsed, f"ledger quarter {q} of {contract_id}")
    df = read_ledger_csv(data)
    if "claim_id" not in df.columns or "entitled" not in df.columns:
        raise InputError(f"ledger quarter {q} of {contract_id}: {q}.csv has no claim_id or entitled column")
    return _parse_money(df.select("claim_id", "entitled"), "entitled", _minor_units_of(parsed) if "minor_units" in parsed else minor_units, cdir / f"{q}.csv")


OPENING_CSV = "opening.csv"
OPENING_TOML = "opening.toml"


def opening_files(opening: pl.DataFrame, contract_id: str, q: Quarter, minor_units: int, payer_ids: list[str]) -> tuple[bytes, bytes]:
    """opening.csv and opening.toml of SPEC 10.3 for ``opening`` (``claim_id``, ``paid``, ``paid_<payer>``)."""
    amounts = ["paid", *(f"paid_{p}" for p in payer_ids)]
    table = opening.sort("claim_id").select("claim_id", *amounts)
    data = ledger_csv_bytes(table.with_columns(money_text_expr(c, minor_units) for c in amounts), minor_units, tuple(amounts))
    manifest = {
        "contract": contract_id,
        "precedes": str(q),
        "opening_sha256": sha256_bytes(data),
        "rows": table.height,
        "paid": format_minor(_total(table, "paid"), minor_units),
        "paid_by_payer": {p: format_minor(_total(table, f"paid_{p}"), minor_units) for p in payer_ids},
    }
    return data, tomli_w.dumps(manifest).encode("utf-8")


def _opening_problem(cdir: Path) -> tuple[str | None, dict[str, Any] | None, bytes | None]:
    """Why the opening files are not what was closed (or ``None``), the parsed opening.toml and opening.csv's bytes."""
    try:
        toml_bytes = read_regular(cdir / OPENING_TOML)
    except FileNotFoundError:
        return None, None, None
    try:
        parsed = tomllib.loads(toml_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"{OPENING_TOML} cannot be parsed ({exc})", None, None
    try:
        data = read_regular(cdir / OPENING_CSV)
    except FileNotFoundError:
        return f"{OPENING_CSV} is missing", parsed, None
    if sha256_bytes(data) != parsed.get("opening_sha256"):
        return f"{OPENING_CSV} changed since it was recorded", parsed, data
    return None, parsed, data


def _opening_frame(cdir: Path, minor_units: int, payer_ids: list[str]) -> pl.DataFrame | None:
    """The recorded opening amounts, checked against opening.toml; ``None`` without an opening.

    An opening counts only once a quarter was closed after it: files left by
    a first close that never committed pay nothing.
    """
    if not _manifest_paths(cdir):
        return None
    problem, _, data = _opening_problem(cdir)
    if problem:
        raise InputError(f"ledger opening of {cdir.name}: {problem}; run `sob ledger verify`")
    if data is None:
        return None
    df = read_ledger_csv(data)
    wanted = ["claim_id", "paid", *(f"paid_{p}" for p in payer_ids)]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise InputError(f"ledger opening of {cdir.name}: {OPENING_CSV} has no column(s) {', '.join(missing)}")
    df = df.select(wanted)
    for name in wanted[1:]:
        df = _parse_money(df, name, minor_units, cdir / OPENING_CSV)
    return df


def _opening_as_closed(opening: pl.DataFrame, payer_ids: list[str]) -> pl.DataFrame:
    """Opening rows shaped like a closed table's (META columns, due, due_<payer>): kind claim, no metadata."""
    return opening.select(
        pl.col("claim_id").cast(pl.String),
        pl.lit("claim", pl.String).alias("kind"),
        *(pl.lit(None, pl.String).alias(c) for c in ("participant_id", "cohort", "outcome_id")),
        *(pl.lit(None, pl.Date).alias(c) for c in _DATE_COLUMNS),
        pl.col("paid").cast(pl.Int64).alias("due"),
        *(pl.col(f"paid_{p}").cast(pl.Int64).alias(f"due_{p}") for p in payer_ids),
        pl.lit(None, pl.String).alias(NOTE_COLUMN),
    )


# --------------------------------------------------------------------------
# reading what was paid


def _parse_money(df: pl.DataFrame, name: str, minor_units: int, file: Path) -> pl.DataFrame:
    """Decimal text (exactly ``minor_units`` digits) → Int64 minor units, no floats.

    ``"-0.05"`` becomes ``"-005"`` by dropping the point and is cast to -5;
    the pattern check first makes that removal exact.
    """
    digits = r"^-?\d+$" if minor_units == 0 else rf"^-?\d+\.\d{{{minor_units}}}$"
    col = pl.col(name)
    bad = df.with_row_index("_line").filter(col.is_not_null() & ~col.str.contains(digits))
    if bad.height:
        row = bad.row(0, named=True)
        raise InputError(
            f"ledger file {file} line {row['_line'] + 2}: {name} {row[name]!r} is not an "
            f"amount with {minor_units} decimals"
        )
    parsed = df.with_columns(col.str.replace(".", "", literal=True).cast(pl.Int64, strict=False))
    if parsed[name].null_count() != df[name].null_count():
        raise InputError(f"ledger file {file}: an amount in {name} is too large")
    return parsed


def _parse_dates(df: pl.DataFrame, name: str, file: Path) -> pl.DataFrame:
    """ISO date text → Date; anything else is a damaged ledger."""
    parsed = df.with_columns(pl.col(name).str.to_date("%Y-%m-%d", strict=False))
    if parsed[name].null_count() != df[name].null_count():
        raise InputError(f"ledger file {file}: {name} holds a value that is not an ISO date")
    return parsed


def _load_closed_table(
    cdir: Path, q: Quarter, manifest: Path, minor_units: int, payer_ids: list[str]
) -> pl.DataFrame:
    """One closed quarter's rows, checked against its manifest before use.

    The CSV bytes are hashed and parsed from the same buffer, so what is
    summed is exactly what the manifest vouches for; a changed file is refused
    rather than trusted with public money.
    """
    _, parsed = _read_manifest(manifest)
    where = f"ledger quarter {q} of {cdir.name}"
    if parsed["contract"] != cdir.name or parsed["quarter"] != str(q):
        raise InputError(f"{where}: manifest {manifest} records {parsed['contract']} {parsed['quarter']}")
    if "minor_units" in parsed and parsed["minor_units"] != minor_units:
        raise InputError(
            f"{where} was closed with {parsed['minor_units']} minor digits, the contract now has {minor_units}"
        )
    if "payers" in parsed and list(parsed["payers"]) != list(payer_ids):
        raise InputError(
            f"{where} was closed with payers {parsed['payers']}, the contract now lists {list(payer_ids)}"
        )
    csv_path = cdir / f"{q}.csv"
    data = _vouched_table(cdir, q, parsed, where)
    df = read_ledger_csv(data)
    wanted = [*META_COLUMNS, "due", *(f"due_{p}" for p in payer_ids)]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise InputError(f"{where}: {csv_path} has no column(s) {', '.join(missing)}")
    note = pl.col(NOTE_COLUMN) if NOTE_COLUMN in df.columns else pl.lit(None, pl.String).alias(NOTE_COLUMN)
    df = df.select(*wanted, note)
    for name in wanted[len(META_COLUMNS):]:
        df = _parse_money(df, name, minor_units, csv_path)
        if df[name].null_count():
            raise InputError(f"{where}: {csv_path} has an empty {name}")
    for name in _DATE_COLUMNS:
        df = _parse_dates(df, name, csv_path)
    return df


def _manifest_payers(parsed: dict[str, Any]) -> list[str]:
    """The payer ids a manifest was closed with (older manifests: its due_<payer> totals)."""
    listed = parsed.get("payers")
    if isinstance(listed, list):
        return [str(p) for p in listed]
    return [k[4:] for k in parsed.get("totals", {}) if k.startswith("due_")]


def _totals_problem(data: bytes, parsed: dict[str, Any], csv_path: Path) -> str | None:
    """How a manifest's ``[totals]`` disagree with the Q.csv bytes it vouches for, or ``None``.

    The table hash protects Q.csv and the next manifest's chain protects this
    manifest, but the latest manifest has no next one: its totals (what
    ``show`` reports as paid to date) are only trustworthy if they are the
    sums of its own table, so every manifest is held to that.
    """
    units = _minor_units_of(parsed)
    payers = _manifest_payers(parsed)
    names = ["entitled", "previously_paid", "due", *(f"due_{p}" for p in payers)]
    try:
        df = read_ledger_csv(data)
        missing = [c for c in names if c not in df.columns]
        if missing:
            return f"{csv_path.name} has no column(s) {', '.join(missing)}"
        df = df.select(names)
        for name in names:
            df = _parse_money(df, name, units, csv_path)
    except (InputError, pl.exceptions.PolarsError) as exc:
        return f"{csv_path.name} cannot be read back: {exc}"
    table: dict[str, Any] = {"claims": df.height}
    table.update({name: format_minor(_total(df, name), units) for name in names})
    recorded = parsed.get("totals", {})
    wrong = [f"{k} {recorded.get(k)!r} (table: {v!r})" for k, v in table.items() if recorded.get(k) != v]
    return f"totals disagree with {csv_path.name}: " + ", ".join(wrong) if wrong else None


def _paid_schema(payer_ids: list[str]) -> dict[str, pl.DataType]:
    """Columns of :func:`previously_paid`'s result."""
    schema: dict[str, pl.DataType] = {c: pl.String() for c in META_COLUMNS}
    schema.update({c: pl.Date() for c in _DATE_COLUMNS})
    schema[NOTE_COLUMN] = pl.String()
    schema["paid"] = pl.Int64()
    schema.update({f"paid_{p}": pl.Int64() for p in payer_ids})
    return schema


def previously_paid(
    directory: Path,
    contract_id: str,
    quarter: Quarter | str,
    payer_ids: list[str],
    minor_units: int,
    opening: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """What the closed quarters before ``quarter`` paid, per claim id (SPEC 6, 10.3).

    One row per claim id that appears in any closed quarter strictly before
    ``quarter``, sorted by claim id: its metadata from its latest closed row
    (latest quarter, last row within it), ``paid`` = the sum of its ``due``
    and ``paid_<payer>`` = the sum of ``due_<payer>`` over those quarters —
    exact integers, parsed from the decimal text without floats.  Rows whose
    sum is 0 are kept: a claim once in the ledger never disappears.  The
    ledger's opening (or ``opening``, for a first close that records one)
    counts as paid before the first closed quarter.
    """
    q = _as_quarter(quarter)
    cdir = _contract_dir(directory, contract_id)
    frames = []
    if opening is None:
        opening = _opening_frame(cdir, minor_units, payer_ids)
    if opening is not None and opening.height:
        frames.append(_opening_as_closed(opening, payer_ids).with_columns(
            pl.lit(-1).alias("_q"), pl.int_range(pl.len()).alias("_row")))
    for ordinal, (closed, manifest) in enumerate(_manifest_paths(cdir).items()):
        if closed >= q:
            break
        df = _load_closed_table(cdir, closed, manifest, minor_units, payer_ids)
        frames.append(df.with_columns(pl.lit(ordinal).alias("_q"), pl.int_range(pl.len()).alias("_row")))
    schema = _paid_schema(payer_ids)
    if not frames:
        return pl.DataFrame(schema=schema)
    sums = [pl.col("due").sum().alias("paid")]
    sums += [pl.col(f"due_{p}").sum().alias(f"paid_{p}") for p in payer_ids]
    return (
        pl.concat(frames)
        .sort(["_q", "_row"])
        .group_by("claim_id", maintain_order=True)
        .agg([pl.col(c).last() for c in (*META_COLUMNS[1:], NOTE_COLUMN)] + sums)
        .sort("claim_id")
        .select(list(schema))
        .cast(dict(schema))  # type: ignore[arg-type] # polars' Mapping is invariant in its key
    )


# --------------------------------------------------------------------------
# closing a quarter


def _try_lock(path: Path) -> int | None:
    """Open and ``flock`` DIR/C/.lock; the descriptor, or ``None`` when another close holds it.

    A lock taken on a file that another close has just removed (it opened
    the file, finished and unlinked it in between) is no lock at all: the
    file under the name must be the one locked, else try again.
    """
    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    return None


@contextlib.contextmanager
def _exclusive_lock(cdir: Path) -> Iterator[None]:
    """``flock`` on DIR/C/.lock, non-blocking: a second close is refused, not queued.

    The lock dies with the process, so a crashed close never leaves a stale
    lock; the file itself is removed when the close ends, however it ends
    (SIGINT and SIGTERM included), so a ledger folder holds only quarters.
    """
    path = cdir / LOCK_NAME
    fd: int | None = None
    try:
        with shielded():  # taking the lock and knowing it are one step
            try:
                fd = _try_lock(path)
            except OSError as exc:
                raise WriteError(write_failure(path, exc) + "; nothing was closed: the ledger is as before") from exc
        if fd is None:
            raise InputError(f"another close is running for {cdir.name} (ledger {cdir.parent}); nothing was written")
        yield
    finally:
        if fd is not None:
            with shielded():
                with contextlib.suppress(OSError):
                    os.unlink(path)
                os.close(fd)


def ensure_can_close(directory: Path, contract_id: str, quarter: Quarter | str) -> None:
    """Raise InputError when ``quarter`` may not be closed; change nothing.

    Refused: a quarter already closed, one earlier than the latest closed
    quarter (SPEC 7), or a ledger that fails :func:`verify` (closing on top
    of a tampered record would vouch for it).  The engine can call this
    before writing ``--export`` so that a refused close writes no file at all;
    :func:`close_quarter` checks again under the lock.
    """
    q = _as_quarter(quarter)
    cdir = _contract_dir(directory, contract_id)
    closed = list(_manifest_paths(cdir))
    if q in closed:
        raise InputError(f"quarter {q} of {contract_id} is already closed in {cdir.parent}; nothing was written")
    if closed and q < closed[-1]:
        raise InputError(
            f"quarter {q} of {contract_id} is earlier than the latest closed quarter {closed[-1]}; nothing was written"
        )
    problems = errors_only(_verify_contract(cdir)) if cdir.is_dir() else []
    if problems:
        raise InputError(
            f"the ledger of {contract_id} in {cdir.parent} fails verification; nothing was written",
            problems,
        )


def _check_table(table: pl.DataFrame, payer_ids: list[str]) -> None:
    """The claim table must carry what the ledger will need to read back."""
    wanted = [*_TABLE_COLUMNS, *(f"due_{p}" for p in payer_ids)]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise ValueError(f"claim table has no column(s) {', '.join(missing)}")
    for name in ("entitled", "previously_paid", "due", *(f"due_{p}" for p in payer_ids)):
        if not is_money_column(name, table.schema[name]):
            raise ValueError(f"claim table column {name} must hold integer minor units")


def _check_previously_paid(
    directory: Path, contract_id: str, q: Quarter, table: pl.DataFrame, minor_units: int, payer_ids: list[str],
    opening: pl.DataFrame | None = None,
) -> None:
    """Refuse a table whose previously_paid is not what the ledger holds now.

    The engine reads the ledger before it takes the lock; had another close
    committed in between, the table would pay that quarter's dues a second
    time.  Run under the lock, this makes the close all-or-nothing against
    the ledger it commits to (optimistic concurrency).
    """
    paid = previously_paid(directory, contract_id, q, payer_ids, minor_units, opening).select("claim_id", "paid")
    stale = (
        table.select("claim_id", "previously_paid")
        .join(paid, on="claim_id", how="left")
        .filter(pl.col("previously_paid").fill_null(0) != pl.col("paid").fill_null(0))
    )
    if stale.height:
        claim = stale.row(0, named=True)
        in_table, in_ledger = (format_minor(claim[k] or 0, minor_units) for k in ("previously_paid", "paid"))
        raise InputError(
            f"quarter {q} of {contract_id} was computed against another state of the ledger (claim "
            f"{claim['claim_id']!r}: previously paid {in_table} in the table, {in_ledger} in the ledger); "
            "nothing was written: run the close again"
        )


def _total(table: pl.DataFrame, name: str) -> int:
    """Exact sum of an integer column (Python ints never overflow)."""
    return sum(v for v in table.get_column(name).to_list() if v is not None)


def _totals(
    table: pl.DataFrame, minor_units: int, payer_ids: list[str], extra: dict[str, Any] | None
) -> dict[str, Any]:
    """Manifest totals computed from the table itself, plus the engine's extras.

    The table is what Q.csv records and hashes, so its sums are authoritative;
    an extra key that repeats one of them must agree (an int is read as minor
    units), otherwise the close is refused as inconsistent.
    """
    totals: dict[str, Any] = {"claims": table.height}
    for name in ("entitled", "previously_paid", "due", *(f"due_{p}" for p in payer_ids)):
        totals[name] = format_minor(_total(table, name), minor_units)
    for key, value in (extra or {}).items():
        if key not in totals:
            totals[key] = value
            continue
        same = value if key == "claims" or not isinstance(value, int) else format_minor(value, minor_units)
        if same != totals[key]:
            raise ValueError(f"totals[{key!r}] = {value!r} disagrees with the claim table ({totals[key]!r})")
    return totals


def _manifest_bytes(
    contract_id: str,
    q: Quarter,
    minor_units: int,
    payer_ids: list[str],
    totals: dict[str, Any],
    hashes: dict[str, str],
    closed_at: datetime,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The manifest TOML; ``hashes`` already holds table and previous_manifest.

    ``extra`` adds the keys of SPEC 10 (``contract_copy``, ``period_end``,
    ``skipped``, ``[contract_change]``); a manifest without them is one an
    earlier version would have written, so old ledgers keep verifying.
    """
    from sob import __version__

    manifest: dict[str, Any] = {
        "contract": contract_id,
        "quarter": str(q),
        "closed_at": closed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sob_version": __version__,
        "minor_units": minor_units,
        "payers": list(payer_ids),
    }
    manifest.update({k: v for k, v in (extra or {}).items() if not isinstance(v, dict)})
    manifest["totals"] = totals
    manifest["hashes"] = hashes
    manifest.update({k: v for k, v in (extra or {}).items() if isinstance(v, dict)})
    return tomli_w.dumps(manifest).encode("utf-8")


def _evidence_hashes(hashes: dict[str, str]) -> dict[str, str]:
    """The caller's hashes of contract and evidence files, checked to be SHA-256."""
    out: dict[str, str] = {}
    for key, value in hashes.items():
        if key in ("table", "previous_manifest"):
            continue  # computed here, never taken from the caller
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise ValueError(f"hashes[{key!r}] is not a lower-case hex SHA-256")
        out[key] = value
    if "contract" not in out:
        raise ValueError("hashes must include the contract file's SHA-256")
    return out


def _write_table_file(path: Path, data: bytes) -> None:
    """Step 1 of a close: Q.csv (a separate function so tests can crash here)."""
    atomic_write_bytes(path, data)


def _write_manifest_file(path: Path, data: bytes) -> None:
    """Step 2 of a close: the manifest, the commit point."""
    atomic_write_bytes(path, data)


def _sync_dir(path: Path) -> None:
    """Step 3 of a close: make both renames durable."""
    fsync_dir(path)


def _identity(path: Path) -> tuple[int, int] | None:
    """Inode and change time of ``path`` (``None`` if absent): tells a file this close wrote from an older one."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


def _not_closed(path: Path, exc: BaseException) -> WriteError:
    """The error of a close that could not write ``path``: it names the file and says nothing was closed."""
    return WriteError(write_failure(path, exc) + "; nothing was closed: the ledger is as before")


def _commit(
    cdir: Path,
    csv_path: Path,
    data: bytes,
    manifest_path: Path,
    manifest: bytes,
    then: Callable[[], None] | None,
    files: list[tuple[Path, bytes]] | None = None,
) -> None:
    """Write Q.csv and ``files`` (contract copy, opening), then the manifest (the commit point); on failure remove what was written.

    From the manifest on, a signal waits until ``then`` (the caller's own
    commit, e.g. moving the export into place) has run, so the run can say
    truthfully that the quarter was closed.  Before it, a signal or a write
    error removes this close's Q.csv: the ledger is exactly as before.
    """
    files = files or []
    before = {path: _identity(path) for path in [csv_path, *(f[0] for f in files)]}
    committed = False
    try:
        try:
            _write_table_file(csv_path, data)
        except OSError as exc:
            raise _not_closed(csv_path, exc) from exc
        pause_at("table-written")
        for path, content in files:
            try:
                _write_table_file(path, content)
            except OSError as exc:
                raise _not_closed(path, exc) from exc
            pause_at("contract-copied" if path.name.endswith(".contract.toml") else f"{path.name}-written")
        with shielded():
            try:
                _write_manifest_file(manifest_path, manifest)
            except OSError as exc:
                raise _not_closed(manifest_path, exc) from exc
            committed = True
            closed = f"quarter {manifest_path.stem} of {cdir.name} was closed ({manifest_path})"
            set_note(closed)
            try:
                _sync_dir(cdir)
            except OSError as exc:
                raise WriteError(f"{closed}, but {write_failure(cdir, exc)}") from exc
            pause_at("closed")
            if then is not None:
                then()
    finally:
        if not committed:
            for path, identity in before.items():
                if _identity(path) != identity:
                    with shielded(), contextlib.suppress(OSError):
                        os.unlink(path)
                        _sync_dir(cdir)


def close_quarter(
    directory: Path,
    contract_id: str,
    quarter: Quarter | str,
    table: pl.DataFrame,
    minor_units: int,
    payer_ids: list[str],
    hashes: dict[str, str],
    totals: dict[str, Any] | None = None,
    *,
    closed_at: datetime | None = None,
    then: Callable[[], None] | None = None,
    contract_bytes: bytes | None = None,
    extra: dict[str, Any] | None = None,
    expect_previous: str | None = None,
    opening: pl.DataFrame | None = None,
) -> Path:
    """Close ``quarter``: write DIR/C/Q.csv then DIR/C/Q.toml; return the manifest path.

    Refused with InputError, changing nothing, when the quarter is already
    closed, earlier than the latest closed one, another close holds the lock,
    the ledger fails verification, or a row's ``previously_paid`` is not the
    sum of its dues in the quarters closed before (the table was computed
    before another close committed).  ``hashes`` maps ``contract`` (required)
    and ``claims``/``participants``/``results`` (those used) to SHA-256
    hex digests; ``totals`` may add keys to the manifest's ``[totals]``.
    ``closed_at`` (default: now) is the time the manifest records; ``then``
    runs right after the commit, before any signal is let through.

    A write that fails (disk full, read-only, name too long) is a
    :class:`sob.export.WriteError` naming the file; the close then removes
    everything it wrote (Q.csv, the lock, the contract folder it created),
    so the ledger is exactly as before.  SIGINT/SIGTERM do the same before
    the commit point; after it, the :class:`sob.interrupts.Interrupted`
    raised carries a note that the quarter was closed.

    ``contract_bytes`` (SPEC 10.1) is the contract file as read: it is
    written as Q.contract.toml before the manifest, which names it; its
    SHA-256 must be ``hashes["contract"]``.  ``extra`` adds manifest keys
    (see :func:`_manifest_bytes`).  ``expect_previous`` is the SHA-256 of the
    latest manifest (``""``: none) the caller's checks were made against:
    another close committed in between refuses this one, since its change
    guard and gap checks looked at another ledger.  ``opening`` (SPEC 10.3,
    a first close only) is written as opening.csv and opening.toml, and
    this quarter's manifest chains to opening.toml.
    """
    q = _as_quarter(quarter)
    cdir = _contract_dir(directory, contract_id)
    _check_table(table, payer_ids)
    data = ledger_csv_bytes(table, minor_units)
    manifest_totals = _totals(table, minor_units, payer_ids, totals)
    evidence = _evidence_hashes(hashes)
    extra = dict(extra or {})
    if contract_bytes is not None:
        if sha256_bytes(contract_bytes) != evidence["contract"]:
            raise ValueError("contract_bytes do not have the contract hash")
        extra["contract_copy"] = copy_name(q)
    ensure_can_close(directory, contract_id, q)  # refuse before creating even .lock
    when = closed_at if closed_at is not None else datetime.now(UTC)
    csv_path, manifest_path = cdir / f"{q}.csv", cdir / f"{q}.toml"
    made_folder = False
    try:
        with shielded():  # creating the folder and knowing it are one step
            try:
                cdir.mkdir()
                made_folder = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise _not_closed(cdir, exc) from exc
        with _exclusive_lock(cdir):
            ensure_can_close(directory, contract_id, q)
            closed = _manifest_paths(cdir)
            if opening is not None and closed:
                raise InputError(f"{contract_id} already has a closed quarter: an opening balance is only for the "
                                 "first close; nothing was written")
            _check_previously_paid(directory, contract_id, q, table, minor_units, payer_ids, opening)
            previous = sha256_bytes(read_regular(closed[max(closed)])) if closed else ""
            files = [] if contract_bytes is None else [(cdir / copy_name(q), contract_bytes)]
            chain_to = None
            if opening is not None:
                opening_csv, opening_toml = opening_files(opening, contract_id, q, minor_units, payer_ids)
                files += [(cdir / OPENING_CSV, opening_csv), (cdir / OPENING_TOML, opening_toml)]
                chain_to = sha256_bytes(opening_toml)
            if expect_previous is not None and previous != expect_previous:  # checked before the opening chains in
                raise InputError(
                    f"quarter {q} of {contract_id} was computed against another state of the ledger (another "
                    "close committed meanwhile); nothing was written: run the close again"
                )
            if chain_to is not None:
                previous = chain_to
            # Render the manifest before writing anything, so a value TOML cannot
            # hold fails here rather than between the two writes.
            all_hashes = {**evidence, "table": sha256_bytes(data), "previous_manifest": previous}
            manifest = _manifest_bytes(contract_id, q, minor_units, payer_ids, manifest_totals, all_hashes, when, extra)
            _commit(cdir, csv_path, data, manifest_path, manifest, then, files)
    finally:
        if made_folder and not manifest_path.exists():
            with shielded(), contextlib.suppress(OSError):
                cdir.rmdir()  # only if empty: this close created it and left nothing in it
    return manifest_path


# --------------------------------------------------------------------------
# verification


def _finding(code: str, path: Path, message: str, severity: str = "error") -> Finding:
    return Finding(code=code, message=message, file=str(path), severity=severity)


def _scan_contract_dir(
    cdir: Path, copies: dict[Quarter, Path] | None = None
) -> tuple[dict[Quarter, Path], dict[Quarter, Path], list[Finding]]:
    """Sort a contract folder's entries into CSVs, manifests, contract copies (into ``copies``) and unexpected files."""
    csvs: dict[Quarter, Path] = {}
    manifests: dict[Quarter, Path] = {}
    findings: list[Finding] = []
    for entry in sorted(cdir.iterdir()):
        regular = _is_regular(entry)
        if entry.name == LOCK_NAME and regular:
            continue  # a close is running, or one was killed (a flock dies with its process)
        q_copy = _quarter_of_copy(entry)
        if q_copy is not None and regular and copies is not None:
            copies[q_copy] = entry
            continue
        if entry.name in (OPENING_CSV, OPENING_TOML) and regular:
            continue  # checked by _check_opening
        if _TEMP_FILE.fullmatch(entry.name) and regular:
            findings.append(_finding(
                "LEDGER_INCOMPLETE", entry,
                "temporary file left by an interrupted write (not part of any closed quarter)",
                "warning",
            ))
            continue
        q_csv, q_toml = _quarter_of(entry, ".csv"), _quarter_of(entry, ".toml")
        if q_csv is not None and regular:
            csvs[q_csv] = entry
        elif q_toml is not None and regular:
            manifests[q_toml] = entry
        elif q_csv is not None or q_toml is not None:
            kind = _kind_of(entry.lstat().st_mode)
            findings.append(_finding("LEDGER_ADDED", entry, f"is {kind}, not a regular file: sob writes only regular files"))
        else:
            findings.append(_finding("LEDGER_ADDED", entry, "not a file sob writes in a ledger"))
    return dict(sorted(csvs.items())), dict(sorted(manifests.items())), findings


def _check_manifest(cdir: Path, q: Quarter, path: Path, data: bytes, csvs: dict[Quarter, Path]) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Parse one manifest and check its names and its table hash."""
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [_finding("LEDGER_BAD_MANIFEST", path, f"manifest cannot be parsed: {exc}")]
    problem = _manifest_problem(parsed)
    if problem:
        return None, [_finding("LEDGER_BAD_MANIFEST", path, f"manifest is damaged: {problem}")]
    findings = []
    if parsed["contract"] != cdir.name or parsed["quarter"] != str(q):
        findings.append(_finding(
            "LEDGER_REORDERED", path,
            f"manifest records {parsed['contract']}/{parsed['quarter']} but is stored as {cdir.name}/{q}",
        ))
    csv_path = csvs.get(q)
    if csv_path is None:
        findings.append(_finding("LEDGER_REMOVED", cdir / f"{q}.csv", f"{q}.csv of closed quarter {q} is missing"))
        return parsed, findings
    table = read_regular(csv_path)
    if sha256_bytes(table) != parsed["hashes"]["table"]:
        findings.append(_finding("LEDGER_CHANGED", csv_path, f"{q}.csv changed since quarter {q} was closed"))
    elif problem := _totals_problem(table, parsed, csv_path):
        findings.append(_finding("LEDGER_CHANGED", path, f"manifest of {q} changed since it was closed: {problem}"))
    return parsed, findings


def _check_copy(cdir: Path, q: Quarter, parsed: dict[str, Any], copies: dict[Quarter, Path]) -> list[Finding]:
    """The contract copy a manifest names must be there with the manifest's contract hash (SPEC 10.1).

    A manifest that names no copy was closed by an earlier version: nothing to check.
    """
    name = parsed.get("contract_copy")
    if name is None:
        return []
    path = copies.get(q, cdir / copy_name(q))
    if name != copy_name(q):
        return [_finding("LEDGER_BAD_MANIFEST", cdir / f"{q}.toml", f"manifest of {q} names contract copy {name!r}, not {copy_name(q)!r}")]
    if q not in copies:
        return [_finding("LEDGER_REMOVED", path, f"{path.name}, the contract quarter {q} was closed with, is missing")]
    if sha256_bytes(read_regular(path)) != parsed["hashes"].get("contract"):
        return [_finding("LEDGER_CHANGED", path, f"{path.name} changed since quarter {q} was closed")]
    return []


def _check_opening(cdir: Path, closed: bool) -> tuple[str, list[Finding]]:
    """opening.toml's SHA-256 (``""`` without one) and what is wrong with the opening files (SPEC 10.3)."""
    toml_path, csv_path = cdir / OPENING_TOML, cdir / OPENING_CSV
    if not toml_path.exists():
        if csv_path.exists():
            kind = "LEDGER_REMOVED" if closed else "LEDGER_INCOMPLETE"
            return "", [_finding(kind, toml_path, f"{OPENING_CSV} has no {OPENING_TOML}",
                                 "error" if closed else "warning")]
        return "", []
    digest = sha256_bytes(read_regular(toml_path))
    if not closed:
        return digest, [_finding("LEDGER_INCOMPLETE", toml_path,
                                 "opening balance without a closed quarter: an interrupted first close", "warning")]
    problem, _, _ = _opening_problem(cdir)
    if problem is None:
        return digest, []
    code = "LEDGER_REMOVED" if "missing" in problem else "LEDGER_CHANGED"
    where = csv_path if OPENING_CSV in problem else toml_path
    return digest, [_finding(code, where, f"opening balance: {problem}")]


def _check_chain(
    cdir: Path,
    order: list[Quarter],
    manifests: dict[Quarter, Path],
    digests: dict[Quarter, str],
    parsed: dict[Quarter, dict[str, Any]],
    csvs: dict[Quarter, Path],
    opening_digest: str = "",
) -> tuple[list[Finding], set[Quarter]]:
    """Each manifest must point at the manifest of the closed quarter before it (the first: at opening.toml, if any).

    Returns the findings and the orphan CSV quarters explained as removed
    manifests (so they are not also reported as incomplete closes).
    """
    findings: list[Finding] = []
    explained: set[Quarter] = set()
    by_digest = {d: q for q, d in digests.items()}
    for i, q in enumerate(order):
        if q not in parsed:
            continue  # unparseable: already reported as LEDGER_BAD_MANIFEST
        recorded = parsed[q]["hashes"]["previous_manifest"]
        before = order[i - 1] if i else None
        expected = digests[before] if before is not None else opening_digest
        if recorded == expected:
            continue
        orphans = [c for c in csvs if c not in manifests and (before is None or c > before) and c < q]
        if recorded in by_digest:
            findings.append(_finding(
                "LEDGER_REORDERED", manifests[q],
                f"chain of {q} points to the manifest of {by_digest[recorded]}, "
                + (f"not to {before}" if before is not None else "but it is the first closed quarter"),
            ))
        elif not recorded:
            findings.append(_finding(
                "LEDGER_REORDERED", manifests[q],
                f"{q} records itself as the first closed quarter, but {before} comes before it",
            ))
        elif orphans:
            gone = orphans[-1]
            explained.add(gone)
            findings.append(_finding(
                "LEDGER_REMOVED", cdir / f"{gone}.toml",
                f"manifest of closed quarter {gone} is missing ({gone}.csv remains; {q} chains to it)",
            ))
        else:
            what = (
                f"{before}.toml was changed, or a quarter between was removed, after {q} was closed"
                if before is not None
                else "an earlier closed quarter was removed"
            )
            findings.append(_finding(
                "LEDGER_CHAIN_BROKEN", manifests[q],
                f"previous_manifest of {q} does not match the closed quarter before it: {what}",
            ))
    return findings, explained


def _verify_contract(cdir: Path) -> list[Finding]:
    """All checks for one contract folder."""
    copies: dict[Quarter, Path] = {}
    csvs, manifests, findings = _scan_contract_dir(cdir, copies)
    digests: dict[Quarter, str] = {}
    parsed: dict[Quarter, dict[str, Any]] = {}
    for q, path in manifests.items():
        data = read_regular(path)
        digests[q] = sha256_bytes(data)
        content, more = _check_manifest(cdir, q, path, data, csvs)
        findings += more
        if content is not None:
            parsed[q] = content
            findings += _check_copy(cdir, q, content, copies)
    for q, path in copies.items():
        if q not in manifests:
            findings.append(_finding(
                "LEDGER_INCOMPLETE", path,
                f"contract copy without a manifest: quarter {q} is not closed; closing it again overwrites this file",
                "warning",
            ))
    opening_digest, more = _check_opening(cdir, bool(manifests))
    findings += more
    chain, explained = _check_chain(cdir, list(manifests), manifests, digests, parsed, csvs, opening_digest)
    findings += chain
    for q, path in csvs.items():
        if q not in manifests and q not in explained:
            findings.append(_finding(
                "LEDGER_INCOMPLETE", path,
                f"incomplete close (no manifest): quarter {q} is not closed; closing it again overwrites this file",
                "warning",
            ))
    return findings


def verify(directory: Path) -> list[Finding]:
    """Re-hash every closed quarter of every contract in DIR; [] means intact.

    Codes: LEDGER_CHANGED (a Q.csv differs from its manifest's hash),
    LEDGER_REMOVED (a closed quarter's CSV or manifest is gone),
    LEDGER_ADDED (a file sob did not write), LEDGER_REORDERED (a manifest
    stored under another quarter/contract, or chaining to the wrong quarter),
    LEDGER_CHAIN_BROKEN (previous_manifest matches no manifest: one was edited
    or removed), LEDGER_BAD_MANIFEST (unparseable), LEDGER_INCOMPLETE (a
    warning: Q.csv or a temporary file left by an interrupted close; the
    closed quarters are intact).  Every manifest's totals are recomputed from
    its Q.csv (LEDGER_CHANGED on the manifest when they differ).  The latest
    manifest has no successor to vouch for it, so an edit to its other fields
    (closed_at, evidence hashes) is not detectable, and neither is the removal
    of the latest quarter as a whole: record the latest manifest's SHA-256
    elsewhere to anchor the chain.
    """
    root = _ledger_root(directory)
    findings: list[Finding] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            findings += _verify_contract(entry)
        else:
            findings.append(_finding("LEDGER_ADDED", entry, "a ledger holds only contract folders"))
    return findings


# --------------------------------------------------------------------------
# summary


def _amount(text: Any, minor_units: int, path: Path, key: str) -> int:
    """Minor units of a manifest total; InputError when it is not an amount."""
    value = parse_decimal(text) if isinstance(text, str) else None
    try:
        if value is None:
            raise ValueError
        return to_minor(value, minor_units)
    except ValueError as exc:
        raise InputError(f"ledger manifest {path}: totals.{key} {text!r} is not an amount") from exc


def _minor_units_of(parsed: dict[str, Any]) -> int:
    """The manifest's minor units; older manifests: the digits of its due total."""
    units = parsed.get("minor_units")
    if isinstance(units, int):
        return units
    due = str(parsed.get("totals", {}).get("due", "0"))
    return len(due.partition(".")[2])


def _vouched_table(cdir: Path, q: Quarter, parsed: dict[str, Any], where: str) -> bytes:
    """Q.csv's bytes, or InputError when it is missing or no longer what its manifest hashed."""
    csv_path = cdir / f"{q}.csv"
    try:
        data = read_regular(csv_path)
    except FileNotFoundError as exc:
        raise InputError(f"{where}: {csv_path} is missing; run `sob ledger verify`") from exc
    if sha256_bytes(data) != parsed["hashes"]["table"]:
        raise InputError(f"{where}: {csv_path} changed since it was closed; run `sob ledger verify`")
    return data


def _check_recorded_totals(cdir: Path, q: Quarter, manifest: Path, parsed: dict[str, Any]) -> bytes:
    """Q.csv's bytes; InputError unless it is there, unchanged, and adds up to the manifest's totals."""
    csv_path = cdir / f"{q}.csv"
    data = _vouched_table(cdir, q, parsed, f"ledger quarter {q} of {cdir.name}")
    problem = _totals_problem(data, parsed, csv_path)
    if problem:
        raise InputError(f"ledger manifest {manifest}: {problem}; run `sob ledger verify`")
    return data


def show(directory: Path, contracts: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One dict per contract and closed quarter, oldest first, from the manifests.

    ``contracts``: only these contract folders are read and checked (all when
    ``None``), so one contract of a large ledger is not paid for by the rest.

    Keys: contract, quarter, closed_at, claims, entitled, previously_paid, due,
    due_by_payer {payer: due}, paid_to_date (cumulative due up to and
    including that quarter, the opening balance included) and
    paid_to_date_by_payer; ``opening`` (on the first quarter: the opening
    balance, or ``None``), ``contract_change`` (the manifest's table, or
    ``None``), ``skipped`` and ``adjustments`` (the adjustment rows of the
    quarter's table with a due other than 0: id, on, reason, status, row_reason, entitled, due) (SPEC 10); amounts are decimal strings.  A damaged manifest, or one whose totals are not those of its
    unchanged Q.csv, is an InputError naming it: paid to date is only ever
    reported from figures the recorded tables vouch for.
    """
    root = _ledger_root(directory)
    rows: list[dict[str, Any]] = []
    for cdir in sorted(p for p in root.iterdir() if p.is_dir() and (contracts is None or p.name in contracts)):
        running: dict[str, int] = {}
        outcome_running: dict[str, int] = {}
        opening = _opening_summary(cdir)
        first_row = len(rows)
        for q, path in _manifest_paths(cdir).items():
            _, parsed = _read_manifest(path)
            data = _check_recorded_totals(cdir, q, path, parsed)
            units = _minor_units_of(parsed)
            totals = parsed.get("totals", {})
            payers = _manifest_payers(parsed)
            dues = {"": _amount(totals.get("due"), units, path, "due")}
            dues.update({p: _amount(totals.get(f"due_{p}"), units, path, f"due_{p}") for p in payers})
            if opening is not None and not running:  # what was paid before sob counts in paid to date
                dues[""] += _amount(opening.get("paid"), units, cdir / OPENING_TOML, "paid")
                by_payer = opening.get("paid_by_payer", {})
                for p in payers:
                    dues[p] += _amount(by_payer.get(p, "0"), units, cdir / OPENING_TOML, f"paid_by_payer.{p}")
            for key, value in dues.items():
                running[key] = running.get(key, 0) + value
            caps = _cap_use(cdir, q, data, parsed, units, running, outcome_running)
            rows.append({
                "contract": cdir.name,
                "quarter": str(q),
                "closed_at": parsed.get("closed_at"),
                "claims": totals.get("claims"),
                "entitled": totals.get("entitled"),
                "previously_paid": totals.get("previously_paid"),
                "due": totals.get("due"),
                "due_by_payer": {p: totals.get(f"due_{p}") for p in payers},
                "paid_to_date": format_minor(running[""], units),
                "paid_to_date_by_payer": {p: format_minor(running[p], units) for p in payers},
                "caps": caps,
                # SPEC 10: what a reviewer of the ledger must see next to the money
                "opening": opening if opening is not None and len(rows) == first_row else None,
                "contract_change": parsed.get("contract_change"),
                "skipped": list(parsed.get("skipped", [])),
                "adjustments": _closed_adjustments(data, units, cdir / f"{q}.csv"),
            })
    return rows


def _closed_adjustments(data: bytes, units: int, csv_path: Path) -> list[dict[str, Any]]:
    """The adjustment rows whose money moved in a closed quarter (SPEC 10.6): id, on, reason (its ``note``),
    status, entitled, due; an adjustment already settled (due 0) is left out.

    Read from the Q.csv bytes the manifest vouches for; a quarter closed
    before adjustments existed has none.
    """
    header = pl.read_csv(io.BytesIO(data), infer_schema=False, n_rows=0).columns
    if "kind" not in header:
        return []
    wanted = [c for c in ("claim_id", "kind", "achieved_on", "status", "reason", "entitled", "due", NOTE_COLUMN)
              if c in header]
    table = pl.read_csv(io.BytesIO(data), infer_schema=False, columns=wanted).filter(pl.col("kind") == "adjustment")
    if not table.height:
        return []
    for name in ("entitled", "due"):
        table = _parse_money(table, name, units, csv_path)
    table = table.filter(pl.col("due") != 0)  # an adjustment settled in an earlier quarter moved nothing here
    note = pl.col(NOTE_COLUMN) if NOTE_COLUMN in table.columns else pl.lit(None, pl.String)
    return [
        {"id": ident, "on": on, "reason": reason or "", "status": status, "row_reason": code,
         "entitled": format_minor(int(e or 0), units), "due": format_minor(int(d or 0), units)}
        for ident, on, reason, status, code, e, d in table.select(
            "claim_id", "achieved_on", note, "status", "reason", "entitled", "due").iter_rows()
    ]


def _opening_summary(cdir: Path) -> dict[str, Any] | None:
    """The opening balance of a contract folder as opening.toml records it (rows, paid, paid_by_payer), or ``None``."""
    if not _manifest_paths(cdir):
        return None
    problem, parsed, _ = _opening_problem(cdir)
    if problem:
        raise InputError(f"ledger opening of {cdir.name}: {problem}; run `sob ledger verify`")
    if parsed is None:
        return None
    return {"precedes": parsed.get("precedes"), "rows": parsed.get("rows"), "paid": parsed.get("paid"),
            "paid_by_payer": dict(parsed.get("paid_by_payer", {}))}


def _cap_use(
    cdir: Path,
    q: Quarter,
    data: bytes,
    parsed: dict[str, Any],
    units: int,
    running: dict[str, int],
    by_outcome: dict[str, int],
) -> dict[str, dict[str, str]]:
    """Paid to date against each money cap the close recorded (``cap_total``, ``cap_outcome_<id>``).

    The limits come from the manifest's totals; what counts against an
    outcome's cap is the sum of that outcome's dues in the closed tables.
    """
    totals = parsed.get("totals", {})
    limits = {k: v for k, v in totals.items() if k.startswith("cap_")}
    if not limits:
        return {}
    table = read_ledger_csv(data, columns=["outcome_id", "due"])
    table = _parse_money(table, "due", units, cdir / f"{q}.csv")
    for outcome, due in table.group_by("outcome_id").agg(pl.col("due").sum()).iter_rows():
        by_outcome[outcome] = by_outcome.get(outcome, 0) + int(due or 0)
    out: dict[str, dict[str, str]] = {}
    for key, text in sorted(limits.items()):
        limit = _amount(text, units, cdir / f"{q}.toml", key)
        used = running[""] if key == "cap_total" else by_outcome.get(key.removeprefix("cap_outcome_"), 0)
        name = "total" if key == "cap_total" else key.removeprefix("cap_")
        out[name] = {"limit": format_minor(limit, units), "paid_to_date": format_minor(used, units),
                     "headroom": format_minor(limit - used, units)}
    return out


__all__ = [
    "LOCK_NAME",
    "OPENING_CSV",
    "OPENING_TOML",
    "close_quarter",
    "closed_contract_copy",
    "closed_entitled",
    "closed_quarters",
    "copy_name",
    "ensure_can_close",
    "latest_close",
    "previously_paid",
    "sha256_bytes",
    "sha256_file",
    "show",
    "verify",
]
