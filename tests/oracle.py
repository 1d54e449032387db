"""A deliberately naive, sequential reading of SPEC 5 and 6, for property tests.

It shares nothing with the engine but the Contract dataclasses: plain Python
lists and dicts, every rule applied claim by claim exactly as the spec words
it.  The engine must agree with it on every random case.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction


def _key(row):
    undated = row["achieved_on"] is None or row["submitted_on"] is None
    return (undated, row["submitted_on"] or date.max, row["achieved_on"] or date.max, row["id"])


def cap_at(plain, schedule, day):
    """SPEC 10.5: a run as at ``day`` uses the schedule entry with the latest ``from`` on or before it.

    A cap written as one value (no schedule) is that value.
    """
    if not schedule:
        return plain
    in_force = [point for point in schedule if point.start <= day]
    return max(in_force, key=lambda point: point.start).limit if in_force else schedule[0].limit


def as_at_caps(contract, day):
    """The contract with every cap replaced by its value in force on ``day`` (plain values, no schedules)."""
    from dataclasses import replace

    caps = replace(contract.caps, per_participant=cap_at(contract.caps.per_participant,
                                                          contract.caps.per_participant_schedule, day),
                   total=cap_at(contract.caps.total, contract.caps.total_schedule, day),
                   per_participant_schedule=(), total_schedule=())
    payers = tuple(replace(p, cap=cap_at(p.cap, p.cap_schedule, day), cap_schedule=()) for p in contract.payers)
    outcomes = tuple(replace(o, volume_cap=cap_at(o.volume_cap, o.volume_cap_schedule, day), volume_cap_schedule=(),
                             amount_cap=cap_at(o.amount_cap, o.amount_cap_schedule, day), amount_cap_schedule=())
                     for o in contract.outcomes)
    return replace(contract, caps=caps, payers=payers, outcomes=outcomes)
def _birthday(year, born):
    """The day a birthday falls on in ``year``: 29 February falls on 1 March in other years (SPEC 11.5)."""
    try:
        return date(year, born.month, born.day)
    except ValueError:
        return date(year, 3, 1)


def _age_in_band(born, enrolled, band):
    """SPEC 11.5: the birthdays passed on or before enrolled_on, counted one year at a time."""
    if born is None:
        return False
    age = sum(1 for year in range(born.year + 1, enrolled.year + 1) if _birthday(year, born) <= enrolled)
    return (band.min is None or age >= band.min) and (band.max is None or age <= band.max)


def _passes_zero_at(value, scale):
    """SPEC 11.4: the value is past zero_at (above it, or below it when zero_at > full_at)."""
    if value is None:
        return False
    v, zero = Fraction(Decimal(value)), Fraction(scale.zero_at)
    return v > zero if zero < Fraction(scale.full_at) else v < zero


def _scaled(price, value, scale):
    """price × min(1, (value − zero_at) / (full_at − zero_at)), rounded once, half away from zero."""
    zero, full = Fraction(scale.zero_at), Fraction(scale.full_at)
    exact = price * min(Fraction(1), (Fraction(Decimal(value)) - zero) / (full - zero))
    whole = exact.numerator // exact.denominator  # >= 0: the value passed zero_at
    return whole + (1 if exact - whole >= Fraction(1, 2) else 0)


def assess(contract, claims, participants, results, as_at, parts=None):
    """claims/results: lists of dicts (id, participant_id/cohort, outcome_id, dates, status, error...).

    Returns {id: (status, reason, price, payable)} and the processing order.
    ``parts``, when given, is filled with {id: [each payer's part]} (SPEC 11.1).
    Dated caps take their entries in force at ``as_at`` for the whole run (SPEC 10.5).
    """
    contract = as_at_caps(contract, as_at)
    reg = None if participants is None else {p["participant_id"]: p for p in participants}
    outcomes = {o.id: o for o in contract.outcomes}
    rows = []
    for c in claims:
        rows.append(dict(c, kind="claim"))
    for r in results:
        rows.append(dict(r, kind="improvement"))
    rows = [r for r in rows if r["achieved_on"] is None or r["submitted_on"] is None or r["submitted_on"] <= as_at]
    rows += adjustment_rows(contract, as_at, {r["id"] for r in [*claims, *results]})
    rows.sort(key=_key)
    claim_rows = [r for r in rows if r["kind"] == "claim"]

    def rules_1_to_7(c):
        if c.get("error"):
            return c["error"]
        if c["status"] in ("withdrawn", "failed"):
            return "WITHDRAWN"
        o = outcomes[c["outcome_id"]]
        if reg is not None:
            p = reg[c["participant_id"]]
            if p["eligible"] is False or (o.cohorts is not None and p.get("cohort") not in o.cohorts):
                return "INELIGIBLE"
            if o.age_at_enrolment is not None and not _age_in_band(p.get("date_of_birth"), p["enrolled_on"],
                                                                   o.age_at_enrolment):
                return "INELIGIBLE"  # SPEC 11.5: outside the band, or no date of birth
            if p["enrolled_on"] < contract.start or (
                contract.referrals_end is not None and p["enrolled_on"] > contract.referrals_end
            ):
                return "ENROLMENT_OUT_OF_PERIOD"
            if c["achieved_on"] < p["enrolled_on"]:
                return "BEFORE_ENROLMENT"
            if o.window_days is not None and c["achieved_on"] > p["enrolled_on"] + timedelta(days=o.window_days):
                return "OUT_OF_WINDOW"
        if c["achieved_on"] < contract.start or c["achieved_on"] > contract.outcomes_end:
            return "OUT_OF_CONTRACT_PERIOD"
        if c["submitted_on"] > contract.claims_end:
            return "LATE_CLAIM"
        if o.scale is not None and not _passes_zero_at(c.get("value"), o.scale):
            return "BELOW_THRESHOLD"  # SPEC 11.4: the rule after rule 7
        return None

    pre = {c["id"]: rules_1_to_7(c) for c in claim_rows}
    memo: dict[str, bool] = {}

    def qualified(c) -> bool:
        if c["id"] in memo:
            return memo[c["id"]]
        ok = pre[c["id"]] is None
        if ok:
            for req in outcomes[c["outcome_id"]].requires:
                limit = c["achieved_on"] - timedelta(days=req.min_days)
                if not any(
                    d["participant_id"] == c["participant_id"]
                    and d["outcome_id"] == req.outcome
                    and d["achieved_on"] <= limit
                    and qualified(d)
                    for d in claim_rows
                ):
                    ok = False
                    break
        memo[c["id"]] = ok
        return ok

    reason = {}
    for c in claim_rows:
        r = pre[c["id"]]
        if r is None and not qualified(c):
            r = "PREREQUISITE_MISSING"
        reason[c["id"]] = r
    counts: dict = {}
    for c in claim_rows:
        if reason[c["id"]] is None:
            k = (c["participant_id"], c["outcome_id"])
            counts[k] = counts.get(k, 0) + 1
            if counts[k] > outcomes[c["outcome_id"]].max_claims:
                reason[c["id"]] = "MAX_CLAIMS"
    groups: set = set()
    for c in claim_rows:
        g = outcomes[c["outcome_id"]].exclusive if c.get("error") is None else None
        if reason[c["id"]] is None and g is not None:
            k = (c["participant_id"], g)
            if k in groups:
                reason[c["id"]] = "EXCLUSIVE"
            groups.add(k)
    vol: dict = {}
    rank: dict = {}
    for c in claim_rows:
        if reason[c["id"]] is None:
            o = outcomes[c["outcome_id"]]
            vol[o.id] = vol.get(o.id, 0) + 1
            rank[c["id"]] = vol[o.id]
            if o.volume_cap is not None and vol[o.id] > o.volume_cap:
                reason[c["id"]] = "VOLUME_CAP"
    price = {}
    for c in claim_rows:
        if reason[c["id"]] is None:
            o = outcomes[c["outcome_id"]]
            if o.price is not None:
                price[c["id"]] = o.price
            elif o.prices:
                price[c["id"]] = [p.price for p in o.prices if p.start <= c["achieved_on"]][-1]
            else:
                for t in o.tiers:
                    if t.up_to is None or rank[c["id"]] <= t.up_to:
                        price[c["id"]] = t.price
                        break
            if o.scale is not None and price.get(c["id"]) is not None:
                price[c["id"]] = _scaled(price[c["id"]], c["value"], o.scale)
    # cohort results
    slots: set = set()
    for r in [r for r in rows if r["kind"] == "improvement"]:
        o = outcomes.get(r["outcome_id"])
        why = r.get("error")
        if why is None and r["status"] in ("withdrawn", "failed"):
            why = "WITHDRAWN"
        elif why is None and (r["achieved_on"] < contract.start or r["achieved_on"] > contract.outcomes_end):
            why = "OUT_OF_CONTRACT_PERIOD"
        elif why is None and r["submitted_on"] > contract.claims_end:
            why = "LATE_CLAIM"
        if why is None:
            k = (r["outcome_id"], r["cohort"])
            if k in slots:
                why = "MAX_CLAIMS"
            slots.add(k)
        if why is None:
            b, ob, u = Fraction(Decimal(r["baseline"])), Fraction(Decimal(r["observed"])), Fraction(Decimal(r.get("units") or "1"))
            imp = b - ob if o.direction == "decrease" else ob - b
            # SPEC 11.3: steps reached when imp >= at x baseline; the highest one's amount, as it stands
            reached = [st.amount for st in o.steps if imp >= Fraction(st.at) * b]
            # SPEC 11.4: a scale on the absolute improvement, after min_improvement
            z = None if o.scale is None else (Fraction(o.scale.zero_at), Fraction(o.scale.full_at))
            if o.steps and not reached:
                why = "BELOW_THRESHOLD"
            elif o.steps:
                price[r["id"]] = reached[-1]
            elif imp < Fraction(o.min_improvement) * b or (z is not None and imp <= z[0]):
                why = "BELOW_THRESHOLD"  # min_improvement first, then the scale's zero_at
            else:
                f = Fraction(1) if z is None else min(Fraction(1), (imp - z[0]) / (z[1] - z[0]))
                p = o.price if o.price is not None else [x.price for x in o.prices if x.start <= r["achieved_on"]][-1]
                exact = Fraction(p) * u * imp * (1 - Fraction(o.deadweight)) * f
                sign = -1 if exact < 0 else 1
                q, rem = divmod(abs(exact.numerator), exact.denominator)
                if 2 * rem >= exact.denominator:
                    q += 1
                price[r["id"]] = sign * q
        reason[r["id"]] = why
    for a in [r for r in rows if r["kind"] == "adjustment"]:  # SPEC 10.6: no rule; the price is the amount
        reason[a["id"]], price[a["id"]] = None, a["amount"]
    # caps, sequentially
    used_p: dict = {}
    used_o: dict = {}
    used_t = 0
    used_payer = {p.id: 0 for p in contract.payers}
    out = {}
    parts = {} if parts is None else parts
    settled: set = set()  # SPEC 11.6: outcomes a netting row has settled so far
    entitled_of: dict = {}  # what each outcome's rows were entitled to so far, in processing order
    for r in rows:
        rid = r["id"]
        o = outcomes.get(r["outcome_id"])
        if r["kind"] == "improvement" and o is not None:
            if r["outcome_id"] in settled and reason[rid] is None:
                reason[rid] = "NETTED"
            elif o.net_of and reason[rid] in (None, "BELOW_THRESHOLD"):
                if reason[rid] is None:
                    price[rid] = max(0, price[rid] - sum(entitled_of.get(x, 0) for x in o.net_of))
                settled |= set(o.net_of)
        if reason[rid] is not None:
            st = "capped" if reason[rid] == "VOLUME_CAP" else "rejected"
            out[rid] = (st, reason[rid], None, 0)
            parts[rid] = [0] * len(contract.payers)
            continue
        p = price[rid]
        if r["kind"] == "adjustment":
            out[rid], parts[rid] = adjustment_in_walk(contract, r, used_payer)
            used_t += p
            continue
        o = outcomes[r["outcome_id"]]
        rooms = []  # SPEC 10.6: a headroom below zero (after an adjustment) counts as zero
        if contract.caps.per_participant is not None and r["kind"] == "claim":
            rooms.append((max(contract.caps.per_participant - used_p.get(r["participant_id"], 0), 0), 0,
                          "PARTICIPANT_CAP"))
        if o.amount_cap is not None:
            rooms.append((max(o.amount_cap - used_o.get(o.id, 0), 0), 1, "OUTCOME_CAP"))
        if contract.caps.total is not None:
            rooms.append((max(contract.caps.total - used_t, 0), 2, "CONTRACT_CAP"))
        if contract.caps.partial:  # a headroom below zero (after an adjustment) counts as zero (SPEC 10.6)
            pay = max(0, min([p] + [x[0] for x in rooms]))
        else:
            pay = p if all(p <= x[0] for x in rooms) else 0
        why = min(rooms)[2] if pay < p else None
        # SPEC 11.1: split A, cut each payer's part to its headroom, shift or drop the excess
        row_parts = payer_caps(contract, o, pay, used_payer)
        if sum(row_parts) < pay:
            why = why or "PAYER_CAP"
            if not contract.caps.partial:
                row_parts = [0] * len(row_parts)
            pay = sum(row_parts)
        parts[rid] = row_parts
        for payer, part in zip(contract.payers, row_parts):
            used_payer[payer.id] += part
        if r["kind"] == "claim":
            used_p[r["participant_id"]] = used_p.get(r["participant_id"], 0) + pay
        used_o[o.id] = used_o.get(o.id, 0) + pay
        used_t += pay
        if r["kind"] == "improvement":
            entitled_of[o.id] = entitled_of.get(o.id, 0) + pay
        if pay == p:
            out[rid] = ("paid", None, p, pay)
        else:
            out[rid] = ("partial" if pay > 0 else "capped", why, p, pay)
    return out, [r["id"] for r in rows]


def adjustment_rows(contract, as_at, evidence_ids) -> list[dict]:
    """SPEC 10.6: each adjustment agreed by ``as_at`` is a row dated ``on``, with no participant or outcome.

    An adjustment whose id a claim or result also uses is a data error: the
    evidence's rejected row stands for it, so it has no row of its own.
    """
    return [{"id": a.id, "kind": "adjustment", "achieved_on": a.on, "submitted_on": a.on, "participant_id": None,
             "outcome_id": None, "amount": a.amount}
            for a in contract.adjustments if a.on <= as_at and a.id not in evidence_ids]


def adjustment_shares(contract, adjustment_id) -> list[Fraction]:
    """An adjustment's own ``payers`` table, else the contract's split; in ``[[payers]]`` order."""
    a = next(a for a in contract.adjustments if a.id == adjustment_id)
    if a.payers is None:
        return [Fraction(p.share) for p in contract.payers]
    named = dict(a.payers)
    return [Fraction(named.get(p.id, 0)) for p in contract.payers]


def signed_split(amount: int, shares_: list[Fraction]) -> list[int]:
    """SPEC 10.6: a negative amount is split as the negative of the split of its absolute value."""
    return split(amount, shares_) if amount >= 0 else [-x for x in split(-amount, shares_)]


def adjustment_in_walk(contract, row, used_payer):
    """An adjustment in the cap walk: never cut, its parts count against every payer cap (headroom may go negative).

    Returns (its verdict, its parts); the caller counts its amount against the total cap.
    """
    parts = signed_split(row["amount"], adjustment_shares(contract, row["id"]))
    for payer, part in zip(contract.payers, parts):
        used_payer[payer.id] += part
    return ("paid", "ADJUSTMENT", row["amount"], row["amount"]), parts


def split(amount: int, shares: list[Fraction]) -> list[int]:
    base = [amount * s for s in shares]
    parts = [int(b.numerator // b.denominator) for b in base]
    rema = [b - p for b, p in zip(base, parts)]
    left = amount - sum(parts)
    for i in sorted(range(len(shares)), key=lambda i: (-rema[i], i))[:left]:
        parts[i] += 1
    return parts


def payer_caps(contract, outcome, amount, used):
    """SPEC 11.1 steps 1 and 2 for one row: its payers' parts of ``amount`` after their caps.

    ``used``: what each payer (by id) has paid so far.  Payers of the row are
    those with a share in its split; the others keep 0.
    """
    sh = shares(contract, outcome)
    ids = [p.id for p in contract.payers]
    room = {p.id: (None if p.cap is None else p.cap - used[p.id]) for p in contract.payers}
    shift = {p.id: p.on_cap == "shift" for p in contract.payers}
    parts = dict(zip(ids, split(amount, sh)))
    share = dict(zip(ids, sh))
    of_row = [i for i in ids if share[i] > 0]
    fixed = []
    while True:
        exceeding = [i for i in of_row if i not in fixed and room[i] is not None and parts[i] > room[i]]
        if not exceeding:
            break
        moved = 0
        for i in exceeding:
            new = room[i] if room[i] > 0 else 0
            if shift[i]:
                moved += parts[i] - new
            parts[i] = new
            fixed.append(i)
        rest = [i for i in of_row if i not in fixed]
        if rest:
            total = sum(share[i] for i in rest)
            for i, extra in zip(rest, split(moved, [share[i] / total for i in rest])):
                parts[i] += extra
    return [parts[i] for i in ids]


def shares(contract, outcome) -> list[Fraction]:
    """SPEC 5.6: the outcome's ``payers`` table, else the contract's split; in ``[[payers]]`` order."""
    if outcome.payers is not None:
        named = dict(outcome.payers)
        return [Fraction(named.get(p.id, 0)) for p in contract.payers]
    return [Fraction(p.share) for p in contract.payers]


def pay(contract, claims, participants, results, as_at, previous_end):
    """SPEC 6 without a ledger: every in-scope row's entitled, previously paid and due, and per payer.

    previously_paid is the row's entitlement as at ``previous_end`` (the end of
    the quarter before), recomputed from the same rows; each payer's columns are
    the splits (5.6) of entitled and of previously paid, due their difference.
    Returns ({id: row dict}, processing order, {payer: (entitled, previously_paid, due)}).
    """
    now_parts, before_parts = {}, {}
    now, order = assess(contract, claims, participants, results, as_at, now_parts)
    before, _ = assess(contract, claims, participants, results, previous_end, before_parts)
    outcome_of = {r["id"]: r["outcome_id"] for r in [*claims, *results]}
    outcomes = {o.id: o for o in contract.outcomes}
    payer_ids = [p.id for p in contract.payers]
    rows = {}
    totals = {p: [0, 0, 0] for p in payer_ids}
    for rid in order:
        status, reason, price, entitled = now[rid]
        previous = before[rid][3] if rid in before else 0
        if rid in outcome_of:
            split_shares = shares(contract, outcomes[outcome_of[rid]])
        else:  # an adjustment (SPEC 10.6): its own split
            split_shares = adjustment_shares(contract, rid)
        ent_parts, prev_parts = signed_split(entitled, split_shares), signed_split(previous, split_shares)
        if any(p.cap is not None for p in contract.payers):  # SPEC 11.1: a row's amounts per payer are its parts
            ent_parts, prev_parts = now_parts[rid], before_parts.get(rid, [0] * len(payer_ids))
        due_parts = {p: e - q for p, e, q in zip(payer_ids, ent_parts, prev_parts)}
        rows[rid] = {"status": status, "reason": reason, "price": price, "entitled": entitled,
                     "previously_paid": previous, "due": entitled - previous, "payers": due_parts}
        for p, e, q in zip(payer_ids, ent_parts, prev_parts):
            totals[p][0] += e
            totals[p][1] += q
            totals[p][2] += e - q
    return rows, order, {p: tuple(v) for p, v in totals.items()}


def quarter_end(label: str, fy_start_month: int) -> date:
    """SPEC 5.1: ``YYYY-Qn`` is the n-th quarter of the fiscal year starting in calendar year YYYY."""
    year, n = int(label[:4]), int(label[-1])
    month0 = fy_start_month - 1 + 3 * n  # months after January of YYYY at which the next quarter starts
    next_start = date(year + month0 // 12, month0 % 12 + 1, 1)
    return next_start - timedelta(days=1)


def previous_quarter(label: str) -> str:
    year, n = int(label[:4]), int(label[-1])
    return f"{year - 1}-Q4" if n == 1 else f"{year}-Q{n - 1}"
