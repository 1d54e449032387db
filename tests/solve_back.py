"""An attacker's view of a published table: which hidden cells the published totals pin to one value.

Independent of sob's bridge search: every row and column of the table with
its totals (the extended table) is a linear equation; a hidden cell is
determined exactly when its unit vector lies in the row space of the
equations restricted to the hidden cells.  Exact Gaussian elimination over
Fractions decides it.
"""

from __future__ import annotations

from fractions import Fraction


def _rank(rows: list[list[Fraction]]) -> int:
    """Rank of a matrix by exact elimination."""
    m = [r[:] for r in rows]
    rank, cols = 0, len(m[0]) if m else 0
    for c in range(cols):
        pivot = next((i for i in range(rank, len(m)) if m[i][c] != 0), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        for i in range(len(m)):
            if i != rank and m[i][c] != 0:
                f = m[i][c] / m[rank][c]
                m[i] = [a - f * b for a, b in zip(m[i], m[rank], strict=True)]
        rank += 1
    return rank


def equations(n_rows: int, n_cols: int) -> list[dict[tuple[int, int], int]]:
    """The equations of an extended table of ``n_rows`` × ``n_cols`` (last row and column are totals)."""
    eqs = []
    for i in range(n_rows):
        eq = {(i, j): 1 for j in range(n_cols - 1)}
        eq[(i, n_cols - 1)] = -1
        eqs.append(eq)
    for j in range(n_cols):
        eq = {(i, j): 1 for i in range(n_rows - 1)}
        eq[(n_rows - 1, j)] = -1
        eqs.append(eq)
    return eqs


def determined(hidden: set[tuple[int, int]], n_rows: int, n_cols: int) -> set[tuple[int, int]]:
    """The hidden cells whose value the published cells and totals fix."""
    unknowns = sorted(hidden)
    if not unknowns:
        return set()
    index = {cell: k for k, cell in enumerate(unknowns)}
    matrix = []
    for eq in equations(n_rows, n_cols):
        row = [Fraction(0)] * len(unknowns)
        for cell, coef in eq.items():
            if cell in index:
                row[index[cell]] = Fraction(coef)
        matrix.append(row)
    base = _rank(matrix)
    out = set()
    for cell, k in index.items():
        unit = [Fraction(0)] * len(unknowns)
        unit[k] = Fraction(1)
        if _rank([*matrix, unit]) == base:
            out.add(cell)
    return out
