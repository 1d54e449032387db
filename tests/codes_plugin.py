"""Optional pytest plugin: which catalogue codes did the test session emit as findings?

Run the suite with it to see the error and warning codes of ``sob/codes.py``
that no test made ``sob`` construct in-process::

    PYTHONPATH=$PWD python -m pytest -p tests.codes_plugin

It wraps ``Finding.__init__`` for the session (production code is not
touched) and, with pytest-xdist, gathers the codes of every worker.  Commands
that tests run as subprocesses are not seen, and reasons are not findings: the
golden cases of ``tests/test_codes.py`` cover every code either way, so this
report informs and never fails the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sob.findings import Finding

SEEN: set[str] = set()
_ORIGINAL: list[Callable[..., None]] = []


def install() -> None:
    """Record the code of every Finding built from now on (idempotent)."""
    if _ORIGINAL:
        return
    original = Finding.__init__
    _ORIGINAL.append(original)

    def recording_init(self: Finding, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        SEEN.add(self.code)

    Finding.__init__ = recording_init  # type: ignore[method-assign]


def uninstall() -> None:
    """Put the original ``Finding.__init__`` back."""
    if _ORIGINAL:
        Finding.__init__ = _ORIGINAL.pop()  # type: ignore[method-assign]


def never_emitted(seen: set[str]) -> list[str]:
    """Catalogue error and warning codes not in ``seen``, in catalogue order."""
    from sob.codes import all_codes

    return [c.code for c in all_codes() if c.level != "reason" and c.code not in seen]


def pytest_configure(config: pytest.Config) -> None:
    install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its codes to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["sob_codes"] = sorted(SEEN)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller merges each worker's codes (a pytest-xdist hook)."""
    SEEN.update(getattr(node, "workeroutput", {}).get("sob_codes", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if getattr(terminalreporter.config, "workerinput", None) is not None:
        return
    missing = never_emitted(SEEN)
    terminalreporter.write_sep("-", "sob codes")
    terminalreporter.write_line(f"{len(SEEN)} finding codes emitted in-process")
    if missing:
        terminalreporter.write_line("catalogue codes no test emitted in-process: " + ", ".join(missing))
