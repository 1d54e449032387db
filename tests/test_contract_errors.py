"""One test per contract error code: the code and the line it points at.

Each case is a tiny contract; the line marked ``# <-`` is where the finding
must point.  Each case must produce that code there, and no error of any
other code, so a check that fires on the wrong thing fails too.
"""

from __future__ import annotations

import copy
import time
import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import tomli_w

from sob import codes
from sob.contract import CONTRACT_CODES, check_contract_text, load_contract
from sob.findings import UsageError

HEAD = """\
schema = "sob/1"
[contract]
id = "c"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2021-12-31
"""
PAYER = """\
[[payers]]
id = "P"
share = 1
"""
OUTCOME = """\
[[outcomes]]
id = "A"
price = 100
"""
BASE = HEAD + PAYER + OUTCOME

CASES: list[tuple[str, str]] = [
    ("TOML_SYNTAX", BASE + "x = = 1  # <-\n"),
    ("UNKNOWN_SCHEMA", BASE.replace('schema = "sob/1"', 'schema = "sob/9"  # <-')),
    ("UNKNOWN_KEY", BASE.replace('id = "c"', 'id = "c"\nnmae = "typo"  # <-')),
    ("WRONG_TYPE", BASE.replace("start = 2020-01-01", 'start = "2020-01-01"  # <-')),
    (
        "MISSING_KEY",
        BASE.replace("[contract]\n", "[contract]  # <-\n").replace('currency = "GBP"\n', ""),
    ),
    ("DUPLICATE_ID", BASE + '[[outcomes]]\nid = "A"  # <-\nprice = 1\n'),
    ("UNKNOWN_REFERENCE", BASE + 'requires = ["B"]  # <-\n'),
    (
        "REQUIRES_CYCLE",
        BASE + 'requires = ["B"]\n[[outcomes]]\nid = "B"\nprice = 1\nrequires = ["A"]  # <-\n',
    ),
    (
        "DATES_OUT_OF_ORDER",
        BASE.replace("outcomes_end = 2021-12-31", "outcomes_end = 2019-12-31  # <-"),
    ),
    (
        "SHARES_NOT_ONE",
        HEAD
        + '[[payers]]  # <-\nid = "P"\nshare = 0.5\n[[payers]]\nid = "Q"\nshare = 0.4\n'
        + OUTCOME,
    ),
    ("BAD_SHARE", BASE.replace("share = 1", "share = 1.5  # <-")),
    ("NEGATIVE_MONEY", BASE.replace("price = 100", "price = -100  # <-")),
    ("TOO_MANY_DECIMALS", BASE.replace("price = 100", "price = 500.005  # <-")),
    ("BAD_CURRENCY", BASE.replace('currency = "GBP"', 'currency = "ABC"  # <-')),
    (
        "PRICES_NOT_SORTED",
        BASE.replace(
            "price = 100",
            "prices = [\n  { from = 2020-01-01, price = 1 },\n  { from = 2020-01-01, price = 2 },  # <-\n]",
        ),
    ),
    (
        "BAD_TIERS",
        BASE.replace(
            "price = 100",
            "tiers = [\n  { up_to = 10, price = 2 },\n  { up_to = 20, price = 1 },  # <-\n]",
        ),
    ),
    (
        "BAD_STEPS",
        BASE + '[[outcomes]]\nid = "I"\nkind = "improvement"\ndirection = "decrease"\n'
        "steps = [\n  { at = 0.1, amount = 5 },\n  { at = 0.1, amount = 6 },  # <-\n]\n",
    ),
    ("BAD_SCALE", BASE + "scale = { zero_at = 1.4, full_at = 1.40 }  # <-\n"),
    (
        "NETTING_CYCLE",
        BASE + '[[outcomes]]\nid = "I"\nkind = "improvement"\ndirection = "decrease"\nprice = 1\nnet_of = ["J"]\n'
        '[[outcomes]]\nid = "J"\nkind = "improvement"\ndirection = "decrease"\nprice = 1\nnet_of = ["I"]  # <-\n',
    ),
    ("WRONG_KIND_KEY", BASE + "deadweight = 0.1  # <-\n"),
    ("PRICE_CHOICE", BASE + "prices = [{ from = 2020-01-01, price = 1 }]  # <-\n"),
    ("BAD_RANGE", BASE + "window_days = -1  # <-\n"),
    ("MAX_CLAIMS_EXCLUSIVE", BASE + 'exclusive = "g"\nmax_claims = 2  # <-\n'),
    ("BAD_ID", BASE.replace('id = "c"', 'id = "Not OK"  # <-')),
    ("BAD_PROFILE", BASE + 'profile = { "2030-Q1" = 3 }  # <-\n'),
    ("UNSAFE_PATH", BASE + '[evidence]\nclaims = "../../etc/passwd"  # <-\n'),
    ("UNKNOWN_VALUE", BASE + 'kind = "claims"  # <-\n'),
    ("BAD_FORMAT", BASE + '[evidence]\ndelimiter = ";;"  # <-\n'),
    (
        "BAD_EXAMPLE",
        BASE + '[[examples]]\nname = "x"\nquarter = "2020-Q5"  # <-\nexpect = { entitled = 0 }\n',
    ),
]
# Codes that need raw bytes rather than text.
BYTE_CASES: list[tuple[str, bytes]] = [
    ("NOT_UTF8", BASE.encode() + b'note = "caf\xe9"  # <-\n'),
]


def marked_line(text: str) -> int:
    lines = text.splitlines()
    marked = [i for i, line in enumerate(lines, 1) if "# <-" in line]
    assert len(marked) == 1, "each case marks exactly one line"
    return marked[0]


def error_codes(findings):
    return {f.code for f in findings if f.severity == "error"}


def test_the_base_contract_is_valid():
    contract, findings = check_contract_text(BASE, Path("c.toml"))
    assert findings == []
    assert contract is not None


@pytest.mark.parametrize(("code", "text"), CASES, ids=[c for c, _ in CASES])
def test_code_and_line(code, text):
    contract, findings = check_contract_text(text, Path("c.toml"))
    assert contract is None
    assert error_codes(findings) == {code}, [(f.code, f.line, f.message) for f in findings]
    lines = {f.line for f in findings if f.code == code}
    assert marked_line(text) in lines
    assert all(f.file == "c.toml" for f in findings)


@pytest.mark.parametrize(("code", "data"), BYTE_CASES, ids=[c for c, _ in BYTE_CASES])
def test_byte_level_code_and_line(tmp_path, code, data):
    path = tmp_path / "c.toml"
    path.write_bytes(data)
    contract, findings = load_contract(path)
    assert contract is None
    assert [f.code for f in findings] == [code]
    assert findings[0].line == marked_line(data.decode("latin-1"))


def test_every_code_is_exercised():
    exercised = {code for code, _ in CASES} | {code for code, _ in BYTE_CASES}
    # warnings leave the contract valid; CAP_LOWERED has its own tests (test_dated_caps.py, test_codes.py)
    errors = {code for code in CONTRACT_CODES if codes.get(code) is not None and codes.get(code).level == "error"}
    assert exercised == errors
    assert set(CONTRACT_CODES) - errors == {"CAP_LOWERED"}
    assert all(code == code.upper() and meaning for code, meaning in CONTRACT_CODES.items())


# --- details of particular codes -----------------------------------------------------------


def findings_of(text: str):
    contract, findings = check_contract_text(text, Path("c.toml"))
    assert contract is None
    return findings


def test_syntax_error_has_line_and_column():
    (finding,) = findings_of(BASE + "x = = 1\n")
    assert (finding.line, finding.col) == (13, 5)
    assert "(at line" not in finding.message


def test_syntax_error_at_end_of_document():
    (finding,) = findings_of("a = 1\na = 2")
    assert finding.code == "TOML_SYNTAX"
    assert finding.line == 2


def test_unknown_key_has_did_you_mean_hint_and_field():
    text = BASE + "window_dayz = 3\n"
    (finding,) = findings_of(text)
    assert finding.code == "UNKNOWN_KEY"
    assert finding.hint == "did you mean 'window_days'?"
    assert finding.field == "outcomes[0].window_dayz"
    assert "'A'" in finding.message or '"A"' in finding.message


def test_unknown_reference_hints_the_closest_outcome_id():
    text = BASE + 'requires = ["ACC_ENTRI"]\n[[outcomes]]\nid = "ACC_ENTRY"\nprice = 1\n'
    (finding,) = findings_of(text)
    assert finding.code == "UNKNOWN_REFERENCE"
    assert finding.hint == "did you mean 'ACC_ENTRY'?"
    assert finding.field == "outcomes[0].requires[0]"


def test_outcome_payers_must_name_known_payers_and_sum_to_one():
    findings = findings_of(
        BASE.replace('id = "P"', 'id = "KC"') + "payers = { KCC = 0.5, KC = 0.4 }\n"
    )
    assert {f.code for f in findings} == {"UNKNOWN_REFERENCE"}
    assert findings[0].hint == "did you mean 'KC'?"
    assert findings[0].field == "outcomes[0].payers.KCC"
    (finding,) = findings_of(BASE + "payers = { P = 0.5 }\n")
    assert finding.code == "SHARES_NOT_ONE"
    assert finding.line == 13


def test_requiring_an_improvement_outcome_is_an_unknown_reference():
    text = BASE + (
        'requires = ["R"]\n[[outcomes]]\nid = "R"\nkind = "improvement"\n'
        'direction = "decrease"\nprice = 1\n'
    )
    (finding,) = findings_of(text)
    assert finding.code == "UNKNOWN_REFERENCE"
    assert "improvement" in finding.message


def test_self_requirement_is_a_cycle():
    (finding,) = findings_of(BASE + 'requires = ["A"]\n')
    assert finding.code == "REQUIRES_CYCLE"
    assert "A -> A" in finding.message


def test_missing_key_points_at_the_outcome_header():
    text = (
        HEAD
        + PAYER
        + '[[outcomes]]\nid = "A"\nprice = 1\n[[outcomes]]\nname = "no id"\nprice = 1\n'
    )
    (finding,) = findings_of(text)
    assert (finding.code, finding.line, finding.field) == ("MISSING_KEY", 13, "outcomes[1].id")


def test_empty_file_reports_every_missing_section():
    findings = findings_of("")
    assert {f.code for f in findings} == {"MISSING_KEY"}
    assert {f.field for f in findings} == {"schema", "contract", "payers", "outcomes"}
    assert all(f.line == 1 for f in findings)


def test_improvement_outcome_needs_direction_and_rejects_claim_keys():
    text = BASE + '[[outcomes]]\nid = "R"\nkind = "improvement"\nprice = 1\nwindow_days = 3\n'
    findings = findings_of(text)
    assert sorted((f.code, f.line) for f in findings) == [
        ("MISSING_KEY", 13),
        ("WRONG_KIND_KEY", 17),
    ]


def test_price_choice_with_no_price_points_at_the_header():
    (finding,) = findings_of(HEAD + PAYER + '[[outcomes]]\nid = "A"\n')
    assert (finding.code, finding.line) == ("PRICE_CHOICE", 10)


def test_prices_starting_after_the_contract_start():
    (finding,) = findings_of(
        BASE.replace("price = 100", "prices = [{ from = 2020-02-01, price = 1 }]")
    )
    assert finding.code == "PRICES_NOT_SORTED"
    assert finding.field == "outcomes[0].prices[0].from"


@pytest.mark.parametrize(
    "tiers",
    [
        "[]",
        "[{ price = 1 }, { price = 2 }]",
        "[{ up_to = 10, price = 1 }, { up_to = 10, price = 2 }, { price = 3 }]",
        "[{ up_to = 0, price = 1 }, { price = 2 }]",
    ],
)
def test_bad_tiers(tiers):
    findings = findings_of(BASE.replace("price = 100", f"tiers = {tiers}"))
    assert {f.code for f in findings} <= {"BAD_TIERS", "BAD_RANGE"}
    assert findings


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('currency = "XAU"', "BAD_CURRENCY"),
        ('currency = "gbp"', "BAD_CURRENCY"),
        ("minor_units = 19", "BAD_RANGE"),
        ("fiscal_year_start_month = 0", "BAD_RANGE"),
        ("claims_end = 2021-06-30", "DATES_OUT_OF_ORDER"),
        ("referrals_end = 2019-06-30", "DATES_OUT_OF_ORDER"),
        ("referrals_end = 2021-12-31T00:00:00", "WRONG_TYPE"),
    ],
)
def test_contract_table_problems(line, code):
    text = (
        BASE.replace('currency = "GBP"', line)
        if "currency" in line
        else BASE.replace('id = "c"', f'id = "c"\n{line}')
    )
    findings = findings_of(text)
    assert {f.code for f in findings} == {code}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("true", "WRONG_TYPE"),
        ("2020-01-01", "WRONG_TYPE"),
        ('"£500"', "WRONG_TYPE"),
        ('"5e2"', "WRONG_TYPE"),
        ("nan", "WRONG_TYPE"),
        ("inf", "WRONG_TYPE"),
        ('"-1.00"', "NEGATIVE_MONEY"),
        ("1.001", "TOO_MANY_DECIMALS"),
        ('"500.0000000000000000000000000000000001"', "TOO_MANY_DECIMALS"),
        ("1e30", "BAD_RANGE"),
        ("1e999999999", "BAD_RANGE"),
    ],
)
def test_money_problems(value, code):
    findings = findings_of(BASE.replace("price = 100", f"price = {value}"))
    assert [f.code for f in findings] == [code]
    assert findings[0].field == "outcomes[0].price"


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "C:\\evidence\\claims.csv",
        "\\\\server\\share\\x.csv",
        "a/../../b.csv",
        "..",
        "~/x.csv",
    ],
)
def test_unsafe_paths(path):
    literal = path.replace("\\", "\\\\")
    (finding,) = findings_of(BASE + f'[evidence]\nparticipants = "{literal}"\n')
    assert finding.code == "UNSAFE_PATH"


@pytest.mark.parametrize(
    ("profile", "code"),
    [
        ('{ "2019-Q4" = 1 }', "BAD_PROFILE"),
        ('{ "2020-Q5" = 1 }', "BAD_PROFILE"),
        ('{ "2020Q1" = 1 }', "BAD_PROFILE"),
        ('{ "2020-Q1" = -1 }', "BAD_PROFILE"),
        ('{ "2020-Q1" = 1.5 }', "WRONG_TYPE"),
    ],
)
def test_profile_problems(profile, code):
    findings = findings_of(BASE + f"profile = {profile}\n")
    assert [f.code for f in findings] == [code]


def test_example_problems_are_all_reported_as_bad_example():
    text = (
        BASE
        + """\
[[examples]]
name = "broken"
quarter = "2020-Q1"
colour = "red"
claims = [
  { claim_id = "1", participant_id = "X", outcome_id = "A", achieved_on = "2020-01-01" },
  { claim_id = "2", participant = "X", outcome_id = "A", achieved_on = 2020-01-01 },
]
expect = { entitled = 1.001, payers = { Q = 1 }, claims = { "9" = { status = "payed", why = 1 } } }
"""
    )
    findings = findings_of(text)
    assert {f.code for f in findings} == {"BAD_EXAMPLE"}
    fields = {f.field for f in findings}
    assert {
        "examples[0].colour",
        "examples[0].claims[0].achieved_on",
        "examples[0].claims[1].participant",
        "examples[0].claims[1]",  # no participant_id
        "examples[0].expect.entitled",
        "examples[0].expect.payers.Q",
        "examples[0].expect.claims.9",
        "examples[0].expect.claims.9.status",
        "examples[0].expect.claims.9.why",
    } <= fields


def test_example_without_expect_is_reported():
    (finding,) = findings_of(BASE + '[[examples]]\nname = "x"\n')
    assert (finding.code, finding.field) == ("BAD_EXAMPLE", "examples[0].expect")


def test_example_that_is_not_a_table():
    (finding,) = findings_of(BASE.replace('schema = "sob/1"', 'schema = "sob/1"\nexamples = ["x"]'))
    assert (finding.code, finding.line) == ("BAD_EXAMPLE", 2)


def test_all_problems_are_reported_in_one_pass():
    text = """\
schema = "sob/1"
[contract]
id = "Bad Id"
currency = "GBP"
start = "2019-04-01"
outcomes_end = 2019-01-01
[[payers]]
id = "P"
share = 0.5
[[outcomes]]
id = "A"
price = -1
window_days = -3
requires = ["B"]
[[outcomes]]
id = "A"
price = 1.234
"""
    findings = findings_of(text)
    got = [(f.code, f.line) for f in findings]
    assert got == [
        ("BAD_ID", 3),
        ("WRONG_TYPE", 5),
        ("SHARES_NOT_ONE", 7),
        ("NEGATIVE_MONEY", 12),
        ("BAD_RANGE", 13),
        ("UNKNOWN_REFERENCE", 14),
        ("DUPLICATE_ID", 16),
        ("TOO_MANY_DECIMALS", 17),
    ]


# --- file-system problems are usage errors, not findings ------------------------------------


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load_contract(tmp_path / "nope.toml")
    assert "nope.toml" in info.value.message
    assert info.value.exit_code == 2


def test_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load_contract(tmp_path)
    assert str(tmp_path) in info.value.message


def test_unreadable_file_is_a_usage_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.toml"
    path.write_text(BASE)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("sob.contract.load.os.open", refuse)  # tests run as root: chmod would not stop a read
    with pytest.raises(UsageError, match=r"secret\.toml.*permission denied"):
        load_contract(path)


# --- hostile inputs ------------------------------------------------------------------------


def load_bytes(tmp_path, data: bytes):
    path = tmp_path / "hostile.toml"
    path.write_bytes(data)
    return load_contract(path)


def test_empty_file(tmp_path):
    contract, findings = load_bytes(tmp_path, b"")
    assert contract is None
    assert "schema" in {f.field for f in findings if f.code == "MISSING_KEY"}


def test_binary_file(tmp_path):
    contract, findings = load_bytes(tmp_path, bytes(range(256)) * 64)
    assert contract is None
    assert [f.code for f in findings] == ["NOT_UTF8"]


def test_utf16_file(tmp_path):
    contract, findings = load_bytes(tmp_path, BASE.encode("utf-16"))
    assert contract is None
    assert [f.code for f in findings] == ["NOT_UTF8"]
    assert "UTF-16" in findings[0].message


def test_utf16_without_bom(tmp_path):
    _contract, findings = load_bytes(tmp_path, BASE.encode("utf-16-le"))
    assert [f.code for f in findings] == ["NOT_UTF8"]


def test_utf8_byte_order_mark_is_ignored(tmp_path):
    contract, findings = load_bytes(tmp_path, b"\xef\xbb\xbf" + BASE.encode())
    assert findings == []
    assert contract is not None


def test_deep_nesting(tmp_path):
    data = b"a = " + b"[" * 10000 + b"]" * 10000 + b"\n"
    _contract, findings = load_bytes(tmp_path, data)
    assert [f.code for f in findings] == ["TOML_SYNTAX"]
    assert findings[0].line == 1
    assert "nested" in findings[0].message


def test_deep_inline_tables(tmp_path):
    data = BASE.encode() + b"x = " + b"{a=" * 5000 + b"1" + b"}" * 5000
    _contract, findings = load_bytes(tmp_path, data)
    assert [(f.code, f.line) for f in findings] == [("TOML_SYNTAX", 13)]


def test_huge_string_is_cut_in_messages(tmp_path):
    data = b'schema = "' + b"x" * 10_000_000 + b'"\n' + BASE.split("\n", 1)[1].encode()
    start = time.perf_counter()
    _contract, findings = load_bytes(tmp_path, data)
    assert time.perf_counter() - start < 20
    assert [f.code for f in findings] == ["UNKNOWN_SCHEMA"]
    assert len(findings[0].message) < 300
    assert len(findings[0].value) <= 80


def test_huge_key_is_cut_everywhere(tmp_path):
    data = BASE.encode() + b'"' + b"k" * 10_000_000 + b'" = 1\n'
    _contract, findings = load_bytes(tmp_path, data)
    (finding,) = findings
    assert finding.code == "UNKNOWN_KEY"
    assert len(finding.message) < 300 and len(finding.field) <= 200


def test_huge_integer(tmp_path):
    _contract, findings = load_bytes(
        tmp_path, BASE.encode() + b"window_days = " + b"9" * 5000 + b"\n"
    )
    assert [f.code for f in findings] == ["TOML_SYNTAX"]


def test_lone_surrogate_in_text_is_not_unicode():
    contract, findings = check_contract_text(BASE + 'name = "\ud800"\n', Path("c.toml"))
    assert contract is None
    assert [(f.code, f.line) for f in findings] == [("NOT_UTF8", 13)]


def test_control_characters_are_escaped_in_messages():
    (finding,) = findings_of(BASE.replace('currency = "GBP"', 'currency = "G\\u001bB"'))
    assert finding.code == "BAD_CURRENCY"
    assert "\x1b" not in finding.message and "\x1b" not in (finding.value or "")


# --- robustness: any value of any type anywhere never raises ---------------------------------

FULL_FOR_FUZZ = (
    BASE
    + """\
requires = [{ outcome = "B", min_days = 1 }]
profile = { "2020-Q1" = 1 }
payers = { P = 1 }
cohorts = ["x"]
[[outcomes]]
id = "B"
tiers = [{ up_to = 3, price = 1 }, { price = 2 }]
[[outcomes]]
id = "R"
kind = "improvement"
direction = "decrease"
prices = [{ from = 2020-01-01, price = 1 }]
min_improvement = 0.1
[caps]
total = 10
partial = true
[evidence]
claims = "e/c.csv"
date_format = "%d/%m/%Y"
columns = { claim_id = "Ref" }
[[examples]]
name = "e"
quarter = "2020-Q1"
participants = [{ participant_id = "X", enrolled_on = 2020-01-02, eligible = true }]
claims = [{ claim_id = "1", participant_id = "X", outcome_id = "A", achieved_on = 2020-01-03 }]
results = [{ result_id = "r", outcome_id = "R", cohort = "c", achieved_on = 2020-01-03, baseline = 2, observed = 1 }]
expect = { entitled = 0, payers = { P = 0 }, claims = { "1" = { status = "rejected", due = 0 } } }
"""
)

ODD_VALUES = [
    True,
    -1,
    0,
    10**30,
    Decimal("1.5"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    "",
    "x" * 200,
    "2020-01-01",
    date(2020, 1, 1),
    datetime(2020, 1, 1, 1, 1),
    [],
    [1, "a"],
    {},
    {"k": []},
]


def _paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from _paths(item, (*path, i))


def _replace(data, path, new):
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    if new is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return data


_DELETE = object()


def test_fuzz_fixture_is_valid():
    contract, findings = check_contract_text(FULL_FOR_FUZZ, Path("c.toml"))
    assert findings == [] and contract is not None


def test_any_value_anywhere_never_raises():
    data = tomllib.loads(FULL_FOR_FUZZ, parse_float=Decimal)
    checked = 0
    for path in _paths(data):
        for new in [*ODD_VALUES, _DELETE]:
            text = tomli_w.dumps(_replace(data, path, new))
            contract, findings = check_contract_text(text, Path("c.toml"))
            has_errors = any(f.severity == "error" for f in findings)
            assert (contract is None) == has_errors, (path, new)
            assert all(f.line is not None for f in findings)
            checked += 1
    assert checked > 1000
