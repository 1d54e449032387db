"""The ``sob`` command line: parse options, call :mod:`sob.workflows`, render.

Nothing here computes money or checks rules.  Every error the core raises is
a :class:`sob.findings.SobError` with its exit code; anything else is an
internal error, shown as one line (with a traceback only under ``--debug``,
because frames may hold participant data).

Signals: SIGINT and SIGTERM end a run with exit 130 and 143 and a message
that says whether a quarter was closed (see :mod:`sob.interrupts`).  When
``sob`` runs as a program the handlers are installed before anything heavy is
imported, so an early Ctrl-C ends the run quietly too.  Standard output that
cannot be written (a full disk, a closed descriptor) is a clear error with
exit 2; a reader that stops early (``| head``) ends the run quietly.
"""

from __future__ import annotations  # noqa: I001 - sob.interrupts is imported first, on purpose

from sob import interrupts  # first: when this process is `sob`, it installs the signal handlers

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer

from sob import __version__
from sob.findings import Finding, SobError
from sob.quarters import ACCEPTED_FORMS

if TYPE_CHECKING:
    from rich.console import Console

    from sob.workflows import EvidencePaths, ValidateOutcome

T = TypeVar("T")


def _example(*lines: str) -> str:
    """An ``--help`` epilog of examples, kept as written (``\\b`` stops Click re-wrapping them)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    name="sob",
    help="Validate, assess and pay social outcomes contracts from TOML and CSV files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    add_completion=True,
    epilog=_example("sob init contract.toml", "sob validate contract.toml", "sob pay contract.toml --quarter 2025-Q1"),
)
ledger_app = typer.Typer(help="Closed quarters: verify the hash chain, list totals.", no_args_is_help=True,
                         epilog=_example("sob ledger verify ledger", "sob ledger show ledger"))
app.add_typer(ledger_app, name="ledger")

_STATE = {"debug": False, "no_color": False, "closing": False}


class StdoutError(Exception):
    """Standard output cannot be written (full disk, closed descriptor): exit 2, not an internal error."""


class FindingFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class PayFormat(str, Enum):
    table = "table"
    json = "json"


ClaimsOpt = Annotated[Path | None, typer.Option("--claims", help="Claims CSV/Parquet (default: [evidence] claims).")]
ParticipantsOpt = Annotated[
    Path | None, typer.Option("--participants", help="Participants register (default: [evidence] participants).")
]
ResultsOpt = Annotated[Path | None, typer.Option("--results", help="Cohort results (default: [evidence] results).")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of the CSV evidence, e.g. cp1252 (default: [evidence] encoding, else utf-8).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sob {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on internal errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour in terminal output (NO_COLOR works too).")] = False,
) -> None:
    """sob: social outcomes contracts, paid to the penny."""
    _STATE["debug"] = debug
    _STATE["no_color"] = no_color


def _consoles(wide: bool = False) -> tuple[Console, Console]:
    from sob.render.console import make_consoles

    return make_consoles(no_color=_STATE["no_color"], wide=wide)


def _print_findings(findings: list[Finding], encodings: dict[str, str] | None = None) -> None:
    """Findings on stderr; ``encodings``: the files not in UTF-8, so their lines are shown as written."""
    from sob.render.console import write_findings
    from sob.render.findings import file_line_reader, format_text

    if findings:
        write_findings(_consoles()[1], format_text(findings, file_line_reader(encodings)), sys.stderr)


def _print_summary(line: str) -> None:
    """The validate summary on stderr, its counts coloured on a colour terminal."""
    from sob.render.console import colour_enabled, styled_summary

    err = _consoles()[1]
    if colour_enabled(err):
        err.print(styled_summary(line), soft_wrap=True, highlight=False)
    else:
        sys.stderr.write(line + "\n")


@contextmanager
def _errors() -> Iterator[None]:
    """Turn core errors into a message on stderr and their exit code.

    While a command runs here, SIGINT/SIGTERM raise and clean up; outside it
    (option parsing, start-up) there is nothing to clean and they just exit.
    Standard output is flushed here, so a failure to write it is reported.
    """
    interrupts.arm()
    try:
        yield
        sys.stdout.flush()
    except SobError as exc:
        _print_findings(exc.findings, exc.encodings)
        sys.stderr.write(f"sob: error: {exc.message}\n")
        raise typer.Exit(exc.exit_code) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        _quiet_stdout()
        raise typer.Exit(1) from None
    except StdoutError as exc:
        _quiet_stdout()
        sys.stderr.write(f"sob: error: cannot write to standard output: {exc}\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:
        interrupts.arm(False)
        stop = exc if isinstance(exc, interrupts.Interrupted) else interrupts.Interrupted(2)
        sys.stderr.write(_interrupted_message(stop) + "\n")
        raise typer.Exit(stop.exit_code) from None
    except OSError as exc:
        if exc.filename is None or _STATE["debug"]:
            raise _internal(exc) from None
        # a file the core did not expect to fail (a name too long, a full disk): exit 2 like any unreadable file
        sys.stderr.write(f"sob: error: {exc.filename}: {exc.strerror or exc}\n")
        raise typer.Exit(2) from None
    except Exception as exc:
        raise _internal(exc) from None
    finally:
        interrupts.arm(False)


def _internal(exc: Exception) -> BaseException:
    """The last line of defence: one line and exit 2 (the traceback only under --debug)."""
    if _STATE["debug"]:
        return exc
    sys.stderr.write(f"sob: internal error: {type(exc).__name__}: {exc}\n(run with --debug for a traceback)\n")
    return typer.Exit(2)


def _interrupted_message(stop: interrupts.Interrupted) -> str:
    """What an interrupted run did: whether the quarter was closed is never left to guess."""
    if stop.note:
        return f"sob: interrupted ({stop.name}) after {stop.note}"
    if _STATE["closing"]:
        return f"sob: interrupted ({stop.name}); nothing was closed: the ledger is as before"
    return f"sob: interrupted ({stop.name})"


def _quiet_stdout() -> None:
    """The reader went away (``sob validate ... | head``): stop writing quietly, exit 1 as Rich does.

    Standard output is pointed at the null device so that the interpreter's
    final flush does not report the broken pipe again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests), or closed from the start
        pass


def _evidence(claims: Path | None, participants: Path | None, results: Path | None,
              encoding: str | None = None) -> EvidencePaths:
    from sob.workflows import EvidencePaths

    return EvidencePaths(claims, participants, results, encoding)


@app.command(epilog=_example(
    "sob validate contract.toml",
    "sob validate contracts/*.toml --format github",
    "sob validate contract.toml --quarter 2025-Q1",
))
def validate(
    contracts: Annotated[list[Path], typer.Argument(help="Contract files (several at once, e.g. a glob).")],
    claims: ClaimsOpt = None,
    participants: ParticipantsOpt = None,
    results: ResultsOpt = None,
    encoding: EncodingOpt = None,
    format: Annotated[FindingFormat, typer.Option("--format", help="text, json or github annotations.")] = FindingFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="Also assess the evidence as at the end of this quarter (e.g. 2025-Q1) and summarise.")
    ] = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="The arguments are changed files (as pre-commit passes them): check each changed contract and the contracts whose folders hold a changed evidence file.")
    ] = False,
) -> None:
    """Check contracts, their evidence and their worked examples.

    Every problem is reported with its file, line and column, and a hint;
    the exit code is 1 when there is any error (or warning, with --strict).
    """
    from sob.render.console import write_findings
    from sob.render.findings import file_line_reader, format_github, format_json, format_text, summary_line, unique_findings
    from sob.workflows import reading_text

    with _errors():
        if changed:
            from sob.contract.changed import contracts_for_changed

            contracts = contracts_for_changed(contracts, Path.cwd())
            if not contracts:
                _print_summary("no contract among the changed files or the folders holding them")
                return
        given = _evidence(claims, participants, results, encoding)
        if given.any and len(contracts) > 1:
            from sob.findings import UsageError

            raise UsageError("--claims/--participants/--results go with a single contract")
        if quarter is not None:
            from sob.workflows import parse_quarter

            parse_quarter(quarter)
        outcomes = [_check_one(p, given, quarter) for p in contracts]
        findings = unique_findings(o.findings for o in outcomes)
        files = [f for o in outcomes for f in o.files]
        if format is FindingFormat.json:
            extra = {
                "contracts": [
                    {
                        "file": str(o.path),
                        "examples": [{"name": r.name, "quarter": r.quarter, "passed": r.passed, "differences": r.differences} for r in o.examples],
                        "summary": o.summary,
                        "evidence_files": o.reading,
                    }
                    for o in outcomes
                ]
            }
            sys.stdout.write(format_json(findings, files, extra, strict=strict))
        elif format is FindingFormat.github:
            text = format_github(findings, file_line_reader(_read_encodings(outcomes)), delimiter=_read_delimiters(outcomes))
            if text:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            if findings:
                write_findings(_consoles()[0], format_text(findings, file_line_reader(_read_encodings(outcomes)),
                                                           delimiter=_read_delimiters(outcomes)), sys.stdout)
            for o in outcomes:
                for item in o.reading:
                    sys.stdout.write(reading_text(item) + "\n")
                if o.summary:
                    sys.stdout.write(_summary_text(o) + "\n")
        _print_summary(summary_line(findings, len(set(files))))
        failing = [f for f in findings if f.severity == "error" or strict]
        if failing:
            raise typer.Exit(1)


def _read_encodings(outcomes: list[ValidateOutcome]) -> dict[str, str]:
    """Each evidence file read in an encoding other than UTF-8: its lines are shown in that encoding."""
    from sob.workflows import shown_encodings

    return shown_encodings({item["file"]: item.get("encoding") for o in outcomes for item in o.reading})


def _read_delimiters(outcomes: list[ValidateOutcome]) -> dict[str, str]:
    """Each CSV file's delimiter as read (configured or detected): the caret goes under the right field."""
    return {item["file"]: item["delimiter"] for o in outcomes for item in o.reading if item.get("delimiter")}


def _check_one(path: Path, given: EvidencePaths, quarter: str | None) -> ValidateOutcome:
    """``validate_one`` with the progress spinner."""
    from sob.workflows import validate_one

    return _with_progress(f"checking {path}", lambda: validate_one(path, given, quarter))


def _summary_text(outcome: ValidateOutcome) -> str:
    s: dict[str, Any] = outcome.summary or {}
    if "as_at" not in s:
        parts = []
        for kind, counts in s.items():
            extra = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("rows", "invalid"))
            parts.append(f"{kind} {counts['rows']} rows ({counts['invalid']} invalid{', ' + extra if extra else ''})")
        return f"{outcome.path}: " + "; ".join(parts) + " — add --quarter Q to see how the rules treat them"
    status = ", ".join(f"{k} {v}" for k, v in s["status"].items()) or "no rows"
    reasons = ", ".join(f"{k} {v}" for k, v in s["reasons"].items())
    text = f"{outcome.path}: as at the end of {s['as_at']['quarter']}: {status}"
    return text + (f" (reasons: {reasons})" if reasons else "")


@app.command(epilog=_example(
    "sob pay contract.toml --quarter 2025-Q1",
    "sob pay contract.toml --quarter 2025-q1 --export claims.xlsx",
    "sob pay contract.toml --quarter 'FY2025/26 Q1' --ledger ledger --close",
))
def pay(
    contract: Annotated[Path, typer.Argument(help="The contract TOML file.")],
    quarter: Annotated[str, typer.Option("--quarter", help=f"The quarter of the contract's fiscal year: {ACCEPTED_FORMS}.")],
    claims: ClaimsOpt = None,
    participants: ParticipantsOpt = None,
    results: ResultsOpt = None,
    encoding: EncodingOpt = None,
    ledger: Annotated[Path | None, typer.Option("--ledger", help="Folder of closed quarters: previously paid comes from it.")] = None,
    close: Annotated[bool, typer.Option("--close", help="Close the quarter in the ledger (needs --ledger).")] = False,
    reject_invalid: Annotated[bool, typer.Option("--reject-invalid", help="Reject rows with data errors instead of stopping.")] = False,
    export: Annotated[Path | None, typer.Option("--export", help="Write the claim table: .csv, .parquet, .json or .xlsx.")] = None,
    format: Annotated[PayFormat, typer.Option("--format", help="table (terminal) or json (SPEC 9).")] = PayFormat.table,
    wide: Annotated[bool, typer.Option("--wide", help="Do not shrink tables to the terminal's width.")] = False,
    accept_contract_change: Annotated[bool, typer.Option(
        "--accept-contract-change",
        help="Close although the contract changed since the latest close and restates closed amounts (needs --ledger).",
    )] = False,
    allow_gap: Annotated[bool, typer.Option(
        "--allow-gap", help="Close although quarters since the latest close stay unclosed (needs --ledger).",
    )] = False,
    opening: Annotated[str | None, typer.Option(
        "--opening", metavar="FILE|none",
        help="First close of a contract mid-life: what was paid before (CSV/Parquet: claim_id, paid), or none.",
    )] = None,
    statement: Annotated[str | None, typer.Option(
        "--statement", metavar="PAYER",
        help="Write a one-page payment statement for PAYER to --export FILE (.html, or .pdf with sob[pdf]).",
    )] = None,
) -> None:
    """Preview a quarter's payments, or close it in the ledger.

    Shows what is entitled, previously paid and due, per outcome and per
    payer.  Without --close it is a preview and nothing is recorded.
    --export FILE.xlsx writes the finance pack workbook.
    """
    from sob.payrun import summary
    from sob.workflows import PayRequest, close_and_export, compute_pay

    _STATE["closing"] = close
    with _errors():
        if statement is not None:
            from sob.statement import check_statement

            check_statement(statement, None, export)
        req = PayRequest(contract, quarter, _evidence(claims, participants, results, encoding), ledger, close, reject_invalid,
                         None if statement is not None else export,
                         summary_only=format is PayFormat.json and statement is None,
                         accept_contract_change=accept_contract_change, allow_gap=allow_gap, opening=opening)
        outcome = _with_progress("assessing", lambda: compute_pay(req))
        if statement is not None:
            check_statement(statement, outcome.run.contract.payer_ids, export)
        close_and_export(req, outcome)
        if statement is not None and export is not None:
            from sob.pack import close_record
            from sob.statement import write_statement
            from sob.workflows import pay_json

            write_statement(outcome.run, pay_json(req, outcome), statement, close_record(ledger, outcome.run), export)
        if outcome.warnings:
            from sob.workflows import evidence_encodings, shown_encodings

            shown = evidence_encodings(outcome.evidence)
            if opening is not None:
                shown |= shown_encodings({opening: encoding or outcome.run.contract.evidence.encoding})
            _print_findings(outcome.warnings, shown)
        for message in outcome.messages:
            sys.stderr.write(f"sob: {message}\n")
        if format is PayFormat.json:
            data = summary(outcome.run)
            if ledger is not None:
                change = outcome.change
                data["contract_change"] = None if change is None else change.as_json(outcome.run.contract.minor_units)
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            from sob.render.pay import render_pay

            out, _ = _consoles(wide)
            files = [(f.kind, str(f.path), f.rows, f.sha256) for f in outcome.evidence.files]
            render_pay(outcome.run, files, out, closed=outcome.closed_manifest is not None)
        if outcome.closed_manifest is not None:
            sys.stderr.write(f"closed {outcome.run.quarter}: {outcome.closed_manifest}\n")
        if export is not None:
            sys.stderr.write(f"wrote {export}\n")


@app.command(epilog=_example(
    "git show origin/main:contract.toml > old.toml",
    "sob diff old.toml contract.toml --quarter 2021-Q2",
    "sob diff old.toml contract.toml --quarter 2021-Q2 --format json",
))
def diff(
    old: Annotated[Path, typer.Argument(help="The contract as it was (for example from the base branch).")],
    new: Annotated[Path, typer.Argument(help="The contract as edited.")],
    quarter: Annotated[str, typer.Option("--quarter", help="Quarter to compare, YYYY-Qn in NEW's fiscal year.")],
    claims: ClaimsOpt = None,
    participants: ParticipantsOpt = None,
    results: ResultsOpt = None,
    encoding: EncodingOpt = None,
    export: Annotated[Path | None, typer.Option("--export", help="Write the differing rows: .csv, .parquet, .json or .xlsx.")] = None,
    format: Annotated[PayFormat, typer.Option("--format", help="table (terminal) or json (SPEC 10.2).")] = PayFormat.table,
) -> None:
    """What a contract edit does to the money of a quarter.

    Compares the quarter's payments under OLD and NEW on the same evidence:
    rows, outcomes, payers and totals; exit 1 when money moves.
    """
    from sob.diff import DiffRequest, compute_diff, write_export

    with _errors():
        req = DiffRequest(old, new, quarter, _evidence(claims, participants, results, encoding), export)
        result = _with_progress("comparing", lambda: compute_diff(req))
        if export is not None:
            write_export(result, export)
        if format is PayFormat.json:
            sys.stdout.write(result.json_text())
        else:
            from sob.render.diff import render_diff

            out, _ = _consoles()
            render_diff(result, out)
        if export is not None:
            sys.stderr.write(f"wrote {export}\n")
    if result.money_moves:
        raise typer.Exit(1)


def _with_progress(label: str, work: Callable[[], T]) -> T:
    """Run ``work`` with a spinner on stderr when it is a terminal; silent when piped."""
    from sob.render.console import progress_enabled

    _, err = _consoles()
    if not progress_enabled(err):
        return work()
    with err.status(f"{label}…"):
        return work()


@app.command("test", epilog=_example("sob test contract.toml", "sob test contracts/*.toml"))
def test_examples(
    contracts: Annotated[list[Path], typer.Argument(help="Contract files whose worked examples to run.")],
) -> None:
    """Run each contract's worked examples.

    One PASS or FAIL line per example, with the differences; exit 1 on any failure.
    """
    from sob.contract import load_contract
    from sob.contract.examples import run_examples

    failed = 0
    with _errors():
        for path in contracts:
            contract, findings = load_contract(path)
            if contract is None:
                _print_findings(findings)
                sys.stdout.write(f"FAIL {path}: the contract has errors (see `sob validate {path}`)\n")
                failed += 1
                continue
            if not contract.examples:
                sys.stdout.write(f"     {path}: no worked examples\n")
            for r in run_examples(contract):
                mark = "PASS" if r.passed else "FAIL"
                sys.stdout.write(f"{mark} {path}: {r.name} ({r.quarter})\n")
                for diff in r.differences:
                    sys.stdout.write(f"       {diff}\n")
                failed += not r.passed
        sys.stderr.write(f"{'all examples pass' if not failed else f'{failed} failing'}\n")
        if failed:
            raise typer.Exit(1)


@app.command(epilog=_example(
    "sob explain contract.toml --quarter 2025-Q1 --claim C00042",
    "sob explain contract.toml --quarter 2025-Q1 --claim C00042 --ledger ledger",
))
def explain(
    contract: Annotated[Path, typer.Argument(help="The contract TOML file.")],
    quarter: Annotated[str, typer.Option("--quarter", help=f"As at the end of this quarter: {ACCEPTED_FORMS}.")],
    claim: Annotated[str, typer.Option("--claim", help="The claim_id (or result_id) to explain.")],
    claims: ClaimsOpt = None,
    participants: ParticipantsOpt = None,
    results: ResultsOpt = None,
    encoding: EncodingOpt = None,
    ledger: Annotated[
        Path | None, typer.Option("--ledger", help="Folder of closed quarters: also show what each paid for the claim.")
    ] = None,
    reject_invalid: Annotated[bool, typer.Option("--reject-invalid", help="Explain rows with data errors too.")] = False,
) -> None:
    """Show how one claim was assessed and paid.

    Every rule with its verdict (PASS, FAIL or n/a) and the data that decided
    it, the price and cap arithmetic, the split between payers and what is due.
    """
    from sob.explain import explain_claim
    from sob.render.explain import render_explanation
    from sob.workflows import PayRequest, compute_pay

    with _errors():
        req = PayRequest(contract, quarter, _evidence(claims, participants, results, encoding), ledger, reject_invalid=reject_invalid)
        outcome = compute_pay(req)
        story = explain_claim(outcome.run, claim, ledger, change=outcome.change)
        out, _ = _consoles()
        render_explanation(story, outcome.run.contract, out)


class ReportFormat(str, Enum):
    html = "html"
    json = "json"


@app.command(epilog=_example(
    "sob report contract.toml --ledger ledger --out report.html",
    "sob report contract.toml --ledger ledger --quarter 2025-Q4 --out report.html --pdf",
    "sob report contract.toml --ledger ledger --format json",
))
def report(
    contract: Annotated[Path, typer.Argument(help="The contract TOML file.")],
    ledger: Annotated[Path, typer.Option("--ledger", help="Folder of closed quarters: the report reads what was paid.")],
    quarter: Annotated[str | None, typer.Option(
        "--quarter", help=f"Report up to this closed quarter (default: the latest): {ACCEPTED_FORMS}.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the report (.html, or .pdf).")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="html (a page, to --out) or json (standard output).")] = ReportFormat.html,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF next to --out (needs sob[pdf]).")] = False,
) -> None:
    """Report on a contract's life from its ledger.

    Paid to date, quarters, profile, caps and rejections: one self-contained HTML page with SVG charts (no script, no network),
    printable on A4 landscape; or the same figures as JSON.
    """
    from sob.findings import UsageError
    from sob.workflows import build_contract_report

    with _errors():
        if format is ReportFormat.html and out is None:
            raise UsageError("sob report needs --out FILE.html (or --format json for standard output)")
        if out is not None and out.suffix.lower() not in (".html", ".htm", ".pdf", ".json"):
            raise UsageError(f"--out {out}: use a name ending in .html or .pdf (or .json with --format json)")
        data = build_contract_report(contract, ledger, quarter)
        if format is ReportFormat.json:
            text = json.dumps(data, indent=2) + "\n"
            if out is None:
                sys.stdout.write(text)
                return
            from sob.pack import save_bytes

            save_bytes(out, text.encode("utf-8"))
        else:
            from sob.report.html import render_html
            from sob.workflows import write_report_files

            assert out is not None
            for path in write_report_files(render_html(data), out, pdf=pdf):
                sys.stderr.write(f"wrote {path}\n")


@app.command(epilog=_example(
    "sob publish contract.toml --ledger ledger --out open-data",
    "sob publish contract.toml --ledger ledger --quarter 2025-Q4 --out open-data --min-count 5",
    "sob publish contract.toml --ledger ledger --verify open-data",
))
def publish(
    contract: Annotated[Path, typer.Argument(help="The contract TOML file.")],
    ledger: Annotated[Path, typer.Option("--ledger", help="Folder of closed quarters: only closed quarters are published.")],
    quarter: Annotated[str | None, typer.Option(
        "--quarter", help=f"Publish up to this closed quarter (default: the latest): {ACCEPTED_FORMS}.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The folder to write (a new one, or an earlier publication to replace).")] = None,
    min_count: Annotated[int, typer.Option("--min-count", help="Counts from 1 to this minus 1 are suppressed.")] = 10,
    verify: Annotated[Path | None, typer.Option(
        "--verify", help="Instead of writing: check a published folder is exactly what the ledger gives.")] = None,
) -> None:
    """Publish open data from the ledger, small counts suppressed.

    It writes CSVs, an INDIGO project JSON, a README and SHA256SUMS.
    Nothing identifying leaves the ledger; the folder is written atomically
    and byte for byte the same for the same ledger.
    """
    from sob.findings import UsageError
    from sob.publish import run

    with _errors():
        if (out is None) == (verify is None):
            raise UsageError("sob publish needs exactly one of --out DIR (write) or --verify DIR (check)")
        if verify is not None:
            problems = run.verify(contract, ledger, quarter, min_count, verify)
            for line in problems:
                sys.stderr.write(f"{verify}/{line}\n")
            if problems:
                sys.stderr.write(f"publication {verify}: NOT what the ledger gives ({len(problems)} problem(s))\n")
                raise typer.Exit(1)
            sys.stdout.write(f"publication {verify}: identical to what the ledger gives\n")
            return
        assert out is not None
        files = run.publish(contract, ledger, quarter, min_count, out)
        sys.stderr.write(f"wrote {out} ({len(files)} files)\n")


@app.command(epilog=_example(
    "sob portfolio contracts/*.toml --ledger ledger",
    "sob portfolio contracts/*.toml --ledger ledger --quarter 2025-Q4 --payer LCF --format json",
    "sob portfolio contracts/*.toml --ledger ledger --export portfolio.xlsx",
    "sob portfolio contracts/*.toml --ledger ledger --export portfolio.html",
))
def portfolio(
    contracts: Annotated[list[Path], typer.Argument(help="The contract TOML files.")],
    ledger: Annotated[Path, typer.Option("--ledger", help="Folder of closed quarters of every contract.")],
    quarter: Annotated[str | None, typer.Option(
        "--quarter", help=f"As at this quarter (default: each contract's latest close): {ACCEPTED_FORMS}.")] = None,
    payer: Annotated[str | None, typer.Option("--payer", help="Only this payer's part (and contracts it pays).")] = None,
    format: Annotated[PayFormat, typer.Option("--format", help="table (terminal) or json.")] = PayFormat.table,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write the portfolio to FILE: .csv, .xlsx, or .html (a page like sob report).")] = None,
) -> None:
    """A funder's view of many contracts, from their ledgers.

    Per contract: paid to date, due, cap use, outcomes against profile, and
    ledgers that are behind.
    Totals are per currency; money in different currencies is never added up.
    """
    from sob.portfolio import build_portfolio_view, write_portfolio_export

    with _errors():
        data = build_portfolio_view(contracts, ledger, quarter, payer)
        if export is not None:
            write_portfolio_export(data, export)
            sys.stderr.write(f"wrote {export}\n")
        if format is PayFormat.json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            from sob.render.portfolio import render_portfolio

            render_portfolio(data, _consoles()[0])


@ledger_app.command("verify", epilog=_example("sob ledger verify ledger"))
def ledger_verify(directory: Annotated[Path, typer.Argument(help="The ledger folder.")]) -> None:
    """Check that no closed quarter was changed.

    Re-hashes every closed quarter and names each changed, removed, added or
    reordered file; exit 1 if the ledger is not intact.
    """
    from sob import ledger as core
    from sob.findings import errors_only

    with _errors():
        findings = core.verify(directory)
        _print_findings(findings)
        if errors_only(findings):
            sys.stderr.write(f"ledger {directory}: NOT intact ({len(errors_only(findings))} problem(s))\n")
            raise typer.Exit(1)
        sys.stdout.write(f"ledger {directory}: intact\n")


@ledger_app.command("show", epilog=_example("sob ledger show ledger", "sob ledger show ledger --format json"))
def ledger_show(
    directory: Annotated[Path, typer.Argument(help="The ledger folder.")],
    format: Annotated[PayFormat, typer.Option("--format", help="table (terminal) or json.")] = PayFormat.table,
    wide: Annotated[bool, typer.Option("--wide", help="Do not shrink tables to the terminal's width.")] = False,
) -> None:
    """List closed quarters and what they paid.

    Totals per quarter and per payer, paid to date, use of each cap, and
    when each quarter was closed.
    """
    from sob import ledger as core
    from sob.render.ledger import render_ledger

    with _errors():
        rows = core.show(directory)
        if format is PayFormat.json:
            sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
            return
        out, _ = _consoles(wide)
        render_ledger(rows, out)
        for line in _life_notes(rows):
            out.print(line, markup=False, highlight=False)


def _life_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One line per opening balance, contract change and skipped quarter in the ledger (SPEC 10)."""
    notes = []
    for row in rows:
        where = f"{row['contract']} {row['quarter']}"
        if row.get("opening"):
            o = row["opening"]
            notes.append(f"{where}: opening balance {o['paid']} over {o['rows']} id(s), paid before sob")
        if row.get("contract_change"):
            c = row["contract_change"]
            notes.append(f"{where}: contract changed since {c.get('since')}: {c.get('restated_rows')} restated "
                         f"row(s), {c.get('restated_amount')}")
        if row.get("skipped"):
            notes.append(f"{where}: skipped {', '.join(row['skipped'])} (never closed)")
    return notes


@app.command(epilog=_example("sob init", "sob init contracts/new.toml"))
def init(path: Annotated[Path, typer.Argument(help="Where to write the starter contract.")] = Path("contract.toml")) -> None:
    """Write a starter contract, evidence templates and an example.

    A commented contract with [evidence], template CSVs and a worked example, to edit;
    the starter passes `sob validate` and `sob test`; an existing file is never overwritten.
    """
    from sob.contract.starter import write_starter

    with _errors():
        written = write_starter(path)
        sys.stdout.write(f"wrote {', '.join(map(str, written))}; check it with `sob validate {path}` and `sob test {path}`\n")


@app.command(epilog=_example("sob schema > contract.schema.json"))
def schema() -> None:
    """Print the JSON Schema of the contract format.

    Draft 2020-12, for editors that check TOML against a schema.
    """
    from sob.schema import contract_json_schema

    with _errors():
        sys.stdout.write(json.dumps(contract_json_schema(), indent=2) + "\n")


class _GuardedStdout:
    """Standard output whose write errors are :class:`StdoutError` (a broken pipe stays what it is).

    Everything else is passed through, so Rich sees the real stream's
    ``isatty``, ``fileno`` and encoding.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._guard(lambda s: s.write(text))

    def flush(self) -> None:
        if self._stream is not None:
            self._guard(lambda s: s.flush())

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def _guard(self, act: Callable[[TextIO], T]) -> T:
        if self._stream is None:
            raise StdoutError("it is closed")
        try:
            return act(self._stream)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise StdoutError(getattr(exc, "strerror", None) or str(exc)) from None

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def main() -> None:
    """Console entry point."""
    interrupts.install()
    interrupts.pause_at("startup")
    sys.stdout = _GuardedStdout(sys.stdout)  # type: ignore[assignment,unused-ignore]
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:  # a signal outside a command's own handling (start-up, shut-down)
        stop = exc if isinstance(exc, interrupts.Interrupted) else interrupts.Interrupted(2, interrupts.committed())
        sys.stderr.write(_interrupted_message(stop) + "\n")
        raise SystemExit(stop.exit_code) from None
    except BaseException as exc:
        if _STATE["debug"]:
            raise
        sys.stderr.write(f"sob: internal error: {type(exc).__name__}: {exc}\n")
        raise SystemExit(2) from None
