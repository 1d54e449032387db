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
# `sob schema` prints a JSON Schema that editors (Taplo / Even Better TOML) can use.

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
    return _HEADER.format(name=name) + "\n".join(chunks) + ADJUSTMENT_EXAMPLE


def write_starter(path: Path) -> None:
    """Write the starter contract to ``path``; never overwrite an existing file.

    The file is opened in exclusive-create mode, so even a file created in
    the meantime is not overwritten.  An existing path is an input error
    (exit 1); a folder that cannot be created or written is a usage error
    (exit 2).
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        what = "a directory" if path.is_dir() else "a file"
        raise InputError(f"{path} already exists ({what}); sob init will not overwrite it")
    text = starter_text(path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError:
        raise InputError(f"{path} already exists; sob init will not overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


__all__ = ["CAP_SCHEDULE_EXAMPLE", "starter_contract", "starter_text", "write_starter"]
