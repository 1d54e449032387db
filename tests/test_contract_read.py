"""Reading the contract file itself: regular files and pipes only, bounded (sob.contract.load)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sob.contract import format as fmt
from sob.contract.load import read_contract_bytes
from sob.findings import UsageError

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "sample_contracts" / "dwp-innovation-fund" / "contract.toml"
MINIMAL = """\
schema = "sob/1"
[contract]
id = "piped"
currency = "GBP"
start = 2020-01-01
outcomes_end = 2020-12-31
[[payers]]
id = "LA"
[[outcomes]]
id = "P"
price = 100
"""


def sob(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sob", *args], capture_output=True, text=True, input=stdin,
                          timeout=60, cwd=ROOT)


def test_a_device_is_refused_before_a_byte_is_read():
    result = sob("validate", "/dev/zero")
    assert result.returncode == 2
    assert "not a regular file or a pipe" in result.stderr
    assert "internal error" not in result.stderr


def test_a_directory_is_refused():
    result = sob("validate", str(SAMPLE.parent))
    assert result.returncode == 2
    assert "is a directory" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_with_no_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "contract.toml"
    os.mkfifo(fifo)
    result = sob("validate", str(fifo))  # the 60 s timeout of sob() is the hang detector
    assert result.returncode == 2
    assert "pipe that gave nothing to read" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_with_a_writer_is_read(tmp_path):
    fifo = tmp_path / "contract.toml"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as pipe:  # blocks until the reader opens the pipe
            pipe.write(MINIMAL)

    writer = threading.Thread(target=write)
    writer.start()
    fd = os.open(fifo, os.O_RDONLY)  # open first so the writer is connected before the read
    try:
        writer.join(timeout=30)
        data = read_contract_bytes(Path(f"/dev/fd/{fd}"))
    finally:
        os.close(fd)
    assert not writer.is_alive()
    assert data.decode() == MINIMAL


def test_a_pipe_given_on_the_command_line_is_read():
    result = sob("validate", "/dev/stdin", stdin=MINIMAL)
    assert result.returncode == 0, result.stderr


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "contract.toml"
    with open(big, "wb") as handle:
        handle.truncate(fmt.MAX_CONTRACT_BYTES + 1)  # sparse: no 10 MiB written to disk
    result = sob("validate", str(big))
    assert result.returncode == 2
    assert "larger than 10 MiB" in result.stderr


def test_a_file_at_the_limit_is_read(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_bytes(MINIMAL.encode() + b"#" * (fmt.MAX_CONTRACT_BYTES - len(MINIMAL)))
    assert len(read_contract_bytes(path)) == fmt.MAX_CONTRACT_BYTES


def test_a_pipe_over_the_limit_is_refused():
    result = sob("validate", "/dev/stdin", stdin=MINIMAL + "#" * fmt.MAX_CONTRACT_BYTES)
    assert result.returncode == 2
    assert "larger than 10 MiB" in result.stderr


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_contract_bytes(tmp_path / "nothing.toml")
