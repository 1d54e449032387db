"""The contract report as one self-contained HTML page: inline SVG, inline CSS, no script, no network.

It lays out the dict of :func:`sob.report.data.build_report`; every figure on
the page is a string of that dict (the JSON output), so the page and the JSON
cannot disagree.  Print CSS sets A4 landscape and keeps each chart with its
table.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from sob.quarters import Quarter
from sob.report import charts

#: future quarters drawn on the cap burn-down for the projection
PROJECTION_QUARTERS = 8

CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #111; margin: 24px; font-size: 13px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; border-bottom: 2px solid #0072B2; padding-bottom: 2px; margin-top: 28px; }
p.meta { color: #333; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #888; border-radius: 4px; padding: 8px 12px; min-width: 170px; }
.card .v { font-size: 19px; font-weight: bold; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 11px; }
th, td { border: 1px solid #999; padding: 3px 6px; }
th { background: #e8eef5; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; }
svg.chart { max-width: 100%; height: auto; display: block; }
.note { color: #333; font-style: italic; }
.wrap { overflow-x: auto; }
@media print {
  body { margin: 0; font-size: 10px; }
  table { font-size: 7.5px; }
  th { overflow-wrap: anywhere; }
  td, th { padding: 2px 3px; }
  section { break-before: page; }
  section.first { break-before: auto; }
  figure, tr, .card { break-inside: avoid; }
  .wrap { overflow: visible; }
}
"""


def amount(text: str | None) -> str:
    """``"-1234567.50"`` → ``"-1,234,567.50"``: thousands separators on the exact string, never via float."""
    if text is None:
        return "–"
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = digits.partition(".")
    grouped = f"{int(whole):,}" if whole.isdigit() else whole
    return sign + grouped + ("." + frac if frac else "")


def _num(text: str | None) -> float:
    """A chart coordinate from an amount string (drawing only; figures stay strings)."""
    return float(Decimal(text)) if text else 0.0


def _table(head: list[str], rows: list[list[Any]], numeric: set[int], total: bool = False) -> str:
    """A plain HTML table; ``numeric`` columns are right-aligned; ``total`` bolds the last row."""
    out = ["<div class='wrap'><table><thead><tr>", *[f"<th>{escape(h)}</th>" for h in head], "</tr></thead><tbody>"]
    for r, row in enumerate(rows):
        cls = " class='total'" if total and r == len(rows) - 1 else ""
        cells = "".join(f"<td class='n'>{escape(str(v))}</td>" if i in numeric else f"<td>{escape(str(v))}</td>"
                        for i, v in enumerate(row))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _headline(r: dict[str, Any]) -> str:
    h = r["headline"]
    cur = r["currency"]
    cards = [(f"Paid to date ({cur})", amount(h["paid_to_date"]))]
    cards += [(f"Paid by {p['payer_id']} ({cur})", amount(p["paid_to_date"])) for p in h["paid_to_date_by_payer"]]
    if h["contract_cap"] is not None:
        cards.append(("Contract cap used", f"{h['contract_cap_used_percent']}% of {amount(h['contract_cap'])}"))
    cards += [("Participants with a paid outcome", f"{h['participants_paid']:,}"),
              ("Outcomes achieved (accepted)", f"{h['outcomes_achieved']:,}"),
              ("Outcomes paid", f"{h['outcomes_paid']:,}")]
    body = "".join(f"<div class='card'><div>{escape(k)}</div><div class='v'>{escape(v)}</div></div>" for k, v in cards)
    return f"<section class='first' id='headline'><h2>Headline, as at {escape(r['to_quarter'])}</h2><div class='cards'>{body}</div></section>"


def _quarters(r: dict[str, Any]) -> str:
    qs = r["quarters"]
    labels = [q["quarter"] for q in qs]
    ids = [o["outcome_id"] for o in r["outcomes"]]
    money = [(oid, [_num(q["by_outcome"][i]["due"]) for q in qs]) for i, oid in enumerate(ids)]
    if any(q["adjustments_due"] != "0.00" and _num(q["adjustments_due"]) for q in qs):
        money.append(("adjustments", [_num(q["adjustments_due"]) for q in qs]))
    counts = [(oid, [float(q["by_outcome"][i]["new_accepted"]) for q in qs]) for i, oid in enumerate(ids)]
    cur = r["currency"]
    chart1 = charts.stacked_bars("chart-money", "Money due at each close, by outcome", labels, money,
                                 f"Due in the quarter ({cur})")
    chart2 = charts.stacked_bars("chart-claims", "Outcomes newly accepted at each close, by outcome", labels, counts,
                                 "Outcomes accepted (count)")
    head = ["Quarter", "Closed on", "Rows", *ids, "Due", "Paid to date"]
    rows = [[q["quarter"], (q["closed_at"] or "")[:10], q["claims"], *[amount(b["due"]) for b in q["by_outcome"]],
             amount(q["due"]), amount(q["paid_to_date"])] for q in qs]
    numeric = set(range(2, len(head)))
    head2 = ["Quarter", *ids]
    rows2 = [[q["quarter"], *[b["new_accepted"] for b in q["by_outcome"]]] for q in qs]
    return ("<section id='quarters'><h2>Quarter by quarter</h2>"
            f"<figure>{chart1}</figure><p>Money due at each close by outcome ({escape(cur)}); rows = rows of the "
            f"closed claim table.</p>{_table(head, rows, numeric)}"
            f"<figure>{chart2}</figure><p>Outcomes newly accepted at each close (count).</p>"
            f"{_table(head2, rows2, set(range(1, len(head2))))}</section>")


def _profile(r: dict[str, Any]) -> str:
    if not r["profile"]:
        return ("<section id='profile'><h2>Actual against profile</h2><p class='note'>No outcome of this contract "
                "has a <code>profile</code> (expected claims per quarter), so there is nothing to compare.</p></section>")
    parts = ["<section id='profile'><h2>Actual against profile</h2><p>Cumulative outcomes accepted by each close "
             "against the cumulative profile of the contract; variance = (actual − profile) ÷ profile.</p>"]
    for p in r["profile"]:
        labels = [q["quarter"] for q in p["quarters"]]
        chart = charts.lines(f"chart-profile-{p['outcome_id']}", f"{p['outcome_id']}: actual against profile (cumulative)",
                             labels, [("actual to date", [float(q["actual_to_date"]) for q in p["quarters"]]),
                                      ("profile to date", [float(q["profile_to_date"]) for q in p["quarters"]])],
                             "Outcomes, cumulative (count)")
        rows = [[q["quarter"], q["profile_to_date"], q["actual_to_date"], q["variance"],
                 "–" if q["variance_percent"] is None else f"{q['variance_percent']}%"] for q in p["quarters"]]
        parts.append(f"<figure>{chart}</figure>" + _table(["Quarter", "Profile to date", "Actual to date", "Variance",
                                                            "Variance %"], rows, {1, 2, 3, 4}))
    return "".join(parts) + "</section>"


def _caps(r: dict[str, Any]) -> str:
    if not r["caps"]:
        return ("<section id='caps'><h2>Cap burn-down</h2><p class='note'>The contract has no money cap recorded in "
                "its closes.</p></section>")
    labels = [q["quarter"] for q in r["quarters"]]
    last = Quarter.parse(labels[-1])
    future = []
    q = last
    for _ in range(PROJECTION_QUARTERS):
        q = q.next()
        future.append(str(q))
    series: list[tuple[str, list[float | None]]] = []
    for cap in r["caps"]:
        used = [_num(p["used_percent"]) if p["used_percent"] is not None else None for p in cap["quarters"]]
        blank: list[float | None] = [None] * len(future)
        series.append((f"{cap['cap']} used", [*used, *blank]))
        pace = cap["projection"]["pace_per_quarter"]
        limit = _num(cap["limit"])
        if pace is not None and limit > 0:
            start = _num(cap["used"])
            proj: list[float | None] = [min(100.0, (start + _num(pace) * (k + 1)) * 100 / limit)
                                        for k in range(len(future))]
            before: list[float | None] = [None] * (len(labels) - 1)
            series.append((f"{cap['cap']} projection", [*before, used[-1], *proj]))
    chart = charts.lines("chart-caps", "Cap burn-down: share of each cap used, with a naive projection",
                         [*labels, *future], series, "Share of the cap used (%)", percent=True, limit=100.0,
                         x_label=f"Quarter (the last {PROJECTION_QUARTERS} are projected)")
    cur = r["currency"]
    rows = [[c["cap"], amount(c["limit"]), amount(c["used"]), amount(c["headroom"]),
             "–" if c["used_percent"] is None else f"{c['used_percent']}%",
             amount(c["projection"]["pace_per_quarter"]), c["projection"]["binds_in"] or "not at this pace"]
            for c in r["caps"]]
    table = _table(["Cap", f"Limit ({cur})", f"Paid to date ({cur})", f"Headroom ({cur})", "Used",
                    f"Pace per quarter ({cur})", "Projected to bind in"], rows, {1, 2, 3, 4, 5})
    return ("<section id='caps'><h2>Cap burn-down</h2><p><strong>Projection:</strong> a naive straight line at the "
            "average pace of the last four closed quarters; it is not a forecast.</p>"
            f"<figure>{chart}</figure>{table}</section>")


def _volume_caps(r: dict[str, Any]) -> str:
    """Outcome volume caps (claims, not money): a chart of the share used and a table, only when the contract has any."""
    caps = r.get("volume_caps") or []
    if not caps:
        return ""
    labels = [q["quarter"] for q in r["quarters"]]
    series: list[tuple[str, list[float | None]]] = []
    for cap in caps:
        by_quarter = {p["quarter"]: p["used_percent"] for p in cap["quarters"]}
        series.append((cap["cap"], [None if by_quarter.get(q) is None else _num(by_quarter[q]) for q in labels]))
    chart = charts.lines("chart-volume-caps", "Volume caps: share of each outcome's volume_cap used", labels, series,
                         "Share of the volume cap used (%)", percent=True, limit=100.0, x_label="Quarter (closed)")
    rows = [[c["cap"], c["limit"], c["used"], c["headroom"], "–" if c["used_percent"] is None else f"{c['used_percent']}%",
             c["projection"]["pace_per_quarter"] or "–", c["projection"]["binds_in"] or "not at this pace"] for c in caps]
    table = _table(["Volume cap", "Limit (claims)", "Accepted to date (claims)", "Headroom (claims)", "Used",
                    "Pace per quarter (claims)", "Projected to bind in"], rows, {1, 2, 3, 4, 5})
    return ("<section id='volume-caps'><h2>Volume caps</h2><p>Claims accepted by each close (rules 1–10 passed, "
            "SPEC rule 11) against each outcome's <code>volume_cap</code> in force at the quarter's end; the "
            "projection is the same naive straight line as above.</p>"
            f"<figure>{chart}</figure>{table}</section>")


def _rejections(r: dict[str, Any]) -> str:
    rej = r["rejections"]
    if not rej["reasons"]:
        return "<section id='rejections'><h2>Rejections over time</h2><p class='note'>No row was rejected.</p></section>"
    labels = [q["quarter"] for q in rej["quarters"]]
    series = [(x["reason"], [float(q["by_reason"][x["reason"]]) for q in rej["quarters"]]) for x in rej["reasons"]]
    chart = charts.stacked_bars("chart-rejections", "Rejected rows as at each close, by reason", labels, series,
                                "Rejected rows (count)")
    head = ["Quarter", *[x["reason"] for x in rej["reasons"]]]
    rows = [[q["quarter"], *q["by_reason"].values()] for q in rej["quarters"]]
    meanings = _table(["Reason", "Meaning"], [[x["reason"], x["meaning"]] for x in rej["reasons"]], set())
    return (f"<section id='rejections'><h2>Rejections over time</h2><figure>{chart}</figure>"
            f"{_table(head, rows, set(range(1, len(head))))}{meanings}</section>")


def _life(r: dict[str, Any]) -> str:
    parts = ["<section id='changes'><h2>Contract changes and adjustments</h2>"]
    if r["opening"]:
        o = r["opening"]
        parts.append(f"<p>Opening balance before {escape(str(o.get('precedes')))}: {escape(amount(o.get('paid')))} "
                     f"over {escape(str(o.get('rows')))} id(s), paid before sob.</p>")
    if r["contract_changes"]:
        rows = [[c["quarter"], c.get("since", ""), c.get("restated_rows", ""), amount(c.get("restated_amount")),
                 c.get("previous_contract_sha256", "")] for c in r["contract_changes"]]
        parts.append(_table(["Closed", "Changed since", "Restated rows", "Restated amount", "Previous contract SHA-256"],
                            rows, {2, 3}))
    if r["skipped"]:
        parts.append(_table(["Closed", "Skipped quarters (never closed)"],
                            [[s["quarter"], ", ".join(s["skipped"])] for s in r["skipped"]], set()))
    if r["adjustments"]:
        rows = [[a["quarter"], a["id"], a["reason"], amount(a["entitled"]), amount(a["due"])] for a in r["adjustments"]]
        parts.append(_table(["Quarter", "Adjustment", "Reason", "Amount", "Due in the quarter"], rows, {3, 4}))
    if len(parts) == 1:
        parts.append("<p class='note'>The ledger records no contract change, skipped quarter, opening balance or "
                     "adjustment.</p>")
    return "".join(parts) + "</section>"


def render_html(report: dict[str, Any]) -> str:
    """The whole page for one report dict."""
    title = f"{report['name'] or report['contract']}: contract report to {report['to_quarter']}"
    meta = (f"Contract <code>{escape(report['contract'])}</code> · {report['closed_quarters']} closed quarter(s), "
            f"{escape(report['from_quarter'])} to {escape(report['to_quarter'])} · amounts in {escape(report['currency'])} "
            "· from the ledger of closed quarters (what was actually paid)")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='meta'>{meta}</p>"
        + _headline(report) + _quarters(report) + _profile(report) + _caps(report) + _volume_caps(report)
        + _rejections(report)
        + _life(report) + "</body></html>\n"
    )


__all__ = ["CSS", "amount", "render_html"]
