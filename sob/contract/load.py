"""Read a contract file and check it against SPEC 3, 3.1, 3.2 and 8: ``load_contract``.

``load_contract`` returns the immutable objects of :mod:`sob.contract.model`
only when the file has no error, together with *every* problem found in one
pass: a contract manager fixing a file wants the whole list, not one error
per run.  Each problem is a :class:`~sob.findings.Finding` with a stable code
(listed in :data:`sob.contract.format.CONTRACT_CODES`), the file, the line and
column of the offending key, the user's key path and, where it helps, a
"did you mean" hint.

The steps, in order: read the bytes (a regular file or a pipe, bounded in
size), decode them, parse the TOML, then check each section
(:mod:`sob.contract.sections`, :mod:`sob.contract.references`,
:mod:`sob.contract.example_checks`), passing what earlier sections establish
to later ones as :class:`~sob.contract.converters.Facts`.

No input, however hostile, makes this module raise: binary files, UTF-16,
invalid UTF-8, absurd nesting and huge values all come back as findings.
Only file-system problems (missing file, a directory or a device, no
permission, a file too large to be a contract) raise
:class:`~sob.findings.UsageError`, because they are about the command line,
not about the contract.
"""

from __future__ import annotations

import os
import re
import select
import stat
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from sob.contract import format as fmt
from sob.contract.adjustments import check_adjustments
from sob.contract.converters import Facts
from sob.contract.example_checks import check_examples
from sob.contract.model import Caps, Contract, EvidenceConfig
from sob.contract.paths import contract_folder
from sob.contract.references import check_net_of, check_outcome_ids, check_requires
from sob.contract.report import Reporter, owner_names
from sob.contract.sections import (
    check_caps,
    check_contract,
    check_evidence,
    check_outcome,
    check_payers,
    check_schema,
    check_top_keys,
    outcome_list,
)
from sob.contract.toml_locate import find_deep_nesting
from sob.findings import Finding, UsageError, cut, errors_only

_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_END = re.compile(r"\s*\(at end of document\)\s*$")
_LONG_NUMBER = re.compile(r"\d{4000,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 1 << 16


# --- public entry points ---------------------------------------------------------------------


def load_contract(path: Path) -> tuple[Contract | None, list[Finding]]:
    """Read and check the contract file at ``path``.

    File-system problems raise :class:`UsageError` (exit 2) naming the file;
    everything about the content comes back as findings.  Evidence paths are
    judged from the contract file's resolved folder.
    """
    path = Path(path)
    data = read_contract_bytes(path)
    text, finding = decode_contract_bytes(data, path)
    if finding is not None:
        return None, [finding]
    return check_contract_text(text, path, folder=contract_folder(path))


def read_contract_bytes(path: Path) -> bytes:
    """The bytes of a contract file: a regular file or a pipe, at most MAX_CONTRACT_BYTES.

    The kind of file is checked before it is opened (a device such as
    /dev/zero would never end), and again on the open descriptor.  A pipe is
    opened without blocking, so a named pipe that nobody writes to ends at
    once instead of hanging.
    """
    try:
        info = os.stat(path)
        _check_kind(path, info.st_mode, info.st_size)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"contract file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"contract path {path} is a directory, not a TOML file") from None
    except PermissionError:
        raise UsageError(f"contract file {path} cannot be read: permission denied") from None
    except OSError as exc:
        raise UsageError(f"contract file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _check_kind(path, info.st_mode, info.st_size)
        data = _read_bounded(path, fd, pipe=stat.S_ISFIFO(info.st_mode))
    except OSError as exc:
        raise UsageError(f"contract file {path} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return data


def _check_kind(path: Path, mode: int, size: int) -> None:
    """UsageError unless ``mode`` is a regular file of a contract's size, or a pipe."""
    if stat.S_ISDIR(mode):
        raise UsageError(f"contract path {path} is a directory, not a TOML file")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise UsageError(f"contract file {path} is not a regular file or a pipe (a device?); nothing was read")
    if stat.S_ISREG(mode) and size > fmt.MAX_CONTRACT_BYTES:
        raise UsageError(_too_large(path))


def _too_large(path: Path) -> str:
    return f"contract file {path} is larger than {fmt.MAX_CONTRACT_BYTES // (1024 * 1024)} MiB, the limit for a contract"


def _read_bounded(path: Path, fd: int, *, pipe: bool) -> bytes:
    """Read ``fd`` to its end, refusing more than MAX_CONTRACT_BYTES; a pipe is waited on, not spun."""
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:  # a pipe whose writer has not written yet
            select.select([fd], [], [])
            continue
        if not chunk:
            break
        total += len(chunk)
        if total > fmt.MAX_CONTRACT_BYTES:
            raise UsageError(_too_large(path))
        chunks.append(chunk)
    if pipe and total == 0:
        raise UsageError(f"contract file {path} is a pipe that gave nothing to read (is anything writing to it?)")
    return b"".join(chunks)


def decode_contract_bytes(data: bytes, path: Path) -> tuple[str, Finding | None]:
    """UTF-8 text of a contract file (a byte-order mark is dropped), or a NOT_UTF8 finding."""
    file = str(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", Finding(
            "NOT_UTF8",
            "the file is UTF-16 text; a contract must be UTF-8",
            file=file,
            line=1,
            col=1,
            hint="save the file as UTF-8",
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return "", Finding(
            "NOT_UTF8",
            "the file holds NUL bytes: it is binary data or UTF-16, not UTF-8 TOML text",
            file=file,
            line=line,
            col=nul - (data.rfind(b"\n", 0, nul) + 1) + 1,
            hint="save the file as UTF-8",
        )
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        return "", Finding(
            "NOT_UTF8",
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a contract must be UTF-8 TOML text",
            file=file,
            line=line,
            col=col,
            hint="save the file as UTF-8",
        )


def check_contract_text(text: str, path: Path, *, folder: Path | None = None) -> tuple[Contract | None, list[Finding]]:
    """Check contract ``text`` (read from ``path``); the Contract only when error-free.

    ``folder`` is the contract's resolved folder: when given, evidence paths
    are also checked on disk (:mod:`sob.contract.paths`); without it only
    their text is.
    """
    text = text.removeprefix("\ufeff")
    path = Path(path)
    r = Reporter(text, str(path))
    data = parse(r, text)
    contract = None
    if data is not None:
        contract = check_sections(r.named(owner_names(data)), data, path, folder)
    findings = sorted(r.findings, key=lambda f: (f.line is None, f.line or 0, f.col or 0))
    if errors_only(findings):
        contract = None
    return contract, findings


# --- parsing ----------------------------------------------------------------------------------


def parse(r: Reporter, text: str) -> dict[str, Any] | None:
    """``tomllib`` with exact decimals; syntax problems become TOML_SYNTAX findings."""
    surrogate = _SURROGATE.search(text)
    if surrogate:  # only a str handed in directly can hold one; it would crash any output
        before = text[: surrogate.start()]
        r.error(
            "NOT_UTF8",
            (),
            "the text holds a lone surrogate character, which is not Unicode text",
            line=before.count("\n") + 1,
            col=surrogate.start() - (before.rfind("\n") + 1) + 1,
        )
        return None
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        _syntax_error(r, text, str(exc))
        return None
    except RecursionError:
        where = find_deep_nesting(text)
        line, col = where if where else (1, 1)
        r.error("TOML_SYNTAX", (), "arrays or inline tables are nested too deeply to read", line=line, col=col)
        return None
    except (ValueError, MemoryError) as exc:  # e.g. an integer of more than 4300 digits
        long_number = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, long_number.start()) + 1 if long_number else 1
        r.error("TOML_SYNTAX", (), f"the file cannot be read as TOML: {cut(exc)}", line=line)
        return None


def _syntax_error(r: Reporter, text: str, message: str) -> None:
    """TOML_SYNTAX at the parser's line and column (or the end of the text)."""
    m = _SYNTAX_AT.search(message)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        message = message[: m.start()]
    else:
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
        message = _SYNTAX_END.sub("", message)
    r.error("TOML_SYNTAX", (), f"TOML syntax: {message}", line=line, col=col)


# --- the sections, in order -------------------------------------------------------------------


def check_sections(r: Reporter, data: dict[str, Any], path: Path, folder: Path | None) -> Contract | None:
    """Check every section, each step given what the earlier ones established."""
    check_schema(r, data)
    check_top_keys(r, data)
    head, facts = check_contract(r, data, Facts(folder=folder))
    payers, payer_ids = check_payers(r, data, facts)
    facts = replace(facts, payer_ids=payer_ids)
    caps = check_caps(r, data, facts)
    evidence = check_evidence(r, data, facts)
    outcomes = None
    items = outcome_list(r, data)
    if items is not None:
        checked = [check_outcome(r, facts, item, i) for i, item in enumerate(items)]
        found = [f for _, f in checked]
        ids_ok = check_outcome_ids(r, found)
        refs_ok = check_requires(r, found)
        refs_ok = check_net_of(r, found) and refs_ok
        valid = [o for o, _ in checked if o is not None]
        if ids_ok and refs_ok and len(valid) == len(checked):
            outcomes = tuple(valid)
    examples = check_examples(r, data, facts)
    adjustments = check_adjustments(r, data, facts)
    if (errors_only(r.findings) or head is None or payers is None or outcomes is None or facts.minor_units is None
            or adjustments is None):
        return None
    return Contract(
        id=head["id"],
        name=head.get("name", ""),
        currency=head["currency"],
        minor_units=facts.minor_units,
        start=head["start"],
        outcomes_end=head["outcomes_end"],
        claims_end=head.get("claims_end", head["outcomes_end"]),
        referrals_end=head.get("referrals_end"),
        fiscal_year_start_month=head.get("fiscal_year_start_month", 1),
        payers=payers,
        outcomes=outcomes,
        caps=caps or Caps(),
        evidence=evidence or EvidenceConfig(),
        examples=examples or (),
        adjustments=adjustments,
        path=path,
        schema=data["schema"],
        folder=_display_folder(path, folder),
    )


def _display_folder(path: Path, folder: Path | None) -> Path | None:
    """The contract's folder as the user wrote it, unless the file itself is a link elsewhere.

    Evidence paths are shown and opened under ``path.parent`` as typed (the
    user's own choice); only when the contract file is a link to another
    folder are they taken from the resolved one.
    """
    if folder is None or os.path.realpath(path.parent) == str(folder):
        return None
    return folder
