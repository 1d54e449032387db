"""The detailed typing path: one query keeps every check's flag and the raw text, so every
finding can say what and where; then repeats are dropped and duplicated ids collapsed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from sob.contract import Contract
from sob.evidence.cells import Check, typed_submitted
from sob.evidence.checks import row_checks, row_findings
from sob.evidence.frames import collect
from sob.evidence.kinds import PRIO, typed_schema
from sob.evidence.raw import Fallback, Raw, Typed
from sob.evidence.register import Register
from sob.findings import Finding, cut


def typed_query(raw: Raw, lf: pl.LazyFrame, contract: Contract, register: Register | None
                 ) -> tuple[pl.LazyFrame, list[Check], dict[str, pl.Expr]]:
    kind = raw.kind
    derived, checks, out = row_checks(kind, contract, raw.date_format, register, raw.present, raw.nul_columns())
    flags = [c.flag.fill_null(False).alias(f"__sob_f{i}") for i, c in enumerate(checks)]
    chain: Any = None
    for i, c in enumerate(checks):
        if c.warn:  # a warning never makes the row invalid
            continue
        flag = pl.col(f"__sob_f{i}")
        chain = (pl.when(flag) if chain is None else chain.when(flag)).then(pl.lit(c.code))
    err0 = chain.otherwise(pl.lit(None, dtype=pl.String)).alias("__sob_err0")
    warned = pl.any_horizontal([pl.col(f"__sob_f{i}") for i, c in enumerate(checks) if c.warn] or [pl.lit(False)])
    lf = lf.with_columns(derived).with_columns(flags).with_columns(err0, warned.alias("__sob_warn"))
    if kind.kind == "claims" and register is not None and register.bad_ids:
        error = pl.coalesce(pl.col("__sob_err0"), register.code_of(pl.col("participant_id")))
    else:
        error = pl.col("__sob_err0")
    lf = lf.with_columns(error.alias("error"),
                         *[e.alias(f"__sob_o_{n}") for n, e in out.items()])
    return lf, checks, out
def type_detailed(raw: Raw, contract: Contract, register: Register | None) -> Typed:
    """Run every per-row check in one polars query (the fast reader's scan included)."""
    lf, checks, out = typed_query(raw, raw.lf, contract, register)
    df: pl.DataFrame | None = None
    try:
        df = collect(raw, lf)
        how = raw.check(df)
    except Fallback:
        if raw.redo is None:
            raise
        how = "exact"
    while how != "ok":
        done, df = df, None
        try:
            df = collect(raw, typed_query(raw, raw.redo(how, done), contract, register)[0])
            del done
            how = "ok" if how == "exact" else raw.verify(df)
        except Fallback:
            if how == "exact":
                raise
            how = "exact"
    assert df is not None
    if raw.src is not None:
        raw.src.sniff(whole=True)
        if raw.src.counts().has_nul and not raw.nul:  # stray NULs the query did not look for: check cells for them
            raw.nul = True
            return type_detailed(raw, contract, register)
    df = mend_outputs(df)
    drop = [c for c in ("__sob_blank", "__sob_ws", "__sob_qd", "__sob_last_null") if c in df.columns]
    if "__sob_blank" in drop and df["__sob_blank"].any():
        df = df.filter(~pl.col("__sob_blank"))
    if drop:
        df = df.drop(drop)
    return Typed(raw=raw, frame=df, checks=checks, out=out, rows=df.height)


def reported() -> pl.Expr:
    """The rows of a typed frame that have a finding: an error, or a warning about a cell."""
    return pl.col("__sob_err0").is_not_null() | pl.col("__sob_warn")


def mend_outputs(df: pl.DataFrame) -> pl.DataFrame:
    """The typed submission date where it differs from the date read (see ``row_checks``).

    No submission date means the achievement date.  Only files that have
    such rows pay for a new column.
    """
    if "__sob_sub" in df.columns and df["submitted_on"].null_count():
        df = df.with_columns(typed_submitted().alias("__sob_o_submitted_on"))
    return df
def finalise(typed: Typed, drop: pl.DataFrame | None, dup_ids: list[str], dup_code: str,
              contract: Contract) -> tuple[pl.DataFrame, list[tuple[int, int, Finding]]]:
    """Drop identical repeats, collapse duplicated ids, pull out findings, select the typed columns."""
    raw = typed.raw
    kind = raw.kind
    id_col = kind.id_col
    frame = typed.frame
    findings: list[tuple[int, int, Finding]] = []
    drop_lines: list[int] = []
    if drop is not None and drop.height:
        for line, first, ident in drop.select("line", "__sob_first", id_col).iter_rows():
            drop_lines.append(line)
            findings.append((line, PRIO["DUPLICATE_ROW"], Finding(
                code="DUPLICATE_ROW", severity="warning", file=raw.label, line=line,
                col=raw.col_no.get(id_col), field=id_col, value=cut(ident),
                message=f"line {line} repeats line {first} exactly ({id_col} {cut(ident)!r}); it is counted once",
            )))
        frame = frame.filter(~pl.col("line").is_in(drop_lines))
    findings += row_findings(typed, contract, frame.filter(reported()))
    schema = typed_schema(kind, contract, frame)
    cols = [pl.col(f"__sob_o_{n}").alias(n) if n in typed.out else pl.col(n) for n in schema]
    cols += [pl.col(c) for c in raw.carried]
    merged = None
    if dup_ids:
        in_dup = pl.col(id_col).is_in(dup_ids)
        merged = (frame.filter(in_dup).group_by(id_col).agg(pl.col("line").min())
                  .with_columns(pl.lit(dup_code).alias("error")))
        frame = frame.filter(~in_dup)
    out = frame.select(cols)
    if merged is not None and merged.height:
        out = pl.concat([out, merged], how="diagonal_relaxed").select(out.columns).sort("line")
    out = out.cast(schema)  # type: ignore[arg-type]
    return out, findings
