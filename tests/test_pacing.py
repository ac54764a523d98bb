"""Per-domain pacing across real Celery workers (two, two processes each) on a real Redis:
every domain stays within its rate, a domain that answers 421 is sent to at half its rate
while the others keep theirs, and nothing is lost. The measured rates are printed."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from newsletter.delivery.pacing import parse_rates
from tests.conftest import SmtpServer
from tests.helpers import MONDAY, run, settled, tick

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
RATES = "fast.example=40/s,slow.example=10/s"
READERS = {"fast.example": 40, "slow.example": 20}


def busiest_second(times: list[float]) -> int:
    """The most messages inside any one-second window."""
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


def test_each_domain_keeps_its_rate_and_a_421_halves_only_its_own(
    papers, workers, smtp: SmtpServer, session, monkeypatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DOMAIN_RATES", RATES)
    for domain, n in READERS.items():
        for i in range(n):
            run("subscribers", "add", f"r{i}@{domain}", "--topic", "agents", "--confirmed")
    smtp.throttle["slow.example"] = 2  # its first two attempts: "421 4.7.0 slow down"
    workers.start("w1")
    workers.start("w2")
    deadline = time.monotonic() + 90
    while not settled(session, 60)() and time.monotonic() < deadline:
        tick(MONDAY.replace(hour=8))  # again and again: deferred ones are sent on a later one
        time.sleep(2)
    received = Counter(to for to, _ in smtp.received)
    assert len(received) == 60 and set(received.values()) == {1}  # each once, none lost

    by_domain: dict[str, list[float]] = {d: [] for d in READERS}
    for (to, _), at in zip(smtp.received, smtp.times, strict=True):
        by_domain[to.rpartition("@")[2]].append(at)
    peak = {d: busiest_second(times) for d, times in by_domain.items()}
    # Halved from a second after the last 421: before it, the messages other processes had
    # already let through at the full rate, not knowing yet, still count in the window.
    after = [t for t in by_domain["slow.example"] if t >= smtp.throttled_at[-1] + 1]
    halved = busiest_second(after)
    overall = {d: len(t) / max(t[-1] - t[0], 1e-9) for d, t in by_domain.items()}
    print(f"\nrates {RATES}; 421 x2 from slow.example")
    for domain in READERS:
        print(f"  {domain}: {len(by_domain[domain])} messages, busiest second "
              f"{peak[domain]}, {overall[domain]:.1f}/s overall")  # fmt: skip
    print(f"  slow.example from a second after its last 421: busiest second {halved}")
    limits = {d: amount for d, (amount, _) in parse_rates(RATES).items()}
    assert peak["slow.example"] <= limits["slow.example"] + 1
    assert len(after) > limits["slow.example"] // 2 + 1  # enough to show a faster rate
    assert halved <= limits["slow.example"] // 2 + 1  # halved after the 421
    assert peak["fast.example"] <= limits["fast.example"] + 1
    assert peak["fast.example"] > limits["slow.example"]  # not slowed by the other's 421
    logs = "".join(p.read_text() for p in workers.logs.glob("*.log"))
    assert logs.count("sending there at 5 per second (half)") == 1  # logged once
