"""The `storage.discard_upload` job: remove what a failed upload left on a store that went away.

A put that fails because the store failed cannot abort its multipart upload either: its parts stay
(and an upload whose last step the store took but whose answer was lost is a whole object that no
row names). The caller, which keeps no row for the key, enqueues this job; it retries with the
jobs' backoff until the store answers, then deletes the object and aborts the key's incomplete
uploads (`ObjectStorage.abort_uploads`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.jobs import service as jobs
from agent_service.jobs.exceptions import PermanentJobError, RetryableJobError
from agent_service.jobs.registry import JobContext, JobHandler, Payload
from agent_service.storage import StorageError, StorageUnavailable, build_storage

KIND = "storage.discard_upload"
# The backoff doubles up to five minutes: 12 attempts wait for a store down about 25 minutes; past
# that, only the bucket's lifecycle rule for incomplete multipart uploads ends the parts.
MAX_ATTEMPTS = 12


async def discard_upload_later(session: AsyncSession, key: str) -> uuid.UUID:
    """Enqueue (and commit) the job removing what the failed put of `key` left; its id, to submit.
    Only for a key that nothing refers to: whatever is stored under it is removed."""
    job = await jobs.enqueue_job(session, KIND, {"key": key}, max_attempts=MAX_ATTEMPTS)
    await session.commit()
    return job.id


async def discard_upload(context: JobContext, payload: Payload) -> None:
    storage = build_storage(context.settings)
    try:
        await storage.delete(payload["key"])
        await storage.abort_uploads(payload["key"])
    except StorageUnavailable as exc:
        raise RetryableJobError(exc.detail) from exc
    except StorageError as exc:
        raise PermanentJobError(str(exc)) from exc


DISCARD_UPLOAD = JobHandler(KIND, discard_upload)
