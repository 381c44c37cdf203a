"""The verification and reset mails, read as a person reads them: the raw `.eml` bytes, the link as printed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from agent_service.settings import Settings
from tests.factories import TestUser

LINK = re.compile(rb"(https?://\S+)/(verify-email|reset-password)\?token=(\S+)")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.public_url = "http://agents.example.test:9000/"
    return settings


def newest_eml(settings: Settings, to: str) -> bytes:
    assert settings.mail_dir is not None
    files = sorted(settings.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    raw = [p.read_bytes() for p in files]
    sent = [r for r in raw if f"To: {to}".encode() in r]
    assert sent, f"no .eml file to {to!r} in {settings.mail_dir}"
    return sent[-1]


def printed_link(raw: bytes) -> tuple[str, str, str]:
    """(base, page, token) of the one link in the mail, exactly as the bytes print it."""
    found = LINK.findall(raw)
    assert len(found) == 1, raw.decode()
    base, page, token = found[0]
    return base.decode(), page.decode(), token.decode()


def assert_readable(raw: bytes) -> None:
    headers = raw.split(b"\n\n", 1)[0].lower()
    assert b"quoted-printable" not in headers and b"base64" not in headers
    assert b"content-type: text/plain" in headers and b"utf-8" in headers
    assert b"=\n" not in raw and b"=3D" not in raw  # no soft line breaks, no escaped "="


async def test_verification_mail_link_works_as_printed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    r = await client.post(
        "/api/auth/register",
        json={"email": "grace@example.com", "password": "correct-horse-1", "name": "Grace"},
    )
    assert r.status_code == 201
    raw = newest_eml(settings, "grace@example.com")
    assert_readable(raw)
    base, page, token = printed_link(raw)
    assert (base, page) == ("http://agents.example.test:9000", "verify-email")
    assert token.encode() in raw.split(b"\n")  # also on a line of its own, for API users

    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["email_verified"] is True


async def test_reset_mail_link_works_as_printed(
    client: httpx.AsyncClient, settings: Settings, user: TestUser
) -> None:
    email = user.email
    r = await client.post("/api/auth/forgot-password", json={"email": email})
    assert r.status_code in (200, 202, 204)
    raw = newest_eml(settings, email)
    assert_readable(raw)
    base, page, token = printed_link(raw)
    assert (base, page) == ("http://agents.example.test:9000", "reset-password")

    r = await client.post(
        "/api/auth/reset-password", json={"token": token, "new_password": "a-brand-new-pass-2"}
    )
    assert r.status_code in (200, 204), r.text
    r = await client.post(
        "/api/auth/login", json={"email": email, "password": "a-brand-new-pass-2"}
    )
    assert r.status_code == 200


def test_public_url_defaults_to_the_default_serve_address(tmp_path: Path) -> None:
    default = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert default.resolved_public_url == "http://127.0.0.1:8000"
