"""The Rich view of ``sob pay``: sections, figures, the ledger reconciliation, and the consoles."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from engine_helpers import Caps, Outcome, Requirement, claims, contract
from rich.console import Console

from sob.contract import Payer
from sob.payrun import pay_quarter
from sob.quarters import Quarter
from sob.render.console import human_money, make_consoles, print_plain, progress_enabled
from sob.render.pay import group_thousands, reconcile, render_pay

PAYERS = [Payer("KC", "Kirklees Council", Decimal("0.7")), Payer("LCF", "Life Chances Fund", Decimal("0.3"))]
SHA = "0123456789abcdef" * 4
FILES = [("claims", "evidence/claims.csv", 7, SHA)]


def render(run, files=FILES, closed=False) -> str:
    console = Console(record=True, width=160, color_system=None)
    render_pay(run, files, console, closed=closed)
    return console.export_text()


def capped_run():
    """Two quarters of claims under every kind of cap, two payers, no ledger."""
    c = contract(
        [
            Outcome("A", name="Entry [bold]x[/bold]", price=50000, amount_cap=120000),
            Outcome("B", name="Sustained", price=30000, volume_cap=1, requires=(Requirement("A"),)),
        ],
        payers=PAYERS,
        caps=Caps(per_participant=70000, total=100000000),
        fiscal_year_start_month=4,
    )
    cl = claims(
        [
            ("1", "p1", "A", "2020-02-01"),
            ("2", "p1", "B", "2020-02-10"),
            ("3", "p2", "A", "2020-04-05"),
            ("4", "p3", "A", "2020-04-06"),
            ("5", "p3", "B", "2020-04-07"),
            ("6", "p4", "B", "2020-04-07"),
            ("7", "p2", "A", "2020-04-08", "", "withdrawn"),
        ]
    )
    return pay_quarter(c, cl, None, None, Quarter(2020, 1))


def row_of(text: str, label: str) -> list[str]:
    """The cells of the first line starting with ``label`` (split on runs of 2+ spaces)."""
    for line in text.splitlines():
        if line.strip().startswith(label):
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no line starting with {label!r} in\n{text}")


def minor(cell: str) -> int:
    """A terminal amount (``-£1,200.00``) back to minor units; the symbol must be there."""
    assert "£" in cell, cell
    return int(cell.replace("£", "").replace(",", "").replace(".", ""))


# --- the view without a ledger ---------------------------------------------


def test_header_names_contract_quarter_currency_and_files():
    out = render(capped_run())
    assert out.splitlines()[0] == "Quarter preview: t 2020-Q1 — not closed"
    assert "Quarter close" not in out
    assert "PREVIEW, not closed: nothing was recorded" in out
    assert "2020-Q1 (FY2020/21 Q1), 2020-04-01 to 2020-06-30" in out
    assert "GBP, shown as £" in out
    assert "recomputed as at 2020-03-31" in out
    assert row_of(out, "claims") == ["claims", "evidence/claims.csv", "7", SHA[:12]]
    assert SHA[:13] not in out


def test_sections_and_totals():
    out = render(capped_run())
    for title in ("Evidence files", "Totals", "By outcome", "By payer", "Rejections", "Money caps", "Volume caps"):
        assert re.search(rf"^{title}\s*$", out, re.MULTILINE), title
    assert "Reconciliation" not in out  # only with a ledger
    totals = out[out.index("\nTotals") : out.index("By outcome")]
    assert row_of(totals, "Entitled to date")[-1] == "£1,400.00"
    assert row_of(totals, "Previously paid")[-1] == "£700.00"
    assert row_of(totals, "Due now")[-1] == "£700.00"
    assert row_of(totals, "Rows")[-1] == "7"
    assert [row_of(totals, s)[-1] for s in ("paid", "partial", "capped", "rejected")] == ["2", "2", "1", "2"]


def test_by_outcome_and_by_payer_rows_add_up():
    out = render(capped_run())
    # evidence names are shown literally, never read as Rich markup
    assert row_of(out, "A ") == ["A", "Entry [bold]x[/bold]", "4", "3", "£1,200.00", "£700.00"]
    assert row_of(out, "B ") == ["B", "Sustained", "3", "1", "£200.00", "£0.00"]
    assert row_of(out, "KC") == ["KC", "Kirklees Council", "£980.00", "£490.00", "£490.00"]
    assert row_of(out, "LCF") == ["LCF", "Life Chances Fund", "£420.00", "£210.00", "£210.00"]
    totals = [line for line in out.splitlines() if line.strip().startswith("Total ")]
    assert re.split(r"\s{2,}", totals[0].strip()) == ["Total", "7", "4", "£1,400.00", "£700.00"]
    assert re.split(r"\s{2,}", totals[1].strip()) == ["Total", "£1,400.00", "£700.00", "£700.00"]


def test_rejections_by_reason():
    out = render(capped_run())
    assert row_of(out, "WITHDRAWN") == ["WITHDRAWN", "1", "£0.00", "£0.00"]
    assert row_of(out, "PREREQUISITE_MISSING") == ["PREREQUISITE_MISSING", "1", "£0.00", "£0.00"]


def test_caps_use_headroom_and_cuts():
    out = render(capped_run())
    assert row_of(out, "Contract total") == ["Contract total", "£1,000,000.00", "£1,400.00", "£998,600.00", "£0.00"]
    # outcome A: 500 + 500 + 200 (cut by 300) against a 1,200 cap
    assert row_of(out, "Outcome A") == ["Outcome A", "£1,200.00", "£1,200.00", "£0.00", "£300.00"]
    # p1: 500 + 200 (claim 2 cut from 300 by 100) against a 700 cap
    assert row_of(out, "Per participant")[:5] == ["Per participant", "£700.00", "£700.00", "£0.00", "£100.00"]
    assert "1 of 4 participants with claims at the cap." in out
    volume = out[out.index("Volume caps") :]
    assert row_of(volume, "B") == ["B", "1", "1", "0", "1"]
    assert "cut to the headroom" in out


def test_no_caps_and_no_rejections_say_so():
    c = contract([Outcome("A", price=1000)])
    run = pay_quarter(c, claims([("1", "p1", "A", "2020-02-01")]), None, None, Quarter(2020, 1))
    out = render(run, [])
    assert "Caps: none in this contract" in out
    assert "Rejections: none" in out
    assert "Evidence files" not in out


def test_zero_minor_unit_currency_and_grouping():
    c = contract([Outcome("A", price=1234567)], currency="JPY", minor_units=0)
    run = pay_quarter(c, claims([("1", "p1", "A", "2020-02-01")]), None, None, Quarter(2020, 1))
    assert row_of(render(run, []), "Entitled to date")[-1] == "¥1,234,567"


@pytest.mark.parametrize(
    ("plain", "grouped"),
    [("0.00", "0.00"), ("-1234567.89", "-1,234,567.89"), ("999.99", "999.99"), ("1000", "1,000"), ("-100", "-100")],
)
def test_group_thousands(plain, grouped):
    assert group_thousands(plain) == grouped


def test_a_close_is_titled_as_a_close():
    out = render(capped_run(), closed=True)
    assert out.splitlines()[0] == "Quarter close: t 2020-Q1 — closed in the ledger"
    assert "CLOSED: this quarter is now recorded in the ledger" in out
    assert "preview" not in out.lower()


@pytest.mark.parametrize(
    ("minor", "units", "currency", "shown"),
    [
        (120000, 2, "GBP", "£1,200.00"),
        (-120000, 2, "GBP", "-£1,200.00"),
        (5, 2, "EUR", "€0.05"),
        (-5, 2, "USD", "-$0.05"),
        (1234567, 0, "JPY", "¥1,234,567"),
        (123456789, 3, "KWD", "KWD 123,456.789"),  # no well-known symbol: the code
        (0, 2, "SEK", "SEK 0.00"),
    ],
)
def test_human_money(minor, units, currency, shown):
    assert human_money(minor, units, currency) == shown


# --- the reconciliation with a ledger ---------------------------------------


def ledger_run():
    """Claim 1 paid before and still good, claim 2 paid and now withdrawn, claim 9 paid and
    now gone from the files, claim 3 new: movement, clawbacks and a missing row."""
    c = contract(
        [Outcome("A", name="Entry", price=50001), Outcome("B", name="Sustained", price=30000)],
        payers=PAYERS,
    )
    cl = claims(
        [
            ("1", "p1", "A", "2020-02-01"),
            ("2", "p1", "B", "2020-02-10", "", "withdrawn"),
            ("3", "p2", "A", "2020-04-05"),
        ]
    )
    days = [date(2020, 2, 1), date(2020, 2, 10), date(2020, 1, 5)]
    ledger = pl.DataFrame(
        {
            "claim_id": ["1", "2", "9"],
            "kind": ["claim"] * 3,
            "participant_id": ["p1", "p1", "p9"],
            "cohort": [None] * 3,
            "outcome_id": ["A", "B", "A"],
            "achieved_on": days,
            "submitted_on": days,
            "paid": [50001, 30000, 50001],
            "paid_KC": [35001, 21000, 35001],
            "paid_LCF": [15000, 9000, 15000],
        },
        schema_overrides={"cohort": pl.String},
    )
    return pay_quarter(c, cl, None, None, Quarter(2020, 2), ledger=ledger)


def test_reconciliation_figures_add_up():
    run = ledger_run()
    out = render(run, [])
    assert "Reconciliation by payer" in out
    assert "sum of due in the ledger's closed quarters" in out
    assert "does not reconcile" not in out
    section = out[out.index("Reconciliation by payer") :]
    kc = [minor(x) for x in row_of(section, "KC")[1:]]
    lcf = [minor(x) for x in row_of(section, "LCF")[1:]]
    total = [minor(x) for x in row_of(section, "Total")[1:]]
    # brought forward, movement, clawbacks, due now, carried forward
    assert kc == [91002, 35001, -56001, -21000, 70002]
    assert lcf == [39000, 15000, -24000, -9000, 30000]
    for bf, move, claw, due, cf in (kc, lcf, total):
        assert bf + move + claw == cf
        assert move + claw == due
    assert total == [a + b for a, b in zip(kc, lcf)]
    assert row_of(out, "MISSING_FROM_EVIDENCE") == ["MISSING_FROM_EVIDENCE", "1", "£500.01", "-£500.01"]
    assert row_of(out, "of which missing from evidence")[-1] == "1"


def test_reconcile_data_matches_payer_totals():
    run = ledger_run()
    recs = reconcile(run)
    assert all(r.balanced for r in recs)
    for r, (pid, entitled, previous, due) in zip(recs, run.payer_totals.iter_rows()):
        assert (r.payer_id, r.carried_forward, r.brought_forward, r.due) == (pid, entitled, previous, due)


def test_a_run_that_does_not_reconcile_says_so():
    run = ledger_run()
    bad = run.payer_totals.with_columns(
        entitled=pl.when(pl.col("payer_id") == "KC").then(pl.col("entitled") + 1).otherwise(pl.col("entitled"))
    )
    out = render(dataclasses.replace(run, payer_totals=bad), [])
    assert "Payer KC does not reconcile" in out
    assert "difference -£0.01" in out
    assert "Payer LCF does not reconcile" not in out


# --- consoles ----------------------------------------------------------------


def test_consoles_follow_no_color_and_piping(monkeypatch):
    out, err = make_consoles(no_color=True)
    assert out.no_color and err.no_color and err.stderr and not out.stderr
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_consoles()[0].no_color
    monkeypatch.delenv("NO_COLOR")
    assert not make_consoles()[0].no_color
    # under pytest the streams are not terminals: no colour, no progress
    out, err = make_consoles()
    assert out.color_system is None
    assert not progress_enabled(err)


def test_progress_needs_a_real_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    assert progress_enabled(Console(force_terminal=True))
    assert not progress_enabled(Console(force_terminal=True, quiet=True))
    assert not progress_enabled(Console(force_terminal=False))
    monkeypatch.setenv("TERM", "dumb")
    assert not progress_enabled(Console(force_terminal=True))
    monkeypatch.setenv("TTY_INTERACTIVE", "1")  # forced interactive, still a dumb terminal
    assert not progress_enabled(Console(force_terminal=True))


def test_print_plain_does_not_interpret_markup():
    console = Console(record=True, width=40, color_system=None)
    print_plain(console, "claims.csv:2:1: BAD_DATE [bold]x[/bold] :smile: " + "y" * 60 + "\n")
    text = console.export_text()
    assert text == "claims.csv:2:1: BAD_DATE [bold]x[/bold] :smile: " + "y" * 60 + "\n"


def test_rows_naming_no_known_outcome_get_their_own_line_and_the_columns_still_add_up():
    """Under --reject-invalid an unknown outcome's rows are rejected; the view keeps them visible."""
    c = contract([Outcome("A", price=50000)], payers=PAYERS)
    cl = claims([("1", "p1", "A", "2020-02-01"), ("2", "p1", "NOPE", "2020-02-02"), ("3", "p2", "NOPE", "2020-02-03")])
    cl = cl.with_columns(error=pl.when(pl.col("outcome_id") == "NOPE").then(pl.lit("UNKNOWN_OUTCOME")))
    out = render(pay_quarter(c, cl, None, None, Quarter(2020, 1)))
    assert row_of(out, "(other)") == ["(other)", "outcome not in the contract", "2", "0", "£0.00", "£0.00"]
    totals = [line for line in out.splitlines() if line.strip().startswith("Total ")]
    assert re.split(r"\s{2,}", totals[0].strip()) == ["Total", "3", "1", "£500.00", "£500.00"]


def test_contract_cap_cut_and_invoiced_amounts_of_rejected_rows():
    """The contract cap's cut and the invoiced amount of rejections come from the grouped table."""
    c = contract([Outcome("A", price=50000)], payers=PAYERS, caps=Caps(total=80000))
    cl = claims([("1", "p1", "A", "2020-02-01"), ("2", "p2", "A", "2020-02-02"),
                 ("3", "p3", "A", "2020-02-03", "", "withdrawn"), ("4", "p4", "A", "2020-02-04", "", "failed")])
    cl = cl.with_columns(amount_claimed=pl.Series([50000, 50000, 12345, 100], dtype=pl.Int64))
    out = render(pay_quarter(c, cl, None, None, Quarter(2020, 1), amount_claimed=True))
    # claim 2 is cut from 500.00 to the 300.00 left under the 800.00 total
    assert row_of(out, "Contract total") == ["Contract total", "£800.00", "£800.00", "£0.00", "£200.00"]
    assert row_of(out, "WITHDRAWN") == ["WITHDRAWN", "2", "£0.00", "£0.00", "£124.45"]


def _at_80(outcome_id: str, price: int) -> str:
    c = contract([Outcome(outcome_id, name="Twenty-six weeks of sustained employment after entry", price=price)],
                 payers=PAYERS)
    run = pay_quarter(c, claims([("1", "p1", outcome_id, "2020-02-01")]), None, None, Quarter(2020, 1))
    console = Console(record=True, width=80, color_system=None)
    render_pay(run, FILES, console)
    out = console.export_text()
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    return out


def test_names_fold_before_ids_give_way_at_80_columns():
    out = _at_80("SUSTAINED_EMPLOYMENT", 12345)
    assert re.search(r"^\s+SUSTAINED_EMPLOYMENT\s+Twenty-six\s", out, re.MULTILINE)  # the id whole on its line
    assert re.search(r"^\s+sustained\s*$", out, re.MULTILINE)  # the name folded between words


def test_an_id_too_long_to_fit_is_cut_on_one_line_and_amounts_stay_whole():
    out = _at_80("SUSTAINED_EMPLOYMENT_TWENTY_SIX_WEEKS", 123456789)
    assert re.search(r"^\s+SUSTAINED_\S*…\s", out, re.MULTILINE)
    assert "TWENTY_SIX_WEEKS" not in out  # never its tail on a line of its own
    assert row_of(out, "Total ")[-2:] == ["£1,234,567.89", "£1,234,567.89"]
