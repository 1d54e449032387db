"""One test per reason code of SPEC 5.2/5.3/5.5, with the boundaries named in the spec."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_helpers import Caps, Outcome, PricePoint, Requirement, Tier, claims, contract, d, participants, results
from hypothesis import given, settings
from hypothesis import strategies as st

from sob.assessment import assess

AS_AT = d("2022-12-31")


def verdicts(c, cl, pa=None, res=None, as_at=AS_AT):
    out = assess(c, cl, pa, res, as_at)
    return {cid: (st, why, pay) for cid, st, why, pay in out.select("claim_id", "status", "reason", "payable").iter_rows()}


def one(outcome=None, **kw):
    return contract([outcome or Outcome("O", price=10000)], **kw)


def test_withdrawn_and_failed_are_rejected_first():
    v = verdicts(one(), claims([("1", "A", "O", "2020-02-01", None, "withdrawn"), ("2", "A", "O", "2020-02-02", None, "failed")]))
    assert v["1"] == ("rejected", "WITHDRAWN", 0)
    assert v["2"] == ("rejected", "WITHDRAWN", 0)


def test_ineligible_by_flag_and_by_cohort():
    c = contract([Outcome("O", price=100), Outcome("Y", price=100, cohorts=("18-24",))])
    pa = participants([("A", "2020-01-10", False, "18-24"), ("B", "2020-01-10", True, "25+"), ("C", "2020-01-10", True, None)])
    v = verdicts(c, claims([("1", "A", "O", "2020-02-01"), ("2", "B", "Y", "2020-02-01"), ("3", "B", "O", "2020-02-01"), ("4", "C", "Y", "2020-02-01")]), pa)
    assert v["1"][1] == "INELIGIBLE"
    assert v["2"][1] == "INELIGIBLE"
    assert v["3"] == ("paid", None, 100)
    assert v["4"][1] == "INELIGIBLE"  # no cohort is not one of the listed cohorts


def test_enrolment_period_boundaries_are_inclusive():
    c = one(referrals_end=d("2020-06-30"))
    pa = participants([("A", "2020-01-01"), ("B", "2020-06-30"), ("C", "2019-12-31"), ("D", "2020-07-01")])
    v = verdicts(c, claims([("1", "A", "O", "2020-08-01"), ("2", "B", "O", "2020-08-01"), ("3", "C", "O", "2020-08-01"), ("4", "D", "O", "2020-08-01")]), pa)
    assert v["1"][0] == v["2"][0] == "paid"
    assert v["3"][1] == v["4"][1] == "ENROLMENT_OUT_OF_PERIOD"


def test_before_enrolment():
    v = verdicts(one(), claims([("1", "A", "O", "2020-02-01"), ("2", "B", "O", "2020-02-01")]), participants([("A", "2020-02-02"), ("B", "2020-02-01")]))
    assert v["1"][1] == "BEFORE_ENROLMENT"
    assert v["2"][0] == "paid"


def test_window_last_day_counts_and_the_next_does_not():
    c = one(Outcome("O", price=100, window_days=30))
    pa = participants([("A", "2020-01-01"), ("B", "2020-01-01")])
    v = verdicts(c, claims([("1", "A", "O", "2020-01-31"), ("2", "B", "O", "2020-02-01")]), pa)
    assert v["1"][0] == "paid"
    assert v["2"][1] == "OUT_OF_WINDOW"


def test_register_rules_are_skipped_without_a_register():
    v = verdicts(one(), claims([("1", "A", "O", "2020-02-01")]))
    assert v["1"][0] == "paid"


def test_contract_period_boundaries():
    c = one(outcomes_end=d("2021-12-31"))
    v = verdicts(c, claims([("1", "A", "O", "2020-01-01"), ("2", "B", "O", "2019-12-31"), ("3", "C", "O", "2021-12-31"), ("4", "D", "O", "2022-01-01")]))
    assert v["1"][0] == v["3"][0] == "paid"
    assert v["2"][1] == v["4"][1] == "OUT_OF_CONTRACT_PERIOD"


def test_late_claim_after_claims_end_only():
    c = one(claims_end=d("2021-03-31"), outcomes_end=d("2020-12-31"))
    v = verdicts(c, claims([("1", "A", "O", "2020-12-01", "2021-03-31"), ("2", "B", "O", "2020-12-01", "2021-04-01")]))
    assert v["1"][0] == "paid"
    assert v["2"][1] == "LATE_CLAIM"


def test_prerequisite_min_days_boundary():
    c = contract([Outcome("E", price=500), Outcome("S", price=1500, requires=(Requirement("E", 91),))])
    cl = claims([("e1", "A", "E", "2020-01-01"), ("s1", "A", "S", "2020-04-01"), ("e2", "B", "E", "2020-01-01"), ("s2", "B", "S", "2020-03-31")])
    v = verdicts(c, cl)
    assert v["s1"][0] == "paid"  # 2020-01-01 + 91 days = 2020-04-01
    assert v["s2"][1] == "PREREQUISITE_MISSING"


def test_prerequisite_must_itself_be_qualified_recursively_and_may_come_later_in_order():
    c = contract([Outcome("E", price=1), Outcome("M", price=1, requires=("E",) and (Requirement("E"),)), Outcome("L", price=1, requires=(Requirement("M"),))])
    # The entry is withdrawn, so the middle claim is not qualified, so the last one fails too.
    cl = claims([("1", "A", "E", "2020-01-01", None, "withdrawn"), ("2", "A", "M", "2020-02-01"), ("3", "A", "L", "2020-03-01"),
                 # B's entry is submitted after its sustainment: still found (any place in processing order).
                 ("4", "B", "E", "2020-01-01", "2020-06-01"), ("5", "B", "M", "2020-02-01")])
    v = verdicts(c, cl)
    assert v["2"][1] == "PREREQUISITE_MISSING"
    assert v["3"][1] == "PREREQUISITE_MISSING"
    assert v["5"][0] == "paid"


def test_prerequisite_counts_even_when_capped_or_over_max_claims():
    c = contract([Outcome("E", price=100, volume_cap=0), Outcome("S", price=100, requires=(Requirement("E"),))])
    v = verdicts(c, claims([("1", "A", "E", "2020-01-01"), ("2", "A", "S", "2020-02-01")]))
    assert v["1"] == ("capped", "VOLUME_CAP", 0)
    assert v["2"][0] == "paid"


def test_max_claims_in_processing_order():
    c = one(Outcome("W", price=100, max_claims=3))
    cl = claims([(str(i), "A", "W", f"2020-0{i}-01") for i in range(1, 6)])
    v = verdicts(c, cl)
    assert [v[str(i)][1] for i in range(1, 6)] == [None, None, None, "MAX_CLAIMS", "MAX_CLAIMS"]


def test_processing_order_is_submitted_then_achieved_then_id():
    c = one(Outcome("W", price=100))
    cl = claims([("b", "A", "W", "2020-03-01", "2020-05-01"), ("a", "A", "W", "2020-03-01", "2020-05-01"), ("z", "A", "W", "2020-04-01", "2020-04-30")])
    v = verdicts(c, cl)
    assert v["z"][0] == "paid" and v["a"][1] == v["b"][1] == "MAX_CLAIMS"
    v = verdicts(c, claims([("b", "A", "W", "2020-03-01", "2020-05-01"), ("a", "A", "W", "2020-03-02", "2020-05-01")]))
    assert v["b"][0] == "paid"  # earlier achieved_on wins before the id


def test_exclusive_group_first_keeps_it_even_when_capped_to_nothing():
    c = contract([Outcome("PT", price=3000, exclusive="job"), Outcome("FT", price=4500, exclusive="job")], caps=Caps(per_participant=0))
    v = verdicts(c, claims([("1", "A", "PT", "2020-02-01"), ("2", "A", "FT", "2020-03-01")]))
    assert v["1"] == ("capped", "PARTICIPANT_CAP", 0)
    assert v["2"][1] == "EXCLUSIVE"


def test_volume_cap_is_status_capped():
    c = one(Outcome("O", price=100, volume_cap=2))
    v = verdicts(c, claims([(str(i), f"P{i}", "O", f"2020-0{i}-01") for i in range(1, 5)]))
    assert [v[str(i)][:2] for i in range(1, 5)] == [("paid", None), ("paid", None), ("capped", "VOLUME_CAP"), ("capped", "VOLUME_CAP")]


def test_dated_prices_by_achieved_on():
    o = Outcome("O", prices=(PricePoint(d("2020-01-01"), 150000), PricePoint(d("2021-04-01"), 120000)))
    v = verdicts(one(o), claims([("1", "A", "O", "2021-03-31"), ("2", "B", "O", "2021-04-01")]))
    assert v["1"][2] == 150000 and v["2"][2] == 120000


def test_tiers_by_rank_among_accepted_claims():
    o = Outcome("O", tiers=(Tier(2, 2000), Tier(3, 1800), Tier(None, 1600)))
    cl = claims([(str(i), f"P{i}", "O", f"2020-0{i}-01") for i in range(1, 6)] + [("w", "X", "O", "2020-01-15", None, "withdrawn")])
    v = verdicts(one(o), cl)
    assert [v[str(i)][2] for i in range(1, 6)] == [2000, 2000, 1800, 1600, 1600]


def test_participant_cap_partial_and_capped():
    c = contract([Outcome("A1", price=6000), Outcome("A2", price=6000), Outcome("A3", price=6000)], caps=Caps(per_participant=11700))
    v = verdicts(c, claims([("1", "P", "A1", "2020-02-01"), ("2", "P", "A2", "2020-03-01"), ("3", "P", "A3", "2020-04-01")]))
    assert v["1"] == ("paid", None, 6000)
    assert v["2"] == ("partial", "PARTICIPANT_CAP", 5700)
    assert v["3"] == ("capped", "PARTICIPANT_CAP", 0)


def test_all_or_nothing_cap_lets_a_later_smaller_claim_fit():
    c = contract([Outcome("Big", price=6000), Outcome("Small", price=1000)], caps=Caps(per_participant=7000, partial=False))
    v = verdicts(c, claims([("1", "P", "Big", "2020-02-01"), ("2", "P", "Big", "2020-03-01"), ("3", "P", "Small", "2020-04-01")]))
    assert v["2"][1] == "MAX_CLAIMS"
    c = contract([Outcome("Big", price=6000, max_claims=2), Outcome("Small", price=1000)], caps=Caps(per_participant=7000, partial=False))
    v = verdicts(c, claims([("1", "P", "Big", "2020-02-01"), ("2", "P", "Big", "2020-03-01"), ("3", "P", "Small", "2020-04-01")]))
    assert v["2"] == ("capped", "PARTICIPANT_CAP", 0)
    assert v["3"] == ("paid", None, 1000)


def test_outcome_and_contract_caps_and_the_tie_order():
    c = contract([Outcome("O", price=1000, amount_cap=1500, max_claims=5)], caps=Caps(total=1500))
    v = verdicts(c, claims([("1", "P", "O", "2020-02-01"), ("2", "Q", "O", "2020-03-01"), ("3", "R", "O", "2020-04-01")]))
    assert v["2"] == ("partial", "OUTCOME_CAP", 500)  # both headrooms 500: outcome before contract
    assert v["3"] == ("capped", "OUTCOME_CAP", 0)
    c = contract([Outcome("O", price=1000, max_claims=5)], caps=Caps(total=1500, per_participant=1500))
    v = verdicts(c, claims([("1", "P", "O", "2020-02-01"), ("2", "P", "O", "2020-03-01")]))
    assert v["2"] == ("partial", "PARTICIPANT_CAP", 500)


def test_zero_price_is_paid_even_at_a_full_cap():
    c = contract([Outcome("O", price=1000), Outcome("M", price=0)], caps=Caps(total=1000))
    v = verdicts(c, claims([("1", "P", "O", "2020-02-01"), ("2", "P", "M", "2020-03-01")]))
    assert v["2"] == ("paid", None, 0)


def test_rows_submitted_after_the_quarter_are_out_of_scope():
    v = verdicts(one(), claims([("1", "A", "O", "2020-02-01", "2020-04-01")]), as_at=d("2020-03-31"))
    assert v == {}


def improvement(**kw):
    base = {"kind": "improvement", "direction": "decrease", "price": 200000, "min_improvement": Decimal("0.10")}
    base.update(kw)
    return Outcome("R", **base)


def test_threshold_is_exact_and_inclusive():
    c = one(improvement())
    res = results([("x", "R", "c1", "2020-06-01", "1.50", "1.35", "100"), ("y", "R", "c2", "2020-06-01", "1.50", "1.36", "100")])
    v = verdicts(c, claims([]), res=res)
    assert v["x"] == ("paid", None, 200000 * 100 * 15 // 100)  # exactly 10% meets the threshold
    assert v["y"] == ("rejected", "BELOW_THRESHOLD", 0)


def test_one_result_per_outcome_and_cohort_and_the_first_keeps_the_slot():
    c = one(improvement())
    res = results([("a", "R", "c1", "2020-06-01", "1.50", "1.49"), ("b", "R", "c1", "2020-07-01", "1.50", "1.00")])
    v = verdicts(c, claims([]), res=res)
    assert v["a"][1] == "BELOW_THRESHOLD" and v["b"][1] == "MAX_CLAIMS"


def test_improvement_price_with_deadweight_rounds_once_half_away_from_zero():
    c = one(improvement(direction="increase", price=1, min_improvement=Decimal(0), deadweight=Decimal("0.5")))
    # 0.01 £ × units 1 × improvement 1 × 0.5 = 0.005 £ → 0.01 £ (half away from zero)
    v = verdicts(c, claims([]), res=results([("x", "R", "c1", "2020-06-01", "10", "11")]))
    assert v["x"] == ("paid", None, 1)


def test_results_share_the_contract_cap_with_claims_but_not_the_participant_cap():
    c = contract([Outcome("O", price=1000), improvement(price=100, min_improvement=Decimal(0))], caps=Caps(total=1500, per_participant=100))
    res = results([("r", "R", "c1", "2020-06-01", "10", "0")])  # 100 × 10 = 1000
    v = verdicts(c, claims([("1", "P", "O", "2020-02-01")]), res=res)
    assert v["1"] == ("partial", "PARTICIPANT_CAP", 100)
    assert v["r"] == ("paid", None, 1000)


@pytest.mark.parametrize("status", ["withdrawn", "failed"])
def test_withdrawn_results(status):
    v = verdicts(one(improvement()), claims([]), res=results([("x", "R", "c", "2020-06-01", "2", "1", "1", None, status)]))
    assert v["x"][1] == "WITHDRAWN"


def test_scope_follows_the_fiscal_quarter_end():
    """With April years, 2020-Q4 ends on 31 March 2021: a claim submitted that day is in, the next day's is not."""
    from sob.payrun import pay_quarter
    from sob.quarters import Quarter

    c = one(fiscal_year_start_month=4)
    cl = claims([("in", "A", "O", "2021-03-01", "2021-03-31"), ("out", "B", "O", "2021-03-01", "2021-04-01")])
    table = pay_quarter(c, cl, None, None, Quarter(2020, 4)).table
    assert table["claim_id"].to_list() == ["in"]
    table = pay_quarter(c, cl, None, None, Quarter(2021, 1)).table
    assert dict(zip(table["claim_id"], table["due"])) == {"in": 0, "out": 10000}


def test_money_columns_are_integers_never_floats():
    """Every amount in the claim table is an Int64 count of minor units."""
    import polars as pl

    from sob.payrun import pay_quarter
    from sob.quarters import Quarter

    c = contract([Outcome("O", price=10001, max_claims=3)], caps=Caps(per_participant=15000))
    table = pay_quarter(c, claims([("1", "A", "O", "2020-02-01"), ("2", "A", "O", "2020-03-01")]), None, None, Quarter(2020, 1)).table
    for name in ("price", "entitled", "previously_paid", "due", "due_P"):
        assert table.schema[name] == pl.Int64, name
    assert table["entitled"].to_list() == [10001, 4999]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.none() | st.integers(0, 3), st.integers(0, 3)),
                max_size=12), st.booleans(), st.randoms(use_true_random=False))
def test_processing_order_whichever_way_it_is_found(rows, presorted, rnd):
    """Unsorted ids (full sort), sorted ids (stable sort on dates) and rows already in order (no sort) agree."""
    from datetime import timedelta

    import polars as pl

    from sob.assessment import processing_order

    base = d("2020-01-01")
    frame = pl.DataFrame(
        [{"claim_id": f"{cid}{i:02d}", "submitted_on": None if s is None else base + timedelta(days=s),
          "achieved_on": base + timedelta(days=a)} for i, (cid, s, a) in enumerate(rows)],
        schema={"claim_id": pl.String, "submitted_on": pl.Date, "achieved_on": pl.Date},
    ).with_columns(_undated=pl.col("submitted_on").is_null())
    dated = ~pl.col("_undated")  # rows without dates come last, by id alone
    expected = frame.sort([pl.col("_undated"), pl.when(dated).then(pl.col("submitted_on")),
                           pl.when(dated).then(pl.col("achieved_on")), pl.col("claim_id")])["claim_id"].to_list()
    if presorted:  # ids given in processing order: the frame is already in order
        ids = sorted(frame["claim_id"].to_list())
        frame = frame.sort(pl.col("claim_id").replace_strict(expected, list(range(len(expected))), default=None))
        frame = frame.with_columns(claim_id=pl.Series(ids, dtype=pl.String))
        expected = ids
    else:
        frame = frame.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 1000))
    empty = frame.clear()
    assert processing_order(frame, empty)["claim_id"].to_list() == expected
