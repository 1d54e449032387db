"""Shared test setup: helpers importable, Rich output deterministic."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "GITHUB_ACTIONS", "PY_COLORS"):
    os.environ.pop(var, None)
os.environ["TERM"] = "dumb"
os.environ["COLUMNS"] = "200"
os.environ["TERMINAL_WIDTH"] = "200"
