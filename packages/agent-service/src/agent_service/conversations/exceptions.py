from __future__ import annotations

from agent_service.errors import Conflict, NotFound


class ConversationNotFound(NotFound):
    code = "conversation_not_found"

    def __init__(self, conversation_id: object) -> None:
        super().__init__(f"Conversation {str(conversation_id)!r} not found.")


class ConversationBusy(Conflict):
    code = "conversation_busy"

    def __init__(self, conversation_id: object) -> None:
        super().__init__(
            f"Another message is being answered in conversation {str(conversation_id)!r}; "
            "wait for its answer, then send yours."
        )
