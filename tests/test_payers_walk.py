"""The cap walk with payer caps (SPEC 11.1) and adjustments (SPEC 10.6): ``sob.caps.apply_caps``.

``reference_walk`` below is the plain sequential definition, written from
the SPEC text one row at a time; the property tests compare the engine's
vectorised walk with it on random contracts (payers that cut or shift,
several payers, partial true/false, every money cap, adjustments of both
signs).  The unit tests are worked by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from fractions import Fraction

import polars as pl
from conftest import make_contract, write_claims
from engine_helpers import Caps, Outcome, claims, contract, d
from hypothesis import given, settings
from hypothesis import strategies as st

from sob.assessment import assess
from sob.caps import apply_caps
from sob.contract import Adjustment, Payer
from sob.payers import split_amounts
from sob.rules import KIND, REASON

# --------------------------------------------------------------------------------------
# The reference: SPEC 5.5, 5.6, 10.6 and 11.1, row by row
# --------------------------------------------------------------------------------------


def lr_split(amount: int, shares: list[Fraction]) -> list[int]:
    """SPEC 5.6 largest remainder; a negative amount as the negative of the split of its absolute value."""
    if amount < 0:
        return [-x for x in lr_split(-amount, shares)]
    exact = [amount * s for s in shares]
    parts = [x.numerator // x.denominator for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def row_shares(c, row) -> list[Fraction]:
    if row["kind"] == "adjustment":
        table = {a.id: a.payers for a in c.adjustments}.get(row["claim_id"])
    else:
        table = {o.id: o.payers for o in c.outcomes}.get(row["outcome_id"])
    if table is None:
        return [Fraction(p.share) for p in c.payers]
    named = dict(table)
    return [Fraction(named.get(p.id, 0)) for p in c.payers]


def cut_to_payers(c, amount: int, shares: list[Fraction], room: list[int | None]) -> list[int]:
    """SPEC 11.1 step 2, repeated until no part exceeds its payer's headroom."""
    parts = lr_split(amount, shares)
    fixed: set[int] = set()
    mine = [i for i, s in enumerate(shares) if s > 0]
    while True:
        over = [i for i in mine if i not in fixed and room[i] is not None and parts[i] > room[i]]
        if not over:
            return parts
        moved = 0
        for i in over:
            keep = max(room[i], 0)
            if c.payers[i].on_cap == "shift":
                moved += parts[i] - keep
            parts[i] = keep
            fixed.add(i)
        rest = [i for i in mine if i not in fixed]
        if rest and moved:
            total = sum(shares[i] for i in rest)
            for i, extra in zip(rest, lr_split(moved, [shares[i] / total for i in rest])):
                parts[i] += extra


def reference_walk(c, rows: list[dict]) -> list[tuple[int, str | None, list[int]]]:
    """(payable, cap reason, parts) of every row, in processing order."""
    ocaps = {o.id: o.amount_cap for o in c.outcomes if o.amount_cap is not None}
    used_p: dict = {}
    used_o: dict = {}
    used_t = 0
    used_pay = [0] * len(c.payers)
    out = []
    for r in rows:
        if r["reason"] is not None:
            out.append((0, None, [0] * len(c.payers)))
            continue
        price = r["price"]
        if r["kind"] == "adjustment":  # never cut; counts against the total and every payer cap
            parts = lr_split(price, row_shares(c, r))
            used_t += price
            used_pay = [u + x for u, x in zip(used_pay, parts)]
            out.append((price, None, parts))
            continue
        rooms = []
        if c.caps.per_participant is not None and r["kind"] == "claim":
            rooms.append((max(c.caps.per_participant - used_p.get(r["participant_id"], 0), 0), 0, "PARTICIPANT_CAP"))
        if r["outcome_id"] in ocaps:
            rooms.append((max(ocaps[r["outcome_id"]] - used_o.get(r["outcome_id"], 0), 0), 1, "OUTCOME_CAP"))
        if c.caps.total is not None:
            rooms.append((max(c.caps.total - used_t, 0), 2, "CONTRACT_CAP"))
        if c.caps.partial:
            amount = min([price] + [x[0] for x in rooms])
        else:
            amount = price if all(price <= x[0] for x in rooms) else 0
        why = min(rooms)[2] if amount < price else None
        room = [None if p.cap is None else p.cap - u for p, u in zip(c.payers, used_pay)]
        parts = cut_to_payers(c, amount, row_shares(c, r), room)
        if sum(parts) < amount:
            why = why or "PAYER_CAP"
            if not c.caps.partial:
                parts = [0] * len(parts)
        paid = sum(parts)
        used_pay = [u + x for u, x in zip(used_pay, parts)]
        if r["kind"] == "claim":
            used_p[r["participant_id"]] = used_p.get(r["participant_id"], 0) + paid
        used_o[r["outcome_id"]] = used_o.get(r["outcome_id"], 0) + paid
        used_t += paid
        out.append((paid, why, parts))
    return out


# --------------------------------------------------------------------------------------
# Frames as the assessment hands them to apply_caps
# --------------------------------------------------------------------------------------


def frame(rows: list[dict]) -> pl.DataFrame:
    people = sorted({r["participant_id"] for r in rows if r["participant_id"] is not None})
    key = {p: i for i, p in enumerate(people)}
    return pl.DataFrame(
        {
            "claim_id": [r["claim_id"] for r in rows],
            "kind": pl.Series([r["kind"] for r in rows], dtype=KIND),
            "participant_id": [r["participant_id"] for r in rows],
            "outcome_id": [r["outcome_id"] for r in rows],
            "price": [r["price"] for r in rows],
            "_p": pl.Series([key.get(r["participant_id"]) for r in rows], dtype=pl.UInt32),
            "reason": pl.Series([r["reason"] for r in rows], dtype=REASON),
        },
        schema_overrides={"participant_id": pl.String, "outcome_id": pl.String, "price": pl.Int64},
    )


def engine(c, rows: list[dict]) -> list[tuple[int, str | None, list[int]]]:
    out = apply_caps(frame(rows), c)
    names = [f"_part_{p.id}" for p in c.payers]
    if not c.has_payer_caps:
        out = split_amounts(out, c, "payable", "_part_")
    return [(pay, why, list(parts)) for pay, why, *parts in out.select("payable", "cap_reason", *names).iter_rows()]


def claim(cid: str, person: str, outcome: str, price: int, reason: str | None = None) -> dict:
    return {"claim_id": cid, "kind": "claim", "participant_id": person, "outcome_id": outcome, "price": price,
            "reason": reason}


def adjustment_row(a: Adjustment) -> dict:
    return {"claim_id": a.id, "kind": "adjustment", "participant_id": None, "outcome_id": None, "price": a.amount,
            "reason": None}


def payer(pid: str, share: str, cap: int | None = None, on_cap: str = "cut") -> Payer:
    return Payer(pid, pid, Fraction(share) if "/" in share else Decimal(share), cap, on_cap)


# --------------------------------------------------------------------------------------
# Worked by hand
# --------------------------------------------------------------------------------------


def test_a_shift_that_exhausts_a_second_payer():
    # A 1/2 cap 150 shift, B 1/4 cap 60 shift, C 1/4 no cap; claims of 200.
    # 1: 100/50/50, all fit: A 100, B 50, C 50.
    # 2: split 100/50/50; A room 50 -> 50, shifts 50 to B, C by 1/4:1/4 = 25 each: B 75 > room 10, C 75.
    #    Round 2: B fixed at 10, shifts 65 to C alone: C 140.  Parts 50/10/140 = 200, paid in full.
    # 3: A and B are exhausted: split 100/50/50, both cut to 0 and shift 150 to C: C 200.
    c = contract([Outcome("O", price=200)], payers=[payer("A", "0.5", 150, "shift"), payer("B", "0.25", 60, "shift"),
                                                   payer("C", "0.25")])
    rows = [claim(str(i), f"p{i}", "O", 200) for i in (1, 2, 3)]
    expected = [(200, None, [100, 50, 50]), (200, None, [50, 10, 140]), (200, None, [0, 0, 200])]
    assert reference_walk(c, rows) == expected
    assert engine(c, rows) == expected


def test_a_penny_between_three_thirds_goes_to_the_payer_listed_first_and_a_cut_payer_drops_it():
    # 0.01 between thirds: floors 0, 0, 0, the unit left to A.  With A exhausted (cap 0, cut), it is dropped.
    thirds = [payer("A", "1/3", 0, "cut"), payer("B", "1/3"), payer("C", "1/3")]
    c = contract([Outcome("O", price=1)], payers=thirds)
    rows = [claim("1", "p", "O", 1), claim("2", "q", "O", 2)]
    # 2: floors 0, 0, 0; two units to A and B; A cut to 0: paid 1 of 2, partial, PAYER_CAP.
    assert engine(c, rows) == [(0, "PAYER_CAP", [0, 0, 0]), (1, "PAYER_CAP", [0, 1, 0])]
    c = contract([Outcome("O", price=1)], payers=[payer("A", "1/3", 10), payer("B", "1/3"), payer("C", "1/3")])
    assert engine(c, rows[:1]) == [(1, None, [1, 0, 0])]


def test_an_adjustment_pushes_the_contract_headroom_below_zero_and_a_later_claim_is_paid_nothing():
    # total 500: claim 300 paid; adjustment +400 (never cut) -> used 700, headroom -200;
    # the next claim of 100 is paid 0, capped, CONTRACT_CAP (never -200).
    adj = Adjustment("ADJ", date(2020, 6, 30), 400, "profile")
    c = contract([Outcome("O", price=300)], caps=Caps(total=500), adjustments=(adj,))
    rows = [claim("1", "p", "O", 300), adjustment_row(adj), claim("2", "q", "O", 100)]
    assert engine(c, rows) == [(300, None, [300]), (400, None, [400]), (0, "CONTRACT_CAP", [0])]


def test_an_adjustment_pushes_a_payer_below_its_cap_and_the_next_part_is_zero():
    # A 1/2 cap 100 cut, B 1/2.  Claim 100: 50/50.  Adjustment 160 split 80/80: A used 130 (> 100, never cut).
    # Claim 100: A's headroom -30 counts as 0, its 50 dropped: paid 50, partial, PAYER_CAP.
    adj = Adjustment("ADJ", date(2020, 6, 30), 160, "settlement")
    c = contract([Outcome("O", price=100)], payers=[payer("A", "0.5", 100), payer("B", "0.5")], adjustments=(adj,))
    rows = [claim("1", "p", "O", 100), adjustment_row(adj), claim("2", "q", "O", 100)]
    assert engine(c, rows) == [(100, None, [50, 50]), (160, None, [80, 80]), (50, "PAYER_CAP", [0, 50])]


def test_a_negative_adjustment_gives_headroom_back():
    # total 500: claim 400 paid; claim 400 cut to 100 (CONTRACT_CAP); a recovery of -150 split as -(75, 75)
    # gives 150 back; the next claim 400 is cut to 150.  A 1/2 cap 250 cut: parts of the last claim 75/75,
    # A used 200 + 50 - 75 = 175, room 75: fits.
    adj = Adjustment("REC", date(2020, 6, 30), -150, "recovery")
    c = contract([Outcome("O", price=400)], payers=[payer("A", "0.5", 250), payer("B", "0.5")],
                 caps=Caps(total=500), adjustments=(adj,))
    rows = [claim("1", "p", "O", 400), claim("2", "q", "O", 400), adjustment_row(adj), claim("3", "r", "O", 400)]
    expected = [(400, None, [200, 200]), (100, "CONTRACT_CAP", [50, 50]), (-150, None, [-75, -75]),
                (150, "CONTRACT_CAP", [75, 75])]
    assert reference_walk(c, rows) == expected
    assert engine(c, rows) == expected


def test_a_negative_adjustment_splits_as_the_negative_of_its_absolute_value_with_its_own_payers():
    # -0.05 between A 1/3 and B 2/3 of its own table: 5 = 1 (5/3) + 3 (10/3); units left 1 to A (rem 2/3 = 1/3·2).
    # 5/3 = 1 r 2/3, 10/3 = 3 r 1/3: floors 1 + 3 = 4, one unit to A (larger remainder): 2, 3 -> -2, -3.
    adj = Adjustment("REC", date(2020, 6, 30), -5, "recovery", payers=(("A", Fraction(1, 3)), ("B", Fraction(2, 3))))
    c = contract([Outcome("O", price=1)], payers=[payer("A", "0.5"), payer("B", "0.5")], adjustments=(adj,))
    out = split_amounts(frame([adjustment_row(adj)]).with_columns(payable=pl.col("price")), c, "payable", "s_")
    assert out.select("s_A", "s_B").row(0) == (-2, -3)


def test_an_all_or_nothing_claim_cut_by_a_payer_is_paid_nothing_and_uses_no_headroom():
    # partial = false; A 1/2 cap 120 cut.  Claims 100, 100, 40: 50/50; A room 70 < 50? no: 50/50; A room 20 < 20? no.
    c = contract([Outcome("O", price=100), Outcome("S", price=40)], payers=[payer("A", "0.5", 120), payer("B", "0.5")],
                 caps=Caps(partial=False))
    rows = [claim("1", "p", "O", 100), claim("2", "q", "O", 100), claim("3", "r", "O", 100), claim("4", "s", "S", 40)]
    # 3: A room 20 < 50: capped, 0, no headroom used; 4: 20/20 fits A's 20 exactly.
    assert engine(c, rows) == [(100, None, [50, 50]), (100, None, [50, 50]), (0, "PAYER_CAP", [0, 0]),
                               (40, None, [20, 20])]


# --------------------------------------------------------------------------------------
# Properties against the reference
# --------------------------------------------------------------------------------------

SHARES = [["1"], ["0.5", "0.5"], ["0.7", "0.3"], ["1/3", "1/3", "1/3"], ["0.5", "1/3", "1/6"]]


@st.composite
def cases(draw, payer_caps: bool = True):
    shares = draw(st.sampled_from(SHARES))
    payers = []
    for i, s in enumerate(shares):
        cap = draw(st.none() | st.integers(0, 900))
        payers.append(payer("ABC"[i], s, cap, draw(st.sampled_from(["cut", "shift"]))))
    if payer_caps and all(p.cap is None for p in payers):
        payers[0] = payer("A", shares[0], draw(st.integers(0, 900)), payers[0].on_cap)
    if not payer_caps:
        payers = [payer(p.id, shares[i]) for i, p in enumerate(payers)]
    own = st.none() | st.sampled_from([(("A", Fraction(1)),)] + ([(("A", Fraction(1, 4)), ("B", Fraction(3, 4)))]
                                                                  if len(payers) > 1 else []))
    outcomes = [Outcome(oid, price=1, amount_cap=draw(st.none() | st.integers(0, 1500)), payers=draw(own))
                for oid in ("X", "Y")]
    caps = Caps(per_participant=draw(st.none() | st.integers(0, 600)), total=draw(st.none() | st.integers(0, 2500)),
                partial=draw(st.booleans()))
    adjustments = tuple(
        Adjustment(f"ADJ{i}", date(2020, 6, 30), draw(st.integers(-400, 400).filter(bool)), "r", draw(own))
        for i in range(draw(st.integers(0, 2)))
    )
    c = contract(outcomes, payers=payers, caps=caps, adjustments=adjustments)
    rows = []
    for i in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["claim", "claim", "claim", "improvement"]))
        person = draw(st.sampled_from(["p", "q", "r"])) if kind == "claim" else None
        reason = draw(st.sampled_from([None, None, None, "WITHDRAWN"]))
        rows.append({"claim_id": f"c{i}", "kind": kind, "participant_id": person,
                     "outcome_id": draw(st.sampled_from(["X", "Y"])), "price": draw(st.integers(0, 300)),
                     "reason": reason})
    for a in adjustments:
        rows.insert(draw(st.integers(0, len(rows))), adjustment_row(a))
    return c, rows


@settings(max_examples=120, deadline=None)
@given(cases())
def test_the_payer_walk_is_the_sequential_definition(case):
    c, rows = case
    assert engine(c, rows) == reference_walk(c, rows)


@settings(max_examples=80, deadline=None)
@given(cases(payer_caps=False))
def test_money_caps_with_adjustments_are_the_sequential_definition(case):
    c, rows = case
    assert engine(c, rows) == reference_walk(c, rows)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_parts_sum_to_payable_and_no_payer_passes_its_cap_except_by_adjustments(case):
    c, rows = case
    got = engine(c, rows)
    used = [0] * len(c.payers)
    for r, (pay, _, parts) in zip(rows, got):
        assert sum(parts) == pay
        if r["kind"] != "adjustment":
            assert pay >= 0 and all(x >= 0 for x in parts)
        before = used
        used = [u + x for u, x in zip(used, parts)]
        for p, b, u, x in zip(c.payers, before, used, parts):
            if p.cap is not None and r["kind"] != "adjustment" and x > 0:
                assert u <= p.cap, "a claim's part passed its payer's cap"
                assert b < p.cap


def test_many_rows_binding_early_match_the_reference():
    """Thousands of rows, two capped payers binding early, a participant cap and a recovery in the middle."""
    adj = Adjustment("REC", date(2020, 6, 30), -3000, "recovery")
    c = contract([Outcome("X", price=1), Outcome("Y", price=1, payers=(("B", Fraction(1, 2)), ("C", Fraction(1, 2))))],
                 payers=[payer("A", "0.5", 20000, "shift"), payer("B", "0.3", 9000, "cut"), payer("C", "0.2")],
                 caps=Caps(per_participant=700, total=400000), adjustments=(adj,))
    rows = [claim(f"c{i}", f"p{i % 97}", "XY"[i % 3 == 0], [100, 250, 333][i % 3]) for i in range(3000)]
    rows.insert(1500, adjustment_row(adj))
    expected = reference_walk(c, rows)
    assert sum(p for p, _, _ in expected if p) > 0 and any(w == "PAYER_CAP" for _, w, _ in expected)
    assert engine(c, rows) == expected


@st.composite
def participant_cap_cases(draw):
    """Only a participant cap, cut payers exhausted early and an uncapped payer: the walk by participant."""
    shares = draw(st.sampled_from(SHARES[1:]))
    payers = [payer("ABC"[i], s, draw(st.integers(0, 400)) if i == 0 else draw(st.none() | st.integers(0, 400)))
              for i, s in enumerate(shares)]
    payers[-1] = payer(payers[-1].id, shares[-1])  # one payer without a cap: money is still paid
    c = contract([Outcome("X", price=1), Outcome("Y", price=1)], payers=payers,
                 caps=Caps(per_participant=draw(st.integers(0, 700)), partial=draw(st.booleans())))
    rows = [{"claim_id": f"c{i:02d}", "kind": "claim", "participant_id": draw(st.sampled_from(["p", "q", "r", "s"])),
             "outcome_id": draw(st.sampled_from(["X", "Y"])), "price": draw(st.integers(0, 300)),
             "reason": draw(st.sampled_from([None, None, None, "WITHDRAWN"]))}
            for i in range(draw(st.integers(1, 30)))]
    return c, rows


@settings(max_examples=60, deadline=None)
@given(participant_cap_cases())
def test_the_walk_by_participant_is_the_sequential_definition(case):
    c, rows = case
    assert engine(c, rows) == reference_walk(c, rows)


def test_thousands_of_claims_cut_by_the_participant_cap_after_a_cut_payer_is_exhausted(monkeypatch):
    """A 0.7 (cap 30,000, cut), B 0.3 uncapped; participant cap 700: after A is exhausted, B's parts alone
    are paid, so participants use their cap more slowly and later claims are cut by it: taken rank by rank."""
    import sob.caps

    calls = []
    real = sob.caps._walk_by_participant
    monkeypatch.setattr(sob.caps, "_walk_by_participant", lambda *a: calls.append(1) or real(*a))
    for partial in (True, False):
        c = contract([Outcome("X", price=1), Outcome("Y", price=1, payers=(("A", Fraction(1, 3)), ("B", Fraction(2, 3))))],
                     payers=[payer("A", "0.7", 30000, "cut"), payer("B", "0.3")],
                     caps=Caps(per_participant=700, partial=partial))
        rows = [claim(f"c{i:04d}", f"p{i % 211}", "XY"[i % 3 == 0], [100, 250, 333][i % 3])
                for i in range(1500 if partial else 300)]
        expected = reference_walk(c, rows)
        reasons = {w for _, w, _ in expected}
        # all or nothing: every claim a payer cap would cut is paid nothing, so no participant ever reaches 700
        assert reasons == ({None, "PAYER_CAP", "PARTICIPANT_CAP"} if partial else {None, "PAYER_CAP"})
        assert engine(c, rows) == expected
        # all or nothing: the claim that meets A's cap is paid nothing, A keeps headroom and the walk goes row by row
        assert len(calls) == (1 if partial else 0)
        calls.clear()


def test_the_order_of_the_evidence_rows_never_changes_the_results():
    c = contract([Outcome("O", price=300, max_claims=5), Outcome("Q", price=70, max_claims=5)],
                 payers=[payer("A", "1/3", 1000, "shift"), payer("B", "1/3", 700, "cut"), payer("C", "1/3")],
                 caps=Caps(per_participant=800, total=3000))
    rows = [(f"c{i:02d}", "PQR"[i % 3], "OQ"[i % 2], f"2020-0{1 + i % 6}-{10 + i % 17}") for i in range(24)]
    results = []
    for order in (rows, rows[::-1], rows[1::2] + rows[::2]):
        out = assess(c, claims(order), None, None, d("2020-12-31"))
        results.append(sorted(out.select("claim_id", "payable", "reason", "_part_A", "_part_B", "_part_C").rows()))
    assert results[0] == results[1] == results[2]
    assert any(r[2] == "PAYER_CAP" for r in results[0])


# --------------------------------------------------------------------------------------
# Through the real command
# --------------------------------------------------------------------------------------


def test_sob_pay_with_payers_binding_early(tmp_path):
    """Forty claims of 100.00: LCF (0.3, cap 500.00, shift) and KC (0.7, cap 2000.00, cut).

    Claims 1-16: 70/30 each; after 16, LCF used 480.00 (room 20.00), KC 1120.00.
    Claim 17: LCF 30 > 20: 20.00, shifts 10.00 to KC: 80.00; KC used 1200.00 (room 800.00).
    Claims 18-25: LCF exhausted, its 30.00 shifted to KC: KC 100.00 each, KC used 2000.00.
    Claims 26-40: both exhausted, KC cuts: capped.  Totals: LCF 500.00, KC 2000.00, entitled 2500.00.
    """
    contract_path = make_contract(
        tmp_path,
        payers=[{"id": "KC", "share": 0.7, "cap": "2000.00", "on_cap": "cut"},
                {"id": "LCF", "share": 0.3, "cap": "500.00", "on_cap": "shift"}],
        outcomes=[{"id": "O", "price": "100.00"}],
    )
    evidence = write_claims(tmp_path / "claims.csv",
                 [(f"c{i:02d}", f"P{i:02d}", "O", "2020-01-03", f"2020-02-{1 + i // 2:02d}") for i in range(1, 41)])
    run = subprocess.run([sys.executable, "-m", "sob", "pay", str(contract_path), "--claims", str(evidence),
                          "--quarter", "2020-Q1", "--format", "json"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    by_payer = {p["payer_id"]: p["entitled"] for p in summary["by_payer"]}
    assert by_payer == {"KC": "2000.00", "LCF": "500.00"}
    assert summary["totals"]["entitled"] == "2500.00"
