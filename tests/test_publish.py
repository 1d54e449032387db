"""``sob publish``: open data from the ledger, checked against a second reading of the ledger's files.

The expected figures are worked out here with the csv module and Decimal
from the closed Q.csv files (not with sob's code); the suppression of the
published files is checked by the independent attacker of tests/solve_back.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_helpers import KIRKLEES_QUARTERS, close_all, read_rows, sample_copy, sob, sob_subprocess
from solve_back import determined
from test_suppression import published_hidden

_LOCAL_SCHEMA = Path(__file__).parent / "data" / "indigo-project-4.1.0.json"
OUTCOMES = ["WB_1", "WB_2", "WB_3", "MH_ACCESS", "MH_SUSTAINED", "ACC_ENTRY", "ACC_3M", "ACC_6M", "ACC_12M",
            "QUAL_FULL", "EMP_ENTRY", "EMP_13W", "EMP_26W"]
FILES = ["README.txt", "SHA256SUMS", "commitments.csv", "outcome_metrics.csv", "payments.csv", "prices.csv",
         "project.json", "results.csv"]


def indigo_schema() -> dict[str, Any]:
    """The INDIGO 4.1.0 project schema (a copy is kept with the tests)."""
    return json.loads(_LOCAL_SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kirklees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Kirklees sample (with profiles) closed over five quarters: (contract, ledger)."""
    tmp = tmp_path_factory.mktemp("kirklees")
    contract = sample_copy(tmp, "kirklees-bop", profile=True)
    ledger = tmp / "ledger"
    close_all(contract, ledger, KIRKLEES_QUARTERS)
    return contract, ledger


def expected(ledger: Path, quarters: list[str]) -> dict[str, Any]:
    """Per outcome and quarter from the Q.csv files alone: claims newly accepted, their participants, due per payer."""
    out: dict[str, Any] = {"claims": {}, "people": {}, "due": {}}
    before: set[str] = set()
    for q in quarters:
        rows = [r for r in read_rows(ledger / "kirklees-bop" / f"{q}.csv") if r["kind"] != "adjustment"]
        ok = {r["claim_id"] for r in rows
              if r["status"] in ("paid", "partial") or (r["status"] == "capped" and r["reason"] != "VOLUME_CAP")}
        for o in OUTCOMES:
            new = [r for r in rows if r["outcome_id"] == o and r["claim_id"] in ok - before]
            out["claims"][o, q] = len(new)
            out["people"][o, q] = len({r["participant_id"] for r in new})
            for p in ("KC", "LCF"):
                out["due"][o, q, p] = sum((Decimal(r[f"due_{p}"]) for r in rows if r["outcome_id"] == o), Decimal(0))
        before = ok
    return out


def publish(contract: Path, ledger: Path, out: Path, *extra: str) -> Any:
    result = sob("publish", contract, "--ledger", ledger, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_publish_writes_every_file_with_the_ledgers_figures(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    result = sob_subprocess("publish", contract, "--ledger", ledger, "--out", tmp_path / "open")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "open"
    assert sorted(p.name for p in out.iterdir()) == FILES
    want = expected(ledger, KIRKLEES_QUARTERS)
    results = {(r["outcome_id"], r["quarter"]): r for r in rows_of(out / "results.csv") if r["type"] == "Actual"}
    payments = {(r["outcome_id"], r["quarter"], r["payer_id"]): r["amount"]
                for r in rows_of(out / "payments.csv") if r["type"] == "Actual"}
    shown = 0
    for o in OUTCOMES:
        for q in KIRKLEES_QUARTERS:
            claims, people = want["claims"][o, q], want["people"][o, q]
            row = results[o, q]
            if row["accepted_claims"] == "[c]":
                # one rule: hidden count, hidden participants, hidden money
                assert row["participants_with_accepted_claim"] == "[c]"
                assert payments[o, q, "KC"] == payments[o, q, "LCF"] == "[c]"
                continue
            shown += 1
            assert claims == 0 or (claims >= 10 and (people == 0 or people >= 10))
            assert int(row["accepted_claims"]) == claims
            assert int(row["participants_with_accepted_claim"]) == people
            assert Decimal(payments[o, q, "KC"]) == want["due"][o, q, "KC"]
            assert Decimal(payments[o, q, "LCF"]) == want["due"][o, q, "LCF"]
    # adjustments (agreed payments of the contract) are published per quarter and payer, outside the totals
    agreed = {(r["quarter"], r["payer_id"]): Decimal(r["amount"]) for r in rows_of(out / "payments.csv")
              if r["outcome_id"] == "ADJUSTMENTS"}
    want_agreed = {(q, p): sum((Decimal(r[f"due_{p}"]) for r in read_rows(ledger / "kirklees-bop" / f"{q}.csv")
                                if r["kind"] == "adjustment"), Decimal(0))
                   for q in KIRKLEES_QUARTERS for p in ("KC", "LCF")}
    assert agreed == {k: v for k, v in want_agreed.items() if v}
    assert agreed[("2020-Q1", "KC")] + agreed[("2020-Q1", "LCF")] == Decimal("971234.00")
    assert shown > 10  # the sample has enough claims for most cells to be shown
    for o in OUTCOMES:  # a shown row total is the sum of the row
        total = results[o, "TOTAL"]["accepted_claims"]
        if total != "[c]":
            assert int(total) == sum(want["claims"][o, q] for q in KIRKLEES_QUARTERS)
        assert results[o, "TOTAL"]["participants_with_accepted_claim"] == ""  # not additive: never published


def test_nothing_small_and_nothing_recoverable_in_the_published_files(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open")
    rows = rows_of(tmp_path / "open" / "results.csv")
    for r in rows:
        if r["type"] == "Actual":
            for key in ("accepted_claims", "participants_with_accepted_claim"):
                assert r[key] in ("", "[c]") or not 0 < int(r[key]) < 10, r
    hidden = published_hidden((tmp_path / "open" / "results.csv").read_bytes(), OUTCOMES, KIRKLEES_QUARTERS)
    assert hidden  # the sample has small counts
    assert determined(hidden, len(OUTCOMES) + 1, len(KIRKLEES_QUARTERS) + 1) == set()
    # every payer's money table hides exactly the same cells
    for payer in ("KC", "LCF"):
        money = {(r["outcome_id"], r["quarter"]) for r in rows_of(tmp_path / "open" / "payments.csv")
                 if r["type"] == "Actual" and r["payer_id"] == payer and r["amount"] == "[c]"}
        labels, cols = [*OUTCOMES, "TOTAL"], [*KIRKLEES_QUARTERS, "TOTAL"]
        n, m = len(OUTCOMES), len(KIRKLEES_QUARTERS)
        inner = {(i, j) for i, j in hidden if i < n and j < m}
        rule = hidden | {(i, m) for i, _ in inner} | {(n, j) for _, j in inner} | {(n, m)}
        assert {(labels.index(o), cols.index(q)) for o, q in money} == rule


def test_nothing_identifying_leaves_the_ledger(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open")
    secrets: set[str] = set()
    for q in KIRKLEES_QUARTERS:
        for r in read_rows(ledger / "kirklees-bop" / f"{q}.csv"):
            secrets |= {r["claim_id"], r["participant_id"], r["evidence_ref"]}
    secrets.discard("")
    assert any(s.startswith("KB1") for s in secrets)  # participant ids are there to leak
    for name in FILES:
        text = (tmp_path / "open" / name).read_text(encoding="utf-8")
        for s in secrets:
            assert s not in text, (name, s)
        if name.endswith(".csv"):
            assert not re.search(r"\d{4}-\d{2}-\d{2}", text), name  # quarters only
    dates = set(re.findall(r"\d{4}-\d{2}-\d{2}", (tmp_path / "open" / "project.json").read_text()))
    # the INDIGO periods are quarter boundaries (fiscal year from April)
    assert dates <= {f"{y}-{md}" for y in range(2019, 2021) for md in ("04-01", "06-30", "07-01", "09-30", "10-01",
                                                                        "12-31", "01-01", "03-31")}


def test_the_indigo_document_validates_and_carries_both_counts(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open")
    document = json.loads((tmp_path / "open" / "project.json").read_text(encoding="utf-8"), parse_float=Decimal)
    validator = jsonschema.Draft7Validator(indigo_schema())
    assert [e.message for e in validator.iter_errors(document)] == []
    want = expected(ledger, KIRKLEES_QUARTERS)
    wb1 = [r for r in document["results"] if r["outcome_metric_id"]["value"] == "WB_1"]
    assert [r["period"]["start_date"]["value"] for r in wb1] == ["2019-07-01", "2019-10-01", "2020-01-01",
                                                                 "2020-04-01", "2020-07-01"]
    q3 = wb1[1]  # 2019-Q3 of an April fiscal year: October to December
    assert int(q3["outcomes_achieved"]["value"]) == want["claims"]["WB_1", "2019-Q3"]
    assert q3["number_with_positive_social_outcomes"]["value"] == want["people"]["WB_1", "2019-Q3"]
    hidden = [r for r in document["results"] if r["notes"] == "suppressed"]
    assert hidden and all("outcomes_achieved" not in r for r in hidden)
    actual = [p for p in document["outcome_payments"] if p["type"]["value"] == "Actual"
              and p.get("outcome_metric_id", {}).get("value") == "WB_1" and p["payer_organisation_id"]["value"] == "LCF"]
    raw = (tmp_path / "open" / "project.json").read_text()
    assert actual[1]["money"]["amount"]["value"] == want["due"]["WB_1", "2019-Q3", "LCF"]
    assert '"value": 0.00' in raw  # amounts are written with the minor unit's digits, never via a float
    planned = [p for p in document["outcome_payments"] if p["type"]["value"] == "Planned"]
    # WB_1 profile 2019-Q3 = 20 claims at 100.00, split KC 0.704 / LCF 0.296
    wb1_q3 = {p["payer_organisation_id"]["value"]: p["money"]["amount"]["value"] for p in planned
              if p.get("outcome_metric_id", {}).get("value") == "WB_1" and p["period"]["start_date"]["value"] == "2019-10-01"}
    assert wb1_q3 == {"KC": Decimal("1408.00"), "LCF": Decimal("592.00")}


def test_output_is_deterministic_and_hashed(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "a")
    publish(contract, ledger, tmp_path / "b")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    sums = (tmp_path / "a" / "SHA256SUMS").read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in sums) == sorted(set(FILES) - {"SHA256SUMS"})
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest() == digest
    head = hashlib.sha256((ledger / "kirklees-bop" / "2020-Q2.toml").read_bytes()).hexdigest()
    readme = (tmp_path / "a" / "README.txt").read_text()
    assert head in readme and "[c]" in readme and "minimum count 10" in readme


def test_verify_says_identical_then_names_a_changed_file(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open")
    ok = sob("publish", contract, "--ledger", ledger, "--verify", tmp_path / "open")
    assert ok.exit_code == 0 and "identical" in ok.stdout
    path = tmp_path / "open" / "results.csv"
    path.write_text(path.read_text().replace("[c]", "3", 1))
    bad = sob_subprocess("publish", contract, "--ledger", ledger, "--verify", tmp_path / "open")
    assert bad.returncode == 1 and "results.csv: differs" in bad.stderr


def test_quarter_publishes_up_to_a_closed_quarter(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open", "--quarter", "2019-Q4", "--min-count", "1")
    rows = rows_of(tmp_path / "open" / "results.csv")
    assert {r["quarter"] for r in rows if r["type"] == "Actual"} == {"2019-Q2", "2019-Q3", "2019-Q4", "TOTAL"}
    assert all(r["accepted_claims"] != "[c]" for r in rows)  # --min-count 1 suppresses nothing
    want = expected(ledger, ["2019-Q2", "2019-Q3", "2019-Q4"])
    wb2 = next(r for r in rows if r["outcome_id"] == "WB_2" and r["quarter"] == "2019-Q3" and r["type"] == "Actual")
    assert int(wb2["accepted_claims"]) == want["claims"]["WB_2", "2019-Q3"]


def test_an_earlier_publication_is_replaced_atomically(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open", "--quarter", "2019-Q3")
    publish(contract, ledger, tmp_path / "open")
    assert "2020-Q2" in (tmp_path / "open" / "results.csv").read_text()
    (tmp_path / "empty").mkdir()  # an empty folder made beforehand is used
    publish(contract, ledger, tmp_path / "empty")
    assert (tmp_path / "empty" / "SHA256SUMS").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "open"]  # no temporary folder left beside it


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--ledger", "{tmp}/nowhere", "--out", "{tmp}/o"], 2, "does not exist"),
    (["--ledger", "{tmp}/empty", "--out", "{tmp}/o"], 1, "no closed quarter"),
    (["--ledger", "{ledger}", "--quarter", "2021-Q1", "--out", "{tmp}/o"], 1, "not a closed quarter"),
    (["--ledger", "{ledger}", "--quarter", "next week", "--out", "{tmp}/o"], 2, "quarter"),
    (["--ledger", "{ledger}"], 2, "exactly one of --out"),
    (["--ledger", "{ledger}", "--out", "{tmp}/taken"], 2, "not an earlier publication"),
    (["--ledger", "{ledger}", "--out", "{tmp}/o", "--min-count", "0"], 2, "--min-count"),
])
def test_bad_input_is_a_clear_message(kirklees: tuple[Path, Path], tmp_path: Path, args: list[str], code: int,
                                      message: str) -> None:
    contract, ledger = kirklees
    (tmp_path / "empty").mkdir()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    argv = [a.format(tmp=tmp_path, ledger=ledger) for a in args]
    result = sob_subprocess("publish", contract, *argv)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_a_broken_ledger_publishes_nothing(kirklees: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    contract, ledger = kirklees
    broken = tmp_path / "ledger"
    shutil.copytree(ledger, broken)
    table = broken / "kirklees-bop" / "2019-Q4.csv"
    table.write_text(table.read_text().replace("paid,,100.00,100.00", "paid,,100.00,900.00", 1))
    result = sob_subprocess("publish", contract, "--ledger", broken, "--out", tmp_path / "o")
    assert result.returncode == 1 and "ledger verify" in result.stderr
    assert not (tmp_path / "o").exists()


def test_every_sample_of_the_fixture_publishes_valid_indigo(tmp_path: Path) -> None:
    from sample_ledgers import CLOSES, closed_samples

    contracts, ledger = closed_samples(tmp_path)
    validator = jsonschema.Draft7Validator(indigo_schema())
    for name, contract in contracts.items():
        out = tmp_path / f"open-{name}"
        publish(contract, ledger, out)
        document = json.loads((out / "project.json").read_text(encoding="utf-8"), parse_float=Decimal)
        assert [e.message for e in validator.iter_errors(document)] == [], name
        periods = {r["period"]["start_date"]["value"] for r in document["results"]}
        assert len(periods) == len(CLOSES[name])
        # without suppression, the grand total of each payer is the ledger's outcome payments, by hand
        plain = tmp_path / f"plain-{name}"
        publish(contract, ledger, plain, "--min-count", "1")
        totals = [r for r in rows_of(plain / "payments.csv") if r["outcome_id"] == "TOTAL" and r["quarter"] == "TOTAL"]
        assert totals
        for total in totals:
            ledger_total = sum((Decimal(r[f"due_{total['payer_id']}"]) for q in CLOSES[name]
                                for r in read_rows(ledger / name / f"{q}.csv") if r["kind"] != "adjustment"), Decimal(0))
            assert Decimal(total["amount"]) == ledger_total, name


def test_a_failed_write_leaves_the_earlier_publication_and_no_temporary_folder(
        kirklees: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from sob.findings import UsageError
    from sob.publish import write

    contract, ledger = kirklees
    publish(contract, ledger, tmp_path / "open", "--quarter", "2019-Q3")
    before = {p.name: p.read_bytes() for p in (tmp_path / "open").iterdir()}
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the disk fills up on the third file
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(write.os, "fsync", failing_fsync)
    files = {"a.csv": b"1\n", "b.csv": b"2\n", "c.csv": b"3\n", "SHA256SUMS": b""}
    with pytest.raises(UsageError, match="nothing was published"):
        write.write_folder(files, tmp_path / "open")
    assert {p.name: p.read_bytes() for p in (tmp_path / "open").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["open"]
