"""The figures of the contract report, read from the ledger of closed quarters.

The ledger is the record of what was actually paid, so the report reads it
and never the evidence: a quarter's money is the ``due`` column of its
``Q.csv``, paid to date is the running sum of those dues (the opening
balance included, as ``sob ledger show`` counts it), and counts of outcomes
are the rows of the latest closed table.  :func:`ledger.show` checks every
manifest against its table first, so the report only states figures the hash
chain vouches for.

Amounts are integers of minor units while they are computed, and decimal
strings (SPEC 3.1) in the returned dict; percentages are exact fractions
rounded once, half away from zero, to one decimal.
"""

from __future__ import annotations

import io
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from sob import ledger
from sob.codes import meaning
from sob.contract import Contract
from sob.findings import InputError
from sob.money import format_minor, round_half_away, to_minor
from sob.quarters import Quarter

#: statuses of a row that passed rules 1–11 (SPEC 9 ``accepted``); capped by VOLUME_CAP is not one
_ACCEPTED = (pl.col("status").is_in(["paid", "partial"])) | (
    (pl.col("status") == "capped") & (pl.col("reason").fill_null("") != "VOLUME_CAP")
)
#: the last four quarters set the pace of the naive cap projection
PACE_QUARTERS = 4


def percent(part: int, whole: int) -> str | None:
    """``part / whole`` as a percentage with one decimal, exact until the one rounding; ``None`` for whole 0."""
    if whole == 0:
        return None
    return format_minor(round_half_away(Fraction(part * 100, whole), 1), 1)


def _minor(text: Any, units: int, where: str) -> int:
    """An amount string of the ledger as minor units; a damaged one is an InputError, never a guess."""
    try:
        return to_minor(Decimal(str(text)), units) if text not in (None, "") else 0
    except (ValueError, ArithmeticError) as exc:
        raise InputError(f"{where}: {text!r} is not an amount; run `sob ledger verify`") from exc


def _money_expr(name: str, units: int) -> pl.Expr:
    """Decimal text with exactly ``units`` decimals → Int64 minor units, exactly (the ledger writes that form)."""
    return pl.col(name).fill_null("0").str.replace(".", "", literal=True).cast(pl.Int64)


def _read_table(directory: Path, contract_id: str, q: str, units: int) -> pl.DataFrame:
    """The columns of a closed ``Q.csv`` the report needs, money as minor units.

    The file was vouched for by :func:`ledger.show` just before; its amounts
    are checked against the one form the ledger writes all the same.
    """
    path = Path(directory) / contract_id / f"{q}.csv"
    data = ledger.read_regular(path)
    wanted = ["claim_id", "kind", "participant_id", "outcome_id", "status", "reason", "entitled", "due"]
    try:
        head = pl.read_csv(io.BytesIO(data), infer_schema=False, n_rows=0).columns
        if "note" in head:
            wanted.append("note")
        table = pl.read_csv(io.BytesIO(data), infer_schema=False, columns=wanted)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: not a closed claim table ({exc.__class__.__name__}); run `sob ledger verify`") from exc
    form = r"^-?\d+$" if units == 0 else rf"^-?\d+\.\d{{{units}}}$"
    for name in ("entitled", "due"):
        bad = table.filter(~pl.col(name).fill_null("0").str.contains(form))
        if bad.height:
            raise InputError(f"{path}: {name} {bad[name][0]!r} is not an amount; run `sob ledger verify`")
    return table.with_columns(_money_expr("entitled", units), _money_expr("due", units))


def _quarter_figures(table: pl.DataFrame) -> dict[str, Any]:
    """Per-outcome counts and money, rejections by reason, adjustments and paid participants of one closed table."""
    claims = table.filter(pl.col("kind") != "adjustment")
    per_outcome = (
        claims.group_by("outcome_id")
        .agg(pl.len().alias("rows"), _ACCEPTED.sum().alias("accepted"),
             (pl.col("entitled") > 0).sum().alias("paid"), pl.col("due").sum().alias("due"),
             pl.col("entitled").sum().alias("entitled"))
        .rows(named=True)
    )
    reasons = (
        claims.filter(pl.col("status") == "rejected").group_by("reason").agg(pl.len().alias("rows")).rows()
    )
    adjustments = table.filter(pl.col("kind") == "adjustment")
    participants = claims.filter((pl.col("entitled") > 0) & pl.col("participant_id").is_not_null())
    return {
        "outcomes": {r["outcome_id"] or "": r for r in per_outcome},
        "rejections": {reason or "": int(n) for reason, n in reasons},
        "adjustments": [
            {"id": r["claim_id"], "reason": r.get("note") or "", "entitled": int(r["entitled"]), "due": int(r["due"])}
            for r in adjustments.rows(named=True)
        ],
        "participants_paid": participants.select(pl.col("participant_id").n_unique()).item(),
    }


def _closed_rows(directory: Path, contract: Contract, upto: Quarter | None) -> list[dict[str, Any]]:
    """``ledger.show`` rows of this contract up to ``upto``; an InputError when there is none."""
    rows = [r for r in ledger.show(directory) if r["contract"] == contract.id]
    if upto is not None:
        rows = [r for r in rows if Quarter.parse(r["quarter"]) <= upto]
    if not rows:
        where = f" up to {upto}" if upto is not None else ""
        raise InputError(f"{directory} holds no closed quarter of {contract.id}{where}: close one with "
                         f"`sob pay ... --ledger {directory} --close` first")
    return rows


def build_report(contract: Contract, directory: Path, upto: Quarter | None = None) -> dict[str, Any]:
    """Every figure of the contract report, JSON-ready (``sob report --format json``).

    Quarters run from the contract's first closed quarter to ``upto`` (the
    latest closed quarter when ``None``).
    """
    units = contract.minor_units
    rows = _closed_rows(directory, contract, upto)
    quarters: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    for row in rows:
        where = f"{directory}/{contract.id}/{row['quarter']}.toml"
        fig = _quarter_figures(_read_table(directory, contract.id, row["quarter"], units))
        figures.append(fig)
        quarters.append({
            "quarter": row["quarter"],
            "closed_at": None if row.get("closed_at") is None else str(row["closed_at"]),
            "claims": row.get("claims"),
            "due": _minor(row["due"], units, where),
            "due_by_payer": {p: _minor(v, units, where) for p, v in row["due_by_payer"].items()},
            "paid_to_date": _minor(row["paid_to_date"], units, where),
            "paid_to_date_by_payer": {p: _minor(v, units, where) for p, v in row["paid_to_date_by_payer"].items()},
            "caps": row.get("caps") or {},
            "contract_change": row.get("contract_change"),
            "skipped": list(row.get("skipped") or []),
            "opening": row.get("opening"),
        })
    return _assemble(contract, quarters, figures)


def _outcome_series(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quarter by quarter per outcome: outcomes accepted by the close, new since the close before, money due."""
    money = contract.money
    out = []
    for i, q in enumerate(quarters):
        by_outcome = []
        for o in contract.outcomes:
            now = figures[i]["outcomes"].get(o.id, {})
            before = figures[i - 1]["outcomes"].get(o.id, {}) if i else {}
            accepted = int(now.get("accepted", 0))
            by_outcome.append({"outcome_id": o.id, "accepted_to_date": accepted,
                               "new_accepted": accepted - int(before.get("accepted", 0)),
                               "due": money(int(now.get("due", 0)))})
        adjustments_due = sum(a["due"] for a in figures[i]["adjustments"])
        out.append({
            "quarter": q["quarter"], "closed_at": q["closed_at"], "claims": q["claims"],
            "due": money(q["due"]), "adjustments_due": money(adjustments_due),
            "due_by_payer": {p: money(v) for p, v in q["due_by_payer"].items()},
            "paid_to_date": money(q["paid_to_date"]),
            "by_outcome": by_outcome,
        })
    return out


def _profiles(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cumulative accepted outcomes against the cumulative ``profile``, per outcome that has one."""
    out = []
    for o in contract.outcomes:
        if not o.profile:
            continue
        plan = sorted((Quarter.parse(label), int(n)) for label, n in o.profile)
        series = []
        for i, q in enumerate(quarters):
            at = Quarter.parse(q["quarter"])
            expected = sum(n for pq, n in plan if pq <= at)
            actual = int(figures[i]["outcomes"].get(o.id, {}).get("accepted", 0))
            series.append({"quarter": q["quarter"], "profile_to_date": expected, "actual_to_date": actual,
                           "variance": actual - expected, "variance_percent": percent(actual - expected, expected)})
        out.append({"outcome_id": o.id, "name": o.name, "quarters": series})
    return out


def _span(labels: list[str]) -> int:
    """Quarters of time from the first label to the last: a skipped quarter (SPEC 10.4) still took a quarter."""
    first, last = Quarter.parse(labels[0]), Quarter.parse(labels[-1])
    return (last.year - first.year) * 4 + (last.n - first.n)


def _projection(limit: int, series: list[int], last: Quarter, labels: list[str] | None = None) -> dict[str, Any]:
    """The naive projection of the quarter a cap would bind, at the last four quarters' pace.

    Pace is the rise of cumulative use over the last (up to) four closed
    quarters, divided by the quarters of time they span (``labels``, the
    quarter of each point; their number of closes when not given): a close
    after skipped quarters pays for all of them, and dividing by closes
    would project the cap binding sooner than the money is going.  The cap
    binds in the first quarter whose projected use reaches the limit.  No
    pace (no rise) projects nothing.
    """
    used = series[-1]
    if used >= limit:
        return {"pace_per_quarter": None, "binds_in": "already reached", "quarters_ahead": 0}
    window = series[-(PACE_QUARTERS + 1):]
    steps = len(window) - 1 if labels is None or len(window) < 2 else _span(labels[-len(window):])
    if steps < 1 or window[-1] <= window[0]:
        return {"pace_per_quarter": None, "binds_in": None, "quarters_ahead": None}
    pace = Fraction(window[-1] - window[0], steps)
    ahead = -((used - limit) // pace)  # ceil((limit - used) / pace), exactly
    q = last
    for _ in range(int(ahead)):
        q = q.next()
    return {"pace_per_quarter": pace, "binds_in": str(q), "quarters_ahead": int(ahead)}


def _caps(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cumulative use of each money cap against its limit over time, with the naive projection.

    The contract and outcome caps are the limits each close recorded (paid
    to date from ``ledger show``); a payer's cap is the contract's (SPEC
    11.1), against the payer's paid to date.
    """
    money = contract.money
    units = contract.minor_units
    last = Quarter.parse(quarters[-1]["quarter"])
    caps: dict[str, dict[str, Any]] = {}
    for q in quarters:
        for name, use in q["caps"].items():
            entry = caps.setdefault(name, {"cap": name, "points": []})
            entry["points"].append((q["quarter"], _minor(use["limit"], units, name),
                                    _minor(use["paid_to_date"], units, name)))
    in_force = [_in_force_at(contract, q["quarter"]) for q in quarters]
    for i, p in enumerate(contract.payers):
        points = [(q["quarter"], c.payers[i].cap, q["paid_to_date_by_payer"].get(p.id, 0))
                  for q, c in zip(quarters, in_force, strict=True) if c.payers[i].cap is not None]
        if points:
            caps[f"payer_{p.id}"] = {"cap": f"payer_{p.id}", "points": points}
    out = []
    for entry in caps.values():
        points = entry["points"]
        limit = points[-1][1]
        proj = _projection(limit, [used for _, _, used in points], last, [q for q, _, _ in points])
        pace = proj["pace_per_quarter"]
        out.append({
            "cap": entry["cap"], "limit": money(limit), "used": money(points[-1][2]),
            "headroom": money(limit - points[-1][2]), "used_percent": percent(points[-1][2], limit),
            "quarters": [{"quarter": q, "limit": money(lim), "used": money(used), "used_percent": percent(used, lim)}
                         for q, lim, used in points],
            "projection": {
                "basis": f"naive: the average rise of the last {PACE_QUARTERS} closed quarters (or fewer), continued",
                "pace_per_quarter": None if pace is None else money(round_half_away(pace / 10**units, units)),
                "binds_in": proj["binds_in"], "quarters_ahead": proj["quarters_ahead"],
            },
        })
    return out


def _in_force_at(contract: Contract, label: str) -> Contract:
    """The contract with each dated cap (SPEC 10.5) at its entry in force at the end of quarter ``label``."""
    return contract.in_force(Quarter.parse(label).end(contract.fiscal_year_start_month))


def _volume_caps(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each outcome's ``volume_cap``: claims accepted by each close against the limit in force then.

    A volume cap counts the claims that passed rules 1–10 (SPEC rule 11), so
    its use is the outcome's accepted rows of the closed table (a row capped
    by ``VOLUME_CAP`` is not one).  The ledger records money limits only, so
    the limit is the contract's entry in force at each quarter's end.  The
    projection is the naive one of the money caps, in claims.
    """
    last = Quarter.parse(quarters[-1]["quarter"])
    in_force = [_in_force_at(contract, q["quarter"]) for q in quarters]
    out = []
    for k, o in enumerate(contract.outcomes):
        points = [(q["quarter"], c.outcomes[k].volume_cap, int(figures[i]["outcomes"].get(o.id, {}).get("accepted", 0)))
                  for i, (q, c) in enumerate(zip(quarters, in_force, strict=True)) if c.outcomes[k].volume_cap is not None]
        if not points:
            continue
        limit, used = points[-1][1], points[-1][2]
        assert limit is not None  # points keep quarters with a cap in force
        proj = _projection(limit, [u for _, _, u in points], last, [q for q, _, _ in points])
        pace = proj["pace_per_quarter"]
        out.append({
            "cap": f"volume_{o.id}", "outcome_id": o.id, "limit": limit, "used": used, "headroom": max(limit - used, 0),
            "used_percent": percent(used, limit),
            "quarters": [{"quarter": q, "limit": lim, "used": u, "used_percent": percent(u, lim or 0)}
                         for q, lim, u in points],
            "projection": {
                "basis": f"naive: the average rise of the last {PACE_QUARTERS} closed quarters (or fewer), continued",
                "pace_per_quarter": None if pace is None else format_minor(round_half_away(pace, 1), 1),
                "binds_in": proj["binds_in"], "quarters_ahead": proj["quarters_ahead"],
            },
        })
    return out


def _rejections(quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Rejected rows by reason as at each close, with the catalogue's meaning of each reason."""
    reasons: list[str] = []
    for fig in figures:
        reasons += [r for r in fig["rejections"] if r not in reasons]
    reasons.sort()
    return {
        "reasons": [{"reason": r, "meaning": meaning(r) or ""} for r in reasons],
        "quarters": [{"quarter": q["quarter"], "by_reason": {r: figures[i]["rejections"].get(r, 0) for r in reasons}}
                     for i, q in enumerate(quarters)],
    }


def _life(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Contract changes accepted at closes, skipped quarters, the opening balance and adjustments paid."""
    money = contract.money
    changes = [{"quarter": q["quarter"], **dict(q["contract_change"])} for q in quarters if q["contract_change"]]
    skipped = [{"quarter": q["quarter"], "skipped": q["skipped"]} for q in quarters if q["skipped"]]
    opening = next((q["opening"] for q in quarters if q["opening"]), None)
    adjustments = [
        {"quarter": q["quarter"], "id": a["id"], "reason": a["reason"], "entitled": money(a["entitled"]),
         "due": money(a["due"])}
        for i, q in enumerate(quarters) for a in figures[i]["adjustments"] if a["due"] != 0
    ]
    return {"contract_changes": changes, "skipped": skipped, "opening": opening, "adjustments": adjustments}


def _assemble(contract: Contract, quarters: list[dict[str, Any]], figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The report dict from the per-quarter figures (see :func:`build_report`)."""
    money = contract.money
    last, fig = quarters[-1], figures[-1]
    cap_total = last["caps"].get("total")
    total_limit = _minor(cap_total["limit"], contract.minor_units, "cap_total") if cap_total else None
    accepted = sum(int(v["accepted"]) for k, v in fig["outcomes"].items())
    paid_outcomes = sum(int(v["paid"]) for v in fig["outcomes"].values())
    payer_names = {p.id: p.name for p in contract.payers}
    return {
        "contract": contract.id,
        "name": contract.name,
        "currency": contract.currency,
        "from_quarter": quarters[0]["quarter"],
        "to_quarter": last["quarter"],
        "closed_quarters": len(quarters),
        "headline": {
            "paid_to_date": money(last["paid_to_date"]),
            "paid_to_date_by_payer": [
                {"payer_id": p, "name": payer_names.get(p, ""), "paid_to_date": money(v)}
                for p, v in last["paid_to_date_by_payer"].items()
            ],
            "contract_cap": None if total_limit is None else money(total_limit),
            "contract_cap_used_percent": None if total_limit is None else percent(last["paid_to_date"], total_limit),
            "participants_paid": int(fig["participants_paid"]),
            "outcomes_achieved": accepted,
            "outcomes_paid": paid_outcomes,
        },
        "outcomes": [{"outcome_id": o.id, "name": o.name} for o in contract.outcomes],
        "quarters": _outcome_series(contract, quarters, figures),
        "profile": _profiles(contract, quarters, figures),
        "caps": _caps(contract, quarters, figures),
        "volume_caps": _volume_caps(contract, quarters, figures),
        "rejections": _rejections(quarters, figures),
        **_life(contract, quarters, figures),
    }


__all__ = ["PACE_QUARTERS", "build_report", "percent"]
