"""The assessment rules of SPEC 5.2 (claims) and 5.3 (cohort results).

Each rule is a vectorised step over the in-scope rows, already sorted in
processing order.  A row's ``reason`` is the first rule it fails; later rules
only look at rows whose ``reason`` is still null.  Rules 9–11 rank rows within
groups, so they run after the frame is sorted and read ranks from
``cum_count``-style windows instead of walking claims one by one.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from sob.contract import Contract

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
)
CAP_REASONS: tuple[str, ...] = ("PARTICIPANT_CAP", "OUTCOME_CAP", "CONTRACT_CAP")

_OPEN = pl.col("reason").is_null()


def _first_failure(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """``reason`` stays as it is when set, else the code of the first failing check."""
    expr: pl.Expr | pl.When | pl.Then = pl.when(pl.col("reason").is_not_null()).then(pl.col("reason"))
    for code, failed in checks:
        expr = expr.when(failed.fill_null(False)).then(pl.lit(code))
    return expr.otherwise(pl.lit(None, dtype=pl.String)).alias("reason")


def outcome_table(contract: Contract) -> pl.DataFrame:
    """The rate card as a frame to join claims against (one row per outcome)."""
    rows = [
        {
            "outcome_id": o.id,
            "_kind": o.kind,
            "_max_claims": o.max_claims,
            "_window_days": o.window_days,
            "_exclusive": o.exclusive,
            "_has_cohorts": o.cohorts is not None,
            "_volume_cap": o.volume_cap,
        }
        for o in contract.outcomes
    ]
    schema = {
        "outcome_id": pl.String,
        "_kind": pl.String,
        "_max_claims": pl.Int64,
        "_window_days": pl.Int64,
        "_exclusive": pl.String,
        "_has_cohorts": pl.Boolean,
        "_volume_cap": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _allowed_cohorts(contract: Contract) -> pl.DataFrame:
    """(outcome_id, cohort) pairs that outcomes listing ``cohorts`` admit."""
    pairs = [(o.id, c) for o in contract.outcomes if o.cohorts for c in o.cohorts]
    return pl.DataFrame(
        {"outcome_id": [p[0] for p in pairs], "cohort": [p[1] for p in pairs], "_cohort_ok": [True] * len(pairs)},
        schema={"outcome_id": pl.String, "cohort": pl.String, "_cohort_ok": pl.Boolean},
    )


def apply_rules_1_to_7(claims: pl.LazyFrame, contract: Contract, register: bool) -> pl.LazyFrame:
    """Rules 1–7: per-row checks of status, register, dates and submission.

    Expects the claims joined to the register (``enrolled_on``, ``eligible``,
    ``cohort``) and to :func:`outcome_table`.  Rules 2–5 only run when a
    register was given (SPEC 4.2).
    """
    ach = pl.col("achieved_on")
    checks: list[tuple[str, pl.Expr]] = [("WITHDRAWN", pl.col("status").is_in(["withdrawn", "failed"]))]
    if register:
        if any(o.cohorts is not None for o in contract.outcomes):
            claims = claims.join(
                _allowed_cohorts(contract).lazy(), on=["outcome_id", "cohort"], how="left", maintain_order="left"
            )
        else:
            claims = claims.with_columns(_cohort_ok=pl.lit(None, pl.Boolean))
        enrolled = pl.col("enrolled_on")
        out_of_period = enrolled < pl.lit(contract.start)
        if contract.referrals_end is not None:
            out_of_period = out_of_period | (enrolled > pl.lit(contract.referrals_end))
        window_end = enrolled + pl.duration(days=pl.col("_window_days"))
        checks += [
            ("INELIGIBLE", (pl.col("eligible") == False) | (pl.col("_has_cohorts") & pl.col("_cohort_ok").is_null())),  # noqa: E712
            ("ENROLMENT_OUT_OF_PERIOD", out_of_period),
            ("BEFORE_ENROLMENT", ach < enrolled),
            ("OUT_OF_WINDOW", pl.col("_window_days").is_not_null() & (ach > window_end)),
        ]
    checks += [
        ("OUT_OF_CONTRACT_PERIOD", (ach < pl.lit(contract.start)) | (ach > pl.lit(contract.outcomes_end))),
        ("LATE_CLAIM", pl.col("submitted_on") > pl.lit(contract.claims_end)),
    ]
    return claims.with_columns(_first_failure(checks))


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
    edges = pl.DataFrame(
        [
            {"outcome_id": o.id, "_req": r.outcome, "_min_days": r.min_days, "_req_index": i}
            for o in with_reqs
            for i, r in enumerate(o.requires)
        ],
        schema={"outcome_id": pl.String, "_req": pl.String, "_min_days": pl.Int64, "_req_index": pl.Int64},
    )
    for d in range(1, max(depths.values()) + 1):
        level_edges = edges.filter(pl.col("outcome_id").is_in([o.id for o in with_reqs if depths[o.id] == d]))
        if level_edges.height == 0:
            continue
        required = level_edges["_req"].unique().to_list()
        # Earliest qualified achievement of each required outcome, per participant.
        earliest = (
            claims.filter(pl.col("reason").is_null() & pl.col("outcome_id").is_in(required))
            .group_by(["participant_id", "outcome_id"])
            .agg(pl.col("achieved_on").min().alias("_req_on"))
            .rename({"outcome_id": "_req"})
        )
        level = claims.filter(
            pl.col("reason").is_null() & pl.col("outcome_id").is_in(level_edges["outcome_id"].unique().implode())
        ).select("_order", "participant_id", "outcome_id", "achieved_on")
        checked = (
            level.join(level_edges, on="outcome_id", how="inner")
            .join(earliest, on=["participant_id", "_req"], how="left")
            .with_columns(
                _ok=pl.col("_req_on").is_not_null()
                & (pl.col("_req_on") <= pl.col("achieved_on") - pl.duration(days=pl.col("_min_days")))
            )
        )
        # A claim fails when any of its requirements is not met.
        failing = checked.filter(~pl.col("_ok"))["_order"].unique()
        claims = claims.with_columns(
            pl.when(pl.col("_order").is_in(failing.implode()))
            .then(pl.lit("PREREQUISITE_MISSING"))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
    return claims


def _rank_within(keys: list[str], passing: pl.Expr) -> pl.Expr:
    """1-based rank in processing order among ``passing`` rows of the same ``keys``.

    The frame is sorted in processing order, so a cumulative count of passing
    rows within the group is the rank.  Rows that do not pass get null.
    """
    flag = passing.cast(pl.Int64)
    return pl.when(passing).then(flag.cum_sum().over(keys)).otherwise(None)


def _over_limit(claims: pl.DataFrame, keys: list[str], limit: pl.Expr, passing: pl.Expr) -> pl.Series:
    """``_order`` of the passing rows ranked past ``limit`` within their group.

    Most groups (a participant's claims of one outcome) never exceed their
    limit, so groups are counted first and only the rows of the groups that
    overflow are ranked: a window over millions of tiny groups is what costs.
    """
    cols = ["_order", *keys, limit.alias("_limit")]
    crowded = (
        claims.filter(passing)
        .select(cols)
        .filter(pl.len().over(keys) > pl.col("_limit"))
    )
    if crowded.height == 0:
        return pl.Series("_order", [], dtype=pl.Int64)
    ranked = crowded.with_columns(_rank=pl.int_range(1, pl.len() + 1).over(keys))
    return ranked.filter(pl.col("_rank") > pl.col("_limit"))["_order"]


def _reject(claims: pl.DataFrame, orders: pl.Series, code: str) -> pl.DataFrame:
    """Give ``code`` to the rows whose ``_order`` is in ``orders``."""
    if orders.len() == 0:
        return claims
    return claims.with_columns(
        pl.when(pl.col("_order").is_in(orders.implode())).then(pl.lit(code)).otherwise(pl.col("reason")).alias("reason")
    )


def apply_ranked_rules(claims: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rules 9–11: ``max_claims`` per participant, ``exclusive`` groups, ``volume_cap``.

    Each rank counts only rows that passed every earlier rule, which is why
    the three rules run one after another.  ``_rank_outcome`` (the rank among
    the outcome's accepted claims) is kept for tiered prices.
    """
    claims = _reject(
        claims, _over_limit(claims, ["participant_id", "outcome_id"], pl.col("_max_claims"), _OPEN), "MAX_CLAIMS"
    )
    if any(o.exclusive for o in contract.outcomes):
        in_group = _OPEN & pl.col("_exclusive").is_not_null()
        claims = _reject(claims, _over_limit(claims, ["participant_id", "_exclusive"], pl.lit(1), in_group), "EXCLUSIVE")
    ranked = [o.id for o in contract.outcomes if o.volume_cap is not None or o.tiers]
    if not ranked:
        return claims.with_columns(_rank_outcome=pl.lit(None, pl.Int64))
    claims = claims.with_columns(_rank_outcome=_rank_within(["outcome_id"], _OPEN & pl.col("outcome_id").is_in(ranked)))
    return claims.with_columns(
        pl.when(_OPEN & pl.col("_volume_cap").is_not_null() & (pl.col("_rank_outcome") > pl.col("_volume_cap")))
        .then(pl.lit("VOLUME_CAP"))
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
        pl.when(_OPEN & (pl.col("_rank_claims") > 1)).then(pl.lit("MAX_CLAIMS")).otherwise(pl.col("reason")).alias("reason")
    )


def in_scope(frame: pl.DataFrame, as_at: date) -> pl.DataFrame:
    """Rows submitted by ``as_at``, plus rows whose dates cannot be read (SPEC 4.4)."""
    return frame.filter(pl.col("_undated") | (pl.col("submitted_on") <= pl.lit(as_at)))
