"""Per-domain pacing: `NEWSLETTER_DOMAIN_RATES=gmail.com=50/s,outlook.com=20/m,*=200/s`.

Each domain named gets its own budget, and every other domain gets the `*` one (each on
its own); without `*` the other domains are not paced. The budgets are counted in Redis by
the `limits` library (a moving window of one period, so no burst goes over the rate), so
they hold across every worker process and machine; without Redis, per process.

A message over its domain's budget waits for room; it is never failed. A 421, or a 4.7.x
("too many messages", "rate limited"), from a domain halves its rate for BACKOFF_SECONDS
for every worker (the mark is in Redis), and is logged once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from functools import lru_cache

import redis
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)
BACKOFF_SECONDS = 600
_PERIODS = {"s": "second", "m": "minute", "h": "hour"}
_RATE = re.compile(r"^\s*([A-Za-z0-9.*-]+)\s*=\s*(\d+)\s*/\s*([smh])\s*$")
_THROTTLED = re.compile(r"^(421\b|\d{3}[ -]4\.7\.)")


def parse_rates(text: str) -> dict[str, tuple[int, str]]:
    """'gmail.com=50/s,*=200/s' as {domain: (messages, period)}; ValueError if malformed."""
    rates: dict[str, tuple[int, str]] = {}
    for part in filter(str.strip, text.split(",")):
        found = _RATE.match(part)
        if not found or int(found.group(2)) < 1:
            raise ValueError(
                f"NEWSLETTER_DOMAIN_RATES: {part.strip()!r} is not domain=N/s (or /m, /h), "
                "N at least 1, such as gmail.com=50/s or *=200/s"
            )
        rates[found.group(1).lower()] = (int(found.group(2)), _PERIODS[found.group(3)])
    return rates


class Pacer:
    def __init__(self, rates: dict[str, tuple[int, str]], redis_url: str,
                 prefix: str = "newsletter:",
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.rates, self.sleep, self.prefix = rates, sleep, f"{prefix}pace"
        self.storage: Storage = (
            RedisStorage(redis_url, key_prefix=self.prefix, socket_timeout=2)
            if redis_url
            else MemoryStorage()
        )
        self.window = MovingWindowRateLimiter(self.storage)
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2) if redis_url else None
        self._backoff: dict[str, float] = {}  # without Redis: domain -> until (monotonic)

    def wait(self, address: str) -> float:
        """Take one message from the budget of `address`'s domain, waiting for room if it is
        spent; the seconds waited."""
        domain = address.rpartition("@")[2].lower()
        item = self._item(domain)
        waited = 0.0
        while item is not None and not self.window.hit(item, domain, cost=self._cost(item, domain)):
            reset = self.window.get_window_stats(item, domain).reset_time
            pause = min(max(reset - time.time(), 0.002), 1.0)
            self.sleep(pause)
            waited += pause
        return waited

    def slow_down(self, address: str, reply: str) -> None:
        """After a refusal: if it says "too fast" (421, 4.7.x), halve the domain's rate."""
        domain = address.rpartition("@")[2].lower()
        rate = self._rate(domain)
        if rate is None or not _THROTTLED.match(reply):
            return
        if self.redis is not None:
            first = self.redis.set(f"{self.prefix}:backoff:{domain}", 1, nx=True,
                                   ex=BACKOFF_SECONDS)  # fmt: skip
        else:
            first = self._backoff.get(domain, 0.0) < time.monotonic()
            self._backoff[domain] = max(self._backoff.get(domain, 0.0),
                                        time.monotonic() + BACKOFF_SECONDS)  # fmt: skip
        if first:
            amount, period = rate
            half, minutes = max(1, amount // 2), BACKOFF_SECONDS // 60
            log.warning("%s answered %r: sending there at %d per %s (half) for %d minutes",
                        domain, reply[:80], half, period, minutes)  # fmt: skip

    def _cost(self, item: RateLimitItem, domain: str) -> int:
        """Backing off, each message costs two: the same window, at half the rate, so the
        messages just sent still count (a second, halved window would start empty). Asked at
        each try: a message that waited for room while a 421 came in costs the new price."""
        return 2 if item.amount > 1 and self._backing_off(domain) else 1

    def _rate(self, domain: str) -> tuple[int, str] | None:
        return self.rates.get(domain) or self.rates.get("*")

    def _item(self, domain: str) -> RateLimitItem | None:
        rate = self._rate(domain)
        if rate is None:
            return None
        amount, period = rate
        return parse(f"{amount}/{period}")

    def _backing_off(self, domain: str) -> bool:
        # Asked of Redis for every message, not remembered: a process that kept the answer
        # for a second went on at the full rate while the others had halved it.
        if self.redis is None:
            return self._backoff.get(domain, 0.0) > time.monotonic()
        return bool(self.redis.exists(f"{self.prefix}:backoff:{domain}"))


@lru_cache(maxsize=8)
def pacer(rates: str, redis_url: str, prefix: str = "newsletter:") -> Pacer | None:
    """One per process and configuration (the budgets themselves live in Redis)."""
    return Pacer(parse_rates(rates), redis_url, prefix) if rates.strip() else None
