from __future__ import annotations

from agent_service.errors import InvalidRequest


class WebhookTargetRefused(InvalidRequest):
    code = "webhook_target_refused"


class WebhookSecretMissing(InvalidRequest):
    code = "webhook_secret_missing"

    def __init__(self) -> None:
        super().__init__(
            "Make your webhook signing secret first (POST /api/webhooks/secret): a webhook is "
            "only sent signed, so that you can tell it came from this service."
        )
