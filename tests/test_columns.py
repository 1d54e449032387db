"""The catalogue of evidence columns (``sob.columns``) is the one list everything takes its columns from."""

from __future__ import annotations

from pathlib import Path

import pytest

from sob import columns, export, schema
from sob.columns import COLUMNS, FILE_KINDS, KIND_COLUMNS, REQUIRED_COLUMNS, VALUE_TYPES, columns_markdown
from sob.evidence import kinds

DOC = Path(__file__).parent.parent / "docs" / "evidence-columns.md"


def test_the_docs_page_is_the_catalogue():
    """Fails when a column is added, removed or changed without regenerating the page."""
    assert DOC.read_text(encoding="utf-8") == columns_markdown(), (
        "docs/evidence-columns.md is stale: regenerate it with "
        "python -c 'from sob.columns import columns_markdown as m; open(\"docs/evidence-columns.md\", \"w\").write(m())'"
    )


def test_every_column_is_documented_with_its_meaning_and_a_known_type():
    page = columns_markdown()
    for c in COLUMNS:
        assert c.file in FILE_KINDS and c.type in VALUE_TYPES and c.meaning
        assert f"| {c.name} | {'yes' if c.required else 'no'} | {c.type} | {c.meaning} |" in page


def test_a_new_column_changes_the_page(monkeypatch):
    before = columns_markdown()
    extra = columns.Column("case_worker", "claims", False, "text", "who handled the claim")
    monkeypatch.setattr(columns, "COLUMNS", (*COLUMNS, extra))
    assert columns_markdown() != before and "| case_worker | no | text |" in columns_markdown()


@pytest.mark.parametrize("file", FILE_KINDS)
def test_the_readers_take_their_columns_from_the_catalogue(file):
    kind = kinds.KINDS[file]
    # columns read only with an outcome key (SPEC 11.4 value, 11.5 date_of_birth) are not in the base kind
    assert kind.columns == tuple(c.name for c in COLUMNS if c.file == file and c.read_with is None)
    assert KIND_COLUMNS[file] == tuple(c.name for c in COLUMNS if c.file == file)
    assert kind.required == REQUIRED_COLUMNS[file]
    assert list(kinds._TYPED_SCHEMA[file])[1:-1] == list(KIND_COLUMNS[file])  # line first, error last


def test_the_json_schema_takes_example_rows_and_column_mapping_from_the_catalogue():
    s = schema.contract_json_schema()
    example = s["$defs"]["example"]["properties"]
    for file in FILE_KINDS:
        row = example[file]["items"]
        assert list(row["properties"]) == list(KIND_COLUMNS[file])
        assert sorted(row.get("required", [])) == sorted(REQUIRED_COLUMNS[file])
    mapped = s["$defs"]["columns"]["properties"]
    assert list(mapped) == list(columns.CANONICAL_COLUMNS)


def test_exports_write_the_catalogues_money_columns_as_money():
    assert {"amount_claimed"} == columns.MONEY_COLUMNS
    assert columns.MONEY_COLUMNS <= export.MONEY_NAMES
