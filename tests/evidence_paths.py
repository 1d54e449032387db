"""Helpers of the evidence tests.

Reading evidence both ways: the compact typing path and the detailed one must agree exactly.

``sob.evidence`` types a file by the compact path (``compact.read_clean``) when it can
vouch for it, else by the detailed path (``detailed.type_detailed`` and ``finalise``).
:func:`read_evidence` here reads every file the tests read both ways and asserts identical
frames (values and dtypes), findings, file errors, carried columns and file facts, so each
evidence file in the evidence tests is also a test that the two paths agree.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sob.evidence import Evidence, assemble
from sob.evidence import read_evidence as read_once
from sob.findings import UsageError


def snapshot(ev: Evidence) -> tuple[Any, ...]:
    """Everything a reading gives, comparable with ``==`` (frames with their dtypes)."""
    frames = {}
    for name in ("claims", "participants", "results"):
        frame = getattr(ev, name)
        frames[name] = None if frame is None else (frame.schema, frame.to_dicts())
    rows = None if ev.participant_rows is None else ev.participant_rows.to_list()
    return (frames, [f.to_dict() for f in ev.file_errors + ev.findings], ev.carried_columns,
            [(f.kind, str(f.path), f.rows, f.sha256) for f in ev.files], ev.has_amount_claimed,
            ev.has_evidence_ref, rows)


def detailed_only(*args: Any, **kwargs: Any) -> Evidence:
    """``read_evidence`` with the compact path switched off: every file typed by the detailed path."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assemble, "read_clean", lambda *a, **k: None)
        return read_once(*args, **kwargs)


def read_evidence(*args: Any, **kwargs: Any) -> Evidence:
    """``sob.evidence.read_evidence``, checked against the detailed path (same result, same error)."""
    try:
        ev = read_once(*args, **kwargs)
    except UsageError as exc:
        with pytest.raises(UsageError) as again:
            detailed_only(*args, **kwargs)
        assert str(again.value) == str(exc)
        raise
    detailed = detailed_only(*args, **kwargs)
    first, second = snapshot(ev), snapshot(detailed)
    # the detailed path finds each claim's register row again in the assessment: not kept
    assert first[:-1] == second[:-1]
    if ev.participant_rows is not None:  # what the detailed path leaves to the assessment, checked here
        assert ev.claims is not None and ev.participants is not None
        register = ev.participants["participant_id"].to_list()
        for pid, row in zip(ev.claims["participant_id"].to_list(), ev.participant_rows.to_list()):
            assert (register[row] if row is not None else None) == (pid if pid in register else None)
    return ev


class ScanOnJoin(threading.Thread):
    """A background byte scan that runs when it is joined, not before (``Source.background``).

    What a test sees then never depends on timing: the scan runs at the point
    its result is first needed (``Source.counts()``), in the test's thread.
    """

    def start(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        self.run()
