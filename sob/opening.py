"""Opening balance: what was paid before a contract moved to ``sob`` (SPEC 10.3).

The opening file says, per claim, result or adjustment id, what was paid for
it before the first quarter ``sob`` closes (``claim_id``, ``paid`` and
optionally ``paid_<payer>`` for every payer).  Its content is untrusted, so
every problem is a finding with file, line and column; any error stops the
run.  :func:`read_opening` returns the checked amounts split per payer, as
the ledger keeps them (``opening.csv``), so no later run splits again.

The file is read row by row with the standard ``csv`` module: it holds one
row per id paid before (a spreadsheet's worth), and each problem must name
its exact line and field.  It is read like the evidence files: in
``[evidence] encoding`` (or ``--encoding``), with ``[evidence] delimiter``
or, when the contract sets none, the delimiter detected from its header.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from sob.columns import MAX_PIPE_BYTES
from sob.contract import Contract
from sob.evidence.encoding import _read_all, not_utf8, transcode
from sob.evidence.money_cells import lenient_text
from sob.evidence.source import detect_delimiter
from sob.findings import Finding, InputError, UsageError, cut, errors_only
from sob.money import fits_minor_units, parse_decimal, to_minor
from sob.payers import split_amounts
from sob.textcodecs import is_utf8

#: ``--opening none``: nothing was paid before
NONE = "none"


def _finding(code: str, path: Path, line: int | None, col: int | None, column: str | None, message: str,
             value: str | None = None, severity: str = "error") -> Finding:
    return Finding(code=code, message=message, file=str(path), line=line, col=col, field=column,
                   value=None if value is None else cut(value), severity=severity)


def _text(path: Path, encoding: str) -> str:
    """The file's text in ``encoding``, read with the evidence files' bound (exit 2 beyond it).

    A file that is not in its declared encoding is refused naming the line,
    the byte and (for UTF-8) the likely encoding and how to declare it, as an
    evidence file is: an opening balance is money, never read from guessed text.
    """
    label = f"--opening {path}"
    if not is_utf8(encoding):
        return transcode(path, label, encoding, MAX_PIPE_BYTES)[1].decode("utf-8")
    data = _read_all(path, label, MAX_PIPE_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(label, None, data) from None


def _parquet_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line, cells) of a Parquet opening file: the header is line 1, row ``i`` line ``i + 2``."""
    data = _read_all(path, f"--opening {path}", MAX_PIPE_BYTES)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several types for a bad file
        raise UsageError(f"--opening {path}: it is not a readable Parquet file ({str(exc)[:200]})") from None
    frame = frame.select(pl.all().cast(pl.String))
    return [(1, list(frame.columns))] + [
        (i + 2, ["" if v is None else v for v in row]) for i, row in enumerate(frame.iter_rows())
    ]


def _rows(path: Path, delimiter: str | None, encoding: str = "utf-8") -> list[tuple[int, list[str]]]:
    """(line, raw cells) of every non-blank record; the header first.  Unreadable: exit 2.

    ``delimiter=None``: detected from the header as for evidence files (``,`` ``;`` tab ``|``).
    """
    try:
        if path.suffix.lower() == ".parquet":
            return _parquet_rows(path)
        text = _text(path, encoding)
    except OSError as exc:
        raise UsageError(f"--opening {path}: the file cannot be read ({exc.strerror or exc})") from None
    if delimiter is None:
        delimiter = detect_delimiter(text[: 1 << 16].encode("utf-8"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = []
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                out.append((reader.line_num, cells))
    except csv.Error as exc:
        raise InputError(f"--opening {path} line {reader.line_num}: the CSV cannot be read ({exc})") from None
    return out


def _field(index: int) -> int:
    """1-based field number of cell ``index``: the column of a finding in a CSV file, as for evidence.

    A field number (not a character column) is what the findings' display
    puts its caret under, and it stays right when an earlier cell is quoted.
    """
    return index + 1


def _money(text: str, units: int) -> int | None:
    value = parse_decimal(text)
    if value is None or not fits_minor_units(value, units):
        return None
    return to_minor(value, units)


def _header(path: Path, header: list[str], payers: list[str]) -> tuple[dict[str, int], list[Finding]]:
    """Column positions; file-level findings for duplicate or missing columns."""
    names = [h.strip() for h in header]
    findings = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            findings.append(_finding("DUPLICATE_COLUMN", path, 1, None, name, f"column {name!r} appears twice"))
        seen.setdefault(name, i)
    for name in ("claim_id", "paid"):
        if name not in seen:
            findings.append(_finding("MISSING_COLUMN", path, 1, None, name, f"the opening file has no {name!r} column"))
    given = [p for p in payers if f"paid_{p}" in seen]
    if given and len(given) != len(payers):
        for p in payers:
            if p not in given:
                findings.append(_finding(
                    "MISSING_COLUMN", path, 1, None, f"paid_{p}",
                    f"per-payer columns are all or nothing: 'paid_{p}' is missing while {', '.join(given)} are given",
                ))
    return seen, findings


def read_opening(path: Path, contract: Contract, outcome_of: pl.DataFrame,
                 encoding: str | None = None) -> tuple[pl.DataFrame, list[Finding]]:
    """The opening amounts (``claim_id``, ``paid``, ``paid_<payer>``; minor units) sorted by claim_id.

    ``outcome_of`` maps ``claim_id`` to the ``outcome_id`` of the run's row
    with that id (null for an adjustment or an invalid row): ``paid`` without
    per-payer columns is split with that outcome's shares, or the contract's.
    ``encoding`` (``--encoding``) overrides ``[evidence] encoding``.
    Raises InputError carrying every finding when the file has an error.
    """
    payers = contract.payer_ids
    units = contract.minor_units
    delimiter = None if contract.evidence.detect_delimiter else contract.evidence.delimiter
    rows = _rows(path, delimiter, encoding or contract.evidence.encoding)
    if not rows:
        raise InputError(f"--opening {path}: the file is empty",
                         [_finding("MISSING_COLUMN", path, 1, None, "claim_id", "the opening file has no header row")])
    (_, header), body = rows[0], rows[1:]
    at, findings = _header(path, header, payers)
    if errors_only(findings):
        raise InputError(f"--opening {path}: the opening file cannot be read", findings)
    split_given = all(f"paid_{p}" in at for p in payers)
    wanted = ["claim_id", "paid"] + ([f"paid_{p}" for p in payers] if split_given else [])
    kept: dict[str, tuple[int, list[int | None], tuple[str, ...]]] = {}
    for line, cells in body:
        if len(cells) < len(header) or any(c.strip() for c in cells[len(header):]):
            findings.append(_finding("BAD_ROW_LENGTH", path, line, None, None,
                                     f"the row has {len(cells)} cells, the header {len(header)}"))
            continue
        values = {name: cells[at[name]].strip() for name in wanted}
        bad = False
        amounts: dict[str, int | None] = {}
        for name in wanted:
            col = _field(at[name])
            if not values[name]:
                findings.append(_finding("MISSING_VALUE", path, line, col, name, f"{name} is empty"))
                bad = True
            elif name != "claim_id":
                text = (lenient_text(values[name], contract.currency) if contract.evidence.money == "lenient"
                        else values[name])  # [evidence] money = "lenient" reads £1,200.00 and (1,200.00) here too
                amounts[name] = _money(text, units)
                if amounts[name] is None:
                    findings.append(_finding("BAD_NUMBER", path, line, col, name,
                                             f"{name} {values[name]!r} is not an amount of {contract.currency}",
                                             values[name]))
                    bad = True
        if bad:
            continue
        if split_given and sum(amounts[f"paid_{p}"] or 0 for p in payers) != amounts["paid"]:
            findings.append(_finding("BAD_NUMBER", path, line, _field(at["paid"]), "paid",
                                     "the paid_<payer> cells do not sum to paid", values["paid"]))
            continue
        key = values["claim_id"]
        record = tuple(values[n] for n in wanted)
        if key in kept:
            first_line, _, first_record = kept[key]
            if first_record == record:
                findings.append(_finding("DUPLICATE_ROW", path, line, None, None,
                                         f"the same row as line {first_line}: read as one row", severity="warning"))
            else:
                findings.append(_finding("DUPLICATE_ID", path, line, _field(at["claim_id"]),
                                         "claim_id", f"claim_id {key!r} is also on line {first_line}", key))
            continue
        kept[key] = (line, [amounts["paid"], *(amounts.get(f"paid_{p}") for p in payers)], record)
    if errors_only(findings):
        raise InputError(f"--opening {path}: {len(errors_only(findings))} error(s) in the opening file", findings)
    frame = pl.DataFrame(
        {"claim_id": list(kept), "paid": [v[1][0] for v in kept.values()]},
        schema={"claim_id": pl.String, "paid": pl.Int64},
    )
    if split_given:
        frame = frame.with_columns(
            pl.Series(f"paid_{p}", [v[1][i + 1] for v in kept.values()], dtype=pl.Int64) for i, p in enumerate(payers)
        )
    else:
        frame = split_opening(frame, contract, outcome_of)
    return frame.sort("claim_id"), findings


def split_opening(frame: pl.DataFrame, contract: Contract, outcome_of: pl.DataFrame) -> pl.DataFrame:
    """``paid`` split per payer with the shares of each id's outcome (SPEC 5.6); a negative amount as the negative of the split of its absolute value."""
    with_outcome = frame.join(outcome_of.select("claim_id", pl.col("outcome_id").cast(pl.String)),
                              on="claim_id", how="left")
    with_outcome = with_outcome.with_columns(
        pl.col("outcome_id").fill_null(""), pl.col("paid").abs().alias("_abs"), (pl.col("paid") < 0).alias("_neg"),
    )
    split = split_amounts(with_outcome, contract, "_abs", "_s_")
    return split.select(
        "claim_id", "paid",
        *(pl.when(pl.col("_neg")).then(-pl.col(f"_s_{p}")).otherwise(pl.col(f"_s_{p}")).alias(f"paid_{p}")
          for p in contract.payer_ids),
    )


def empty_opening(contract: Contract) -> pl.DataFrame:
    """``--opening none``: nothing was paid before."""
    return pl.DataFrame(schema={"claim_id": pl.String, "paid": pl.Int64,
                                **{f"paid_{p}": pl.Int64 for p in contract.payer_ids}})
