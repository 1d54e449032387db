#!/usr/bin/env python3
"""How fast could any ``validate`` be?  The least work it must do, in plain polars, against the bare read.

    python benchmarks/floor.py [CASE_DIR] [--reps 5]

CASE_DIR is a folder written by ``benchmarks/generate.py`` (default: the 10M
case of ``run.py``).  Each step below runs as a fresh ``python -c`` child,
interleaved rep by rep, start-up included, page cache warm, like ``run.py``:

- ``read_csv``: the yardstick of ``run.py`` (claims as text, nothing checked);
- ``typed``: the claims and the register parsed into their types (dates,
  enums) by polars' streaming engine, nothing checked (and nothing verified:
  a parse that polars got wrong would go unnoticed);
- ``typed+membership``: that, and the two checks no validation can skip:
  every claim's participant is in the register (exactly, by ``sob.idkeys``,
  the cheapest exact way found) and no claim id is used twice (the ids are
  sorted, so one comparison of neighbours);
- ``sob validate``: the real command, for comparison.

The gap between ``typed+membership`` and ``sob validate`` is everything else
sob does: the CLI's start-up (Typer, Rich), the byte scan that verifies the
fast reader, per-row check flags and the summary.  Standard library, polars
and ``sob.idkeys`` only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import compile_sob, run_child, sob_command, warm  # noqa: E402 - run.py sits beside this script

TYPED = """
import sys, polars as pl
d = sys.argv[1]
date = lambda c: pl.col(c).str.to_date("%Y-%m-%d", strict=False)
reg = pl.scan_csv(d + "/participants.csv", infer_schema=False).select(
    "participant_id", date("enrolled_on"), pl.col("eligible") == "true", "cohort").collect(engine="streaming")
outcomes = pl.Enum(sorted(set(pl.read_csv(d + "/claims.csv", n_rows=100_000)["outcome_id"])))
claims = pl.scan_csv(d + "/claims.csv", infer_schema=False).select(
    "claim_id", "participant_id", pl.col("outcome_id").cast(outcomes, strict=False), date("achieved_on"),
    date("submitted_on"), pl.col("status").cast(pl.Enum(["claimed", "withdrawn", "failed"]), strict=False),
    "evidence_ref").collect(engine="streaming")
"""

CHECKS = """
from sob.idkeys import positions_in
assert positions_in(claims["participant_id"], reg["participant_id"]).null_count() == 0
ids = claims["claim_id"]
assert ids.is_sorted()
pieces = [p for p in ids.get_chunks() if p.len()]  # compared in place, piece by piece, as sob does
assert not any((p.slice(1) == p.slice(0, p.len() - 1)).any() for p in pieces)
assert not any(a[-1] == b[0] for a, b in zip(pieces, pieces[1:]))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path, nargs="?", default=HERE / "data" / "n10000000")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    case = args.case.resolve()
    if not (case / "case.json").exists():
        ap.error(f"{case} is not a generated case (run benchmarks/generate.py or benchmarks/run.py first)")
    compile_sob()
    warm([case / "claims.csv", case / "participants.csv"])
    py = sys.executable
    steps = {
        "read_csv": [py, "-c", "import sys, polars as pl; pl.read_csv(sys.argv[1], infer_schema=False)",
                     str(case / "claims.csv")],
        "typed": [py, "-c", TYPED, str(case)],
        "typed+membership": [py, "-c", TYPED + CHECKS, str(case)],
        "sob validate": sob_command() + ["validate", str(case / "contract.toml")],
    }
    walls: dict[str, list[float]] = {name: [] for name in steps}
    for rep in range(args.reps):
        for name, cmd in steps.items():
            r = run_child(cmd)
            if r["rc"] != 0:
                print(f"{name} failed (exit {r['rc']}):\n{r.get('stderr', '')}", file=sys.stderr)
                return 1
            walls[name].append(r["wall_s"])
            print(f"  {name:<18} rep {rep + 1}: {r['wall_s']:6.2f} s", flush=True)
    bare = statistics.median(walls["read_csv"])
    print(f"\n{case.name}: {json.loads((case / 'case.json').read_text())['n']:,} claims, median of {args.reps}")
    for name, ws in walls.items():
        print(f"  {name:<18} {statistics.median(ws):6.2f} s  {statistics.median(ws) / bare:5.2f}x the bare read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
