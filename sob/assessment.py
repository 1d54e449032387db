"""Assessment as at the end of a quarter: scope, order, rules, prices, caps (SPEC 5).

``assess`` is the one entry point: evidence frames in, one frame out with a
row per in-scope claim or cohort result in processing order, its status,
reason, price and payable amount.  Everything else (pay runs, examples,
explanations) reads that frame.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

import polars as pl

from sob.caps import apply_caps
from sob.contract import Contract
from sob.idkeys import positions_in
from sob.pricing import ClaimScales, claim_price_expr, claim_scales, price_result, scaled_amount, scaled_price_expr
from sob.rules import (
    COHORT,
    KIND,
    REASON,
    STATUS,
    apply_prerequisites,
    apply_ranked_rules,
    apply_result_rules,
    apply_rules_1_to_7,
    apply_scale_threshold,
    outcome_index,
    reason_code,
    stacked,
    with_row_wise,
)

#: the ``kind`` of an adjustment's row (SPEC 10.6)
ADJUSTMENT = "adjustment"

_CLAIM_SCHEMA = {
    "claim_id": pl.String,
    "participant_id": pl.String,
    "outcome_id": pl.String,
    "achieved_on": pl.Date,
    "submitted_on": pl.Date,
    "status": pl.String,
    "error": pl.String,
}
_RESULT_SCHEMA = {
    "result_id": pl.String,
    "outcome_id": pl.String,
    "cohort": pl.String,
    "achieved_on": pl.Date,
    "submitted_on": pl.Date,
    "baseline": pl.String,
    "observed": pl.String,
    "units": pl.String,
    "status": pl.String,
    "error": pl.String,
}


def _empty(schema: Mapping[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _prepare(frame: pl.DataFrame | None, schema: Mapping[str, pl.DataType | type[pl.DataType]], kind: str,
             as_at: date) -> pl.DataFrame:
    """In-scope rows of one evidence frame with ``kind`` and the undated flag."""
    frame = _empty(schema) if frame is None else frame
    if kind == "improvement":
        frame = frame.rename({"result_id": "claim_id"})
    if "error" not in frame.columns:
        frame = frame.with_columns(error=pl.lit(None, pl.String))
    undated = pl.col("achieved_on").is_null() | pl.col("submitted_on").is_null()
    frame = frame.with_columns(kind=pl.lit(kind, dtype=KIND), _undated=undated)
    in_scope = frame.select(pl.col("_undated") | (pl.col("submitted_on") <= pl.lit(as_at))).to_series()
    # a quarter close usually has every row in scope: a filter would copy millions of rows for nothing
    return frame if in_scope.all() else frame.filter(in_scope)


def processing_order(claims: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    """Both kinds in one frame, sorted by (submitted_on, achieved_on, id), with ``_order``.

    Rows whose dates cannot be read come last, by id (SPEC 4.4).  Ids compare
    by code point, which is polars' byte order for UTF-8 strings.  The two
    dates are packed into one integer key; when the ids are already in
    order (files usually list claims by id) a stable sort on that key alone
    gives the same order without comparing strings, and when the key is in
    order too (claims listed as they were submitted) there is nothing to sort.
    """
    both = claims if results.height == 0 else stacked([claims, results])
    ids = both["claim_id"]
    if ids.null_count() == 0 and ids.is_sorted():
        key = both.lazy().select(_date_key()).collect().to_series()
        if not key.is_sorted(nulls_last=True):
            both = both.sort(key, nulls_last=True, maintain_order=True)
    else:
        both = both.sort([_date_key(), pl.col("claim_id")], nulls_last=True)
    return both.with_row_index("_order")  # UInt32: polars counts rows in 32 bits


def _date_key() -> pl.Expr:
    """(submitted_on, achieved_on) as one UInt64 that sorts like the pair; null for undated rows."""

    def days(column: str) -> pl.Expr:
        return (pl.col(column).cast(pl.Int32).cast(pl.Int64) + 2**31).cast(pl.UInt64)

    return pl.when(~pl.col("_undated")).then(days("submitted_on") * 2**32 + days("achieved_on"))


def assess(
    contract: Contract,
    claims: pl.DataFrame | None,
    participants: pl.DataFrame | None,
    results: pl.DataFrame | None,
    as_at: date,
    *,
    carry: bool = True,
    participant_rows: pl.Series | None = None,
) -> pl.DataFrame:
    """Assess every in-scope row as at ``as_at`` (the end of a quarter).

    Only the columns the rules need travel through the sorts and joins; the
    claims' other columns (line, evidence_ref, amount_claimed, carried ones)
    are gathered back by row position at the end, which is what keeps time
    and memory close to the size of the files on millions of claims.  With
    ``carry=False`` they are left out (totals need none of them).  Claims
    keep ``_p``, the participant's integer key, so per-participant figures
    never group millions of id strings again.

    ``participant_rows``: for each row of ``claims``, the row of its
    participant in ``participants`` (null when not there), as the evidence
    reader found them (``Evidence.participant_rows``); the register is then
    not searched again.

    Scheduled caps take, for the whole run, the entries in force at ``as_at`` (SPEC 10.5).
    """
    contract = contract.in_force(as_at)
    if not _rows_still_fit(claims, participants, participant_rows):
        participant_rows = None
    narrow, wide = _split_columns(claims, participant_rows, _rule_columns(contract))
    in_scope = _prepare(results, _RESULT_SCHEMA, "improvement", as_at)
    adjustments = adjustment_rows(contract, as_at, taken=_ids_taken(contract, claims, results))
    others = in_scope if adjustments.height == 0 else stacked([in_scope, adjustments])
    rows = processing_order(_prepare(narrow, _CLAIM_SCHEMA, "claim", as_at), others)
    if others.height == 0:  # no cohort results: no copy of millions of claims to split the kinds
        claim_rows, result_rows, adjustment_part = rows, rows.clear(), rows.clear()
    else:
        claim_rows, result_rows = rows.filter(pl.col("kind") == "claim"), rows.filter(pl.col("kind") == "improvement")
        adjustment_part = rows.filter(pl.col("kind") == "adjustment")
    claim_rows = _assess_claims(claim_rows, participants, contract)
    result_rows = _assess_results(result_rows.drop("_preg", strict=False), contract)
    parts = [claim_rows] + [p for p in (result_rows, _assess_adjustments(adjustment_part, contract)) if p.height]
    both = claim_rows if len(parts) == 1 else stacked(parts).sort("_order")
    return _attach(_apply_money(both, contract), wide if carry else None)


def _ids_taken(contract: Contract, claims: pl.DataFrame | None, results: pl.DataFrame | None) -> set[str]:
    """Adjustment ids that a claim or result of the files also uses (in scope or not).

    Such an id is a ``DUPLICATE_ID`` data error (SPEC 10.6): under
    ``--reject-invalid`` the evidence reader has already made its rows one
    rejected row, which stands for the adjustment too, so the adjustment
    gets no row of its own and no output holds two rows with one id.
    """
    ids = [a.id for a in contract.adjustments]
    if not ids:
        return set()
    taken: set[str] = set()
    for frame, column in ((claims, "claim_id"), (results, "result_id")):
        if frame is not None and column in frame.columns and frame.height:
            found = frame.select(pl.col(column).cast(pl.String)).filter(pl.col(column).is_in(ids))
            taken.update(found[column].to_list())
    return taken


def adjustment_rows(contract: Contract, as_at: date, *, taken: Collection[str] = ()) -> pl.DataFrame:
    """The contract's adjustments in scope as at ``as_at`` (``on <= as_at``), as rows to put in processing order.

    An adjustment is dated when it was agreed and has no submission of its
    own, so both of its dates are ``on`` (SPEC 10.6); it has no participant,
    outcome or cohort.  ``taken``: ids a claim or result also uses, left out.
    """
    chosen = [a for a in contract.adjustments if a.on <= as_at and a.id not in taken]
    return pl.DataFrame(
        {
            "claim_id": [a.id for a in chosen],
            "achieved_on": [a.on for a in chosen],
            "submitted_on": [a.on for a in chosen],
            "error": [None] * len(chosen),
            "kind": [ADJUSTMENT] * len(chosen),
            "_undated": [False] * len(chosen),
        },
        schema={"claim_id": pl.String, "achieved_on": pl.Date, "submitted_on": pl.Date, "error": pl.String,
                "kind": KIND, "_undated": pl.Boolean},
    )


def _assess_adjustments(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """An adjustment passes no rule: no reason before the caps, and its price is its signed amount."""
    amounts = {a.id: a.amount for a in contract.adjustments}
    return rows.with_columns(
        reason=pl.lit(None, REASON),
        price=pl.col("claim_id").cast(pl.String).replace_strict(amounts, default=None, return_dtype=pl.Int64),
    )


def _rows_still_fit(claims: pl.DataFrame | None, participants: pl.DataFrame | None,
                    participant_rows: pl.Series | None, sample: int = 1000) -> bool:
    """Do ``participant_rows`` still point at each claim's participant (checked on evenly spread claims)?

    They are only valid for the frames as the reader gave them; a caller who
    filtered or sorted either frame since would get another participant's
    register data.  Up to ``sample`` claims are compared, which catches that
    at no cost; the register is then searched as usual.
    """
    if participants is None or claims is None or participant_rows is None or participant_rows.len() != claims.height:
        return False
    if claims.height == 0:
        return True
    at = pl.int_range(0, claims.height, max(1, claims.height // sample), dtype=pl.UInt32, eager=True)
    rows = participant_rows.gather(at)
    known = rows.is_not_null()
    at, rows = at.filter(known), rows.filter(known)
    if rows.len() and rows.max() >= participants.height:  # type: ignore[operator]
        return False
    ours, theirs = claims["participant_id"].gather(at), participants["participant_id"].gather(rows)
    return ours.equals(theirs, check_names=False, check_dtypes=False)


#: Claim columns the rules read; everything else rides along by row position.
#: ``assess(..., carry=False)`` needs no other column of the claims frame.
#: ``value`` is read only when a claim outcome has a ``scale`` (SPEC 11.4); otherwise it is carried.
RULE_COLUMNS = ("claim_id", "participant_id", "outcome_id", "achieved_on", "submitted_on", "status", "error", "value")


def _rule_columns(contract: Contract) -> tuple[str, ...]:
    """The claim columns this contract's rules read: ``value`` only with a scaled claim outcome."""
    if any(o.kind == "claim" and o.scale is not None for o in contract.outcomes):
        return RULE_COLUMNS
    return tuple(c for c in RULE_COLUMNS if c != "value")
#: Columns the assessment itself adds; a claims column of that name is not carried.
_PRODUCED = {"cohort", "enrolled_on", "eligible", "kind", "reason", "price", "payable", "_evidence_status"}


def _split_columns(claims: pl.DataFrame | None, participant_rows: pl.Series | None = None,
                   rule_columns: tuple[str, ...] = RULE_COLUMNS,
                   ) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """(rule columns + ``_row`` and ``_preg`` when given, the other columns) of the claims frame."""
    if claims is None:
        return None, None
    claims = claims.with_row_index("_row")
    keep = ["_row", *(c for c in rule_columns if c in claims.columns)]
    rest = [c for c in claims.columns if c not in keep and c not in _PRODUCED and not c.startswith("_")]
    narrow = claims.select(keep)
    if participant_rows is not None:
        narrow = narrow.with_columns(participant_rows.cast(pl.UInt32).alias("_preg"))
    return narrow, claims.select(rest)


def _attach(rows: pl.DataFrame, wide: pl.DataFrame | None) -> pl.DataFrame:
    """Gather the claims' other columns back onto the assessed rows (results get nulls).

    A reader hands over columns in hundreds of chunks, and gathering rows
    across them is several times slower than from one piece, so each column
    is put in one piece first (one at a time, to keep memory down).
    """
    if wide is None or wide.width == 0:
        return rows.drop("_row", strict=False)
    at = rows["_row"]
    if at.len() == wide.height and at.null_count() == 0 and at.is_sorted():
        gathered = wide  # every claim in scope, in file order (the usual quarter close): nothing to move
    else:
        gathered = pl.DataFrame([column.rechunk().gather(at) for column in wide.get_columns()])
    shared = [c for c in gathered.columns if c in rows.columns]  # a carried name both files have
    rows = rows.with_columns([pl.coalesce(pl.col(c), gathered[c]) for c in shared])
    return rows.hstack(gathered.drop(shared)).drop("_row")


_REGISTER_SCHEMA = {"participant_id": pl.String, "enrolled_on": pl.Date, "eligible": pl.Boolean, "cohort": pl.String}


def _join_register(claims: pl.DataFrame, participants: pl.DataFrame | None, contract: Contract | None = None,
                   ) -> pl.DataFrame:
    """The register's columns and ``_p``, the participant's integer key, on every claim.

    ``_p`` is the participant's row in the register; ids the register does
    not have (rows that carry ``UNKNOWN_PARTICIPANT``, or every id when there
    is no register) are numbered after it, so grouping by ``_p`` is grouping
    by id.  The register's columns are then gathered by ``_p``, from one
    piece each (gathering across chunks is several times slower).
    """
    births = contract is not None and contract.reads_date_of_birth  # SPEC 11.5: as ``_dob``
    if participants is None:
        register = _empty({**_REGISTER_SCHEMA, **({"_dob": pl.Date} if births else {})})
    else:
        # The evidence reader merges duplicated register ids into one row.
        register = participants.select(*_REGISTER_SCHEMA).rechunk()
        if births:
            dob = participants["date_of_birth"] if "date_of_birth" in participants.columns else None
            register = register.with_columns(
                _dob=pl.lit(None, pl.Date) if dob is None else dob.cast(pl.Date, strict=False).rechunk())
    # a register names few cohorts: codes are gathered onto every claim, not strings
    register = register.with_columns(pl.col("cohort").cast(COHORT))
    # ids are matched as text (sob.idkeys), whatever type the caller gave them
    ids, known_ids = claims["participant_id"].cast(pl.String), register["participant_id"].cast(pl.String)
    p = claims["_preg"] if "_preg" in claims.columns else positions_in(ids, known_ids)
    known = register.drop("participant_id").select(pl.all().gather(p))
    unknown = p.is_null()
    if unknown.any():  # number the other ids (null included) after the register's rows
        rest = ids.filter(unknown)
        at = positions_in(rest, rest.unique(maintain_order=True), nulls_equal=True) + register.height
        p = p.scatter(unknown.arg_true(), at)
    return claims.drop("cohort", "_preg", strict=False).hstack(known).with_columns(p.alias("_p"))


def _assess_claims(claims: pl.DataFrame, participants: pl.DataFrame | None, contract: Contract) -> pl.DataFrame:
    """Rules 1–11 and the price of accepted claims."""
    claims = _join_register(claims, participants, contract)
    claims = claims.with_columns(outcome_index(contract), reason=pl.col("error").cast(REASON))
    scales = claim_scales(contract, claims)
    if scales is not None:  # a frame without values pays nothing on a scale: every value is missing
        claims = claims.with_columns(
            pl.col("value").cast(pl.String) if "value" in claims.columns else pl.lit(None, pl.String).alias("value"))
    claims = apply_rules_1_to_7(claims, contract, participants is not None)
    if scales is not None:  # the value read once, for the threshold and the price
        claims = with_row_wise(claims, scales.read())
    claims = apply_scale_threshold(claims, scales)
    claims = apply_prerequisites(claims, contract)
    claims = apply_ranked_rules(claims, contract)
    price = claim_price_expr(contract)
    if scales is not None:
        price = scaled_price_expr(scales, price)
    claims = with_row_wise(claims, pl.when(pl.col("reason").is_null()).then(price).otherwise(None).alias("price"))
    return _scale_by_hand(claims, scales).drop("_sv", strict=False)


def _scale_by_hand(claims: pl.DataFrame, scales: ClaimScales | None) -> pl.DataFrame:
    """Exact Fraction prices for scaled outcomes whose numbers could overflow 128-bit integers.

    Only an absurd rate card (a scale end or price of dozens of digits) has
    such an outcome; its accepted claims are priced one by one, exactly.
    """
    if scales is None or not scales.by_hand():
        return claims
    for t in scales.by_hand():
        rows = claims.with_row_index("_i").filter((pl.col("_o") == t.outcome) & pl.col("price").is_not_null())
        if rows.height == 0:
            continue
        amounts = [scaled_amount(t, price, value) for price, value in rows.select("price", "value").iter_rows()]
        claims = claims.with_columns(claims["price"].scatter(rows["_i"], amounts))
    return claims


def _assess_results(results: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rules of SPEC 5.3 and the exact price of cohort results that pass them."""
    if results.height == 0:
        return results.with_columns(reason=pl.col("error").cast(REASON), price=pl.lit(None, pl.Int64))
    results = apply_result_rules(results.with_columns(reason=pl.col("error").cast(REASON)), contract)
    open_rows = results.filter(pl.col("reason").is_null())
    verdicts: list[tuple[int, str | None, int | None]] = []
    by_id = {o.id: o for o in contract.outcomes}
    # One row per cohort and measurement: exact Fractions, not a loop over claims.
    for order, outcome_id, achieved, baseline, observed, units in open_rows.select(
        "_order", "outcome_id", "achieved_on", "baseline", "observed", "units"
    ).iter_rows():
        verdict = price_result(by_id[outcome_id], contract, achieved, baseline, observed, units or "1")
        verdicts.append((order, None if verdict.passes else "BELOW_THRESHOLD", verdict.amount))
    priced = pl.DataFrame(
        verdicts, schema={"_order": pl.UInt32, "_threshold": REASON, "_amount": pl.Int64}, orient="row"
    )
    results = results.join(priced, on="_order", how="left", maintain_order="left")
    return results.with_columns(
        pl.coalesce("reason", "_threshold").alias("reason"),
        pl.when(pl.col("reason").is_null() & pl.col("_threshold").is_null()).then(pl.col("_amount")).otherwise(None).alias("price"),
    ).drop("_threshold", "_amount")


def _apply_money(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Netting (SPEC 11.6), caps over accepted rows, then status and reason as SPEC 5.5 names them."""
    rows = apply_caps(_apply_netting(rows, contract), contract).rename({"status": "_evidence_status"})
    price, payable = pl.col("price"), pl.col("payable")
    status = (
        pl.when(pl.col("reason") == "VOLUME_CAP")
        .then(pl.lit("capped", dtype=STATUS))
        .when(pl.col("reason").is_not_null())
        .then(pl.lit("rejected", dtype=STATUS))
        .when(payable == price)
        .then(pl.lit("paid", dtype=STATUS))
        .when(payable > 0)
        .then(pl.lit("partial", dtype=STATUS))
        .otherwise(pl.lit("capped", dtype=STATUS))
    )
    reason = pl.coalesce("reason", "cap_reason")
    if contract.adjustments:  # an adjustment is never cut: paid, reason ADJUSTMENT (SPEC 10.6)
        is_adjustment = pl.col("kind") == ADJUSTMENT
        status = pl.when(is_adjustment).then(pl.lit("paid", dtype=STATUS)).otherwise(status)
        reason = pl.when(is_adjustment).then(reason_code("ADJUSTMENT")).otherwise(reason)
    # the last step: later stages group and filter these columns, never gather from them
    rows = with_row_wise(rows, status.alias("status"), reason.alias("reason"), rechunk=False)
    return rows.drop("cap_reason", "_o")


def netting_rows(rows: pl.DataFrame, contract: Contract) -> tuple[list[int], list[int]]:
    """Positions (in ``rows``, sorted in processing order) of the netting rows and of the NETTED rows (SPEC 11.6).

    Rows are decided in processing order, because a netting row may itself
    be a row of an outcome another one is net of: a *netting row* is a
    result of an outcome with ``net_of`` that took its cohort's slot
    (reason null or ``BELOW_THRESHOLD``) and is not NETTED; a result of a
    listed outcome that passed every rule of 5.3 and comes after a netting
    row that lists it is ``NETTED``.  Only the few result rows of the
    outcomes involved are read.
    """
    netting = {o.id: set(o.net_of) for o in contract.outcomes if o.net_of}
    involved = set(netting).union(*netting.values())
    candidates = (
        rows.lazy()
        .with_row_index("_at")
        .filter((pl.col("kind") == "improvement") & pl.col("outcome_id").cast(pl.String).is_in(sorted(involved)))
        .select("_at", pl.col("outcome_id").cast(pl.String), pl.col("reason").cast(pl.String))
        .collect()
    )
    settled: set[str] = set()
    nets: list[int] = []
    netted: list[int] = []
    for at, outcome_id, reason in candidates.iter_rows():
        if outcome_id in settled and reason is None:
            netted.append(at)
        elif outcome_id in netting and reason in (None, "BELOW_THRESHOLD"):
            nets.append(at)
            settled |= netting[outcome_id]
    return nets, netted


def _apply_netting(rows: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """``NETTED`` rows, and each netting row's price reduced by what its listed outcomes were entitled to.

    What the listed outcomes' rows before a netting row are entitled to is
    what the sequential cap walk gives them, which depends on every row
    before them; netting rows are few, so the walk is run on the prefix of
    rows before each one, with the prices of earlier netting rows already
    reduced.  The reduced price, floored at zero, is the row's price in
    every output, and the caps then apply to it.
    """
    if not any(o.net_of for o in contract.outcomes) or rows.height == 0:
        return rows
    nets, netted = netting_rows(rows, contract)
    if netted:
        rows = rows.with_columns(
            rows["reason"].cast(pl.String).scatter(netted, "NETTED").cast(REASON),
            rows["price"].scatter(netted, None),
        )
    listed = {o.id: sorted(o.net_of) for o in contract.outcomes}
    for at in nets:
        price = rows["price"][at]
        if rows["reason"][at] is not None or price is None:
            continue  # below the threshold: the pooled assessment settled the listed rows, and pays nothing
        before = apply_caps(rows.head(at), contract)
        is_listed = (pl.col("kind") == "improvement") & pl.col("outcome_id").cast(pl.String).is_in(
            listed[str(rows["outcome_id"][at])])
        already = before.filter(is_listed)["payable"].sum()
        rows = rows.with_columns(rows["price"].scatter(at, max(0, price - int(already))))
    return rows
