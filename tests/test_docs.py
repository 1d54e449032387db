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


# ---------------------------------------------------------------- the reference in docs/ covers the code

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
FORMAT_PAGE = (DOCS / "contract-format.md").read_text(encoding="utf-8")
ALL_DOCS = README + "".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def _schema_keys() -> list[tuple[str, ...]]:
    """Every key path of `sob schema`: ("outcomes", "requires", "min_days"), read from the schema itself."""
    from sob.schema import contract_json_schema

    schema = contract_json_schema()
    defs = schema.get("$defs", {})
    found: list[tuple[str, ...]] = []

    def walk(node: object, path: tuple[str, ...], seen: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, sub in node.get("properties", {}).items():
            found.append((*path, key))
            walk(sub, (*path, key), seen)
        for key in ("items", "additionalProperties"):
            walk(node.get(key), path, seen)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, path, seen)
        ref = node.get("$ref", "").rsplit("/", 1)[-1]
        if ref and ref not in seen:
            walk(defs.get(ref), path, seen | {ref})

    walk(schema, (), frozenset())
    return sorted(set(found))


def _section(page: str, table: str) -> str:
    """The part of ``page`` from the `## ` heading naming ``table`` to the next `## ` heading."""
    heading = "## Top level" if table == "" else next(
        (h for h in re.findall(r"(?m)^## .*$", page) if re.search(rf"`\[+{re.escape(table)}\]+`", h)), None)
    assert heading is not None, f"docs/contract-format.md has no section for [{table}]"
    rest = page.split(heading + "\n", 1)[1]
    return rest.split("\n## ", 1)[0]


SCHEMA_KEYS = _schema_keys()
#: tables whose keys are the canonical evidence columns, documented in docs/evidence-columns.md
COLUMN_TABLES = (["evidence", "columns"], ["examples", "participants"], ["examples", "claims"], ["examples", "results"])


def test_the_schema_walk_finds_the_known_keys():
    """The walk itself can fail: it must reach nested keys of every table, not only the top level."""
    assert {("schema",), ("contract", "fiscal_year_start_month"), ("payers", "on_cap"), ("outcomes", "requires", "min_days"),
            ("outcomes", "tiers", "up_to"), ("examples", "expect", "claims", "reason")} <= set(SCHEMA_KEYS)


@pytest.mark.parametrize("path", SCHEMA_KEYS, ids=".".join)
def test_every_schema_key_is_documented_in_its_table_section(path):
    """A key of `sob schema` is named, in backticks, in the section of docs/contract-format.md for its table."""
    *parents, key = path
    section = _section(FORMAT_PAGE, parents[0] if parents else "")
    if parents in COLUMN_TABLES:
        assert f"| {key} |" in (DOCS / "evidence-columns.md").read_text(encoding="utf-8"), key
    assert f"`{key}`" in section, f"`{key}` ({'.'.join(path)}) is not documented in its section of docs/contract-format.md"


@pytest.mark.parametrize("table", ["contract", "payers", "caps", "evidence", "outcomes", "examples"])
def test_each_table_section_shows_defaults_an_example_and_the_spec(table):
    section = _section(FORMAT_PAGE, table)
    assert "```toml" in section, f"[{table}] has no TOML example"
    assert "SPEC" in section and "default" in section.lower(), table


def test_every_catalogue_column_is_documented():
    from sob.columns import COLUMNS

    page = (DOCS / "evidence-columns.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| {column.name} |" in page, column.name
        assert f"`{column.name}`" in FORMAT_PAGE, f"{column.name} is not among the canonical columns of contract-format.md"


def test_every_code_has_an_example_and_a_fix():
    from sob.codes import all_codes, example_of

    codes_page = (DOCS / "codes.md").read_text(encoding="utf-8")
    for c in all_codes():
        assert c.fix.strip() and c.meaning.strip(), c.code
        example = example_of(c.code)
        assert example and example.strip(), f"{c.code} has no example line in sob/codes.py EXAMPLES"
        assert example in codes_page, c.code


def _options() -> list[tuple[str, str]]:
    """(command, option) for every option of every command, and the app's own options (--version...)."""
    root = typer.main.get_command(app)
    found = [("sob", opt) for p in root.params if p.param_type_name == "option" for opt in p.opts if opt.startswith("--")]
    for name, cmd in COMMANDS.items():
        for param in cmd.params:
            if param.param_type_name == "option":
                opts = [*param.opts, *getattr(param, "secondary_opts", [])]
                found += [(name, opt) for opt in opts if opt.startswith("--") and opt != "--help"]
    return sorted(set(found))


OPTIONS = _options()


def test_options_are_found():
    assert ("pay", "--close") in OPTIONS and ("validate", "--strict") in OPTIONS and ("sob", "--version") in OPTIONS


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[f"{c}:{o}" for c, o in OPTIONS])
def test_every_cli_option_is_documented(command, option):
    """Every option of every command is named in the README or docs/ (with its own name, not a prefix of another)."""
    assert re.search(rf"`[^`]*{re.escape(option)}(?![\w-])", ALL_DOCS), f"{option} of `sob {command}` is not documented"


# ---------------------------------------------------------------- every TOML example in docs/ validates

#: the minimal contract a fragment is wrapped into; a fragment's own top-level keys replace these
BASE = """schema = "sob/1"
[contract]
id = "docs-example"
currency = "GBP"
start = 2019-04-01
outcomes_end = 2023-03-31
[[payers]]
id = "LA"
share = 1
[[outcomes]]
id = "P"
price = 400
"""


def _toml_blocks() -> list[tuple[str, int, str, str]]:
    """(page, number, tag, text) of every ```toml block in docs/; a tag like `spec-11.3` follows the word toml."""
    blocks = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for n, m in enumerate(re.finditer(r"(?ms)^```toml([^\n]*)\n(.*?)^```", text), 1):
            blocks.append((page.name, n, m.group(1).strip(), m.group(2)))
    return blocks


TOML_BLOCKS = _toml_blocks()


def _as_contract(text: str) -> str:
    """A whole contract as it is; a fragment wrapped into BASE, its top-level tables replacing BASE's."""
    import tomllib

    import tomli_w

    data = tomllib.loads(text)
    if "schema" in data:
        return text
    base = tomllib.loads(BASE)
    base.update(data)
    return tomli_w.dumps(base)


def test_docs_have_toml_examples():
    assert len(TOML_BLOCKS) >= 10


@pytest.mark.parametrize(("page", "number", "tag", "text"), TOML_BLOCKS, ids=[f"{p}#{n}" for p, n, _, _ in TOML_BLOCKS])
def test_every_toml_example_in_docs_validates(page, number, tag, text, tmp_path):
    """Each example, whole or wrapped, passes the contract checks and its worked examples pass.

    A block tagged with a SPEC section (```toml spec-11.3) shows keys being built on another branch: it
    is skipped (with the reason) while the current code refuses it, and checked like any other once the
    code accepts it; remove the tag once the feature is merged, so that the block can fail again.
    """
    from sob.contract import load_contract
    from sob.contract.examples import run_examples

    path = tmp_path / "contract.toml"
    path.write_text(_as_contract(text), encoding="utf-8")
    contract, findings = load_contract(path)
    errors = [f for f in findings if f.severity == "error"]
    if errors and tag.startswith("spec-"):
        pytest.skip(f"{page} block {number} ({tag}) uses keys this code does not read yet: "
                    + "; ".join(f"{f.code} {f.message}" for f in errors))
    assert not errors, f"{page} block {number} does not validate: " + "; ".join(f"{f.code} {f.message}" for f in errors)
    assert contract is not None
    failed = [(r.name, r.differences) for r in run_examples(contract) if not r.passed]
    assert not failed, f"{page} block {number}: worked examples fail: {failed}"


def test_the_example_files_of_the_evidence_reference_validate(tmp_path):
    """The CSV examples of docs/evidence-columns.md, written as files, pass `sob validate` against a contract."""
    page = (DOCS / "evidence-columns.md").read_text(encoding="utf-8")
    blocks = re.findall(r"(?ms)^```csv\n(.*?)^```", page)
    assert len(blocks) == 3  # claims, participants, results, in that order
    files = {}
    for kind, text in zip(("claims", "participants", "results"), blocks, strict=True):
        files[kind] = tmp_path / f"{kind}.csv"
        files[kind].write_text(text, encoding="utf-8")
    contract = tmp_path / "contract.toml"
    contract.write_text(BASE.replace('id = "P"\nprice = 400', 'id = "ACC-3M"\nprice = 1500.00') + (
        '[[outcomes]]\nid = "REOFF-1"\nkind = "improvement"\ndirection = "decrease"\nprice = 2000.00\n'), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(contract), "--claims", str(files["claims"]),
                                      "--participants", str(files["participants"]), "--results", str(files["results"])])
    assert result.exit_code == 0, result.output
    assert "claims 1 rows" in result.output and "results 1 rows" in result.output


def test_the_cookbook_has_a_section_for_every_sample():
    """Each folder of sample_contracts/ is the subject of one cookbook section (named under its heading)."""
    samples = sorted(p.name for p in (DOCS.parent / "sample_contracts").iterdir() if (p / "contract.toml").is_file())
    page = (DOCS / "cookbook.md").read_text(encoding="utf-8")
    sections = re.split(r"(?m)^## ", page)[1:]
    covered = {m.group(1) for s in sections if (m := re.search(r"\A[^\n]*\n+`sample_contracts/([a-z0-9-]+)`", s))}
    assert len(samples) >= 10
    assert sorted(covered) == samples
