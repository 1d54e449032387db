"""How contract problems are reported: findings located at a key, named as a user names them.

A :class:`Reporter` turns ``(code, key path, message)`` into a
:class:`~sob.findings.Finding` with the file, the line and column of the key
(from :mod:`sob.contract.toml_locate`, built only once a finding needs it)
and the value shown safely.  Every check and converter reports through one,
and the list of findings it collects is the only thing they share.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sob.contract.toml_locate import KeyPath, TomlIndex, build_index, format_key_path
from sob.findings import Finding, cut

_MISSING = object()


def show(value: object) -> str:
    """A value as it may appear in a message: TOML-ish, cut to 80, no control characters."""
    if isinstance(value, str):
        text = f'"{cut(value, 78)}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "an array"
    else:
        text = cut(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quoted(text: str) -> str:
    """A name or key in single quotes, cut and with control characters escaped."""
    return "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut(text, 60)) + "'"


def type_name(value: object) -> str:
    """The TOML type of a parsed value, as a user would name it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """difflib's closest choice as a hint, if any is close enough."""
    if not isinstance(word, str) or len(word) > 100:  # difflib is quadratic-ish on huge keys
        return None
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        folded = {c.casefold(): c for c in options}
        close = [folded[word.casefold()]] if word.casefold() in folded else []
    return f"did you mean '{close[0]}'?" if close else None


def owner_names(data: Mapping[str, Any]) -> dict[KeyPath, str]:
    """How messages name each payer, outcome and example: by its id or name, not its index.

    Taken from the parsed file before any check runs, so that every message
    names its owner the same way whatever order the sections are checked in.
    """
    names: dict[KeyPath, str] = {}
    for section, key, label in (("payers", "id", "payer"), ("outcomes", "id", "outcome"), ("examples", "name", "example"),
                                 ("adjustments", "id", "adjustment")):
        items = data.get(section)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                names[(section, i)] = f"{label} {quoted(item[key])}"
    return names


@dataclass
class _Sink:
    """The findings of one file and the key index they are located with (shared by reporters)."""

    text: str
    file: str
    findings: list[Finding] = field(default_factory=list)
    index: TomlIndex | None = None


class Reporter:
    """Records findings for one contract file, located at the key they are about."""

    def __init__(self, text: str, file: str, names: Mapping[KeyPath, str] | None = None,
                 *, code: str | None = None, _sink: _Sink | None = None) -> None:
        self._sink = _sink if _sink is not None else _Sink(text, file)
        self.names: Mapping[KeyPath, str] = names or {}
        self._code = code

    @property
    def findings(self) -> list[Finding]:
        """Every finding recorded so far, in the order found."""
        return self._sink.findings

    @property
    def text(self) -> str:
        return self._sink.text

    @property
    def index(self) -> TomlIndex:
        """Key positions, built only when a finding or an example needs a line."""
        if self._sink.index is None:
            self._sink.index = build_index(self._sink.text)
        return self._sink.index

    def named(self, names: Mapping[KeyPath, str]) -> Reporter:
        """The same findings, with messages naming owners after ``names``."""
        return Reporter("", "", names, code=self._code, _sink=self._sink)

    def as_code(self, code: str) -> Reporter:
        """The same findings, every one reported under ``code`` (worked examples: BAD_EXAMPLE)."""
        return Reporter("", "", self.names, code=code, _sink=self._sink)

    def mark(self) -> int:
        """A mark to ask later whether anything was reported since (see :meth:`clean_since`)."""
        return len(self._sink.findings)

    def clean_since(self, mark: int) -> bool:
        """No error was reported since ``mark`` (a warning leaves the value usable)."""
        return all(f.severity != "error" for f in self._sink.findings[mark:])

    def error(
        self,
        code: str,
        path: KeyPath,
        message: str,
        *,
        hint: str | None = None,
        value: object = _MISSING,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        """Record one finding, located at ``path`` (or its nearest written ancestor)."""
        if self._code is not None:
            code = self._code
        if line is None:
            found = self.index.nearest(path)
            line, col = found[1] if found else (1, 1)
        self._sink.findings.append(
            Finding(
                code=code,
                message=message,
                file=self._sink.file,
                line=line,
                col=col,
                field=cut(format_key_path(path), 200) or None,
                value=None if value is _MISSING else show(value),
                hint=hint,
            )
        )

    def warn(self, code: str, path: KeyPath, message: str, *, hint: str | None = None, value: object = _MISSING) -> None:
        """Record a warning at ``path``: the contract stays valid, but a reader should look (``--strict`` fails)."""
        self.error(code, path, message, hint=hint, value=value)
        last = self._sink.findings[-1]
        self._sink.findings[-1] = replace(last, severity="warning")

    def subject(self, path: KeyPath) -> str:
        """How a message names a key: ``outcome 'ACC_3M' window_days``.

        Keys under an outcome, payer or example are named after its id (or
        name) rather than its index, which users do not count.
        """
        owner = path[:2]
        if len(path) >= 2 and owner in self.names:
            return f"{self.names[owner]} {format_key_path(path[2:])}".rstrip()
        return format_key_path(path) or "the file"

    def wrong_type(self, value: object, path: KeyPath, expected: str, hint: str | None = None) -> None:
        """WRONG_TYPE: ``value`` is not of the TOML type the key takes."""
        self.error(
            "WRONG_TYPE",
            path,
            f"{self.subject(path)} must be {expected}, not {type_name(value)}",
            value=value,
            hint=hint,
        )

    def unknown_key(self, key: str, path: KeyPath, allowed: Iterable[str]) -> None:
        """UNKNOWN_KEY with the closest allowed key as a hint."""
        where = self.subject(path[:-1])
        self.error(
            "UNKNOWN_KEY",
            path,
            f"unknown key {quoted(key)} in {where}" if len(path) > 1 else f"unknown top-level key {quoted(key)}",
            hint=did_you_mean(key, allowed),
        )

    def missing(self, path: KeyPath, key: str, why: str = "") -> None:
        """MISSING_KEY: ``key`` is required in the table at ``path``."""
        where = self.subject(path)
        self.error(
            "MISSING_KEY",
            (*path, key),
            f"{where} has no '{key}'{why}" if path else f"the required key '{key}' is missing{why}",
        )
