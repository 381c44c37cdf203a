from __future__ import annotations

import uuid

import jwt
import pytest

from agent_service.auth.tokens import (
    create_access_token,
    decode_access_token,
    hash_mail_token,
    new_mail_token,
)

SECRET = "k" * 64


def test_access_token_round_trip() -> None:
    user_id = uuid.uuid4()
    token = create_access_token(user_id=user_id, token_version=3, secret=SECRET, expire_minutes=5)
    claims = decode_access_token(token, secret=SECRET)
    assert claims is not None
    assert claims["sub"] == str(user_id)
    assert claims["tv"] == 3
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_token_without_type_or_version_is_refused() -> None:
    token = jwt.encode({"sub": "x", "exp": 2**40, "iat": 0}, SECRET, algorithm="HS256")
    assert decode_access_token(token, secret=SECRET) is None


@pytest.mark.parametrize(
    "claims",
    [
        {"typ": "access"},  # no version: the caller would fail reading it, a 500 not a 401
        {"typ": "access", "tv": "3"},
        {"typ": "access", "tv": None},
        {"typ": "refresh", "tv": 3},
        {"tv": 3},
    ],
    ids=["no-version", "text-version", "null-version", "other-type", "no-type"],
)
def test_a_token_needs_both_the_access_type_and_an_integer_version(claims: dict) -> None:
    token = jwt.encode({"sub": "x", "exp": 2**40, "iat": 0, **claims}, SECRET, algorithm="HS256")
    assert decode_access_token(token, secret=SECRET) is None


def test_mail_tokens_are_random_and_hashed() -> None:
    first, first_hash = new_mail_token()
    second, _ = new_mail_token()
    assert first != second
    assert len(first) >= 40
    assert first_hash == hash_mail_token(first)
    assert first not in first_hash
