"""The two Rich consoles of the command line, and how plain text goes through them.

Rendering never prints on its own: the CLI makes its consoles here and passes
them in.  Human output goes through Rich (tables, colour, progress) and follows
``NO_COLOR``, ``TERM=dumb`` and piping; machine formats (``--format json``,
``github``) are plain strings the CLI writes to ``sys.stdout`` itself, so no
escape code or wrapping can ever reach a parser.
"""

from __future__ import annotations

from rich.console import Console


def make_consoles(no_color: bool = False) -> tuple[Console, Console]:
    """``(stdout, stderr)`` consoles for human output.

    Colour is dropped when ``no_color`` is set, when ``NO_COLOR`` is set in
    the environment (Rich reads it when ``no_color`` is left to ``None``) and
    when the stream is not a terminal (Rich picks no colour system then).
    Automatic highlighting is off: amounts and ids must not change colour
    because a regular expression happened to match them.
    """
    flag = True if no_color else None
    stdout = Console(no_color=flag, highlight=False)
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
