"""The beat schedule, on one screen.

- 04:30 UTC daily: ingest the Daily Papers of yesterday and today (new papers, fresh
  upvotes) so every morning's sends see them.
- Every hour on the hour: plan the readers whose send moment (their day and hour, in
  their timezone) has come this week and who have no delivery yet, then enqueue
  batches; deliveries lost by a dead worker are enqueued again after their lease.
- Every 15 minutes, when a bounce mailbox is configured: read it for bounces and
  complaints that came back (`newsletter bounces fetch`).

Beat only says "now"; what is due is decided from the database, so a beat that was
down sends each reader at most one issue for the current week when it comes back,
and nothing for weeks that are over.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from newsletter.settings import Settings

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "ingest-daily-papers": {
        "task": "newsletter.ingest_daily",
        "schedule": crontab(hour="4", minute="30"),
    },
    "hourly-tick": {
        "task": "newsletter.tick",
        "schedule": crontab(minute="0"),
        # A tick that waited in the queue past the next one is pointless: drop it.
        "options": {"expires": 55 * 60},
    },
}

FETCH_BOUNCES = {
    "task": "newsletter.fetch_bounces",
    "schedule": crontab(minute="*/15"),
    "options": {"expires": 14 * 60},
}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The schedule for these settings: the bounce fetch only where there is a mailbox."""
    return BEAT_SCHEDULE | ({"fetch-bounces": FETCH_BOUNCES} if settings.bounce_mailbox else {})
