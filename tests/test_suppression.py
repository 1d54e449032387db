"""Small-count suppression: nothing below the minimum shown, nothing hidden recoverable from the totals.

The property tests check sob's suppression against an independent attacker
(tests/solve_back.py: exact linear algebra over the published equations),
on generated tables and on the CSV bytes ``sob publish`` writes.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from solve_back import determined, determined_with_money

from sob.publish.data import Figures
from sob.publish.suppression import bridges, extended, suppress
from sob.publish.write import Publication
from sob.workflows import load_valid_contract

counts = st.integers(min_value=1, max_value=5).flatmap(
    lambda rows: st.integers(min_value=1, max_value=6).flatmap(
        lambda cols: st.lists(st.lists(st.sampled_from([0, 0, 1, 2, 3, 5, 9, 10, 11, 14, 25, 40]),
                                       min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


def test_extended_adds_row_and_column_totals_by_hand() -> None:
    assert extended([[1, 2], [3, 4]]) == [[1, 2, 3], [3, 4, 7], [4, 6, 10]]


def test_a_single_small_cell_takes_three_more_with_it() -> None:
    # 3 is below 10; hiding it alone lets row 0 (53 - 20 - 30) give it back, so a rectangle is hidden
    _table, hidden = suppress([[3, 20, 30], [15, 25, 12], [40, 50, 60]], 10)
    assert (0, 0) in hidden and len(hidden) == 4
    assert determined(hidden, 4, 4) == set()
    # the cells added are the smallest that close a loop: 15 (row 1) and 20 (column 1), then 25
    assert hidden == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_a_one_row_table_hides_the_total_row_with_it() -> None:
    # with one outcome the TOTAL row equals the row: the pair must be hidden in two columns
    _, hidden = suppress([[3, 20, 30]], 10)
    assert hidden == {(0, 0), (1, 0), (0, 1), (1, 1)}


def test_no_small_counts_hides_nothing() -> None:
    assert suppress([[0, 10], [12, 0]], 10)[1] == set()


def test_a_small_total_is_suppressed() -> None:
    # a total from 1 to 9 is itself a small count: row 0 sums to 4, column 0 to 4
    _table, hidden = suppress([[4, 0], [0, 30]], 10)
    assert (0, 2) in hidden and (0, 0) in hidden
    assert determined(hidden, 3, 3) == set()


def test_bridges_finds_a_cell_that_joins_two_loops() -> None:
    loop_a = {(0, 0), (0, 1), (1, 0), (1, 1)}
    loop_b = {(2, 2), (2, 3), (3, 2), (3, 3)}
    assert bridges(loop_a | loop_b) == []
    assert bridges(loop_a | loop_b | {(0, 2)}) == [(0, 2)]
    # the attacker agrees: the joining cell is determined, the loops are not
    assert determined(loop_a | loop_b | {(0, 2)}, 5, 5) == {(0, 2)}


@given(counts, st.integers(min_value=1, max_value=12))
def test_no_hidden_value_can_be_solved_back(values: list[list[int]], min_count: int) -> None:
    table, hidden = suppress(values, min_count)
    rows, cols = len(table), len(table[0])
    for i in range(rows):
        for j in range(cols):
            if 0 < table[i][j] < min_count:
                assert (i, j) in hidden
    assert determined(hidden, rows, cols) == set()


@given(counts)
def test_suppression_is_deterministic(values: list[list[int]]) -> None:
    assert suppress(values, 10) == suppress([row[:] for row in values], 10)


def published_hidden(results_csv: bytes, outcomes: list[str], quarters: list[str]) -> set[tuple[int, int]]:
    """The hidden cells of a published results.csv (Actual rows), read back as a reader would."""
    rows = list(csv.DictReader(io.StringIO(results_csv.decode())))
    labels, cols = [*outcomes, "TOTAL"], [*quarters, "TOTAL"]
    return {(labels.index(r["outcome_id"]), cols.index(r["quarter"]))
            for r in rows if r["type"] == "Actual" and r["accepted_claims"] == "[c]"}


def _two_outcome_contract() -> object:
    """A contract with outcomes A (repeatable) and B and two payers, loaded as sob loads it."""
    from conftest import make_contract

    folder = Path(tempfile.mkdtemp())
    path = make_contract(folder, payers=[{"id": "LA", "share": "0.6"}, {"id": "CF", "share": "0.4"}],
                         outcomes=[{"id": "A", "price": 250, "max_claims": 3}, {"id": "B", "price": 1000}])
    return load_valid_contract(path, run_examples_too=False)[0]


CONTRACT = _two_outcome_contract()
QUARTERS = ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4"]
ledgers = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 14)), min_size=8, max_size=8)


@given(ledgers, st.sampled_from([3, 5, 10]))
def test_published_files_of_generated_ledgers_give_nothing_back(cells: list[tuple[int, int, int]], min_count: int) -> None:
    # per (outcome, quarter): people, extra claims of repeatable A, and B; money = claims x price, split 60/40
    claims = [[p + extra for p, extra, _ in cells[:4]], [b for _, _, b in cells[4:]]]
    people = [[p for p, _, _ in cells[:4]], [b for _, _, b in cells[4:]]]
    paid = {"LA": [[n * 15000 for n in claims[0]], [n * 60000 for n in claims[1]]],
            "CF": [[n * 10000 for n in claims[0]], [n * 40000 for n in claims[1]]]}
    figures = Figures(["A", "B"], QUARTERS, claims, people, paid, "0" * 64, ["LA", "CF"], {"LA": [0] * 4, "CF": [0] * 4})
    pub = Publication(CONTRACT, figures, min_count)  # type: ignore[arg-type]
    results = list(csv.DictReader(io.StringIO(pub.results().decode())))
    for r in results:
        if r["type"] == "Actual":
            for key in ("accepted_claims", "participants_with_accepted_claim"):
                assert r[key] in ("", "[c]") or not 0 < int(r[key]) < min_count
    hidden = published_hidden(pub.results(), ["A", "B"], QUARTERS)
    assert determined(hidden, 3, 5) == set()
    payments = list(csv.DictReader(io.StringIO(pub.payments().decode())))
    for payer in ("LA", "CF"):
        money = {(["A", "B", "TOTAL"].index(r["outcome_id"]), [*QUARTERS, "TOTAL"].index(r["quarter"]))
                 for r in payments if r["payer_id"] == payer and r["amount"] == "[c]"}
        assert hidden <= money  # money linked to a hidden count is hidden, by the same rule
        # and a money total is shown only when every cell it adds up is shown
        inner = {(i, j) for i, j in hidden if i < 2 and j < 4}
        assert money == hidden | {(i, 4) for i, _ in inner} | {(2, j) for _, j in inner} | ({(2, 4)} if inner else set())
        # the attacker with both count and money totals (different prices per outcome) still learns no count
        assert determined_with_money(hidden, money, [[250] * 4, [1000] * 4]) == set()
        shown = {(r["outcome_id"], r["quarter"]): r["amount"] for r in payments
                 if r["payer_id"] == payer and r["amount"] != "[c]"}
        for (o, q), amount in shown.items():  # what is shown is the ledger's money, by hand
            if q != "TOTAL" and o != "TOTAL":
                i, j = ["A", "B"].index(o), QUARTERS.index(q)
                assert int(amount.replace(".", "")) == paid[payer][i][j]


def test_money_totals_over_hidden_cells_would_give_the_counts_back() -> None:
    # why money totals over hidden cells are hidden: two outcomes priced 250 and 1000, a hidden rectangle
    hidden = {(0, 0), (0, 1), (1, 0), (1, 1)}
    prices = [[250, 250], [1000, 1000]]
    assert determined(hidden, 3, 3) == set()  # the counts alone keep the rectangle safe
    leaky = hidden  # money totals published as the count totals are: the column money totals pin the counts
    assert determined_with_money(hidden, leaky, prices) == hidden
    safe = hidden | {(0, 2), (1, 2), (2, 0), (2, 1), (2, 2)}
    assert determined_with_money(hidden, safe, prices) == set()
