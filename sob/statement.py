"""A one-page payment statement for one payer and one quarter: ``sob pay ... --statement PAYER --export F.html|.pdf``.

It is what a payer's finance team files with the payment: who pays whom,
for which quarter, what was entitled, what was paid before, what is due now,
and the lines by outcome (and adjustment) that make up the due.  Every
figure comes from the pay run's JSON summary and its ``due_<payer>`` column,
so it agrees with ``sob pay --format json`` and the finance pack.  HTML is
self-contained (no script, no network) with print CSS for one A4 page; PDF
needs the optional extra (:mod:`sob.report.pdf`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from sob.export import WriteError, check_target
from sob.findings import UsageError
from sob.pack import CloseRecord, save_bytes
from sob.payrun import PayRun
from sob.report.html import amount

SUFFIXES = (".html", ".pdf")

CSS = """
@page { size: A4 portrait; margin: 15mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #111; font-size: 12px; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 6px; }
table { border-collapse: collapse; margin: 10px 0; width: 100%; }
th, td { border: 1px solid #999; padding: 4px 6px; }
th { background: #e8eef5; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; }
.facts td:first-child { width: 35%; font-weight: bold; }
.small { font-size: 10px; color: #333; word-break: break-all; }
@media print { body { margin: 0; } tr { break-inside: avoid; } }
"""


def statement_lines(run: PayRun, payer_id: str) -> list[dict[str, Any]]:
    """The payer's due this quarter by outcome, then by adjustment: the lines of the statement.

    Rows whose payer part of the due is zero are left out; the lines sum to
    the payer's due (each row's ``due_<payer>`` is its part, SPEC 5.6, 6).
    """
    c = run.contract
    col = f"due_{payer_id}"
    t = run.table.with_columns(pl.col("kind").cast(pl.String), pl.col("outcome_id").cast(pl.String))
    names = {o.id: o.name for o in c.outcomes}
    claims = (t.filter(pl.col("kind") != "adjustment").group_by("outcome_id")
              .agg((pl.col(col) != 0).sum().alias("rows"), pl.col(col).sum().alias("due")))
    by = {r["outcome_id"]: r for r in claims.rows(named=True)}
    lines = []
    for oid in [o.id for o in c.outcomes] + sorted(k or "" for k in by if k not in names):
        r = by.get(oid if oid else None) or by.get(oid)
        if r is None or (r["rows"] == 0 and r["due"] == 0):
            continue
        lines.append({"line": oid or "(rows with no outcome)", "name": names.get(oid, ""), "rows": int(r["rows"]),
                      "due": c.money(int(r["due"] or 0))})
    note = "note" if "note" in t.columns else None
    adjustments = t.filter((pl.col("kind") == "adjustment") & (pl.col(col) != 0))
    for r in adjustments.rows(named=True):
        lines.append({"line": r["claim_id"], "name": (r.get(note) if note else None) or "adjustment", "rows": 1,
                      "due": c.money(int(r[col]))})
    return lines


def statement_html(run: PayRun, data: dict[str, Any], payer_id: str, record: CloseRecord) -> str:
    """The statement page; ``data`` is the run's JSON summary (``sob pay --format json``)."""
    c = run.contract
    fy = c.fiscal_year_start_month
    payer = next(p for p in c.payers if p.id == payer_id)
    figures = next(p for p in data["by_payer"] if p["payer_id"] == payer_id)
    cur = c.currency
    facts = [
        ("Payer", f"{payer.id}: {payer.name}"), ("Contract", f"{c.id}: {c.name}"),
        ("Quarter", f"{run.quarter} ({run.quarter.fiscal_label(fy)}), {run.quarter.start(fy)} to {run.quarter.end(fy)}"),
        ("Status", record.status), ("Closed at (UTC)", record.closed_at or "not closed"),
    ]
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in facts)
    money_rows = "".join(
        f"<tr{' class=total' if key == 'due' else ''}><td>{label}</td><td class='n'>{escape(amount(figures[key]))}</td></tr>"
        for label, key in (("Entitled to date", "entitled"), ("Previously paid", "previously_paid"),
                           ("Due this quarter", "due"))
    )
    lines = statement_lines(run, payer_id)
    line_rows = "".join(
        f"<tr><td>{escape(x['line'])}</td><td>{escape(x['name'])}</td><td class='n'>{x['rows']}</td>"
        f"<td class='n'>{escape(amount(x['due']))}</td></tr>" for x in lines
    )
    line_rows += (f"<tr class='total'><td colspan='3'>Total due from {escape(payer.id)}</td>"
                  f"<td class='n'>{escape(amount(figures['due']))}</td></tr>")
    sha = record.manifest_sha256 or "none: this quarter is not closed in a ledger; the figures are a preview"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Payment statement {escape(payer.id)} {escape(c.id)} {run.quarter}</title><style>{CSS}</style></head><body>"
        f"<h1>Payment statement: {escape(payer.name or payer.id)}, {run.quarter}</h1>"
        f"<table class='facts'>{rows}</table>"
        f"<table><thead><tr><th>Figure</th><th>Amount ({escape(cur)})</th></tr></thead><tbody>{money_rows}</tbody></table>"
        "<table><thead><tr><th>Outcome or adjustment</th><th>Name or reason</th><th>Rows</th>"
        f"<th>Due ({escape(cur)})</th></tr></thead><tbody>{line_rows}</tbody></table>"
        f"<p class='small'>Ledger manifest SHA-256: {escape(sha)}</p>"
        "</body></html>\n"
    )


def check_statement(payer_id: str, contract_payers: list[str] | None, export: Path | None) -> None:
    """Usage errors of ``--statement`` (exit 2): no ``--export`` ending .html or .pdf, or an unknown payer.

    Called once before the run (``contract_payers`` ``None``: the command
    line alone) and once with the contract's payers, before anything is
    closed or written.
    """
    if export is None or export.suffix.lower() not in SUFFIXES:
        raise UsageError("--statement PAYER writes the statement to --export FILE ending in .html or .pdf")
    if contract_payers is None and export.suffix.lower() == ".pdf":
        from sob.report.pdf import require_pdf

        require_pdf()
    if contract_payers is not None and payer_id not in contract_payers:
        raise UsageError(f"--statement {payer_id}: not a payer of the contract ({', '.join(contract_payers)})")


def write_statement(run: PayRun, data: dict[str, Any], payer_id: str, record: CloseRecord, path: Path) -> None:
    """Write the statement atomically, as HTML or (with the ``pdf`` extra) PDF, by ``path``'s extension."""
    html = statement_html(run, data, payer_id, record)
    check_target(path)
    if path.suffix.lower() == ".pdf":
        from sob.report.pdf import html_to_pdf

        content = html_to_pdf(html)
    else:
        content = html.encode("utf-8")
    try:
        save_bytes(path, content)
    except WriteError as exc:
        if record.status != "closed":
            raise
        # the statement is written after the close commits: say the close stands, never "nothing was written"
        raise WriteError(f"{str(exc).removesuffix('; nothing was written')}; quarter {run.quarter} is closed in "
                         f"the ledger all the same (manifest {record.manifest_sha256 or 'written'}): write the "
                         "statement again with the same command without --close") from exc


__all__ = ["SUFFIXES", "check_statement", "statement_html", "statement_lines", "write_statement"]
