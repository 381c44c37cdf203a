"""Where uploaded files live: a local folder (default) or an S3-compatible object store.

`build_storage(settings)` picks the backend from `STORAGE_URL`; routes get the app's one instance
through `StorageDep` (`storage.dependencies`), jobs build theirs from the same settings.
"""

from __future__ import annotations

from agent_service.settings import Settings
from agent_service.storage.base import (
    InvalidKey,
    ObjectNotFound,
    ObjectStorage,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
)
from agent_service.storage.local import LocalStorage

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "ObjectStorage",
    "ObjectTooLarge",
    "StorageError",
    "StorageUnavailable",
    "build_storage",
]


def build_storage(settings: Settings) -> ObjectStorage:
    """The backend `STORAGE_URL` names: unset = `DATA_DIR` on this host, `s3://...` = a bucket."""
    if not settings.storage_url:
        return LocalStorage(settings.data_dir)
    from agent_service.storage.s3 import S3Storage  # obstore loads only when it is used

    return S3Storage.from_url(settings.storage_url)
