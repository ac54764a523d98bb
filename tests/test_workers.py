"""The weekly schedule through real Celery workers on a real Redis broker, PostgreSQL and a
real SMTP server: who is due when, and exactly one email each. Faults (SIGKILL, Redis
restarts, dropped database connections, a misbehaving SMTP server) are in test_faults.py."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from sqlmodel import select

from newsletter.models import Delivery
from tests.conftest import REAL, SmtpServer
from tests.helpers import MONDAY, run, settled, tick, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


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


def test_each_pool_process_claims_under_its_own_pid(
    papers, workers, smtp: SmtpServer, session, tmp_path
) -> None:
    """`newsletter status` shows each worker process's pace from the claims' labels, so a
    prefork child must claim under its own pid, not the one its parent had when it imported
    the ledger before forking the pool."""
    readers = tmp_path / "readers.csv"
    readers.write_text("email,topics\n" + "".join(f"r{n}@example.com,agents\n" for n in range(40)))
    run("subscribers", "import", str(readers), "--confirmed")
    smtp.delay = 0.05  # a batch of 10 takes ~0.5 s: the pool's two processes overlap
    workers.start("w1", concurrency=2)
    tick(MONDAY.replace(hour=8))
    wait_for(settled(session, 40), 60, "the 40 readers' deliveries")
    session.expire_all()
    claims = session.exec(select(Delivery.claimed_by)).all()
    session.rollback()
    pids = {int(str(c).rpartition(":")[0].rpartition("-")[2]) for c in claims}
    assert len(pids) >= 2, claims  # both children of the pool sent
    assert workers.procs["w1"].pid not in pids  # the parent sends nothing itself
