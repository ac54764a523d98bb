"""Faults survived: an SMTP server that defers a share of messages (451), hangs up mid-DATA,
is down for a while (421) and refuses chosen addresses for good (550), under real Celery
workers on Redis with PostgreSQL. The issue completes: every deliverable reader gets the
digest once, refusals are recorded with the server's reply, nothing is retried forever."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from sqlmodel import select

from newsletter.ledger import MAX_ATTEMPTS
from newsletter.models import Delivery, DeliveryStatus, Subscriber
from tests.conftest import SmtpServer
from tests.test_workers import (  # noqa: F401  (fixtures)
    MONDAY,
    broker,
    papers,
    run,
    settled,
    tick,
    wait_for,
    workers,
)

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


# The fixtures come from test_workers.py; ruff reads their use as arguments as redefinitions.
def test_issue_completes_through_smtp_faults(
    papers,  # noqa: F811
    workers,  # noqa: F811
    smtp: SmtpServer,
    session,
    tmp_path,
) -> None:
    readers = 120
    (tmp_path / "r.csv").write_text(
        "email,topics\n" + "".join(f"r{i:03d}@example.com,agents\n" for i in range(readers))
    )
    run("subscribers", "import", str(tmp_path / "r.csv"), "--confirmed")
    refused = {f"r{i:03d}@example.com" for i in (3, 50, 99)}
    smtp.refuse_rcpt.update({a: "550 5.1.1 No such mailbox" for a in refused})
    smtp.drop_once.update(f"r{i:03d}@example.com" for i in (10, 11, 70))
    smtp.defer_share = 0.2
    smtp.down_until = time.monotonic() + 2.0
    workers.start("w1")
    workers.start("w2")
    started = time.monotonic()

    def finished() -> bool:
        tick(MONDAY.replace(hour=8))  # the hourly tick, compressed: re-enqueues deferred work
        return settled(session, readers)()

    wait_for(finished, 180, "the issue to complete through the faults")
    counts = Counter(to for to, _ in smtp.received)
    expected = readers - len(refused)
    session.expire_all()
    rows = session.exec(
        select(Delivery, Subscriber).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
    ).all()
    failed = {s.email: d for d, s in rows if d.status == DeliveryStatus.FAILED}
    report = {
        "runs": 1,
        "faults_injected": smtp.faults,
        "expected": expected,
        "delivered": len(counts),
        "lost": expected - len(counts),
        "duplicates": sum(n - 1 for n in counts.values()),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report))
    assert (
        report["lost"] == 0
        and set(counts) == {f"r{i:03d}@example.com" for i in range(readers)} - refused
    )
    assert report["duplicates"] == 0  # no worker died: nothing is sent twice
    assert set(failed) == refused
    assert all(d.last_error == "550 5.1.1 No such mailbox" for d in failed.values())
    assert all(d.attempts <= MAX_ATTEMPTS for d, _ in rows)
    assert smtp.faults >= len(refused) + 3
    assert all(s.bounces == 1 for _, s in rows if s.email in refused)
