from __future__ import annotations

from agent_service.errors import Forbidden, InvalidRequest, NotFound


class AssistantNotFound(NotFound):
    code = "assistant_not_found"

    def __init__(self, assistant_id: object, version: int | None = None) -> None:
        which = f" version {version}" if version is not None else ""
        super().__init__(f"Assistant {str(assistant_id)!r}{which} not found.")


class AssistantReadOnly(Forbidden):
    code = "assistant_read_only"

    def __init__(self, assistant_id: object) -> None:
        super().__init__(
            f"Assistant {str(assistant_id)!r} is read-only to you (built in, or published by "
            "another user): create your own assistant to change it."
        )


class PublishAdminOnly(Forbidden):
    code = "admin_only"

    def __init__(self) -> None:
        super().__init__("Only an admin may publish an assistant to all users (`public: true`).")


class StdioToolAdminOnly(Forbidden):
    code = "admin_only"

    def __init__(self) -> None:
        super().__init__(
            "Only an admin may give an assistant an `mcp_stdio` tool (it runs a command on the "
            "server); use an `mcp` tool with the server's URL instead."
        )


class InvalidToolSchema(InvalidRequest):
    code = "invalid_tool_schema"

    def __init__(self, tool_name: str, problem: str) -> None:
        super().__init__(f"The parameters of function tool {tool_name!r} {problem}.")
