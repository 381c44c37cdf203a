"""The network guard: in a pytest session with the kit, a request to a real LLM host that neither a fake
nor a cassette answers fails the test at once.

A test that forgets the `fake_llm` fixture would otherwise send its prompt (and a real key, if the
developer has one) to the provider. The guard is installed for the whole session by the plugin, so it
also covers clients built at import and requests made in fixtures. It raises pytest's own failure
(a BaseException): an SDK does not retry it and an app's `except Exception` does not swallow it; a
refusal swallowed anyway (in another thread) still fails the test after its call.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from agent_testkit.fake_llm.interception import install_guard, uninstall_guard

ALLOW_MARKER = "allow_llm_network"
ALLOW_OPTION = "--allow-llm-network"


class NetworkGuard:
    """Refuses real LLM hosts while no fake is active; `test` names who asked, `lifted` lets them through."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.lifted = False
        self.test = "collection (module import)"
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> NetworkGuard:
        install_guard(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        uninstall_guard(self)

    def begin(self, nodeid: str, *, lifted: bool) -> None:
        """A test starts (its setup, call and teardown are its)."""
        with self._lock:
            self.test, self.lifted, self.refused = nodeid, lifted, []

    def end(self) -> None:
        with self._lock:
            self.test, self.lifted, self.refused = "the session's end", False, []

    def refusing(self) -> bool:
        return self.enabled and not self.lifted

    def refuse(self, url: str) -> BaseException:
        """The failure for a request to `url`, also kept for `problems()`."""
        with self._lock:
            if url not in self.refused:
                self.refused.append(url)
        return pytest.fail.Exception(self.message(url), pytrace=False)

    def message(self, url: str) -> str:
        host = urlsplit(url).hostname
        return (
            f"agent_testkit network guard: {self.test} sent a request to the real LLM host {host!r} "
            f"({url}). Use the fake_llm fixture (or a cassette: @pytest.mark.cassette) so no test reaches "
            f"a real model; to record on purpose, run with {ALLOW_OPTION} or mark the test "
            f"@pytest.mark.{ALLOW_MARKER}."
        )

    def problems(self) -> list[str]:
        with self._lock:
            return [self.message(url) for url in self.refused]
