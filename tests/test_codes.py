"""The code catalogue (sob/codes.py) against the code and the real command line.

Three nets, so that no code is emitted without an entry and no entry is kept
for a code nothing emits:

* statically, every code literal in ``sob/`` (found by walking the AST of the
  calls that build findings and reasons) is in the catalogue, and every
  catalogue code is such a literal;
* every catalogue code has a golden case: tiny real files written to
  ``tmp_path`` and the real ``sob`` command (``validate``, ``pay``,
  ``ledger verify``) run in-process, whose output must name the code (and,
  for a finding, its file, line and column);
* a test fails when a catalogue code has no golden case.
"""

from __future__ import annotations

import ast
import copy
import csv
import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from sob import codes
from sob.cli import app

SOB = Path(__file__).parent.parent / "sob"
DOCS = Path(__file__).parent.parent / "docs" / "codes.md"

# --------------------------------------------------------------------------
# the catalogue itself


def test_codes_are_unique_and_well_formed():
    seen = [c.code for c in codes.all_codes()]
    assert len(seen) == len(set(seen))
    for c in codes.all_codes():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", c.code), c.code
        assert c.level in codes.LEVELS and c.area in codes.AREAS and set(c.also) <= set(codes.AREAS) - {c.area}, c
        assert re.fullmatch(r"\d+(\.\d+)?(, \d+(\.\d+)?)*", c.spec), c
        assert c.meaning and c.why and c.fix, c
        assert (c.status is not None) == (c.level == "reason"), c


def test_lookups():
    assert codes.get("VOLUME_CAP") is not None and codes.get("VOLUME_CAP").status == "capped"
    assert codes.get("NO_SUCH_CODE") is None
    assert codes.fix_hint("NO_SUCH_CODE") is None and codes.meaning("NO_SUCH_CODE") is None
    assert {c.code for c in codes.by_level("warning")} == {"DUPLICATE_ROW", "LEDGER_INCOMPLETE", "CAP_LOWERED",
                                                           "BAD_AMOUNT_CLAIMED"}
    assert sum(len(codes.by_level(level)) for level in codes.LEVELS) == len(codes.all_codes())
    assert {c.code for c in codes.by_area("ledger")} >= {"LEDGER_CHANGED", "LEDGER_CHAIN_BROKEN"}
    with pytest.raises(ValueError, match="unknown level"):
        codes.by_level("fatal")
    with pytest.raises(ValueError, match="unknown area"):
        codes.by_area("nowhere")


def test_the_reasons_are_the_engines_reasons():
    from sob.payrun import reason_order

    assert [c.code for c in codes.by_level("reason")] == reason_order()


def test_the_catalogue_imports_no_dataframe_or_ui_library():
    tree = ast.parse((SOB / "codes.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"polars", "typer", "rich"}


def test_the_markdown_has_one_section_per_code():
    text = codes.render_markdown()
    for c in codes.all_codes():
        assert text.count(f"\n### {c.code}\n") == 1, c.code
        assert f"**Fix**: {c.fix}" in text
    assert "DUPLICATE_ID" in {c.code for c in codes.by_area("evidence")}  # listed in both areas, one section


def test_python_m_sob_codes_prints_the_markdown(capsys):
    codes.main()
    assert capsys.readouterr().out == codes.render_markdown()


# --------------------------------------------------------------------------
# (a) static: every code literal emitted in sob/ is catalogued, and back

# Calls whose argument is a code: name -> (positional index, keyword).
_CODE_ARGS: dict[str, tuple[int, str | None]] = {
    "Finding": (0, "code"),       # sob.findings.Finding
    "_finding": (0, "code"),      # ledger verification findings
    "error": (0, "code"),         # contract checks: self.error(CODE, path, message)
    "reporting_as": (0, None),    # contract checks: worked-example problems under one code
    "_Check": (0, None),          # evidence row checks
    "Check": (0, None),           # evidence row checks (sob.evidence.cells.Check)
    "_dup_findings": (2, None),   # evidence duplicate ids
    "_finalise": (3, None),       # evidence: the code of a duplicated id's rejected row
    "reason_code": (0, None),     # assessment reasons
    "_reject": (2, None),         # assessment reasons set by rank
    "Step": (0, None),            # sob explain's rule steps
    "warn": (0, None),            # contract warnings: r.warn(CODE, path, message)
}
# Module-level tables of codes.
_CODE_TABLES = {"CLAIM_RULES", "RESULT_RULES", "CAP_REASONS", "AFTER_RULE_8", "_PRIORITY", "CONTRACT_CODES"}
# Names a code is assigned to before use (caps: ``code = "PARTICIPANT_CAP"``).
_CODE_NAMES = {"code", "reason"}
_SHAPE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
# Upper-case literals in sob/ that are not codes.
_NOT_CODES = {
    "ENTRY", "SUSTAIN_3M", "PAYER",  # the starter contract's outcome and payer ids
    "PRICE",                         # sob explain's price step, after the rules
    "PASS", "FAIL",                  # sob test's result marks
    "O_CLOEXEC", "O_NOFOLLOW", "O_NONBLOCK",       # os flag names looked up with getattr (absent on some systems)
    "SOURCE_DATE_EPOCH", "SOB_TEST_PAUSE_AT",  # environment variable names
    "TOTAL", "ADJUSTMENTS", "SHA256SUMS", "PUBLIC",  # sob publish: row labels, the hashes file, INDIGO's status
}


def _code_strings(node: ast.AST) -> Iterator[str]:
    """Code-shaped string constants in an expression (through conditionals and tuples)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _SHAPE.fullmatch(sub.value):
            yield sub.value


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _emitted(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """``(code, line)`` of every code literal the module passes where a code goes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _CODE_ARGS:
                pos, kw = _CODE_ARGS[name]
                args = node.args[pos : pos + 1] + [k.value for k in node.keywords if kw and k.arg == kw]
                for arg in args:
                    yield from ((c, node.lineno) for c in _code_strings(arg))
            elif name == "lit":  # pl.lit("MISSING_FROM_EVIDENCE"): a reason written into the frame
                for arg in node.args[:1]:
                    yield from ((c, node.lineno) for c in _code_strings(arg))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if node.value is not None and names & (_CODE_TABLES | _CODE_NAMES):
                value = node.value
                if isinstance(value, ast.Dict):  # CONTRACT_CODES: the keys are codes
                    keys = [k for k in value.keys if k is not None]
                    yield from ((c, node.lineno) for k in keys for c in _code_strings(k))
                else:
                    yield from ((c, node.lineno) for c in _code_strings(value))
        elif isinstance(node, ast.Tuple) and len(node.elts) >= 2:
            # rule tables: ("LATE_CLAIM", <condition>) pairs, and (order, reason, amount) verdicts
            head, second = node.elts[0], node.elts[1]
            if isinstance(head, ast.Constant) and not isinstance(second, ast.Constant):
                yield from ((c, node.lineno) for c in _code_strings(head))
            if isinstance(second, ast.IfExp):
                yield from ((c, node.lineno) for c in _code_strings(second))


def _modules() -> list[Path]:
    return sorted(SOB.rglob("*.py"))


def _static_codes() -> dict[str, list[str]]:
    """code -> ``file:line`` places where sob/ emits it."""
    found: dict[str, list[str]] = {}
    for path in _modules():
        if path.name == "codes.py":
            continue  # the catalogue itself emits nothing
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for code, line in _emitted(tree):
            if code in _NOT_CODES:
                continue
            found.setdefault(code, []).append(f"{path.relative_to(SOB.parent)}:{line}")
    return found


def _all_shaped_literals() -> dict[str, list[str]]:
    """Every upper-case literal in sob/ outside docstrings and ``__all__``: the net behind the net."""
    found: dict[str, list[str]] = {}
    for path in _modules():
        if path.name == "codes.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    skip.add(id(first.value))
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                skip |= {id(n) for n in ast.walk(node.value)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and len(node.value) >= 4 and _SHAPE.fullmatch(node.value)):
                found.setdefault(node.value, []).append(f"{path.relative_to(SOB.parent)}:{node.lineno}")
    return found


def test_every_emitted_code_is_in_the_catalogue():
    missing = {c: where for c, where in _static_codes().items() if codes.get(c) is None}
    assert not missing, f"codes emitted but not in sob/codes.py: {missing}"


def test_every_catalogue_code_is_emitted_somewhere():
    emitted = _static_codes()
    dead = [c.code for c in codes.all_codes() if c.code not in emitted]
    assert not dead, f"catalogue codes nothing in sob/ emits: {dead}"


def test_no_upper_case_literal_escapes_the_catalogue():
    """A code passed through a helper the walker does not know still has to be catalogued."""
    strays = {
        c: where for c, where in _all_shaped_literals().items()
        if codes.get(c) is None and c not in _NOT_CODES
    }
    assert not strays, f"upper-case literals that are neither codes nor known non-codes: {strays}"


def test_the_static_walker_sees_each_kind_of_emitter():
    """The walker must find codes from each emitting module, or the tests above prove nothing."""
    found = _static_codes()
    for code, module in (("TOML_SYNTAX", "contract/"), ("BAD_DATE", "evidence"), ("LEDGER_CHANGED", "ledger"),
                         ("EXAMPLE_FAILED", "workflows"), ("CONTRACT_CAP", "caps"), ("PREREQUISITE_MISSING", "rules"),
                         ("BELOW_THRESHOLD", "assessment"), ("MISSING_FROM_EVIDENCE", "payrun")):
        assert any(module in place for place in found.get(code, [])), (code, found.get(code))


def test_the_walker_reports_an_uncatalogued_code():
    tree = ast.parse('Finding("BRAND_NEW_CODE", "m")\nself.error(code="OTHER_NEW", path=())\n_reject(c, p, "THIRD_NEW")')
    assert {c for c, _ in _emitted(tree)} == {"BRAND_NEW_CODE", "OTHER_NEW", "THIRD_NEW"}


# --------------------------------------------------------------------------
# (b) golden cases: real files, the real command, the code in the output

_DROP = object()
_BASE: dict[str, Any] = {
    "schema": "sob/1",
    "contract": {"id": "t", "currency": "GBP", "start": date(2020, 1, 1), "outcomes_end": date(2022, 12, 31),
                 "claims_end": date(2023, 3, 31)},
    "payers": [{"id": "LA", "share": 1}],
    "outcomes": [{"id": "P", "price": 100}],
}
#: an agreed payment of the base contract's period (SPEC 10.6)
_ADJUSTMENT: dict[str, Any] = {"id": "a1", "on": date(2020, 2, 15), "amount": 50, "reason": "payment on profile"}
_HEADERS = {
    "claims": "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status",
    "participants": "participant_id,enrolled_on,eligible,cohort",
    "results": "result_id,outcome_id,cohort,achieved_on,submitted_on,baseline,observed,units",
}
_IMPROVEMENT = {"id": "I", "kind": "improvement", "direction": "decrease", "price": 10}
_REGISTER = ["A,2020-01-01,yes,x", "B,2020-01-01,yes,x"]


def _contract(patch: dict[str, Any]) -> dict[str, Any]:
    """The base contract with ``{"outcomes.0.price": 5}``-style edits; ``_DROP`` removes a key."""
    doc = copy.deepcopy(_BASE)
    for dotted, value in patch.items():
        *parents, last = dotted.split(".")
        node: Any = doc
        for part in parents:
            if isinstance(node, list):
                index = int(part)
                if index == len(node):
                    node.append({})
                node = node[index]
            else:
                node = node.setdefault(part, {})
        if isinstance(node, list):
            node.append(value) if int(last) == len(node) else node.__setitem__(int(last), value)
        elif value is _DROP:
            node.pop(last, None)
        else:
            node[last] = value
    return doc


def _case(code: str, *, run: str = "validate", name: str | None = None, **spec: Any) -> Any:
    return pytest.param({"code": code, "run": run, **spec}, id=name or code)


# Contract checks: {"set": edits of the base contract} or {"raw": the file's bytes};
# "at" is the text the finding's line:col points at in the written contract.
CONTRACT_CASES = [
    _case("NOT_UTF8", raw="schema = 'sob/1'\n".encode("utf-16"), where=(1, 1)),
    _case("TOML_SYNTAX", raw=b'schema = "sob/1"\n[contract\nid = "t"\n', where=(2, 10)),
    _case("UNKNOWN_SCHEMA", set={"schema": "sob/9"}, at="schema"),
    _case("UNKNOWN_KEY", set={"outcomes.0.windw_days": 30}, at="windw_days"),
    _case("WRONG_TYPE", set={"contract.start": "2020-01-01"}, at='start = "'),
    _case("MISSING_KEY", set={"contract.currency": _DROP}, at="[contract]"),
    _case("DUPLICATE_ID", set={"outcomes.1": {"id": "P", "price": 1}}, at='id = "P"', nth=2),
    _case("UNKNOWN_REFERENCE", set={"outcomes.0.requires": ["Z"]}, at='"Z"'),
    _case("REQUIRES_CYCLE", set={"outcomes.0.requires": ["Q"], "outcomes.1": {"id": "Q", "price": 1, "requires": ["P"]}},
          at='"P",'),
    _case("DATES_OUT_OF_ORDER", set={"contract.claims_end": date(2021, 1, 1)}, at="claims_end"),
    _case("SHARES_NOT_ONE", set={"payers.0.share": 0.5, "payers.1": {"id": "LB", "share": 0.4}}, at="payers"),
    _case("BAD_SHARE", set={"payers.0.share": 2}, at="share"),
    _case("BAD_SHARE", name="BAD_SHARE-fraction", set={"payers.0.share": "1/0"}, at="share"),
    _case("NEGATIVE_MONEY", set={"outcomes.0.price": -1}, at="price = -1"),
    _case("TOO_MANY_DECIMALS", set={"outcomes.0.price": "1.005"}, at='price = "1.005"'),
    _case("BAD_CURRENCY", set={"contract.currency": "XQZ"}, at="currency"),
    _case("PRICES_NOT_SORTED", set={"outcomes.0.price": _DROP, "outcomes.0.prices": [{"from": date(2021, 1, 1), "price": 1}]},
          at="from"),
    _case("CAP_LOWERED", set={"caps.total": [{"from": date(2020, 1, 1), "amount": 500}, {"from": date(2021, 1, 1), "amount": 400}]},
          at="amount = 400"),
    _case("BAD_TIERS", set={"outcomes.0.price": _DROP, "outcomes.0.tiers": [{"up_to": 5, "price": 1}]}, at="up_to"),
    _case("BAD_STEPS", set={"outcomes.1": {"id": "I", "kind": "improvement", "direction": "decrease",
                                           "steps": [{"at": 0.2, "amount": 5}, {"at": 0.125, "amount": 6}]}},
          at="at = 0.125"),
    _case("BAD_SCALE", set={"outcomes.0.scale": {"zero_at": 2, "full_at": 2}}, at="full_at"),
    _case("NETTING_CYCLE", set={"outcomes.1": {**_IMPROVEMENT, "net_of": ["I"]}}, at='"I",'),
    _case("WRONG_KIND_KEY", set={"outcomes.0.direction": "decrease"}, at="direction"),
    _case("PRICE_CHOICE", set={"outcomes.0.price": _DROP}, at='{ id = "P" }'),
    _case("BAD_RANGE", set={"outcomes.0.max_claims": 0}, at="max_claims"),
    _case("MAX_CLAIMS_EXCLUSIVE", set={"outcomes.0.max_claims": 2, "outcomes.0.exclusive": "g"}, at="max_claims"),
    _case("BAD_ID", set={"contract.id": "Bad Id!"}, at='id = "Bad'),
    _case("BAD_PROFILE", set={"outcomes.0.profile": {"soon": 1}}, at="soon"),
    _case("UNSAFE_PATH", set={"evidence.claims": "../claims.csv"}, at="claims ="),
    _case("UNKNOWN_VALUE", set={"outcomes.0.kind": "sideways"}, at="kind"),
    _case("BAD_FORMAT", set={"evidence.date_format": ""}, at="date_format"),
    _case("BAD_EXAMPLE", set={"examples": [{"name": "e", "expect": {"entitled": 1}, "claims": [{"claim_id": "c1"}]}]},
          at='{ claim_id = "c1" }'),
    _case("DUPLICATE_ID", name="DUPLICATE_ID-adjustment-contract",
          set={"adjustments": [_ADJUSTMENT, {**_ADJUSTMENT, "reason": "again"}]}, at='id = "a1"', nth=2),
    _case("BAD_RANGE", name="BAD_RANGE-adjustment-zero", set={"adjustments": [{**_ADJUSTMENT, "amount": 0}]},
          at="amount = 0"),
    _case("DATES_OUT_OF_ORDER", name="DATES_OUT_OF_ORDER-adjustment-on",
          set={"adjustments": [{**_ADJUSTMENT, "on": date(2019, 12, 31)}]}, at="on = 2019"),
    _case("EXAMPLE_FAILED", set={"examples": [{
        "name": "pays P", "quarter": "2020-Q1",
        "claims": [{"claim_id": "c1", "participant_id": "A", "outcome_id": "P", "achieved_on": date(2020, 2, 1)}],
        "expect": {"entitled": 99}}]}, at_line="[[examples]]"),
]

# Evidence data errors: rows under the default header of each file; "where" is (file, line, column).
EVIDENCE_CASES = [
    _case("MISSING_COLUMN", claims=["claim_id,participant_id,achieved_on", "c1,A,2020-02-01"], header=False,
          where=("claims.csv", 1, None)),
    _case("DUPLICATE_COLUMN", claims=["claim_id,claim_id,participant_id,outcome_id,achieved_on", "c1,c1,A,P,2020-02-01"],
          header=False, where=("claims.csv", 1, 2)),
    _case("MISSING_REGISTER", set={"outcomes.0.window_days": 30}, claims=["c1,A,P,2020-02-01,2020-02-02,"],
          where=("participants register", None, None)),
    _case("BAD_ROW_LENGTH", claims=["c1,A,P,2020-02-01,2020-02-02,", "c2,A,P"], where=("claims.csv", 3, None)),
    _case("MISSING_VALUE", claims=["c1,,P,2020-02-01,2020-02-02,"], where=("claims.csv", 2, 2)),
    _case("BAD_DATE", claims=["c1,A,P,2020-13-01,2020-02-02,"], where=("claims.csv", 2, 4)),
    _case("BAD_NUMBER", name="BAD_NUMBER-steps-units",
          set={"outcomes.1": {"id": "I", "kind": "improvement", "direction": "decrease",
                              "steps": [{"at": 0.05, "amount": 7}]}},
          results=["r1,I,x,2020-02-01,2020-02-02,10,9,2"], where=("results.csv", 2, 8)),
    _case("BAD_NUMBER", set={"outcomes.1": _IMPROVEMENT}, results=["r1,I,x,2020-02-01,2020-02-02,10,9,0"],
          where=("results.csv", 2, 8)),
    _case("BAD_TEXT", claims=["c1,A\x00,P,2020-02-01,2020-02-02,"], where=("claims.csv", 2, 2)),
    _case("BAD_STATUS", claims=["c1,A,P,2020-02-01,2020-02-02,maybe"], where=("claims.csv", 2, 6)),
    _case("BAD_BOOLEAN", claims=["c1,A,P,2020-02-01,2020-02-02,"], participants=["A,2020-01-01,perhaps,x"],
          where=("participants.csv", 2, 3)),
    _case("UNKNOWN_OUTCOME", claims=["c1,A,Z,2020-02-01,2020-02-02,"], where=("claims.csv", 2, 3)),
    _case("WRONG_OUTCOME_KIND", set={"outcomes.1": _IMPROVEMENT}, claims=["c1,A,I,2020-02-01,2020-02-02,"],
          where=("claims.csv", 2, 3)),
    _case("UNKNOWN_PARTICIPANT", claims=["c1,C,P,2020-02-01,2020-02-02,"], participants=_REGISTER,
          where=("claims.csv", 2, 2)),
    _case("DUPLICATE_ID", name="DUPLICATE_ID-evidence", claims=["c1,A,P,2020-02-01,2020-02-02,", "c1,B,P,2020-02-01,2020-02-02,"],
          where=("claims.csv", 2, 1)),
    _case("DUPLICATE_PARTICIPANT", claims=["c1,A,P,2020-02-01,2020-02-02,"], participants=[*_REGISTER, "A,2020-01-02,yes,x"],
          where=("participants.csv", 2, 1)),
    _case("SUBMITTED_BEFORE_ACHIEVED", claims=["c1,A,P,2020-02-01,2020-01-02,"], where=("claims.csv", 2, 5)),
    _case("NON_POSITIVE_BASELINE", set={"outcomes.1": _IMPROVEMENT}, results=["r1,I,x,2020-02-01,2020-02-02,0,0,1"],
          where=("results.csv", 2, 6)),
    _case("BAD_AMOUNT_CLAIMED", claims=["claim_id,participant_id,outcome_id,achieved_on,amount_claimed",
                                         "c1,A,P,2020-02-01,$5"], header=False, where=("claims.csv", 2, 5)),
    _case("DUPLICATE_ROW", claims=["c1,A,P,2020-02-01,2020-02-02,", "c1,A,P,2020-02-01,2020-02-02,"],
          where=("claims.csv", 3, 1)),
    _case("DUPLICATE_ID", name="DUPLICATE_ID-adjustment", set={"adjustments": [_ADJUSTMENT]},
          claims=["c1,A,P,2020-02-01,2020-02-02,", "a1,B,P,2020-02-01,2020-02-02,"], where=("claims.csv", 3, 1)),
]

# Reasons: the claim (or result) "row" must end with that reason in `sob pay --export`.
_TWO = ["c1,A,P,2020-02-01,2020-02-02,", "c2,A,P,2020-02-03,2020-02-04,"]
REASON_CASES = [
    _case("WITHDRAWN", run="pay", claims=["c1,A,P,2020-02-01,2020-02-02,withdrawn"], row="c1"),
    _case("INELIGIBLE", run="pay", claims=_TWO[:1], participants=["A,2020-01-01,no,x"], row="c1"),
    _case("ENROLMENT_OUT_OF_PERIOD", run="pay", claims=_TWO[:1], participants=["A,2019-06-01,yes,x"], row="c1"),
    _case("BEFORE_ENROLMENT", run="pay", claims=_TWO[:1], participants=["A,2020-03-01,yes,x"], row="c1"),
    _case("OUT_OF_WINDOW", run="pay", set={"outcomes.0.window_days": 10}, claims=_TWO[:1], participants=_REGISTER, row="c1"),
    _case("OUT_OF_CONTRACT_PERIOD", run="pay", claims=["c1,A,P,2019-12-01,2020-01-05,"], row="c1"),
    _case("LATE_CLAIM", run="pay", set={"contract.outcomes_end": date(2020, 1, 31), "contract.claims_end": date(2020, 2, 1)},
          claims=["c1,A,P,2020-01-15,2020-02-15,"], row="c1"),
    _case("PREREQUISITE_MISSING", run="pay", set={"outcomes.1": {"id": "Q", "price": 1, "requires": ["P"]}},
          claims=["c1,A,Q,2020-02-01,2020-02-02,"], row="c1"),
    _case("MAX_CLAIMS", run="pay", claims=_TWO, row="c2"),
    _case("EXCLUSIVE", run="pay", set={"outcomes.0.exclusive": "g", "outcomes.1": {"id": "Q", "price": 1, "exclusive": "g"}},
          claims=["c1,A,P,2020-02-01,2020-02-02,", "c2,A,Q,2020-02-03,2020-02-04,"], row="c2"),
    _case("VOLUME_CAP", run="pay", set={"outcomes.0.volume_cap": 1},
          claims=["c1,A,P,2020-02-01,2020-02-02,", "c2,B,P,2020-02-03,2020-02-04,"], row="c2"),
    _case("BELOW_THRESHOLD", run="pay", set={"outcomes.1": {**_IMPROVEMENT, "min_improvement": 0.5}},
          claims=_TWO[:1], results=["r1,I,x,2020-02-01,2020-02-02,10,9,1"], row="r1"),
    _case("NETTED", run="pay", set={"outcomes.1": _IMPROVEMENT, "outcomes.2": {**_IMPROVEMENT, "id": "POOL", "net_of": ["I"]}},
          claims=_TWO[:1], results=["r1,POOL,x,2020-02-01,2020-02-02,10,9,1", "r2,I,y,2020-02-03,2020-02-04,10,9,1"],
          row="r2"),
    _case("PARTICIPANT_CAP", run="pay", set={"caps.per_participant": 50}, claims=_TWO[:1], row="c1"),
    _case("OUTCOME_CAP", run="pay", set={"outcomes.0.amount_cap": 50}, claims=_TWO[:1], row="c1"),
    _case("CONTRACT_CAP", run="pay", set={"caps.total": 50}, claims=_TWO[:1], row="c1"),
    _case("PAYER_CAP", run="pay", set={"payers.0.cap": 50}, claims=_TWO[:1], row="c1"),
    _case("MISSING_FROM_EVIDENCE", run="pay", claims=_TWO[:1], row="c1", then_claims=[], quarters=("2020-Q1", "2020-Q2")),
    _case("ADJUSTMENT", run="pay", set={"adjustments": [_ADJUSTMENT]}, claims=_TWO[:1], row="a1"),
]


def _tamper_changed(d: Path) -> None:
    (d / "2020-Q1.csv").write_bytes((d / "2020-Q1.csv").read_bytes() + b"x\n")


def _tamper_chain(d: Path) -> None:
    (d / "2020-Q1.toml").write_bytes((d / "2020-Q1.toml").read_bytes() + b"# edited\n")


# Ledger verification: two quarters closed, then one edit to the ledger folder; "file" is the named file.
LEDGER_CASES = [
    _case("LEDGER_CHANGED", run="ledger", tamper=_tamper_changed, file="2020-Q1.csv"),
    _case("LEDGER_REMOVED", run="ledger", tamper=lambda d: (d / "2020-Q1.csv").unlink(), file="2020-Q1.csv"),
    _case("LEDGER_ADDED", run="ledger", tamper=lambda d: (d / "notes.txt").write_text("hi"), file="notes.txt"),
    _case("LEDGER_REORDERED", run="ledger", tamper=lambda d: (d / "2020-Q1.toml").rename(d / "2019-Q4.toml"),
          file="2019-Q4.toml"),
    _case("LEDGER_CHAIN_BROKEN", run="ledger", tamper=_tamper_chain, file="2020-Q2.toml"),
    _case("LEDGER_BAD_MANIFEST", run="ledger", tamper=lambda d: (d / "2020-Q2.toml").write_text("[[["), file="2020-Q2.toml"),
    _case("LEDGER_INCOMPLETE", run="ledger", tamper=lambda d: (d / "2020-Q2.toml").unlink(), file="2020-Q2.csv"),
]

GOLDEN = CONTRACT_CASES + EVIDENCE_CASES + REASON_CASES + LEDGER_CASES


def _write_csv(path: Path, kind: str, rows: list[str], header: bool = True) -> Path:
    lines = ([_HEADERS[kind]] if header else []) + rows
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _write(tmp_path: Path, case: dict[str, Any]) -> tuple[Path, list[str]]:
    """The contract and evidence files of a case, and the evidence options naming them."""
    contract = tmp_path / "contract.toml"
    if "raw" in case:
        contract.write_bytes(case["raw"])
    else:
        contract.write_text(tomli_w.dumps(_contract(case.get("set", {}))), encoding="utf-8")
    options: list[str] = []
    for kind in ("claims", "participants", "results"):
        if kind in case:
            path = _write_csv(tmp_path / f"{kind}.csv", kind, case[kind], case.get("header", True))
            options += [f"--{kind}", str(path)]
    return contract, options


def _invoke(*args: object) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _position(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the ``nth`` occurrence of ``needle`` in ``text``."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def _check_finding(tmp_path: Path, case: dict[str, Any]) -> None:
    contract, options = _write(tmp_path, case)
    result = _invoke("validate", contract, *options, "--format", "json")
    assert result.exit_code == (0 if codes.get(case["code"]).level == "warning" else 1), result.output
    found = [f for f in json.loads(result.stdout)["findings"] if f["code"] == case["code"]]
    assert found, result.stdout
    text = contract.read_text(encoding="utf-8", errors="replace")
    if "at" in case:
        where: tuple[Any, ...] = ("contract.toml", *_position(text, case["at"], case.get("nth", 1)))
    elif "at_line" in case:
        where = ("contract.toml", _position(text, case["at_line"])[0], None)
    else:
        where = case["where"] if len(case["where"]) == 3 else ("contract.toml", *case["where"])
    spots = [(Path(f["file"]).name, f["line"], f["col"]) for f in found]
    assert where in spots, (where, spots)
    assert {f["severity"] for f in found} == {codes.get(case["code"]).level}
    # the text format names the same place, ``FILE:LINE:COL: CODE`` as far as it is known
    loc = "".join(f":{p}" for p in where[1:] if p is not None)
    shown = _invoke("validate", contract, *options).output
    assert re.search(rf"(^|/){re.escape(where[0])}{loc}: (warning )?{case['code']} ", shown, re.M), shown


def _reasons(export: Path) -> dict[str, str]:
    with export.open(encoding="utf-8", newline="") as fh:
        return {row["claim_id"]: row["reason"] for row in csv.DictReader(fh)}


def _check_reason(tmp_path: Path, case: dict[str, Any]) -> None:
    contract, options = _write(tmp_path, case)
    export = tmp_path / "out.csv"
    quarters = case.get("quarters", ("2020-Q1",))
    (tmp_path / "ledger").mkdir()
    ledger = ["--ledger", tmp_path / "ledger", "--close"] if len(quarters) > 1 else []
    result = _invoke("pay", contract, "--quarter", quarters[0], *options, *ledger, "--format", "json")
    assert result.exit_code == 0, result.output
    if len(quarters) > 1:  # the row leaves the evidence after its quarter was closed
        _write_csv(tmp_path / "claims.csv", "claims", case["then_claims"])
        result = _invoke("pay", contract, "--quarter", quarters[1], *options, "--ledger", tmp_path / "ledger",
                         "--export", export, "--format", "json")
    else:
        result = _invoke("pay", contract, "--quarter", quarters[0], *options, "--export", export, "--format", "json")
    assert result.exit_code == 0, result.output
    assert _reasons(export)[case["row"]] == case["code"]
    if codes.get(case["code"]).status == "rejected":
        assert json.loads(result.stdout)["rejections"].get(case["code"]) == 1


def _check_ledger(tmp_path: Path, case: dict[str, Any]) -> None:
    contract, options = _write(tmp_path, {"claims": _TWO[:1]})
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for quarter in ("2020-Q1", "2020-Q2"):
        assert _invoke("pay", contract, "--quarter", quarter, *options, "--ledger", ledger, "--close",
                       "--format", "json").exit_code == 0
    assert _invoke("ledger", "verify", ledger).exit_code == 0
    case["tamper"](ledger / "t")
    result = _invoke("ledger", "verify", ledger)
    assert result.exit_code == (0 if codes.get(case["code"]).level == "warning" else 1), result.output
    named = re.escape(str(ledger / "t" / case["file"]))
    assert re.search(rf"^{named}: (warning )?{case['code']} ", result.stderr, re.M), result.stderr


_RUNNERS: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "validate": _check_finding, "pay": _check_reason, "ledger": _check_ledger,
}


@pytest.mark.parametrize("case", GOLDEN)
def test_golden(tmp_path, case):
    _RUNNERS[case["run"]](tmp_path, case)


# --------------------------------------------------------------------------
# (c) every catalogue code has a golden case


def test_every_catalogue_code_has_a_golden_case():
    covered = {p.values[0]["code"] for p in GOLDEN}
    assert [c.code for c in codes.all_codes() if c.code not in covered] == []
    assert sorted(covered - {c.code for c in codes.all_codes()}) == []


def test_the_codes_plugin_records_findings_while_installed():
    import codes_plugin

    from sob.findings import Finding

    already = bool(codes_plugin._ORIGINAL)  # the session runs with ``-p codes_plugin``
    codes_plugin.SEEN.discard("BAD_DATE")
    codes_plugin.install()
    try:
        Finding("BAD_DATE", "m")
        assert "BAD_DATE" in codes_plugin.SEEN
        assert "BAD_DATE" not in codes_plugin.never_emitted(codes_plugin.SEEN)
        assert "BAD_DATE" in codes_plugin.never_emitted(set())
    finally:
        if not already:
            codes_plugin.uninstall()


def test_sob_explain_says_what_the_reason_means(tmp_path):
    case = {"set": {"contract.outcomes_end": date(2020, 1, 31), "contract.claims_end": date(2020, 2, 1)},
            "claims": ["c1,A,P,2020-01-15,2020-02-15,"]}
    contract, options = _write(tmp_path, case)
    result = _invoke("explain", contract, "--quarter", "2020-Q1", "--claim", "c1", *options)
    assert result.exit_code == 0, result.output
    assert f"LATE_CLAIM: {codes.meaning('LATE_CLAIM')}" in result.stdout


def test_sob_explain_of_a_paid_claim_names_no_reason(tmp_path):
    contract, options = _write(tmp_path, {"claims": _TWO[:1]})
    result = _invoke("explain", contract, "--quarter", "2020-Q1", "--claim", "c1", *options)
    assert result.exit_code == 0, result.output
    assert "status: paid" in result.stdout
    assert not any(f"{c.code}: {c.meaning}" in result.stdout for c in codes.all_codes())
