#!/usr/bin/env python3
"""Where ``sob pay`` spends its time on a generated case: stage timings and a cProfile.

    python benchmarks/profile_pay.py CASE_DIR [--top 25] [--cprofile]

CASE_DIR is a folder written by ``benchmarks/generate.py``.  The stages are
run one at a time in this process (polars 2.x has no ``LazyFrame.profile()``;
collecting stage by stage is the way to time them): contract load, evidence
read and checks, assessment as at the quarter, assessment as at the previous
quarter (what ``previously_paid`` is recomputed from without a ledger), the
whole pay run, the JSON summary and a Parquet export.  Each stage calls the
same functions ``sob pay`` calls, so the numbers add up to roughly one run.
With ``--cprofile`` the whole pay run is also profiled and the functions with
the most cumulative time inside ``sob`` are listed, which shows the polars
operations (``collect``, ``join``, ``sort``, ``group_by``...) that dominate.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path


def _stage(name: str, fn, timings: list[tuple[str, float]]):
    t0 = time.perf_counter()
    out = fn()
    timings.append((name, time.perf_counter() - t0))
    print(f"  {name:<42} {timings[-1][1]:7.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path)
    ap.add_argument("--quarter", default=None, help="default: the quarter in CASE/case.json")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--cprofile", action="store_true", help="also profile the whole pay run with cProfile")
    args = ap.parse_args(argv)

    import polars as pl

    from sob.assessment import assess
    from sob.contract import load_contract
    from sob.evidence import read_evidence
    from sob.payrun import pay_quarter, summary
    from sob.quarters import Quarter

    case = args.case
    quarter = Quarter.parse(args.quarter or json.loads((case / "case.json").read_text())["quarter"])
    timings: list[tuple[str, float]] = []
    print(f"{case}: polars {pl.__version__}, quarter {quarter}, {pl.thread_pool_size()} polars threads")
    contract, findings = _stage("load_contract", lambda: load_contract(case / "contract.toml"), timings)
    assert contract is not None, findings
    fy = contract.fiscal_year_start_month
    ev = _stage(
        "read_evidence (read + data checks)",
        lambda: read_evidence(contract, case / "claims.csv", case / "participants.csv", None),
        timings,
    )
    assert not ev.errors, ev.errors[:3]
    rows = ev.participant_rows  # each claim's register row, as the reader found it (what sob pay passes on)
    _stage(f"assess as at {quarter}",
           lambda: assess(contract, ev.claims, ev.participants, None, quarter.end(fy), participant_rows=rows), timings)
    _stage(
        f"assess as at {quarter.previous()}",
        lambda: assess(contract, ev.claims, ev.participants, None, quarter.previous().end(fy), participant_rows=rows),
        timings,
    )
    amount = "amount_claimed" in ev.claims.columns and ev.claims["amount_claimed"].null_count() < ev.claims.height

    def pay():
        return pay_quarter(contract, ev.claims, ev.participants, None, quarter,
                           carried=ev.carried_columns, amount_claimed=amount, participant_rows=rows)

    run = _stage("pay_quarter (both assessments, split, table)", pay, timings)
    _stage("summary (JSON)", lambda: json.dumps(summary(run)), timings)
    from sob.export import write_table

    with tempfile.TemporaryDirectory() as tmp:
        _stage("export .parquet", lambda: write_table(run.table, Path(tmp) / "out.parquet", contract.minor_units),
               timings)

    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        pay()
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(r"sob[/\\]", args.top)
        print("\ncProfile of pay_quarter, sob functions by cumulative time:")
        print(out.getvalue().split("\n\n", 2)[-1])
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print("cProfile of pay_quarter, by own time (polars work shows as collect/join/sort...):")
        print(out.getvalue().split("\n\n", 2)[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
