from __future__ import annotations

from agent_service.errors import NotFound


class ProjectNotFound(NotFound):
    code = "project_not_found"

    def __init__(self, project_id: object) -> None:
        super().__init__(f"Project {str(project_id)!r} not found.")
