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
