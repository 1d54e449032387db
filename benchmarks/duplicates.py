"""Time ``sob validate`` on a claims file whose rows all share one ``claim_id``.

    python benchmarks/duplicates.py [ROWS]      (default 100,000)

Every row is a ``DUPLICATE_ID`` finding; each names at most a few other lines
of its group and counts the rest, so the run is linear in the rows.  Prints
the rows, the seconds ``sob validate --format json`` took, its exit code and
the size of its output.  The figure is kept in benchmarks/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = """schema = "sob/1"
[contract]
id = "dups"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2022-12-31
[[payers]]
id = "LA"
share = 1
[[outcomes]]
id = "JOB"
price = 100
[evidence]
claims = "claims.csv"
"""


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "contract.toml").write_text(CONTRACT)
        body = "".join(f"same,P{i},JOB,2020-01-01,,,ref{i}\n" for i in range(rows))
        (folder / "claims.csv").write_text(
            "claim_id,participant_id,outcome_id,achieved_on,submitted_on,status,evidence_ref\n" + body)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "sob", "validate", str(folder / "contract.toml"), "--format", "json"],
                             capture_output=True, env=env, check=False)
        seconds = time.perf_counter() - start
    print(f"{rows:,} rows sharing one claim_id: sob validate --format json took {seconds:.2f} s, "
          f"exit {run.returncode}, {len(run.stdout):,} bytes of output")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
