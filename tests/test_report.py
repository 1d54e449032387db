"""``sob report``: the contract report from the ledger, as JSON and as HTML rendered in real headless Chromium."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from decimal import Decimal
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_helpers import (
    ACC_PROFILE,
    DWP_QUARTERS,
    KIRKLEES_QUARTERS,
    WB1_PROFILE,
    close_all,
    ledger_figures,
    read_rows,
    sample_copy,
    sob,
    sob_subprocess,
)

from sob.report.html import amount

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs the Debian package)")


def _report(contract: Path, ledger: Path, *extra: str | Path) -> dict[str, Any]:
    result = sob("report", contract, "--ledger", ledger, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def kirklees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Kirklees (with profiles) closed over five quarters; its report as JSON and HTML (the real program)."""
    tmp = tmp_path_factory.mktemp("kirklees")
    contract = sample_copy(tmp, "kirklees-bop", profile=True)
    ledger = tmp / "ledger"
    close_all(contract, ledger, KIRKLEES_QUARTERS)
    out = tmp / "report.html"
    result = sob("report", contract, "--ledger", ledger, "--out", out)
    assert result.exit_code == 0, result.output
    return {"tmp": tmp, "contract": contract, "ledger": ledger, "json": _report(contract, ledger), "html": out,
            "ledger_figures": ledger_figures(ledger, "kirklees-bop", KIRKLEES_QUARTERS, ["KC", "LCF"])}


@pytest.fixture(scope="module")
def dwp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dwp")
    contract = sample_copy(tmp, "dwp-innovation-fund")
    ledger = tmp / "ledger"
    close_all(contract, ledger, DWP_QUARTERS)
    out = tmp / "report.html"
    assert sob("report", contract, "--ledger", ledger, "--out", out).exit_code == 0
    return {"contract": contract, "ledger": ledger, "json": _report(contract, ledger), "html": out,
            "ledger_figures": ledger_figures(ledger, "dwp-innovation-fund", DWP_QUARTERS, ["DWP"])}


#: Kirklees closed through fiscal 2020 (its three COVID adjustments, SPEC 10.6), then 2022-Q1 with --allow-gap
#: (2021 skipped, SPEC 10.4), when the total cap's second entry (from 2022-04-01, SPEC 10.5) is in force
LIFE_QUARTERS = ["2019-Q2", "2019-Q3", "2019-Q4", "2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4", "2022-Q1"]
#: the published COVID payments (the sample's [[adjustments]]), paid in the fiscal quarter each is dated in
COVID = {"2020-Q1": ("COVID-PROFILE-2020-Q1", "971234.00", "April-June 2020"),
         "2020-Q2": ("COVID-PROFILE-2020-Q2", "1136486.00", "July-September 2020"),
         "2020-Q3": ("COVID-PROFILE-2020-Q3", "1194738.00", "October-December 2020")}


@pytest.fixture(scope="module")
def kirklees_life(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real closes only (no hand-made manifest): adjustments, a skipped year and a dated total cap."""
    tmp = tmp_path_factory.mktemp("kirklees-life")
    contract = sample_copy(tmp, "kirklees-bop")
    ledger = tmp / "ledger"
    close_all(contract, ledger, LIFE_QUARTERS[:-1])
    result = sob("pay", contract, "--quarter", LIFE_QUARTERS[-1], "--ledger", ledger, "--close", "--allow-gap",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    out = tmp / "report.html"
    assert sob("report", contract, "--ledger", ledger, "--out", out).exit_code == 0
    return {"contract": contract, "ledger": ledger, "json": _report(contract, ledger), "html": out,
            "ledger_figures": ledger_figures(ledger, "kirklees-bop", LIFE_QUARTERS, ["KC", "LCF"])}


def test_the_real_program_writes_the_same_page_byte_for_byte(kirklees: dict[str, Any], tmp_path: Path) -> None:
    """`sob report` in a new process; the page depends only on the ledger, so it is reproducible."""
    out = tmp_path / "again.html"
    result = sob_subprocess("report", kirklees["contract"], "--ledger", kirklees["ledger"], "--out", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stderr
    assert out.read_bytes() == kirklees["html"].read_bytes()


@pytest.mark.parametrize("sample", ["kirklees", "dwp", "kirklees_life"])
def test_json_and_html_agree_with_the_ledger_to_the_penny(sample: str, request: pytest.FixtureRequest) -> None:
    s = request.getfixturevalue(sample)
    data, figures = s["json"], s["ledger_figures"]["quarters"]
    html = s["html"].read_text(encoding="utf-8")
    last = list(figures)[-1]
    assert Decimal(data["headline"]["paid_to_date"]) == figures[last]["paid_to_date"]
    for p in data["headline"]["paid_to_date_by_payer"]:
        assert Decimal(p["paid_to_date"]) == figures[last]["paid_by"][p["payer_id"]]
        assert amount(p["paid_to_date"]) in html
    assert data["headline"]["participants_paid"] == figures[last]["participants"]
    assert data["headline"]["outcomes_achieved"] == sum(figures[last]["accepted"].values())
    assert [q["quarter"] for q in data["quarters"]] == list(figures)
    for q in data["quarters"]:
        f = figures[q["quarter"]]
        assert Decimal(q["due"]) == f["due"]
        assert Decimal(q["paid_to_date"]) == f["paid_to_date"]
        assert {k: Decimal(v) for k, v in q["due_by_payer"].items()} == f["by_payer"]
        for o in q["by_outcome"]:
            assert Decimal(o["due"]) == f["by_outcome"].get(o["outcome_id"], Decimal(0))
            assert o["accepted_to_date"] == f["accepted"].get(o["outcome_id"], 0)
        assert q["claims"] == f["rows"]
        # the page shows the same strings
        assert f"<td class='n'>{amount(q['due'])}</td><td class='n'>{amount(q['paid_to_date'])}</td>" in html
    for r in data["rejections"]["quarters"]:
        assert {k: v for k, v in r["by_reason"].items() if v} == figures[r["quarter"]]["reasons"]


def test_new_accepted_outcomes_are_the_rise_of_accepted_between_closes(kirklees: dict[str, Any]) -> None:
    figures = kirklees["ledger_figures"]["quarters"]
    quarters = list(figures)
    for i, q in enumerate(kirklees["json"]["quarters"]):
        for o in q["by_outcome"]:
            before = figures[quarters[i - 1]]["accepted"].get(o["outcome_id"], 0) if i else 0
            assert o["new_accepted"] == figures[q["quarter"]]["accepted"].get(o["outcome_id"], 0) - before


def test_actual_against_profile_is_cumulative_with_the_variance_percent(kirklees: dict[str, Any]) -> None:
    profile = {p["outcome_id"]: p for p in kirklees["json"]["profile"]}
    assert set(profile) == {"WB_1", "ACC_ENTRY"}
    figures = kirklees["ledger_figures"]["quarters"]
    for oid, plan in (("WB_1", WB1_PROFILE), ("ACC_ENTRY", ACC_PROFILE)):
        for row in profile[oid]["quarters"]:
            expected = sum(n for q, n in plan.items() if q <= row["quarter"])
            actual = figures[row["quarter"]]["accepted"].get(oid, 0)
            assert (row["profile_to_date"], row["actual_to_date"]) == (expected, actual)
            if expected:
                exact = Fraction(actual - expected, expected) * 100
                assert abs(Decimal(row["variance_percent"]) - Decimal(exact.numerator) / exact.denominator) <= Decimal("0.05")
            else:
                assert row["variance_percent"] is None
    # 2019-Q2 has no profile yet; 2020-Q2 has the whole WB_1 plan of 140
    wb1 = profile["WB_1"]["quarters"]
    assert wb1[0]["profile_to_date"] == 0 and wb1[-1]["profile_to_date"] == 140


def test_cap_burn_down_uses_the_recorded_limit_and_projects_at_the_last_four_quarters_pace(kirklees: dict[str, Any]) -> None:
    cap = next(c for c in kirklees["json"]["caps"] if c["cap"] == "total")
    figures = kirklees["ledger_figures"]["quarters"]
    paid = [f["paid_to_date"] for f in figures.values()]
    limit = Decimal("22297917.00")
    assert Decimal(cap["limit"]) == limit and Decimal(cap["used"]) == paid[-1]
    assert Decimal(cap["headroom"]) == limit - paid[-1]
    pace = (paid[-1] - paid[-5]) / 4  # by hand: the rise over the last four quarters, a quarter at a time
    assert Decimal(cap["projection"]["pace_per_quarter"]) == pace.quantize(Decimal("0.01"))
    ahead = int(-((paid[-1] - limit) // pace)) + (1 if (limit - paid[-1]) % pace else 0)
    assert cap["projection"]["quarters_ahead"] == ahead
    year, n = 2020, 2 + ahead  # from 2020-Q2
    year, n = year + (n - 1) // 4, (n - 1) % 4 + 1
    assert cap["projection"]["binds_in"] == f"{year}-Q{n}"
    assert "naive" in cap["projection"]["basis"]


def test_rejections_carry_their_meaning(kirklees: dict[str, Any]) -> None:
    reasons = kirklees["json"]["rejections"]["reasons"]
    assert reasons and all(r["meaning"] for r in reasons)
    html = kirklees["html"].read_text(encoding="utf-8")
    for r in reasons:
        assert r["meaning"].replace("'", "&#x27;") in html


def test_quarter_limits_the_report_and_a_quarter_not_closed_is_an_error(kirklees: dict[str, Any]) -> None:
    data = _report(kirklees["contract"], kirklees["ledger"], "--quarter", "2019-Q4")
    assert [q["quarter"] for q in data["quarters"]] == ["2019-Q2", "2019-Q3", "2019-Q4"]
    assert Decimal(data["headline"]["paid_to_date"]) == kirklees["ledger_figures"]["quarters"]["2019-Q4"]["paid_to_date"]
    result = sob("report", kirklees["contract"], "--ledger", kirklees["ledger"], "--quarter", "2018-Q1",
                 "--format", "json")
    assert result.exit_code == 1 and "no closed quarter" in result.output


def test_command_line_errors_exit_2_and_write_nothing(kirklees: dict[str, Any], tmp_path: Path) -> None:
    c, ledger = kirklees["contract"], kirklees["ledger"]
    assert sob("report", c, "--ledger", ledger).exit_code == 2  # html needs --out
    assert sob("report", c, "--ledger", tmp_path / "nope", "--format", "json").exit_code == 2
    assert sob("report", c, "--ledger", ledger, "--out", tmp_path / "r.docx").exit_code == 2
    assert sob("report", c, "--ledger", ledger, "--quarter", "2020Q9", "--out", tmp_path / "r.html").exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_ledger_is_refused(kirklees: dict[str, Any], tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    shutil.copytree(kirklees["ledger"], ledger)
    table = ledger / "kirklees-bop" / "2019-Q4.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",100.00,", ",900.00,", 1), encoding="utf-8")
    result = sob("report", kirklees["contract"], "--ledger", ledger, "--format", "json")
    assert result.exit_code == 1, result.output
    assert "2019-Q4" in result.output


def test_life_events_from_a_hand_made_manifest_are_shown(kirklees: dict[str, Any], tmp_path: Path) -> None:
    """A contract change, a skipped quarter and an adjustment row, written into a copy of the ledger as a close would.

    The copy is re-hashed the way ``sob ledger verify`` expects, so the
    report reads it as a sound ledger.
    """
    import hashlib

    ledger = tmp_path / "ledger"
    shutil.copytree(kirklees["ledger"], ledger)
    cdir = ledger / "kirklees-bop"
    last = cdir / "2020-Q2.csv"
    lines = last.read_text(encoding="utf-8").splitlines()
    cols = lines[0].split(",")
    has_note = "note" in cols  # a close writes `note` whenever the contract has adjustments (SPEC 10.6)
    head = lines[0] if has_note else lines[0] + ",note"
    adj = dict.fromkeys(cols, "")
    adj.update({"claim_id": "ADJ-1", "kind": "adjustment", "achieved_on": "2020-08-01", "submitted_on": "2020-08-01",
                "status": "paid", "reason": "ADJUSTMENT", "price": "1000.00", "entitled": "1000.00",
                "previously_paid": "0.00", "due": "1000.00", "due_KC": "704.00", "due_LCF": "296.00"})
    if has_note:
        adj["note"] = "payment on profile"
        body = [*lines[1:], ",".join(adj[c] for c in cols)]
    else:
        body = [line + "," for line in lines[1:]] + [",".join(adj[c] for c in cols) + ",payment on profile"]
    data = ("\n".join([head, *body]) + "\n").encode()
    last.write_bytes(data)
    manifest = cdir / "2020-Q2.toml"
    text = manifest.read_text(encoding="utf-8")
    totals = {k: Decimal(v) for k, v in re.findall(r'^(entitled|due|due_KC|due_LCF) = "([-0-9.]+)"', text, re.M)}
    for key, extra in (("entitled", "1000.00"), ("due", "1000.00"), ("due_KC", "704.00"), ("due_LCF", "296.00")):
        text = re.sub(rf'^{key} = "[-0-9.]+"', f'{key} = "{totals[key] + Decimal(extra)}"', text, flags=re.M)
    text = re.sub(r"^claims = (\d+)", lambda m: f"claims = {int(m.group(1)) + 1}", text, flags=re.M)
    text = re.sub(r'^table = "[0-9a-f]+"', f'table = "{hashlib.sha256(data).hexdigest()}"', text, flags=re.M)
    text = text.replace("[totals]", 'skipped = ["2020-Q1"]\n\n[contract_change]\nsince = "2020-Q1"\n'
                        f'previous_contract_sha256 = "{"ab" * 32}"\nrestated_rows = 2\nrestated_amount = "-50.00"\n\n[totals]')
    manifest.write_text(text, encoding="utf-8")
    data_json = _report(kirklees["contract"], ledger)
    added = [a for a in data_json["adjustments"] if a["id"] == "ADJ-1"]
    assert added == [{"quarter": "2020-Q2", "id": "ADJ-1", "reason": "payment on profile",
                      "entitled": "1000.00", "due": "1000.00"}]
    assert data_json["contract_changes"][0]["restated_rows"] == 2
    assert data_json["skipped"] == [{"quarter": "2020-Q2", "skipped": ["2020-Q1"]}]
    before = Decimal(kirklees["json"]["headline"]["paid_to_date"])
    assert Decimal(data_json["headline"]["paid_to_date"]) == before + Decimal("1000.00")
    assert data_json["headline"]["outcomes_achieved"] == kirklees["json"]["headline"]["outcomes_achieved"]
    out = tmp_path / "r.html"
    assert sob("report", kirklees["contract"], "--ledger", ledger, "--out", out).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "ADJ-1" in html and "payment on profile" in html and "2020-Q1" in html and "-50.00" in html


def test_covid_adjustments_from_real_closes_are_listed_once_in_the_quarter_that_paid_them(
        kirklees_life: dict[str, Any]) -> None:
    data = kirklees_life["json"]
    got = [(a["quarter"], a["id"], a["due"]) for a in data["adjustments"]]
    assert got == [(q, ident, amt) for q, (ident, amt, _) in COVID.items()]
    for a in data["adjustments"]:
        assert a["reason"].startswith(f"COVID-19 payment on profile, {COVID[a['quarter']][2]}")
    by_quarter = {q["quarter"]: q["adjustments_due"] for q in data["quarters"]}
    assert by_quarter == {q: COVID[q][1] if q in COVID else "0.00" for q in LIFE_QUARTERS}
    # paid to date = every claim's due + the three payments: the ledger's rows of kind adjustment, read by hand
    rows = read_rows(kirklees_life["ledger"] / "kirklees-bop" / "2022-Q1.csv")
    adjustments = {r["claim_id"]: Decimal(r["entitled"]) for r in rows if r["kind"] == "adjustment"}
    assert adjustments == {ident: Decimal(amt) for ident, amt, _ in COVID.values()}
    assert sum(adjustments.values()) == Decimal("3302458.00")  # 971,234 + 1,136,486 + 1,194,738
    html = kirklees_life["html"].read_text(encoding="utf-8")
    for ident, amt, months in COVID.values():
        assert re.search(rf"<td>{ident}</td><td>COVID-19 payment on profile, {months}[^<]*</td>"
                         rf"<td class='n'>{re.escape(amount(amt))}</td>", html), ident


def test_a_dated_total_cap_and_skipped_quarters_from_real_closes(kirklees_life: dict[str, Any]) -> None:
    """SPEC 10.5: each close records the limit in force at its quarter's end; SPEC 10.4: the gap is shown."""
    data = kirklees_life["json"]
    cap = next(c for c in data["caps"] if c["cap"] == "total")
    limits = [q["limit"] for q in cap["quarters"]]
    assert limits == ["22297917.00"] * 7 + ["22553795.00"]  # fiscal 2022-Q1 (April-June 2022) has the raised cap
    assert data["headline"]["contract_cap"] == "22553795.00"
    paid = {q: f["paid_to_date"] for q, f in kirklees_life["ledger_figures"]["quarters"].items()}
    exact = Fraction(paid["2022-Q1"]) * 100 / 22553795
    assert abs(Decimal(data["headline"]["contract_cap_used_percent"]) - Decimal(float(exact))) <= Decimal("0.05")
    assert data["skipped"] == [{"quarter": "2022-Q1", "skipped": ["2021-Q1", "2021-Q2", "2021-Q3", "2021-Q4"]}]
    # the pace runs over the last four closes, 2020-Q1 to 2022-Q1: eight quarters of time, not four
    pace = (paid["2022-Q1"] - paid["2020-Q1"]) / 8
    assert Decimal(cap["projection"]["pace_per_quarter"]) == pace.quantize(Decimal("0.01"))
    html = kirklees_life["html"].read_text(encoding="utf-8")
    assert "2021-Q1, 2021-Q2, 2021-Q3, 2021-Q4" in html and "22,553,795.00" in html


def test_quarter_labels_on_a_chart_axis_never_overlap_and_the_last_is_shown() -> None:
    from sob.report import charts

    labels = [f"{2019 + i // 4}-Q{i % 4 + 1}" for i in range(16)]  # 8 closes and 8 projected, as on the burn-down
    svg = charts.lines("c", "t", labels, [("used", [float(i) for i in range(16)])], "%")
    axis = re.findall(r'<text x="([0-9.]+)" y="[0-9.]+" font-size="11" text-anchor="middle">(\d{4}-Q\d)</text>', svg)
    xs = [float(x) for x, _ in axis]
    assert axis[-1][1] == labels[-1]
    # "2022-Q4" at 11px is about 45px wide: centres at least 50px apart never print over each other
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 50, axis


# --------------------------------------------------------------------------
# the page as a person sees it: real headless Chromium


class _Svgs(HTMLParser):
    """Chart SVGs of a page (by id) and how many drawn shapes each holds; any script or external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.current: str | None = None
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href", "xlink:href"):
            if a.get(key):
                self.external.append(str(a[key]))
        if tag == "svg" and (a.get("class") or "") == "chart":
            self.current = str(a.get("id"))
            self.charts[self.current] = 0
        elif self.current and tag in ("rect", "polyline", "circle"):
            self.charts[self.current] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def _chromium(*args: str | Path, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND",
                           *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _console(stderr: str) -> list[str]:
    """Console messages and blocked loads that Chromium logged for the page."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Refused" in line or "net::ERR" in line]


@needs_chromium
def test_the_console_check_can_fail(tmp_path: Path) -> None:
    """A page that loads from the network and logs an error is caught: the checks below mean something."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' content=\"default-src "
                   "'none'\"></head><body><img src='http://example.invalid/x.png'></body></html>", encoding="utf-8")
    result = _chromium("--dump-dom", bad.as_uri())
    assert _console(result.stderr)


@needs_chromium
def test_chromium_renders_the_report_with_no_console_message_and_every_chart(kirklees: dict[str, Any]) -> None:
    result = _chromium("--dump-dom", kirklees["html"].as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console(result.stderr) == []
    dom = _Svgs()
    dom.feed(result.stdout)  # the DOM after Chromium parsed and laid out the page
    assert dom.scripts == 0 and dom.external == []
    expected = {"chart-money", "chart-claims", "chart-caps", "chart-rejections", "chart-profile-WB_1",
                "chart-profile-ACC_ENTRY"}
    assert set(dom.charts) == expected
    assert all(n > 3 for n in dom.charts.values()), dom.charts
    text = kirklees["html"].read_text(encoding="utf-8")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text


@needs_chromium
def test_chromium_prints_the_report_to_a_landscape_a4_pdf(kirklees: dict[str, Any], tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf", reason="pypdf is in the test extra")
    pdf = tmp_path / "report.pdf"
    result = _chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", kirklees["html"].as_uri())
    assert result.returncode == 0 and _console(result.stderr) == [], result.stderr[-2000:]
    pages = pypdf.PdfReader(pdf).pages
    _check_pages(pages)


def _check_pages(pages: Any) -> None:
    # six sections, each from a new page (print CSS); the two wide ones may run onto a second page
    assert 6 <= len(pages) <= 10, len(pages)
    for page in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width > height  # landscape
        assert abs(width - 842) < 3 and abs(height - 595) < 3  # A4 in points


@needs_chromium
def test_chromium_takes_a_screenshot_of_the_report(kirklees: dict[str, Any], tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    result = _chromium(f"--screenshot={png}", "--window-size=1280,2400", "--hide-scrollbars", kirklees["html"].as_uri())
    assert result.returncode == 0 and _console(result.stderr) == []
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_pdf_needs_the_extra_or_says_how_to_get_it(kirklees: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = sob("report", kirklees["contract"], "--ledger", kirklees["ledger"], "--out", out, "--pdf")
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        assert result.exit_code == 2 and "sob[pdf]" in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    pypdf = pytest.importorskip("pypdf")
    import io

    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)


def test_outcome_and_payer_caps_burn_down_from_real_closes(tmp_path: Path) -> None:
    """An outcome money cap (SPEC 5) and a payer cap (SPEC 11.1) on the DWP card: each close's use, by hand."""
    contract = sample_copy(tmp_path, "dwp-innovation-fund")
    text = contract.read_text(encoding="utf-8")
    text = text.replace('share = 1.0 ', 'cap = 90000.00\nshare = 1.0 ', 1)
    text = text.replace('price = 1300.00 ', 'amount_cap = 20000.00\nprice = 1300.00 ', 1)
    contract.write_text(text, encoding="utf-8")
    ledger = tmp_path / "ledger"
    close_all(contract, ledger, DWP_QUARTERS)
    data = _report(contract, ledger)
    caps = {c["cap"]: c for c in data["caps"]}
    assert {"outcome_BEHAVIOUR", "payer_DWP"} <= set(caps)
    behaviour = payer = Decimal(0)
    for i, q in enumerate(DWP_QUARTERS):  # running sums of the closed tables' dues, read with csv
        rows = read_rows(ledger / "dwp-innovation-fund" / f"{q}.csv")
        behaviour += sum((Decimal(r["due"]) for r in rows if r["outcome_id"] == "BEHAVIOUR"), Decimal(0))
        payer += sum((Decimal(r["due_DWP"]) for r in rows), Decimal(0))
        assert caps["outcome_BEHAVIOUR"]["quarters"][i] == {
            "quarter": q, "limit": "20000.00", "used": f"{behaviour:.2f}",
            "used_percent": f"{(behaviour * 100 / 20000).quantize(Decimal('0.1'), 'ROUND_HALF_UP')}"}
        assert (caps["payer_DWP"]["quarters"][i]["limit"], caps["payer_DWP"]["quarters"][i]["used"]) == (
            "90000.00", f"{payer:.2f}")
    assert behaviour <= 20000 and payer <= 90000  # never over a cap
    assert payer == 90000 and caps["payer_DWP"]["projection"]["binds_in"] == "already reached"  # the card needs more
    page = tmp_path / "r.html"
    assert sob("report", contract, "--ledger", ledger, "--out", page).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "outcome_BEHAVIOUR" in html and "payer_DWP" in html and amount(f"{behaviour:.2f}") in html


def test_volume_caps_burn_down_counts_accepted_claims_from_real_closes(tmp_path: Path) -> None:
    """Pan-London rough sleeping: every outcome has a volume_cap (320; WELLBEING 960), ACC_ENTRY's binds."""
    contract = sample_copy(tmp_path, "london-rough-sleeping")
    ledger = tmp_path / "ledger"
    quarters = ["2017-Q2", "2017-Q3", "2017-Q4", "2018-Q1"]
    close_all(contract, ledger, quarters)
    data = _report(contract, ledger)
    caps = {c["outcome_id"]: c for c in data["volume_caps"]}
    accepted: dict[str, list[int]] = {}
    for q in quarters:  # accepted rows of each closed table, by hand: passed rules 1-10 (not rejected, not VOLUME_CAP)
        counts: dict[str, int] = {}
        for r in read_rows(ledger / "london-rough-sleeping" / f"{q}.csv"):
            ok = r["status"] in ("paid", "partial") or (r["status"] == "capped" and r["reason"] != "VOLUME_CAP")
            counts[r["outcome_id"]] = counts.get(r["outcome_id"], 0) + ok
        for oid in caps:
            accepted.setdefault(oid, []).append(counts.get(oid, 0))
    assert set(caps) == set(accepted) and len(caps) == 18
    for oid, cap in caps.items():
        limit = 960 if oid == "WELLBEING" else 320
        assert [(p["quarter"], p["limit"], p["used"]) for p in cap["quarters"]] == [
            (q, limit, n) for q, n in zip(quarters, accepted[oid], strict=True)]
        assert max(accepted[oid]) <= limit  # never more accepted than the cap
    entry = caps["ACC_ENTRY"]
    assert entry["used"] == 320 and entry["headroom"] == 0 and entry["projection"]["binds_in"] == "already reached"
    wb = accepted["WELLBEING"]
    pace = Fraction(wb[-1] - wb[0], 3)  # three quarters from 2017-Q2 to 2018-Q1
    assert Decimal(caps["WELLBEING"]["projection"]["pace_per_quarter"]) == (
        Decimal(pace.numerator) / pace.denominator).quantize(Decimal("0.1"), "ROUND_HALF_UP")
    page = tmp_path / "r.html"
    assert sob("report", contract, "--ledger", ledger, "--out", page).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert 'id="chart-volume-caps"' in html and "<td>volume_ACC_ENTRY</td><td class='n'>320</td>" in html
