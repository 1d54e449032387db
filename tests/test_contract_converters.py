"""Value converters (sob.contract.converters): each kind alone, with the facts it is given."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sob.contract.converters import CONVERTERS, Facts, convert_fields
from sob.contract.report import Reporter, owner_names


def reporter() -> Reporter:
    return Reporter("", "c.toml")


def test_money_uses_the_minor_unit_it_is_given():
    r = reporter()
    assert CONVERTERS["money"](r, Facts(minor_units=2), Decimal("1.25"), ("caps", "total")) == 125
    assert CONVERTERS["money"](r, Facts(minor_units=0), Decimal("1.25"), ("caps", "total")) is None
    assert [f.code for f in r.findings] == ["TOO_MANY_DECIMALS"]


def test_money_with_an_unknown_minor_unit_is_left_unreported():
    r = reporter()  # the currency was broken and already reported: no second finding
    assert CONVERTERS["money"](r, Facts(minor_units=None), Decimal("1.25"), ("caps", "total")) is None
    assert r.findings == []


def test_a_share_table_checks_payers_against_the_ids_it_is_given():
    r = reporter()
    got = CONVERTERS["share_table"](r, Facts(payer_ids=("LA",)), {"LA": Decimal("0.5"), "XX": Decimal("0.5")},
                                    ("outcomes", 0, "payers"))
    assert got is None
    assert [f.code for f in r.findings] == ["UNKNOWN_REFERENCE"]


def test_prices_must_start_by_the_contract_start_it_is_given():
    r = reporter()
    prices = [{"from": date(2020, 2, 1), "price": 5}]
    assert CONVERTERS["prices"](r, Facts(minor_units=2, start=date(2020, 1, 1)), prices, ("outcomes", 0, "prices")) is None
    assert [f.code for f in r.findings] == ["PRICES_NOT_SORTED"]
    r = reporter()
    assert CONVERTERS["prices"](r, Facts(minor_units=2, start=date(2020, 3, 1)), prices, ("outcomes", 0, "prices"))


def test_a_path_is_confined_only_when_a_folder_is_known(tmp_path):
    (tmp_path / "link.csv").symlink_to("/etc/hostname")
    r = reporter()
    assert CONVERTERS["path"](r, Facts(), "link.csv", ("evidence", "claims")) == "link.csv"
    assert CONVERTERS["path"](r, Facts(folder=tmp_path.resolve()), "link.csv", ("evidence", "claims")) is None
    assert [f.code for f in r.findings] == ["UNSAFE_PATH"]


def test_convert_fields_reports_unknown_and_missing_keys_once():
    r = reporter()
    out = convert_fields(r, Facts(), {"id": "LA", "shar": 1}, ("payers", 0), {"id": "payer_id", "share": "share"},
                         ("id", "share"))
    assert out == {"id": "LA"}
    assert [(f.code, f.hint) for f in r.findings] == [("UNKNOWN_KEY", "did you mean 'share'?"), ("MISSING_KEY", None)]


def test_owners_are_named_by_id_whatever_the_order_of_checks():
    names = owner_names({"payers": [{"id": "LA"}, "junk"], "outcomes": [{"id": 3}, {"id": "P"}], "examples": [{"name": "e"}]})
    assert names == {("payers", 0): "payer 'LA'", ("outcomes", 1): "outcome 'P'", ("examples", 0): "example 'e'"}
