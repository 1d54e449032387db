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
"""

from __future__ import annotations

import polars as pl

from sob.contract import Contract

_REASONS = ("PARTICIPANT_CAP", "OUTCOME_CAP", "CONTRACT_CAP")


def _outcome_caps(contract: Contract) -> dict[str, int]:
    return {o.id: o.amount_cap for o in contract.outcomes if o.amount_cap is not None}


def apply_caps(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Add ``payable`` (Int64) and ``cap_reason`` to every row, sorted in processing order.

    Accepted rows are those with a null ``reason``; the others pay 0.  ``rows``
    needs ``_order``, ``kind``, ``participant_id``, ``outcome_id`` and
    ``price``.  Cohort results (``kind == "improvement"``) have no
    participant cap.
    """
    caps = contract.caps
    ocaps = _outcome_caps(contract)
    scopes = (caps.per_participant is not None) + bool(ocaps) + (caps.total is not None)
    accepted = pl.col("reason").is_null()
    if scopes == 0:
        return rows.with_columns(
            payable=pl.when(accepted).then(pl.col("price")).otherwise(0), cap_reason=pl.lit(None, pl.String)
        )
    if caps.partial and scopes == 1:
        return _one_cap(rows, contract, ocaps)
    picked = rows.filter(accepted).select("_order", "kind", "participant_id", "outcome_id", "price")
    capped = _sequential(picked, contract, ocaps)
    return rows.join(capped, on="_order", how="left", maintain_order="left").with_columns(pl.col("payable").fill_null(0))


def _one_cap(rows: pl.DataFrame, contract: Contract, ocaps: dict[str, int]) -> pl.DataFrame:
    """A single kind of cap with ``partial = true`` has a closed form.

    Cutting each row to the headroom makes the amount paid so far within a
    scope min(limit, full-price running total), so a row's payable is the
    difference of that clipped running total before and after it.
    """
    caps = contract.caps
    price = pl.when(pl.col("reason").is_null()).then(pl.col("price")).otherwise(0)
    if caps.per_participant is not None:
        applies = pl.col("kind") == "claim"
        limit: pl.Expr = pl.lit(caps.per_participant, pl.Int64)
        scope_keys = ["participant_id"]
        code = "PARTICIPANT_CAP"
    elif ocaps:
        limit = pl.col("outcome_id").replace_strict(ocaps, default=None, return_dtype=pl.Int64)
        applies = limit.is_not_null()
        scope_keys = ["outcome_id"]
        code = "OUTCOME_CAP"
    else:
        applies = pl.lit(True)
        limit = pl.lit(caps.total, pl.Int64)
        scope_keys = []
        code = "CONTRACT_CAP"
    total = pl.col("_price0").sum().over(scope_keys) if scope_keys else pl.col("_price0").sum()
    rows = rows.with_columns(_price0=price, _limit=limit, _applies=applies)
    # Only scopes whose whole total exceeds the limit can cut anything; the
    # running totals (a window per scope) are computed for those rows alone.
    at_risk = pl.col("_applies") & (total > pl.col("_limit"))
    risky = rows.filter(at_risk).select("_order", *scope_keys, "_price0", "_limit")
    if risky.height == 0:
        return rows.with_columns(payable=pl.col("_price0"), cap_reason=pl.lit(None, pl.String)).drop(
            "_price0", "_limit", "_applies"
        )
    running = pl.col("_price0").cum_sum().over(scope_keys) if scope_keys else pl.col("_price0").cum_sum()
    clipped = pl.min_horizontal("_limit", "_running") - pl.min_horizontal("_limit", pl.col("_running") - pl.col("_price0"))
    risky = risky.with_columns(_running=running).select("_order", _cut=clipped)
    rows = rows.join(risky, on="_order", how="left", maintain_order="left")
    rows = rows.with_columns(payable=pl.coalesce("_cut", "_price0"))
    return rows.with_columns(
        cap_reason=pl.when(pl.col("payable") < pl.col("_price0")).then(pl.lit(code)).otherwise(pl.lit(None, pl.String))
    ).drop("_price0", "_limit", "_applies", "_cut")


def _sequential(rows: pl.DataFrame, contract: Contract, ocaps: dict[str, int]) -> pl.DataFrame:
    """Several kinds of cap, or all-or-nothing caps: the safe rows, then the walk."""
    caps = contract.caps
    price = pl.col("price")

    is_claim = pl.col("kind") == "claim"
    pcap = caps.per_participant
    ocap = pl.col("outcome_id").replace_strict(ocaps, default=None, return_dtype=pl.Int64)
    rows = rows.with_columns(_ocap=ocap)

    # Full-price cumulative sums (inclusive) per scope decide which rows are safe.
    fits = pl.lit(True)
    if pcap is not None:
        fits = fits & (~is_claim | (price.cum_sum().over("participant_id") <= pcap))
    if ocaps:
        fits = fits & (pl.col("_ocap").is_null() | (price.cum_sum().over("outcome_id") <= pl.col("_ocap")))
    if caps.total is not None:
        fits = fits & (price.cum_sum() <= caps.total)
    rows = rows.with_columns(_safe=fits | (price == 0))

    if rows["_safe"].all():
        return rows.select("_order", payable=price, cap_reason=pl.lit(None, pl.String))

    # What the safe rows before each row used, per scope (exclusive cumulative sums).
    safe_price = pl.when(pl.col("_safe")).then(price).otherwise(0)
    before = safe_price.cum_sum() - safe_price
    rows = rows.with_columns(
        _safe_p=before.over("participant_id") if pcap is not None else pl.lit(0, pl.Int64),
        _safe_o=before.over("outcome_id") if ocaps else pl.lit(0, pl.Int64),
        _safe_t=before if caps.total is not None else pl.lit(0, pl.Int64),
    )
    unsafe = rows.filter(~pl.col("_safe"))
    payable, reasons = _walk(unsafe, contract, ocaps)
    walked = unsafe.select("_order").with_columns(
        _payable_w=pl.Series(payable, dtype=pl.Int64), _reason_w=pl.Series(reasons, dtype=pl.String)
    )
    rows = rows.join(walked, on="_order", how="left", maintain_order="left")
    return rows.select(
        "_order",
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
            reasons.append(_REASONS[min(rooms)[1]])
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
    tail = tail.join(used_p_frame, on="participant_id", how="left", maintain_order="left").join(
        used_o_frame, on="outcome_id", how="left", maintain_order="left"
    )
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
