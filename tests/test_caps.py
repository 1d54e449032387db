"""Money caps (SPEC 5.5): ``sob.caps`` unit by unit, and through the real command.

The helpers of ``sob.caps`` (running sums within groups, the closed form of a
single cap, the walk over the rows a cap can cut) are checked on small frames
whose answers are worked by hand from the spec's sequential definition.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import load, make_contract, write_claims
from engine_helpers import Caps, Outcome, claims, contract, d

from sob.assessment import assess
from sob.caps import _group_order, _running_in_groups, _running_totals, _spread, apply_caps
from sob.rules import REASON, keyed_like, stacked

# --------------------------------------------------------------------------------------
# The crash of issue 13: an outcome amount_cap AND a contract total cap
# --------------------------------------------------------------------------------------

CAPS_CLAIMS = [
    ("c7", "D", "P", "2020-01-07"),
    ("c1", "A", "P", "2020-01-01"),
    ("c2", "B", "P", "2020-01-02"),
    ("c3", "C", "P", "2020-01-03"),
    ("c4", "A", "Q", "2020-01-04"),
    ("c5", "B", "Q", "2020-01-05"),
    ("c6", "C", "Q", "2020-01-06"),
]


def _caps_contract(folder: Path) -> Path:
    return make_contract(
        folder,
        contract={"id": "caps"},
        caps={"per_participant": 900, "total": 2000},
        outcomes=[{"id": "P", "price": 400, "amount_cap": 1000}, {"id": "Q", "price": 600}],
    )


def test_outcome_cap_and_total_cap_together_pay_through_the_real_command(tmp_path):
    """Regression (issue 13): this used to stop with "internal error" (a join of Enum and String ids).

    Worked by hand from SPEC 5.5, processing order = submission order c1..c7
    (per participant 900, outcome P 1000, total 2000, partial = true):
      c1 A P 400: paid 400           A 400, P 400,  total 400
      c2 B P 400: paid 400           B 400, P 800,  total 800
      c3 C P 400: P room 200         partial 200 OUTCOME_CAP,     total 1000
      c4 A Q 600: A room 500 < 1000  partial 500 PARTICIPANT_CAP, total 1500
      c5 B Q 600: B 500, total 500   partial 500 PARTICIPANT_CAP (tie: participant first), total 2000
      c6 C Q 600: total room 0       capped 0 CONTRACT_CAP
      c7 D P 400: P 0, total 0       capped 0 OUTCOME_CAP (tie: outcome before contract)
    P: 400+400+200+0 = 1000.00; Q: 500+500+0 = 1000.00; total 2000.00.
    """
    path = _caps_contract(tmp_path)
    data = write_claims(tmp_path / "claims.csv", CAPS_CLAIMS)
    args = [sys.executable, "-m", "sob", "pay", str(path), "--quarter", "2020-Q1", "--claims", str(data)]
    proc = subprocess.run([*args, "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["totals"] == {"claims": 7, "paid": 2, "partial": 3, "capped": 2, "rejected": 0,
                                  "entitled": "2000.00", "previously_paid": "0.00", "due": "2000.00"}
    assert {o["outcome_id"]: o["entitled"] for o in out["by_outcome"]} == {"P": "1000.00", "Q": "1000.00"}
    export = tmp_path / "table.csv"
    proc = subprocess.run([*args, "--export", str(export)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = {r["claim_id"]: (r["status"], r["reason"], r["entitled"]) for r in pl.read_csv(export, infer_schema=False).iter_rows(named=True)}
    assert rows == {
        "c1": ("paid", None, "400.00"),
        "c2": ("paid", None, "400.00"),
        "c3": ("partial", "OUTCOME_CAP", "200.00"),
        "c4": ("partial", "PARTICIPANT_CAP", "500.00"),
        "c5": ("partial", "PARTICIPANT_CAP", "500.00"),
        "c6": ("capped", "CONTRACT_CAP", "0.00"),
        "c7": ("capped", "OUTCOME_CAP", "0.00"),
    }


@pytest.mark.parametrize("partial", [True, False])
def test_every_cap_kind_over_reader_dtypes(tmp_path, partial):
    """The three caps together, with the frames typed as the evidence reader types them.

    With ``partial = false`` (worked by hand): c1, c2 paid 400; c3 P room 200 < 400
    capped OUTCOME_CAP; c4 A room 500 < 600 capped PARTICIPANT_CAP; c5 likewise;
    c6 C room 900, total room 1200: paid 600 (total 1400); c7 P room 200 < 400
    capped OUTCOME_CAP.  Amounts in pence.
    """
    from sob.evidence import read_evidence

    path = make_contract(tmp_path, caps={"per_participant": 900, "total": 2000, "partial": partial},
                         outcomes=[{"id": "P", "price": 400, "amount_cap": 1000}, {"id": "Q", "price": 600}])
    ev = read_evidence(load(path), write_claims(tmp_path / "c.csv", CAPS_CLAIMS), None, None)
    assert isinstance(ev.claims.schema["outcome_id"], pl.Enum)  # what made the old join fail
    got = assess(load(path), ev.claims, None, None, d("2020-03-31"))
    pay = dict(got.select("claim_id", "payable").iter_rows())
    if partial:
        assert pay == {"c1": 40000, "c2": 40000, "c3": 20000, "c4": 50000, "c5": 50000, "c6": 0, "c7": 0}
    else:
        assert pay == {"c1": 40000, "c2": 40000, "c3": 0, "c4": 0, "c5": 0, "c6": 60000, "c7": 0}


# --------------------------------------------------------------------------------------
# The building blocks
# --------------------------------------------------------------------------------------


def test_running_totals_restart_for_each_key_in_row_order():
    keys = pl.Series([2, 1, 2, 1, 3], dtype=pl.UInt32)
    values = pl.DataFrame({"v": [10, 1, 20, 2, 5]})
    assert _running_totals(keys, values)["v"].to_list() == [10, 1, 30, 3, 5]


def test_group_order_brings_each_key_together_in_row_order():
    rows, starts = _group_order(pl.Series([2, 1, 2, 1], dtype=pl.UInt32))
    assert rows.to_list() == [1, 3, 0, 2]
    assert starts.to_list() == [True, False, True, False]
    assert _running_in_groups(pl.Series([1, 2, 3, 4]), starts).to_list() == [1, 3, 3, 7]


def test_spread_puts_values_at_the_true_entries_and_nulls_elsewhere():
    mask = pl.Series([False, True, False, True])
    out = _spread(pl.DataFrame({"x": [7, 8]}), mask)
    assert out["x"].to_list() == [None, 7, None, 8]


def _capped(c, rows, as_at="2022-12-31"):
    got = assess(c, claims(rows), None, None, d(as_at))
    return {cid: (st, why, pay) for cid, st, why, pay in got.select("claim_id", "status", "reason", "payable").iter_rows()}


def test_a_single_participant_cap_cuts_to_the_headroom_then_caps():
    # 300 + 300 fill 600 of 700; the third gets the last 100; the fourth nothing
    c = contract([Outcome("O", price=300, max_claims=5)], caps=Caps(per_participant=700))
    rows = [(f"{i}", "A", "O", f"2020-02-0{i}") for i in range(1, 5)] + [("5", "B", "O", "2020-02-05")]
    assert _capped(c, rows) == {
        "1": ("paid", None, 300), "2": ("paid", None, 300), "3": ("partial", "PARTICIPANT_CAP", 100),
        "4": ("capped", "PARTICIPANT_CAP", 0), "5": ("paid", None, 300),
    }


def test_all_or_nothing_lets_a_later_smaller_claim_through():
    # partial = false: 600 does not fit in 500 of headroom, but the later 200 does
    c = contract([Outcome("B", price=600), Outcome("S", price=200)], caps=Caps(total=1000, partial=False))
    rows = [("1", "A", "S", "2020-02-01"), ("2", "B", "S", "2020-02-02"), ("3", "C", "B", "2020-02-03"),
            ("4", "D", "B", "2020-02-04"), ("5", "E", "S", "2020-02-05")]
    assert _capped(c, rows) == {
        "1": ("paid", None, 200), "2": ("paid", None, 200), "3": ("paid", None, 600),
        "4": ("capped", "CONTRACT_CAP", 0), "5": ("capped", "CONTRACT_CAP", 0),
    }


def test_the_smallest_headroom_names_the_cap_and_ties_go_participant_outcome_contract():
    # participant room 500, outcome room 500, total room 500: a tie of three, participant wins;
    # then outcome room 0 = total room 0: outcome wins
    c = contract([Outcome("O", price=1000, amount_cap=1500, max_claims=3)], caps=Caps(per_participant=1500, total=1500))
    rows = [("1", "A", "O", "2020-02-01"), ("2", "A", "O", "2020-02-02"), ("3", "B", "O", "2020-02-03")]
    assert _capped(c, rows) == {
        "1": ("paid", None, 1000), "2": ("partial", "PARTICIPANT_CAP", 500), "3": ("capped", "OUTCOME_CAP", 0),
    }


def test_apply_caps_pays_nothing_to_rows_with_a_reason():
    c = contract([Outcome("O", price=100)], caps=Caps(total=1000))
    rows = pl.DataFrame(
        {"kind": ["claim", "claim"], "participant_id": ["A", "B"], "outcome_id": ["O", "O"], "price": [100, None],
         "_p": [0, 1], "reason": pl.Series([None, "WITHDRAWN"], dtype=REASON)},
    )
    out = apply_caps(rows, c)
    assert out["payable"].to_list() == [100, 0]


def test_the_walk_joins_its_lookups_onto_enum_and_categorical_ids():
    """The rows the walk gives up on (the contract cap is spent) are filled from lookups on the ids."""
    c = contract([Outcome("P", price=400, amount_cap=1000), Outcome("Q", price=600)],
                 caps=Caps(per_participant=900, total=2000))
    frame = claims(CAPS_CLAIMS)
    expected = _capped(c, CAPS_CLAIMS, "2020-03-31")
    for dtype in (pl.Enum(["P", "Q"]), pl.Categorical()):
        got = assess(c, frame.cast({"outcome_id": dtype, "participant_id": pl.Categorical()}), None, None,
                     d("2020-03-31"))
        assert {cid: (st, why, pay) for cid, st, why, pay in
                got.select("claim_id", "status", "reason", "payable").iter_rows()} == expected


def test_keyed_like_types_a_lookup_like_the_frame_and_drops_keys_an_enum_cannot_hold():
    frame = pl.DataFrame({"k": pl.Series(["a", "b"], dtype=pl.Enum(["a", "b"]))})
    lookup = pl.DataFrame({"k": ["b", "zz", None], "v": [1, 2, 3]})
    typed = keyed_like(lookup, frame, ["k"])
    assert typed.schema["k"] == pl.Enum(["a", "b"])
    assert typed["v"].to_list() == [1, 3]
    assert frame.join(typed, on="k", how="left")["v"].to_list() == [None, 1]


def test_stacked_concatenates_text_columns_of_different_kinds():
    a = pl.DataFrame({"k": pl.Series(["a"], dtype=pl.Enum(["a"])), "x": [1]})
    b = pl.DataFrame({"k": pl.Series(["b"], dtype=pl.Categorical())})
    out = stacked([a, b])
    assert out.schema["k"] == pl.String
    assert out.rows() == [("a", 1), ("b", None)]
    with pytest.raises(pl.exceptions.SchemaError):  # what stacked is for
        pl.concat([a, b], how="diagonal_relaxed")
