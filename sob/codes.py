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
    _contract("UNKNOWN_REFERENCE", "`requires` names an unknown (or improvement) outcome, `net_of` an unknown (or claim) "
              "outcome, or `payers` an unknown payer",
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
    _contract("PRICES_NOT_SORTED", "`prices` or a cap schedule empty, not strictly sorted by `from` (two entries "
              "with one `from`), or starting after the contract start",
              "Each achievement date must have exactly one price in force, and each run one limit of each cap.",
              "sort the entries by `from`, one per date, and start the first one on or before the contract start"),
    Code("CAP_LOWERED", "warning", "contract", "10.5",
         "a cap schedule entry below the one before it (a variation that lowers a cap)",
         "A lower limit applies to the whole run from its date, so claims already paid under the higher "
         "limit may be cut again and their dues turn negative (money clawed back).",
         "check the variation; if the cap really was lowered, keep the entry and expect negative dues"),
    _contract("BAD_TIERS", "`tiers` empty, `up_to` not increasing or < 1, or no single final open tier",
              "Every rank of claim must fall in exactly one tier.",
              "make `up_to` increase from 1 upwards and end with one tier without `up_to`"),
    _contract("BAD_STEPS", "`steps` empty, `at` outside (0, 1) or not increasing, an `amount` lower than the step "
              "before, or steps with `min_improvement`, `deadweight` or `scale`",
              "The step reached is the whole payment for a result; every result must reach at most one "
              "highest step, and a better result must never be paid less.",
              "list steps from the lowest `at` up, with amounts that never fall, and drop the other price terms",
              spec="11.3, 11.7"),
    _contract("BAD_SCALE", "a `scale` with zero_at = full_at, with zero_at above full_at on an improvement outcome, "
              "or together with `steps`",
              "A scale must say where payment starts and where it is full, and improvements only grow.",
              "give the scale two different ends (zero_at below full_at for an improvement outcome)",
              spec="11.4, 11.7"),
    _contract("NETTING_CYCLE", "an outcome `net_of` itself, or outcomes net of each other in a cycle",
              "A pooled payment settles the outcomes before it; in a cycle no row could be settled first.",
              "remove one `net_of` entry of the cycle", spec="11.6, 11.7"),
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
    _reason("BELOW_THRESHOLD", "rejected", "5.3, 11.4",
            "a cohort result below `min_improvement`, or a claim or result whose value does not pass a "
            "`scale`'s `zero_at`",
            "An improvement outcome pays only for an improvement of at least the threshold; a scale pays "
            "nothing at or before `zero_at`.",
            "check baseline and observed in the results file, or the claim's `value`"),
    _reason("NETTED", "rejected", "11.6",
            "a result of an outcome that an earlier pooled payment (`net_of`) already settled",
            "The pooled payment was reduced by what the listed outcomes were paid before it; paying a later "
            "result of them as well would pay the same improvement twice.",
            "nothing to fix: the pooled payment before it in processing order settled the outcome"),
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
    _reason("ADJUSTMENT", "paid", "10.6",
            "an agreed payment in the contract's `[[adjustments]]`, not an outcome claim (paid as written, never cut)",
            "Payments on profile, settlements and recoveries are part of the contract record, so they count "
            "against the total and payer caps like any payment.",
            "nothing to fix: change or remove the `[[adjustments]]` entry if the agreement changed"),
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
# an example line of each code, as `sob` prints it (docs/codes.md shows it under the code)

#: one line of output showing each code; ``tests/test_docs.py`` requires one for every code
EXAMPLES: dict[str, str] = {
    "BAD_AMOUNT_CLAIMED": "claims.csv:2:5: warning BAD_AMOUNT_CLAIMED amount_claimed '$5' is not an amount in GBP; "
                          "it is only compared, so the claim is assessed as usual and its claimed_variance is left empty",
    "BAD_STEPS": "contract.toml:14:40: BAD_STEPS outcome 'S' steps 'at' must increase: 0.1 follows 0.2",
    "BAD_SCALE": "contract.toml:20:24: BAD_SCALE outcome 'C' scale has zero_at = full_at = 1: the scale has no width",
    "NETTING_CYCLE": "contract.toml:32:11: NETTING_CYCLE net_of forms a cycle: N1 -> N2 -> N1",
    "NETTED": "PB-C2F,improvement,,cohort-2,COHORT_2,...,rejected,NETTED,...   (the pooled result POOLED settled it)",
    "ADJUSTMENT": "ADJ-2020-Q1-PROFILE,adjustment,,,,2020-06-30,...,paid,ADJUSTMENT,971234.00,...,"
                  "Payment on profile, COVID-19 flexibility",
    "CAP_LOWERED": "contract.toml:11:72: warning CAP_LOWERED caps.total is lowered from 2020-04-01 (1000.00 to 900.00): "
                   "runs from then on may claw back what was paid under the higher limit",
    "NOT_UTF8": "contract.toml:1:1: NOT_UTF8 the file is UTF-16 text; a contract must be UTF-8",
    "TOML_SYNTAX": "contract.toml:2:10: TOML_SYNTAX TOML syntax: Expected ']' at the end of a table declaration",
    "UNKNOWN_SCHEMA": "contract.toml:1:1: UNKNOWN_SCHEMA schema \"sob/2\" is not a format this sob reads (sob/1)",
    "UNKNOWN_KEY": "contract.toml:42:1: UNKNOWN_KEY unknown key 'windw_days' in outcome 'ACC_3M' (hint: did you mean 'window_days'?)",
    "WRONG_TYPE": "contract.toml:5:1: WRONG_TYPE contract.start must be a date (a TOML local date such as 2019-04-01), not a string",
    "MISSING_KEY": "contract.toml:2:1: MISSING_KEY contract has no 'outcomes_end'",
    "DUPLICATE_ID": "contract.toml:20:1: DUPLICATE_ID outcome id 'ACC_3M' is used twice (first by outcomes[1])",
    "UNKNOWN_REFERENCE": "contract.toml:23:13: UNKNOWN_REFERENCE outcome 'ACC_3M' requires 'ACC_ENTRYY', which is not an outcome of this contract",
    "REQUIRES_CYCLE": "contract.toml:23:13: REQUIRES_CYCLE requires forms a cycle: ACC_3M -> ACC_6M -> ACC_3M",
    "DATES_OUT_OF_ORDER": "contract.toml:7:1: DATES_OUT_OF_ORDER contract outcomes_end 2023-03-31 is before referrals_end 2024-01-01",
    "SHARES_NOT_ONE": "contract.toml:9:1: SHARES_NOT_ONE the shares of payers sum to 0.9, not exactly 1",
    "BAD_SHARE": "contract.toml:9:1: BAD_SHARE payer 'GLA' share must be a fraction p/q of positive whole numbers, not \"2/0\"",
    "NEGATIVE_MONEY": "contract.toml:22:1: NEGATIVE_MONEY outcome 'ACC_3M' price must not be negative, not -1500",
    "TOO_MANY_DECIMALS": "contract.toml:15:1: TOO_MANY_DECIMALS outcome 'ACC_ENTRY' price = 500.005 has more than 2 decimal places, the currency's minor unit",
    "BAD_CURRENCY": "contract.toml:4:1: BAD_CURRENCY \"UKP\" is not an ISO 4217 currency code",
    "PRICES_NOT_SORTED": "contract.toml:29:47: PRICES_NOT_SORTED outcome 'ACC_6M' prices must be sorted by 'from', each after the one before: 2021-04-01 follows 2022-04-01",
    "BAD_TIERS": "contract.toml:26:40: BAD_TIERS outcome 'EMP_ENTRY' tiers up_to must increase: 50 follows 100",
    "WRONG_KIND_KEY": "contract.toml:35:1: WRONG_KIND_KEY outcome 'REOFFENDING' is an improvement outcome; 'window_days' is only for claim outcomes",
    "PRICE_CHOICE": "contract.toml:22:1: PRICE_CHOICE outcome 'ACC_6M' must have exactly one of price, prices, tiers, not price and prices",
    "BAD_RANGE": "contract.toml:8:1: BAD_RANGE contract.fiscal_year_start_month must be between 1 and 12 (a month number), not 13",
    "MAX_CLAIMS_EXCLUSIVE": "contract.toml:16:1: MAX_CLAIMS_EXCLUSIVE outcome 'EMP_PT' has max_claims = 2 but is in exclusive group \"job-13w\", which admits one claim per participant",
    "BAD_ID": "contract.toml:3:1: BAD_ID contract.id \"Kirklees BOP\" must match [a-z0-9][a-z0-9._-]*",
    "BAD_PROFILE": "contract.toml:18:13: BAD_PROFILE outcome 'ACC_ENTRY' profile quarter 2030-Q1 is outside the contract (2019-Q2 to 2023-Q1)",
    "UNSAFE_PATH": "contract.toml:11:1: UNSAFE_PATH evidence.claims \"../other/claims.csv\" climbs out of the contract's folder with '..'",
    "UNKNOWN_VALUE": "contract.toml:33:1: UNKNOWN_VALUE outcome 'REOFFENDING' direction must be one of decrease, increase, not \"down\"",
    "BAD_FORMAT": "contract.toml:12:1: BAD_FORMAT evidence.date_format \"%d/%m\" writes 2019-12-31 as '31/12', which reads back as 1900-12-31",
    "BAD_EXAMPLE": "contract.toml:72:1: BAD_EXAMPLE example 'entry pays': claim '2' names outcome 'ACC_ENTRYY'",
    "EXAMPLE_FAILED": "FAIL contract.toml: tier 2 starts at rank 101 (2021-Q1)\n       claim 7 entitled: expected 2000.00, computed 1600.00",
    "MISSING_COLUMN": "evidence/claims.csv:1: MISSING_COLUMN the claims file has no column 'achieved_on'",
    "DUPLICATE_COLUMN": "evidence/claims.csv:1:5: DUPLICATE_COLUMN column 'status' appears twice in the header (columns 4 and 5)",
    "MISSING_REGISTER": "participants register: MISSING_REGISTER the contract needs a participants register (referrals_end), and none was given",
    "BAD_ROW_LENGTH": "evidence/claims.csv:6: BAD_ROW_LENGTH the record has 4 cells but the header has 7",
    "MISSING_VALUE": "evidence/claims.csv:3:4: MISSING_VALUE achieved_on is empty",
    "BAD_DATE": "evidence/claims.csv:3:4: BAD_DATE achieved_on '01/05/2025' is not a date in the format '%Y-%m-%d'",
    "BAD_NUMBER": "evidence/claims.csv:7:7: BAD_NUMBER amount_claimed '1,200.005' is not an amount in GBP",
    "BAD_TEXT": "evidence/claims.csv:12:7: BAD_TEXT evidence_ref holds a NUL character (byte 0)",
    "BAD_STATUS": "evidence/claims.csv:3:6: BAD_STATUS status 'maybe' is not one of claimed, withdrawn, failed",
    "BAD_BOOLEAN": "evidence/participants.csv:2:3: BAD_BOOLEAN eligible 'si' is not true/false/yes/no/1/0",
    "UNKNOWN_OUTCOME": "evidence/claims.csv:2:3: UNKNOWN_OUTCOME outcome_id 'ACC_ENTRYY' is not an outcome of the contract",
    "WRONG_OUTCOME_KIND": "evidence/claims.csv:5:3: WRONG_OUTCOME_KIND outcome 'REOFFENDING' is an improvement outcome: it is paid on cohort results, not claims",
    "UNKNOWN_PARTICIPANT": "evidence/claims.csv:3:2: UNKNOWN_PARTICIPANT participant_id 'P9' is not in the participants register",
    "DUPLICATE_PARTICIPANT": "evidence/participants.csv:3:1: DUPLICATE_PARTICIPANT participant_id 'P3' is used by 2 rows that differ (also line 4)",
    "SUBMITTED_BEFORE_ACHIEVED": "evidence/claims.csv:4:5: SUBMITTED_BEFORE_ACHIEVED submitted_on '2020-03-01' is before achieved_on '2020-03-15'",
    "NON_POSITIVE_BASELINE": "evidence/results.csv:2:6: NON_POSITIVE_BASELINE baseline '0' must be greater than 0",
    "DUPLICATE_ROW": "evidence/claims.csv:9:1: warning DUPLICATE_ROW line 9 repeats line 8 exactly (claim_id 'C7'); it is counted once",
    "LEDGER_CHANGED": "ledger/kbop/2021-Q1.csv: LEDGER_CHANGED 2021-Q1.csv changed since quarter 2021-Q1 was closed",
    "LEDGER_REMOVED": "ledger/kbop/2021-Q2.csv: LEDGER_REMOVED 2021-Q2.csv of closed quarter 2021-Q2 is missing",
    "LEDGER_ADDED": "ledger/kbop/notes.txt: LEDGER_ADDED not a file sob writes in a ledger",
    "LEDGER_REORDERED": "ledger/kbop/2021-Q3.toml: LEDGER_REORDERED the manifest records quarter 2021-Q2",
    "LEDGER_CHAIN_BROKEN": "ledger/kbop/2021-Q3.toml: LEDGER_CHAIN_BROKEN previous_manifest matches no closed quarter",
    "LEDGER_BAD_MANIFEST": "ledger/kbop/2021-Q2.toml: LEDGER_BAD_MANIFEST manifest cannot be parsed: Expected '=' after a key in a key/value pair (at line 1, column 5)",
    "LEDGER_INCOMPLETE": "ledger/kbop/2021-Q4.csv: LEDGER_INCOMPLETE a quarter table without a manifest: an interrupted close",
    "WITHDRAWN": "WITHDRAWN                 FAIL      status in the evidence is withdrawn   ← reason",
    "INELIGIBLE": "INELIGIBLE                FAIL      eligible = False, cohort = 25+   ← reason",
    "ENROLMENT_OUT_OF_PERIOD": "ENROLMENT_OUT_OF_PERIOD   FAIL      enrolled on 2022-05-01; enrolment period 2019-04-01 to 2022-03-31   ← reason",
    "BEFORE_ENROLMENT": "BEFORE_ENROLMENT          FAIL      achieved 2020-01-05, enrolled 2020-02-01   ← reason",
    "OUT_OF_WINDOW": "OUT_OF_WINDOW             FAIL      achieved 2022-06-01; window of 730 days ends 2022-02-01   ← reason",
    "OUT_OF_CONTRACT_PERIOD": "OUT_OF_CONTRACT_PERIOD    FAIL      achieved 2023-04-02; outcomes count from 2019-04-01 to 2023-03-31   ← reason",
    "LATE_CLAIM": "LATE_CLAIM                FAIL      submitted 2023-07-03; claims accepted until 2023-06-30   ← reason",
    "PREREQUISITE_MISSING": "PREREQUISITE_MISSING      FAIL      no qualified ACC_ENTRY claim achieved on or before 2020-06-02   ← reason",
    "MAX_CLAIMS": "MAX_CLAIMS                FAIL      rank 2 among this participant's ACC_ENTRY claims; max_claims = 1   ← reason",
    "EXCLUSIVE": "EXCLUSIVE                 FAIL      C0041 (EMP_FT) holds exclusive group 'job-13w'   ← reason",
    "VOLUME_CAP": "VOLUME_CAP                FAIL      rank 321 among accepted WELLBEING claims; volume_cap = 320   ← reason",
    "BELOW_THRESHOLD": "R2021,improvement,,cohort-3,REOFFENDING,...,rejected,BELOW_THRESHOLD,...   (improvement 6% < min_improvement 10%)",
    "PARTICIPANT_CAP": "PARTICIPANT_CAP  limit £1,800.00 − used before £500.00 = headroom £1,300.00; pays £1,300.00 of £1,500.00",
    "OUTCOME_CAP": "OUTCOME_CAP  limit £150,000.00 − used before £149,500.00 = headroom £500.00; pays £500.00 of £1,500.00",
    "CONTRACT_CAP": "CONTRACT_CAP  limit £2,500,000.00 − used before £2,500,000.00 = headroom £0.00; pays £0.00 of £2,000.00",
    "PAYER_CAP": "PAYER_CAP  LCF: limit £300,000.00 − used before £299,850.00 = headroom £150.00; its part £450.00 is cut to £150.00",
    "MISSING_FROM_EVIDENCE": "C0093,claim,P1207,,ACC_3M,,,rejected,MISSING_FROM_EVIDENCE,,0.00,1500.00,-1500.00,...",
}


def example_of(code: str) -> str | None:
    """An example line of ``code`` as `sob` prints it (``None`` when the catalogue has none yet)."""
    return EXAMPLES.get(code)


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
        "Each code's page says what it means, shows an example line, why it matters and",
        "how to fix it. Examples of errors and warnings are as `sob validate` prints them",
        "(`file:line:col: CODE message`, then the line itself and a hint); examples of",
        "reasons are the line of `sob explain` (or of an export) that shows them. Your",
        "messages name your own files, values and amounts.",
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
        *_example_lines(c.code),
        f"**Why**: {_sentence(c.why)}",
        "",
        f"**Fix**: {_sentence(c.fix)}",
        "",
    ]


def _example_lines(code: str) -> list[str]:
    """The **Example** block of a code's page: a line as a user meets it, so a search for the output finds the page."""
    example = example_of(code)
    return ["**Example**:", "", "```text", example, "```", ""] if example else []


def _sentence(text: str) -> str:
    """``text`` ending in one full stop, whatever punctuation it already ends with."""
    return text if text.endswith((".", "!", "?")) else text + "."


def main() -> None:
    """``python -m sob.codes > docs/codes.md`` regenerates the docs."""
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
