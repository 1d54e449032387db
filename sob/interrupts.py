"""SIGINT and SIGTERM: one exception for both, and sections a signal must not cut.

``timeout``, CI cancellation, ``docker stop`` and systemd send SIGTERM; a
person at a terminal sends SIGINT.  Both must clean up the same way, so
:func:`install` makes both raise :class:`Interrupted` (a ``KeyboardInterrupt``,
so code that already handles Ctrl-C handles SIGTERM too).

Inside :func:`shielded` a signal is remembered instead of raised, and raised
when the outermost shielded section ends.  Two kinds of code need that: a
cleanup (removing a temporary file must not itself be cut short by a second
signal) and a commit (the two renames of a ledger close and the move of its
export into place must either all happen, with the run then reporting the
quarter as closed, or none).

:func:`pause_at` is a test hook only: with ``SOB_TEST_PAUSE_AT=stage`` in the
environment (several: separated by commas) the run stops at that named stage,
announces it on standard error and waits (at most a minute, or until a
shielded signal arrives), so a test can send a signal at an exact point
instead of after a guessed delay.  The stages: ``startup`` (the command line
is about to parse), ``temp-created`` (a temporary file of an atomic write
exists, nothing written yet), ``cleanup`` (a temporary file is being
removed), ``table-written`` (a close wrote Q.csv, not yet its manifest) and
``closed`` (the manifest is written; the export not yet moved into place).
Unset (always, outside tests) it costs one dictionary lookup.

This module imports nothing heavy, and when the process is the ``sob``
program (``sob ...`` or ``python -m sob ...``) importing it installs the
handlers: the command line imports it before anything else, so a Ctrl-C
during start-up ends the run quietly instead of with a traceback.  A library
or a test importing ``sob`` keeps its own handlers.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Signals handled; the exit code is 128 + the signal number (130, 143).
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
PAUSE_ENV = "SOB_TEST_PAUSE_AT"
_PAUSE_SECONDS = 60.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``note`` says what had been committed by then."""

    def __init__(self, signum: int, note: str | None = None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.note = note

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report a process killed by it."""
        return 128 + self.signum

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name


class _State:
    """Handler mode and the shield's bookkeeping (one per process)."""

    depth = 0
    pending: int | None = None
    #: before the command runs there is nothing to clean up: exit at once
    exit_now = True
    #: what this run has committed (a closed quarter); never reset: a later
    #: signal must still report it
    note: str | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    """Raise :class:`Interrupted`, or remember the signal while shielded."""
    if _State.exit_now:
        note = f" after {_State.note}" if _State.note else ""
        os.write(2, f"sob: interrupted ({signal.Signals(signum).name}){note}\n".encode())
        os._exit(128 + signum)
    if _State.depth:
        if _State.pending is None:
            _State.pending = signum
        return
    raise Interrupted(signum, _State.note)


def install() -> None:
    """Handle SIGINT and SIGTERM alike; until :func:`arm` a signal just ends the process."""
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def arm(armed: bool = True) -> None:
    """From now on a signal raises :class:`Interrupted` (``False``: exit at once again)."""
    _State.exit_now = not armed


@contextmanager
def shielded() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the outermost section ends, then raise it.

    The raised :class:`Interrupted` carries the note of :func:`set_note`.
    """
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if _State.depth == 0 and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Interrupted(signum, _State.note)


def set_note(note: str) -> None:
    """Record what this run has committed (call it inside the shielded commit)."""
    _State.note = note


def committed() -> str | None:
    """What this run has committed so far, as recorded by :func:`set_note`."""
    return _State.note


def pause_at(stage: str) -> None:
    """Test hook: wait here when ``SOB_TEST_PAUSE_AT`` names ``stage`` (see the module docstring)."""
    if stage not in os.environ.get(PAUSE_ENV, "").split(","):
        return
    sys.stderr.write(f"sob: test pause at {stage}\n")
    sys.stderr.flush()
    deadline = time.monotonic() + _PAUSE_SECONDS
    while time.monotonic() < deadline and _State.pending is None:
        time.sleep(0.02)  # an unshielded signal raises out of this sleep


def _started_as_sob() -> bool:
    """Whether this process is the ``sob`` program (not a test or a library importing the CLI)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "sob.__main__" or os.path.basename(sys.argv[0] if sys.argv else "") == "sob"


if _started_as_sob():
    install()

__all__ = ["PAUSE_ENV", "SIGNALS", "Interrupted", "arm", "committed", "install", "pause_at", "set_note", "shielded"]
