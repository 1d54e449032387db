#!/usr/bin/env python3
"""Generate a large, realistic, deterministic benchmark case for ``sob``.

    python benchmarks/generate.py N OUT [--contract PATH] [--seed 1]

writes into the folder OUT:

- ``contract.toml``: the source contract (default: the DWP Innovation Fund
  Round 2 sample) with its ``[[examples]]`` and ``[evidence]`` removed and a
  new ``[evidence]`` table pointing at the two files below; every other byte
  is kept.
- ``participants.csv``: about N/4 participants (participant_id, enrolled_on,
  eligible, cohort).
- ``claims.csv``: exactly N claims (claim_id, participant_id, outcome_id,
  achieved_on, submitted_on, status, evidence_ref), in submission order.
- ``case.json``: what was generated (sizes, seed, the quarter holding the
  last submission), read by ``benchmarks/run.py``.

The evidence has no data errors (``sob pay`` runs without
``--reject-invalid``) but exercises the rules: prerequisite chains (some
missing or too early), a per-participant cap that binds for high achievers,
withdrawn and failed claims, late submissions (most within ``claims_end``,
some after it), resubmitted duplicates beyond ``max_claims``, achievements
before enrolment or after ``outcomes_end``, ineligible participants and
referrals after ``referrals_end``.

Everything is vectorised in polars; random numbers are a splitmix64 hash of
(row key, stream, seed) computed with wrapping UInt64 arithmetic, so the same
N and seed give byte-identical files on any machine and polars version that
writes CSV the same way.  No numpy, no ``random``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CONTRACT = ROOT / "sample_contracts" / "dwp-innovation-fund" / "contract.toml"
GENERATOR_VERSION = 1

CLAIM_COLUMNS = ["claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status", "evidence_ref"]
PARTICIPANT_COLUMNS = ["participant_id", "enrolled_on", "eligible", "cohort"]

# ---------------------------------------------------------------------------------------------
# Behaviour of the synthetic provider.  Probabilities are per participant (times the
# participant's engagement, see below) or per claim; days are after enrolment.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    prob: float  # chance that an average participant claims the outcome
    lo: int  # earliest achievement, days after enrolment
    hi: int  # latest achievement, days after enrolment


#: Outcomes of the DWP Innovation Fund card; any other outcome id gets DEFAULT_PROFILE.
PROFILES = {
    "BEHAVIOUR": Profile(0.55, 91, 400),
    "ATTENDANCE": Profile(0.55, 91, 400),
    "ATTITUDE": Profile(0.70, 30, 300),
    "ENTRY_QUAL": Profile(0.45, 120, 500),
    "BASIC_SKILLS": Profile(0.45, 120, 500),
    "QUAL_L1": Profile(0.45, 180, 600),
    "QUAL_L2": Profile(0.35, 270, 700),
    "QUAL_L3": Profile(0.15, 365, 800),
    "JOB_13W": Profile(0.30, 200, 800),
    # the complex card (complex_contract_text); chained outcomes follow their prerequisite instead
    "ENGAGE": Profile(0.85, 5, 89),
    "ACC_ENTRY": Profile(0.55, 14, 300),
    "JOB_PART_TIME": Profile(0.22, 60, 500),
    "JOB_FULL_TIME": Profile(0.28, 60, 500),
    "EDU_ENTRY": Profile(0.45, 30, 400),
    "VOLUNTEER": Profile(0.35, 30, 600),
    "WELLBEING": Profile(0.50, 30, 500),
}
DEFAULT_PROFILE = Profile(0.40, 60, 600)

ENGAGEMENT_MIN, ENGAGEMENT_SPAN = 0.3, 1.6  # engagement ~ U(0.3, 1.9), mean 1.1
CHAIN_PROB = 0.80  # a participant with the prerequisite claim goes on to the next outcome
ORPHAN_PROB = 0.03  # ... and one without it claims the next outcome anyway (PREREQUISITE_MISSING)
CHAIN_GAP = 60  # days beyond min_days, uniform
TOO_SOON_PROB = 0.04  # the chained claim comes 1-30 days before min_days is over
INELIGIBLE_PROB = 0.01
LATE_REFERRAL_PROB = 0.005  # enrolled 1-60 days after referrals_end
OFF_COHORT_PROB = 0.02  # an outcome limited to cohorts is claimed for another cohort
DUP_PROB = 0.01  # a claim is resubmitted under a new claim id (MAX_CLAIMS)
WITHDRAWN_PROB, FAILED_PROB = 0.015, 0.005
AFTER_END_PROB = 0.003  # achieved 1-40 days after outcomes_end
BEFORE_ENROLMENT_PROB = 0.002  # achieved 1-30 days before enrolment
LATE_CLAIM_PROB = 0.003  # submitted 1-45 days after claims_end
WINDOW_MISS_PROB = 0.02  # an outcome with window_days achieved 1-60 days after the window (OUT_OF_WINDOW)
LAST_SUBMISSION_DAYS = 150  # nothing is submitted later than this after claims_end
DEFAULT_COHORTS = ("age-14", "age-15")
CHUNK_PARTICIPANTS = 500_000
WRITE_CHUNK = 2_000_000
EPOCH = date(1970, 1, 1)

# ---------------------------------------------------------------------------------------------
# Deterministic pseudo-random numbers as polars expressions
# ---------------------------------------------------------------------------------------------

_U64 = pl.UInt64
_MASK = (1 << 64) - 1
_GOLD = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _u64(value: int) -> pl.Expr:
    return pl.lit(value & _MASK, _U64)


def _mix(x: pl.Expr) -> pl.Expr:
    """splitmix64 finaliser (wrapping UInt64 multiplication; // is a logical shift)."""
    x = x.xor(x // _u64(1 << 30)) * _u64(_M1)
    x = x.xor(x // _u64(1 << 27)) * _u64(_M2)
    return x.xor(x // _u64(1 << 31))


def _bits(key: pl.Expr, stream: int, seed: int) -> pl.Expr:
    """64 pseudo-random bits for each (key, stream, seed)."""
    base = (seed * 0x100000001B3 + (stream + 1) * 0xD1B54A32D192ED03) & _MASK
    return _mix(key.cast(_U64) * _u64(_GOLD) + _u64(base))


def unit(key: pl.Expr, stream: int, seed: int) -> pl.Expr:
    """Uniform Float64 in [0, 1)."""
    return (_bits(key, stream, seed) // _u64(1 << 11)).cast(pl.Float64) * (1.0 / (1 << 53))


def below(key: pl.Expr, stream: int, seed: int, m: int) -> pl.Expr:
    """Uniform Int64 in [0, m)."""
    return (_bits(key, stream, seed) % _u64(m)).cast(pl.Int64)


_P16 = 1 << 16


def _field(column: str, i: int) -> pl.Expr:
    """The i-th 16-bit slice (0..3) of a hash column: Int64 uniform in [0, 65536)."""
    return ((pl.col(column) // _u64(1 << (16 * i))) % _u64(_P16)).cast(pl.Int64)


def _chance(column: str, i: int, prob: float) -> pl.Expr:
    """True with probability ``prob`` (to 1/65536)."""
    return _field(column, i) < round(prob * _P16)


def _pick(column: str, i: int, m: int) -> pl.Expr:
    """Uniform Int64 in [0, m), m <= 65536."""
    return _field(column, i) * m // _P16


# ---------------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------------

_TABLE_HEADER = re.compile(r"""^[ \t]*\[\[?[ \t]*([A-Za-z0-9_.\-"' \t]+?)[ \t]*\]\]?[ \t]*(#.*)?\r?$""")


def bench_contract_text(text: str, claims: str = "claims.csv", participants: str = "participants.csv") -> str:
    """The contract text with ``[[examples]]`` removed and ``[evidence]`` pointing at the generated files.

    Works on the text, line by line, so everything else (comments, and the
    rate card's lines) stays byte-for-byte the same:

    - every ``[[examples]]`` table and its sub-tables go, with the comment
      block right above each;
    - an existing ``[evidence]`` table keeps its header line and comments but
      its keys are replaced by ``claims`` and ``participants`` (the generated
      files are ISO-dated, comma-separated and use canonical headers, so
      ``date_format``, ``delimiter`` and ``[evidence.columns]`` go too);
    - without an ``[evidence]`` table, one is appended.
    """
    out: list[str] = []
    mode = "keep"  # keep | examples | evidence
    have_evidence = False
    newline = "\r\n" if "\r\n" in text else "\n"
    ours = [f'claims = "{claims}"{newline}', f'participants = "{participants}"{newline}']
    for line in text.splitlines(keepends=True):
        m = _TABLE_HEADER.match(line)
        if m:
            name = re.sub(r"""["'\s]""", "", m.group(1))
            root = name.split(".")[0]
            mode = root if root in ("examples", "evidence") else "keep"
            if mode == "examples":
                while out and (not out[-1].strip() or out[-1].lstrip().startswith("#")):
                    out.pop()
                continue
            if mode == "evidence":
                if name == "evidence" and not line.lstrip().startswith("[["):
                    have_evidence = True
                    out.append(line)
                    out.extend(ours)
                continue  # [evidence.columns] and the like: dropped
        if mode == "keep":
            out.append(line)
        elif mode == "evidence" and (not line.strip() or line.lstrip().startswith("#")):
            out.append(line)  # comments and blank lines stay; keys are replaced
    body = "".join(out)
    if body and not body.endswith(("\n", "\r")):
        body += newline
    if not have_evidence:
        body += (
            f"{newline}# Added by benchmarks/generate.py: the generated evidence next to this file.{newline}"
            f"[evidence]{newline}" + "".join(ours)
        )
    parsed = tomllib.loads(body)  # fail here, not in the benchmark, if the rewrite broke the TOML
    if "examples" in parsed:
        raise ValueError("could not remove the [[examples]] of the contract")
    if parsed.get("evidence") != {"claims": claims, "participants": participants}:
        raise ValueError("could not point [evidence] at the generated files")
    return body


#: The cards ``--card`` names: the DWP sample copied, or the complex card written for N.
CARDS = ("dwp", "complex")
COMPLEX_COHORTS = ("18-24", "25-34", "35-49", "50+")


def complex_contract_text(n: int) -> str:
    """The complex card for N claims: every rule family of SPEC 5 at once.

    A housing and employment programme in the style of a Life Chances Fund
    card: 11 claim outcomes and one improvement outcome; ``requires`` chains
    three deep with ``min_days`` (ACC_ENTRY -> ACC_3M -> ACC_6M -> ACC_12M,
    JOB_FULL_TIME -> JOB_13W); an ``exclusive`` group (part-time
    or full-time job entry); ``window_days``; a dated ``prices`` schedule;
    volume ``tiers``; a ``volume_cap`` and an ``amount_cap``; ``cohorts``;
    two payers 0.7/0.3; a per-participant cap with ``partial = false`` that
    high achievers reach; a contract total that does not bind.  The volume
    and money limits scale with N so they bind late in the file at any size
    (about the last sixth of the outcome's claims).
    """
    per = n / 4.6 * 1.1  # claiming participants times mean engagement: expected claims = per * prob
    volunteers = max(1, round(per * PROFILES["VOLUNTEER"].prob * 0.85))
    wellbeing = max(1, round(per * PROFILES["WELLBEING"].prob * 0.8)) * 400
    tier = max(1, round(per * PROFILES["EDU_ENTRY"].prob / len(COMPLEX_COHORTS) * 0.5))
    total = max(1, n) * 5000
    return f"""schema = "sob/1"

# The complex benchmark card written by benchmarks/generate.py --card complex (N = {n}).
# Illustrative: every rule family at once, sized so that the limits bind for some claims.

[contract]
id = "bench-complex"
name = "Benchmark: housing, employment and wellbeing outcomes"
currency = "GBP"
start = 2019-04-01
referrals_end = 2021-09-30
outcomes_end = 2023-09-30
claims_end = 2023-12-31
fiscal_year_start_month = 4

[[payers]]
id = "LA"
name = "Local authority"
share = 0.7

[[payers]]
id = "CF"
name = "Central fund"
share = 0.3

[caps]
per_participant = 9000.00
total = {total}.00
partial = false

[evidence]
claims = "claims.csv"
participants = "participants.csv"
results = "results.csv"

[[outcomes]]
id = "ENGAGE"
name = "Engagement within 90 days of referral"
price = 300.00
window_days = 90

[[outcomes]]
id = "ACC_ENTRY"
name = "Entry into settled accommodation"
prices = [
  {{ from = 2019-04-01, price = 500.00 }},
  {{ from = 2021-04-01, price = 450.00 }},
]

[[outcomes]]
id = "ACC_3M"
name = "Accommodation sustained 3 months"
price = 1500.00
requires = [{{ outcome = "ACC_ENTRY", min_days = 91 }}]

[[outcomes]]
id = "ACC_6M"
name = "Accommodation sustained 6 months"
price = 1500.00
requires = [{{ outcome = "ACC_3M", min_days = 91 }}]

[[outcomes]]
id = "ACC_12M"
name = "Accommodation sustained 12 months"
price = 2000.00
requires = [{{ outcome = "ACC_6M", min_days = 182 }}]

[[outcomes]]
id = "JOB_PART_TIME"
name = "Part-time job entry"
price = 1000.00
exclusive = "job-entry"
window_days = 730

[[outcomes]]
id = "JOB_FULL_TIME"
name = "Full-time job entry"
price = 1500.00
exclusive = "job-entry"
window_days = 730

[[outcomes]]
id = "JOB_13W"
name = "Full-time job sustained 13 weeks"
price = 2000.00
requires = [{{ outcome = "JOB_FULL_TIME", min_days = 91 }}]

[[outcomes]]
id = "EDU_ENTRY"
name = "Entry into education or training"
cohorts = ["18-24", "25-34"]
tiers = [
  {{ up_to = {tier}, price = 1200.00 }},
  {{ price = 900.00 }},
]

[[outcomes]]
id = "VOLUNTEER"
name = "Volunteering placement"
price = 200.00
volume_cap = {volunteers}

[[outcomes]]
id = "WELLBEING"
name = "Wellbeing improvement (individual)"
price = 400.00
amount_cap = {wellbeing}.00

[[outcomes]]
id = "REOFFENDING"
name = "Reduction in reoffending, by cohort"
kind = "improvement"
direction = "decrease"
price = 100.00
min_improvement = 0.10
"""


@dataclass(frozen=True)
class _Outcome:
    id: str
    requires: tuple[tuple[str, int], ...]
    window_days: int | None
    cohorts: tuple[str, ...] | None


@dataclass(frozen=True)
class _Card:
    start: date
    referrals_end: date
    outcomes_end: date
    claims_end: date
    fy_start: int
    outcomes: tuple[_Outcome, ...]  # claim outcomes in prerequisite (topological) order
    cohorts: tuple[str, ...]


def _read_card(data: dict) -> _Card:
    c = data["contract"]
    start, outcomes_end = c["start"], c["outcomes_end"]
    referrals_end = c.get("referrals_end") or start + (outcomes_end - start) * 2 // 3
    claims_end = c.get("claims_end") or outcomes_end
    raw = [o for o in data.get("outcomes", []) if o.get("kind", "claim") == "claim"]
    by_id: dict[str, _Outcome] = {}
    for o in raw:
        reqs = []
        for r in o.get("requires", []):
            reqs.append((r, 0) if isinstance(r, str) else (r["outcome"], int(r.get("min_days", 0))))
        cohorts = tuple(o["cohorts"]) if "cohorts" in o else None
        by_id[o["id"]] = _Outcome(o["id"], tuple(reqs), o.get("window_days"), cohorts)
    ordered: list[_Outcome] = []
    done: set[str] = set()

    def visit(oid: str, stack: tuple[str, ...] = ()) -> None:
        if oid in done or oid not in by_id or oid in stack:
            return
        for req, _ in by_id[oid].requires:
            visit(req, stack + (oid,))
        done.add(oid)
        ordered.append(by_id[oid])

    for o in raw:
        visit(o["id"])
    if not ordered:
        raise ValueError("the contract has no outcomes of kind 'claim'")
    named = sorted({c for o in ordered for c in (o.cohorts or ())})
    return _Card(start, referrals_end, outcomes_end, claims_end, int(c.get("fiscal_year_start_month", 1)),
                 tuple(ordered), tuple(named) or DEFAULT_COHORTS)


def quarter_of(day: date, fy_start: int) -> str:
    """``YYYY-Qn`` of the fiscal quarter holding ``day`` (SPEC 5.1)."""
    months = (day.month - fy_start) % 12
    year = day.year if day.month >= fy_start else day.year - 1
    return f"{year}-Q{months // 3 + 1}"


def last_submission(card: _Card) -> date:
    """No claim is submitted after this day, so every claim is in scope of its quarter."""
    return card.claims_end + timedelta(days=LAST_SUBMISSION_DAYS)


def _day(d: date) -> int:
    return (d - EPOCH).days


# ---------------------------------------------------------------------------------------------
# Participants and claims
# ---------------------------------------------------------------------------------------------


def _participants(first: int, count: int, card: _Card, seed: int) -> pl.DataFrame:
    """Participants ``first`` .. ``first + count - 1``: p, enrolment day, eligibility, cohort, engagement."""
    p = pl.col("p")
    start, ref_end = _day(card.start), _day(card.referrals_end)
    cohort_idx = below(p, 5, seed, len(card.cohorts))
    cohort = pl.lit(card.cohorts[0])
    for i, name in enumerate(card.cohorts[1:], start=1):
        cohort = pl.when(cohort_idx == i).then(pl.lit(name)).otherwise(cohort)
    return pl.select(p=pl.int_range(first, first + count, dtype=pl.Int64)).with_columns(
        enrolled=pl.when(unit(p, 2, seed) < LATE_REFERRAL_PROB)
        .then(ref_end + 1 + below(p, 3, seed, 60))
        .otherwise(start + below(p, 1, seed, ref_end - start + 1)),
        eligible=unit(p, 4, seed) >= INELIGIBLE_PROB,
        cohort=cohort,
        engagement=ENGAGEMENT_MIN + ENGAGEMENT_SPAN * unit(p, 6, seed),
    )


def _reserve(card: _Card) -> dict[str, int]:
    """Days each outcome must leave before outcomes_end for the outcomes that require it."""
    reserve = {o.id: 0 for o in card.outcomes}
    for o in reversed(card.outcomes):
        for req, min_days in o.requires:
            if req in reserve:
                reserve[req] = max(reserve[req], reserve[o.id] + min_days + CHAIN_GAP)
    return reserve


def _wide(parts: pl.DataFrame, card: _Card, seed: int, n_slots: int) -> pl.DataFrame:
    """Per participant and outcome: claimed?, resubmitted?, achieved and submitted days, status."""
    p, enrolled = pl.col("p"), pl.col("enrolled")
    out_end, claims_end = _day(card.outcomes_end), _day(card.claims_end)
    last_day = _day(last_submission(card))
    reserve = _reserve(card)
    frame = parts
    for k, o in enumerate(card.outcomes):
        key = p * n_slots + k  # one key per (participant, outcome)
        s = 100 + 10 * k  # random streams of this outcome
        # Three 64-bit hashes per (participant, outcome), each cut into four 16-bit draws:
        # h0: claimed?, when, too soon?, gap | h1: off cohort?, odd date?, odd gap, resubmission lag
        # h2: submission lag kind, lag, status, resubmitted?
        frame = frame.with_columns(*(_bits(key, s + j, seed).alias(f"_h{j}") for j in range(3)))
        if o.requires and o.requires[0][0] in {x.id for x in card.outcomes[:k]}:
            req, min_days = o.requires[0]
            has_req = pl.col(f"inc_{req}")
            gap = (
                pl.when(_chance("_h0", 2, TOO_SOON_PROB))
                .then(min_days - 1 - _pick("_h0", 3, 30))
                .otherwise(min_days + _pick("_h0", 3, CHAIN_GAP + 1))
            )
            inc = pl.when(has_req).then(_chance("_h0", 0, CHAIN_PROB)).otherwise(_chance("_h0", 0, ORPHAN_PROB))
            achieved = pl.when(has_req).then(pl.col(f"ach_{req}") + gap).otherwise(enrolled + 91 + _pick("_h0", 1, 365))
        else:
            prof = PROFILES.get(o.id, DEFAULT_PROFILE)
            hi = pl.min_horizontal(pl.lit(prof.hi), out_end - enrolled - reserve[o.id])
            if o.window_days is not None:
                hi = pl.min_horizontal(hi, pl.lit(int(o.window_days)))
            hi = pl.max_horizontal(hi, pl.lit(0))
            lo = pl.min_horizontal(pl.lit(prof.lo), hi)
            inc = _field("_h0", 0) < (pl.col("engagement") * (prof.prob * _P16)).clip(upper_bound=_P16)
            achieved = enrolled + lo + _field("_h0", 1) * (hi - lo + 1) // _P16
            if o.window_days is not None:  # a few just miss the window (stream s + 3: only such outcomes draw it)
                achieved = (
                    pl.when(unit(key, s + 3, seed) < WINDOW_MISS_PROB)
                    .then(enrolled + int(o.window_days) + 1 + below(key, s + 4, seed, 60))
                    .otherwise(achieved)
                )
        if o.cohorts is not None:
            inc = inc & (pl.col("cohort").is_in(list(o.cohorts)) | _chance("_h1", 0, OFF_COHORT_PROB))
        odd = _field("_h1", 1)
        achieved = (
            pl.when(odd < round(AFTER_END_PROB * _P16))
            .then(out_end + 1 + _pick("_h1", 2, 40))
            .when(odd < round((AFTER_END_PROB + BEFORE_ENROLMENT_PROB) * _P16))
            .then(enrolled - 1 - _pick("_h1", 2, 30))
            .otherwise(achieved)
        )
        ach = pl.col(f"ach_{o.id}")
        lag_kind, lag = _field("_h2", 0), _field("_h2", 1)
        submitted = (
            pl.when(lag_kind < round(0.70 * _P16))
            .then(ach + lag % 31)
            .when(lag_kind < round(0.95 * _P16))
            .then(ach + 31 + lag % 60)
            .when(lag_kind < round((1.0 - LATE_CLAIM_PROB) * _P16))
            .then(ach + 91 + lag % 180)  # late, usually still within claims_end
            .otherwise(pl.max_horizontal(ach, pl.lit(claims_end)) + 1 + lag % 45)  # LATE_CLAIM
        )
        st = _field("_h2", 2)
        status = (
            pl.when(st < round(WITHDRAWN_PROB * _P16))
            .then(pl.lit("withdrawn"))
            .when(st < round((WITHDRAWN_PROB + FAILED_PROB) * _P16))
            .then(pl.lit("failed"))
            .otherwise(pl.lit("claimed"))
        )
        # a chain off a prerequisite achieved after outcomes_end could run past the last submission day
        achieved = pl.min_horizontal(achieved, pl.lit(last_day))
        frame = frame.with_columns(inc.alias(f"inc_{o.id}"), achieved.alias(f"ach_{o.id}"))
        frame = frame.with_columns(
            pl.min_horizontal(submitted, pl.lit(last_day)).alias(f"sub_{o.id}"),
            status.alias(f"st_{o.id}"),
            (pl.col(f"inc_{o.id}") & _chance("_h2", 3, DUP_PROB)).alias(f"dup_{o.id}"),
            (14 + _pick("_h1", 3, 120)).alias(f"dlag_{o.id}"),  # resubmitted this much later
        )
    frame = frame.drop("_h0", "_h1", "_h2")
    counts = [pl.col(f"inc_{o.id}").cast(pl.Int64) + pl.col(f"dup_{o.id}").cast(pl.Int64) for o in card.outcomes]
    return frame.with_columns(k=pl.sum_horizontal(counts))


def _long(wide: pl.DataFrame, card: _Card, first_pos: int, n: int) -> pl.DataFrame:
    """One row per claim (first N only, counting in participant then outcome order)."""
    last_day = _day(last_submission(card))
    wide = wide.with_columns(pos=first_pos + pl.col("k").cum_sum() - pl.col("k"))
    pieces = []
    offset = pl.lit(0, pl.Int64)
    for k, o in enumerate(card.outcomes):
        main_pos = pl.col("pos") + offset
        base = {"p": pl.col("p"), "outcome_id": pl.lit(o.id), "achieved": pl.col(f"ach_{o.id}")}
        pieces.append(
            wide.filter(pl.col(f"inc_{o.id}") & (main_pos < n)).select(
                **base, slot=pl.lit(2 * k, pl.Int32), submitted=pl.col(f"sub_{o.id}"), status=pl.col(f"st_{o.id}")
            )
        )
        pieces.append(
            wide.filter(pl.col(f"dup_{o.id}") & (main_pos + 1 < n)).select(
                **base,
                slot=pl.lit(2 * k + 1, pl.Int32),
                submitted=pl.min_horizontal(pl.col(f"sub_{o.id}") + pl.col(f"dlag_{o.id}"), pl.lit(last_day)),
                status=pl.lit("claimed"),
            )
        )
        offset = offset + pl.col(f"inc_{o.id}").cast(pl.Int64) + pl.col(f"dup_{o.id}").cast(pl.Int64)
    return pl.concat(pieces, rechunk=True)


RESULT_COLUMNS = ["result_id", "outcome_id", "cohort", "achieved_on", "submitted_on", "baseline", "observed",
                  "units", "status"]


def _results(card: _Card, outcome: str, seed: int) -> pl.DataFrame:
    """Cohort results of ``outcome``: per cohort, a withdrawn interim result and the final one.

    An improvement outcome admits one result per cohort (SPEC 5.3), so each
    cohort has its interim measurement (withdrawn: ``WITHDRAWN``) a year
    before its final one, measured two years before ``outcomes_end``.
    Baselines near 0.40 (a reoffending rate); cohort j improves by 4% + 6%·j
    of its baseline, plus up to 3%, so the first cohort falls below the
    card's 10% threshold (``BELOW_THRESHOLD``) and the others are paid.
    Values have three decimals; units (the cohort's size) are whole.
    """
    final = _day(card.outcomes_end) - 730
    grid = pl.DataFrame(
        [(2 * j + k, j, final - 365 * (1 - k), c) for j, c in enumerate(card.cohorts) for k in (0, 1)],
        schema={"r": pl.Int64, "j": pl.Int64, "achieved": pl.Int64, "cohort": pl.String}, orient="row",
    )
    r = pl.col("r")
    improvement = 40 + 60 * pl.col("j") + below(r, 902, seed, 31)  # thousandths of the baseline
    return grid.with_columns(baseline=350 + below(r, 901, seed, 101)).select(  # thousandths
        result_id=_ids("R", r + 1, 4),
        outcome_id=pl.lit(outcome),
        cohort="cohort",
        achieved_on=_to_date(pl.col("achieved")),
        submitted_on=_to_date(pl.col("achieved") + 30 + below(r, 903, seed, 61)),
        baseline=(pl.col("baseline") / 1000).round(3),
        observed=((pl.col("baseline") * (1000 - improvement) + 500) // 1000 / 1000).round(3),
        units=(150 + below(r, 904, seed, 251)),
        status=pl.when(r % 2 == 0).then(pl.lit("withdrawn")).otherwise(pl.lit("claimed")),
    )


def _ids(prefix: str, number: pl.Expr, width: int) -> pl.Expr:
    return pl.concat_str(pl.lit(prefix), number.cast(pl.String).str.zfill(width))


def _to_date(days: pl.Expr) -> pl.Expr:
    return days.cast(pl.Int32).cast(pl.Date)


def generate(n: int, out: Path, contract: Path = DEFAULT_CONTRACT, seed: int = 1, card_name: str = "dwp") -> dict:
    """Write the case for N claims into ``out``; returns what ``case.json`` holds.

    ``card_name`` ``"complex"`` writes :func:`complex_contract_text` and a
    ``results.csv`` for its improvement outcome instead of copying ``contract``.
    """
    if n < 1:
        raise ValueError("N must be at least 1")
    if card_name not in CARDS:
        raise ValueError(f"unknown card {card_name!r}: {', '.join(CARDS)}")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if card_name == "complex":
        text = complex_contract_text(n)
        (out / "contract.toml").write_text(text, encoding="utf-8", newline="")
        data = tomllib.loads(text)
        card = replace(_read_card(data), cohorts=COMPLEX_COHORTS)
        improvement = [o["id"] for o in data["outcomes"] if o.get("kind") == "improvement"]
        _results(card, improvement[0], seed).write_csv(out / "results.csv", date_format="%Y-%m-%d")
    else:
        text = contract.read_text(encoding="utf-8-sig")
        card = _read_card(tomllib.loads(text))
        (out / "contract.toml").write_text(bench_contract_text(text), encoding="utf-8", newline="")
    n_slots = 2 * len(card.outcomes)

    # Participants in chunks until the claims reach N (about 4.6 claims each on average,
    # so about N/4 participants; the last ones in the register may have no claims).
    p_target = max(1, math.ceil(n / 4))
    claims: list[pl.DataFrame] = []
    registers: list[pl.DataFrame] = []
    made = p0 = 0
    while p0 < p_target:
        size = min(CHUNK_PARTICIPANTS, p_target - p0)
        parts = _participants(p0, size, card, seed)
        if made < n:
            long = _long(_wide(parts, card, seed, n_slots), card, made, n)
            claims.append(long)
            made += long.height
        registers.append(parts.select("p", "enrolled", "eligible", "cohort"))
        p0 += size
        if p0 >= p_target and made < n:  # too few claims so far: more participants
            p_target += max(1, math.ceil((n - made) / 3))
    p_count = p0
    pw = max(6, len(str(p_count)))
    cw = max(6, len(str(n)))

    register = pl.concat(registers).select(
        participant_id=_ids("P", pl.col("p") + 1, pw),
        enrolled_on=_to_date(pl.col("enrolled")),
        eligible=pl.col("eligible"),
        cohort=pl.col("cohort"),
    )
    register.write_csv(out / "participants.csv", date_format="%Y-%m-%d")
    del register, registers

    # Submission order (the way a provider's file grows), ties by achievement, participant,
    # outcome.  One Int64 key sorts much faster than four columns; fall back if it cannot hold them.
    rows = pl.concat(claims)
    lo_day = min(int(rows["submitted"].min()), int(rows["achieved"].min()))
    day_bits = (max(int(rows["submitted"].max()), int(rows["achieved"].max())) - lo_day).bit_length()
    p_bits, s_bits = max(1, (p_count - 1).bit_length()), max(1, (n_slots - 1).bit_length())
    if 2 * day_bits + p_bits + s_bits <= 62:
        key = (pl.col("submitted") - lo_day) * (1 << day_bits) + (pl.col("achieved") - lo_day)
        rows = rows.sort(((key * (1 << p_bits)) + pl.col("p")) * (1 << s_bits) + pl.col("slot"))
    else:
        rows = rows.sort(["submitted", "achieved", "p", "slot"])
    del claims
    assert rows.height == n, (rows.height, n)
    last_submitted = EPOCH + timedelta(days=int(rows["submitted"].max()))
    with open(out / "claims.csv", "wb") as fh:
        for start in range(0, n, WRITE_CHUNK):
            chunk = rows.slice(start, WRITE_CHUNK).with_row_index("i", offset=start + 1)
            chunk = chunk.select(
                claim_id=_ids("C", pl.col("i"), cw),
                participant_id=_ids("P", pl.col("p") + 1, pw),
                outcome_id=pl.col("outcome_id"),
                achieved_on=_to_date(pl.col("achieved")),
                submitted_on=_to_date(pl.col("submitted")),
                status=pl.col("status"),
                evidence_ref=pl.concat_str(
                    pl.lit("EV-"),
                    (pl.col("p") + 1).cast(pl.String).str.zfill(pw),
                    pl.lit("-"),
                    (pl.col("slot") // 2 + 1).cast(pl.String).str.zfill(2),
                    pl.when(pl.col("slot") % 2 == 1).then(pl.lit("-R")).otherwise(pl.lit("")),
                ),
            )
            chunk.write_csv(fh, include_header=start == 0, date_format="%Y-%m-%d")
    del rows

    case = {
        "generator_version": GENERATOR_VERSION,
        "card": card_name,
        "n": n,
        "seed": seed,
        "participants": p_count,
        "source_contract": "complex" if card_name == "complex" else str(contract),
        "quarter": quarter_of(last_submission(card), card.fy_start),
        "last_submitted": last_submitted.isoformat(),
        "bytes": {
            name: (out / name).stat().st_size
            for name in ("contract.toml", "participants.csv", "claims.csv", "results.csv")
            if (out / name).exists()
        },
    }
    (out / "case.json").write_text(json.dumps(case, indent=2) + "\n", encoding="utf-8")
    return {**case, "seconds": round(time.perf_counter() - t0, 3)}


def _mb(b: int) -> str:
    return f"{b / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of claims")
    ap.add_argument("out", type=Path, help="folder to write the case into")
    ap.add_argument("--contract", type=Path, default=DEFAULT_CONTRACT, help="source contract (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--card", choices=CARDS, default="dwp",
                    help="dwp: copy --contract (default); complex: the generated card with every rule family")
    args = ap.parse_args(argv)
    case = generate(args.n, args.out, args.contract, args.seed, args.card)
    b = case["bytes"]
    print(
        f"{args.out}: claims.csv {case['n']} rows {_mb(b['claims.csv'])}, "
        f"participants.csv {case['participants']} rows {_mb(b['participants.csv'])}, contract.toml; "
        f"pay quarter {case['quarter']}; {case['seconds']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
