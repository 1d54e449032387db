"""Dated caps (SPEC 10.5): every cap may be a schedule; a run uses the entries in force at end(Q).

The figures are worked by hand.  The common case: one outcome P at 100.00,
one payer, four claims c1..c4 achieved and submitted in January 2020, and a
total cap of 250.00 from the start raised to 400.00 from 2020-04-01:

* 2020-Q1 (as at 2020-03-31, limit 250.00): c1 100, c2 100, c3 50 (partial),
  c4 0 (capped); entitled 250.00, nothing was paid before, due 250.00.
* 2020-Q2 (as at 2020-06-30, limit 400.00): every claim 100; entitled 400.00,
  previously paid 250.00 (Q1's entitlement, under Q1's limit), due 150.00:
  c3 50.00 and c4 100.00.  c4's due rises in Q2, the first quarter the new
  limit is in force, and not before.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import oracle
import pytest
from conftest import load, make_contract, write_claims
from engine_helpers import Caps, Outcome, claims, contract, d
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_differential_files import _expected, assert_cli_same_as_oracle, run_cli, write_case
from test_engine_properties import random_case
from typer.testing import CliRunner

from sob.assessment import assess
from sob.cli import app
from sob.contract.model import CapPoint, Payer
from sob.contract.starter import CAP_SCHEDULE_EXAMPLE, starter_text, write_starter
from sob.payrun import pay_quarter, summary
from sob.quarters import Quarter

JAN = date(2020, 1, 10)
CLAIMS = [(f"c{i}", f"A{i}", "P", JAN, JAN + timedelta(days=i)) for i in range(1, 5)]
RAISED = [{"from": date(2020, 1, 1), "amount": "250.00"}, {"from": date(2020, 4, 1), "amount": "400.00"}]
LOWERED = [{"from": date(2020, 1, 1), "amount": "400.00"}, {"from": date(2020, 4, 1), "amount": "250.00"}]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess (PYTHONPATH decides which tree it runs)."""
    return subprocess.run([sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, timeout=60)


def sob(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def setup(tmp_path: Path, **overrides) -> Path:
    """A contract with ``overrides`` and the four January claims beside it."""
    write_claims(tmp_path / "claims.csv", CLAIMS)
    return make_contract(tmp_path, outcomes=[{"id": "P", "price": 100}], evidence={"claims": "claims.csv"},
                         **overrides)


def pay_json(path: Path, quarter: str, *extra: object) -> dict:
    result = sob("pay", path, "--quarter", quarter, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dues(tmp_path: Path, path: Path, quarter: str, *extra: object) -> dict[str, str]:
    """claim_id -> due, from the export of the run."""
    export = tmp_path / f"{quarter}.csv"
    result = sob("pay", path, "--quarter", quarter, "--export", export, *extra)
    assert result.exit_code == 0, result.output
    lines = export.read_text().splitlines()
    head = lines[0].split(",")
    return {row[head.index("claim_id")]: row[head.index("due")] for row in (line.split(",") for line in lines[1:])}


# --- contract checks through `sob validate` on real files -----------------------------------------


@pytest.mark.parametrize(("schedule", "message", "at"), [
    ([{"from": date(2020, 1, 1), "amount": 5}, {"from": date(2019, 6, 1), "amount": 6}], "must be sorted by 'from'",
     "from = 2019-06-01"),
    ([{"from": date(2020, 1, 1), "amount": 5}, {"from": date(2020, 1, 1), "amount": 6}], "two entries from 2020-01-01",
     "amount = 6"),
    ([{"from": date(2020, 2, 1), "amount": 5}], "after the contract start 2020-01-01", "from = 2020-02-01"),
], ids=["out-of-order", "duplicate-from", "first-after-start"])
def test_a_bad_schedule_is_an_error_with_its_line(tmp_path, schedule, message, at):
    path = setup(tmp_path, caps={"total": schedule})
    result = run("validate", path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "PRICES_NOT_SORTED" in out and message in out, out
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if at in text)  # the offending entry
    assert f"{path.name}:{line}:" in out, out


@pytest.mark.parametrize("where", ["payers", "outcome-volume", "outcome-amount", "per-participant"])
def test_every_cap_kind_checks_its_schedule(tmp_path, where):
    bad = [{"from": date(2020, 3, 1), "count" if where == "outcome-volume" else "amount": 5}]
    overrides: dict = {}
    if where == "payers":
        overrides["payers"] = [{"id": "LA", "share": 1, "cap": bad}]
    elif where == "per-participant":
        overrides["caps"] = {"per_participant": bad}
    write_claims(tmp_path / "claims.csv", CLAIMS)
    outcome: dict = {"id": "P", "price": 100}
    if where.startswith("outcome"):
        outcome["volume_cap" if where == "outcome-volume" else "amount_cap"] = bad
    path = make_contract(tmp_path, outcomes=[outcome], **overrides)
    result = run("validate", path, "--format", "json")
    assert result.returncode == 1
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert codes == {"PRICES_NOT_SORTED"}


def test_a_misspelt_entry_key_gets_a_hint(tmp_path):
    path = setup(tmp_path, caps={"total": [{"from": date(2020, 1, 1), "amuont": 5}]})
    findings = json.loads(run("validate", path, "--format", "json").stdout)["findings"]
    assert {"UNKNOWN_KEY", "MISSING_KEY"} <= {f["code"] for f in findings}
    assert any(f["hint"] == "did you mean 'amount'?" for f in findings), findings


def test_a_lowered_cap_is_a_warning_not_an_error(tmp_path):
    path = setup(tmp_path, caps={"total": LOWERED})
    result = run("validate", path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "warning CAP_LOWERED" in out and "caps.total" in out
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"250.00"' in text)
    assert f"{path.name}:{line}:" in out
    assert run("validate", path, "--strict").returncode == 1  # --strict fails on warnings
    assert "CAP_LOWERED" not in run("validate", setup(tmp_path, caps={"total": RAISED})).stdout


def test_the_schema_accepts_a_schedule_and_refuses_a_bad_entry():
    from jsonschema import Draft202012Validator

    from sob.schema import contract_json_schema, contract_to_json_compatible

    validator = Draft202012Validator(contract_json_schema())
    from conftest import contract_dict

    good = contract_dict(caps={"total": RAISED}, outcomes=[{"id": "P", "price": 1, "volume_cap": [
        {"from": date(2020, 1, 1), "count": 3}]}])
    assert not list(validator.iter_errors(contract_to_json_compatible(good)))
    bad = contract_dict(caps={"total": [{"from": date(2020, 1, 1), "count": 3}]})
    assert list(validator.iter_errors(contract_to_json_compatible(bad)))


def test_sob_init_shows_a_schedule_that_validates_when_uncommented(tmp_path):
    path = tmp_path / "c.toml"
    write_starter(path)  # the contract and the template evidence its [evidence] names
    text = path.read_text(encoding="utf-8")
    assert text == starter_text("c.toml") and CAP_SCHEDULE_EXAMPLE in text
    block = "\n".join(line.removeprefix("# ") for line in CAP_SCHEDULE_EXAMPLE.splitlines() if line.startswith(("# total", "#   ", "# ]")))
    edited = text.replace("total = 250000.00\n", block + "\n")
    assert edited != text
    path.write_text(edited)
    result = run("validate", path, "--format", "json")
    assert result.returncode == 0, result.stdout
    assert load(path).caps.total_schedule == (CapPoint(date(2025, 4, 1), 25_000_000), CapPoint(date(2026, 4, 1), 30_000_000))


# --- the engine: a raised cap pays capped claims when it comes into force --------------------------


def test_a_raised_cap_pays_capped_claims_in_the_first_quarter_it_is_in_force(tmp_path):
    path = setup(tmp_path, caps={"total": RAISED})
    q1, q2 = pay_json(path, "2020-Q1"), pay_json(path, "2020-Q2")
    assert (q1["totals"]["entitled"], q1["totals"]["due"]) == ("250.00", "250.00")
    assert (q2["totals"]["entitled"], q2["totals"]["previously_paid"], q2["totals"]["due"]) == ("400.00", "250.00", "150.00")
    assert q1["caps"]["total"] == {"limit": "250.00", "used": "250.00", "headroom": "0.00"}
    assert q2["caps"]["total"] == {"limit": "400.00", "used": "400.00", "headroom": "0.00"}
    assert dues(tmp_path, path, "2020-Q1") == {"c1": "100.00", "c2": "100.00", "c3": "50.00", "c4": "0.00"}
    assert dues(tmp_path, path, "2020-Q2") == {"c1": "0.00", "c2": "0.00", "c3": "50.00", "c4": "100.00"}
    view = sob("pay", path, "--quarter", "2020-Q2").output  # the sign-off view names the entry in force
    assert "entries in force at 2020-06-30: contract total from 2020-04-01" in view, view
    assert re.search(r"Contract total\s+£400\.00\s+£400\.00\s+£0\.00", view), view


def test_a_raised_cap_through_a_ledger_closed_quarter_by_quarter(tmp_path):
    path = setup(tmp_path, caps={"total": RAISED})
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    q1 = run("pay", path, "--quarter", "2020-Q1", "--ledger", ledger, "--close", "--format", "json")
    assert q1.returncode == 0, q1.stderr
    assert json.loads(q1.stdout)["totals"]["due"] == "250.00"
    q2 = run("pay", path, "--quarter", "2020-Q2", "--ledger", ledger, "--close", "--format", "json")
    assert q2.returncode == 0, q2.stderr
    body = json.loads(q2.stdout)
    assert (body["totals"]["previously_paid"], body["totals"]["due"]) == ("250.00", "150.00")
    assert body["caps"]["total"]["limit"] == "400.00"
    shown = json.loads(run("ledger", "show", ledger, "--format", "json").stdout)
    assert [q["caps"]["total"]["limit"] for q in shown] == ["250.00", "400.00"]  # each close records its limit
    assert run("ledger", "verify", ledger).returncode == 0


def test_a_lowered_cap_claws_back_in_the_quarter_it_comes_into_force(tmp_path):
    # Q1 under 400.00 pays all four; Q2 under 250.00 cuts c3 to 50 and c4 to 0: dues -50 and -100.
    path = setup(tmp_path, caps={"total": LOWERED})
    q2 = pay_json(path, "2020-Q2")
    assert (q2["totals"]["entitled"], q2["totals"]["previously_paid"], q2["totals"]["due"]) == ("250.00", "400.00", "-150.00")
    assert dues(tmp_path, path, "2020-Q2") == {"c1": "0.00", "c2": "0.00", "c3": "-50.00", "c4": "-100.00"}


def test_the_payer_cap_limit_in_json_is_the_entry_in_force(tmp_path):
    # LA's cap 300.00 then 350.00 from Q2: Q1 pays c1..c3 (300), Q2 pays 50 more of c4.
    cap = [{"from": date(2020, 1, 1), "amount": 300}, {"from": date(2020, 4, 1), "amount": 350}]
    path = setup(tmp_path, payers=[{"id": "LA", "share": 1, "cap": cap}])
    q1, q2 = pay_json(path, "2020-Q1"), pay_json(path, "2020-Q2")
    assert q1["by_payer"][0]["cap"] == {"limit": "300.00", "used": "300.00", "headroom": "0.00"}
    assert q2["by_payer"][0]["cap"] == {"limit": "350.00", "used": "350.00", "headroom": "0.00"}
    assert q2["totals"]["due"] == "50.00"


def test_a_raised_volume_cap_accepts_one_more_claim(tmp_path):
    write_claims(tmp_path / "claims.csv", CLAIMS)
    volume = [{"from": date(2020, 1, 1), "count": 2}, {"from": date(2020, 4, 1), "count": 3}]
    path = make_contract(tmp_path, outcomes=[{"id": "P", "price": 100, "volume_cap": volume}],
                         evidence={"claims": "claims.csv"})
    assert pay_json(path, "2020-Q1")["totals"]["capped"] == 2
    q2 = pay_json(path, "2020-Q2")
    assert (q2["totals"]["capped"], q2["totals"]["due"]) == (1, "100.00")
    assert dues(tmp_path, path, "2020-Q2")["c3"] == "100.00"


def test_explain_names_the_entry_in_force(tmp_path):
    path = setup(tmp_path, caps={"total": RAISED})
    out = sob("explain", path, "--quarter", "2020-Q2", "--claim", "c4").output
    assert "the entry from 2020-04-01 is in force at the end of 2020-Q2" in out, out
    assert "limit £400.00" in out
    out = sob("explain", path, "--quarter", "2020-Q1", "--claim", "c4").output
    assert "the entry from 2020-01-01" in out and "limit £250.00" in out, out


def test_the_kirklees_sample_runs_each_limit_in_its_own_quarters():
    sample = Path(__file__).parent.parent / "sample_contracts" / "kirklees-bop" / "contract.toml"
    assert pay_json(sample, "2021-Q4")["caps"]["total"]["limit"] == "22297917.00"
    assert pay_json(sample, "2022-Q1")["caps"]["total"]["limit"] == "22553795.00"


# --- property: a schedule is the plain cap equal to its entry in force ----------------------------

START = d("2020-01-01")
QUARTERS = [Quarter(2020, n) for n in (1, 2, 3, 4)] + [Quarter(2021, 1)]


@st.composite
def schedules(draw, low: int, high: int) -> tuple[CapPoint, ...]:
    """1 to 3 entries, the first from the start, each later one on a later day."""
    days = sorted(draw(st.sets(st.integers(1, 400), max_size=2)))
    starts = [START] + [START + timedelta(days=n) for n in days]
    return tuple(CapPoint(s, draw(st.integers(low, high))) for s in starts)


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["participant", "total", "amount", "volume", "payer"]))
    money = schedules(0, 60_000) if kind != "volume" else schedules(0, 6)
    sched = draw(money)
    caps = Caps(partial=draw(st.booleans()))
    a, payers = Outcome("A", price=10_000), [Payer("P", "Payer", Decimal(1))]
    if kind == "participant":
        caps = replace(caps, per_participant=sched[0].limit, per_participant_schedule=sched)
    elif kind == "total":
        caps = replace(caps, total=sched[0].limit, total_schedule=sched)
    elif kind == "amount":
        a = replace(a, amount_cap=sched[0].limit, amount_cap_schedule=sched)
    elif kind == "volume":
        a = replace(a, volume_cap=sched[0].limit, volume_cap_schedule=sched)
    else:
        payers = [Payer("P", "Payer", Decimal("0.6"), cap=sched[0].limit, cap_schedule=sched),
                  Payer("Q", "Other", Decimal("0.4"), on_cap=draw(st.sampled_from(["cut", "shift"])))]
    b = Outcome("B", price=draw(st.integers(1, 30_000)), max_claims=3)
    built = contract([a, b], payers=payers, caps=caps)
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        achieved = START + timedelta(days=draw(st.integers(0, 420)))
        submitted = achieved + timedelta(days=draw(st.integers(0, 60)))
        rows.append((f"c{i:02}", f"p{draw(st.integers(0, 3))}", draw(st.sampled_from(["A", "B"])),
                     achieved.isoformat(), submitted.isoformat()))
    return built, rows, draw(st.sampled_from(QUARTERS))


def plain_at(c, day: date):
    """The contract with plain caps equal to each schedule's entry on ``day``, worked out here, not by the engine."""
    def entry(plain, sched):
        if not sched:
            return plain
        started = [p for p in sched if p.start <= day]
        return started[-1].limit if started else None  # before the contract start: nothing is in scope anyway
    caps = Caps(entry(c.caps.per_participant, c.caps.per_participant_schedule),
                entry(c.caps.total, c.caps.total_schedule), c.caps.partial)
    payers = tuple(replace(p, cap=entry(p.cap, p.cap_schedule), cap_schedule=()) for p in c.payers)
    outcomes = tuple(replace(o, amount_cap=entry(o.amount_cap, o.amount_cap_schedule), amount_cap_schedule=(),
                             volume_cap=entry(o.volume_cap, o.volume_cap_schedule), volume_cap_schedule=())
                     for o in c.outcomes)
    return replace(c, caps=caps, payers=payers, outcomes=outcomes)


@settings(max_examples=60)
@given(case=cases())
def test_a_schedule_pays_as_the_plain_cap_in_force(case):
    built, rows, quarter = case
    frame = claims(rows)
    end, before = quarter.end(1), quarter.previous().end(1)
    run_ = pay_quarter(built, frame, None, None, quarter)
    table = {r["claim_id"]: r for r in run_.table.iter_rows(named=True)}
    now = assess(plain_at(built, end), frame, None, None, end)
    then = assess(plain_at(built, before), frame, None, None, before)
    for r in now.iter_rows(named=True):
        assert (table[r["claim_id"]]["status"], table[r["claim_id"]]["entitled"]) == (r["status"], r["payable"])
    paid_before = {r["claim_id"]: r["payable"] for r in then.iter_rows(named=True)}
    for cid, row in table.items():
        assert row["previously_paid"] == paid_before.get(cid, 0), cid
    body = summary(run_)
    in_force = plain_at(built, end)
    if in_force.caps.total is not None:
        assert body["caps"]["total"]["limit"] == in_force.money(in_force.caps.total)
    for payer, shown in zip(in_force.payers, body["by_payer"], strict=True):
        assert ("cap" in shown) == (payer.cap is not None)
        if payer.cap is not None:
            assert shown["cap"]["limit"] == in_force.money(payer.cap)
    # and the oracle, reading SPEC 10.5 on its own, agrees on every row's money
    rows_in = [{"id": cid, "participant_id": p, "outcome_id": o, "achieved_on": d(a), "submitted_on": d(s),
                "status": "claimed"} for cid, p, o, a, s in rows]
    expected, _, _ = oracle.pay(built, rows_in, None, [], end, before)
    for cid, row in table.items():
        assert (row["entitled"], row["previously_paid"], row["due"]) == (
            expected[cid]["entitled"], expected[cid]["previously_paid"], expected[cid]["due"]), cid


# --- differential: random contracts with schedules, through files and the command, against the oracle --


def with_schedules(c, seed: int):
    """``c`` with each of its caps, at random, turned into a schedule: the first entry its limit, then 1-2 variations."""
    import random

    r = random.Random(seed)

    def schedule(plain, count: bool = False):
        if plain is None or r.random() < 0.3:
            return plain, ()
        days = sorted(r.sample(range(1, 540), r.randint(1, 2)))
        later = [r.choice([0, 2, 5]) if count else r.choice([0, plain // 2, plain + 5000, plain * 2]) for _ in days]
        points = (CapPoint(c.start, plain), *(CapPoint(c.start + timedelta(days=n), v) for n, v in zip(days, later)))
        return plain, points

    pp, pp_s = schedule(c.caps.per_participant)
    total, total_s = schedule(c.caps.total)
    caps = replace(c.caps, per_participant=pp, per_participant_schedule=pp_s, total=total, total_schedule=total_s)
    payers = tuple(replace(p, cap_schedule=schedule(p.cap)[1]) for p in c.payers)
    outcomes = tuple(replace(o, amount_cap_schedule=schedule(o.amount_cap)[1],
                             volume_cap_schedule=schedule(o.volume_cap, count=True)[1]) for o in c.outcomes)
    return replace(c, caps=caps, payers=payers, outcomes=outcomes)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), quarter=st.sampled_from(["2020-Q2", "2020-Q3", "2021-Q1", "2021-Q2"]))
def test_random_scheduled_contracts_through_the_command_agree_with_the_oracle(tmp_path_factory, seed, quarter):
    built, claim_rows, reg_rows, result_rows = random_case(seed)
    built = with_schedules(built, seed)
    folder = tmp_path_factory.mktemp("case")
    path, files = write_case(folder, built, claim_rows, reg_rows, result_rows, "csv", seed)
    loaded = load(path)
    assert loaded.has_cap_schedules == built.has_cap_schedules  # the schedules were written and read back
    summary_, table = run_cli(path, files, quarter, folder / "out.csv")
    assert_cli_same_as_oracle(loaded, _expected(loaded, claim_rows, reg_rows, result_rows, quarter), summary_, table)


def test_a_close_with_a_schedule_out_of_order_writes_nothing(tmp_path):
    path = setup(tmp_path, caps={"total": [RAISED[1], RAISED[0]]})
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    result = run("pay", path, "--quarter", "2020-Q1", "--ledger", ledger, "--close")
    assert result.returncode == 1, result.stderr
    assert "sob validate" in result.stderr + result.stdout
    assert list(ledger.iterdir()) == []
