"""Argon2 through pwdlib, in a bounded thread pool: a login storm queues, the event loop answers.

The cost is a setting (like Django's PASSWORD_HASHERS) so a test suite can hash in 1 ms; the
defaults are pwdlib's recommended parameters, and a hash made with other parameters is replaced
at the next successful login. A hash takes tens of milliseconds of a core: run on the event loop,
16 concurrent wrong passwords held every other request (`/healthz` included) for seconds. Here it
runs in a pool of `PASSWORD_HASH_WORKERS` threads (0: one per core; argon2-cffi releases the GIL),
so at most that many cores hash at once and the other requests keep the loop. The pool's
threads run at a lower CPU priority (nice +10; argon2's own lane threads inherit it), so on a busy
machine the event loop's thread is served first and a storm hashes with what is left. And at most
`login_slots` logins of a process are worked on at once (`login_gate`): the rest wait without
costing the event loop anything, so a storm of refused (429) logins, each a few database round
trips, cannot fill the loop's queue ahead of every other request either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from agent_service.settings import Settings

T = TypeVar("T")
HASH_NICE = 10


def _lower_priority() -> None:
    """Run in each hashing thread as it starts: yield the CPU to the event loop's thread."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, workers: int) -> None:
        self._hasher = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        self._dummy = self._hasher.hash("not-a-real-password-used-only-for-timing")
        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="password-hash", initializer=_lower_priority
        )
        self.login_slots = 2 * self.workers
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._gates = weakref.WeakKeyDictionary()

    def login_gate(self) -> asyncio.Semaphore:
        """The running loop's limit on logins worked on at once (one per loop: a semaphore
        belongs to the loop it first waited in)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.login_slots)
        return gate

    async def _in_pool(self, function: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def hash(self, password: str) -> str:
        return await self._in_pool(self._hasher.hash, password)

    async def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one used other parameters)."""
        return await self._in_pool(self._hasher.verify_and_update, password, hashed)

    async def burn_verification_time(self, password: str) -> None:
        """Spend what a real verify costs, so a login cannot tell unknown emails apart by time."""
        await self._in_pool(self._hasher.verify, password, self._dummy)


@lru_cache(maxsize=4)
def _passwords(time_cost: int, memory_kib: int, parallelism: int, workers: int) -> Passwords:
    return Passwords(
        time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism, workers=workers
    )


def passwords_for(settings: Settings) -> Passwords:
    """The process's hasher for these settings (one pool per cost and size, built once)."""
    return _passwords(
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        settings.argon2_parallelism,
        settings.password_hash_workers,
    )
