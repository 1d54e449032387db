"""Every command's ``--help`` says in one line what it is for and gives an example (issue 16).

The examples are checked against the command they illustrate: each one
starts with the command and uses only options it has, so an option renamed
later cannot leave a stale example in the help.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from sob.cli import app

ROOT = typer.main.get_command(app)


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, cmd in group.commands.items():
        out[f"{prefix}{name}"] = cmd
        if hasattr(cmd, "commands"):  # a group (typer's own class, whatever its click base)
            out.update(_commands(cmd, f"{prefix}{name} "))
    return out


COMMANDS = _commands(ROOT)


def _examples(cmd: Any) -> list[list[str]]:
    """The ``sob ...`` lines under ``Examples:`` in the command's epilog, as argument lists."""
    epilog = cmd.epilog or ""
    assert "Examples:" in epilog
    lines = [ln.strip() for ln in epilog.split("Examples:", 1)[1].splitlines()]
    return [shlex.split(ln.split(">")[0]) for ln in lines if ln.startswith("sob ")]


def test_the_commands_are_all_here():
    assert {"validate", "pay", "diff", "test", "explain", "report", "init", "schema", "ledger", "ledger verify",
            "ledger show"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_a_one_line_purpose_shown_whole_in_the_command_list(name):
    cmd = COMMANDS[name]
    purpose = (cmd.help or "").strip().splitlines()[0]
    assert purpose.endswith(".") and len(purpose.split()) >= 4, purpose
    # click cuts a purpose longer than its room in the parent's list with "...": 64 characters at 80 columns
    assert len(purpose) <= 64, purpose
    assert cmd.get_short_help_str(64) == purpose


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_gives_examples_that_use_the_commands_real_options(name):
    cmd = COMMANDS[name]
    examples = _examples(cmd)
    mine = [ex for ex in examples if ex[1: 1 + len(name.split())] == name.split()]
    assert mine, f"no example of `sob {name}` in {examples}"
    for ex in mine:
        target = COMMANDS[" ".join(ex[1:3])] if " ".join(ex[1:3]) in COMMANDS else COMMANDS[ex[1]]
        known = {opt for p in target.params for opt in p.opts}
        used = {tok.split("=")[0] for tok in ex if tok.startswith("--")}
        assert used <= known, f"{' '.join(ex)}: {sorted(used - known)} not options of sob {name}"


def test_help_is_printed_by_the_real_command_with_its_example():
    done = subprocess.run([sys.executable, "-m", "sob", "pay", "--help"], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "PYTHONPATH": ":".join(sys.path)})
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Preview a quarter's payments, or close it in the ledger." in text
    assert "Examples:" in text and "sob pay contract.toml --quarter 2025-Q1" in text
    assert max(len(line) for line in text.splitlines()) <= 80
