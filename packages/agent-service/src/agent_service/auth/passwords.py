"""Argon2 through pwdlib; cost from settings, rehash when it changes, and constant-ish login time.

The cost is a setting (like Django's PASSWORD_HASHERS) so a test suite can hash in 1 ms; the
defaults are pwdlib's recommended parameters, and a hash made with other parameters is replaced
at the next successful login.
"""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from agent_service.settings import Settings


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        self._dummy = self._hasher.hash("not-a-real-password-used-only-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one used other parameters)."""
        return self._hasher.verify_and_update(password, hashed)

    def burn_verification_time(self, password: str) -> None:
        """Spend what a real verify costs, so a login cannot tell unknown emails apart by time."""
        self._hasher.verify(password, self._dummy)


@lru_cache(maxsize=4)
def _passwords(time_cost: int, memory_kib: int, parallelism: int) -> Passwords:
    return Passwords(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)


def passwords_for(settings: Settings) -> Passwords:
    return _passwords(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
