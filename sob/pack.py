"""The finance pack: ``sob pay ... --export pack.xlsx`` as a workbook a finance team can file as it is.

Sheets: Summary (contract, quarter, preview or closed, the ledger record,
totals, due per payer, cap headroom, rejections by reason, contract change
and adjustments), By payer (one block per payer: the remittance lines), By
outcome, Claims (the claim table of SPEC 9 as an Excel table with filters)
and Rejections (each rejected row with its reason's meaning from
``sob.codes``).

Every figure comes from the pay run and its JSON summary
(:func:`sob.payrun.summary`), so the workbook and ``--format json`` agree.
Amounts are number cells in the contract's currency format (exact up to 15
significant digits, text beyond: see :func:`amount_cell`), dates are date
cells, text is formula-safe (SPEC 9).  Each sheet prints A4 landscape, one
page wide, with its header rows repeated and a footer naming the contract,
quarter and page; the document properties carry the contract id, the
quarter and the ledger manifest hash.  Writes are atomic, through
:func:`sob.export.stage_write`.
"""

from __future__ import annotations

import io
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from sob import export, ledger
from sob.codes import meaning
from sob.export import (
    StagedFile,
    WriteError,
    check_target,
    formula_safe,
    formula_safe_expr,
    is_money_column,
    stage_table,
    workbook_time,
    write_failure,
)
from sob.findings import InputError, UsageError
from sob.money import format_minor
from sob.payrun import PayRun, summary
from sob.quarters import Quarter

_XLSX_EXACT_LIMIT = 10**15  # as sob.export: larger amounts are written as exact text
_XLSX_MAX_ROWS = 1_048_576
_XLSX_MAX_TEXT = 32_767
_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "AUD": "A$", "CAD": "C$", "NZD": "NZ$"}


@dataclass(frozen=True)
class CloseRecord:
    """What the ledger says about the quarter of a run: the pack's provenance lines.

    ``status`` is ``closed`` only when the quarter is closed in the ledger
    *and* the run's totals are the manifest's: a later preview of a closed
    quarter whose evidence changed must not be filed as the closed figures.
    """

    status: str  # "preview", "closed", or "preview (differs from the closed quarter)"
    manifest_sha256: str | None = None
    closed_at: str | None = None
    builds_on: str | None = None  # "<quarter> <manifest sha256>" of the latest close before a preview


def close_record(directory: Path | None, run: PayRun) -> CloseRecord:
    """The record of ``run``'s quarter in the ledger at ``directory`` (``None``: no ledger, a preview)."""
    if directory is None:
        return CloseRecord("preview")
    latest = ledger.latest_close(directory, run.contract.id)
    if latest is None:
        return CloseRecord("preview")
    q, sha, parsed = latest
    if q < run.quarter:
        return CloseRecord("preview", builds_on=f"{q} {sha}")
    if q > run.quarter:  # a pack or statement asked for again after later closes: its own manifest, if closed
        earlier = _manifest_of(directory, run.contract.id, run.quarter)
        if earlier is None:
            return CloseRecord("preview")
        sha, parsed = earlier
    data = summary(run)["totals"]
    recorded = parsed.get("totals", {})
    # a manifest counts every row of Q.csv, adjustments included (SPEC 10.6: the JSON counts them apart)
    rows = int(data["claims"]) + int(data.get("adjustments", 0))
    same = str(recorded.get("claims")) == str(rows) and all(
        str(recorded.get(k)) == str(data[k]) for k in ("entitled", "previously_paid", "due"))
    status = "closed" if same else "preview (differs from the closed quarter)"
    return CloseRecord(status, sha, None if parsed.get("closed_at") is None else str(parsed["closed_at"]))


def _manifest_of(directory: Path, contract_id: str, q: Quarter) -> tuple[str, dict[str, Any]] | None:
    """SHA-256 and parsed content of quarter ``q``'s manifest; ``None`` when ``q`` is not closed.

    A finance team asks for a quarter's pack or statement again after later
    quarters closed: it is still the closed figures, and must carry that
    close's hash rather than be called a preview.
    """
    if str(q) not in ledger.closed_quarters(directory, contract_id):
        return None
    path = Path(directory) / contract_id / f"{q}.toml"
    data = ledger.read_regular(path)
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"ledger manifest {path} cannot be read ({exc}); run `sob ledger verify`") from exc
    return ledger.sha256_bytes(data), parsed


def currency_format(code: str, units: int) -> str:
    """The Excel number format of the contract's currency: symbol, thousands separators, its minor unit."""
    digits = "#,##0" + ("." + "0" * units if units else "")
    symbol = _SYMBOLS.get(code)
    if symbol:
        return f'"{symbol}"{digits};-"{symbol}"{digits}'
    return f'{digits} "{code}";-{digits} "{code}"'


def amount_cell(text: str | None) -> float | str | None:
    """An amount string as the value of a number cell, exactly; beyond 15 digits its exact text.

    A double holds every decimal of at most 15 significant digits exactly
    enough to read back unchanged (DBL_DIG), so the float is converted from
    the exact ``Decimal`` and never computed with.
    """
    if text is None:
        return None
    value = Decimal(text)
    digits = len(value.as_tuple().digits)
    return float(value) if digits <= 15 and abs(value) < _XLSX_EXACT_LIMIT else text


class _Book:
    """The workbook and its shared formats, with the print set-up every sheet gets."""

    def __init__(self, fh: io.BytesIO, run: PayRun, record: CloseRecord, created: datetime | None) -> None:
        import xlsxwriter  # imported here: only XLSX output needs it

        self.run, self.record = run, record
        self.wb = xlsxwriter.Workbook(fh, {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
        c = run.contract
        props: dict[str, Any] = {
            "title": f"{c.id} {run.quarter} finance pack",
            "subject": f"{c.name or c.id}: quarter {run.quarter} ({record.status})",
            "author": "sob",
            "keywords": f"{c.id}, {run.quarter}, {record.manifest_sha256 or 'preview'}",
            "comments": f"ledger manifest SHA-256: {record.manifest_sha256 or 'none (not closed)'}",
        }
        if created is not None:
            props["created"] = created
        self.wb.set_properties(props)
        self.wb.set_custom_property("contract_id", c.id)
        self.wb.set_custom_property("quarter", str(run.quarter))
        self.wb.set_custom_property("status", record.status)
        self.wb.set_custom_property("ledger_manifest_sha256", record.manifest_sha256 or "")
        self.bold = self.wb.add_format({"bold": True})
        self.head = self.wb.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.money = self.wb.add_format({"num_format": currency_format(c.currency, c.minor_units)})
        self.money_bold = self.wb.add_format({"num_format": currency_format(c.currency, c.minor_units), "bold": True})
        self.day = self.wb.add_format({"num_format": "yyyy-mm-dd"})
        self.when = self.wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})  # long reasons stay inside the page

    def sheet(self, name: str, widths: list[float], header_rows: tuple[int, int] | None) -> Any:
        """A worksheet with column widths and the print set-up: A4 landscape, one page wide, footer."""
        ws = self.wb.add_worksheet(name)
        for i, w in enumerate(widths):
            ws.set_column(i, i, w)
        ws.set_paper(9)  # A4
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.set_footer(f"&L{self.run.contract.id} {self.run.quarter}&C{name}&RPage &P of &N")
        if header_rows is not None:
            ws.repeat_rows(*header_rows)
            ws.freeze_panes(header_rows[1] + 1, 0)
        return ws

    def text(self, ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
        """A text cell, formula-safe (SPEC 9); ``None`` leaves it blank."""
        if value is None:
            return
        ws.write_string(row, col, formula_safe(str(value)), *([fmt] if fmt is not None else []))

    def amount(self, ws: Any, row: int, col: int, text: str | None, bold: bool = False) -> None:
        """A money cell from an amount string: a number in the currency format (exact text past 15 digits)."""
        value = amount_cell(text)
        fmt = self.money_bold if bold else self.money
        if isinstance(value, float):
            ws.write_number(row, col, value, fmt)
        elif value is not None:
            ws.write_string(row, col, value, fmt)

    def header(self, ws: Any, row: int, names: list[str]) -> None:
        for i, name in enumerate(names):
            self.text(ws, row, i, name, self.head)


# --------------------------------------------------------------------------
# sheets


def _summary_sheet(b: _Book, data: dict[str, Any]) -> None:
    """Provenance, totals, payers, caps, rejections and the life events of the quarter, top to bottom."""
    run, rec, c = b.run, b.record, b.run.contract
    fy = c.fiscal_year_start_month
    ws = b.sheet("Summary", [34, 22, 22, 22, 22, 60], (0, 0))
    b.text(ws, 0, 0, f"{c.name or c.id}: finance pack for {run.quarter}", b.title)
    r = 2
    facts: list[tuple[str, Any]] = [
        ("Contract id", c.id), ("Contract name", c.name), ("Currency", c.currency),
        ("Quarter", str(run.quarter)), ("Fiscal label", run.quarter.fiscal_label(fy)),
        ("Period start", run.quarter.start(fy)), ("Period end", run.quarter.end(fy)),
        ("Status", rec.status),
        ("Ledger manifest SHA-256", rec.manifest_sha256 or "none: not closed"),
        ("Closed at (UTC)", _closed_time(rec.closed_at) or "not closed"),
    ]
    if rec.builds_on:
        facts.append(("Builds on the close", rec.builds_on))
    for label, value in facts:
        b.text(ws, r, 0, label, b.bold)
        if isinstance(value, datetime):
            ws.write_datetime(r, 1, value, b.when)
        elif isinstance(value, date):
            ws.write_datetime(r, 1, value, b.day)
        else:
            b.text(ws, r, 1, value)
        r += 1
    t = data["totals"]
    r = _block(b, ws, r + 1, "Totals", ["Figure", "Value"], [
        *[[k.replace("_", " ").capitalize(), ("n", t[k])] for k in ("claims", "paid", "partial", "capped", "rejected")
          if k in t],
        *([["Adjustments", ("n", t["adjustments"])]] if "adjustments" in t else []),
        ["Entitled", ("m", t["entitled"])], ["Previously paid", ("m", t["previously_paid"])], ["Due", ("m", t["due"])],
    ])
    names = {p.id: p.name for p in c.payers}
    r = _block(b, ws, r + 1, "Due per payer", ["Payer", "Name", "Entitled", "Previously paid", "Due"],
               [[p["payer_id"], names.get(p["payer_id"], ""), ("m", p["entitled"]), ("m", p["previously_paid"]),
                 ("m", p["due"])] for p in data["by_payer"]], total=["Total", "", ("m", t["entitled"]),
                                                                      ("m", t["previously_paid"]), ("m", t["due"])])
    r = _block(b, ws, r + 1, "Cap headroom", ["Cap", "Limit", "Used (entitled)", "Headroom"], _cap_rows(run, data))
    r = _block(b, ws, r + 1, "Rejections by reason", ["Reason", "Rows", "Meaning"],
               [[code, ("n", n), meaning(code or "") or ""] for code, n in data["rejections"].items()])
    change = data.get("contract_change")
    if change:
        r = _block(b, ws, r + 1, "Contract change since the latest close", ["Since", "Restated rows", "Restated amount",
                                                                             "Previous contract SHA-256"],
                   [[change.get("since"), ("n", change.get("restated_rows")), ("m", change.get("restated_amount")),
                     change.get("previous_contract_sha256")]])
    if data.get("adjustments"):
        r = _block(b, ws, r + 1, "Adjustments", ["Id", "On", "Reason", "Entitled", "Previously paid", "Due"],
                   [[a["id"], ("d", a.get("on")), a.get("reason"), ("m", a["entitled"]), ("m", a["previously_paid"]),
                     ("m", a["due"])] for a in data["adjustments"]])
    if "contract_change" not in data and not data.get("adjustments"):
        b.text(ws, r + 1, 0, "No contract change or adjustment in this run (run with --ledger to check for changes).")


def _closed_time(text: str | None) -> datetime | str | None:
    """The manifest's ``closed_at`` (``...Z``, UTC) as a naive UTC datetime for a date cell; other text as it is.

    Excel cells have no time zone, so the label says UTC; a value the
    manifest did not write in its one form is shown as text, never guessed.
    """
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return text


def _block(b: _Book, ws: Any, r: int, title: str, head: list[str], rows: list[list[Any]],
           total: list[Any] | None = None) -> int:
    """A titled table of cells; ``("m", text)`` is money, ``("n", n)`` a number, ``("d", iso)`` a date."""
    b.text(ws, r, 0, title, b.title)
    b.header(ws, r + 1, head)
    r += 2
    for i, row in enumerate([*rows, *([total] if total else [])]):
        bold = total is not None and i == len(rows)
        for col, cell in enumerate(row):
            _cell(b, ws, r, col, cell, bold)
        r += 1
    if not rows:
        b.text(ws, r, 0, "none")
        r += 1
    return r


def _cell(b: _Book, ws: Any, r: int, col: int, cell: Any, bold: bool = False) -> None:
    if isinstance(cell, tuple):
        kind, value = cell
        if value is None:
            return
        if kind == "m":
            b.amount(ws, r, col, str(value), bold)
        elif kind == "n":
            ws.write_number(r, col, int(value), *([b.bold] if bold else []))
        else:
            ws.write_datetime(r, col, date.fromisoformat(str(value)), b.day)
    else:
        b.text(ws, r, col, cell, b.bold if bold else None)


def _cap_rows(run: PayRun, data: dict[str, Any]) -> list[list[Any]]:
    """Contract, payer and outcome money caps in force for the run: limit, used and headroom."""
    rows: list[list[Any]] = []
    total = data["caps"].get("total")
    if total:
        rows.append(["Contract total", ("m", total["limit"]), ("m", total["used"]), ("m", total["headroom"])])
    for p in data["by_payer"]:
        if "cap" in p:
            cap = p["cap"]
            rows.append([f"Payer {p['payer_id']}", ("m", cap["limit"]), ("m", cap["used"]), ("m", cap["headroom"])])
    money = run.contract.money
    entitled = {o["outcome_id"]: o["entitled"] for o in data["by_outcome"]}
    for o in run.contract.outcomes:
        limit = o.amount_cap
        if isinstance(limit, int) and o.id in entitled:
            used = Decimal(entitled[o.id]).scaleb(run.contract.minor_units)
            rows.append([f"Outcome {o.id}", ("m", money(limit)), ("m", entitled[o.id]),
                         ("m", money(limit - int(used)))])
    return rows


def _by_payer_sheet(b: _Book, data: dict[str, Any]) -> None:
    """One block per payer: previously paid, entitled and due, then the remittance lines that make up the due.

    Lines are by outcome for claims, then one per adjustment by id and
    reason (SPEC 10.6), as the payment statement lists them: an adjustment
    is a payment of its own and must be traceable on the remittance, not
    folded into a catch-all line.
    """
    run, c = b.run, b.run.contract
    ws = b.sheet("By payer", [24, 40, 16, 22], (0, 0))
    claims = run.table.filter((pl.col("kind").cast(pl.String) != "adjustment").fill_null(True))
    due_by = (claims.lazy().group_by("outcome_id")
              .agg(pl.len().alias("rows"), *[pl.col(f"due_{p}").sum() for p in c.payer_ids]
                   + [(pl.col(f"due_{p}") != 0).sum().alias(f"n_{p}") for p in c.payer_ids])
              .collect())
    lines = {("" if r["outcome_id"] is None else str(r["outcome_id"])): r for r in due_by.rows(named=True)}
    names = {o.id: o.name for o in c.outcomes}
    adjustments = _adjustment_rows(run)
    b.text(ws, 0, 0, f"Due per payer, {c.id} {run.quarter} ({b.record.status}): one block per payer", b.bold)
    r = 2
    for p in data["by_payer"]:
        pid = p["payer_id"]
        payer = next((x for x in c.payers if x.id == pid), None)
        b.text(ws, r, 0, f"{pid}: {payer.name if payer else ''} (share {payer.share if payer else ''})", b.title)
        r += 1
        for label, key in (("Previously paid", "previously_paid"), ("Entitled", "entitled"),
                           ("Due this quarter", "due")):
            b.text(ws, r, 0, label, b.bold)
            b.amount(ws, r, 3, p[key], key == "due")
            r += 1
        b.header(ws, r, ["Outcome or adjustment", "Name or reason", "Rows with a due", "Due this quarter"])
        r += 1
        order = [o.id for o in c.outcomes] + sorted(k for k in lines if k not in names)
        for oid in order:
            line = lines.get(oid)
            if line is None or (line[f"n_{pid}"] == 0 and line[f"due_{pid}"] == 0):
                continue
            b.text(ws, r, 0, oid or "(rows with no outcome)")
            b.text(ws, r, 1, names.get(oid, ""))
            ws.write_number(r, 2, int(line[f"n_{pid}"]))
            b.amount(ws, r, 3, c.money(int(line[f"due_{pid}"])))
            r += 1
        for adj in adjustments:
            if adj[f"due_{pid}"] == 0:
                continue
            b.text(ws, r, 0, adj["claim_id"])
            b.text(ws, r, 1, adj["reason"] or "adjustment", b.wrap)
            ws.write_number(r, 2, 1)
            b.amount(ws, r, 3, c.money(int(adj[f"due_{pid}"])))
            r += 1
        b.text(ws, r, 0, "Total due", b.bold)
        b.amount(ws, r, 3, p["due"], True)
        r += 2


def _adjustment_rows(run: PayRun) -> list[dict[str, Any]]:
    """Each adjustment row of the run (SPEC 10.6): its id, its reason (the ``note``) and each payer's due."""
    t = run.table
    note = pl.col("note").cast(pl.String) if "note" in t.columns else pl.lit(None, pl.String)
    rows = t.filter((pl.col("kind").cast(pl.String) == "adjustment").fill_null(False))
    return rows.select(pl.col("claim_id").cast(pl.String), note.alias("reason"),
                       *[pl.col(f"due_{p}") for p in run.contract.payer_ids]).rows(named=True)


def _by_outcome_sheet(b: _Book, data: dict[str, Any]) -> None:
    """Per outcome: rows, accepted, entitled, due, and the quarter's profile (expected claims) where one is set."""
    run, c = b.run, b.run.contract
    head = ["Outcome", "Name", "Rows", "Accepted", "Entitled", "Due", "Profile (expected claims this quarter)",
            "Accepted − profile"]
    ws = b.sheet("By outcome", [16, 40, 10, 10, 18, 18, 18, 14], (0, 0))
    b.header(ws, 0, head)
    names = {o.id: o for o in c.outcomes}
    r = 1
    for row in data["by_outcome"]:
        o = names.get(row["outcome_id"])
        plan = dict(o.profile).get(str(run.quarter)) if o is not None else None
        b.text(ws, r, 0, row["outcome_id"])
        b.text(ws, r, 1, o.name if o else "")
        ws.write_number(r, 2, row["claims"])
        ws.write_number(r, 3, row["accepted"])
        b.amount(ws, r, 4, row["entitled"])
        b.amount(ws, r, 5, row["due"])
        if plan is not None:
            ws.write_number(r, 6, int(plan))
            ws.write_number(r, 7, row["accepted"] - int(plan))
        r += 1
    ws.autofilter(0, 0, max(r - 1, 1), len(head) - 1)


def _table_column(b: _Book, ws: Any, col: int, name: str, dtype: pl.DataType, values: list[Any], units: int) -> None:
    """One column of the claims table: money numbers, date cells, numbers, formula-safe text; nulls blank."""
    if is_money_column(name, dtype):
        for row, minor in enumerate(values, start=1):
            if minor is not None:
                b.amount(ws, row, col, format_minor(int(minor), units))
    elif dtype == pl.Date:
        for row, value in enumerate(values, start=1):
            if isinstance(value, date):
                ws.write_datetime(row, col, value, b.day)
    elif dtype.is_numeric():
        for row, value in enumerate(values, start=1):
            if value is not None:
                ws.write_number(row, col, value)
    elif dtype == pl.Boolean:
        for row, value in enumerate(values, start=1):
            if value is not None:
                ws.write_boolean(row, col, value)
    else:
        for row, value in enumerate(values, start=1):
            if value is None:
                continue
            if len(value) > _XLSX_MAX_TEXT:
                raise InputError(f"column {name!r} row {row} holds {len(value)} characters; an XLSX cell holds at "
                                 f"most {_XLSX_MAX_TEXT}: export to .csv instead")
            ws.write_string(row, col, value)


def _frame_sheet(b: _Book, name: str, table: pl.DataFrame, table_name: str) -> None:
    """A frame as an Excel table (header filters, banded rows), typed cells, widths from the content."""
    units = b.run.contract.minor_units
    text_cols = {n for n, t in table.schema.items() if not is_money_column(n, t) and t != pl.Date
                 and not t.is_numeric() and t != pl.Boolean}
    safe = table.with_columns([formula_safe_expr(n) for n in text_cols])
    widths = []
    for n, t in table.schema.items():
        longest = len(n)
        if n in text_cols and safe.height:
            longest = max(longest, int(safe.select(pl.col(n).str.len_chars().max()).item() or 0))
        elif is_money_column(n, t):
            longest = max(longest, 16)
        elif t == pl.Date:
            longest = max(longest, 11)
        widths.append(float(min(50, max(8, longest + 2))))
    ws = b.sheet(name, widths, (0, 0))
    for col, (n, t) in enumerate(table.schema.items()):
        _table_column(b, ws, col, n, t, safe.get_column(n).to_list(), units)
    ws.add_table(0, 0, max(table.height, 1), max(table.width - 1, 0), {
        "name": table_name, "style": "Table Style Light 9",
        "columns": [{"header": formula_safe(n)} for n in table.columns],
    })


def _rejections_frame(run: PayRun) -> pl.DataFrame:
    """The rejected rows with the meaning of their reason from the code catalogue."""
    t = run.table.filter(pl.col("status").cast(pl.String) == "rejected")
    keep = [c for c in ("claim_id", "kind", "participant_id", "outcome_id", "achieved_on", "submitted_on", "reason",
                        "previously_paid", "due") if c in t.columns]
    t = t.select(keep).with_columns(pl.col("reason").cast(pl.String))
    codes = t.get_column("reason").unique().drop_nulls().to_list()
    lookup = pl.DataFrame({"reason": codes, "meaning": [meaning(c) or "" for c in codes]},
                          schema={"reason": pl.String, "meaning": pl.String})
    t = t.join(lookup, on="reason", how="left", maintain_order="left")
    return t.select([*keep[: keep.index("reason") + 1], "meaning", *keep[keep.index("reason") + 1:]])


def pack_bytes(run: PayRun, record: CloseRecord, created: datetime | None = None,
               data: dict[str, Any] | None = None) -> bytes:
    """The finance pack workbook of ``run``; ``data`` is its JSON summary when the caller has it already."""
    if run.table.height + 1 > _XLSX_MAX_ROWS:
        raise UsageError(f"the claim table has {run.table.height} rows; an XLSX sheet holds at most "
                         f"{_XLSX_MAX_ROWS - 1}: export to .csv or .parquet instead")
    data = summary(run) if data is None else data
    buffer = io.BytesIO()
    book = _Book(buffer, run, record, created)
    try:
        _summary_sheet(book, data)
        _by_payer_sheet(book, data)
        _by_outcome_sheet(book, data)
        table = run.table.with_columns([pl.col(n).cast(pl.String) for n, t in run.table.schema.items()
                                        if isinstance(t, (pl.Enum, pl.Categorical))])
        _frame_sheet(book, "Claims", table, "Claims")
        _frame_sheet(book, "Rejections", _rejections_frame(run), "Rejections")
    finally:
        book.wb.close()
    return buffer.getvalue()


def stage_export(run: PayRun, path: Path, *, record: CloseRecord, created: datetime | None = None,
                 data: dict[str, Any] | None = None) -> StagedFile:
    """Stage ``--export``: the finance pack for ``.xlsx``, the plain claim table for every other format."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return stage_table(run.table, path, run.contract.minor_units, created=created)
    check_target(path)
    content = pack_bytes(run, record, workbook_time(created), data)

    def write(fh: BinaryIO) -> None:
        fh.write(content)

    try:
        return export.stage_write(path, write)  # looked up at call time, so tests can simulate a full disk
    except OSError as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


def write_export(run: PayRun, path: Path, *, record: CloseRecord, created: datetime | None = None,
                 data: dict[str, Any] | None = None) -> None:
    """Write ``--export`` atomically (see :func:`stage_export`)."""
    staged = stage_export(run, path, record=record, created=created, data=data)
    try:
        staged.commit()
    except OSError as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


def save_bytes(path: Path, data: bytes) -> None:
    """Write a rendered file (statement, report) atomically; a failure is a WriteError (exit 2) and leaves nothing."""
    path = Path(path)
    check_target(path)
    try:
        export.stage_write(path, lambda fh: fh.write(data)).commit()
    except OSError as exc:
        raise WriteError(write_failure(path, exc) + "; nothing was written") from exc


__all__ = [
    "CloseRecord",
    "amount_cell",
    "close_record",
    "currency_format",
    "pack_bytes",
    "save_bytes",
    "stage_export",
    "write_export",
]
