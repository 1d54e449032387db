"""Fuzz the contract loader through ``sob validate``: exit 0, 1 or 2, never an internal error.

Documents are generated around the real format (the keys of
:mod:`sob.contract.format`, values of every TOML type, some near the limits)
plus raw bytes, written to a file and run in-process through the CLI app.
Bounded and derandomized, so the same examples run on every machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sob.cli import app
from sob.contract import format as fmt

TABLES: dict[str, dict[str, str]] = {
    "contract": fmt.CONTRACT_FIELDS,
    "payers": fmt.PAYER_FIELDS,
    "caps": fmt.CAPS_FIELDS,
    "evidence": fmt.EVIDENCE_FIELDS,
    "outcomes": fmt.OUTCOME_FIELDS,
    "examples": dict.fromkeys(fmt.EXAMPLE_KEYS, "text"),
}
ARRAYS = {"payers", "outcomes", "examples"}

LITERALS = [
    '"sob/1"', '"GBP"', '"XXX"', '"JPY"', '"gbp"', "2020-01-01", "2019-12-31", "1979-05-27T07:32:00",
    '"2020-01-01"', "0", "1", "-1", "64", "12", "13", "100000", "9223372036854775808", "1.5", "0.333",
    "1e3", "nan", "inf", "-0.0", "true", "false", '""', '"   "', '"P"', '"LA"', '"x/../y"', '"/etc/passwd"',
    '"~/x"', '"evidence/claims.csv"', '"%d/%m/%Y"', '"%"', '";"', '","', '"claim"', '"improvement"',
    '"decrease"', '"2020-Q1"', '"2099-Q4"', "[]", "[1, 2]", '["P", "Q"]', '[{ outcome = "P", min_days = 3 }]',
    "{}", '{ LA = 1 }', '{ LA = "0.5", XX = 0.5 }', '{ "2020-Q1" = 3 }', '{ claim_id = "id" }',
    '[{ from = 2020-01-01, price = 5 }]', '[{ up_to = 2, price = 1 }, { price = 2 }]', '"' + "a" * 65 + '"',
    '"' + "9" * 30 + '"', '"\\u0000"', '"\\t"', "[[[[[1]]]]]",
]

value = st.one_of(
    st.sampled_from(LITERALS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.dates().map(lambda d: d.isoformat()),
)
key = st.one_of(st.sampled_from(sorted({k for fields in TABLES.values() for k in fields})),
                st.from_regex(r"[a-z_]{1,10}", fullmatch=True))


@st.composite
def document(draw: st.DrawFn) -> bytes:
    """A TOML document shaped like a contract, with random keys and values."""
    schema = draw(st.sampled_from(['"sob/1"', '"sob/2"', "1"]))
    lines = [f"schema = {schema}"] if draw(st.booleans()) else []
    for table in draw(st.lists(st.sampled_from([*TABLES, "evidence.columns", "junk"]), max_size=7)):
        lines.append(f"[[{table}]]" if table in ARRAYS else f"[{table}]")
        known = sorted(TABLES.get(table, {"claim_id": "", "x": ""}))
        for _ in range(draw(st.integers(0, 6))):
            name = draw(st.one_of(st.sampled_from(known), key))
            lines.append(f"{name} = {draw(value)}")
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # now and then, damage the bytes
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(max_size=8)) + text[at:]
    return text


runner = CliRunner()


def run_validate(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contract.toml"
        path.write_bytes(data)
        result = runner.invoke(app, ["validate", str(path), "--format", "json"])
    output = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), (result.exit_code, output)
    assert "internal error" not in output, output


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_generated_contracts_never_reach_an_internal_error(data: bytes) -> None:
    run_validate(data)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_reach_an_internal_error(data: bytes) -> None:
    run_validate(data)
