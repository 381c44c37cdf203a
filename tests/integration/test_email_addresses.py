"""An email field accepts what its schema says (`format: email`), special-use domains included.

email-validator's default refuses `.test`, `.local`, `localhost` and the other special-use names,
a rule `format: email` cannot state: schema-valid addresses were a 422, and an intranet's
`corp.local` users could not register. The address is proven by the verification mail instead.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_service.users.schemas import MAX_EMAIL_LENGTH, parse_email


@pytest.mark.parametrize(
    "email", ["ada@example.test", "ops@corp.local", "root@localhost", "x@mail.invalid"]
)
async def test_a_special_use_domain_registers_and_logs_in(
    client: httpx.AsyncClient, email: str
) -> None:
    credentials = {"email": email, "password": "a-long-password-1"}
    r = await client.post("/api/auth/register", json=credentials)
    assert r.status_code == 201, r.text
    r = await client.post("/api/auth/login", json={**credentials, "email": email.upper()})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "email", ["no-at-sign", "two@@example.com", "a@-bad-.com", "a@", f"{'a' * 250}@x.com"]
)
async def test_what_is_not_an_address_is_422(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post("/api/auth/register", json={"email": email, "password": "pw-123456789"})
    assert r.status_code == 422, r.text
    assert "not a valid email address" in r.text


async def test_the_schema_states_the_rule(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("UserCreate", "LoginRequest", "ForgotPasswordRequest"):
        email = schema[name]["properties"]["email"]
        assert (email["type"], email["format"], email["maxLength"]) == (
            "string",
            "email",
            MAX_EMAIL_LENGTH,
        )
        assert email.keys() <= {"type", "format", "maxLength", "title"}  # no other rule


@settings(max_examples=2000, database=None, deadline=None)
@given(st.emails())
def test_every_address_the_format_allows_is_accepted(email: str) -> None:
    """What a client (or schemathesis) draws for `format: email` passes."""
    assert parse_email(email) == parse_email(parse_email(email))
