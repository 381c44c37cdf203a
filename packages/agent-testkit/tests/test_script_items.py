"""Each script item and fault through the openai SDK (httpx2 default and httpx clients), plain httpx and
httpx2 (sync and async), in-process and over the loopback server: run as a user would, via pytester."""

import pytest


@pytest.mark.parametrize("transport", ["in-process", "server"])
def test_every_item_through_every_client(copy_suite, transport: str) -> None:
    result = copy_suite("test_script_items").runpytest("-q", "-k", transport)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes["passed"] > 100
    assert outcomes["skipped"] == 7  # the SDK default-client retry test runs for one kind only
