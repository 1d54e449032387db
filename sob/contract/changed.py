"""Which contracts a set of changed files concerns: what ``sob validate --changed`` checks.

pre-commit passes the files a commit changes.  A contract among them is
checked itself; an evidence file (a claims CSV, a register) is checked
through the contracts that can read it.  SPEC 3 confines a contract's
evidence to the contract's own folder, so those contracts are the ones in
the file's folder and the folders above it, up to the repository root.
Only files that declare ``schema = "sob/..."`` count as contracts, so a
``pyproject.toml`` beside them is never mistaken for one.
"""

from __future__ import annotations

import re
from pathlib import Path

from sob.contract.format import MAX_CONTRACT_BYTES

# A contract declares its format on a line of its own: `schema = "sob/1"` (the value checks come later).
_SCHEMA_LINE = re.compile(rb'^\s*schema\s*=\s*["\']sob/', re.M)


def is_contract_file(path: Path) -> bool:
    """A regular ``.toml`` file, at most the contract size limit, that declares a ``sob/`` schema."""
    try:
        if path.suffix.lower() != ".toml" or not path.is_file() or path.stat().st_size > MAX_CONTRACT_BYTES:
            return False
        with path.open("rb") as handle:
            return bool(_SCHEMA_LINE.search(handle.read(MAX_CONTRACT_BYTES)))
    except OSError:
        return False


def _contracts_above(path: Path, root: Path) -> list[Path]:
    """The contracts in ``path``'s folder and each folder above it, up to ``root``, nearest first."""
    found: list[Path] = []
    folder = path.parent
    while True:
        found += sorted(p for p in folder.glob("*.toml") if is_contract_file(p))
        if folder == root or root not in folder.parents:
            return found
        folder = folder.parent


def contracts_for_changed(paths: list[Path], root: Path) -> list[Path]:
    """The contracts to check for ``paths``, each once, in the order they are first met.

    A changed contract is itself; any other file (evidence, or a deleted
    file) brings the contracts of the folders that could hold it as
    evidence.  Paths are taken relative to ``root`` (the repository, where
    pre-commit runs), and what is returned keeps the form they were given in.
    """
    out: dict[Path, None] = {}
    root = root.resolve()
    for path in paths:
        absolute = (root / path).resolve()  # an absolute path stays itself
        if is_contract_file(absolute):
            out.setdefault(path, None)
            continue
        for contract in _contracts_above(absolute, root):
            shown = contract.relative_to(root) if contract.is_relative_to(root) else contract
            out.setdefault(shown, None)
    return list(out)


__all__ = ["contracts_for_changed", "is_contract_file"]
