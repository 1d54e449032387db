"""An attacker's view of a published table: which hidden cells the published totals pin to one value.

Independent of sob's bridge search: every row and column of the table with
its totals (the extended table) is a linear equation; a hidden cell is
determined exactly when its unit vector lies in the row space of the
equations restricted to the hidden cells.  Exact Gaussian elimination over
Fractions decides it.
"""

from __future__ import annotations

from fractions import Fraction


def _echelon(rows: list[list[Fraction]]) -> list[tuple[int, list[Fraction]]]:
    """Reduced row echelon form by exact elimination: (pivot column, row) pairs."""
    m = [r[:] for r in rows if any(r)]
    pivots: list[tuple[int, list[Fraction]]] = []
    cols = len(m[0]) if m else 0
    for c in range(cols):
        pivot = next((r for r in m if r[c] != 0), None)
        if pivot is None:
            continue
        m.remove(pivot)
        pivot = [v / pivot[c] for v in pivot]
        m = [[a - r[c] * b for a, b in zip(r, pivot, strict=True)] if r[c] != 0 else r for r in m]
        pivots = [(pc, [a - pr[c] * b for a, b in zip(pr, pivot, strict=True)] if pr[c] != 0 else pr)
                  for pc, pr in pivots]
        pivots.append((c, pivot))
    return pivots


def _in_row_space(pivots: list[tuple[int, list[Fraction]]], k: int, width: int) -> bool:
    """Whether the unit vector e_k is a combination of the equations (then unknown k is determined)."""
    v = [Fraction(0)] * width
    v[k] = Fraction(1)
    for c, row in pivots:
        if v[c] != 0:
            f = v[c]
            v = [a - f * b for a, b in zip(v, row, strict=True)]
    return not any(v)


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
    pivots = _echelon(matrix)
    return {cell for cell, k in index.items() if _in_row_space(pivots, k, len(unknowns))}


def determined_general(unknowns: list[object], eqs: list[dict[object, Fraction]]) -> set[object]:
    """The unknowns fixed by linear equations (each a dict unknown → coefficient; known terms left out)."""
    index = {u: k for k, u in enumerate(unknowns)}
    matrix = [[Fraction(0)] * len(unknowns) for _ in eqs]
    for row, eq in zip(matrix, eqs, strict=True):
        for u, coef in eq.items():
            if u in index:
                row[index[u]] += coef
    pivots = _echelon(matrix)
    return {u for u, k in index.items() if _in_row_space(pivots, k, len(unknowns))}


def determined_with_money(hidden: set[tuple[int, int]], money_hidden: set[tuple[int, int]],
                          prices: list[list[int]]) -> set[tuple[int, int]]:
    """Hidden counts fixed by the count totals *and* the money totals, money of a cell = price × count.

    ``prices[i][j]`` is the price of inner cell (i, j); the tables are
    extended (last row and column totals).  Count unknowns are ``("n", cell)``,
    money totals ``("m", cell)``; a hidden inner money cell is price × its count.
    """
    rows, cols = len(prices) + 1, len(prices[0]) + 1
    eqs: list[dict[object, Fraction]] = []
    for kind in ("n", "m"):
        mask = hidden if kind == "n" else money_hidden
        for line in [[(i, j) for j in range(cols)] for i in range(rows)] + [[(i, j) for i in range(rows)] for j in range(cols)]:
            eq: dict[object, Fraction] = {}
            *parts, total = line
            for cell in parts:
                if cell in mask:
                    inner = cell[0] < rows - 1 and cell[1] < cols - 1
                    if kind == "m" and inner:
                        key: object = ("n", cell)
                        eq[key] = eq.get(key, Fraction(0)) + prices[cell[0]][cell[1]]
                    else:
                        eq[(kind, cell)] = eq.get((kind, cell), Fraction(0)) + 1
            if total in mask:
                eq[(kind, total)] = eq.get((kind, total), Fraction(0)) - 1
            eqs.append(eq)
    unknowns = sorted({u for eq in eqs for u in eq}, key=repr)
    fixed = determined_general(unknowns, eqs)
    return {u[1] for u in fixed if isinstance(u, tuple) and u[0] == "n" and u[1] in hidden}  # type: ignore[index]
