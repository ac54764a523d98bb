"""Faults survived under real Celery workers on Redis, with PostgreSQL and a real SMTP server:
an SMTP server that defers a share of messages (451), hangs up mid-DATA, is down for a while
(421) and refuses chosen addresses for good (550); a worker killed with SIGKILL mid-batch;
Redis restarted mid-issue (losing every queued task); the database connections dropped.

Each scenario completes the issue: every deliverable reader gets the digest, none twice
except at most the in-flight message of a killed worker process (with the same Message-ID),
refusals are recorded with the server's reply, nothing is retried forever. Each prints one
`FAULT-REPORT {json}` line; `benchmarks/fault_run.py` runs them larger and adds them up
(NEWSLETTER_FAULT_READERS sets the audience)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlmodel import Session, select

from newsletter.delivery.ledger import MAX_ATTEMPTS
from newsletter.models import Delivery, DeliveryStatus, Subscriber
from newsletter.settings import get_settings
from tests.conftest import SmtpServer
from tests.helpers import MONDAY, Workers, count, free_port, run, settled, tick, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SCALE = int(os.environ.get("NEWSLETTER_FAULT_READERS", "0"))  # 0: each scenario's own size


def audience(tmp_path: Path, default: int) -> list[str]:
    readers = SCALE or default
    emails = [f"r{i:05d}@example.com" for i in range(readers)]
    (tmp_path / "r.csv").write_text("email,topics\n" + "".join(f"{e},agents\n" for e in emails))
    run("subscribers", "import", str(tmp_path / "r.csv"), "--confirmed")
    return emails


def finish(session: Session, readers: int, timeout: float = 240) -> None:
    def done() -> bool:
        tick(MONDAY.replace(hour=8))  # the hourly tick, compressed: re-enqueues lost work
        return settled(session, readers)()

    wait_for(done, timeout, "the issue to complete through the faults")


def under_way(
    pool: Workers, smtp: SmtpServer, tmp_path: Path, *names: str, delay: float = 0.02
) -> tuple[list[str], float]:
    """Import the audience, start the workers and the issue (each message taking `delay`
    at the server); return the readers and the start time once a fifth is out."""
    emails = audience(tmp_path, 300)
    smtp.delay = delay
    for name in names:
        pool.start(name)
    started = time.monotonic()
    tick(MONDAY.replace(hour=8))
    wait_for(lambda: len(smtp.received) >= len(emails) // 5, 60, "the issue to be under way")
    return emails, started


def report(
    scenario: str, smtp: SmtpServer, faults: int, expected: set[str], started: float
) -> dict[str, object]:
    counts = Counter(to for to, _ in smtp.received)
    figures: dict[str, object] = {
        "scenario": scenario,
        "runs": 1,
        "faults_injected": faults,
        "expected": len(expected),
        "delivered": len(set(counts) & expected),
        "lost": len(expected - set(counts)),
        "duplicates": sum(n - 1 for n in counts.values()),
        "unexpected": len(set(counts) - expected),
        "seconds": round(time.monotonic() - started, 1),
    }
    print("FAULT-REPORT " + json.dumps(figures))
    for to, n in counts.items():  # a message sent twice is the same message
        if n > 1:
            assert len({m["Message-ID"] for t, m in smtp.received if t == to}) == 1
    return figures


def test_issue_completes_through_smtp_faults(papers, workers, smtp, session, tmp_path) -> None:
    emails = audience(tmp_path, 120)
    n = len(emails)
    refused = {emails[i] for i in (3, n // 2, n - 21)}
    smtp.refuse_rcpt.update({a: "550 5.1.1 No such mailbox" for a in refused})
    smtp.drop_once.update(emails[i] for i in (10, 11, n - 50))
    smtp.defer_share = 0.2
    smtp.down_until = time.monotonic() + 2.0
    workers.start("w1")
    workers.start("w2")
    started = time.monotonic()
    finish(session, n)

    figures = report("smtp", smtp, smtp.faults, set(emails) - refused, started)
    assert figures["lost"] == 0 and figures["unexpected"] == 0
    assert figures["duplicates"] == 0  # no worker died: nothing is sent twice
    session.expire_all()
    rows = session.exec(
        select(Delivery, Subscriber).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
    ).all()
    failed = {s.email: d for d, s in rows if d.status == DeliveryStatus.FAILED}
    assert set(failed) == refused
    assert all(d.last_error == "550 5.1.1 No such mailbox" for d in failed.values())
    assert all(d.attempts <= MAX_ATTEMPTS for d, _ in rows)
    assert smtp.faults >= len(refused) + 3
    assert all(s.bounces == 1 for _, s in rows if s.email in refused)


def test_sigkill_mid_issue_loses_nothing(papers, workers, smtp, session, tmp_path) -> None:
    emails, started = under_way(workers, smtp, tmp_path, "victim", "survivor", delay=0.03)
    workers.kill("victim")
    finish(session, len(emails))

    figures = report("sigkill", smtp, 1, set(emails), started)
    assert figures["lost"] == 0 and figures["unexpected"] == 0
    assert figures["duplicates"] <= 2  # at most the one in flight in each of its 2 processes
    assert count(session, Delivery, Delivery.status == DeliveryStatus.SENT) == len(emails)
    before = len(smtp.received)  # the same issue again sends nothing
    tick(MONDAY.replace(hour=10))
    time.sleep(3)
    assert len(smtp.received) == before


def test_sigkill_between_the_250_and_the_outcome_write_resends_only_that_message(
    papers, workers, smtp, session, tmp_path
) -> None:
    """The worst moment to die: the server accepts a message and its outcome is never
    written. Just before the server's 250 the worker is stopped (SIGSTOP, so it runs not one
    more instruction), then killed."""
    emails = audience(tmp_path, 40)
    victim = emails[15]
    stopped = threading.Event()

    def stop_the_worker() -> None:
        os.killpg(workers.procs["victim"].pid, signal.SIGSTOP)
        stopped.set()

    smtp.before_accept[victim] = stop_the_worker
    workers.start("victim", concurrency=1)
    started = time.monotonic()
    tick(MONDAY.replace(hour=8))
    wait_for(stopped.is_set, 60, "the victim's message to be accepted")
    workers.kill("victim")
    workers.start("survivor", concurrency=1)
    finish(session, len(emails))

    figures = report("sigkill-after-250", smtp, 1, set(emails), started)
    assert figures["lost"] == 0 and figures["unexpected"] == 0
    assert figures["duplicates"] == 1  # the victim's message only, with the same Message-ID
    assert [to for to, _ in smtp.received].count(victim) == 2


class PrivateRedis:
    """A Redis of the test's own on a free port, so restarting it disturbs nothing else.
    Like the machine's, it keeps nothing on disk: a restart loses every queued task."""

    def __init__(self, workdir: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("the Redis restart test needs the redis-server program on PATH")
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = {"port": str(self.port), "bind": "127.0.0.1", "save": "", "appendonly": "no"}
        args = [part for name, value in options.items() for part in (f"--{name}", value)]
        self.proc = subprocess.Popen(
            [self.binary, *args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 10, "the private Redis to start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def private_redis(broker, tmp_path, monkeypatch) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    monkeypatch.setenv("NEWSLETTER_REDIS_URL", server.url)
    get_settings.cache_clear()
    yield server
    server.stop()


def test_redis_restart_mid_issue_loses_nothing(
    papers,
    private_redis: PrivateRedis,
    workers,  # after private_redis: its workers use that Redis
    smtp: SmtpServer,
    session,
    tmp_path,
) -> None:
    emails, started = under_way(workers, smtp, tmp_path, "w1", "w2")
    queued = redis.Redis.from_url(private_redis.url).llen(get_settings().redis_prefix + "celery")
    private_redis.stop()  # every queued batch is gone with it
    at_restart = len(smtp.received)
    time.sleep(1)
    private_redis.start()
    finish(session, len(emails))

    figures = report("redis-restart", smtp, 1, set(emails), started)
    assert queued > 0 and at_restart < len(emails), "nothing was queued when Redis went down"
    assert figures["lost"] == 0 and figures["unexpected"] == 0
    assert figures["duplicates"] == 0  # the workers lived: nothing is sent twice
    assert count(session, Delivery, Delivery.status == DeliveryStatus.SENT) == len(emails)


def test_database_connections_dropped_mid_issue_lose_nothing(
    papers, workers, smtp, session, tmp_path
) -> None:
    emails, started = under_way(workers, smtp, tmp_path, "w1", "w2")
    dropped = 0
    for _ in range(6):  # every other connection to the database, over about two seconds
        dropped += session.exec(  # type: ignore[call-overload]
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        session.commit()
        time.sleep(0.3)
    finish(session, len(emails))

    figures = report("database-drop", smtp, dropped, set(emails), started)
    assert dropped > 0
    assert figures["lost"] == 0 and figures["unexpected"] == 0
    assert figures["duplicates"] == 0  # outcomes are written again on a new connection
    assert count(session, Delivery, Delivery.status == DeliveryStatus.SENT) == len(emails)
