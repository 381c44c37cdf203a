from __future__ import annotations

from agent_service.errors import Conflict, Forbidden, InvalidRequest, NotFound


class EmailTaken(InvalidRequest):
    code = "email_taken"

    def __init__(self, email: str) -> None:
        super().__init__(
            f"A user with email {email!r} already exists; log in or use another email."
        )


class UserNotFound(NotFound):
    code = "user_not_found"

    def __init__(self, user_id: object | None = None) -> None:
        what = "User" if user_id is None else f"User {str(user_id)!r}"
        super().__init__(f"{what} not found.")


class NotYourAccount(Forbidden):
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__("You may only read or change your own account.")


class AdminOnly(Forbidden):
    code = "admin_required"

    def __init__(self, what: str = "This route") -> None:
        super().__init__(f"{what} is for administrators only.")


class LastAdmin(Conflict):
    code = "last_admin"

    def __init__(self) -> None:
        super().__init__(
            "This is the last active administrator: it cannot be demoted, disabled or deleted. "
            "Make another administrator first (or `agent-service create-admin`)."
        )
