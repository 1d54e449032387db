#!/usr/bin/env python3
"""Record what ``sob`` prints and writes, and compare two records byte for byte.

    python benchmarks/same_outputs.py record --tree TREE --out OUTDIR [--big] [--jobs 2] [--only PREFIX]
    python benchmarks/same_outputs.py compare DIR_A DIR_B

``record`` runs the ``sob`` of the source tree TREE (``python -m sob`` with
``PYTHONPATH=TREE``, from a fresh temporary folder, so the tree's code runs and
never the installed copy) and writes one file per output under OUTDIR: the
command line, its stdout, its stderr and its exit code, with the temporary
folder's path replaced by ``<TMP>``. It records:

- for each ``TREE/sample_contracts/*/contract.toml`` and each quarter holding
  an ``achieved_on`` or ``submitted_on`` date of its evidence: ``sob pay
  --format json --export F`` for F in every export format (csv, json,
  parquet, xlsx), and the terminal table for the last quarter. A Parquet
  export is recorded as its schema and the frame polars reads, written as
  CSV; an xlsx export as its sheets' cell values, read with ``zipfile`` and
  an XML parser: value, type and number format (the zip's bytes hold a
  timestamp);
- ``sob validate --format json`` (and ``--format text``), ``sob test`` and
  ``sob explain`` (first and last claim, last quarter) on each sample;
- about sixty broken variants of the MHEP sample (bad cells, bad files, bad
  contracts; built here, deterministically): ``sob validate --format json``
  and ``sob pay --format json --reject-invalid`` on each;
- with ``--big``: a 1M-claim case from ``benchmarks/generate.py`` (made once
  in /tmp/gate/case1m and reused): validate and pay as JSON for two quarters
  and a CSV export, recorded as SHA-256 digests.

Samples are copied into the temporary folder and named by relative paths, so
the terminal tables (whose wrapping depends on path lengths) are the same
whatever the tree's location. ``compare`` prints each differing output with
the start of a unified diff and exits 1 if any differ, else prints "N outputs
identical" and exits 0.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree

import polars as pl

HERE = Path(__file__).resolve().parent
BIG_CASE = Path("/tmp/gate/case1m")
BIG_N = 1_000_000
BIG_SEED = 1
EXPORTS = ("csv", "json", "parquet", "xlsx")
FIXED_ENV = {
    "COLUMNS": "200",
    "LINES": "50",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "SOURCE_DATE_EPOCH": "0",
    "TZ": "UTC",
    "PYTHONHASHSEED": "0",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
}
TMP_MARK = "<TMP>"
TREE_MARK = "<TREE>"


# ---------------------------------------------------------------------------------------------
# Running one command
# ---------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One ``sob`` run: its output name, arguments, and how to record the file it writes."""

    name: str
    args: list[str]
    export: str | None = None  # relative path of a file the command writes
    digest: bool = False  # record SHA-256 digests instead of the text (big outputs)


@dataclass
class Recorder:
    """Runs the jobs of one tree from one temporary folder and writes the record."""

    tree: Path
    work: Path
    out: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The environment is fixed so that terminal width, colour and clocks cannot differ."""
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        self.env = {**keep, **FIXED_ENV, "PYTHONPATH": str(self.tree)}

    def normalise(self, text: str) -> str:
        """Replace the temporary folder and the tree by placeholders (also as JSON would escape them)."""
        for path, mark in ((self.work, TMP_MARK), (self.tree, TREE_MARK)):
            for form in {str(path), str(path.resolve())}:
                text = text.replace(form, mark)
        return text

    def run(self, job: Job) -> None:
        """Run one job and write ``OUT/<name>.txt``."""
        proc = subprocess.run(
            [sys.executable, "-m", "sob", *job.args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            check=False,
        )
        stdout = proc.stdout.decode("utf-8", "backslashreplace")
        stderr = proc.stderr.decode("utf-8", "backslashreplace")
        parts = ["$ sob " + self.normalise(" ".join(job.args)) + "\n"]
        if job.digest:
            parts.append(f"--- stdout sha256 {_sha(self.normalise(stdout).encode())} ({len(proc.stdout)} bytes)\n")
        else:
            parts.append("--- stdout\n" + self.normalise(stdout) + "\n")
        parts.append("--- stderr\n" + self.normalise(stderr) + "\n")
        parts.append(f"--- exit {proc.returncode}\n")
        if job.export is not None:
            parts.append(self.describe_export(self.work / job.export, job.digest))
        (self.out / f"{job.name}.txt").write_text("".join(parts), encoding="utf-8")

    def describe_export(self, path: Path, digest: bool) -> str:
        """The export as comparable text: CSV/JSON as is, Parquet as schema + CSV, xlsx as cells."""
        if not path.exists():
            return f"--- export {path.name}: not written\n"
        suffix = path.suffix
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
            text = f"schema {frame.schema}\n" + frame.write_csv()
        elif suffix == ".xlsx":
            text = xlsx_cells(path)
        else:
            text = path.read_bytes().decode("utf-8", "backslashreplace")
        text = self.normalise(text)
        path.unlink()
        if digest:
            return f"--- export {suffix} sha256 {_sha(text.encode())}\n"
        return f"--- export {suffix}\n{text}\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# xlsx without a spreadsheet library: the sheets' cells from the zip's XML
# ---------------------------------------------------------------------------------------------

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _strings(book: zipfile.ZipFile) -> list[str]:
    """The shared strings table (cells of type ``s`` hold an index into it)."""
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root.findall("m:si", NS)]


def _number_formats(book: zipfile.ZipFile) -> list[str]:
    """The number format of each cell style (``s`` attribute): a date or money shows as its format code.

    The style's index is left out, so writing the same formats in another order is no difference.
    """
    if "xl/styles.xml" not in book.namelist():
        return []
    root = ElementTree.fromstring(book.read("xl/styles.xml"))
    codes = {f.get("numFmtId"): f.get("formatCode") for f in root.iter(f"{{{NS['m']}}}numFmt")}
    xfs = root.find("m:cellXfs", NS)
    if xfs is None:
        return []
    out = []
    for xf in xfs.findall("m:xf", NS):
        number = xf.get("numFmtId", "0")
        out.append(codes.get(number) or f"builtin:{number}")
    return out


def xlsx_cells(path: Path) -> str:
    """Sheet names and each cell as ``ref type number-format value``: what a reader sees, not the zip's dates."""
    lines: list[str] = []
    with zipfile.ZipFile(path) as book:
        strings = _strings(book)
        formats = _number_formats(book)
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        lines += [f"sheet {s.get('name')}" for s in workbook.iter(f"{{{NS['m']}}}sheet")]
        for name in sorted(n for n in book.namelist() if n.startswith("xl/worksheets/sheet")):
            lines.append(f"== {name}")
            root = ElementTree.fromstring(book.read(name))
            for cell in root.iter(f"{{{NS['m']}}}c"):
                kind = cell.get("t", "n")
                v = cell.find("m:v", NS)
                value = v.text if v is not None else "".join(t.text or "" for t in cell.iter(f"{{{NS['m']}}}t"))
                if kind == "s" and value is not None:
                    value = strings[int(value)]
                style = cell.get("s")
                shown = formats[int(style)] if style is not None and int(style) < len(formats) else ""
                lines.append(f"{cell.get('r')} {kind} {shown!r} {value!r}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Which quarters a sample has evidence in
# ---------------------------------------------------------------------------------------------


def quarter_of(day: date, fiscal_start: int) -> str:
    """SPEC: ``YYYY-Qn`` is the n-th quarter of the fiscal year that starts in calendar year YYYY."""
    offset = (day.month - fiscal_start) % 12
    year = day.year if day.month >= fiscal_start else day.year - 1
    return f"{year}-Q{offset // 3 + 1}"


def _sortable(quarter: str) -> tuple[int, int]:
    year, q = quarter.split("-Q")
    return int(year), int(q)


def evidence_quarters(contract_path: Path) -> list[str]:
    """Quarters holding any achieved_on/submitted_on date of the claims or results file."""
    doc = tomllib.loads(contract_path.read_text(encoding="utf-8"))
    fiscal_start = int(doc["contract"].get("fiscal_year_start_month", 1))
    evidence = doc.get("evidence", {})
    columns = evidence.get("columns", {})
    fmt = evidence.get("date_format", "%Y-%m-%d")
    quarters: set[str] = set()
    for key in ("claims", "results"):
        if key not in evidence:
            continue
        frame = pl.read_csv(contract_path.parent / evidence[key], infer_schema=False)
        for canonical in ("achieved_on", "submitted_on"):
            header = columns.get(canonical, canonical)
            if header not in frame.columns:
                continue
            for cell in frame[header].drop_nulls().unique().to_list():
                quarters.add(quarter_of(datetime.strptime(cell.strip(), fmt).date(), fiscal_start))
    return sorted(quarters, key=_sortable)


def first_and_last_ids(contract_path: Path) -> list[str]:
    """The first and last claim (or result) id of the sample, for ``sob explain``."""
    doc = tomllib.loads(contract_path.read_text(encoding="utf-8"))
    evidence = doc.get("evidence", {})
    columns = evidence.get("columns", {})
    for key, id_column in (("claims", "claim_id"), ("results", "result_id")):
        if key not in evidence:
            continue
        frame = pl.read_csv(contract_path.parent / evidence[key], infer_schema=False)
        header = columns.get(id_column, id_column)
        if frame.height and header in frame.columns:
            return [frame[header][0], frame[header][-1]]
    return []


def sample_jobs(work: Path) -> list[Job]:
    """Every command on every sample contract copied into the work folder."""
    jobs: list[Job] = []
    for folder in sorted((work / "sample_contracts").iterdir()):
        contract = folder / "contract.toml"
        if not contract.exists():
            continue
        rel = str(contract.relative_to(work))
        name = folder.name
        jobs.append(Job(f"sample/{name}/validate-json", ["validate", rel, "--format", "json"]))
        jobs.append(Job(f"sample/{name}/validate-text", ["validate", rel]))
        jobs.append(Job(f"sample/{name}/test", ["test", rel]))
        quarters = evidence_quarters(contract)
        for q in quarters:
            # each run records the JSON report and one export (one process for both: it halves the time)
            for fmt in EXPORTS:
                target = f"exports/{name}-{q}.{fmt}"
                jobs.append(Job(f"sample/{name}/{q}/pay-json-export-{fmt}",
                                ["pay", rel, "--quarter", q, "--format", "json", "--export", target],
                                export=target))
        if quarters:
            jobs.append(Job(f"sample/{name}/{quarters[-1]}/pay-table", ["pay", rel, "--quarter", quarters[-1]]))
            for claim in first_and_last_ids(contract):
                jobs.append(Job(f"sample/{name}/explain-{claim}",
                                ["explain", rel, "--quarter", quarters[-1], "--claim", claim]))
    return jobs


# ---------------------------------------------------------------------------------------------
# Broken inputs: variants of the MHEP sample
# ---------------------------------------------------------------------------------------------

Mutation = Callable[[str, str, str], tuple[str | bytes, str | bytes, str | bytes]]


def _claims(change: Callable[[str], str | bytes]) -> Mutation:
    return lambda contract, claims, register: (contract, change(claims), register)


def _register(change: Callable[[str], str | bytes]) -> Mutation:
    return lambda contract, claims, register: (contract, claims, change(register))


def _contract(change: Callable[[str], str | bytes]) -> Mutation:
    return lambda contract, claims, register: (change(contract), claims, register)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _edit_row(n: int, old: str, new: str) -> Callable[[str], str]:
    """Change the first ``old`` in data row n (1-based), so the finding has a known line."""
    def change(text: str) -> str:
        rows = _lines(text)
        assert old in rows[n], (n, old, rows[n])
        rows[n] = rows[n].replace(old, new, 1)
        return "".join(rows)
    return change


def _set_cell(n: int, col: int, value: str) -> Callable[[str], str]:
    """Set cell ``col`` (0-based) of data row n (1-based) of a plain comma-separated file."""
    def change(text: str) -> str:
        rows = _lines(text)
        cells = rows[n].rstrip("\n").split(",")
        cells[col] = value
        rows[n] = ",".join(cells) + "\n"
        return "".join(rows)
    return change


def _swap(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return change


def _noise(n: int, seed: int = 7) -> bytes:
    """Deterministic junk bytes (a linear congruential generator: no ``random`` state to differ)."""
    out = bytearray()
    x = seed
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(x >> 56)
    return bytes(out)


def _drop_column(name: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        rows = [r.rstrip("\n").split(",") for r in _lines(text)]
        i = rows[0].index(name)
        return "".join(",".join(r[:i] + r[i + 1:]) + "\n" for r in rows)
    return change


def _head(n: int) -> Callable[[str], str]:
    return lambda text: "".join(_lines(text)[: n + 1])


def broken_cases() -> list[tuple[str, Mutation]]:
    """About sixty deterministic breakages, after the tests' hostile and per-code cases."""
    return [
        ("bad-date", _claims(_set_cell(3, 3, "2019-13-07"))),
        ("bad-date-format", _claims(_set_cell(4, 4, "28/08/2019"))),
        ("feb-30", _claims(_set_cell(5, 3, "2019-02-30"))),
        ("submitted-before-achieved", _claims(_set_cell(2, 4, "2019-07-01"))),
        ("unknown-outcome", _claims(_set_cell(6, 2, "ENGAGED"))),
        ("unknown-participant", _claims(_set_cell(7, 1, "ZZ0007"))),
        ("missing-value", _claims(_set_cell(8, 2, "  "))),
        ("duplicate-claim-id", _claims(_set_cell(9, 0, "MHEP00001"))),
        ("duplicate-many", _claims(lambda t: "".join(
            r if i < 2 else r.replace(r.split(",")[0], "MHEP00001", 1) for i, r in enumerate(_lines(t)[:60])))),
        ("missing-column", _claims(_drop_column("achieved_on"))),
        ("extra-column", _claims(lambda t: "".join(
            r.rstrip("\n") + (",notes\n" if i == 0 else f",n{i}\n") for i, r in enumerate(_lines(t))))),
        ("duplicate-column", _claims(lambda t: t.replace("evidence_ref", "status", 1))),
        ("renamed-column", _claims(lambda t: t.replace("achieved_on", "Achieved_On", 1))),
        ("bad-status", _claims(_edit_row(10, "claimed", "paid"))),
        ("short-row", _claims(_edit_row(11, ",claimed,", ","))),
        ("long-row", _claims(_edit_row(12, "\n", ",x,y\n"))),
        ("quoted-cells", _claims(lambda t: "".join(
            r if i == 0 else '"' + r.rstrip("\n").replace(",", '","') + '"\n' for i, r in enumerate(_lines(t)[:40])))),
        ("unterminated-quote", _claims(_edit_row(13, "ENGAGE", '"ENGAGE'))),
        ("crlf", _claims(lambda t: t.replace("\n", "\r\n"))),
        ("blank-lines", _claims(lambda t: t.replace("\n", "\n\n", 5))),
        ("bom", _claims(lambda t: "\ufeff" + t)),
        ("semicolons", _claims(lambda t: t.replace(",", ";"))),
        ("empty-file", _claims(lambda t: b"")),
        ("header-only", _claims(_head(0))),
        ("only-delimiters", _claims(lambda t: ",,,\n,,\n")),
        ("latin1-byte", _claims(lambda t: _head(20)(t).encode() + b"X1,MH0001,\xe9,2021-03-20,,claimed,\n")),
        ("nul-in-cell", _claims(lambda t: _head(20)(t).encode() + b"X1,MH0001,EN\0GAGE,2021-03-20,,claimed,\n")),
        ("utf16", _claims(lambda t: _head(20)(t).encode("utf-16"))),
        ("binary", _claims(lambda t: _noise(4096))),
        ("no-final-newline", _claims(lambda t: t.rstrip("\n"))),
        ("register-bad-boolean", _register(_edit_row(3, "true", "maybe"))),
        ("register-bad-date", _register(_edit_row(4, "-", "/"))),
        ("register-duplicate", _register(lambda t: t + _lines(t)[1])),
        ("register-missing-column", _register(_drop_column("enrolled_on"))),
        ("register-empty", _register(lambda t: b"")),
        ("toml-syntax", _contract(lambda t: t + "x = = 1\n")),
        ("toml-unclosed-string", _contract(_swap('schema = "sob/1"', 'schema = "sob/1'))),
        ("unknown-schema", _contract(_swap('schema = "sob/1"', 'schema = "sob/9"'))),
        ("unknown-key", _contract(_swap('[contract]\n', '[contract]\nnmae = "typo"\n'))),
        ("wrong-type", _contract(_swap("start = 2019-07-01", 'start = "2019-07-01"'))),
        ("missing-key", _contract(_swap('currency = "GBP"\n', ""))),
        ("shares-not-one", _contract(_swap("share = 0.42", "share = 0.52"))),
        ("negative-price", _contract(_swap("price = 300.00", "price = -300.00"))),
        ("too-many-decimals", _contract(_swap("price = 300.00", "price = 300.005"))),
        ("bad-currency", _contract(_swap('currency = "GBP"', 'currency = "ABC"'))),
        ("requires-cycle", _contract(_swap('window_days = 90 ', 'requires = ["JOB_START"]\nwindow_days = 90 '))),
        ("unknown-reference", _contract(_swap('requires = ["ENGAGE"]', 'requires = ["ENGAGEMENT"]'))),
        ("duplicate-outcome", _contract(_swap('id = "JOB_START"', 'id = "ENGAGE"'))),
        ("dates-out-of-order", _contract(_swap("outcomes_end = 2022-12-31", "outcomes_end = 2019-01-31"))),
        ("unsafe-path", _contract(_swap('claims = "evidence/claims.csv"', 'claims = "../claims.csv"'))),
        ("absolute-path", _contract(_swap('claims = "evidence/claims.csv"', 'claims = "/etc/passwd"'))),
        ("bad-delimiter", _contract(_swap("[evidence]", '[evidence]\ndelimiter = ";;"'))),
        ("contract-empty", _contract(lambda t: b"")),
        ("contract-latin1", _contract(lambda t: t.encode() + b'note = "caf\xe9"\n')),
        ("contract-utf16", _contract(lambda t: t.encode("utf-16"))),
        ("contract-binary", _contract(lambda t: _noise(4096, seed=3))),
        ("contract-deep-nesting", _contract(lambda t: "x = " + "[" * 10000 + "]" * 10000 + "\n")),
    ]


def _write(path: Path, data: str | bytes) -> None:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_bytes(data.encode("utf-8"))


def broken_jobs(work: Path) -> list[Job]:
    """Build each broken variant in its own folder; validate and pay each."""
    source = work / "sample_contracts" / "mhep-employment"
    texts = [(source / p).read_bytes().decode("utf-8") for p in
             ("contract.toml", "evidence/claims.csv", "evidence/participants.csv")]
    jobs: list[Job] = []
    for name, mutate in broken_cases():
        folder = work / "broken" / name
        (folder / "evidence").mkdir(parents=True)
        contract, claims, register = mutate(*texts)
        _write(folder / "contract.toml", contract)
        _write(folder / "evidence" / "claims.csv", claims)
        _write(folder / "evidence" / "participants.csv", register)
        rel = str((folder / "contract.toml").relative_to(work))
        jobs.append(Job(f"broken/{name}/validate-json", ["validate", rel, "--format", "json"]))
        jobs.append(Job(f"broken/{name}/pay-json-reject", ["pay", rel, "--quarter", "2021-Q1", "--format", "json",
                                                            "--reject-invalid"]))
    # the tests' usage errors: a missing and a directory contract
    jobs.append(Job("broken/contract-missing/validate-json", ["validate", "nope.toml", "--format", "json"]))
    jobs.append(Job("broken/bad-quarter/pay-json", ["pay", "sample_contracts/mhep-employment/contract.toml",
                                                   "--quarter", "2021-Q5", "--format", "json"]))
    return jobs


# ---------------------------------------------------------------------------------------------
# The 1M-claim case
# ---------------------------------------------------------------------------------------------


def ensure_big_case(tree: Path) -> dict[str, object]:
    """Generate the 1M case once (generate.py reuses a case whose case.json matches)."""
    meta = BIG_CASE / "case.json"
    if not meta.exists():
        BIG_CASE.parent.mkdir(parents=True, exist_ok=True)
        generator = tree / "benchmarks" / "generate.py"
        if not generator.exists():
            generator = HERE / "generate.py"
        subprocess.run([sys.executable, str(generator), str(BIG_N), str(BIG_CASE), "--seed", str(BIG_SEED)],
                       check=True, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=subprocess.DEVNULL)
    loaded: dict[str, object] = json.loads(meta.read_text(encoding="utf-8"))
    return loaded


def big_jobs(tree: Path, work: Path) -> list[Job]:
    """Validate, pay (two quarters) and a CSV export of the 1M case, recorded as digests."""
    case = ensure_big_case(tree)
    contract = str(BIG_CASE / "contract.toml")
    last = str(case["quarter"])
    year, q = _sortable(last)
    earlier = f"{year - 1}-Q{q}"
    return [
        Job("big/validate-json", ["validate", contract, "--format", "json"], digest=True),
        Job(f"big/{last}/pay-json", ["pay", contract, "--quarter", last, "--format", "json"], digest=True),
        Job(f"big/{earlier}/pay-json", ["pay", contract, "--quarter", earlier, "--format", "json"], digest=True),
        Job(f"big/{last}/export-csv", ["pay", contract, "--quarter", last, "--format", "json",
                                       "--export", "exports/big.csv"], export="exports/big.csv", digest=True),
    ]


# ---------------------------------------------------------------------------------------------
# record / compare
# ---------------------------------------------------------------------------------------------


def record(tree: Path, out: Path, big: bool, jobs_n: int, only: str = "") -> int:
    """Run every job of the tree into OUT (emptied first); return the number of outputs."""
    tree = tree.resolve()
    if not (tree / "sob" / "__init__.py").exists():
        sys.exit(f"{tree} is not a sob source tree (no sob/__init__.py)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()
    # a fixed-length name, so a path's length (and any table wrapping it) is the same on every run
    with tempfile.TemporaryDirectory(prefix="sob-gate-", dir="/tmp") as tmp:
        work = Path(tmp)
        shutil.copytree(tree / "sample_contracts", work / "sample_contracts")
        (work / "exports").mkdir()
        jobs = sample_jobs(work) + broken_jobs(work)
        if big:
            jobs += big_jobs(tree, work)
        jobs = [job for job in jobs if job.name.startswith(only)]
        for job in jobs:
            (out / job.name).parent.mkdir(parents=True, exist_ok=True)
        recorder = Recorder(tree, work, out)
        with ThreadPoolExecutor(max_workers=jobs_n) as pool:
            list(pool.map(recorder.run, jobs))
    seconds = time.monotonic() - started
    print(f"recorded {len(jobs)} outputs of {tree} into {out} in {seconds:.0f} s")
    return len(jobs)


def _files(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*.txt"))}


def compare(a: Path, b: Path, context_lines: int = 30) -> int:
    """Print each output that differs (with the start of a unified diff); 1 if any differ."""
    left, right = _files(a), _files(b)
    differing = 0
    for name in sorted(left.keys() | right.keys()):
        if name not in right or name not in left:
            print(f"only in {a if name in left else b}: {name}")
            differing += 1
            continue
        x, y = left[name].read_bytes(), right[name].read_bytes()
        if x == y:
            continue
        differing += 1
        print(f"DIFFERS: {name}")
        diff = difflib.unified_diff(x.decode("utf-8").splitlines(), y.decode("utf-8").splitlines(),
                                    str(a / name), str(b / name), lineterm="", n=1)
        for i, line in enumerate(diff):
            if i >= context_lines:
                print("    ...")
                break
            print("    " + line[:300])
    if differing:
        print(f"{differing} of {len(left.keys() | right.keys())} outputs differ")
        return 1
    print(f"{len(left)} outputs identical")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run a tree's sob and record its outputs")
    rec.add_argument("--tree", type=Path, required=True, help="source tree whose sob to run")
    rec.add_argument("--out", type=Path, required=True, help="folder to write the record into (emptied)")
    rec.add_argument("--big", action="store_true", help="also the 1M-claim case (digests)")
    rec.add_argument("--jobs", type=int, default=2, help="commands run at once (default: 2)")
    rec.add_argument("--only", default="", help="only outputs whose name starts with this (e.g. broken/)")
    cmp_ = sub.add_parser("compare", help="compare two records; exit 1 if any output differs")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.command == "record":
        record(args.tree, args.out, args.big, args.jobs, args.only)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
