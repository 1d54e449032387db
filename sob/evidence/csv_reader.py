"""The CSV readers: every cell as trimmed text (empty -> null), with the line each record starts on
and its cell count.  Three readers, tried in order:

* **fast** (a file that is one record per line): one streaming ``pl.scan_csv`` query that
  parses and runs every check, trusted only after the fact against the byte scan of
  :mod:`sob.evidence.source` (line count, lone CRs, delimiter count).  Cells are trimmed
  only when a row or the scan says some cell needs it.
* **structured** (quotes, blank lines, short rows): ``pl.read_csv`` parses the cells (RFC 4180)
  while a ``pl.scan_lines`` pass works out the record structure; every line is first matched
  against the RFC 4180 grammar, so the two views agree.
* **csv module** (malformed quoting, lone CR line breaks, anything the others cannot vouch for):
  Python's :mod:`csv`, record by record.  The other two are tested to give exactly what it gives.
"""

from __future__ import annotations

import csv
import io
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from sob.columns import MAX_PIPE_BYTES
from sob.contract import Contract
from sob.evidence.encoding import not_utf8, transcode
from sob.evidence.header import Header, HeaderAt, find_header, is_blank, no_header, regex_char, resolve_header
from sob.evidence.kinds import WS, Kind
from sob.evidence.model import EvidenceFile
from sob.evidence.raw import Fallback, Loaded, Raw, named_columns
from sob.evidence.source import Source
from sob.findings import UsageError
from sob.textcodecs import is_utf8


def clean_text(e: pl.Expr) -> pl.Expr:
    """Trimmed text, null when empty (polars already reads an empty cell as null)."""
    return e.str.strip_chars().replace("", None)


def _cells_frame_schema(ncols: int) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"line": pl.Int64(), "__sob_ncells": pl.Int64()}
    schema.update({f"_c{i}": pl.String() for i in range(ncols)})
    return schema


def fast_lazy(src: Source, at: HeaderAt, header: Header, delim: str, strip: bool) -> pl.LazyFrame:
    """``scan_csv`` straight into the checks, verified afterwards by ``_fast_check``.

    Rows keep a ``__sob_blank`` flag instead of being filtered, so the row count
    can be checked against the file's line count.  With ``strip=False`` cells
    are not trimmed (trimming costs as much as parsing); instead ``__sob_ws``
    flags rows with a cell that starts or ends with a space, and the read is
    redone with trimming when any row (or the byte scan) says it was needed.
    When the file holds quotes, ``__sob_qd`` counts the delimiters inside each
    row's cells (they can only be there in quoted cells).
    """
    ncols, nraw = header.ncols, header.nraw
    quoted = src.has_quote
    lf = pl.scan_csv(
        src.source, has_header=True, skip_lines=at.start, new_columns=[f"_c{i}" for i in range(nraw)],
        infer_schema=False, separator=delim, quote_char='"' if quoted else None, truncate_ragged_lines=False,
        raise_if_empty=False, glob=False,
    ).with_row_index("__sob_i")
    if strip:
        clean = clean_text
    elif quoted:  # polars reads a quoted empty cell ("") as "", not null
        def clean(e: pl.Expr) -> pl.Expr:
            return pl.when(e.str.len_bytes() > 0).then(e)
    else:
        def clean(e: pl.Expr) -> pl.Expr:
            return e
    cells = [clean(pl.col(f"_c{i}")).alias(f"_c{i}") for i in range(ncols)]
    if nraw > ncols:  # cells under trailing blank header names must be empty
        long: pl.Expr = pl.any_horizontal([clean(pl.col(f"_c{i}")).is_not_null() for i in range(ncols, nraw)])
    else:
        long = pl.lit(False)
    if not strip and (quoted or src.space_from_line(at.data_start)):
        edge = [pl.col(f"_c{i}") for i in range(nraw)]
        ws = [pl.any_horizontal([e.str.starts_with(" ") | e.str.ends_with(" ") for e in edge]).alias("__sob_ws")]
    elif not strip:  # no space byte among the data rows: no cell starts or ends with one
        ws = [pl.lit(False).alias("__sob_ws")]
    else:
        ws = []
    if quoted:
        ws.append(pl.sum_horizontal([pl.col(f"_c{i}").str.count_matches(delim, literal=True)
                                     for i in range(nraw)]).cast(pl.Int64).alias("__sob_qd"))
    else:  # only a row whose last cell is empty can be short of cells (see _fast_check)
        ws.append(pl.col(f"_c{nraw - 1}").is_null().alias("__sob_last_null"))
    lf = lf.select(
        (pl.col("__sob_i").cast(pl.Int64) + (at.data_start + 1)).alias("line"),
        pl.when(long).then(pl.lit(nraw, dtype=pl.Int64)).otherwise(pl.lit(None, dtype=pl.Int64)).alias("__sob_ncells"),
        *cells,
        long.alias("__sob_long"),
        *ws,
    )
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & ~pl.col("__sob_long")
    return lf.with_columns(blank.alias("__sob_blank")).drop("__sob_long")


def _fast_check(src: Source, at: HeaderAt, header: Header, df: pl.DataFrame) -> str:
    """Can the fast read be trusted?  ``ok``, ``strip`` (redo it trimming cells) or ``exact``.

    ``exact``: the file is not one record per line with the header's number of
    cells on every line (counted from the bytes), so the line numbers or row
    lengths polars saw cannot be trusted.
    """
    c = src.counts()
    rows = df.height
    lines = c.newlines + (0 if c.ends_with_newline or src.size == 0 else 1)
    if not (c.carriage_returns == c.crlf and lines == at.data_start + rows):
        return "exact"
    # Every line is one record.  Without quotes, polars reads every cell a line
    # has (more than the header's is an error), so a line can only be short of
    # cells where its last cell came out empty: only then are delimiters counted.
    if "__sob_qd" in df.columns or df["__sob_last_null"].any():
        inside = 0
        if "__sob_qd" in df.columns:  # delimiters inside quoted cells, header and rows
            inside = sum(cell.count(src.delim) for cell in at.cells) + int(df["__sob_qd"].sum() or 0)
        if src.delimiters() != at.pre_delimiters + (header.nraw - 1) * (rows + 1) + inside:
            return "exact"
    if "__sob_ws" in df.columns and (c.odd_whitespace or df["__sob_ws"].any()):
        return "strip"
    return "ok"


def _well_formed(src: Source, at: HeaderAt) -> bool:
    """Every line from the header on is a whole RFC 4180 record (no quote left open).

    Only then do polars and Python's csv module read the same cells from it.
    One allocation-free regular expression match per line.
    """
    d = regex_char(src.delim)
    f = f'(?:"(?:[^"]|"")*"|[^"{d}\r]*)'
    line = f"^(?:{f}{d})*{f}$"
    try:
        return bool(
            pl.scan_lines(src.source, name="_t", glob=False).slice(at.start)
            .select(pl.col("_t").str.contains(line).all()).collect().item()
        )
    except pl.exceptions.PolarsError:
        return False


# RFC 4180 building blocks for one line of text (a quoted field may span lines).
def _line_patterns(delim: str) -> tuple[str, str, str, str]:
    d = regex_char(delim)
    q = r'"(?:[^"]|"")*"'  # a closed quoted field
    u = f'[^"{d}\\r]*'  # an unquoted field
    o = r'"(?:[^"]|"")*'  # a quoted field still open at the end of the line
    f = f"(?:{q}|{u})"
    outside = f"^(?:{f}{d})*(?:{f}|{o})$"  # a line that starts outside quotes
    inside = f'^(?:[^"]|"")*(?:"(?:{d}{f})*(?:{d}{o})?)?$'  # a line that starts inside a quoted field
    prefix = r'^(?:[^"]|"")*(?:"|$)'  # the rest of a quoted field at the start of a continuation line
    qseg = r'"(?:[^"]|"")*(?:"|$)'
    return outside, inside, prefix, qseg


def _read_structured(src: Source, at: HeaderAt, header: Header, delim: str) -> pl.DataFrame:
    """Cells from ``pl.read_csv`` (RFC 4180); record structure from a scan of the lines.

    A line starts a new record when the quotes before it are balanced; the
    cells of a record are the delimiters outside quotes plus one.  Every line
    is checked against the RFC 4180 grammar first, so polars, this structure
    and Python's csv module agree; otherwise ``Fallback``.
    """
    ncols = header.ncols
    if src.has_cr:
        c = src.counts()
        if c.carriage_returns != c.crlf:
            # a lone CR, even inside quotes, is a line break to the csv module: let it number the lines
            raise Fallback("lone carriage return")
    outside, inside, prefix, qseg = _line_patterns(delim)
    try:
        vals = pl.read_csv(
            src.source, has_header=True, skip_lines=at.start,
            new_columns=[f"_c{i}" for i in range(header.nraw)], infer_schema=False,
            truncate_ragged_lines=True, separator=delim, quote_char='"', raise_if_empty=False,
            glob=False,
        )
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise not_utf8(src.label, src.path, src.data) from None
        raise Fallback(str(exc)) from None
    if vals.width != header.nraw:
        raise Fallback("header width")
    t = pl.col("_t")
    lines_lf = pl.scan_lines(src.source, name="_t", glob=False).with_row_index("_ln", offset=1).slice(at.data_start)
    if src.has_quote:
        q = t.str.count_matches('"', literal=True).cast(pl.Int64)
        cont = ((pl.col("_q").cum_sum() - pl.col("_q")) % 2 == 1)
        # The regular expressions only run on lines that hold a quote or continue a quoted
        # cell; other lines are blanked first (``when`` evaluates both branches on every row).
        quoted = (pl.col("_q") > 0) | pl.col("_cont")
        tq = pl.when(quoted).then(t).otherwise(pl.lit(""))
        lines_lf = lines_lf.with_columns(q.alias("_q")).with_columns(cont.alias("_cont")).with_columns(
            tq.alias("_tq")).select(
            pl.col("_ln").cast(pl.Int64),
            pl.col("_cont"),
            pl.col("_q"),
            pl.when(pl.col("_cont")).then(pl.col("_tq").str.contains(inside))
            .otherwise(pl.col("_tq").str.contains(outside)).alias("_ok"),
            pl.when(quoted).then(
                pl.when(pl.col("_cont")).then(pl.col("_tq").str.replace(prefix, "")).otherwise(pl.col("_tq"))
                .str.replace_all(qseg, "\x01").str.count_matches(delim, literal=True)
            ).otherwise(t.str.count_matches(delim, literal=True)).cast(pl.Int64).alias("_d"),
        )
    else:
        lines_lf = lines_lf.select(
            pl.col("_ln").cast(pl.Int64),
            pl.lit(False).alias("_cont"),
            pl.lit(0, dtype=pl.Int64).alias("_q"),
            pl.lit(True).alias("_ok"),
            t.str.count_matches(delim, literal=True).cast(pl.Int64).alias("_d"),
        )
    try:
        lines = lines_lf.collect()
    except pl.exceptions.PolarsError as exc:
        if "utf" in str(exc).lower():
            raise not_utf8(src.label, src.path, src.data) from None
        raise Fallback(str(exc)) from None
    if lines.height and (not lines["_ok"].all() or lines["_q"].sum() % 2 == 1):
        raise Fallback("not well-formed RFC 4180")
    lines = lines.with_columns(
        pl.col("_d").cum_sum().alias("_cd"),
        (~pl.col("_cont")).shift(-1, fill_value=True).alias("_end"),
    )
    starts = lines.filter(~pl.col("_cont")).select(
        pl.col("_ln").alias("line"), (pl.col("_cd") - pl.col("_d")).alias("_b"))
    ends = lines.filter(pl.col("_end")).select(pl.col("_ln").alias("_ln_end"), pl.col("_cd").alias("_e"))
    del lines
    if starts.height != ends.height or starts.height != vals.height:
        raise Fallback("record count")
    rec = pl.concat([starts, ends], how="horizontal").select(
        "line", "_ln_end", (pl.col("_e") - pl.col("_b") + 1).alias("_n")
    )
    long_nonempty = _beyond_nonempty(src, rec.filter(pl.col("_n") > ncols), ncols, delim)
    vals = vals.select([clean_text(pl.col(f"_c{i}")).alias(f"_c{i}") for i in range(ncols)])
    df = pl.concat([rec, vals], how="horizontal")
    if long_nonempty is not None and long_nonempty.height:
        df = df.join(long_nonempty, on="line", how="left", maintain_order="left")
        long = pl.col("_long").fill_null(False)
    else:
        long = pl.lit(False)
    df = df.with_columns(
        pl.when((pl.col("_n") < ncols) | long).then(pl.col("_n")).alias("__sob_ncells"),
        long.alias("_long"),
    )
    blank = pl.all_horizontal([pl.col(f"_c{i}").is_null() for i in range(ncols)]) & ~pl.col("_long")
    return df.filter(~blank).select(["line", "__sob_ncells"] + [f"_c{i}" for i in range(ncols)])


def _beyond_nonempty(src: Source, cand: pl.DataFrame, ncols: int, delim: str) -> pl.DataFrame | None:
    """For records with more cells than the header: is any cell beyond the header non-empty?"""
    if cand.height == 0:
        return None
    d = regex_char(delim)
    ranges = cand.select(pl.int_ranges(pl.col("line"), pl.col("_ln_end") + 1).alias("_ln")).explode("_ln")
    texts = (
        pl.scan_lines(src.source, name="_t", glob=False)
        .with_row_index("_ln", offset=1)
        .with_columns(pl.col("_ln").cast(pl.Int64))
        .filter(pl.col("_ln").is_in(ranges["_ln"].implode()))
        .collect()
    )
    single = cand.filter(pl.col("line") == pl.col("_ln_end")).join(
        texts.rename({"_ln": "line"}), on="line", how="left"
    )
    _, _, _, qseg = _line_patterns(delim)
    blank_q = f'(^|{d})"\\s*"({d}|$)'
    s = pl.col("_t")
    for _ in range(2):
        s = s.str.replace_all(blank_q, "${1}${2}")
    s = s.str.replace_all(qseg, "\x01")
    out = [single.select(
        "line",
        s.str.splitn(delim, ncols + 1).struct.field(f"field_{ncols}").str.contains(f"[^\\s{d}]")
        .fill_null(False).alias("_long"),
    )]
    multi = cand.filter(pl.col("line") != pl.col("_ln_end"))
    if multi.height:  # rare: a record spanning lines with cells beyond the header
        by_line = dict(zip(texts["_ln"].to_list(), texts["_t"].to_list()))
        lines_out, flags = [], []
        for first, last in multi.select("line", "_ln_end").iter_rows():
            text = "\n".join(by_line.get(i, "") for i in range(first, last + 1))
            row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False), [])
            lines_out.append(first)
            flags.append(any(c.strip(WS) for c in row[ncols:]))
        out.append(pl.DataFrame({"line": lines_out, "_long": flags}, schema={"line": pl.Int64, "_long": pl.Boolean}))
    return pl.concat(out)


def _read_slow(src: Source, delim: str, ncols: int) -> pl.DataFrame:
    """Python's csv module, record by record, for files the faster readers cannot vouch for.

    The header is the first non-blank record (as ``find_header`` found it).
    """
    try:
        text = src.all_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(src.label, src.path, src.data) from None
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False)
    seen_header = False
    before = 0
    lines: list[int] = []
    ncells: list[int | None] = []
    cols: list[list[str | None]] = [[] for _ in range(ncols)]
    for row in reader:
        start = before + 1
        before = reader.line_num
        if not seen_header:
            seen_header = not is_blank(row)
            continue
        cells = [c.strip(WS) for c in row]
        if not any(cells):
            continue
        n = len(cells)
        lines.append(start)
        ncells.append(n if n < ncols or any(cells[ncols:]) else None)
        for i in range(ncols):
            cols[i].append((cells[i] or None) if i < n else None)
    data: dict[str, Any] = {"line": lines, "__sob_ncells": ncells}
    data.update({f"_c{i}": cols[i] for i in range(ncols)})
    return pl.DataFrame(data, schema=_cells_frame_schema(ncols))
def load_csv(kind: Kind, path: Path, label: str, contract: Contract, *, later: bool = False) -> Loaded:
    """Open a CSV file, find and check its header, and plan its reading.

    ``later=True``: the plan is returned as a function to call when the file
    is to be read, so that its background scan runs meanwhile (see ``Source``).
    """
    cfg = contract.evidence
    delim: str | None = None if cfg.detect_delimiter else cfg.delimiter
    if delim is not None and (not isinstance(delim, str) or len(delim) != 1 or delim in '"\r\n'):
        raise UsageError(f"cannot read {label}: the delimiter {delim!r} must be one character "
                         "other than a quote or line break")
    columns_map = dict(cfg.columns)
    data = original = None
    if not is_utf8(cfg.encoding):  # transcoded in memory (bounded), then read as any UTF-8 text
        original, data = transcode(path, label, cfg.encoding, MAX_PIPE_BYTES)
    src = Source(path, label, delim, later=later and data is None, data=data, original=original)
    delim = src.delim
    src.sniff()
    at = find_header(src, delim)
    if at is None:
        src.sniff(whole=True)
        return None, no_header(kind, label), EvidenceFile(kind.kind, path, 0, src.sha256)
    header, errors = resolve_header(kind, at.cells, at.start + 1, label, columns_map)
    if header is None:
        src.sniff(whole=True)
        return None, errors, EvidenceFile(kind.kind, path, 0, src.sha256)
    plan = partial(_plan_csv, kind, path, label, contract, src, at, header)
    return (plan if later else plan()), [], None


def _plan_csv(kind: Kind, path: Path, label: str, contract: Contract, src: Source, at: HeaderAt,
              hdr: Header) -> Raw:
    """How a CSV file with a good header is read: the fast reader when the file qualifies, else the exact one."""
    cfg = contract.evidence
    delim = src.delim

    def exact() -> pl.LazyFrame:
        try:
            cells = _read_structured(src, at, hdr, delim)
        except Fallback:
            cells = _read_slow(src, delim, hdr.ncols)
        return named_columns(kind, hdr, cells.lazy())

    raw = Raw(kind=kind, label=label, lf=pl.LazyFrame(), carried=list(hdr.carried), shown=hdr.shown,
               col_no={hdr.names[i]: i + 1 for i in range(hdr.ncols)}, date_format=cfg.date_format,
               ncols=hdr.ncols, path=path, src=src, present=frozenset(hdr.canon_pos),
               nul=b"\x00" in src.head_bytes,  # one further on is found by the scan (see type_detailed)
               delimiter=delim, encoding=cfg.encoding)
    # quoted files qualify when every line is a whole, well-formed record (checked up front,
    # so a file with line breaks inside quotes goes straight to the structured reader)
    fast = delim.isascii() and at.data_start == at.start + 1 and (not src.has_quote or _well_formed(src, at))
    if fast:
        marks = ("__sob_blank", "__sob_ws", "__sob_qd") if src.has_quote else ("__sob_blank", "__sob_ws", "__sob_last_null")
        raw.lf = named_columns(kind, hdr, fast_lazy(src, at, hdr, delim, strip=False), marks)
        raw.marks = marks
        raw.verify = lambda df: _fast_check(src, at, hdr, df)

        def redo(how: str, done: pl.DataFrame | None = None) -> pl.LazyFrame:
            if how == "strip" and done is not None and hdr.nraw == hdr.ncols:
                # the text is already parsed: trim it in memory instead of reading the file again
                names = list(kind.columns) + list(hdr.carried)
                keep = [c for c in ("__sob_qd", "__sob_last_null") if c in done.columns]
                lf = done.lazy().select("line", "__sob_ncells", *keep, *[clean_text(pl.col(n)).alias(n) for n in names])
                blank = pl.all_horizontal([pl.col(n).is_null() for n in names]) & pl.col("__sob_ncells").is_null()
                return lf.with_columns(blank.alias("__sob_blank"))
            if how == "strip":
                marks = ("__sob_blank", "__sob_qd") if src.has_quote else ("__sob_blank", "__sob_last_null")
                return named_columns(kind, hdr, fast_lazy(src, at, hdr, delim, strip=True), marks)
            return exact()

        raw.redo = redo
    else:
        raw.lf = exact()
    return raw
