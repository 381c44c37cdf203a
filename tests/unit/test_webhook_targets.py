"""Where a completion webhook may go: public http(s) addresses only, checked after resolution."""

from __future__ import annotations

import pytest

from agent_service.run_webhooks.exceptions import WebhookTargetRefused
from agent_service.run_webhooks.targets import check_webhook_url

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "http://localhost:9000/hook",  # a name that resolves to loopback
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://0.0.0.0/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(WebhookTargetRefused) as refused:
        await check_webhook_url(url, allow_private=False)
    assert url in refused.value.detail


async def test_public_addresses_pass_and_private_ones_when_allowed() -> None:
    await check_webhook_url("https://93.184.215.14/hook", allow_private=False)
    await check_webhook_url("http://127.0.0.1:8080/hook", allow_private=True)
    with pytest.raises(WebhookTargetRefused):  # the scheme is checked even then
        await check_webhook_url("gopher://127.0.0.1/", allow_private=True)


async def test_an_unresolvable_name_is_refused() -> None:
    with pytest.raises(WebhookTargetRefused) as refused:
        await check_webhook_url("http://no-such-host.invalid/hook", allow_private=False)
    assert "does not resolve" in refused.value.detail
