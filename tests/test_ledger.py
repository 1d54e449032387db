"""The ledger: closing quarters, reading back what was paid, and tamper detection."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tomllib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sob import export, ledger
from sob.findings import InputError, UsageError, errors_only
from sob.quarters import Quarter

PAYERS = ["KC", "CF"]
CONTRACT = "kirklees-bop"
HASHES = {
    "contract": hashlib.sha256(b"contract").hexdigest(),
    "claims": hashlib.sha256(b"claims").hexdigest(),
}
MONEY = ["price", "entitled", "previously_paid", "due", "due_KC", "due_CF"]


def table(rows: list[dict]) -> pl.DataFrame:
    """A claim table in the engine's column order from a few fields per row."""
    full = []
    for r in rows:
        full.append({
            "claim_id": r["id"],
            "kind": r.get("kind", "claim"),
            "participant_id": r.get("participant", "P1"),
            "cohort": r.get("cohort", "A"),
            "outcome_id": r.get("outcome", "ACC_ENTRY"),
            "achieved_on": r.get("achieved", date(2025, 4, 10)),
            "submitted_on": r.get("submitted", date(2025, 5, 1)),
            "status": r.get("status", "paid"),
            "reason": r.get("reason"),
            "price": r.get("price", 150000),
            "entitled": r["entitled"],
            "previously_paid": r.get("prev", 0),
            "due": r["due"],
            "due_KC": r["kc"],
            "due_CF": r["due"] - r["kc"],
            "note": r.get("note", "=not a formula here"),
        })
    return pl.DataFrame(full, schema_overrides=dict.fromkeys(MONEY, pl.Int64) | {
        "reason": pl.String, "achieved_on": pl.Date, "submitted_on": pl.Date,
    })


Q1_ROWS = [
    {"id": "-C1", "participant": "=P1", "entitled": 150000, "due": 150000, "kc": 105000},
    {"id": "C2", "participant": "P2", "entitled": 50001, "due": 50001, "kc": 35001},
    {"id": "C3", "participant": "P3", "entitled": 0, "due": 0, "kc": 0, "status": "rejected",
     "reason": "INELIGIBLE", "price": None},
]
Q2_ROWS = [
    # -C1 partly clawed back, with new metadata that must win as "latest row"
    {"id": "-C1", "participant": "P1-new", "outcome": "SUSTAIN_3M", "achieved": date(2025, 8, 1),
     "submitted": date(2025, 9, 1), "entitled": 100000, "prev": 150000, "due": -50000, "kc": -35000},
    {"id": "C4", "participant": "P4", "entitled": 7, "due": 7, "kc": 5},
]
Q3_ROWS = [{"id": "C5", "entitled": 1, "due": 1, "kc": 1}]


def close(root: Path, quarter: str, rows: list[dict]) -> Path:
    return ledger.close_quarter(root, CONTRACT, quarter, table(rows), 2, PAYERS, HASHES)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "ledger"
    d.mkdir()
    return d


@pytest.fixture
def two(root: Path) -> Path:
    close(root, "2025-Q1", Q1_ROWS)
    close(root, "2025-Q2", Q2_ROWS)
    return root


def cdir(root: Path) -> Path:
    return root / CONTRACT


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


# ---------------------------------------------------------------- closing and reading back


def test_close_writes_csv_and_chained_manifest(two: Path) -> None:
    d = cdir(two)
    # the lock file exists only while a close runs
    assert sorted(p.name for p in d.iterdir()) == ["2025-Q1.csv", "2025-Q1.toml", "2025-Q2.csv", "2025-Q2.toml"]
    m1 = tomllib.loads((d / "2025-Q1.toml").read_text())
    m2 = tomllib.loads((d / "2025-Q2.toml").read_text())
    assert m1["contract"] == CONTRACT and m1["quarter"] == "2025-Q1"
    assert m1["closed_at"].endswith("Z") and "sob_version" in m1
    assert m1["hashes"]["contract"] == HASHES["contract"] and m1["hashes"]["claims"] == HASHES["claims"]
    assert "participants" not in m1["hashes"]  # only files used
    assert m1["hashes"]["table"] == hashlib.sha256((d / "2025-Q1.csv").read_bytes()).hexdigest()
    assert m1["hashes"]["previous_manifest"] == ""
    assert m2["hashes"]["previous_manifest"] == hashlib.sha256((d / "2025-Q1.toml").read_bytes()).hexdigest()
    assert m1["totals"] == {"claims": 3, "entitled": "2000.01", "previously_paid": "0.00", "due": "2000.01",
                            "due_KC": "1400.01", "due_CF": "600.00"}
    assert m2["totals"]["due"] == "-499.93" and m2["totals"]["due_KC"] == "-349.95"
    assert ledger.closed_quarters(two, CONTRACT) == ["2025-Q1", "2025-Q2"]
    assert ledger.verify(two) == []


def test_ledger_csv_is_formula_safe_and_amounts_plain(two: Path) -> None:
    """SPEC 9's prefix in the ledger too: a spreadsheet opening Q.csv never runs a formula."""
    text = (cdir(two) / "2025-Q1.csv").read_text()
    assert "\n'-C1,claim,'=P1," in text and ",'=not a formula here\n" in text
    assert ",1500.00," in text and ",500.01," in text
    q2 = (cdir(two) / "2025-Q2.csv").read_text()
    assert ",-500.00,-350.00,-150.00," in q2  # negative amounts are numbers, never prefixed


def test_ledger_csv_reads_back_every_escaped_id_exactly(root: Path) -> None:
    """The escape is reversible: ids that start with a trigger or with an apostrophe come back unchanged."""
    ids = ["=SUM(A1)", "+1", "-2", "@x", "\tT", "'quoted", "''two", "plain", "a'b"]
    rows = [{"id": i, "participant": i, "entitled": 1, "due": 1, "kc": 1} for i in ids]
    close(root, "2025-Q1", rows)
    text = (cdir(root) / "2025-Q1.csv").read_text()
    assert "\n'=SUM(A1),claim,'=SUM(A1)," in text and "\n'''two," in text and "\na'b,claim,a'b," in text
    paid = ledger.previously_paid(root, CONTRACT, Quarter(2025, 2), PAYERS, 2)
    assert sorted(paid["claim_id"]) == sorted(ids)
    assert sorted(paid["participant_id"]) == sorted(ids)
    assert ledger.verify(root) == []


def test_previously_paid_sums_dues_per_claim_and_payer(two: Path) -> None:
    paid = ledger.previously_paid(two, CONTRACT, Quarter(2025, 3), PAYERS, 2)
    assert paid.columns == ["claim_id", "kind", "participant_id", "cohort", "outcome_id", "achieved_on",
                            "submitted_on", "note", "paid", "paid_KC", "paid_CF"]  # note: SPEC 10.6
    assert paid.schema["paid"] == pl.Int64 and paid.schema["achieved_on"] == pl.Date
    rows = {r["claim_id"]: r for r in paid.iter_rows(named=True)}
    assert sorted(rows) == ["-C1", "C2", "C3", "C4"]
    assert (rows["-C1"]["paid"], rows["-C1"]["paid_KC"], rows["-C1"]["paid_CF"]) == (100000, 70000, 30000)
    assert (rows["C2"]["paid"], rows["C2"]["paid_KC"], rows["C2"]["paid_CF"]) == (50001, 35001, 15000)
    assert rows["C3"]["paid"] == 0  # paid nothing, still listed
    assert (rows["C4"]["paid"], rows["C4"]["paid_KC"], rows["C4"]["paid_CF"]) == (7, 5, 2)
    # metadata from the latest closed row
    assert rows["-C1"]["participant_id"] == "P1-new" and rows["-C1"]["outcome_id"] == "SUSTAIN_3M"
    assert rows["-C1"]["achieved_on"] == date(2025, 8, 1) and rows["-C1"]["submitted_on"] == date(2025, 9, 1)
    assert rows["C2"]["participant_id"] == "P2"


def test_previously_paid_only_counts_quarters_strictly_before(two: Path) -> None:
    before_q2 = ledger.previously_paid(two, CONTRACT, "2025-Q2", PAYERS, 2)
    assert dict(zip(before_q2["claim_id"], before_q2["paid"], strict=True)) == {"-C1": 150000, "C2": 50001, "C3": 0}
    first = ledger.previously_paid(two, CONTRACT, "2025-Q1", PAYERS, 2)
    assert first.height == 0 and first.columns[-2:] == ["paid_KC", "paid_CF"]
    assert ledger.previously_paid(two, "other-contract", "2026-Q1", PAYERS, 2).height == 0


def test_minor_units_zero_round_trip(root: Path) -> None:
    ledger.close_quarter(root, CONTRACT, "2025-Q1", table(Q1_ROWS), 0, PAYERS, HASHES)
    paid = ledger.previously_paid(root, CONTRACT, "2025-Q2", PAYERS, 0)
    assert dict(zip(paid["claim_id"], paid["paid_KC"], strict=True)) == {"-C1": 105000, "C2": 35001, "C3": 0}
    assert ",150000," in (cdir(root) / "2025-Q1.csv").read_text()


def test_large_amounts_exact(root: Path) -> None:
    big = 9_007_199_254_740_993  # 2**53 + 1: a float would lose it
    close(root, "2025-Q1", [{"id": "B", "entitled": big, "due": big, "kc": big - 1}])
    paid = ledger.previously_paid(root, CONTRACT, "2025-Q2", PAYERS, 2)
    assert paid.row(0, named=True)["paid"] == big and paid.row(0, named=True)["paid_CF"] == 1


def test_payer_or_units_mismatch_refused(two: Path) -> None:
    with pytest.raises(InputError):
        ledger.previously_paid(two, CONTRACT, "2025-Q3", ["KC"], 2)
    with pytest.raises(InputError):
        ledger.previously_paid(two, CONTRACT, "2025-Q3", PAYERS, 3)


def test_missing_dir_is_usage_error(tmp_path: Path) -> None:
    gone = tmp_path / "nope"
    with pytest.raises(UsageError):
        ledger.verify(gone)
    with pytest.raises(UsageError):
        ledger.previously_paid(gone, CONTRACT, "2025-Q1", PAYERS, 2)
    with pytest.raises(UsageError):
        close(gone, "2025-Q1", Q1_ROWS)
    assert not gone.exists()


# ---------------------------------------------------------------- refusals


def test_reclose_refused_and_nothing_changes(two: Path) -> None:
    before = snapshot(two)
    with pytest.raises(InputError, match="already closed"):
        close(two, "2025-Q2", Q3_ROWS)
    with pytest.raises(InputError, match="already closed"):
        close(two, "2025-Q1", Q1_ROWS)
    assert snapshot(two) == before
    assert not (cdir(two) / ".lock").exists()


def test_earlier_quarter_refused(two: Path) -> None:
    before = snapshot(two)
    with pytest.raises(InputError, match="earlier than the latest"):
        close(two, "2024-Q4", Q3_ROWS)
    with pytest.raises(InputError):
        ledger.ensure_can_close(two, CONTRACT, "2025-Q1")
    assert snapshot(two) == before
    close(two, "2026-Q1", Q3_ROWS)  # a later quarter (with a gap) is fine
    assert ledger.closed_quarters(two, CONTRACT)[-1] == "2026-Q1"


def test_lock_held_refused(two: Path) -> None:
    fd = os.open(cdir(two) / ".lock", os.O_RDWR | os.O_CREAT)  # as a running close holds it
    before = snapshot(two)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another close is running"):
            close(two, "2025-Q3", Q3_ROWS)
    finally:
        os.close(fd)
    assert snapshot(two) == before
    close(two, "2025-Q3", Q3_ROWS)  # released: works
    assert ledger.closed_quarters(two, CONTRACT)[-1] == "2025-Q3"
    assert not (cdir(two) / ".lock").exists()


def test_lock_file_removed_by_a_finished_close_is_not_taken(two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A close that opened .lock just before another close removed it must not think it holds the lock."""
    real_flock = fcntl.flock
    calls = []

    def flock_after_removal(fd: int, op: int) -> None:
        calls.append(fd)
        if len(calls) == 1:  # the other close finishes and removes the file between our open and flock
            os.unlink(cdir(two) / ".lock")
        real_flock(fd, op)

    monkeypatch.setattr(ledger.fcntl, "flock", flock_after_removal)
    close(two, "2025-Q3", Q3_ROWS)
    assert len(calls) == 2  # the first lock was on a removed file: taken again on the new one
    assert not (cdir(two) / ".lock").exists()


def test_close_on_tampered_ledger_refused(two: Path) -> None:
    csv = cdir(two) / "2025-Q1.csv"
    csv.write_bytes(csv.read_bytes().replace(b"1500.00", b"1500.01"))
    before = snapshot(two)
    with pytest.raises(InputError) as info:
        close(two, "2025-Q3", Q3_ROWS)
    assert [f.code for f in info.value.findings] == ["LEDGER_CHANGED"]
    assert snapshot(two) == before


# ---------------------------------------------------------------- crash safety


def _fail_on_call(real, n: int):
    """A wrapper of ``real`` raising on its n-th call (1-based)."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt("crash")
        return real(*args, **kwargs)

    return wrapper


CRASHES = {
    "before csv": ("_write_table_file", 1, "old"),
    "csv rename": ("os.replace", 1, "old"),
    "between csv and manifest": ("_write_manifest_file", 1, "old"),
    "manifest rename": ("os.replace", 2, "old"),
    "after manifest, before dir fsync": ("_sync_dir", 1, "new"),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_crash_leaves_old_or_new_state(two: Path, monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    target, n, expect = CRASHES[crash]
    old_paid = ledger.previously_paid(two, CONTRACT, "2026-Q1", PAYERS, 2)
    old_files = snapshot(two)
    if target == "os.replace":
        monkeypatch.setattr(export.os, "replace", _fail_on_call(os.replace, n))
    else:
        monkeypatch.setattr(ledger, target, _fail_on_call(getattr(ledger, target), n))
    with pytest.raises(KeyboardInterrupt):
        close(two, "2025-Q3", Q3_ROWS)
    monkeypatch.undo()

    d = cdir(two)
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]  # no temp left behind
    assert errors_only(ledger.verify(two)) == []
    now_paid = ledger.previously_paid(two, CONTRACT, "2026-Q1", PAYERS, 2)
    if expect == "old":
        assert ledger.closed_quarters(two, CONTRACT) == ["2025-Q1", "2025-Q2"]
        assert now_paid.equals(old_paid)
        assert {k: v for k, v in snapshot(two).items() if k != f"{CONTRACT}/2025-Q3.csv"} == old_files
        close(two, "2025-Q3", Q3_ROWS)  # the close can simply be run again
    else:
        assert ledger.closed_quarters(two, CONTRACT) == ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert ledger.verify(two) == []
    final = ledger.previously_paid(two, CONTRACT, "2026-Q1", PAYERS, 2)
    assert dict(zip(final["claim_id"], final["paid"], strict=True))["C5"] == 1


def test_incomplete_close_reported_and_overwritten(two: Path) -> None:
    orphan = cdir(two) / "2025-Q3.csv"
    orphan.write_text("half written")
    findings = ledger.verify(two)
    assert [(f.code, f.severity, f.file) for f in findings] == [("LEDGER_INCOMPLETE", "warning", str(orphan))]
    assert "incomplete close (no manifest)" in findings[0].message
    assert ledger.closed_quarters(two, CONTRACT) == ["2025-Q1", "2025-Q2"]
    close(two, "2025-Q3", Q3_ROWS)
    assert ledger.verify(two) == []
    assert orphan.read_text() != "half written"


# ---------------------------------------------------------------- verify


def test_one_changed_byte_detected(two: Path) -> None:
    csv = cdir(two) / "2025-Q1.csv"
    data = bytearray(csv.read_bytes())
    data[data.index(b"500.01") + 5] ^= 0x01  # 500.01 -> 500.00
    csv.write_bytes(bytes(data))
    findings = ledger.verify(two)
    assert [(f.code, f.file) for f in findings] == [("LEDGER_CHANGED", str(csv))]
    with pytest.raises(InputError, match="changed since it was closed"):
        ledger.previously_paid(two, CONTRACT, "2025-Q3", PAYERS, 2)


def test_deleted_csv_detected(two: Path) -> None:
    csv = cdir(two) / "2025-Q2.csv"
    csv.unlink()
    assert [(f.code, f.file) for f in ledger.verify(two)] == [("LEDGER_REMOVED", str(csv))]


def test_deleted_manifest_detected(two: Path) -> None:
    (cdir(two) / "2025-Q1.toml").unlink()
    assert codes(ledger.verify(two)) == ["LEDGER_REMOVED"]
    assert ledger.verify(two)[0].file == str(cdir(two) / "2025-Q1.toml")


def test_deleted_quarter_detected(two: Path) -> None:
    (cdir(two) / "2025-Q1.toml").unlink()
    (cdir(two) / "2025-Q1.csv").unlink()
    findings = ledger.verify(two)
    assert [(f.code, f.file) for f in findings] == [("LEDGER_CHAIN_BROKEN", str(cdir(two) / "2025-Q2.toml"))]


def test_extra_files_detected(two: Path) -> None:
    (cdir(two) / "notes.txt").write_text("hi")
    (two / "stray.csv").write_text("x")
    findings = ledger.verify(two)
    assert [(f.code, Path(f.file).name) for f in findings] == [("LEDGER_ADDED", "notes.txt"), ("LEDGER_ADDED", "stray.csv")]


def test_reordered_detected(two: Path) -> None:
    d = cdir(two)
    for ext in ("csv", "toml"):
        (d / f"2025-Q1.{ext}").rename(d / f"tmp.{ext}")
        (d / f"2025-Q2.{ext}").rename(d / f"2025-Q1.{ext}")
        (d / f"tmp.{ext}").rename(d / f"2025-Q2.{ext}")
    found = codes(ledger.verify(two))
    assert found and set(found) == {"LEDGER_REORDERED"}
    assert "LEDGER_REORDERED" in found


def test_manifest_edit_breaks_chain(two: Path) -> None:
    m1 = cdir(two) / "2025-Q1.toml"
    m1.write_text(m1.read_text().replace('due = "2000.01"', 'due = "2000.00"'))
    findings = ledger.verify(two)
    assert [(f.code, f.file) for f in findings] == [
        ("LEDGER_CHANGED", str(m1)),  # its totals no longer match its CSV
        ("LEDGER_CHAIN_BROKEN", str(cdir(two) / "2025-Q2.toml")),
    ]


def test_bad_manifest_detected(two: Path) -> None:
    m2 = cdir(two) / "2025-Q2.toml"
    m2.write_text("this is = = not toml")
    assert [(f.code, f.file) for f in ledger.verify(two)] == [("LEDGER_BAD_MANIFEST", str(m2))]
    with pytest.raises(InputError):
        ledger.show(two)


def test_manifest_of_other_contract_detected(two: Path) -> None:
    other = two / "other"
    other.mkdir()
    for p in cdir(two).glob("2025-Q1.*"):
        (other / p.name).write_bytes(p.read_bytes())
    assert codes(ledger.verify(two)) == ["LEDGER_REORDERED"]


def test_leftover_temp_is_a_warning(two: Path) -> None:
    (cdir(two) / ".2025-Q3.csv.0123abcd.tmp").write_text("x")
    findings = ledger.verify(two)
    assert [(f.code, f.severity) for f in findings] == [("LEDGER_INCOMPLETE", "warning")]


# ---------------------------------------------------------------- show


def test_show_cumulative(two: Path) -> None:
    rows = ledger.show(two)
    assert [(r["contract"], r["quarter"], r["claims"], r["due"], r["paid_to_date"]) for r in rows] == [
        (CONTRACT, "2025-Q1", 3, "2000.01", "2000.01"),
        (CONTRACT, "2025-Q2", 2, "-499.93", "1500.08"),
    ]
    assert rows[1]["due_by_payer"] == {"KC": "-349.95", "CF": "-149.98"}
    assert rows[1]["paid_to_date_by_payer"] == {"KC": "1050.06", "CF": "450.02"}
