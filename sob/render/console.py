"""The two Rich consoles of the command line, and how plain text goes through them.

Rendering never prints on its own: the CLI makes its consoles here and passes
them in.  Human output goes through Rich (tables, colour, progress) and follows
``NO_COLOR``, ``TERM=dumb`` and piping; machine formats (``--format json``,
``github``) are plain strings the CLI writes to ``sys.stdout`` itself, so no
escape code or wrapping can ever reach a parser.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from sob.money import format_minor

#: Symbols of common ISO 4217 currencies; any other currency is shown by its code.
CURRENCY_SYMBOLS = {
    "GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "AUD": "A$", "CAD": "CA$",
    "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "ZAR": "R", "KRW": "₩", "BRL": "R$", "MXN": "MX$",
    "ILS": "₪", "NGN": "₦", "PHP": "₱", "PLN": "zł", "TRY": "₺", "UAH": "₴", "VND": "₫", "THB": "฿",
}


def group_thousands(amount: str) -> str:
    """``-1234567.89`` → ``-1,234,567.89``: for people, never for machines."""
    sign = "-" if amount.startswith("-") else ""
    whole, dot, frac = amount.lstrip("+-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + dot + frac


def currency_prefix(currency: str) -> str:
    """``£`` for GBP; the code and a space (``SEK 12.00``) when no symbol is well known."""
    return CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def human_money(minor: int, minor_units: int, currency: str) -> str:
    """``-123456`` pence → ``-£1,234.56``: the one way a terminal shows an amount.

    Built from the same exact digits as the machine formats (no float ever
    touches them); only the grouping and the symbol are added, so a reader
    can still compare a terminal figure with the JSON or an export.
    """
    plain = group_thousands(format_minor(int(minor), minor_units))
    sign, digits = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    return f"{sign}{currency_prefix(currency)}{digits}"


#: The width of ``--wide`` output: tables take their natural width and are never shrunk.
WIDE = 10_000


def make_consoles(no_color: bool = False, wide: bool = False) -> tuple[Console, Console]:
    """``(stdout, stderr)`` consoles for human output.

    Colour is dropped when ``no_color`` is set, when ``NO_COLOR`` is set in
    the environment (Rich reads it when ``no_color`` is left to ``None``) and
    when the stream is not a terminal (Rich picks no colour system then).
    Automatic highlighting is off: amounts and ids must not change colour
    because a regular expression happened to match them.  ``wide`` lifts the
    width limit of standard output (``--wide``), for a reader who would rather
    scroll sideways than see a column folded.
    """
    flag = True if no_color else None
    stdout = Console(no_color=flag, highlight=False, width=WIDE if wide else None)
    stderr = Console(stderr=True, no_color=flag, highlight=False)
    return stdout, stderr


def progress_enabled(console: Console) -> bool:
    """Whether a live progress display may be drawn on ``console``.

    Only on a real, interactive, non-dumb terminal that is not quiet: a
    progress bar redrawn into a pipe or a CI log is noise, and under
    ``TTY_INTERACTIVE=1`` without a terminal it would write cursor codes
    into a file.
    """
    return bool(
        console.is_terminal
        and not console.is_dumb_terminal
        and console.is_interactive
        and not console.quiet
    )


def print_plain(console: Console, text: str) -> None:
    """Write already formatted text (findings, summaries) through ``console`` verbatim.

    Markup, emoji codes and highlighting are off so a ``[bold]`` or ``:x:``
    inside an evidence value is shown as written, and soft wrapping keeps
    ``FILE:LINE:COL`` lines whole for editors that parse them.
    """
    if not text:
        return
    console.print(
        text.removesuffix("\n"),
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )


def colour_enabled(console: Console) -> bool:
    """Whether ``console`` may carry colour: a terminal with colours, and neither ``--no-color`` nor ``NO_COLOR``.

    Piped output stays byte for byte what the formatter made, so editors,
    ``grep`` and CI logs never see an escape code.
    """
    return bool(console.is_terminal and console.color_system is not None and not console.no_color)


_HEADER = re.compile(r"(?P<loc>\S[^\n]*?: )(?P<warn>warning )?(?P<code>[A-Z][A-Z0-9_]*)(?P<rest>.*)")
_CARET = re.compile(r"(?P<gutter>\s+\d*\s*\| *)(?P<caret>\^+)$")


def styled_findings(text: str) -> Text:
    """The text format of findings with errors in red, warnings in yellow and hints dimmed.

    Only styles are added: the characters are exactly those of
    :func:`sob.render.findings.format_text`, so a coloured run reads the same
    as a piped one.
    """
    out = Text()
    for line in text.splitlines(keepends=True):
        body, end = line.rstrip("\n"), line[len(line.rstrip("\n")):]
        header = _HEADER.fullmatch(body) if body and not body[0].isspace() else None
        caret = _CARET.fullmatch(body)
        if header:
            colour = "yellow" if header["warn"] else "red"
            out.append(header["loc"], style="bold")
            out.append((header["warn"] or "") + header["code"], style=f"bold {colour}")
            out.append(header["rest"])
        elif caret:
            out.append(caret["gutter"], style="dim")
            out.append(caret["caret"], style="bold red")
        elif body.startswith("  hint: "):
            out.append("  hint: ", style="cyan")
            out.append(body[len("  hint: "):])
        else:
            out.append(body)
        out.append(end)
    return out


def styled_summary(line: str) -> Text:
    """The ``3 errors, 1 warning in 2 files`` line with its counts coloured."""
    text = Text(line)
    text.highlight_regex(r"\b[0-9]+ errors?\b", "bold red")
    text.highlight_regex(r"\b[0-9]+ warnings?\b", "bold yellow")
    text.highlight_regex(r"^no problems found\b", "bold green")
    return text


def write_findings(console: Console, text: str, stream: TextIO) -> None:
    """Findings text to ``stream``: coloured through ``console`` on a colour terminal, else verbatim."""
    if not text:
        return
    if colour_enabled(console):
        console.print(styled_findings(text.removesuffix("\n")), soft_wrap=True, highlight=False)
    else:
        stream.write(text)


#: Column kinds of a :class:`FitTable`, in the order they give way when a table is too wide.
SHRINK_ORDER = ("text", "id")
#: How narrow a column of each kind may get: names still read at 10; ids show their start.
_FLOOR = {"text": 10, "id": 8}


class FitTable(Table):
    """A table that fits the width it is given by column priority, decided when it is drawn.

    Rich alone, when a table is too wide, shrinks the wrappable columns and
    then cuts *every* column evenly, amounts included.  Here each column has
    a kind: ``num`` (amounts and counts) never gives way; ``text`` (names,
    paths, notes) folds first, the widest first; ``id`` (codes and ids) is
    kept on one line and cut with an ellipsis only when text alone cannot
    make room.  Under ``--wide`` the console is wide enough for every natural
    width and nothing is touched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: list[str] = []

    def add_kind_column(self, header: str, kind: str, **kwargs: Any) -> None:
        """``add_column`` with the column's kind (``num``, ``label``, ``id`` or ``text``)."""
        self.kinds.append(kind)
        self.add_column(header, **kwargs)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self._fit(console, options)
        yield from super().__rich_console__(console, options)

    def _fit(self, console: Console, options: ConsoleOptions) -> None:
        """Set explicit widths on the columns that must give way, and on nothing else."""
        for column in self.columns:
            column.width = None
        wide = options.update(width=WIDE, max_width=WIDE)
        excess = Measurement.get(console, wide, self).maximum - options.max_width
        if excess <= 0:
            return
        natural = [self._natural(console, wide, column) for column in self.columns]
        widths = list(natural)
        for kind in SHRINK_ORDER:
            cols = [i for i, k in enumerate(self.kinds) if k == kind]
            while excess > 0:
                room = [i for i in cols if widths[i] > min(_FLOOR[kind], natural[i])]
                if not room:
                    break
                widest = max(room, key=lambda i: widths[i])
                widths[widest] -= 1
                excess -= 1
        for column, width, size in zip(self.columns, widths, natural):
            if width < size:
                column.width = width

    @staticmethod
    def _natural(console: Console, options: ConsoleOptions, column: Column) -> int:
        """The widest cell, header or footer of ``column``, without padding."""
        cells: list[RenderableType] = [column.header, column.footer, *column.cells]
        return max((Measurement.get(console, options, cell).maximum for cell in cells if cell != ""), default=1)
