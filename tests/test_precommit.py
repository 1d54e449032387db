"""The pre-commit hook definitions point at real commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_hooks_file_names_sob_commands():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)", text, re.M)
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    assert "sob-validate" in ids
    assert entries and all(e.startswith("sob ") for e in entries)
    assert "sob-validate" in (ROOT / "README.md").read_text()
