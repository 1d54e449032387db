"""JSON Schema (draft 2020-12) of the contract file, for editors and CI.

Taplo / Even Better TOML and other editors can validate a contract as you
type when pointed at this schema (``#:schema ./contract.schema.json`` at the
top of the file, or a ``.taplo.toml`` rule); ``sob schema`` prints it.

The schema is built from the same key tables as the checks in
:mod:`sob.contract.format` (``CONTRACT_FIELDS``,
``OUTCOME_FIELDS``...) and the evidence columns from :mod:`sob.columns`, so a
key added there shows up here too.  It covers structure only: references
between outcomes, date order, share sums, quarters and worked examples stay
with ``sob validate``.  JSON tooling sees TOML local dates as strings, so
dates are ``{"type": "string", "format": "date"}``; to validate a parsed
TOML document in Python, pass it through :func:`contract_to_json_compatible`
first.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sob.columns import CANONICAL_COLUMNS, FILE_KINDS, columns_of, required_of
from sob.contract import format as cc

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:sob:contract-schema:1"

_DECIMAL_STRING = f"^{cc.DECIMAL_STRING_PATTERN}$"
_UNSIGNED_DECIMAL_STRING = r"^\s*\+?(\d+(\.\d*)?|\.\d+)\s*$"
_SHARE_FRACTION_STRING = f"^{cc.SHARE_FRACTION_PATTERN}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _definitions() -> dict[str, Any]:
    """One schema per kind of value named in the key tables of sob.contract.format."""
    integer = {"type": "integer"}
    return {
        "text": {"type": "string"},
        "bool": {"type": "boolean"},
        "date": {
            "type": "string",
            "format": "date",
            "description": "a TOML local date, e.g. 2019-04-01",
        },
        "money": {
            "description": "money >= 0 (a number or a decimal string), "
            "no finer than the currency's minor unit",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _UNSIGNED_DECIMAL_STRING},
            ],
        },
        "signed_money": {
            "description": "an expected amount (may be negative)",
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": _DECIMAL_STRING}],
        },
        "number": {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _DECIMAL_STRING}]},
        "share": {
            "description": 'a share in (0, 1]: a decimal, or a fraction "p/q" of positive integers',
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                {"type": "string", "pattern": _UNSIGNED_DECIMAL_STRING},
                {"type": "string", "pattern": _SHARE_FRACTION_STRING},
            ],
        },
        "fraction": {
            "description": "a decimal in [0, 1)",
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                {"type": "string", "pattern": _UNSIGNED_DECIMAL_STRING},
            ],
        },
        "count": {**integer, "minimum": 0, "maximum": cc.MAX_INT},
        "positive": {**integer, "minimum": 1, "maximum": cc.MAX_INT},
        "days": {**integer, "minimum": 0, "maximum": cc.MAX_DAYS},
        "month": {**integer, "minimum": 1, "maximum": 12},
        "minor_units": {**integer, "minimum": 0, "maximum": cc.MAX_MINOR_UNITS},
        "contract_id": {"type": "string", "pattern": f"^{cc.CONTRACT_ID_PATTERN}$"},
        "outcome_id": {"type": "string", "pattern": f"^{cc.OUTCOME_ID_PATTERN}$"},
        "outcome_ref": {"type": "string"},
        "payer_id": {"type": "string", "pattern": r"^\S(.*\S)?$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"},
        "kind": {"enum": list(cc.OUTCOME_KINDS)},
        "direction": {"enum": list(cc.DIRECTIONS)},
        "on_cap": {"enum": list(cc.ON_CAP)},
        "path": {
            "type": "string",
            "description": "relative to the contract file; no absolute paths, no '..'",
            "minLength": 1,
            "not": {"pattern": r"(^[/\\~])|(^[A-Za-z]:)|((^|[/\\])\.\.([/\\]|$))"},
        },
        "date_format": {"type": "string", "description": "strftime format, e.g. %d/%m/%Y"},
        "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
        "encoding": {"type": "string", "minLength": 1, "description": "a Python codec name, e.g. cp1252"},
        "money_cells": {"enum": list(cc.MONEY_CELL_MODES)},
        "sheet": {"type": "string", "minLength": 1, "description": "a sheet of an .xlsx/.ods evidence file"},
        "value_maps": {
            "type": "object",
            "description": "column = { value in the files = canonical value }",
            "properties": {
                "status": {"type": "object", "additionalProperties": {"enum": ["claimed", "withdrawn", "failed"]}},
                "eligible": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "outcome_id": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "quarter": {"type": "string", "pattern": f"^{cc.QUARTER_PATTERN}$"},
        "columns": {
            "type": "object",
            "description": "canonical column = header used in the evidence files",
            "properties": {
                name: {"type": "string", "minLength": 1} for name in CANONICAL_COLUMNS
            },
            "additionalProperties": False,
        },
        "cohorts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "prices": {"type": "array", "items": _ref("price_point"), "minItems": 1},
        "price_point": _object(cc.PRICE_POINT_FIELDS, ("from", "price")),
        "tiers": {"type": "array", "items": _ref("tier"), "minItems": 1},
        "tier": _object(cc.TIER_FIELDS, ("price",)),
        "share_table": {"type": "object", "additionalProperties": _ref("share")},
        "profile": {
            "type": "object",
            "propertyNames": {"pattern": f"^{cc.QUARTER_PATTERN}$"},
            "additionalProperties": _ref("count"),
        },
        "requires": {
            "type": "array",
            "items": {"anyOf": [_ref("outcome_ref"), _ref("requirement")]},
        },
        "requirement": _object(cc.REQUIREMENT_FIELDS, ("outcome",)),
        "money_schedule": {
            "description": "a money cap: one amount, or a schedule of dated entries (SPEC 10.5)",
            "anyOf": [_ref("money"), {"type": "array", "items": _ref("cap_point"), "minItems": 1}],
        },
        "cap_point": _object(cc.CAP_POINT_FIELDS, ("from", "amount")),
        "count_schedule": {
            "description": "a volume_cap: one count, or a schedule of dated entries (SPEC 10.5)",
            "anyOf": [_ref("count"), {"type": "array", "items": _ref("count_point"), "minItems": 1}],
        },
        "count_point": _object(cc.COUNT_POINT_FIELDS, ("from", "count")),
        "adjustment_id": {"type": "string", "pattern": r"^\S(.*\S)?$", "maxLength": cc.MAX_ID_LENGTH},
        "nonzero_money": {
            "description": "signed money, not zero (negative recovers money), no finer than the minor unit",
            "anyOf": [
                {"type": "number", "not": {"const": 0}},
                {"type": "string", "pattern": _DECIMAL_STRING, "not": {"pattern": r"^\s*[+-]?0*(\.0*)?\s*$"}},
            ],
        },
        "step_at": {
            "description": "a relative improvement in (0, 1)",
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                {"type": "string", "pattern": _UNSIGNED_DECIMAL_STRING},
            ],
        },
        "steps": {"type": "array", "items": _ref("step"), "minItems": 1},
        "step": _object(cc.STEP_FIELDS, ("at", "amount")),
        "scale": _object(cc.SCALE_FIELDS, ("zero_at", "full_at")),
        "net_of": {"type": "array", "items": _ref("outcome_ref")},
        "age": {**integer, "minimum": 0, "maximum": cc.MAX_INT, "description": "whole years"},
        "age_band": {**_object(cc.AGE_BAND_FIELDS),
                     "description": "ages at enrolment, both bounds inclusive; either may be left out"},
        "flag": {"type": ["boolean", "string"]},
        "cell_text": {"type": ["string", "integer"]},
    }


def _object(fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object whose keys take the kinds named in ``fields``."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": {key: _ref(kind) for key, kind in fields.items()},
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def _outcome() -> dict[str, Any]:
    """An outcome: one of price/prices/tiers, and the keys allowed for its kind."""
    schema = _object(cc.OUTCOME_FIELDS, cc.OUTCOME_REQUIRED)

    def forbid(keys: tuple[str, ...]) -> dict[str, Any]:
        return {"not": {"anyOf": [{"required": [key]} for key in keys]}}

    price_keys = dict.fromkeys((*cc.PRICE_KEYS, *cc.IMPROVEMENT_PRICE_KEYS))  # steps: improvement outcomes only
    schema["oneOf"] = [{"required": [key]} for key in price_keys]
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": "improvement"}}, "required": ["kind"]},
            "then": {"required": ["direction"], **forbid(cc.CLAIM_ONLY_KEYS)},
            "else": forbid(cc.IMPROVEMENT_ONLY_KEYS),
        },
        {
            "if": {"properties": {"max_claims": {"minimum": 2}}, "required": ["max_claims"]},
            "then": {"not": {"required": ["exclusive"]}},
        },
    ]
    return schema


def _row(file: str) -> dict[str, Any]:
    """An inline evidence row of a worked example: the file's columns in the catalogue (sob.columns)."""
    kinds = {"text": "cell_text", "date": "date", "number": "number", "flag": "flag"}
    return _object({c.name: kinds[c.example_type] for c in columns_of(file)}, required_of(file))


def _example() -> dict[str, Any]:
    claim_expect = _object(
        {
            "status": "claim_status",
            "reason": "text",
            "entitled": "signed_money",
            "due": "signed_money",
        }
    )
    expect = _object({"entitled": "signed_money", "due": "signed_money"})
    expect["properties"]["payers"] = {
        "type": "object",
        "additionalProperties": _ref("signed_money"),
    }
    expect["properties"]["claims"] = {"type": "object", "additionalProperties": claim_expect}
    example = _object({"name": "text", "quarter": "quarter"}, ("expect",))
    for key in (k for k in cc.EXAMPLE_KEYS if k in FILE_KINDS):
        example["properties"][key] = {"type": "array", "items": _row(key)}
    example["properties"]["expect"] = expect
    assert set(example["properties"]) == set(cc.EXAMPLE_KEYS)
    assert set(expect["properties"]) == set(cc.EXPECT_KEYS)
    return example


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of a ``schema = "sob/1"`` contract file."""
    defs = _definitions()
    defs["claim_status"] = {"enum": list(cc.CLAIM_STATUSES)}
    defs["contract"] = _object(cc.CONTRACT_FIELDS, cc.CONTRACT_REQUIRED)
    defs["payer"] = _object(cc.PAYER_FIELDS, cc.PAYER_REQUIRED)
    defs["caps"] = _object(cc.CAPS_FIELDS)
    defs["evidence"] = _object(cc.EVIDENCE_FIELDS)
    defs["outcome"] = _outcome()
    defs["example"] = _example()
    defs["adjustment"] = _object(cc.ADJUSTMENT_FIELDS, cc.ADJUSTMENT_REQUIRED)
    top = {
        "schema": {"enum": list(cc.SCHEMA_VERSIONS), "description": "the format version"},
        "contract": _ref("contract"),
        "payers": {"type": "array", "items": _ref("payer"), "minItems": 1},
        "caps": _ref("caps"),
        "evidence": _ref("evidence"),
        "outcomes": {"type": "array", "items": _ref("outcome"), "minItems": 1},
        "examples": {"type": "array", "items": _ref("example")},
        "adjustments": {"type": "array", "items": _ref("adjustment")},
    }
    assert tuple(top) == cc.TOP_KEYS
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": 'sob contract file (schema = "sob/1")',
        "description": (
            "A social outcomes contract: rate card, payers, caps, evidence and worked examples."
        ),
        "type": "object",
        "required": ["schema", "contract", "payers", "outcomes"],
        "properties": top,
        "additionalProperties": False,
        "$defs": defs,
    }


def contract_to_json_compatible(obj: Any) -> Any:
    """A parsed TOML document as JSON tooling would see it.

    Dates and times become ISO strings (a date-time then fails the schema's
    ``format: date``, as it fails the checks), Decimals become numbers.
    """
    if isinstance(obj, dict):
        return {str(k): contract_to_json_compatible(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [contract_to_json_compatible(v) for v in obj]
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        exponent = obj.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0 and obj.adjusted() < 30:
            return int(obj)  # written as a TOML integer would be
        return float(obj)
    return obj


__all__ = ["SCHEMA_ID", "contract_json_schema", "contract_to_json_compatible"]
