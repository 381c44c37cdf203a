"""Every operation in the OpenAPI document refuses a request without a token (401), except the
few that are public by design and listed here: a route added without `CurrentUser` (or an owned
resource dependency) fails this test instead of serving anyone."""

from __future__ import annotations

import re

import httpx
import pytest

# Public by design: account flows before a token exists, health, the signed GitHub webhook.
PUBLIC = {
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/verify-email"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/refresh"),  # the HttpOnly cookie and a CSRF header stand for the token
    ("POST", "/api/auth/logout"),  # clears the caller's own cookie; `everywhere` needs a credential
    ("POST", "/api/auth/resend-verification"),
    ("POST", "/api/auth/forgot-password"),
    ("POST", "/api/auth/reset-password"),
    ("POST", "/webhooks/github"),  # its HMAC signature stands for the token
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
ANY_ID = "00000000-0000-4000-8000-000000000001"


def concrete(path: str, *, garbage: bool = False) -> str:
    """The path with every parameter filled in: a well-formed id that names nothing, or (with
    `garbage`) a value no parameter accepts, which must not be looked at before the token."""
    if garbage:
        return re.sub(r"\{[^}]+\}", "no-such-thing", path)
    known = {"{page}": "1", "{agent_type}": "assistant"}
    return re.sub(r"\{[^}]+\}", lambda m: known.get(m.group(0), ANY_ID), path)


@pytest.mark.parametrize("garbage", [False, True], ids=["well_formed", "garbage_params"])
async def test_every_operation_but_the_public_ones_refuses_no_token(
    client: httpx.AsyncClient, garbage: bool
) -> None:
    """With garbage path parameters too: an unknown agent type's 404 lists the built-in agent
    names, so it is for signed-in callers only; no path is looked at before the token."""
    schema = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 40  # the document really lists the API
    assert set(operations) >= PUBLIC, PUBLIC - set(operations)  # the list names real routes
    open_to_anyone = []
    for method, path in operations:
        if (method, path) in PUBLIC:
            continue
        r = await client.request(method, concrete(path, garbage=garbage), json={})
        if r.status_code != 401:
            open_to_anyone.append(f"{method} {path}: {r.status_code} {r.text[:120]}")
        else:
            assert r.json()["error"] in {"unauthenticated", "invalid_token"}, r.text
    assert open_to_anyone == [], "\n".join(open_to_anyone)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 20_000])
async def test_a_bad_token_is_refused_like_none(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get("/api/runs", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
