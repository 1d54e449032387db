"""Value converters: one function per kind of value of the contract format.

Each converter takes the reporter, what is known of the contract so far
(:class:`Facts`), a parsed TOML value and its key path, and returns the typed
value, or ``None`` after reporting why it cannot be used.  :data:`CONVERTERS`
maps every kind named in :mod:`sob.contract.format` to its converter, and
:func:`convert_fields` walks a table with that map; a kind without a
converter is a bug that a test catches, not a lookup by name at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from sob.contract import format as fmt
from sob.contract.model import AgeBand, CapPoint, PricePoint, Requirement, Scale, Share, Step, Tier
from sob.contract.paths import confine
from sob.contract.report import Reporter, did_you_mean, quoted, show
from sob.contract.toml_locate import KeyPath
from sob.money import is_iso_currency, parse_decimal
from sob.quarters import Quarter, quarters_between
from sob.textcodecs import codec_name, unknown_codec

_CONTRACT_ID = re.compile(fmt.CONTRACT_ID_PATTERN)
_OUTCOME_ID = re.compile(fmt.OUTCOME_ID_PATTERN)
_QUARTER = re.compile(fmt.QUARTER_PATTERN)
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True)
class Facts:
    """What later values are checked against, learnt from earlier sections.

    Passed explicitly from step to step (see :func:`sob.contract.load.check_contract_text`):
    money needs the minor unit of ``[contract]``, dated prices the contract
    start, profiles the contract's quarters, share tables the payer ids, and
    evidence paths the contract's resolved folder.  ``None`` means unknown
    (absent or already reported as broken), and the check that needs it is
    then skipped rather than reported twice.
    """

    minor_units: int | None = None
    start: date | None = None
    claims_end: date | None = None
    fy_month: int | None = 1
    payer_ids: tuple[str, ...] | None = None
    folder: Path | None = None


Converter = Callable[[Reporter, Facts, object, KeyPath], Any]


# --- numbers ------------------------------------------------------------------------------------


def exact(value: Decimal) -> Fraction | None:
    """The exact value of a finite Decimal, or None when it is absurdly long or large.

    ``Decimal`` arithmetic rounds to 28 digits and ``scaleb``/``quantize``
    round or raise on long values, so sums and minor-unit checks go through
    ``Fraction``; the guard keeps ``Fraction`` away from 10**1000000.
    """
    if value == 0:
        return Fraction(0)
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > fmt.MAX_DIGITS:
        return None
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if exponent > 40 or exponent < -fmt.MAX_DIGITS:
        return None
    return Fraction(value)


def integer(r: Reporter, value: object, path: KeyPath, low: int, high: int, meaning: str) -> int | None:
    """A TOML integer in [low, high] (booleans are not integers here)."""
    if type(value) is not int:
        r.wrong_type(value, path, f"a whole number ({meaning})")
        return None
    if not low <= value <= high:
        bounds = f"{low} or more" if high == fmt.MAX_INT else f"between {low} and {high}"
        r.error("BAD_RANGE", path, f"{r.subject(path)} must be {bounds} ({meaning}), not {show(value)}", value=value)
        return None
    return value


def decimal(r: Reporter, value: object, path: KeyPath, meaning: str) -> Decimal | None:
    """A TOML number or decimal string as an exact, finite Decimal of sane size."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        r.wrong_type(value, path, meaning)
        return None
    if isinstance(value, str):
        parsed = parse_decimal(value)
        if parsed is None:
            r.wrong_type(value, path, meaning,
                         hint="write a plain decimal such as 500.00: no symbol, exponent or thousands separator")
            return None
        number = parsed
    else:
        number = Decimal(value)
    if not number.is_finite():
        r.wrong_type(value, path, f"{meaning} (a finite number, not nan or inf)")
        return None
    if exact(number) is None:
        r.error("BAD_RANGE", path, f"{r.subject(path)} has too many digits or is too large", value=value)
        return None
    return number


def minor(r: Reporter, facts: Facts, number: Decimal, value: object, path: KeyPath) -> int | None:
    """Exact minor units of ``number``; TOO_MANY_DECIMALS when it does not fit."""
    if facts.minor_units is None:  # the currency is broken, already reported
        return None
    value_exact = exact(number)
    assert value_exact is not None  # checked by decimal()
    scaled: Fraction = value_exact * 10**facts.minor_units
    if scaled.denominator != 1:
        r.error(
            "TOO_MANY_DECIMALS",
            path,
            f"{r.subject(path)} = {show(value)} has more than {facts.minor_units} decimal places, the currency's minor unit",
            value=value,
        )
        return None
    if abs(scaled.numerator) > fmt.MAX_INT:
        r.error("BAD_RANGE", path, f"{r.subject(path)} is too large to hold as money", value=value)
        return None
    return scaled.numerator


def signed_money(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Decimal | None:
    """An expected amount: may be negative (a clawback), never finer than the minor unit."""
    number = decimal(r, value, path, "an amount of money")
    if number is not None and minor(r, facts, number, value, path) is None:
        return None
    return number


def text_value(r: Reporter, value: object, path: KeyPath, meaning: str = "a string") -> str | None:
    """``value`` if it is a string, else WRONG_TYPE saying what was wanted."""
    if isinstance(value, str):
        return value
    r.wrong_type(value, path, meaning)
    return None


def choice(r: Reporter, value: object, path: KeyPath, choices: tuple[str, ...]) -> str | None:
    """One of a few allowed words; UNKNOWN_VALUE with the closest one otherwise."""
    text = text_value(r, value, path, " or ".join(f'"{c}"' for c in choices))
    if text is None:
        return None
    if text not in choices:
        r.error(
            "UNKNOWN_VALUE",
            path,
            f"{r.subject(path)} must be one of {', '.join(choices)}, not {show(text)}",
            value=text,
            hint=did_you_mean(text, choices),
        )
        return None
    return text


# --- scalar converters --------------------------------------------------------------------------


def as_text(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return text_value(r, value, path)


def as_bool(r: Reporter, facts: Facts, value: object, path: KeyPath) -> bool | None:
    if isinstance(value, bool):
        return value
    r.wrong_type(value, path, "true or false")
    return None


def as_date(r: Reporter, facts: Facts, value: object, path: KeyPath) -> date | None:
    """A TOML local date; a quoted or timed date gets a hint showing the fix."""
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
    r.wrong_type(value, path, "a date (a TOML local date such as 2019-04-01)", hint)
    return None


def as_money(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    """Money in minor units: >= 0 and no finer than the currency's minor unit (SPEC 3.1)."""
    number = decimal(r, value, path, "an amount of money (a number or a decimal string)")
    if number is None:
        return None
    if number < 0:
        r.error("NEGATIVE_MONEY", path, f"{r.subject(path)} must not be negative, not {show(value)}", value=value)
        return None
    return minor(r, facts, number, value, path)


_SHARE_FRACTION = re.compile(fmt.SHARE_FRACTION_PATTERN)


def _fraction_share(r: Reporter, value: str, path: KeyPath) -> Fraction | None:
    """A ``"p/q"`` share (SPEC 11.2): positive integers, at most 1, kept exact.

    Thirds cannot be written as decimals, so a split such as MHCLG 2/3 and
    GLA 1/3 needs the fraction itself; anything else in the string (a sign,
    a zero, a decimal point, words) is refused rather than guessed at.
    """
    match = _SHARE_FRACTION.fullmatch(value)
    digits = match is not None and all(len(g) <= fmt.MAX_DIGITS for g in match.groups())
    if match is None or not digits or int(match[1]) == 0 or int(match[2]) == 0:
        r.error("BAD_SHARE", path, f"{r.subject(path)} must be a fraction p/q of positive whole numbers, "
                f"not {show(value)}", value=value, hint='write a fraction as "2/3", or a decimal such as 0.5')
        return None
    share = Fraction(int(match[1]), int(match[2]))
    if share > 1:
        r.error("BAD_SHARE", path, f"{r.subject(path)} must be in (0, 1], not {show(value)}", value=value,
                hint="a share is a part of each payment: the fraction must be at most 1")
        return None
    return share


def as_share(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Share | None:
    """A share in (0, 1]: a decimal (exactly the fraction it writes) or a ``"p/q"`` string (SPEC 3.1, 11.2)."""
    if isinstance(value, str) and "/" in value:
        return _fraction_share(r, value, path)
    number = decimal(r, value, path, "a share (a decimal in (0, 1])")
    if number is None:
        return None
    if not 0 < number <= 1:
        r.error(
            "BAD_SHARE",
            path,
            f"{r.subject(path)} must be in (0, 1], not {show(value)}",
            value=value,
            hint="a payer that pays nothing for an outcome is simply left out",
        )
        return None
    return number


def as_fraction(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Decimal | None:
    number = decimal(r, value, path, "a decimal in [0, 1)")
    if number is None:
        return None
    if not 0 <= number < 1:
        r.error("BAD_RANGE", path, f"{r.subject(path)} must be at least 0 and below 1, not {show(value)}", value=value)
        return None
    return number


def as_count(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 0, fmt.MAX_INT, "a count >= 0")


def as_positive(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 1, fmt.MAX_INT, "a count >= 1")


def as_days(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 0, fmt.MAX_DAYS, "a number of days")


def as_month(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 1, 12, "a month number")


def as_minor_units(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 0, fmt.MAX_MINOR_UNITS, "decimal digits of the currency")


def _too_long(r: Reporter, text: str, path: KeyPath) -> bool:
    """BAD_ID for an id over MAX_ID_LENGTH: ids become file and folder names (ledger, exports)."""
    if len(text) <= fmt.MAX_ID_LENGTH:
        return False
    r.error(
        "BAD_ID",
        path,
        f"{r.subject(path)} is {len(text)} characters long; ids have at most {fmt.MAX_ID_LENGTH}",
        value=text,
        hint="ids name ledger files and folders, so keep them short",
    )
    return True


def _id(r: Reporter, value: object, path: KeyPath, pattern: re.Pattern[str], shape: str) -> str | None:
    text = text_value(r, value, path)
    if text is None:
        return None
    if not pattern.fullmatch(text):
        r.error("BAD_ID", path, f"{r.subject(path)} {show(text)} must match {shape}", value=text)
        return None
    if _too_long(r, text, path):
        return None
    return text


def as_contract_id(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return _id(r, value, path, _CONTRACT_ID, fmt.CONTRACT_ID_PATTERN)


def as_outcome_id(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return _id(r, value, path, _OUTCOME_ID, fmt.OUTCOME_ID_PATTERN)


def as_payer_id(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    text = text_value(r, value, path)
    if text is not None and (not text.strip() or text != text.strip()):
        r.error(
            "BAD_ID",
            path,
            f"{r.subject(path)} {show(text)} must be non-empty, without leading or trailing spaces",
            value=text,
        )
        return None
    if text is not None and _too_long(r, text, path):
        return None
    return text


def as_adjustment_id(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    """An adjustment id (SPEC 10.6): any text an evidence id could be, so a clash with a claim can be seen.

    Evidence ids are trimmed when read, so an id with leading or trailing
    spaces could never be matched against them (nor its ledger row found).
    """
    return as_payer_id(r, facts, value, path)


def as_nonzero_money(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    """Signed money in minor units, not zero: an adjustment pays (> 0) or recovers (< 0) money (SPEC 10.6)."""
    number = decimal(r, value, path, "an amount of money (a number or a decimal string; negative recovers money)")
    if number is None:
        return None
    if number == 0:
        r.error("BAD_RANGE", path, f"{r.subject(path)} must not be zero: an adjustment pays or recovers money",
                value=value, hint="remove the adjustment, or give the amount agreed (negative to recover money)")
        return None
    return minor(r, facts, number, value, path)


def as_outcome_ref(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return text_value(r, value, path, "an outcome id")


def as_currency(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    text = text_value(r, value, path, "a three-letter ISO 4217 code")
    if text is None:
        return None
    if not is_iso_currency(text):
        hint = f"did you mean '{text.upper()}'?" if is_iso_currency(text.upper()) else None
        r.error("BAD_CURRENCY", path, f"{show(text)} is not an ISO 4217 currency code", value=text, hint=hint)
        return None
    return text


def as_kind(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return choice(r, value, path, fmt.OUTCOME_KINDS)


def as_direction(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return choice(r, value, path, fmt.DIRECTIONS)


def as_on_cap(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    return choice(r, value, path, fmt.ON_CAP)


def unsafe_path_reason(text: str) -> str | None:
    """Why an evidence path could read outside the contract's folder, judged from its text alone."""
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


def as_path(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    """An evidence path: relative, inside the contract's folder, and (on disk) a regular file.

    The text is checked first; then, when the contract's folder is known,
    the path is resolved on disk (:func:`sob.contract.paths.confine`) and the
    checked path, with every link resolved, is what is kept and later opened.
    """
    text = text_value(r, value, path, "a file path relative to the contract")
    if text is None:
        return None
    if not text.strip():
        r.error("BAD_FORMAT", path, f"{r.subject(path)} is empty", value=text)
        return None
    reason = unsafe_path_reason(text)
    kept = text
    if reason is None and facts.folder is not None:
        reason, kept = confine(facts.folder, text)
    if reason:
        r.error(
            "UNSAFE_PATH",
            path,
            f"{r.subject(path)} {show(text)} {reason}",
            value=text,
            hint="evidence paths are relative to the contract file and stay inside its folder",
        )
        return None
    return kept


def date_format_problem(date_format: str) -> str | None:
    """Why a strftime format cannot be trusted to read dates back exactly, if it cannot."""
    if len(date_format) > 200:
        return "is longer than 200 characters"
    for sample in (date(2019, 12, 31), date(2021, 2, 3)):
        try:
            back = datetime.strptime(sample.strftime(date_format), date_format).date()
        except (ValueError, TypeError, OverflowError):
            return f"cannot read back the date {sample.isoformat()} it writes"
        if back != sample:
            return f"writes {sample.isoformat()} as {sample.strftime(date_format)!r}, which reads back as {back.isoformat()}"
    return None


def as_date_format(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    text = text_value(r, value, path, 'a strftime format such as "%d/%m/%Y"')
    if text is None:
        return None
    problem = date_format_problem(text)
    if problem:
        r.error(
            "BAD_FORMAT",
            path,
            f"{r.subject(path)} {show(text)} {problem}",
            value=text,
            hint='use day, month and year, e.g. "%d/%m/%Y" or "%Y-%m-%d"',
        )
        return None
    return text


def as_delimiter(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    text = text_value(r, value, path, "a single character")
    if text is None:
        return None
    if len(text) != 1 or text in '"\r\n':
        r.error(
            "BAD_FORMAT",
            path,
            f"{r.subject(path)} must be one character other than a quote or a line break, not {show(text)}",
            value=text,
        )
        return None
    return text


def as_encoding(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    """``[evidence] encoding``: any Python text codec (``cp1252``, ``latin-1``, ``utf-16``)."""
    text = text_value(r, value, path, 'a Python codec name such as "cp1252"')
    if text is None:
        return None
    if codec_name(text) is None:
        r.error("BAD_FORMAT", path, unknown_codec(text, r.subject(path)), value=text,
                hint='Excel on Windows saves "CSV" as cp1252; "CSV UTF-8" as utf-8')
        return None
    return text


def as_money_cells(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    """``[evidence] money``: ``plain`` (the default) or ``lenient``."""
    return choice(r, value, path, fmt.MONEY_CELL_MODES)


def as_sheet(r: Reporter, facts: Facts, value: object, path: KeyPath) -> str | None:
    """``[evidence] sheet``: the sheet's name in an XLSX/ODS evidence file."""
    text = text_value(r, value, path, "the name of a sheet")
    if text is not None and not text.strip():
        r.error("BAD_FORMAT", path, f"{r.subject(path)} is an empty sheet name", value=text)
        return None
    return text


_VALUE_TARGETS = {"status": ("claimed", "withdrawn", "failed")}


def as_value_maps(r: Reporter, facts: Facts, value: object,
                  path: KeyPath) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...] | None:
    """``[evidence.values]``: per column, the values the files use and the canonical value each means.

    ``status`` maps to claimed/withdrawn/failed, ``eligible`` to true/false,
    ``outcome_id`` to an outcome id.  A value that is also a target of the
    same map is refused: mapped twice it could change meaning.
    """
    maps = table(r, value, path, "column = { value in the files = canonical value }")
    if maps is None:
        return None
    out: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    ok = True
    for column, mapping in maps.items():
        cpath = (*path, column)
        if column not in fmt.VALUE_MAP_COLUMNS:
            r.error("UNKNOWN_KEY", cpath, f"{quoted(column)} is not a column whose values can be mapped",
                    hint=did_you_mean(column, fmt.VALUE_MAP_COLUMNS) or "map status, eligible or outcome_id")
            ok = False
            continue
        pairs = table(r, mapping, cpath, "value in the files = canonical value")
        if pairs is None:
            ok = False
            continue
        got: list[tuple[str, str]] = []
        for key, target in pairs.items():
            kpath = (*cpath, key)
            if column == "eligible":
                if not isinstance(target, bool):
                    r.wrong_type(target, kpath, "true or false")
                    ok = False
                    continue
                got.append((key.strip().lower(), "true" if target else "false"))
                continue
            text = text_value(r, target, kpath, "the canonical value")
            if text is None:
                ok = False
                continue
            allowed = _VALUE_TARGETS.get(column)
            if allowed is not None and text.strip().lower() not in allowed:
                r.error("UNKNOWN_VALUE", kpath, f"{r.subject(kpath)} {show(text)} is not one of {', '.join(allowed)}",
                        value=text, hint=did_you_mean(text, allowed))
                ok = False
                continue
            got.append((key.strip().lower(), text.strip().lower() if allowed else text.strip()))
        targets = {t.lower() for _, t in got}
        for key, _ in got:
            if key in targets:
                r.error("BAD_FORMAT", (*cpath, key), f"{r.subject((*cpath, key))}: {show(key)} is both a value "
                        "mapped and a value mapped to", value=key, hint="map each value in the files once, to its meaning")
                ok = False
        if len({k for k, _ in got}) != len(got):
            r.error("BAD_FORMAT", cpath, f"{r.subject(cpath)} maps one value twice (values are matched ignoring case)")
            ok = False
        out.append((column, tuple(got)))
    return tuple(out) if ok else None


# --- composite converters -------------------------------------------------------------------------


def table(r: Reporter, value: object, path: KeyPath, what: str, hint: str | None = None) -> dict[str, Any] | None:
    """``value`` if it is a table, else a WRONG_TYPE finding."""
    if isinstance(value, dict):
        return value
    r.wrong_type(value, path, f"a table ({what})", hint)
    return None


def as_columns(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[tuple[str, str], ...] | None:
    """``[evidence.columns]``: canonical column = the header the files use for it."""
    columns = table(r, value, path, "canonical column = header in the files")
    if columns is None:
        return None
    pairs: list[tuple[str, str]] = []
    ok = True
    for key, header in columns.items():
        kpath = (*path, key)
        if key not in fmt.CANONICAL_COLUMNS:
            r.error("UNKNOWN_KEY", kpath, f"{quoted(key)} is not a canonical evidence column",
                    hint=did_you_mean(key, fmt.CANONICAL_COLUMNS))
            ok = False
            continue
        text = text_value(r, header, kpath, "the header used in the evidence files")
        if text is None:
            ok = False
        elif not text.strip():
            r.error("BAD_FORMAT", kpath, f"{r.subject(kpath)} is an empty header", value=text)
            ok = False
        else:
            pairs.append((key, text))
    return tuple(pairs) if ok else None


def as_cohorts(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        r.wrong_type(value, path, "an array of cohort names")
        return None
    names = [text_value(r, item, (*path, i)) for i, item in enumerate(value)]
    if any(name is None for name in names):
        return None
    if not names:
        r.error(
            "BAD_RANGE",
            path,
            f"{r.subject(path)} is empty, so no participant could ever qualify",
            hint="remove `cohorts` to let every cohort qualify",
        )
        return None
    return tuple(n for n in names if n is not None)


def _elements(
    r: Reporter, facts: Facts, value: object, path: KeyPath, fields: Mapping[str, str], required: tuple[str, ...], what: str
) -> list[dict[str, Any]] | None:
    """An array of small tables (``prices``, ``tiers``); None when any element is bad."""
    if not isinstance(value, list):
        r.wrong_type(value, path, f"an array of tables ({what})")
        return None
    out: list[dict[str, Any]] = []
    ok = True
    for i, item in enumerate(value):
        ipath = (*path, i)
        element = table(r, item, ipath, what)
        if element is None:
            ok = False
            continue
        mark = r.mark()
        converted = convert_fields(r, facts, element, ipath, fields, required)
        # Money is left unconverted (and unreported) while the currency is broken.
        complete = all(key in converted for key in element if key in fields)
        ok = ok and complete and r.clean_since(mark)
        out.append(converted)
    return out if ok else None


def as_prices(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[PricePoint, ...] | None:
    """Dated prices: strictly sorted by ``from``, the first in force from the contract start."""
    items = _elements(r, facts, value, path, fmt.PRICE_POINT_FIELDS, ("from", "price"), "{ from = DATE, price = MONEY }")
    if items is None:
        return None
    if not items:
        r.error("PRICES_NOT_SORTED", path,
                f"{r.subject(path)} is empty: it needs a price in force from the contract start")
        return None
    ok = True
    for i in range(1, len(items)):
        if items[i]["from"] <= items[i - 1]["from"]:
            r.error(
                "PRICES_NOT_SORTED",
                (*path, i, "from"),
                f"{r.subject(path)} must be sorted by 'from', each after the one before: "
                f"{items[i]['from']} follows {items[i - 1]['from']}",
                value=items[i]["from"],
            )
            ok = False
    first = items[0]["from"]
    if facts.start is not None and first > facts.start:
        r.error(
            "PRICES_NOT_SORTED",
            (*path, 0, "from"),
            f"{r.subject(path)} starts on {first}, after the contract start {facts.start}: "
            "early achievements would have no price",
            value=first,
            hint=f"make the first 'from' {facts.start} or earlier",
        )
        ok = False
    return tuple(PricePoint(p["from"], p["price"]) for p in items) if ok else None


def _schedule(
    r: Reporter, facts: Facts, value: object, path: KeyPath, key: str, plain: Converter, fields: Mapping[str, str]
) -> int | tuple[CapPoint, ...] | None:
    """A cap: one value (``plain``), or a schedule ``[{ from = DATE, <key> = ... }, ...]`` (SPEC 10.5).

    The schedule is checked as ``prices`` is (same code, PRICES_NOT_SORTED):
    strictly sorted by ``from`` (two entries with one ``from`` would leave
    the limit of that day to file order), the first on or before the
    contract start (a run before it would have no cap at all).  An entry
    below the one before it is allowed, with a CAP_LOWERED warning: a
    lowered cap can claw back what was already paid.
    """
    example = "[{ from = DATE, amount = MONEY }, ...]" if key == "amount" else "[{ from = DATE, count = N }, ...]"
    if isinstance(value, dict):
        r.wrong_type(value, path, f"{'an amount of money' if key == 'amount' else 'a count'} or a schedule {example}",
                     hint=f"write a schedule as an array of tables: {example}")
        return None
    if not isinstance(value, list):
        converted: int | None = plain(r, facts, value, path)
        return converted
    items = _elements(r, facts, value, path, fields, ("from", key), example)
    if items is None:
        return None
    if not items:
        r.error("PRICES_NOT_SORTED", path, f"{r.subject(path)} is an empty schedule: it needs an entry in force "
                "from the contract start", hint="write one value, or a schedule whose first 'from' is the contract start")
        return None
    ok = _schedule_order(r, facts, items, path)
    if ok:
        _lowered(r, items, value, path, key)
    return tuple(CapPoint(item["from"], item[key]) for item in items) if ok else None


def _schedule_order(r: Reporter, facts: Facts, items: list[dict[str, Any]], path: KeyPath) -> bool:
    """PRICES_NOT_SORTED unless ``from`` strictly increases and the first is on or before the start."""
    ok = True
    for i in range(1, len(items)):
        day, before = items[i]["from"], items[i - 1]["from"]
        if day == before:
            r.error("PRICES_NOT_SORTED", (*path, i, "from"),
                    f"{r.subject(path)} has two entries from {day}: which limit is in force that day is unclear",
                    value=day, hint="merge the two entries, or correct one of the dates")
            ok = False
        elif day < before:
            r.error("PRICES_NOT_SORTED", (*path, i, "from"),
                    f"{r.subject(path)} must be sorted by 'from', each after the one before: {day} follows {before}",
                    value=day, hint="list the entries oldest first")
            ok = False
    first = items[0]["from"]
    if facts.start is not None and first > facts.start:
        r.error("PRICES_NOT_SORTED", (*path, 0, "from"),
                f"{r.subject(path)} starts on {first}, after the contract start {facts.start}: "
                "runs before it would have no cap", value=first, hint=f"make the first 'from' {facts.start} or earlier")
        ok = False
    return ok


def _lowered(r: Reporter, items: list[dict[str, Any]], raw: list[Any], path: KeyPath, key: str) -> None:
    """CAP_LOWERED (a warning) for each entry below the one before it (SPEC 10.5)."""
    for i in range(1, len(items)):
        if items[i][key] < items[i - 1][key]:
            r.warn("CAP_LOWERED", (*path, i, key),
                   f"{r.subject(path)} is lowered from {items[i]['from']} ({show(raw[i - 1][key])} to "
                   f"{show(raw[i][key])}): runs from then on may claw back what was paid under the higher limit",
                   value=raw[i][key],
                   hint="check the variation: a lower cap gives negative dues on claims already paid over it")


def as_money_schedule(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | tuple[CapPoint, ...] | None:
    """A money cap: an amount, or a schedule of ``{ from, amount }`` (SPEC 10.5)."""
    return _schedule(r, facts, value, path, "amount", as_money, fmt.CAP_POINT_FIELDS)


def as_count_schedule(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | tuple[CapPoint, ...] | None:
    """A ``volume_cap``: a count, or a schedule of ``{ from, count }`` (SPEC 10.5)."""
    return _schedule(r, facts, value, path, "count", as_count, fmt.COUNT_POINT_FIELDS)


def as_tiers(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[Tier, ...] | None:
    """Volume tiers: ``up_to`` increasing, only the last one open."""
    items = _elements(r, facts, value, path, fmt.TIER_FIELDS, ("price",), "{ up_to = N, price = MONEY }")
    if items is None:
        return None
    if not items:
        r.error("BAD_TIERS", path, f"{r.subject(path)} is empty")
        return None
    ok = True
    last = len(items) - 1
    for i, tier in enumerate(items):
        up_to = tier.get("up_to")
        if i == last and up_to is not None:
            r.error(
                "BAD_TIERS",
                (*path, i, "up_to"),
                f"the last tier of {r.subject(path)} must have no 'up_to' (it covers all the rest)",
                value=up_to,
            )
            ok = False
        elif i < last and up_to is None:
            r.error("BAD_TIERS", (*path, i), f"tier {i + 1} of {r.subject(path)} needs 'up_to': only the last tier is open")
            ok = False
        elif i > 0 and up_to is not None and (prev := items[i - 1].get("up_to")) is not None and up_to <= prev:
            r.error("BAD_TIERS", (*path, i, "up_to"), f"{r.subject(path)} up_to must increase: {up_to} follows {prev}",
                    value=up_to)
            ok = False
    return tuple(Tier(t.get("up_to"), t["price"]) for t in items) if ok else None


def _shown_total(shares: list[Share]) -> object:
    """The sum to show: a decimal when every share is one (as version 1 showed it), else a fraction."""
    if all(isinstance(s, Decimal) for s in shares):
        return sum((s for s in shares if isinstance(s, Decimal)), Decimal(0))
    return sum((Fraction(s) for s in shares), Fraction(0))  # shown as p/q


def shares_sum_to_one(r: Reporter, pairs: list[tuple[str, Share]], path: KeyPath) -> bool:
    """SHARES_NOT_ONE unless the shares add up to exactly 1 (summed as fractions)."""
    total = sum((Fraction(share) for _, share in pairs), Fraction(0))
    if total == 1:
        return True
    r.error(
        "SHARES_NOT_ONE",
        path,
        f"the shares of {r.subject(path)} sum to {show(_shown_total([s for _, s in pairs]))}, not exactly 1",
        hint="shares are exact decimals; 0.33 + 0.33 + 0.34 sums to 1",
    )
    return False


def as_share_table(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[tuple[str, Share], ...] | None:
    """An outcome's own payer split: known payer ids, shares in (0, 1] summing to 1."""
    shares = table(r, value, path, "payer id = share")
    if shares is None:
        return None
    pairs: list[tuple[str, Share]] = []
    ok = True
    for payer_id, raw in shares.items():
        kpath = (*path, payer_id)
        if facts.payer_ids is not None and payer_id not in facts.payer_ids:
            r.error(
                "UNKNOWN_REFERENCE",
                kpath,
                f"{r.subject(path)} names payer {quoted(payer_id)}, which is not in [[payers]]",
                hint=did_you_mean(payer_id, facts.payer_ids),
            )
            ok = False
        share = as_share(r, facts, raw, kpath)
        if share is None:
            ok = False
        else:
            pairs.append((payer_id, share))
    if ok and not shares_sum_to_one(r, pairs, path):
        return None
    return tuple(pairs) if ok else None


def as_profile(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[tuple[str, int], ...] | None:
    """Expected claims per quarter: quarters of the contract, counts >= 0, sorted."""
    counts = table(r, value, path, '"YYYY-Qn" = expected claims')
    if counts is None:
        return None
    span = None
    if (facts.start is not None and facts.claims_end is not None and facts.fy_month is not None
            and facts.start <= facts.claims_end):
        span = quarters_between(facts.start, facts.claims_end, facts.fy_month)
    entries: list[tuple[Quarter, int]] = []
    ok = True
    for label, count in counts.items():
        kpath = (*path, label)
        if not _QUARTER.fullmatch(label):
            r.error("BAD_PROFILE", kpath, f"{r.subject(path)} key {quoted(label)} is not a quarter like 2020-Q1")
            ok = False
            continue
        quarter = Quarter.parse(label)
        if span is not None and quarter not in span:
            r.error("BAD_PROFILE", kpath,
                    f"{r.subject(path)} quarter {label} is outside the contract ({span[0]} to {span[-1]})")
            ok = False
        if type(count) is int and count < 0:
            r.error("BAD_PROFILE", kpath, f"{r.subject(kpath)} must be a count >= 0, not {count}", value=count)
            ok = False
            continue
        number = integer(r, count, kpath, 0, fmt.MAX_INT, "expected claims in the quarter")
        if number is None:
            ok = False
        else:
            entries.append((quarter, number))
    entries.sort()
    return tuple((str(q), n) for q, n in entries) if ok else None


def as_requires(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[Requirement, ...] | None:
    """Prerequisites: outcome ids, or ``{ outcome = "ID", min_days = N }`` tables."""
    if not isinstance(value, list):
        r.wrong_type(
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
            r.wrong_type(item, ipath, 'an outcome id or { outcome = "ID", min_days = N }')
            ok = False
            continue
        mark = r.mark()
        fields = convert_fields(r, facts, item, ipath, fmt.REQUIREMENT_FIELDS, ("outcome",))
        if not r.clean_since(mark):
            ok = False
            continue
        out.append(Requirement(fields["outcome"], fields.get("min_days", 0)))
    return tuple(out) if ok else None


def as_number(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Decimal | None:
    """A plain decimal of either sign (a scale's ends are values of the evidence, not money)."""
    return decimal(r, value, path, "a number (a decimal or a decimal string)")


def as_step_at(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Decimal | None:
    """A step's relative improvement, in (0, 1): 0 would pay for no improvement, 1 is unreachable."""
    number = decimal(r, value, path, "a relative improvement in (0, 1)")
    if number is None:
        return None
    if not 0 < number < 1:
        r.error("BAD_STEPS", path, f"{r.subject(path)} must be above 0 and below 1, not {show(value)}", value=value,
                hint="write the improvement as a fraction: 8.5% is 0.085")
        return None
    return number


def as_steps(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[Step, ...] | None:
    """Threshold steps (SPEC 11.3): ``at`` strictly increasing, ``amount`` never decreasing.

    A later step that paid less for a better result would reward missing it,
    so both orders are contract errors rather than something to sort out.
    """
    items = _elements(r, facts, value, path, fmt.STEP_FIELDS, ("at", "amount"), "{ at = FRACTION, amount = MONEY }")
    if items is None:
        return None
    if not items:
        r.error("BAD_STEPS", path, f"{r.subject(path)} is empty: it needs at least one step")
        return None
    ok = True
    for i in range(1, len(items)):
        before, step = items[i - 1], items[i]
        if step["at"] <= before["at"]:
            r.error("BAD_STEPS", (*path, i, "at"), f"{r.subject(path)} 'at' must increase: {step['at']} follows "
                    f"{before['at']}", value=step["at"], hint="list the steps from the lowest threshold up")
            ok = False
        elif step["amount"] < before["amount"]:
            r.error("BAD_STEPS", (*path, i, "amount"), f"{r.subject(path)} 'amount' must never decrease: step {i + 1} "
                    "pays less than the step before it", hint="a higher step pays at least as much as a lower one")
            ok = False
    return tuple(Step(s["at"], s["amount"]) for s in items) if ok else None


def as_scale(r: Reporter, facts: Facts, value: object, path: KeyPath) -> Scale | None:
    """A sliding scale ``{ zero_at, full_at }`` (SPEC 11.4); the two ends must differ.

    Whether ``zero_at`` may lie above ``full_at`` depends on the kind of
    outcome, which the outcome's own check decides.
    """
    ends = table(r, value, path, "{ zero_at = NUMBER, full_at = NUMBER }")
    if ends is None:
        return None
    mark = r.mark()
    fields = convert_fields(r, facts, ends, path, fmt.SCALE_FIELDS, ("zero_at", "full_at"))
    if not r.clean_since(mark):
        return None
    if fields["zero_at"] == fields["full_at"]:
        r.error("BAD_SCALE", (*path, "full_at"), f"{r.subject(path)} has zero_at = full_at = {fields['full_at']}: "
                "the scale has no width", value=ends["full_at"], hint="full_at is where the full price is reached")
        return None
    return Scale(fields["zero_at"], fields["full_at"])


def as_net_of(r: Reporter, facts: Facts, value: object, path: KeyPath) -> tuple[str, ...] | None:
    """The improvement outcomes a pooled payment is net of (SPEC 11.6): a list of outcome ids.

    Whether each names an improvement outcome other than this one, and
    without a cycle, is checked across outcomes (:mod:`sob.contract.references`).
    """
    if not isinstance(value, list):
        r.wrong_type(value, path, "an array of outcome ids",
                     hint=f'write net_of = ["{value}"]' if isinstance(value, str) else None)
        return None
    ids = [text_value(r, item, (*path, i), "an outcome id") for i, item in enumerate(value)]
    if any(i is None for i in ids):
        return None
    return tuple(i for i in ids if i is not None)


def as_age(r: Reporter, facts: Facts, value: object, path: KeyPath) -> int | None:
    return integer(r, value, path, 0, fmt.MAX_INT, "an age in whole years >= 0")


def as_age_band(r: Reporter, facts: Facts, value: object, path: KeyPath) -> AgeBand | None:
    """``{ min = 14, max = 15 }`` (SPEC 11.5): whole years >= 0, both inclusive, min <= max.

    A band with min above max admits nobody: every claim of the outcome
    would be rejected, which is a mistake in the contract, not a rule.
    """
    band = table(r, value, path, "{ min = YEARS, max = YEARS }", hint="write age_at_enrolment = { min = 14, max = 15 }")
    if band is None:
        return None
    mark = r.mark()
    fields = convert_fields(r, facts, band, path, fmt.AGE_BAND_FIELDS)
    if not r.clean_since(mark):
        return None
    low, high = fields.get("min"), fields.get("max")
    if low is not None and high is not None and low > high:
        r.error("BAD_RANGE", (*path, "max"), f"{r.subject(path)} has min = {low} above max = {high}: no age fits",
                value=high, hint="both bounds are inclusive: { min = 14, max = 15 } admits 14 and 15 year olds")
        return None
    return AgeBand(low, high)


#: The converter of every kind of value named in the key tables of :mod:`sob.contract.format`.
CONVERTERS: dict[str, Converter] = {
    "text": as_text,
    "bool": as_bool,
    "date": as_date,
    "money": as_money,
    "share": as_share,
    "fraction": as_fraction,
    "count": as_count,
    "positive": as_positive,
    "days": as_days,
    "month": as_month,
    "minor_units": as_minor_units,
    "contract_id": as_contract_id,
    "outcome_id": as_outcome_id,
    "payer_id": as_payer_id,
    "outcome_ref": as_outcome_ref,
    "currency": as_currency,
    "kind": as_kind,
    "direction": as_direction,
    "on_cap": as_on_cap,
    "path": as_path,
    "date_format": as_date_format,
    "delimiter": as_delimiter,
    "columns": as_columns,
    "encoding": as_encoding,
    "money_cells": as_money_cells,
    "sheet": as_sheet,
    "value_maps": as_value_maps,
    "cohorts": as_cohorts,
    "prices": as_prices,
    "tiers": as_tiers,
    "share_table": as_share_table,
    "profile": as_profile,
    "requires": as_requires,
    "money_schedule": as_money_schedule,
    "count_schedule": as_count_schedule,
    "adjustment_id": as_adjustment_id,
    "nonzero_money": as_nonzero_money,
    "number": as_number,
    "step_at": as_step_at,
    "steps": as_steps,
    "scale": as_scale,
    "net_of": as_net_of,
    "age": as_age,
    "age_band": as_age_band,
}


def convert_fields(
    r: Reporter,
    facts: Facts,
    values: Mapping[str, Any],
    path: KeyPath,
    fields: Mapping[str, str],
    required: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> dict[str, Any]:
    """Convert every known key of ``values``; report unknown and missing keys.

    Keys in ``skip`` were already reported by the caller.  A key that is
    present but invalid is reported once, by its converter, and left out of
    the result (not reported again as missing).
    """
    skipped = set(skip)
    out: dict[str, Any] = {}
    for key, value in values.items():
        kpath = (*path, key)
        if key in skipped:
            continue
        kind = fields.get(key)
        if kind is None:
            r.unknown_key(key, kpath, fields)
            continue
        converted = CONVERTERS[kind](r, facts, value, kpath)
        if converted is not None:
            out[key] = converted
    for key in required:
        if key not in values:
            r.missing(path, key)
    return out
