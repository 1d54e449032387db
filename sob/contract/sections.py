"""Checks of each section of a contract file (SPEC 3, 3.1, 3.2), one small function each.

Each function takes the reporter, the parsed file and what earlier sections
established (:class:`~sob.contract.converters.Facts`), reports every problem
it finds, and returns its typed part of the contract (``None`` when it has
errors).  Sections that establish facts for later ones return them too, so
the order of the steps is visible in :func:`sob.contract.load.check_contract_text`
rather than hidden in shared state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any, NamedTuple

from sob.contract import format as fmt
from sob.contract.converters import Facts, convert_fields, shares_sum_to_one, table
from sob.contract.model import CapPoint, Caps, EvidenceConfig, Outcome, Payer, Requirement
from sob.contract.report import Reporter, did_you_mean, show
from sob.contract.toml_locate import KeyPath
from sob.money import iso_minor_units


class OutcomeFacts(NamedTuple):
    """What the cross-outcome checks need to know of one outcome, valid or not."""

    id: str | None
    kind: str | None
    requires: tuple[Requirement, ...] | None
    #: the outcome's ``net_of`` list (SPEC 11.6), None when absent or broken
    net_of: tuple[str, ...] | None = None


def split_cap(value: int | tuple[CapPoint, ...] | None) -> tuple[int | None, tuple[CapPoint, ...]]:
    """A cap as converted: its plain limit and its schedule (SPEC 10.5; empty for one value).

    For a schedule the plain limit is its first entry, the one in force at
    the contract start; every run puts the entries in force at its own day
    (:meth:`~sob.contract.model.Contract.in_force`).
    """
    if isinstance(value, tuple):
        return value[0].limit, value
    return value, ()


def check_schema(r: Reporter, data: dict[str, Any]) -> None:
    """``schema = "sob/1"``: present, a string, and a version this sob reads."""
    if "schema" not in data:
        r.missing((), "schema", ' (write schema = "sob/1" as the first line)')
        return
    value = data["schema"]
    if not isinstance(value, str):
        r.wrong_type(value, ("schema",), 'the format version string "sob/1"')
    elif value not in fmt.SCHEMA_VERSIONS:
        r.error(
            "UNKNOWN_SCHEMA",
            ("schema",),
            f"schema {show(value)} is not a format this sob reads ({', '.join(fmt.SCHEMA_VERSIONS)})",
            value=value,
            hint=did_you_mean(value, fmt.SCHEMA_VERSIONS) or 'write schema = "sob/1"',
        )


def check_top_keys(r: Reporter, data: dict[str, Any]) -> None:
    """UNKNOWN_KEY for every top-level key the format does not have."""
    for key in data:
        if key not in fmt.TOP_KEYS:
            r.unknown_key(key, (key,), fmt.TOP_KEYS)


def check_contract(r: Reporter, data: dict[str, Any], facts: Facts) -> tuple[dict[str, Any] | None, Facts]:
    """``[contract]``: ids, currency and minor unit, dates and their order.

    Returns the converted keys and the facts later sections need: the minor
    unit (money), the start and claims end and the fiscal year (profiles,
    dated prices).
    """
    if "contract" not in data:
        r.missing((), "contract", " (a [contract] table with id, currency, start, outcomes_end)")
        return None, replace(facts, minor_units=None)
    head_table = table(r, data["contract"], ("contract",), "[contract]")
    if head_table is None:
        return None, replace(facts, minor_units=None)
    head = convert_fields(r, facts, head_table, ("contract",), fmt.CONTRACT_FIELDS, fmt.CONTRACT_REQUIRED)
    # An explicit minor_units wins; a broken one (or a broken currency) leaves it
    # unknown, and money is then checked for type and sign only.
    minor_units: int | None = head.get("minor_units")
    currency = head.get("currency")
    if currency is not None and "minor_units" not in head_table:
        minor_units = iso_minor_units(currency)
        if minor_units is None:
            r.error(
                "BAD_CURRENCY",
                ("contract", "currency"),
                f"ISO 4217 gives {currency} no minor unit, so the contract must say how many "
                "decimal digits its amounts have",
                value=currency,
                hint="add minor_units = N (0 to 18) to [contract]",
            )
    # None (unknown) when the month is written but invalid: profile quarters are then unchecked.
    fy_month = head.get("fiscal_year_start_month", None if "fiscal_year_start_month" in head_table else 1)
    check_dates(r, head)
    claims_end: date | None = None
    if "claims_end" in head:
        claims_end = head["claims_end"]
    elif "claims_end" not in head_table:
        claims_end = head.get("outcomes_end")
    return head, replace(facts, minor_units=minor_units, fy_month=fy_month, start=head.get("start"), claims_end=claims_end)


def check_dates(r: Reporter, head: dict[str, Any]) -> None:
    """start <= referrals_end <= outcomes_end <= claims_end (SPEC 3.2)."""
    order = ("start", "referrals_end", "outcomes_end", "claims_end")
    present = [(key, head[key]) for key in order if key in head]
    for (early_key, early), (late_key, late) in pairwise(present):
        if late < early:
            r.error(
                "DATES_OUT_OF_ORDER",
                ("contract", late_key),
                f"contract {late_key} {late} is before {early_key} {early}",
                value=late,
                hint="dates must run start <= referrals_end <= outcomes_end <= claims_end",
            )


def check_payers(r: Reporter, data: dict[str, Any], facts: Facts) -> tuple[tuple[Payer, ...] | None, tuple[str, ...] | None]:
    """``[[payers]]``: at least one, unique ids, shares in (0, 1] summing to 1.

    Also returns the valid, distinct payer ids (``None`` when the section is
    absent or not an array), which outcome splits and examples refer to.
    """
    value = data.get("payers")
    if value is None or value == []:
        r.missing((), "payers", " (at least one [[payers]] table with id and share)")
        return None, None
    if not isinstance(value, list):
        r.wrong_type(value, ("payers",), "an array of tables", hint="write [[payers]], not [payers]")
        return None, None
    payers: list[Payer] = []
    seen: dict[str, int] = {}
    ids: list[str] = []
    ok = True
    for i, item in enumerate(value):
        path: KeyPath = ("payers", i)
        payer = table(r, item, path, "[[payers]]")
        if payer is None:
            ok = False
            continue
        required = fmt.PAYER_REQUIRED if len(value) == 1 else (*fmt.PAYER_REQUIRED, "share")
        mark = r.mark()
        fields = convert_fields(r, facts, payer, path, fmt.PAYER_FIELDS, required)
        payer_id = fields.get("id")
        if payer_id is not None:
            if payer_id in seen:
                r.error(
                    "DUPLICATE_ID",
                    (*path, "id"),
                    f"payer id '{payer_id}' is used twice (first by payers[{seen[payer_id]}])",
                    value=payer_id,
                )
                ok = False
            else:
                seen[payer_id] = i
                ids.append(payer_id)
        if not r.clean_since(mark):
            ok = False
            continue
        assert payer_id is not None  # a missing id was reported, so the payer is not clean
        cap, cap_schedule = split_cap(fields.get("cap"))
        payers.append(Payer(payer_id, fields.get("name", ""), fields.get("share", Decimal(1)), cap,
                            fields.get("on_cap", "cut"), cap_schedule=cap_schedule))
    if not ok:
        return None, tuple(ids)
    if not shares_sum_to_one(r, [(p.id, p.share) for p in payers], ("payers",)):
        return None, tuple(ids)
    return tuple(payers), tuple(ids)


def check_caps(r: Reporter, data: dict[str, Any], facts: Facts) -> Caps | None:
    """``[caps]``: money caps (in minor units) and whether a crossing claim is cut or zeroed."""
    if "caps" not in data:
        return Caps()
    caps = table(r, data["caps"], ("caps",), "[caps]")
    if caps is None:
        return None
    fields = convert_fields(r, facts, caps, ("caps",), fmt.CAPS_FIELDS)
    per_participant, per_participant_schedule = split_cap(fields.get("per_participant"))
    total, total_schedule = split_cap(fields.get("total"))
    return Caps(per_participant, total, fields.get("partial", True),
                per_participant_schedule=per_participant_schedule, total_schedule=total_schedule)


def check_evidence(r: Reporter, data: dict[str, Any], facts: Facts) -> EvidenceConfig | None:
    """``[evidence]``: file paths (confined to the contract's folder), date format, delimiter, headers."""
    if "evidence" not in data:
        return EvidenceConfig()
    evidence = table(r, data["evidence"], ("evidence",), "[evidence]")
    if evidence is None:
        return None
    fields = convert_fields(r, facts, evidence, ("evidence",), fmt.EVIDENCE_FIELDS)
    defaults = EvidenceConfig()
    return EvidenceConfig(
        claims=fields.get("claims"),
        participants=fields.get("participants"),
        results=fields.get("results"),
        date_format=fields.get("date_format", defaults.date_format),
        delimiter=fields.get("delimiter", defaults.delimiter),
        columns=fields.get("columns", ()),
        encoding=fields.get("encoding", defaults.encoding),
        money=fields.get("money", defaults.money),
        sheet=fields.get("sheet"),
        values=fields.get("values", ()),
        detect_delimiter="delimiter" not in evidence,
    )


def outcome_list(r: Reporter, data: dict[str, Any]) -> list[Any] | None:
    """The ``[[outcomes]]`` array, or None after reporting that it is missing or not an array."""
    value = data.get("outcomes")
    if value is None or value == []:
        r.missing((), "outcomes", " (at least one [[outcomes]] table)")
        return None
    if not isinstance(value, list):
        r.wrong_type(value, ("outcomes",), "an array of tables", hint="write [[outcomes]], not [outcomes]")
        return None
    return value


def _wrong_kind_keys(r: Reporter, path: KeyPath, outcome: dict[str, Any], kind: str | None) -> list[str]:
    """WRONG_KIND_KEY for each key that belongs to the other kind of outcome; the keys found."""
    foreign = {"claim": fmt.IMPROVEMENT_ONLY_KEYS, "improvement": fmt.CLAIM_ONLY_KEYS}.get(kind or "", ())
    wrong = [key for key in outcome if key in foreign]
    for key in wrong:
        r.error(
            "WRONG_KIND_KEY",
            (*path, key),
            f"{r.subject(path)} is {'an' if kind == 'improvement' else 'a'} {kind} outcome; "
            f"'{key}' is only for {'improvement' if kind == 'claim' else 'claim'} outcomes",
            hint=None if kind == "improvement" else 'add kind = "improvement" if this is a cohort outcome',
        )
    return wrong


def check_outcome(r: Reporter, facts: Facts, item: object, i: int) -> tuple[Outcome | None, OutcomeFacts]:
    """One outcome: kind-specific keys, price choice, ranges.

    Returns the outcome (None when it has errors) and the facts the
    cross-outcome checks need, which are kept even when the outcome has
    other errors so that every problem is still reported in one pass.
    """
    path: KeyPath = ("outcomes", i)
    outcome = table(r, item, path, "[[outcomes]]")
    if outcome is None:
        return None, OutcomeFacts(None, None, None)
    mark = r.mark()
    raw_kind = outcome.get("kind", "claim")
    kind = raw_kind if raw_kind in fmt.OUTCOME_KINDS else None
    wrong = _wrong_kind_keys(r, path, outcome, kind)
    fields = convert_fields(r, facts, outcome, path, fmt.OUTCOME_FIELDS, fmt.OUTCOME_REQUIRED, skip=wrong)
    price_keys = fmt.IMPROVEMENT_PRICE_KEYS if kind == "improvement" else fmt.PRICE_KEYS
    prices = [key for key in price_keys if key in outcome and key not in wrong]
    if len(prices) != 1:
        r.error(
            "PRICE_CHOICE",
            (*path, prices[1]) if len(prices) > 1 else path,
            f"{r.subject(path)} must have exactly one of {', '.join(price_keys)}"
            + (f", not {' and '.join(prices)}" if prices else ""),
        )
    if kind == "improvement":
        _check_steps_and_scale(r, path, outcome, fields)
    if kind == "improvement" and "direction" not in outcome:
        r.missing(path, "direction", ' (an improvement outcome needs direction = "decrease" or "increase")')
    if fields.get("max_claims", 1) > 1 and "exclusive" in fields:
        r.error(
            "MAX_CLAIMS_EXCLUSIVE",
            (*path, "max_claims"),
            f"{r.subject(path)} has max_claims = {fields['max_claims']} but is in exclusive group "
            f"{show(fields['exclusive'])}, which admits one claim per participant",
            value=fields["max_claims"],
        )
    found = OutcomeFacts(fields.get("id"), kind, fields.get("requires"), fields.get("net_of"))
    if not r.clean_since(mark) or kind is None:
        return None, found
    return Outcome(
        id=fields["id"],
        name=fields.get("name", ""),
        kind=kind,
        price=fields.get("price"),
        prices=fields.get("prices", ()),
        tiers=fields.get("tiers", ()),
        max_claims=fields.get("max_claims", 1),
        window_days=fields.get("window_days"),
        exclusive=fields.get("exclusive"),
        cohorts=fields.get("cohorts"),
        volume_cap=split_cap(fields.get("volume_cap"))[0],
        amount_cap=split_cap(fields.get("amount_cap"))[0],
        payers=fields.get("payers"),
        profile=fields.get("profile", ()),
        requires=fields.get("requires", ()),
        direction=fields.get("direction"),
        min_improvement=fields.get("min_improvement", Decimal(0)),
        deadweight=fields.get("deadweight", Decimal(0)),
        volume_cap_schedule=split_cap(fields.get("volume_cap"))[1],
        amount_cap_schedule=split_cap(fields.get("amount_cap"))[1],
        steps=fields.get("steps", ()),
        scale=fields.get("scale"),
        net_of=fields.get("net_of", ()),
        age_at_enrolment=fields.get("age_at_enrolment"),
    ), found


def _check_steps_and_scale(r: Reporter, path: KeyPath, outcome: dict[str, Any], fields: dict[str, Any]) -> None:
    """The combinations SPEC 11.3, 11.4 and 11.7 forbid on an improvement outcome.

    ``steps`` is the whole payment for the result, so a threshold, a
    deadweight or a scale on top of it would change what the rate card
    says it pays; and an improvement only grows as the result gets better,
    so its scale must run upwards.
    """
    if "steps" in outcome:
        for key in fmt.STEPS_EXCLUDES:
            if key in outcome:
                r.error(
                    "BAD_SCALE" if key == "scale" else "BAD_STEPS",
                    (*path, key),
                    f"{r.subject(path)} has steps, so it cannot also have '{key}': "
                    "the step reached is the whole payment for the result",
                    hint=f"remove '{key}', or replace steps with price",
                )
    scale = fields.get("scale")
    if scale is not None and scale.zero_at > scale.full_at:
        r.error(
            "BAD_SCALE",
            (*path, "scale", "zero_at"),
            f"{r.subject(path)} has a scale with zero_at {scale.zero_at} above full_at {scale.full_at}; "
            "on an improvement outcome the improvement grows as the result gets better",
            value=outcome["scale"]["zero_at"],
            hint="swap zero_at and full_at: zero_at is the improvement that pays nothing",
        )
