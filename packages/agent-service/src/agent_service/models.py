"""Every table, imported in one place so Alembic and the test database see the whole schema."""

from agent_service.auth.models import EmailToken
from agent_service.db import Base
from agent_service.users.models import User

__all__ = ["Base", "EmailToken", "User"]
