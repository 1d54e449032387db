"""The starter contract written by ``sob init``.

A new user's first contract should already be valid, show the common
features (a prerequisite with a minimum gap, a window, a participant cap that
cuts a payment) and carry a worked example that ``sob test`` passes, so that
editing it starts from something that works.

The worked example, computed by hand under SPEC 5 and 6 (fiscal years start
in April, so 2025-Q1 is April–June 2025 and 2025-Q2 is July–September 2025):

* P1 enrolled 2025-04-10; ENTRY achieved 2025-05-01 (submitted 2025-05-02),
  SUSTAIN_3M achieved 2025-08-01 (submitted 2025-08-05).
* SUSTAIN_3M requires ENTRY at least 91 days earlier: 2025-08-01 − 91 days =
  2025-05-02, and ENTRY was achieved on 2025-05-01, so the prerequisite holds.
* Caps in processing order: ENTRY pays its price 500.00 (per-participant
  headroom 1800.00 → 1300.00); SUSTAIN_3M's price 1500.00 is above the
  headroom 1300.00 (the total cap's headroom is far larger), so with
  ``partial = true`` it pays 1300.00, status ``partial``, reason
  ``PARTICIPANT_CAP``.  Entitled as at the end of 2025-Q2: 1800.00.
* Without a ledger, previously paid is the entitled amount as at the end of
  2025-Q1, when only ENTRY (submitted 2025-05-02) was in scope: 500.00.
  So C1 is due 0.00, C2 is due 1300.00 and the quarter's total due is 1300.00.
* One payer with share 1 takes every amount whole.

Beside the contract ``sob init`` writes template evidence files (claims and
participants register: every canonical column as a header, two example
rows) that ``[evidence]`` points at, so ``sob validate`` and ``sob pay``
work on the first run and show what a provider's files must look like.  The
claims rows are the worked example's, so ``sob pay --quarter 2025-Q2`` on
the templates gives the same 1300.00 due.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w

from sob.findings import InputError, UsageError

_HEADER = """\
# A sob contract (schema "sob/1"). Edit it to match your payment schedule, then run
#   sob validate {name}     to check it
#   sob test {name}         to run its worked examples
#   sob pay {name} --quarter 2025-Q2    to preview a quarter from the evidence files
# `sob schema` prints a JSON Schema that editors (Taplo / Even Better TOML) can use.
# Every key is described in the contract-format reference (docs/contract-format.md).
# Money is exact: write 500.00 or "500.00"; dates are TOML dates, without quotes.

"""

#: A commented example of a dated cap (SPEC 10.5), written under ``[caps]``: variations move caps,
#: and a user should find the form next to the one value it replaces.
CAP_SCHEDULE_EXAMPLE = """\
# Any cap (total, per_participant, a payer's cap, an outcome's amount_cap or
# volume_cap) may instead be a dated schedule, e.g. after a variation; a run as
# at the end of a quarter uses the entry in force on that day:
# total = [
#   { from = 2025-04-01, amount = 250000.00 },
#   { from = 2026-04-01, amount = 300000.00 },   # raised by a variation
# ]
"""

#: A commented example of an adjustment (SPEC 10.6), written at the end: agreed payments that no
#: claim explains are part of the contract record, and a user should see the form before needing it.
ADJUSTMENT_EXAMPLE = """\

# Agreed payments that are not outcome claims (a payment on profile, a settlement,
# a recovery) are adjustments: signed, dated, with a reason. They are paid as
# written, never cut, and count against the total cap and every payer cap.
# [[adjustments]]
# id = "ADJ-2025-Q3-PROFILE"        # not the id of any claim or result
# on = 2025-12-31                   # the date it was agreed: in runs as at quarters ending on or after it
# amount = 12000.00                 # not zero; negative recovers money
# reason = "Payment on profile agreed at the contract board"
# payers = { PAYER = 1 }            # optional; default the contract's split
"""
#: a comment written above the first line that starts with each key (the data stays in starter_contract)
_COMMENTS: dict[str, str] = {
    "[contract]": "# The contract: its id names the ledger folder; dates bound what is paid.",
    "referrals_end =": "# optional: the last enrolment date",
    "outcomes_end =": "# the last achievement date that counts",
    "claims_end =": "# optional: the last submission date accepted (default outcomes_end)",
    "fiscal_year_start_month =": "# 4: quarter 1 is April-June (UK financial year); 1 = calendar quarters",
    "[[payers]]": "# Who pays. Several payers each take a `share`, summing to exactly 1 (\"2/3\" is allowed).\n"
                  "# A payer may have its own `cap` (money) and `on_cap = \"cut\"` or \"shift\".",
    "[caps]": "# Money caps, all optional. partial = true cuts a claim to the headroom; false pays it nothing.",
    "[evidence]": "# Where the evidence is, relative to this file. The files written beside it are\n"
                  "# templates with two example rows: replace them with your provider's files.\n"
                  "# Also: date_format = \"%d/%m/%Y\", delimiter = \";\", and [evidence.columns]\n"
                  "# to map your headers (participant_id = \"Client Ref\").",
    "[[outcomes]]": "# The rate card: one [[outcomes]] table per outcome, each with one of\n"
                    "# price, prices (dated) or tiers (by volume).",
    "window_days =": "# achieved within this many days of enrolment",
    "requires =": "# a prerequisite: ENTRY achieved at least 91 days earlier",
    "[[examples]]": "# Worked examples from the payment schedule: `sob test` closes each one and\n"
                    "# compares with `expect`. Computed by hand: ENTRY pays 500.00; SUSTAIN_3M's\n"
                    "# 1500.00 is cut to the 1300.00 left under the 1800.00 participant cap.",
}


def starter_contract() -> dict[str, Any]:
    """The starter contract as the data ``tomllib`` would read back (money as Decimal)."""
    return {
        "schema": "sob/1",
        "contract": {
            "id": "my-outcomes-contract",
            "name": "My outcomes contract",
            "currency": "GBP",
            "start": date(2025, 4, 1),
            "referrals_end": date(2027, 3, 31),
            "outcomes_end": date(2028, 3, 31),
            "claims_end": date(2028, 6, 30),
            "fiscal_year_start_month": 4,
        },
        "payers": [{"id": "PAYER", "name": "Outcome payer", "share": Decimal("1")}],
        "caps": {
            "per_participant": Decimal("1800.00"),
            "total": Decimal("250000.00"),
            "partial": True,
        },
        "evidence": {
            "claims": "evidence/claims.csv",
            "participants": "evidence/participants.csv",
        },
        "outcomes": [
            {
                "id": "ENTRY",
                "name": "Entry into work",
                "price": Decimal("500.00"),
                "window_days": 365,
            },
            {
                "id": "SUSTAIN_3M",
                "name": "Work sustained for 13 weeks",
                "price": Decimal("1500.00"),
                "window_days": 730,
                "requires": [{"outcome": "ENTRY", "min_days": 91}],
            },
        ],
        "examples": [
            {
                "name": "entry then sustainment; the participant cap cuts the second payment",
                "quarter": "2025-Q2",
                "participants": [{"participant_id": "P1", "enrolled_on": date(2025, 4, 10)}],
                "claims": [
                    {
                        "claim_id": "C1",
                        "participant_id": "P1",
                        "outcome_id": "ENTRY",
                        "achieved_on": date(2025, 5, 1),
                        "submitted_on": date(2025, 5, 2),
                    },
                    {
                        "claim_id": "C2",
                        "participant_id": "P1",
                        "outcome_id": "SUSTAIN_3M",
                        "achieved_on": date(2025, 8, 1),
                        "submitted_on": date(2025, 8, 5),
                    },
                ],
                "expect": {
                    "entitled": Decimal("1800.00"),
                    "due": Decimal("1300.00"),
                    "payers": {"PAYER": Decimal("1800.00")},
                    "claims": {
                        "C1": {
                            "status": "paid",
                            "entitled": Decimal("500.00"),
                            "due": Decimal("0.00"),
                        },
                        "C2": {
                            "status": "partial",
                            "reason": "PARTICIPANT_CAP",
                            "entitled": Decimal("1300.00"),
                            "due": Decimal("1300.00"),
                        },
                    },
                },
            }
        ],
    }


def starter_text(name: str = "contract.toml") -> str:
    """The starter contract as TOML text, in the order and layout of SPEC 3.

    tomli_w would write the short ``payers`` array inline; each payer is
    written as its own ``[[payers]]`` table instead, as users see in the spec.
    """
    data = starter_contract()
    chunks = [tomli_w.dumps({"schema": data["schema"], "contract": data["contract"]})]
    chunks += ["[[payers]]\n" + tomli_w.dumps(payer) for payer in data["payers"]]
    rest = {
        key: value for key, value in data.items() if key not in ("schema", "contract", "payers")
    }
    chunks.append(tomli_w.dumps(rest).replace("\npartial = true\n", "\npartial = true\n" + CAP_SCHEDULE_EXAMPLE, 1))
    return _HEADER.format(name=name) + _commented("\n".join(chunks)) + ADJUSTMENT_EXAMPLE


def _commented(text: str) -> str:
    """``text`` with each of :data:`_COMMENTS` above the first line it names: a starter explains itself."""
    lines = text.split("\n")
    out: list[str] = []
    pending = dict(_COMMENTS)
    for line in lines:
        for key in list(pending):
            if line.startswith(key):
                out.extend(pending.pop(key).split("\n"))
        out.append(line)
    return "\n".join(out)


#: the template evidence files, relative to the contract: canonical headers and two example rows each
STARTER_EVIDENCE: dict[str, str] = {
    "evidence/claims.csv": (
        "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref,amount_claimed\n"
        "C1,P1,ENTRY,2025-05-01,2025-05-02,claimed,payslip 2025-05,500.00\n"
        "C2,P1,SUSTAIN_3M,2025-08-01,2025-08-05,claimed,payslips May-Aug 2025,1500.00\n"
    ),
    "evidence/participants.csv": (
        "participant_id,enrolled_on,eligible,cohort\n"
        "P1,2025-04-10,true,2025 intake\n"
        "P2,2025-06-02,true,2025 intake\n"
    ),
}


def write_starter(path: Path) -> list[Path]:
    """Write the starter contract to ``path`` and its template evidence beside it; return what was written.

    Nothing is overwritten: if the contract or a template file exists, nothing
    is written (an input error, exit 1).  Files are opened in exclusive-create
    mode, so even a file created in the meantime is not overwritten, and a
    failure part-way removes what this call wrote.  A folder that cannot be
    created or written is a usage error (exit 2).
    """
    path = Path(path)
    targets = [path, *(path.parent / name for name in STARTER_EVIDENCE)]
    for target in targets:
        if target.exists() or target.is_symlink():
            what = "a directory" if target.is_dir() else "a file"
            raise InputError(f"{target} already exists ({what}); sob init will not overwrite it")
    texts = [starter_text(path.name), *STARTER_EVIDENCE.values()]
    written: list[Path] = []
    try:
        for target, text in zip(targets, texts, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("x", encoding="utf-8", newline="\n") as handle:
                written.append(target)
                handle.write(text)
    except FileExistsError:
        _remove(written)
        raise InputError(f"{target} already exists; sob init will not overwrite it") from None
    except OSError as exc:
        _remove(written)
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(written)
        raise
    return written


def _remove(paths: list[Path]) -> None:
    """Undo a starter written part-way, so a failed ``sob init`` leaves nothing half-written."""
    for p in paths:
        p.unlink(missing_ok=True)


__all__ = ["CAP_SCHEDULE_EXAMPLE", "STARTER_EVIDENCE", "starter_contract", "starter_text", "write_starter"]
