"""Packed id keys: exact (never two ids alike), null where an id cannot be packed."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sob.idkeys import Packing, comparable, keys_of, packed


def pack(values: list[str | None], dtype) -> list[int | None]:
    return pl.DataFrame({"id": values}, schema={"id": pl.String}).select(packed(pl.col("id"), dtype))["id"].to_list()


ids = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3000), max_size=18)


@settings(max_examples=300, deadline=None)
@given(st.lists(ids, min_size=2, max_size=40))
def test_two_ids_share_a_key_only_when_they_are_the_same_id(values):
    for dtype in (pl.UInt64(), pl.UInt128()):
        keys = pack(values, dtype)
        seen: dict[int, str] = {}
        for value, key in zip(values, keys):
            if key is not None:
                assert seen.setdefault(key, value) == value


def test_what_cannot_be_packed_gets_no_key():
    assert pack(["ABCDEFGH", "ABCDEFGHI", "é", "A\x00", "", None], pl.UInt64()) == [
        pack(["ABCDEFGH"], pl.UInt64())[0], None, None, None, 0, None]
    assert pack(["ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOPQ"], pl.UInt128())[1] is None
    assert pack(["A"], pl.UInt64()) != pack(["A "], pl.UInt64())


def key_dtype(ids: pl.Series):
    packing = keys_of(ids)[0]
    return None if packing is None else packing.dtype


def test_keys_are_the_narrowest_integers_that_hold_every_id():
    assert key_dtype(pl.Series(["P0000001", "P2", None])) == pl.UInt64
    assert key_dtype(pl.Series(["P0000001", "NHS-1234567890"])) == pl.UInt128
    assert key_dtype(pl.Series(["P1", "a-participant-with-a-long-id"])) is None
    assert key_dtype(pl.Series(["P1", "Zoë"])) is None
    assert key_dtype(pl.Series(["P1", "A\x00"])) is None


def test_keys_of_packs_once_into_the_narrowest_type_or_keeps_the_strings():
    ids = pl.Series(["P0000001", "P2", None])
    packing, keys = keys_of(ids)
    assert packing == Packing(pl.UInt64(), fixed=False)
    assert keys.to_list() == ids.to_frame("id").select(packed(pl.col("id"), pl.UInt64()))["id"].to_list()
    assert keys_of(pl.Series(["P1", "NHS-1234567890"]))[0] == Packing(pl.UInt128(), fixed=False)
    long = pl.Series(["P1", "a-participant-with-a-long-id"])
    packing, keys = keys_of(long)
    assert packing is None and keys.equals(long)


def test_ids_of_one_width_are_read_as_their_bytes():
    """A register of 8-byte (16-byte) ids: no padding, so any bytes (a NUL, UTF-8) pack, and other lengths never match."""
    ids = pl.Series(["P0000001", "Zoë-001", "A\x00\x00\x00\x00\x00\x00\x00", None])
    packing, keys = keys_of(ids)
    assert packing == Packing(pl.UInt64(), fixed=True)
    assert keys.null_count() == 1 and keys.drop_nulls().n_unique() == 3
    probe = pl.Series(["P0000001", "A", "P000001", "P00000011", "Zoë-001"]).to_frame("id")
    found = probe.select(comparable(pl.col("id"), packing).is_in(keys.drop_nulls().implode()).fill_null(False))["id"]
    assert found.to_list() == [True, False, False, False, True]
    assert keys_of(pl.Series(["NHS-123456789012", "NHS-123456789013"]))[0] == Packing(pl.UInt128(), fixed=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=8, max_size=8), min_size=1, max_size=30),
       st.lists(st.binary(min_size=0, max_size=10), max_size=30))
def test_fixed_width_membership_is_exact(register, probes):
    """Membership through fixed-width keys is membership of the strings (any UTF-8 content)."""
    def text(b: bytes) -> str:  # 8 latin-1 characters are 8 to 16 UTF-8 bytes
        return b.decode("latin-1")

    reg = [text(b) for b in register]
    reg = [r for r in reg if len(r.encode()) == 8] or ["ABCDEFGH"]
    probe = [text(b) for b in probes] + reg[:3]
    packing, keys = keys_of(pl.Series(reg))
    assert packing is not None and packing.fixed
    found = pl.Series(probe, dtype=pl.String).to_frame("id").select(
        comparable(pl.col("id"), packing).is_in(keys.implode()).fill_null(False))["id"].to_list()
    assert found == [p in set(reg) for p in probe]
