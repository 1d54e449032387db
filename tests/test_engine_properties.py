"""Property tests: the engine agrees with a naive reading of the spec on random cases.

``tests/oracle.py`` applies SPEC 5 claim by claim; hypothesis draws small
random contracts and evidence (prerequisite chains, exclusive groups, tiers,
dated prices, every cap with partial true and false, several payers) and the
engine must give the same status, reason, price and payable for every row.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import oracle
import polars as pl
from engine_helpers import contract as make_contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sob.assessment import assess
from sob.contract import Caps, Outcome, Payer, PricePoint, Requirement, Tier
from sob.payrun import pay_quarter
from sob.quarters import Quarter

START = date(2020, 1, 1)


def share_of(text: str) -> Decimal | Fraction:
    """A share as the contract reader gives it: a Fraction for ``"p/q"``, else the Decimal written."""
    if "/" in text:
        p, q = text.split("/")
        return Fraction(int(p), int(q))
    return Decimal(text)


def _day(r: random.Random, span: int = 500) -> date:
    return START + timedelta(days=r.randrange(-20, span))


def random_case(seed: int, max_claims: int = 30):
    """A random contract with claims, register and cohort results."""
    r = random.Random(seed)
    outcomes = []
    n_out = r.randint(1, 5)
    groups = ["g1", "g2", None, None]
    for i in range(n_out):
        oid = f"O{i}"
        kind_pick = r.random()
        if kind_pick < 0.15:
            outcomes.append(
                Outcome(
                    oid,
                    kind="improvement",
                    direction=r.choice(["decrease", "increase"]),
                    price=r.choice([0, 1999, 200000]),
                    min_improvement=Decimal(r.choice(["0", "0.1", "0.075"])),
                    deadweight=Decimal(r.choice(["0", "0.33", "0.5"])),
                    amount_cap=r.choice([None, None, 150000]),
                )
            )
            continue
        price_kind = r.random()
        price = prices = tiers = None
        if price_kind < 0.6:
            price = r.choice([0, 100, 5000, 150000, 99999])
        elif price_kind < 0.8:
            prices = (PricePoint(START, r.choice([1000, 2500])), PricePoint(START + timedelta(days=200), r.choice([700, 3000])))
        else:
            tiers = (Tier(r.randint(1, 3), r.choice([2000, 500])), Tier(None, r.choice([1600, 100])))
        earlier = [o for o in outcomes if o.kind == "claim"]
        requires = ()
        if earlier and r.random() < 0.5:
            requires = tuple(
                Requirement(o.id, r.choice([0, 0, 10, 91])) for o in r.sample(earlier, r.randint(1, min(2, len(earlier))))
            )
        exclusive = r.choice(groups)
        outcomes.append(
            Outcome(
                oid,
                price=price,
                prices=prices or (),
                tiers=tiers or (),
                max_claims=1 if exclusive else r.choice([1, 1, 2, 3]),
                window_days=r.choice([None, None, 120, 400]),
                exclusive=exclusive,
                cohorts=r.choice([None, None, ("a",), ("a", "b")]),
                volume_cap=r.choice([None, None, 0, 2, 5]),
                amount_cap=r.choice([None, None, 10000, 300000]),
                requires=requires,
            )
        )
    n_pay = r.randint(1, 3)
    # decimal shares, and exact fractions (SPEC 11.2) that no decimal can write
    shares = r.choice({1: [["1"]], 2: [["0.7", "0.3"], ["2/3", "1/3"]],
                       3: [["0.333", "0.333", "0.334"], ["1/3", "1/3", "1/3"], ["1/2", "0.3", "1/5"]]}[n_pay])
    payers = [Payer(f"P{i}", f"Payer {i}", share_of(s)) for i, s in enumerate(shares)]
    if r.random() < 0.4:  # payer caps (SPEC 11.1): some payers capped, cut or shift, a cap of 0 included
        payers = [Payer(p.id, p.name, p.share, r.choice([None, 0, 3000, 20000, 150000]), r.choice(["cut", "shift"]))
                  for p in payers]
    if n_pay > 1 and r.random() < 0.3:
        o = r.choice(outcomes)
        split = r.choice([(("P1", Decimal("1")),), (("P0", Fraction(1, 3)), ("P1", Fraction(2, 3)))])
        outcomes[outcomes.index(o)] = Outcome(**{**o.__dict__, "payers": split})
    caps = Caps(
        per_participant=r.choice([None, 5000, 160000, 300000]),
        total=r.choice([None, None, 10000, 400000, 1000000]),
        partial=r.random() < 0.6,
    )
    contract = make_contract(
        outcomes,
        payers=payers,
        caps=caps,
        referrals_end=r.choice([None, START + timedelta(days=300)]),
        outcomes_end=START + timedelta(days=450),
        claims_end=START + timedelta(days=r.choice([450, 470])),
    )
    # short ASCII ids are matched packed into integers, the others as strings (sob.idkeys)
    style = r.choice(["p", "p", "participant-number-", "zoë-"])
    people = [f"{style}{i}" for i in range(r.randint(1, 6))]
    register = r.random() < 0.8
    reg_rows = [
        {"participant_id": p, "enrolled_on": _day(r, 350), "eligible": r.random() > 0.05, "cohort": r.choice(["a", "a", "b", None])}
        for p in people
    ]
    claim_rows = []
    claim_outcomes = [o for o in outcomes if o.kind == "claim"]
    enrolled = {p["participant_id"]: p["enrolled_on"] for p in reg_rows}
    for i in range(r.randint(0, max_claims) if claim_outcomes else 0):
        who = r.choice(people)
        ach = enrolled[who] + timedelta(days=r.randrange(-5, 150)) if r.random() < 0.85 else _day(r)
        sub = ach + timedelta(days=r.choice([0, 0, 3, 40, 100]))
        claim_rows.append(
            {
                "id": f"c{r.randint(0, 999):03d}x{i}",
                "participant_id": who,
                "outcome_id": r.choice(claim_outcomes).id,
                "achieved_on": ach,
                "submitted_on": sub,
                "status": r.choice(["claimed"] * 8 + ["withdrawn", "failed"]),
            }
        )
    result_rows = []
    for o in [o for o in outcomes if o.kind == "improvement"]:
        for j in range(r.randint(0, 3)):
            ach = _day(r)
            result_rows.append(
                {
                    "id": f"r{o.id}{j}",
                    "outcome_id": o.id,
                    "cohort": r.choice(["k1", "k2"]),
                    "achieved_on": ach,
                    "submitted_on": ach + timedelta(days=r.choice([0, 30])),
                    "baseline": r.choice(["1.55", "100", "2"]),
                    "observed": r.choice(["1.42", "80", "2.5", "0"]),
                    "units": r.choice(["1", "1000", "3.5"]),
                    "status": r.choice(["claimed"] * 5 + ["withdrawn"]),
                }
            )
    return contract, claim_rows, (reg_rows if register or contract.needs_register else None), result_rows


def frames(claim_rows, reg_rows, result_rows):
    claims = pl.DataFrame(
        [{k: v for k, v in c.items() if k != "id"} | {"claim_id": c["id"], "error": None} for c in claim_rows],
        schema={"participant_id": pl.String, "outcome_id": pl.String, "achieved_on": pl.Date, "submitted_on": pl.Date,
                "status": pl.String, "claim_id": pl.String, "error": pl.String},
    )
    parts = None
    if reg_rows is not None:
        parts = pl.DataFrame(
            [p | {"error": None} for p in reg_rows],
            schema={"participant_id": pl.String, "enrolled_on": pl.Date, "eligible": pl.Boolean, "cohort": pl.String, "error": pl.String},
        )
    results = pl.DataFrame(
        [{k: v for k, v in r.items() if k != "id"} | {"result_id": r["id"], "error": None} for r in result_rows],
        schema={"outcome_id": pl.String, "cohort": pl.String, "achieved_on": pl.Date, "submitted_on": pl.Date,
                "baseline": pl.String, "observed": pl.String, "units": pl.String, "status": pl.String,
                "result_id": pl.String, "error": pl.String},
    )
    return claims, parts, results


# bounded and derandomized: each test stays well under 10 s on a shared machine and never flakes
SETTINGS = settings(max_examples=75, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _agrees_with_oracle(seed: int, day: int, max_claims: int = 30) -> None:
    contract, claim_rows, reg_rows, result_rows = random_case(seed, max_claims=max_claims)
    as_at = START + timedelta(days=day)
    expected_parts: dict = {}
    expected, order = oracle.assess(contract, claim_rows, reg_rows, result_rows, as_at, expected_parts)
    evidence = frames(claim_rows, reg_rows, result_rows)
    got = assess(contract, *evidence, as_at)
    assert got["claim_id"].to_list() == order
    for cid, status, reason, price, payable in got.select("claim_id", "status", "reason", "price", "payable").iter_rows():
        assert (status, reason, price, payable) == expected[cid], cid
    if contract.has_payer_caps:  # each payer's part, as the walk of SPEC 11.1 gives it
        names = [f"_part_{p}" for p in contract.payer_ids]
        for cid, *row_parts in got.select("claim_id", *names).iter_rows():
            assert row_parts == expected_parts[cid], cid
    if reg_rows is not None:  # the register rows the evidence reader hands over give the same table
        row_of = {p["participant_id"]: i for i, p in enumerate(reg_rows)}
        rows = pl.Series([row_of.get(c["participant_id"]) for c in claim_rows], dtype=pl.UInt32)
        assert_frame_equal(assess(contract, *evidence, as_at, participant_rows=rows), got)
        # rows that no longer fit the frames (the register sorted since) are noticed and not used
        claims, parts, results = evidence
        if parts.height > 1 and parts["participant_id"].n_unique() > 1:
            shuffled = parts.reverse()
            assert_frame_equal(assess(contract, claims, shuffled, results, as_at, participant_rows=rows),
                               assess(contract, claims, shuffled, results, as_at))


@SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 600))
def test_engine_matches_the_sequential_reading_of_the_spec(seed, day):
    _agrees_with_oracle(seed, day)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(0, 600))
def test_engine_matches_the_spec_on_larger_cases(seed, day):
    _agrees_with_oracle(seed, day, max_claims=400)


@SETTINGS
@given(st.integers(0, 10**9), st.randoms(use_true_random=False))
def test_row_order_never_changes_a_result(seed, rnd):
    """Also for carried columns: claims listed in processing order are not moved, others are gathered."""
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    q = Quarter(2020, 4)

    def table():
        claims, parts, results = frames(claim_rows, reg_rows, result_rows)
        claims = claims.with_columns(note=pl.lit("n-") + pl.col("claim_id"))
        return pay_quarter(contract, claims, parts, results, q, carried=["note"]).table

    undated = date.max
    claim_rows.sort(key=lambda c: (c["submitted_on"] is None or c["achieved_on"] is None,
                                   c["submitted_on"] or undated, c["achieved_on"] or undated, c["id"]))
    a = table()
    rnd.shuffle(claim_rows)
    rnd.shuffle(result_rows)
    if reg_rows:
        rnd.shuffle(reg_rows)
    b = table()
    assert a.equals(b)
    claims = a.filter(pl.col("kind") == "claim")
    assert claims["note"].to_list() == ["n-" + c for c in claims["claim_id"].to_list()]


@SETTINGS
@given(st.integers(0, 10**9))
def test_payer_columns_sum_and_caps_hold(seed):
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    run = pay_quarter(contract, *frames(claim_rows, reg_rows, result_rows), Quarter(2021, 2))
    t = run.table
    payer_sum = sum(t[f"due_{p}"] for p in contract.payer_ids)
    assert (payer_sum == t["due"]).all()
    assert run.payer_totals["entitled"].sum() == t["entitled"].sum()
    assert run.payer_totals["due"].sum() == t["due"].sum()
    caps = contract.caps
    if caps.total is not None:
        assert t["entitled"].sum() <= caps.total
    if caps.per_participant is not None:
        per = t.filter(pl.col("kind") == "claim").group_by("participant_id").agg(pl.col("entitled").sum())
        assert (per["entitled"] <= caps.per_participant).all()
    for o in contract.outcomes:
        if o.amount_cap is not None:
            assert t.filter(pl.col("outcome_id") == o.id)["entitled"].sum() <= o.amount_cap
    for payer, entitled in zip(contract.payers, run.payer_totals["entitled"], strict=True):
        assert payer.cap is None or entitled <= payer.cap, payer.id  # no payer is paid beyond its cap
    assert (t["entitled"] >= 0).all()
    priced = t.filter(pl.col("price").is_not_null())
    assert (priced["entitled"] <= priced["price"]).all()


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_dues_over_consecutive_quarters_add_up_to_the_last_entitlement(seed):
    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    evidence = frames(claim_rows, reg_rows, result_rows)
    q, total_due = Quarter(2019, 4), 0
    per_payer = dict.fromkeys(contract.payer_ids, 0)
    for _ in range(7):
        q = q.next()
        run = pay_quarter(contract, *evidence, q)
        total_due += run.table["due"].sum()
        for p in per_payer:
            per_payer[p] += run.table[f"due_{p}"].sum()
    assert total_due == run.table["entitled"].sum()
    assert per_payer == dict(zip(run.payer_totals["payer_id"], run.payer_totals["entitled"]))


def test_split_matches_the_oracle_on_awkward_shares():
    from sob.money import split_largest_remainder

    shares = [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]
    for amount in range(50):
        assert split_largest_remainder(amount, shares) == oracle.split(amount, shares)
        assert sum(split_largest_remainder(amount, shares)) == amount
    assert split_largest_remainder(1, [Fraction(1, 2), Fraction(1, 2)]) == [1, 0]


@SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 600))
def test_previous_quarter_reuse_equals_a_fresh_assessment(seed, day):
    """The shortcut for the previous quarter's entitlement gives the same numbers as assessing again."""
    from sob.payrun import _parts, _recomputed_previous

    contract, claim_rows, reg_rows, result_rows = random_case(seed)
    evidence = frames(claim_rows, reg_rows, result_rows)
    as_at = START + timedelta(days=day)
    before = as_at - timedelta(days=91)
    current = _parts(assess(contract, *evidence, as_at).rename({"payable": "entitled"}), contract, "entitled", "_ent_")
    fresh = dict(assess(contract, *evidence, before).select("claim_id", "payable").iter_rows())
    reused = _recomputed_previous(contract, current, *evidence, before)
    for cid, paid in reused.select("claim_id", "previously_paid").iter_rows():
        assert (paid or 0) == fresh.get(cid, 0), cid
    if contract.has_payer_caps:  # and each payer's part of it (SPEC 11.1)
        names = [f"_part_{p}" for p in contract.payer_ids]
        fresh_parts = {cid: parts for cid, *parts in assess(contract, *evidence, before).select("claim_id", *names).iter_rows()}
        zero = [0] * len(names)
        for cid, *parts in reused.select("claim_id", *[f"_prev_{p}" for p in contract.payer_ids]).iter_rows():
            assert [x or 0 for x in parts] == fresh_parts.get(cid, zero), cid
