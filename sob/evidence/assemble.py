"""Reading all the evidence files of a run into one :class:`~sob.evidence.model.Evidence`:
the register first, then claims and results, by the compact path when it can vouch
for them, else the detailed one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from sob.contract import Contract
from sob.evidence.compact import read_clean
from sob.evidence.csv_reader import load_csv
from sob.evidence.detailed import finalise, type_detailed
from sob.evidence.duplicates import Dups, adjustment_findings, adjustment_ids_in, dup_findings, find_dups
from sob.evidence.inline import inline_raw
from sob.evidence.kinds import KINDS, Kind, kind_for
from sob.evidence.model import Evidence, EvidenceFile
from sob.evidence.parquet_reader import load_parquet
from sob.evidence.raw import Loaded, Planned, Raw, Typed
from sob.evidence.register import Register, missing_register, register_of
from sob.evidence.spreadsheet import SPREADSHEET_SUFFIXES, cell_ref, load_spreadsheet
from sob.evidence.values import with_values
from sob.findings import Finding, UsageError
from sob.textcodecs import codec_name, unknown_codec


def with_encoding(contract: Contract, encoding: str | None) -> Contract:
    """The contract with ``--encoding`` in place of its ``[evidence] encoding`` (unchanged for ``None``)."""
    if encoding is None:
        return contract
    if codec_name(encoding) is None:
        raise UsageError(unknown_codec(encoding, "--encoding"))
    return replace(contract, evidence=replace(contract.evidence, encoding=encoding))


def _load(kind: Kind, path: Path | str, contract: Contract, *, later: bool = False) -> Loaded:
    """Open an evidence file; ``later``: a CSV file's reading may be planned when it is read (``load_csv``)."""
    path = Path(path)
    label = str(path)
    if path.suffix.lower() == ".parquet":
        plan, errors, ef = load_parquet(kind, path, label, contract)
    elif path.suffix.lower() in SPREADSHEET_SUFFIXES:
        plan, errors, ef = load_spreadsheet(kind, path, label, contract)
    else:
        plan, errors, ef = load_csv(kind, path, label, contract, later=later)
    return with_values(plan, contract), errors, ef
def _in_order(findings: list[tuple[int, int, Finding]]) -> list[Finding]:
    return [f for _, _, f in sorted(findings, key=lambda t: (t[0], t[1], t[2].col or 0))]


def _drop_minus(drop: pl.DataFrame | None, id_col: str, ids: list[str]) -> pl.DataFrame | None:
    if drop is None or not ids:
        return drop
    drop = drop.filter(~pl.col(id_col).is_in(ids))
    return drop if drop.height else None
def _assemble_clean(ev: Evidence, contract: Contract, craw: Raw | None, rraw: Raw | None,
                    register: Register | None, files: dict[str, EvidenceFile],
                    per_file: dict[str, list[tuple[int, int, Finding]]], keep: Collection[str] | None = None) -> bool:
    """Claims and results read by ``read_clean`` into ``ev``; ``False`` when either must be read in detail.

    Ids shared by a claim and a cohort result are reported by the detailed
    reading too, so they also give ``False``.
    """
    claims = results = None
    if craw is not None and (claims := read_clean(craw, contract, register, keep)) is None:
        return False
    if rraw is not None and (results := read_clean(rraw, contract, None)) is None:
        return False
    if (claims is not None and results is not None and claims[0].height and results[0].height
            and claims[0]["claim_id"].is_in(results[0]["result_id"].implode()).any()):
        return False
    adjustment_ids = [a.id for a in contract.adjustments]  # an id shared with an adjustment (SPEC 10.6)
    if adjustment_ids and any(read is not None and read[0].height and read[0][col].is_in(adjustment_ids).any()
                              for read, col in ((claims, "claim_id"), (results, "result_id"))):
        return False
    for raw, read in ((craw, claims), (rraw, results)):
        if raw is None or read is None:
            continue
        frame, found, _ = read
        if raw.path is not None:
            files[raw.kind.kind] = raw.evidence_file(frame.height)  # type: ignore[assignment]
        per_file[raw.kind.kind] += found
        _add_carried(ev, _exported(raw))
    ev.claims = None if claims is None else claims[0]
    ev.participant_rows = None if claims is None else claims[2]
    ev.results = None if results is None else results[0]
    if craw is not None:
        ev.has_amount_claimed = "amount_claimed" in craw.present
        ev.has_evidence_ref = "evidence_ref" in craw.present
    return True


def _planned(plan: Planned | None) -> Raw | None:
    """A file's reading, planned now when it was handed over as a function (``later`` in ``load_csv``)."""
    return plan() if callable(plan) else plan


def _assemble(contract: Contract, raws: dict[str, Planned | None], register_given: bool,
              file_errors: list[Finding], files: dict[str, EvidenceFile], register_label: str,
              keep: Collection[str] | None = None) -> Evidence:
    ev = Evidence(file_errors=list(file_errors))
    if contract.needs_register and not register_given:
        ev.file_errors.append(missing_register(contract, register_label))
    per_file: dict[str, list[tuple[int, int, Finding]]] = {"claims": [], "participants": [], "results": []}

    # -- the register first: claims are checked against it ----------------------------
    register: Register | None = None
    praw = _planned(raws.get("participants"))
    clean = read_clean(praw, contract, None) if praw is not None else None
    if praw is not None and clean is not None:
        frame, found, _ = clean
        if praw.path is not None:
            files["participants"] = praw.evidence_file(frame.height)  # type: ignore[assignment]
        per_file["participants"] += found
        ev.participants = frame
        register = register_of(frame)
    elif praw is not None:
        typed = type_detailed(praw, contract, None)
        if praw.path is not None:
            files["participants"] = praw.evidence_file(typed.rows)  # type: ignore[assignment]
        dups = find_dups(typed)
        per_file["participants"] += dup_findings(typed, dups.differing, "DUPLICATE_PARTICIPANT", {})
        frame, found = finalise(typed, dups.drop, dups.differing, "DUPLICATE_PARTICIPANT", contract)
        del typed
        per_file["participants"] += found
        ev.participants = frame
        register = register_of(frame)

    # the claims' reading is planned now that the register is read (their byte scan ran meanwhile)
    craw, rraw = _planned(raws.get("claims")), _planned(raws.get("results"))
    if _assemble_clean(ev, contract, craw, rraw, register, files, per_file, keep):
        for kind in ("claims", "participants", "results"):
            ev.findings += _in_order(per_file[kind])
        ev.files = [files[k] for k in ("claims", "participants", "results") if k in files]
        return ev
    rtyped = type_detailed(rraw, contract, None) if rraw is not None else None
    ctyped = type_detailed(craw, contract, register) if craw is not None else None
    for kind, typed_ in (("claims", ctyped), ("results", rtyped)):
        if typed_ is not None and typed_.raw.path is not None:
            files[kind] = typed_.raw.evidence_file(typed_.rows)  # type: ignore[assignment]
    cdups = find_dups(ctyped) if ctyped is not None else Dups()
    rdups = find_dups(rtyped) if rtyped is not None else Dups()

    # -- ids shared by a claim and a result: every row of them is a DUPLICATE_ID -----
    shared: list[str] = []
    if ctyped is not None and rtyped is not None and rtyped.frame.height and ctyped.frame.height:
        rids = rtyped.frame["result_id"].drop_nulls().unique()
        shared = sorted(ctyped.frame.filter(pl.col("claim_id").is_in(rids.implode()))["claim_id"].unique().to_list())
    adjustment_lines = {a.id: a.line for a in contract.adjustments}
    c_adj, r_adj = (adjustment_ids_in(t, list(adjustment_lines)) for t in (ctyped, rtyped))
    c_ids = sorted(set(cdups.differing) | set(shared) | set(c_adj))
    r_ids = sorted(set(rdups.differing) | set(shared) | set(r_adj))

    def lines_in(typed_: Typed | None, ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        if typed_ is None or not ids:
            return {}
        id_col = typed_.raw.kind.id_col
        got: dict[str, list[tuple[str, int]]] = {}
        rows = typed_.frame.filter(pl.col(id_col).is_in(ids)).select("line", id_col).sort("line")
        for line, ident in rows.iter_rows():
            got.setdefault(ident, []).append((f"{typed_.raw.kind.kind} file", line))
        return got

    r_lines, c_lines = lines_in(rtyped, shared), lines_in(ctyped, shared)
    if ctyped is not None:
        per_file["claims"] += dup_findings(ctyped, [i for i in c_ids if i not in c_adj], "DUPLICATE_ID", r_lines)
        per_file["claims"] += adjustment_findings(ctyped, c_adj, adjustment_lines)
        drop = _drop_minus(cdups.drop, "claim_id", shared)
        ev.claims, found = finalise(ctyped, drop, c_ids, "DUPLICATE_ID", contract)
        if keep is not None:
            ev.claims = ev.claims.select(c for c in ev.claims.columns if c in keep or c == "claim_id")
        per_file["claims"] += found
        _add_carried(ev, _exported(ctyped.raw))
        ev.has_amount_claimed = "amount_claimed" in ctyped.raw.present
        ev.has_evidence_ref = "evidence_ref" in ctyped.raw.present
        del ctyped
    if rtyped is not None:
        per_file["results"] += dup_findings(rtyped, [i for i in r_ids if i not in r_adj], "DUPLICATE_ID", c_lines)
        per_file["results"] += adjustment_findings(rtyped, r_adj, adjustment_lines)
        frame, found = finalise(rtyped, _drop_minus(rdups.drop, "result_id", shared), r_ids, "DUPLICATE_ID", contract)
        if shared:  # the merged row of an id shared with a claim lives in the claims frame
            frame = frame.filter(~pl.col("result_id").is_in(shared))
        ev.results = frame
        per_file["results"] += found
        _add_carried(ev, _exported(rtyped.raw))
    for kind in ("claims", "participants", "results"):
        ev.findings += _in_order(per_file[kind])
    ev.files = [files[k] for k in ("claims", "participants", "results") if k in files]
    return ev


def _exported(raw: Raw) -> list[str]:
    """A file's columns carried into exports: its carried ones and, in their place among them, the
    columns read only for an outcome key (``value``: SPEC 11.4 carries it either way)."""
    keyed = [c for c in raw.kind.columns if c in raw.present and c not in KINDS[raw.kind.kind].columns]
    if not keyed:
        return raw.carried
    at = {name: raw.col_no.get(name, len(raw.col_no) + i) for i, name in enumerate([*raw.carried, *keyed])}
    return sorted([*raw.carried, *keyed], key=lambda name: at[name])


def _add_carried(ev: Evidence, names: list[str]) -> None:
    """Append a file's carried columns not already listed (a set: headers can be 30,000 columns wide)."""
    seen = set(ev.carried_columns)
    ev.carried_columns += [c for c in names if c not in seen]


def read_evidence(contract: Contract, claims: Path | None, participants: Path | None,
                  results: Path | None, *, claim_columns: Collection[str] | None = None,
                  encoding: str | None = None) -> Evidence:
    """Read and check the evidence files (SPEC 4).

    ``claim_columns``: only these columns of the claims frame are kept
    (``claim_id`` always is); every column is still read and checked.  A
    caller that needs totals only saves the memory of the others.

    Raises :class:`~sob.findings.UsageError` (exit 2) for a file that cannot
    be read: missing, a directory, no permission, not UTF-8 text (UTF-16,
    binary).  Everything else is reported in the returned :class:`Evidence`.
    ``encoding`` (``--encoding``) overrides ``[evidence] encoding``; an unknown
    codec is a command-line error.
    """
    contract = with_encoding(contract, encoding)
    raws: dict[str, Planned | None] = {}
    file_errors: list[Finding] = []
    files: dict[str, EvidenceFile] = {}
    for kind, path in (("claims", claims), ("participants", participants), ("results", results)):
        if path is None:
            raws[kind] = None
            continue
        # the claims' reading is planned after the register is read, their byte scan running meanwhile
        raw, errors, ef = _load(kind_for(kind, contract), path, contract, later=kind == "claims" and participants is not None)
        raws[kind] = raw
        file_errors += errors
        if ef is not None:
            files[kind] = ef
    reg_label = str(participants) if participants is not None else "participants register"
    sheets = {r.label: r.sheet for r in raws.values() if isinstance(r, Raw) and r.sheet is not None}
    sheets.update({str(f.path): f.sheet for f in files.values() if f.sheet is not None})
    ev = _assemble(contract, raws, participants is not None, file_errors, files, reg_label, claim_columns)
    if sheets:  # findings in a spreadsheet name cells, not lines
        ev.findings = [_in_cell(f, sheets) for f in ev.findings]
        ev.file_errors = [_in_cell(f, sheets) for f in ev.file_errors]
    return ev


def _in_cell(f: Finding, sheets: dict[str, str]) -> Finding:
    """``f`` with its spreadsheet cell reference (``Claims!D12``) when its file is a spreadsheet."""
    sheet = sheets.get(f.file or "")
    return f if sheet is None else replace(f, cell=cell_ref(sheet, f.line, f.col))


def read_inline(contract: Contract, participants: list[dict[str, Any]], claims: list[dict[str, Any]],
                results: list[dict[str, Any]],
                *, name: str | None = None) -> Evidence:
    """The rows of a worked example, typed and checked exactly like evidence files.

    Rows use canonical column names and TOML values (``date``, ``str``,
    ``Decimal``/``int``, ``bool``); dates are read as dates whatever the
    contract's ``date_format``.  ``line`` is the row's 1-based index and
    ``file`` is ``<example NAME: claims>`` (or participants, results; just
    ``<example: claims>`` without a name).  An empty ``participants`` list
    means no register was given.
    """
    tag = f"<example {name}" if name else "<example"
    raws: dict[str, Planned | None] = {
        "claims": inline_raw(kind_for("claims", contract), claims or [], f"{tag}: claims>"),
        "participants": (inline_raw(kind_for("participants", contract), participants, f"{tag}: participants>")
                         if participants else None),
        "results": inline_raw(kind_for("results", contract), results or [], f"{tag}: results>"),
    }
    return _assemble(contract, raws, bool(participants), [], {}, f"{tag}: participants>")
