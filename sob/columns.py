"""The catalogue of evidence columns (SPEC 4.1 to 4.3): one entry per column of each evidence file.

Every list of evidence columns in ``sob`` comes from here: the readers and
their row checks (:mod:`sob.evidence`), the JSON Schema of worked-example
rows (:mod:`sob.schema`), the money columns of exports (:mod:`sob.export`)
and the reference page ``docs/evidence-columns.md``
(:func:`columns_markdown`; a test keeps the page equal to it).  A column
added here is read, checked, exported and documented without another edit.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the evidence files, in the order they are reported
FILE_KINDS: tuple[str, ...] = ("claims", "participants", "results")

#: the kinds of value a column holds
#: ``text`` trimmed text; ``date`` a date in the contract's ``date_format``;
#: ``flag`` true/false/yes/no/1/0; ``status`` claimed/withdrawn/failed;
#: ``money`` an amount in the contract currency (at most its minor unit);
#: ``decimal`` a plain decimal, kept exact as text
VALUE_TYPES: tuple[str, ...] = ("text", "date", "flag", "status", "money", "decimal")

#: statuses a claim or cohort result may have (SPEC 4.1), case-insensitive in files
STATUSES: tuple[str, ...] = ("claimed", "withdrawn", "failed")

#: the largest number of digits before the point that ``baseline``, ``observed``
#: and ``units`` may have; they are compared exactly as 38-digit decimals
MAX_DECIMAL_WHOLE_DIGITS = 18
#: the largest number of digits after the point they may have
MAX_DECIMAL_FRACTION_DIGITS = 18
#: the most bytes read from a pipe (``--claims <(zcat claims.csv.gz)``); a regular file is memory-mapped
MAX_PIPE_BYTES = 2 << 30


@dataclass(frozen=True)
class Column:
    """One column of one evidence file."""

    name: str
    file: str  # one of FILE_KINDS
    required: bool
    type: str  # one of VALUE_TYPES
    meaning: str
    #: the outcome key that makes the column read and checked (SPEC 11.4, 11.5); without it in the
    #: contract the column is an ordinary carried one, so a version-1 file reads as before
    read_with: str | None = None

    @property
    def example_type(self) -> str:
        """The kind of TOML value a worked example gives this column (``text``, ``date``, ``flag``, ``number``)."""
        return {"money": "number", "decimal": "number", "status": "text"}.get(self.type, self.type)


def _c(file: str, name: str, required: bool, type_: str, meaning: str, read_with: str | None = None) -> Column:
    return Column(name=name, file=file, required=required, type=type_, meaning=meaning, read_with=read_with)


#: every evidence column, file by file, in the order of the typed frames
COLUMNS: tuple[Column, ...] = (
    _c("claims", "claim_id", True, "text", "unique across the claims and results files"),
    _c("claims", "participant_id", True, "text", "the participant the outcome is claimed for"),
    _c("claims", "outcome_id", True, "text", "an outcome of kind `claim`"),
    _c("claims", "achieved_on", True, "date", "the date the outcome was achieved"),
    _c("claims", "submitted_on", False, "date", "the date the claim was submitted; default achieved_on"),
    _c("claims", "status", False, "status",
       "`claimed` (default), `withdrawn`, `failed` (failed verification or audit); case-insensitive"),
    _c("claims", "evidence_ref", False, "text", "free text, carried through"),
    _c("claims", "amount_claimed", False, "money", "what the provider invoiced; compared, never trusted"),
    _c("claims", "value", False, "decimal",
       "the measured value a `scale` pays on (SPEC 11.4); read only when some outcome has `scale`, "
       "required on claims of such an outcome", read_with="scale"),
    _c("participants", "participant_id", True, "text", "unique"),
    _c("participants", "enrolled_on", True, "date", "enrolment (referral) date"),
    _c("participants", "eligible", False, "flag", "`true/false/yes/no/1/0`, case-insensitive; default true"),
    _c("participants", "cohort", False, "text", "free text, carried through"),
    _c("participants", "date_of_birth", False, "date",
       "for `age_at_enrolment` (SPEC 11.5); read only when some outcome has it, and not after enrolled_on",
       read_with="age_at_enrolment"),
    _c("results", "result_id", True, "text", "unique across the claims and results files"),
    _c("results", "outcome_id", True, "text", "an outcome of kind `improvement`"),
    _c("results", "cohort", True, "text", "the cohort measured"),
    _c("results", "achieved_on", True, "date", "the date the result was measured"),
    _c("results", "submitted_on", False, "date", "default achieved_on"),
    _c("results", "baseline", True, "decimal", "comparison-group or baseline value, decimal > 0"),
    _c("results", "observed", True, "decimal", "the cohort's value, decimal >= 0"),
    _c("results", "units", False, "decimal", "decimal > 0, default 1 (for example the cohort size)"),
    _c("results", "status", False, "status", "as for claims"),
)

#: the id column of each file: unique within it (claims and results share one space of ids)
ID_COLUMN: dict[str, str] = {"claims": "claim_id", "participants": "participant_id", "results": "result_id"}


def columns_of(file: str) -> tuple[Column, ...]:
    """The columns of one evidence file, in frame order."""
    return tuple(c for c in COLUMNS if c.file == file)


def read_with(file: str, keys: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The names of one file's columns read when the contract uses the outcome ``keys`` (in frame order).

    Columns that need no key are always read; ``value`` only with ``scale``,
    ``date_of_birth`` only with ``age_at_enrolment``.
    """
    return tuple(c.name for c in columns_of(file) if c.read_with is None or c.read_with in keys)


def names_of(file: str) -> tuple[str, ...]:
    """The names of one file's columns, in frame order."""
    return tuple(c.name for c in columns_of(file))


def required_of(file: str) -> tuple[str, ...]:
    """The names of one file's required columns."""
    return tuple(c.name for c in columns_of(file) if c.required)


#: canonical columns of each evidence file, in the order of the typed frames (those read with an
#: outcome key included: see ``read_with``)
KIND_COLUMNS: dict[str, tuple[str, ...]] = {f: names_of(f) for f in FILE_KINDS}
#: required columns of each evidence file
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {f: required_of(f) for f in FILE_KINDS}
#: every canonical column name once, in catalogue order (what ``[evidence.columns]`` may map)
CANONICAL_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c.name for c in COLUMNS))
#: evidence columns that hold money (exports write them as exact decimals)
MONEY_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.type == "money")

_TYPE_DOC = {
    "text": "text (trimmed; an empty cell is missing)",
    "date": "a date in the contract's `date_format`",
    "flag": "true/false/yes/no/1/0, any case",
    "status": "claimed/withdrawn/failed, any case",
    "money": "an amount in the contract currency: a plain decimal with at most the currency's minor-unit digits, "
             "and at most 18 digits in all",
    "decimal": (f"a plain decimal: at most {MAX_DECIMAL_WHOLE_DIGITS} digits before the point and "
                f"{MAX_DECIMAL_FRACTION_DIGITS} after it (leading and trailing zeros aside)"),
}

_TITLE = {"claims": "Claims (SPEC 4.1)", "participants": "Participants register (SPEC 4.2)",
          "results": "Cohort results (SPEC 4.3)"}


#: one example cell per column, so the reference shows what a real file of each kind looks like
_EXAMPLE_CELLS: dict[tuple[str, str], str] = {
    ("claims", "claim_id"): "C-0001", ("claims", "participant_id"): "P-0001", ("claims", "outcome_id"): "ACC-3M",
    ("claims", "achieved_on"): "2021-02-01", ("claims", "submitted_on"): "2021-02-10", ("claims", "status"): "claimed",
    ("claims", "evidence_ref"): "tenancy ref 4471", ("claims", "amount_claimed"): "1500.00",
    ("participants", "participant_id"): "P-0001", ("participants", "enrolled_on"): "2020-09-14",
    ("participants", "eligible"): "yes", ("participants", "cohort"): "18-24",
    ("results", "result_id"): "R2021-C1", ("results", "outcome_id"): "REOFF-1", ("results", "cohort"): "2019 cohort",
    ("results", "achieved_on"): "2021-06-30", ("results", "submitted_on"): "2021-07-15", ("results", "baseline"): "1.55",
    ("results", "observed"): "1.42", ("results", "units"): "1000", ("results", "status"): "claimed",
}


def _example_file(file: str) -> list[str]:
    """A header and one row of ``file`` with every column: a provider can check an export against it at a glance.

    A column without an example cell (a column added to the catalogue later) shows an empty cell.
    """
    cols = columns_of(file)
    return [
        "Example (only the required columns must be present; extra columns are carried into exports):",
        "",
        "```csv",
        ",".join(c.name for c in cols),
        ",".join(_EXAMPLE_CELLS.get((file, c.name), "") for c in cols),
        "```",
        "",
    ]


def columns_markdown() -> str:
    """The reference page of the evidence columns (``docs/evidence-columns.md``), generated from the catalogue."""
    out = [
        "# Evidence columns",
        "",
        "Generated from the catalogue in `sob/columns.py` by `columns_markdown()`; "
        "`tests/test_columns.py` fails when this page and the catalogue differ.",
        "",
        "Files are UTF-8 CSV (RFC 4180) or Parquet with a header row. Headers are matched after trimming, "
        "through `[evidence.columns]` when given. Unknown extra columns are kept and carried into exports.",
        "",
        "CSV in other encodings and delimiters, XLSX/ODS sheets, lenient money cells, value maps and "
        "datetime cells: see [evidence-files.md](evidence-files.md).",
        "",
    ]
    for file in FILE_KINDS:
        out += [f"## {_TITLE[file]}", "", "| column | required | type | meaning |", "|---|---|---|---|"]
        out += [f"| {c.name} | {'yes' if c.required else 'no'} | {c.type} | {c.meaning} |" for c in columns_of(file)]
        out.append("")
        out += _example_file(file)
    out += ["## Value types", "", "| type | what a cell holds |", "|---|---|"]
    out += [f"| {t} | {_TYPE_DOC[t]} |" for t in VALUE_TYPES]
    out += [
        "",
        "## Limits",
        "",
        f"- `baseline`, `observed` and `units` are exact decimals with at most {MAX_DECIMAL_WHOLE_DIGITS} digits "
        f"before the point and {MAX_DECIMAL_FRACTION_DIGITS} after it (leading zeros before it and trailing zeros "
        "after it do not count). A larger value is a `BAD_NUMBER` data error naming the line and column. "
        "So is the claims' `value` when it is read (some outcome has `scale`).",
        "- `value` and `date_of_birth` are read and checked only when some outcome has `scale` or "
        "`age_at_enrolment` (SPEC 11.4, 11.5); otherwise they are ordinary carried columns, and a version-1 "
        "file reads as before. `value` is carried into exports in its place either way.",
        "- `amount_claimed` fits in 18 digits of minor units; a larger amount is a `BAD_NUMBER` data error.",
        "- A NUL character inside a cell is a data error of that cell (`BAD_TEXT`), with its line and column; "
        "a file with NULs in alternate bytes, a UTF-16/32 byte-order mark or binary content is refused "
        "as not UTF-8 text (exit 2).",
        "- Evidence is read from regular files and from pipes (`--claims <(zcat claims.csv.gz)`). "
        "Devices, sockets and directories are refused before anything is read (exit 2). "
        f"A pipe is read whole into memory, up to {MAX_PIPE_BYTES >> 30} GiB; more is refused (exit 2). "
        "A named pipe that nobody writes to reads as an empty file.",
        "",
    ]
    return "\n".join(out)

