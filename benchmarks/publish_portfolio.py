#!/usr/bin/env python3
"""Time `sob publish` and `sob portfolio` on a ledger of many contracts and closed quarters.

Builds (once, cached in benchmarks/data/portfolio-<C>x<Q>/) C contracts with two
payers, two outcomes (one repeatable, with a profile) and a total cap, small
generated evidence (about 30 claims a quarter), and closes Q quarters of each
into one ledger folder.  Then times, in fresh processes: `sob publish` of every
contract, and `sob portfolio` of all of them (table and JSON).

    python benchmarks/publish_portfolio.py             # 20 contracts x 20 quarters
    python benchmarks/publish_portfolio.py --contracts 5 --quarters 8
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT = """schema = "sob/1"

[contract]
id = "{id}"
name = "Benchmark contract {n}"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2030-12-31

[[payers]]
id = "LA"
share = 0.7
[[payers]]
id = "CF"
share = 0.3

[caps]
total = 5000000.00

[evidence]
claims = "claims.csv"
participants = "participants.csv"

[[outcomes]]
id = "ENGAGED"
price = 500.00
profile = {{ {profile} }}

[[outcomes]]
id = "SESSION"
price = 120.00
max_claims = 6
"""


def quarters(n: int) -> list[str]:
    """The first ``n`` calendar quarters from 2020-Q1."""
    return [f"{2020 + i // 4}-Q{i % 4 + 1}" for i in range(n)]


def write_contract(folder: Path, n: int, labels: list[str], rng: random.Random) -> Path:
    """One contract folder with participants and claims spread over the quarters."""
    folder.mkdir(parents=True)
    profile = ", ".join(f'"{q}" = 10' for q in labels)
    (folder / "contract.toml").write_text(CONTRACT.format(id=f"bench-{n:02d}", n=n, profile=profile), encoding="utf-8")
    people, claims = [], []
    for qi in range(len(labels)):
        start = date(2020, 1, 1) + timedelta(days=91 * qi)
        for k in range(rng.randint(5, 15)):
            pid = f"P{qi:02d}{k:03d}"
            people.append((pid, start.isoformat(), "true", ""))
            day = (start + timedelta(days=rng.randint(1, 60))).isoformat()
            claims.append((f"{pid}-E", pid, "ENGAGED", day, day, "claimed"))
            for s in range(rng.randint(0, 3)):
                claims.append((f"{pid}-S{s}", pid, "SESSION", day, day, "claimed"))
    for name, header, rows in (("participants.csv", ["participant_id", "enrolled_on", "eligible", "cohort"], people),
                               ("claims.csv", ["claim_id", "participant_id", "outcome_id", "achieved_on",
                                               "submitted_on", "status"], claims)):
        with open(folder / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *rows])
    return folder / "contract.toml"


def build(case: Path, n_contracts: int, n_quarters: int) -> list[Path]:
    """The case folder: contracts and a ledger with every quarter closed (reused when complete)."""
    from typer.testing import CliRunner

    from sob.cli import app

    done = case / "complete"
    contracts = [case / f"c{n:02d}" / "contract.toml" for n in range(n_contracts)]
    if done.exists():
        return contracts
    shutil.rmtree(case, ignore_errors=True)
    ledger = case / "ledger"
    ledger.mkdir(parents=True)
    rng, labels = random.Random(1), quarters(n_quarters)
    runner = CliRunner()
    for n in range(n_contracts):
        path = write_contract(case / f"c{n:02d}", n, labels, rng)
        for q in labels:
            result = runner.invoke(app, ["pay", str(path), "--quarter", q, "--ledger", str(ledger), "--close",
                                         "--format", "json"])
            if result.exit_code != 0:
                raise SystemExit(f"close {path} {q} failed: {result.output}")
    done.write_text("ok\n")
    return contracts


def timed(argv: list[str]) -> float:
    """Wall-clock seconds of one `sob` process (start-up included); a failure stops the benchmark."""
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "sob", *argv], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"sob {' '.join(argv)} failed: {result.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the case, then time publish (each contract) and portfolio (all)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=20)
    parser.add_argument("--quarters", type=int, default=20)
    args = parser.parse_args(argv)
    case = ROOT / "benchmarks" / "data" / f"portfolio-{args.contracts}x{args.quarters}"
    t0 = time.perf_counter()
    contracts = build(case, args.contracts, args.quarters)
    print(f"case: {args.contracts} contracts x {args.quarters} closed quarters in {case} "
          f"(ready in {time.perf_counter() - t0:.1f} s)")
    ledger, out = case / "ledger", case / "published"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    each = [timed(["publish", str(c), "--ledger", str(ledger), "--out", str(out / c.parent.name)]) for c in contracts]
    print(f"sob publish, each contract: median {sorted(each)[len(each) // 2]:.2f} s, max {max(each):.2f} s, "
          f"all {len(each)} in {sum(each):.1f} s")
    paths = [str(c) for c in contracts]
    print(f"sob portfolio (table), all contracts: {timed(['portfolio', *paths, '--ledger', str(ledger)]):.2f} s")
    print(f"sob portfolio --format json --export .xlsx: "
          f"{timed(['portfolio', *paths, '--ledger', str(ledger), '--format', 'json', '--export', str(case / 'p.xlsx')]):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
