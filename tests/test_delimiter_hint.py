"""A file read with the wrong configured delimiter says so (issue 16: "a ;-delimited export gets a
poor hint"): the missing columns point at the delimiter, not at adding columns.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

from conftest import make_contract

from sob.evidence.header import _delimiter_hint


def test_a_semicolon_export_read_with_a_comma_names_the_delimiter_to_set(tmp_path):
    (tmp_path / "claims.csv").write_text("claim_id;participant_id;outcome_id;achieved_on\nc1;A;P;2020-02-01\n",
                                         encoding="utf-8")
    make_contract(tmp_path, evidence={"claims": "claims.csv", "delimiter": ","})
    done = subprocess.run([sys.executable, "-m", "sob", "validate", "contract.toml"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    hints = [ln for ln in done.stdout.splitlines() if ln.startswith("  hint: ")]
    assert len(hints) == 4  # one per missing required column
    assert all('the file looks semicolon-delimited; set delimiter = ";" under [evidence]' in h for h in hints), hints
    # without the key the delimiter is detected and the file is read
    make_contract(tmp_path, evidence={"claims": "claims.csv"})
    done = subprocess.run([sys.executable, "-m", "sob", "validate", "contract.toml"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_hint_writes_a_delimiter_the_contract_accepts():
    hint = _delimiter_hint("outcome_id", ["claim_id\tparticipant_id\toutcome_id"])
    assert hint is not None and "tab-delimited" in hint
    written = hint.split("set delimiter = ", 1)[1].split(" under", 1)[0]
    assert tomllib.loads(f"delimiter = {written}")["delimiter"] == "\t"
    assert _delimiter_hint("outcome_id", ["claim_id", "participant_id"]) is None  # a column really missing
    assert _delimiter_hint("outcome", ["claim_id;outcome_id"]) is None  # only a whole name counts
