"""`StorageDep`: the app's one storage backend (one connection pool to an object store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agent_service.storage import ObjectStorage, build_storage


async def get_storage(request: Request) -> ObjectStorage:
    """Built on first use and kept on the app, so every request shares its HTTP pool."""
    state = request.app.state
    storage: ObjectStorage | None = getattr(state, "storage", None)
    if storage is None:
        storage = state.storage = build_storage(state.settings)
    return storage


StorageDep = Annotated[ObjectStorage, Depends(get_storage)]
