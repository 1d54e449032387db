"""``sob.pricing`` (SPEC 5.4): claim prices by outcome, date and tier; exact cohort-result amounts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from conftest import load, make_contract
from engine_helpers import Outcome, PricePoint, Tier, contract, d

from sob.pricing import claim_price_expr, price_result, price_source

DATED = Outcome("D", prices=(PricePoint(d("2020-01-01"), 1000), PricePoint(d("2021-04-01"), 700)))
TIERED = Outcome("T", tiers=(Tier(2, 2000), Tier(5, 1800), Tier(None, 1600)))


def _prices(c, rows):
    """rows: (outcome_id, achieved_on, rank) -> the price the expression gives each."""
    frame = pl.DataFrame(rows, schema={"outcome_id": pl.String, "achieved_on": pl.Date, "_rank_outcome": pl.Int64},
                         orient="row")
    return frame.select(claim_price_expr(c))["price"].to_list()


def test_flat_dated_and_tiered_prices():
    c = contract([Outcome("F", price=500), DATED, TIERED])
    rows = [
        ("F", d("2020-05-05"), None),
        ("D", d("2020-01-01"), None),  # the first entry is in force from its own date
        ("D", d("2021-03-31"), None),
        ("D", d("2021-04-01"), None),  # the later entry from its date on
        ("T", d("2020-05-05"), 1), ("T", d("2020-05-05"), 2),  # tier 1: ranks 1-2
        ("T", d("2020-05-05"), 3), ("T", d("2020-05-05"), 5),  # tier 2: ranks 3-5
        ("T", d("2020-05-05"), 6), ("T", d("2020-05-05"), 600),  # the open tier: all the rest
    ]
    assert _prices(c, rows) == [500, 1000, 1000, 700, 2000, 2000, 1800, 1800, 1600, 1600]


def test_an_unknown_outcome_or_an_improvement_outcome_has_no_claim_price():
    c = contract([Outcome("F", price=500), Outcome("I", kind="improvement", direction="increase", price=9)])
    assert _prices(c, [("X", d("2020-05-05"), None), ("I", d("2020-05-05"), None)]) == [None, None]


def test_the_expression_reads_enum_outcome_ids_as_the_reader_types_them():
    c = contract([Outcome("F", price=500), DATED])
    frame = pl.DataFrame({"outcome_id": ["D", "F"], "achieved_on": [d("2022-01-01")] * 2, "_rank_outcome": [None, None]})
    typed = frame.cast({"outcome_id": pl.Enum(["F", "D"])})
    assert typed.select(claim_price_expr(c))["price"].to_list() == [700, 500]


def test_price_source_says_where_a_price_came_from():
    assert price_source(Outcome("F", price=5), d("2020-01-01"), None) == "flat price of F"
    assert price_source(DATED, d("2021-05-01"), None) == "dated price from 2021-04-01 (achieved 2021-05-01)"
    assert price_source(DATED, d("2019-05-01"), None) == "no dated price in force"
    assert price_source(TIERED, d("2020-01-01"), 4) == "tier 2 (ranks 3–5) for rank 4 among accepted T claims"
    assert price_source(TIERED, d("2020-01-01"), 9) == "tier 3 (ranks 6–) for rank 9 among accepted T claims"


def _improvement(**kw):
    base = {"kind": "improvement", "direction": "decrease", "price": 200000}
    return Outcome("I", **(base | kw))


def test_result_amount_is_exact_and_rounded_once_half_away_from_zero():
    # 2000.00 x 3.5 units x (1.55 - 1.42) x (1 - 0.33) = 7000 x 0.13 x 0.67 = 609.70 exactly
    # (60970 pence); trailing zeros in the cells change nothing
    c = contract([_improvement(deadweight=Decimal("0.33"))])
    got = price_result(c.outcomes[0], c, d("2020-06-01"), "1.55", "1.42", "3.5")
    assert got == price_result(c.outcomes[0], c, d("2020-06-01"), "1.550", "1.420", "3.50")
    assert got.passes and got.amount == 60970 and got.improvement == Fraction(13, 100)
    # 1 pence x 1 unit x 0.5 improvement = 0.5 pence: half rounds away from zero, to 1
    c = contract([_improvement(price=1)])
    assert price_result(c.outcomes[0], c, d("2020-06-01"), "1", "0.5", "1").amount == 1
    # 0.49 pence rounds down to 0
    assert price_result(c.outcomes[0], c, d("2020-06-01"), "1", "0.51", "1").amount == 0


def test_threshold_compares_exactly_never_through_a_rounded_ratio():
    # improvement 0.075 x baseline 1 = 0.075: exactly at the threshold passes; a hair below fails
    c = contract([_improvement(min_improvement=Decimal("0.075"))])
    o = c.outcomes[0]
    assert price_result(o, c, d("2020-06-01"), "1", "0.925", "1").passes
    below = price_result(o, c, d("2020-06-01"), "1", "0.92500000000000000001", "1")
    assert not below.passes and below.amount is None


def test_increase_direction_and_dated_price_of_a_result():
    o = _improvement(direction="increase", price=None,
                     prices=(PricePoint(d("2020-01-01"), 100), PricePoint(d("2021-01-01"), 300)))
    c = contract([o])
    assert price_result(o, c, d("2020-12-31"), "10", "12", "1").amount == 200  # 100 x 2
    assert price_result(o, c, d("2021-01-01"), "10", "12", "1").amount == 600  # 300 x 2
    worse = price_result(o, c, d("2021-01-01"), "10", "9", "1")  # a fall is no improvement when up is better
    assert not worse.passes and worse.improvement == -1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dated_and_tiered_prices_through_files_and_the_command(tmp_path, fmt):
    """Worked by hand: D is 10.00 until 31 March 2021 and 7.00 from 1 April; T pays 20.00 for the
    first two accepted claims (by processing order) and 16.00 after."""
    from typer.testing import CliRunner

    from sob.cli import app

    path = make_contract(tmp_path, contract={"outcomes_end": d("2021-12-31")}, outcomes=[
        {"id": "D", "prices": [{"from": d("2020-01-01"), "price": "10.00"}, {"from": d("2021-04-01"), "price": 7}]},
        {"id": "T", "tiers": [{"up_to": 2, "price": 20}, {"price": "16.00"}]},
    ])
    load(path)
    rows = [("d1", "A", "D", "2021-03-31"), ("d2", "B", "D", "2021-04-01"), ("t3", "C", "T", "2021-02-03"),
            ("t1", "A", "T", "2021-02-01"), ("t2", "B", "T", "2021-02-02")]
    claims = tmp_path / f"claims.{fmt}"
    frame = pl.DataFrame(rows, schema=["claim_id", "participant_id", "outcome_id", "achieved_on"], orient="row")
    if fmt == "csv":
        frame.write_csv(claims)
    else:
        frame.write_parquet(claims)
    out = tmp_path / "table.csv"
    result = CliRunner().invoke(app, ["pay", str(path), "--quarter", "2021-Q2", "--claims", str(claims),
                                      "--export", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    table = pl.read_csv(out, infer_schema=False)
    assert dict(table.select("claim_id", "price").iter_rows()) == {
        "d1": "10.00", "d2": "7.00", "t1": "20.00", "t2": "20.00", "t3": "16.00"}
