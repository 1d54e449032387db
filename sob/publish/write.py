"""The files of a publication, as bytes, and their atomic writing as one folder.

:func:`build` turns the ledger figures into ``outcome_metrics.csv``,
``prices.csv``, ``results.csv``, ``payments.csv``, ``commitments.csv``,
``project.json`` (INDIGO 4.1.0), ``README.txt`` and ``SHA256SUMS``.  The
bytes depend only on the contract, the ledger and the ``sob`` version (no
clock, sorted keys, fixed row order), so publishing twice gives identical
files and ``SHA256SUMS`` (the format of ``sha256sum``) proves what was
published.  :func:`write_folder` writes a temporary folder beside the
target and renames it into place, so a reader never sees half a publication.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sob import __version__
from sob.contract import Contract
from sob.export import fsync_dir
from sob.findings import InputError, UsageError
from sob.ledger import sha256_bytes
from sob.payers import share_table, split_integers
from sob.publish import indigo
from sob.publish.data import Figures
from sob.publish.suppression import Cell, extended, suppress
from sob.quarters import Quarter

#: what a suppressed figure is published as
MARKER = "[c]"
#: the label of a total row or column
TOTAL = "TOTAL"
#: the outcome label of agreed payments tied to no outcome (SPEC 10.6)
ADJUSTMENTS = "ADJUSTMENTS"
SUMS = "SHA256SUMS"


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    """CSV bytes with ``\\n`` line ends; cells are ids, labels and numbers written by sob (no free text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _price_basis(contract: Contract, outcome_id: str) -> str:
    """How an outcome is priced, in words a reader of the open data understands."""
    o = next(x for x in contract.outcomes if x.id == outcome_id)
    if o.tiers:
        return "volume tiers"
    if o.steps:
        return "threshold steps"
    if o.scale is not None:
        return "sliding scale"
    if o.prices:
        return "dated schedule"
    return "per improvement unit" if o.kind == "improvement" else "fixed"


def price_in_force(contract: Contract, outcome_id: str, q: Quarter) -> int | None:
    """The single price of an outcome at the end of ``q`` (minor units), or ``None`` when it has no one price."""
    o = next(x for x in contract.outcomes if x.id == outcome_id)
    if o.tiers or o.steps or o.scale is not None:
        return None
    if o.prices:
        end = q.end(contract.fiscal_year_start_month)
        points = [p.price for p in sorted(o.prices, key=lambda p: p.start) if p.start <= end]
        return points[-1] if points else None
    return o.price


class Publication:
    """Suppressed tables of one contract, ready to be written as CSV and INDIGO JSON."""

    def __init__(self, contract: Contract, figures: Figures, min_count: int) -> None:
        """Suppress the counts, then hide the participants and money of the same cells (one rule for all)."""
        self.contract, self.figures, self.min_count = contract, figures, min_count
        small_people = {(i, j) for i, row in enumerate(figures.participants)
                        for j, v in enumerate(row) if 0 < v < min_count}
        self.claims, self.hidden = suppress(figures.claims, min_count, small_people) if figures.outcomes else ([[0]], set())
        self.quarters = [Quarter.parse(q) for q in figures.quarters]

    def shown(self, cell: Cell, text: str) -> str:
        """``text``, or the marker when the cell is suppressed."""
        return MARKER if cell in self.hidden else text

    def _label(self, i: int) -> str:
        return self.figures.outcomes[i] if i < len(self.figures.outcomes) else TOTAL

    def _quarter(self, j: int) -> str:
        return self.figures.quarters[j] if j < len(self.figures.quarters) else TOTAL

    def outcome_metrics(self) -> bytes:
        """One row per outcome: id, name, kind, claims a participant may have (repeatable when more than 1)."""
        rows = [[o.id, o.name, o.kind, str(o.max_claims), "yes" if o.max_claims > 1 else "no"]
                for o in self.contract.outcomes]
        return _csv(["outcome_id", "name", "kind", "max_claims_per_participant", "repeatable"], rows)

    def prices(self) -> bytes:
        """Per outcome and published quarter: the price in force at the quarter's end and how it is set."""
        money = self.contract.money
        rows = []
        for o in self.contract.outcomes:
            for q in self.quarters:
                price = price_in_force(self.contract, o.id, q)
                rows.append([o.id, str(q), "" if price is None else money(price), self.contract.currency,
                             _price_basis(self.contract, o.id)])
        return _csv(["outcome_id", "quarter", "price_in_force", "currency", "price_basis"], rows)

    def results(self) -> bytes:
        """Accepted claims and distinct participants per outcome and quarter (Actual), totals, profile (Planned)."""
        rows = []
        people = self.figures.participants
        for i, line in enumerate(self.claims):
            for j, n in enumerate(line):
                is_total = i == len(people) or j == len(self.quarters)
                count = "" if is_total else self.shown((i, j), str(people[i][j]))
                rows.append([self._label(i), self._quarter(j), "Actual", self.shown((i, j), str(n)), count])
        for o in self.contract.outcomes:
            for label, planned in sorted(o.profile):
                rows.append([o.id, label, "Planned", str(planned), ""])
        return _csv(["outcome_id", "quarter", "type", "accepted_claims", "participants_with_accepted_claim"], rows)

    def paid_table(self, payer: str) -> list[list[int]]:
        """The payer's due per outcome and quarter, with totals, in the layout of the count table."""
        return extended(self.figures.paid[payer]) if self.figures.outcomes else [[0]]

    def planned(self) -> list[tuple[str, str, str, int]]:
        """(outcome, quarter, payer, amount) of the profile priced at the price in force, split as SPEC 5.6."""
        denominator, numerators, _ = share_table(self.contract)
        out = []
        for o in self.contract.outcomes:
            for label, planned in sorted(o.profile):
                price = price_in_force(self.contract, o.id, Quarter.parse(label))
                if price is None:
                    continue
                for p, part in zip(self.contract.payers, split_integers(planned * price, numerators[o.id], denominator), strict=True):
                    out.append((o.id, label, p.id, part))
        return out

    def money_hidden(self) -> set[Cell]:
        """The hidden cells of the money tables: those of the counts, and every total that adds up a hidden cell.

        Why more than the counts: prices differ between outcomes (and over
        time), so a money total over hidden cells is a second, differently
        weighted equation next to the count total, and together they could
        pin the hidden counts.  A money total is published only when every
        cell it adds up is published; then no published money equation
        involves a hidden cell at all.
        """
        n, m = len(self.figures.outcomes), len(self.figures.quarters)
        inner = {(i, j) for i, j in self.hidden if i < n and j < m}
        totals = {(i, m) for i, _ in inner} | {(n, j) for _, j in inner} | ({(n, m)} if inner else set())
        return self.hidden | totals

    def payments(self) -> bytes:
        """Per outcome, quarter and payer: paid (Actual, totals included) and the profile priced (Planned)."""
        money, rows, hidden = self.contract.money, [], self.money_hidden()
        for p in self.figures.payer_ids:
            for i, line in enumerate(self.paid_table(p)):
                for j, amount in enumerate(line):
                    rows.append([self._label(i), self._quarter(j), p, "Actual",
                                 MARKER if (i, j) in hidden else money(amount), self.contract.currency])
        for p in self.figures.payer_ids:
            for q, amount in zip(self.figures.quarters, self.figures.adjustments.get(p, []), strict=True):
                if amount:
                    rows.append([ADJUSTMENTS, q, p, "Actual", money(amount), self.contract.currency])
        for oid, label, p, amount in self.planned():
            rows.append([oid, label, p, "Planned", money(amount), self.contract.currency])
        return _csv(["outcome_id", "quarter", "payer_id", "type", "amount", "currency"], rows)

    def commitments(self) -> bytes:
        """Per payer the share and cap (SPEC 11.1); the contract's total cap on a TOTAL row."""
        money = self.contract.money
        rows = [[p.id, p.name, str(p.share), "" if p.cap is None else money(p.cap), self.contract.currency]
                for p in self.contract.payers]
        total = self.contract.caps.total
        rows.append([TOTAL, "whole contract", "1", "" if total is None else money(total), self.contract.currency])
        return _csv(["payer_id", "name", "share", "cap", "currency"], rows)


def _indigo(pub: Publication) -> dict[str, Any]:
    """The INDIGO 4.1.0 project document of the publication (see :mod:`sob.publish.indigo`)."""
    c, fig = pub.contract, pub.figures
    fy = c.fiscal_year_start_month
    span = {str(q): indigo.period(q.start(fy).isoformat(), q.end(fy).isoformat()) for q in pub.quarters}
    metrics = [{"id": o.id, "definition": indigo.value(o.name or o.id),
                "notes": f"sob outcome {o.id}; kind {o.kind}; up to {o.max_claims} claim(s) per participant"}
               for o in c.outcomes]
    pricings = []
    for o in c.outcomes:
        price = price_in_force(c, o.id, pub.quarters[-1])
        entry: dict[str, Any] = {"outcome_metric_id": indigo.value(o.id), "currency": indigo.value(c.currency),
                                 "price_description": indigo.value(_price_basis(c, o.id))}
        if price is not None:
            entry["price_per_unit"] = {"amount": indigo.value(indigo.number(c.money(price)))}
        pricings.append(entry)
    commitments = [{"organisation_id": indigo.value(p.id), "notes": p.name,
                    "maximum_potential_outcome_payment": indigo.money(c.currency, None if p.cap is None else c.money(p.cap))}
                   for p in c.payers]
    results, payments = [], []
    for i, oid in enumerate(fig.outcomes):
        for j, q in enumerate(fig.quarters):
            hidden = (i, j) in pub.hidden
            result: dict[str, Any] = {
                "outcome_metric_id": indigo.value(oid), "result_level": indigo.value("Outcome level"),
                "result_type": indigo.value("Interim"), "period": span[q],
                "notes": "suppressed" if hidden else
                "outcomes_achieved: claims newly accepted at the quarter's close; "
                "number_with_positive_social_outcomes: distinct participants with such a claim",
            }
            if not hidden:
                result["outcomes_achieved"] = indigo.value(str(fig.claims[i][j]))
                result["number_with_positive_social_outcomes"] = indigo.value(indigo.number(str(fig.participants[i][j])))
            results.append(result)
            for p in fig.payer_ids:
                payments.append({"outcome_metric_id": indigo.value(oid), "period": span[q],
                                 "payer_organisation_id": indigo.value(p), "type": indigo.value("Actual"),
                                 "money": indigo.money(c.currency, None if hidden else c.money(fig.paid[p][i][j])),
                                 **({"notes": "suppressed"} if hidden else {})})
    for p in fig.payer_ids:
        for q, amount in zip(fig.quarters, fig.adjustments.get(p, []), strict=True):
            if amount:
                payments.append({"period": span[q], "payer_organisation_id": indigo.value(p),
                                 "type": indigo.value("Actual"), "money": indigo.money(c.currency, c.money(amount)),
                                 "notes": "adjustment: an agreed payment tied to no outcome"})
    fy_plan = {o.id: dict(o.profile) for o in c.outcomes}
    for oid, label, p, amount in pub.planned():
        at = Quarter.parse(label)
        payments.append({"outcome_metric_id": indigo.value(oid),
                         "period": indigo.period(at.start(fy).isoformat(), at.end(fy).isoformat()),
                         "payer_organisation_id": indigo.value(p), "type": indigo.value("Planned"),
                         "money": indigo.money(c.currency, c.money(amount)),
                         "notes": f"profile: {fy_plan[oid][label]} claim(s) at the price in force"})
    return {"name": indigo.value(c.name or c.id), "status": "PUBLIC", "outcome_metrics": metrics,
            "outcome_pricings": pricings, "outcome_payment_commitments": commitments,
            "results": results, "outcome_payments": payments}


README = """\
Open data of the outcomes contract {name} ({id})
================================================================

Published by sob {version} from the ledger of closed quarters ({first} to {last}).
Source: the ledger's manifest of {last}, SHA-256 {head}
(the head of the ledger's hash chain; `sob ledger verify` checks the chain).
Currency: {currency}. Amounts are exact decimals with the currency's minor unit.
Quarters are the contract's fiscal quarters: {fiscal}.

Files
-----
outcome_metrics.csv  one row per outcome: id, name, kind, claims allowed per participant, repeatable.
prices.csv           per outcome and quarter: the price in force at the quarter's end and how it is set
                     (empty for tiers, steps and scales, where the price depends on the claim).
results.csv          per outcome and quarter (type Actual): accepted_claims = claims newly accepted at
                     the quarter's close; participants_with_accepted_claim = distinct participants with
                     such a claim (a repeatable outcome can count several claims per person). TOTAL rows
                     and columns sum accepted_claims; participants are not additive, so their totals are
                     not published. Type Planned rows are the contract's profile (expected claims).
payments.csv         per outcome, quarter and payer: type Actual = the amount paid at the quarter's close
                     (clawbacks are negative), with TOTAL rows and columns per payer; type Planned = the
                     profile priced at the price in force, split between payers as the contract splits.
                     outcome_id ADJUSTMENTS: agreed payments tied to no outcome (in the contract), per
                     quarter and payer, outside the TOTAL rows. A balance paid before the ledger's first
                     quarter (an opening balance) is not included.
commitments.csv      per payer: share and cap (the most it pays); TOTAL: the contract's total cap.
project.json         the same figures in the INDIGO Data Standard 4.1.0 project format.
SHA256SUMS           the SHA-256 of every other file; check with `sha256sum -c SHA256SUMS`.

Nothing identifying
-------------------
No participant id, claim id, evidence reference, free text or date finer than a quarter is published.

Suppression rule (minimum count {min_count})
-------------------------------------------
1. Primary: a count of accepted claims or of participants from 1 to {below} (a cell or a total) is
   published as {marker}.
2. Secondary: further cells are published as {marker} until no suppressed value can be worked out from
   the published totals: in the table with its TOTAL row and column, every suppressed cell lies on a
   closed loop of suppressed cells (alternating along rows and columns), so the totals can be met by
   more than one set of values. Cells added are the smallest non-zero counts that close a loop.
3. Money follows the counts: the participants and every payer's amount of a suppressed cell (totals
   included) are published as {marker} too. The same rule, one set of suppressed cells. And because
   prices differ between outcomes, a money TOTAL is published only when every cell it adds up is
   published (otherwise it is {marker}): money totals never give a second equation over hidden cells.
A count of 0 is published as 0.
"""


def _fiscal(contract: Contract) -> str:
    """How to read a quarter label, in words: the first quarter's months."""
    first = Quarter(2000, 1).start(contract.fiscal_year_start_month)
    if contract.fiscal_year_start_month == 1:
        return "calendar quarters (Q1 = January to March)"
    return f"the year YYYY starts on {first.day} {first.strftime('%B')} YYYY (Q1 = {first.strftime('%B')} to " \
        f"{Quarter(2000, 1).end(contract.fiscal_year_start_month).strftime('%B')})"


def build(contract: Contract, figures: Figures, min_count: int) -> dict[str, bytes]:
    """Every file of the publication, name → bytes, ``SHA256SUMS`` last."""
    if min_count < 1:
        raise UsageError(f"--min-count {min_count}: use 1 (no suppression) or more")
    pub = Publication(contract, figures, min_count)
    files = {
        "README.txt": README.format(
            fiscal=_fiscal(contract), name=contract.name or contract.id, id=contract.id, version=__version__, first=figures.quarters[0],
            last=figures.quarters[-1], head=figures.manifest_sha256, currency=contract.currency,
            min_count=min_count, below=max(min_count - 1, 0), marker=MARKER).encode("utf-8"),
        "commitments.csv": pub.commitments(),
        "outcome_metrics.csv": pub.outcome_metrics(),
        "payments.csv": pub.payments(),
        "prices.csv": pub.prices(),
        "project.json": indigo.dumps(_indigo(pub)),
        "results.csv": pub.results(),
    }
    files[SUMS] = "".join(f"{sha256_bytes(data)}  {name}\n" for name, data in sorted(files.items())).encode()
    return files


def write_folder(files: dict[str, bytes], out: Path) -> None:
    """Write ``files`` into a new folder ``out`` atomically: a temporary folder beside it, then a rename.

    An existing ``out`` is replaced only when it is an earlier publication
    (it holds ``SHA256SUMS``) or an empty folder; any other existing path is
    refused, so a mistyped ``--out`` never deletes someone's folder.
    """
    out = Path(out)
    reusable = out.is_dir() and not out.is_symlink() and ((out / SUMS).is_file() or not any(out.iterdir()))
    if (out.exists() or out.is_symlink()) and not reusable:
        raise UsageError(f"--out {out}: exists and is not an earlier publication; choose a new folder")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    stage = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    old = out.parent / f".{out.name}.{uuid.uuid4().hex}.old"
    try:
        stage.mkdir()
        for name, data in files.items():
            with open(stage / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        fsync_dir(stage)
        if out.exists():
            os.rename(out, old)
        os.rename(stage, out)
        fsync_dir(out.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            if old.exists() and not out.exists():
                os.rename(old, out)
        raise UsageError(f"--out {out}: cannot write the publication ({exc.strerror or exc}); nothing was published") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def compare(files: dict[str, bytes], folder: Path) -> list[str]:
    """Names of the files of ``folder`` that differ from ``files`` (missing, changed or extra); empty = identical."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--verify {folder}: not a folder")
    present = {p.name for p in folder.iterdir() if p.is_file()}
    problems = [f"{name}: missing" for name in sorted(files) if name not in present]
    problems += [f"{name}: not published by sob" for name in sorted(present - set(files))]
    for name in sorted(set(files) & present):
        path = folder / name
        # the size first: a folder under check is untrusted, and a larger file is not read at all
        if path.stat().st_size != len(files[name]) or path.read_bytes() != files[name]:
            problems.append(f"{name}: differs from what the ledger gives")
    return problems


__all__ = ["MARKER", "SUMS", "TOTAL", "InputError", "Publication", "build", "compare", "write_folder"]
