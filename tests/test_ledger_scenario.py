"""A multi-quarter close through the real command line (SPEC 5, 6 and 7).

One small contract is paid over four calendar quarters of 2021 with a ledger,
while the provider's claims file changes under it: a paid claim is withdrawn,
paid rows are deleted, and a late claim arrives.  Every figure below is
worked out by hand from the contract; none is read back from ``sob``.

Contract ``scn-ledger`` (GBP, 2 minor digits, calendar quarters):

* payers LA 0.7 and CF 0.3 (listed in that order: ties go to LA);
* ENTRY 333.33; SUSTAIN 1000.01, needs an ENTRY achieved >= 30 days before;
* a per-participant cap of 1200.00 (partial = true, the default).

Splits by largest remainder (SPEC 5.6), in pence:

* 333.33 -> LA 33333 x 0.7 = 23333.1, CF 33333 x 0.3 = 9999.9; floors sum to
  33332, the penny left goes to the larger remainder (CF .9):
  LA 233.33, CF 100.00.
* 866.67 (SUSTAIN cut by the participant cap: 1200.00 - 333.33) ->
  LA 60666.9, CF 26000.1; the penny goes to LA (.9): LA 606.67, CF 260.00.

Claims (achieved, submitted):

    C01 P1 ENTRY   01-10 01-20   paid 333.33
    C02 P1 SUSTAIN 03-01 03-05   C01 + 30 days = 02-09 <= 03-01: partial 866.67 (PARTICIPANT_CAP)
    C03 P2 ENTRY   02-01 02-10   paid 333.33              -> withdrawn before the Q3 close
    C04 P3 ENTRY   02-15 03-10   paid 333.33              -> deleted before the Q3 close
    C05 P2 SUSTAIN 02-20 02-25   C03 + 30 = 03-03 > 02-20: PREREQUISITE_MISSING -> deleted too
    C06 P2 SUSTAIN 04-15 05-01   (Q2) partial 866.67; in Q3 C03 is withdrawn: PREREQUISITE_MISSING
    C07 P4 ENTRY   05-10 06-01   (Q2) paid 333.33
    C08 P5 ENTRY   03-15 08-01   late claim: achieved in Q1, submitted in Q3, paid in Q3
    C09 P4 SUSTAIN 09-01 10-05   (Q4) C07 + 30 = 06-09 <= 09-01: partial 866.67

Processing order is (submitted_on, achieved_on, id), so rows are listed in
submission order; rows missing from the evidence come last, by claim_id.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sob import ledger as sob_ledger
from sob.cli import app

CONTRACT_ID = "scn-ledger"
PAYERS = ("LA", "CF")

CONTRACT_TOML = """\
schema = "sob/1"

[contract]
id = "scn-ledger"
name = "Ledger scenario"
currency = "GBP"
start = 2021-01-01
outcomes_end = 2022-12-31

[[payers]]
id = "LA"
name = "Local authority"
share = 0.7

[[payers]]
id = "CF"
name = "Central fund"
share = 0.3

[caps]
per_participant = 1200.00

[evidence]
claims = "evidence/claims.csv"
participants = "evidence/participants.csv"

[[outcomes]]
id = "ENTRY"
name = "Entry into settled accommodation"
price = 333.33

[[outcomes]]
id = "SUSTAIN"
name = "Accommodation sustained"
price = 1000.01
requires = [{ outcome = "ENTRY", min_days = 30 }]
"""

PARTICIPANTS_CSV = """\
participant_id,enrolled_on,cohort
P1,2021-01-05,A
P2,2021-01-05,A
P3,2021-01-05,B
P4,2021-01-05,B
P5,2021-01-05,A
"""

HEADER = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref\n"

# What the provider has sent by the end of each quarter.
CLAIMS_Q1 = HEADER + """\
C01,P1,ENTRY,2021-01-10,2021-01-20,claimed,tenancy 1
C02,P1,SUSTAIN,2021-03-01,2021-03-05,claimed,rent ledger
C03,P2,ENTRY,2021-02-01,2021-02-10,claimed,tenancy 2
C04,P3,ENTRY,2021-02-15,2021-03-10,claimed,tenancy 3
C05,P2,SUSTAIN,2021-02-20,2021-02-25,claimed,too early
"""
CLAIMS_Q2 = CLAIMS_Q1 + """\
C06,P2,SUSTAIN,2021-04-15,2021-05-01,claimed,rent ledger
C07,P4,ENTRY,2021-05-10,2021-06-01,claimed,tenancy 4
"""
# Q3: C03 withdrawn (mixed case: status is case-insensitive), C04 and C05
# deleted, C08 a late claim for Q1, C09 already in the file but submitted in
# Q4 (out of scope for Q3).  Rows deliberately out of processing order.
CLAIMS_Q3 = HEADER + """\
C09,P4,SUSTAIN,2021-09-01,2021-10-05,claimed,rent ledger
C08,P5,ENTRY,2021-03-15,2021-08-01,claimed,late tenancy
C07,P4,ENTRY,2021-05-10,2021-06-01,claimed,tenancy 4
C06,P2,SUSTAIN,2021-04-15,2021-05-01,claimed,rent ledger
C03,P2,ENTRY,2021-02-01,2021-02-10,Withdrawn,tenancy 2
C02,P1,SUSTAIN,2021-03-01,2021-03-05,claimed,rent ledger
C01,P1,ENTRY,2021-01-10,2021-01-20,claimed,tenancy 1
"""
# Rows no quarter may be closed with: an achieved_on that is not a date (in
# scope for every quarter), and an unknown outcome submitted in 2022 (out of
# the scope of 2021-Q4, and still a data error of the files).
BAD_ROWS = {
    "BAD_DATE": "C10,P5,SUSTAIN,2021-13-01,2021-11-01,claimed,bad date\n",
    "UNKNOWN_OUTCOME": "C11,P5,SUSTAIN_6M,2022-01-02,2022-01-05,claimed,not in the rate card\n",
}

# Expected ledger rows, in file order:
# claim_id, status, reason, entitled, previously_paid, due, due_LA, due_CF
Q1_ROWS = [
    ("C01", "paid", "", "333.33", "0.00", "333.33", "233.33", "100.00"),
    ("C03", "paid", "", "333.33", "0.00", "333.33", "233.33", "100.00"),
    ("C05", "rejected", "PREREQUISITE_MISSING", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ("C02", "partial", "PARTICIPANT_CAP", "866.67", "0.00", "866.67", "606.67", "260.00"),
    ("C04", "paid", "", "333.33", "0.00", "333.33", "233.33", "100.00"),
]
# Q1 due: 3 x 333.33 + 866.67 = 1866.66; LA 3 x 233.33 + 606.67 = 1306.66; CF 3 x 100 + 260 = 560.00.
Q2_ROWS = [
    ("C01", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    ("C03", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    ("C05", "rejected", "PREREQUISITE_MISSING", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ("C02", "partial", "PARTICIPANT_CAP", "866.67", "866.67", "0.00", "0.00", "0.00"),
    ("C04", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    # P2 already has C03's 333.33, so the cap leaves 866.67 for C06.
    ("C06", "partial", "PARTICIPANT_CAP", "866.67", "0.00", "866.67", "606.67", "260.00"),
    ("C07", "paid", "", "333.33", "0.00", "333.33", "233.33", "100.00"),
]
# Q2 due: 866.67 + 333.33 = 1200.00; LA 606.67 + 233.33 = 840.00; CF 260 + 100 = 360.00.
Q3_ROWS = [
    ("C01", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    # withdrawn: clawback of exactly what was paid, per payer too
    ("C03", "rejected", "WITHDRAWN", "0.00", "333.33", "-333.33", "-233.33", "-100.00"),
    ("C02", "partial", "PARTICIPANT_CAP", "866.67", "866.67", "0.00", "0.00", "0.00"),
    # its prerequisite C03 is gone, so C06's payment is clawed back as well
    ("C06", "rejected", "PREREQUISITE_MISSING", "0.00", "866.67", "-866.67", "-606.67", "-260.00"),
    ("C07", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    ("C08", "paid", "", "333.33", "0.00", "333.33", "233.33", "100.00"),
    # deleted rows, after the in-scope rows, by claim_id (C04 before C05 although
    # C05 was submitted first); C05 was paid nothing and still keeps its line
    ("C04", "rejected", "MISSING_FROM_EVIDENCE", "0.00", "333.33", "-333.33", "-233.33", "-100.00"),
    ("C05", "rejected", "MISSING_FROM_EVIDENCE", "0.00", "0.00", "0.00", "0.00", "0.00"),
]
# Q3 due: -333.33 - 866.67 + 333.33 - 333.33 = -1200.00;
# LA -233.33 - 606.67 + 233.33 - 233.33 = -840.00; CF -100 - 260 + 100 - 100 = -360.00.
Q4_ROWS = [
    ("C01", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    ("C03", "rejected", "WITHDRAWN", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ("C02", "partial", "PARTICIPANT_CAP", "866.67", "866.67", "0.00", "0.00", "0.00"),
    ("C06", "rejected", "PREREQUISITE_MISSING", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ("C07", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    ("C08", "paid", "", "333.33", "333.33", "0.00", "0.00", "0.00"),
    # P4 has C07's 333.33: the cap leaves 866.67
    ("C09", "partial", "PARTICIPANT_CAP", "866.67", "0.00", "866.67", "606.67", "260.00"),
    # still missing, paid 333.33 - 333.33 = 0 net: the line stays
    ("C04", "rejected", "MISSING_FROM_EVIDENCE", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ("C05", "rejected", "MISSING_FROM_EVIDENCE", "0.00", "0.00", "0.00", "0.00", "0.00"),
]
EXPECTED_ROWS = {"2021-Q1": Q1_ROWS, "2021-Q2": Q2_ROWS, "2021-Q3": Q3_ROWS, "2021-Q4": Q4_ROWS}

# JSON totals and by_payer: (entitled, previously_paid, due) overall, for LA, for CF.
EXPECTED_TOTALS = {
    "2021-Q1": {"": ("1866.66", "0.00", "1866.66"), "LA": ("1306.66", "0.00", "1306.66"),
                "CF": ("560.00", "0.00", "560.00")},
    # entitled to date 1866.66 + 1200.00 = 3066.66; LA 2146.66; CF 920.00
    "2021-Q2": {"": ("3066.66", "1866.66", "1200.00"), "LA": ("2146.66", "1306.66", "840.00"),
                "CF": ("920.00", "560.00", "360.00")},
    # entitled now: C01 + C02 + C07 + C08 = 333.33 + 866.67 + 333.33 + 333.33 = 1866.66
    "2021-Q3": {"": ("1866.66", "3066.66", "-1200.00"), "LA": ("1306.66", "2146.66", "-840.00"),
                "CF": ("560.00", "920.00", "-360.00")},
    "2021-Q4": {"": ("2733.33", "1866.66", "866.67"), "LA": ("1913.33", "1306.66", "606.67"),
                "CF": ("820.00", "560.00", "260.00")},
}
EXPECTED_COUNTS = {  # claims, paid, partial, capped, rejected; rejections by reason
    "2021-Q1": ((5, 3, 1, 0, 1), {"PREREQUISITE_MISSING": 1}),
    "2021-Q2": ((7, 4, 2, 0, 1), {"PREREQUISITE_MISSING": 1}),
    "2021-Q3": ((8, 3, 1, 0, 4), {"WITHDRAWN": 1, "PREREQUISITE_MISSING": 1, "MISSING_FROM_EVIDENCE": 2}),
    "2021-Q4": ((9, 3, 2, 0, 4), {"WITHDRAWN": 1, "PREREQUISITE_MISSING": 1, "MISSING_FROM_EVIDENCE": 2}),
}
# Cumulative paid (sum of due) after each close: overall, LA, CF.
PAID_TO_DATE = {
    "2021-Q1": ("1866.66", "1306.66", "560.00"),
    "2021-Q2": ("3066.66", "2146.66", "920.00"),  # + 1200.00 / 840.00 / 360.00
    "2021-Q3": ("1866.66", "1306.66", "560.00"),  # - 1200.00 / 840.00 / 360.00
}

COLUMNS = ("claim_id", "status", "reason", "entitled", "previously_paid", "due", "due_LA", "due_CF")


# --------------------------------------------------------------------------
# helpers


def sob(*args: object) -> Result:
    """Run the real command line in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones included), by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def project(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [tuple(r[c] for c in COLUMNS) for r in rows]


def dec(text: str) -> Decimal:
    """An amount as printed for people (``-£1,073.33``) or machines (``-1073.33``)."""
    return Decimal(text.replace(",", "").replace("£", ""))


@dataclass
class Scenario:
    """A contract folder, its evidence and its ledger, as the closes left them."""

    root: Path
    json: dict[str, dict] = field(default_factory=dict)  # quarter -> JSON of the close
    evidence_sha: dict[str, dict[str, str]] = field(default_factory=dict)  # quarter -> file hashes
    preview_q3_table: str = ""  # `sob pay --quarter 2021-Q3 --ledger L` before the close
    preview_q3_json: dict = field(default_factory=dict)
    export_q3: Path | None = None

    @property
    def contract(self) -> Path:
        return self.root / "contract.toml"

    @property
    def claims(self) -> Path:
        return self.root / "evidence" / "claims.csv"

    @property
    def ledger(self) -> Path:
        return self.root / "L"

    @property
    def cdir(self) -> Path:
        return self.ledger / CONTRACT_ID

    def write_claims(self, text: str) -> None:
        self.claims.write_text(text, encoding="utf-8")

    def pay(self, quarter: str, *extra: object) -> Result:
        return sob("pay", self.contract, "--quarter", quarter, "--ledger", self.ledger, *extra)

    def close(self, quarter: str, *extra: object) -> dict:
        result = self.pay(quarter, "--close", "--format", "json", *extra)
        assert result.exit_code == 0, f"close {quarter}: {result.stderr}"
        assert f"closed {quarter}" in result.stderr
        self.evidence_sha[quarter] = {
            "contract": hashlib.sha256(self.contract.read_bytes()).hexdigest(),
            "claims": hashlib.sha256(self.claims.read_bytes()).hexdigest(),
            "participants": hashlib.sha256((self.root / "evidence" / "participants.csv").read_bytes()).hexdigest(),
        }
        self.json[quarter] = json.loads(result.stdout)
        return self.json[quarter]

    def copy(self, dest: Path) -> Scenario:
        shutil.copytree(self.root, dest)
        return Scenario(dest, dict(self.json), dict(self.evidence_sha))


def new_scenario(root: Path) -> Scenario:
    (root / "evidence").mkdir(parents=True)
    (root / "L").mkdir()
    (root / "contract.toml").write_text(CONTRACT_TOML, encoding="utf-8")
    (root / "evidence" / "participants.csv").write_text(PARTICIPANTS_CSV, encoding="utf-8")
    return Scenario(root)


def run_to_q3(root: Path) -> Scenario:
    """Close 2021-Q1, Q2 and Q3 with the claims file as it stood each time."""
    s = new_scenario(root)
    s.write_claims(CLAIMS_Q1)
    s.close("2021-Q1")
    s.write_claims(CLAIMS_Q2)
    s.close("2021-Q2")
    s.write_claims(CLAIMS_Q3)
    preview = s.pay("2021-Q3")
    assert preview.exit_code == 0, preview.stderr
    s.preview_q3_table = preview.stdout
    preview_json = s.pay("2021-Q3", "--format", "json")
    assert preview_json.exit_code == 0, preview_json.stderr
    s.preview_q3_json = json.loads(preview_json.stdout)
    assert not (s.cdir / "2021-Q3.csv").exists(), "a run without --close wrote the ledger"
    s.export_q3 = root / "q3-export.csv"
    s.close("2021-Q3", "--export", s.export_q3)
    return s


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario closed up to 2021-Q3 (shared: tests that change it work on a copy)."""
    return run_to_q3(tmp_path_factory.mktemp("scenario") / "work")


@pytest.fixture
def scenario(closed: Scenario, tmp_path: Path) -> Scenario:
    """A private copy of the closed scenario, free to tamper with."""
    return closed.copy(tmp_path / "work")


# --------------------------------------------------------------------------
# 1-2. the closes: every due per claim and per payer


@pytest.mark.parametrize("quarter", ["2021-Q1", "2021-Q2", "2021-Q3"])
def test_ledger_rows_per_claim(closed: Scenario, quarter: str) -> None:
    rows = read_rows(closed.cdir / f"{quarter}.csv")
    assert project(rows) == EXPECTED_ROWS[quarter]


@pytest.mark.parametrize("quarter", ["2021-Q1", "2021-Q2", "2021-Q3"])
def test_json_totals_and_payers(closed: Scenario, quarter: str) -> None:
    data = closed.json[quarter]
    want = EXPECTED_TOTALS[quarter]
    t = data["totals"]
    assert (t["entitled"], t["previously_paid"], t["due"]) == want[""]
    assert [(p["payer_id"], p["entitled"], p["previously_paid"], p["due"]) for p in data["by_payer"]] == [
        (pid, *want[pid]) for pid in PAYERS
    ]
    counts, rejections = EXPECTED_COUNTS[quarter]
    assert (t["claims"], t["paid"], t["partial"], t["capped"], t["rejected"]) == counts
    assert data["rejections"] == rejections
    assert data["caps"] == {}  # no total cap in this contract


@pytest.mark.parametrize("quarter", ["2021-Q1", "2021-Q2", "2021-Q3"])
def test_every_column_adds_up(closed: Scenario, quarter: str) -> None:
    """Per row: due = entitled - previously_paid = sum of due_<payer>; per quarter: the JSON sums exactly."""
    rows = read_rows(closed.cdir / f"{quarter}.csv")
    for r in rows:
        assert dec(r["due"]) == dec(r["entitled"]) - dec(r["previously_paid"]), r["claim_id"]
        assert dec(r["due"]) == sum(dec(r[f"due_{p}"]) for p in PAYERS), r["claim_id"]
    data = closed.json[quarter]
    t = data["totals"]
    for key in ("entitled", "previously_paid", "due"):
        assert sum(dec(p[key]) for p in data["by_payer"]) == dec(t[key]), key
        assert sum(dec(r[key]) for r in rows) == dec(t[key]), key
    for p in data["by_payer"]:
        assert dec(p["due"]) == dec(p["entitled"]) - dec(p["previously_paid"])
        assert sum(dec(r[f"due_{p['payer_id']}"]) for r in rows) == dec(p["due"])
    for key in ("entitled", "due"):
        assert sum(dec(o[key]) for o in data["by_outcome"]) == dec(t[key]), key
    assert sum(o["claims"] for o in data["by_outcome"]) == t["claims"] == len(rows)
    assert t["paid"] + t["partial"] + t["capped"] + t["rejected"] == t["claims"]
    assert sum(data["rejections"].values()) == t["rejected"]


def test_previously_paid_is_the_sum_of_earlier_dues(closed: Scenario) -> None:
    """With a ledger, previously paid per payer = sum of that payer's due in earlier closes."""
    order = ["2021-Q1", "2021-Q2", "2021-Q3"]
    for i, quarter in enumerate(order):
        for n, pid in enumerate(PAYERS):
            earlier = sum(dec(closed.json[q]["by_payer"][n]["due"]) for q in order[:i])
            assert dec(closed.json[quarter]["by_payer"][n]["previously_paid"]) == earlier, (quarter, pid)


def test_withdrawn_claim_is_clawed_back_per_payer(closed: Scenario) -> None:
    q1 = {r["claim_id"]: r for r in read_rows(closed.cdir / "2021-Q1.csv")}
    q3 = {r["claim_id"]: r for r in read_rows(closed.cdir / "2021-Q3.csv")}
    paid, back = q1["C03"], q3["C03"]
    assert (back["status"], back["reason"], back["entitled"]) == ("rejected", "WITHDRAWN", "0.00")
    assert dec(back["due"]) == -dec(paid["due"]) == Decimal("-333.33")
    for p in PAYERS:
        assert dec(back[f"due_{p}"]) == -dec(paid[f"due_{p}"])
    assert (back["due_LA"], back["due_CF"]) == ("-233.33", "-100.00")


def test_deleted_rows_keep_a_line_from_their_latest_closed_row(closed: Scenario) -> None:
    rows = read_rows(closed.cdir / "2021-Q3.csv")
    assert [r["claim_id"] for r in rows[-2:]] == ["C04", "C05"]
    assert all(r["reason"] != "MISSING_FROM_EVIDENCE" for r in rows[:-2])
    c04, c05 = rows[-2:]
    assert {k: c04[k] for k in ("kind", "participant_id", "cohort", "outcome_id", "achieved_on", "submitted_on")} == {
        "kind": "claim", "participant_id": "P3", "cohort": "B", "outcome_id": "ENTRY",
        "achieved_on": "2021-02-15", "submitted_on": "2021-03-10",
    }
    assert (c04["status"], c04["entitled"], c04["price"]) == ("rejected", "0.00", "")
    assert (c05["participant_id"], c05["outcome_id"], c05["achieved_on"]) == ("P2", "SUSTAIN", "2021-02-20")
    # the JSON counts them under their outcome
    by_outcome = {o["outcome_id"]: o for o in closed.json["2021-Q3"]["by_outcome"]}
    assert (by_outcome["ENTRY"]["claims"], by_outcome["ENTRY"]["due"]) == (5, "-333.33")
    assert (by_outcome["SUSTAIN"]["claims"], by_outcome["SUSTAIN"]["due"]) == (3, "-866.67")


def test_late_claim_paid_and_future_claim_out_of_scope(closed: Scenario) -> None:
    q3 = {r["claim_id"]: r for r in read_rows(closed.cdir / "2021-Q3.csv")}
    assert (q3["C08"]["status"], q3["C08"]["due"], q3["C08"]["achieved_on"]) == ("paid", "333.33", "2021-03-15")
    assert "C09" not in q3  # submitted 2021-10-05, after the end of Q3
    for quarter in ("2021-Q1", "2021-Q2"):
        assert "C08" not in {r["claim_id"] for r in read_rows(closed.cdir / f"{quarter}.csv")}


def test_preview_equals_close_and_export_equals_ledger(closed: Scenario) -> None:
    """A run without --close shows what the close then records; --export holds the same rows."""
    assert closed.preview_q3_json == closed.json["2021-Q3"]
    assert closed.export_q3 is not None
    exported = read_rows(closed.export_q3)
    recorded = read_rows(closed.cdir / "2021-Q3.csv")
    assert exported == recorded


def test_manifests_record_hashes_totals_and_chain(closed: Scenario) -> None:
    previous = ""
    for quarter in ("2021-Q1", "2021-Q2", "2021-Q3"):
        raw = (closed.cdir / f"{quarter}.toml").read_bytes()
        m = tomllib.loads(raw.decode())
        assert (m["contract"], m["quarter"]) == (CONTRACT_ID, quarter)
        assert m["hashes"]["table"] == hashlib.sha256((closed.cdir / f"{quarter}.csv").read_bytes()).hexdigest()
        assert m["hashes"]["previous_manifest"] == previous
        for kind, digest in closed.evidence_sha[quarter].items():
            assert m["hashes"][kind] == digest, (quarter, kind)
        t = closed.json[quarter]["totals"]
        assert (m["totals"]["entitled"], m["totals"]["previously_paid"], m["totals"]["due"]) == (
            t["entitled"], t["previously_paid"], t["due"])
        assert [m["totals"][f"due_{p}"] for p in PAYERS] == [p["due"] for p in closed.json[quarter]["by_payer"]]
        previous = hashlib.sha256(raw).hexdigest()
    # the claims file changed between closes; the contract did not
    assert len({closed.evidence_sha[q]["claims"] for q in closed.evidence_sha}) == 3
    assert len({closed.evidence_sha[q]["contract"] for q in closed.evidence_sha}) == 1


def _show_rows(ledger: Path) -> dict[str, list[str]]:
    """``sob ledger show --format json`` as the cells of the old one-table layout:
    quarter, closed at, claims, entitled, due, due LA, due CF, paid to date, paid to date LA, CF."""
    result = sob("ledger", "show", ledger, "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {}
    for q in json.loads(result.stdout):
        rows[q["quarter"]] = [
            q["quarter"], q["closed_at"], str(q["claims"]), q["entitled"], q["due"],
            *q["due_by_payer"].values(), q["paid_to_date"], *q["paid_to_date_by_payer"].values(),
        ]
    return rows


def test_ledger_show_table_names_every_quarter_and_paid_to_date(closed: Scenario) -> None:
    result = sob("ledger", "show", closed.ledger)
    assert result.exit_code == 0, result.stderr
    for quarter, amounts in PAID_TO_DATE.items():
        assert quarter in result.stdout
        for amount in amounts:
            assert f"{Decimal(amount):,}" in result.stdout  # thousands grouped for people


def test_paid_to_date_in_ledger_show_is_the_sum_of_dues(closed: Scenario) -> None:
    rows = _show_rows(closed.ledger)
    assert list(rows) == ["2021-Q1", "2021-Q2", "2021-Q3"]
    running = [Decimal(0)] * 3
    for quarter, cells in rows.items():
        # quarter, closed at, claims, entitled, due, due LA, due CF, paid to date, paid to date LA, CF
        data = closed.json[quarter]
        dues = [dec(data["totals"]["due"])] + [dec(p["due"]) for p in data["by_payer"]]
        running = [a + b for a, b in zip(running, dues)]
        assert [dec(c) for c in cells[4:7]] == dues
        assert [dec(c) for c in cells[7:10]] == running == [dec(v) for v in PAID_TO_DATE[quarter]]
    # paid to date after Q3 equals what the evidence entitles now: nothing paid twice
    assert running == [dec(closed.json["2021-Q3"]["totals"]["entitled"])] + [
        dec(p["entitled"]) for p in closed.json["2021-Q3"]["by_payer"]
    ]


def test_ledger_intact_after_the_closes(closed: Scenario) -> None:
    result = sob("ledger", "verify", closed.ledger)
    assert result.exit_code == 0, result.stderr
    assert "intact" in result.stdout and "NOT" not in result.stdout
    assert "warning" not in result.stderr


def test_next_quarter_keeps_missing_rows_and_pays_new_claim(scenario: Scenario) -> None:
    data = scenario.close("2021-Q4")
    assert project(read_rows(scenario.cdir / "2021-Q4.csv")) == Q4_ROWS
    want = EXPECTED_TOTALS["2021-Q4"]
    assert (data["totals"]["entitled"], data["totals"]["previously_paid"], data["totals"]["due"]) == want[""]
    assert [(p["entitled"], p["previously_paid"], p["due"]) for p in data["by_payer"]] == [want[p] for p in PAYERS]
    counts, rejections = EXPECTED_COUNTS["2021-Q4"]
    t = data["totals"]
    assert (t["claims"], t["paid"], t["partial"], t["capped"], t["rejected"]) == counts
    assert data["rejections"] == rejections
    assert sob("ledger", "verify", scenario.ledger).exit_code == 0


# --------------------------------------------------------------------------
# 3. refused closes change nothing


@pytest.mark.parametrize(
    ("quarter", "why"),
    [("2021-Q3", "already closed"), ("2021-Q2", "already closed"), ("2021-Q1", "already closed")],
)
def test_refused_close_writes_nothing(scenario: Scenario, quarter: str, why: str) -> None:
    export = scenario.root / "refused.csv"
    before = snapshot(scenario.root)
    result = scenario.pay(quarter, "--close", "--format", "json", "--export", export)
    assert result.exit_code == 1, result.stderr
    assert why in result.stderr
    assert result.stdout == ""  # no JSON for a close that did not happen
    assert not export.exists()
    assert snapshot(scenario.root) == before


def test_close_earlier_than_the_latest_is_refused(tmp_path: Path) -> None:
    """Q2 was skipped (Q1 then Q3 closed): Q2 is not closed, but earlier than Q3, so refused."""
    s = new_scenario(tmp_path / "work")
    s.write_claims(CLAIMS_Q1)
    s.close("2021-Q1")
    s.write_claims(CLAIMS_Q2)
    s.close("2021-Q3", "--allow-gap")  # SPEC 10.4; Q2's claims are paid in Q3: 866.67 + 333.33
    assert s.json["2021-Q3"]["totals"]["due"] == "1200.00"
    export = s.root / "q2.csv"
    before = snapshot(s.root)
    result = s.pay("2021-Q2", "--close", "--format", "json", "--export", export)
    assert result.exit_code == 1, result.stderr
    assert "earlier than the latest closed quarter 2021-Q3" in result.stderr
    assert result.stdout == "" and not export.exists()
    assert snapshot(s.root) == before


def test_close_before_the_contract_starts_is_a_usage_error(scenario: Scenario) -> None:
    """2020-Q4 ends before the contract starts: a command-line error (exit 2), nothing written."""
    before = snapshot(scenario.ledger)
    result = scenario.pay("2020-Q4", "--close")
    assert result.exit_code == 2
    assert snapshot(scenario.ledger) == before


def test_close_refused_while_another_close_holds_the_lock(scenario: Scenario) -> None:
    export = scenario.root / "locked.csv"
    fd = os.open(scenario.cdir / sob_ledger.LOCK_NAME, os.O_RDWR | os.O_CREAT)  # as a running close holds it
    before = snapshot(scenario.root)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = scenario.pay("2021-Q4", "--close", "--export", export)
    finally:
        os.close(fd)
    assert result.exit_code == 1, result.stderr
    assert "another close is running" in result.stderr
    assert not export.exists()
    assert snapshot(scenario.root) == before
    # once the lock is free, the close goes through
    assert scenario.close("2021-Q4")["totals"]["due"] == "866.67"


def test_close_computed_before_another_close_committed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two closes race: Q4 is computed from Q1..Q2, then Q3 commits before Q4 takes the lock.

    Q4's table was computed against the old ledger (it would pay Q3's dues
    again: due -333.33 = 2733.33 - 3066.66, where 866.67 is right after Q3's
    -1200.00), so committing it must be refused, changing nothing.
    """
    from sob import workflows

    s = new_scenario(tmp_path / "work")
    s.write_claims(CLAIMS_Q1)
    s.close("2021-Q1")
    s.write_claims(CLAIMS_Q2)
    s.close("2021-Q2")
    s.write_claims(CLAIMS_Q3)
    real = workflows.compute_pay

    def compute_then_lose_the_race(req: workflows.PayRequest) -> workflows.PayOutcome:
        stale = real(req)
        other = workflows.PayRequest(s.contract, "2021-Q3", ledger=s.ledger, close=True)
        workflows.close_and_export(other, real(other))
        return stale

    export = s.root / "q4.csv"
    with monkeypatch.context() as m:
        m.setattr(workflows, "compute_pay", compute_then_lose_the_race)
        result = s.pay("2021-Q4", "--close", "--format", "json", "--export", export)
    assert (s.cdir / "2021-Q3.toml").exists()  # the other close won
    assert result.exit_code == 1, result.stdout
    assert "another state of the ledger" in result.stderr
    assert not (s.cdir / "2021-Q4.csv").exists() and not export.exists()
    # run again: computed from Q1..Q3 now
    assert s.close("2021-Q4")["totals"]["due"] == "866.67"
    assert _show_rows(s.ledger)["2021-Q4"][7] == "2733.33"


# --------------------------------------------------------------------------
# 4. tamper detection


def _verify(s: Scenario) -> Result:
    return sob("ledger", "verify", s.ledger)


def test_one_changed_byte_is_detected_and_blocks_pay_and_close(scenario: Scenario) -> None:
    path = scenario.cdir / "2021-Q1.csv"
    data = path.read_bytes()
    at = data.index(b"C01,claim,P1,A,ENTRY,2021-01-10,2021-01-20,paid,,333.33,333.33")
    at = data.index(b"333.33", at) + 5  # the last digit of C01's price
    path.write_bytes(data[:at] + b"4" + data[at + 1:])
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_CHANGED" in result.stderr and "2021-Q1.csv" in result.stderr
    # a changed ledger is never trusted with money: no preview, no close
    before = snapshot(scenario.root)
    assert scenario.pay("2021-Q4").exit_code == 1
    assert scenario.pay("2021-Q4", "--close", "--export", scenario.root / "x.csv").exit_code == 1
    assert snapshot(scenario.root) == before


def test_removed_csv_is_detected(scenario: Scenario) -> None:
    (scenario.cdir / "2021-Q2.csv").unlink()
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_REMOVED" in result.stderr and "2021-Q2.csv" in result.stderr


def test_removed_middle_manifest_is_detected(scenario: Scenario) -> None:
    (scenario.cdir / "2021-Q2.toml").unlink()
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_REMOVED" in result.stderr and "2021-Q2.toml" in result.stderr


def test_removed_middle_quarter_is_detected(scenario: Scenario) -> None:
    (scenario.cdir / "2021-Q2.toml").unlink()
    (scenario.cdir / "2021-Q2.csv").unlink()
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "2021-Q3.toml" in result.stderr  # Q3's chain no longer finds the quarter before it


@pytest.mark.parametrize("name", ["notes.txt", "2021-Q4.csv.bak", "sub/2021-Q1.csv"])
def test_added_file_is_detected(scenario: Scenario, name: str) -> None:
    path = scenario.cdir / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("hello\n")
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_ADDED" in result.stderr and name.split("/")[0] in result.stderr


def test_added_file_at_the_ledger_root_is_detected(scenario: Scenario) -> None:
    (scenario.ledger / "README").write_text("x")
    result = _verify(scenario)
    assert result.exit_code == 1 and "README" in result.stderr


def test_swapped_manifests_are_detected(scenario: Scenario) -> None:
    a, b = scenario.cdir / "2021-Q1.toml", scenario.cdir / "2021-Q2.toml"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_REORDERED" in result.stderr
    assert "2021-Q1.toml" in result.stderr and "2021-Q2.toml" in result.stderr


def test_swapped_quarters_are_detected(scenario: Scenario) -> None:
    """Renaming a whole quarter (CSV and manifest) onto another is a reordering."""
    for ext in ("csv", "toml"):
        a, b = scenario.cdir / f"2021-Q2.{ext}", scenario.cdir / f"2021-Q3.{ext}"
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "LEDGER_REORDERED" in result.stderr


def test_edited_earlier_manifest_breaks_the_chain(scenario: Scenario) -> None:
    path = scenario.cdir / "2021-Q1.toml"
    path.write_bytes(path.read_bytes().replace(b'due_LA = "1306.66"', b'due_LA = "1306.67"'))
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "2021-Q1.toml" in result.stderr  # named as the file that changed


def test_edited_totals_of_the_latest_manifest_are_detected(scenario: Scenario) -> None:
    """No later manifest vouches for the latest one, but its totals must still match its CSV:
    `sob ledger show` reports paid to date from them."""
    path = scenario.cdir / "2021-Q3.toml"
    path.write_bytes(path.read_bytes().replace(b'due_CF = "-360.00"', b'due_CF = "-350.00"'))
    result = _verify(scenario)
    assert result.exit_code == 1
    assert "2021-Q3.toml" in result.stderr
    assert sob("ledger", "show", scenario.ledger).exit_code == 1


def test_intact_copy_verifies(scenario: Scenario) -> None:
    result = _verify(scenario)
    assert result.exit_code == 0, result.stderr


# --------------------------------------------------------------------------
# 5. data errors: never closed


@pytest.mark.parametrize("code", list(BAD_ROWS))
@pytest.mark.parametrize("reject_invalid", [False, True], ids=["plain", "reject-invalid"])
def test_close_refused_while_evidence_has_data_errors(scenario: Scenario, reject_invalid: bool, code: str) -> None:
    scenario.write_claims(CLAIMS_Q3 + BAD_ROWS[code])
    export = scenario.root / "bad.csv"
    before = snapshot(scenario.root)
    flags = ["--reject-invalid"] if reject_invalid else []
    result = scenario.pay("2021-Q4", "--close", "--format", "json", "--export", export, *flags)
    assert result.exit_code == 1, result.stderr
    assert code in result.stderr
    assert result.stdout == ""
    assert not export.exists()
    assert snapshot(scenario.root) == before
    if reject_invalid and code == "BAD_DATE":
        # without --close the same run is a preview: the bad row is rejected, nothing is written
        preview = scenario.pay("2021-Q4", "--reject-invalid", "--format", "json")
        assert preview.exit_code == 0, preview.stderr
        assert json.loads(preview.stdout)["rejections"].get("BAD_DATE") == 1
        assert snapshot(scenario.root) == before


# --------------------------------------------------------------------------
# 6. the reconciliation view


def _reconciliation(text: str) -> dict[str, list[Decimal]]:
    """Rows of the "Reconciliation by payer" section: brought forward, movement, clawbacks, due, carried."""
    assert "Reconciliation by payer" in text
    section = text.split("Reconciliation by payer", 1)[1]
    amount = r"(-?£?[\d,]+\.\d\d)"
    rows = {}
    for label in (*PAYERS, "Total"):
        m = re.search(rf"^\s*{label}\s+" + r"\s+".join([amount] * 5) + r"\s*$", section, re.MULTILINE)
        assert m, f"no reconciliation row for {label}:\n{section}"
        rows[label] = [dec(g) for g in m.groups()]
    return rows


def test_reconciliation_view_adds_up(closed: Scenario) -> None:
    rows = _reconciliation(closed.preview_q3_table)
    # LA: brought forward 2146.66 (Q1 1306.66 + Q2 840.00); movement +233.33 (C08);
    #     clawbacks C03 -233.33, C06 -606.67, C04 -233.33 = -1073.33; due -840.00; carried 1306.66
    # CF: 920.00; +100.00; -100.00 - 260.00 - 100.00 = -460.00; -360.00; 560.00
    assert rows["LA"] == [dec(v) for v in ("2146.66", "233.33", "-1073.33", "-840.00", "1306.66")]
    assert rows["CF"] == [dec(v) for v in ("920.00", "100.00", "-460.00", "-360.00", "560.00")]
    assert rows["Total"] == [a + b for a, b in zip(rows["LA"], rows["CF"])]
    for bf, movement, clawbacks, due, carried in rows.values():
        assert bf + movement + clawbacks == carried
        assert movement + clawbacks == due
    assert "does not reconcile" not in closed.preview_q3_table
    by_payer = {p["payer_id"]: p for p in closed.preview_q3_json["by_payer"]}
    for pid in PAYERS:
        assert rows[pid][0] == dec(by_payer[pid]["previously_paid"])
        assert rows[pid][3] == dec(by_payer[pid]["due"])
        assert rows[pid][4] == dec(by_payer[pid]["entitled"])


def test_no_reconciliation_view_without_a_ledger(closed: Scenario) -> None:
    result = sob("pay", closed.contract, "--quarter", "2021-Q3")
    assert result.exit_code == 0, result.stderr
    assert "Reconciliation by payer" not in result.stdout


# --------------------------------------------------------------------------
# 7. crash safety


class Crash(OSError):
    pass


def _crash(*_args: object, **_kwargs: object) -> None:
    raise Crash(28, "No space left on device")


def test_crash_between_csv_and_manifest_then_retry(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full at the manifest: the close removes its Q.csv, says so, and the retry succeeds."""
    scenario_before = snapshot(scenario.root)
    export = scenario.root / "q4.csv"
    with monkeypatch.context() as m:
        m.setattr(sob_ledger, "_write_manifest_file", _crash)
        crashed = scenario.pay("2021-Q4", "--close", "--export", export)
    assert crashed.exit_code == 2
    assert "Traceback" not in crashed.stderr and "internal error" not in crashed.stderr
    assert "2021-Q4.toml" in crashed.stderr and "nothing was closed" in crashed.stderr
    # Q4.csv was written and removed again, the export never moved into place: all as before
    assert snapshot(scenario.root) == scenario_before
    assert list(_show_rows(scenario.ledger)) == ["2021-Q1", "2021-Q2", "2021-Q3"]
    check = _verify(scenario)
    assert check.exit_code == 0 and "LEDGER_INCOMPLETE" not in check.stderr, check.stderr
    # the retry of the same close succeeds, and the ledger is clean afterwards
    data = scenario.close("2021-Q4", "--export", export)
    assert data["totals"]["due"] == "866.67" and export.exists()
    assert project(read_rows(scenario.cdir / "2021-Q4.csv")) == Q4_ROWS
    check = _verify(scenario)
    assert check.exit_code == 0 and "LEDGER_INCOMPLETE" not in check.stderr, check.stderr


def test_a_killed_close_leaves_named_debris_and_the_retry_succeeds(scenario: Scenario) -> None:
    """A close killed outright (SIGKILL, power cut) between Q.csv and its manifest cannot clean up."""
    (scenario.cdir / "2021-Q4.csv").write_text("claim_id\nhalf\n")
    check = _verify(scenario)
    assert check.exit_code == 0, check.stderr  # the closed quarters are intact ...
    assert "LEDGER_INCOMPLETE" in check.stderr and "2021-Q4.csv" in check.stderr  # ... and the debris is named
    assert scenario.close("2021-Q4")["totals"]["due"] == "866.67"
    check = _verify(scenario)
    assert check.exit_code == 0 and "LEDGER_INCOMPLETE" not in check.stderr, check.stderr


def test_crash_while_writing_the_manifest_leaves_debris_only(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill in the middle of the manifest write leaves a half temporary file, never a half manifest."""

    def half_written(path: Path, data: bytes) -> None:
        (path.parent / f".{path.name}.0123456789ab.tmp").write_bytes(data[: len(data) // 2])
        _crash()

    with monkeypatch.context() as m:
        m.setattr(sob_ledger, "_write_manifest_file", half_written)
        assert scenario.pay("2021-Q4", "--close").exit_code != 0
    check = _verify(scenario)
    assert check.exit_code == 0, check.stderr
    assert "LEDGER_INCOMPLETE" in check.stderr
    assert scenario.close("2021-Q4")["totals"]["due"] == "866.67"
    assert _verify(scenario).exit_code == 0


def test_crash_after_the_manifest_means_closed(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the commit point the quarter is closed: the retry is refused, nothing is paid twice."""
    with monkeypatch.context() as m:
        m.setattr(sob_ledger, "_sync_dir", _crash)
        assert scenario.pay("2021-Q4", "--close").exit_code != 0
    assert (scenario.cdir / "2021-Q4.toml").exists()
    before = snapshot(scenario.ledger)
    retry = scenario.pay("2021-Q4", "--close")
    assert retry.exit_code == 1 and "already closed" in retry.stderr
    assert snapshot(scenario.ledger) == before
    assert _verify(scenario).exit_code == 0
    paid_to_date = _show_rows(scenario.ledger)["2021-Q4"][7:10]
    assert paid_to_date == ["2733.33", "1913.33", "820.00"]  # 1866.66 + 866.67; LA + 606.67; CF + 260.00


# --------------------------------------------------------------------------
# bugs outside the ledger, reported to the lead


def test_evidence_ref_is_carried_into_export_and_ledger(closed: Scenario) -> None:
    assert closed.export_q3 is not None
    for path in (closed.export_q3, closed.cdir / "2021-Q3.csv"):
        rows = read_rows(path)
        assert [r.get("evidence_ref") for r in rows[:2]] == ["tenancy 1", "tenancy 2"], path.name


@pytest.mark.parametrize("column", ["due", "previously_paid", "due_LA"])
def test_carried_column_named_like_an_output_column(tmp_path: Path, column: str) -> None:
    s = new_scenario(tmp_path / "work")
    s.write_claims(f"claim_id,participant_id,outcome_id,achieved_on,{column}\nC01,P1,ENTRY,2021-01-10,5\n")
    result = s.pay("2021-Q1", "--close", "--format", "json")
    assert "internal error" not in result.stderr
    assert result.exit_code == 0, result.stderr
    rows = read_rows(s.cdir / "2021-Q1.csv")
    assert rows[0][f"{column}_evidence"] == "5"  # the provider's column is carried under a safe name
    assert rows[0]["due"] == "333.33"


def test_ledger_show_fits_80_columns(closed: Scenario) -> None:
    result = CliRunner().invoke(app, ["ledger", "show", str(closed.ledger)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    for quarter in PAID_TO_DATE:
        assert quarter in result.stdout
    for amount in PAID_TO_DATE["2021-Q3"]:
        assert f"{Decimal(amount):,}" in result.stdout


# --------------------------------------------------------------------------
# 8. files that are not files: nothing in a ledger folder can make sob hang


def _replace(path: Path, kind: str, outside: Path) -> None:
    """Put something that is not a regular file where a ledger file was."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "link-to-file":
        outside.write_text("secret-line-1\n")
        path.symlink_to(outside)
    elif kind == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "device":
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's numbers
        except PermissionError:
            pytest.skip("mknod needs root")


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    """The real program, with a timeout: a hang fails the test instead of the whole run."""
    return subprocess.run(
        [sys.executable, "-m", "sob", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", ["2021-Q2.csv", "2021-Q2.toml"])
def test_a_fifo_in_the_ledger_hangs_no_command(scenario: Scenario, name: str) -> None:
    _replace(scenario.cdir / name, "fifo", scenario.root / "x")
    for args, code in (
        (("ledger", "show", scenario.ledger), 2),
        (("pay", scenario.contract, "--quarter", "2021-Q4", "--ledger", scenario.ledger), 2),
        (("pay", scenario.contract, "--quarter", "2021-Q4", "--ledger", scenario.ledger, "--close"), 2),
        (("ledger", "verify", scenario.ledger), 1),
    ):
        proc = _run(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert name in proc.stderr
        assert ("LEDGER_ADDED" if code == 1 else "not a regular file") in proc.stderr, proc.stderr
    assert not (scenario.cdir / "2021-Q4.csv").exists()


@pytest.mark.parametrize("kind", ["folder", "link-to-file", "link-to-dev-zero", "device"])
@pytest.mark.parametrize("name", ["2021-Q2.csv", "2021-Q2.toml"])
def test_a_ledger_file_that_is_not_a_regular_file_is_refused(scenario: Scenario, name: str, kind: str) -> None:
    _replace(scenario.cdir / name, kind, scenario.root / "outside.csv")
    show = sob("ledger", "show", scenario.ledger)
    assert show.exit_code == 2 and "not a regular file" in show.stderr, show.stderr
    pay = scenario.pay("2021-Q4", "--format", "json")
    assert pay.exit_code == 2 and "not a regular file" in pay.stderr, pay.stderr
    check = _verify(scenario)
    assert check.exit_code == 1 and "LEDGER_ADDED" in check.stderr and name in check.stderr, check.stderr
    for result in (show, pay, check):
        assert "secret-line" not in result.stdout + result.stderr


def test_a_file_where_the_contract_folder_belongs_is_refused(scenario: Scenario) -> None:
    """Not "nothing closed yet": that would pay every claim again."""
    shutil.rmtree(scenario.cdir)
    os.mkfifo(scenario.cdir)
    proc = _run("pay", scenario.contract, "--quarter", "2021-Q4", "--ledger", scenario.ledger)
    assert proc.returncode == 2 and "not a folder" in proc.stderr, proc.stderr
    assert _verify(scenario).exit_code == 1
