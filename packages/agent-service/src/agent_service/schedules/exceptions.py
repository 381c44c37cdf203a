from __future__ import annotations

from agent_service.errors import InvalidRequest, NotFound


class ScheduleNotFound(NotFound):
    code = "schedule_not_found"

    def __init__(self, schedule_id: object) -> None:
        super().__init__(f"Schedule {str(schedule_id)!r} not found.")


class InvalidCron(InvalidRequest):
    code = "invalid_cron"

    def __init__(self, cron: str) -> None:
        super().__init__(
            f"{cron!r} is not a cron expression: give five fields (minute hour day month "
            "weekday), or six with seconds last, e.g. '0 9 * * 1-5'."
        )


class UnknownTimezone(InvalidRequest):
    code = "unknown_timezone"

    def __init__(self, timezone: str) -> None:
        super().__init__(f"{timezone!r} is not a known timezone: use an IANA name, e.g. 'UTC'.")
