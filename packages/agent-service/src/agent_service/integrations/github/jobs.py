"""The `github.triage` job: triage the issue of one delivery, label it and comment on it.

Idempotent enough to run again after an interruption: the triage result is stored before GitHub
is called (a retry does not ask the model twice), and adding labels that exist is a no-op.
"""

from __future__ import annotations

import uuid

import httpx

from agent_service.db import utcnow
from agent_service.errors import AppError
from agent_service.integrations.github.client import GitHubClient
from agent_service.integrations.github.exceptions import GitHubError, GitHubRateLimited
from agent_service.integrations.github.models import DeliveryStatus, GitHubDelivery
from agent_service.integrations.github.triage import (
    TriageRejected,
    TriageResult,
    render_comment,
    triage_issue,
)
from agent_service.jobs.exceptions import PermanentJobError, RetryableJobError
from agent_service.jobs.registry import JobContext, JobHandler, Payload
from agent_service.llm.errors import LLMNotConfigured, LLMRejected

KIND = "github.triage"


async def _triage(context: JobContext, delivery: GitHubDelivery) -> TriageResult:
    try:
        result, _usage = await triage_issue(context.llm, delivery.payload)
    except TriageRejected as exc:
        raise PermanentJobError(str(exc)) from exc
    except (LLMNotConfigured, LLMRejected) as exc:
        raise PermanentJobError(exc.detail) from exc
    except AppError as exc:  # rate limits, timeouts, outages: a later attempt may pass
        raise RetryableJobError(exc.detail) from exc
    return result


async def _publish(context: JobContext, delivery: GitHubDelivery, result: TriageResult) -> str:
    """Labels, then the comment; returns the comment's URL."""
    token = context.settings.github_token
    if token is None:
        raise PermanentJobError("GITHUB_TOKEN is not set, so the triage cannot be posted.")
    owner, _, repo = (delivery.repository or "").partition("/")
    number = delivery.issue_number or 0
    try:
        async with GitHubClient(token.get_secret_value(), context.settings.github_api_url) as gh:
            if result.labels:
                await gh.add_labels(owner, repo, number, result.labels)
            comment = await gh.create_issue_comment(owner, repo, number, render_comment(result))
    except GitHubRateLimited as exc:
        raise RetryableJobError(
            f"GitHub rate limit: {exc.message}", retry_after_s=exc.retry_after
        ) from exc
    except GitHubError as exc:
        if exc.response.status_code >= 500:
            raise RetryableJobError(exc.message) from exc
        raise PermanentJobError(exc.message) from exc
    except httpx.TransportError as exc:
        raise RetryableJobError(f"GitHub could not be reached ({type(exc).__name__}).") from exc
    return str(comment.get("html_url", ""))


async def run_triage(context: JobContext, payload: Payload) -> None:
    async with context.sessionmaker() as session:
        delivery = await session.get(GitHubDelivery, uuid.UUID(payload["delivery_id"]))
        if delivery is None or delivery.status == DeliveryStatus.DONE:
            return
        delivery.attempts += 1
        await session.commit()
        if delivery.triage is None:
            delivery.triage = (await _triage(context, delivery)).model_dump(exclude_none=True)
            await session.commit()
        result = TriageResult.model_validate(delivery.triage)  # extra keys (comment_url) ignored
        comment_url = await _publish(context, delivery, result)
        delivery.triage = {**delivery.triage, "comment_url": comment_url}
        delivery.status = DeliveryStatus.DONE
        delivery.error = None
        delivery.finished_at = utcnow()
        await session.commit()


async def record_triage_failure(context: JobContext, payload: Payload, message: str) -> None:
    async with context.sessionmaker() as session:
        delivery = await session.get(GitHubDelivery, uuid.UUID(payload["delivery_id"]))
        if delivery is not None:
            delivery.status = DeliveryStatus.FAILED
            delivery.error = message
            delivery.finished_at = utcnow()
            await session.commit()


TRIAGE_ISSUE = JobHandler(KIND, run_triage, record_triage_failure)
