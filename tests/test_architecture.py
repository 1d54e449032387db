"""The house: the core stays a library, and imports run one way (files -> contract
and evidence -> assessment -> payments -> outputs -> command line).

Every module of ``sob/`` is on one floor of :data:`FLOORS`; a module may import
only modules on its own floor or below.  A new module must be given a floor
here, so a newcomer sees where it belongs and an upward import fails CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOB = Path(__file__).parent.parent / "sob"

#: floor of each module or package (the longest matching prefix wins)
FLOORS: dict[str, int] = {
    # plain data and small exact helpers: no sob imports but each other
    "sob": 0, "sob.codes": 0, "sob.columns": 0, "sob.money": 0, "sob.quarters": 0, "sob.idkeys": 0,
    "sob.interrupts": 0, "sob.textcodecs": 0, "sob.contract.paths": 0, "sob.contract.toml_locate": 0,
    "sob.contract.changed": 2,
    "sob.findings": 1,
    # the typed contract (model, format, converters, checks, loading)
    "sob.contract": 2, "sob.contract.adjustments": 2,
    # the evidence files, typed into polars frames
    "sob.evidence": 3,
    # assessment, prices, caps, the split and the quarter close (SPEC 5 and 6)
    "sob.rules": 4, "sob.pricing": 4, "sob.caps": 4, "sob.payers": 4, "sob.assessment": 4, "sob.payrun": 4,
    # what is made of a pay run: worked examples, explain, exports, the ledger, the schema
    "sob.contract.examples": 5, "sob.contract.starter": 5, "sob.explain": 5, "sob.export": 5, "sob.ledger": 5,
    "sob.schema": 5, "sob.opening": 5, "sob.lifecycle": 5,
    # what people read: the finance pack, the payment statement, the contract report from the ledger
    "sob.pack": 5, "sob.statement": 5, "sob.report": 5,
    # each command as a plain function over files
    "sob.workflows": 6, "sob.diff": 6,
    # open data and the funder's view across contracts, from ledgers
    "sob.publish": 5, "sob.publish.run": 6, "sob.portfolio": 6, "sob.portfolio_page": 5,
    # the user interface: Rich views and the command line
    "sob.render": 7,
    "sob.cli": 8, "sob.__main__": 9,
}
UI_MODULES = ("sob.cli", "sob.__main__", "sob.render")


def _name(path: Path) -> str:
    parts = list(path.relative_to(SOB.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _floor(module: str) -> int:
    best = max((k for k in FLOORS if module == k or module.startswith(k + ".")), key=len, default=None)
    assert best is not None, f"{module} has no floor in tests/test_architecture.py FLOORS"
    return FLOORS[best]


def _sob_imports(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "sob":
            if node.module == "sob":
                found += [(f"sob.{a.name}", node.lineno) for a in node.names if a.name != "__version__"]
            else:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "sob"]
    return found


MODULES = sorted(SOB.rglob("*.py"))
CORE = [p for p in MODULES if not _name(p).startswith(UI_MODULES)]


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.relative_to(SOB).as_posix())
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
            assert not name.startswith(UI_MODULES), f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name} calls print() at line {node.lineno}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SOB).as_posix())
def test_imports_run_one_way(path):
    here = _name(path)
    floor = _floor(here)
    for target, line in _sob_imports(ast.parse(path.read_text(encoding="utf-8"))):
        assert _floor(target) <= floor, (
            f"{path.relative_to(SOB.parent)}:{line}: {here} (floor {floor}) imports {target} (floor {_floor(target)})"
        )


def test_an_upward_import_is_caught():
    tree = ast.parse("from sob.payrun import pay_quarter\nimport sob.cli\nfrom sob import ledger")
    assert [(t, _floor(t)) for t, _ in _sob_imports(tree)] == [("sob.payrun", 4), ("sob.cli", 8), ("sob.ledger", 5)]
    assert _floor("sob.contract.sections") == 2 and _floor("sob.contract.examples") == 5


def test_there_is_a_core_to_check():
    names = {_name(p) for p in CORE}
    assert {"sob.contract.model", "sob.rules", "sob.caps", "sob.evidence.assemble", "sob.ledger", "sob.codes"} <= names
    assert not {"sob.cli", "sob.render.pay"} & names
