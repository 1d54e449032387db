"""The rows of a worked example (TOML values) as a raw frame, read like an evidence file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from sob.evidence.kinds import RESERVED, WS, Kind
from sob.evidence.raw import Raw


def _inline_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return str(value)  # a date-time is not a date: BAD_DATE
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def inline_raw(kind: Kind, rows: Iterable[dict[str, Any]], label: str) -> Raw:
    rows = list(rows)
    extra: list[str] = []
    for r in rows:
        for k in r:
            if k not in kind.columns and k not in extra:
                extra.append(str(k))
    extra = [e for e in extra if e not in RESERVED]
    names = list(kind.columns) + extra
    data: dict[str, list[Any]] = {"line": list(range(1, len(rows) + 1)), "__sob_ncells": [None] * len(rows)}
    for n in names:
        col = []
        for r in rows:
            t = _inline_text(r.get(n))
            t = t.strip(WS) if t is not None else None
            col.append(t or None)
        data[n] = col
    schema = {"line": pl.Int64(), "__sob_ncells": pl.Int64(), **{n: pl.String() for n in names}}
    frame = pl.DataFrame(data, schema=schema)
    present = frozenset(k for r in rows for k in r if k in kind.columns)
    nul = any("\x00" in v for col in (data[n] for n in names) for v in col if v is not None)
    return Raw(kind=kind, label=label, lf=frame.lazy(), carried=extra, shown={n: n for n in names},
               col_no={}, date_format="%Y-%m-%d", present=present, nul=nul)
