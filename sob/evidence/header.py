"""Finding a CSV file's header record and matching its names to the canonical columns
(``[evidence.columns]``, duplicates, reserved names, "did you mean" hints).
"""

from __future__ import annotations

import csv
import difflib
import io
import sys
from dataclasses import dataclass

from sob.evidence.encoding import not_utf8
from sob.evidence.kinds import INTERNAL, RESERVED, WS, Kind
from sob.evidence.source import Source
from sob.findings import Finding, cut

try:  # very long cells are data, not a reason to crash the csv module
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
except OverflowError:  # pragma: no cover
    csv.field_size_limit(2**31 - 1)

def is_blank(cells: list[str]) -> bool:
    return not any(c.strip(WS) for c in cells)


@dataclass
class HeaderAt:
    cells: list[str]  # raw cells of the header record
    start: int  # 0-based line the header starts on (lines before it are blank)
    data_start: int  # lines up to and including the header's last line
    pre_delimiters: int  # delimiters on the blank lines before the header


def find_header(src: Source, delim: str) -> HeaderAt | None:
    """The header record: the first record that is not blank.  ``None`` when there is none."""
    n = 1 << 16
    while True:
        complete = n >= src.size
        chunk = src.head(n)
        if not complete:
            cut_at = chunk.rfind(b"\n")
            if cut_at < 0:
                n *= 4
                continue
            chunk = chunk[: cut_at + 1]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise not_utf8(src.label, src.path, src.data) from None
        text = text.removeprefix("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False)
        before = 0
        total_lines = len(io.StringIO(text, newline="").readlines())
        for row in reader:
            if not is_blank(row):
                end = reader.line_num
                if not complete and end >= total_lines:
                    break  # the record may go on past this chunk: read more
                lines = io.StringIO(text, newline="").readlines()[:before]
                return HeaderAt(row, before, end, sum(line.count(delim) for line in lines))
            before = reader.line_num
        if complete:
            return None
        n *= 4


def regex_char(ch: str) -> str:
    return f"\\x{{{ord(ch):X}}}"


@dataclass
class Header:
    names: list[str]  # frame name per file column (canonical or carried), first ncols columns
    canon_pos: dict[str, int]  # canonical column -> 0-based position
    carried: list[str]
    shown: dict[str, str]  # frame name -> header as written in the file
    ncols: int
    nraw: int  # cells in the header record, trailing empty ones included
    line: int  # 1-based line of the header


#: the delimiters a header read with another one may hide, with the names the contract uses for them
_OTHER_DELIMITERS = ((";", "semicolon", ";"), ("\t", "tab", "\\t"), ("|", "pipe", "|"), (",", "comma", ","))


def _delimiter_hint(header: str, names: list[str]) -> str | None:
    """The fix when a missing column sits inside one header cell: the file uses another delimiter.

    A ``;`` export read with ``delimiter = ","`` has one header cell
    ``claim_id;participant_id;...``; "add the column" would send the reader
    the wrong way.
    """
    for name in names:
        for delim, word, written in _OTHER_DELIMITERS:
            if delim in name and header in (part.strip(WS) for part in name.split(delim)):
                return (f"the header cell {cut(name, 40)!r} holds it: the file looks {word}-delimited; set "
                        f'delimiter = "{written}" under [evidence], or remove the delimiter key to have it detected')
    return None


def resolve_header(
    kind: Kind, raw_cells: list[str], line: int, label: str, columns_map: dict[str, str]
) -> tuple[Header | None, list[Finding]]:
    errors: list[Finding] = []
    cells = [c.strip(WS) for c in raw_cells]
    if cells and cells[0].startswith("\ufeff"):
        cells[0] = cells[0][1:].strip(WS)
    nraw = len(cells)
    while cells and cells[-1] == "":
        cells.pop()
    names = [c if c else f"column_{i + 1}" for i, c in enumerate(cells)]
    first_at: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first_at:
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"column {name!r} appears twice in the header (columns {first_at[name] + 1} and {i + 1})",
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint="rename or remove one of them",
            ))
        else:
            first_at[name] = i
    # where each canonical column is looked for ("found only under its mapped header")
    wanted = {c: str(columns_map.get(c, c)).strip() for c in kind.columns}
    by_header: dict[str, list[str]] = {}
    for canon, header in wanted.items():
        by_header.setdefault(header, []).append(canon)
    for header, canons in by_header.items():
        if len(canons) > 1:
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"[evidence.columns] maps {', '.join(canons)} to the same header {header!r}",
                file=label, line=line, field=header, value=cut(header),
                hint="each column needs a header of its own",
            ))
    canon_pos: dict[str, int] = {}
    for canon in kind.columns:
        if wanted[canon] in first_at and len(by_header[wanted[canon]]) == 1:
            canon_pos[canon] = first_at[wanted[canon]]
    for canon in kind.required:
        if canon in canon_pos or len(by_header[wanted[canon]]) > 1:
            continue
        header = wanted[canon]
        label_h = f"{canon!r}" if header == canon else f"{header!r} (the header [evidence.columns] gives for {canon})"
        hint = None
        lower = {n.lower(): n for n in first_at}
        if header != canon and canon in first_at:
            hint = f"the file has a {canon!r} column, but [evidence.columns] says {canon} is under {header!r}"
        elif header.lower() in lower:
            hint = f"did you mean {lower[header.lower()]!r}? (headers are case-sensitive)"
        else:
            close = difflib.get_close_matches(header, list(first_at), n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
        hint = _delimiter_hint(header, list(first_at)) or hint
        errors.append(Finding(
            code="MISSING_COLUMN",
            message=f"the {kind.kind} file has no column {label_h}",
            file=label, line=line, field=canon, value=None, hint=hint,
        ))
    taken = set(canon_pos.values())
    carried: list[str] = []
    for i, name in enumerate(names):
        if i in taken or first_at.get(name) != i:
            continue
        if name in kind.columns:
            if name in kind.required and name not in canon_pos:
                continue  # already reported as MISSING_COLUMN (with a hint about the mapping)
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=(f"column {name!r} clashes with the {name} column, which [evidence.columns] "
                         f"maps to {wanted[name]!r}"),
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint=f"rename the column, or remove {name} from [evidence.columns]",
            ))
            continue
        if name in RESERVED or name.startswith(INTERNAL):
            errors.append(Finding(
                code="DUPLICATE_COLUMN",
                message=f"column {name!r} clashes with the {name!r} column sob adds to every row",
                file=label, line=line, col=i + 1, field=name, value=cut(name),
                hint="rename the column",
            ))
            continue
        carried.append(name)
    frame_names = list(names)
    for canon, pos in canon_pos.items():
        frame_names[pos] = canon
    shown = {frame_names[i]: names[i] for i in range(len(names))}
    resolved = Header(
        names=frame_names, canon_pos=canon_pos, carried=carried, shown=shown,
        ncols=len(names), nraw=nraw, line=line,
    )
    return (None if errors else resolved), errors
def no_header(kind: Kind, label: str) -> list[Finding]:
    return [
        Finding(code="MISSING_COLUMN", message=f"the {kind.kind} file is empty: it has no header row",
                file=label, line=1, field=c, value=None,
                hint="the first non-blank line must name the columns")
        for c in kind.required
    ]
