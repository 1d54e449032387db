"""The compact typing path for clean files: one query keeps only the typed columns and one
"bad" flag; a few invalid rows are read again in detail.  It must give exactly what the
detailed path gives (``tests/test_evidence_paths.py`` holds it to that).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from sob.contract import Contract
from sob.evidence.cells import typed_submitted
from sob.evidence.checks import row_checks, row_findings
from sob.evidence.detailed import mend_outputs, reported, typed_query
from sob.evidence.duplicates import ids_distinct
from sob.evidence.frames import beside, collect
from sob.evidence.kinds import typed_schema
from sob.evidence.raw import Fallback, Raw, Typed
from sob.evidence.register import Register
from sob.findings import Finding


def read_clean(raw: Raw, contract: Contract, register: Register | None, keep: Collection[str] | None = None,
                ) -> tuple[pl.DataFrame, list[tuple[int, int, Finding]], pl.Series | None] | None:
    """The typed frame of a file and its row findings, from one compact query; ``None`` to read in detail.

    Large files are usually clean.  For them the query keeps only what the
    typed frame holds (a date, not its text; one flag for all the checks) and
    the streaming engine drops each batch's text once it is typed, so memory
    peaks at the typed frame rather than at the text.  A few invalid rows are
    read again in detail on their own (``_mend_bad_rows``).  A file with more
    to report (many invalid rows, a possibly repeated id, cells to trim,
    lines the fast reader cannot vouch for) gives ``None``: the detailed
    reading (``type_detailed`` and ``finalise``) then says what and where.
    ``keep``: the typed columns wanted (the id is always read); ``None`` for
    all of them and the carried ones.

    Claims are looked up in the register after the query, by a join that
    also gives each claim its participant's row in the register (returned
    third, ``None`` for other files): the assessment needs those rows, and
    one search of the register costs what a check in the query would.
    """
    kind = raw.kind
    locate = kind.kind == "claims" and register is not None
    derived, checks, out = row_checks(kind, contract, raw.date_format, None if locate else register, raw.present,
                                       raw.nul_columns(), midnight=False)
    flags = [c.flag.fill_null(False) for c in checks]
    marks = list(raw.marks)
    bad = pl.any_horizontal(flags)
    if "__sob_blank" in marks:
        bad = bad & ~pl.col("__sob_blank")
    if kind.kind != "participants":  # what mend_outputs does after the detailed query
        out = {**out, "submitted_on": typed_submitted()}
    if kind.kind == "claims":  # unknown outcomes come out null here; _mend_bad_rows puts them back
        out["outcome_id"] = pl.col("__sob_oc")
    schema = {n: t for n, t in typed_schema(kind, contract).items() if keep is None or n in keep or n == kind.id_col}
    carried = raw.carried if keep is None else [c for c in raw.carried if c in keep]
    # typed inside the query, batch by batch: a column's text is never held whole
    cols = [(out[n] if n in out else pl.col(n)).cast(schema[n]).alias(n) for n in schema if n != "error"]
    line = [] if "line" in schema else ["line"]  # how invalid rows are found again
    if locate and "participant_id" not in schema:
        cols.append(pl.col("participant_id"))
    lf = raw.lf.with_columns(derived).select(*cols, *line, *carried, *marks, bad.alias("__sob_bad"))
    try:
        df = collect(raw, lf)
    except Fallback:
        return None
    too_many = max(1000, df.height // 100)
    if int(df["__sob_bad"].sum()) > too_many or raw.check(df) != "ok":
        return None
    if locate:
        assert register is not None
        rows = register.rows_of(df["participant_id"])
        # an unknown participant, or one whose register row is invalid: read again in detail
        flagged = df["participant_id"].is_not_null() & rows.is_null()
        if register.bad_ids:
            flagged = flagged | rows.is_in(register.bad_rows.implode()).fill_null(False)
        df = beside(df, rows.alias("__sob_preg"), (df["__sob_bad"] | flagged).alias("__sob_bad"))
    n_bad = int(df["__sob_bad"].sum())
    if n_bad > too_many:
        return None
    if raw.src is not None:
        raw.src.sniff(whole=True)
        if raw.src.counts().has_nul and not raw.nul:  # stray NULs the query did not look for
            raw.nul = True
            return None
    if "__sob_blank" in marks and df["__sob_blank"].any():
        df = df.filter(~pl.col("__sob_blank"))
    ids = df[kind.id_col]
    if ids.null_count() == 0 and ids.is_sorted():  # said once, so later order checks cost nothing
        df = df.with_columns(ids := ids.set_sorted())
    if not ids_distinct(ids):
        return None
    error: pl.Expr | pl.Series = pl.lit(None, dtype=pl.String).alias("error")
    findings: list[tuple[int, int, Finding]] = []
    if n_bad:
        mended = _mend_bad_rows(raw, contract, register, df)
        if mended is None:
            return None
        error, outcome, findings = mended
        if outcome is not None and "outcome_id" in schema:
            schema["outcome_id"] = outcome.dtype
            df = df.with_columns(outcome)
    df = df.drop(*marks, "__sob_bad")
    if "error" in schema:
        df = df.with_columns(error)
    participant_rows = df["__sob_preg"].alias("participant_rows") if locate else None
    return df.select(*schema, *carried).cast(schema), findings, participant_rows  # type: ignore[arg-type]


_DATES = ("achieved_on", "submitted_on", "enrolled_on")


def _mend_bad_rows(raw: Raw, contract: Contract, register: Register | None, df: pl.DataFrame,
                   ) -> tuple[pl.Series, pl.Series | None, list[tuple[int, int, Finding]]] | None:
    """The invalid rows of a compact read, read again in detail: their errors and findings.

    Only those rows are typed with their text kept (the file is parsed again,
    but nothing else is held), so a file with a handful of invalid rows costs
    one more parse, not a detailed reading of every row.  Returns the
    ``error`` column, the claims' ``outcome_id`` with unknown ids put back
    (``None`` for other files), and the findings; ``None`` when the rows read
    again are not the rows flagged (the caller then reads the file in detail).
    """
    at = df["__sob_bad"].arg_true()
    lines = df["line"].gather(at)
    lf, checks, out = typed_query(raw, raw.lf.filter(pl.col("line").is_in(lines.implode())), contract, register)
    try:
        rows = mend_outputs(collect(raw, lf))
    except Fallback:
        return None
    if "__sob_blank" in rows.columns:
        rows = rows.filter(~pl.col("__sob_blank"))
    if not rows["line"].equals(lines, check_names=False):
        return None
    for name in _DATES:  # a date the detailed reading rescued (a midnight datetime): read the file in detail
        if name in df.columns and f"__sob_o_{name}" in rows.columns and not df[name].gather(at).equals(
                rows[f"__sob_o_{name}"].cast(pl.Date), check_names=False):
            return None
    typed = Typed(raw=raw, frame=rows, checks=checks, out=out, rows=rows.height)
    findings = row_findings(typed, contract, rows.filter(reported()))
    error = pl.repeat(None, df.height, dtype=pl.String, eager=True).scatter(at, rows["error"]).alias("error")
    outcome = None
    if raw.kind.kind == "claims" and "outcome_id" in df.columns:
        enum = typed_schema(raw.kind, contract, rows)["outcome_id"]
        outcome = df["outcome_id"].cast(enum).scatter(at, rows["outcome_id"].cast(enum)).alias("outcome_id")
    return error, outcome, findings
