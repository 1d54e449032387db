"""What each command does, as plain functions over files (no Typer, no Rich).

The command line only parses options, calls one of these and renders what it
returns.  The order of the checks here is the exit-code order of SPEC 9:
quarter syntax (2), the contract (1), a quarter before the start (2), no
claims file (2), an unreadable file (2), file-level and data errors (1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from sob import ledger, lifecycle
from sob.assessment import RULE_COLUMNS, assess
from sob.contract import Contract, load_contract
from sob.contract.examples import ExampleResult, run_examples
from sob.evidence import Evidence, read_evidence
from sob.findings import Finding, InputError, UsageError, errors_only
from sob.interrupts import set_note
from sob.payrun import PayRun, pay_quarter
from sob.quarters import Quarter

if TYPE_CHECKING:
    from sob.export import StagedFile
    from sob.lifecycle import ContractChange


@dataclass
class EvidencePaths:
    """Evidence files for one run: given on the command line or configured."""

    claims: Path | None = None
    participants: Path | None = None
    results: Path | None = None
    encoding: str | None = None  # ``--encoding``: overrides ``[evidence] encoding``

    @property
    def any(self) -> bool:
        return any((self.claims, self.participants, self.results))


def parse_quarter(label: str, fy_start_month: int | None = None) -> Quarter:
    """``--quarter`` value; a malformed label is a command-line error (exit 2)."""
    try:
        return Quarter.from_user(label, fy_start_month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_valid_contract(
    path: Path, *, run_examples_too: bool = True, data: bytes | None = None
) -> tuple[Contract, list[ExampleResult]]:
    """The contract, or InputError carrying every finding (worked examples included).

    ``data``: the file's bytes, already read, so that the contract checked is
    byte for byte the one a close copies and hashes (SPEC 10.1).
    """
    contract, findings = load_contract(path) if data is None else _contract_from_bytes(path, data)
    if contract is None:
        raise InputError(f"{path}: the contract has errors; run `sob validate {path}`", findings)
    results = run_examples(contract) if run_examples_too else []
    failed = example_findings(contract, results)
    if failed:
        raise InputError(f"{path}: worked examples fail; run `sob test {path}`", failed)
    return contract, results


def _contract_from_bytes(path: Path, data: bytes) -> tuple[Contract | None, list[Finding]]:
    """:func:`load_contract` on bytes already read."""
    from sob.contract.load import check_contract_text, decode_contract_bytes
    from sob.contract.paths import contract_folder

    text, problem = decode_contract_bytes(data, path)
    if problem is not None:
        return None, [problem]
    return check_contract_text(text, path, folder=contract_folder(path))


def example_findings(contract: Contract, results: list[ExampleResult]) -> list[Finding]:
    """Failed worked examples as contract findings (SPEC 3.2: examples that fail)."""
    path = str(contract.path) if contract.path else None
    return [
        Finding(
            code="EXAMPLE_FAILED",
            message=f"worked example {r.name!r} ({r.quarter}) fails: " + "; ".join(r.differences),
            file=path,
            line=r.line,
            field="examples",
        )
        for r in results
        if not r.passed
    ]


def resolve_evidence(contract: Contract, given: EvidencePaths, *, need_claims: bool) -> EvidencePaths:
    """Command-line paths, else the ``[evidence]`` ones relative to the contract.

    A configured file that does not exist, or (for ``pay``) no claims file at
    all, is a command-line error: the run cannot say anything about money.
    """
    cfg = contract.evidence
    out = EvidencePaths(encoding=given.encoding)
    for kind in ("claims", "participants", "results"):
        path = getattr(given, kind)
        if path is None and getattr(cfg, kind):
            path = contract.base_dir / getattr(cfg, kind)
            if not path.exists():
                raise UsageError(f"{path}: the {kind} file configured in [evidence] does not exist")
        setattr(out, kind, path)
    if need_claims and out.claims is None:
        raise UsageError(f"no claims file: give --claims or set [evidence] claims in {contract.path}")
    return out


def read_files(contract: Contract, paths: EvidencePaths, *, claim_columns: tuple[str, ...] | None = None) -> Evidence:
    """Read and validate the evidence; file-level errors stop here (exit 1)."""
    evidence = read_evidence(contract, paths.claims, paths.participants, paths.results, claim_columns=claim_columns,
                             encoding=paths.encoding)
    if evidence.file_errors:
        raise _with_encodings(InputError("the evidence files cannot be assessed",
                                         evidence.file_errors + evidence.findings), evidence)
    return evidence


def shown_encodings(encodings: dict[str, str | None]) -> dict[str, str]:
    """The files among ``encodings`` (file name → encoding) that are not UTF-8: the lines shown under findings
    are read in these, so a cp1252 "é" shows as "é", not as a replacement character."""
    from sob.textcodecs import is_utf8

    return {str(name): enc for name, enc in encodings.items() if enc and not is_utf8(enc)}


def evidence_encodings(evidence: Evidence) -> dict[str, str]:
    """The evidence files read in an encoding other than UTF-8, by the file name their findings carry."""
    return shown_encodings({str(f.path): f.encoding for f in evidence.files})


def _with_encodings(exc: InputError, evidence: Evidence) -> InputError:
    exc.encodings.update(evidence_encodings(evidence))
    return exc


@dataclass
class PayRequest:
    """Options of ``sob pay`` / ``sob explain`` as data."""

    contract: Path
    quarter: str
    evidence: EvidencePaths = field(default_factory=EvidencePaths)
    ledger: Path | None = None
    close: bool = False
    reject_invalid: bool = False
    export: Path | None = None
    #: only the JSON summary is wanted: the claim table leaves out carried columns
    summary_only: bool = False
    #: SPEC 10.1: close although the contract edit restates closed quarters
    accept_contract_change: bool = False
    #: SPEC 10.4: close although quarters between the latest close and this one stay unclosed
    allow_gap: bool = False
    #: SPEC 10.3: ``--opening FILE`` or ``"none"`` for the first close of a contract mid-life
    opening: str | None = None


@dataclass
class PayOutcome:
    """A computed quarter and what happened to it."""

    run: PayRun
    evidence: Evidence
    paths: EvidencePaths
    closed_manifest: Path | None = None
    warnings: list[Finding] = field(default_factory=list)
    #: the contract file's bytes as checked: a close copies exactly these (SPEC 10.1)
    contract_bytes: bytes = b""
    #: the latest closed quarter of the ledger and its manifest's SHA-256, when there is one
    latest: tuple[Quarter, str] | None = None
    #: the contract changed since the latest close (SPEC 10.1); ``None``: unchanged or no close
    change: ContractChange | None = None
    #: plain-language notices and warnings for the terminal (never on standard output)
    messages: list[str] = field(default_factory=list)
    #: the opening balance read for a first close (SPEC 10.3)
    opening: pl.DataFrame | None = None


_EXPORT_SUFFIXES = (".csv", ".parquet", ".json", ".xlsx")


def compute_pay(req: PayRequest) -> PayOutcome:
    """Everything ``sob pay`` computes, checked in the exit-code order of SPEC 9."""
    quarter = parse_quarter(req.quarter)
    if req.close and req.ledger is None:
        raise UsageError("--close needs --ledger DIR")
    for flag, given in (("--accept-contract-change", req.accept_contract_change), ("--allow-gap", req.allow_gap),
                        ("--opening", req.opening is not None)):
        if given and req.ledger is None:
            raise UsageError(f"{flag} needs --ledger DIR")
    if req.export is not None and req.export.suffix.lower() not in _EXPORT_SUFFIXES:
        raise UsageError(f"--export {req.export}: use one of {', '.join(_EXPORT_SUFFIXES)}")
    from sob.contract.load import read_contract_bytes

    contract_bytes = read_contract_bytes(req.contract)
    contract, _ = load_valid_contract(req.contract, data=contract_bytes)
    fy = contract.fiscal_year_start_month
    quarter = parse_quarter(req.quarter, fy)
    if quarter.end(fy) < contract.start:
        raise UsageError(f"quarter {quarter} ends {quarter.end(fy)}, before the contract starts on {contract.start}")
    paths = resolve_evidence(contract, req.evidence, need_claims=True)
    if req.export is not None:
        _check_export_is_not_an_input(req, paths)
    if req.ledger is not None and not req.ledger.is_dir():
        raise UsageError(f"{req.ledger}: the ledger folder does not exist (create it for a first close)")
    # a close and an export write the whole table; the JSON summary needs only what the rules read
    full_table = not req.summary_only or req.close or req.export is not None
    evidence = read_files(contract, paths, claim_columns=None if full_table else RULE_COLUMNS)
    opening, opening_findings = _read_opening(req, contract, evidence)
    errors = errors_only(evidence.findings)
    if errors and req.close:
        raise _with_encodings(InputError(
            f"{len(errors)} data error(s) in the evidence: a quarter is never closed on invalid evidence",
            evidence.findings,
        ), evidence)
    if errors and not req.reject_invalid:
        raise _with_encodings(InputError(
            f"{len(errors)} data error(s) in the evidence; fix them, or pass --reject-invalid to reject those rows",
            evidence.findings,
        ), evidence)
    if evidence.claims is not None and "line" in evidence.claims.columns:
        # line numbers served the findings; the claim table has none, so the engine may use that memory
        evidence.claims = evidence.claims.drop("line")
    paid = None
    if req.ledger is not None:
        paid = ledger.previously_paid(req.ledger, contract.id, quarter, contract.payer_ids, contract.minor_units,
                                      opening)
    run = pay_quarter(
        contract,
        evidence.claims,
        evidence.participants,
        evidence.results,
        quarter,
        ledger=paid,
        # evidence_ref is free text the provider gave: carried through first (SPEC 4.1).
        carried=(["evidence_ref"] if evidence.has_evidence_ref else []) + evidence.carried_columns,
        amount_claimed=evidence.has_amount_claimed,
        full_table=full_table,
        participant_rows=evidence.participant_rows,
    )
    outcome = PayOutcome(run, evidence, paths, warnings=[f for f in evidence.findings if f.severity != "error"],
                         contract_bytes=contract_bytes, opening=opening)
    if opening is not None and opening_findings:
        outcome.warnings += opening_findings
    if req.ledger is not None:
        _guard_contract(req, outcome)
    return outcome


def _read_opening(req: PayRequest, contract: Contract, evidence: Evidence) -> tuple[pl.DataFrame | None, list[Finding]]:
    """``--opening`` (SPEC 10.3): only for a ledger that holds no close of the contract; its errors stop the run."""
    if req.opening is None or req.ledger is None:
        return None, []
    from sob import opening

    closed = ledger.closed_quarters(req.ledger, contract.id)
    if closed:
        raise UsageError(
            f"--opening: {req.ledger} already holds closed quarters of {contract.id} (the latest {closed[-1]}); "
            "an opening balance is only for the first close: run without --opening "
            f"(`sob pay {req.contract} --quarter {req.quarter} --ledger {req.ledger}`, with --close to close)"
        )
    if req.opening == opening.NONE:
        return opening.empty_opening(contract), []
    try:
        return opening.read_opening(Path(req.opening), contract, _outcome_of(evidence), req.evidence.encoding)
    except InputError as exc:
        exc.encodings.update(shown_encodings({req.opening: req.evidence.encoding or contract.evidence.encoding}))
        raise


def _outcome_of(evidence: Evidence) -> pl.DataFrame:
    """claim_id → outcome_id of the valid rows of the run's files: the shares an opening amount is split with."""
    frames = []
    for frame, key in ((evidence.claims, "claim_id"), (evidence.results, "result_id")):
        if frame is None or key not in frame.columns:
            continue
        valid = frame.filter(pl.col("error").is_null()) if "error" in frame.columns else frame
        frames.append(valid.select(pl.col(key).cast(pl.String).alias("claim_id"),
                                   pl.col("outcome_id").cast(pl.String)))
    if not frames:
        return pl.DataFrame(schema={"claim_id": pl.String, "outcome_id": pl.String})
    return pl.concat(frames).unique("claim_id", keep="first")


def _first_close_needs_opening(req: PayRequest, outcome: PayOutcome) -> bool:
    """A first close into this ledger of a quarter after the contract's first needs ``--opening`` (SPEC 10.3)."""
    contract = outcome.run.contract
    first = Quarter.containing(contract.start, contract.fiscal_year_start_month)
    return req.opening is None and outcome.latest is None and outcome.run.quarter > first


def _guard_contract(req: PayRequest, outcome: PayOutcome) -> None:
    """Compare the contract with the latest close's (SPEC 10.1) and say what the edit restates.

    Only a close is refused (in :func:`close_refusals`); here a preview gets
    its warning or notice, and the outcome its ``change`` for the JSON.
    """
    assert req.ledger is not None
    run, evidence = outcome.run, outcome.evidence
    contract = run.contract
    latest = ledger.latest_close(req.ledger, contract.id)
    if latest is None:
        if _first_close_needs_opening(req, outcome) and not req.close:
            outcome.messages.append(
                f"warning: no quarter of {contract.id} is closed in {req.ledger} and {run.quarter} is not its first "
                "quarter: its close will need --opening FILE (what was paid before) or --opening none"
            )
        if req.accept_contract_change:
            outcome.messages.append(f"notice: no quarter of {contract.id} is closed yet; --accept-contract-change changes nothing")
        return
    since, digest, parsed = latest
    outcome.latest = (since, digest)
    previous_sha = str(parsed["hashes"].get("contract", ""))
    if previous_sha == ledger.sha256_bytes(outcome.contract_bytes):
        if req.accept_contract_change:
            outcome.messages.append(
                f"notice: the contract is unchanged since {since} was closed; --accept-contract-change changes nothing"
            )
        return
    previous = lifecycle.previous_side(req.ledger, contract, since, parsed)
    change = lifecycle.restatement(
        contract, previous, evidence.claims, evidence.participants, evidence.results, since,
        lifecycle.period_end(since, parsed, previous, contract), previous_sha, evidence.participant_rows,
    )
    outcome.change = change
    mu = contract.minor_units
    if change.restated_rows == 0:
        outcome.messages.append(f"notice: contract changed since {since}; no closed amount changes")
        if req.accept_contract_change:
            outcome.messages.append("notice: no closed row is restated; --accept-contract-change changes nothing")
    elif req.accept_contract_change:
        outcome.messages.append(f"notice: accepted: {change.describe(mu)}")
    elif not req.close:
        outcome.messages.append(
            f"warning: {change.describe(mu)}; a close will need --accept-contract-change"
        )


def close_refusals(req: PayRequest, outcome: PayOutcome) -> tuple[list[str], dict[str, Any]]:
    """Why the close may not go ahead (SPEC 7, 10.1, 10.4), all at once, and the manifest's extra keys.

    Each reason names the option or command that would let the close proceed.
    """
    assert req.ledger is not None
    run = outcome.run
    contract = run.contract
    latest = ledger.latest_close(req.ledger, contract.id)
    if (None if latest is None else latest[:2]) != outcome.latest:
        raise InputError(
            f"quarter {run.quarter} of {contract.id} was computed against another state of the ledger (another "
            "close committed meanwhile); nothing was written: run the close again"
        )
    reasons: list[str] = []
    try:
        ledger.ensure_can_close(req.ledger, contract.id, run.quarter)
    except InputError as exc:
        if exc.findings:
            raise
        reasons.append(exc.message + _next_close(req, outcome))
    command = f"sob pay {req.contract} --quarter {run.quarter} --ledger {req.ledger} --close"
    extra: dict[str, Any] = {"period_end": run.quarter.end(contract.fiscal_year_start_month)}
    change = outcome.change
    if change is not None:
        if change.restated_rows and not req.accept_contract_change:
            reasons.append(
                f"{change.describe(contract.minor_units)}; the close is refused: check the edit "
                f"(`sob diff`), then run `{command} --accept-contract-change`"
            )
        extra["contract_change"] = change.manifest_table(contract.minor_units)
    if _first_close_needs_opening(req, outcome):
        reasons.append(
            f"no quarter of {contract.id} is closed in {req.ledger} and {run.quarter} is not the contract's first "
            f"quarter, so something may have been paid before: run `{command} --opening FILE` (columns claim_id, "
            f"paid: what was paid per claim before {run.quarter}), or `{command} --opening none` if nothing was paid"
        )
    skipped = lifecycle.skipped_quarters(outcome.latest[0] if outcome.latest else None, run.quarter)
    if skipped and not req.allow_gap:
        names = ", ".join(str(q) for q in skipped)
        reasons.append(
            f"closing {run.quarter} would leave {names} unclosed for ever (the latest closed quarter is "
            f"{outcome.latest[0] if outcome.latest else ''}): close {skipped[0]} first, or run `{command} --allow-gap`"
        )
    if skipped:
        extra["skipped"] = [str(q) for q in skipped]
    return reasons, extra


def _next_close(req: PayRequest, outcome: PayOutcome) -> str:
    """The command that would proceed after a close of a closed or earlier quarter was refused: the next quarter's."""
    if outcome.latest is None:
        return ""
    following = outcome.latest[0].next()
    return (f"; the next quarter to close is {following}: run "
            f"`sob pay {req.contract} --quarter {following} --ledger {req.ledger} --close`")


def _check_export_is_not_an_input(req: PayRequest, paths: EvidencePaths) -> None:
    """``--export`` must never overwrite the contract, an evidence file or the ledger it was computed from."""
    if req.export is None:
        return
    target = req.export.resolve()
    for path in (req.contract, paths.claims, paths.participants, paths.results):
        if path is not None and path.resolve() == target:
            raise UsageError(f"--export {req.export} would overwrite the input file {path}; choose another file")
    if req.ledger is not None and target.is_relative_to(req.ledger.resolve()):
        raise UsageError(f"--export {req.export} is inside the ledger folder {req.ledger}; choose another folder")


def close_and_export(req: PayRequest, outcome: PayOutcome) -> None:
    """Write the ledger close and the export: a refused or failed close writes neither (SPEC 7).

    With ``--close --export`` the export is written under a temporary name
    first: if that fails (a full disk), nothing is closed.  It is moved into
    place in the same step that commits the close, so a run ends either with
    the quarter closed and its export written, or with neither.
    """
    from sob.export import check_target
    from sob.pack import CloseRecord, close_record, stage_export, write_export

    run = outcome.run
    contract = run.contract
    if not req.close or req.ledger is None:
        if req.export is not None:  # .xlsx: the finance pack (sob.pack); other formats: the claim table
            write_export(run, req.export, record=close_record(req.ledger, run), data=pay_json(req, outcome))
        return
    if req.export is not None:
        check_target(req.export)  # an export that cannot be written is a usage error (2), before any refusal (1)
    reasons, extra = close_refusals(req, outcome)
    if reasons:
        raise InputError(
            f"quarter {run.quarter} of {contract.id} is not closed; nothing was written:\n  " + "\n  ".join(reasons)
        )
    closed_at = datetime.now(UTC).replace(microsecond=0)
    staged = None
    if req.export is not None:
        # the workbook records the close time (a naive UTC time, as XLSX stores it)
        staged = stage_export(run, req.export, created=closed_at.replace(tzinfo=None), data=pay_json(req, outcome),
                              record=CloseRecord("closed", closed_at=closed_at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    hashes = {"contract": ledger.sha256_bytes(outcome.contract_bytes)}
    for f in outcome.evidence.files:
        hashes[f.kind] = f.sha256
    try:
        outcome.closed_manifest = ledger.close_quarter(
            req.ledger, contract.id, run.quarter, run.table, contract.minor_units, contract.payer_ids, hashes,
            totals=cap_limits(contract), closed_at=closed_at,
            then=None if staged is None else lambda: _move_export(req, run.quarter, staged),
            contract_bytes=outcome.contract_bytes, extra=extra,
            expect_previous=outcome.latest[1] if outcome.latest else "", opening=outcome.opening,
        )
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if req.export is not None and req.export.suffix.lower() == ".xlsx":
        _pack_with_manifest(req, outcome, closed_at.replace(tzinfo=None))


def pay_json(req: PayRequest, outcome: PayOutcome) -> dict[str, Any]:
    """The JSON object of ``sob pay --format json``: the summary, and ``contract_change`` with a ledger (SPEC 10.1)."""
    from sob.payrun import summary

    data = summary(outcome.run)
    if req.ledger is not None:
        change = outcome.change
        data["contract_change"] = None if change is None else change.as_json(outcome.run.contract.minor_units)
    return data


def _pack_with_manifest(req: PayRequest, outcome: PayOutcome, created: datetime) -> None:
    """After a close, write the finance pack again with the new manifest's SHA-256 (known only once it is written).

    The pack staged with the close is complete without it; if this second
    atomic write fails, that pack stays and a message says how to export again.
    """
    from sob.export import WriteError
    from sob.pack import close_record, write_export

    assert req.export is not None
    try:
        write_export(outcome.run, req.export, record=close_record(req.ledger, outcome.run),
                     data=pay_json(req, outcome), created=created)
    except WriteError as exc:
        outcome.messages.append(f"warning: {exc}; the pack written with the close lacks the manifest hash: export "
                                f"again with `sob pay ... --ledger {req.ledger} --export {req.export}`")


def _move_export(req: PayRequest, quarter: object, staged: StagedFile) -> None:
    """Put a close's export in place; if even the rename fails, say the quarter *is* closed and how to export again."""
    from sob.export import WriteError, write_failure

    try:
        staged.commit()
    except OSError as exc:
        raise WriteError(
            f"quarter {quarter} was closed in {req.ledger}, but {write_failure(staged.path, exc)}; write the "
            f"export again with `sob pay {req.contract} --quarter {quarter} --ledger {req.ledger} --export "
            f"{staged.path}` (without --close)"
        ) from exc
    set_note(f"quarter {quarter} was closed in {req.ledger} and {staged.path} was written")


def cap_limits(contract: Contract) -> dict[str, str]:
    """Money cap limits recorded in a close, so `sob ledger show` can report paid against them."""
    limits = {}
    if contract.caps.total is not None:
        limits["cap_total"] = contract.money(contract.caps.total)
    for o in contract.outcomes:
        if o.amount_cap is not None:
            limits[f"cap_outcome_{o.id}"] = contract.money(o.amount_cap)
    return limits


@dataclass
class ValidateOutcome:
    """Findings for one contract file, its examples and the evidence summary."""

    path: Path
    findings: list[Finding]
    examples: list[ExampleResult] = field(default_factory=list)
    summary: dict[str, dict[str, int]] | None = None
    files: list[str] = field(default_factory=list)
    #: how each evidence file was read: {"file", "format", "delimiter", "detected", "encoding", "sheet"}
    reading: list[dict[str, Any]] = field(default_factory=list)


def reading_of(contract: Contract, evidence: Evidence) -> list[dict[str, Any]]:
    """How each evidence file was read, for the validate report: a detected delimiter is stated, never hidden."""
    out: list[dict[str, Any]] = []
    for f in evidence.files:
        if f.sheet is not None:
            out.append({"file": str(f.path), "format": "spreadsheet", "sheet": f.sheet})
        elif f.delimiter is not None:
            out.append({"file": str(f.path), "format": "csv", "delimiter": f.delimiter,
                        "detected": contract.evidence.detect_delimiter, "encoding": f.encoding})
    return out


def reading_text(item: dict[str, Any]) -> str:
    """One line of the validate report saying how a file was read."""
    if item["format"] == "spreadsheet":
        return f"{item['file']}: read sheet {item['sheet']!r}"
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    d = item["delimiter"]
    how = "detected" if item["detected"] else "from [evidence] delimiter"
    return f"{item['file']}: CSV, delimiter {names.get(d, repr(d))} ({how}), encoding {item['encoding']}"


def validate_one(path: Path, given: EvidencePaths, quarter: str | None = None) -> ValidateOutcome:
    """Check one contract, run its examples and check its evidence (all problems at once).

    The rule summary is the full assessment as at the end of ``quarter`` when
    one is given; otherwise a summary of the rows read, which costs no more
    than reading them (CI runs this on every change).
    """
    contract, findings = load_contract(path)
    out = ValidateOutcome(path, list(findings), files=[str(path)])
    if contract is None:
        return out
    out.examples = run_examples(contract)
    out.findings += example_findings(contract, out.examples)
    paths = resolve_evidence(contract, given, need_claims=False)
    if not paths.any:
        return out
    evidence = read_evidence(contract, paths.claims, paths.participants, paths.results, encoding=paths.encoding)
    out.files += [str(f.path) for f in evidence.files]
    out.reading = reading_of(contract, evidence)
    out.findings += evidence.file_errors + evidence.findings
    if not evidence.file_errors:
        q = parse_quarter(quarter, contract.fiscal_year_start_month) if quarter else None
        out.summary = rule_summary(contract, evidence, q) if q else rows_summary(evidence)
    return out


def rows_summary(evidence: Evidence) -> dict[str, dict[str, int]]:
    """Rows read, invalid rows, and the status the provider gave, per evidence kind."""
    out: dict[str, dict[str, int]] = {}
    for kind in ("claims", "participants", "results"):
        frame = getattr(evidence, kind)
        if frame is None:
            continue
        counts = {"rows": frame.height, "invalid": frame.height - frame["error"].null_count()}
        if "status" in frame.columns:
            statuses = sorted((str(k), int(v)) for k, v in frame.group_by("status").len().iter_rows() if k)
            counts |= dict(statuses)
        out[kind] = counts
    return out


def rule_summary(contract: Contract, evidence: Evidence, quarter: Quarter) -> dict[str, dict[str, Any]]:
    """How the rules treat the rows as at the end of ``quarter``.

    Invalid rows are counted as ``--reject-invalid`` would reject them.
    """
    rows = assess(contract, evidence.claims, evidence.participants, evidence.results,
                  quarter.end(contract.fiscal_year_start_month), participant_rows=evidence.participant_rows)
    rows = rows.filter(pl.col("kind") != "adjustment")  # the contract's adjustments are no evidence rows (SPEC 10.6)
    by_status = dict(rows.group_by("status").len().iter_rows())
    reasons = dict(rows.filter(rows["reason"].is_not_null()).group_by("reason").len().iter_rows())
    return {
        "as_at": {"quarter": str(quarter)},
        "status": {k: int(v) for k, v in sorted(by_status.items())},
        "reasons": {k: int(v) for k, v in sorted(reasons.items())},
    }



def build_contract_report(contract_path: Path, ledger_dir: Path, quarter: str | None) -> dict[str, Any]:
    """``sob report``: the report figures of a contract from its ledger (no evidence is read)."""
    from sob.report.data import build_report

    contract, _ = load_valid_contract(contract_path, run_examples_too=False)
    upto = None if quarter is None else parse_quarter(quarter, contract.fiscal_year_start_month)
    if not ledger_dir.is_dir():
        raise UsageError(f"{ledger_dir}: the ledger folder does not exist")
    return build_report(contract, ledger_dir, upto)


def write_report_files(html: str, out: Path, *, pdf: bool) -> list[Path]:
    """Write the report page to ``out`` (a PDF when it ends in .pdf) and, with ``pdf``, a PDF beside it; atomic each."""
    from sob.pack import save_bytes
    from sob.report.pdf import html_to_pdf

    if out.suffix.lower() == ".pdf":
        save_bytes(out, html_to_pdf(html))
        return [out]
    document = html_to_pdf(html) if pdf else None  # rendered first: a missing extra writes nothing
    save_bytes(out, html.encode("utf-8"))
    written = [out]
    if document is not None:
        save_bytes(out.with_suffix(".pdf"), document)
        written.append(out.with_suffix(".pdf"))
    return written
