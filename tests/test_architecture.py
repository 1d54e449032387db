"""The core stays a library: no Typer, no Rich, no printing outside cli.py and render/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOB = Path(__file__).parent.parent / "sob"
CORE = sorted(p for p in [*SOB.glob("*.py"), *SOB.glob("evidence/*.py")] if p.name not in {"cli.py", "__main__.py"})


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(SOB)))
def test_core_module_imports_no_ui_and_never_prints(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in {"typer", "rich", "click"}, f"{path.name} imports {name}"
            assert not name.startswith("sob.render") and name != "sob.cli", f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name} calls print() at line {node.lineno}"


def test_there_is_a_core_to_check():
    assert {"contract.py", "rules.py", "caps.py", "evidence/assemble.py", "ledger.py"} <= {str(p.relative_to(SOB)) for p in CORE}
