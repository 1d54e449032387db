"""Each sample contract, end to end through ``sob pay --format json``.

For every sample a tiny hand-made evidence set exercises the rule that makes
the sample distinctive; the expected figures are worked out by hand from
SPEC 5 (scope, processing order, rules, prices, caps) and SPEC 6 (previously
paid = entitled as at the end of the previous quarter, recomputed from the
same files, when no ledger is given), with the arithmetic in the comments.
Splits between payers are by largest remainder in pence (SPEC 5.6).

Then, for every sample, the bundled evidence over two consecutive quarters:
the later quarter's due is its entitlement minus the earlier quarter's.
"""

from __future__ import annotations

import csv
import json
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sob.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "sample_contracts"

CLAIMS_HEAD = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status\n"
REGISTER_HEAD = "participant_id,enrolled_on,eligible,cohort\n"
RESULTS_HEAD = "result_id,outcome_id,cohort,achieved_on,submitted_on,baseline,observed,units,status\n"


def contract(name: str) -> Path:
    return SAMPLES / name / "contract.toml"


def pay(name: str, quarter: str, tmp: Path | None = None, **files: str) -> dict:
    """``sob pay --format json`` with the given inline files (claims, participants, results)."""
    args = ["pay", str(contract(name)), "--quarter", quarter, "--format", "json"]
    for kind, text in files.items():
        path = tmp / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        args += [f"--{kind}", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def payers(doc: dict) -> dict[str, tuple[str, str, str]]:
    return {p["payer_id"]: (p["entitled"], p["previously_paid"], p["due"]) for p in doc["by_payer"]}


def outcome(doc: dict, oid: str) -> dict:
    (row,) = [o for o in doc["by_outcome"] if o["outcome_id"] == oid]
    return row


def assert_consistent(doc: dict) -> None:
    """Every column sums: statuses to claims, payers and outcomes to the totals."""
    t = doc["totals"]
    assert t["claims"] == t["paid"] + t["partial"] + t["capped"] + t["rejected"]
    assert Decimal(t["due"]) == Decimal(t["entitled"]) - Decimal(t["previously_paid"])
    for key in ("entitled", "previously_paid", "due"):
        assert sum(Decimal(p[key]) for p in doc["by_payer"]) == Decimal(t[key]), key
    for key in ("entitled", "due"):  # adjustments have no outcome: their own list holds the rest (SPEC 10.6)
        adjusted = sum(Decimal(a[key]) for a in doc.get("adjustments", []))
        assert sum(Decimal(o[key]) for o in doc["by_outcome"]) + adjusted == Decimal(t[key]), key
    assert sum(o["claims"] for o in doc["by_outcome"]) == t["claims"]
    assert sum(doc["rejections"].values()) == t["rejected"]


# --------------------------------------------------------------------------
# dwp-innovation-fund: the GBP 11,700 per-participant cap binds (partial = true)
# --------------------------------------------------------------------------


def test_dwp_participant_cap_binds(tmp_path):
    # Calendar quarters; 2013-Q3 = Jul-Sep 2013, the quarter before ends 2013-06-30.
    # A (enrolled 2013-01-07), processing order = (submitted_on, achieved_on, claim_id):
    #   a1 QUAL_L3    5100.00  cumulative  5100.00  paid          (submitted 2013-05-10)
    #   a2 QUAL_L2    3300.00  cumulative  8400.00  paid          (submitted 2013-06-10)
    #   a3 BEHAVIOUR  1300.00  cumulative  9700.00  paid          (submitted 2013-07-05)
    #   a4 ATTENDANCE 1400.00  cumulative 11100.00  paid          (submitted 2013-07-06)
    #   a5 JOB_13W    3500.00  headroom 11700 - 11100 = 600.00 -> partial 600.00 (PARTICIPANT_CAP)
    #   a6 ATTITUDE    700.00  headroom 0.00 -> capped 0.00 (PARTICIPANT_CAP)
    # B (enrolled 2013-01-07), a cap of its own:
    #   b1 QUAL_L1    1100.00  paid
    #   b2 QUAL_L2    withdrawn -> rejected WITHDRAWN
    # a6 is listed first in the file: file order must not matter.
    claims = CLAIMS_HEAD + (
        "a6,A,ATTITUDE,2013-08-15,2013-08-20,claimed\n"
        "a1,A,QUAL_L3,2013-05-01,2013-05-10,claimed\n"
        "a2,A,QUAL_L2,2013-06-01,2013-06-10,claimed\n"
        "a3,A,BEHAVIOUR,2013-07-01,2013-07-05,claimed\n"
        "a4,A,ATTENDANCE,2013-07-02,2013-07-06,claimed\n"
        "a5,A,JOB_13W,2013-08-01,2013-08-10,claimed\n"
        "b1,B,QUAL_L1,2013-07-10,2013-07-11,claimed\n"
        "b2,B,QUAL_L2,2013-09-01,2013-09-01,withdrawn\n"
    )
    register = REGISTER_HEAD + "A,2013-01-07,true,age-14\nB,2013-01-07,true,age-15\n"
    doc = pay("dwp-innovation-fund", "2013-Q3", tmp_path, claims=claims, participants=register)
    # entitled = 5100 + 3300 + 1300 + 1400 + 600 + 0 + 1100 = 12800.00
    # previously paid (as at 2013-06-30: a1, a2) = 5100 + 3300 = 8400.00; due = 4400.00
    assert doc["totals"] == {
        "claims": 8, "paid": 5, "partial": 1, "capped": 1, "rejected": 1,
        "entitled": "12800.00", "previously_paid": "8400.00", "due": "4400.00",
    }
    # one payer, share 1: DWP takes every amount whole
    assert payers(doc) == {"DWP": ("12800.00", "8400.00", "4400.00")}
    assert outcome(doc, "JOB_13W") == {"outcome_id": "JOB_13W", "claims": 1, "accepted": 1, "entitled": "600.00",
                                       "due": "600.00"}
    # a6 was cut to nothing by a money cap, but it passed rules 1-11: accepted
    assert outcome(doc, "ATTITUDE") == {"outcome_id": "ATTITUDE", "claims": 1, "accepted": 1, "entitled": "0.00",
                                        "due": "0.00"}
    assert doc["rejections"] == {"WITHDRAWN": 1}
    assert doc["caps"] == {}
    assert_consistent(doc)


# --------------------------------------------------------------------------
# fair-chance-fund: prerequisite chains with minimum gaps (min_days)
# --------------------------------------------------------------------------


def test_fcf_sequence_with_min_days(tmp_path):
    # Calendar quarters; 2015-Q2 = Apr-Jun 2015, the quarter before ends 2015-03-31.
    # Everyone enrolled 2015-02-02 (referrals in 2015 only).
    # P: ACC_ENTRY 2015-03-02 then ACC_3M 2015-06-01. 2015-03-02 + 91 days: 29 days to 03-31,
    #    59 to 04-30, 90 to 05-31, 91 to 06-01 -> the gap is met: p2 paid 1500.00.
    # Q: ACC_ENTRY 2015-03-02 then ACC_3M 2015-05-31: 90 days, one short -> PREREQUISITE_MISSING.
    # R: ACC_3M 2015-06-15 is submitted (06-20) BEFORE its ACC_ENTRY (achieved 03-10, submitted
    #    06-25): prerequisites are looked for among all in-scope claims, whatever their place in
    #    processing order -> 06-15 - 91 days = 03-16 >= 03-10: r1 paid 1500.00, r0 paid 500.00.
    # V: volunteering chain, 49-day gaps: VOL_6W 03-01; VOL_13W 04-19 (03-01 + 30 = 03-31,
    #    + 19 = 04-19: 49 days) paid 500.00; VOL_20W 06-07 (04-19 + 11 = 04-30, + 31 = 05-31,
    #    + 7 = 06-07: 49 days) paid 250.00.
    claims = CLAIMS_HEAD + (
        "p1,P,ACC_ENTRY,2015-03-02,2015-03-05,claimed\n"
        "p2,P,ACC_3M,2015-06-01,2015-06-05,claimed\n"
        "q1,Q,ACC_ENTRY,2015-03-02,2015-03-05,claimed\n"
        "q2,Q,ACC_3M,2015-05-31,2015-06-05,claimed\n"
        "r1,R,ACC_3M,2015-06-15,2015-06-20,claimed\n"
        "r0,R,ACC_ENTRY,2015-03-10,2015-06-25,claimed\n"
        "v1,V,VOL_6W,2015-03-01,2015-03-03,claimed\n"
        "v2,V,VOL_13W,2015-04-19,2015-04-20,claimed\n"
        "v3,V,VOL_20W,2015-06-07,2015-06-10,claimed\n"
    )
    register = REGISTER_HEAD + "".join(f"{p},2015-02-02,yes,18-24\n" for p in "PQRV")
    doc = pay("fair-chance-fund", "2015-Q2", tmp_path, claims=claims, participants=register)
    # entitled = p1 500 + p2 1500 + q1 500 + q2 0 + r1 1500 + r0 500 + v1 500 + v2 500 + v3 250 = 5750.00
    # previously paid (as at 2015-03-31: p1, q1, v1) = 1500.00; due = 4250.00
    assert doc["totals"] == {
        "claims": 9, "paid": 8, "partial": 0, "capped": 0, "rejected": 1,
        "entitled": "5750.00", "previously_paid": "1500.00", "due": "4250.00",
    }
    assert doc["rejections"] == {"PREREQUISITE_MISSING": 1}
    # Split DCLG 0.6667 / CO 0.3333, in pence:
    #   500.00 = 50000p: 33335 / 16665 exactly.  1500.00 = 150000p: 100005 / 49995 exactly.
    #   250.00 = 25000p: 16667.5 / 8332.5 -> floors 16667 / 8332, one penny left, remainders
    #            tie at .5 -> the first payer, DCLG: 166.68 / 83.32.
    # entitled  DCLG = 5 x 333.35 + 2 x 1000.05 + 166.68 = 1666.75 + 2000.10 + 166.68 = 3833.53
    #           CO   = 5 x 166.65 + 2 x  499.95 +  83.32 =  833.25 +  999.90 +  83.32 = 1916.47
    # previous  DCLG = 3 x 333.35 = 1000.05;  CO = 3 x 166.65 = 499.95
    # due       DCLG = 3833.53 - 1000.05 = 2833.48;  CO = 1916.47 - 499.95 = 1416.52
    assert payers(doc) == {"DCLG": ("3833.53", "1000.05", "2833.48"), "CO": ("1916.47", "499.95", "1416.52")}
    assert outcome(doc, "ACC_3M") == {"outcome_id": "ACC_3M", "claims": 3, "accepted": 2, "entitled": "3000.00",
                                      "due": "3000.00"}
    assert outcome(doc, "VOL_20W")["entitled"] == "250.00"
    assert_consistent(doc)


# --------------------------------------------------------------------------
# kirklees-bop: April fiscal quarters, UK dates, renamed columns, total cap
# --------------------------------------------------------------------------


def test_kirklees_fiscal_quarter_and_uk_dates(tmp_path):
    # fiscal_year_start_month = 4: 2020-Q1 = 1 April - 30 June 2020; the quarter before, 2019-Q4,
    # is January - March 2020. Dates are dd/mm/yyyy and the headers are the provider's.
    #   k1 WB_1       100.00  submitted 31/03/2020 -> in scope in 2019-Q4 too (previously paid)
    #   k5 EMP_ENTRY  500.00  submitted 05/01/2020 -> in 2019-Q4 too
    #   k2 WB_2       100.00  submitted 01/04/2020 (needs WB_1: k1, achieved 15/03/2020) -> paid
    #   k3 MH_ACCESS  200.00  submitted 30/06/2020, the quarter's last day -> in scope
    #   k4 ACC_ENTRY  500.00  submitted 01/07/2020 (1 July, not 7 January) -> not yet submitted
    claims = "Claim No,Client Ref,Outcome Code,Date Achieved,Date Submitted,Claim Status\n" + (
        "k1,KB1,WB_1,15/03/2020,31/03/2020,Claimed\n"
        "k2,KB1,WB_2,01/04/2020,01/04/2020,Claimed\n"
        "k3,KB1,MH_ACCESS,30/06/2020,30/06/2020,Claimed\n"
        "k4,KB1,ACC_ENTRY,20/06/2020,01/07/2020,Claimed\n"
        "k5,KB2,EMP_ENTRY,10/12/2019,05/01/2020,Claimed\n"
    )
    register = "Client Ref,Referral Date,Eligible,Locality\nKB1,01/10/2019,Yes,Dewsbury\nKB2,01/10/2019,Yes,Batley\n"
    doc = pay("kirklees-bop", "2020-Q1", tmp_path, claims=claims, participants=register)
    assert doc["period"] == {"start": "2020-04-01", "end": "2020-06-30"}
    # claims: entitled = 100 + 100 + 200 + 500 = 900.00; previously paid (k1, k5) = 600.00; due = 300.00
    # plus the contract's COVID payment on profile agreed 30/06/2020 (SPEC 10.6): 971234.00, in scope
    # as at 2020-Q1 but not 2019-Q4, so all of it is due now; it counts in the money, not in claims.
    assert doc["totals"] == {
        "claims": 4, "paid": 4, "partial": 0, "capped": 0, "rejected": 0, "adjustments": 1,
        "entitled": "972134.00", "previously_paid": "600.00", "due": "971534.00",
    }
    # Split KC 0.704 / LCF 0.296, exact on these amounts:
    #   100.00 -> 70.40 / 29.60; 200.00 -> 140.80 / 59.20; 500.00 -> 352.00 / 148.00
    #   971234.00 = 97123400p: 68374873.6 / 28748526.4 -> the spare penny to KC (.6): 683748.74 / 287485.26
    # entitled KC = 70.40 + 70.40 + 140.80 + 352.00 + 683748.74 = 684382.34
    #          LCF = 29.60 + 29.60 + 59.20 + 148.00 + 287485.26 = 287751.66
    # previous KC = 70.40 + 352.00 = 422.40;                   LCF = 29.60 + 148.00 = 177.60
    # due      KC = 683959.94;                                 LCF = 287574.06
    assert payers(doc) == {"KC": ("684382.34", "422.40", "683959.94"), "LCF": ("287751.66", "177.60", "287574.06")}
    # caps.total: limit 22297917.00, used = entitled 972134.00, headroom 21325783.00
    assert doc["caps"] == {"total": {"limit": "22297917.00", "used": "972134.00", "headroom": "21325783.00"}}
    assert doc["adjustments"] == [{"id": "COVID-PROFILE-2020-Q1", "on": "2020-06-30",
                                   "reason": "COVID-19 payment on profile, April-June 2020 (INDIGO: covid claim payment)",
                                   "entitled": "971234.00", "previously_paid": "0.00", "due": "971234.00"}]
    assert outcome(doc, "ACC_ENTRY")["claims"] == 0
    assert_consistent(doc)
    # The same files as at the end of fiscal 2019-Q4 (January - March 2020): k1 and k5 only, and
    # previously paid as at 2019-12-31 is nothing (k5 was submitted on 5 January).
    before = pay("kirklees-bop", "2019-Q4", tmp_path, claims=claims, participants=register)
    assert before["totals"]["entitled"] == "600.00" and before["totals"]["previously_paid"] == "0.00"


def _kirklees_qualifications(tmp: Path, n: int) -> list[str]:
    """n QUAL_FULL claims (2,500.00 each), one per participant, all submitted on 15/10/2021."""
    (tmp / "claims.csv").write_text("Claim No,Client Ref,Outcome Code,Date Achieved,Date Submitted,Claim Status\n" + "".join(
        f"Q{i:05d},KQ{i:05d},QUAL_FULL,01/10/2021,15/10/2021,Claimed\n" for i in range(1, n + 1)))
    (tmp / "participants.csv").write_text("Client Ref,Referral Date,Eligible,Locality\n" + "".join(
        f"KQ{i:05d},04/01/2021,Yes,Batley\n" for i in range(1, n + 1)))
    return ["--claims", str(tmp / "claims.csv"), "--participants", str(tmp / "participants.csv")]


def test_kirklees_lcf_payer_cap_at_its_published_commitment(tmp_path):
    """The LCF's cap of 6,600,000.00 (shift) binds just before the contract cap; after the variation KC pays on.

    As at 2021-Q3 (Oct-Dec 2021; total cap 22,297,917.00) the three COVID adjustments come first
    (dated 2020): KC 2,324,930.43, LCF 977,527.57 (their splits, worked in the examples), 3,302,458.00.
    LCF headroom 6,600,000.00 - 977,527.57 = 5,622,472.43; contract headroom 18,995,459.00.
    QUAL_FULL 2,500.00 splits KC 1,760.00 / LCF 740.00 exactly.
      Q1-Q7597: paid; LCF used 7,597 x 740 = 5,621,780.00 (room 692.43), contract room 2,959.00.
      Q7598: LCF 740.00 > 692.43 -> 692.43, shifts 47.57 to KC: KC 1,807.57; paid 2,500.00 (room 459.00).
      Q7599: contract cap cuts it to 459.00 (partial, CONTRACT_CAP): split 45,900p x 0.704 = 32,313.6,
             x 0.296 = 13,586.4 -> KC 323.14, LCF 135.86; LCF room 0 -> its 135.86 shifts to KC: KC 459.00.
      Q7600: capped, CONTRACT_CAP.
    entitled = 3,302,458.00 + 7,598 x 2,500.00 + 459.00 = 22,297,917.00 (the contract cap)
    LCF = 977,527.57 + 5,621,780.00 + 692.43 = 6,600,000.00; KC = 22,297,917.00 - LCF = 15,697,917.00.
    Without the payer cap the LCF's 29.6% would have reached 6,600,183.43.
    """
    files = _kirklees_qualifications(tmp_path, 7600)
    out = tmp_path / "q3.csv"
    result = CliRunner().invoke(app, ["pay", str(contract("kirklees-bop")), "--quarter", "2021-Q3", *files,
                                      "--format", "json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"]["entitled"] == "22297917.00"
    assert {p["payer_id"]: p["entitled"] for p in doc["by_payer"]} == {"KC": "15697917.00", "LCF": "6600000.00"}
    (lcf,) = [p for p in doc["by_payer"] if p["payer_id"] == "LCF"]
    assert lcf["cap"] == {"limit": "6600000.00", "used": "6600000.00", "headroom": "0.00"}
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {r["claim_id"]: r for r in csv.DictReader(fh)}
    pick = ("status", "reason", "entitled", "due_KC", "due_LCF")
    assert tuple(rows["Q07597"][k] for k in pick) == ("paid", "", "2500.00", "1760.00", "740.00")
    assert tuple(rows["Q07598"][k] for k in pick) == ("paid", "", "2500.00", "1807.57", "692.43")
    assert tuple(rows["Q07599"][k] for k in pick) == ("partial", "CONTRACT_CAP", "459.00", "459.00", "0.00")
    assert tuple(rows["Q07600"][k] for k in pick) == ("capped", "CONTRACT_CAP", "0.00", "0.00", "0.00")
    assert_consistent(doc)

    # As at 2022-Q1 (Apr-Jun 2022) the raised total of 22,553,795.00 is in force: Q7599 and Q7600 are paid
    # 2,500.00 in full, all by KC (the LCF is exhausted; shift). entitled = 3,302,458.00 + 7,600 x 2,500.00
    # = 22,302,458.00; LCF stays 6,600,000.00; KC = 15,702,458.00. Previously paid (as at 2021-Q4, the old
    # total) = 22,297,917.00, so due = 4,541.00, all KC: Q7599 2,041.00, Q7600 2,500.00.
    result = CliRunner().invoke(app, ["pay", str(contract("kirklees-bop")), "--quarter", "2022-Q1", *files,
                                      "--format", "json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    later = json.loads(result.stdout)
    assert later["totals"]["entitled"] == "22302458.00" and later["totals"]["due"] == "4541.00"
    assert payers(later) == {"KC": ("15702458.00", "15697917.00", "4541.00"),
                             "LCF": ("6600000.00", "6600000.00", "0.00")}
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {r["claim_id"]: r for r in csv.DictReader(fh)}
    assert tuple(rows["Q07599"][k] for k in pick) == ("paid", "", "2500.00", "2041.00", "0.00")
    assert tuple(rows["Q07600"][k] for k in pick) == ("paid", "", "2500.00", "2500.00", "0.00")


# --------------------------------------------------------------------------
# london-rough-sleeping: volume cap of 320 per outcome
# --------------------------------------------------------------------------


def test_london_volume_cap(tmp_path):
    # 322 ACC_ENTRY claims in 2017-Q2 (Apr-Jun 2017; the contract starts 2017-04-01, so nothing
    # was in scope at the end of 2017-Q1 and previously paid is 0.00):
    #   w0    RS-322  achieved and submitted 2017-04-20, withdrawn -> rejected WITHDRAWN; a rejected
    #                 claim does not take a volume slot
    #   L001 ... L321 one per participant RS-001 ... RS-321, all achieved and submitted 2017-05-01,
    #                 so processing order is by claim_id: L001 ... L320 take the 320 slots (paid
    #                 600.00 each), L321 is the 321st -> VOLUME_CAP (status capped, no price).
    # The rows are written in reverse order: file order must not matter.
    rows = [f"L{i:03d},RS-{i:03d},ACC_ENTRY,2017-05-01,2017-05-01,claimed\n" for i in range(321, 0, -1)]
    claims = CLAIMS_HEAD + "w0,RS-322,ACC_ENTRY,2017-04-20,2017-04-20,withdrawn\n" + "".join(rows)
    register = REGISTER_HEAD + "".join(f"RS-{i:03d},2017-04-10,true,Camden\n" for i in range(1, 323))
    doc = pay("london-rough-sleeping", "2017-Q2", tmp_path, claims=claims, participants=register)
    # entitled = 320 x 600.00 = 192000.00; per-participant cap 19000 and total cap 3,000,000 do not bind
    assert doc["totals"] == {
        "claims": 322, "paid": 320, "partial": 0, "capped": 1, "rejected": 1,
        "entitled": "192000.00", "previously_paid": "0.00", "due": "192000.00",
    }
    # VOLUME_CAP is status capped, so it is not among the rejections
    assert doc["rejections"] == {"WITHDRAWN": 1}
    # accepted = passed rules 1-11: the 320 paid claims (not the VOLUME_CAP one, not the withdrawn one)
    assert outcome(doc, "ACC_ENTRY") == {"outcome_id": "ACC_ENTRY", "claims": 322, "accepted": 320,
                                         "entitled": "192000.00", "due": "192000.00"}
    # Split MHCLG 0.6667 / GLA 0.3333 of 600.00 = 60000p: 40002 / 19998 exactly.
    # MHCLG = 320 x 400.02 = 128006.40; GLA = 320 x 199.98 = 63993.60 (sum 192000.00)
    assert payers(doc) == {"MHCLG": ("128006.40", "0.00", "128006.40"), "GLA": ("63993.60", "0.00", "63993.60")}
    assert doc["caps"] == {"total": {"limit": "3000000.00", "used": "192000.00", "headroom": "2808000.00"}}
    assert_consistent(doc)


def test_london_volume_cap_slot_goes_by_processing_order(tmp_path):
    # Same 321 claims, but L001 is submitted a day later than the others (2017-05-02), so it is the
    # last in processing order and is the one over the cap; L321 now takes the 320th slot.
    rows = [f"L{i:03d},RS-{i:03d},ACC_ENTRY,2017-05-01,{'2017-05-02' if i == 1 else '2017-05-01'},claimed\n"
            for i in range(1, 322)]
    register = REGISTER_HEAD + "".join(f"RS-{i:03d},2017-04-10,true,Camden\n" for i in range(1, 322))
    (tmp_path / "claims.csv").write_text(CLAIMS_HEAD + "".join(rows))
    (tmp_path / "participants.csv").write_text(register)
    out = tmp_path / "t.json"
    result = CliRunner().invoke(app, [
        "pay", str(contract("london-rough-sleeping")), "--quarter", "2017-Q2", "--claims", str(tmp_path / "claims.csv"),
        "--participants", str(tmp_path / "participants.csv"), "--export", str(out)])
    assert result.exit_code == 0, result.output
    table = {r["claim_id"]: r for r in json.loads(out.read_text())}
    assert (table["L001"]["status"], table["L001"]["reason"], table["L001"]["price"]) == ("capped", "VOLUME_CAP", None)
    assert (table["L321"]["status"], table["L321"]["entitled"]) == ("paid", "600.00")


# --------------------------------------------------------------------------
# mhep-employment: <16h and 16h+ sustainment are an exclusive pair
# --------------------------------------------------------------------------


def test_mhep_exclusive_pair(tmp_path):
    # Calendar quarters; 2020-Q2 = Apr-Jun 2020, the quarter before ends 2020-03-31.
    # M1 and M2 enrolled 2020-01-06. ENGAGE (window 90 days) -> JOB_START (requires ENGAGE,
    # window 365) -> SUST_* (requires JOB_START 91 days before; exclusive group "sustain-13w").
    #   e1 ENGAGE 300.00, j1 JOB_START 1500.00 (achieved 2020-03-02), both submitted in Q1
    #   s2 SUST_LT16    1200.00 achieved 2020-06-01 (03-02 + 91 days: 29 to 03-31, 59 to 04-30,
    #                   90 to 05-31, 91 to 06-01), submitted 06-05 -> first of the group: paid
    #   s1 SUST_16PLUS  2500.00 same day, submitted 06-10 -> second of the group: EXCLUSIVE, even
    #                   though it is dearer and listed first in the file
    #   e2, j2 for M2 as for M1; s3 SUST_16PLUS 2500.00 achieved 06-02, submitted 06-12 -> paid
    claims = CLAIMS_HEAD + (
        "s1,M1,SUST_16PLUS,2020-06-01,2020-06-10,claimed\n"
        "e1,M1,ENGAGE,2020-02-03,2020-02-10,claimed\n"
        "j1,M1,JOB_START,2020-03-02,2020-03-09,claimed\n"
        "s2,M1,SUST_LT16,2020-06-01,2020-06-05,claimed\n"
        "e2,M2,ENGAGE,2020-02-04,2020-02-10,claimed\n"
        "j2,M2,JOB_START,2020-03-02,2020-03-09,claimed\n"
        "s3,M2,SUST_16PLUS,2020-06-02,2020-06-12,claimed\n"
    )
    register = REGISTER_HEAD + "M1,2020-01-06,true,secondary-care\nM2,2020-01-06,true,secondary-care\n"
    doc = pay("mhep-employment", "2020-Q2", tmp_path, claims=claims, participants=register)
    # previously paid (as at 2020-03-31: e1, j1, e2, j2) = 300 + 1500 + 300 + 1500 = 3600.00
    # entitled = 3600 + s2 1200 + s1 0 + s3 2500 = 7300.00; due = 3700.00
    assert doc["totals"] == {
        "claims": 7, "paid": 6, "partial": 0, "capped": 0, "rejected": 1,
        "entitled": "7300.00", "previously_paid": "3600.00", "due": "3700.00",
    }
    assert doc["rejections"] == {"EXCLUSIVE": 1}
    # Split LOCAL 0.58 / LCF 0.42, exact on these amounts:
    #   300 -> 174 / 126; 1500 -> 870 / 630; 1200 -> 696 / 504; 2500 -> 1450 / 1050
    # entitled LOCAL = 2 x 174 + 2 x 870 + 696 + 1450 = 4234.00; LCF = 2 x 126 + 2 x 630 + 504 + 1050 = 3066.00
    # previous LOCAL = 348 + 1740 = 2088.00;                       LCF = 252 + 1260 = 1512.00
    # due      LOCAL = 2146.00;                                    LCF = 1554.00
    assert payers(doc) == {"LOCAL": ("4234.00", "2088.00", "2146.00"), "LCF": ("3066.00", "1512.00", "1554.00")}
    assert outcome(doc, "SUST_LT16") == {"outcome_id": "SUST_LT16", "claims": 1, "accepted": 1,
                                         "entitled": "1200.00", "due": "1200.00"}
    assert outcome(doc, "SUST_16PLUS") == {"outcome_id": "SUST_16PLUS", "claims": 2, "accepted": 1,
                                           "entitled": "2500.00", "due": "2500.00"}
    assert doc["caps"] == {"total": {"limit": "2068270.00", "used": "7300.00", "headroom": "2060970.00"}}
    assert_consistent(doc)


# --------------------------------------------------------------------------
# norfolk-families: deadweight, rounding once, April fiscal year (improvement outcomes)
# --------------------------------------------------------------------------


def test_norfolk_deadweight(tmp_path):
    # fiscal_year_start_month = 4: 2020-Q1 = Apr-Jun 2020; the quarter before (2019-Q4) ends 2020-03-31.
    # payment = 51.74 x units x (baseline - observed) x (1 - deadweight), rounded once to the penny.
    #   r0 EDGE_OF_CARE "EOC 0" (deadweight 0.33), submitted 2020-02-01 (in 2019-Q4 too):
    #      7 x 0.67 = 4.69 days; 4.69 x 51.74 = 242.6606 -> 242.66
    #   r1 EDGE_OF_CARE "EOC A", submitted 2020-04-15: 300 x 0.67 = 201; 201 x 51.74 = 10399.74
    #   r2 IN_CARE "IC A" (no deadweight), units 2, submitted 2020-04-20: 2 x 40 x 51.74 = 4139.20
    #   r3 IN_CARE "IC A" again (a restatement), submitted 2020-05-01 -> MAX_CLAIMS
    claims = CLAIMS_HEAD
    results = RESULTS_HEAD + (
        "r3,IN_CARE,IC A,2020-03-31,2020-05-01,500,400,2,claimed\n"
        "r0,EDGE_OF_CARE,EOC 0,2019-12-31,2020-02-01,100,93,1,claimed\n"
        "r1,EDGE_OF_CARE,EOC A,2020-03-31,2020-04-15,1000,700,1,claimed\n"
        "r2,IN_CARE,IC A,2020-03-31,2020-04-20,500,460,2,claimed\n"
    )
    doc = pay("norfolk-families", "2020-Q1", tmp_path, claims=claims, results=results)
    assert doc["period"] == {"start": "2020-04-01", "end": "2020-06-30"}
    # entitled = 242.66 + 10399.74 + 4139.20 = 14781.60; previously paid (r0) = 242.66; due = 14538.94
    assert doc["totals"] == {
        "claims": 4, "paid": 3, "partial": 0, "capped": 0, "rejected": 1,
        "entitled": "14781.60", "previously_paid": "242.66", "due": "14538.94",
    }
    assert doc["rejections"] == {"MAX_CLAIMS": 1}
    # Split NCC 0.831 / DCMS 0.169 by largest remainder, in pence:
    #   r0 24266p:   x 0.831 = 20165.046 -> 20165 (.046); x 0.169 = 4100.954 -> 4100 (.954);
    #                one penny left -> DCMS: NCC 201.65, DCMS 41.01
    #   r1 1039974p: x 0.831 = 864218.394 -> 864218 (.394); x 0.169 = 175755.606 -> 175755 (.606);
    #                one penny left -> DCMS: NCC 8642.18, DCMS 1757.56
    #   r2 413920p:  x 0.831 = 343967.52 -> 343967 (.52); x 0.169 = 69952.48 -> 69952 (.48);
    #                one penny left -> NCC: NCC 3439.68, DCMS 699.52
    # entitled NCC = 201.65 + 8642.18 + 3439.68 = 12283.51; DCMS = 41.01 + 1757.56 + 699.52 = 2498.09
    # previous NCC = 201.65; DCMS = 41.01
    # due      NCC = 12081.86; DCMS = 2457.08
    assert payers(doc) == {"NCC": ("12283.51", "201.65", "12081.86"), "DCMS": ("2498.09", "41.01", "2457.08")}
    assert outcome(doc, "EDGE_OF_CARE") == {"outcome_id": "EDGE_OF_CARE", "claims": 2, "accepted": 2,
                                            "entitled": "10642.40", "due": "10399.74"}
    assert outcome(doc, "IN_CARE") == {"outcome_id": "IN_CARE", "claims": 2, "accepted": 1,
                                       "entitled": "4139.20", "due": "4139.20"}
    assert doc["caps"] == {}
    assert_consistent(doc)


# --------------------------------------------------------------------------
# peterborough: improvement thresholds (10% per cohort, 7.5% pooled), compared exactly
# --------------------------------------------------------------------------


def test_peterborough_threshold(tmp_path):
    # Calendar quarters; 2014-Q4 = Oct-Dec 2014, the quarter before ends 2014-09-30.
    #   t1 COHORT_1: baseline 2.00, observed 1.80, units 100. Improvement 0.20; threshold
    #      0.10 x 2.00 = 0.20; 0.20 < 0.20 is false -> met exactly. 2000 x 100 x 0.20 = 40000.00
    #   t2 COHORT_2: baseline 2.00, observed 1.801 -> 0.199 < 0.20 -> BELOW_THRESHOLD
    #   (t1 and t2 submitted 2014-08-07, in scope in 2014-Q3 too)
    #   t3 POOLED: baseline 2.00, observed 1.849995, units 1. Improvement 0.150005;
    #      threshold 0.075 x 2.00 = 0.15 -> met. 2000 x 0.150005 = 300.01; submitted 2014-10-02.
    #      POOLED is net_of the cohorts (SPEC 11.6): 300.01 - 40000.00 (t1) -> 0.00, paid at price 0
    results = RESULTS_HEAD + (
        "t1,COHORT_1,1,2014-06-30,2014-08-07,2.00,1.80,100,claimed\n"
        "t2,COHORT_2,2,2014-06-30,2014-08-07,2.00,1.801,100,claimed\n"
        "t3,POOLED,1+2,2014-09-30,2014-10-02,2.00,1.849995,1,claimed\n"
    )
    doc = pay("peterborough", "2014-Q4", tmp_path, claims=CLAIMS_HEAD, results=results)
    # entitled = 40000.00 + 0.00 = 40000.00; previously paid (t1) = 40000.00; due = 0.00
    assert doc["totals"] == {
        "claims": 3, "paid": 2, "partial": 0, "capped": 0, "rejected": 1,
        "entitled": "40000.00", "previously_paid": "40000.00", "due": "0.00",
    }
    assert doc["rejections"] == {"BELOW_THRESHOLD": 1}
    # Split MOJ 0.5 / BLF 0.5: 40000.00 -> 20000.00 / 20000.00
    assert payers(doc) == {"MOJ": ("20000.00", "20000.00", "0.00"), "BLF": ("20000.00", "20000.00", "0.00")}
    assert [o["outcome_id"] for o in doc["by_outcome"]] == ["COHORT_1", "COHORT_2", "POOLED"]
    assert outcome(doc, "COHORT_2") == {"outcome_id": "COHORT_2", "claims": 1, "accepted": 0,
                                        "entitled": "0.00", "due": "0.00"}
    assert_consistent(doc)


def test_peterborough_pooled_payment_is_net_of_the_cohort_payments(tmp_path):
    # Calendar quarters; 2017-Q3 = Jul-Sep 2017.
    #   a1 COHORT_1 (2014): baseline 2.00, observed 1.70, units 100: 0.30 >= 0.20 -> 2000 x 100 x 0.30 = 60000.00
    #   a2 POOLED (2017-07-27): baseline 2.00, observed 1.60, units 200: 0.40 >= 0.15
    #      -> 2000 x 200 x 0.40 = 160000.00, less a1's 60000.00 = 100000.00
    #   a3 COHORT_2 (2017-08-01, after the pool): 2.00 vs 1.50 passes 10%, but the pool settled it -> NETTED
    results = RESULTS_HEAD + (
        "a1,COHORT_1,1,2014-06-30,2014-08-07,2.00,1.70,100,claimed\n"
        "a2,POOLED,1+2,2017-06-30,2017-07-27,2.00,1.60,200,claimed\n"
        "a3,COHORT_2,2,2017-06-30,2017-08-01,2.00,1.50,100,claimed\n"
    )
    doc = pay("peterborough", "2017-Q3", tmp_path, claims=CLAIMS_HEAD, results=results)
    # entitled = 60000.00 + 100000.00 = 160000.00 (the pooled figure, paid once); due = 100000.00
    assert doc["totals"] == {
        "claims": 3, "paid": 2, "partial": 0, "capped": 0, "rejected": 1,
        "entitled": "160000.00", "previously_paid": "60000.00", "due": "100000.00",
    }
    assert doc["rejections"] == {"NETTED": 1}
    assert outcome(doc, "POOLED")["entitled"] == "100000.00"
    assert_consistent(doc)


# --------------------------------------------------------------------------
# nyc-able: threshold steps on the jail-day reduction (SPEC 11.3), USD
# --------------------------------------------------------------------------


def test_nyc_able_steps(tmp_path):
    # Calendar quarters; 2015-Q3 = Jul-Sep 2015.
    #   s1 cohort A: 1000 vs 900 -> 100 >= 0.10 x 1000: the 10% step, 9600000.00 (not 11%: 100 < 110)
    #   s2 cohort B: 2000 vs 1830 -> 170 >= 0.085 x 2000 = 170 exactly: the 8.5% step, 4800000.00;
    #      the commitment has 11712000.00 - 9600000.00 = 2112000.00 left -> partial, CONTRACT_CAP
    #   s3 cohort C: 1000 vs 990 -> 1% reaches no step -> BELOW_THRESHOLD
    results = RESULTS_HEAD + (
        "s1,JAIL_DAYS,A,2015-06-30,2015-07-01,1000,900,,claimed\n"
        "s2,JAIL_DAYS,B,2015-06-30,2015-07-02,2000,1830,1.0,claimed\n"
        "s3,JAIL_DAYS,C,2015-06-30,2015-07-03,1000,990,,claimed\n"
    )
    doc = pay("nyc-able", "2015-Q3", tmp_path, claims=CLAIMS_HEAD, results=results)
    assert doc["totals"] == {
        "claims": 3, "paid": 1, "partial": 1, "capped": 0, "rejected": 1,
        "entitled": "11712000.00", "previously_paid": "0.00", "due": "11712000.00",
    }
    assert doc["rejections"] == {"BELOW_THRESHOLD": 1}
    assert payers(doc) == {"NYC_DOC": ("11712000.00", "0.00", "11712000.00")}
    assert doc["caps"]["total"]["headroom"] == "0.00"
    assert_consistent(doc)


# --------------------------------------------------------------------------
# ways-to-wellness: a sliding scale on each claim's value (SPEC 11.4)
# --------------------------------------------------------------------------


def test_ways_to_wellness_scale(tmp_path):
    """224.00 on a scale from 0.5 to 1.4 points: 0.5 nothing, 0.95 half (112.00), 1.3 8/9 (199.11), 3 all.

    224.00 × 0.8 / 0.9 = 199.111… -> 199.11.  Total 535.11, each claim split on its own by
    largest remainder and the parts summed per payer (worked below).
    """
    claims = ("claim_id,participant_id,outcome_id,achieved_on,value\n"
              "k1,A,WELLBEING,2016-05-02,0.5\nk2,B,WELLBEING,2016-05-02,0.95\n"
              "k3,C,WELLBEING,2016-05-02,1.3\nk4,D,WELLBEING,2016-05-02,3\n")
    register = "participant_id,enrolled_on\n" + "".join(f"{p},2015-11-02\n" for p in "ABCD")
    doc = pay("ways-to-wellness", "2016-Q1", tmp_path, claims=claims, participants=register)
    assert doc["totals"]["entitled"] == "535.11"
    assert doc["rejections"] == {"BELOW_THRESHOLD": 1}
    # per claim: 112.00 -> 71.01/27.33/13.66; 199.11 -> 126.24/48.58/24.29; 224.00 -> 142.02/54.65/27.33
    # (199.11: 126.23574, 48.58284, 24.29142 -> floors 126.23/48.58/24.29, 0.01 left to CCG's .574)
    assert payers(doc) == {"CCG": ("339.27", "0.00", "339.27"), "CBO": ("130.56", "0.00", "130.56"),
                           "SOF": ("65.28", "0.00", "65.28")}
    assert_consistent(doc)


# --------------------------------------------------------------------------
# youth-engagement-fund: age bands at the start (SPEC 11.5)
# --------------------------------------------------------------------------


def test_youth_engagement_fund_age_bands(tmp_path):
    """Born 29 February 2000: 15 when enrolled 28 February 2016, 16 on 29 February 2016."""
    claims = CLAIMS_HEAD + ("a,Y1,ATTITUDE_1415,2016-05-03,,\nb,Y1,ATTITUDE_16,2016-05-03,,\n"
                            "c,Y2,ATTITUDE_1415,2016-05-03,,\nd,Y2,ATTITUDE_16,2016-05-03,,\n"
                            "e,Y3,ENTRY_QUAL,2016-05-03,,\nf,Y3,ATTITUDE_16,2016-05-03,,\n")
    register = ("participant_id,enrolled_on,date_of_birth\nY1,2016-02-28,2000-02-29\n"
                "Y2,2016-02-29,2000-02-29\nY3,2016-01-04,\n")
    doc = pay("youth-engagement-fund", "2016-Q2", tmp_path, claims=claims, participants=register)
    assert doc["totals"]["entitled"] == "2300.00"  # a 700 + d 700 + e 900
    assert doc["rejections"] == {"INELIGIBLE": 3}  # b (15), c (16), f (no date of birth)
    assert_consistent(doc)


# --------------------------------------------------------------------------
# The bundled evidence over two consecutive quarters (no ledger)
# --------------------------------------------------------------------------

CONSECUTIVE = {
    "dwp-innovation-fund": ("2014-Q1", "2014-Q2"),
    "fair-chance-fund": ("2016-Q1", "2016-Q2"),
    "kirklees-bop": ("2021-Q4", "2022-Q1"),  # across an April fiscal-year boundary
    "london-rough-sleeping": ("2018-Q4", "2019-Q1"),  # across a calendar year
    "mhep-employment": ("2020-Q3", "2020-Q4"),
    "norfolk-families": ("2020-Q4", "2021-Q1"),
    "peterborough": ("2016-Q2", "2016-Q3"),
    "ways-to-wellness": ("2017-Q4", "2018-Q1"),  # across an April fiscal-year boundary
    "youth-engagement-fund": ("2016-Q3", "2016-Q4"),
    "nyc-able": ("2015-Q4", "2016-Q1"),
}


@pytest.mark.parametrize("name", sorted(CONSECUTIVE))
def test_bundled_evidence_two_quarters(name):
    first, second = CONSECUTIVE[name]
    a = pay(name, first)
    b = pay(name, second)
    assert_consistent(a)
    assert_consistent(b)
    # Without a ledger previously paid is the entitlement recomputed as at the previous quarter
    assert b["totals"]["previously_paid"] == a["totals"]["entitled"]
    assert Decimal(b["totals"]["due"]) == Decimal(b["totals"]["entitled"]) - Decimal(a["totals"]["entitled"])
    # ... per payer too: previously paid is the split of that recomputed amount
    pa, pb = payers(a), payers(b)
    assert list(pa) == list(pb)
    for pid in pb:
        assert pb[pid][1] == pa[pid][0], pid
        assert Decimal(pb[pid][2]) == Decimal(pb[pid][0]) - Decimal(pa[pid][0]), pid
    # ... and per outcome
    for oa, ob in zip(a["by_outcome"], b["by_outcome"], strict=True):
        assert Decimal(ob["due"]) == Decimal(ob["entitled"]) - Decimal(oa["entitled"]), ob["outcome_id"]
    # the evidence grows: at least as many rows in scope later
    assert b["totals"]["claims"] >= a["totals"]["claims"]
    with contract(name).open("rb") as fh:
        assert [o["outcome_id"] for o in b["by_outcome"]] == [o["id"] for o in tomllib.load(fh)["outcomes"]]


@pytest.mark.parametrize("name", sorted(CONSECUTIVE))
def test_the_json_summary_is_the_same_with_or_without_the_whole_claim_table(name):
    """``--format json`` builds the table without carried columns; the figures must not change."""
    from sob.payrun import summary
    from sob.workflows import PayRequest, compute_pay

    quarter = CONSECUTIVE[name][1]
    whole = compute_pay(PayRequest(contract(name), quarter))
    lean = compute_pay(PayRequest(contract(name), quarter, summary_only=True))
    assert summary(lean.run) == summary(whole.run)
    # SPEC 10.6: `note` is the last column of both when adjustments show; the rest of the lean table leads the whole
    assert ("note" in lean.run.table.columns) == ("note" in whole.run.table.columns) == bool(lean.run.contract.adjustments)
    assert whole.run.table.columns[-1:] == lean.run.table.columns[-1:] or "note" not in whole.run.table.columns
    head = [c for c in lean.run.table.columns if c != "note"]
    assert head == whole.run.table.columns[: len(head)]


def test_a_close_with_json_output_still_records_the_whole_table(tmp_path):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    args = ["pay", str(contract("dwp-innovation-fund")), "--quarter", "2014-Q1", "--ledger", str(ledger), "--close",
            "--opening", "none"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    (closed,) = (ledger / "dwp-innovation-fund").glob("????-Q?.csv")  # not opening.csv
    assert "evidence_ref" in closed.read_text(encoding="utf-8").splitlines()[0].split(",")
