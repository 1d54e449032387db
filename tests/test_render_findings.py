"""Findings rendered as text, JSON and GitHub workflow commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sob.codes import fix_hint
from sob.findings import Finding
from sob.render.findings import (
    escape_data,
    escape_property,
    file_line_reader,
    format_github,
    format_json,
    format_text,
    printable,
    summary_line,
)

TOML = """schema = "sob/1"

[contract]
id = "kbop"

[[outcomes]]
id = "ACC_ENTRY"
windw_days = 730
"""

UNKNOWN_KEY = Finding(
    "UNKNOWN_KEY",
    "unknown key 'windw_days' in [[outcomes]] (did you mean 'window_days'?)",
    file="contracts/kbop.toml",
    line=8,
    col=1,
    field="outcomes[0].windw_days",
    hint="rename it to 'window_days'",
)


def lines_of(text: str) -> dict[tuple[str, int], str]:
    return {("contracts/kbop.toml", i + 1): line for i, line in enumerate(text.split("\n"))}


def fake_reader(text: str = TOML):
    table = lines_of(text)
    return lambda file, line: table.get((file, line))


# --- text ------------------------------------------------------------------


def test_text_shows_location_code_source_line_caret_and_hint():
    out = format_text([UNKNOWN_KEY], fake_reader())
    assert out.splitlines() == [
        "contracts/kbop.toml:8:1: UNKNOWN_KEY unknown key 'windw_days' in [[outcomes]] (did you mean 'window_days'?)",
        "  8 | windw_days = 730",
        "    | ^^^^^^^^^^",
        "  hint: rename it to 'window_days'",
    ]


def test_caret_sits_under_the_column_and_covers_a_quoted_value():
    f = Finding("WRONG_TYPE", "start must be a date", file="contracts/kbop.toml", line=4, col=6)
    text = 'id = "kbop"'
    out = format_text([f], lambda file, line: text).splitlines()
    assert out[1] == '  4 | id = "kbop"'
    assert out[2] == '    |      ^^^^^^'
    assert out[2].index("^") == out[1].index('"')


def test_text_omits_missing_parts_and_marks_warnings():
    file_level = Finding("MISSING_COLUMN", "no column 'claim_id'", file="claims.csv")
    warn = Finding("DUPLICATE_ID", "rows 3 and 5 are identical", file="claims.csv", line=5, severity="warning")
    out = format_text([warn, file_level], lambda f, n: "C1,P1,ACC" if n == 5 else None)
    blocks = out.strip().split("\n\n")
    assert blocks[0].splitlines()[0] == "claims.csv: MISSING_COLUMN no column 'claim_id'"
    assert blocks[1].splitlines()[:2] == [
        "claims.csv:5: warning DUPLICATE_ID rows 3 and 5 are identical",
        "  5 | C1,P1,ACC",
    ]


def test_text_falls_back_to_the_catalogue_hint_only_when_the_finding_has_none():
    own = Finding("UNKNOWN_KEY", "unknown key", file="c.toml", line=1, hint="did you mean `window_days`?")
    bare = Finding("MISSING_COLUMN", "no column 'claim_id'", file="claims.csv")
    stranger = Finding("NOT_A_CATALOGUE_CODE", "made up", file="x.csv")
    blocks = format_text([own, bare, stranger], lambda f, n: None).strip().split("\n\n")
    assert blocks[0].splitlines()[1:] == ["  hint: did you mean `window_days`?"]
    assert blocks[1].splitlines()[1:] == ["  hint: add the column, or map it to your header in `[evidence.columns]`"]
    assert blocks[2].splitlines()[1:] == []


def test_machine_formats_keep_only_the_findings_own_hint():
    bare = Finding("MISSING_COLUMN", "no column 'claim_id'", file="claims.csv")
    assert json.loads(format_json([bare], ["claims.csv"]))["findings"][0]["hint"] is None
    assert "hint" not in format_github([bare])


def test_text_without_a_readable_line_still_reports_the_finding():
    out = format_text([UNKNOWN_KEY], lambda f, n: None)
    assert out.splitlines()[0].startswith("contracts/kbop.toml:8:1: UNKNOWN_KEY ")
    assert "|" not in out


def test_text_survives_a_broken_reader():
    def broken(file, line):
        raise RuntimeError("disk on fire")

    assert "UNKNOWN_KEY" in format_text([UNKNOWN_KEY], broken)


def test_text_neutralises_control_characters_from_evidence():
    f = Finding("BAD_DATE", "bad date '\x1b[31m2020\nclaims.csv:1:1: FAKE'", file="claims.csv", line=2, col=1)
    out = format_text([f], lambda file, line: "\x1b[31mX,\u202eY")
    assert "\x1b" not in out and "\u202e" not in out
    # the header, the source line, the caret and the catalogue's hint: no fake finding line
    assert len(out.strip().splitlines()) == 4


def test_text_sorts_by_file_and_line():
    a = Finding("B", "second", file="a.toml", line=9)
    b = Finding("A", "first", file="a.toml", line=2)
    c = Finding("C", "other file", file="b.csv", line=1)
    out = format_text([c, a, b], lambda f, n: None)
    assert [line.split(" ")[1] for line in out.strip().split("\n\n")] == ["A", "B", "C"]


def test_long_lines_are_windowed_around_the_column():
    long_line = "x" * 500 + "BAD" + "y" * 500
    f = Finding("TOML_SYNTAX", "bad value", file="c.toml", line=3, col=501)
    src, caret = format_text([f], lambda file, line: long_line).splitlines()[1:3]
    assert len(src) < 140
    assert src[caret.index("^") :].startswith("BAD")


def test_long_csv_lines_are_windowed_around_the_field():
    long_line = ",".join(["x" * 30] * 20 + ["BAD"] + ["y" * 30] * 20)
    f = Finding("BAD_NUMBER", "not a number", file="c.csv", line=3, col=21)
    src, caret = format_text([f], lambda file, line: long_line).splitlines()[1:3]
    assert len(src) < 140
    assert src[caret.index("^") :].startswith("BAD,")
    assert caret.count("^") == 3


# --- evidence files: col is a field number ------------------------------------


def caret_under(out: str) -> str:
    """The text the caret underlines in a one-finding text block."""
    src, caret = out.splitlines()[1:3]
    start = caret.index("^")
    return src[start : start + caret.count("^")]


def test_csv_caret_goes_under_the_field_not_the_character():
    f = Finding("BAD_DATE", "bad achieved_on", file="ev/claims.csv", line=4, col=4)
    out = format_text([f], lambda file, line: 'C7,"Smith, J",ACC_ENTRY,31/02/2020,x')
    assert out.splitlines()[1] == '  4 | C7,"Smith, J",ACC_ENTRY,31/02/2020,x'
    assert caret_under(out) == "31/02/2020"


def test_csv_caret_uses_the_given_or_sniffed_delimiter():
    line = "C7;P1;ACC_ENTRY;2020-13-01"
    f = Finding("BAD_DATE", "bad date", file="claims.csv", line=2, col=4)
    assert caret_under(format_text([f], lambda file, line_no: line)) == "2020-13-01"
    assert caret_under(format_text([f], lambda file, n: line, delimiter={"claims.csv": ";"})) == "2020-13-01"
    assert caret_under(format_text([f], lambda file, n: "a\tb\tc\td", delimiter="\t")) == "d"


def test_csv_caret_on_a_quoted_field_and_an_empty_one():
    f = Finding("BAD_STATUS", "bad status", file="claims.csv", line=2, col=2)
    assert caret_under(format_text([f], lambda file, n: 'C1,"said ""no""",x')) == '"said ""no"""'
    empty = Finding("MISSING_VALUE", "no participant", file="claims.csv", line=2, col=2)
    out = format_text([empty], lambda file, n: "C1,,ACC")
    assert out.splitlines()[2] == "    |    ^"


def test_csv_field_beyond_the_line_gives_no_caret():
    f = Finding("BAD_ROW_LENGTH", "short row", file="claims.csv", line=2, col=9)
    out = format_text([f], lambda file, n: "C1,P1")
    assert out.splitlines()[1:3] == ["  2 | C1,P1", f"  hint: {fix_hint('BAD_ROW_LENGTH')}"]


def test_empty_findings_give_empty_text():
    assert format_text([], lambda f, n: None) == ""


# --- summary ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "n_files", "expected"),
    [
        ([], 2, "no problems found in 2 files"),
        ([], 1, "no problems found in 1 file"),
        (["error", "error", "error", "warning"], 2, "3 errors, 1 warning in 2 files"),
        (["error"], 1, "1 error in 1 file"),
        (["warning", "warning"], 1, "no errors, 2 warnings in 1 file"),
    ],
)
def test_summary_line(severities, n_files, expected):
    findings = [Finding("X", "m", severity=s) for s in severities]
    assert summary_line(findings, n_files) == expected


# --- JSON ------------------------------------------------------------------


def test_json_is_valid_with_counts_and_sorted_findings():
    warn = Finding("DUPLICATE_ID", "same row twice", file="claims.csv", line=7, severity="warning")
    err = Finding("BAD_DATE", "bad date", file="claims.csv", line=3, col=4, field="achieved_on", value="31/02/2020")
    doc = json.loads(format_json([warn, UNKNOWN_KEY, err], ["contracts/kbop.toml", "claims.csv"]))
    assert list(doc)[:5] == ["valid", "files", "errors", "warnings", "findings"]
    assert doc["valid"] is False
    assert (doc["errors"], doc["warnings"]) == (2, 1)
    assert doc["files"] == ["contracts/kbop.toml", "claims.csv"]
    assert [f["code"] for f in doc["findings"]] == ["BAD_DATE", "DUPLICATE_ID", "UNKNOWN_KEY"]
    assert doc["findings"][0] == err.to_dict()


def test_json_warnings_only_is_valid_unless_strict_and_extra_keys_are_added():
    warn = Finding("DUPLICATE_ID", "same row twice", severity="warning")
    assert json.loads(format_json([warn], ["c.toml"]))["valid"] is True
    assert json.loads(format_json([warn], ["c.toml"], strict=True))["valid"] is False
    doc = json.loads(format_json([], ["c.toml"], {"examples": {"passed": 2}}))
    assert doc["valid"] is True and doc["examples"] == {"passed": 2}


def test_json_extra_cannot_replace_stable_keys():
    with pytest.raises(ValueError):
        format_json([], [], {"valid": True})


# --- GitHub ----------------------------------------------------------------


def test_github_command_shape_and_hint():
    out = format_github([UNKNOWN_KEY])
    assert out == (
        "::error file=contracts/kbop.toml,line=8,col=1,title=UNKNOWN_KEY::"
        "unknown key 'windw_days' in [[outcomes]] (did you mean 'window_days'?)%0Ahint: rename it to 'window_days'\n"
    )


def test_github_escapes_data_and_properties():
    f = Finding(
        "BAD,CODE:X",
        "100% bad\r\nvalue: a,b",
        file="dir:x/a,b%.csv",
        line=3,
        severity="warning",
    )
    out = format_github([f])
    assert out == "::warning file=dir%3Ax/a%2Cb%25.csv,line=3,title=BAD%2CCODE%3AX::100%25 bad%0D%0Avalue: a,b\n"
    assert out.count("\n") == 1


def test_escape_functions_escape_percent_first():
    assert escape_data("%0A") == "%250A"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_github_col_is_a_character_column_for_evidence():
    f = Finding("BAD_DATE", "bad", file="claims.csv", line=2, col=3)
    assert format_github([f]) == "::error file=claims.csv,line=2,title=BAD_DATE::bad\n"  # unknown: left out
    out = format_github([f], lambda file, n: 'C1,"Smith, J",2020-13-01')
    assert out == "::error file=claims.csv,line=2,col=15,title=BAD_DATE::bad\n"


def test_github_one_command_per_finding_without_file():
    out = format_github([Finding("TOML_SYNTAX", "bad"), Finding("X", "y", file="f", line=1, col=2)])
    assert out.splitlines() == ["::error title=TOML_SYNTAX::bad", "::error file=f,line=1,col=2,title=X::y"]


# --- file reader -----------------------------------------------------------


def test_file_line_reader_reads_lines_streams_and_never_raises(tmp_path: Path):
    csv = tmp_path / "claims.csv"
    csv.write_bytes("\ufeffclaim_id,participant_id\r\nC1,P1\r\nC2,\xff\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    read = file_line_reader()
    assert read(str(csv), 1) == "claim_id,participant_id"
    assert read(str(csv), 2) == "C1,P1"
    assert read(str(csv), 3) == "C2,\ufffd"
    assert read(str(csv), 4) is None
    assert read(str(csv), 2) == "C1,P1"  # cached, and going back works
    assert read(str(csv), 0) is None
    assert read(str(tmp_path / "missing.csv"), 1) is None
    assert read(str(tmp_path), 1) is None  # a directory


def test_file_line_reader_goes_back_and_skips_binary(tmp_path: Path):
    text = tmp_path / "c.toml"
    text.write_text("a = 1\nb = 2\nc = 3", encoding="utf-8")
    read = file_line_reader()
    assert read(str(text), 3) == "c = 3"
    assert read(str(text), 1) == "a = 1"  # not requested before: restarts from the top
    assert read(str(text), 2) == "b = 2"
    parquet = tmp_path / "claims.parquet"
    parquet.write_bytes(b"PAR1\x00\x01binary\nmore")
    assert read(str(parquet), 1) is None
    nul = tmp_path / "weird.csv"
    nul.write_bytes(b"a\x00b\n")
    assert read(str(nul), 1) is None


def test_file_line_reader_caps_an_enormous_line(tmp_path: Path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"h\n" + b"x" * 200_000 + b"\nlast\n")
    read = file_line_reader()
    assert len(read(str(big), 2)) <= 64 * 1024
    assert read(str(big), 3) == "last"


def test_format_text_with_the_real_reader(tmp_path: Path):
    path = tmp_path / "kbop.toml"
    path.write_text(TOML, encoding="utf-8")
    f = Finding("UNKNOWN_KEY", "unknown key", file=str(path), line=8, col=1)
    out = format_text([f], file_line_reader())
    assert "  8 | windw_days = 730" in out
    assert "    | ^^^^^^^^^^" in out


def test_printable_keeps_width():
    assert printable("a\tb\x1bc\u202ed") == "a b\ufffdc\ufffdd"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet="ab,\r\u00e9", max_size=12), max_size=12), st.booleans(),
       st.lists(st.integers(0, 14), max_size=8), st.integers(1, 9))
def test_file_line_reader_finds_every_line_across_block_edges(tmp_path_factory, lines, trailing, asks, block):
    """Lines found by counting breaks block by block are the lines a split on \\n gives, in any order of asking."""
    import sob.render.findings as F

    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(("\n".join(lines) + ("\n" if trailing and lines else "")).encode("utf-8"))
    expected = path.read_bytes().split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, "_SKIP_BLOCK", block)
        read = file_line_reader()
        for n in asks + list(range(1, len(expected) + 2)):
            want = expected[n - 1].decode("utf-8").rstrip("\r\n") if 1 <= n <= len(expected) else None
            assert read(str(path), n) == want, (n, lines)
