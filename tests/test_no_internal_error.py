"""Every command, on every sample contract and on the hostile inputs: never an internal error.

An internal error (``sob: internal error: ...``) is a defect whatever the
input: the run must end with exit 0, 1 or 2 and a message a person can act
on.  This sweep runs, in-process, each command of ``sob --help`` (``validate``
in every format, ``pay`` plain, as JSON, with ``--export`` in every format and
with ``--close``, ``explain``, ``test``, ``ledger verify``, ``ledger show``,
``schema``, ``init``) on each sample contract, for the first and the last
quarter its evidence covers, and on the hostile inputs of
``tests/test_cli_hostile.py`` and a few damaged ledgers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_hostile import CONTRACT_CASES, EVIDENCE_CASES, UNSAFE_CASES, Case
from typer.testing import CliRunner

from sob.cli import app
from sob.quarters import Quarter
from sob.workflows import EvidencePaths, load_valid_contract, read_files, resolve_evidence

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_contracts").glob("*/contract.toml"))
EXPORTS = (".csv", ".parquet", ".json", ".xlsx")


def _run(*args: object) -> tuple[int, str]:
    """One command in-process; fails on an internal error, a traceback or an unexpected exit code."""
    argv = [str(a) for a in args]
    result = CliRunner().invoke(app, argv)
    text = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (argv, repr(result.exception))
    assert "sob: internal error" not in text and "Traceback (most recent" not in text, (argv, text[-2000:])
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, text[-2000:])
    return result.exit_code, text


def test_every_command_is_in_the_sweep() -> None:
    """A new command must be added to this sweep: the list below is the whole of ``sob --help``."""
    _, text = _run("--help")
    _, ledger_text = _run("ledger", "--help")
    listed = {w for w in ("validate", "pay", "test", "explain", "ledger", "init", "schema") if f" {w} " in text}
    assert listed == {"validate", "pay", "test", "explain", "ledger", "init", "schema"}, text
    assert " verify " in ledger_text and " show " in ledger_text


def _quarters(contract_path: Path) -> tuple[Quarter, Quarter, str | None]:
    """The first and last quarter the sample's evidence covers, and one claim id to explain."""
    contract, _ = load_valid_contract(contract_path, run_examples_too=False)
    evidence = read_files(contract, resolve_evidence(contract, EvidencePaths(), need_claims=False))
    days = []
    claim = None
    for frame in (evidence.claims, evidence.results):
        if frame is None or frame.height == 0:
            continue
        for name in ("achieved_on", "submitted_on", "period_end", "measured_on"):
            if name in frame.columns and frame[name].dtype.is_temporal():
                days += [d for d in (frame[name].min(), frame[name].max()) if d is not None]
        if claim is None:
            key = "claim_id" if "claim_id" in frame.columns else "result_id"
            claim = str(frame[key][frame.height - 1]) if key in frame.columns else None
    assert days, f"{contract_path}: no dated evidence"
    fy = contract.fiscal_year_start_month
    return Quarter.containing(min(days), fy), Quarter.containing(max(days), fy), claim


@pytest.fixture(params=SAMPLES, ids=[p.parent.name for p in SAMPLES])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / request.param.parent.name
    shutil.copytree(request.param.parent, folder)
    yield folder / "contract.toml"


def _export_format(sample: Path) -> str:
    """One export format per sample, in turn: the seven samples cover each format at least once."""
    return EXPORTS[[p.parent.name for p in SAMPLES].index(sample.parent.name) % len(EXPORTS)]


def test_checks_and_reports_on_a_sample_contract(sample: Path, tmp_path: Path) -> None:
    first, last, claim = _quarters(sample)
    assert _run("validate", sample, "--format", "json")[0] == 0
    assert _run("validate", sample, "--format", "github", "--quarter", last)[0] == 0
    assert _run("test", sample)[0] == 0
    assert _run("pay", sample, "--quarter", first)[0] == 0
    assert _run("pay", sample, "--quarter", last, "--format", "json")[0] == 0
    assert _run("pay", sample, "--quarter", last, "--export", tmp_path / f"t{_export_format(sample)}")[0] == 0
    if claim is not None:
        assert _run("explain", sample, "--quarter", last, "--claim", claim)[0] == 0
    assert _run("explain", sample, "--quarter", last, "--claim", "no-such-claim")[0] in (1, 2)


def test_closes_and_the_ledger_of_a_sample_contract(sample: Path, tmp_path: Path) -> None:
    first, last, _ = _quarters(sample)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for quarter in dict.fromkeys((str(first), str(last))):
        # SPEC 10.3 and 10.4: the first close says nothing was paid before, the last one skips quarters
        life = ["--opening", "none"] if quarter == str(first) else ["--allow-gap"]
        code, text = _run("pay", sample, "--quarter", quarter, "--ledger", ledger, "--close", *life, "--format", "json",
                          "--export", tmp_path / f"close-{quarter}{_export_format(sample)}")
        assert code == 0, text
    assert _run("pay", sample, "--quarter", last, "--ledger", ledger, "--close")[0] == 1  # already closed
    assert _run("pay", sample, "--quarter", last.next(), "--ledger", ledger)[0] == 0
    assert _run("ledger", "verify", ledger)[0] == 0
    assert _run("ledger", "show", ledger)[0] == 0
    assert _run("ledger", "show", ledger, "--format", "json")[0] == 0


def test_the_commands_without_a_contract(tmp_path: Path) -> None:
    assert _run("schema")[0] == 0
    assert _run("init", tmp_path / "c.toml")[0] == 0
    assert _run("init", tmp_path / "c.toml")[0] in (1, 2)  # refuses to overwrite
    assert _run("validate", tmp_path / "c.toml")[0] == 0
    assert _run("--version")[0] == 0
    for sub in ("validate", "pay", "test", "explain", "init", "schema", "ledger"):
        assert _run(sub, "--help")[0] == 0


# --------------------------------------------------------------------------
# the hostile inputs


def _argvs(args: list[str], tmp: Path) -> list[list[object]]:
    """Every command a hostile contract or evidence file can reach (the text formats: test_cli_hostile.py)."""
    contract, rest = args[0], args[1:]
    ledger = tmp / "hostile-ledger"
    ledger.mkdir(exist_ok=True)
    pay = ["pay", contract, "--quarter", "2021-Q1", *rest]
    return [
        ["validate", *args, "--format", "json"],
        ["validate", *args, "--format", "github", "--quarter", "2021-Q1"],
        [*pay, "--format", "json", "--reject-invalid"],
        [*pay, "--ledger", ledger, "--close", "--export", tmp / "h.xlsx"],
        ["explain", contract, "--quarter", "2021-Q1", "--claim", "X1", *rest],
        ["test", contract],
    ]


# The multi-megabyte and thousand-column cases cost seconds each; test_cli_hostile.py runs them.
HOSTILE = [c for c in CONTRACT_CASES + EVIDENCE_CASES + UNSAFE_CASES if "MB" not in c.name and "1000" not in c.name]


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_every_command_on_a_hostile_input(tmp_path: Path, case: Case) -> None:
    for argv in _argvs(case.build(tmp_path), tmp_path):
        _run(*argv)


MHEP = ROOT / "sample_contracts" / "mhep-employment" / "contract.toml"

# Ledgers damaged in the ways a disk, a person or a script can damage them.
DAMAGES = {
    "binary-manifest": lambda d: (d / "2021-Q1.toml").write_bytes(b"\x00\xff" * 100),
    "empty-manifest": lambda d: (d / "2021-Q1.toml").write_bytes(b""),
    "manifest-wrong-types": lambda d: (d / "2021-Q1.toml").write_text("contract = 1\nquarter = []\n[hashes]\ntable = 3\n"),
    "binary-table": lambda d: (d / "2021-Q1.csv").write_bytes(b"\x00\xff" * 100),
    "table-no-columns": lambda d: (d / "2021-Q1.csv").write_text("a,b\n1,2\n"),
    "table-removed": lambda d: (d / "2021-Q1.csv").unlink(),
    "stray-files": lambda d: [(d / n).write_text("x") for n in ("2021-Q9.csv", "notes.txt", ".sob.zz.tmp")],
    "manifest-is-a-folder": lambda d: ((d / "2021-Q1.toml").unlink(), (d / "2021-Q1.toml").mkdir()),
    "ledger-is-a-file": None,
    "ledger-missing": None,
}


@pytest.fixture(scope="module")
def good_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ledger = tmp_path_factory.mktemp("ledger") / "good"
    ledger.mkdir()
    code, text = _run("pay", MHEP, "--quarter", "2021-Q1", "--ledger", ledger, "--close", "--opening", "none")
    assert code == 0, text
    return ledger


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_every_ledger_command_on_a_damaged_ledger(good_ledger: Path, tmp_path: Path, damage: str) -> None:
    ledger = tmp_path / "ledger"
    if damage == "ledger-is-a-file":
        ledger.write_text("x")
    elif damage != "ledger-missing":
        shutil.copytree(good_ledger, ledger)
        DAMAGES[damage](ledger / "mhep-employment")  # type: ignore[misc]
    assert _run("ledger", "verify", ledger)[0] in (1, 2)
    _run("ledger", "show", ledger)
    _run("ledger", "show", ledger, "--format", "json")
    _run("pay", MHEP, "--quarter", "2021-Q2", "--ledger", ledger, "--format", "json")
    _run("pay", MHEP, "--quarter", "2021-Q2", "--ledger", ledger, "--close")
    _run("explain", MHEP, "--quarter", "2021-Q2", "--ledger", ledger, "--claim", "X1")
