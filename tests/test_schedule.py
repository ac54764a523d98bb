"""Who is due when: local send moments, the grace period, and no late weeks (no workers here;
tests/test_workers.py drives the same logic through real Celery workers)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlmodel import Session, select

from newsletter import db
from newsletter.delivery import campaign, ledger
from newsletter.delivery.mailer import Meanwhile, OutboxMailer
from newsletter.delivery.sendtime import current_weeks, due_date, parse_day
from newsletter.digest.compose import IssueCache
from newsletter.models import Delivery, DeliveryStatus, Issue
from tests.conftest import REAL
from tests.helpers import run

DAY = dt.timedelta(hours=24)
MONDAY = dt.datetime(2026, 5, 18, tzinfo=dt.UTC)


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 5, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        ("Asia/Tokyo", utc(17, 22, 59), None),  # Monday 07:59 JST
        ("Asia/Tokyo", utc(17, 23), dt.date(2026, 5, 18)),  # Monday 08:00 JST
        ("America/Los_Angeles", utc(18, 14, 59), None),  # 07:59 PDT
        ("America/Los_Angeles", utc(18, 15), dt.date(2026, 5, 18)),  # 08:00 PDT
        ("America/Los_Angeles", utc(17, 22), None),  # Sunday afternoon: not last week's again
        ("UTC", utc(19, 7, 59), dt.date(2026, 5, 18)),  # within the 24 h grace
        ("UTC", utc(19, 8), None),  # grace over: wait for next week
    ],
)
def test_due_at_eight_local_on_monday(zone: str, now: dt.datetime, expected) -> None:
    assert due_date(now, zone, 0, 8, DAY) == expected


def test_sunday_night_moment_runs_into_the_next_week() -> None:
    assert due_date(utc(18, 1), "UTC", 6, 23, DAY) == dt.date(2026, 5, 17)


def test_daylight_saving_change_keeps_eight_local() -> None:
    # Europe/Berlin moves to CEST on 2026-03-29: Monday 08:00 is 07:00 UTC before, 06:00 after.
    assert due_date(dt.datetime(2026, 3, 23, 7, tzinfo=dt.UTC), "Europe/Berlin", 0, 8, DAY)
    assert due_date(dt.datetime(2026, 3, 30, 6, tzinfo=dt.UTC), "Europe/Berlin", 0, 8, DAY)
    assert not due_date(dt.datetime(2026, 3, 30, 5, tzinfo=dt.UTC), "Europe/Berlin", 0, 8, DAY)


def test_parse_day() -> None:
    assert [parse_day(d) for d in ("mon", "Tuesday", "SUN")] == [0, 1, 6]
    with pytest.raises(ValueError, match="unknown day"):
        parse_day("someday")


def test_current_weeks_span_every_zone() -> None:
    assert current_weeks(utc(17, 23)) == {"2026-W20", "2026-W21"}
    assert current_weeks(utc(20, 12)) == {"2026-W21"}


def test_plan_due_creates_each_due_reader_once(settings, session: Session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run(
        "subscribers",
        "add",
        "tokyo@example.com",
        "--topic",
        "agents",
        "--confirmed",
        "--timezone",
        "Asia/Tokyo",
    )
    run(
        "subscribers",
        "add",
        "la@example.com",
        "--topic",
        "agents",
        "--confirmed",
        "--timezone",
        "America/Los_Angeles",
        "--send-day",
        "mon",
        "--send-hour",
        "8",
    )
    run("subscribers", "add", "wait@example.com", "--topic", "agents")  # unconfirmed
    assert campaign.plan_due(utc(17, 22), settings, session=session) == []
    assert len(campaign.plan_due(utc(17, 23), settings, session=session)) == 1
    assert campaign.plan_due(utc(18, 0), settings, session=session) == []  # already planned
    assert len(campaign.plan_due(utc(18, 15), settings, session=session)) == 1
    weeks = session.exec(select(Issue.week)).all()
    assert weeks == ["2026-W21"]


def test_a_week_that_is_over_is_not_sent_by_workers(settings, session: Session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    [old] = campaign.plan_due(utc(18, 8), settings, session=session)  # W21, never sent
    summary, mailer = campaign.Summary(week=""), OutboxMailer(None)
    later = current_weeks(MONDAY + 8 * DAY)
    campaign.deliver([old], settings, session=session, mailer=mailer, cache=IssueCache(),
                     summary=summary, weeks=later)  # fmt: skip
    assert mailer.sent == []
    assert session.get(Delivery, old).status == DeliveryStatus.PENDING  # type: ignore[union-attr]
    # The operator can still send it on purpose.
    campaign.deliver([old], settings, session=session, mailer=mailer, cache=IssueCache(),
                     summary=summary)  # fmt: skip
    assert [to for to, _ in mailer.sent] == ["ada@example.com"]


def test_a_batch_past_half_its_lease_leaves_what_another_worker_took(settings, session) -> None:
    """A slow batch (a slow server, database retries) renews its claim before its lease
    runs out; the rows another worker took meanwhile are that worker's, not sent twice."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    for n in range(3):
        run("subscribers", "add", f"r{n}@example.com", "--topic", "agents", "--confirmed")
    ids = campaign.plan_due(utc(18, 8), settings, session=session)
    assert len(ids) == 3
    quick = settings.model_copy(update={"delivery_lease_seconds": 2})
    taken: list[int] = []

    class SlowServer(OutboxMailer):
        def send(self, msg: bytes, to: str, sender: str | None = None,
                 meanwhile: Meanwhile = None) -> None:  # fmt: skip
            super().send(msg, to, sender, meanwhile)
            if len(self.sent) == 1:
                time.sleep(1.2)  # past half the lease: the batch renews before its next send
                with Session(db.get_engine(settings.database_url)) as other:
                    # Another worker whose clock says the lease ran out takes the rest.
                    rest = [i for i in ids if i != ids[0]]
                    taken.extend(
                        d.id for d in ledger.claim(rest, session=other, lease=dt.timedelta(0))
                    )
                    other.commit()

    mailer = SlowServer(None)
    campaign.deliver(ids, quick, session=session, mailer=mailer, cache=IssueCache(),
                     summary=campaign.Summary(week=""))  # fmt: skip
    assert sorted(taken) == sorted(ids[1:])
    assert len(mailer.sent) == 1  # only the message sent before the others were taken
    session.expire_all()
    states = [session.get(Delivery, i).status for i in ids]  # type: ignore[union-attr]
    assert states == [DeliveryStatus.SENT, DeliveryStatus.SENDING, DeliveryStatus.SENDING]
