"""A contract through its life (SPEC 10.1 change guard, 10.4 quarter gaps), through real files and `sob`.

Contract ``t`` (GBP, calendar quarters) has payers LA 0.7 and CF 0.3 and one
outcome P at 400.00.  Claims c1 and c2 are submitted in 2020-Q1, c3 in
2020-Q2.  Every figure below is worked out by hand: raising P to 450.00
after the close of 2020-Q1 restates c1 and c2 by 50.00 each (100.00; LA
35.00 each, CF 15.00 each).
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import make_contract, write_claims
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sob import ledger as sob_ledger
from sob.cli import app
from sob.lifecycle import skipped_quarters
from sob.quarters import Quarter

ROOT = Path(__file__).parent.parent
PAYERS = [{"id": "LA", "share": 0.7}, {"id": "CF", "share": 0.3}]
CLAIMS = [
    ("c1", "A", "P", date(2020, 1, 5), date(2020, 1, 10)),
    ("c2", "B", "P", date(2020, 2, 5), date(2020, 2, 10)),
    ("c3", "C", "P", date(2020, 4, 5), date(2020, 4, 10)),
]


def _case(folder: Path, price: int | str = 400) -> Path:
    write_claims(folder / "claims.csv", CLAIMS)
    (folder / "L").mkdir(exist_ok=True)
    return make_contract(folder, payers=PAYERS, outcomes=[{"id": "P", "price": price}],
                         evidence={"claims": "claims.csv"})


def _sob(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _pay(folder: Path, quarter: str, *extra: object) -> tuple[int, str, str]:
    return _sob("pay", folder / "contract.toml", "--quarter", quarter, "--ledger", folder / "L", *extra)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "L" / "t").iterdir())}


def _manifest(folder: Path, quarter: str) -> dict[str, object]:
    return tomllib.loads((folder / "L" / "t" / f"{quarter}.toml").read_text(encoding="utf-8"))


def _raise_price(folder: Path, price: str = "450") -> None:
    path = folder / "contract.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("price = 400", f"price = {price}"), encoding="utf-8")


# --------------------------------------------------------------------------
# 10.1: the copy of the contract, and its verification


def test_every_close_keeps_a_byte_copy_of_the_contract_that_verify_checks(tmp_path):
    contract = _case(tmp_path)
    code, _, err = _pay(tmp_path, "2020-Q1", "--close")
    assert code == 0, err
    copy = tmp_path / "L" / "t" / "2020-Q1.contract.toml"
    assert copy.read_bytes() == contract.read_bytes()
    manifest = _manifest(tmp_path, "2020-Q1")
    assert manifest["contract_copy"] == "2020-Q1.contract.toml"
    assert manifest["hashes"]["contract"] == sob_ledger.sha256_file(contract)  # type: ignore[index]
    assert manifest["period_end"] == date(2020, 3, 31)
    assert "contract_change" not in manifest and "skipped" not in manifest
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0

    copy.write_bytes(copy.read_bytes() + b"# edited\n")
    code, _, err = _sob("ledger", "verify", tmp_path / "L")
    assert code == 1 and "LEDGER_CHANGED" in err and "2020-Q1.contract.toml" in err

    copy.unlink()
    code, _, err = _sob("ledger", "verify", tmp_path / "L")
    assert code == 1 and "LEDGER_REMOVED" in err and "2020-Q1.contract.toml" in err


def test_a_quarter_closed_before_copies_existed_is_not_reported_for_lacking_one(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    _drop_copy(tmp_path, "2020-Q1")
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0


def _drop_copy(folder: Path, quarter: str) -> None:
    """Make a close look like one written before copies existed (the latest manifest has no successor)."""
    cdir = folder / "L" / "t"
    (cdir / f"{quarter}.contract.toml").unlink()
    manifest = cdir / f"{quarter}.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith(("contract_copy", "period_end"))) + "\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------
# 10.1: the change guard


def test_a_price_raised_after_a_close_is_warned_in_a_preview(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    _raise_price(tmp_path)
    code, out, err = _pay(tmp_path, "2020-Q2", "--format", "json")
    assert code == 0, err
    assert "restates 2 closed row(s), net 100.00" in err and "c1, c2" in err and "--accept-contract-change" in err
    change = json.loads(out)["contract_change"]
    assert change == {
        "since": "2020-Q1",
        "previous_contract_sha256": sob_ledger.sha256_bytes((tmp_path / "L/t/2020-Q1.contract.toml").read_bytes()),
        "restated_rows": 2,
        "restated_amount": "100.00",
        "by_outcome": [{"outcome_id": "P", "restated_rows": 2, "restated_amount": "100.00"}],
        "claim_ids": ["c1", "c2"],
    }


def test_the_close_is_refused_and_writes_nothing_until_the_change_is_accepted(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    before = _files(tmp_path)
    _raise_price(tmp_path)
    export = tmp_path / "out.csv"
    code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--export", export)
    assert code == 1
    assert "restates 2 closed row(s)" in err and "--accept-contract-change" in err and "nothing was written" in err
    assert _files(tmp_path) == before and not export.exists()

    code, out, err = _pay(tmp_path, "2020-Q2", "--close", "--accept-contract-change", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    # c1, c2: 450 - 400 back-pay each; c3: 450 new
    assert data["totals"]["due"] == "550.00"
    assert data["contract_change"]["restated_amount"] == "100.00"
    manifest = _manifest(tmp_path, "2020-Q2")
    assert manifest["contract_change"] == {
        "since": "2020-Q1",
        "previous_contract_sha256": sob_ledger.sha256_bytes(before["2020-Q1.contract.toml"]),
        "restated_rows": 2,
        "restated_amount": "100.00",
    }
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0


def test_a_payer_split_change_alone_restates_rows(tmp_path):
    contract = _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    text = contract.read_text(encoding="utf-8")
    contract.write_text(text.replace("share = 0.7", "share = 0.6").replace("share = 0.3", "share = 0.4"), encoding="utf-8")
    code, out, _ = _pay(tmp_path, "2020-Q2", "--format", "json")
    change = json.loads(out)["contract_change"]
    assert code == 0 and change["restated_rows"] == 2 and change["restated_amount"] == "0.00"
    assert _pay(tmp_path, "2020-Q2", "--close")[0] == 1


def test_a_comment_only_edit_passes_with_a_notice_and_is_recorded(tmp_path):
    contract = _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    contract.write_text(contract.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    code, out, err = _pay(tmp_path, "2020-Q2", "--close", "--format", "json")
    assert code == 0, err
    assert "contract changed since 2020-Q1; no closed amount changes" in err
    assert json.loads(out)["contract_change"] == {
        "since": "2020-Q1", "previous_contract_sha256": _manifest(tmp_path, "2020-Q1")["hashes"]["contract"],  # type: ignore[index]
        "restated_rows": 0, "restated_amount": "0.00", "by_outcome": [], "claim_ids": [],
    }
    assert _manifest(tmp_path, "2020-Q2")["contract_change"]["restated_rows"] == 0  # type: ignore[index]


def test_accepting_a_change_that_is_not_there_is_a_notice(tmp_path):
    _case(tmp_path)
    code, out, err = _pay(tmp_path, "2020-Q1", "--close", "--accept-contract-change", "--format", "json")
    assert code == 0 and "notice" in err and json.loads(out)["contract_change"] is None
    code, out, err = _pay(tmp_path, "2020-Q2", "--close", "--accept-contract-change", "--format", "json")
    assert code == 0 and "unchanged since 2020-Q1" in err and json.loads(out)["contract_change"] is None
    assert "contract_change" not in _manifest(tmp_path, "2020-Q2")


def test_contract_change_is_absent_without_a_ledger_and_the_flags_need_one(tmp_path):
    contract = _case(tmp_path)
    code, out, _ = _sob("pay", contract, "--quarter", "2020-Q1", "--format", "json")
    assert code == 0 and "contract_change" not in json.loads(out)
    for flag in ("--accept-contract-change", "--allow-gap"):
        code, _, err = _sob("pay", contract, "--quarter", "2020-Q1", flag)
        assert code == 2 and f"{flag} needs --ledger" in err


def test_a_ledger_without_copies_is_compared_with_the_closed_entitled(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    _drop_copy(tmp_path, "2020-Q1")
    _raise_price(tmp_path, "380")
    code, out, _ = _pay(tmp_path, "2020-Q2", "--format", "json")
    change = json.loads(out)["contract_change"]
    assert code == 0 and change["restated_rows"] == 2 and change["restated_amount"] == "-40.00"


def test_a_removed_outcome_restates_its_rows_under_the_old_outcome(tmp_path):
    contract = _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    contract.write_text(contract.read_text(encoding="utf-8").replace('id = "P"', 'id = "Q"'), encoding="utf-8")
    code, out, _ = _pay(tmp_path, "2020-Q2", "--reject-invalid", "--format", "json")
    change = json.loads(out)["contract_change"]
    assert code == 0, out
    assert change["by_outcome"] == [{"outcome_id": "P", "restated_rows": 2, "restated_amount": "-800.00"}]


# --------------------------------------------------------------------------
# 10.4: quarter gaps


def test_a_close_that_skips_quarters_is_refused_unless_allowed(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    before = _files(tmp_path)
    code, _, err = _pay(tmp_path, "2020-Q4", "--close")
    assert code == 1 and "2020-Q2, 2020-Q3" in err and "--allow-gap" in err and "nothing was written" in err
    assert _files(tmp_path) == before
    assert _pay(tmp_path, "2020-Q4")[0] == 0  # a preview is never refused for a gap
    code, _, err = _pay(tmp_path, "2020-Q4", "--close", "--allow-gap")
    assert code == 0, err
    assert _manifest(tmp_path, "2020-Q4")["skipped"] == ["2020-Q2", "2020-Q3"]
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0
    code, _, err = _pay(tmp_path, "2021-Q1", "--close", "--allow-gap")
    assert code == 0 and "skipped" not in _manifest(tmp_path, "2021-Q1")


def test_refusals_are_reported_together(tmp_path):
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    _raise_price(tmp_path)
    code, _, err = _pay(tmp_path, "2020-Q3", "--close")
    assert code == 1 and "--allow-gap" in err and "--accept-contract-change" in err


def test_a_first_close_skips_nothing():
    assert skipped_quarters(None, Quarter(2021, 3)) == []
    assert skipped_quarters(Quarter(2020, 4), Quarter(2021, 1)) == []
    assert skipped_quarters(Quarter(2020, 3), Quarter(2021, 2)) == [Quarter(2020, 4), Quarter(2021, 1)]


# --------------------------------------------------------------------------
# properties


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prices=st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=3))
def test_edits_accepted_with_the_flag_pay_exactly_the_final_entitled(tmp_path_factory, prices):
    """Under any sequence of price edits accepted at each close, the dues add up to the final entitled."""
    folder = tmp_path_factory.mktemp("edits")
    contract = _case(folder)
    quarters = ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4"][: len(prices) + 1]
    dues = []
    for i, quarter in enumerate(quarters):
        if i:
            text = contract.read_text(encoding="utf-8")
            contract.write_text(re.sub(r"price = \d+", f"price = {prices[i - 1]}", text), encoding="utf-8")
        code, out, err = _pay(folder, quarter, "--close", "--accept-contract-change", "--format", "json")
        assert code == 0, err
        dues.append(int(json.loads(out)["totals"]["due"].replace(".", "")))
    assert sum(dues) == 3 * prices[-1] * 100


def test_an_unchanged_contract_never_has_a_change(tmp_path):
    _case(tmp_path)
    for quarter in ("2020-Q1", "2020-Q2"):
        code, out, _ = _pay(tmp_path, quarter, "--close", "--format", "json")
        assert code == 0 and json.loads(out)["contract_change"] is None


# --------------------------------------------------------------------------
# a killed close


@pytest.mark.parametrize(
    "stage", ["table-written", "contract-copied", "opening.csv-written", "opening.toml-written", "closed"]
)
def test_a_close_killed_while_writing_leaves_the_ledger_before_or_closed(tmp_path, stage):
    """SIGKILL at every step of a first close with an opening: the ledger is as before, or fully closed."""
    _case(tmp_path)
    ledger = tmp_path / "L"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sob", "pay", str(tmp_path / "contract.toml"), "--quarter", "2020-Q2",
         "--ledger", str(ledger), "--close", "--opening", "none"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT), SOB_TEST_PAUSE_AT=stage),
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert f"test pause at {stage}" in line, line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    closed = sob_ledger.closed_quarters(ledger, "t")
    assert _sob("ledger", "verify", ledger)[0] == 0  # leftovers of a kill are warnings, never damage
    if closed:
        assert stage == "closed" and (ledger / "t" / "2020-Q2.contract.toml").exists()
        assert (ledger / "t" / "opening.toml").exists()
    else:
        assert stage != "closed"
    code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", "none")
    assert code == (2 if closed else 0), err  # closed: --opening on a ledger with a close is a usage error
    assert sob_ledger.closed_quarters(ledger, "t") == ["2020-Q2"]
    assert _sob("ledger", "verify", ledger)[0] == 0


# --------------------------------------------------------------------------
# 10.3: the opening balance (contract ``t`` starts 2020-01-01, so 2020-Q2 is a first close mid-life)


def _opening(folder: Path, text: str) -> Path:
    path = folder / "opening.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_first_close_mid_life_needs_an_opening(tmp_path):
    _case(tmp_path)
    code, _, err = _pay(tmp_path, "2020-Q2")
    assert code == 0 and "will need --opening FILE" in err
    code, _, err = _pay(tmp_path, "2020-Q2", "--close")
    assert code == 1 and "--opening FILE" in err and "--opening none" in err and "nothing was written" in err
    assert not (tmp_path / "L" / "t").exists()
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0  # the contract's first quarter needs none


def test_opening_none_is_recorded_and_chained(tmp_path):
    _case(tmp_path)
    code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", "none")
    assert code == 0, err
    cdir = tmp_path / "L" / "t"
    assert (cdir / "opening.csv").read_text(encoding="utf-8") == "claim_id,paid,paid_LA,paid_CF\n"
    opening = tomllib.loads((cdir / "opening.toml").read_text(encoding="utf-8"))
    assert opening == {"contract": "t", "precedes": "2020-Q2", "rows": 0, "paid": "0.00",
                       "opening_sha256": sob_ledger.sha256_bytes((cdir / "opening.csv").read_bytes()),
                       "paid_by_payer": {"LA": "0.00", "CF": "0.00"}}
    manifest = _manifest(tmp_path, "2020-Q2")
    assert manifest["hashes"]["previous_manifest"] == sob_ledger.sha256_bytes((cdir / "opening.toml").read_bytes())  # type: ignore[index]
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0
    (cdir / "opening.csv").write_text("claim_id,paid,paid_LA,paid_CF\nc1,1.00,0.70,0.30\n", encoding="utf-8")
    code, _, err = _sob("ledger", "verify", tmp_path / "L")
    assert code == 1 and "LEDGER_CHANGED" in err and "opening.csv" in err
    (cdir / "opening.toml").unlink()
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 1


def test_what_was_paid_before_is_never_paid_again(tmp_path):
    _case(tmp_path)
    opening = _opening(tmp_path, "claim_id,paid\nc1,400.00\nc2,100.00\nold-9,50.00\n")
    export = tmp_path / "q2.csv"
    code, out, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", opening, "--export", export, "--format", "json")
    assert code == 0, err
    # entitled 1200.00 (c1, c2, c3 at 400); paid before 550.00; old-9 is missing from the evidence: due -50.00
    assert json.loads(out)["totals"]["previously_paid"] == "550.00"
    assert json.loads(out)["totals"]["due"] == "650.00"
    with export.open(encoding="utf-8") as fh:
        rows = {r["claim_id"]: r for r in csv.DictReader(fh)}
    assert (rows["c1"]["due"], rows["c2"]["due"], rows["c3"]["due"]) == ("0.00", "300.00", "400.00")
    # 100.00 split 0.7 / 0.3 as c2's outcome's shares: LA 70.00, CF 30.00
    assert (rows["c2"]["due_LA"], rows["c2"]["due_CF"]) == ("210.00", "90.00")
    assert (rows["old-9"]["reason"], rows["old-9"]["due"], rows["old-9"]["kind"]) == ("MISSING_FROM_EVIDENCE", "-50.00", "claim")
    assert (tmp_path / "L/t/opening.csv").read_text(encoding="utf-8").splitlines() == [
        "claim_id,paid,paid_LA,paid_CF", "c1,400.00,280.00,120.00", "c2,100.00,70.00,30.00", "old-9,50.00,35.00,15.00",
    ]
    # a later run still counts the opening: nothing more is due
    code, out, _ = _pay(tmp_path, "2020-Q3", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["due"] == "0.00"
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0


@pytest.mark.parametrize(("text", "code", "where"), [
    ("claim_id,paid,paid_LA,paid_CF\nc1,400.00,300.00,120.00\n", "BAD_NUMBER", ":2:"),
    ("claim_id,paid\nc1,400.00\nc1,300.00\n", "DUPLICATE_ID", ":3:"),
    ("claim_id,paid,paid_LA\nc1,400.00,400.00\n", "MISSING_COLUMN", ":1"),
    ("claim_id,paid\nc1,4OO\n", "BAD_NUMBER", ":2:2"),  # the column of a CSV finding is its field, as in evidence
    ("claim_id,paid\nc1,400.001\n", "BAD_NUMBER", ":2:"),
    ("claim_id,paid\n,400.00\n", "MISSING_VALUE", ":2:1"),
    ("claim_id,paid\nc1\n", "BAD_ROW_LENGTH", ":2"),
    ("claim_id,claim_id,paid\nc1,c1,1\n", "DUPLICATE_COLUMN", ":1"),
    ("id,paid\nc1,1\n", "MISSING_COLUMN", ":1"),
])
def test_a_bad_opening_file_stops_the_run_and_writes_nothing(tmp_path, text, code, where):
    _case(tmp_path)
    opening = _opening(tmp_path, text)
    for extra in ([], ["--close"]):
        status, _, err = _pay(tmp_path, "2020-Q2", *extra, "--opening", opening)
        assert status == 1 and code in err and f"opening.csv{where}" in err, err
    assert not (tmp_path / "L" / "t").exists()


def test_identical_opening_rows_are_one_row_with_a_warning(tmp_path):
    _case(tmp_path)
    opening = _opening(tmp_path, "claim_id,paid\nc1,400.00\nc1,400.00\n")
    code, out, err = _pay(tmp_path, "2020-Q2", "--opening", opening, "--format", "json")
    assert code == 0 and "DUPLICATE_ROW" in err and json.loads(out)["totals"]["previously_paid"] == "400.00"


def test_opening_usage_errors(tmp_path):
    contract = _case(tmp_path)
    assert _sob("pay", contract, "--quarter", "2020-Q2", "--opening", "none")[0] == 2  # no ledger
    assert _pay(tmp_path, "2020-Q2", "--opening", tmp_path / "absent.csv")[0] == 2
    assert _pay(tmp_path, "2020-Q1", "--close", "--opening", "none")[0] == 0  # accepted on the first quarter too
    code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", "none")
    assert code == 2 and "only for the first close" in err


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paid=st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True, max_size=3),
       cents=st.integers(min_value=-50_000, max_value=50_000))
def test_an_opening_is_never_paid_again(tmp_path_factory, paid, cents):
    """Whatever the opening says was paid for a claim, previously_paid + due is the claim's entitled."""
    folder = tmp_path_factory.mktemp("opening")
    _case(folder)
    amount = f"{cents / 100:.2f}"
    opening = _opening(folder, "claim_id,paid\n" + "".join(f"{c},{amount}\n" for c in paid))
    export = folder / "q.csv"
    code, _, err = _pay(folder, "2020-Q2", "--close", "--opening", opening, "--export", export)
    assert code == 0, err
    with export.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            before = Decimal(amount) if row["claim_id"] in paid else Decimal(0)
            assert Decimal(row["previously_paid"]) == before
            assert Decimal(row["previously_paid"]) + Decimal(row["due"]) == Decimal(row["entitled"]) == Decimal(400)


def test_ledger_show_lists_openings_contract_changes_and_skipped_quarters(tmp_path):
    _case(tmp_path)
    opening = _opening(tmp_path, "claim_id,paid\nc1,400.00\n")
    assert _pay(tmp_path, "2020-Q2", "--close", "--opening", opening)[0] == 0
    _raise_price(tmp_path)
    assert _pay(tmp_path, "2020-Q4", "--close", "--allow-gap", "--accept-contract-change")[0] == 0
    code, out, _ = _sob("ledger", "show", tmp_path / "L", "--format", "json")
    q2, q4 = json.loads(out)
    assert q2["opening"] == {"precedes": "2020-Q2", "rows": 1, "paid": "400.00",
                             "paid_by_payer": {"LA": "280.00", "CF": "120.00"}}
    # paid to date counts what was paid before sob: 400.00 + due 800.00 (c2, c3 at 400.00)
    assert q2["paid_to_date"] == "1200.00" and q2["contract_change"] is None and q2["skipped"] == []
    # 450.00 for c1, c2, c3 restates them by 50.00 each as at the end of 2020-Q2
    assert q4["opening"] is None and q4["skipped"] == ["2020-Q3"]
    assert q4["contract_change"]["restated_rows"] == 3 and q4["contract_change"]["restated_amount"] == "150.00"
    assert q4["paid_to_date"] == "1350.00"
    code, out, _ = _sob("ledger", "show", tmp_path / "L")
    assert code == 0 and "opening balance 400.00" in out and "skipped 2020-Q3" in out and "150.00" in out
