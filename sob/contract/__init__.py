"""The contract: its typed model, its format, and the loader that checks a contract file.

Modules, by SPEC section:

* :mod:`~sob.contract.model` — the typed, immutable contract (SPEC 3).
* :mod:`~sob.contract.format` — the format as data: keys, kinds of value, limits, codes.
* :mod:`~sob.contract.converters` — one converter per kind of value, named in a table.
* :mod:`~sob.contract.sections`, :mod:`~sob.contract.references`,
  :mod:`~sob.contract.example_checks` — the checks of each section (SPEC 3.1, 3.2, 8).
* :mod:`~sob.contract.paths` — evidence paths confined to the contract's folder.
* :mod:`~sob.contract.load` — ``load_contract``: read, decode, parse, check.
* :mod:`~sob.contract.report`, :mod:`~sob.contract.toml_locate` — findings located at their key.
* :mod:`~sob.contract.examples` — running the worked examples (``sob test``).
* :mod:`~sob.contract.starter` — the starter contract of ``sob init``.

This package re-exports the model and the loader; ``examples`` and
``starter`` are imported from their modules (they use the engine, which
itself imports the model from here).
"""

from __future__ import annotations

from sob.contract.format import CONTRACT_CODES
from sob.contract.load import check_contract_text, decode_contract_bytes, load_contract
from sob.contract.model import (
    Adjustment,
    Caps,
    Contract,
    EvidenceConfig,
    Example,
    Outcome,
    OutcomeKind,
    Payer,
    PricePoint,
    Requirement,
    Tier,
)

__all__ = [
    "CONTRACT_CODES",
    "Adjustment",
    "Caps",
    "Contract",
    "EvidenceConfig",
    "Example",
    "Outcome",
    "OutcomeKind",
    "Payer",
    "PricePoint",
    "Requirement",
    "Tier",
    "check_contract_text",
    "decode_contract_bytes",
    "load_contract",
]
