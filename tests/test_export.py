"""Export of the claim table: exact amounts, column order, formula safety, atomicity."""

from __future__ import annotations

import json
import random
import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

import polars as pl
import pytest

from sob import export
from sob.export import format_money_columns, write_table
from sob.findings import UsageError
from sob.money import format_minor, minor_to_decimal

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
BIG = 12_345_678_901_234_567  # beyond 10**15: XLSX must write it as exact text


def claim_table() -> pl.DataFrame:
    """A claim table in the engine's column order, with awkward values."""
    ids = [f"{t}ID{i}" for i, t in enumerate(TRIGGERS)] + ["P7", " =space", "'quoted", ""]
    n = len(ids)
    cycle = lambda values: [values[i % len(values)] for i in range(n)]  # noqa: E731
    return pl.DataFrame(
        {
            "claim_id": ids,
            "kind": cycle(["claim", "improvement"]),
            "participant_id": cycle(["-P1", "P2", "=1+1"]),
            "cohort": cycle(["A", None]),
            "outcome_id": cycle(["ACC_ENTRY", "@SUM(A1)"]),
            "achieved_on": cycle([date(2020, 4, 1), date(2021, 12, 31), None]),
            "submitted_on": cycle([date(2020, 5, 2), date(1999, 1, 9)]),
            "status": cycle(["paid", "partial", "capped", "rejected"]),
            "reason": cycle([None, "VOLUME_CAP", "-NEG"]),
            "price": cycle([150000, None, 0, 99]),
            "entitled": cycle([150000, -5, 0, 1, BIG]),
            "previously_paid": cycle([0, 150000, -150000, -BIG]),
            "due": cycle([-150000, 5, -1, 0, -99]),
            "due_KC": cycle([-105000, 3, -1, 0]),
            "due_CF": cycle([-45000, 2, 0, 0]),
            "amount_claimed": cycle([150000, None]),
            "claimed_variance": cycle([0, -12345]),
            "note": cycle(["=HYPERLINK(\"x\")", "-5", "plain", None, "+44 123"]),
            "due_date": cycle(["2020-01-01", "-soon"]),  # carried text, not money
        },
        schema_overrides=dict.fromkeys(("price", "entitled", "previously_paid", "due", "due_KC", "due_CF", "amount_claimed", "claimed_variance"), pl.Int64),
    )


MONEY = ["price", "entitled", "previously_paid", "due", "due_KC", "due_CF", "amount_claimed",
         "claimed_variance"]
TEXT = ["claim_id", "kind", "participant_id", "cohort", "outcome_id", "status", "reason", "note",
        "due_date"]
DATES = ["achieved_on", "submitted_on"]


def prefixed(value: str | None) -> str | None:
    if value is None:
        return None
    return "'" + value if value[:1] in TRIGGERS else value


# ---------------------------------------------------------------- vectorised money


@pytest.mark.parametrize("units", [0, 1, 2, 3, 4, 18])
def test_format_money_columns_matches_format_minor(units: int) -> None:
    rng = random.Random(units)
    values = [0, 1, -1, 9, -9, 10, -10, 100, -100, 150000, -150000, 2**63 - 1, -(2**63), None]
    values += [rng.randint(-(2**63), 2**63 - 1) for _ in range(500)]
    values += [rng.randint(-1000, 1000) for _ in range(500)]
    table = pl.DataFrame({"due": values, "due_date": ["x"] * len(values), "n": [1] * len(values)},
                         schema={"due": pl.Int64, "due_date": pl.String, "n": pl.Int64})
    out = format_money_columns(table, units)
    assert out["due"].to_list() == [None if v is None else format_minor(v, units) for v in values]
    assert out["due_date"].to_list() == ["x"] * len(values)  # text named due_* is not money
    assert out["n"].dtype == pl.Int64  # not a money name


def test_format_money_columns_examples() -> None:
    table = pl.DataFrame({"entitled": [150000, -50000, 0, -5, 7]}, schema={"entitled": pl.Int64})
    assert format_money_columns(table, 2)["entitled"].to_list() == ["1500.00", "-500.00", "0.00", "-0.05", "0.07"]
    assert format_money_columns(table, 0)["entitled"].to_list() == ["150000", "-50000", "0", "-5", "7"]
    assert format_money_columns(table, 3)["entitled"].to_list() == ["150.000", "-50.000", "0.000", "-0.005", "0.007"]


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("units", [0, 2, 3])
def test_csv_round_trip_exact(tmp_path: Path, units: int) -> None:
    table = claim_table()
    path = tmp_path / "out.csv"
    write_table(table, path, units)
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns == table.columns
    for name in MONEY:  # amounts: exact decimals, never prefixed
        want = [None if v is None else format_minor(v, units) for v in table[name].to_list()]
        assert back[name].to_list() == want, name
    for name in DATES:
        want = [None if v is None else v.isoformat() for v in table[name].to_list()]
        assert back[name].to_list() == want, name
    for name in TEXT:
        assert back[name].to_list() == [prefixed(v) for v in table[name].to_list()], name


def test_csv_prefix_exactly_the_triggers(tmp_path: Path) -> None:
    starts = TRIGGERS + ["a", " ", "'", "1", "#", "%", "|", "\n"]
    table = pl.DataFrame({"claim_id": [s + "x" for s in starts], "due": [-1] * len(starts)},
                         schema={"claim_id": pl.String, "due": pl.Int64})
    path = tmp_path / "t.csv"
    write_table(table, path, 2)
    back = pl.read_csv(path, infer_schema=False)
    got = dict(zip(starts, back["claim_id"].to_list(), strict=True))
    for s in starts:
        assert got[s] == ("'" if s in TRIGGERS else "") + s + "x", repr(s)
    assert back["due"].to_list() == ["-0.01"] * len(starts)  # amounts never prefixed


def test_csv_keeps_empty_string_apart_from_null(tmp_path: Path) -> None:
    table = pl.DataFrame({"claim_id": ["", None, "x"]}, schema={"claim_id": pl.String})
    write_table(table, tmp_path / "e.csv", 2)
    assert pl.read_csv(tmp_path / "e.csv", infer_schema=False)["claim_id"].to_list() == ["", None, "x"]


def test_csv_header_is_formula_safe(tmp_path: Path) -> None:
    table = pl.DataFrame({"claim_id": ["a"], "=evil": ["b"]})
    write_table(table, tmp_path / "h.csv", 2)
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "claim_id,'=evil"


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("units", [0, 2, 3])
def test_json_records_exact_and_unprefixed(tmp_path: Path, units: int) -> None:
    table = claim_table()
    path = tmp_path / "out.json"
    write_table(table, path, units)
    records = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == table.height
    for record, row in zip(records, table.iter_rows(named=True), strict=True):
        assert list(record) == table.columns
        for name in MONEY:
            assert record[name] == (None if row[name] is None else format_minor(row[name], units))
        for name in DATES:
            assert record[name] == (None if row[name] is None else row[name].isoformat())
        for name in TEXT:
            assert record[name] == row[name]  # never prefixed


# ---------------------------------------------------------------- Parquet


@pytest.mark.parametrize("units", [0, 2, 3])
def test_parquet_decimal_exact(tmp_path: Path, units: int) -> None:
    table = claim_table()
    path = tmp_path / "out.parquet"
    write_table(table, path, units)
    back = pl.read_parquet(path)
    assert back.columns == table.columns
    for name in MONEY:
        assert back.schema[name] == pl.Decimal(38, units), name
        want = [None if v is None else minor_to_decimal(v, units) for v in table[name].to_list()]
        assert back[name].to_list() == want, name
    for name in DATES:
        assert back.schema[name] == pl.Date
        assert back[name].to_list() == table[name].to_list()
    for name in TEXT:
        assert back[name].to_list() == table[name].to_list()  # never prefixed


# ---------------------------------------------------------------- XLSX

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _col_index(ref: str) -> tuple[int, int]:
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", ref).groups()  # type: ignore[union-attr]
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(digits) - 1, col - 1


def _ooxml_unescape(text: str) -> str:
    """OOXML writes control characters as _xHHHH_ (ECMA-376 ST_Xstring)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def read_xlsx(path: Path) -> tuple[dict[tuple[int, int], tuple[str, str, str | None]], str, str]:
    """Cells (row, col) → (type, value, style), plus the sheet and styles XML."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        strings: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(zf.read("xl/sharedStrings.xml"))
            strings = [
                _ooxml_unescape("".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")))
                for si in root.findall("m:si", NS)
            ]
        sheet_xml = zf.read("xl/worksheets/sheet1.xml").decode()
        styles_xml = zf.read("xl/styles.xml").decode()
    cells = {}
    for c in ET.fromstring(sheet_xml).iter(f"{{{NS['m']}}}c"):
        v = c.find("m:v", NS)
        if v is None:
            continue
        kind = c.get("t", "n")
        value = strings[int(v.text)] if kind == "s" else v.text
        cells[_col_index(c.get("r"))] = (kind, value, c.get("s"))
    return cells, sheet_xml, styles_xml


EXCEL_EPOCH = date(1899, 12, 30)


@pytest.mark.parametrize("units", [0, 2, 3])
def test_xlsx_typed_cells(tmp_path: Path, units: int) -> None:
    table = claim_table()
    path = tmp_path / "out.xlsx"
    write_table(table, path, units)
    cells, sheet_xml, styles_xml = read_xlsx(path)
    # header: column order, bold (a style), frozen first row, autofilter
    assert [cells[(0, c)][1] for c in range(table.width)] == table.columns
    assert 'ySplit="1"' in sheet_xml and 'state="frozen"' in sheet_xml
    assert "<autoFilter" in sheet_xml
    assert "<b/>" in styles_xml
    money_format = "#,##0" + ("." + "0" * units if units else "")
    assert f'formatCode="{money_format}"' in styles_xml
    assert 'formatCode="yyyy-mm-dd"' in styles_xml
    assert "<col " in sheet_xml  # widths set
    for r, row in enumerate(table.iter_rows(named=True), start=1):
        for c, name in enumerate(table.columns):
            value = row[name]
            cell = cells.get((r, c))
            if value is None:  # null: blank cell ("" stays an empty text cell)
                assert cell is None, (name, r)
                continue
            kind, text, _ = cell
            if name in MONEY:
                exact = minor_to_decimal(value, units)
                if abs(value) < 10**15:
                    assert kind == "n", (name, r)
                    assert Decimal(repr(float(text))) == exact, (name, r, text)
                else:  # exact text, not prefixed even when negative
                    assert kind == "s" and text == format_minor(value, units), (name, r)
            elif name in DATES:
                assert kind == "n" and int(text) == (value - EXCEL_EPOCH).days
            else:
                assert kind == "s" and text == prefixed(value), (name, r)


def test_xlsx_never_prefixes_negative_amounts(tmp_path: Path) -> None:
    table = pl.DataFrame({"claim_id": ["-x"], "due": [-150000], "entitled": [-BIG]},
                         schema={"claim_id": pl.String, "due": pl.Int64, "entitled": pl.Int64})
    write_table(table, tmp_path / "n.xlsx", 2)
    cells, _, _ = read_xlsx(tmp_path / "n.xlsx")
    assert cells[(1, 0)][1] == "'-x"
    assert cells[(1, 1)][:2] == ("n", "-1500")
    assert cells[(1, 2)][:2] == ("s", format_minor(-BIG, 2))


# ---------------------------------------------------------------- errors and atomicity


def test_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        write_table(claim_table(), tmp_path / "out.txt", 2)
    for ext in (".csv", ".parquet", ".json", ".xlsx"):
        assert ext in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_table(claim_table(), tmp_path / "nope" / "out.csv", 2)


@pytest.mark.parametrize("suffix,target", [
    (".parquet", "_write_parquet"), (".xlsx", "_write_xlsx"), (".csv", "_write_csv"), (".json", "json_bytes"),
])
@pytest.mark.parametrize("existing", [False, True])
def test_failure_midway_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, target: str, existing: bool
) -> None:
    path = tmp_path / f"out{suffix}"
    if existing:
        path.write_bytes(b"old contents")
    real = getattr(export, target)

    def half_then_fail(*args, **kwargs):
        fh = next((a for a in args if hasattr(a, "write")), None)
        if fh is not None:
            fh.write(b"half a file")
        else:
            real(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, target, half_then_fail)
    with pytest.raises(RuntimeError):
        write_table(claim_table(), path, 2)
    if existing:
        assert path.read_bytes() == b"old contents"
        assert [p.name for p in tmp_path.iterdir()] == [path.name]
    else:
        assert list(tmp_path.iterdir()) == []


def test_failed_rename_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", no_rename)
    with pytest.raises(UsageError):
        write_table(claim_table(), tmp_path / "out.csv", 2)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old\n" * 10000)
    write_table(claim_table(), path, 2)
    assert pl.read_csv(path, infer_schema=False).height == claim_table().height
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# ---------------------------------------------------------------- coded text columns


def test_coded_text_columns_are_written_as_plain_text(tmp_path: Path) -> None:
    """The engine keeps kind, status and reason as codes (Enum/Categorical); files hold plain text."""
    from sob.rules import KIND, REASON, STATUS

    plain = claim_table()
    coded = plain.with_columns(pl.col("kind").cast(KIND), pl.col("status").cast(STATUS), pl.col("reason").cast(REASON),
                               pl.col("cohort").cast(pl.Categorical))
    for ext in (".csv", ".json", ".parquet"):
        a, b = tmp_path / f"plain{ext}", tmp_path / f"coded{ext}"
        write_table(plain, a, 2)
        write_table(coded, b, 2)
        if ext == ".parquet":
            back = pl.read_parquet(b)
            assert back.schema == pl.read_parquet(a).schema and back.equals(pl.read_parquet(a))
        else:
            assert a.read_bytes() == b.read_bytes(), ext
    assert "'-NEG" in (tmp_path / "coded.csv").read_text()  # still made formula-safe
