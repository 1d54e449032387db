"""Money caps (SPEC 5.5): per participant, per outcome (``amount_cap``) and total.

The spec defines caps sequentially: accepted rows in processing order, each
paid min(price, every headroom) (or all-or-nothing when ``partial = false``),
every headroom then falling by what was paid.  Walking millions of rows in
Python would be slow, so the walk is confined to the rows that can be cut:

* a row is *safe* when, even if every earlier row in each of its cap scopes
  were paid in full, its own full price would still fit under each cap.
  Earlier rows are never paid more than their price, so a safe row's
  headroom is at least its price and it is paid in full — no walk needed;
* only the other rows are walked, in processing order, with headrooms made
  of the (vectorised) sum of the safe rows before them plus what the walk has
  paid so far in the same scope;
* once the contract-wide headroom can fit no remaining price, every later row
  pays nothing; the walk stops and the rest is filled in vectorised.

Payer caps (SPEC 11.1) cut each payer's *part* of a row, so with them the
caps also give every row's parts (``_part_<payer>`` columns).  Until the
first row at which some payer's parts could pass its cap, no payer cap
binds and the parts are the plain split; from that row on everything is
walked, every cap together, in processing order.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sob.contract import Contract
from sob.payers import part_bounds, share_table, split_amounts, split_integers
from sob.rules import CAP_REASONS, REASON, keyed_like

#: the prefix of the parts columns ``apply_caps`` adds when a payer has a cap
PART = "_part_"


def _outcome_caps(contract: Contract) -> dict[str, int]:
    return {o.id: o.amount_cap for o in contract.outcomes if o.amount_cap is not None}


def apply_caps(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Add ``payable`` (Int64) and ``cap_reason`` to every row, sorted in processing order.

    Accepted rows are those with a null ``reason``; the others pay 0.  ``rows``
    needs ``kind``, ``participant_id``, ``outcome_id``, ``price`` and ``_p``
    (the participant key of claims).  Cohort results (``kind == "improvement"``)
    have no participant cap.  When a payer has a cap, every row also gets
    its parts, ``_part_<payer id>`` (SPEC 11.1).
    """
    capped = _money_caps(rows, contract)
    if not contract.has_payer_caps:
        return capped
    return _with_payer_caps(capped, contract)


def _money_caps(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Participant, outcome and contract caps (SPEC 5.5): ``payable`` and ``cap_reason``."""
    caps = contract.caps
    ocaps = _outcome_caps(contract)
    scopes = (caps.per_participant is not None) + bool(ocaps) + (caps.total is not None)
    accepted = pl.col("reason").is_null()
    if scopes == 0:
        return rows.with_columns(
            payable=pl.when(accepted).then(pl.col("price")).otherwise(0), cap_reason=pl.lit(None, REASON)
        )
    if caps.partial and scopes == 1:
        return _one_cap(rows, contract, ocaps)
    mask = rows.select(accepted).to_series()
    picked = rows.select("kind", "participant_id", "outcome_id", "price", "_p").filter(mask)
    capped = _spread(_sequential(picked, contract, ocaps), mask)
    return rows.with_columns(payable=capped["payable"].fill_null(0), cap_reason=capped["cap_reason"])


def _spread(values: pl.DataFrame, mask: pl.Series) -> pl.DataFrame:
    """``values`` (one row per true entry of ``mask``) at those entries, nulls elsewhere."""
    at = pl.select(pl.when(mask).then(mask.cum_sum() - 1)).to_series()
    return values.select(pl.all().gather(at))


def _group_order(keys: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Row positions sorted by (key, row), and whether each starts its key's run in that order.

    A hash window over millions of small groups (participants) is slow.
    One sort of (key, row) packed into a UInt64 brings each group's rows
    together in row order instead.  ``keys`` must fit in 32 bits, like row
    numbers.
    """
    packed = pl.select((keys.cast(pl.UInt64) * 2**32 + pl.int_range(keys.len(), dtype=pl.UInt64)).sort()).to_series()
    key = packed // 2**32
    return (packed % 2**32).cast(pl.UInt32), (key != key.shift(1)).fill_null(True)


def _running_in_groups(values: pl.Series, starts: pl.Series) -> pl.Series:
    """Inclusive running sums of ``values`` (in group order) that restart where ``starts`` is true.

    One cum_sum over all rows, minus its value just before the group's first row.
    """
    total = values.cum_sum()
    return total - pl.select(pl.when(starts).then(total - values).forward_fill()).to_series()


def _running_totals(keys: pl.Series, values: pl.DataFrame) -> pl.DataFrame:
    """Inclusive running sums of ``values`` within each key, in row order."""
    rows, starts = _group_order(keys)
    zeros = pl.zeros(keys.len(), pl.Int64, eager=True)
    return pl.DataFrame(
        [zeros.scatter(rows, _running_in_groups(values[c].gather(rows), starts)).alias(c) for c in values.columns]
    )


def _outcome_key(contract: Contract) -> pl.Expr:
    """The outcome's position on the rate card (0 for an unknown id, which has no cap anyway)."""
    ids = [o.id for o in contract.outcomes]
    return pl.col("outcome_id").cast(pl.Enum(ids), strict=False).to_physical().cast(pl.UInt32).fill_null(0)


def _one_cap(rows: pl.DataFrame, contract: Contract, ocaps: dict[str, int]) -> pl.DataFrame:
    """A single kind of cap with ``partial = true`` has a closed form.

    Cutting each row to the headroom makes the amount paid so far within a
    scope min(limit, full-price running total), so a row's payable is the
    difference of that clipped running total before and after it.  Prices
    are never negative, so a scope whose total stays under its limit pays
    every row in full by the same formula.
    """
    caps = contract.caps
    price = pl.when(pl.col("reason").is_null()).then(pl.col("price")).otherwise(0)
    per_row_limit = None  # a cap per outcome varies by row; the other two are one number
    if caps.per_participant is not None:
        applies = pl.col("kind") == "claim"
        limit: pl.Expr = pl.lit(caps.per_participant, pl.Int64)
        key = pl.col("_p").fill_null(0)
        code = "PARTICIPANT_CAP"
    elif ocaps:
        per_row_limit = pl.col("outcome_id").replace_strict(ocaps, default=None, return_dtype=pl.Int64)
        limit = pl.col("_limit")
        applies = per_row_limit.is_not_null()
        key = _outcome_key(contract)
        code = "OUTCOME_CAP"
    else:
        applies = pl.lit(True)
        limit = pl.lit(caps.total, pl.Int64)
        key = pl.lit(0, pl.UInt32)
        code = "CONTRACT_CAP"
    limits = [] if per_row_limit is None else [per_row_limit.alias("_limit")]
    counted = pl.when(applies).then(price).otherwise(0)
    at, scoped = _scopes_over(rows.lazy().select(*limits, _counted=counted, _key=key).collect(), limit)
    # In group order: each row's clipped payable; only the rows it cuts go back.
    order, starts = _group_order(scoped["_key"])
    grouped = scoped.drop("_key")[order]
    running = _running_in_groups(grouped["_counted"], starts)
    clipped = pl.min_horizontal(limit, "_running") - pl.min_horizontal(limit, pl.col("_running") - pl.col("_counted"))
    cut = (
        grouped.with_columns(_running=running, _row=order if at is None else at.gather(order))
        .select("_row", "_counted", _payable=clipped)
        .filter(pl.col("_payable") < pl.col("_counted"))
    )
    # the prices are computed only now, so they are not held beside the scope totals (the peak at 10M)
    payable = rows.select(price).to_series().scatter(cut["_row"], cut["_payable"])
    reason = pl.repeat(None, rows.height, dtype=REASON, eager=True).scatter(cut["_row"], code)
    return rows.with_columns(payable=payable, cap_reason=reason)


def _scopes_over(frame: pl.DataFrame, limit: pl.Expr) -> tuple[pl.Series | None, pl.DataFrame]:
    """The rows whose scope (``_key``) counts more than its limit in full: their positions and ``frame``'s rows.

    A scope whose full-price total stays within its limit pays every row in
    full, so only the others need their rows put in order and walked: on
    millions of claims with a per-participant cap, most participants never
    reach it, and one aggregation is cheaper than sorting every row.
    Positions are ``None`` when every row is kept.
    """
    over = (
        frame.lazy()
        .group_by("_key")
        .agg(pl.col("_counted").sum(), *([pl.col("_limit").first()] if "_limit" in frame.columns else []))
        .filter(pl.col("_counted") > limit)
        .select("_key")
        .collect()["_key"]
    )
    kept = frame.lazy().with_row_index("_at").filter(pl.col("_key").is_in(over.implode())).collect()
    if kept.height == frame.height:
        return None, frame
    return kept["_at"], kept.drop("_at")


def _sequential(rows: pl.DataFrame, contract: Contract, ocaps: dict[str, int]) -> pl.DataFrame:
    """Several kinds of cap, or all-or-nothing caps: the safe rows, then the walk.

    Returns ``payable`` and ``cap_reason``, one row per row of ``rows``.
    """
    caps = contract.caps
    price = pl.col("price")

    is_claim = pl.col("kind") == "claim"
    pcap = caps.per_participant
    ocap = pl.col("outcome_id").replace_strict(ocaps, default=None, return_dtype=pl.Int64)
    rows = rows.with_columns(_ocap=ocap, _pkey=pl.col("_p").fill_null(0), _okey=_outcome_key(contract))

    def running(key: str, value: pl.Expr) -> pl.Series:
        """Inclusive running total of ``value`` within ``key``, in processing order."""
        return _running_totals(rows[key], rows.select(value)).to_series()

    def before(key: str, value: pl.Expr) -> pl.Series:
        """What ``value`` summed to over the earlier rows of the same ``key``."""
        return running(key, value) - rows.select(value).to_series()

    # Full-price cumulative sums (inclusive) per scope decide which rows are safe.
    fits = pl.lit(True)
    if pcap is not None:
        rows = rows.with_columns(_run_p=running("_pkey", pl.when(is_claim).then(price).otherwise(0)))
        fits = fits & (~is_claim | (pl.col("_run_p") <= pcap))
    if ocaps:
        rows = rows.with_columns(_run_o=running("_okey", price))
        fits = fits & (pl.col("_ocap").is_null() | (pl.col("_run_o") <= pl.col("_ocap")))
    if caps.total is not None:
        fits = fits & (price.cum_sum() <= caps.total)
    rows = rows.with_columns(_safe=fits | (price == 0))

    if rows["_safe"].all():
        return rows.select(payable=price, cap_reason=pl.lit(None, REASON))

    # What the safe rows before each row used, per scope (exclusive cumulative sums).
    safe_price = pl.when(pl.col("_safe")).then(price).otherwise(0)
    zero = pl.lit(0, pl.Int64)
    rows = rows.with_columns(
        _safe_p=before("_pkey", pl.when(is_claim).then(safe_price).otherwise(0)) if pcap is not None else zero,
        _safe_o=before("_okey", safe_price) if ocaps else zero,
        _safe_t=safe_price.cum_sum() - safe_price if caps.total is not None else zero,
    )
    unsafe_mask = ~rows["_safe"]
    payable, reasons = _walk(rows.filter(unsafe_mask), contract, ocaps)
    walked = _spread(
        pl.DataFrame({"_payable_w": payable, "_reason_w": reasons}, schema={"_payable_w": pl.Int64, "_reason_w": REASON}),
        unsafe_mask,
    )
    return rows.hstack(walked).select(
        payable=pl.when(pl.col("_safe")).then(price).otherwise(pl.col("_payable_w")),
        cap_reason=pl.when(pl.col("_safe")).then(None).otherwise(pl.col("_reason_w")),
    )


def _walk(unsafe: pl.DataFrame, contract: Contract, ocaps: dict[str, int]) -> tuple[list[int], list[str | None]]:
    """The sequential definition of SPEC 5.5, over the rows that may be cut.

    This is the one loop over claims in ``sob``: caps interact (a row cut by
    one cap uses less of the others), so the order matters.  It only sees
    rows whose scope could overflow, and it stops as soon as the contract
    headroom can fit no remaining price.
    """
    caps = contract.caps
    partial = caps.partial
    pcap, tcap = caps.per_participant, caps.total
    kinds = unsafe["kind"].to_list()
    parts = unsafe["participant_id"].to_list()
    outs = unsafe["outcome_id"].to_list()
    prices = unsafe["price"].to_list()
    safe_p = unsafe["_safe_p"].to_list()
    safe_o = unsafe["_safe_o"].to_list()
    safe_t = unsafe["_safe_t"].to_list()
    n = len(prices)
    # Smallest positive price from each row on: when the contract headroom is
    # below it, nothing later can be paid.
    suffix_min = [0] * (n + 1)
    smallest = None
    for i in range(n - 1, -1, -1):
        if prices[i] > 0 and (smallest is None or prices[i] < smallest):
            smallest = prices[i]
        suffix_min[i] = smallest if smallest is not None else 0
    used_p: dict[str, int] = {}
    used_o: dict[str, int] = {}
    used_t = 0
    payable: list[int] = []
    reasons: list[str | None] = []
    for i in range(n):
        price = prices[i]
        rooms: list[tuple[int, int]] = []  # (headroom, reason index)
        if pcap is not None and kinds[i] == "claim":
            rooms.append((pcap - safe_p[i] - used_p.get(parts[i], 0), 0))
        limit = ocaps.get(outs[i])
        if limit is not None:
            rooms.append((limit - safe_o[i] - used_o.get(outs[i], 0), 1))
        if tcap is not None:
            total_room = tcap - safe_t[i] - used_t
            if price > 0 and (total_room == 0 or (not partial and total_room < suffix_min[i])):
                # No safe row with a price can follow (its full cumulative
                # total would exceed the cap), and no unsafe row fits.
                tail_p, tail_r = _fill_dead(unsafe, i, contract, ocaps, used_p, used_o, tcap - safe_t[i] - used_t)
                return payable + tail_p, reasons + tail_r
            rooms.append((total_room, 2))
        room = min(r for r, _ in rooms) if rooms else price
        pay = min(price, room) if partial else (price if price <= room else 0)
        pay = max(pay, 0)
        payable.append(pay)
        if pay < price:
            reasons.append(CAP_REASONS[min(rooms)[1]])
        else:
            reasons.append(None)
        if pay:
            if pcap is not None and kinds[i] == "claim":
                used_p[parts[i]] = used_p.get(parts[i], 0) + pay
            if limit is not None:
                used_o[outs[i]] = used_o.get(outs[i], 0) + pay
            used_t += pay
    return payable, reasons


def _fill_dead(
    unsafe: pl.DataFrame,
    start: int,
    contract: Contract,
    ocaps: dict[str, int],
    used_p: dict[str, int],
    used_o: dict[str, int],
    total_room: int,
) -> tuple[list[int], list[str | None]]:
    """Rows from ``start`` on pay nothing (price 0 rows are paid 0); reasons vectorised.

    Headrooms are frozen from here, so each row's reason is the smallest of
    its frozen headrooms, ties in the order participant, outcome, contract.
    """
    caps = contract.caps
    tail = unsafe.slice(start)
    used_p_frame = pl.DataFrame(
        {"participant_id": list(used_p), "_used_p": list(used_p.values())},
        schema={"participant_id": pl.String, "_used_p": pl.Int64},
    )
    used_o_frame = pl.DataFrame(
        {"outcome_id": list(used_o), "_used_o": list(used_o.values())},
        schema={"outcome_id": pl.String, "_used_o": pl.Int64},
    )
    tail = tail.join(
        keyed_like(used_p_frame, tail, ["participant_id"]), on="participant_id", how="left", maintain_order="left"
    ).join(keyed_like(used_o_frame, tail, ["outcome_id"]), on="outcome_id", how="left", maintain_order="left")
    big = pl.lit(None, pl.Int64)
    hp = (
        pl.when(pl.col("kind") == "claim").then(caps.per_participant - pl.col("_safe_p") - pl.col("_used_p").fill_null(0)).otherwise(big)
        if caps.per_participant is not None
        else big
    )
    ho = pl.col("_ocap") - pl.col("_safe_o") - pl.col("_used_o").fill_null(0)
    ht = pl.lit(total_room, pl.Int64)
    tail = tail.with_columns(_hp=hp, _ho=ho, _ht=ht)
    smallest = pl.min_horizontal("_hp", "_ho", "_ht")
    reason = (
        pl.when(pl.col("price") == 0)
        .then(None)
        .when(pl.col("_hp") == smallest)
        .then(pl.lit("PARTICIPANT_CAP"))
        .when(pl.col("_ho") == smallest)
        .then(pl.lit("OUTCOME_CAP"))
        .otherwise(pl.lit("CONTRACT_CAP"))
    )
    tail = tail.select(reason.alias("r"))
    n = tail.height
    return [0] * n, tail["r"].to_list()


# --- payer caps (SPEC 11.1) ------------------------------------------------------------------


def _with_payer_caps(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Add the parts per payer, and redo the walk from the first row where a payer cap may bind.

    ``rows`` already has ``payable`` and ``cap_reason`` under the other caps.
    A row's result depends only on the rows before it, so the rows before
    the first one whose payer could pass its cap (counting each earlier part
    at its largest possible value) keep them, with the plain split as parts;
    the walk starts there, from the amounts those rows used.
    """
    names = [f"{PART}{pid}" for pid in contract.payer_ids]
    rows = split_amounts(rows, contract, "payable", PART)
    start = _first_binding_row(rows, contract)
    if start is None:
        return rows
    head, tail = rows.slice(0, start), rows.slice(start)
    payable, reasons, parts = _payer_walk(tail, contract, _used_before(head, contract, names))
    walked = pl.DataFrame(
        {"payable": payable, "cap_reason": reasons} | {n: [p[i] for p in parts] for i, n in enumerate(names)},
        schema={"payable": pl.Int64, "cap_reason": REASON, **dict.fromkeys(names, pl.Int64)},
    )
    tail = tail.with_columns(walked.get_columns())
    return pl.concat([head, tail], how="vertical")


def _first_binding_row(rows: pl.DataFrame, contract: Contract) -> int | None:
    """The first row at which some capped payer's parts, each at its largest possible, pass its cap.

    A part of a row is at most ceil(price × share) while no payer shifts
    anything (a shift needs a payer cap to bind first), so before this row
    no payer cap can bind.  ``None`` when none can bind at all.
    """
    price = rows.select(pl.when(pl.col("reason").is_null()).then(pl.col("price")).otherwise(0).alias("_price"))
    price = price.with_columns(rows["outcome_id"])
    first: int | None = None
    for i, payer in enumerate(contract.payers):
        if payer.cap is None:
            continue
        bound = part_bounds(price, contract, "_price", i)
        if bound is None:  # products too large for 64 bits: walk every row
            return 0
        over = (bound.cum_sum() > payer.cap).arg_true()
        if over.len() and (first is None or over[0] < first):
            first = int(over[0])
    return first


@dataclass
class _Used:
    """What has been paid so far within each cap's scope (minor units)."""

    participant: dict[str, int]
    outcome: dict[str, int]
    total: int
    payers: list[int]


def _used_before(head: pl.DataFrame, contract: Contract, names: list[str]) -> _Used:
    """What the rows before the walk used of every cap: per participant, per outcome, in all, per payer."""
    claims = head.filter(pl.col("kind") == "claim")
    per_participant = claims.group_by("participant_id").agg(pl.col("payable").sum()).rows()
    per_outcome = head.group_by(pl.col("outcome_id").cast(pl.String)).agg(pl.col("payable").sum()).rows()
    sums = head.select(pl.col("payable").sum(), *[pl.col(n).sum() for n in names]).row(0)
    return _Used({k: int(v) for k, v in per_participant}, {k: int(v) for k, v in per_outcome},
                 int(sums[0] or 0), [int(v or 0) for v in sums[1:]])


def _payer_walk(
    tail: pl.DataFrame, contract: Contract, used: _Used
) -> tuple[list[int], list[str | None], list[list[int]]]:
    """SPEC 5.5 with 11.1, row by row: the amount A under the other caps, then each payer's part.

    A is cut to every headroom as in 5.5; its split is then cut payer by
    payer (:func:`payer_parts`), and the other headrooms fall by what was
    actually paid, so the contract cap counts only money paid.
    """
    caps = contract.caps
    ocaps = _outcome_caps(contract)
    denominator, numerators, default = share_table(contract)
    limits = [p.cap for p in contract.payers]
    shifts = [p.on_cap == "shift" for p in contract.payers]
    used_p, used_o, used_t, used_pay = used.participant, used.outcome, used.total, used.payers
    payable: list[int] = []
    reasons: list[str | None] = []
    parts_out: list[list[int]] = []
    zero = [0] * len(limits)
    columns = ("kind", "participant_id", "outcome_id", "price", "reason")
    for kind, person, outcome, price, rejected in tail.select(columns).iter_rows():
        if rejected is not None:
            payable.append(0)
            reasons.append(None)
            parts_out.append(zero)
            continue
        outcome = str(outcome)
        rooms: list[tuple[int, int]] = []
        if caps.per_participant is not None and kind == "claim":
            rooms.append((caps.per_participant - used_p.get(person, 0), 0))
        if outcome in ocaps:
            rooms.append((ocaps[outcome] - used_o.get(outcome, 0), 1))
        if caps.total is not None:
            rooms.append((caps.total - used_t, 2))
        room = min((r for r, _ in rooms), default=price)
        amount = max(min(price, room) if caps.partial else (price if price <= room else 0), 0)
        reason = CAP_REASONS[min(rooms)[1]] if amount < price else None
        heads = [None if c is None else c - u for c, u in zip(limits, used_pay)]
        parts = payer_parts(amount, numerators.get(outcome, default), denominator, heads, shifts)
        paid = sum(parts)
        if paid < amount:
            reason = reason or "PAYER_CAP"
            if not caps.partial:  # all or nothing: the claim is paid nothing and uses no headroom
                paid, parts = 0, zero
        payable.append(paid)
        reasons.append(reason)
        parts_out.append(parts)
        if paid:
            if kind == "claim":
                used_p[person] = used_p.get(person, 0) + paid
            used_o[outcome] = used_o.get(outcome, 0) + paid
            used_t += paid
            used_pay = [u + x for u, x in zip(used_pay, parts)]
    return payable, reasons, parts_out


def payer_parts(amount: int, numerators: list[int], denominator: int, headrooms: list[int | None],
                shifts: list[bool]) -> list[int]:
    """Steps 1 and 2 of SPEC 11.1: split ``amount``, then cut the parts to the payers' headrooms.

    Round after round, every payer whose part exceeds its headroom is set to
    it (0 when below zero) and fixed; the excesses of the ``shift`` payers
    fixed in the round are split once, in proportion to the shares of the
    payers of the claim not yet fixed, and added to their parts.  A ``cut``
    payer's excess, and any excess with nobody left to take it, is dropped.
    ``headrooms[i]`` is None for a payer without a cap.
    """
    parts = split_integers(amount, numerators, denominator)
    ours = [i for i, n in enumerate(numerators) if n > 0]
    fixed: set[int] = set()
    while True:
        over = [i for i in ours if i not in fixed and (room := headrooms[i]) is not None and parts[i] > room]
        if not over:
            return parts
        excess = 0
        for i in over:
            room = max(headrooms[i] or 0, 0)
            if shifts[i]:
                excess += parts[i] - room
            parts[i] = room
            fixed.add(i)
        free = [i for i in ours if i not in fixed]
        if excess and free:
            added = split_integers(excess, [numerators[i] for i in free], sum(numerators[i] for i in free))
            for i, extra in zip(free, added):
                parts[i] += extra
