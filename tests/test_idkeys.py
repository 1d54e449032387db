"""Packed id keys: exact (never two ids alike), null where an id cannot be packed."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sob.idkeys import key_dtype, packed


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


def test_key_dtype_is_the_narrowest_that_holds_every_id():
    assert key_dtype(pl.Series(["P0000001", "P2", None])) == pl.UInt64
    assert key_dtype(pl.Series(["P0000001", "NHS-1234567890"])) == pl.UInt128
    assert key_dtype(pl.Series(["P1", "a-participant-with-a-long-id"])) is None
    assert key_dtype(pl.Series(["P1", "Zoë"])) is None
    assert key_dtype(pl.Series(["P1", "A\x00"])) is None


def test_keys_of_packs_once_into_the_narrowest_type_or_keeps_the_strings():
    from sob.idkeys import keys_of

    ids = pl.Series(["P0000001", "P2", None])
    dtype, keys = keys_of(ids)
    assert dtype == pl.UInt64 and keys.to_list() == ids.to_frame("id").select(packed(pl.col("id"), pl.UInt64()))["id"].to_list()
    assert keys_of(pl.Series(["P1", "NHS-1234567890"]))[0] == pl.UInt128
    long = pl.Series(["P1", "a-participant-with-a-long-id"])
    dtype, keys = keys_of(long)
    assert dtype is None and keys.equals(long)
