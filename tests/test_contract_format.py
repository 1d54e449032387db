"""The format tables (sob.contract.format), their converters, and docs/contract-format.md agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sob.contract import format as fmt
from sob.contract.converters import CONVERTERS

DOC = (Path(__file__).parent.parent / "docs" / "contract-format.md").read_text(encoding="utf-8")

KEY_TABLES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "## `[contract]`": (fmt.CONTRACT_FIELDS, fmt.CONTRACT_REQUIRED),
    "## `[[payers]]`": (fmt.PAYER_FIELDS, fmt.PAYER_REQUIRED),
    "## `[caps]`": (fmt.CAPS_FIELDS, ()),
    "## `[evidence]`": (fmt.EVIDENCE_FIELDS, ()),
    "## `[[outcomes]]`": (fmt.OUTCOME_FIELDS, fmt.OUTCOME_REQUIRED),
    "### `prices`": (fmt.PRICE_POINT_FIELDS, ("from", "price")),
    "### `tiers`": (fmt.TIER_FIELDS, ("price",)),
    "### `requires`": (fmt.REQUIREMENT_FIELDS, ("outcome",)),
    "### Cap schedules": (fmt.CAP_POINT_FIELDS, ("from", "amount")),
    "### `volume_cap` schedules": (fmt.COUNT_POINT_FIELDS, ("from", "count")),
    "## `[[adjustments]]`": (fmt.ADJUSTMENT_FIELDS, fmt.ADJUSTMENT_REQUIRED),
    "### `steps`": (fmt.STEP_FIELDS, ("at", "amount")),
    "### `scale`": (fmt.SCALE_FIELDS, ("zero_at", "full_at")),
    "### `age_at_enrolment`": (fmt.AGE_BAND_FIELDS, ()),
}


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading."""
    start = DOC.index(heading + "\n")
    following = re.search(r"^#{2,3} ", DOC[start + len(heading) :], re.MULTILINE)
    return DOC[start : start + len(heading) + (following.start() if following else len(DOC))]


def rows(text: str) -> list[list[str]]:
    """The cells of every table row whose first cell is a `key`."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| `")]


def test_every_kind_in_the_key_tables_has_a_converter():
    used = {kind for fields in (fmt.CONTRACT_FIELDS, fmt.PAYER_FIELDS, fmt.CAPS_FIELDS, fmt.EVIDENCE_FIELDS,
                                fmt.OUTCOME_FIELDS, fmt.PRICE_POINT_FIELDS, fmt.TIER_FIELDS, fmt.REQUIREMENT_FIELDS,
                                fmt.CAP_POINT_FIELDS, fmt.COUNT_POINT_FIELDS, fmt.ADJUSTMENT_FIELDS,
                                fmt.STEP_FIELDS, fmt.SCALE_FIELDS, fmt.AGE_BAND_FIELDS)
            for kind in fields.values()}
    assert used == set(CONVERTERS)


def test_every_kind_is_documented():
    documented = {cells[0].strip("`") for cells in rows(section("## Kinds of value"))}
    assert documented == set(CONVERTERS)


@pytest.mark.parametrize("heading", list(KEY_TABLES))
def test_every_key_is_documented_with_its_kind(heading):
    fields, required = KEY_TABLES[heading]
    table = {cells[0].strip("`"): cells for cells in rows(section(heading))}
    assert {key: cells[1] for key, cells in table.items()} == fields
    for key in required:
        assert table[key][2] == "yes", key


def test_the_top_level_keys_are_documented():
    assert [cells[0].strip("`") for cells in rows(section("## Top level"))] == list(fmt.TOP_KEYS)


def test_the_example_keys_are_documented():
    keys = [cells[0].strip("`") for cells in rows(section("## `[[examples]]`"))]
    assert keys == [*fmt.EXAMPLE_KEYS, *fmt.EXPECT_KEYS, *fmt.CLAIM_EXPECT_KEYS]
    for status in fmt.CLAIM_STATUSES:
        assert f"`{status}`" in section("## `[[examples]]`")


def test_every_canonical_column_is_listed():
    evidence = section("## `[evidence]`")
    for column in fmt.CANONICAL_COLUMNS:
        assert f"`{column}`" in evidence, column


@pytest.mark.parametrize(("name", "shown"), [
    ("MAX_CONTRACT_BYTES", f"{fmt.MAX_CONTRACT_BYTES // 2**20} MiB"),
    ("MAX_ID_LENGTH", f"{fmt.MAX_ID_LENGTH} characters"),
    ("MAX_DAYS", str(fmt.MAX_DAYS)),
    ("MAX_INT", "2^63 - 1" if fmt.MAX_INT == 2**63 - 1 else str(fmt.MAX_INT)),
    ("MAX_MINOR_UNITS", f"0 to {fmt.MAX_MINOR_UNITS}"),
    ("MAX_DIGITS", str(fmt.MAX_DIGITS)),
])
def test_the_limits_are_documented_with_their_values(name, shown):
    limits = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in section("## Limits").splitlines()
        if line.startswith("| ") and "`" in line)}
    row = next(cells for cells in limits.values() if f"`{name}`" in cells[1])
    assert row[1].startswith(shown)
