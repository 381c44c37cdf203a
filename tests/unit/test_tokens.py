from __future__ import annotations

import uuid

import jwt

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


def test_mail_tokens_are_random_and_hashed() -> None:
    first, first_hash = new_mail_token()
    second, _ = new_mail_token()
    assert first != second
    assert len(first) >= 40
    assert first_hash == hash_mail_token(first)
    assert first not in first_hash
