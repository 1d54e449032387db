"""A fixture of several sample contracts closed over several quarters, in one ledger folder.

Built from the samples with their generated evidence (sample_contracts/make_evidence.py):
Kirklees (GBP, April fiscal year, with profiles) over five quarters, the DWP
Innovation Fund (GBP) over five quarters of 2012-13, and NYC ABLE (USD,
cohort results) over two quarters of 2015.  DWP and NYC stop years before
Kirklees, so a portfolio of the three has ledgers behind.
"""

from __future__ import annotations

from pathlib import Path

from report_helpers import DWP_QUARTERS, KIRKLEES_QUARTERS, sample_copy, sob

NYC_QUARTERS = ["2015-Q2", "2015-Q3"]
CLOSES = {"kirklees-bop": KIRKLEES_QUARTERS, "dwp-innovation-fund": DWP_QUARTERS, "nyc-able": NYC_QUARTERS}


def closed_samples(tmp: Path) -> tuple[dict[str, Path], Path]:
    """(contract id → contract file, ledger folder) with every quarter of :data:`CLOSES` closed."""
    ledger = tmp / "ledger"
    ledger.mkdir()
    contracts = {}
    for name, quarters in CLOSES.items():
        contracts[name] = sample_copy(tmp, name, profile=name == "kirklees-bop")
        for i, q in enumerate(quarters):
            # NYC's ledger starts mid-life: nothing was paid before its first close here
            opening = ["--opening", "none"] if i == 0 and name == "nyc-able" else []
            result = sob("pay", contracts[name], "--quarter", q, "--ledger", ledger, "--close", "--format", "json",
                         *opening)
            assert result.exit_code == 0, result.output
    return contracts, ledger
