"""The web pages' refresh cookie: a new tab stays signed in; sign-out and revocation end it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from agent_service.settings import Settings
from tests.factories import TestUser

PAGE = {"X-Requested-With": "agent-service"}
COOKIE = "agent_service_refresh"


async def page_login(client: httpx.AsyncClient, user: TestUser) -> httpx.Response:
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": user.password, "remember": True}
    )
    assert r.status_code == 200, r.text
    return r


async def refresh(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", headers={**PAGE, **headers})


async def test_page_login_sets_an_httponly_cookie_that_refreshes(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await page_login(client, user)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Path=/api/auth", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http in development

    r = await refresh(client, Origin="http://testserver")
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    profile = await client.get(
        "/api/profile", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert profile.status_code == 200 and profile.json()["email"] == user.email


async def test_api_login_sets_no_cookie(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert (await refresh(client)).status_code == 401


async def test_refresh_without_cookie_is_401(client: httpx.AsyncClient) -> None:
    r = await refresh(client)
    assert r.status_code == 401 and r.json()["error"] == "invalid_refresh"


async def test_refresh_without_the_csrf_header_is_403(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await page_login(client, user)
    r = await client.post("/api/auth/refresh")
    assert r.status_code == 403 and r.json()["error"] == "cross_site_request"
    r = await client.post("/api/auth/refresh", headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 403


async def test_refresh_from_a_foreign_origin_is_403(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await page_login(client, user)
    r = await refresh(client, Origin="https://evil.example")
    assert r.status_code == 403 and r.json()["error"] == "cross_site_request"
    assert (await refresh(client, Origin="null")).status_code == 403


async def test_the_cookie_authorizes_nothing_else(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await page_login(client, user)
    # httpx sends it only under /api/auth; send it by hand where a bearer token is needed
    cookie = client.cookies.get(COOKIE)
    assert cookie
    r = await client.get("/api/profile", headers={**PAGE, "Cookie": f"{COOKIE}={cookie}"})
    assert r.status_code == 401
    r = await client.get("/api/profile", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401  # a refresh token is not an access token


async def test_after_logout_refresh_is_401(client: httpx.AsyncClient, user: TestUser) -> None:
    await page_login(client, user)
    cookie = client.cookies.get(COOKIE)
    assert (await client.post("/api/auth/logout")).status_code == 403  # CSRF rule too
    r = await client.post("/api/auth/logout", headers=PAGE)
    assert r.status_code == 200, r.text
    assert (await refresh(client)).status_code == 401
    # a plain logout ends this browser's cookie only; the bearer token of the API stays
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 200
    assert cookie


async def test_sign_out_everywhere_revokes_every_cookie(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await page_login(client, user)
    stolen = client.cookies.get(COOKIE)
    assert stolen
    r = await client.post("/api/auth/logout", json={"everywhere": True}, headers=PAGE)
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/auth/refresh", headers={**PAGE, "Cookie": f"{COOKIE}={stolen}"}
    )  # another browser holding the same cookie
    assert r.status_code == 401
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 401


async def test_sign_out_everywhere_needs_to_know_who(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/logout", json={"everywhere": True}, headers=PAGE)
    assert r.status_code == 401


async def test_password_change_revokes_the_cookie(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await page_login(client, user)
    assert (await refresh(client)).status_code == 200
    r = await client.patch(
        "/api/profile",
        json={"new_password": "brand-new-pass-1", "current_password": user.password},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    r = await refresh(client)
    assert r.status_code == 401 and r.json()["error"] == "invalid_refresh"


async def test_over_https_the_cookie_is_secure(app: FastAPI, user: TestUser) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        r = await page_login(client, user)
        assert "secure" in r.headers["set-cookie"].lower()
        assert (await refresh(client, Origin="https://testserver")).status_code == 200


async def test_the_public_url_is_a_same_origin(
    client: httpx.AsyncClient, user: TestUser, settings: Settings
) -> None:
    settings.public_url = "https://agents.example.org/"
    await page_login(client, user)
    assert (await refresh(client, Origin="https://agents.example.org")).status_code == 200
    assert (await refresh(client, Origin="https://agents.example.org.evil")).status_code == 403
