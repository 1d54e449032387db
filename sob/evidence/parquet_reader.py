"""The Parquet reader: every column turned into text as a CSV cell would hold it, then read like a CSV file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sob.contract import Contract
from sob.evidence.csv_reader import clean_text
from sob.evidence.header import resolve_header
from sob.evidence.kinds import Kind
from sob.evidence.model import EvidenceFile
from sob.evidence.raw import Loaded, Raw, named_columns
from sob.evidence.source import Source, unreadable


def load_parquet(kind: Kind, path: Path, label: str, contract: Contract) -> Loaded:
    src = Source(path, label, ",", scan=False)
    digest = src.sha256
    try:
        df = pl.read_parquet(src.source if isinstance(src.source, bytes) else path, glob=False)
    except Exception as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise unreadable(label, f"it is not a readable Parquet file ({why})") from None
    fmt = contract.evidence.date_format
    texts = []
    for name, dtype in df.schema.items():
        c = pl.col(name)
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            e = c.dt.strftime(fmt)
        elif dtype == pl.String:
            e = c
        elif dtype.is_nested() or dtype == pl.Object or dtype == pl.Binary:
            e = c.map_elements(lambda v: None if v is None else str(v), return_dtype=pl.String)
        else:
            e = c.cast(pl.String, strict=False)
        texts.append(e.alias(name))
    if texts:
        df = df.select(texts)
    header, errors = resolve_header(kind, list(df.columns), 1, label, dict(contract.evidence.columns))
    if header is None:
        return None, errors, EvidenceFile(kind=kind.kind, path=path, rows=0, digest=digest)
    ncols = header.ncols
    cells = df.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("line"),
        pl.lit(None, dtype=pl.Int64).alias("__sob_ncells"),
        *[clean_text(pl.col(df.columns[i])).alias(f"_c{i}") for i in range(ncols)],
    )
    if df.width > ncols:  # columns with blank names after the last named one must be empty
        long = df.select(pl.any_horizontal([clean_text(pl.col(df.columns[i])).is_not_null()
                                            for i in range(ncols, df.width)])).to_series()
        cells = cells.with_columns(pl.when(long).then(pl.lit(df.width, dtype=pl.Int64)).alias("__sob_ncells"))
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & pl.col("__sob_ncells").is_null()
    cells = cells.filter(~blank)
    raw = Raw(kind=kind, label=label, lf=named_columns(kind, header, cells.lazy()), carried=list(header.carried),
               shown=header.shown, col_no={header.names[i]: i + 1 for i in range(ncols)},
               date_format=fmt, ncols=ncols, path=path, digest=digest, present=frozenset(header.canon_pos),
               nul=bool(df.select(pl.any_horizontal(pl.all().str.contains("\x00", literal=True).any())).item()))
    return raw, [], None
