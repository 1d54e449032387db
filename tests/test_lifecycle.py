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


# --------------------------------------------------------------------------
# sob explain: how the restatement bears on one claim


def test_explain_shows_how_the_contract_edit_restates_a_closed_claim(tmp_path):
    """c1 was closed in 2020-Q1 at 400.00; at 450.00 it is restated by 50.00. c3 (2020-Q2) is not restated."""
    _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    before = ["explain", tmp_path / "contract.toml", "--quarter", "2020-Q2", "--ledger", tmp_path / "L"]
    code, out, err = _sob(*before, "--claim", "c1")
    assert code == 0, err
    assert "Contract change" not in out  # unchanged contract: nothing to say
    _raise_price(tmp_path)
    code, out, err = _sob(*before, "--claim", "c1")
    assert code == 0, err
    text = " ".join(out.split())
    assert "differs from the one 2020-Q1 was closed with" in text
    assert "was £400.00 under that contract and is £450.00 under this one: restated by £50.00" in text
    code, out, err = _sob(*before, "--claim", "c3")
    assert code == 0, err
    assert "this row's closed amounts are not restated" in " ".join(out.split())


def test_explain_names_a_restatement_of_a_payer_part_alone(tmp_path):
    """A split moved from 0.7/0.3 to 0.6/0.4: c1's entitled stays 400.00 but its parts move."""
    contract = _case(tmp_path)
    assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
    text = contract.read_text(encoding="utf-8")
    contract.write_text(text.replace("share = 0.7", "share = 0.6").replace("share = 0.3", "share = 0.4"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "sob", "explain", str(contract), "--quarter", "2020-Q2", "--ledger", str(tmp_path / "L"),
         "--claim", "c1"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200"), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "restated by £0.00 (a payer's part moved)" in " ".join(proc.stdout.split())


# --------------------------------------------------------------------------
# a close killed at random points of its writing


#: claims of the killed close: Q.csv is a few hundred kB, so its writing takes a measurable time
N_KILL = 8_000


def _many_claims(folder: Path, n: int) -> None:
    """``n`` claims of outcome P (c0 … c{n-1}), half submitted in 2020-Q1 and half in 2020-Q2: Q.csv is large enough
    that writing the close takes a while, so kills land inside it."""
    rows = [(f"c{i}", f"p{i}", "P", date(2020, 1 + 3 * (i % 2), 5), date(2020, 1 + 3 * (i % 2), 10)) for i in range(n)]
    write_claims(folder / "claims.csv", rows)


def _ledger_state(ledger: Path) -> dict[str, bytes]:
    return {str(p.relative_to(ledger)): p.read_bytes() for p in sorted(ledger.rglob("*")) if p.is_file()}


def _names(ledger: Path) -> list[str]:
    """The ledger's files (not folders), as _ledger_state names them, without reading them."""
    return [str(p.relative_to(ledger)) for p in ledger.rglob("*") if p.is_file()]


def _write_window(folder: Path) -> float:
    """Seconds from the first new file in the ledger to the close's manifest, in an uninterrupted close (calibration)."""
    import time

    ledger = folder / "L"
    known = set(_ledger_state(ledger))
    manifest = ledger / "t" / "2020-Q2.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sob", "pay", str(folder / "contract.toml"), "--quarter", "2020-Q2", "--ledger",
         str(ledger), "--close", "--accept-contract-change"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    first = done = None
    while proc.poll() is None and done is None:
        if first is None and set(_names(ledger)) - known:
            first = time.monotonic()
        if manifest.exists():
            done = time.monotonic()
        time.sleep(0.0005)
    proc.wait(timeout=60)
    assert proc.returncode == 0
    return max((done or time.monotonic()) - (first or 0.0), 0.001) if first else 0.05


@pytest.fixture(scope="module")
def kill_case(tmp_path_factory):
    """A ledger with 2020-Q1 closed at 400.00, the price then raised to 450.00; and how long a close of 2020-Q2 writes."""
    folder = tmp_path_factory.mktemp("kill")
    _case(folder)
    _many_claims(folder, N_KILL)
    assert _pay(folder, "2020-Q1", "--close")[0] == 0
    _raise_price(folder)
    probe = tmp_path_factory.mktemp("probe")
    import shutil

    shutil.copytree(folder, probe, dirs_exist_ok=True)
    return folder, _write_window(probe)


@pytest.mark.parametrize("seed", range(8))
def test_a_close_killed_at_a_random_point_of_writing_leaves_the_ledger_before_or_closed(kill_case, tmp_path, seed):
    """SIGKILL a random moment after the close starts writing: 2020-Q2 is closed completely, or not at all and
    every earlier file is byte for byte as it was; `ledger verify` passes either way and the close can be rerun."""
    import random
    import shutil
    import time

    source, window = kill_case
    shutil.copytree(source, tmp_path, dirs_exist_ok=True)
    ledger = tmp_path / "L"
    before = _ledger_state(ledger)
    delay = random.Random(seed).uniform(0, window * 1.5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sob", "pay", str(tmp_path / "contract.toml"), "--quarter", "2020-Q2", "--ledger",
         str(ledger), "--close", "--accept-contract-change"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    while proc.poll() is None and not set(_names(ledger)) - set(before):
        time.sleep(0.0005)
    time.sleep(delay)
    proc.kill()
    proc.wait(timeout=60)
    after = _ledger_state(ledger)
    assert {k: after.get(k) for k in before} == before  # what was closed before is never touched
    assert _sob("ledger", "verify", ledger)[0] == 0  # leftovers of a kill are warnings, never damage
    closed = sob_ledger.closed_quarters(ledger, "t")
    if closed == ["2020-Q1", "2020-Q2"]:  # fully closed: its copy, table and manifest agree
        manifest = _manifest(tmp_path, "2020-Q2")
        assert manifest["contract_change"]["restated_rows"] == N_KILL // 2  # type: ignore[index]
        assert "price = 450" in (ledger / "t" / "2020-Q2.contract.toml").read_text(encoding="utf-8")
        assert _pay(tmp_path, "2020-Q2", "--close", "--accept-contract-change")[0] == 1  # already closed
    else:
        assert closed == ["2020-Q1"]
        code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--accept-contract-change")
        assert code == 0, err
    # either way the two closes paid every claim exactly 450.00: nothing is due later
    code, out, _ = _pay(tmp_path, "2020-Q3", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["previously_paid"] == f"{N_KILL * 450}.00"
    assert json.loads(out)["totals"]["due"] == "0.00"


# --------------------------------------------------------------------------
# every refusal names the command that would proceed: run it


def _named_commands(err: str) -> list[list[str]]:
    """The `sob pay …` commands a refusal names, as argument lists (the placeholder FILE left out)."""
    import shlex

    text = " ".join(err.split())
    return [shlex.split(c)[1:] for c in re.findall(r"`(sob pay [^`]+)`", text) if "FILE" not in c]


def _wide(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("refusal", ["contract change", "gap", "opening needed", "opening on a closed ledger",
                                     "already closed", "earlier quarter"])
def test_every_refusal_names_a_command_that_proceeds(tmp_path, refusal):
    """Each refusal exits 1 (2 for a usage error), writes nothing, and the `sob pay` command it names succeeds."""
    _case(tmp_path)
    contract, ledger = tmp_path / "contract.toml", tmp_path / "L"
    base = ["pay", contract, "--ledger", ledger]
    if refusal == "opening needed":
        args, expected = [*base, "--quarter", "2020-Q2", "--close"], 1
    else:
        assert _pay(tmp_path, "2020-Q1", "--close")[0] == 0
        assert _pay(tmp_path, "2020-Q2", "--close")[0] == 0
        args, expected = {
            "contract change": ([*base, "--quarter", "2020-Q3", "--close"], 1),
            "gap": ([*base, "--quarter", "2021-Q1", "--close"], 1),
            "opening on a closed ledger": ([*base, "--quarter", "2020-Q3", "--close", "--opening", "none"], 2),
            "already closed": ([*base, "--quarter", "2020-Q2", "--close"], 1),
            "earlier quarter": ([*base, "--quarter", "2020-Q1", "--close"], 1),
        }[refusal]
        if refusal == "contract change":
            _raise_price(tmp_path)
    before = _ledger_state(ledger)
    code, _, err = _wide(*args)
    assert code == expected, err
    assert _ledger_state(ledger) == before
    commands = _named_commands(err)
    assert commands, err
    code, _, err = _wide(*commands[-1])
    assert code == 0, (commands[-1], err)


EDITS = st.tuples(
    st.integers(min_value=0, max_value=900),  # P's price
    st.sampled_from([0.5, 0.6, 0.7]),  # LA's share (CF has the rest)
    st.sampled_from([None, 500, 900, 2000]),  # the total cap
    st.sampled_from([None, -100, 250]),  # an adjustment agreed on 2020-02-15
)


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=2, max_size=4))
def test_any_edits_accepted_with_the_flag_pay_exactly_the_final_entitled_per_payer(tmp_path_factory, edits):
    """Prices, shares, the total cap and an adjustment edited before each close of 2020-Q1 … 2020-Q4: what the closes
    paid adds up to the last close's entitled, in total and for each payer. Without cap or adjustment at the end,
    that is 3 claims × the last price (c1, c2, c3 are all in scope by then)."""
    folder = tmp_path_factory.mktemp("anyedits")
    write_claims(folder / "claims.csv", CLAIMS)
    (folder / "L").mkdir()
    dues: dict[str, int] = {"": 0, "LA": 0, "CF": 0}
    data: dict[str, object] = {}

    def cents(text: str) -> int:
        return int(Decimal(text) * 100)

    for quarter, (price, la, cap, adjustment) in zip(["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4"], edits, strict=False):
        extra: dict[str, object] = {}
        if cap is not None:
            extra["caps"] = {"total": cap}
        if adjustment is not None:
            extra["adjustments"] = [{"id": "a1", "on": date(2020, 2, 15), "amount": adjustment, "reason": "agreed"}]
        make_contract(folder, payers=[{"id": "LA", "share": la}, {"id": "CF", "share": round(1 - la, 1)}],
                      outcomes=[{"id": "P", "price": price}], evidence={"claims": "claims.csv"}, **extra)
        code, out, err = _pay(folder, quarter, "--close", "--accept-contract-change", "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        dues[""] += cents(data["totals"]["due"])  # type: ignore[index]
        for p in data["by_payer"]:  # type: ignore[attr-defined]
            dues[p["payer_id"]] += cents(p["due"])
    assert dues[""] == cents(data["totals"]["entitled"])  # type: ignore[index]
    assert {p["payer_id"]: cents(p["entitled"]) for p in data["by_payer"]} == {"LA": dues["LA"], "CF": dues["CF"]}  # type: ignore[attr-defined]
    price, _, cap, adjustment = edits[-1]
    if cap is None and adjustment is None and len(edits) >= 2:
        assert dues[""] == 3 * price * 100


def test_opening_ids_that_look_like_formulas_or_hold_quotes_survive_the_ledger(tmp_path):
    """Ids starting with = or + and one holding a quote and a comma: opening.csv escapes them, later runs read them
    back exactly. =c1 (2020-Q1) was paid 400.00 before sob, "q,1" 100.00 of its 400.00; +c2 nothing."""
    write_claims(tmp_path / "claims.csv", [("=c1", "A", "P", date(2020, 1, 5), date(2020, 1, 10)),
                                           ("+c2", "B", "P", date(2020, 4, 5), date(2020, 4, 10)),
                                           ('"q,1"', "C", "P", date(2020, 4, 5), date(2020, 4, 10))])
    (tmp_path / "L").mkdir()
    make_contract(tmp_path, payers=PAYERS, outcomes=[{"id": "P", "price": 400}], evidence={"claims": "claims.csv"})
    opening = _opening(tmp_path, 'claim_id,paid\n=c1,400.00\n"""q,1""",100\n   ,5\n')
    code, _, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", opening)
    assert code == 1 and "MISSING_VALUE" in err and "opening.csv:4:1" in err  # a blank id is no id
    assert not (tmp_path / "L" / "t").exists()
    opening = _opening(tmp_path, 'claim_id,paid\n=c1,400.00\n"""q,1""",100\n')
    code, out, err = _pay(tmp_path, "2020-Q2", "--close", "--opening", opening, "--format", "json")
    assert code == 0, err
    assert (json.loads(out)["totals"]["previously_paid"], json.loads(out)["totals"]["due"]) == ("500.00", "700.00")
    assert (tmp_path / "L/t/opening.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        '"""q,1""",100.00,70.00,30.00', "'=c1,400.00,280.00,120.00"]
    code, out, _ = _pay(tmp_path, "2020-Q3", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["previously_paid"] == "1200.00"
    assert json.loads(out)["totals"]["due"] == "0.00"
    assert _sob("ledger", "verify", tmp_path / "L")[0] == 0


@pytest.mark.parametrize("extra", [[], ["--reject-invalid"]])
def test_a_close_with_an_adjustment_id_equal_to_a_claim_id_writes_nothing(tmp_path, extra):
    """Adjustment c2 clashes with claim c2 (DUPLICATE_ID): the close is refused, with or without --reject-invalid,
    and neither the ledger nor the export is written."""
    write_claims(tmp_path / "claims.csv", CLAIMS)
    (tmp_path / "L").mkdir()
    make_contract(tmp_path, payers=PAYERS, outcomes=[{"id": "P", "price": 400}], evidence={"claims": "claims.csv"},
                  adjustments=[{"id": "c2", "on": date(2020, 2, 15), "amount": 100, "reason": "agreed"}])
    export = tmp_path / "q1.csv"
    code, _, err = _pay(tmp_path, "2020-Q1", "--close", "--export", export, *extra)
    assert code == 1 and "DUPLICATE_ID" in err and "claims.csv:3" in err, err
    assert list((tmp_path / "L").iterdir()) == [] and not export.exists()


# --------------------------------------------------------------------------
# sob schema: adjustments and schedules (SPEC 10.5, 10.6), accepted and refused as `sob validate` does


ADJUSTED = """schema = "sob/1"
[contract]
id = "t"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2022-12-31
[caps]
total = [{ from = 2020-01-01, amount = 1000 }, { from = 2021-01-01, amount = 2000 }]
[[payers]]
id = "LA"
share = 0.7
[[payers]]
id = "CF"
share = 0.3
[[outcomes]]
id = "P"
price = 400
[[adjustments]]
id = "a1"
on = 2020-06-30
amount = -971234.00
reason = "payment on profile"
payers = { LA = 0.704, CF = 0.296 }
"""


@pytest.mark.parametrize(("old", "new"), [
    ("amount = -971234.00", "amount = 0"),
    ('reason = "payment on profile"\n', ""),
    ('reason = "payment on profile"', 'reson = "payment on profile"'),
    ("on = 2020-06-30", 'on = "soon"'),
    ('id = "a1"', 'id = ""'),
    ("{ from = 2021-01-01, amount = 2000 }", "{ from = 2021-01-01, count = 2000 }"),
    ("{ from = 2021-01-01, amount = 2000 }", "{ amount = 2000 }"),
])
def test_the_schema_and_the_checks_refuse_bad_adjustments_and_schedules(old, new):
    from jsonschema import Draft202012Validator

    from sob.contract.load import check_contract_text
    from sob.schema import contract_json_schema, contract_to_json_compatible

    def errors(text: str) -> list[str]:
        document = contract_to_json_compatible(tomllib.loads(text, parse_float=Decimal))
        return [e.message for e in Draft202012Validator(contract_json_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(document)]

    assert errors(ADJUSTED) == []
    assert check_contract_text(ADJUSTED, Path("c.toml"))[0] is not None
    assert old in ADJUSTED
    broken = ADJUSTED.replace(old, new, 1)
    assert errors(broken), f"schema accepted: {new!r}"
    contract, findings = check_contract_text(broken, Path("c.toml"))
    assert contract is None and findings


def test_an_opening_in_a_preview_counts_and_writes_nothing(tmp_path):
    """Without --close, --opening previews the first close: c1's 400.00 counts as paid, the ledger stays empty."""
    _case(tmp_path)
    opening = _opening(tmp_path, "claim_id,paid\nc1,400.00\n")
    code, out, err = _pay(tmp_path, "2020-Q2", "--opening", opening, "--format", "json")
    assert code == 0, err
    assert (json.loads(out)["totals"]["previously_paid"], json.loads(out)["totals"]["due"]) == ("400.00", "800.00")
    assert list((tmp_path / "L").iterdir()) == []
