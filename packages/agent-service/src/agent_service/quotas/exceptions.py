from __future__ import annotations

import math
from datetime import datetime

from agent_service.errors import RateLimited


class QuotaExceeded(RateLimited):
    code = "quota_exceeded"

    def __init__(self, used: int, quota: int, *, resets_at: datetime, now: datetime) -> None:
        wait_s = max(1, math.ceil((resets_at - now).total_seconds()))
        super().__init__(
            f"Your daily token quota is used up ({used} of {quota} tokens today); it resets at "
            f"{resets_at:%H:%M} UTC, in {wait_s} seconds.",
            headers={"Retry-After": str(wait_s)},
        )


class QuotaHeld(RateLimited):
    """What is left of the quota is reserved by runs still going: one of them ends soon."""

    code = "quota_exceeded"

    def __init__(self, used: int, reserved: int, quota: int) -> None:
        super().__init__(
            f"Your runs in progress hold the rest of your daily token quota ({used} of {quota} "
            f"tokens used today, {reserved} reserved by runs still going); retry when one ends.",
            headers={"Retry-After": "2"},
        )
