"""Subscribe rate limits (the `limits` library, moving windows of an hour).

Counted in Redis (`NEWSLETTER_REDIS_URL`, under the deployment's `NEWSLETTER_REDIS_PREFIX`),
so they hold across every web process and machine. With that setting empty they are counted
in this process's memory, and each web process then allows the limit on its own. If Redis
stops answering, requests are let through (and logged): a subscribe form that fails closed
would turn readers away.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, redis_url: str, prefix: str = "newsletter:") -> None:
        self.storage: Storage = (
            RedisStorage(redis_url, key_prefix=f"{prefix}limits", socket_timeout=2)
            if redis_url
            else MemoryStorage()
        )
        self._window = MovingWindowRateLimiter(self.storage)

    def allow(self, key: str, per_hour: int) -> bool:
        """Count a request for `key`; False if it is over `per_hour` in the last hour."""
        try:
            return bool(self._window.hit(RateLimitItemPerHour(per_hour), key))
        except (RedisError, OSError) as exc:
            log.warning("rate limit not counted (Redis: %s); request allowed", exc)
            return True

    def wait(self, key: str, per_hour: int) -> float:
        """Seconds until one more request for `key` is allowed (0: now), counting nothing:
        a request that ends up doing nothing (a refused form) must not use up the limit."""
        item = RateLimitItemPerHour(per_hour)
        try:
            if self._window.test(item, key):
                return 0.0
            return max(0.0, self._window.get_window_stats(item, key).reset_time - time.time())
        except (RedisError, OSError) as exc:
            log.warning("rate limit not read (Redis: %s); request allowed", exc)
            return 0.0

    def reset(self) -> None:
        self.storage.reset()
