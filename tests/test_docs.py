"""Every command is documented in the README and has help text (sqlite-utils style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from sob.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=""):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


COMMANDS = dict(_commands(typer.main.get_command(app)))


def test_the_expected_commands_exist():
    assert {"validate", "pay", "test", "explain", "ledger verify", "ledger show", "init", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_documented_in_readme(name):
    assert re.search(rf"`sob {re.escape(name)}\b", README), f"`sob {name}` is not in README.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help(name):
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert COMMANDS[name].help and len(COMMANDS[name].help) > 20


def test_every_contract_error_code_is_documented():
    from sob.contract import CONTRACT_CODES

    for code in CONTRACT_CODES:
        assert f"`{code}`" in README, code


def test_every_reason_code_is_documented():
    from sob.payrun import reason_order

    for code in reason_order():
        assert f"`{code}`" in README, code


def test_docs_codes_md_is_what_the_catalogue_generates():
    """docs/codes.md is generated from sob/codes.py; regenerate it with `python -m sob.codes > docs/codes.md`."""
    from sob.codes import render_markdown

    path = Path(__file__).parent.parent / "docs" / "codes.md"
    assert path.read_text(encoding="utf-8") == render_markdown(), (
        "docs/codes.md is stale: run `python -m sob.codes > docs/codes.md`"
    )


def test_every_catalogue_code_has_its_section_in_docs_codes_md():
    from sob.codes import all_codes

    text = (Path(__file__).parent.parent / "docs" / "codes.md").read_text(encoding="utf-8")
    for c in all_codes():
        assert f"\n### {c.code}\n" in text, c.code
