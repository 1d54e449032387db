"""Confinement of the files a contract names (SPEC 3.2): they stay inside the contract's folder.

A contract and its evidence can come from a pull request, and git stores
symbolic links, so the text of an ``[evidence]`` path is not enough: a link
inside the folder can lead anywhere.  :func:`confine` resolves the path on
disk, before anything is opened, and accepts it only when it is a regular
file inside the contract file's own resolved folder.  What it returns is the
path with every link resolved, so that what is opened later is what was
checked.  Nothing here reads a file's content, and no message names where a
link leads.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def contract_folder(path: Path) -> Path:
    """The folder a contract's paths are relative to: that of the file itself, links resolved.

    A contract reached through a link is judged from where the file really
    is, so a link to a contract cannot lend it another folder's files.
    """
    return Path(os.path.realpath(path)).parent


def confine(folder: Path, text: str) -> tuple[str | None, str]:
    """Why ``text`` (relative to the resolved ``folder``) is unsafe, and the path to keep.

    Returns ``(None, resolved relative path)`` for a regular file inside the
    folder, ``(None, text)`` for a path that does not exist and involves no
    link (reported later, as a missing file, like any missing file), and
    ``(reason, text)`` otherwise.
    """
    given = folder / text
    try:
        real = Path(os.path.realpath(given))
    except (OSError, ValueError):
        return "cannot be resolved to a file", text
    if not real.is_relative_to(folder):
        return "leads outside the contract's folder (through a symbolic link)", text
    try:
        info = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.lexists(given):
            return "is a symbolic link to nothing", text
        return None, text
    except OSError:
        return "cannot be resolved to a file (a loop of links, or a name too long)", text
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a folder, a device or a pipe)", text
    return None, real.relative_to(folder).as_posix()
