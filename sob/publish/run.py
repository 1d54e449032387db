"""``sob publish``: the contract, its ledger and a folder in; the open-data folder (or a verdict) out."""

from __future__ import annotations

from pathlib import Path

from sob.findings import UsageError
from sob.publish.data import collect
from sob.publish.write import build, compare, write_folder


def publication(contract_path: Path, ledger_dir: Path, quarter: str | None, min_count: int) -> dict[str, bytes]:
    """The files of the publication of the closed quarters up to ``quarter`` (all when ``None``)."""
    from sob.workflows import load_valid_contract, parse_quarter

    contract, _ = load_valid_contract(contract_path, run_examples_too=False)
    upto = None if quarter is None else parse_quarter(quarter, contract.fiscal_year_start_month)
    if not Path(ledger_dir).is_dir():
        raise UsageError(f"{ledger_dir}: the ledger folder does not exist")
    return build(contract, collect(contract, ledger_dir, upto), min_count)


def publish(contract_path: Path, ledger_dir: Path, quarter: str | None, min_count: int, out: Path) -> dict[str, bytes]:
    """Build the publication and write it to ``out`` atomically; the files written."""
    files = publication(contract_path, ledger_dir, quarter, min_count)
    write_folder(files, out)
    return files


def verify(contract_path: Path, ledger_dir: Path, quarter: str | None, min_count: int, folder: Path) -> list[str]:
    """Publish again in memory and compare with ``folder`` byte for byte: the differences (none = genuine)."""
    return compare(publication(contract_path, ledger_dir, quarter, min_count), folder)


__all__ = ["publication", "publish", "verify"]
