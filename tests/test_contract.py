"""Loading valid contracts: values, money, defaults, quarters in profiles."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sob.contract import Contract, PricePoint, Requirement, Tier, check_contract_text, load_contract

FULL = """\
schema = "sob/1"

[contract]
id = "kirklees-bop"
name = "Kirklees Better Outcomes Partnership"
currency = "GBP"
start = 2019-04-01
referrals_end = 2022-03-31
outcomes_end = 2023-03-31
claims_end = 2023-06-30
fiscal_year_start_month = 4

[[payers]]
id = "KC"
name = "Kirklees Council"
share = 0.7
[[payers]]
id = "LCF"
name = "Life Chances Fund"
share = 0.3

[caps]
per_participant = 11700.00
total = "2500000.00"
partial = false

[evidence]
claims = "evidence/claims.csv"
participants = "evidence/participants.csv"
date_format = "%d/%m/%Y"
delimiter = ";"
[evidence.columns]
participant_id = "Client Ref"

[[outcomes]]
id = "ACC_ENTRY"
name = "Entry into settled accommodation"
price = 500.00
max_claims = 1
window_days = 730
exclusive = "accommodation-entry"
cohorts = ["18-24"]
volume_cap = 400
amount_cap = 150000.00
payers = { KC = 1.0 }
profile = { "2020-Q2" = 25, "2020-Q1" = 10 }

[[outcomes]]
id = "ACC_3M"
price = 1500
requires = [{ outcome = "ACC_ENTRY", min_days = 91 }]

[[outcomes]]
id = "ACC_6M"
requires = ["ACC_3M"]
prices = [
  { from = 2019-04-01, price = 1500.00 },
  { from = 2021-04-01, price = 1200.00 },
]

[[outcomes]]
id = "EMP_ENTRY"
max_claims = 3
tiers = [
  { up_to = 100, price = 2000.00 },
  { price = 1600.00 },
]

[[outcomes]]
id = "REOFFENDING"
kind = "improvement"
direction = "decrease"
price = 2000.00
min_improvement = 0.10
deadweight = 0.0

[[examples]]
name = "entry then sustainment pays both"
quarter = "2020-Q1"
participants = [{ participant_id = "A", enrolled_on = 2019-05-01, cohort = "18-24", eligible = true }]
claims = [
  { claim_id = "1", participant_id = "A", outcome_id = "ACC_ENTRY", achieved_on = 2019-06-01 },
  { claim_id = 2, participant_id = "A", outcome_id = "ACC_3M", achieved_on = 2019-09-15, amount_claimed = "1500.00" },
]
results = [
  { result_id = "R1", outcome_id = "REOFFENDING", cohort = "all", achieved_on = 2020-03-31, baseline = 100, observed = 80.5 },
]
expect = { entitled = 2000.00, due = -5, payers = { KC = 1400 }, claims = { "2" = { status = "paid", entitled = 1500.00 } } }
"""


@pytest.fixture(scope="module")
def contract() -> Contract:
    result, findings = check_contract_text(FULL, Path("contracts/kirklees/contract.toml"))
    assert findings == []
    assert result is not None
    return result


def test_contract_head(contract):
    assert contract.id == "kirklees-bop"
    assert contract.currency == "GBP"
    assert contract.minor_units == 2
    assert contract.start == date(2019, 4, 1)
    assert contract.referrals_end == date(2022, 3, 31)
    assert contract.outcomes_end == date(2023, 3, 31)
    assert contract.claims_end == date(2023, 6, 30)
    assert contract.fiscal_year_start_month == 4
    assert contract.schema == "sob/1"
    assert contract.path == Path("contracts/kirklees/contract.toml")
    assert contract.base_dir == Path("contracts/kirklees")


def test_payers_and_exact_shares(contract):
    assert [(p.id, p.name, p.share) for p in contract.payers] == [
        ("KC", "Kirklees Council", Decimal("0.7")),
        ("LCF", "Life Chances Fund", Decimal("0.3")),
    ]
    assert all(isinstance(p.share, Decimal) for p in contract.payers)


def test_caps_money_in_minor_units(contract):
    assert contract.caps.per_participant == 1_170_000
    assert contract.caps.total == 250_000_000
    assert contract.caps.partial is False


def test_evidence(contract):
    ev = contract.evidence
    assert ev.claims == "evidence/claims.csv"
    assert ev.results is None
    assert ev.date_format == "%d/%m/%Y"
    assert ev.delimiter == ";"
    assert ev.header_for("participant_id") == "Client Ref"
    assert ev.header_for("claim_id") == "claim_id"


def test_outcomes(contract):
    entry = contract.outcome("ACC_ENTRY")
    assert entry.price == 50_000
    assert entry.window_days == 730
    assert entry.exclusive == "accommodation-entry"
    assert entry.cohorts == ("18-24",)
    assert entry.volume_cap == 400
    assert entry.amount_cap == 15_000_000
    assert entry.payers == (("KC", Decimal("1.0")),)
    assert entry.profile == (("2020-Q1", 10), ("2020-Q2", 25))  # sorted by quarter
    assert contract.outcome("ACC_3M").requires == (Requirement("ACC_ENTRY", 91),)
    assert contract.outcome("ACC_3M").price == 150_000
    six = contract.outcome("ACC_6M")
    assert six.requires == (Requirement("ACC_3M", 0),)
    assert six.price is None
    assert six.prices == (
        PricePoint(date(2019, 4, 1), 150_000),
        PricePoint(date(2021, 4, 1), 120_000),
    )
    assert six.price_on(date(2021, 3, 31)) == 150_000
    assert six.price_on(date(2021, 4, 1)) == 120_000
    emp = contract.outcome("EMP_ENTRY")
    assert emp.tiers == (Tier(100, 200_000), Tier(None, 160_000))
    assert emp.max_claims == 3
    reoff = contract.outcome("REOFFENDING")
    assert reoff.kind == "improvement"
    assert reoff.direction == "decrease"
    assert reoff.min_improvement == Decimal("0.10")
    assert reoff.deadweight == Decimal("0")
    assert isinstance(reoff.min_improvement, Decimal)


def test_outcome_payers_override_shares(contract):
    from fractions import Fraction

    assert contract.shares_for(contract.outcome("ACC_ENTRY")) == [Fraction(1), Fraction(0)]
    assert contract.shares_for(contract.outcome("ACC_3M")) == [Fraction(7, 10), Fraction(3, 10)]


def test_examples(contract):
    (example,) = contract.examples
    assert example.name == "entry then sustainment pays both"
    assert example.quarter == "2020-Q1"
    assert example.line == FULL.splitlines().index("[[examples]]") + 1
    assert example.participants == (
        {
            "participant_id": "A",
            "enrolled_on": date(2019, 5, 1),
            "cohort": "18-24",
            "eligible": True,
        },
    )
    assert example.claims[1]["claim_id"] == "2"  # an id written as a number is read as text
    assert example.claims[1]["amount_claimed"] == Decimal("1500.00")
    assert example.results[0]["baseline"] == Decimal(100)
    assert example.results[0]["observed"] == Decimal("80.5")
    assert example.expect == {
        "entitled": Decimal("2000.00"),
        "due": Decimal(-5),
        "payers": {"KC": Decimal(1400)},
        "claims": {"2": {"status": "paid", "entitled": Decimal("1500.00")}},
    }


def test_contract_is_immutable(contract):
    with pytest.raises(dataclasses.FrozenInstanceError):
        contract.id = "other"  # type: ignore[misc]


def test_load_contract_reads_the_file(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_text(FULL, encoding="utf-8")
    loaded, findings = load_contract(path)
    assert findings == []
    assert loaded is not None and loaded.path == path
    assert loaded.outcomes == check_contract_text(FULL, path)[0].outcomes


# --- defaults ---------------------------------------------------------------------------------

MINIMAL = """\
schema = "sob/1"
[contract]
id = "c"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2021-12-31
[[payers]]
id = "P"
[[outcomes]]
id = "A"
price = 100
"""


def load(text: str) -> Contract:
    contract, findings = check_contract_text(text, Path("c.toml"))
    assert findings == [], [(f.code, f.message) for f in findings]
    assert contract is not None
    return contract


def test_defaults():
    c = load(MINIMAL)
    assert c.name == ""
    assert c.claims_end == c.outcomes_end == date(2021, 12, 31)
    assert c.referrals_end is None
    assert c.fiscal_year_start_month == 1
    assert c.payers[0].share == Decimal(1)  # a sole payer may leave out its share
    assert c.caps.partial is True
    assert c.caps.per_participant is None and c.caps.total is None
    assert c.evidence.date_format == "%Y-%m-%d"
    assert c.evidence.delimiter == ","
    assert c.evidence.columns == ()
    (outcome,) = c.outcomes
    assert outcome.kind == "claim"
    assert outcome.max_claims == 1
    assert outcome.requires == () and outcome.prices == () and outcome.tiers == ()
    assert outcome.window_days is None and outcome.cohorts is None and outcome.payers is None
    assert c.examples == ()


def test_several_payers_must_each_give_a_share():
    text = MINIMAL.replace(
        '[[payers]]\nid = "P"\n', '[[payers]]\nid = "P"\n[[payers]]\nid = "Q"\nshare = 1\n'
    )
    contract, findings = check_contract_text(text, Path("c.toml"))
    assert contract is None
    assert [(f.code, f.field) for f in findings] == [("MISSING_KEY", "payers[0].share")]


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "minor"),
    [
        ("500", 50_000),
        ("500.00", 50_000),
        ("500.000", 50_000),
        ('"500.00"', 50_000),
        ('"500"', 50_000),
        ("1_000.50", 100_050),
        ("0", 0),
        ("0.1", 10),
        ("1e3", 100_000),
        ('"500.000000000000000000000000000000000"', 50_000),
    ],
)
def test_money_forms(written, minor):
    c = load(MINIMAL.replace("price = 100", f"price = {written}"))
    assert c.outcomes[0].price == minor


@pytest.mark.parametrize(
    ("currency", "extra", "price", "minor_units", "minor"),
    [
        ("JPY", "", "1500", 0, 1500),
        ("KRW", "", "1500.0", 0, 1500),
        ("BHD", "", "1.005", 3, 1005),
        ("GBP", "minor_units = 4\n", "1.2345", 4, 12345),
        ("XAU", "minor_units = 6\n", "0.000001", 6, 1),
    ],
)
def test_currency_minor_units(currency, extra, price, minor_units, minor):
    text = MINIMAL.replace('currency = "GBP"\n', f'currency = "{currency}"\n{extra}').replace(
        "price = 100", f"price = {price}"
    )
    c = load(text)
    assert c.minor_units == minor_units
    assert c.outcomes[0].price == minor


def test_jpy_rejects_fractions():
    text = MINIMAL.replace('"GBP"', '"JPY"').replace("price = 100", "price = 100.5")
    _contract, findings = check_contract_text(text, Path("c.toml"))
    assert [f.code for f in findings] == ["TOO_MANY_DECIMALS"]


def test_shares_are_summed_exactly_not_as_binary_floats():
    # 0.7 + 0.2 + 0.1 is 0.9999999999999999 in binary floating point.
    text = MINIMAL.replace(
        '[[payers]]\nid = "P"\n',
        '[[payers]]\nid = "A"\nshare = 0.7\n[[payers]]\nid = "B"\nshare = 0.2\n[[payers]]\nid = "C"\nshare = 0.1\n',
    )
    c = load(text)
    assert [p.share for p in c.payers] == [Decimal("0.7"), Decimal("0.2"), Decimal("0.1")]


def test_shares_beyond_decimal_precision_are_not_rounded_to_one():
    # Decimal's default 28-digit context would round this sum to exactly 1.
    text = MINIMAL.replace(
        '[[payers]]\nid = "P"\n',
        '[[payers]]\nid = "A"\nshare = 0.5\n[[payers]]\nid = "B"\nshare = 0.50000000000000000000000000000001\n',
    )
    _contract, findings = check_contract_text(text, Path("c.toml"))
    assert [f.code for f in findings] == ["SHARES_NOT_ONE"]


# --- quarters in profile ----------------------------------------------------------------------


def with_profile(fy_month: int, claims_end: str, profile: str) -> str:
    return (
        MINIMAL.replace(
            "outcomes_end = 2021-12-31",
            f"outcomes_end = 2021-12-31\nclaims_end = {claims_end}\nfiscal_year_start_month = {fy_month}",
        )
        + f"profile = {profile}\n"
    )


@pytest.mark.parametrize(
    ("fy_month", "label", "ok"),
    [
        (1, "2020-Q1", True),  # holds the start, 2020-01-01
        (1, "2019-Q4", False),
        (1, "2022-Q1", True),  # holds claims_end, 2022-03-31
        (1, "2022-Q2", False),
        (4, "2019-Q4", True),  # Jan-Mar 2020 in an April year
        (4, "2019-Q3", False),  # Oct-Dec 2019, before the start
        (4, "2021-Q4", True),  # Jan-Mar 2022
        (4, "2022-Q1", False),
    ],
)
def test_profile_quarters_follow_the_fiscal_calendar(fy_month, label, ok):
    text = with_profile(fy_month, "2022-03-31", f'{{ "{label}" = 5 }}')
    contract, findings = check_contract_text(text, Path("c.toml"))
    if ok:
        assert findings == []
        assert contract.outcomes[0].profile == ((label, 5),)
    else:
        assert [f.code for f in findings] == ["BAD_PROFILE"]
        assert findings[0].field == f"outcomes[0].profile.{label}"


def test_profile_zero_count_is_allowed():
    c = load(MINIMAL + 'profile = { "2020-Q1" = 0 }\n')
    assert c.outcomes[0].profile == (("2020-Q1", 0),)


def test_check_never_mutates_or_depends_on_key_order():
    text_a = MINIMAL + 'profile = { "2020-Q2" = 2, "2020-Q1" = 1 }\n'
    text_b = MINIMAL + 'profile = { "2020-Q1" = 1, "2020-Q2" = 2 }\n'
    assert load(text_a).outcomes == load(text_b).outcomes
