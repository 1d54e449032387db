"""The three evidence files as the readers see them: id column, canonical and required columns
(from :mod:`sob.columns`), typed frame schemas and the order of data-error codes (SPEC 4.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sob.columns import ID_COLUMN, STATUSES, Column, columns_of, read_with, required_of
from sob.contract import Contract

TRUE = ("true", "yes", "1")
FALSE = ("false", "no", "0")
RESERVED = ("line", "error")  # columns sob adds to every frame
INTERNAL = "__sob"  # prefix of working columns; a header may not start with it


@dataclass(frozen=True)
class Kind:
    """One evidence file as the readers see it (from the catalogue in :mod:`sob.columns`)."""

    kind: str  # "claims" | "participants" | "results"
    id_col: str
    columns: tuple[str, ...]  # canonical columns, in frame order
    required: tuple[str, ...]


def _kind(file: str, keys: frozenset[str] = frozenset()) -> Kind:
    return Kind(file, ID_COLUMN[file], read_with(file, keys), required_of(file))


CLAIMS = _kind("claims")
PARTICIPANTS = _kind("participants")
RESULTS = _kind("results")
KINDS = {k.kind: k for k in (CLAIMS, PARTICIPANTS, RESULTS)}


def outcome_keys(contract: Contract) -> frozenset[str]:
    """The outcome keys in use that make an evidence column read (``scale``, ``age_at_enrolment``)."""
    keys: set[str] = set()
    if any(o.scale is not None for o in contract.outcomes):
        keys.add("scale")
    if contract.reads_date_of_birth:
        keys.add("age_at_enrolment")
    return frozenset(keys)


def kind_for(file: str, contract: Contract) -> Kind:
    """The file as this contract reads it: with ``value`` when some outcome has ``scale`` (SPEC 11.4),
    with ``date_of_birth`` when some outcome has ``age_at_enrolment`` (11.5).

    Without those keys the columns are carried like any unknown column, so
    a version-1 file is read exactly as before.  Code that asks which file
    a ``Kind`` is compares ``kind.kind``: the object differs by contract.
    """
    keys = outcome_keys(contract)
    base = KINDS[file]
    wanted = read_with(file, keys)
    return base if wanted == base.columns else _kind(file, keys)


def _dtype(col: Column) -> pl.DataType:
    """The typed frame's dtype of a column.

    Decimals stay exact text (the engine parses them as it needs); a claim's
    status is an Enum, a result's stays text as the improvement rules read it.
    """
    if col.type == "status":
        return pl.Enum(STATUSES) if col.file == "claims" else pl.String()
    return {"date": pl.Date(), "flag": pl.Boolean(), "money": pl.Int64()}.get(col.type, pl.String())


_TYPED_SCHEMA: dict[str, dict[str, pl.DataType]] = {
    f: {"line": pl.Int64(), **{c.name: _dtype(c) for c in columns_of(f)}, "error": pl.String()}
    for f in KINDS
}


def typed_schema(kind: Kind, contract: Contract, frame: pl.DataFrame | None = None) -> dict[str, pl.DataType]:
    """The typed frame's columns; a claim's ``outcome_id`` is an Enum of the rate card's ids.

    An Enum costs a byte a row where the text costs 16, on millions of claims.
    Its values are the contract's outcome ids in rate-card order, then the
    unknown ids ``frame`` holds (rows rejected as ``UNKNOWN_OUTCOME``), so
    no id is lost.
    """
    schema = {n: t for n, t in _TYPED_SCHEMA[kind.kind].items() if n in kind.columns or n in RESERVED}
    if kind.kind == "claims":
        ids = [o.id for o in contract.outcomes]
        if frame is not None:
            known = set(ids)
            ids += sorted(v for v in frame["outcome_id"].drop_nulls().unique().to_list() if v not in known)
        schema["outcome_id"] = pl.Enum(ids)
    return schema


# Order in which a row's reject reason is chosen (SPEC 4.4); findings of one
# line are listed in this order too.
_PRIORITY = (
    "DUPLICATE_ID", "DUPLICATE_PARTICIPANT", "DUPLICATE_ROW",
    "BAD_ROW_LENGTH", "MISSING_VALUE", "BAD_TEXT", "BAD_DATE", "SUBMITTED_BEFORE_ACHIEVED", "BAD_STATUS",
    "BAD_BOOLEAN", "UNKNOWN_OUTCOME", "WRONG_OUTCOME_KIND", "UNKNOWN_PARTICIPANT",
    "BAD_NUMBER", "NON_POSITIVE_BASELINE",
)
PRIO = {c: i for i, c in enumerate(_PRIORITY)}
# What "trimmed of white space" removes: Unicode White_Space, as polars' strip_chars() does.
WS = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
       + "\u2028\u2029\u202f\u205f\u3000")
