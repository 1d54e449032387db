"""Small-count suppression of a table with published row and column totals.

A table of counts is published with a total per row, a total per column and
a grand total.  Primary suppression hides every count from 1 to
``min_count - 1`` (totals included).  Secondary suppression then hides more
cells until no hidden value can be worked out from what is published.

Why the test is a graph: the published totals are linear equations over the
hidden cells.  Put the totals in an extra row and column (the *extended*
table, ``(rows + 1) × (cols + 1)``); every row and every column of it is one
equation.  Draw a vertex per row and per column and an edge per hidden cell.
The hidden values that satisfy all equations differ from the true ones by
circulations around cycles of that graph, so a hidden cell is pinned to a
single value exactly when its edge lies on no cycle (it is a *bridge*).
The rule: keep hiding cells until no hidden cell is a bridge.  Hiding
everything is always safe (the complete bipartite graph of at least 2 × 2
vertices has no bridge), so the loop ends.

Which cell to add: the smallest non-zero published value whose hiding puts
the bridge on a cycle (least information lost; zeros last, because a hidden
zero tells a reader a bound), then row and column order, so the result is
deterministic.
"""

from __future__ import annotations

Cell = tuple[int, int]


def extended(values: list[list[int]]) -> list[list[int]]:
    """``values`` with a total column on every row and a total row (the grand total in the corner)."""
    cols = len(values[0]) if values else 0
    rows = [[*row, sum(row)] for row in values]
    totals = [sum(row[j] for row in rows) for j in range(cols + 1)]
    return [*rows, totals]


def primary(table: list[list[int]], min_count: int, also: set[Cell] | None = None) -> set[Cell]:
    """Cells holding a count from 1 to ``min_count - 1``, plus ``also`` (cells another table links to)."""
    small = {(i, j) for i, row in enumerate(table) for j, v in enumerate(row) if 0 < v < min_count}
    return small | (also or set())


def _adjacency(hidden: set[Cell]) -> dict[tuple[str, int], list[tuple[tuple[str, int], Cell]]]:
    """Row and column vertices of the hidden cells, each with its (neighbour, cell) edges."""
    graph: dict[tuple[str, int], list[tuple[tuple[str, int], Cell]]] = {}
    for cell in sorted(hidden):
        r, c = ("r", cell[0]), ("c", cell[1])
        graph.setdefault(r, []).append((c, cell))
        graph.setdefault(c, []).append((r, cell))
    return graph


def bridges(hidden: set[Cell]) -> list[Cell]:
    """Hidden cells whose value the published totals pin down (bridges of the row-column graph), in order.

    Tarjan's bridge search, iterative so a large table cannot exhaust the stack.
    """
    graph = _adjacency(hidden)
    order: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    found: list[Cell] = []
    for root in sorted(graph):
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack: list[tuple[tuple[str, int], Cell | None, int]] = [(root, None, 0)]
        while stack:
            node, via, index = stack.pop()
            edges = graph[node]
            if index < len(edges):
                stack.append((node, via, index + 1))
                nxt, cell = edges[index]
                if cell == via:
                    continue
                if nxt in order:
                    low[node] = min(low[node], order[nxt])
                else:
                    order[nxt] = low[nxt] = len(order)
                    stack.append((nxt, cell, 0))
            elif stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent] and via is not None:
                    found.append(via)
    return sorted(found)


def _preference(table: list[list[int]], cell: Cell) -> tuple[int, int, int, int]:
    """Order of candidates for secondary suppression: non-zero before zero, small before large, then position."""
    value = abs(table[cell[0]][cell[1]])
    return (value == 0, value, cell[0], cell[1])


def _candidates(table: list[list[int]], hidden: set[Cell], bridge: Cell) -> list[Cell]:
    """Published cells that put ``bridge`` on a cycle if hidden; failing that, those in its row or column."""
    shown = [(i, j) for i in range(len(table)) for j in range(len(table[0])) if (i, j) not in hidden]
    fixing = [cell for cell in shown if bridge not in bridges(hidden | {cell})]
    if fixing:
        return fixing
    near = [cell for cell in shown if cell[0] == bridge[0] or cell[1] == bridge[1]]
    return near or shown


def protect(table: list[list[int]], hidden: set[Cell]) -> set[Cell]:
    """``hidden`` grown by secondary suppression until no hidden cell of the extended ``table`` is a bridge."""
    hidden = set(hidden)
    while True:
        pinned = bridges(hidden)
        if not pinned:
            return hidden
        choice = min(_candidates(table, hidden, pinned[0]), key=lambda cell: _preference(table, cell))
        hidden.add(choice)


def suppress(values: list[list[int]], min_count: int, also: set[Cell] | None = None) -> tuple[list[list[int]], set[Cell]]:
    """The extended table of ``values`` and its hidden cells (primary, then secondary); see the module docstring."""
    table = extended(values)
    return table, protect(table, primary(table, min_count, also))


__all__ = ["bridges", "extended", "primary", "protect", "suppress"]
