#!/usr/bin/env python3
"""Where ``sob pay`` spends its time on a generated case: stage timings and a cProfile.

    python benchmarks/profile_pay.py CASE [--quarter Q] [--claims F --participants F --results F]
                                     [--summary-only] [--top 25] [--cprofile]

CASE is a folder holding ``contract.toml`` (a case written by
``benchmarks/generate.py``, or any other) or a contract file.  The quarter is
``--quarter``, else the one in the folder's ``case.json``; the evidence is
found as ``sob pay`` finds it (the contract's ``[evidence]`` paths), unless
``--claims``/``--participants``/``--results`` say otherwise.
``--summary-only`` reads and keeps only the columns ``sob pay --format json``
keeps.  The stages are
run one at a time in this process (polars 2.x has no ``LazyFrame.profile()``;
collecting stage by stage is the way to time them): contract load, evidence
read and checks, assessment as at the quarter, assessment as at the previous
quarter (what ``previously_paid`` is recomputed from without a ledger, when
the prefix shortcut of ``sob/payrun.py`` does not apply: the line says which), the
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
    print(f"  {name:<58} {timings[-1][1]:7.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path, help="a folder holding contract.toml, or a contract file")
    ap.add_argument("--quarter", default=None, help="default: the quarter in CASE/case.json")
    ap.add_argument("--claims", type=Path, default=None, help="default: the contract's [evidence] claims")
    ap.add_argument("--participants", type=Path, default=None)
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--summary-only", action="store_true", help="keep only what sob pay --format json keeps")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--cprofile", action="store_true", help="also profile the whole pay run with cProfile")
    args = ap.parse_args(argv)

    import polars as pl

    from sob.assessment import RULE_COLUMNS, assess
    from sob.contract import load_contract
    from sob.evidence import read_evidence
    from sob.payrun import _caps_moved, _new_rows_meet_old_prerequisites, pay_quarter, summary
    from sob.quarters import Quarter
    from sob.workflows import EvidencePaths, resolve_evidence

    contract_path = args.case / "contract.toml" if args.case.is_dir() else args.case
    meta = contract_path.parent / "case.json"
    if args.quarter is None and not meta.exists():
        ap.error(f"{meta} does not exist: give --quarter")
    timings: list[tuple[str, float]] = []
    contract, findings = _stage("load_contract", lambda: load_contract(contract_path), timings)
    assert contract is not None, findings
    fy = contract.fiscal_year_start_month
    quarter = Quarter.parse(args.quarter or json.loads(meta.read_text())["quarter"])
    paths = resolve_evidence(contract, EvidencePaths(args.claims, args.participants, args.results), need_claims=True)
    print(f"{contract_path}: polars {pl.__version__}, quarter {quarter}, {pl.thread_pool_size()} polars threads; "
          f"claims {paths.claims}, participants {paths.participants}, results {paths.results}")
    keep = RULE_COLUMNS if args.summary_only else None
    ev = _stage(
        "read_evidence (read + data checks)",
        lambda: read_evidence(contract, paths.claims, paths.participants, paths.results, claim_columns=keep),
        timings,
    )
    assert not ev.errors, ev.errors[:3]
    if ev.claims is not None and "line" in ev.claims.columns:
        ev.claims = ev.claims.drop("line")  # as sob pay does once the findings are made
    rows = ev.participant_rows  # each claim's register row, as the reader found it (what sob pay passes on)
    in_force = contract.in_force(quarter.end(fy))
    now = _stage(f"assess as at {quarter}",
                 lambda: assess(in_force, ev.claims, ev.participants, ev.results, quarter.end(fy),
                                participant_rows=rows), timings)
    previous_end = quarter.previous().end(fy)
    again = _stage("shortcut check (new rows meet old prerequisites?)",
                   lambda: _new_rows_meet_old_prerequisites(in_force, now, previous_end)
                   or _caps_moved(in_force, previous_end), timings)
    _stage(
        f"assess as at {quarter.previous()} ({'run by pay' if again else 'skipped by pay: prefix shortcut'})",
        lambda: assess(in_force, ev.claims, ev.participants, ev.results, previous_end, carry=False,
                       participant_rows=rows),
        timings,
    )
    amount = "amount_claimed" in ev.claims.columns and ev.claims["amount_claimed"].null_count() < ev.claims.height

    def pay():
        carried = (["evidence_ref"] if ev.has_evidence_ref else []) + ev.carried_columns
        return pay_quarter(contract, ev.claims, ev.participants, ev.results, quarter, carried=carried,
                           amount_claimed=amount, full_table=not args.summary_only, participant_rows=rows)

    run = _stage("pay_quarter (assessment(s), split, table)", pay, timings)
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
