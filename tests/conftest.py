"""Shared test setup (helpers importable, Rich output deterministic) and file builders."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "GITHUB_ACTIONS", "PY_COLORS"):
    os.environ.pop(var, None)
os.environ["TERM"] = "dumb"
os.environ["COLUMNS"] = "200"
os.environ["TERMINAL_WIDTH"] = "200"

# Property tests are derandomized: the same examples on every run, so a test that
# passes in CI passes again (no flaky test). Exploring new examples is a separate,
# deliberate run: `pytest --hypothesis-profile=explore`.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True, max_examples=1000)
settings.load_profile("ci")


# --------------------------------------------------------------------------------------
# Builders: contracts and evidence files from plain Python values, instead of long
# inline TOML and CSV strings.  Money may be an int or a decimal string ("400.00").
# --------------------------------------------------------------------------------------

CLAIM_COLUMNS = ("claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status")
PARTICIPANT_COLUMNS = ("participant_id", "enrolled_on", "eligible", "cohort")
RESULT_COLUMNS = ("result_id", "outcome_id", "cohort", "achieved_on", "submitted_on", "baseline", "observed",
                  "units", "status")


def contract_dict(**overrides: Any) -> dict[str, Any]:
    """A valid ``sob/1`` contract as a dict: one payer ``LA`` and one outcome ``P`` at 400.

    Top-level keys of ``overrides`` replace the defaults (``outcomes``, ``payers``,
    ``caps``, ``evidence``, ``examples``); ``contract`` is merged into ``[contract]``.
    """
    doc: dict[str, Any] = {
        "schema": "sob/1",
        "contract": {"id": "t", "currency": "GBP", "start": date(2020, 1, 1), "outcomes_end": date(2022, 12, 31)},
        "payers": [{"id": "LA", "share": 1}],
        "outcomes": [{"id": "P", "price": 400}],
    }
    doc["contract"].update(overrides.pop("contract", {}))
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def make_contract(folder: Path, name: str = "contract.toml", **overrides: Any) -> Path:
    """Write :func:`contract_dict` (with ``overrides``) to ``folder/name`` and return its path."""
    path = folder / name
    path.write_text(tomli_w.dumps(contract_dict(**overrides)), encoding="utf-8")
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Path:
    """A CSV file with ``columns`` as header; a row is a sequence (by position) or a dict (by name)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for row in rows:
            values = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
            out.writerow([_cell(v) for v in values] + [""] * (len(columns) - len(values)))
    return path


def write_claims(path: Path, rows: Iterable[Sequence[Any] | Mapping[str, Any]],
                 columns: Sequence[str] = CLAIM_COLUMNS) -> Path:
    """A claims CSV: rows are (claim_id, participant_id, outcome_id, achieved_on[, submitted_on[, status]])."""
    return write_rows(path, columns, rows)


def write_participants(path: Path, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Path:
    """A register CSV: rows are (participant_id, enrolled_on[, eligible[, cohort]])."""
    return write_rows(path, PARTICIPANT_COLUMNS, rows)


def write_results(path: Path, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Path:
    """A cohort results CSV: rows in the order of ``RESULT_COLUMNS``."""
    return write_rows(path, RESULT_COLUMNS, rows)


def load(path: Path) -> Any:
    """The contract at ``path`` as ``sob`` loads it; the test fails on any contract error."""
    from sob.contract import load_contract

    contract, findings = load_contract(path)
    assert contract is not None and not [f for f in findings if f.severity == "error"], findings
    return contract
