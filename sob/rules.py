"""The assessment rules of SPEC 5.2 (claims) and 5.3 (cohort results).

Each rule is a vectorised step over the in-scope rows, already sorted in
processing order.  A row's ``reason`` is the first rule it fails; later rules
only look at rows whose ``reason`` is still null.  Rules 9–11 rank rows within
groups, so they run after the frame is sorted and read ranks from
``cum_count``-style windows instead of walking claims one by one.

Claims carry two integer keys: ``_p`` (the participant, see
``assessment``) and ``_o`` (the outcome's position on the rate card).
Grouping by integers instead of id strings is what keeps the rules fast on
millions of claims, and the rate card's attributes are looked up by ``_o``
instead of being joined onto every row.

The module also holds the engine's column types (``KIND``, ``STATUS``,
``REASON``, ``COHORT``) and its one rule for joining and stacking frames
whose text columns may be typed differently: evidence ids come as String,
Enum or Categorical, and a frame the engine builds from Python values takes
the evidence's dtype through :func:`keyed_like` before a join, while
:func:`stacked` concatenates frames whose text columns differ in kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from sob.contract import Contract
from sob.pricing import ClaimScales, below_threshold_expr, value_passes

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

# Reason codes of the claim rules, in the order they are applied.
CLAIM_RULES: tuple[str, ...] = (
    "WITHDRAWN",
    "INELIGIBLE",
    "ENROLMENT_OUT_OF_PERIOD",
    "BEFORE_ENROLMENT",
    "OUT_OF_WINDOW",
    "OUT_OF_CONTRACT_PERIOD",
    "LATE_CLAIM",
    "PREREQUISITE_MISSING",
    "MAX_CLAIMS",
    "EXCLUSIVE",
    "VOLUME_CAP",
)
RESULT_RULES: tuple[str, ...] = (
    "WITHDRAWN",
    "OUT_OF_CONTRACT_PERIOD",
    "LATE_CLAIM",
    "MAX_CLAIMS",
    "BELOW_THRESHOLD",
    "NETTED",
)
CAP_REASONS: tuple[str, ...] = ("PARTICIPANT_CAP", "OUTCOME_CAP", "CONTRACT_CAP")

#: The few values of the assessment's ``kind`` and ``status`` columns, and the types of
#: ``reason`` and of the register's ``cohort`` on claims.  A string column costs 16
#: bytes a row whatever it holds; these cost 1 (4 for the open-ended two), on millions
#: of rows.
KIND = pl.Enum(["claim", "improvement", "adjustment"])
STATUS = pl.Enum(["paid", "partial", "capped", "rejected"])
REASON = pl.Categorical()
COHORT = pl.Categorical()

#: The rule SPEC 11.4 adds after rule 7 and before rule 8, for claims of an outcome with ``scale``.
#: It is not in ``CLAIM_RULES`` (whose order the outputs of version-1 contracts list reasons in):
#: a claim of an outcome without a scale never meets it.
SCALE_RULE = "BELOW_THRESHOLD"

#: Reasons given after rule 8: such a claim is still *qualified* as a prerequisite.
AFTER_RULE_8: tuple[str, ...] = ("MAX_CLAIMS", "EXCLUSIVE", "VOLUME_CAP", *CAP_REASONS)


def qualified() -> pl.Expr:
    """Passed rules 1–8 (SPEC 5.2): what a prerequisite claim must have done."""
    return pl.col("reason").is_null() | pl.col("reason").is_in(list(AFTER_RULE_8))


_OPEN = pl.col("reason").is_null()


def with_row_wise(frame: pl.DataFrame, *exprs: pl.Expr, rechunk: bool = True) -> pl.DataFrame:
    """``frame.with_columns(*exprs)`` for row-wise expressions, evaluated on every core.

    The eager ``with_columns`` runs an expression on one thread; the
    streaming engine splits the rows between threads.  Its output comes in
    many chunks, which makes later gathers slow, so the new columns are put
    back in one piece, unless ``rechunk=False`` says nothing gathers from
    them (the copy of millions of strings is then saved).
    """
    new = frame.lazy().select(*exprs).collect()
    return frame.with_columns((new.rechunk() if rechunk else new).get_columns())


def reason_code(reason: str | None) -> pl.Expr:
    """A reason code as a literal of the ``reason`` column's type (``REASON``)."""
    return pl.lit(reason, dtype=REASON)


def keyed_like(lookup: pl.DataFrame, frame: pl.DataFrame | pl.LazyFrame, keys: list[str]) -> pl.DataFrame:
    """``lookup`` with its ``keys`` columns of the dtypes they have in ``frame``, to join onto it.

    The one rule for every frame the engine builds from Python values (plain
    strings) and joins onto evidence rows: polars joins only equal key
    dtypes, and the reader gives ids as String, Enum or Categorical.  Casting
    the small lookup costs nothing; casting millions of evidence rows would.
    A key an Enum cannot hold matches no row of ``frame``, so its lookup row
    is dropped instead of failing the cast.
    """
    schema = frame.collect_schema()
    for key in keys:
        dtype = schema[key]
        if lookup.schema[key] == dtype:
            continue
        cast = lookup[key].cast(dtype, strict=False)
        lookup = lookup.with_columns(cast).filter(cast.is_not_null() | lookup[key].is_null())
    return lookup


def stacked(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The rows of ``frames`` one after another, columns matched by name (missing ones null).

    ``diagonal_relaxed`` finds a common dtype for text only when at most one
    side is an Enum or Categorical (an Enum and String give String); a column
    that is text of different kinds in different frames (say a claims
    ``outcome_id`` Enum and a ledger's or results' Categorical) is made
    String here first, which is what the relaxed concat gives the cases it
    can handle.
    """
    kinds: dict[str, set[pl.DataType]] = {}
    for f in frames:
        for name, dtype in f.schema.items():
            kinds.setdefault(name, set()).add(dtype)
    mixed = {
        name: pl.String
        for name, dtypes in kinds.items()
        if len(dtypes) > 1 and all(isinstance(d, (pl.String, pl.Enum, pl.Categorical)) for d in dtypes)
        and any(isinstance(d, (pl.Enum, pl.Categorical)) for d in dtypes)
    }
    if mixed:
        frames = [f.cast({k: v for k, v in mixed.items() if k in f.columns}) for f in frames]
    return pl.concat(frames, how="diagonal_relaxed")


def _first_failure(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """``reason`` stays as it is when set, else the code of the first failing check."""
    expr: Then | ChainedThen = pl.when(pl.col("reason").is_not_null()).then(pl.col("reason"))
    for reason, failed in checks:
        expr = expr.when(failed.fill_null(False)).then(reason_code(reason))
    return expr.otherwise(reason_code(None)).alias("reason")


def outcome_index(contract: Contract) -> pl.Expr:
    """``_o``: the position of the row's outcome on the rate card, null for an unknown id."""
    ids = [o.id for o in contract.outcomes]
    return pl.col("outcome_id").cast(pl.Enum(ids), strict=False).to_physical().cast(pl.UInt32).alias("_o")


def per_outcome(values: list[Any], dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    """The rate-card attribute ``values[_o]`` of each row's outcome (null for an unknown outcome)."""
    return pl.lit(pl.Series(values, dtype=dtype)).gather(pl.col("_o"))


def _cohort_refused(contract: Contract) -> pl.Expr:
    """The outcome lists ``cohorts`` and the participant's register cohort is not one of them."""
    refused = pl.lit(False)
    for i, o in enumerate(contract.outcomes):
        if o.cohorts is not None:
            admitted = pl.col("cohort").is_in(list(o.cohorts)).fill_null(False)
            refused = refused | ((pl.col("_o") == i) & ~admitted)
    return refused


def age_at_enrolment() -> pl.Expr:
    """Whole years between ``_dob`` and ``enrolled_on``: the birthdays passed on or before enrolment (SPEC 11.5).

    A birthday has passed when (month, day) of enrolment is at or after
    (month, day) of birth.  A 29 February birthday compares as 2-29, which
    in a year without that day is passed exactly from 1 March: the rule of
    SPEC 11.5, with no special case.
    """
    enrolled, born = pl.col("enrolled_on"), pl.col("_dob")
    passed = (enrolled.dt.month().cast(pl.Int32) * 100 + enrolled.dt.day().cast(pl.Int32)) >= (
        born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32))
    return enrolled.dt.year().cast(pl.Int32) - born.dt.year().cast(pl.Int32) - (~passed).cast(pl.Int32)


def _age_refused(contract: Contract) -> pl.Expr:
    """The outcome has ``age_at_enrolment`` and the age is outside it, or unknown (no date of birth).

    Eligibility that cannot be shown is refused: nothing is paid on a
    claim whose participant's age is not known (SPEC 11.5).
    """
    refused = pl.lit(False)
    age = age_at_enrolment()
    for i, o in enumerate(contract.outcomes):
        band = o.age_at_enrolment
        if band is None:
            continue
        outside = age.is_null()
        if band.min is not None:
            outside = outside | (age < band.min)
        if band.max is not None:
            outside = outside | (age > band.max)
        refused = refused | ((pl.col("_o") == i) & outside.fill_null(True))
    return refused


def apply_rules_1_to_7(claims: pl.DataFrame, contract: Contract, register: bool) -> pl.DataFrame:
    """Rules 1–7: per-row checks of status, register, dates and submission.

    Expects the register's ``enrolled_on``, ``eligible`` and ``cohort`` and
    the outcome key ``_o`` on every claim.  Rules 2–5 only run when a
    register was given (SPEC 4.2).
    """
    ach = pl.col("achieved_on")
    checks: list[tuple[str, pl.Expr]] = [("WITHDRAWN", pl.col("status").is_in(["withdrawn", "failed"]))]
    if register:
        enrolled = pl.col("enrolled_on")
        out_of_period = enrolled < pl.lit(contract.start)
        if contract.referrals_end is not None:
            out_of_period = out_of_period | (enrolled > pl.lit(contract.referrals_end))
        window = per_outcome([o.window_days for o in contract.outcomes], pl.Int64)
        ineligible = pl.col("eligible").not_() | _cohort_refused(contract)
        if contract.reads_date_of_birth:  # SPEC 11.5; a contract without age bands computes no age
            ineligible = ineligible | _age_refused(contract)
        checks += [
            ("INELIGIBLE", ineligible),
            ("ENROLMENT_OUT_OF_PERIOD", out_of_period),
            ("BEFORE_ENROLMENT", ach < enrolled),
            ("OUT_OF_WINDOW", window.is_not_null() & (ach > enrolled + pl.duration(days=window))),
        ]
    checks += [
        ("OUT_OF_CONTRACT_PERIOD", (ach < pl.lit(contract.start)) | (ach > pl.lit(contract.outcomes_end))),
        ("LATE_CLAIM", pl.col("submitted_on") > pl.lit(contract.claims_end)),
    ]
    return with_row_wise(claims, _first_failure(checks))


def apply_scale_threshold(claims: pl.DataFrame, scales: ClaimScales | None) -> pl.DataFrame:
    """The rule after 7 (SPEC 11.4): ``BELOW_THRESHOLD`` when a scaled claim's value does not pass ``zero_at``.

    Such a claim is not qualified for prerequisites and takes no place in
    rules 9–11 nor a tier rank: those rules only look at rows without a
    reason, and ``qualified`` does not count this one.
    """
    if scales is None or claims.height == 0:
        return claims
    if scales.vectorised():
        claims = with_row_wise(claims, _first_failure([(SCALE_RULE, below_threshold_expr(scales))]))
    for t in scales.by_hand():  # only outcomes whose numbers could overflow 128 bits
        rows = claims.select(_position(), "_o", "value", _open=_OPEN).filter(pl.col("_open") & (pl.col("_o") == t.outcome))
        below = [i for i, value in rows.select("_i", "value").iter_rows() if value is None or not value_passes(t, value)]
        claims = _reject(claims, pl.Series(below, dtype=pl.UInt32), SCALE_RULE)
    return claims


def _requirement_depths(contract: Contract) -> dict[str, int]:
    """Depth of each outcome in the (acyclic) ``requires`` graph: 0 = no prerequisites."""
    by_id = {o.id: o for o in contract.outcomes}
    depth: dict[str, int] = {}

    def visit(oid: str, trail: frozenset[str]) -> int:
        if oid in depth:
            return depth[oid]
        if oid in trail or oid not in by_id:  # checks reject cycles and unknown ids already
            return 0
        reqs = by_id[oid].requires
        d = 0 if not reqs else 1 + max(visit(r.outcome, trail | {oid}) for r in reqs)
        depth[oid] = d
        return d

    for o in contract.outcomes:
        visit(o.id, frozenset())
    return depth


def apply_prerequisites(claims: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rule 8: every ``requires`` entry needs a *qualified* earlier claim.

    A claim is qualified when it passes rules 1–8 itself, so outcomes are
    resolved in order of their depth in the prerequisite graph.  "Some
    qualified claim achieved on or before D" is the same as "the earliest
    qualified claim is on or before D", so each requirement is one join
    against the earliest qualified achievement per participant and outcome.
    """
    depths = _requirement_depths(contract)
    with_reqs = [o for o in contract.outcomes if o.requires and o.kind == "claim"]
    if not with_reqs or claims.height == 0:
        return claims
    index = {o.id: i for i, o in enumerate(contract.outcomes)}
    for d in range(1, max(depths.values()) + 1):
        level_edges = pl.DataFrame(
            [
                {"_o": index[o.id], "_req_o": index.get(r.outcome), "_min_days": r.min_days}
                for o in with_reqs
                if depths[o.id] == d
                for r in o.requires
            ],
            schema={"_o": pl.UInt32, "_req_o": pl.UInt32, "_min_days": pl.Int64},
        )
        if level_edges.height == 0:
            continue
        # Earliest qualified achievement of each required outcome, per participant.
        earliest = (
            claims.lazy()  # lazy, so only the three columns it reads are filtered
            .filter(_OPEN & pl.col("_o").is_in(level_edges["_req_o"].unique().implode()))
            .group_by("_p", "_o")
            .agg(pl.col("achieved_on").min().alias("_req_on"))
            .rename({"_o": "_req_o"})
            .collect()
        )
        level = (
            claims.select(_position(), "_p", "_o", "achieved_on", _open=_OPEN)
            .filter(pl.col("_open") & pl.col("_o").is_in(level_edges["_o"].unique().implode()))
            .drop("_open")
        )
        checked = (
            level.join(level_edges, on="_o", how="inner")
            .join(earliest, on=["_p", "_req_o"], how="left")
            .with_columns(
                _ok=pl.col("_req_on").is_not_null()
                & (pl.col("_req_on") <= pl.col("achieved_on") - pl.duration(days=pl.col("_min_days")))
            )
        )
        # A claim fails when any of its requirements is not met.
        claims = _reject(claims, checked.filter(~pl.col("_ok"))["_i"], "PREREQUISITE_MISSING")
    return claims


def _position() -> pl.Expr:
    """``_i``: the row's position in the frame, to mark rows found in a filtered copy."""
    return pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i")


def _rank_within(keys: list[str], passing: pl.Expr) -> pl.Expr:
    """1-based rank in processing order among ``passing`` rows of the same ``keys``.

    The frame is sorted in processing order, so a cumulative count of passing
    rows within the group is the rank.  Rows that do not pass get null.
    """
    flag = passing.cast(pl.Int64)
    return pl.when(passing).then(flag.cum_sum().over(keys)).otherwise(None)


def _pair_key(first: str, second: pl.Expr, size: int) -> pl.Expr:
    """One UInt64 for the pair (``first``, ``second``), ``second`` < ``size``: a cheap group key."""
    return pl.col(first).cast(pl.UInt64) * size + second.cast(pl.UInt64)


def _over_limit(claims: pl.DataFrame, key: pl.Expr, limit: pl.Expr, passing: pl.Expr) -> pl.Series:
    """Positions of the passing rows ranked past ``limit`` (>= 1) within their ``key`` group.

    Most groups (a participant's claims of one outcome) hold a single passing
    row and can never exceed a limit of at least one, so only the groups
    with two rows or more are ranked: a window over millions of tiny groups
    is what costs.  Those keys are found as equal neighbours in the sorted
    keys, which is several times cheaper than hashing millions of distinct
    keys.
    """
    candidates = claims.lazy().select(_position(), _key=key, _pass=passing).filter(pl.col("_pass")).drop("_pass").collect()
    k = pl.col("_key")  # lazy, so the comparisons and filters run on both cores
    shared = candidates.lazy().select(k.sort()).filter(k == k.shift(1)).unique().collect()["_key"]
    # the few crowded rows, grouped by key and in row order within each: a row's rank is its
    # distance from the first row of its run (a hash window over the keys costs more)
    crowded = candidates.lazy().filter(k.is_in(shared.implode())).sort("_key", "_i").collect()
    reads = limit.meta.root_names()  # the limit of the crowded rows only, from the columns it reads
    if reads:
        limit = pl.lit(claims.select(reads)[crowded["_i"]].select(limit).to_series())
    at = pl.int_range(pl.len(), dtype=pl.UInt32)
    rank = at - pl.when(k != k.shift(1)).then(at).forward_fill().fill_null(0) + 1
    return crowded.filter(rank > limit)["_i"].sort()


def _reject(claims: pl.DataFrame, positions: pl.Series, code: str) -> pl.DataFrame:
    """Give ``code`` to the rows at ``positions``."""
    if positions.len() == 0:
        return claims
    # only unreasoned rows are ever given a code, so writing it in place is enough
    return claims.with_columns(claims["reason"].clone().scatter(positions, code))


def apply_ranked_rules(claims: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rules 9–11: ``max_claims`` per participant, ``exclusive`` groups, ``volume_cap``.

    Each rank counts only rows that passed every earlier rule, which is why
    the three rules run one after another.  ``_rank_outcome`` (the rank among
    the outcome's accepted claims) is kept for tiered prices.
    """
    outcomes = contract.outcomes
    max_claims = per_outcome([o.max_claims for o in outcomes], pl.Int64)
    per_outcome_key = _pair_key("_p", pl.col("_o"), len(outcomes))
    claims = _reject(claims, _over_limit(claims, per_outcome_key, max_claims, _OPEN), "MAX_CLAIMS")
    groups = sorted({o.exclusive for o in outcomes if o.exclusive})
    if groups:
        group = per_outcome([groups.index(o.exclusive) if o.exclusive else None for o in outcomes], pl.UInt32)
        in_group = _OPEN & group.is_not_null()
        per_group_key = _pair_key("_p", group, len(groups))
        claims = _reject(claims, _over_limit(claims, per_group_key, pl.lit(1), in_group), "EXCLUSIVE")
    ranked = [i for i, o in enumerate(outcomes) if o.volume_cap is not None or o.tiers]
    if not ranked:
        return claims.with_columns(_rank_outcome=pl.lit(None, pl.Int64))
    claims = claims.with_columns(_rank_outcome=_rank_within(["_o"], _OPEN & pl.col("_o").is_in(ranked)))
    volume_cap = per_outcome([o.volume_cap for o in outcomes], pl.Int64)
    return claims.with_columns(
        pl.when(_OPEN & volume_cap.is_not_null() & (pl.col("_rank_outcome") > volume_cap))
        .then(reason_code("VOLUME_CAP"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )


def apply_result_rules(results: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rules of SPEC 5.3 up to ``MAX_CLAIMS``; the threshold needs exact decimals (pricing)."""
    ach = pl.col("achieved_on")
    results = results.with_columns(
        _first_failure(
            [
                ("WITHDRAWN", pl.col("status").is_in(["withdrawn", "failed"])),
                ("OUT_OF_CONTRACT_PERIOD", (ach < pl.lit(contract.start)) | (ach > pl.lit(contract.outcomes_end))),
                ("LATE_CLAIM", pl.col("submitted_on") > pl.lit(contract.claims_end)),
            ]
        )
    )
    results = results.with_columns(_rank_claims=_rank_within(["outcome_id", "cohort"], _OPEN))
    return results.with_columns(
        pl.when(_OPEN & (pl.col("_rank_claims") > 1)).then(reason_code("MAX_CLAIMS")).otherwise(pl.col("reason")).alias("reason")
    )
