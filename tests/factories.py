"""Factories: `make_<thing>` builds one through the service's own code, ready for HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from polyfactory.factories.pydantic_factory import ModelFactory
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.auth import service as auth
from agent_service.auth.passwords import passwords_for
from agent_service.settings import Settings
from agent_service.users import service as users
from agent_service.users.schemas import UserCreate

# A well-formed id that no row has: a fixed value, so parallel workers collect the same test ids.
UNKNOWN_ID = "6f1c2a9e-0000-4000-8000-000000000001"


class UserCreateFactory(ModelFactory[UserCreate]):
    """Registration payloads with unique, valid emails."""

    @classmethod
    def email(cls) -> str:
        return f"user-{uuid.uuid4().hex[:10]}@example.com"

    @classmethod
    def password(cls) -> str:
        return f"pw-{uuid.uuid4().hex}"

    @classmethod
    def name(cls) -> str:
        return cls.__faker__.name()


@dataclass
class TestUser:
    __test__ = False

    id: uuid.UUID
    email: str
    password: str
    token: str
    is_admin: bool = False
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


async def make_user(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    is_admin: bool = False,
    email_verified: bool = True,
    **overrides: str,
) -> TestUser:
    payload = UserCreateFactory.build(**overrides)
    async with sessionmaker() as session:
        user = await users.create_user(
            session,
            passwords_for(settings),
            email=payload.email,
            password=payload.password,
            name=payload.name,
            is_admin=is_admin,
            email_verified=email_verified,
        )
        await session.commit()
        token = auth.issue_access_token(user, settings).access_token
    return TestUser(user.id, user.email, payload.password, token, is_admin)
