"""The row checks of SPEC 4.4 as polars expressions in priority order, and the findings
(messages and hints) for the rows they flag.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import Any

import polars as pl

from sob.columns import MAX_DECIMAL_FRACTION_DIGITS, MAX_DECIMAL_WHOLE_DIGITS
from sob.contract import Contract
from sob.evidence.cells import (
    STATUS_ANY_CASE,
    STATUS_OF_SPELLING,
    Check,
    decimal_ok,
    has_time,
    money_minor,
    non_negative,
    one_of,
    out_of_range,
    parse_date,
    positive,
    typed_status,
    unparsed,
    whole_digits,
)
from sob.evidence.kinds import FALSE, TRUE, Kind
from sob.evidence.money_cells import lenient_expr
from sob.evidence.raw import Raw, Typed
from sob.evidence.register import Register
from sob.evidence.values import hint_values
from sob.findings import Finding, cut


def _outcome_checks(kind: Kind, contract: Contract) -> tuple[pl.Expr, list[Check]]:
    """``__sob_oc``, the outcome as an Enum of the rate card's ids (null when unknown), and its checks.

    One lookup per row both checks the id and gives the compact column a
    clean file keeps (see ``typed_schema``).
    """
    all_ids = [o.id for o in contract.outcomes]
    want = "claim" if kind.kind == "claims" else "improvement"
    wrong = [o.id for o in contract.outcomes if o.kind != want]
    oc = pl.col("outcome_id")
    return oc.cast(pl.Enum(all_ids), strict=False).alias("__sob_oc"), [
        Check("UNKNOWN_OUTCOME", "outcome_id", oc.is_not_null() & pl.col("__sob_oc").is_null(), "outcome_id"),
        Check("WRONG_OUTCOME_KIND", "outcome_id", one_of("outcome_id", wrong), "outcome_id"),
    ]


def _common_date_checks(fmt: str, midnight: bool) -> tuple[list[pl.Expr], list[Check]]:
    exprs = [parse_date("achieved_on", fmt, midnight).alias("__sob_ach"),
             parse_date("submitted_on", fmt, midnight).alias("__sob_sub")]
    checks = [
        Check("BAD_DATE", "achieved_on", unparsed("achieved_on", "__sob_ach"), "achieved_on"),
        Check("BAD_DATE", "submitted_on", unparsed("submitted_on", "__sob_sub"), "submitted_on"),
        Check("SUBMITTED_BEFORE_ACHIEVED", "submitted_on",
               (pl.col("__sob_sub") < pl.col("__sob_ach")).fill_null(False), "submitted_on"),
    ]
    return exprs, checks


def _status_check() -> tuple[list[pl.Expr], Check]:
    """``__sob_st``, the status in lower case (null when invalid), and its check.

    Every spelling in any case is a category of one Enum, so one lookup a
    row reads it, and a table of their lower-case statuses gives the status:
    cheaper than lower-casing every row's text, and the streaming engine
    keeps it batch by batch (``replace`` would hold the column whole).
    """
    spelled = pl.col("status").cast(pl.Enum(STATUS_ANY_CASE), strict=False).to_physical()
    return (
        [pl.lit(STATUS_OF_SPELLING).gather(spelled).alias("__sob_st")],
        Check("BAD_STATUS", "status", pl.col("status").is_not_null() & pl.col("__sob_st").is_null(), "status"),
    )


def row_checks(kind: Kind, contract: Contract, fmt: str, register: Register | None,
               present: frozenset[str], nul_columns: tuple[str, ...] = (), midnight: bool = True,
               ) -> tuple[list[pl.Expr], list[Check], dict[str, pl.Expr]]:
    """Derived columns, checks in priority order, and the typed output columns.

    ``midnight``: date cells holding a midnight datetime are read as dates
    (``parse_date``); the compact path asks for the plain format only.

    ``nul_columns``: the columns whose cells are checked for a NUL character
    (``BAD_TEXT``); only a file that holds one pays for the check.

    ``submitted_on`` comes out as read (the parsed date); rows without one
    are mended after the query by ``mend_outputs``, so the usual file costs
    no extra column of millions of rows.
    """
    length = Check("BAD_ROW_LENGTH", None, pl.col("__sob_ncells").is_not_null(), None)
    missing = [Check("MISSING_VALUE", c, pl.col(c).is_null(), None) for c in kind.required]
    missing += _missing_value(kind, contract)
    missing += [Check("BAD_TEXT", c, pl.col(c).str.contains("\x00", literal=True), c) for c in nul_columns]
    if kind.kind == "participants":
        el = pl.col("eligible").str.to_lowercase()
        derived = [
            parse_date("enrolled_on", fmt, midnight).alias("__sob_enr"),
            pl.when(el.is_in(TRUE)).then(True).when(el.is_in(FALSE)).then(False).alias("__sob_el"),
        ]
        checks = [length, *missing,
                  Check("BAD_DATE", "enrolled_on", unparsed("enrolled_on", "__sob_enr"), "enrolled_on"),
                  *_birth_checks(kind, fmt, derived),
                  Check("BAD_BOOLEAN", "eligible", unparsed("eligible", "__sob_el"), "eligible")]
        out = {
            "enrolled_on": pl.col("__sob_enr"),
            "eligible": pl.when(pl.col("eligible").is_null()).then(True).otherwise(pl.col("__sob_el")),
        }
        if "date_of_birth" in kind.columns:
            out["date_of_birth"] = pl.col("__sob_dob")
        return derived, checks, out
    dexprs, dchecks = _common_date_checks(fmt, midnight)
    st_exprs, st_check = _status_check()
    oc_expr, oc_checks = _outcome_checks(kind, contract)
    derived = [*dexprs, *st_exprs, oc_expr]
    checks = [length, *missing, *dchecks, st_check, *oc_checks]
    status_out, submitted_out = typed_status(), pl.col("__sob_sub")
    if kind.kind == "claims":
        # a file without the column is not parsed for amounts
        text = (lenient_expr(pl.col("amount_claimed"), contract.currency) if contract.evidence.money == "lenient"
                else None)
        amount = (money_minor("amount_claimed", contract.minor_units, text) if "amount_claimed" in present
                  else pl.lit(None, dtype=pl.Int64))
        derived.append(amount.alias("__sob_amt"))
        if register is not None:
            pid = pl.col("participant_id")
            checks.append(Check("UNKNOWN_PARTICIPANT", "participant_id",
                                 pid.is_not_null() & ~register.contains(pid), "participant_id"))
        # informational: a warning that leaves the row valid and its variance empty
        checks.append(Check("BAD_AMOUNT_CLAIMED", "amount_claimed",
                             pl.col("amount_claimed").is_not_null() & pl.col("__sob_amt").is_null(), "amount_claimed",
                             warn=True))
        if "value" in kind.columns:  # read and checked on every claim when some outcome has a scale (SPEC 11.4)
            v = pl.col("value")
            checks.append(Check("BAD_NUMBER", "value", v.is_not_null() & ~decimal_ok("value"), "value"))
            checks.append(Check("BAD_NUMBER", "value", out_of_range("value"), "value", _RANGE))
        out = {
            "achieved_on": pl.col("__sob_ach"), "submitted_on": submitted_out, "status": status_out,
            "amount_claimed": pl.col("__sob_amt"),
        }
        return derived, checks, out
    # results
    b, o, u = pl.col("baseline"), pl.col("observed"), pl.col("units")
    checks += [
        Check("BAD_NUMBER", "baseline", b.is_not_null() & ~decimal_ok("baseline"), "baseline"),
        Check("NON_POSITIVE_BASELINE", "baseline",
               b.is_not_null() & decimal_ok("baseline") & ~positive("baseline"), "baseline"),
        Check("BAD_NUMBER", "observed", o.is_not_null() & ~non_negative("observed"), "observed"),
        Check("BAD_NUMBER", "units", u.is_not_null() & ~positive("units"), "units"),
        *_steps_units_check(contract),
        *_range_checks(contract),
    ]
    out = {
        "achieved_on": pl.col("__sob_ach"), "submitted_on": submitted_out,
        "baseline": pl.when(positive("baseline")).then(b),
        "observed": pl.when(non_negative("observed")).then(o),
        "units": pl.when(u.is_null()).then(pl.lit("1")).when(positive("units")).then(u),
        "status": status_out,
    }
    return derived, checks, out
def _missing_value(kind: Kind, contract: Contract) -> list[Check]:
    """``MISSING_VALUE`` for a claim of a scaled outcome without ``value`` (SPEC 11.4).

    It comes right after the required columns' ``MISSING_VALUE`` in 4.4's
    order.  A file without the column at all gets it on every such claim:
    the column is optional for the file, not for those claims.
    """
    if "value" not in kind.columns:
        return []
    scaled = [o.id for o in contract.outcomes if o.kind == "claim" and o.scale is not None]
    if not scaled:
        return []
    return [Check("MISSING_VALUE", "value", pl.col("value").is_null() & one_of("outcome_id", scaled), None)]


def _birth_checks(kind: Kind, fmt: str, derived: list[pl.Expr]) -> list[Check]:
    """``BAD_DATE`` for a ``date_of_birth`` that cannot be read or is after ``enrolled_on`` (SPEC 11.5).

    Read only when some outcome has ``age_at_enrolment``; ``derived`` gains
    the parsed date ``__sob_dob``.  A birth after enrolment would give a
    negative age, which no band can be meant to admit.
    """
    if "date_of_birth" not in kind.columns:
        return []
    derived.append(parse_date("date_of_birth", fmt).alias("__sob_dob"))
    after = (pl.col("__sob_dob") > pl.col("__sob_enr")).fill_null(False)
    return [Check("BAD_DATE", "date_of_birth", unparsed("date_of_birth", "__sob_dob") | after, "date_of_birth")]


_TIMED = re.compile(r"\d[ T]\d{1,2}:\d{2}")
_RANGE = (f"is outside the supported range: at most {MAX_DECIMAL_WHOLE_DIGITS} digits before the point "
          f"and {MAX_DECIMAL_FRACTION_DIGITS} after it")


def _range_checks(contract: Contract) -> list[Check]:
    """Results' numbers the exact engine can pay: digits in range, and a payment that fits in 18 digits.

    A payment is price x units x improvement x (1 - deadweight), and the
    improvement is at most the larger of baseline and observed; so when the
    digits of units, of that larger value and of the largest improvement
    price add up to at most 18, the amount in minor units is below 10**18
    and fits the engine's 64-bit integers.  Only absurd values fail this.
    """
    checks = [Check("BAD_NUMBER", c, out_of_range(c), c, _RANGE) for c in ("baseline", "observed", "units")]
    prices = [p for o in contract.outcomes if o.kind == "improvement"
              for p in (o.price, *(q.price for q in o.prices), *(t.price for t in o.tiers)) if p is not None]
    if not prices:
        return checks
    price_digits = len(str(max(abs(p) for p in prices)))
    units = pl.when(pl.col("units").is_null()).then(pl.lit(1, dtype=pl.Int64)).otherwise(whole_digits("units"))
    larger = pl.max_horizontal(whole_digits("baseline"), whole_digits("observed"))
    fits = positive("units").fill_null(True) & positive("baseline") & non_negative("observed")
    too_big = fits & (units + larger + price_digits > 18)
    too_big = too_big & ~pl.any_horizontal(out_of_range(c).fill_null(False) for c in ("baseline", "observed", "units"))
    why = (f"is too large: units × baseline (or observed) × the price ({price_digits} digits of minor units) "
           "could exceed 18 digits of minor units, the largest payment sob computes")
    given = pl.col("units").is_not_null()  # the units when the row gives them, else the baseline is named
    checks.append(Check("BAD_NUMBER", "baseline", too_big & ~given, "baseline", why))
    checks.append(Check("BAD_NUMBER", "units", too_big & given, "units", why))
    return checks


_STEPS_UNITS = "must be 1: the outcome pays by steps, a whole amount per result that units do not multiply"


def _steps_units_check(contract: Contract) -> list[Check]:
    """SPEC 11.3: a result of a ``steps`` outcome with ``units`` other than 1 (as a number) is BAD_NUMBER.

    A step's amount is the payment for the whole result; units would be
    silently ignored, so a file that gives them is refused instead.
    """
    ids = [o.id for o in contract.outcomes if o.steps]
    if not ids:
        return []
    u = pl.col("units")
    other = u.is_not_null() & positive("units") & ~u.str.contains(r"^\+?0*1(\.0*)?$")
    return [Check("BAD_NUMBER", "units", one_of("outcome_id", ids) & other, "units", _STEPS_UNITS)]


def _value_text(v: Any) -> str | None:
    return None if v is None else cut(v)


def _message(code: str, fieldname: str | None, value: str | None, raw: Raw, row: dict[str, Any],
             header_cols: int | None, contract: Contract, why: str | None = None) -> tuple[str, str | None]:
    shown = raw.shown.get(fieldname or "", fieldname)
    where = fieldname if shown == fieldname else f"{fieldname} (column {shown!r})"
    if why is not None:
        hint = "leave units empty, or write 1" if why == _STEPS_UNITS else "see the supported range in docs/evidence-columns.md"
        return f"{where} {value!r} {why}", hint
    fmt = raw.date_format
    if code == "BAD_ROW_LENGTH":
        n = row.get("__sob_ncells")
        if n is not None and header_cols is not None and n < header_cols:
            return f"the record has {n} cells but the header has {header_cols}", "a cell is missing, or a delimiter"
        return (f"the record has {n} cells but the header has {header_cols}, and a cell beyond the last "
                "header column is not empty"), "remove the extra cells, or quote a cell that holds the delimiter"
    if code == "MISSING_VALUE" and fieldname == "value":
        return (f"{where} is empty, and outcome {cut(row.get('outcome_id'))!r} is paid on a scale of it",
                "give the measured value the scale pays on (SPEC 11.4)")
    if code == "MISSING_VALUE":
        return f"{where} is empty", None
    if code == "BAD_TEXT":
        return f"{where} {value!r} holds a NUL character (byte 0)", "remove it: a cell must be text"
    if code == "BAD_DATE" and fieldname == "date_of_birth" and row.get("__sob_dob") is not None:
        return (f"{where} {value!r} is after enrolled_on {cut(row.get('enrolled_on'))!r}",
                "a participant is born before enrolment; check both dates")
    if code == "BAD_DATE" and value is not None and not has_time(fmt) and _TIMED.search(value):
        return (f"{where} {value!r} holds a time of day other than midnight; sob reads dates as days",
                f"write the date only ({date(2025, 4, 30).strftime(fmt)}), or, if every cell has a time, add it to "
                f"date_format (e.g. {fmt + ' %H:%M:%S'!r}): the day is then read and the time dropped")
    if code == "BAD_DATE":
        return (f"{where} {value!r} is not a date in the format {fmt!r}",
                f"write dates like {date(2025, 4, 30).strftime(fmt)}")
    if code == "SUBMITTED_BEFORE_ACHIEVED":
        return (f"submitted_on {value!r} is before achieved_on {cut(row.get('achieved_on'))!r}",
                "a claim cannot be submitted before the outcome is achieved")
    if code == "BAD_STATUS":
        return (f"{where} {value!r} is not one of claimed, withdrawn, failed",
                hint_values(contract, "status", value, ["claimed", "withdrawn", "failed"]))
    if code == "BAD_BOOLEAN":
        return (f"{where} {value!r} is not true/false/yes/no/1/0",
                hint_values(contract, "eligible", value, ["true", "false", "yes", "no"]))
    if code == "UNKNOWN_OUTCOME" and contract.evidence.value_map("outcome_id"):
        return (f"{where} {value!r} is not an outcome of the contract",
                hint_values(contract, "outcome_id", value, [o.id for o in contract.outcomes]))
    if code == "UNKNOWN_OUTCOME":
        ids = [o.id for o in contract.outcomes]
        close = difflib.get_close_matches(str(row.get("outcome_id")), ids, n=1, cutoff=0.6)
        return (f"{where} {value!r} is not an outcome of the contract",
                f"did you mean {close[0]!r}?" if close else None)
    if code == "WRONG_OUTCOME_KIND":
        if raw.kind.kind == "claims":
            return (f"outcome {value!r} is an improvement outcome: it is paid on cohort results, not claims",
                    "put it in the results file")
        return (f"outcome {value!r} is a claim outcome: it is paid on claims, not cohort results",
                "put it in the claims file")
    if code == "UNKNOWN_PARTICIPANT":
        return f"{where} {value!r} is not in the participants register", None
    if code == "NON_POSITIVE_BASELINE":
        return f"{where} {value!r} must be greater than 0", None
    if code == "BAD_AMOUNT_CLAIMED":
        msg = (f"{where} {value!r} is not an amount in {contract.currency}; it is only compared, so the claim is "
               "assessed as usual and its claimed_variance is left empty")
        if contract.evidence.money != "lenient":
            return msg, (f"write a plain decimal with at most {contract.minor_units} decimal places, or set "
                         'money = "lenient" under [evidence] to read currency symbols, separators and (negatives)')
        return msg, (f"write an amount in {contract.currency} with at most {contract.minor_units} decimal places, "
                     "e.g. 1,200.00 or (1,200.00)")
    if code == "BAD_NUMBER":
        rule = {"observed": "a decimal >= 0", "units": "a decimal > 0"}.get(fieldname or "", "a plain decimal")
        return f"{where} {value!r} is not {rule}", "plain decimals only: no exponent, thousands separator or symbol"
    return f"{where}: {code}", None  # pragma: no cover


def row_findings(typed: Typed, contract: Contract, bad: pl.DataFrame) -> list[tuple[int, int, Finding]]:
    raw = typed.raw
    if bad.height == 0:
        return []
    out: list[tuple[int, int, Finding]] = []
    wanted = [c for c in ("line", "__sob_ncells", "achieved_on", "outcome_id", "enrolled_on", "__sob_dob")
              if c in bad.columns]
    for i, chk in enumerate(typed.checks):
        cols = list(dict.fromkeys(wanted + ([chk.value] if chk.value else [])))
        part = bad.filter(pl.col(f"__sob_f{i}")).select(cols)
        for row in part.iter_rows(named=True):
            value = _value_text(row.get(chk.value)) if chk.value else None
            msg, hint = _message(chk.code, chk.field, value, raw, row, raw.ncols, contract, chk.why)
            out.append((row["line"], 100 + i, Finding(
                code=chk.code, message=msg, file=raw.label, line=row["line"],
                col=raw.col_no.get(chk.field or ""), field=chk.field, value=value, hint=hint,
                severity="warning" if chk.warn else "error",
            )))
    return out
