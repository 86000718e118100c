from __future__ import annotations

import pytest

from functions.core.pagination import InvalidTokenError, decode_token, encode_token, query_digest


def test_round_trip():
    digest = query_digest({"platform": "tmall", "limit": 20})
    positions = {"PLATFORM#tmall#0": "2026-01-01T00:00:00.000000Z#ord-1", "PLATFORM#tmall#1": None}
    token = encode_token(digest, positions)
    assert not set(token) & set("=/+")
    assert decode_token(token, digest) == positions


def test_digest_depends_on_every_filter_but_not_on_key_order():
    assert query_digest({"a": 1, "b": 2}) == query_digest({"b": 2, "a": 1})
    assert query_digest({"a": 1, "b": 2}) != query_digest({"a": 1, "b": 3})


def test_token_of_another_query_is_refused():
    token = encode_token(query_digest({"buyer": "a"}), {"BUYER#a": "x"})
    with pytest.raises(InvalidTokenError, match="another query"):
        decode_token(token, query_digest({"buyer": "b"}))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "%%%",
        "bm90IGpzb24",
        "eyJ2IjoxLCJxIjoiYSIsInAiOltdfQ",
        "eyJ2IjoxLCJxIjoiYSIsInAiOnsieCI6MX19",
        "a" * 9000,
    ],
    ids=["empty", "not-base64", "not-json", "positions-not-a-map", "position-not-a-string", "too-long"],
)
def test_malformed_tokens_are_refused(token):
    with pytest.raises(InvalidTokenError):
        decode_token(token, "a")
