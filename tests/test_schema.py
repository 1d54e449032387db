"""The contract JSON Schema (sob.schema)."""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sob.contract import check_contract_text
from sob.contract import format as cc
from sob.contract.starter import starter_contract
from sob.schema import contract_json_schema, contract_to_json_compatible

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(ROOT.glob("sample_contracts/*/contract.toml"))

VALID = """\
schema = "sob/1"
[contract]
id = "c"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2021-12-31
[[payers]]
id = "P"
share = 1
[caps]
total = "1000.00"
[evidence]
claims = "evidence/claims.csv"
[evidence.columns]
participant_id = "Client Ref"
[[outcomes]]
id = "A"
price = 100
requires = ["B", { outcome = "B", min_days = 3 }]
profile = { "2020-Q1" = 3 }
[[outcomes]]
id = "B"
tiers = [{ up_to = 3, price = 1.50 }, { price = 1 }]
[[outcomes]]
id = "R"
kind = "improvement"
direction = "increase"
prices = [{ from = 2020-01-01, price = 5 }]
deadweight = 0.25
[[examples]]
name = "e"
quarter = "2020-Q1"
participants = [{ participant_id = "X", enrolled_on = 2020-01-02 }]
claims = [{ claim_id = "1", participant_id = "X", outcome_id = "A", achieved_on = 2020-01-03 }]
expect = { entitled = 0, due = -1.50, claims = { "1" = { status = "rejected", reason = "PREREQUISITE_MISSING" } } }
"""


def validator() -> Draft202012Validator:
    return Draft202012Validator(
        contract_json_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def as_json(text: str):
    return contract_to_json_compatible(tomllib.loads(text, parse_float=Decimal))


def schema_errors(text: str) -> list[str]:
    return [e.message for e in validator().iter_errors(as_json(text))]


def test_schema_is_valid_draft_2020_12():
    schema = contract_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]
    json.dumps(schema)  # plain JSON, printable by `sob schema`


def test_every_object_is_closed():
    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(contract_json_schema()))
    assert len(found) > 10
    assert all(node.get("additionalProperties") is False for node in found)


def test_schema_keys_come_from_the_checks():
    schema = contract_json_schema()
    defs = schema["$defs"]
    assert tuple(schema["properties"]) == cc.TOP_KEYS
    assert set(defs["contract"]["properties"]) == set(cc.CONTRACT_FIELDS)
    assert set(defs["outcome"]["properties"]) == set(cc.OUTCOME_FIELDS)
    assert set(defs["payer"]["properties"]) == set(cc.PAYER_FIELDS)
    assert set(defs["caps"]["properties"]) == set(cc.CAPS_FIELDS)
    assert set(defs["evidence"]["properties"]) == set(cc.EVIDENCE_FIELDS)
    assert set(defs["example"]["properties"]) == set(cc.EXAMPLE_KEYS)


def test_a_valid_contract_validates():
    contract, findings = check_contract_text(VALID, Path("c.toml"))
    assert findings == [] and contract is not None  # the checks agree it is valid
    assert schema_errors(VALID) == []


def test_the_starter_validates():
    assert list(validator().iter_errors(contract_to_json_compatible(starter_contract()))) == []


@pytest.mark.skipif(not SAMPLES, reason="no sample_contracts/*/contract.toml yet")
@pytest.mark.parametrize("path", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_sample_contracts_validate(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator().iter_errors(contract_to_json_compatible(data))
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('id = "c"', 'id = "c"\nnmae = "typo"'),  # unknown key
        ("start = 2020-01-01", 'start = "01/01/2020"'),  # not a date
        ("start = 2020-01-01", "start = 2020-01-01T10:00:00"),  # a date-time
        ('schema = "sob/1"', 'schema = "sob/2"'),
        ('currency = "GBP"', "currency = true"),
        ("share = 1", "share = 1.5"),
        ("share = 1", "share = 0"),
        ("price = 100", "price = -1"),
        ("price = 100", 'price = "£100"'),
        (
            "price = 100",
            "price = 100\nprices = [{ from = 2020-01-01, price = 5 }]",
        ),  # two price keys
        ('id = "A"\nprice = 100', 'id = "A"'),  # no price key
        ('direction = "increase"', 'direction = "up"'),
        ('direction = "increase"\n', ""),  # improvement without direction
        ("deadweight = 0.25", "deadweight = 1"),
        ("deadweight = 0.25", "deadweight = 0.25\nwindow_days = 3"),  # claim key on an improvement
        ('requires = ["B"', 'deadweight = 0.1\nrequires = ["B"'),  # improvement key on a claim
        ('requires = ["B"', 'exclusive = "g"\nmax_claims = 2\nrequires = ["B"'),
        ('claims = "evidence/claims.csv"', 'claims = "/etc/passwd"'),
        ('claims = "evidence/claims.csv"', 'claims = "../x.csv"'),
        ('participant_id = "Client Ref"', 'participant = "Client Ref"'),
        ('"2020-Q1" = 3', '"2020-Q5" = 3'),
        ("up_to = 3", "up_to = 0"),
        ('quarter = "2020-Q1"', 'quarter = "Q1"'),
        ('status = "rejected"', 'status = "refused"'),
        ('reason = "PREREQUISITE_MISSING"', 'why = "x"'),
        ("achieved_on = 2020-01-03 }]", 'achieved_on = 2020-01-03, colour = "red" }]'),
        ('claim_id = "1", ', ""),  # a claims row without claim_id
    ],
)
def test_broken_contracts_fail_the_schema(old, new):
    assert old in VALID
    broken = VALID.replace(old, new, 1)
    assert schema_errors(broken), f"schema accepted: {new!r}"
    contract, findings = check_contract_text(broken, Path("c.toml"))
    assert contract is None and findings  # and the checks refuse it too, saying why


def test_json_compatible_conversion():
    converted = contract_to_json_compatible(
        {
            "a": date(2020, 1, 2),
            "b": [Decimal("1.50"), Decimal("3")],
            "c": datetime(2020, 1, 2, 3, 4),
            "d": (1,),
        }
    )
    assert converted == {"a": "2020-01-02", "b": [1.5, 3], "c": "2020-01-02T03:04:00", "d": [1]}
    assert isinstance(converted["b"][1], int)
