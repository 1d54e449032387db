"""The one catalogue of every code ``sob`` emits: errors, warnings and reasons.

A code names a problem (a contract check, an evidence data error, a failed
worked example, a ledger verification finding) or the reason a claim was not
paid in full (SPEC 5).  Codes are stable: scripts and CI rely on them, so each
one is written down here once, with its level, the SPEC section that defines
it, a one-line meaning, why it matters and how to fix it.  Findings take
their fallback hint from here, ``sob explain`` the meaning of a reason, and
``docs/codes.md`` is generated from this module (``python -m sob.codes``), so
no code is described twice by hand.

Plain data: no polars, typer or rich, so any layer may import it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

#: The levels, most severe first.  ``error`` makes an input invalid, a
#: ``warning`` does not (unless ``--strict``), a ``notice`` only informs, and a
#: ``reason`` is the ``reason`` column of an assessed claim.
LEVELS: tuple[str, ...] = ("error", "warning", "notice", "reason")

#: Where a code comes from, in the order the docs list them.
AREAS: dict[str, str] = {
    "contract": "Contract checks (`sob validate CONTRACT`)",
    "example": "Worked examples (`sob test`, `sob validate`)",
    "evidence": "Data errors in evidence files (`sob validate`, `sob pay`)",
    "ledger": "Ledger verification (`sob ledger verify DIR`)",
    "assessment": "Reasons (the `reason` of each claim in `sob pay`, `sob explain`)",
}


@dataclass(frozen=True)
class Code:
    """One stable code.

    ``status`` is only set for reasons: the claim status the reason goes
    with (``rejected``, ``capped`` or ``partial / capped``).  ``also`` names
    other areas that emit the same code (``DUPLICATE_ID``: contract and
    evidence), so each area's list is complete while the code has one entry.
    """

    code: str
    level: str
    area: str
    spec: str
    meaning: str
    why: str
    fix: str
    status: str | None = None
    also: tuple[str, ...] = ()


def _contract(code: str, meaning: str, why: str, fix: str, spec: str = "3.2") -> Code:
    return Code(code, "error", "contract", spec, meaning, why, fix)


def _data(code: str, meaning: str, why: str, fix: str, level: str = "error", spec: str = "4.4") -> Code:
    return Code(code, level, "evidence", spec, meaning, why, fix)


def _ledger(code: str, meaning: str, why: str, fix: str, level: str = "error") -> Code:
    return Code(code, level, "ledger", "7", meaning, why, fix)


def _reason(code: str, status: str, spec: str, meaning: str, why: str, fix: str) -> Code:
    return Code(code, "reason", "assessment", spec, meaning, why, fix, status)


_UNREADABLE = "A contract that cannot be read cannot be checked or paid."
_ROW = "A row with a data error cannot be assessed: `sob pay` stops unless `--reject-invalid` rejects the row."
_FILE = "A file-level error always stops the run: no row of the file can be trusted."
_LEDGER = "The ledger is a hash chain of closed quarters; any change after a close may hide a change in what was paid."

_CATALOGUE: tuple[Code, ...] = (
    # --- contract checks (SPEC 3.2) ------------------------------------------------------
    _contract("NOT_UTF8", "the contract file is not UTF-8 text (binary, UTF-16 or invalid bytes)",
              _UNREADABLE, "save the file as UTF-8 text"),
    _contract("TOML_SYNTAX", "the contract file is not valid TOML (line and column of the parser's complaint)",
              _UNREADABLE, "correct the TOML at the line and column shown (quotes, brackets, `=`)"),
    _contract("UNKNOWN_SCHEMA", '`schema` is not a format version this sob reads ("sob/1")',
              "The schema version says which rules apply; an unknown version cannot be read safely.",
              'set `schema = "sob/1"` at the top of the file'),
    _contract("UNKNOWN_KEY", "a key the contract format does not have",
              "A misspelt key would otherwise be ignored silently, and a term of the contract lost.",
              "correct the spelling of the key, or remove it (`sob schema` lists every key)"),
    _contract("WRONG_TYPE", "a value of the wrong TOML type (a date written as a string, money as a bool...)",
              "Dates and amounts are only exact when they are written as TOML dates and numbers.",
              "write dates bare (2025-04-01, no quotes) and amounts as numbers or decimal strings"),
    _contract("MISSING_KEY", "a required key or table is missing",
              "Without it the contract's terms are incomplete and no claim can be priced.",
              "add the key named in the message (see `sob init` for a complete starter contract)"),
    Code("DUPLICATE_ID", "error", "contract", "3.2, 4.4",
         "two outcomes or payers share an id, or evidence rows share a claim_id or result_id but differ",
         "An id must name one thing: two different rows under one id would make the payment depend on row order.",
         "give each outcome, payer, claim and result its own id, or remove the conflicting row",
         also=("evidence",)),
    _contract("UNKNOWN_REFERENCE", "`requires` names an unknown (or improvement) outcome, or `payers` an unknown payer",
              "A reference that leads nowhere would make a rule impossible to apply.",
              "name an outcome or payer the contract defines (a claim outcome, for `requires`)"),
    _contract("REQUIRES_CYCLE", "outcomes require each other in a cycle",
              "With a cycle no claim of those outcomes could ever qualify.",
              "remove one `requires` entry of the cycle"),
    _contract("DATES_OUT_OF_ORDER", "not start <= referrals_end <= outcomes_end <= claims_end",
              "The contract's periods would contradict each other.",
              "correct the dates so that each period ends after the one before it"),
    _contract("SHARES_NOT_ONE", "the payer shares do not sum to exactly 1",
              "Every penny paid must be split in full between the payers.",
              "adjust the `share` values so they sum to exactly 1 (fractions such as \"2/3\" are exact)"),
    _contract("BAD_SHARE", "a payer share outside (0, 1], or a share fraction that is not `\"p/q\"` of positive integers",
              "A payer cannot pay a negative part, nothing, or more than the whole.",
              "give each payer a share above 0 and at most 1: a decimal, or a fraction such as \"2/3\""),
    _contract("NEGATIVE_MONEY", "a money value below zero", "Prices and caps are amounts payable; they cannot be negative.",
              "write the amount as zero or more"),
    _contract("TOO_MANY_DECIMALS", "a money value with more decimals than the currency's minor unit",
              "Money is exact in minor units; a fraction of a penny cannot be paid.",
              "round the amount to the currency's minor unit (2 decimals for GBP)"),
    _contract("BAD_CURRENCY", "not an ISO 4217 code, or an ISO code with no minor unit and no `minor_units`",
              "The currency fixes how amounts are rounded and shown.",
              "use an ISO 4217 code such as GBP, or set `minor_units`"),
    _contract("PRICES_NOT_SORTED", "`prices` empty, not strictly sorted by `from`, or starting after the contract start",
              "Each achievement date must have exactly one price in force.",
              "sort `prices` by `from`, and start the first one on or before the contract start"),
    _contract("BAD_TIERS", "`tiers` empty, `up_to` not increasing or < 1, or no single final open tier",
              "Every rank of claim must fall in exactly one tier.",
              "make `up_to` increase from 1 upwards and end with one tier without `up_to`"),
    _contract("WRONG_KIND_KEY", "a key that belongs to the other kind of outcome (claim vs improvement)",
              "The key would have no effect on this kind of outcome, so a term would be ignored.",
              "remove the key, or change the outcome's `kind`"),
    _contract("PRICE_CHOICE", "an outcome without exactly one of `price`, `prices`, `tiers`",
              "The price of a claim must be defined one way only.", "keep exactly one of `price`, `prices`, `tiers`"),
    _contract("BAD_RANGE", "a number outside its range (deadweight, max_claims, window_days, month...)",
              "The value would make a rule meaningless (a negative window, a deadweight of 1 or more).",
              "use a value inside the range given in the message"),
    _contract("MAX_CLAIMS_EXCLUSIVE", "`max_claims` above 1 on an outcome in an `exclusive` group",
              "An exclusive group admits one claim, so the two terms contradict each other.",
              "drop `max_claims` or the `exclusive` group from the outcome"),
    _contract("BAD_ID", "a contract, outcome or payer id that does not match its pattern",
              "Ids appear in file names, ledger folders and CSV headers, so they must be plain.",
              "use letters, digits, `_` and `-` only, as the message describes"),
    _contract("BAD_PROFILE", "a `profile` key that is not a quarter of the contract, or a negative count",
              "A profile forecasts claims per quarter of the contract's own life.",
              "use YYYY-Qn keys within the contract's quarters and counts of 0 or more"),
    _contract("UNSAFE_PATH", "an evidence path that is absolute or climbs out of the contract's folder",
              "A contract must not make sob read, and print values from, files outside its own tree.",
              "use a path relative to the contract's folder, without `..`"),
    _contract("UNKNOWN_VALUE", "a `kind` or `direction` that is not one of the allowed words",
              "The word decides which rules apply to the outcome.", "use one of the words listed in the message"),
    _contract("BAD_FORMAT", "an evidence `date_format`, `delimiter`, path or column header that is unusable",
              "The evidence files could not be read as configured.",
              "correct the `[evidence]` setting named in the message"),
    _contract("BAD_EXAMPLE", "a malformed worked example (keys, rows, expectations, quarter)",
              "A worked example that cannot be run proves nothing about the contract.",
              "correct the example as the message says (see SPEC section 8 for its keys)", spec="8"),
    Code("EXAMPLE_FAILED", "error", "example", "8",
         "a worked example whose expectations the engine does not meet",
         "The contract's own worked examples are the check that sob reads the payment schedule as written.",
         "run `sob test CONTRACT` to see the differences, then correct the contract or the example"),
    # --- evidence data errors (SPEC 4.4) -------------------------------------------------
    _data("MISSING_COLUMN", "a required column is absent, or the file has no header row (file level)", _FILE,
          "add the column, or map it to your header in `[evidence.columns]`"),
    _data("DUPLICATE_COLUMN", "two headers equal after trimming, or two mapping entries naming one header (file level)",
          _FILE, "rename or remove one of the two columns"),
    _data("MISSING_REGISTER", "the contract needs a participants register and none was given (file level)",
          "`referrals_end`, `window_days` and `cohorts` can only be checked against the register.",
          "pass --participants FILE or set `participants` in `[evidence]`"),
    _data("BAD_ROW_LENGTH", "a row with fewer cells than the header, or a non-empty cell beyond the last column", _ROW,
          "give the row one cell per header (check for stray delimiters or unclosed quotes)"),
    _data("MISSING_VALUE", "a required cell is empty", _ROW, "fill in the cell"),
    _data("BAD_DATE", "a date that does not match `date_format`", _ROW,
          "write the date as `date_format` says (ISO 8601 YYYY-MM-DD by default)"),
    _data("BAD_NUMBER", "not a plain decimal, more decimals than the currency allows, `units` <= 0 or `observed` < 0",
          _ROW, "write a plain decimal (1234.50: no currency sign, no thousands separator) within the range"),
    _data("BAD_TEXT", "a text cell that holds a NUL character (byte 0)", _ROW,
          "remove the NUL byte: the exporting system wrote a binary value into a text cell"),
    _data("BAD_STATUS", "a status other than claimed, withdrawn, failed", _ROW,
          "use claimed, withdrawn or failed (or leave the cell empty for claimed)"),
    _data("BAD_BOOLEAN", "an `eligible` value other than true/false/yes/no/1/0", _ROW,
          "use true/false, yes/no or 1/0"),
    _data("UNKNOWN_OUTCOME", "an outcome id the contract does not have", _ROW,
          "use an outcome id the contract defines, spelt exactly (ids are case-sensitive)"),
    _data("WRONG_OUTCOME_KIND", "a claim for an improvement outcome, or a cohort result for a claim outcome", _ROW,
          "put claims in the claims file and cohort results in the results file"),
    _data("UNKNOWN_PARTICIPANT", "a register was given and the claim's participant is not in it", _ROW,
          "add the participant to the register, or correct the participant_id"),
    _data("DUPLICATE_PARTICIPANT", "register rows that share a participant id but differ", _ROW,
          "keep one row per participant"),
    _data("SUBMITTED_BEFORE_ACHIEVED", "submitted_on earlier than achieved_on", _ROW,
          "correct one of the two dates: a claim is submitted after the outcome is achieved"),
    _data("NON_POSITIVE_BASELINE", "a cohort result's baseline of 0 or less",
          "The improvement is relative to the baseline, so the baseline must be above 0.",
          "correct the baseline"),
    _data("BAD_AMOUNT_CLAIMED", "an `amount_claimed` that is not an amount in the contract's currency (a warning)",
          "amount_claimed is only compared with what sob computes, never paid, so the claim is still assessed "
          "(also under --reject-invalid) and its claimed_variance is left empty.",
          'write a plain decimal such as 1200.00, or set `money = "lenient"` in `[evidence]` for £1,200.00 and (1,200.00)',
          level="warning"),
    _data("DUPLICATE_ROW", "rows identical in every cell: read as one row",
          "Nothing is paid twice, but a repeated row often means a file was appended twice.",
          "remove the repeated rows", level="warning"),
    # --- ledger verification (SPEC 7) ----------------------------------------------------
    _ledger("LEDGER_CHANGED", "a closed quarter's CSV, or its manifest's totals, changed since the close", _LEDGER,
            "restore the file from a backup; never edit a closed quarter"),
    _ledger("LEDGER_REMOVED", "a closed quarter's CSV or manifest is missing", _LEDGER,
            "restore the missing file from a backup"),
    _ledger("LEDGER_ADDED", "a file or folder in the ledger that sob does not write", _LEDGER,
            "move the file out of the ledger folder"),
    _ledger("LEDGER_REORDERED", "a manifest stored under another quarter or contract, or chaining to the wrong quarter",
            _LEDGER, "restore the ledger files to the names and order they were closed in"),
    _ledger("LEDGER_CHAIN_BROKEN", "a manifest's previous_manifest matches no closed quarter: one was edited or removed",
            _LEDGER, "restore the earlier manifests from a backup"),
    _ledger("LEDGER_BAD_MANIFEST", "a manifest that cannot be parsed or lacks its fields", _LEDGER,
            "restore the manifest from a backup"),
    _ledger("LEDGER_INCOMPLETE", "a quarter's CSV without a manifest, or a temporary file: an interrupted close",
            "The closed quarters are intact; the interrupted quarter is simply not closed.",
            "close the quarter again (it overwrites the file) or delete the leftover file", level="warning"),
    # --- reasons (SPEC 5 and 6) ----------------------------------------------------------
    _reason("WITHDRAWN", "rejected", "5.2", "the claim is withdrawn, or failed verification or audit (rule 1)",
            "The provider no longer claims it.", "nothing to fix: the evidence says the claim is not made"),
    _reason("INELIGIBLE", "rejected", "5.2",
            "the participant is not eligible, or not in one of the outcome's cohorts (rule 2)",
            "The contract pays only for eligible participants of the named cohorts.",
            "check `eligible` and `cohort` in the participants register"),
    _reason("ENROLMENT_OUT_OF_PERIOD", "rejected", "5.2", "enrolled before `start` or after `referrals_end` (rule 3)",
            "Only referrals within the contract's referral period count.",
            "check the participant's enrolled_on in the register"),
    _reason("BEFORE_ENROLMENT", "rejected", "5.2", "the outcome was achieved before enrolment (rule 4)",
            "An outcome before enrolment was not achieved through the service.",
            "check achieved_on in the claim and enrolled_on in the register"),
    _reason("OUT_OF_WINDOW", "rejected", "5.2", "achieved after enrolled_on + `window_days` (rule 5)",
            "The outcome must be achieved within the window after enrolment.",
            "check achieved_on and enrolled_on against the outcome's window_days"),
    _reason("OUT_OF_CONTRACT_PERIOD", "rejected", "5.2, 5.3", "achieved before `start` or after `outcomes_end` (rule 6)",
            "Only outcomes achieved during the contract are paid.", "check achieved_on against the contract dates"),
    _reason("LATE_CLAIM", "rejected", "5.2, 5.3", "submitted after `claims_end` (rule 7)",
            "Claims are accepted only until the contract's claims deadline.",
            "check submitted_on against claims_end"),
    _reason("PREREQUISITE_MISSING", "rejected", "5.2",
            "no qualified claim of a required outcome, early enough (rule 8)",
            "The outcome is paid only after the outcomes it `requires`.",
            "check that the prerequisite claim is in the evidence and achieved at least min_days before"),
    _reason("MAX_CLAIMS", "rejected", "5.2, 5.3",
            "over `max_claims` for this participant, or a second result for the outcome and cohort (rule 9)",
            "The outcome is paid a limited number of times per participant (or once per cohort).",
            "nothing to fix unless the claim was meant for another outcome or participant"),
    _reason("EXCLUSIVE", "rejected", "5.2", "another claim of the same exclusive group came first (rule 10)",
            "An exclusive group pays one outcome per participant.",
            "nothing to fix: the first claim of the group in processing order holds it"),
    _reason("VOLUME_CAP", "capped", "5.2", "over the outcome's `volume_cap` of claims (rule 11)",
            "The contract pays for a limited number of claims of the outcome.",
            "nothing to fix unless the cap in the contract is wrong"),
    _reason("BELOW_THRESHOLD", "rejected", "5.3", "a cohort result below `min_improvement`",
            "An improvement outcome pays only for an improvement of at least the threshold.",
            "check baseline and observed in the results file"),
    _reason("PARTICIPANT_CAP", "partial / capped", "5.5", "cut by the per-participant cap (`caps.per_participant`)",
            "The contract caps what is paid for any one participant.", "nothing to fix unless the cap is wrong"),
    _reason("OUTCOME_CAP", "partial / capped", "5.5", "cut by the outcome's `amount_cap`",
            "The contract caps what is paid for the outcome.", "nothing to fix unless the cap is wrong"),
    _reason("CONTRACT_CAP", "partial / capped", "5.5", "cut by the contract's `caps.total`",
            "The contract caps what is paid in all.", "nothing to fix unless the cap is wrong"),
    _reason("PAYER_CAP", "partial / capped", "11.1",
            "cut by a payer's `cap`: its part beyond the cap is paid by nobody (`cut`) or by the other payers (`shift`)",
            "A payer such as a top-up fund commits a fixed sum; no payer may pay beyond its own cap.",
            "nothing to fix unless the payer's cap or `on_cap` is wrong"),
    _reason("MISSING_FROM_EVIDENCE", "rejected", "6",
            "paid in a closed quarter, but no longer an in-scope row of the evidence",
            "Nothing paid may disappear silently: its earlier payment is clawed back (due = -paid).",
            "restore the row to the evidence if it was removed by mistake"),
)

_BY_CODE: dict[str, Code] = {c.code: c for c in _CATALOGUE}


def all_codes() -> tuple[Code, ...]:
    """Every code, grouped by area in the order the docs list them."""
    return _CATALOGUE


def get(code: str) -> Code | None:
    """The catalogue entry of ``code``, or None for a code sob does not emit."""
    return _BY_CODE.get(code)


def by_level(level: str) -> tuple[Code, ...]:
    """The codes of one level (``error``, ``warning``, ``notice`` or ``reason``)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    return tuple(c for c in _CATALOGUE if c.level == level)


def by_area(area: str) -> tuple[Code, ...]:
    """The codes of one area (``contract``, ``evidence``, ``ledger``...)."""
    if area not in AREAS:
        raise ValueError(f"unknown area {area!r}; expected one of {', '.join(AREAS)}")
    return tuple(c for c in _CATALOGUE if c.area == area or area in c.also)


def fix_hint(code: str) -> str | None:
    """The catalogue's fix for ``code``: the hint a finding shows when it has none of its own."""
    entry = _BY_CODE.get(code)
    return entry.fix if entry else None


def meaning(code: str) -> str | None:
    """The one-line meaning of ``code`` (what ``sob explain`` says about a reason)."""
    entry = _BY_CODE.get(code)
    return entry.meaning if entry else None


# --------------------------------------------------------------------------
# docs/codes.md


def render_markdown() -> str:
    """``docs/codes.md``: an index, then one section per code (what, why, fix).

    Generated, never edited by hand: a test compares the file with this
    function's output, so the docs cannot drift from the codes.
    """
    out = [
        "# Codes",
        "",
        "<!-- Generated by `python -m sob.codes > docs/codes.md`; do not edit by hand. -->",
        "",
        "Every error, warning and reason code `sob` emits. Codes are stable: scripts",
        "and CI may rely on them. Errors make an input invalid (exit 1); warnings do",
        "not, unless `--strict` is given; reasons are the `reason` of an assessed claim.",
        "",
    ]
    for area, title in AREAS.items():
        codes = by_area(area)
        if not codes:
            continue
        out += [f"## {title}", "", "| code | level | SPEC | meaning |", "|---|---|---|---|"]
        out += [f"| [`{c.code}`](#{c.code.lower()}) | {_level(c)} | {c.spec} | {c.meaning} |" for c in codes]
        out.append("")
        for c in codes:
            if c.area == area:  # a shared code's section is written once, under its first area
                out += _section(c)
    return "\n".join(out).rstrip("\n") + "\n"


def _level(c: Code) -> str:
    return f"reason ({c.status})" if c.status else c.level


def _section(c: Code) -> list[str]:
    """One code's page: what it means, why it matters, how to fix it."""
    return [
        f"### {c.code}",
        "",
        f"Level: {_level(c)}. SPEC section {c.spec}.",
        "",
        f"**What**: {_sentence(c.meaning)}",
        "",
        f"**Why**: {_sentence(c.why)}",
        "",
        f"**Fix**: {_sentence(c.fix)}",
        "",
    ]


def _sentence(text: str) -> str:
    """``text`` ending in one full stop, whatever punctuation it already ends with."""
    return text if text.endswith((".", "!", "?")) else text + "."


def main() -> None:
    """``python -m sob.codes > docs/codes.md`` regenerates the docs."""
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
