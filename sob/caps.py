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

Adjustments (SPEC 10.6) are never cut and count against the total cap
(a negative one gives headroom back), so with them a total cap takes the
walk, adjustments are safe rows, and a negative one turns off the stop.

Payer caps (SPEC 11.1) cut each payer's *part* of a row, so with them the
caps also give every row's parts (``_part_<payer>`` columns).  Until the
first row at which some payer's parts could pass its cap, no payer cap
binds and the parts are the plain split.  From that row on the rows go in
regimes over which the set of exhausted payers is fixed (see
:func:`_payer_walk`): parts come from one split per distinct amount, and
only the rows where that set may change are walked one at a time.  When
only the participant cap can still cut a row (every capped payer exhausted
and ``cut``, no total or outcome cap), the claims it may cut are settled
rank by rank per participant, vectorised, instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sob.contract import Contract
from sob.payers import (
    adjustment_numerators,
    part_bounds,
    share_table,
    signed_split,
    split_amounts,
    split_integers,
)
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
    if caps.partial and scopes == 1 and not (caps.total is not None and _has_adjustments(rows, contract)):
        return _one_cap(rows, contract, ocaps)
    mask = rows.select(accepted).to_series()
    picked = rows.select("kind", "participant_id", "outcome_id", "price", "_p").filter(mask)
    capped = _spread(_sequential(picked, contract, ocaps), mask)
    return rows.with_columns(payable=capped["payable"].fill_null(0), cap_reason=capped["cap_reason"])


def _has_adjustments(rows: pl.DataFrame, contract: Contract) -> bool:
    """Some row is an adjustment (SPEC 10.6): signed, never cut, counted against the total cap.

    The closed form of a total cap needs prices that are never negative
    and all cuttable, so with adjustments the total cap takes the walk.
    """
    return bool(contract.adjustments) and bool(rows.select((pl.col("kind") == "adjustment").any()).item())


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
    """The outcome's position on the rate card; one past the last for no outcome (adjustments) or an unknown id.

    Rows without an outcome must not share the first outcome's key: a
    scope's limit is read from its first row.
    """
    ids = [o.id for o in contract.outcomes]
    return pl.col("outcome_id").cast(pl.Enum(ids), strict=False).to_physical().cast(pl.UInt32).fill_null(len(ids))


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
    capped_outcome = pl.col("_ocap").is_not_null()  # adjustments have no outcome: outcome caps ignore them
    if ocaps:
        rows = rows.with_columns(_run_o=running("_okey", pl.when(capped_outcome).then(price).otherwise(0)))
        fits = fits & (pl.col("_ocap").is_null() | (pl.col("_run_o") <= pl.col("_ocap")))
    if caps.total is not None:
        fits = fits & (price.cum_sum() <= caps.total)
    # An adjustment is never cut (SPEC 10.6): paid its amount like a safe row.  Earlier rows are paid at
    # most their price (an adjustment exactly), so the full-price sums still bound what was used.
    rows = rows.with_columns(_safe=fits | (price == 0) | (pl.col("kind") == "adjustment"))

    if rows["_safe"].all():
        return rows.select(payable=price, cap_reason=pl.lit(None, REASON))

    # What the safe rows before each row used, per scope (exclusive cumulative sums).
    safe_price = pl.when(pl.col("_safe")).then(price).otherwise(0)
    zero = pl.lit(0, pl.Int64)
    rows = rows.with_columns(
        _safe_p=before("_pkey", pl.when(is_claim).then(safe_price).otherwise(0)) if pcap is not None else zero,
        _safe_o=before("_okey", pl.when(capped_outcome).then(safe_price).otherwise(0)) if ocaps else zero,
        _safe_t=safe_price.cum_sum() - safe_price if caps.total is not None else zero,
    )
    unsafe_mask = ~rows["_safe"]
    # a negative adjustment gives contract headroom back, so an exhausted total is not the end
    gives_back = bool(rows.select((price < 0).any()).item())
    payable, reasons = _walk(rows.filter(unsafe_mask), contract, ocaps, dead_end=not gives_back)
    walked = _spread(
        pl.DataFrame({"_payable_w": payable, "_reason_w": reasons}, schema={"_payable_w": pl.Int64, "_reason_w": REASON}),
        unsafe_mask,
    )
    return rows.hstack(walked).select(
        payable=pl.when(pl.col("_safe")).then(price).otherwise(pl.col("_payable_w")),
        cap_reason=pl.when(pl.col("_safe")).then(None).otherwise(pl.col("_reason_w")),
    )


def _walk(
    unsafe: pl.DataFrame, contract: Contract, ocaps: dict[str, int], dead_end: bool = True
) -> tuple[list[int], list[str | None]]:
    """The sequential definition of SPEC 5.5, over the rows that may be cut.

    This is the one loop over claims in ``sob``: caps interact (a row cut by
    one cap uses less of the others), so the order matters.  It only sees
    rows whose scope could overflow, and it stops as soon as the contract
    headroom can fit no remaining price (``dead_end``: no later row can give
    headroom back, true unless some adjustment is negative).
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
            rooms.append((max(pcap - safe_p[i] - used_p.get(parts[i], 0), 0), 0))
        limit = ocaps.get(outs[i])
        if limit is not None:
            rooms.append((max(limit - safe_o[i] - used_o.get(outs[i], 0), 0), 1))
        if tcap is not None:
            total_room = tcap - safe_t[i] - used_t
            if dead_end and price > 0 and (total_room <= 0 or (not partial and total_room < suffix_min[i])):
                # No safe row with a price can follow (its full cumulative
                # total would exceed the cap), and no unsafe row fits.
                tail_p, tail_r = _fill_dead(unsafe, i, contract, ocaps, used_p, used_o, tcap - safe_t[i] - used_t)
                return payable + tail_p, reasons + tail_r
            rooms.append((max(total_room, 0), 2))  # below zero after an adjustment: counts as zero
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
    ht = pl.lit(max(total_room, 0), pl.Int64)  # below zero after an adjustment: counts as zero (SPEC 10.6)
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
    at its largest possible value), and before the first adjustment, keep
    them, with the plain split as parts; the walk starts there, from the
    amounts those rows used.
    """
    names = [f"{PART}{pid}" for pid in contract.payer_ids]
    rows = split_amounts(rows, contract, "payable", PART)
    start = _first_binding_row(rows, contract)
    if contract.adjustments:
        adjusted = rows.select((pl.col("kind") == "adjustment").fill_null(False).arg_true()).to_series()
        if adjusted.len() and (start is None or adjusted[0] < start):
            start = int(adjusted[0])
    if start is None:
        return rows
    head, tail = rows.slice(0, start), rows.slice(start)
    settled = _payer_walk(tail, head, rows, contract, _used_before(head, contract, names))
    return pl.concat([head, tail.with_columns(settled.get_columns())], how="vertical")


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
    """What has been paid so far within each cap's scope (minor units).

    Per participant and per outcome the amounts may still be ``pending``
    as two frames (``_person``/``_o`` and ``_u``): hundreds of thousands of
    participants make a dict slow to build, and only the one-row-at-a-time
    walk needs one (:meth:`dicts`).
    """

    participant: dict[str, int]
    outcome: dict[str, int]
    total: int
    payers: list[int]
    pending: tuple[pl.DataFrame, pl.DataFrame] | None = None

    def dicts(self) -> None:
        """Turn pending amounts into the dicts the walk updates."""
        if self.pending is not None:
            people, outcomes = self.pending
            self.participant = dict(zip(people["_person"].to_list(), people["_u"].to_list()))
            self.outcome = dict(zip(outcomes["_o"].to_list(), outcomes["_u"].to_list()))
            self.pending = None

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The amounts per participant and per outcome as frames."""
        if self.pending is not None:
            return self.pending
        schema = {"_u": pl.Int64}
        return (pl.DataFrame({"_person": list(self.participant), "_u": list(self.participant.values())},
                             schema={"_person": pl.String, **schema}),
                pl.DataFrame({"_o": list(self.outcome), "_u": list(self.outcome.values())},
                             schema={"_o": pl.String, **schema}))


def _tallies(paid: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What ``paid`` (kind, participant_id, outcome_id, payable) paid per participant (claims) and per outcome."""
    people = (paid.filter(pl.col("kind") == "claim").group_by(_person=pl.col("participant_id").cast(pl.String))
              .agg(_u=pl.col("payable").sum()))
    outcomes = paid.group_by(_o=pl.col("outcome_id").cast(pl.String)).agg(_u=pl.col("payable").sum())
    return people, outcomes


def _used_before(head: pl.DataFrame, contract: Contract, names: list[str]) -> _Used:
    """What the rows before the walk used in all and per payer.

    The amounts per participant and outcome are left out: the walk starts
    with the money caps' own amounts (see :func:`_payer_walk`), and when the
    history diverges it sums them afresh over these rows and the walked ones.
    """
    sums = head.select(pl.col("payable").sum(), *[pl.col(n).sum() for n in names]).row(0)
    return _Used({}, {}, int(sums[0] or 0), [int(v or 0) for v in sums[1:]])


def _walked_rows(rows: pl.DataFrame, contract: Contract) -> pl.Series:
    """The rows the payer walk takes one at a time: adjustments, and accepted rows a money cap may cut.

    As in :func:`_sequential`, a row whose full price fits every money cap
    even if every earlier row had been paid in full is paid its full price
    under those caps: payer caps only ever pay earlier claims less, and an
    adjustment pays exactly its amount.  For such a row the amount A of
    SPEC 11.1 is its price, and only its split depends on the payers.
    """
    caps = contract.caps
    ocaps = _outcome_caps(contract)
    accepted = pl.col("reason").is_null()
    price = pl.when(accepted).then(pl.col("price")).otherwise(0)
    is_claim = pl.col("kind") == "claim"
    frame = rows.select(
        _a=price, _claim=is_claim.fill_null(False), _pkey=pl.col("_p").fill_null(0),
        _okey=_outcome_key(contract),
        _ocap=pl.col("outcome_id").cast(pl.String).replace_strict(ocaps, default=None, return_dtype=pl.Int64),
        _adj=(pl.col("kind") == "adjustment").fill_null(False),
    )
    fits = pl.lit(True)
    if caps.per_participant is not None:
        run = _running_totals(frame["_pkey"], frame.select(pl.when("_claim").then("_a").otherwise(0))).to_series()
        fits = fits & (~pl.col("_claim") | (run <= caps.per_participant))
    if ocaps:
        run = _running_totals(
            frame["_okey"], frame.select(pl.when(pl.col("_ocap").is_not_null()).then("_a").otherwise(0))
        ).to_series()
        fits = fits & (pl.col("_ocap").is_null() | (run <= pl.col("_ocap")))
    if caps.total is not None:
        fits = fits & (pl.col("_a").cum_sum() <= caps.total)
    safe = (fits | (pl.col("_a") == 0)) & (pl.col("_a") >= 0)
    return frame.select((~safe | pl.col("_adj")).alias("_walk")).to_series()


@dataclass
class _Shares:
    """What the walk looks up on every row: the split as integers (SPEC 5.6/10.6) and the caps."""

    denominator: int
    outcome: dict[str, list[int]]
    default: list[int]
    adjustment: dict[str, list[int]]
    ocaps: dict[str, int]
    limits: list[int | None]
    shifts: list[bool]


def _payer_walk(tail: pl.DataFrame, head: pl.DataFrame, rows: pl.DataFrame, contract: Contract,
                used: _Used) -> pl.DataFrame:
    """SPEC 5.5 with 11.1 from the first row where a payer cap may bind: ``payable``, ``cap_reason``, parts.

    The rows go in *regimes*: stretches over which the set of exhausted
    payers (headroom at or below zero) does not change.  Within one, a
    row's parts follow from its amount A, its shares and the exhausted
    payers alone: an exhausted payer stays exhausted (claims never take
    money back), and the others have room until the first row at which a
    running sum of some payer's parts passes its cap.  Those parts are
    computed once per distinct (outcome, A) and joined on, vectorised; a
    regime ends at that binding row (walked alone) or at an adjustment that
    changes who is exhausted, and the next starts after it.

    A comes from the other caps.  While every row so far was paid its A
    (payer caps shifted money but dropped none), the history is the one
    :func:`_money_caps` computed, so A is its ``payable``.  From the first
    row paid less than its A, A is its price on the rows no money cap can
    cut (:func:`_walked_rows`) and the other rows are walked one at a time;
    once every payer is exhausted, every later claim is paid nothing.
    """
    denominator, numerators, default = share_table(contract)
    shares = _Shares(denominator, numerators, default, adjustment_numerators(contract), _outcome_caps(contract),
                     [p.cap for p in contract.payers], [p.on_cap == "shift" for p in contract.payers])
    frame = tail.select(
        "kind",
        pl.col("participant_id").cast(pl.String).alias("_person"),
        pl.col("outcome_id").cast(pl.String).alias("_o"),
        "price",
        "reason",
        (pl.col("claim_id").cast(pl.String) if "claim_id" in tail.columns else pl.lit(None, pl.String)).alias("_id"),
        _pkey=pl.col("_p").fill_null(0),
        _a0=pl.col("payable"),
        _why0=pl.col("cap_reason").cast(pl.String),
        _adj=(pl.col("kind") == "adjustment").fill_null(False),
    )
    accepted = pl.col("reason").is_null()
    first_phase = frame.with_columns(
        _a=pl.when(accepted & ~pl.col("_adj")).then("_a0").otherwise(0), _why=pl.col("_why0"), _walk=pl.col("_adj"))
    second_phase: pl.DataFrame | None = None
    pieces: list[pl.DataFrame] = []
    cur, diverged = 0, False
    while cur < frame.height:
        if diverged and _all_exhausted(shares, used) and not frame["_adj"].slice(cur).any():
            pieces.append(_nothing_paid(frame.slice(cur), contract, shares, used))
            break
        if diverged and second_phase is None:  # only now: which rows a money cap may cut
            cut = _walked_rows(rows, contract).slice(rows.height - tail.height)
            second_phase = frame.with_columns(_cut=cut).with_columns(
                _a=pl.when(accepted & ~pl.col("_cut")).then("price").otherwise(0), _why=pl.lit(None, pl.String),
                _walk=pl.col("_cut"))
        seg = (first_phase if second_phase is None else second_phase).slice(cur)
        done, settled, diverges = _regime(seg, contract, shares, used, exact=diverged)
        pieces.append(settled)
        cur += done
        if diverges and not diverged:  # the amounts per participant and outcome, from what was really paid
            diverged = True
            columns = ["kind", "participant_id", "outcome_id"]
            so_far = tail.slice(0, cur).select(columns).hstack(pl.concat(pieces).select("payable"))
            used.pending = _tallies(pl.concat([head.select(*columns, "payable"), so_far], how="vertical_relaxed"))
    return pl.concat(pieces, how="vertical")


def _all_exhausted(shares: _Shares, used: _Used) -> bool:
    """Every payer has a cap and no headroom left: no claim can be paid anything any more."""
    return all(c is not None and c - u <= 0 for c, u in zip(shares.limits, used.payers))


def _nothing_paid(seg: pl.DataFrame, contract: Contract, shares: _Shares, used: _Used) -> pl.DataFrame:
    """Every payer is exhausted and no adjustment follows: every row is paid nothing, reasons vectorised.

    Nothing paid means frozen headrooms, so a row's amount under the other
    caps is cut exactly when its price exceeds the smallest of them (that
    cap is the reason, ties participant, outcome, contract); otherwise the
    payer caps cut it (PAYER_CAP).
    """
    caps = contract.caps
    none = pl.lit(None, pl.Int64)
    rooms = seg.select("_person", "_o", "kind", "price", "reason")
    hp = hf = ht = none
    people, outcomes = used.frames()
    if caps.per_participant is not None:
        rooms = rooms.join(people, on="_person", how="left", maintain_order="left").rename({"_u": "_up"})
        hp = pl.when(pl.col("kind") == "claim").then(
            pl.max_horizontal(caps.per_participant - pl.col("_up").fill_null(0), 0)).otherwise(None)
    if shares.ocaps:
        rooms = rooms.join(outcomes, on="_o", how="left", maintain_order="left").rename({"_u": "_uo"})
        limit = pl.col("_o").replace_strict(shares.ocaps, default=None, return_dtype=pl.Int64)
        hf = pl.when(limit.is_not_null()).then(pl.max_horizontal(limit - pl.col("_uo").fill_null(0), 0))
    if caps.total is not None:
        ht = pl.lit(max(caps.total - used.total, 0), pl.Int64)
    smallest = pl.min_horizontal(hp, hf, ht)
    price = pl.col("price")
    reason = (
        pl.when(pl.col("reason").is_not_null() | (price == 0)).then(None)
        .when(smallest.is_null() | (price <= smallest)).then(pl.lit("PAYER_CAP"))
        .when(hp == smallest).then(pl.lit("PARTICIPANT_CAP"))
        .when(hf == smallest).then(pl.lit("OUTCOME_CAP"))
        .otherwise(pl.lit("CONTRACT_CAP"))
    )
    zero = pl.lit(0, pl.Int64)
    return rooms.select(payable=zero, cap_reason=reason.cast(REASON),
                        **{f"{PART}{pid}": zero for pid in contract.payer_ids})


def _regime_parts(seg: pl.DataFrame, contract: Contract, shares: _Shares, heads: list[int | None]) -> pl.DataFrame:
    """Parts of every row not walked, given the payers' headrooms (None: room enough), and ``_paid``.

    Rows of one outcome and amount get the same parts, so each distinct
    pair is split once (SPEC 11.1 steps 1-3) and joined on.  Walked rows get
    zeros here; the walk gives them their own.
    """
    names = [f"{PART}{pid}" for pid in contract.payer_ids]
    pairs = seg.filter(~pl.col("_walk")).select("_o", "_a").unique()
    table = []
    for outcome, amount in pairs.iter_rows():
        parts = payer_parts(amount, shares.outcome.get(outcome, shares.default), shares.denominator, heads,
                            shares.shifts)
        if not contract.caps.partial and sum(parts) < amount:  # all or nothing
            parts = [0] * len(parts)
        table.append([outcome, amount, *parts])
    schema = {"_o": pl.String, "_a": pl.Int64} | dict.fromkeys(names, pl.Int64)
    lookup = pl.DataFrame(table, schema=schema, orient="row")
    joined = seg.select("_o", "_a").join(lookup, on=["_o", "_a"], how="left", maintain_order="left", nulls_equal=True)
    joined = joined.select(pl.col(n).fill_null(0) for n in names)
    return joined.with_columns(_paid=pl.sum_horizontal(names))


_ROW = ("kind", "_person", "_o", "price", "reason", "_id", "_a0", "_why0")


def _regime(seg: pl.DataFrame, contract: Contract, shares: _Shares, used: _Used,
            exact: bool) -> tuple[int, pl.DataFrame, bool]:
    """Settle the rows of one regime at the start of ``seg``: how many, their results, and whether A diverged.

    ``used`` is the state before ``seg`` and is brought to the state after
    the settled rows.  With ``exact`` false, A is the money caps' own
    ``payable`` and the regime also ends after the first row paid less than
    it (the history then diverges); ``used`` then keeps only the total and
    the payers' amounts up to date.
    """
    limits = shares.limits
    heads = [None if c is None else c - u for c, u in zip(limits, used.payers)]
    exhausted = [h is not None and h <= 0 for h in heads]
    parts = _regime_parts(seg, contract, shares, [h if e else None for h, e in zip(heads, exhausted)])
    prefix = [parts[n].cum_sum() for n in parts.columns[:-1]]
    events = seg["_walk"].arg_true().to_list()
    stop, drop_stop = seg.height, False
    if not exact:  # the history diverges after the first row paid less than its A
        dropped = (parts["_paid"] < seg["_a"]).arg_true()
        stop, drop_stop = (int(dropped[0]) + 1, True) if dropped.len() else (seg.height, False)
    at = pl.Series(events, dtype=pl.UInt32)
    off_p = _offsets_within(seg, parts, events, "_pkey", pl.col("kind") == "claim") if (
        exact and contract.caps.per_participant is not None) else {}
    off_o = _offsets_within(seg, parts, events, "_o", pl.col("_o").is_not_null()) if exact and shares.ocaps else {}
    off_t = parts["_paid"].cum_sum().gather(at).to_list()
    off_pay = [p.gather(at).to_list() for p in prefix]
    rows = seg.select(_ROW).gather(at).rows()
    live = [i for i, c in enumerate(limits) if c is not None and not exhausted[i]]
    if exact and events and _participant_cap_only(seg, contract, shares, live, exhausted):
        # the rest of the walk in one regime: only the payers' amounts and the total are kept up to date
        walked = _walk_by_participant(seg, events, off_p, used, contract, shares, exhausted)
        _fold(seg, parts, prefix, used, seg.height, exact=False)
        return seg.height, _settled_with(_settled(seg, parts, {}, seg.height), walked), False
    if exact:
        used.dicts()
    out: dict[int, tuple[int, str | None, list[int]]] = {}
    lo = 0
    for k, e in enumerate([*events, seg.height]):
        binding = _binding_row(prefix, live, limits, used.payers, lo, min(e, stop))
        if binding is not None:
            _fold(seg, parts, prefix, used, binding, exact)
            out[binding] = _step(seg.select(_ROW).row(binding), used, None, contract, shares, exact)
            diverges = not exact and out[binding][0] < seg["_a"][binding]
            return binding + 1, _settled(seg, parts, out, binding + 1), diverges
        if e >= stop:
            _fold(seg, parts, prefix, used, stop, exact)
            return stop, _settled(seg, parts, out, stop), drop_stop
        offsets = (off_p.get(e, 0), off_o.get(e, 0), off_t[k], [p[k] for p in off_pay])
        out[e] = _step(rows[k], used, offsets, contract, shares, exact)
        after = [c is not None and c - u - p[k] <= 0 for c, u, p in zip(limits, used.payers, off_pay)]
        if after != exhausted:
            _fold(seg, parts, prefix, used, e + 1, exact)
            return e + 1, _settled(seg, parts, out, e + 1), False
        lo = e + 1
    _fold(seg, parts, prefix, used, seg.height, exact)
    return seg.height, _settled(seg, parts, out, seg.height), False


def _participant_cap_only(seg: pl.DataFrame, contract: Contract, shares: _Shares, live: list[int],
                          exhausted: list[bool]) -> bool:
    """The rest of ``seg`` is one regime whose walked rows only the participant cap can cut.

    So it is when every capped payer is exhausted and ``cut`` (their parts
    are 0 and nothing moves to another payer, so no payer's state changes),
    no adjustment follows, and the contract has neither a total nor an
    outcome cap: then a walked claim depends only on the earlier rows of its
    own participant, and the claims of different participants can be taken
    together, rank by rank (:func:`_walk_by_participant`).
    """
    caps = contract.caps
    return (caps.per_participant is not None and caps.total is None and not shares.ocaps and not live
            and not any(e and shift for e, shift in zip(exhausted, shares.shifts))
            and not seg.select(pl.col("_adj").any() | (pl.col("_walk") & (pl.col("kind") != "claim")).any()).item())


def _walk_by_participant(seg: pl.DataFrame, events: list[int], off_p: dict[int, int], used: _Used,
                         contract: Contract, shares: _Shares,
                         exhausted: list[bool]) -> pl.DataFrame:
    """The walked claims of a regime that only the participant cap can cut, vectorised rank by rank.

    The k-th walked claim of every participant is settled in one pass: its
    participant's headroom is the cap less what was paid before the regime,
    what the vectorised rows of the regime paid before it (``off_p``) and
    what its own earlier walked claims were paid.  A is cut to it as in 5.5;
    the exhausted (``cut``) payers' parts of A's split are 0 (SPEC 11.1 step
    2: their headroom is at or below zero), so the claim pays the other parts
    (all or nothing with ``partial = false``).  The same numbers, claim for
    claim, as :func:`_step`, by position (``_i``).  ``used`` gets their total
    and the payers' amounts: the regime is the rest of the walk, so no later
    row needs the amounts per participant or outcome.
    """
    caps = contract.caps
    limit = caps.per_participant or 0
    names = [f"{PART}{pid}" for pid in contract.payer_ids]
    live_names = [n for n, e in zip(names, exhausted) if not e]
    at = pl.Series(events, dtype=pl.UInt32)
    people, _ = used.frames()
    walked = (
        seg.select(pl.col("_person").gather(at), pl.col("_o").gather(at), pl.col("price").gather(at))
        .with_columns(_i=at, _off=pl.Series([off_p.get(e, 0) for e in events], dtype=pl.Int64))
        .join(people.rename({"_u": "_base"}), on="_person", how="left", maintain_order="left")
        .with_columns(pl.col("_base").fill_null(0), _rank=pl.col("_i").cum_count().over("_person"))
    )
    before = pl.DataFrame({"_person": [], "_w": []}, schema={"_person": pl.String, "_w": pl.Int64})
    rounds = []
    for _, group in walked.group_by("_rank", maintain_order=True):
        group = group.join(before, on="_person", how="left").with_columns(
            _room=pl.max_horizontal(limit - pl.col("_base") - pl.col("_off") - pl.col("_w").fill_null(0), 0))
        amount = (pl.min_horizontal("price", "_room") if caps.partial
                  else pl.when(pl.col("price") <= pl.col("_room")).then("price").otherwise(0))
        group = split_amounts(group.with_columns(_A=pl.max_horizontal(amount, 0), outcome_id="_o"),
                              contract, "_A", PART)
        group = group.with_columns(
            [pl.lit(0, pl.Int64).alias(n) for n, e in zip(names, exhausted) if e]
        ).with_columns(_paid=pl.sum_horizontal(live_names) if live_names else pl.lit(0, pl.Int64))
        if not caps.partial:  # all or nothing: a claim a payer cap would cut is paid nothing
            cut = pl.col("_paid") < pl.col("_A")
            group = group.with_columns(*(pl.when(cut).then(0).otherwise(pl.col(n)).alias(n) for n in names),
                                       _paid=pl.when(cut).then(0).otherwise("_paid"))
        group = group.with_columns(_why=pl.when(pl.col("_A") < pl.col("price")).then(pl.lit("PARTICIPANT_CAP"))
                                   .when(pl.col("_paid") < pl.col("_A")).then(pl.lit("PAYER_CAP")))
        rounds.append(group.select("_i", "_person", "_o", "_paid", "_why", *names))
        before = (pl.concat([before, group.select("_person", _w=pl.col("_paid"))])
                  .group_by("_person").agg(pl.col("_w").sum()))
    settled = pl.concat(rounds)
    sums = settled.select(pl.col("_paid").sum(), *[pl.col(n).sum() for n in names]).row(0)
    used.total += int(sums[0] or 0)
    used.payers = [u + int(v or 0) for u, v in zip(used.payers, sums[1:])]
    return settled.select("_i", pl.col("_paid").alias("payable"), pl.col("_why").alias("cap_reason"), *names)


def _settled_with(frame: pl.DataFrame, walked: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (from :func:`_settled`) with the walked rows' results put in at their positions ``_i``."""
    at = walked["_i"]
    return frame.with_columns(
        frame[name].scatter(at, walked[name].cast(frame[name].dtype)) for name in frame.columns)


def _binding_row(prefix: list[pl.Series], live: list[int], limits: list[int | None], used: list[int],
                 lo: int, end: int) -> int | None:
    """The first of the vectorised rows ``lo``..``end - 1`` at which a payer with room passes its cap.

    Their parts are never negative, so each running sum only grows and the
    first row past the cap is found by a binary search; None when none is.
    """
    if lo >= end:
        return None
    first: int | None = None
    for j in live:
        room = (limits[j] or 0) - used[j]
        if prefix[j][end - 1] > room:
            at = max(int(prefix[j].search_sorted(room, side="right")), lo)
            first = at if first is None else min(first, at)
    return first


def _offsets_within(seg: pl.DataFrame, parts: pl.DataFrame, events: list[int], key: str,
                    counted: pl.Expr) -> dict[int, int]:
    """What the vectorised rows before each walked row paid within its scope (``key``), by position.

    Only the scopes of walked rows are summed.  Walked rows count 0 among
    the vectorised ones, so the running sum at a walked row is the sum
    before it.
    """
    if not events:
        return {}
    wanted = seg[key].gather(pl.Series(events, dtype=pl.UInt32)).unique().implode()
    sub = (
        seg.select(key, "_walk", _m=counted & pl.col(key).is_in(wanted))
        .with_columns(_paid=parts["_paid"])
        .with_row_index("_i")
        .filter("_m")
    )
    if key == "_pkey":  # many small groups: one sort, not a hash window
        run = _running_totals(sub[key], sub.select("_paid")).to_series()
    else:
        run = sub.select(pl.col("_paid").cum_sum().over(key)).to_series()
    picked = sub.with_columns(_run=run).filter("_walk")
    return dict(zip(picked["_i"].to_list(), picked["_run"].to_list()))


def _fold(seg: pl.DataFrame, parts: pl.DataFrame, prefix: list[pl.Series], used: _Used, end: int,
          exact: bool) -> None:
    """Add what the vectorised rows before ``end`` paid to ``used`` (walked rows added themselves).

    Per participant and outcome only when ``exact`` (see :func:`_regime`).
    """
    if end == 0:
        return
    used.payers = [u + int(p[end - 1]) for u, p in zip(used.payers, prefix)]
    head = seg.slice(0, end).select("kind", "_person", "_o").with_columns(_paid=parts["_paid"].slice(0, end))
    used.total += int(head["_paid"].sum())
    if not exact:
        return
    claims = head.filter((pl.col("kind") == "claim") & (pl.col("_paid") != 0))
    for person, paid in claims.group_by("_person").agg(pl.col("_paid").sum()).iter_rows():
        used.participant[person] = used.participant.get(person, 0) + paid
    for outcome, paid in head.filter(pl.col("_o").is_not_null()).group_by("_o").agg(pl.col("_paid").sum()).iter_rows():
        used.outcome[outcome] = used.outcome.get(outcome, 0) + paid


def _settled(seg: pl.DataFrame, parts: pl.DataFrame, walked: dict[int, tuple[int, str | None, list[int]]],
             end: int) -> pl.DataFrame:
    """``payable``, ``cap_reason`` and the parts of the first ``end`` rows: vectorised, walked rows put in."""
    names = parts.columns[:-1]
    frame = parts.slice(0, end).with_columns(seg.select("_a", "_why").slice(0, end)).select(
        pl.col("_paid").alias("payable"),
        pl.coalesce("_why", pl.when(pl.col("_paid") < pl.col("_a")).then(pl.lit("PAYER_CAP"))).alias("cap_reason"),
        *names,
    )
    if walked:
        at = pl.Series(list(walked), dtype=pl.UInt32)
        values = list(walked.values())
        frame = frame.with_columns(
            frame["payable"].scatter(at, [v[0] for v in values]),
            frame["cap_reason"].scatter(at, [v[1] for v in values]),
            *(frame[n].scatter(at, [v[2][i] for v in values]) for i, n in enumerate(names)),
        )
    return frame.with_columns(pl.col("cap_reason").cast(REASON))


def _step(row: tuple[object, ...], used: _Used, offsets: tuple[int, int, int, list[int]] | None,
          contract: Contract, shares: _Shares, exact: bool) -> tuple[int, str | None, list[int]]:
    """SPEC 5.5 with 11.1 for one row: the amount A under the other caps, then each payer's part.

    A is cut to every headroom as in 5.5 (a headroom below zero counting
    as zero); with ``exact`` false it is the money caps' own payable instead
    (see :func:`_payer_walk`).  Its split is then cut payer by payer
    (:func:`payer_parts`), and the other headrooms fall by what was
    actually paid, so the contract cap counts only money paid.  An
    adjustment is never cut: it takes its own signed split and counts
    against the contract cap and every payer cap (SPEC 10.6).  ``offsets``
    are what vectorised rows of the regime used before this row
    (participant, outcome, total, per payer); ``used`` gets this row's own
    amounts.
    """
    kind, person, outcome, price, rejected, own_id, amount0, why0 = row
    caps = contract.caps
    zero = [0] * len(shares.limits)
    off_p, off_o, off_t, off_pay = offsets or (0, 0, 0, zero)
    if rejected is not None or not isinstance(price, int):
        return 0, None, zero
    if kind == "adjustment":
        parts = signed_split(price, shares.adjustment.get(str(own_id), shares.default), shares.denominator)
        used.total += price
        used.payers = [u + x for u, x in zip(used.payers, parts)]
        return price, None, parts
    person_key, outcome_key = str(person), str(outcome)
    if exact:
        rooms: list[tuple[int, int]] = []
        if caps.per_participant is not None and kind == "claim":
            rooms.append((max(caps.per_participant - used.participant.get(person_key, 0) - off_p, 0), 0))
        if outcome_key in shares.ocaps:
            rooms.append((max(shares.ocaps[outcome_key] - used.outcome.get(outcome_key, 0) - off_o, 0), 1))
        if caps.total is not None:
            rooms.append((max(caps.total - used.total - off_t, 0), 2))  # below zero counts as zero (SPEC 10.6)
        room = min((r for r, _ in rooms), default=price)
        amount = max(min(price, room) if caps.partial else (price if price <= room else 0), 0)
        reason = CAP_REASONS[min(rooms)[1]] if amount < price else None
    else:
        amount, reason = int(str(amount0)), (None if why0 is None else str(why0))
    heads = [None if c is None else c - u - o for c, u, o in zip(shares.limits, used.payers, off_pay)]
    parts = payer_parts(amount, shares.outcome.get(outcome_key, shares.default), shares.denominator, heads,
                        shares.shifts)
    paid = sum(parts)
    if paid < amount:
        reason = reason or "PAYER_CAP"
        if not caps.partial:  # all or nothing: the claim is paid nothing and uses no headroom
            paid, parts = 0, zero
    if paid:
        if exact and kind == "claim":
            used.participant[person_key] = used.participant.get(person_key, 0) + paid
        if exact and outcome is not None:
            used.outcome[outcome_key] = used.outcome.get(outcome_key, 0) + paid
        used.total += paid
        used.payers = [u + x for u, x in zip(used.payers, parts)]
    return paid, reason, parts


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
