"""Key path → (line, column) index of TOML text (sob.contract.toml_locate)."""

from __future__ import annotations

import random
import tomllib

import pytest

from sob.contract.toml_locate import build_index, find_deep_nesting, format_key_path, locate

HOSTILE = """\
# a comment with [brackets] and key = "value"
schema = "sob/1"   # trailing comment

[contract]
id = "x"
"quoted key" = 1
'literal.key' = 2
dotted . "a.b" . c = 3

[[payers]]
id = "KC"

[[payers]]
  id = "LCF"     # indented

[[outcomes]]
id = "A"
requires = [{ outcome = "B", min_days = 91 }, "C"]
prices = [ # a comment inside an array
  { from = 2019-04-01, price = 1500.00 },

  # a blank line and a comment between elements
  { from = 2021-04-01, price = 1200.00 }, # trailing comma next
]
notes = \"\"\"
a multi-line string with [[outcomes]] and x = 1 inside,
and "quotes" \\\""" too\"\"\"
literal = '''
[not.a.table]
'''
[outcomes.profile]
"2020-Q1" = 10

[[outcomes]]
id = "B"
stamp = 1979-05-27 07:32:00
[[outcomes.tiers]]
up_to = 10
[[outcomes.tiers]]
price = 5

[evidence.columns]
participant_id = "Client Ref"
"""


@pytest.fixture(scope="module")
def index():
    tomllib.loads(HOSTILE)  # the fixture itself must be valid TOML
    return build_index(HOSTILE)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("schema",), (2, 1)),
        (("contract",), (4, 1)),
        (("contract", "id"), (5, 1)),
        (("contract", "quoted key"), (6, 1)),
        (("contract", "literal.key"), (7, 1)),
        (("contract", "dotted"), (8, 1)),
        (("contract", "dotted", "a.b"), (8, 10)),
        (("contract", "dotted", "a.b", "c"), (8, 18)),
        (("payers",), (10, 1)),
        (("payers", 0), (10, 1)),
        (("payers", 0, "id"), (11, 1)),
        (("payers", 1), (13, 1)),
        (("payers", 1, "id"), (14, 3)),
        (("outcomes", 0), (16, 1)),
        (("outcomes", 0, "requires"), (18, 1)),
        (("outcomes", 0, "requires", 0), (18, 13)),
        (("outcomes", 0, "requires", 0, "outcome"), (18, 15)),
        (("outcomes", 0, "requires", 0, "min_days"), (18, 30)),
        (("outcomes", 0, "requires", 1), (18, 47)),
        (("outcomes", 0, "prices", 0), (20, 3)),
        (("outcomes", 0, "prices", 0, "price"), (20, 24)),
        (("outcomes", 0, "prices", 1), (23, 3)),
        (("outcomes", 0, "prices", 1, "from"), (23, 5)),
        (("outcomes", 0, "notes"), (25, 1)),
        (("outcomes", 0, "literal"), (28, 1)),
        (("outcomes", 0, "profile"), (31, 1)),
        (("outcomes", 0, "profile", "2020-Q1"), (32, 1)),
        (("outcomes", 1), (34, 1)),
        (("outcomes", 1, "id"), (35, 1)),
        (("outcomes", 1, "stamp"), (36, 1)),
        (("outcomes", 1, "tiers", 0), (37, 1)),
        (("outcomes", 1, "tiers", 0, "up_to"), (38, 1)),
        (("outcomes", 1, "tiers", 1, "price"), (40, 1)),
        (("evidence",), (42, 1)),
        (("evidence", "columns", "participant_id"), (43, 1)),
    ],
)
def test_positions(index, path, expected):
    assert index.get(path) == expected


def test_text_inside_strings_is_not_mistaken_for_keys(index):
    assert index.get(("outcomes", 2)) is None
    assert index.get(("not",)) is None
    assert index.get(("outcomes", 0, "x")) is None


def _leaf_paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from _leaf_paths(item, (*path, i))


def test_every_key_tomllib_reads_is_indexed(index):
    data = tomllib.loads(HOSTILE)
    missing = [p for p in _leaf_paths(data) if index.get(p) is None]
    assert missing == []


def test_nearest_falls_back_to_the_table_header(index):
    assert index.nearest(("outcomes", 1, "window_days")) == (("outcomes", 1), (34, 1))
    assert index.nearest(("contract", "currency")) == (("contract",), (4, 1))
    assert index.nearest(("nothing", "here")) is None
    assert locate(HOSTILE, ("payers", 1, "share")) == (13, 1)


def test_crlf_line_endings():
    text = "a = 1\r\n[t]\r\nb = [\r\n  1,\r\n  2,\r\n]\r\n"
    idx = build_index(text)
    assert idx.get(("t", "b", 1)) == (5, 3)
    assert idx.get(("t",)) == (2, 1)


def test_byte_order_mark_does_not_shift_columns():
    assert build_index("\ufeffa = 1").get(("a",)) == (1, 1)


def test_escaped_quoted_keys_match_tomllib():
    text = '"tab\\there" = 1\n"\\u00e9t\\u00e9" = 2\n'
    data = tomllib.loads(text)
    idx = build_index(text)
    for key in data:
        assert idx.get((key,)) is not None
    assert idx.get(("\u00e9t\u00e9",)) == (2, 1)


def test_inline_tables_nested_in_arrays_of_arrays():
    text = "m = [[{ a = 1 }, { b = { c = 2 } }], []]\n"
    idx = build_index(text)
    assert idx.get(("m", 0, 1, "b", "c")) == (1, 26)
    assert idx.get(("m", 1)) == (1, 38)


def test_deep_nesting_does_not_overflow():
    text = "a = " + "[" * 10000 + "]" * 10000
    idx = build_index(text)
    assert idx.get(("a",) + (0,) * 9999) is not None
    assert find_deep_nesting(text, limit=100) == (1, 105)
    assert find_deep_nesting("a = [[1]]") is None


def test_garbage_never_raises():
    rng = random.Random(1234)
    alphabet = "[]{}\"'=.,#\n \\abc123-_\t\r"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        build_index(text)  # must not raise
        find_deep_nesting(text)
    assert build_index('a = "unterminated').get(("a",)) == (1, 1)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("outcomes", 2, "window_days"), "outcomes[2].window_days"),
        (("evidence", "columns", "Client Ref"), 'evidence.columns."Client Ref"'),
        (("outcomes", 0, "profile", "2020-Q1"), "outcomes[0].profile.2020-Q1"),
        (("a", 'q"uote'), 'a."q\\"uote"'),
        ((), ""),
    ],
)
def test_format_key_path(path, text):
    assert format_key_path(path) == text
