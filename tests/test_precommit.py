"""The pre-commit hooks: what they run, when they run, and the README's snippet run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sob.contract.changed import contracts_for_changed
from sob.contract.starter import write_starter

ROOT = Path(__file__).parent.parent


def test_hooks_file_names_sob_commands():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)", text, re.M)
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    assert "sob-validate" in ids
    assert entries and all(e.startswith("sob ") for e in entries)
    assert "sob-validate" in (ROOT / "README.md").read_text()


def test_sob_validate_hook_matches_evidence_files_not_only_contracts():
    """A commit that changes only a claims file must run the hook (issue 16)."""
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    block = text.split("- id: sob-validate\n", 1)[1].split("\n- id:", 1)[0]
    files = re.search(r"^  files: (.+)$", block, re.M)
    assert files is not None and "types:" not in block  # a `types: [toml]` filter would drop CSVs again
    pattern = re.compile(files.group(1))
    for changed in ("contracts/kbop/contract.toml", "kbop.toml", "evidence/claims.csv", "a/b/register.parquet",
                    "evidence/claims.xlsx"):
        assert pattern.search(changed), changed
    assert not pattern.search("README.md")


def _layout(tmp_path: Path) -> None:
    write_starter(tmp_path / "contracts" / "kbop" / "contract.toml")
    write_starter(tmp_path / "contracts" / "other" / "deal.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "contracts" / "kbop" / "notes.toml").write_text("title = 'not a contract'\n")


def test_changed_files_map_to_the_contracts_that_read_them(tmp_path):
    _layout(tmp_path)
    kbop, deal = Path("contracts/kbop/contract.toml"), Path("contracts/other/deal.toml")
    # an evidence file brings the contracts of its folder and the folders above it, nothing else
    assert contracts_for_changed([Path("contracts/kbop/evidence/claims.csv")], tmp_path) == [kbop]
    # a changed contract is itself, once, however often it is reached
    assert contracts_for_changed([deal, Path("contracts/other/evidence/participants.csv"), kbop], tmp_path) == [deal, kbop]
    # files that are not contracts and have no contract above them bring nothing
    assert contracts_for_changed([Path("pyproject.toml"), Path("contracts/kbop/notes.toml")], tmp_path) == [kbop]
    assert contracts_for_changed([Path("pyproject.toml"), Path("docs/x.csv")], tmp_path) == []


def _sob(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_validate_changed_checks_the_contract_of_a_broken_evidence_file(tmp_path):
    _layout(tmp_path)
    claims = tmp_path / "contracts" / "kbop" / "evidence" / "claims.csv"
    claims.write_text(claims.read_text().replace("2025-05-01", "01/05/2025"))
    bad = _sob(tmp_path, "validate", "--changed", "contracts/kbop/evidence/claims.csv")
    assert bad.returncode == 1
    assert "contracts/kbop/evidence/claims.csv:2:" in bad.stdout and "BAD_DATE" in bad.stdout
    # the other contract's evidence is fine, and a change that concerns no contract passes quietly
    assert _sob(tmp_path, "validate", "--changed", "contracts/other/evidence/claims.csv").returncode == 0
    none = _sob(tmp_path, "validate", "--changed", "pyproject.toml")
    assert none.returncode == 0 and "no contract among the changed files" in none.stderr


# ---------------------------------------------------------------- the README's snippet, run as written


def _snippet() -> str:
    """The `.pre-commit-config.yaml` block of the README's pre-commit section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**pre-commit.**", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PRE_COMMIT_HOME=str(cwd.parent / "pre-commit-home"), PRE_COMMIT_COLOR="never",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def contracts_repo(tmp_path: Path) -> Path:
    """A contracts repository as the README describes it, committed, with the snippet as its config."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of sob (the hooks are fetched from it)")
    pytest.importorskip("pre_commit")
    repo = tmp_path / "contracts-repo"
    write_starter(repo / "contracts" / "kbop" / "contract.toml")
    # the snippet as written; only the repository's address is this checkout, so it runs offline
    config = re.sub(r"(?m)^(  - repo: )\S+", lambda m: m.group(1) + str(ROOT), _snippet())
    (repo / ".pre-commit-config.yaml").write_text(config)
    _run(repo, "git", "init", "-q", "-b", "main")
    _run(repo, "git", "add", "-A")
    assert _run(repo, "git", "commit", "-q", "-m", "contracts").returncode == 0
    return repo


def test_readme_snippet_names_a_rev_that_exists_and_real_hooks():
    snippet = _snippet()
    rev = re.search(r"(?m)^\s+rev: (\S+)", snippet).group(1)
    if (ROOT / ".git").exists() and shutil.which("git"):
        found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True)
        assert found.returncode == 0, f"rev {rev} is not a commit of this repository"
        hooks = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:.pre-commit-hooks.yaml"], capture_output=True, text=True)
        assert hooks.returncode == 0
        for hook in re.findall(r"(?m)^\s+- id: (\S+)", snippet):
            assert f"- id: {hook}\n" in hooks.stdout, hook


def test_a_commit_that_changes_only_evidence_runs_the_hook_and_fails_on_a_bad_date(contracts_repo: Path):
    claims = contracts_repo / "contracts" / "kbop" / "evidence" / "claims.csv"
    claims.write_text(claims.read_text().replace("2025-05-01", "01/05/2025"))
    _run(contracts_repo, "git", "add", str(claims))
    result = _run(contracts_repo, sys.executable, "-m", "pre_commit", "run")  # the staged files, as on `git commit`
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BAD_DATE" in result.stdout and "contracts/kbop/evidence/claims.csv:2:" in result.stdout


def test_try_repo_at_the_snippets_rev_passes_good_evidence_and_fails_bad(contracts_repo: Path):
    rev = re.search(r"(?m)^\s+rev: (\S+)", _snippet()).group(1)
    changed = "contracts/kbop/evidence/claims.csv"
    args = (sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "sob-validate", "--ref", rev, "--files", changed)
    good = _run(contracts_repo, *args)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "sob validate" in good.stdout and "Passed" in good.stdout
    claims = contracts_repo / changed
    claims.write_text(claims.read_text().replace("P1,ENTRY", "P9,ENTRY"))  # a participant not in the register
    bad = _run(contracts_repo, *args)
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert f"{changed}:2:" in bad.stdout
