"""`StorageDep`: the app's one storage backend (one connection pool to an object store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agent_service.storage import ObjectStorage


async def get_storage(request: Request) -> ObjectStorage:
    """The one built at startup (the app's lifespan), so every request shares its HTTP pool."""
    storage: ObjectStorage = request.app.state.storage
    return storage


StorageDep = Annotated[ObjectStorage, Depends(get_storage)]
