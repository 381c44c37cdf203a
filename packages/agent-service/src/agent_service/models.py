"""Every table, imported in one place so Alembic and the test database see the whole schema."""

from agent_service.assistants.models import Assistant, AssistantVersion
from agent_service.auth.models import EmailToken, LoginThrottle
from agent_service.conversations.models import Conversation, Message
from agent_service.db import Base
from agent_service.documents.models import Document, DocumentChunk
from agent_service.idempotency.models import IdempotencyKey
from agent_service.integrations.github.models import GitHubDelivery
from agent_service.jobs.models import Job
from agent_service.projects.models import Project
from agent_service.quotas.models import TokenUsage
from agent_service.run_webhooks.models import WebhookDelivery, WebhookSecret
from agent_service.runs.models import Run, RunEvent
from agent_service.schedules.models import Schedule
from agent_service.tasks.models import Task
from agent_service.users.models import User

__all__ = [
    "Assistant",
    "AssistantVersion",
    "Base",
    "Conversation",
    "Document",
    "DocumentChunk",
    "EmailToken",
    "GitHubDelivery",
    "IdempotencyKey",
    "Job",
    "LoginThrottle",
    "Message",
    "Project",
    "Run",
    "RunEvent",
    "Schedule",
    "Task",
    "TokenUsage",
    "User",
    "WebhookDelivery",
    "WebhookSecret",
]
