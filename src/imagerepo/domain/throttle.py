"""Login throttling policy: free attempts, then a doubling wait with a ceiling."""

from __future__ import annotations

import attrs


@attrs.frozen
class ThrottlePolicy:
    free_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 300.0
    # Failures older than this are forgotten, so a lockout never lasts for good.
    forget_after: float = 900.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        if failures < self.free_attempts:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** (failures - self.free_attempts)))
