"""The benchmark generator (benchmarks/generate.py) and the engine on a generated case.

The generator must give byte-identical, error-free evidence that exercises the
rules.  The engine is also run on a generated case of a few thousand claims
and compared with the same engine on a small case cut out of it: with only
per-participant rules (no total, outcome or volume cap in the bench contract)
a participant's claims must come out the same whoever else is in the files.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
import tomllib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from sob.assessment import assess
from sob.contract import load_contract
from sob.evidence import read_evidence
from sob.quarters import Quarter

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "benchmarks" / "generate.py"


def _generator():
    spec = importlib.util.spec_from_file_location("sob_bench_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = _generator()
FILES = ("contract.toml", "participants.csv", "claims.csv", "case.json")


@pytest.fixture(scope="module")
def case2000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "n2000"
    gen.generate(2000, out, seed=1)
    return out


@pytest.fixture(scope="module")
def case3000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "n3000"
    gen.generate(3000, out, seed=3)
    return out


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def test_same_n_and_seed_give_byte_identical_files(case2000, tmp_path):
    again = tmp_path / "again"
    gen.generate(2000, again, seed=1)
    for name in FILES:
        assert (case2000 / name).read_bytes() == (again / name).read_bytes(), name


def test_another_seed_gives_other_claims(case2000, tmp_path):
    other = tmp_path / "other"
    gen.generate(2000, other, seed=2)
    assert (case2000 / "claims.csv").read_bytes() != (other / "claims.csv").read_bytes()


def test_row_counts_and_columns(case2000):
    claims, register = _read(case2000 / "claims.csv"), _read(case2000 / "participants.csv")
    assert claims.columns == gen.CLAIM_COLUMNS
    assert register.columns == gen.PARTICIPANT_COLUMNS
    assert claims.height == 2000
    assert 2000 // 5 <= register.height <= 2000 // 3
    case = json.loads((case2000 / "case.json").read_text())
    assert case["n"] == 2000 and case["participants"] == register.height


@pytest.mark.parametrize("n", [1, 7, 50])
def test_tiny_sizes_are_exact(tmp_path, n):
    gen.generate(n, tmp_path / str(n))
    assert _read(tmp_path / str(n) / "claims.csv").height == n


def test_evidence_is_consistent(case2000):
    claims, register = _read(case2000 / "claims.csv"), _read(case2000 / "participants.csv")
    assert register["participant_id"].is_unique().all()
    assert claims["claim_id"].is_unique().all()
    assert claims["participant_id"].is_in(register["participant_id"].implode()).all()
    dates = claims.select(pl.col("achieved_on", "submitted_on").str.to_date("%Y-%m-%d", strict=True))
    assert (dates["submitted_on"] >= dates["achieved_on"]).all()
    register.select(pl.col("enrolled_on").str.to_date("%Y-%m-%d", strict=True))
    assert set(claims["status"].unique()) <= {"claimed", "withdrawn", "failed"}
    assert set(register["eligible"].unique()) <= {"true", "false"}
    # the file grows in submission order, and claim ids follow it
    assert claims["claim_id"].to_list() == sorted(claims["claim_id"].to_list())
    assert dates["submitted_on"].is_sorted()


def test_contract_loads_without_findings_and_points_at_the_files(case2000):
    contract, findings = load_contract(case2000 / "contract.toml")
    assert findings == []
    assert contract is not None
    assert contract.examples == ()
    assert contract.evidence.claims == "claims.csv"
    assert contract.evidence.participants == "participants.csv"
    claims = _read(case2000 / "claims.csv")
    assert set(claims["outcome_id"].unique()) <= {o.id for o in contract.outcomes}
    evidence = read_evidence(contract, case2000 / "claims.csv", case2000 / "participants.csv", None)
    assert evidence.errors == []


def test_contract_rewrite_keeps_the_rate_card_byte_for_byte(case2000):
    source = gen.DEFAULT_CONTRACT.read_text(encoding="utf-8")
    written = (case2000 / "contract.toml").read_text(encoding="utf-8")
    expected = tomllib.loads(source)
    expected.pop("examples", None)
    expected["evidence"] = {"claims": "claims.csv", "participants": "participants.csv"}
    assert tomllib.loads(written) == expected
    card = source[source.index("[[outcomes]]"): source.index("[[examples]]") if "[[examples]]" in source else None]
    lines = card.splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()  # the comment block above the examples goes with them
    assert "\n".join(lines) in written
    assert "[[examples]]" not in written


def test_contract_rewrite_replaces_an_existing_evidence_table():
    text = (
        'schema = "sob/1"\n[contract]\nid = "x"\n\n[evidence]\nclaims = "e/c.csv"\ndate_format = "%d/%m/%Y"\n'
        '[evidence.columns]\nparticipant_id = "Ref"\n\n[[outcomes]]\nid = "A"\nprice = 1\n'
        '# example one\n[[examples]]\nname = "e"\n[examples.expect]\nentitled = 1\n\n[[outcomes]]\nid = "B"\nprice = 2\n'
    )
    out = gen.bench_contract_text(text)
    assert "date_format" not in out and "Ref" not in out and "example one" not in out
    assert out.count("[evidence]") == 1 and 'claims = "claims.csv"' in out
    assert '[[outcomes]]\nid = "B"' in out
    assert out.index("[evidence]") < out.index("[[outcomes]]")  # edited in place


def test_contract_rewrite_appends_evidence_when_there_is_none():
    out = gen.bench_contract_text('schema = "sob/1"\n[[outcomes]]\nid = "A"\nprice = 1\n')
    assert out.startswith('schema = "sob/1"\n[[outcomes]]\nid = "A"\nprice = 1\n')
    assert tomllib.loads(out)["evidence"] == {"claims": "claims.csv", "participants": "participants.csv"}


def _pay_json(case: Path, tmp_path: Path) -> tuple[dict, pl.DataFrame]:
    workflows = pytest.importorskip("sob.workflows")
    if not hasattr(workflows, "compute_pay"):
        pytest.skip("the engine CLI (sob.workflows.compute_pay) is not there yet")
    quarter = json.loads((case / "case.json").read_text())["quarter"]
    export = tmp_path / "out.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "sob", "pay", str(case / "contract.toml"), "--quarter", quarter,
         "--format", "json", "--export", str(export)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), pl.read_csv(export, infer_schema=False)


def test_sob_pay_on_a_generated_case_hits_the_cap_and_the_rules(case2000, tmp_path):
    summary, table = _pay_json(case2000, tmp_path)
    totals = summary["totals"]
    assert totals["claims"] == 2000
    assert totals["partial"] > 0 and totals["capped"] > 0
    assert summary["rejections"].get("PREREQUISITE_MISSING", 0) > 0
    assert summary["rejections"].get("WITHDRAWN", 0) > 0
    cut = table.filter(pl.col("status").is_in(["partial", "capped"]))
    assert cut.height == totals["partial"] + totals["capped"]
    assert set(cut["reason"].unique()) == {"PARTICIPANT_CAP"}
    rejected = totals["rejected"] / totals["claims"]
    assert 0.01 <= rejected <= 0.15  # a few percent rejected by the rules


# --- the engine on a large case against the engine on a small case cut from it --------------


def _per_participant_only(contract) -> None:
    """The comparison holds only when no rule or cap looks across participants."""
    assert contract.caps.total is None
    for o in contract.outcomes:
        assert o.volume_cap is None and o.amount_cap is None and not o.tiers, o.id


def test_engine_on_a_generated_case_matches_a_small_case_cut_from_it(case3000):
    contract, findings = load_contract(case3000 / "contract.toml")
    assert findings == [] and contract is not None
    _per_participant_only(contract)
    evidence = read_evidence(contract, case3000 / "claims.csv", case3000 / "participants.csv", None)
    assert evidence.errors == []
    fy = contract.fiscal_year_start_month
    as_at: date = Quarter.parse(json.loads((case3000 / "case.json").read_text())["quarter"]).end(fy)

    full = assess(contract, evidence.claims, evidence.participants, None, as_at)
    assert full.height == 3000

    # all claims of randomly chosen participants, about 300 claims
    per_participant = dict(evidence.claims.group_by("participant_id").len().iter_rows())
    ids = sorted(per_participant)
    random.Random(20240601).shuffle(ids)
    chosen, count = [], 0
    for pid in ids:
        if count >= 300:
            break
        chosen.append(pid)
        count += per_participant[pid]
    keep = pl.col("participant_id").is_in(chosen)
    small = assess(contract, evidence.claims.filter(keep), evidence.participants.filter(keep), None, as_at)
    assert small.height == count >= 300

    columns = ["claim_id", "participant_id", "outcome_id", "status", "reason", "price", "payable"]
    expected = full.filter(keep).select(columns).sort("claim_id")
    got = small.select(columns).sort("claim_id")
    assert got.equals(expected)
    # the cut is not trivial: it holds rejections and cap cuts, not only paid claims
    assert set(got["status"].unique()) >= {"paid", "rejected"}
    assert got.filter(pl.col("status").is_in(["partial", "capped"])).height > 0
    # and processing order is the same within each participant
    def order(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.sort("_order").group_by("participant_id", maintain_order=True).agg("claim_id")

    assert order(small).sort("participant_id").equals(order(full.filter(keep)).sort("participant_id"))


# --- the complex card (--card complex) ---------------------------------------------------------

COMPLEX_FILES = FILES + ("results.csv",)


@pytest.fixture(scope="module")
def complex4000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "complex4000"
    gen.generate(4000, out, seed=1, card_name="complex")
    return out


def test_complex_card_is_byte_identical_for_the_same_n_and_seed(complex4000, tmp_path):
    again = tmp_path / "again"
    gen.generate(4000, again, seed=1, card_name="complex")
    for name in COMPLEX_FILES:
        assert (complex4000 / name).read_bytes() == (again / name).read_bytes(), name


def _depth(outcomes: dict, oid: str) -> int:
    """Length of the longest ``requires`` chain below ``oid`` (0: no prerequisite)."""
    return max((1 + _depth(outcomes, r["outcome"]) for r in outcomes[oid].get("requires", [])), default=0)


def test_complex_card_has_every_rule_family(complex4000):
    contract, findings = load_contract(complex4000 / "contract.toml")
    assert contract is not None and not findings, findings
    data = tomllib.loads((complex4000 / "contract.toml").read_text())
    outcomes = {o["id"]: o for o in data["outcomes"]}
    assert len(outcomes) == 12
    assert max(_depth(outcomes, oid) for oid in outcomes) == 3
    assert all(r["min_days"] > 0 for o in outcomes.values() for r in o.get("requires", []))
    groups = [o["exclusive"] for o in outcomes.values() if "exclusive" in o]
    assert len(groups) == 2 and len(set(groups)) == 1
    for key in ("window_days", "prices", "tiers", "volume_cap", "amount_cap", "cohorts"):
        assert any(key in o for o in outcomes.values()), key
    assert [o["id"] for o in outcomes.values() if o.get("kind") == "improvement"] == ["REOFFENDING"]
    assert [(p["id"], p["share"]) for p in data["payers"]] == [("LA", 0.7), ("CF", 0.3)]
    assert data["caps"]["partial"] is False and data["caps"]["per_participant"] == 9000
    assert data["evidence"]["results"] == "results.csv"
    results = _read(complex4000 / "results.csv")
    assert results.columns == gen.RESULT_COLUMNS


def test_complex_evidence_passes_sob_validate(complex4000):
    proc = subprocess.run(
        [sys.executable, "-m", "sob", "validate", str(complex4000 / "contract.toml"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_complex_chains_mostly_respect_prerequisites(complex4000):
    claims = _read(complex4000 / "claims.csv")
    chained = claims.filter(pl.col("outcome_id").is_in(["ACC_3M", "ACC_6M", "ACC_12M", "JOB_13W"]))
    assert chained.height > 0.2 * claims.height
    # each chained claim's participant has a claim of the prerequisite, in most cases
    need = {"ACC_3M": "ACC_ENTRY", "ACC_6M": "ACC_3M", "ACC_12M": "ACC_6M", "JOB_13W": "JOB_FULL_TIME"}
    pairs = set(zip(claims["participant_id"], claims["outcome_id"], strict=True))
    has = sum((p, need[o]) in pairs for p, o in zip(chained["participant_id"], chained["outcome_id"], strict=True))
    assert 0.85 < has / chained.height < 1.0  # most, not all: some orphans for PREREQUISITE_MISSING


def test_complex_pay_binds_every_cap_and_rule(complex4000, tmp_path):
    summary, table = _pay_json(complex4000, tmp_path)
    assert summary["totals"]["claims"] == 4000 + 8  # claims and cohort results
    for reason in ("WITHDRAWN", "INELIGIBLE", "OUT_OF_WINDOW", "PREREQUISITE_MISSING", "MAX_CLAIMS", "EXCLUSIVE",
                   "LATE_CLAIM", "BELOW_THRESHOLD"):
        assert summary["rejections"].get(reason, 0) > 0, reason
    reasons = set(table.filter(pl.col("status") == "capped")["reason"].unique())
    assert {"PARTICIPANT_CAP", "OUTCOME_CAP", "VOLUME_CAP"} <= reasons
    assert summary["totals"]["partial"] == 0  # partial = false: a claim over a cap is paid nothing
    money = table.with_columns(pl.col("entitled", "price").cast(pl.Decimal(18, 2)))
    # per-participant cap of 9000.00: nobody over it, and a claim it capped would have gone over it
    per = money.filter(pl.col("kind") == "claim").group_by("participant_id").agg(pl.col("entitled").sum())
    assert per["entitled"].max() <= 9000
    capped = money.filter(pl.col("reason") == "PARTICIPANT_CAP").join(per, on="participant_id", suffix="_total")
    assert (capped["entitled_total"] + capped["price"] > 9000).all()
    # the volume cap: exactly volume_cap accepted volunteering claims once it binds
    cap = tomllib.loads((complex4000 / "contract.toml").read_text())
    volume = next(o["volume_cap"] for o in cap["outcomes"] if o["id"] == "VOLUNTEER")
    assert table.filter((pl.col("outcome_id") == "VOLUNTEER") & (pl.col("status") == "paid")).height == volume
    # both dated prices and both tiers are used; three cohorts' results are paid
    acc = set(money.filter((pl.col("outcome_id") == "ACC_ENTRY") & (pl.col("status") == "paid"))["price"])
    edu = set(money.filter((pl.col("outcome_id") == "EDU_ENTRY") & (pl.col("status") == "paid"))["price"])
    assert {str(p) for p in acc} == {"500.00", "450.00"} and {str(p) for p in edu} == {"1200.00", "900.00"}
    paid = table.filter((pl.col("kind") == "improvement") & (pl.col("status") == "paid"))
    assert paid.height == 3
    # SPEC 5.4 by hand: price 100.00 x units x (baseline - observed), no deadweight, rounded to pence
    results = {r["result_id"]: r for r in _read(complex4000 / "results.csv").iter_rows(named=True)}
    for rid, entitled in zip(paid["claim_id"], paid["entitled"], strict=True):
        r = results[rid]
        due = Decimal(100) * Decimal(r["units"]) * (Decimal(r["baseline"]) - Decimal(r["observed"]))
        assert Decimal(entitled) == due.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), rid
    by_payer = {p["payer_id"]: p["entitled"] for p in summary["by_payer"]}
    assert set(by_payer) == {"LA", "CF"}


def test_profile_pay_runs_on_a_case_folder_without_case_json(complex4000, tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    for name in ("contract.toml", "claims.csv", "participants.csv", "results.csv"):
        (case / name).write_bytes((complex4000 / name).read_bytes())
    script = [sys.executable, str(ROOT / "benchmarks" / "profile_pay.py"), str(case)]
    proc = subprocess.run(script, capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2 and "give --quarter" in proc.stderr
    proc = subprocess.run(script + ["--quarter", "2023-Q3", "--summary-only"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "results " + str(case / "results.csv") in proc.stdout  # found through the contract's [evidence]
    for stage in ("read_evidence", "assess as at 2023-Q3", "assess as at 2023-Q2", "pay_quarter", "export .parquet"):
        assert stage in proc.stdout, stage
