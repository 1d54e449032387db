"""sob: exact, reviewable payment runs for social outcomes contracts.

The package is a library first: every module below ``sob`` except ``cli`` and
``render`` is free of Typer and Rich and never prints, so the same functions
serve the command line, tests and other programs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sob")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
