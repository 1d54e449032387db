"""The engine against the oracle, through real files and the real readers.

``test_engine_properties`` compares the engine with ``tests/oracle.py`` on
frames it builds itself; here every case is written to disk first — the
contract as TOML, the evidence as CSV and as Parquet — and read back by the
readers ``sob pay`` uses (``load_contract``, ``read_evidence``), so the
engine sees the dtypes the readers produce (Enum outcome ids and statuses,
Categorical codes).  Some cases go through the whole command (``sob pay
--format json --export``) in process.  Every row's status, reason, price,
entitled, previously paid, due and per-payer due, and every total, must equal
the oracle's exactly.

The cap matrix enumerates every combination of the four caps with
``partial`` true and false and one or two payers, on a fixed case in which
each cap binds, so no combination is left to chance.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import oracle
import polars as pl
import pytest
import tomli_w
from conftest import load, write_claims, write_results, write_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_properties import random_case
from typer.testing import CliRunner

from sob.cli import app
from sob.contract import Adjustment, Contract, Outcome
from sob.contract.model import AgeBand, Scale, Step, Tier
from sob.evidence import read_evidence
from sob.payrun import pay_quarter
from sob.quarters import Quarter

START = date(2020, 1, 1)

# --------------------------------------------------------------------------------------
# Writing a case to disk
# --------------------------------------------------------------------------------------


def _money(minor: int) -> str:
    """Minor units as the contract writes money: a decimal string in pounds."""
    return f"{'-' if minor < 0 else ''}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _decimal(value: Decimal) -> int | float:
    """A TOML number that reads back as exactly ``value`` (floats go through their shortest repr)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _share(value: Decimal | Fraction) -> int | float | str:
    """A share as a contract writes it: a fraction ``"p/q"`` stays one (SPEC 11.2), a decimal a TOML number."""
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return _decimal(value)


def _cap(plain: int | None, schedule: tuple, key: str = "amount") -> Any:
    """A cap as the contract writes it: a schedule of ``{ from, amount|count }`` when it has one (SPEC 10.5)."""
    if schedule:
        return [{"from": p.start, key: _money(p.limit) if key == "amount" else p.limit} for p in schedule]
    return plain if plain is None or key == "count" else _money(plain)


def _outcome_doc(o: Outcome) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": o.id}
    if o.kind == "improvement":
        doc |= {"kind": "improvement", "direction": o.direction}
        if o.steps:  # SPEC 11.3: steps take no threshold or deadweight
            doc["steps"] = [{"at": _decimal(s.at), "amount": _money(s.amount)} for s in o.steps]
        else:
            doc |= {"min_improvement": _decimal(o.min_improvement), "deadweight": _decimal(o.deadweight)}
        if o.scale is not None:
            doc["scale"] = {"zero_at": _decimal(o.scale.zero_at), "full_at": _decimal(o.scale.full_at)}
        if o.net_of:
            doc["net_of"] = list(o.net_of)
    else:
        doc |= {"max_claims": o.max_claims}
        optional = {"window_days": o.window_days, "exclusive": o.exclusive,
                    "volume_cap": _cap(o.volume_cap, o.volume_cap_schedule, "count"),
                    "cohorts": list(o.cohorts) if o.cohorts is not None else None}
        doc |= {k: v for k, v in optional.items() if v is not None}
        if o.requires:
            doc["requires"] = [{"outcome": r.outcome, "min_days": r.min_days} for r in o.requires]
        if o.tiers:
            doc["tiers"] = [{"price": _money(t.price)} | ({} if t.up_to is None else {"up_to": t.up_to})
                            for t in o.tiers]
        if o.scale is not None:  # SPEC 11.4 on a claim outcome
            doc["scale"] = {"zero_at": str(o.scale.zero_at), "full_at": str(o.scale.full_at)}
        if o.age_at_enrolment is not None:  # SPEC 11.5
            band = o.age_at_enrolment
            doc["age_at_enrolment"] = {k: v for k, v in (("min", band.min), ("max", band.max)) if v is not None}
    if o.price is not None:
        doc["price"] = _money(o.price)
    if o.prices:
        doc["prices"] = [{"from": p.start, "price": _money(p.price)} for p in o.prices]
    if o.amount_cap is not None:
        doc["amount_cap"] = _cap(o.amount_cap, o.amount_cap_schedule)
    if o.payers is not None:
        doc["payers"] = {pid: _share(share) for pid, share in o.payers}
    return doc


def contract_doc(c: Contract) -> dict[str, Any]:
    """The TOML document of a contract built in Python (``engine_helpers.contract``)."""
    head: dict[str, Any] = {"id": c.id, "name": c.name, "currency": c.currency, "start": c.start,
                            "outcomes_end": c.outcomes_end, "claims_end": c.claims_end,
                            "fiscal_year_start_month": c.fiscal_year_start_month}
    if c.referrals_end is not None:
        head["referrals_end"] = c.referrals_end
    caps: dict[str, Any] = {"partial": c.caps.partial}
    if c.caps.per_participant is not None:
        caps["per_participant"] = _cap(c.caps.per_participant, c.caps.per_participant_schedule)
    if c.caps.total is not None:
        caps["total"] = _cap(c.caps.total, c.caps.total_schedule)
    return {
        "schema": "sob/1",
        "contract": head,
        "payers": [{"id": p.id, "name": p.name, "share": _share(p.share), "on_cap": p.on_cap}
                   | ({} if p.cap is None else {"cap": _cap(p.cap, p.cap_schedule)}) for p in c.payers],
        "caps": caps,
        "outcomes": [_outcome_doc(o) for o in c.outcomes],
    } | ({"adjustments": [_adjustment_doc(a) for a in c.adjustments]} if c.adjustments else {})


def _adjustment_doc(a: Adjustment) -> dict[str, Any]:
    """An adjustment as a contract writes it (SPEC 10.6)."""
    doc: dict[str, Any] = {"id": a.id, "on": a.on, "amount": _money(a.amount), "reason": a.reason}
    if a.payers is not None:
        doc["payers"] = {pid: _share(share) for pid, share in a.payers}
    return doc


def with_adjustments(contract: Contract, seed: int) -> Contract:
    """``contract`` with one to three random adjustments (SPEC 10.6): signed amounts, some with their own split.

    Amounts are large next to the random prices and caps, so the total and
    payer caps' headrooms go below zero and come back, and dates fall before,
    inside and after the quarters compared.
    """
    r = random.Random(seed ^ 0x5EED)
    ids = contract.payer_ids
    adjustments = []
    for k in range(r.randint(1, 3)):
        amount = r.choice([-1, 1]) * r.choice([1, 333, 20000, 150000, 400000])
        payers = None
        if len(ids) > 1 and r.random() < 0.5:
            payers = ((ids[0], Fraction(1, 3)), (ids[1], Fraction(2, 3)))
        on = START + timedelta(days=r.randint(0, 500))
        adjustments.append(Adjustment(f"adj-{k}", min(on, contract.claims_end), amount, f"agreed payment {k}", payers))
    return replace(contract, adjustments=tuple(adjustments))


def _status_cell(status: str, r: random.Random) -> str | None:
    """The status as a provider may write it: empty for claimed, any letter case (SPEC 4.1)."""
    if status == "claimed" and r.random() < 0.5:
        return None
    return r.choice([status, status.upper(), status.title()])


def _padded(text: str, r: random.Random) -> str:
    """Cells are trimmed (SPEC 4): some get spaces around them."""
    return f" {text} " if r.random() < 0.1 else text


def _file_rows(claim_rows, reg_rows, result_rows, r: random.Random):
    """The rows as written: shuffled, default cells left empty, some letter case and spaces varied."""
    claims = [
        {"claim_id": c["id"], "participant_id": _padded(c["participant_id"], r), "outcome_id": c["outcome_id"],
         "achieved_on": c["achieved_on"],
         "submitted_on": None if c["submitted_on"] == c["achieved_on"] and r.random() < 0.5 else c["submitted_on"],
         "status": _status_cell(c["status"], r)} | ({"value": c["value"]} if "value" in c else {})
        for c in claim_rows
    ]
    register = None
    if reg_rows is not None:
        def eligible(flag: bool) -> str | None:
            if flag and r.random() < 0.3:
                return None  # default true
            return r.choice(["true", "yes", "1", "TRUE"] if flag else ["false", "no", "0", "No"])

        register = [{"participant_id": p["participant_id"], "enrolled_on": p["enrolled_on"],
                     "eligible": eligible(p["eligible"]), "cohort": p["cohort"]}
                    | ({"date_of_birth": p["date_of_birth"]} if "date_of_birth" in p else {}) for p in reg_rows]
    results = [
        {"result_id": x["id"], "outcome_id": x["outcome_id"], "cohort": x["cohort"], "achieved_on": x["achieved_on"],
         "submitted_on": x["submitted_on"], "baseline": x["baseline"], "observed": x["observed"],
         "units": None if x["units"] == "1" and r.random() < 0.5 else x["units"], "status": _status_cell(x["status"], r)}
        for x in result_rows
    ]
    for rows in (claims, register or [], results):
        r.shuffle(rows)
    return claims, register, results


_CLAIM_COLS = ("claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status")
_REG_COLS = ("participant_id", "enrolled_on", "eligible", "cohort")
_RESULT_COLS = ("result_id", "outcome_id", "cohort", "achieved_on", "submitted_on", "baseline", "observed", "units",
                "status")


def _parquet(path: Path, columns: tuple[str, ...], rows: list[dict]) -> Path:
    """A Parquet file with real Date and Boolean columns where the data has them."""
    schema = {c: pl.Date if c.endswith("_on") or c == "date_of_birth" else pl.String for c in columns}
    frame = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=schema, orient="row")
    if "eligible" in columns:  # a Boolean column; the words of the CSV file become true/false/null
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        frame = frame.with_columns(pl.col("eligible").str.to_lowercase().replace_strict(words, default=None,
                                                                                        return_dtype=pl.Boolean))
    frame.write_parquet(path)
    return path


def write_case(folder: Path, contract: Contract, claim_rows, reg_rows, result_rows, fmt: str, seed: int):
    """Write the contract (TOML) and the evidence (``fmt``: csv or parquet); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "contract.toml"
    path.write_text(tomli_w.dumps(contract_doc(contract)), encoding="utf-8")
    claims, register, results = _file_rows(claim_rows, reg_rows, result_rows, random.Random(seed))
    # the columns SPEC 11.4 and 11.5 add, when the case has them
    claim_cols = (*_CLAIM_COLS, "value") if any("value" in c for c in claims) else _CLAIM_COLS
    reg_cols = (*_REG_COLS, "date_of_birth") if any("date_of_birth" in p for p in register or []) else _REG_COLS
    if fmt == "csv":
        files = (write_claims(folder / "claims.csv", claims, claim_cols),
                 None if register is None else write_rows(folder / "participants.csv", reg_cols, register),
                 write_results(folder / "results.csv", results) if results else None)
    else:
        files = (_parquet(folder / "claims.parquet", claim_cols, claims),
                 None if register is None else _parquet(folder / "participants.parquet", reg_cols, register),
                 _parquet(folder / "results.parquet", _RESULT_COLS, results) if results else None)
    return path, files


# --------------------------------------------------------------------------------------
# Comparing with the oracle
# --------------------------------------------------------------------------------------


def _expected(contract: Contract, claim_rows, reg_rows, result_rows, quarter: str):
    fy = contract.fiscal_year_start_month
    as_at = oracle.quarter_end(quarter, fy)
    before = oracle.quarter_end(oracle.previous_quarter(quarter), fy)
    return oracle.pay(contract, claim_rows, reg_rows, result_rows, as_at, before)


def _table_rows(table: pl.DataFrame, payers: list[str]) -> tuple[list[str], dict[str, dict]]:
    cols = ["status", "reason", "price", "entitled", "previously_paid", "due"]
    out = {}
    for row in table.iter_rows(named=True):
        out[row["claim_id"]] = {c: row[c] for c in cols} | {"payers": {p: row[f"due_{p}"] for p in payers}}
    return table["claim_id"].to_list(), out


def assert_same_as_oracle(contract: Contract, expected, table: pl.DataFrame, payer_totals: dict) -> None:
    rows, order, totals = expected
    got_order, got = _table_rows(table, contract.payer_ids)
    assert got_order == order
    for rid in order:
        assert got[rid] == rows[rid], rid
    assert payer_totals == totals


def run_reader_path(path: Path, files, quarter: str):
    contract = load(path)
    evidence = read_evidence(contract, *files)
    assert evidence.ok and not evidence.findings, evidence.findings
    run = pay_quarter(contract, evidence.claims, evidence.participants, evidence.results, Quarter.parse(quarter),
                      carried=evidence.carried_columns, participant_rows=evidence.participant_rows)
    totals = {p: (e, q, d) for p, e, q, d in run.payer_totals.iter_rows()}
    return contract, run.table, totals


def _minor(text: str | None) -> int | None:
    return None if text is None or text == "" else int(Decimal(text) * 100)


def run_cli(path: Path, files, quarter: str, out: Path) -> tuple[dict, pl.DataFrame]:
    """``sob pay --format json --export`` in process: the JSON summary and the exported claim table."""
    args = ["pay", str(path), "--quarter", quarter, "--format", "json", "--export", str(out)]
    for flag, f in zip(("--claims", "--participants", "--results"), files):
        if f is not None:
            args += [flag, str(f)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    summary = json.loads(result.stdout)
    table = pl.read_csv(out, infer_schema=False)
    money = [c for c in table.columns if c in ("price", "entitled", "previously_paid", "due") or c.startswith("due_")]
    table = table.with_columns(pl.col(c).map_elements(_minor, return_dtype=pl.Int64) for c in money)
    return summary, table


def assert_cli_same_as_oracle(contract: Contract, expected, summary: dict, table: pl.DataFrame) -> None:
    rows = expected[0]
    by_payer = {p["payer_id"]: tuple(_minor(p[k]) for k in ("entitled", "previously_paid", "due"))
                for p in summary["by_payer"]}
    assert_same_as_oracle(contract, expected, table, by_payer)
    t = summary["totals"]
    assert t["claims"] == len(rows)
    for status in ("paid", "partial", "capped", "rejected"):
        assert t[status] == sum(1 for r in rows.values() if r["status"] == status), status
    for key in ("entitled", "previously_paid", "due"):
        assert _minor(t[key]) == sum(r[key] for r in rows.values()), key
    outcome_of = dict(table.select("claim_id", "outcome_id").iter_rows())
    for o in summary["by_outcome"]:
        mine = [r for rid, r in rows.items() if outcome_of[rid] == o["outcome_id"]]
        assert (o["claims"], _minor(o["entitled"]), _minor(o["due"])) == (
            len(mine), sum(r["entitled"] for r in mine), sum(r["due"] for r in mine)), o["outcome_id"]
    total = oracle.as_at_caps(contract, date.fromisoformat(summary["period"]["end"])).caps.total  # SPEC 10.5
    if total is not None:
        used = sum(r["entitled"] for r in rows.values())
        assert summary["caps"]["total"] == {"limit": _money(total), "used": _money(used),
                                            "headroom": _money(total - used)}


# --------------------------------------------------------------------------------------
# Random cases
# --------------------------------------------------------------------------------------

QUARTERS = ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4", "2021-Q1", "2021-Q2"]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS), fmt=st.sampled_from(["csv", "parquet"]))
def test_random_cases_through_the_readers_agree_with_the_oracle(tmp_path_factory, seed, quarter, fmt):
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, fmt, seed)
    loaded, table, totals = run_reader_path(path, files, quarter)
    assert_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), table, totals)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS), fmt=st.sampled_from(["csv", "parquet"]))
def test_random_cases_through_the_command_agree_with_the_oracle(tmp_path_factory, seed, quarter, fmt):
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, fmt, seed)
    loaded = load(path)
    summary, table = run_cli(path, files, quarter, folder / "table.csv")
    assert_cli_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), summary, table)


@SETTINGS
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS), fmt=st.sampled_from(["csv", "parquet"]))
def test_random_cases_with_adjustments_agree_with_the_oracle(tmp_path_factory, seed, quarter, fmt):
    """SPEC 10.6: adjustment rows in processing order, never cut, counted against the total and payer caps."""
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    contract = with_adjustments(contract, seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, fmt, seed)
    loaded, table, totals = run_reader_path(path, files, quarter)
    assert loaded.adjustments == tuple(replace(a, line=b.line) for a, b in zip(contract.adjustments,
                                                                                   loaded.adjustments, strict=True))
    assert_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), table, totals)


def random_case_with_results_mechanics(seed: int):
    """``random_case`` plus improvement outcomes with steps, a scale and netting (SPEC 11.3, 11.4, 11.6).

    Three outcomes are added to the random contract: ``S`` paying by steps,
    ``C`` on a sliding scale, and ``N`` a pooled payment net of some of the
    improvement outcomes (sometimes itself netted by ``M``), with results
    of each at thresholds, around them and in any processing order.
    """
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    r = random.Random(seed * 7 + 11)
    steps = (Step(Decimal("0.085"), r.choice([4800, 0])), Step(Decimal("0.1"), 6000), Step(Decimal("0.2"), 11712))
    s = Outcome("S", kind="improvement", direction="decrease", steps=steps, amount_cap=r.choice([None, 15000]))
    zero, full = r.choice([("0", "10"), ("5", "20"), ("0.5", "1.4"), ("-5", "5")])
    c = Outcome("C", kind="improvement", direction=r.choice(["decrease", "increase"]), price=r.choice([1999, 200]),
                scale=Scale(Decimal(zero), Decimal(full)), min_improvement=Decimal(r.choice(["0", "0.1"])),
                deadweight=Decimal(r.choice(["0", "0.33"])))
    earlier = [o.id for o in contract.outcomes if o.kind == "improvement"]
    listed = tuple(r.sample(["S", "C", *earlier], r.randint(1, 2 + len(earlier))))
    n = Outcome("N", kind="improvement", direction="decrease", price=r.choice([500, 2000]), net_of=listed,
                amount_cap=r.choice([None, None, 20000]))
    added = [s, c, n]
    if r.random() < 0.3:
        added.append(Outcome("M", kind="improvement", direction="decrease", price=700, net_of=("N", "S")))
    contract = Contract(**{**contract.__dict__, "outcomes": (*contract.outcomes, *added)})
    rows = list(result_rows)
    for o in added:
        for j in range(r.randint(1, 4)):
            ach = START + timedelta(days=r.randrange(-20, 460))
            rows.append({
                "id": f"r{o.id}{j}", "outcome_id": o.id, "cohort": r.choice(["k1", "k2", "all"]),
                "achieved_on": ach, "submitted_on": ach + timedelta(days=r.choice([0, 30, 90])),
                "baseline": "100", "observed": r.choice(["100", "95", "91.5", "91.6", "90", "80", "50", "110", "85"]),
                "units": "1" if o.steps else r.choice(["1", "3.5"]),
                "status": r.choice(["claimed"] * 6 + ["withdrawn"]),
            })
    return contract, claim_rows, reg_rows, rows


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS), fmt=st.sampled_from(["csv", "parquet"]))
def test_steps_scales_and_netting_through_the_readers_agree_with_the_oracle(tmp_path_factory, seed, quarter, fmt):
    contract, claim_rows, reg_rows, result_rows = random_case_with_results_mechanics(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, fmt, seed)
    loaded, table, totals = run_reader_path(path, files, quarter)
    assert loaded.outcome("N").net_of == contract.outcome("N").net_of
    assert_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), table, totals)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS[2:]))
def test_steps_scales_and_netting_through_the_command_agree_with_the_oracle(tmp_path_factory, seed, quarter):
    contract, claim_rows, reg_rows, result_rows = random_case_with_results_mechanics(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, "csv", seed)
    summary, table = run_cli(path, files, quarter, folder / "table.csv")
    loaded = load(path)
    assert_cli_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), summary, table)


def random_case_with_claim_mechanics(seed: int):
    """``random_case`` plus claim outcomes on a sliding scale and with age bands (SPEC 11.4, 11.5).

    ``SC`` pays on a scale (increasing or decreasing, flat or tiered), ``AG``
    only for some ages at enrolment; claims of them have values at, around
    and past the scale's ends, and participants birthdays on 29 February,
    on the enrolment day, or none.  ``AG`` needs the register, so it is added
    only to cases that have one.
    """
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    r = random.Random(seed * 13 + 5)
    zero, full = r.choice([("0.5", "1.4"), ("10", "4"), ("-1", "1"), ("0", "0.003")])
    tiered = r.random() < 0.3
    sc = Outcome("SC", price=None if tiered else r.choice([22400, 1, 3, 99999]),
                 tiers=(Tier(1, 50000), Tier(None, 30000)) if tiered else (), max_claims=r.choice([1, 2]),
                 scale=Scale(Decimal(zero), Decimal(full)), volume_cap=r.choice([None, None, 2]),
                 amount_cap=r.choice([None, None, 40000]))
    added = [sc]
    people = sorted({c["participant_id"] for c in claim_rows} | {p["participant_id"] for p in reg_rows or []}) or ["p0"]
    if reg_rows is not None:
        band = r.choice([AgeBand(14, 15), AgeBand(16, None), AgeBand(None, 0), AgeBand(15, 15)])
        added.append(Outcome("AG", price=r.choice([100, 7000]), age_at_enrolment=band))
        births = [None, date(2004, 2, 29), date(2006, 2, 28), date(2006, 3, 1), date(2005, 6, 30), date(2008, 2, 29)]
        reg_rows = [p | {"date_of_birth": p["enrolled_on"] if r.random() < 0.1 else r.choice(births)}
                    for p in reg_rows]
        # enrolments around 29 February and 1 March, in leap years and others
        for p in reg_rows:
            if r.random() < 0.4:
                p["enrolled_on"] = r.choice([date(2020, 2, 28), date(2020, 2, 29), date(2020, 3, 1), date(2021, 2, 28),
                                             date(2021, 3, 1)])
                if p["date_of_birth"] is not None and p["date_of_birth"] > p["enrolled_on"]:
                    p["date_of_birth"] = p["enrolled_on"]
    contract = Contract(**{**contract.__dict__, "outcomes": (*contract.outcomes, *added)})
    z, f = Decimal(zero), Decimal(full)
    values = [format(v.quantize(Decimal("1e-12")).normalize(), "f")  # plain decimals of at most 12 places
              for v in (z, f, (z + f) / 2, z + (f - z) / 3, f + (f - z), z - (f - z), z + (f - z) / 900)]
    claim_rows = [c | {"value": r.choice(values)} if r.random() < 0.5 else c for c in claim_rows]
    for i in range(r.randint(1, 12)):
        o = r.choice(added)
        ach = START + timedelta(days=r.randrange(60, 440))
        claim_rows.append({"id": f"k{i:02d}{o.id}", "participant_id": r.choice(people), "outcome_id": o.id,
                           "achieved_on": ach, "submitted_on": ach + timedelta(days=r.choice([0, 0, 40])),
                           "status": r.choice(["claimed"] * 8 + ["withdrawn"]),
                           "value": r.choice(values)})
    if reg_rows is not None:
        known = {p["participant_id"] for p in reg_rows}
        for c in claim_rows:
            if c["participant_id"] not in known:
                c["participant_id"] = reg_rows[0]["participant_id"]
    return contract, claim_rows, reg_rows, result_rows


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS), fmt=st.sampled_from(["csv", "parquet"]))
def test_scales_and_age_bands_on_claims_through_the_readers_agree_with_the_oracle(tmp_path_factory, seed, quarter,
                                                                                   fmt):
    contract, claim_rows, reg_rows, result_rows = random_case_with_claim_mechanics(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, fmt, seed)
    loaded, table, totals = run_reader_path(path, files, quarter)
    assert loaded.outcome("SC").scale == contract.outcome("SC").scale
    assert_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), table, totals)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS[2:]))
def test_scales_and_age_bands_on_claims_through_the_command_agree_with_the_oracle(tmp_path_factory, seed, quarter):
    contract, claim_rows, reg_rows, result_rows = random_case_with_claim_mechanics(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, contract, claim_rows, reg_rows, result_rows, "csv", seed)
    summary, table = run_cli(path, files, quarter, folder / "table.csv")
    loaded = load(path)
    assert_cli_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), summary, table)


def test_the_written_contract_reads_back_as_the_one_built(tmp_path):
    """The TOML writer above is faithful: otherwise the comparisons would check another contract."""
    for seed in range(40):
        contract = random_case(seed)[0]
        path = tmp_path / f"c{seed}.toml"
        path.write_text(tomli_w.dumps(contract_doc(contract)), encoding="utf-8")
        loaded = load(path)
        assert (loaded.caps, loaded.payers, loaded.referrals_end) == (contract.caps, contract.payers,
                                                                     contract.referrals_end)
        for a, b in zip(loaded.outcomes, contract.outcomes, strict=True):
            assert a.__dict__ | {"name": ""} == b.__dict__ | {"name": ""}, a.id


# --------------------------------------------------------------------------------------
# The cap matrix
# --------------------------------------------------------------------------------------

CAP_KINDS = ("participant", "outcome", "total", "volume")
MATRIX = [
    (dict(zip(CAP_KINDS, on)), partial, payers)
    for on in itertools.product([False, True], repeat=len(CAP_KINDS))
    for partial in (True, False)
    for payers in (1, 2)
]


def _matrix_id(case) -> str:
    on, partial, payers = case
    caps = "+".join(k for k in CAP_KINDS if on[k]) or "no-cap"
    return f"{caps}-partial={str(partial).lower()}-{payers}payer"


def matrix_case(on: dict[str, bool], partial: bool, payers: int):
    """A fixed case in which each cap, alone, cuts something; amounts in pence.

    Outcomes: A (flat 300.00, two claims per participant, amount cap 1000.00,
    volume cap 4), B (dated: 200.01, then 350.00 from 1 March 2020), T (tiers:
    ranks 1–2 at 250.05, then 150.00) and the improvement outcome I (40.00 per
    unit of improvement, amount cap 500.00, 25% deadweight).  Caps: 700.00 per
    participant, 2400.00 in total.  With two payers the split is 0.7 / 0.3 and
    B's own table splits it CF 0.5, LA 0.5 (the odd pennies of 200.01 and
    250.05 are ties, which go to LA, first in [[payers]]), and the case has
    cohort results; with one payer it has
    none (claims alone keep the reader's Enum outcome ids all the way through
    the caps, which is where issue 13's crash was).
    """
    from engine_helpers import Caps, Payer, PricePoint, Tier, contract

    a = Outcome("A", price=30000, max_claims=2, amount_cap=100000 if on["outcome"] else None,
                volume_cap=4 if on["volume"] else None)
    b = Outcome("B", prices=(PricePoint(START, 20001), PricePoint(date(2020, 3, 1), 35000)),
                payers=(("CF", Decimal("0.5")), ("LA", Decimal("0.5"))) if payers == 2 else None)
    t = Outcome("T", tiers=(Tier(2, 25005), Tier(None, 15000)), volume_cap=3 if on["volume"] else None)
    i = Outcome("I", kind="improvement", direction="decrease", price=4000, amount_cap=50000 if on["outcome"] else None,
                deadweight=Decimal("0.25"))
    people = [Payer("LA", "Council", Decimal(1))] if payers == 1 else [
        Payer("LA", "Council", Decimal("0.7")), Payer("CF", "Fund", Decimal("0.3"))]
    caps = Caps(per_participant=70000 if on["participant"] else None, total=240000 if on["total"] else None,
                partial=partial)
    built = contract([a, b, t, i], payers=people, caps=caps, outcomes_end=date(2021, 12, 31),
                     claims_end=date(2021, 12, 31))
    day = START.__add__
    claim_rows = []
    plan = [  # participant, outcome, achieved (days after start), submitted later by
        ("p1", "A", 10, 0), ("p1", "A", 20, 0), ("p1", "B", 30, 5), ("p1", "T", 40, 0),
        ("p2", "A", 12, 0), ("p2", "T", 15, 0), ("p2", "B", 70, 0), ("p2", "A", 95, 0),
        ("p3", "A", 33, 60), ("p3", "B", 50, 0), ("p3", "T", 100, 0), ("p4", "T", 101, 0),
        ("p4", "A", 102, 0), ("p4", "B", 103, 0), ("p5", "A", 104, 0), ("p5", "T", 105, 3),
    ]
    for n, (who, oid, ach, late) in enumerate(plan):
        claim_rows.append({"id": f"c{n:02d}", "participant_id": who, "outcome_id": oid, "achieved_on": day(timedelta(ach)),
                           "submitted_on": day(timedelta(ach + late)), "status": "claimed"})
    reg_rows = [{"participant_id": f"p{k}", "enrolled_on": START, "eligible": True, "cohort": "a"} for k in range(1, 6)]
    result_rows = [] if payers == 1 else [
        {"id": "r1", "outcome_id": "I", "cohort": "k1", "achieved_on": day(timedelta(60)),
         "submitted_on": day(timedelta(60)), "baseline": "100", "observed": "90", "units": "1", "status": "claimed"},
        {"id": "r2", "outcome_id": "I", "cohort": "k2", "achieved_on": day(timedelta(110)),
         "submitted_on": day(timedelta(110)), "baseline": "1.55", "observed": "1.42", "units": "100",
         "status": "claimed"},
    ]
    return built, claim_rows, reg_rows, result_rows


@pytest.mark.parametrize("case", MATRIX, ids=[_matrix_id(c) for c in MATRIX])
def test_cap_matrix_through_csv_and_parquet(tmp_path, case):
    on, partial, payers = case
    contract, claim_rows, reg_rows, result_rows = matrix_case(on, partial, payers)
    for fmt in ("csv", "parquet"):
        path, files = write_case(tmp_path / fmt, contract, claim_rows, reg_rows, result_rows, fmt, seed=7)
        loaded, table, totals = run_reader_path(path, files, "2020-Q2")
        expected = _expected(loaded, claim_rows, reg_rows, result_rows, "2020-Q2")
        assert_same_as_oracle(loaded, expected, table, totals)
    # every cap that is on does cut something in this case (or the matrix would prove little)
    reasons = {r["reason"] for r in expected[0].values()}
    named = {"participant": "PARTICIPANT_CAP", "outcome": "OUTCOME_CAP", "total": "CONTRACT_CAP",
             "volume": "VOLUME_CAP"}
    if sum(on.values()) == 1:
        (only,) = [k for k in CAP_KINDS if on[k]]
        assert named[only] in reasons
    if not any(on.values()):
        assert not reasons & set(named.values())


# --------------------------------------------------------------------------------------
# The properties of SPEC 11, asserted on what the command writes (not through the oracle)
# --------------------------------------------------------------------------------------

_SETTLED_BEFORE = {"WITHDRAWN", "OUT_OF_CONTRACT_PERIOD", "LATE_CLAIM", "MAX_CLAIMS", "NETTED"}


def _gross(contract: Contract, row: dict) -> int:
    """A pooled result's price before netting, by hand: price × units × (baseline − observed), at least 0.

    The pooled outcomes of ``random_case_with_results_mechanics`` (``N``, ``M``) are plain ``decrease``
    outcomes: no scale, no deadweight, no threshold.
    """
    o = contract.outcome(row["outcome_id"])
    assert o.price is not None and o.scale is None and not o.deadweight
    exact = o.price * Fraction(row["units"]) * (Fraction(row["baseline"]) - Fraction(row["observed"]))
    return max(0, round(exact))


def _comparable(summary: dict, table: pl.DataFrame, payers: list[str]) -> tuple[dict, list[tuple]]:
    cols = ["claim_id", "status", "reason", "price", "entitled", "previously_paid", "due", *(f"due_{p}" for p in payers)]
    return summary, sorted(table.select(cols).iter_rows())


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(QUARTERS[1:]))
def test_the_properties_of_section_11_hold_on_the_commands_output(tmp_path_factory, seed, quarter):
    """Payer caps, shares, netting: no payer past its cap, parts sum, order never matters, no money paid twice."""
    contract, claim_rows, reg_rows, result_rows = random_case_with_results_mechanics(seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder / "a", contract, claim_rows, reg_rows, result_rows, "csv", seed)
    summary, table = run_cli(path, files, quarter, folder / "a.csv")
    payers = list(contract.payer_ids)

    # no payer is paid beyond its cap (no adjustments here, so the headroom never goes below zero)
    for p, spec in zip(summary["by_payer"], contract.payers, strict=True):
        assert ("cap" in p) == (spec.cap is not None), p
        if spec.cap is not None:
            assert p["cap"]["used"] == p["entitled"]
            assert _minor(p["entitled"]) <= _minor(p["cap"]["limit"]) and _minor(p["cap"]["headroom"]) >= 0, p
    # the parts always sum to the payable amount: on every row's due, and the payers' entitled to the total
    assert table.select((pl.sum_horizontal(f"due_{p}" for p in payers) == pl.col("due")).all()).item()
    for key in ("entitled", "previously_paid", "due"):
        assert sum(_minor(p[key]) or 0 for p in summary["by_payer"]) == _minor(summary["totals"][key]), key

    # netting never pays the same money twice: in processing order, a pooled row pays at most its gross less
    # what the listed rows before it were paid, and no listed row is paid after a pooled assessment was made
    by_id = {x["id"]: x for x in result_rows}
    rows = sorted((r for r in table.filter(pl.col("kind") == "improvement").iter_rows(named=True)),
                  key=lambda r: (by_id[r["claim_id"]]["submitted_on"], by_id[r["claim_id"]]["achieved_on"],
                                 r["claim_id"]))
    paid_so_far: dict[str, int] = {}
    settled: set[str] = set()
    for r in rows:
        o = contract.outcome(r["outcome_id"])
        if o.id in settled:
            assert r["entitled"] == 0, r
        if o.net_of:
            listed = sum(paid_so_far.get(x, 0) for x in o.net_of)
            assert r["entitled"] <= max(0, _gross(contract, by_id[r["claim_id"]]) - listed), r
            if r["reason"] not in _SETTLED_BEFORE:
                settled.update(o.net_of)
        paid_so_far[o.id] = paid_so_far.get(o.id, 0) + r["entitled"]

    # the order of the rows in the files never matters (nor their spacing and letter case)
    again, files2 = write_case(folder / "b", contract, claim_rows, reg_rows, result_rows, "csv", seed + 1)
    summary2, table2 = run_cli(again, files2, quarter, folder / "b.csv")
    assert _comparable(summary2, table2, payers) == _comparable(summary, table, payers)
