#!/usr/bin/env python3
"""Regenerate the synthetic evidence of every sample contract.

    python sample_contracts/make_evidence.py

Writes evidence/*.csv under each sample folder. Standard library only. Each sample has its own
fixed seed, so the output is byte-identical on every run and does not depend on the order in which
samples are generated.

The data are synthetic. Participants follow each contract's prerequisite chains, mostly correctly.
A realistic few percent of claims carry the problems the rules exist to catch:
withdrawn and failed claims, ineligible participants, referrals outside the referral period,
claims before enrolment, a missing prerequisite, a sustainment claimed too early, achievement out
of the window or out of the contract period, submissions after claims_end, duplicate claims beyond
max_claims, both sides of an exclusive pair, and participants whose claims hit a money cap.
Every row is valid data, so `sob pay` runs without --reject-invalid:
- every outcome exists and has the right kind;
- every participant is in the register;
- dates are well formed;
- submitted_on >= achieved_on.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plus(d: date, n: int) -> date:
    return d + timedelta(days=n)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


CLAIM_HEADER = ["claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status", "evidence_ref"]
REGISTER_HEADER = ["participant_id", "enrolled_on", "eligible", "cohort"]


def claim_row(r: dict, ref: str, *extra: str) -> list[str]:
    """One claims.csv row (canonical headers, ISO dates) from a booked claim."""
    return [r["id"], r["pid"], r["outcome"], r["achieved"].isoformat(), r["submitted"].isoformat(), r["status"], ref,
            *extra]


def write_evidence(sample: str, rows: list[list[str]], people: list, *, extra_header: tuple[str, ...] = (),
                   yes_no: tuple[str, str] = ("true", "false")) -> None:
    """claims.csv and participants.csv of a sample with canonical headers."""
    folder = HERE / sample / "evidence"
    write_csv(folder / "claims.csv", CLAIM_HEADER + list(extra_header), rows)
    write_csv(folder / "participants.csv", REGISTER_HEADER,
              [[p[0], p[1].isoformat(), yes_no[0] if p[2] else yes_no[1], p[3]] for p in people])


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    return plus(lo, rng.randint(0, (hi - lo).days))


class Book:
    """Claims of one sample, numbered in submission order when written."""

    def __init__(self, rng: random.Random, outcomes_end: date, claims_end: date):
        self.rng = rng
        self.outcomes_end = outcomes_end
        self.claims_end = claims_end
        self.rows: list[dict] = []

    def add(self, pid, outcome, achieved, *, lag=None, status="claimed", submitted=None, late_ok=False):
        """Add a claim. Claims achieved after outcomes_end are not claimed unless late_ok."""
        if achieved > self.outcomes_end and not late_ok:
            return None
        if submitted is None:
            submitted = plus(achieved, self.rng.randint(7, 45) if lag is None else lag)
            if submitted > self.claims_end and not late_ok:
                submitted = max(achieved, self.claims_end)
        row = {"pid": pid, "outcome": outcome, "achieved": achieved, "submitted": submitted, "status": status}
        self.rows.append(row)
        return row

    def of(self, pid, outcome):
        return [r for r in self.rows if r["pid"] == pid and r["outcome"] == outcome]

    def numbered(self, prefix: str, width: int = 5):
        """Claim ids follow submission order, as a claims system would issue them."""
        ordered = sorted(self.rows, key=lambda r: (r["submitted"], r["achieved"], r["pid"], r["outcome"]))
        for i, r in enumerate(ordered, start=1):
            r["id"] = f"{prefix}{i:0{width}d}"
        return ordered


def pick_status(rng: random.Random, p_withdrawn=0.012, p_failed=0.01) -> str:
    x = rng.random()
    if x < p_withdrawn:
        return "withdrawn"
    if x < p_withdrawn + p_failed:
        return "failed"
    return "claimed"


# ---------------------------------------------------------------------------------------------
# dwp-innovation-fund
# ---------------------------------------------------------------------------------------------

def dwp_innovation_fund() -> None:
    rng = random.Random(20121101)
    start, referrals_end = date(2012, 11, 1), date(2014, 10, 31)
    outcomes_end, claims_end = date(2015, 10, 31), date(2015, 12, 31)
    prices = {"BEHAVIOUR": 1300, "ATTENDANCE": 1400, "ATTITUDE": 700, "ENTRY_QUAL": 900,
              "BASIC_SKILLS": 900, "QUAL_L1": 1100, "QUAL_L2": 3300, "QUAL_L3": 5100,
              "JOB_13W": 3500, "JOB_26W": 2000}
    refs = {"BEHAVIOUR": "TL", "ATTENDANCE": "AR", "ATTITUDE": "TL", "ENTRY_QUAL": "CERT",
            "BASIC_SKILLS": "CERT", "QUAL_L1": "CERT", "QUAL_L2": "CERT", "QUAL_L3": "CERT",
            "JOB_13W": "EVT", "JOB_26W": "EVT"}
    book = Book(rng, outcomes_end, claims_end)
    people = []
    n = 640
    for i in range(1, n + 1):
        pid = f"IF2-{i:04d}"
        enrolled = rand_date(rng, start, referrals_end)
        eligible = rng.random() > 0.015
        cohort = "age-14" if rng.random() < 0.55 else "age-15"
        people.append([pid, enrolled, eligible, cohort])
    # a few referrals after referrals_end, taken on by the provider anyway
    for j in range(6):
        pid = f"IF2-{n + j + 1:04d}"
        people.append([pid, rand_date(rng, plus(referrals_end, 1), date(2015, 1, 31)), True, "age-15"])

    for pid, enrolled, _eligible, cohort in people:
        star = rng.random() < 0.08          # high achievers: these bind the 11,700 cap
        boost = 2.4 if star else 1.0
        older = cohort == "age-15"
        got = []

        def maybe(outcome, p, lo, hi, base=enrolled):
            if rng.random() < min(0.95, p * boost):
                d = plus(base, rng.randint(lo, hi))
                got.append((outcome, d))
                return d
            return None

        maybe("ATTITUDE", 0.40, 50, 200)
        maybe("BEHAVIOUR", 0.30, 95, 320)
        maybe("ATTENDANCE", 0.35, 95, 340)
        maybe("ENTRY_QUAL", 0.28, 120, 420)
        maybe("BASIC_SKILLS", 0.28, 120, 420)
        maybe("QUAL_L1", 0.32, 200, 600)
        maybe("QUAL_L2", 0.22 if older else 0.14, 280, 760)
        if older:
            maybe("QUAL_L3", 0.06, 560, 900)
        j13 = maybe("JOB_13W", 0.22 if older else 0.10, 420, 960)
        if j13 and rng.random() < 0.7:
            got.append(("JOB_26W", plus(j13, rng.randint(91, 150))))
        for outcome, d in got:
            book.add(pid, outcome, d, status=pick_status(rng))

    by_pid = {p[0]: p for p in people}
    regular = [p for p in people if p[2] and start <= p[1] <= referrals_end]

    def pick_claim(outcome):
        cands = [r for r in book.rows if r["outcome"] == outcome and r["status"] == "claimed"]
        return rng.choice(cands)

    # -- problems the rules should catch --
    # JOB_26W claimed too early: 13 further weeks not yet complete (PREREQUISITE_MISSING)
    cands = [r for r in book.rows if r["outcome"] == "JOB_13W" and r["status"] == "claimed"
             and r["achieved"] < date(2015, 6, 1) and not book.of(r["pid"], "JOB_26W")]
    for r13 in rng.sample(cands, 5):
        book.add(r13["pid"], "JOB_26W", plus(r13["achieved"], rng.randint(60, 90)))
    # JOB_26W with no 13-week claim at all (PREREQUISITE_MISSING)
    cands = [p for p in regular if not book.of(p[0], "JOB_13W") and p[1] < date(2014, 1, 1)]
    for p in rng.sample(cands, 3):
        book.add(p[0], "JOB_26W", plus(p[1], rng.randint(500, 650)))
    # the same first qualification claimed twice (MAX_CLAIMS)
    for _ in range(8):
        r = pick_claim(rng.choice(["QUAL_L1", "ENTRY_QUAL", "BASIC_SKILLS", "ATTITUDE"]))
        book.add(r["pid"], r["outcome"], r["achieved"], submitted=plus(r["submitted"], rng.randint(20, 90)))
    # achieved before the participant enrolled (BEFORE_ENROLMENT)
    for p in rng.sample(regular, 2):
        book.add(p[0], "ATTITUDE", plus(p[1], -rng.randint(10, 40)))
    # achieved after outcomes_end (OUT_OF_CONTRACT_PERIOD)
    for p in rng.sample(regular, 3):
        book.add(p[0], "BASIC_SKILLS", plus(outcomes_end, rng.randint(1, 40)), late_ok=True,
                 submitted=plus(outcomes_end, rng.randint(41, 55)))
    # submitted after claims_end (LATE_CLAIM)
    for _ in range(4):
        p = rng.choice(regular)
        book.add(p[0], "QUAL_L1", rand_date(rng, date(2015, 8, 1), outcomes_end), late_ok=True,
                 submitted=plus(claims_end, rng.randint(5, 60)))

    rows = []
    for r in book.numbered("C", 5):
        ref = f"{refs[r['outcome']]}-{r['achieved']:%y%m}-{by_pid[r['pid']][0][-4:]}"
        rows.append(claim_row(r, ref, f"{prices[r['outcome']]:.2f}"))
    write_evidence("dwp-innovation-fund", rows, people, extra_header=("amount_claimed",))


# ---------------------------------------------------------------------------------------------
# fair-chance-fund
# ---------------------------------------------------------------------------------------------

def fair_chance_fund() -> None:
    rng = random.Random(20150101)
    start, referrals_end = date(2015, 1, 1), date(2015, 12, 31)
    outcomes_end, claims_end = date(2017, 12, 31), date(2018, 3, 31)
    book = Book(rng, outcomes_end, claims_end)
    people = []
    n = 470
    for i in range(1, n + 1):
        # referrals ramp up over the first months of 2015
        enrolled = plus(start, int(364 * rng.random() ** 0.8))
        eligible = rng.random() > 0.015        # a few found to be in priority need, or outside 18-24
        people.append([f"FCF{i:04d}", enrolled, eligible, "18-24"])
    for j in range(5):                         # referrals taken after year 1
        people.append([f"FCF{n + j + 1:04d}", rand_date(rng, date(2016, 1, 4), date(2016, 2, 26)), True, "18-24"])

    for pid, enrolled, _eligible, _ in people:
        star = rng.random() < 0.05
        boost = 1.6 if star else 1.0

        def p(x):
            return rng.random() < min(0.97, x * boost)

        def add(outcome, d):
            return book.add(pid, outcome, d, status=pick_status(rng))

        if p(0.97):
            a1 = plus(enrolled, rng.randint(2, 30))
            add("ASSESS_1", a1)
            if p(0.8):
                a2 = plus(a1, rng.randint(60, 120))
                add("ASSESS_2", a2)
                if p(0.6):
                    add("ASSESS_3", plus(a2, rng.randint(60, 150)))
        if p(0.7):
            d = plus(enrolled, rng.randint(14, 150))
            add("ACC_ENTRY", d)
            for outcome, keep, lo, hi in (("ACC_3M", 0.8, 91, 110), ("ACC_6M", 0.85, 91, 110),
                                          ("ACC_12M", 0.8, 182, 200), ("ACC_18M", 0.8, 182, 200)):
                if not p(keep):
                    break
                d = plus(d, rng.randint(lo, hi))
                add(outcome, d)
        if p(0.45):
            add("EDU_ENTRY", plus(enrolled, rng.randint(30, 300)))
        for outcome, x, lo, hi in (("QUAL_ENTRY", 0.3, 90, 500), ("QUAL_L1", 0.18, 150, 600),
                                   ("QUAL_L2", 0.08, 250, 700)):
            if p(x):
                add(outcome, plus(enrolled, rng.randint(lo, hi)))
        if p(0.35):
            e = plus(enrolled, rng.randint(60, 500))
            add("EMP_ENTRY", e)
            if p(0.75):
                ft = rng.random() < 0.45
                add("FT_13W" if ft else "PT_13W", plus(e, rng.randint(91, 120)))
                if p(0.65):
                    ft26 = ft or rng.random() < 0.2        # some move from part time to full time
                    add("FT_26W" if ft26 else "PT_26W", plus(e, rng.randint(182, 220)))
        if p(0.25):
            d = plus(enrolled, rng.randint(20, 300))
            add("VOL_6W", d)
            for outcome, keep, lo, hi in (("VOL_13W", 0.75, 49, 60), ("VOL_20W", 0.7, 49, 60),
                                          ("VOL_26W", 0.7, 42, 55)):
                if not p(keep):
                    break
                d = plus(d, rng.randint(lo, hi))
                add(outcome, d)

    regular = [p for p in people if p[2] and start <= p[1] <= referrals_end]

    def pick_claim(outcome):
        return rng.choice([r for r in book.rows if r["outcome"] == outcome and r["status"] == "claimed"])

    # upgraded from part time to full time and claimed both 13-week outcomes (EXCLUSIVE)
    for _ in range(9):
        r = pick_claim("PT_13W")
        if not book.of(r["pid"], "FT_13W"):
            book.add(r["pid"], "FT_13W", plus(r["achieved"], rng.randint(20, 60)))
    # sustainment claimed before the gap is complete (PREREQUISITE_MISSING)
    for outcome, prev, lo, hi in (("ACC_3M", "ACC_ENTRY", 70, 90), ("ACC_12M", "ACC_6M", 150, 181),
                                  ("ACC_3M", "ACC_ENTRY", 70, 90), ("VOL_13W", "VOL_6W", 35, 48)):
        for _ in range(2):
            r = pick_claim(prev)
            if not book.of(r["pid"], outcome):
                book.add(r["pid"], outcome, plus(r["achieved"], rng.randint(lo, hi)))
    # a 3-month sustainment with no entry claimed at all (PREREQUISITE_MISSING)
    for pp in rng.sample(regular, 4):
        if not book.of(pp[0], "ACC_ENTRY") and not book.of(pp[0], "ACC_3M"):
            book.add(pp[0], "ACC_3M", plus(pp[1], rng.randint(100, 200)))
    # an assessment fee claimed twice (MAX_CLAIMS)
    for _ in range(6):
        r = pick_claim("ASSESS_1")
        book.add(r["pid"], "ASSESS_1", plus(r["achieved"], rng.randint(0, 20)))
    # achieved after outcomes_end, and submitted after claims_end
    for pp in rng.sample(regular, 3):
        book.add(pp[0], "VOL_6W", plus(outcomes_end, rng.randint(1, 30)), late_ok=True,
                 submitted=plus(outcomes_end, rng.randint(31, 60)))
    for _ in range(4):
        pp = rng.choice(regular)
        book.add(pp[0], "EDU_ENTRY", rand_date(rng, date(2017, 9, 1), outcomes_end), late_ok=True,
                 submitted=plus(claims_end, rng.randint(3, 45)))

    rows = []
    alternate: dict[str, int] = {}
    for r in book.numbered("FCF-", 5):
        if r["outcome"].startswith("ACC_") and r["outcome"] != "ACC_ENTRY":
            # FCF evidence alternates between a landlord letter and self-certification
            k = alternate.get(r["pid"], 0)
            alternate[r["pid"]] = k + 1
            kind = "LL" if k % 2 == 0 else "SC"
        elif r["outcome"] in ("ACC_ENTRY",):
            kind = "TEN"
        elif r["outcome"].startswith(("QUAL", "EDU")):
            kind = "CERT"
        elif r["outcome"].startswith(("EMP", "PT", "FT")):
            kind = "EMP"
        elif r["outcome"].startswith("VOL"):
            kind = "ORG"
        else:
            kind = "ASMT"
        rows.append(claim_row(r, f"{kind}/{r['id'][4:]}"))
    write_evidence("fair-chance-fund", rows, people, yes_no=("yes", "no"))


# ---------------------------------------------------------------------------------------------
# london-rough-sleeping
# ---------------------------------------------------------------------------------------------

BOROUGHS = ["Westminster", "Camden", "Lambeth", "Southwark", "Tower Hamlets", "Hackney", "Islington",
            "Newham", "Ealing", "Croydon"]


def london_rough_sleeping() -> None:
    rng = random.Random(20170401)
    start, referrals_end = date(2017, 4, 1), date(2017, 9, 30)
    outcomes_end, claims_end = date(2020, 3, 31), date(2020, 6, 30)
    book = Book(rng, outcomes_end, claims_end)
    people = []
    n = 372
    for i in range(1, n + 1):
        enrolled = plus(start, int(182 * rng.random() ** 1.5))   # most of the named cohort joins early
        eligible = rng.random() > 0.016                          # a few found not to be on the named list
        people.append([f"RS-{i:03d}", enrolled, eligible, rng.choice(BOROUGHS)])
    for j in range(4):
        people.append([f"RS-{n + j + 1:03d}", rand_date(rng, date(2017, 10, 2), date(2017, 11, 30)), True,
                       rng.choice(BOROUGHS)])

    for pid, enrolled, _eligible, _ in people:
        def p(x):
            return rng.random() < x

        def add(outcome, d):
            return book.add(pid, outcome, d, status=pick_status(rng))

        d = enrolled
        for k, keep in enumerate((0.95, 0.8, 0.6)):
            if not p(keep):
                break
            d = plus(d, rng.randint(7, 60) if k == 0 else rng.randint(60, 150))
            add("WELLBEING", d)
        if p(0.93):
            d = plus(enrolled, int(rng.randint(7, 300) * rng.random()))
            add("ACC_ENTRY", d)
            for outcome, keep, lo, hi in (("ACC_3M", 0.8, 91, 105), ("ACC_6M", 0.85, 91, 105),
                                          ("ACC_12M", 0.75, 182, 200), ("ACC_18M", 0.8, 182, 200),
                                          ("ACC_24M", 0.85, 182, 200)):
                if not p(keep):
                    break
                d = plus(d, rng.randint(lo, hi))
                add(outcome, d)
        for entry, sustained, x, keep in (("MH_ENTRY", "MH_SUSTAINED", 0.4, 0.6),
                                          ("ALC_ENTRY", "ALC_SUSTAINED", 0.3, 0.55),
                                          ("DRUG_ENTRY", "DRUG_SUSTAINED", 0.3, 0.5)):
            if p(x):
                d = plus(enrolled, rng.randint(14, 400))
                add(entry, d)
                if p(keep):
                    add(sustained, plus(d, rng.randint(60, 180)))
        if p(0.2):
            add("QUALIFICATION", plus(enrolled, rng.randint(90, 700)))
        for first, second, x in (("VOL_13W", "VOL_26W", 0.16), ("PT_13W", "PT_26W", 0.12)):
            if p(x):
                d = plus(enrolled, rng.randint(120, 700))
                add(first, d)
                if p(0.6):
                    add(second, plus(d, rng.randint(91, 120)))

    regular = [p for p in people if p[2] and start <= p[1] <= referrals_end]

    def pick_claim(outcome):
        return rng.choice([r for r in book.rows if r["outcome"] == outcome and r["status"] == "claimed"])

    # a 4th wellbeing assessment (MAX_CLAIMS: the outcome pays 3 times)
    thirds = [pid for pid in sorted({r["pid"] for r in book.rows if r["outcome"] == "WELLBEING"})
              if len(book.of(pid, "WELLBEING")) == 3]
    for pid in rng.sample(thirds, 10):
        last = max(r["achieved"] for r in book.of(pid, "WELLBEING"))
        book.add(pid, "WELLBEING", plus(last, rng.randint(60, 120)))
    # accommodation abandoned and a new tenancy claimed as a second entry (MAX_CLAIMS); the
    # 3-month claim counted from the first entry comes too early for the valid start date
    for _ in range(6):
        r = pick_claim("ACC_ENTRY")
        book.add(r["pid"], "ACC_ENTRY", plus(r["achieved"], rng.randint(30, 80)))
    for _ in range(5):
        r = pick_claim("ACC_ENTRY")
        if not book.of(r["pid"], "ACC_3M"):
            book.add(r["pid"], "ACC_3M", plus(r["achieved"], rng.randint(60, 90)))
    # sustained drug treatment with no entry claimed (PREREQUISITE_MISSING)
    for pp in rng.sample(regular, 3):
        if not book.of(pp[0], "DRUG_ENTRY") and not book.of(pp[0], "DRUG_SUSTAINED"):
            book.add(pp[0], "DRUG_SUSTAINED", plus(pp[1], rng.randint(100, 300)))
    # part-time work 26 weeks claimed 10 weeks after the 13-week outcome (PREREQUISITE_MISSING)
    for _ in range(3):
        r = pick_claim("PT_13W")
        if not book.of(r["pid"], "PT_26W"):
            book.add(r["pid"], "PT_26W", plus(r["achieved"], rng.randint(60, 85)))
    # submitted after claims_end (LATE_CLAIM)
    for _ in range(3):
        pp = rng.choice(regular)
        book.add(pp[0], "QUALIFICATION", rand_date(rng, date(2020, 1, 6), outcomes_end), late_ok=True,
                 submitted=plus(claims_end, rng.randint(5, 40)))

    rows = [claim_row(r, f"SC{r['id'][3:]}") for r in book.numbered("LRS", 5)]
    write_evidence("london-rough-sleeping", rows, people)


# ---------------------------------------------------------------------------------------------
# kirklees-bop (UK dates and the provider's own column headers)
# ---------------------------------------------------------------------------------------------

LOCALITIES = ["Huddersfield", "Dewsbury", "Batley", "Spen Valley", "Holme Valley", "Colne Valley"]


def kirklees_bop() -> None:
    rng = random.Random(20190901)
    start, referrals_end = date(2019, 9, 1), date(2023, 9, 30)
    outcomes_end, claims_end = date(2024, 9, 30), date(2024, 12, 31)
    prices = {"WB_1": 100, "WB_2": 100, "WB_3": 100, "MH_ACCESS": 200, "MH_SUSTAINED": 600,
              "ACC_ENTRY": 500, "ACC_3M": 1500, "ACC_6M": 1500, "ACC_12M": 1500, "QUAL_FULL": 2500,
              "EMP_ENTRY": 500, "EMP_13W": 3000, "EMP_26W": 2000}
    book = Book(rng, outcomes_end, claims_end)
    people = []
    n = 600
    for i in range(1, n + 1):
        enrolled = rand_date(rng, start, referrals_end)
        eligible = rng.random() > 0.015          # e.g. under 16 at referral
        people.append([f"KB{10000 + i}", enrolled, eligible, rng.choice(LOCALITIES)])
    for j in range(5):
        people.append([f"KB{10000 + n + j + 1}", rand_date(rng, date(2023, 10, 2), date(2023, 12, 22)), True,
                       rng.choice(LOCALITIES)])

    for pid, enrolled, _eligible, _ in people:
        def p(x):
            return rng.random() < x

        def add(outcome, d):
            return book.add(pid, outcome, d, status=pick_status(rng))

        d = enrolled
        for outcome, keep, lo, hi in (("WB_1", 0.95, 5, 40), ("WB_2", 0.7, 60, 150), ("WB_3", 0.5, 60, 150)):
            if not p(keep):
                break
            d = plus(d, rng.randint(lo, hi))
            add(outcome, d)
        if p(0.3):
            d = plus(enrolled, rng.randint(14, 200))
            add("MH_ACCESS", d)
            if p(0.6):
                add("MH_SUSTAINED", plus(d, rng.randint(91, 150)))
        if p(0.45):
            d = plus(enrolled, rng.randint(7, 180))
            add("ACC_ENTRY", d)
            for outcome, keep, lo, hi in (("ACC_3M", 0.8, 91, 110), ("ACC_6M", 0.8, 91, 110),
                                          ("ACC_12M", 0.75, 182, 200)):
                if not p(keep):
                    break
                d = plus(d, rng.randint(lo, hi))
                add(outcome, d)
        if p(0.12):
            add("QUAL_FULL", plus(enrolled, rng.randint(120, 600)))
        if p(0.2):
            d = plus(enrolled, rng.randint(60, 400))
            add("EMP_ENTRY", d)
            if p(0.6):
                d = plus(d, rng.randint(91, 110))
                add("EMP_13W", d)
                if p(0.7):
                    add("EMP_26W", plus(d, rng.randint(91, 110)))

    regular = [p for p in people if p[2] and start <= p[1] <= referrals_end]

    def pick_claim(outcome):
        return rng.choice([r for r in book.rows if r["outcome"] == outcome and r["status"] == "claimed"])

    # sustainment claimed too early (PREREQUISITE_MISSING)
    for outcome, prev, lo, hi in (("ACC_3M", "ACC_ENTRY", 75, 90), ("EMP_13W", "EMP_ENTRY", 70, 90),
                                  ("MH_SUSTAINED", "MH_ACCESS", 60, 90)):
        for _ in range(2):
            r = pick_claim(prev)
            if not book.of(r["pid"], outcome):
                book.add(r["pid"], outcome, plus(r["achieved"], rng.randint(lo, hi)))
    # 2nd wellbeing assessment with no 1st (PREREQUISITE_MISSING)
    for pp in rng.sample(regular, 3):
        if not book.of(pp[0], "WB_1") and not book.of(pp[0], "WB_2"):
            book.add(pp[0], "WB_2", plus(pp[1], rng.randint(60, 120)))
    # an outcome resubmitted under a new claim number (MAX_CLAIMS)
    for _ in range(8):
        r = pick_claim(rng.choice(["ACC_ENTRY", "EMP_ENTRY", "WB_1", "QUAL_FULL"]))
        book.add(r["pid"], r["outcome"], r["achieved"], submitted=plus(r["submitted"], rng.randint(14, 120)))
    # submitted after claims_end (LATE_CLAIM)
    for _ in range(4):
        pp = rng.choice(regular)
        book.add(pp[0], "WB_1", rand_date(rng, date(2024, 7, 1), outcomes_end), late_ok=True,
                 submitted=plus(claims_end, rng.randint(3, 40)))

    uk = "%d/%m/%Y"
    statuses = {"claimed": "Claimed", "withdrawn": "Withdrawn", "failed": "Failed"}
    rows = []
    for r in book.numbered("KBOP-", 5):
        rows.append([r["id"], r["pid"], r["outcome"], r["achieved"].strftime(uk), r["submitted"].strftime(uk),
                     statuses[r["status"]], f"EV{r['id'][5:]}", f"{prices[r['outcome']]:.2f}"])
    folder = HERE / "kirklees-bop" / "evidence"
    write_csv(folder / "claims.csv", ["Claim No", "Client Ref", "Outcome Code", "Date Achieved", "Date Submitted",
                                      "Claim Status", "Evidence Ref", "Amount Claimed"], rows)
    write_csv(folder / "participants.csv", ["Client Ref", "Referral Date", "Eligible", "Locality"],
              [[p[0], p[1].strftime(uk), "Yes" if p[2] else "No", p[3]] for p in people])


# ---------------------------------------------------------------------------------------------
# mhep-employment
# ---------------------------------------------------------------------------------------------

def mhep_employment() -> None:
    rng = random.Random(20190701)
    start, referrals_end = date(2019, 7, 1), date(2022, 3, 31)
    outcomes_end, claims_end = date(2022, 12, 31), date(2023, 3, 31)
    book = Book(rng, outcomes_end, claims_end)
    people = []
    n = 430
    for i in range(1, n + 1):
        enrolled = rand_date(rng, start, referrals_end)
        eligible = rng.random() > 0.014          # e.g. not on the secondary-care caseload
        cohort = "secondary-care" if rng.random() < 0.7 else "primary-care"
        people.append([f"MH{i:04d}", enrolled, eligible, cohort])
    for j in range(3):
        people.append([f"MH{n + j + 1:04d}", rand_date(rng, date(2022, 4, 4), date(2022, 5, 27)), True,
                       "secondary-care"])

    for pid, enrolled, _eligible, _ in people:
        def add(outcome, d):
            return book.add(pid, outcome, d, status=pick_status(rng))

        if rng.random() > 0.88:
            continue
        # about 4% of engagements come after the 90-day window (OUT_OF_WINDOW)
        eng = plus(enrolled, rng.randint(7, 80) if rng.random() > 0.04 else rng.randint(91, 130))
        add("ENGAGE", eng)
        if rng.random() < 0.5:
            # about 3% of job starts come after the 365-day window (OUT_OF_WINDOW)
            js = plus(eng, rng.randint(20, 260)) if rng.random() > 0.03 else plus(enrolled, rng.randint(366, 420))
            add("JOB_START", js)
            if rng.random() < 0.65:
                sus = plus(js, rng.randint(91, 130))
                if sus > plus(enrolled, 456):
                    sus = max(plus(js, 91), plus(enrolled, 456))
                add("SUST_16PLUS" if rng.random() < 0.55 else "SUST_LT16", sus)

    def pick_claim(outcome):
        return rng.choice([r for r in book.rows if r["outcome"] == outcome and r["status"] == "claimed"])

    # hours went up after the <16h sustainment was claimed, and the 16h+ one was claimed too (EXCLUSIVE)
    for _ in range(8):
        r = pick_claim("SUST_LT16")
        if not book.of(r["pid"], "SUST_16PLUS"):
            book.add(r["pid"], "SUST_16PLUS", plus(r["achieved"], rng.randint(14, 50)))
    # sustainment claimed before 13 weeks in work (PREREQUISITE_MISSING)
    for _ in range(5):
        r = pick_claim("JOB_START")
        if not book.of(r["pid"], "SUST_LT16") and not book.of(r["pid"], "SUST_16PLUS"):
            book.add(r["pid"], rng.choice(["SUST_LT16", "SUST_16PLUS"]), plus(r["achieved"], rng.randint(70, 90)))
    # sustainment submitted after claims_end (LATE_CLAIM)
    enrolled_on = {p[0]: p[1] for p in people}
    late = [r for r in book.rows if r["outcome"] == "JOB_START" and r["status"] == "claimed"
            and date(2022, 7, 1) <= r["achieved"] <= date(2022, 9, 30)
            and plus(r["achieved"], 91) <= plus(enrolled_on[r["pid"]], 456)
            and not book.of(r["pid"], "SUST_LT16") and not book.of(r["pid"], "SUST_16PLUS")]
    for r in rng.sample(late, min(3, len(late))):
        book.add(r["pid"], "SUST_16PLUS", plus(r["achieved"], 91), late_ok=True,
                 submitted=plus(claims_end, rng.randint(5, 30)))

    rows = [claim_row(r, f"IPS-{r['id'][4:]}") for r in book.numbered("MHEP", 5)]
    write_evidence("mhep-employment", rows, people)


# ---------------------------------------------------------------------------------------------
# peterborough (cohort results only)
# ---------------------------------------------------------------------------------------------

CLAIMS_HEADER = ["claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status"]
RESULTS_HEADER = ["result_id", "outcome_id", "cohort", "achieved_on", "submitted_on", "baseline", "observed",
                  "units", "status"]


def peterborough() -> None:
    folder = HERE / "peterborough" / "evidence"
    write_csv(folder / "claims.csv", CLAIMS_HEADER, [])
    write_csv(folder / "results.csv", RESULTS_HEADER, [
        # cohort 1: 142 vs 155 reconviction events per 100 offenders, 8.4% (published, 2014)
        ["PB-C1", "COHORT_1", "1", "2014-06-30", "2014-08-07", "1.55", "1.42", "1000", "claimed"],
        # cohort 2 (illustrative figures, 9.7%): also short of the 10% early-payment trigger
        ["PB-C2", "COHORT_2", "2", "2016-06-30", "2016-08-11", "1.54", "1.39", "1000", "claimed"],
        # an interim pooled estimate, withdrawn when the final matched comparison became available
        ["PB-P0", "POOLED", "1+2", "2016-06-30", "2016-08-11", "1.54", "1.41", "2000", "withdrawn"],
        # pooled: 9% overall reduction (published, 2017); pooled figures illustrative
        ["PB-P1", "POOLED", "1+2", "2017-06-30", "2017-07-27", "1.545", "1.405", "2000", "claimed"],
        # illustrative: a cohort-2 figure against the final matched comparison, submitted after the
        # pooled payment (11%): NETTED, because the pooled payment (net_of) already settled cohort 2
        ["PB-C2F", "COHORT_2", "2 (final comparison)", "2017-06-30", "2017-09-14", "1.54", "1.37", "1000",
         "claimed"],
    ])


# ---------------------------------------------------------------------------------------------
# nyc-able (cohort results paid by echelons of reduction in jail days)
# ---------------------------------------------------------------------------------------------

def nyc_able() -> None:
    folder = HERE / "nyc-able" / "evidence"
    write_csv(folder / "claims.csv", CLAIMS_HEADER, [])
    write_csv(folder / "results.csv", RESULTS_HEADER, [
        # the first released cohort: no reduction (as happened): jail days rose, BELOW_THRESHOLD
        ["NYC-01", "JAIL_DAYS", "2012-13 releases", "2015-06-30", "2015-07-31", "34000", "34120", "", "claimed"],
        # illustrative: 3240 of 36000 jail days avoided = 9%, the 8.5% echelon (4,800,000.00)
        ["NYC-02", "JAIL_DAYS", "2013-14 releases", "2015-06-30", "2015-08-28", "36000", "32760", "1", "claimed"],
        # an interim estimate, withdrawn when the 24-month figures came in
        ["NYC-03", "JAIL_DAYS", "2014-15 releases", "2015-09-30", "2015-10-30", "35000", "31500", "", "withdrawn"],
        # illustrative: 4200 of 35000 = exactly 12%, the 12% echelon (10,400,000.00), cut to what is
        # left of the 11,712,000.00 commitment after NYC-02: 6,912,000.00 (CONTRACT_CAP)
        ["NYC-04", "JAIL_DAYS", "2014-15 releases", "2015-12-31", "2016-01-29", "35000", "30800", "", "claimed"],
    ])


# ---------------------------------------------------------------------------------------------
# norfolk-families (cohort results per quarterly measurement period)
# ---------------------------------------------------------------------------------------------

def norfolk_families() -> None:
    rng = random.Random(20191001)
    claims_end = date(2024, 12, 31)
    rows = []
    # April fiscal quarters from 2019-Q3 (Oct-Dec 2019) to 2024-Q2 (Jul-Sep 2024)
    periods = []
    y, q = 2019, 3
    while (y, q) <= (2024, 2):
        m0 = 3 + 3 * (q - 1)                   # months after January of year y where the quarter starts
        first = date(y + m0 // 12, m0 % 12 + 1, 1)
        m1 = m0 + 3
        last = date(y + m1 // 12, m1 % 12 + 1, 1) - timedelta(days=1)
        periods.append((f"{y}-Q{q}", first, last))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    n = len(periods)
    seq = 0
    for k, (label, first, last) in enumerate(periods):
        days = (last - first).days + 1
        # families join in the first two years and are paid for up to 3 years, so the cohorts ramp up
        # and then tail off
        ramp = min(1.0, (k + 1) / 8) * min(1.0, (n - k) / 6)
        for outcome, tag, size, care_lo, care_hi in (("EDGE_OF_CARE", "EOC", 120, 0.08, 0.22),
                                                     ("IN_CARE", "IC", 30, 0.45, 0.80)):
            children = max(3, int(size * ramp * rng.uniform(0.9, 1.1)))
            baseline = children * days
            observed = int(baseline * rng.uniform(care_lo, care_hi))
            submitted = plus(last, rng.randint(25, 50))
            seq += 1
            rows.append([f"NF-{seq:03d}", outcome, f"{tag} {label}", last.isoformat(), submitted.isoformat(),
                         str(baseline), str(observed), "1", "claimed"])
    # a restated period: the provider resubmits its figure for a quarter already reported (MAX_CLAIMS)
    r = rows[8]
    seq += 1
    rows.append([f"NF-{seq:03d}", r[1], r[2], r[3], plus(date.fromisoformat(r[4]), 35).isoformat(), r[5],
                 str(int(int(r[6]) * 0.9)), "1", "claimed"])
    # a figure withdrawn after audit, and its corrected replacement (paid)
    r = rows[17]
    r[8] = "withdrawn"
    seq += 1
    rows.append([f"NF-{seq:03d}", r[1], r[2], r[3], plus(date.fromisoformat(r[4]), 28).isoformat(), r[5],
                 str(int(int(r[6]) * 1.07)), "1", "claimed"])
    # the last period's in-care figure arrives after claims_end (LATE_CLAIM)
    last_ic = next(x for x in rows if x[1] == "IN_CARE" and x[2].endswith(periods[-1][0]))
    last_ic[4] = plus(claims_end, 16).isoformat()
    folder = HERE / "norfolk-families" / "evidence"
    write_csv(folder / "claims.csv", CLAIMS_HEADER, [])
    write_csv(folder / "results.csv", RESULTS_HEADER, rows)


# ---------------------------------------------------------------------------------------------
# ways-to-wellness (a sliding scale on each claim's value)
# ---------------------------------------------------------------------------------------------

def ways_to_wellness() -> None:
    """Patients referred over five years; a Wellbeing Star review about six months on, with its change.

    The change is drawn around the published scale: some at or below 0.5 (BELOW_THRESHOLD), most
    in between (a share of the price), some from 1.4 up (the whole price), a few exactly on the ends.
    """
    rng = random.Random(20150401)
    start, referrals_end = date(2015, 4, 1), date(2020, 3, 31)
    outcomes_end, claims_end = date(2022, 3, 31), date(2022, 6, 30)
    book = Book(rng, outcomes_end, claims_end)
    people = []
    values: dict[int, str] = {}
    for i in range(1, 361):
        enrolled = rand_date(rng, start, referrals_end)
        people.append([f"WW{i:04d}", enrolled, rng.random() > 0.01, "west-newcastle"])
    for pid, enrolled, _eligible, _ in people:
        if rng.random() > 0.85:
            continue
        review = plus(enrolled, rng.randint(170, 230) if rng.random() > 0.03 else rng.randint(366, 400))
        row = book.add(pid, "WELLBEING", review, status=pick_status(rng))
        if row is None:
            continue
        x = rng.random()
        change = "0.5" if x < 0.03 else "1.4" if x < 0.06 else f"{rng.gauss(0.95, 0.55):.2f}"
        values[id(row)] = change
    rows = [claim_row(r, f"WS-{r['id'][2:]}", values[id(r)]) for r in book.numbered("WW", 5)]
    write_evidence("ways-to-wellness", rows, people, extra_header=("value",))


# ---------------------------------------------------------------------------------------------
# youth-engagement-fund (age bands at the start)
# ---------------------------------------------------------------------------------------------

YEF_HEADER = ["participant_id", "enrolled_on", "eligible", "cohort", "date_of_birth"]


def youth_engagement_fund() -> None:
    """Young people of 13 to 17 at the start; school outcomes for 14/15 year olds, jobs for 16+.

    A few claims are for the wrong band (INELIGIBLE), a few participants have no date of birth
    (INELIGIBLE for banded outcomes), and some birthdays fall on 29 February.
    """
    rng = random.Random(20150101)
    start, referrals_end = date(2015, 1, 1), date(2016, 6, 30)
    outcomes_end, claims_end = date(2018, 6, 30), date(2018, 9, 30)
    book = Book(rng, outcomes_end, claims_end)
    people = []
    for i in range(1, 321):
        enrolled = rand_date(rng, start, referrals_end)
        age = rng.choice([13, 14, 14, 15, 15, 16, 16, 17])
        born = plus(date(enrolled.year - age - 1, enrolled.month, 1), rng.randint(0, 364))
        if rng.random() < 0.02:
            born = date(2000, 2, 29)
        if born > plus(enrolled, -365 * 13):
            born = plus(enrolled, -365 * 13 - rng.randint(1, 300))
        people.append([f"YE{i:04d}", enrolled, rng.random() > 0.01, "sheffield", born if rng.random() > 0.03 else None])
    for pid, enrolled, _eligible, _, born in people:
        def add(outcome, d):
            return book.add(pid, outcome, d, status=pick_status(rng))

        if born is None:
            age = 15
        else:
            age = enrolled.year - born.year - ((enrolled.month, enrolled.day) < (born.month, born.day))
        young = age <= 15
        if rng.random() < 0.04:  # claimed for the other band (INELIGIBLE)
            young = not young
        if young:
            if rng.random() < 0.7:
                add("ATTITUDE_1415", plus(enrolled, rng.randint(60, 200)))
            if rng.random() < 0.5:
                add("ATTENDANCE", plus(enrolled, rng.randint(120, 300)))
        else:
            if rng.random() < 0.6:
                add("ATTITUDE_16", plus(enrolled, rng.randint(60, 200)))
            if rng.random() < 0.35:
                job = plus(enrolled, rng.randint(120, 400))
                if add("JOB_13W", job) is not None and rng.random() < 0.6:
                    add("JOB_26W", plus(job, rng.randint(91, 140)))
        if rng.random() < 0.4:
            add("ENTRY_QUAL", plus(enrolled, rng.randint(90, 500)))
    rows = [claim_row(r, f"YEF-{r['id'][2:]}") for r in book.numbered("YE", 5)]
    folder = HERE / "youth-engagement-fund" / "evidence"
    write_csv(folder / "claims.csv", CLAIM_HEADER, rows)
    write_csv(folder / "participants.csv", YEF_HEADER,
              [[p[0], p[1].isoformat(), "true" if p[2] else "false", p[3], "" if p[4] is None else p[4].isoformat()]
               for p in people])


def main() -> None:
    dwp_innovation_fund()
    fair_chance_fund()
    london_rough_sleeping()
    kirklees_bop()
    mhep_employment()
    peterborough()
    norfolk_families()
    ways_to_wellness()
    youth_engagement_fund()
    nyc_able()


if __name__ == "__main__":
    main()
