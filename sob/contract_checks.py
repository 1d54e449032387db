"""Read a contract file and check it against SPEC 3, 3.1, 3.2 and 8.

``load_contract`` returns the immutable objects of :mod:`sob.contract` only
when the file has no error, together with *every* problem found in one pass:
a contract manager fixing a file wants the whole list, not one error per run.
Each problem is a :class:`~sob.findings.Finding` with a stable code (listed in
:data:`CONTRACT_CODES`), the file, the line and column of the offending key
(found by :mod:`sob.toml_locate`), the user's key path and, where it helps, a
"did you mean" hint.

The allowed keys of each table and the kind of value each key takes are
plain module-level dicts (``CONTRACT_FIELDS``, ``OUTCOME_FIELDS``...).  The
checks below dispatch on those kinds and :mod:`sob.schema` builds the JSON
Schema from the very same dicts, so the two cannot drift apart.

No input, however hostile, makes this module raise: binary files, UTF-16,
invalid UTF-8, absurd nesting and huge values all come back as findings.
Only file-system problems (missing file, a directory, no permission) raise
:class:`~sob.findings.UsageError`, because they are about the command line,
not about the contract.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple

from sob.contract import (
    Caps,
    Contract,
    EvidenceConfig,
    Example,
    Outcome,
    Payer,
    PricePoint,
    Requirement,
    Tier,
)
from sob.findings import Finding, UsageError, cut, errors_only
from sob.money import is_iso_currency, iso_minor_units, parse_decimal
from sob.quarters import Quarter, quarters_between
from sob.toml_locate import KeyPath, TomlIndex, build_index, find_deep_nesting, format_key_path

# --- codes --------------------------------------------------------------------------------

CONTRACT_CODES: dict[str, str] = {
    "NOT_UTF8": "the file is not UTF-8 text (binary, UTF-16 or invalid bytes)",
    "TOML_SYNTAX": "the file is not valid TOML (line and column of the parser's complaint)",
    "UNKNOWN_SCHEMA": '`schema` is not a format version this sob reads ("sob/1")',
    "UNKNOWN_KEY": "a key the format does not have (with a did-you-mean hint)",
    "WRONG_TYPE": "a value of the wrong TOML type (a date written as a string, money as a bool...)",
    "MISSING_KEY": "a required key or table is missing",
    "DUPLICATE_ID": "two outcomes or two payers share an id",
    "UNKNOWN_REFERENCE": (
        "`requires` names an unknown (or improvement) outcome, or `payers` an unknown payer"
    ),
    "REQUIRES_CYCLE": "outcomes require each other in a cycle",
    "DATES_OUT_OF_ORDER": "not start <= referrals_end <= outcomes_end <= claims_end",
    "SHARES_NOT_ONE": "a payer split does not sum to exactly 1",
    "BAD_SHARE": "a payer share outside (0, 1]",
    "NEGATIVE_MONEY": "a money value below zero",
    "TOO_MANY_DECIMALS": "a money value with more decimals than the currency's minor unit",
    "BAD_CURRENCY": "not an ISO 4217 code, or an ISO code with no minor unit and no `minor_units`",
    "PRICES_NOT_SORTED": (
        "`prices` empty, not strictly sorted by `from`, or starting after the contract start"
    ),
    "BAD_TIERS": "`tiers` empty, `up_to` not increasing or < 1, or no single final open tier",
    "WRONG_KIND_KEY": "a key that belongs to the other kind of outcome (claim vs improvement)",
    "PRICE_CHOICE": "an outcome without exactly one of `price`, `prices`, `tiers`",
    "BAD_RANGE": "a number outside its range (deadweight, max_claims, window_days, month...)",
    "MAX_CLAIMS_EXCLUSIVE": "`max_claims` above 1 on an outcome in an `exclusive` group",
    "BAD_ID": "a contract, outcome or payer id that does not match its pattern",
    "BAD_PROFILE": "a `profile` key that is not a quarter of the contract, or a negative count",
    "UNSAFE_PATH": "an evidence path that is absolute or climbs out of the contract's folder",
    "UNKNOWN_VALUE": "a `kind` or `direction` that is not one of the allowed words",
    "BAD_FORMAT": "an evidence `date_format`, `delimiter`, path or column header that is unusable",
    "BAD_EXAMPLE": "a malformed worked example (keys, rows, expectations, quarter)",
}

# --- the format: allowed keys and the kind of value of each (shared with sob.schema) --------

SCHEMA_VERSIONS: tuple[str, ...] = ("sob/1",)

TOP_KEYS: tuple[str, ...] = (
    "schema",
    "contract",
    "payers",
    "caps",
    "evidence",
    "outcomes",
    "examples",
)

CONTRACT_FIELDS: dict[str, str] = {
    "id": "contract_id",
    "name": "text",
    "currency": "currency",
    "minor_units": "minor_units",
    "start": "date",
    "referrals_end": "date",
    "outcomes_end": "date",
    "claims_end": "date",
    "fiscal_year_start_month": "month",
}
CONTRACT_REQUIRED: tuple[str, ...] = ("id", "currency", "start", "outcomes_end")

PAYER_FIELDS: dict[str, str] = {"id": "payer_id", "name": "text", "share": "share"}
PAYER_REQUIRED: tuple[str, ...] = ("id",)  # share too when there are several payers

CAPS_FIELDS: dict[str, str] = {"per_participant": "money", "total": "money", "partial": "bool"}

EVIDENCE_FIELDS: dict[str, str] = {
    "claims": "path",
    "participants": "path",
    "results": "path",
    "date_format": "date_format",
    "delimiter": "delimiter",
    "columns": "columns",
}

OUTCOME_KINDS: tuple[str, ...] = ("claim", "improvement")
DIRECTIONS: tuple[str, ...] = ("decrease", "increase")
PRICE_KEYS: tuple[str, ...] = ("price", "prices", "tiers")
CLAIM_ONLY_KEYS: tuple[str, ...] = (
    "requires",
    "exclusive",
    "cohorts",
    "window_days",
    "max_claims",
    "volume_cap",
    "tiers",
)
IMPROVEMENT_ONLY_KEYS: tuple[str, ...] = ("direction", "min_improvement", "deadweight")
OUTCOME_FIELDS: dict[str, str] = {
    "id": "outcome_id",
    "name": "text",
    "kind": "kind",
    "price": "money",
    "prices": "prices",
    "tiers": "tiers",
    "max_claims": "positive",
    "window_days": "days",
    "exclusive": "text",
    "cohorts": "cohorts",
    "volume_cap": "count",
    "amount_cap": "money",
    "payers": "share_table",
    "profile": "profile",
    "requires": "requires",
    "direction": "direction",
    "min_improvement": "fraction",
    "deadweight": "fraction",
}
OUTCOME_REQUIRED: tuple[str, ...] = (
    "id",
)  # plus one of PRICE_KEYS, and direction for improvements

PRICE_POINT_FIELDS: dict[str, str] = {"from": "date", "price": "money"}
TIER_FIELDS: dict[str, str] = {"up_to": "positive", "price": "money"}
REQUIREMENT_FIELDS: dict[str, str] = {"outcome": "outcome_ref", "min_days": "days"}

# Canonical evidence columns (SPEC 4) and the kind of value an example row gives each.
CLAIM_COLUMNS: dict[str, str] = {
    "claim_id": "text",
    "participant_id": "text",
    "outcome_id": "text",
    "achieved_on": "date",
    "submitted_on": "date",
    "status": "text",
    "evidence_ref": "text",
    "amount_claimed": "number",
}
PARTICIPANT_COLUMNS: dict[str, str] = {
    "participant_id": "text",
    "enrolled_on": "date",
    "eligible": "flag",
    "cohort": "text",
}
RESULT_COLUMNS: dict[str, str] = {
    "result_id": "text",
    "outcome_id": "text",
    "cohort": "text",
    "achieved_on": "date",
    "submitted_on": "date",
    "baseline": "number",
    "observed": "number",
    "units": "number",
    "status": "text",
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims": ("claim_id", "participant_id", "outcome_id", "achieved_on"),
    "participants": ("participant_id", "enrolled_on"),
    "results": ("result_id", "outcome_id", "cohort", "achieved_on", "baseline", "observed"),
}
EXAMPLE_ROWS: dict[str, dict[str, str]] = {
    "participants": PARTICIPANT_COLUMNS,
    "claims": CLAIM_COLUMNS,
    "results": RESULT_COLUMNS,
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys([*CLAIM_COLUMNS, *PARTICIPANT_COLUMNS, *RESULT_COLUMNS])
)
EXAMPLE_KEYS: tuple[str, ...] = ("name", "quarter", "participants", "claims", "results", "expect")
EXPECT_KEYS: tuple[str, ...] = ("entitled", "due", "payers", "claims")
CLAIM_EXPECT_KEYS: tuple[str, ...] = ("status", "reason", "entitled", "due")
CLAIM_STATUSES: tuple[str, ...] = ("paid", "partial", "capped", "rejected")

CONTRACT_ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
OUTCOME_ID_PATTERN = r"[A-Za-z0-9_.-]+"
QUARTER_PATTERN = r"\d{4}-Q[1-4]"
DECIMAL_STRING_PATTERN = r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*"

# Limits that keep later arithmetic (dates, Int64 columns) from overflowing.
MAX_DAYS = 100_000
MAX_INT = 2**63 - 1
MAX_MINOR_UNITS = 18
_MAX_DIGITS = 1000

_CONTRACT_ID = re.compile(CONTRACT_ID_PATTERN)
_OUTCOME_ID = re.compile(OUTCOME_ID_PATTERN)
_QUARTER = re.compile(QUARTER_PATTERN)
_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_END = re.compile(r"\s*\(at end of document\)\s*$")
_DRIVE = re.compile(r"[A-Za-z]:")
_LONG_NUMBER = re.compile(r"\d{4000,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MISSING = object()


# --- public entry points ---------------------------------------------------------------------


def load_contract(path: Path) -> tuple[Contract | None, list[Finding]]:
    """Read and check the contract file at ``path``.

    File-system problems raise :class:`UsageError` (exit 2) naming the file;
    everything about the content comes back as findings.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"contract file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"contract path {path} is a directory, not a TOML file") from None
    except PermissionError:
        raise UsageError(f"contract file {path} cannot be read: permission denied") from None
    except OSError as exc:
        raise UsageError(f"contract file {path} cannot be read: {exc.strerror or exc}") from None
    text, finding = decode_contract_bytes(data, path)
    if finding is not None:
        return None, [finding]
    return check_contract_text(text, path)


def decode_contract_bytes(data: bytes, path: Path) -> tuple[str, Finding | None]:
    """UTF-8 text of a contract file (a byte-order mark is dropped), or a NOT_UTF8 finding."""
    file = str(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", Finding(
            "NOT_UTF8",
            "the file is UTF-16 text; a contract must be UTF-8",
            file=file,
            line=1,
            col=1,
            hint="save the file as UTF-8",
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return "", Finding(
            "NOT_UTF8",
            "the file holds NUL bytes: it is binary data or UTF-16, not UTF-8 TOML text",
            file=file,
            line=line,
            col=nul - (data.rfind(b"\n", 0, nul) + 1) + 1,
            hint="save the file as UTF-8",
        )
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        return "", Finding(
            "NOT_UTF8",
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a contract must be UTF-8 TOML text",
            file=file,
            line=line,
            col=col,
            hint="save the file as UTF-8",
        )


def check_contract_text(text: str, path: Path) -> tuple[Contract | None, list[Finding]]:
    """Check contract ``text`` (read from ``path``); the Contract only when error-free."""
    text = text.removeprefix("\ufeff")
    checker = _Checker(text, Path(path))
    data = checker.parse()
    contract = checker.check(data) if data is not None else None
    findings = sorted(checker.findings, key=lambda f: (f.line is None, f.line or 0, f.col or 0))
    if errors_only(findings):
        contract = None
    return contract, findings


# --- small value helpers ----------------------------------------------------------------------


def _show(value: object) -> str:
    """A value as it may appear in a message: TOML-ish, cut to 80, no control characters."""
    if isinstance(value, str):
        text = f'"{cut(value, 78)}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "an array"
    else:
        text = cut(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _quoted(text: str) -> str:
    """A name or key in single quotes, cut and with control characters escaped."""
    return "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut(text, 60)) + "'"


def _type_name(value: object) -> str:
    """The TOML type of a parsed value, as a user would name it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """difflib's closest choice as a hint, if any is close enough."""
    if not isinstance(word, str) or len(word) > 100:  # difflib is quadratic-ish on huge keys
        return None
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        folded = {c.casefold(): c for c in options}
        close = [folded[word.casefold()]] if word.casefold() in folded else []
    return f"did you mean '{close[0]}'?" if close else None


def _exact(value: Decimal) -> Fraction | None:
    """The exact value of a finite Decimal, or None when it is absurdly long or large.

    ``Decimal`` arithmetic rounds to 28 digits and ``scaleb``/``quantize``
    round or raise on long values, so sums and minor-unit checks go through
    ``Fraction``; the guard keeps ``Fraction`` away from 10**1000000.
    """
    if value == 0:
        return Fraction(0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > _MAX_DIGITS:
        return None
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if exponent > 40 or exponent < -_MAX_DIGITS:
        return None
    return Fraction(value)


def _unsafe_path_reason(text: str) -> str | None:
    """Why an evidence path could read outside the contract's folder, if it could."""
    if "\x00" in text:
        return "contains a NUL character"
    if text.startswith("~"):
        return "starts with '~' (a home folder)"
    if (
        text.startswith(("/", "\\"))
        or _DRIVE.match(text)
        or PurePosixPath(text).is_absolute()
        or PureWindowsPath(text).is_absolute()
    ):
        return "is absolute"
    if ".." in re.split(r"[\\/]", text):
        return "climbs out of the contract's folder with '..'"
    return None


def _date_format_problem(fmt: str) -> str | None:
    """Why a strftime format cannot be trusted to read dates back exactly, if it cannot."""
    if len(fmt) > 200:
        return "is longer than 200 characters"
    for sample in (date(2019, 12, 31), date(2021, 2, 3)):
        try:
            back = datetime.strptime(sample.strftime(fmt), fmt).date()
        except (ValueError, TypeError, OverflowError):
            return f"cannot read back the date {sample.isoformat()} it writes"
        if back != sample:
            return (
                f"writes {sample.isoformat()} as {sample.strftime(fmt)!r}, "
                f"which reads back as {back.isoformat()}"
            )
    return None


class _OutcomeFacts(NamedTuple):
    """What the cross-outcome checks need to know of one outcome, valid or not."""

    id: str | None
    kind: str | None
    requires: tuple[Requirement, ...] | None


# --- the checker -------------------------------------------------------------------------------


class _Checker:
    """Walks the parsed TOML once, converting values and collecting findings."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.file = str(path)
        self.findings: list[Finding] = []
        self._index: TomlIndex | None = None
        self._code_override: str | None = None
        # Facts learnt from earlier sections that later checks depend on.
        self.minor_units: int | None = None
        self.start: date | None = None
        self.claims_end: date | None = None
        self.fy_month: int | None = 1
        self.payer_ids: list[str] | None = None
        self.names: dict[KeyPath, str] = {}

    # --- reporting ----------------------------------------------------------------------
    @property
    def index(self) -> TomlIndex:
        """Key positions, built only when a finding or an example needs a line."""
        if self._index is None:
            self._index = build_index(self.text)
        return self._index

    def error(
        self,
        code: str,
        path: KeyPath,
        message: str,
        *,
        hint: str | None = None,
        value: object = _MISSING,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        """Record one finding, located at ``path`` (or its nearest written ancestor)."""
        if self._code_override is not None:
            code = self._code_override
        if line is None:
            found = self.index.nearest(path)
            line, col = found[1] if found else (1, 1)
        self.findings.append(
            Finding(
                code=code,
                message=message,
                file=self.file,
                line=line,
                col=col,
                field=cut(format_key_path(path), 200) or None,
                value=None if value is _MISSING else _show(value),
                hint=hint,
            )
        )

    @contextmanager
    def reporting_as(self, code: str) -> Iterator[None]:
        """Report every problem found inside the block under one code (examples)."""
        saved, self._code_override = self._code_override, code
        try:
            yield
        finally:
            self._code_override = saved

    def subject(self, path: KeyPath) -> str:
        """How a message names a key: ``outcome 'ACC_3M' window_days``.

        Keys under an outcome, payer or example are named after its id (or
        name) rather than its index, which users do not count.
        """
        owner = path[:2]
        if len(path) >= 2 and owner in self.names:
            return f"{self.names[owner]} {format_key_path(path[2:])}".rstrip()
        return format_key_path(path) or "the file"

    def wrong_type(
        self, value: object, path: KeyPath, expected: str, hint: str | None = None
    ) -> None:
        self.error(
            "WRONG_TYPE",
            path,
            f"{self.subject(path)} must be {expected}, not {_type_name(value)}",
            value=value,
            hint=hint,
        )

    # --- parsing ------------------------------------------------------------------------
    def parse(self) -> dict[str, Any] | None:
        """``tomllib`` with exact decimals; syntax problems become TOML_SYNTAX findings."""
        surrogate = _SURROGATE.search(self.text)
        if surrogate:  # only a str handed in directly can hold one; it would crash any output
            before = self.text[: surrogate.start()]
            self.error(
                "NOT_UTF8",
                (),
                "the text holds a lone surrogate character, which is not Unicode text",
                line=before.count("\n") + 1,
                col=surrogate.start() - (before.rfind("\n") + 1) + 1,
            )
            return None
        try:
            data = tomllib.loads(self.text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            self._syntax_error(str(exc))
            return None
        except RecursionError:
            where = find_deep_nesting(self.text)
            line, col = where if where else (1, 1)
            self.error(
                "TOML_SYNTAX",
                (),
                "arrays or inline tables are nested too deeply to read",
                line=line,
                col=col,
            )
            return None
        except (ValueError, MemoryError) as exc:  # e.g. an integer of more than 4300 digits
            long_number = _LONG_NUMBER.search(self.text)
            line = self.text.count("\n", 0, long_number.start()) + 1 if long_number else 1
            self.error("TOML_SYNTAX", (), f"the file cannot be read as TOML: {cut(exc)}", line=line)
            return None
        return data

    def _syntax_error(self, message: str) -> None:
        m = _SYNTAX_AT.search(message)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        else:
            lines = self.text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
            message = _SYNTAX_END.sub("", message)
        self.error("TOML_SYNTAX", (), f"TOML syntax: {message}", line=line, col=col)

    # --- generic table and value checks ---------------------------------------------------
    def table(
        self, value: object, path: KeyPath, what: str, hint: str | None = None
    ) -> dict | None:
        """``value`` if it is a table, else a WRONG_TYPE finding."""
        if isinstance(value, dict):
            return value
        self.wrong_type(value, path, f"a table ({what})", hint)
        return None

    def fields(
        self,
        table: dict[str, Any],
        path: KeyPath,
        fields: dict[str, str],
        required: Iterable[str] = (),
        skip: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Convert every known key of ``table``; report unknown and missing keys.

        Keys in ``skip`` were already reported by the caller.  A key that is
        present but invalid is reported once, by its converter, and left out
        of the result (not reported again as missing).
        """
        skipped = set(skip)
        out: dict[str, Any] = {}
        for key, value in table.items():
            kpath = (*path, key)
            if key in skipped:
                continue
            kind = fields.get(key)
            if kind is None:
                self.unknown_key(key, kpath, fields)
                continue
            converted = self.convert(kind, value, kpath)
            if converted is not None:
                out[key] = converted
        for key in required:
            if key not in table:
                self.missing(path, key)
        return out

    def unknown_key(self, key: str, path: KeyPath, allowed: Iterable[str]) -> None:
        where = self.subject(path[:-1])
        self.error(
            "UNKNOWN_KEY",
            path,
            f"unknown key {_quoted(key)} in {where}"
            if len(path) > 1
            else f"unknown top-level key {_quoted(key)}",
            hint=_did_you_mean(key, allowed),
        )

    def missing(self, path: KeyPath, key: str, why: str = "") -> None:
        where = self.subject(path)
        self.error(
            "MISSING_KEY",
            (*path, key),
            f"{where} has no '{key}'{why}" if path else f"the required key '{key}' is missing{why}",
        )

    def convert(self, kind: str, value: object, path: KeyPath) -> Any:
        """Dispatch to the converter of ``kind`` (``_as_<kind>``)."""
        return getattr(self, f"_as_{kind}")(value, path)

    def integer(
        self, value: object, path: KeyPath, low: int, high: int, meaning: str
    ) -> int | None:
        """A TOML integer in [low, high] (booleans are not integers here)."""
        if type(value) is not int:
            self.wrong_type(value, path, f"a whole number ({meaning})")
            return None
        if not low <= value <= high:
            bounds = f"{low} or more" if high == MAX_INT else f"between {low} and {high}"
            self.error(
                "BAD_RANGE",
                path,
                f"{self.subject(path)} must be {bounds} ({meaning}), not {_show(value)}",
                value=value,
            )
            return None
        return value

    def decimal(self, value: object, path: KeyPath, meaning: str) -> Decimal | None:
        """A TOML number or decimal string as an exact, finite Decimal of sane size."""
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            self.wrong_type(value, path, meaning)
            return None
        if isinstance(value, str):
            parsed = parse_decimal(value)
            if parsed is None:
                self.wrong_type(
                    value,
                    path,
                    meaning,
                    hint="write a plain decimal such as 500.00: "
                    "no symbol, exponent or thousands separator",
                )
                return None
            number = parsed
        else:
            number = Decimal(value)
        if not number.is_finite():
            self.wrong_type(value, path, f"{meaning} (a finite number, not nan or inf)")
            return None
        if _exact(number) is None:
            self.error(
                "BAD_RANGE",
                path,
                f"{self.subject(path)} has too many digits or is too large",
                value=value,
            )
            return None
        return number

    def text_value(self, value: object, path: KeyPath, meaning: str = "a string") -> str | None:
        if isinstance(value, str):
            return value
        self.wrong_type(value, path, meaning)
        return None

    # --- scalar converters ------------------------------------------------------------------
    def _as_text(self, value: object, path: KeyPath) -> str | None:
        return self.text_value(value, path)

    def _as_bool(self, value: object, path: KeyPath) -> bool | None:
        if isinstance(value, bool):
            return value
        self.wrong_type(value, path, "true or false")
        return None

    def _as_date(self, value: object, path: KeyPath) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        hint = None
        if isinstance(value, datetime):
            hint = f"write only the date: {value.date().isoformat()}"
        elif isinstance(value, str):
            hint = "write dates as TOML local dates without quotes, e.g. 2019-04-01"
            try:
                day = date.fromisoformat(value.strip())
                hint = f"remove the quotes: {day.isoformat()} is a TOML date"
            except ValueError:
                pass
        self.wrong_type(value, path, "a date (a TOML local date such as 2019-04-01)", hint)
        return None

    def _as_money(self, value: object, path: KeyPath) -> int | None:
        """Money in minor units: >= 0 and no finer than the currency's minor unit (SPEC 3.1)."""
        number = self.decimal(value, path, "an amount of money (a number or a decimal string)")
        if number is None:
            return None
        if number < 0:
            self.error(
                "NEGATIVE_MONEY",
                path,
                f"{self.subject(path)} must not be negative, not {_show(value)}",
                value=value,
            )
            return None
        return self.minor(number, value, path)

    def minor(self, number: Decimal, value: object, path: KeyPath) -> int | None:
        """Exact minor units of ``number``; TOO_MANY_DECIMALS when it does not fit."""
        if self.minor_units is None:  # the currency is broken, already reported
            return None
        exact = _exact(number)
        assert exact is not None  # checked by decimal()
        scaled = exact * 10**self.minor_units
        if scaled.denominator != 1:
            self.error(
                "TOO_MANY_DECIMALS",
                path,
                f"{self.subject(path)} = {_show(value)} has more than {self.minor_units} "
                "decimal places, the currency's minor unit",
                value=value,
            )
            return None
        if abs(scaled.numerator) > MAX_INT:
            self.error(
                "BAD_RANGE",
                path,
                f"{self.subject(path)} is too large to hold as money",
                value=value,
            )
            return None
        return scaled.numerator

    def _as_share(self, value: object, path: KeyPath) -> Decimal | None:
        number = self.decimal(value, path, "a share (a decimal in (0, 1])")
        if number is None:
            return None
        if not 0 < number <= 1:
            self.error(
                "BAD_SHARE",
                path,
                f"{self.subject(path)} must be in (0, 1], not {_show(value)}",
                value=value,
                hint="a payer that pays nothing for an outcome is simply left out",
            )
            return None
        return number

    def _as_fraction(self, value: object, path: KeyPath) -> Decimal | None:
        number = self.decimal(value, path, "a decimal in [0, 1)")
        if number is None:
            return None
        if not 0 <= number < 1:
            self.error(
                "BAD_RANGE",
                path,
                f"{self.subject(path)} must be at least 0 and below 1, not {_show(value)}",
                value=value,
            )
            return None
        return number

    def _as_count(self, value: object, path: KeyPath) -> int | None:
        return self.integer(value, path, 0, MAX_INT, "a count >= 0")

    def _as_positive(self, value: object, path: KeyPath) -> int | None:
        return self.integer(value, path, 1, MAX_INT, "a count >= 1")

    def _as_days(self, value: object, path: KeyPath) -> int | None:
        return self.integer(value, path, 0, MAX_DAYS, "a number of days")

    def _as_month(self, value: object, path: KeyPath) -> int | None:
        return self.integer(value, path, 1, 12, "a month number")

    def _as_minor_units(self, value: object, path: KeyPath) -> int | None:
        return self.integer(value, path, 0, MAX_MINOR_UNITS, "decimal digits of the currency")

    def _id(self, value: object, path: KeyPath, pattern: re.Pattern[str], shape: str) -> str | None:
        text = self.text_value(value, path)
        if text is None:
            return None
        if not pattern.fullmatch(text):
            self.error(
                "BAD_ID", path, f"{self.subject(path)} {_show(text)} must match {shape}", value=text
            )
            return None
        return text

    def _as_contract_id(self, value: object, path: KeyPath) -> str | None:
        return self._id(value, path, _CONTRACT_ID, CONTRACT_ID_PATTERN)

    def _as_outcome_id(self, value: object, path: KeyPath) -> str | None:
        return self._id(value, path, _OUTCOME_ID, OUTCOME_ID_PATTERN)

    def _as_payer_id(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path)
        if text is not None and (not text.strip() or text != text.strip()):
            self.error(
                "BAD_ID",
                path,
                f"{self.subject(path)} {_show(text)} must be non-empty, "
                "without leading or trailing spaces",
                value=text,
            )
            return None
        return text

    def _as_outcome_ref(self, value: object, path: KeyPath) -> str | None:
        return self.text_value(value, path, "an outcome id")

    def _as_currency(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path, "a three-letter ISO 4217 code")
        if text is None:
            return None
        if not is_iso_currency(text):
            hint = f"did you mean '{text.upper()}'?" if is_iso_currency(text.upper()) else None
            self.error(
                "BAD_CURRENCY",
                path,
                f"{_show(text)} is not an ISO 4217 currency code",
                value=text,
                hint=hint,
            )
            return None
        return text

    def _choice(self, value: object, path: KeyPath, choices: tuple[str, ...]) -> str | None:
        text = self.text_value(value, path, " or ".join(f'"{c}"' for c in choices))
        if text is None:
            return None
        if text not in choices:
            self.error(
                "UNKNOWN_VALUE",
                path,
                f"{self.subject(path)} must be one of {', '.join(choices)}, not {_show(text)}",
                value=text,
                hint=_did_you_mean(text, choices),
            )
            return None
        return text

    def _as_kind(self, value: object, path: KeyPath) -> str | None:
        return self._choice(value, path, OUTCOME_KINDS)

    def _as_direction(self, value: object, path: KeyPath) -> str | None:
        return self._choice(value, path, DIRECTIONS)

    def _as_path(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path, "a file path relative to the contract")
        if text is None:
            return None
        if not text.strip():
            self.error("BAD_FORMAT", path, f"{self.subject(path)} is empty", value=text)
            return None
        reason = _unsafe_path_reason(text)
        if reason:
            self.error(
                "UNSAFE_PATH",
                path,
                f"{self.subject(path)} {_show(text)} {reason}",
                value=text,
                hint="evidence paths are relative to the contract file and stay inside its folder",
            )
            return None
        return text

    def _as_date_format(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path, 'a strftime format such as "%d/%m/%Y"')
        if text is None:
            return None
        problem = _date_format_problem(text)
        if problem:
            self.error(
                "BAD_FORMAT",
                path,
                f"{self.subject(path)} {_show(text)} {problem}",
                value=text,
                hint='use day, month and year, e.g. "%d/%m/%Y" or "%Y-%m-%d"',
            )
            return None
        return text

    def _as_delimiter(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path, "a single character")
        if text is None:
            return None
        if len(text) != 1 or text in '"\r\n':
            self.error(
                "BAD_FORMAT",
                path,
                f"{self.subject(path)} must be one character other than a quote or a line break, "
                f"not {_show(text)}",
                value=text,
            )
            return None
        return text

    # --- composite converters -----------------------------------------------------------
    def _as_columns(self, value: object, path: KeyPath) -> tuple[tuple[str, str], ...] | None:
        table = self.table(value, path, "canonical column = header in the files")
        if table is None:
            return None
        pairs: list[tuple[str, str]] = []
        ok = True
        for key, header in table.items():
            kpath = (*path, key)
            if key not in CANONICAL_COLUMNS:
                self.error(
                    "UNKNOWN_KEY",
                    kpath,
                    f"{_quoted(key)} is not a canonical evidence column",
                    hint=_did_you_mean(key, CANONICAL_COLUMNS),
                )
                ok = False
                continue
            text = self.text_value(header, kpath, "the header used in the evidence files")
            if text is None:
                ok = False
            elif not text.strip():
                self.error(
                    "BAD_FORMAT", kpath, f"{self.subject(kpath)} is an empty header", value=text
                )
                ok = False
            else:
                pairs.append((key, text))
        return tuple(pairs) if ok else None

    def _as_cohorts(self, value: object, path: KeyPath) -> tuple[str, ...] | None:
        if not isinstance(value, list):
            self.wrong_type(value, path, "an array of cohort names")
            return None
        names = [self.text_value(item, (*path, i)) for i, item in enumerate(value)]
        if any(name is None for name in names):
            return None
        if not names:
            self.error(
                "BAD_RANGE",
                path,
                f"{self.subject(path)} is empty, so no participant could ever qualify",
                hint="remove `cohorts` to let every cohort qualify",
            )
            return None
        return tuple(n for n in names if n is not None)

    def _elements(
        self,
        value: object,
        path: KeyPath,
        fields: dict[str, str],
        required: tuple[str, ...],
        what: str,
    ) -> list[dict[str, Any]] | None:
        """An array of small tables (``prices``, ``tiers``); None when any element is bad."""
        if not isinstance(value, list):
            self.wrong_type(value, path, f"an array of tables ({what})")
            return None
        out: list[dict[str, Any]] = []
        ok = True
        for i, item in enumerate(value):
            ipath = (*path, i)
            table = self.table(item, ipath, what)
            if table is None:
                ok = False
                continue
            count = len(self.findings)
            converted = self.fields(table, ipath, fields, required)
            # Money is left unconverted (and unreported) while the currency is broken.
            complete = all(key in converted for key in table if key in fields)
            ok = ok and complete and len(self.findings) == count
            out.append(converted)
        return out if ok else None

    def _as_prices(self, value: object, path: KeyPath) -> tuple[PricePoint, ...] | None:
        items = self._elements(
            value, path, PRICE_POINT_FIELDS, ("from", "price"), "{ from = DATE, price = MONEY }"
        )
        if items is None:
            return None
        if not items:
            self.error(
                "PRICES_NOT_SORTED",
                path,
                f"{self.subject(path)} is empty: it needs a price in force from the contract start",
            )
            return None
        ok = True
        for i in range(1, len(items)):
            if items[i]["from"] <= items[i - 1]["from"]:
                self.error(
                    "PRICES_NOT_SORTED",
                    (*path, i, "from"),
                    f"{self.subject(path)} must be sorted by 'from', each after the one before: "
                    f"{items[i]['from']} follows {items[i - 1]['from']}",
                    value=items[i]["from"],
                )
                ok = False
        first = items[0]["from"]
        if self.start is not None and first > self.start:
            self.error(
                "PRICES_NOT_SORTED",
                (*path, 0, "from"),
                f"{self.subject(path)} starts on {first}, after the contract start {self.start}: "
                "early achievements would have no price",
                value=first,
                hint=f"make the first 'from' {self.start} or earlier",
            )
            ok = False
        return tuple(PricePoint(p["from"], p["price"]) for p in items) if ok else None

    def _as_tiers(self, value: object, path: KeyPath) -> tuple[Tier, ...] | None:
        items = self._elements(value, path, TIER_FIELDS, ("price",), "{ up_to = N, price = MONEY }")
        if items is None:
            return None
        if not items:
            self.error("BAD_TIERS", path, f"{self.subject(path)} is empty")
            return None
        ok = True
        last = len(items) - 1
        for i, tier in enumerate(items):
            up_to = tier.get("up_to")
            if i == last and up_to is not None:
                self.error(
                    "BAD_TIERS",
                    (*path, i, "up_to"),
                    f"the last tier of {self.subject(path)} must have no 'up_to' "
                    "(it covers all the rest)",
                    value=up_to,
                )
                ok = False
            elif i < last and up_to is None:
                self.error(
                    "BAD_TIERS",
                    (*path, i),
                    f"tier {i + 1} of {self.subject(path)} needs 'up_to': "
                    "only the last tier is open",
                )
                ok = False
            elif i > 0 and up_to is not None and (prev := items[i - 1].get("up_to")) is not None:
                if up_to <= prev:
                    self.error(
                        "BAD_TIERS",
                        (*path, i, "up_to"),
                        f"{self.subject(path)} up_to must increase: {up_to} follows {prev}",
                        value=up_to,
                    )
                    ok = False
        return tuple(Tier(t.get("up_to"), t["price"]) for t in items) if ok else None

    def _as_share_table(
        self, value: object, path: KeyPath
    ) -> tuple[tuple[str, Decimal], ...] | None:
        table = self.table(value, path, "payer id = share")
        if table is None:
            return None
        pairs: list[tuple[str, Decimal]] = []
        ok = True
        for payer_id, raw in table.items():
            kpath = (*path, payer_id)
            if self.payer_ids is not None and payer_id not in self.payer_ids:
                self.error(
                    "UNKNOWN_REFERENCE",
                    kpath,
                    f"{self.subject(path)} names payer {_quoted(payer_id)}, "
                    "which is not in [[payers]]",
                    hint=_did_you_mean(payer_id, self.payer_ids),
                )
                ok = False
            share = self._as_share(raw, kpath)
            if share is None:
                ok = False
            else:
                pairs.append((payer_id, share))
        if ok and not self.shares_sum_to_one(pairs, path):
            return None
        return tuple(pairs) if ok else None

    def shares_sum_to_one(self, pairs: list[tuple[str, Decimal]], path: KeyPath) -> bool:
        """SHARES_NOT_ONE unless the shares add up to exactly 1 (summed as fractions)."""
        total = sum((Fraction(share) for _, share in pairs), Fraction(0))
        if total == 1:
            return True
        shown = sum((share for _, share in pairs), Decimal(0)) if pairs else Decimal(0)
        self.error(
            "SHARES_NOT_ONE",
            path,
            f"the shares of {self.subject(path)} sum to {_show(shown)}, not exactly 1",
            hint="shares are exact decimals; 0.33 + 0.33 + 0.34 sums to 1",
        )
        return False

    def _as_profile(self, value: object, path: KeyPath) -> tuple[tuple[str, int], ...] | None:
        table = self.table(value, path, '"YYYY-Qn" = expected claims')
        if table is None:
            return None
        span = None
        if self.start is not None and self.claims_end is not None and self.fy_month is not None:
            if self.start <= self.claims_end:
                span = quarters_between(self.start, self.claims_end, self.fy_month)
        entries: list[tuple[Quarter, int]] = []
        ok = True
        for label, count in table.items():
            kpath = (*path, label)
            if not _QUARTER.fullmatch(label):
                self.error(
                    "BAD_PROFILE",
                    kpath,
                    f"{self.subject(path)} key {_quoted(label)} is not a quarter like 2020-Q1",
                )
                ok = False
                continue
            quarter = Quarter.parse(label)
            if span is not None and quarter not in span:
                self.error(
                    "BAD_PROFILE",
                    kpath,
                    f"{self.subject(path)} quarter {label} is outside the contract "
                    f"({span[0]} to {span[-1]})",
                )
                ok = False
            if type(count) is int and count < 0:
                self.error(
                    "BAD_PROFILE",
                    kpath,
                    f"{self.subject(kpath)} must be a count >= 0, not {count}",
                    value=count,
                )
                ok = False
                continue
            number = self.integer(count, kpath, 0, MAX_INT, "expected claims in the quarter")
            if number is None:
                ok = False
            else:
                entries.append((quarter, number))
        entries.sort()
        return tuple((str(q), n) for q, n in entries) if ok else None

    def _as_requires(self, value: object, path: KeyPath) -> tuple[Requirement, ...] | None:
        if not isinstance(value, list):
            self.wrong_type(
                value,
                path,
                'an array of outcome ids or { outcome = "ID", min_days = N }',
                hint=f'write requires = ["{value}"]' if isinstance(value, str) else None,
            )
            return None
        out: list[Requirement] = []
        ok = True
        for i, item in enumerate(value):
            ipath = (*path, i)
            if isinstance(item, str):
                out.append(Requirement(item, 0))
                continue
            if not isinstance(item, dict):
                self.wrong_type(item, ipath, 'an outcome id or { outcome = "ID", min_days = N }')
                ok = False
                continue
            count = len(self.findings)
            fields = self.fields(item, ipath, REQUIREMENT_FIELDS, ("outcome",))
            if len(self.findings) != count:
                ok = False
                continue
            out.append(Requirement(fields["outcome"], fields.get("min_days", 0)))
        return tuple(out) if ok else None

    # --- sections -------------------------------------------------------------------------
    def check(self, data: dict[str, Any]) -> Contract | None:
        """Check every section, in an order where later checks can use earlier facts."""
        self.check_schema(data)
        for key in data:
            if key not in TOP_KEYS:
                self.unknown_key(key, (key,), TOP_KEYS)
        head = self.check_contract(data)
        payers = self.check_payers(data)
        caps = self.check_caps(data)
        evidence = self.check_evidence(data)
        outcomes = self.check_outcomes(data)
        examples = self.check_examples(data)
        if errors_only(self.findings) or head is None or payers is None or outcomes is None:
            return None
        return Contract(
            id=head["id"],
            name=head.get("name", ""),
            currency=head["currency"],
            minor_units=self.minor_units,  # type: ignore[arg-type]
            start=head["start"],
            outcomes_end=head["outcomes_end"],
            claims_end=head.get("claims_end", head["outcomes_end"]),
            referrals_end=head.get("referrals_end"),
            fiscal_year_start_month=head.get("fiscal_year_start_month", 1),
            payers=payers,
            outcomes=outcomes,
            caps=caps or Caps(),
            evidence=evidence or EvidenceConfig(),
            examples=examples or (),
            path=self.path,
            schema=data["schema"],
        )

    def check_schema(self, data: dict[str, Any]) -> None:
        if "schema" not in data:
            self.missing((), "schema", ' (write schema = "sob/1" as the first line)')
            return
        value = data["schema"]
        if not isinstance(value, str):
            self.wrong_type(value, ("schema",), 'the format version string "sob/1"')
        elif value not in SCHEMA_VERSIONS:
            self.error(
                "UNKNOWN_SCHEMA",
                ("schema",),
                f"schema {_show(value)} is not a format this sob reads "
                f"({', '.join(SCHEMA_VERSIONS)})",
                value=value,
                hint=_did_you_mean(value, SCHEMA_VERSIONS) or 'write schema = "sob/1"',
            )

    def check_contract(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """``[contract]``: ids, currency and minor unit, dates and their order."""
        if "contract" not in data:
            self.missing(
                (), "contract", " (a [contract] table with id, currency, start, outcomes_end)"
            )
            self.minor_units = None
            return None
        table = self.table(data["contract"], ("contract",), "[contract]")
        if table is None:
            self.minor_units = None
            return None
        head = self.fields(table, ("contract",), CONTRACT_FIELDS, CONTRACT_REQUIRED)
        # An explicit minor_units wins; a broken one (or a broken currency) leaves it
        # unknown, and money is then checked for type and sign only.
        self.minor_units = head.get("minor_units")
        currency = head.get("currency")
        if currency is not None and "minor_units" not in table:
            self.minor_units = iso_minor_units(currency)
            if self.minor_units is None:
                self.error(
                    "BAD_CURRENCY",
                    ("contract", "currency"),
                    f"ISO 4217 gives {currency} no minor unit, so the contract must say how many "
                    "decimal digits its amounts have",
                    value=currency,
                    hint="add minor_units = N (0 to 18) to [contract]",
                )
        # None (unknown) when the month is written but invalid: profile quarters are then unchecked.
        self.fy_month = head.get(
            "fiscal_year_start_month", None if "fiscal_year_start_month" in table else 1
        )
        self.check_dates(head, table)
        return head

    def check_dates(self, head: dict[str, Any], table: dict[str, Any]) -> None:
        """start <= referrals_end <= outcomes_end <= claims_end (SPEC 3.2)."""
        order = ("start", "referrals_end", "outcomes_end", "claims_end")
        present = [(key, head[key]) for key in order if key in head]
        for (early_key, early), (late_key, late) in zip(present, present[1:], strict=False):
            if late < early:
                self.error(
                    "DATES_OUT_OF_ORDER",
                    ("contract", late_key),
                    f"contract {late_key} {late} is before {early_key} {early}",
                    value=late,
                    hint="dates must run start <= referrals_end <= outcomes_end <= claims_end",
                )
        self.start = head.get("start")
        if "claims_end" in head:
            self.claims_end = head["claims_end"]
        elif "claims_end" not in table:
            self.claims_end = head.get("outcomes_end")

    def check_payers(self, data: dict[str, Any]) -> tuple[Payer, ...] | None:
        """``[[payers]]``: at least one, unique ids, shares in (0, 1] summing to 1."""
        value = data.get("payers")
        if value is None or value == []:
            self.missing((), "payers", " (at least one [[payers]] table with id and share)")
            return None
        if not isinstance(value, list):
            self.wrong_type(
                value, ("payers",), "an array of tables", hint="write [[payers]], not [payers]"
            )
            return None
        payers: list[Payer] = []
        seen: dict[str, int] = {}
        self.payer_ids = []
        ok = True
        for i, item in enumerate(value):
            path: KeyPath = ("payers", i)
            table = self.table(item, path, "[[payers]]")
            if table is None:
                ok = False
                continue
            if isinstance(table.get("id"), str):
                self.names[path] = f"payer {_quoted(table['id'])}"
            required = PAYER_REQUIRED if len(value) == 1 else (*PAYER_REQUIRED, "share")
            count = len(self.findings)
            fields = self.fields(table, path, PAYER_FIELDS, required)
            payer_id = fields.get("id")
            if payer_id is not None:
                if payer_id in seen:
                    self.error(
                        "DUPLICATE_ID",
                        (*path, "id"),
                        f"payer id '{payer_id}' is used twice (first by payers[{seen[payer_id]}])",
                        value=payer_id,
                    )
                    ok = False
                else:
                    seen[payer_id] = i
                    self.payer_ids.append(payer_id)
            if len(self.findings) != count:
                ok = False
                continue
            payers.append(Payer(payer_id, fields.get("name", ""), fields.get("share", Decimal(1))))
        if not ok:
            return None
        if not self.shares_sum_to_one([(p.id, p.share) for p in payers], ("payers",)):
            return None
        return tuple(payers)

    def check_caps(self, data: dict[str, Any]) -> Caps | None:
        if "caps" not in data:
            return Caps()
        table = self.table(data["caps"], ("caps",), "[caps]")
        if table is None:
            return None
        fields = self.fields(table, ("caps",), CAPS_FIELDS)
        return Caps(fields.get("per_participant"), fields.get("total"), fields.get("partial", True))

    def check_evidence(self, data: dict[str, Any]) -> EvidenceConfig | None:
        if "evidence" not in data:
            return EvidenceConfig()
        table = self.table(data["evidence"], ("evidence",), "[evidence]")
        if table is None:
            return None
        fields = self.fields(table, ("evidence",), EVIDENCE_FIELDS)
        defaults = EvidenceConfig()
        return EvidenceConfig(
            claims=fields.get("claims"),
            participants=fields.get("participants"),
            results=fields.get("results"),
            date_format=fields.get("date_format", defaults.date_format),
            delimiter=fields.get("delimiter", defaults.delimiter),
            columns=fields.get("columns", ()),
        )

    def check_outcomes(self, data: dict[str, Any]) -> tuple[Outcome, ...] | None:
        """``[[outcomes]]``: each outcome alone, then the references between them."""
        value = data.get("outcomes")
        if value is None or value == []:
            self.missing((), "outcomes", " (at least one [[outcomes]] table)")
            return None
        if not isinstance(value, list):
            self.wrong_type(
                value,
                ("outcomes",),
                "an array of tables",
                hint="write [[outcomes]], not [outcomes]",
            )
            return None
        for i, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                self.names[("outcomes", i)] = f"outcome {_quoted(item['id'])}"
        checked = [self.check_outcome(item, i) for i, item in enumerate(value)]
        facts = [f for _, f in checked]
        ids_ok = self.check_outcome_ids(facts)
        refs_ok = self.check_requires(facts)
        outcomes = [o for o, _ in checked if o is not None]
        if not ids_ok or not refs_ok or len(outcomes) != len(checked):
            return None
        return tuple(outcomes)

    def check_outcome(self, item: object, i: int) -> tuple[Outcome | None, _OutcomeFacts]:
        """One outcome: kind-specific keys, price choice, ranges.

        Returns the outcome (None when it has errors) and the facts the
        cross-outcome checks need, which are kept even when the outcome has
        other errors so that every problem is still reported in one pass.
        """
        path: KeyPath = ("outcomes", i)
        table = self.table(item, path, "[[outcomes]]")
        if table is None:
            return None, _OutcomeFacts(None, None, None)
        count = len(self.findings)
        raw_kind = table.get("kind", "claim")
        kind = raw_kind if raw_kind in OUTCOME_KINDS else None
        foreign = {"claim": IMPROVEMENT_ONLY_KEYS, "improvement": CLAIM_ONLY_KEYS}.get(
            kind or "", ()
        )
        wrong = [key for key in table if key in foreign]
        for key in wrong:
            self.error(
                "WRONG_KIND_KEY",
                (*path, key),
                f"{self.subject(path)} is {'an' if kind == 'improvement' else 'a'} {kind} outcome; "
                f"'{key}' is only for "
                f"{'improvement' if kind == 'claim' else 'claim'} outcomes",
                hint=None
                if kind == "improvement"
                else 'add kind = "improvement" if this is a cohort outcome',
            )
        fields = self.fields(table, path, OUTCOME_FIELDS, OUTCOME_REQUIRED, skip=wrong)
        prices = [key for key in PRICE_KEYS if key in table and key not in wrong]
        if len(prices) != 1:
            self.error(
                "PRICE_CHOICE",
                (*path, prices[1]) if len(prices) > 1 else path,
                f"{self.subject(path)} must have exactly one of price, prices, tiers"
                + (f", not {' and '.join(prices)}" if prices else ""),
            )
        if kind == "improvement" and "direction" not in table:
            self.missing(
                path,
                "direction",
                ' (an improvement outcome needs direction = "decrease" or "increase")',
            )
        if fields.get("max_claims", 1) > 1 and "exclusive" in fields:
            self.error(
                "MAX_CLAIMS_EXCLUSIVE",
                (*path, "max_claims"),
                f"{self.subject(path)} has max_claims = {fields['max_claims']} "
                "but is in exclusive group "
                f"{_show(fields['exclusive'])}, which admits one claim per participant",
                value=fields["max_claims"],
            )
        facts = _OutcomeFacts(fields.get("id"), kind, fields.get("requires"))
        if len(self.findings) != count or kind is None:
            return None, facts
        return Outcome(
            id=fields["id"],
            name=fields.get("name", ""),
            kind=kind,  # type: ignore[arg-type]
            price=fields.get("price"),
            prices=fields.get("prices", ()),
            tiers=fields.get("tiers", ()),
            max_claims=fields.get("max_claims", 1),
            window_days=fields.get("window_days"),
            exclusive=fields.get("exclusive"),
            cohorts=fields.get("cohorts"),
            volume_cap=fields.get("volume_cap"),
            amount_cap=fields.get("amount_cap"),
            payers=fields.get("payers"),
            profile=fields.get("profile", ()),
            requires=fields.get("requires", ()),
            direction=fields.get("direction"),
            min_improvement=fields.get("min_improvement", Decimal(0)),
            deadweight=fields.get("deadweight", Decimal(0)),
        ), facts

    def check_outcome_ids(self, outcomes: list[_OutcomeFacts]) -> bool:
        """DUPLICATE_ID for an outcome id used twice (reported at the later one)."""
        first: dict[str, int] = {}
        ok = True
        for i, outcome in enumerate(outcomes):
            if outcome.id is None:
                continue
            if outcome.id in first:
                self.error(
                    "DUPLICATE_ID",
                    ("outcomes", i, "id"),
                    f"outcome id '{outcome.id}' is used twice "
                    f"(first by outcomes[{first[outcome.id]}])",
                    value=outcome.id,
                )
                ok = False
            else:
                first[outcome.id] = i
        return ok

    def check_requires(self, outcomes: list[_OutcomeFacts]) -> bool:
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
                    self.error(
                        "UNKNOWN_REFERENCE",
                        rpath,
                        f"{self.subject(('outcomes', i))} requires {_quoted(req.outcome)}, "
                        "which is not an outcome of this contract",
                        value=req.outcome,
                        hint=_did_you_mean(req.outcome, known_ids),
                    )
                    ok = False
                elif outcomes[target].kind == "improvement":
                    self.error(
                        "UNKNOWN_REFERENCE",
                        rpath,
                        f"{self.subject(('outcomes', i))} requires '{req.outcome}', an improvement "
                        "outcome; only claim outcomes can be prerequisites",
                        value=req.outcome,
                    )
                    ok = False
                else:
                    edges.setdefault(i, []).append((target, j))
        return self.check_cycles(outcomes, edges) and ok

    def check_cycles(
        self, outcomes: list[_OutcomeFacts], edges: dict[int, list[tuple[int, int]]]
    ) -> bool:
        """REQUIRES_CYCLE once per cycle, at the ``requires`` entry that closes it.

        Iterative depth-first search, so a long chain of requirements cannot
        overflow the call stack.
        """
        state: dict[int, int] = {}  # 1 = on the current path, 2 = done
        reported: set[frozenset[int]] = set()
        ok = True
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
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        names = [str(outcomes[k].id) for k in (*cycle, target)]
                        self.error(
                            "REQUIRES_CYCLE",
                            ("outcomes", path[-1], "requires", j),
                            f"requires forms a cycle: {' -> '.join(names)}",
                            hint="an outcome cannot (even indirectly) require itself",
                        )
                        ok = False
                elif not state.get(target):
                    state[target] = 1
                    path.append(target)
                    iters.append(iter(edges.get(target, [])))
        return ok

    # --- worked examples (SPEC 8) --------------------------------------------------------
    def check_examples(self, data: dict[str, Any]) -> tuple[Example, ...] | None:
        """``[[examples]]``: every problem is reported as BAD_EXAMPLE."""
        if "examples" not in data:
            return ()
        value = data["examples"]
        with self.reporting_as("BAD_EXAMPLE"):
            if not isinstance(value, list):
                self.wrong_type(
                    value, ("examples",), "an array of tables", hint="write [[examples]]"
                )
                return None
            examples = [self.check_example(item, i) for i, item in enumerate(value)]
        if any(e is None for e in examples):
            return None
        return tuple(e for e in examples if e is not None)

    def check_example(self, item: object, i: int) -> Example | None:
        path: KeyPath = ("examples", i)
        table = self.table(item, path, "[[examples]]")
        if table is None:
            return None
        name = table.get("name")
        if isinstance(name, str):
            self.names[path] = f"example {_quoted(name)}"
        count = len(self.findings)
        for key in table:
            if key not in EXAMPLE_KEYS:
                self.unknown_key(key, (*path, key), EXAMPLE_KEYS)
        if "name" in table:
            self.text_value(name, (*path, "name"))
        quarter = None
        if "quarter" in table:
            quarter = self.example_quarter(table["quarter"], (*path, "quarter"))
        rows = {
            key: self.example_rows(table.get(key, []), (*path, key), key) for key in EXAMPLE_ROWS
        }
        ids = {
            row[id_key]
            for key, id_key in (("claims", "claim_id"), ("results", "result_id"))
            for row in rows[key] or ()
            if id_key in row
        }
        if "expect" not in table:
            self.missing(path, "expect", ": an example without expectations checks nothing")
            expect = None
        else:
            expect = self.example_expect(table["expect"], (*path, "expect"), ids)
        if len(self.findings) != count:
            return None
        found = self.index.get(path)
        return Example(
            name=name if isinstance(name, str) else f"examples[{i}]",
            quarter=quarter,
            participants=tuple(rows["participants"] or ()),
            claims=tuple(rows["claims"] or ()),
            results=tuple(rows["results"] or ()),
            expect=expect or {},
            line=found[0] if found else None,
        )

    def example_quarter(self, value: object, path: KeyPath) -> str | None:
        text = self.text_value(value, path, 'a quarter such as "2020-Q1"')
        if text is None:
            return None
        if not _QUARTER.fullmatch(text):
            self.error(
                "BAD_EXAMPLE",
                path,
                f"{self.subject(path)} {_show(text)} is not a quarter like 2020-Q1",
                value=text,
            )
            return None
        return text

    def example_rows(self, value: object, path: KeyPath, kind: str) -> list[dict[str, Any]] | None:
        """Inline evidence rows with canonical columns; values typed as the files would be."""
        columns = EXAMPLE_ROWS[kind]
        if not isinstance(value, list):
            self.wrong_type(value, path, f"an array of {kind} rows")
            return None
        rows: list[dict[str, Any]] = []
        for j, item in enumerate(value):
            rpath = (*path, j)
            row = self.table(item, rpath, f"a {kind} row")
            if row is None:
                continue
            out: dict[str, Any] = {}
            for key, cell in row.items():
                kpath = (*rpath, key)
                if key not in columns:
                    self.error(
                        "BAD_EXAMPLE",
                        kpath,
                        f"{_quoted(key)} is not a column of the {kind} file",
                        hint=_did_you_mean(key, columns),
                    )
                    continue
                converted = self.example_cell(columns[key], cell, kpath)
                if converted is not None:
                    out[key] = converted
            for key in REQUIRED_COLUMNS[kind]:
                if key not in row:
                    self.error(
                        "BAD_EXAMPLE",
                        rpath,
                        f"{self.subject(rpath)} has no '{key}', "
                        f"a required column of the {kind} file",
                    )
            rows.append(out)
        return rows

    def example_cell(self, kind: str, value: object, path: KeyPath) -> Any:
        if kind == "date":
            return self._as_date(value, path)
        if kind == "number":
            return self.decimal(value, path, "a number")
        if kind == "flag":
            if isinstance(value, bool | str):
                return value
            self.wrong_type(value, path, "true or false")
            return None
        if type(value) is int:  # ids written as numbers are read as text, like a CSV cell
            return str(value)
        return self.text_value(value, path)

    def example_expect(self, value: object, path: KeyPath, ids: set[str]) -> dict[str, Any] | None:
        table = self.table(value, path, "expect = { entitled = ..., claims = {...} }")
        if table is None:
            return None
        out: dict[str, Any] = {}
        for key, item in table.items():
            kpath = (*path, key)
            if key not in EXPECT_KEYS:
                self.unknown_key(key, kpath, EXPECT_KEYS)
            elif key in ("entitled", "due"):
                out[key] = self.signed_money(item, kpath)
            elif key == "payers":
                out[key] = self.expect_payers(item, kpath)
            else:
                out[key] = self.expect_claims(item, kpath, ids)
        return out

    def signed_money(self, value: object, path: KeyPath) -> Decimal | None:
        """An expected amount: may be negative (a clawback), never finer than the minor unit."""
        number = self.decimal(value, path, "an amount of money")
        if number is not None and self.minor(number, value, path) is None:
            return None
        return number

    def expect_payers(self, value: object, path: KeyPath) -> dict[str, Decimal] | None:
        table = self.table(value, path, "payer id = expected entitled")
        if table is None:
            return None
        out: dict[str, Decimal] = {}
        for payer_id, item in table.items():
            kpath = (*path, payer_id)
            if self.payer_ids is not None and payer_id not in self.payer_ids:
                self.error(
                    "BAD_EXAMPLE",
                    kpath,
                    f"expect names payer {_quoted(payer_id)}, which is not in [[payers]]",
                    hint=_did_you_mean(payer_id, self.payer_ids),
                )
                continue
            amount = self.signed_money(item, kpath)
            if amount is not None:
                out[payer_id] = amount
        return out

    def expect_claims(
        self, value: object, path: KeyPath, ids: set[str]
    ) -> dict[str, dict[str, Any]] | None:
        table = self.table(value, path, "claim id = { status = ..., entitled = ... }")
        if table is None:
            return None
        out: dict[str, dict[str, Any]] = {}
        for claim_id, item in table.items():
            cpath = (*path, claim_id)
            if claim_id not in ids:
                self.error(
                    "BAD_EXAMPLE",
                    cpath,
                    f"expect names claim {_quoted(claim_id)}, "
                    "which is not among the example's claims or results",
                    hint=_did_you_mean(claim_id, ids),
                )
            spec = self.table(item, cpath, "status, reason, entitled, due")
            if spec is None:
                continue
            got: dict[str, Any] = {}
            for key, cell in spec.items():
                kpath = (*cpath, key)
                if key not in CLAIM_EXPECT_KEYS:
                    self.unknown_key(key, kpath, CLAIM_EXPECT_KEYS)
                elif key == "status":
                    got[key] = self._choice(cell, kpath, CLAIM_STATUSES)
                elif key == "reason":
                    got[key] = self.text_value(cell, kpath)
                else:
                    got[key] = self.signed_money(cell, kpath)
            out[claim_id] = got
        return out


__all__ = [
    "CONTRACT_CODES",
    "check_contract_text",
    "decode_contract_bytes",
    "load_contract",
]
