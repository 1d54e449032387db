"""The contract: typed, immutable objects read from a TOML file (SPEC 3).

Money is held as ``int`` minor units of the contract's currency and shares as
exact ``Decimal`` values (or ``Fraction`` values when written as ``"p/q"``),
so nothing downstream ever meets a binary float.
``load_contract`` (in :mod:`sob.contract.load`) builds these objects and
collects every problem in one pass; this module only defines the shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from sob.money import format_minor

OutcomeKind = Literal["claim", "improvement"]

#: a payer's share: the Decimal a decimal share writes, or the Fraction of a ``"p/q"`` share (SPEC 11.2)
Share = Decimal | Fraction


@dataclass(frozen=True)
class Payer:
    """An outcome payer, its share of every payment (unless overridden) and its own cap (SPEC 11.1).

    ``cap`` is what the payer pays at most, contract-wide, in minor units;
    ``on_cap`` says who pays its part beyond the cap: nobody (``"cut"``) or
    the claim's other payers (``"shift"``).
    """

    id: str
    name: str
    share: Share
    cap: int | None = None
    on_cap: str = "cut"
    #: ``cap`` written as a schedule (SPEC 10.5); ``cap`` then holds the entry in force (see Contract.in_force)
    cap_schedule: tuple[CapPoint, ...] = ()


@dataclass(frozen=True)
class CapPoint:
    """One entry of a dated cap (SPEC 10.5): ``limit`` is in force from ``start`` until the next entry.

    ``limit`` is minor units for a money cap and a number of claims for a
    ``volume_cap``.  A variation raises or lowers a cap from a date, and the
    payments already made under the old limit must stay explainable, so the
    whole schedule is kept rather than only its latest entry.
    """

    start: date
    limit: int


def entry_in_force(schedule: tuple[CapPoint, ...], day: date) -> CapPoint | None:
    """The entry with the latest ``start`` on or before ``day`` (SPEC 10.5); None for an empty schedule.

    A day before the first entry gets the first entry: a valid schedule
    starts on or before the contract start, so this only happens for runs
    before the contract starts, which count nothing.
    """
    chosen = schedule[0] if schedule else None
    for point in schedule:
        if point.start <= day:
            chosen = point
    return chosen


def _limit(plain: int | None, schedule: tuple[CapPoint, ...], day: date) -> int | None:
    """A cap's limit in force on ``day``: its schedule's entry, else the plain value."""
    entry = entry_in_force(schedule, day)
    return plain if entry is None else entry.limit


@dataclass(frozen=True)
class PricePoint:
    """A dated price: in force for achievements on or after ``start``."""

    start: date
    price: int


@dataclass(frozen=True)
class Tier:
    """A volume tier: ranks after the previous tier's ``up_to`` up to this one's."""

    up_to: int | None
    price: int


@dataclass(frozen=True)
class Requirement:
    """A prerequisite: a qualified claim of ``outcome`` at least ``min_days`` earlier."""

    outcome: str
    min_days: int = 0


@dataclass(frozen=True)
class Step:
    """A threshold step of an improvement outcome (SPEC 11.3): reaching ``at`` pays ``amount``.

    ``at`` is a relative improvement in (0, 1), kept exact; ``amount`` is the
    whole payment for the result, in minor units (no units, no deadweight).
    """

    at: Decimal
    amount: int


@dataclass(frozen=True)
class Scale:
    """A sliding scale (SPEC 11.4): nothing at or before ``zero_at``, the full price from ``full_at``.

    ``zero_at > full_at`` (claim outcomes only) means lower values are better.
    """

    zero_at: Decimal
    full_at: Decimal


@dataclass(frozen=True)
class AgeBand:
    """Ages at enrolment an outcome may be claimed for (SPEC 11.5): whole years, both bounds inclusive.

    A bound left out is open.  The age is the number of birthdays passed on
    or before ``enrolled_on`` (a 29 February birthday falls on 1 March in
    other years).
    """

    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One line of the rate card."""

    id: str
    name: str = ""
    kind: OutcomeKind = "claim"
    price: int | None = None
    prices: tuple[PricePoint, ...] = ()
    tiers: tuple[Tier, ...] = ()
    max_claims: int = 1
    window_days: int | None = None
    exclusive: str | None = None
    cohorts: tuple[str, ...] | None = None
    volume_cap: int | None = None
    amount_cap: int | None = None
    payers: tuple[tuple[str, Share], ...] | None = None
    profile: tuple[tuple[str, int], ...] = ()
    requires: tuple[Requirement, ...] = ()
    direction: Literal["decrease", "increase"] | None = None
    min_improvement: Decimal = Decimal(0)
    deadweight: Decimal = Decimal(0)
    #: ``volume_cap`` / ``amount_cap`` written as schedules (SPEC 10.5); the plain fields hold the entry in force
    volume_cap_schedule: tuple[CapPoint, ...] = ()
    amount_cap_schedule: tuple[CapPoint, ...] = ()
    #: threshold steps instead of price/prices, highest reached step pays (SPEC 11.3; improvement outcomes)
    steps: tuple[Step, ...] = ()
    #: a sliding scale on the claim's value or the result's absolute improvement (SPEC 11.4)
    scale: Scale | None = None
    #: improvement outcomes whose entitled amounts this one's price is reduced by (SPEC 11.6)
    net_of: tuple[str, ...] = ()
    #: only participants of these ages at enrolment qualify (SPEC 11.5; claim outcomes)
    age_at_enrolment: AgeBand | None = None

    def price_on(self, day: date) -> int | None:
        """Flat or dated price for an achievement on ``day`` (not for tiers)."""
        if self.price is not None:
            return self.price
        chosen = None
        for point in self.prices:
            if point.start <= day:
                chosen = point.price
        return chosen


@dataclass(frozen=True)
class Caps:
    """Money caps; ``partial`` says whether a claim crossing a cap is cut or zeroed."""

    per_participant: int | None = None
    total: int | None = None
    partial: bool = True
    #: the caps written as schedules (SPEC 10.5); the plain fields hold the entry in force
    per_participant_schedule: tuple[CapPoint, ...] = ()
    total_schedule: tuple[CapPoint, ...] = ()


@dataclass(frozen=True)
class EvidenceConfig:
    """How evidence files are found and read (``[evidence]``).

    When the contract was loaded from a file, ``claims``, ``participants``
    and ``results`` hold the paths as checked on disk: relative to the
    contract's folder, every symbolic link resolved (see :mod:`sob.contract.paths`).
    """

    claims: str | None = None
    participants: str | None = None
    results: str | None = None
    date_format: str = "%Y-%m-%d"
    delimiter: str = ","
    columns: tuple[tuple[str, str], ...] = ()  # canonical name -> header in the files
    encoding: str = "utf-8"  # a Python codec name; files in another encoding are transcoded when read
    money: str = "plain"  # "lenient": money cells may hold the currency symbol, separators, (negatives)
    sheet: str | None = None  # the sheet of an XLSX/ODS evidence file (default: the first)
    #: column -> ((value in the files, canonical value), ...), e.g. status Approved -> claimed
    values: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    detect_delimiter: bool = False  # True when the contract has no ``delimiter`` key: each CSV file's is detected

    def value_map(self, column: str) -> dict[str, str]:
        """The ``[evidence.values]`` map of a column (empty when it has none)."""
        return dict(dict(self.values).get(column, ()))

    def header_for(self, canonical: str) -> str:
        """The header a canonical column is found under."""
        return dict(self.columns).get(canonical, canonical)


@dataclass(frozen=True)
class Adjustment:
    """An agreed payment that no claim explains (SPEC 10.6): signed, dated, with a reason.

    It becomes a row of kind ``adjustment`` in every run as at a quarter
    ending on or after ``on``: never cut by a cap, but counted against the
    total cap and every payer cap.  ``amount`` is signed minor units, never
    zero (negative recovers money); ``payers`` overrides the contract's split.
    """

    id: str
    on: date
    amount: int
    reason: str
    payers: tuple[tuple[str, Share], ...] | None = None
    line: int | None = None


@dataclass(frozen=True)
class Example:
    """A worked example from the contract's payment schedule (SPEC 8).

    Rows are kept as plain dicts of canonical column → TOML value (dates as
    ``date``, numbers as ``Decimal``/``int``); ``expect`` keeps money as
    ``Decimal`` for comparison after formatting.
    """

    name: str
    quarter: str | None
    participants: tuple[dict[str, Any], ...] = ()
    claims: tuple[dict[str, Any], ...] = ()
    results: tuple[dict[str, Any], ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class Contract:
    """A whole contract, valid by construction when ``load_contract`` returns it."""

    id: str
    name: str
    currency: str
    minor_units: int
    start: date
    outcomes_end: date
    claims_end: date
    referrals_end: date | None
    fiscal_year_start_month: int
    payers: tuple[Payer, ...]
    outcomes: tuple[Outcome, ...]
    caps: Caps = Caps()
    evidence: EvidenceConfig = EvidenceConfig()
    examples: tuple[Example, ...] = ()
    #: agreed payments that are not outcome claims (SPEC 10.6), in file order
    adjustments: tuple[Adjustment, ...] = ()
    path: Path | None = None
    schema: str = "sob/1"
    #: the folder evidence paths are relative to, when it is not ``path``'s own (a linked contract)
    folder: Path | None = None

    # --- dated caps (SPEC 10.5) -----------------------------------------------------
    @property
    def has_cap_schedules(self) -> bool:
        """Some cap is written as a schedule, so the caps depend on the day a run is assessed as at."""
        return bool(
            self.caps.per_participant_schedule or self.caps.total_schedule
            or any(p.cap_schedule for p in self.payers)
            or any(o.volume_cap_schedule or o.amount_cap_schedule for o in self.outcomes)
        )

    def in_force(self, day: date) -> Contract:
        """This contract with every scheduled cap set to its entry in force on ``day`` (SPEC 10.5).

        The engine reads plain limits; a run as at end(Q) uses, for the whole
        run, the entries in force at end(Q).  The schedules are kept, so the
        copy can be put in force at another day again (the previous quarter's
        recomputation) and explained.
        """
        if not self.has_cap_schedules:
            return self
        caps = replace(self.caps, per_participant=_limit(self.caps.per_participant, self.caps.per_participant_schedule, day),
                       total=_limit(self.caps.total, self.caps.total_schedule, day))
        payers = tuple(replace(p, cap=_limit(p.cap, p.cap_schedule, day)) for p in self.payers)
        outcomes = tuple(
            replace(o, volume_cap=_limit(o.volume_cap, o.volume_cap_schedule, day),
                    amount_cap=_limit(o.amount_cap, o.amount_cap_schedule, day))
            for o in self.outcomes
        )
        return replace(self, caps=caps, payers=payers, outcomes=outcomes)

    # --- lookups the engine needs -------------------------------------------------
    def outcome(self, outcome_id: str) -> Outcome:
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        raise KeyError(outcome_id)

    @property
    def payer_ids(self) -> list[str]:
        return [p.id for p in self.payers]

    @property
    def has_payer_caps(self) -> bool:
        """Some payer has a cap: the split then happens inside the cap walk (SPEC 11.1)."""
        return any(p.cap is not None for p in self.payers)

    def shares_for(self, outcome: Outcome) -> list[Fraction]:
        """Shares of every contract payer (in ``[[payers]]`` order) for ``outcome``.

        An outcome's ``payers`` table overrides the contract split; payers it
        does not name get 0.  Ties in the largest-remainder split still go to
        the payer listed first in ``[[payers]]`` (SPEC 5.6).
        """
        if outcome.payers is None:
            return [Fraction(p.share) for p in self.payers]
        override = dict(outcome.payers)
        return [Fraction(override.get(p.id, Decimal(0))) for p in self.payers]

    def money(self, minor: int) -> str:
        """Format minor units as the contract's plain amount string."""
        return format_minor(minor, self.minor_units)

    @property
    def base_dir(self) -> Path:
        """Folder that evidence paths are relative to."""
        if self.folder is not None:
            return self.folder
        return self.path.parent if self.path is not None else Path(".")

    @property
    def needs_register(self) -> bool:
        """The register is required by ``referrals_end``, ``window_days``, ``cohorts`` (SPEC 4.2) or ``age_at_enrolment`` (11.5)."""
        return self.referrals_end is not None or any(
            o.window_days is not None or o.cohorts is not None or o.age_at_enrolment is not None
            for o in self.outcomes
        )

    @property
    def reads_date_of_birth(self) -> bool:
        """Some outcome has ``age_at_enrolment``: the register's ``date_of_birth`` is read and checked (SPEC 11.5)."""
        return any(o.age_at_enrolment is not None for o in self.outcomes)
