"""The contract format as data: allowed keys, the kind of value of each, limits and codes.

Every table of a contract file has a dict here mapping each allowed key to
the *kind* of value it takes (``"money"``, ``"date"``, ``"payer_id"``...).
The checks (:mod:`sob.contract.sections`) convert each value with the
converter that :data:`sob.contract.converters.CONVERTERS` names for its kind,
:mod:`sob.schema` builds the JSON Schema from the same dicts, and
``docs/contract-format.md`` is checked against them by a test, so the three
cannot drift apart.
"""

from __future__ import annotations

from sob import codes, columns

# --- codes --------------------------------------------------------------------------------

#: every contract check's code and its one-line meaning, from the code catalogue
CONTRACT_CODES: dict[str, str] = {c.code: c.meaning for c in codes.by_area("contract")}

# --- the format: allowed keys and the kind of value of each (shared with sob.schema) --------

SCHEMA_VERSIONS: tuple[str, ...] = ("sob/1",)

TOP_KEYS: tuple[str, ...] = (
    "schema",
    "contract",
    "payers",
    "caps",
    "evidence",
    "outcomes",
    "examples",
    "adjustments",
)

CONTRACT_FIELDS: dict[str, str] = {
    "id": "contract_id",
    "name": "text",
    "currency": "currency",
    "minor_units": "minor_units",
    "start": "date",
    "referrals_end": "date",
    "outcomes_end": "date",
    "claims_end": "date",
    "fiscal_year_start_month": "month",
}
CONTRACT_REQUIRED: tuple[str, ...] = ("id", "currency", "start", "outcomes_end")

PAYER_FIELDS: dict[str, str] = {"id": "payer_id", "name": "text", "share": "share", "cap": "money_schedule",
                                "on_cap": "on_cap"}
#: what happens to a payer's part beyond its cap (SPEC 11.1): nobody pays it, or the other payers do
ON_CAP: tuple[str, ...] = ("cut", "shift")
PAYER_REQUIRED: tuple[str, ...] = ("id",)  # share too when there are several payers

CAPS_FIELDS: dict[str, str] = {"per_participant": "money_schedule", "total": "money_schedule", "partial": "bool"}

EVIDENCE_FIELDS: dict[str, str] = {
    "claims": "path",
    "participants": "path",
    "results": "path",
    "date_format": "date_format",
    "delimiter": "delimiter",
    "columns": "columns",
    "encoding": "encoding",
    "money": "money_cells",
    "sheet": "sheet",
    "values": "value_maps",
}
#: ``[evidence] money``: plain decimals only, or also symbols, separators and (negatives)
MONEY_CELL_MODES: tuple[str, ...] = ("plain", "lenient")
#: ``[evidence.values]``: the columns whose values can be mapped, and what each maps to
VALUE_MAP_COLUMNS: tuple[str, ...] = ("status", "eligible", "outcome_id")

OUTCOME_KINDS: tuple[str, ...] = ("claim", "improvement")
DIRECTIONS: tuple[str, ...] = ("decrease", "increase")
PRICE_KEYS: tuple[str, ...] = ("price", "prices", "tiers")
CLAIM_ONLY_KEYS: tuple[str, ...] = (
    "requires",
    "exclusive",
    "cohorts",
    "window_days",
    "max_claims",
    "volume_cap",
    "tiers",
    "age_at_enrolment",
)
IMPROVEMENT_ONLY_KEYS: tuple[str, ...] = ("direction", "min_improvement", "deadweight", "steps", "net_of")
#: an improvement outcome's price keys: exactly one of them (SPEC 11.3: steps replaces price/prices)
IMPROVEMENT_PRICE_KEYS: tuple[str, ...] = ("price", "prices", "steps")
#: keys that cannot be written together with ``steps`` (SPEC 11.3, 11.7)
STEPS_EXCLUDES: tuple[str, ...] = ("min_improvement", "deadweight", "scale")
OUTCOME_FIELDS: dict[str, str] = {
    "id": "outcome_id",
    "name": "text",
    "kind": "kind",
    "price": "money",
    "prices": "prices",
    "tiers": "tiers",
    "max_claims": "positive",
    "window_days": "days",
    "exclusive": "text",
    "cohorts": "cohorts",
    "volume_cap": "count_schedule",
    "amount_cap": "money_schedule",
    "payers": "share_table",
    "profile": "profile",
    "requires": "requires",
    "direction": "direction",
    "min_improvement": "fraction",
    "deadweight": "fraction",
    "steps": "steps",
    "scale": "scale",
    "net_of": "net_of",
    "age_at_enrolment": "age_band",
}
OUTCOME_REQUIRED: tuple[str, ...] = (
    "id",
)  # plus one of PRICE_KEYS, and direction for improvements

#: an agreed payment that no claim explains (SPEC 10.6): signed, dated, with a reason
ADJUSTMENT_FIELDS: dict[str, str] = {
    "id": "adjustment_id",
    "on": "date",
    "amount": "nonzero_money",
    "reason": "text",
    "payers": "share_table",
}
ADJUSTMENT_REQUIRED: tuple[str, ...] = ("id", "on", "amount", "reason")

PRICE_POINT_FIELDS: dict[str, str] = {"from": "date", "price": "money"}
#: one entry of a dated cap (SPEC 10.5): money caps use ``amount``, ``volume_cap`` uses ``count``
CAP_POINT_FIELDS: dict[str, str] = {"from": "date", "amount": "money"}
COUNT_POINT_FIELDS: dict[str, str] = {"from": "date", "count": "count"}
TIER_FIELDS: dict[str, str] = {"up_to": "positive", "price": "money"}
REQUIREMENT_FIELDS: dict[str, str] = {"outcome": "outcome_ref", "min_days": "days"}
STEP_FIELDS: dict[str, str] = {"at": "step_at", "amount": "money"}
SCALE_FIELDS: dict[str, str] = {"zero_at": "number", "full_at": "number"}
#: ``age_at_enrolment = { min = 14, max = 15 }`` (SPEC 11.5): whole years, either bound may be left out
AGE_BAND_FIELDS: dict[str, str] = {"min": "age", "max": "age"}

# Canonical evidence columns (SPEC 4), from the one column catalogue, and the kind
# of value a worked example's row gives each.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = columns.REQUIRED_COLUMNS
EXAMPLE_ROWS: dict[str, dict[str, str]] = {
    kind: {c.name: c.example_type for c in columns.columns_of(kind)} for kind in ("participants", "claims", "results")
}
CANONICAL_COLUMNS: tuple[str, ...] = columns.CANONICAL_COLUMNS
EXAMPLE_KEYS: tuple[str, ...] = ("name", "quarter", "participants", "claims", "results", "expect")
EXPECT_KEYS: tuple[str, ...] = ("entitled", "due", "payers", "claims")
CLAIM_EXPECT_KEYS: tuple[str, ...] = ("status", "reason", "entitled", "due")
CLAIM_STATUSES: tuple[str, ...] = ("paid", "partial", "capped", "rejected")

CONTRACT_ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
OUTCOME_ID_PATTERN = r"[A-Za-z0-9_.-]+"
QUARTER_PATTERN = r"\d{4}-Q[1-4]"
DECIMAL_STRING_PATTERN = r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*"
#: a share written as a fraction (SPEC 11.2): digits, a slash, digits, spaces allowed around them
SHARE_FRACTION_PATTERN = r"\s*([0-9]+)\s*/\s*([0-9]+)\s*"

# Limits that keep later arithmetic (dates, Int64 columns) from overflowing.
MAX_DAYS = 100_000
MAX_INT = 2**63 - 1
MAX_MINOR_UNITS = 18
MAX_DIGITS = 1000


# Ids name files and ledger folders, so they are kept short enough for any file system.
MAX_ID_LENGTH = 64

# A contract is a small hand-written text; anything larger is refused before it is read whole.
MAX_CONTRACT_BYTES = 10 * 1024 * 1024
