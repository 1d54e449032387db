"""``previously_paid`` without a ledger (SPEC 6): only the touched participants are assessed again.

When a claim submitted in the quarter meets the prerequisite of an earlier
claim, the quarter before must be assessed again.  On a contract where no rule
or cap looks across participants, ``sob.payrun`` assesses again only the
claims of the participants such a claim touches; these tests hold that to a
hand calculation and to a fresh assessment of everything.
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import make_contract, write_claims, write_participants

import sob.payrun as payrun
from sob.assessment import assess
from sob.contract import load_contract
from sob.evidence import read_evidence
from sob.quarters import Quarter

ROOT = Path(__file__).resolve().parent.parent

OUTCOMES = [
    {"id": "OTHER", "price": 800},
    {"id": "BASE", "price": 300},
    {"id": "NEXT", "price": 500, "requires": [{"outcome": "BASE", "min_days": 30}]},
]
# (claim_id, participant_id, outcome_id, achieved_on, submitted_on); quarters are calendar quarters
CLAIMS = [
    ("c4", "P1", "OTHER", date(2020, 1, 2), date(2020, 1, 3)),
    ("c2", "P1", "NEXT", date(2020, 2, 20), date(2020, 3, 1)),  # its BASE comes in 2020-Q2 only
    ("c1", "P1", "BASE", date(2020, 1, 5), date(2020, 4, 10)),
    ("c3", "P2", "BASE", date(2020, 1, 5), date(2020, 1, 10)),
    ("c5", "P2", "NEXT", date(2020, 3, 1), date(2020, 3, 2)),
]


def _case(tmp_path: Path, **caps) -> Path:
    write_claims(tmp_path / "claims.csv", CLAIMS)
    write_participants(tmp_path / "participants.csv", [("P1", date(2020, 1, 1)), ("P2", date(2020, 1, 1))])
    return make_contract(tmp_path, outcomes=OUTCOMES, caps={"per_participant": 1000, **caps},
                         evidence={"claims": "claims.csv", "participants": "participants.csv"})


def test_a_later_prerequisite_is_paid_again_for_its_participant_only(tmp_path):
    """By hand, cap 1,000 per participant, processing order by submitted_on.

    As at 2020-Q2: P1 c4 800, c2 min(500, 200) = 200 (its BASE c1 arrived), c1 capped 0;
    P2 c3 300, c5 500.  As at 2020-Q1: P1 c4 800, c2 PREREQUISITE_MISSING 0 (c1 not yet
    submitted); P2 unchanged.  So previously paid c4 800, c2 0, c1 0, c3 300, c5 500,
    and due c2 200, everything else 0.
    """
    contract = _case(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "sob", "pay", str(contract), "--quarter", "2020-Q2",
                           "--export", str(tmp_path / "out.csv")], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    table = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    got = {r["claim_id"]: (r["entitled"], r["previously_paid"], r["due"]) for r in table.iter_rows(named=True)}
    assert got == {
        "c4": ("800.00", "800.00", "0.00"),
        "c2": ("200.00", "0.00", "200.00"),
        "c1": ("0.00", "0.00", "0.00"),
        "c3": ("300.00", "300.00", "0.00"),
        "c5": ("500.00", "500.00", "0.00"),
    }


def test_only_the_touched_participants_claims_are_assessed_again(tmp_path, monkeypatch):
    contract, _ = load_contract(_case(tmp_path))
    assert contract is not None
    heights: list[int] = []
    real = payrun.assess

    def counting(contract, claims, *args, **kwargs):
        heights.append(claims.height)
        return real(contract, claims, *args, **kwargs)

    monkeypatch.setattr(payrun, "assess", counting)
    claims = pl.read_csv(tmp_path / "claims.csv", try_parse_dates=True)
    register = pl.read_csv(tmp_path / "participants.csv", try_parse_dates=True).with_columns(eligible=True)
    run = payrun.pay_quarter(contract, claims, register, None, Quarter.parse("2020-Q2"))
    assert heights == [5, 3]  # every claim as at 2020-Q2, then P1's three as at 2020-Q1
    assert dict(run.table.select("claim_id", "previously_paid").iter_rows())["c2"] == 0


def test_a_contract_total_makes_everyone_be_assessed_again(tmp_path, monkeypatch):
    """With a total cap a participant's verdicts depend on the others': no narrowing."""
    contract, _ = load_contract(_case(tmp_path, total=1_000_000))
    assert contract is not None and not payrun._own_rows_only(contract)
    heights: list[int] = []
    real = payrun.assess
    monkeypatch.setattr(payrun, "assess", lambda c, claims, *a, **k: heights.append(claims.height) or real(c, claims, *a, **k))
    claims = pl.read_csv(tmp_path / "claims.csv", try_parse_dates=True)
    register = pl.read_csv(tmp_path / "participants.csv", try_parse_dates=True).with_columns(eligible=True)
    payrun.pay_quarter(contract, claims, register, None, Quarter.parse("2020-Q2"))
    assert heights == [5, 5]


def test_every_contract_field_is_classified_for_the_narrowing():
    """A new field on an outcome, the caps or a payer may tie participants together.

    ``_own_rows_only`` must then be reviewed: this list fails until it is.
    """
    from sob.contract.model import Caps, Outcome, Payer

    assert {f.name for f in dataclasses.fields(Outcome)} == {
        "id", "name", "kind", "price", "prices", "tiers", "max_claims", "window_days", "exclusive", "cohorts",
        "volume_cap", "amount_cap", "payers", "profile", "requires", "direction", "min_improvement", "deadweight",
        "volume_cap_schedule", "amount_cap_schedule", "steps", "scale", "net_of", "age_at_enrolment",
    }
    assert {f.name for f in dataclasses.fields(Caps)} == {
        "per_participant", "total", "partial", "per_participant_schedule", "total_schedule",
    }
    assert {f.name for f in dataclasses.fields(Payer)} - {"id", "name", "share"} <= {"cap", "on_cap", "cap_schedule"}


# --- against a fresh assessment, on random per-participant cases ------------------------------


def _random_case(folder: Path, seed: int) -> Path:
    """Eight participants, thirty-two claims of four outcomes; some prerequisites submitted late."""
    r = random.Random(seed)
    outcomes = OUTCOMES + [{"id": "ALT", "price": 700, "exclusive": "g"}]
    outcomes[0] = {**outcomes[0], "exclusive": "g"}
    outcomes[1] = {**outcomes[1], "max_claims": r.choice([1, 2])}
    rows = []
    for i in range(30):
        achieved = date(2020, 1, 1) + timedelta(days=r.randrange(300))
        lag = r.choice([0, 5, 30, 90, 200])
        rows.append((f"k{i:02d}", f"P{r.randrange(8)}", r.choice(["OTHER", "BASE", "BASE", "NEXT", "NEXT", "ALT"]),
                     achieved, achieved + timedelta(days=lag), r.choice(["claimed"] * 9 + ["withdrawn"])))
    # and one planted pair: a BASE submitted 200 days late, after the NEXT that needs it
    d = date(2020, 1, 1) + timedelta(days=r.randrange(150))
    rows += [("k98", "P0", "BASE", d, d + timedelta(days=200), "claimed"),
             ("k99", "P0", "NEXT", d + timedelta(days=40), d + timedelta(days=41), "claimed")]
    write_claims(folder / "claims.csv", rows)
    write_participants(folder / "participants.csv", [(f"P{i}", date(2020, 1, 1)) for i in range(8)])
    caps = {"per_participant": r.choice([900, 1500, 2500]), "partial": r.choice([True, False])}
    return make_contract(folder, outcomes=outcomes, caps=caps,
                         evidence={"claims": "claims.csv", "participants": "participants.csv"})


@pytest.mark.parametrize("seed", range(40))
def test_narrowed_reassessment_equals_a_fresh_one(seed, tmp_path):
    contract, findings = load_contract(_random_case(tmp_path, seed))
    assert contract is not None and payrun._own_rows_only(contract), findings
    ev = read_evidence(contract, tmp_path / "claims.csv", tmp_path / "participants.csv", None)
    assert not ev.errors
    narrowed = 0
    for quarter in ("2020-Q2", "2020-Q3", "2020-Q4", "2021-Q1", "2021-Q2"):
        q = Quarter.parse(quarter)
        current = payrun._parts(assess(contract, ev.claims, ev.participants, None, q.end(1))
                                .rename({"payable": "entitled"}), contract, "entitled", "_ent_")
        before = q.previous().end(1)
        narrowed += payrun._participants_met_by_new_rows(contract, current, before).height > 0
        fresh = dict(assess(contract, ev.claims, ev.participants, None, before).select("claim_id", "payable").iter_rows())
        reused = payrun._recomputed_previous(contract, current, ev.claims, ev.participants, None, before)
        for cid, paid in reused.select("claim_id", "previously_paid").iter_rows():
            assert (paid or 0) == fresh.get(cid, 0), (quarter, cid)
    assert narrowed > 0  # the planted pair takes the narrowed path in some quarter
