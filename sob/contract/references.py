"""Checks across outcomes: unique ids, ``requires`` and ``net_of`` naming the right outcomes, no cycles.

They run on :class:`~sob.contract.sections.OutcomeFacts`, which are kept even
for outcomes with other errors, so that every problem is reported in one pass.
"""

from __future__ import annotations

from sob.contract.report import Reporter, did_you_mean, quoted
from sob.contract.sections import OutcomeFacts
from sob.contract.toml_locate import KeyPath


def check_outcome_ids(r: Reporter, outcomes: list[OutcomeFacts]) -> bool:
    """DUPLICATE_ID for an outcome id used twice (reported at the later one)."""
    first: dict[str, int] = {}
    ok = True
    for i, outcome in enumerate(outcomes):
        if outcome.id is None:
            continue
        if outcome.id in first:
            r.error(
                "DUPLICATE_ID",
                ("outcomes", i, "id"),
                f"outcome id '{outcome.id}' is used twice (first by outcomes[{first[outcome.id]}])",
                value=outcome.id,
            )
            ok = False
        else:
            first[outcome.id] = i
    return ok


def check_requires(r: Reporter, outcomes: list[OutcomeFacts]) -> bool:
    """Every ``requires`` names a known claim outcome, and there is no cycle."""
    index: dict[str, int] = {}
    for i, o in enumerate(outcomes):
        if o.id is not None:
            index.setdefault(o.id, i)
    known_ids = list(index)
    ok = True
    edges: dict[int, list[tuple[int, int]]] = {}
    for i, outcome in enumerate(outcomes):
        for j, req in enumerate(outcome.requires or ()):
            rpath: KeyPath = ("outcomes", i, "requires", j)
            target = index.get(req.outcome)
            if target is None:
                r.error(
                    "UNKNOWN_REFERENCE",
                    rpath,
                    f"{r.subject(('outcomes', i))} requires {quoted(req.outcome)}, which is not an outcome of this contract",
                    value=req.outcome,
                    hint=did_you_mean(req.outcome, known_ids),
                )
                ok = False
            elif outcomes[target].kind == "improvement":
                r.error(
                    "UNKNOWN_REFERENCE",
                    rpath,
                    f"{r.subject(('outcomes', i))} requires '{req.outcome}', an improvement "
                    "outcome; only claim outcomes can be prerequisites",
                    value=req.outcome,
                )
                ok = False
            else:
                edges.setdefault(i, []).append((target, j))
    return check_cycles(r, outcomes, edges) and ok


def cycles(edges: dict[int, list[tuple[int, int]]]) -> list[tuple[list[int], int, int]]:
    """Every cycle of a graph once: (its nodes in order, the node whose edge closes it, that edge's index).

    Iterative depth-first search, so a long chain of references cannot
    overflow the call stack; ``edges[i]`` lists (target, index of the entry
    naming it).  Shared by ``requires`` and ``net_of``: both must be acyclic.
    """
    state: dict[int, int] = {}  # 1 = on the current path, 2 = done
    found: list[tuple[list[int], int, int]] = []
    seen: set[frozenset[int]] = set()
    for root in sorted(edges):
        if state.get(root):
            continue
        path: list[int] = [root]
        iters = [iter(edges.get(root, []))]
        state[root] = 1
        while path:
            step = next(iters[-1], None)
            if step is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            target, j = step
            if state.get(target) == 1:
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append((cycle, path[-1], j))
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                iters.append(iter(edges.get(target, [])))
    return found


def check_cycles(r: Reporter, outcomes: list[OutcomeFacts], edges: dict[int, list[tuple[int, int]]]) -> bool:
    """REQUIRES_CYCLE once per cycle, at the ``requires`` entry that closes it."""
    found = cycles(edges)
    for cycle, last, j in found:
        names = [str(outcomes[k].id) for k in (*cycle, cycle[0])]
        r.error(
            "REQUIRES_CYCLE",
            ("outcomes", last, "requires", j),
            f"requires forms a cycle: {' -> '.join(names)}",
            hint="an outcome cannot (even indirectly) require itself",
        )
    return not found


def check_net_of(r: Reporter, outcomes: list[OutcomeFacts]) -> bool:
    """Every ``net_of`` names another improvement outcome, and netting has no cycle (SPEC 11.6, 11.7).

    A pooled payment netted of itself, or two outcomes netted of each other,
    would have no first row to settle: which one pays would depend on
    nothing in the contract.
    """
    index: dict[str, int] = {}
    for i, o in enumerate(outcomes):
        if o.id is not None:
            index.setdefault(o.id, i)
    ok = True
    edges: dict[int, list[tuple[int, int]]] = {}
    for i, outcome in enumerate(outcomes):
        for j, name in enumerate(outcome.net_of or ()):
            npath: KeyPath = ("outcomes", i, "net_of", j)
            target = index.get(name)
            if target is None:
                r.error("UNKNOWN_REFERENCE", npath,
                        f"{r.subject(('outcomes', i))} is net of {quoted(name)}, which is not an outcome of this contract",
                        value=name, hint=did_you_mean(name, list(index)))
                ok = False
            elif outcomes[target].kind != "improvement":
                r.error("UNKNOWN_REFERENCE", npath,
                        f"{r.subject(('outcomes', i))} is net of '{name}', a claim outcome; "
                        "only improvement outcomes can be netted", value=name)
                ok = False
            elif target == i:
                r.error("NETTING_CYCLE", npath, f"{r.subject(('outcomes', i))} is net of itself", value=name,
                        hint="list the other outcomes whose payments this one settles")
                ok = False
            else:
                edges.setdefault(i, []).append((target, j))
    return _net_of_acyclic(r, outcomes, edges) and ok


def _net_of_acyclic(r: Reporter, outcomes: list[OutcomeFacts], edges: dict[int, list[tuple[int, int]]]) -> bool:
    """NETTING_CYCLE once per cycle of ``net_of``, at the entry that closes it."""
    found = cycles(edges)
    for cycle, last, j in found:
        names = [str(outcomes[k].id) for k in (*cycle, cycle[0])]
        r.error("NETTING_CYCLE", ("outcomes", last, "net_of", j), f"net_of forms a cycle: {' -> '.join(names)}",
                hint="two pooled payments cannot each be net of the other")
    return not found
