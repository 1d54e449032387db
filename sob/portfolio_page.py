"""The portfolio as one self-contained HTML page in the style of the contract report (no script, no network).

Every figure on the page is a string of the :func:`sob.portfolio.build_portfolio`
dict (the JSON output), so the page and the JSON cannot disagree.
"""

from __future__ import annotations

from html import escape
from typing import Any

from sob.report.html import CSS, amount


def _cell(value: Any, numeric: bool = False, flag: bool = False) -> str:
    """One escaped table cell; a flagged cell is bold (a ledger behind)."""
    cls = " class='n'" if numeric else ""
    text = escape(str(value))
    return f"<td{cls}><strong>{text}</strong></td>" if flag else f"<td{cls}>{text}</td>"


def _contracts(data: dict[str, Any]) -> str:
    head = ["Contract", "Name", "Currency", "Last closed", "Quarter", "Quarter due", "Paid to date", "Caps used",
            "Outcomes / profile to date"]
    rows = []
    for x in data["contracts"]:
        caps = "; ".join(f"{c['cap']} {c['used_percent']}% of {amount(c['limit'])}" for c in x["caps"]
                         if c["used_percent"] is not None)
        prof = x["profile"]
        against = "" if prof["profile_to_date"] is None else (
            f"{prof['actual_to_date']:,} / {prof['profile_to_date']:,}"
            + ("" if prof["variance_percent"] is None else f" ({prof['variance_percent']}%)"))
        last = (x["last_closed"] or "none") + (" — BEHIND" if x["behind"] else "")
        rows.append("<tr>" + _cell(x["contract"]) + _cell(x["name"]) + _cell(x["currency"])
                    + _cell(last, flag=x["behind"]) + _cell(x["quarter"] or "") + _cell(amount(x["quarter_due"]), True)
                    + _cell(amount(x["paid_to_date"]), True) + _cell(caps) + _cell(against, True) + "</tr>")
    return ("<section class='first' id='contracts'><h2>Contracts</h2><div class='wrap'><table><thead><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></div><p class='note'>BEHIND: the contract's ledger has not closed the quarter asked "
              "for, or a whole quarter after its last close has ended.</p></section>")


def _totals(data: dict[str, Any]) -> str:
    head = ["Currency", "Contracts", "Behind", "Quarter due", "Paid to date"]
    rows = "".join("<tr>" + _cell(t["currency"]) + _cell(t["contracts"], True) + _cell(t["behind"], True)
                   + _cell(amount(t["quarter_due"]), True) + _cell(amount(t["paid_to_date"]), True) + "</tr>"
                   for t in data["totals"])
    return ("<section id='totals'><h2>Totals per currency</h2><p>Money in different currencies is never added "
            "together.</p><div class='wrap'><table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{rows}</tbody></table></div></section>")


def render_html(data: dict[str, Any]) -> str:
    """The whole page for one portfolio dict."""
    who = f", payer {data['payer']}'s part" if data["payer"] else ""
    when = f"as at {data['quarter']}" if data["quarter"] else "at each contract's latest close"
    title = f"Portfolio of {len(data['contracts'])} contract(s){who}"
    left = ("" if not data["left_out"] else
            f"<p class='note'>Not paid by this payer, left out: {escape(', '.join(data['left_out']))}.</p>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='meta'>{escape(when)} · from the ledger of closed quarters "
        f"(what was actually paid)</p>{left}" + _contracts(data) + _totals(data) + "</body></html>\n"
    )


__all__ = ["render_html"]
