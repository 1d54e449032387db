"""The two typing paths of ``sob.evidence`` (compact and detailed) give identical results.

The compact path (``sob.evidence.compact``) stays for speed on large clean files; the
detailed path (``sob.evidence.detailed``) says what and where for everything else.  Every
evidence file the evidence tests read goes through both (``evidence_paths.read_evidence``,
used by ``test_evidence.py`` and ``test_evidence_errors.py``); here the sample contracts'
files and generated files do too.  ``test_evidence.py`` also holds a property test of
mostly-clean generated files (``test_the_compact_read_matches_the_detailed_reading``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from evidence_paths import detailed_only, read_evidence, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sob.contract import load_contract
from sob.evidence import assemble
from sob.findings import UsageError
from sob.workflows import EvidencePaths, resolve_evidence

ROOT = Path(__file__).parent.parent
SAMPLES = sorted((ROOT / "sample_contracts").glob("*/contract.toml"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_every_sample_contracts_evidence_reads_the_same_both_ways(path, monkeypatch):
    contract, findings = load_contract(path)
    assert contract is not None, findings
    files = resolve_evidence(contract, EvidencePaths(), need_claims=True)
    used: list[bool] = []
    original = assemble.read_clean

    def spy(*args, **kwargs):
        got = original(*args, **kwargs)
        used.append(got is not None)
        return got

    monkeypatch.setattr(assemble, "read_clean", spy)
    ev = read_evidence(contract, files.claims, files.participants, files.results)
    assert any(used), "the compact path read none of the files: the comparison proves nothing"
    assert sum(f.rows for f in ev.files) > 0


HEADER = "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,amount_claimed,evidence_ref"
CELLS = {
    "claim_id": ["c1", "c2", "c3", "c1", "", "r1", "c\x00"],
    "participant_id": ["P1", "P2", "P9", "", " P1 "],
    "outcome_id": ["JOB", "JOB", "STAY", "job", "NOPE", "IMPROVE"],
    "achieved_on": ["2020-01-05", "2020-02-30", "5/1/2020", "", "2020-03-01"],
    "submitted_on": ["", "2020-01-01", "2020-04-01"],
    "status": ["", "claimed", "WITHDRAWN", "failed", "maybe"],
    "amount_claimed": ["", "10", "10.005", "-1", "1e3", "99999999999999999999"],
    "evidence_ref": ["", "x", '"a,b"', '"two\nlines"', "x"],
}


@st.composite
def claims_files(draw) -> str:
    n = draw(st.integers(0, 6))
    rows = [",".join(draw(st.sampled_from(v)) for v in CELLS.values()) for _ in range(n)]
    if rows and draw(st.booleans()):
        rows.append(draw(st.sampled_from(rows)))  # an exact repeat
    return HEADER + "\n" + "\n".join(rows) + "\n"


CONTRACT = """schema = "sob/1"
[contract]
id = "t"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2022-12-31
[[payers]]
id = "LA"
share = 1
[[outcomes]]
id = "JOB"
price = 100
[[outcomes]]
id = "STAY"
price = 200
[[outcomes]]
id = "IMPROVE"
kind = "improvement"
direction = "decrease"
price = 50
"""


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=claims_files(), with_register=st.booleans())
def test_generated_files_read_the_same_both_ways(tmp_path_factory, text, with_register):
    tmp = tmp_path_factory.mktemp("paths")
    (tmp / "contract.toml").write_text(CONTRACT)
    contract, findings = load_contract(tmp / "contract.toml")
    assert contract is not None, findings
    claims = tmp / "claims.csv"
    claims.write_text(text)
    register = None
    if with_register:
        register = tmp / "participants.csv"
        register.write_text("participant_id,enrolled_on\nP1,2019-01-01\nP2,2019-02-01\nP2,2019-02-01\n")
    # evidence_paths.read_evidence asserts the agreement (also on a refused file); compare once more here
    try:
        ev = read_evidence(contract, claims, register, None)
    except UsageError:
        return
    assert snapshot(ev)[:-1] == snapshot(detailed_only(contract, claims, register, None))[:-1]
