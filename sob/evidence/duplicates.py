"""Duplicated ids (SPEC 4.4): which ids repeat, whether their rows differ, and their findings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import polars as pl

from sob.evidence.kinds import PRIO
from sob.evidence.raw import Typed
from sob.findings import Finding, cut


@dataclass
class Dups:
    differing: list[str] = field(default_factory=list)  # ids whose rows differ
    drop: pl.DataFrame | None = None  # line, __sob_first, id: identical repeats to drop (warnings)


def ids_distinct(ids: pl.Series) -> bool:
    """No two rows share an id (nulls aside)?  ``False`` may be a false alarm (two ids share a hash).

    Costs one hash of the column, or one comparison of neighbours when the
    ids are sorted (files often are).
    """
    nulls = ids.null_count()
    nonnull = ids.len() - nulls
    if nonnull < 2:
        return True
    if nulls == 0 and ids.is_sorted():
        return not _equal_neighbours(ids)
    return ids.hash().n_unique() == nonnull + (1 if nulls else 0)


def _equal_neighbours(ids: pl.Series) -> bool:
    """Does any id equal the one before it?  Compared piece by piece, in place.

    A shifted copy of millions of ids costs fresh memory; slices of the
    whole column, cut unlike its pieces, make polars join the pieces first.
    """
    last = None
    for piece in ids.get_chunks():
        if piece.len() == 0:
            continue
        if (last is not None and piece[0] == last) or (piece.slice(1) == piece.slice(0, piece.len() - 1)).any():
            return True
        last = piece[-1]
    return False


def find_dups(typed: Typed) -> Dups:
    """Ids used by more than one row: those whose rows differ, and identical repeats.

    Rows are compared on their trimmed text (every canonical and carried
    column), case-sensitively.  The common case, no duplicates at all, costs
    one hash of the id column.
    """
    raw, df = typed.raw, typed.frame
    id_col = raw.kind.id_col
    if ids_distinct(df[id_col]):
        return Dups()
    compare = list(raw.kind.columns) + raw.carried
    cand = df.select("line", *compare).filter(pl.col(id_col).is_not_null() & pl.col(id_col).is_duplicated())
    if cand.height == 0:
        return Dups()
    variants = cand.unique(subset=compare).group_by(id_col).len()
    differing = variants.filter(pl.col("len") > 1)[id_col].to_list()
    same = cand.filter(~pl.col(id_col).is_in(differing)).select(
        "line", pl.col("line").min().over(id_col).alias("__sob_first"), pl.col(id_col)
    )
    drop = same.filter(pl.col("line") != pl.col("__sob_first"))
    return Dups(differing=sorted(differing), drop=drop if drop.height else None)


#: how many other lines of a duplicated id a finding names (the rest are counted)
LISTED = 5


def dup_findings(typed: Typed, dup_ids: list[str], code: str,
                  other: dict[str, list[tuple[str, int]]]) -> list[tuple[int, int, Finding]]:
    """One finding per row whose id is duplicated (``other``: lines of the id in another file)."""
    if not dup_ids:
        return []
    raw = typed.raw
    id_col = raw.kind.id_col
    rows = typed.frame.filter(pl.col(id_col).is_in(dup_ids)).select("line", id_col).sort("line")
    lines_of: dict[str, list[int]] = {}
    for line, ident in rows.iter_rows():
        lines_of.setdefault(ident, []).append(line)
    out = []
    for line, ident in rows.iter_rows():
        group, elsewhere = lines_of[ident], other.get(ident, [])
        out.append((line, PRIO[code], Finding(
            code=code, file=raw.label, line=line, col=raw.col_no.get(id_col), field=id_col, value=cut(ident),
            message=f"{id_col} {cut(ident)!r} is used by {len(group) + len(elsewhere)} "
                    f"{'rows' if elsewhere else 'rows that differ'}{_also(group, line, elsewhere)}",
            hint=("a claim and a cohort result cannot share an id" if elsewhere
                  else "give each row its own id, or remove the repeats"),
        )))
    return out


def _also(group: list[int], line: int, elsewhere: list[tuple[str, int]]) -> str:
    """`` (also line 3, line 9 ...)``: the id's other lines, the first ``LISTED`` of them and how many more.

    Each finding costs the same whatever the size of its group, so a file of
    rows sharing one id is reported in time linear in its rows.
    """
    shown = [f"line {n}" for n in itertools.islice((n for n in group if n != line), LISTED)]
    shown += [f"{label} line {n}" for label, n in elsewhere[: LISTED - len(shown)]]
    more = len(group) - 1 + len(elsewhere) - len(shown)
    if not shown:
        return ""
    return f" (also {', '.join(shown)}" + (f" and {more:,} more)" if more else ")")


def adjustment_ids_in(typed: Typed | None, adjustment_ids: list[str]) -> list[str]:
    """The contract's adjustment ids that rows of this file also use (SPEC 10.6), sorted."""
    if typed is None or not adjustment_ids or typed.frame.height == 0:
        return []
    id_col = typed.raw.kind.id_col
    found = typed.frame.filter(pl.col(id_col).is_in(adjustment_ids))[id_col].unique()
    return sorted(found.to_list())


def adjustment_findings(typed: Typed, ids: list[str], lines: dict[str, int | None],
                        ) -> list[tuple[int, int, Finding]]:
    """DUPLICATE_ID on every row whose id is an adjustment's (``lines``: id -> the adjustment's contract line).

    One id must name one payment: a claim under an adjustment's id would
    make the ledger add two payments under one key.
    """
    if not ids:
        return []
    raw = typed.raw
    id_col = raw.kind.id_col
    rows = typed.frame.filter(pl.col(id_col).is_in(ids)).select("line", id_col).sort("line")
    out = []
    for line, ident in rows.iter_rows():
        at = lines.get(ident)
        out.append((line, PRIO["DUPLICATE_ID"], Finding(
            code="DUPLICATE_ID", file=raw.label, line=line, col=raw.col_no.get(id_col), field=id_col, value=cut(ident),
            message=f"{id_col} {cut(ident)!r} is also the id of an adjustment in the contract"
                    + (f" (line {at})" if at else ""),
            hint="an adjustment id must differ from every claim and result id: rename the adjustment or the row",
        )))
    return out
