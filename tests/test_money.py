"""Money helpers: exact minor units, formatting, rounding, ISO minor units."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from sob.money import (
    fits_minor_units,
    format_minor,
    is_iso_currency,
    iso_minor_units,
    parse_decimal,
    round_half_away,
    split_largest_remainder,
    to_minor,
)


def test_iso_minor_units():
    assert iso_minor_units("GBP") == 2
    assert iso_minor_units("JPY") == 0
    assert iso_minor_units("KRW") == 0
    assert iso_minor_units("BHD") == 3
    assert iso_minor_units("KWD") == 3
    assert iso_minor_units("XAU") is None and is_iso_currency("XAU")
    assert not is_iso_currency("ABC")


@pytest.mark.parametrize(
    ("minor", "units", "text"),
    [(150000, 2, "1500.00"), (-5, 2, "-0.05"), (0, 2, "0.00"), (7, 0, "7"), (-1234, 3, "-1.234"), (1, 18, "0.000000000000000001")],
)
def test_format_minor(minor, units, text):
    assert format_minor(minor, units) == text


def test_to_minor_is_exact_and_refuses_rounding():
    assert to_minor(Decimal("500.000"), 2) == 50000
    assert to_minor(Decimal("0.7"), 1) == 7
    with pytest.raises(ValueError):
        to_minor(Decimal("500.005"), 2)
    with pytest.raises(ValueError):  # beyond Decimal's 28-digit context: must not round silently
        to_minor(Decimal("500.0000000000000000000000000000001"), 2)
    assert fits_minor_units(Decimal("1e30"), 2)
    assert not fits_minor_units(Decimal("0.001"), 2)


def test_parse_decimal_is_plain():
    assert parse_decimal(" -12.50 ") == Decimal("-12.50")
    assert parse_decimal(".5") == Decimal("0.5")
    for bad in ("1e3", "1,000", "£5", "", "NaN", "inf", "--1"):
        assert parse_decimal(bad) is None


def test_round_half_away_from_zero():
    assert round_half_away(Fraction(5, 1000), 2) == 1
    assert round_half_away(Fraction(-5, 1000), 2) == -1
    assert round_half_away(Fraction(4999, 1000000), 2) == 0
    assert round_half_away(Fraction(25, 10), 0) == 3  # not banker's rounding


def test_split_largest_remainder_ties_go_to_the_first_payer():
    assert split_largest_remainder(1, [Fraction(1, 2), Fraction(1, 2)]) == [1, 0]
    assert split_largest_remainder(100, [Fraction(7, 10), Fraction(3, 10)]) == [70, 30]
    assert split_largest_remainder(2, [Fraction(1, 3)] * 3) == [1, 1, 0]
    # 0.704 / 0.296 of 1 penny: remainders .704 and .296
    assert split_largest_remainder(1, [Fraction(704, 1000), Fraction(296, 1000)]) == [1, 0]
    assert sum(split_largest_remainder(123457, [Fraction(1, 7), Fraction(6, 7)])) == 123457


def test_vectorised_split_equals_the_exact_split():
    """The integer-expression split of sob.payers agrees with the Fraction split, and so does its fallback."""
    import random

    import polars as pl
    from engine_helpers import Outcome, contract

    from sob.contract import Payer
    from sob.payers import _split_by_pairs, split_amounts

    rnd = random.Random(7)
    for shares in (["1"], ["0.5", "0.5"], ["0.7", "0.3"], ["0.333", "0.333", "0.334"], ["0.6667", "0.3333"], ["0.704", "0.296"]):
        payers = [Payer(f"P{i}", "", Decimal(s)) for i, s in enumerate(shares)]
        c = contract([Outcome("A", price=1), Outcome("B", price=1, payers=(("P0", Decimal(1)),))], payers=payers)
        amounts = [rnd.randrange(0, 10**9) for _ in range(300)] + [0, 1, 2, 3, None]
        frame = pl.DataFrame({"outcome_id": [rnd.choice(["A", "B", "X"]) for _ in amounts], "amt": amounts})
        fast = split_amounts(frame, c, "amt", "s_")
        slow = _split_by_pairs(frame, c, "amt", "s_")
        assert fast.equals(slow)
        for row in fast.iter_rows(named=True):
            shares_row = c.shares_for(c.outcome(row["outcome_id"])) if row["outcome_id"] != "X" else [Fraction(p.share) for p in payers]
            assert [row[f"s_P{i}"] for i in range(len(payers))] == split_largest_remainder(row["amt"] or 0, shares_row)


def test_one_payer_takes_all_only_with_a_single_payer_whose_share_is_one():
    from engine_helpers import Outcome, contract

    from sob.contract import Payer
    from sob.payers import one_payer_takes_all

    one = [Payer("P0", "", Decimal(1))]
    two = [Payer("P0", "", Decimal("0.5")), Payer("P1", "", Decimal("0.5"))]
    assert one_payer_takes_all(contract([Outcome("A", price=1)], payers=one))
    assert not one_payer_takes_all(contract([Outcome("A", price=1)], payers=two))
    # an outcome may not give the single payer a different share (a contract that fails validation)
    odd = contract([Outcome("A", price=1, payers=(("P0", Decimal("0.5")),))], payers=one)
    assert not one_payer_takes_all(odd)
