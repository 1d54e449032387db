"""The byte source of an evidence file (``sob.evidence.source``): the byte scan and its background thread.

Every test here is deterministic: the scan runs when it is joined (``ScanOnJoin``,
injected as ``Source.background``), except in the one test that runs a real thread
and joins it before looking at anything it found.
"""

from __future__ import annotations

import threading

import pytest
from evidence_paths import ScanOnJoin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sob.evidence import source


@pytest.fixture(autouse=True)
def _deterministic_scan(monkeypatch):
    """The byte scan runs at a fixed point: when its result is first needed."""
    monkeypatch.setattr(source.Source, "background", ScanOnJoin)


def test_byte_counts_do_not_depend_on_where_the_chunks_end():
    data = ("a,b\r\n" * 5 + "x\u00a0y,\u3000\n").encode()
    plain = ("a,b\r\n" * 5 + "x\u00e9y\n").encode()
    for cut in range(len(data) + 1):
        scan = source._ByteScan(b",", count_delimiters=True)
        scan.feed(data[:cut], cut)
        scan.feed(data[cut:], len(data) - cut)
        r = scan.result()
        assert (r.delimiters, r.newlines, r.carriage_returns, r.crlf, r.ends_with_newline, r.odd_whitespace) == (
            6, 6, 5, 5, True, True), cut
    for cut in range(len(plain) + 1):
        scan = source._ByteScan(b",", count_delimiters=False)
        scan.feed(plain[:cut], cut)
        scan.feed(plain[cut:], len(plain) - cut)
        assert not scan.result().odd_whitespace
        assert scan.result().delimiters is None


_BYTES = st.lists(st.sampled_from([b"a", b",", b"\n", b"\r", b'"', b" ", b"\t", b"\x00", b"\xc3\xa9", b"\xff"]), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_BYTES, chunk=st.integers(1, 9))
def test_the_scan_finds_what_an_up_front_search_finds(tmp_path, monkeypatch, parts, chunk):
    """The claims' scan (``later=True``) gives the same byte facts as the searches made up front."""
    data = b"".join(parts)
    p = tmp_path / "claims.csv"
    p.write_bytes(data)
    monkeypatch.setattr(source, "_CHUNK", chunk)  # quotes, spaces and line ends fall across chunk edges
    now, later = source.Source(p, str(p), ","), source.Source(p, str(p), ",", later=True)
    assert later._marks is None  # nothing searched before the scan ran
    assert (later.has_quote, later.marks.space, later.marks.later_space) == (
        now.has_quote, data.find(b" "), now.marks.later_space)
    assert [later.space_from_line(n) for n in range(4)] == [now.space_from_line(n) for n in range(4)]
    assert later.delimiters() == now.delimiters() == data.count(b",")
    c, d = later.counts(), now.counts()
    assert (c.newlines, c.carriage_returns, c.crlf, c.ends_with_newline, c.odd_whitespace, c.has_nul) == (
        d.newlines, d.carriage_returns, d.crlf, d.ends_with_newline, d.odd_whitespace, d.has_nul)
    assert c.newlines == data.count(b"\n")
    assert c.nuls == d.nuls == data.count(b"\x00")


def test_the_real_background_thread_gives_the_same_facts_once_joined(tmp_path, monkeypatch):
    """The scan in a real thread, joined by ``counts()``, finds what the scan run on joining finds."""
    p = tmp_path / "claims.csv"
    p.write_bytes(b'a, b\n"c",d\r\n e\n' * 1000)
    deferred = source.Source(p, str(p), ",", later=True)
    monkeypatch.setattr(source.Source, "background", threading.Thread)
    real = source.Source(p, str(p), ",", later=True)
    assert isinstance(real._thread, threading.Thread) and not isinstance(real._thread, ScanOnJoin)
    thread = real._thread
    got = real.counts()
    assert real._thread is None and not thread.is_alive()  # joined
    assert got == deferred.counts()
    assert (real.marks.quote, real.marks.space) == (deferred.marks.quote, deferred.marks.space) == (5, 2)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_BYTES)
def test_polars_counts_every_line(tmp_path, parts):
    """``_lines_in`` is the line breaks plus a last line without one, whatever the bytes."""
    data = b"".join(parts)
    p = tmp_path / "any.csv"
    p.write_bytes(data)
    assert source._lines_in(p) == data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
