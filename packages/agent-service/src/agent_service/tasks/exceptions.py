from __future__ import annotations

from agent_service.errors import NotFound


class TaskNotFound(NotFound):
    code = "task_not_found"

    def __init__(self, task_id: object) -> None:
        super().__init__(f"Task {str(task_id)!r} not found.")
