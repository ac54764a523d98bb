"""The weekly schedule through real Celery workers on a real Redis broker, PostgreSQL and a
real SMTP server: who is due when, and exactly one email each. Faults (SIGKILL, Redis
restarts, dropped database connections, a misbehaving SMTP server) are in test_faults.py."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sqlmodel import Session, func, select

from newsletter.cli import cli
from newsletter.models import Delivery, DeliveryStatus
from newsletter.settings import get_settings
from tests.conftest import REAL, SmtpServer
from workers.celery_app import worker_command

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("NEWSLETTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
MONDAY = dt.datetime(2026, 5, 18, tzinfo=dt.UTC)  # ISO week 2026-W21; papers of 05-12 are in

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def broker(settings, monkeypatch) -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is needed at {REDIS_URL} (set NEWSLETTER_TEST_REDIS_URL): {exc}")
    client.flushdb()
    monkeypatch.setenv("NEWSLETTER_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("NEWSLETTER_BATCH_SIZE", "10")
    monkeypatch.setenv("NEWSLETTER_DELIVERY_LEASE_SECONDS", "3")
    monkeypatch.setenv("NEWSLETTER_TASK_TIME_LIMIT", "60")
    get_settings.cache_clear()
    yield REDIS_URL
    client.flushdb()


class Workers:
    """Real `celery worker` processes, each in its own process group so SIGKILL takes it whole."""

    def __init__(self, logs: Path):
        self.logs, self.procs = logs, {}  # type: ignore[var-annotated]

    def start(self, name: str, concurrency: int = 2) -> None:
        log = self.logs / f"{name}.log"
        cmd = worker_command(name, concurrency)
        self.procs[name] = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: "ready." in log.read_text(),
            60,
            f"worker {name} to start:\n" + log.read_text()[-2000:],
        )

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def workers(broker, tmp_path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


def tick(at: dt.datetime) -> None:
    """What beat does every hour, with an explicit 'now' instead of the wall clock."""
    from workers.celery_app import make_app

    make_app().send_task("newsletter.tick", args=[at.isoformat()])


def settled(session: Session, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        session.expire_all()
        done = session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.status.in_(
                    [
                        DeliveryStatus.SENT,
                        DeliveryStatus.SKIPPED,  # type: ignore[attr-defined]
                        DeliveryStatus.FAILED,
                    ]
                )
            )
        ).one()
        session.rollback()
        return done >= expected

    return check


@pytest.fixture
def papers(settings) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))


def add(email: str, *options: str) -> None:
    run("subscribers", "add", email, "--topic", "agents", "--confirmed", *options)


def test_readers_due_this_hour_get_exactly_one(papers, workers, smtp: SmtpServer, session) -> None:
    add("due-utc@example.com", "--send-day", "mon", "--send-hour", "8")
    add("due-berlin@example.com", "--timezone", "Europe/Berlin", "--send-hour", "9")  # 09:00 CEST
    add("later@example.com", "--send-hour", "9")
    add("tuesday@example.com", "--send-day", "tue")
    run("subscribers", "add", "unconfirmed@example.com", "--topic", "agents")
    workers.start("w1")
    workers.start("w2")

    tick(MONDAY.replace(hour=7))  # 09:00 in Berlin is 07:00 UTC
    wait_for(settled(session, 1), 60, "the Berlin reader")
    tick(MONDAY.replace(hour=8))
    wait_for(settled(session, 2), 60, "the 08:00 UTC reader")
    time.sleep(1)  # anything wrongly enqueued would arrive now
    assert sorted(to for to, _ in smtp.received) == [
        "due-berlin@example.com",
        "due-utc@example.com",
    ]

    tick(MONDAY.replace(hour=8, minute=30))  # the same hour again: nobody new
    tick(MONDAY.replace(hour=9))
    wait_for(settled(session, 3), 60, "the 09:00 reader")
    time.sleep(1)
    assert Counter(to for to, _ in smtp.received) == {
        "due-berlin@example.com": 1,
        "due-utc@example.com": 1,
        "later@example.com": 1,
    }


def test_tokyo_and_los_angeles_get_it_at_eight_local(papers, workers, smtp, session) -> None:
    add("tokyo@example.com", "--timezone", "Asia/Tokyo")
    add("la@example.com", "--timezone", "America/Los_Angeles")
    workers.start("w1")
    workers.start("w2")
    sunday = MONDAY - dt.timedelta(days=1)
    moments = {  # UTC hour -> who has their email by then
        sunday.replace(hour=22): [],
        sunday.replace(hour=23): ["tokyo@example.com"],  # Monday 08:00 JST
        MONDAY.replace(hour=14): ["tokyo@example.com"],
        MONDAY.replace(hour=15): ["la@example.com", "tokyo@example.com"],  # 08:00 PDT
    }
    for at, expected in moments.items():
        tick(at)
        wait_for(settled(session, len(expected)), 60, f"deliveries at {at}")
        time.sleep(0.5)
        assert sorted(to for to, _ in smtp.received) == expected, at
    weeks = {m["Message-ID"].split(".")[1] for _, m in smtp.received}
    assert weeks == {"2026-W21"}  # both in the issue of their own local week


def test_a_stale_week_is_not_sent_late(papers, workers, smtp, session) -> None:
    # Papers for W22 too (real ones from another day, featured in that week).
    run(
        "ingest",
        "file",
        str(REAL / "hf_daily_papers_2026-08-10.json"),
        "--featured-on",
        "2026-05-22",
    )
    add("ada@example.com")
    workers.start("w1")
    # Due on Monday 08:00 of W21, but beat and workers are back only on W22's Monday night:
    # W21 is not sent late, W22's moment is within the grace period.
    tick(MONDAY + dt.timedelta(days=7, hours=23))
    wait_for(settled(session, 1), 60, "the current week's delivery")
    [(_, msg)] = smtp.received
    assert ".2026-W22." in msg["Message-ID"]
