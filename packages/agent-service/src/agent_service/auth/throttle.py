"""Login throttling: failures counted per account and per client address, in the database.

Every attempt is counted as a failure *before* its password is checked (a success then clears
the account's count), so concurrent guesses cannot all slip in before the first is recorded.
From the `LOGIN_MAX_FAILURES`-th failure on, the key is blocked for 1 s, then 2, 4, ... up to
15 minutes; a blocked key answers 429 `too_many_attempts` with Retry-After, without hashing. A
client address gets four times as many (people behind one NAT), and a success does not clear it:
otherwise an attacker owning one account could clear its address between guesses at others.
A key quiet for an hour starts again from zero. Rows are updated by compare-and-set on the
count, so replicas on one database agree without locks.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.auth.exceptions import TooManyAttempts
from agent_service.auth.models import LoginThrottle
from agent_service.db import utcnow

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 15 * 60.0
FORGET_AFTER = timedelta(hours=1)
ADDRESS_FACTOR = 4
_CAS_ATTEMPTS = 8


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:64]


def address_key(address: str) -> str:
    return "address:" + address[:64]


def blocked_until(failures: int, max_failures: int, now: datetime) -> datetime | None:
    """When the key may try again after `failures` failures: none below the limit, then
    exponentially later."""
    if failures < max_failures:
        return None
    wait_s = min(BACKOFF_FIRST_S * 2 ** min(failures - max_failures, 20), BACKOFF_MAX_S)
    return now + timedelta(seconds=wait_s)


async def reserve_attempt(
    session: AsyncSession, *, email: str, address: str | None, max_failures: int
) -> list[str]:
    """Count this login as failed (committed) unless a key is blocked (429); returns the keys,
    which `settle_success` takes when the password turns out right."""
    now = utcnow()
    limits = {account_key(email): max_failures}
    if address:
        limits[address_key(address)] = max_failures * ADDRESS_FACTOR
    rows = await session.execute(
        select(LoginThrottle.blocked_until).where(LoginThrottle.key.in_(limits))
    )
    _refuse_if_blocked([until for (until,) in rows], now)
    for key, limit in limits.items():
        await _count_failure(session, key, limit, now)
    await session.commit()  # seen by every replica before the password is checked
    return list(limits)


async def settle_success(session: AsyncSession, keys: list[str]) -> None:
    """A right password: the account's failures are forgotten, and the address's count loses
    this attempt again, without being cleared (the caller commits)."""
    account, *address = keys
    await clear_account(session, account)
    if address:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == address[0], LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
        )


async def clear_account(session: AsyncSession, key: str) -> None:
    """The account's failures forgotten (a right password, or an operator's new one)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _refuse_if_blocked(blocked: list[datetime | None], now: datetime) -> None:
    waits = [(until - now).total_seconds() for until in blocked if until and until > now]
    if waits:
        raise TooManyAttempts(max(1, math.ceil(max(waits))))


async def _count_failure(session: AsyncSession, key: str, limit: int, now: datetime) -> None:
    for _ in range(_CAS_ATTEMPTS):
        row = (
            await session.execute(
                select(
                    LoginThrottle.failures,
                    LoginThrottle.last_failure_at,
                    LoginThrottle.blocked_until,
                ).where(LoginThrottle.key == key)
            )
        ).one_or_none()
        if row is None:
            if await _insert_first(session, key, limit, now):
                return
            continue
        failures, last_failure_at, until = row
        _refuse_if_blocked([until], now)  # another attempt blocked it meanwhile
        count = 1 if last_failure_at < now - FORGET_AFTER else failures + 1
        updated = await session.scalar(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures == failures)
            .values(
                failures=count, last_failure_at=now, blocked_until=blocked_until(count, limit, now)
            )
            .returning(LoginThrottle.key)
        )
        if updated is not None:
            return
    raise TooManyAttempts(1)  # this key is being hammered faster than it can be counted


async def _insert_first(session: AsyncSession, key: str, limit: int, now: datetime) -> bool:
    values = {
        "key": key,
        "failures": 1,
        "last_failure_at": now,
        "blocked_until": blocked_until(1, limit, now),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    inserted = await session.scalar(
        insert(LoginThrottle)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(LoginThrottle.key)  # psycopg's rowcount is -1 here
    )
    return inserted is not None
