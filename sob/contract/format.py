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

# --- codes --------------------------------------------------------------------------------

CONTRACT_CODES: dict[str, str] = {
    "NOT_UTF8": "the file is not UTF-8 text (binary, UTF-16 or invalid bytes)",
    "TOML_SYNTAX": "the file is not valid TOML (line and column of the parser's complaint)",
    "UNKNOWN_SCHEMA": '`schema` is not a format version this sob reads ("sob/1")',
    "UNKNOWN_KEY": "a key the format does not have (with a did-you-mean hint)",
    "WRONG_TYPE": "a value of the wrong TOML type (a date written as a string, money as a bool...)",
    "MISSING_KEY": "a required key or table is missing",
    "DUPLICATE_ID": "two outcomes or two payers share an id",
    "UNKNOWN_REFERENCE": (
        "`requires` names an unknown (or improvement) outcome, or `payers` an unknown payer"
    ),
    "REQUIRES_CYCLE": "outcomes require each other in a cycle",
    "DATES_OUT_OF_ORDER": "not start <= referrals_end <= outcomes_end <= claims_end",
    "SHARES_NOT_ONE": "a payer split does not sum to exactly 1",
    "BAD_SHARE": "a payer share outside (0, 1]",
    "NEGATIVE_MONEY": "a money value below zero",
    "TOO_MANY_DECIMALS": "a money value with more decimals than the currency's minor unit",
    "BAD_CURRENCY": "not an ISO 4217 code, or an ISO code with no minor unit and no `minor_units`",
    "PRICES_NOT_SORTED": (
        "`prices` empty, not strictly sorted by `from`, or starting after the contract start"
    ),
    "BAD_TIERS": "`tiers` empty, `up_to` not increasing or < 1, or no single final open tier",
    "WRONG_KIND_KEY": "a key that belongs to the other kind of outcome (claim vs improvement)",
    "PRICE_CHOICE": "an outcome without exactly one of `price`, `prices`, `tiers`",
    "BAD_RANGE": "a number outside its range (deadweight, max_claims, window_days, month...)",
    "MAX_CLAIMS_EXCLUSIVE": "`max_claims` above 1 on an outcome in an `exclusive` group",
    "BAD_ID": "a contract, outcome or payer id that does not match its pattern or is too long",
    "BAD_PROFILE": "a `profile` key that is not a quarter of the contract, or a negative count",
    "UNSAFE_PATH": (
        "an evidence path that is absolute, climbs out of the contract's folder, "
        "or leads (through a link) outside it or to something that is not a regular file"
    ),
    "UNKNOWN_VALUE": "a `kind` or `direction` that is not one of the allowed words",
    "BAD_FORMAT": "an evidence `date_format`, `delimiter`, path or column header that is unusable",
    "BAD_EXAMPLE": "a malformed worked example (keys, rows, expectations, quarter)",
}

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

PAYER_FIELDS: dict[str, str] = {"id": "payer_id", "name": "text", "share": "share"}
PAYER_REQUIRED: tuple[str, ...] = ("id",)  # share too when there are several payers

CAPS_FIELDS: dict[str, str] = {"per_participant": "money", "total": "money", "partial": "bool"}

EVIDENCE_FIELDS: dict[str, str] = {
    "claims": "path",
    "participants": "path",
    "results": "path",
    "date_format": "date_format",
    "delimiter": "delimiter",
    "columns": "columns",
}

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
)
IMPROVEMENT_ONLY_KEYS: tuple[str, ...] = ("direction", "min_improvement", "deadweight")
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
    "volume_cap": "count",
    "amount_cap": "money",
    "payers": "share_table",
    "profile": "profile",
    "requires": "requires",
    "direction": "direction",
    "min_improvement": "fraction",
    "deadweight": "fraction",
}
OUTCOME_REQUIRED: tuple[str, ...] = (
    "id",
)  # plus one of PRICE_KEYS, and direction for improvements

PRICE_POINT_FIELDS: dict[str, str] = {"from": "date", "price": "money"}
TIER_FIELDS: dict[str, str] = {"up_to": "positive", "price": "money"}
REQUIREMENT_FIELDS: dict[str, str] = {"outcome": "outcome_ref", "min_days": "days"}

# Canonical evidence columns (SPEC 4) and the kind of value an example row gives each.
CLAIM_COLUMNS: dict[str, str] = {
    "claim_id": "text",
    "participant_id": "text",
    "outcome_id": "text",
    "achieved_on": "date",
    "submitted_on": "date",
    "status": "text",
    "evidence_ref": "text",
    "amount_claimed": "number",
}
PARTICIPANT_COLUMNS: dict[str, str] = {
    "participant_id": "text",
    "enrolled_on": "date",
    "eligible": "flag",
    "cohort": "text",
}
RESULT_COLUMNS: dict[str, str] = {
    "result_id": "text",
    "outcome_id": "text",
    "cohort": "text",
    "achieved_on": "date",
    "submitted_on": "date",
    "baseline": "number",
    "observed": "number",
    "units": "number",
    "status": "text",
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims": ("claim_id", "participant_id", "outcome_id", "achieved_on"),
    "participants": ("participant_id", "enrolled_on"),
    "results": ("result_id", "outcome_id", "cohort", "achieved_on", "baseline", "observed"),
}
EXAMPLE_ROWS: dict[str, dict[str, str]] = {
    "participants": PARTICIPANT_COLUMNS,
    "claims": CLAIM_COLUMNS,
    "results": RESULT_COLUMNS,
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys([*CLAIM_COLUMNS, *PARTICIPANT_COLUMNS, *RESULT_COLUMNS])
)
EXAMPLE_KEYS: tuple[str, ...] = ("name", "quarter", "participants", "claims", "results", "expect")
EXPECT_KEYS: tuple[str, ...] = ("entitled", "due", "payers", "claims")
CLAIM_EXPECT_KEYS: tuple[str, ...] = ("status", "reason", "entitled", "due")
CLAIM_STATUSES: tuple[str, ...] = ("paid", "partial", "capped", "rejected")

CONTRACT_ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
OUTCOME_ID_PATTERN = r"[A-Za-z0-9_.-]+"
QUARTER_PATTERN = r"\d{4}-Q[1-4]"
DECIMAL_STRING_PATTERN = r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*"

# Limits that keep later arithmetic (dates, Int64 columns) from overflowing.
MAX_DAYS = 100_000
MAX_INT = 2**63 - 1
MAX_MINOR_UNITS = 18
MAX_DIGITS = 1000


# Ids name files and ledger folders, so they are kept short enough for any file system.
MAX_ID_LENGTH = 64

# A contract is a small hand-written text; anything larger is refused before it is read whole.
MAX_CONTRACT_BYTES = 10 * 1024 * 1024
