"""SPEC 11.6 ``net_of``: a pooled payment net of what listed outcomes were entitled to before it.

Peterborough-like, worked by hand: cohort outcomes C1 and C2 pay 1,000.00
(100000 minor units) per point of reduction when a cohort's reconviction
events fall by 10%; the pooled outcome POOL pays the same rate at 7.5%
across all cohorts, less what C1 and C2 rows before it were entitled to.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import tomli_w
from conftest import contract_dict, make_contract, write_claims, write_results
from engine_helpers import Caps, Outcome, contract, results
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sob.assessment import assess
from sob.cli import app
from sob.contract import check_contract_text

RATE = 100000
C1 = Outcome("C1", kind="improvement", direction="decrease", price=RATE, min_improvement=Decimal("0.1"))
C2 = Outcome("C2", kind="improvement", direction="decrease", price=RATE, min_improvement=Decimal("0.1"))
POOL = Outcome("POOL", kind="improvement", direction="decrease", price=RATE, min_improvement=Decimal("0.075"),
               net_of=("C1", "C2"))


def _run(outcomes, rows, **kw):
    frame = assess(contract(outcomes, **kw), None, None, results(rows), date(2022, 12, 31))
    return {r["claim_id"]: (r["status"], r["reason"], r["price"], r["payable"]) for r in frame.iter_rows(named=True)}


def row(rid, oid, cohort, day, baseline, observed, status="claimed"):
    return (rid, oid, cohort, day, baseline, observed, "1", day, status)


def test_the_pooled_payment_is_net_of_earlier_cohort_payments_and_later_ones_are_netted():
    got = _run([C1, C2, POOL], [
        row("r1", "C1", "c1", "2020-02-01", "100", "88"),   # 12%: 12 × 1,000.00
        row("r2", "C2", "c2", "2020-03-01", "100", "95"),   # 5% < 10%: nothing
        row("r3", "POOL", "all", "2020-04-01", "200", "180"),  # 10% >= 7.5%: 20,000.00 − 12,000.00
        row("r4", "C2", "c3", "2020-05-01", "100", "80"),   # passes, but the pool settled C2: NETTED
        row("r5", "C1", "c4", "2020-05-01", "100", "80", "withdrawn"),  # keeps its own reason
        row("r6", "C1", "c5", "2020-06-01", "100", "95"),   # fails the threshold: keeps BELOW_THRESHOLD
    ])
    assert got["r1"] == ("paid", None, 1_200_000, 1_200_000)
    assert got["r2"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["r3"] == ("paid", None, 800_000, 800_000)
    assert got["r4"] == ("rejected", "NETTED", None, 0)
    assert got["r5"][:2] == ("rejected", "WITHDRAWN")
    assert got["r6"][:2] == ("rejected", "BELOW_THRESHOLD")


def test_cohort_one_missed_ten_percent_and_the_pool_passed_seven_and_a_half():
    got = _run([C1, C2, POOL], [
        row("r1", "C1", "c1", "2020-02-01", "100", "91"),   # 9%: cohort 1 missed its 10%
        row("r2", "POOL", "all", "2020-04-01", "100", "92"),  # 8% >= 7.5% across cohorts: 8 × 1,000.00, nothing to net
    ])
    assert got["r1"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["r2"] == ("paid", None, 800_000, 800_000)


def test_a_result_that_nets_to_zero_is_paid_with_price_zero():
    got = _run([C1, C2, POOL], [row("r1", "C1", "c1", "2020-02-01", "100", "88"),        # 12,000.00
                                row("r2", "POOL", "all", "2020-04-01", "100", "92")])    # 8,000.00 − 12,000.00 → 0
    assert got["r2"] == ("paid", None, 0, 0)


def test_what_is_netted_is_the_entitlement_after_caps_and_caps_then_apply_to_the_reduced_price():
    c1 = Outcome("C1", kind="improvement", direction="decrease", price=RATE, amount_cap=1_000_000)
    got = _run([c1, C2, POOL], [row("r1", "C1", "c1", "2020-02-01", "100", "88"),       # 12,000.00 cut to 10,000.00
                                row("r2", "POOL", "all", "2020-04-01", "200", "180")],  # 20,000.00 − 10,000.00
               caps=Caps(total=1_500_000))                                              # only 5,000.00 left in all
    assert got["r1"] == ("partial", "OUTCOME_CAP", 1_200_000, 1_000_000)
    assert got["r2"] == ("partial", "CONTRACT_CAP", 1_000_000, 500_000)


def test_a_pool_below_its_threshold_still_settles_the_listed_outcomes():
    got = _run([C1, C2, POOL], [row("r1", "POOL", "all", "2020-04-01", "100", "95"),   # 5% < 7.5%: pays nothing
                                row("r2", "C2", "c1", "2020-05-01", "100", "80")])
    assert got["r1"][:2] == ("rejected", "BELOW_THRESHOLD")
    assert got["r2"] == ("rejected", "NETTED", None, 0)


def test_a_withdrawn_pool_or_a_second_pool_result_is_no_netting_row():
    got = _run([C1, C2, POOL], [row("r1", "POOL", "all", "2020-04-01", "100", "80", "withdrawn"),
                                row("r2", "C2", "c1", "2020-05-01", "100", "80")])
    assert got["r2"] == ("paid", None, 2_000_000, 2_000_000)


def test_only_rows_before_the_pool_in_processing_order_are_netted():
    # same submission day: processing order falls to the id, so "a" comes before "p" and "z" after it
    got = _run([C1, C2, POOL], [row("a", "C1", "c1", "2020-04-01", "100", "85"),
                                row("p", "POOL", "all", "2020-04-01", "100", "80"),
                                row("z", "C2", "c2", "2020-04-01", "100", "85")])
    assert got["a"] == ("paid", None, 1_500_000, 1_500_000)
    assert got["p"] == ("paid", None, 500_000, 500_000)      # 20,000.00 − 15,000.00
    assert got["z"] == ("rejected", "NETTED", None, 0)


def test_netting_chains_are_decided_in_processing_order():
    a = Outcome("A", kind="improvement", direction="decrease", price=RATE)
    b = Outcome("B", kind="improvement", direction="decrease", price=RATE, net_of=("A",))
    c = Outcome("C", kind="improvement", direction="decrease", price=RATE, net_of=("B",))
    got = _run([a, b, c], [row("a1", "A", "k", "2020-02-01", "100", "90"),   # 10,000.00
                           row("b1", "B", "k", "2020-03-01", "100", "70"),   # 30,000.00 − 10,000.00
                           row("c1", "C", "k", "2020-04-01", "100", "50"),   # 50,000.00 − 20,000.00
                           row("a2", "A", "j", "2020-05-01", "100", "90"),   # settled by b1
                           row("b2", "B", "j", "2020-05-01", "100", "90")])  # settled by c1: not a netting row
    assert [got[k][2:] for k in ("a1", "b1", "c1")] == [(1_000_000, 1_000_000), (2_000_000, 2_000_000),
                                                         (3_000_000, 3_000_000)]
    assert got["a2"][1] == got["b2"][1] == "NETTED"


# --- the property: netting never pays the same money twice -------------------------------------------

_DAY = date(2020, 2, 1)
_results = st.lists(st.tuples(st.sampled_from(["C1", "C2", "POOL"]), st.sampled_from(["k1", "k2", "k3"]),
                              st.integers(0, 300), st.sampled_from(["100", "92", "90", "88", "80", "50"])),
                    min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rows=_results)
def test_netting_never_pays_the_same_money_twice(rows):
    data = [row(f"r{i:02d}", oid, cohort, (_DAY + timedelta(days=day)).isoformat(), "100", observed)
            for i, (oid, cohort, day, observed) in enumerate(rows)]
    got = _run([C1, C2, POOL], data)
    order = sorted(data, key=lambda r: (r[7], r[3], r[0]))
    gross = {r[0]: RATE * (100 - int(r[5])) for r in data}  # price × (baseline − observed), by hand
    listed_paid = 0
    pooled = False
    for r in order:
        _status, reason, _price, payable = got[r[0]]
        if r[1] == "POOL":
            if reason is None:
                # the pool pays only what the cohort payments before it did not: together exactly the pool's gross
                assert payable == max(0, gross[r[0]] - listed_paid)
                assert listed_paid + payable == max(gross[r[0]], listed_paid)
            pooled = pooled or reason in (None, "BELOW_THRESHOLD")
        else:
            if pooled:
                assert payable == 0  # once a pooled assessment is made, no cohort payment follows
            listed_paid += payable


# --- contract checks (SPEC 11.7) -------------------------------------------------------------------

def _errors(net_of, extra=()):
    imp = {"kind": "improvement", "direction": "decrease", "price": 1}
    doc = contract_dict(outcomes=[{"id": "P", "price": 1}, {"id": "C1", **imp}, {"id": "POOL", **imp, "net_of": net_of},
                                  *extra])
    _, findings = check_contract_text(tomli_w.dumps(doc), Path("c.toml"))
    return sorted(f.code for f in findings if f.severity == "error")


@pytest.mark.parametrize(("net_of", "code"), [
    (["C9"], "UNKNOWN_REFERENCE"),   # unknown
    (["P"], "UNKNOWN_REFERENCE"),    # a claim outcome
    (["POOL"], "NETTING_CYCLE"),     # itself
    ("C1", "WRONG_TYPE"),            # not a list
])
def test_bad_net_of(net_of, code):
    assert _errors(net_of) == [code]


def test_a_netting_cycle_is_an_error():
    imp = {"kind": "improvement", "direction": "decrease", "price": 1}
    assert _errors(["Q"], [{"id": "Q", **imp, "net_of": ["POOL"]}]) == ["NETTING_CYCLE"]


def test_net_of_is_for_improvement_outcomes_only():
    doc = contract_dict(outcomes=[{"id": "P", "price": 1, "net_of": ["P"]}])
    _, findings = check_contract_text(tomli_w.dumps(doc), Path("c.toml"))
    assert [f.code for f in findings] == ["WRONG_KIND_KEY"]


def test_valid_net_of_is_read():
    assert _errors(["C1"]) == []


# --- the real command on real files ----------------------------------------------------------------

def test_pay_and_explain_on_real_files_show_the_netting(tmp_path):
    imp = {"kind": "improvement", "direction": "decrease", "price": "1000.00"}
    c = make_contract(tmp_path, outcomes=[{"id": "P", "price": 1}, {"id": "C1", **imp, "min_improvement": 0.1},
                                          {"id": "POOL", **imp, "min_improvement": 0.075, "net_of": ["C1"]}])
    claims, res = write_claims(tmp_path / "claims.csv", []), tmp_path / "results.csv"
    write_results(res, [("r1", "C1", "c1", "2020-02-01", "", "100", "88", "", ""),
                        ("r2", "POOL", "all", "2020-04-01", "", "200", "180", "", ""),
                        ("r3", "C1", "c2", "2020-05-01", "", "100", "80", "", "")])
    out = tmp_path / "out.csv"

    def sob(*args):  # the real command line, in process (a subprocess per call would be slow)
        return CliRunner().invoke(app, [str(a) for a in args])

    run = sob("pay", c, "--quarter", "2020-Q2", "--claims", claims, "--results", res, "--export", out)
    assert run.exit_code == 0, run.output
    rows = {r["claim_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["r2"]["price"], rows["r2"]["entitled"]) == ("8000.00", "8000.00")  # 20,000.00 − 12,000.00
    assert (rows["r3"]["status"], rows["r3"]["reason"], rows["r3"]["entitled"]) == ("rejected", "NETTED", "0.00")
    shown = sob("explain", c, "--quarter", "2020-Q2", "--claim", "r2", "--claims", claims, "--results", res)
    assert shown.exit_code == 0, shown.output
    assert "less 12000.00" in shown.stdout and "net_of" in shown.stdout
    netted = sob("explain", c, "--quarter", "2020-Q2", "--claim", "r3", "--claims", claims, "--results", res)
    assert "NETTED" in netted.stdout and "r2" in netted.stdout


def test_closes_in_a_ledger_pay_the_pooled_figure_once_in_all(tmp_path):
    # 2020-Q1 closes C1's 12,000.00; 2020-Q2 closes the pool: 20,000.00 − 12,000.00 = 8,000.00 due.
    # Across both closes exactly the pooled 20,000.00 is paid.
    imp = {"kind": "improvement", "direction": "decrease", "price": "1000.00"}
    c = make_contract(tmp_path, outcomes=[{"id": "P", "price": 1}, {"id": "C1", **imp},
                                          {"id": "POOL", **imp, "net_of": ["C1"]}])
    claims, res = write_claims(tmp_path / "claims.csv", []), tmp_path / "results.csv"
    write_results(res, [("r1", "C1", "c1", "2020-02-01", "", "100", "88", "", ""),
                        ("r2", "POOL", "all", "2020-04-01", "", "200", "180", "", "")])
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    dues = []
    for i, quarter in enumerate(("2020-Q1", "2020-Q2")):
        out = tmp_path / f"{quarter}.csv"
        args = ["pay", str(c), "--quarter", quarter, "--claims", str(claims),
                "--results", str(res), "--ledger", str(ledger), "--close", "--export", str(out)]
        if i == 0:
            args += ["--opening", "none"]
        run = CliRunner().invoke(app, args)
        assert run.exit_code == 0, run.output
        dues.append({r["claim_id"]: r["due"] for r in csv.DictReader(out.open(encoding="utf-8"))})
    assert dues[0] == {"r1": "12000.00"}
    assert dues[1] == {"r1": "0.00", "r2": "8000.00"}
