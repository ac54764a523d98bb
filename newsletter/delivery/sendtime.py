"""When each reader is due: their send day and hour, in their own timezone, once a week.

A reader is due from their send moment for a grace period (default 24 hours), so
an hourly tick that missed the exact hour (beat or workers down) still delivers,
while a reader who joins after this week's moment waits for the next one instead
of getting two issues a day apart, and a week that is over is never sent late.
The issue a reader gets is the one of the ISO week of their local date.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Local time runs from UTC-12 to UTC+14: these bracket every reader's "now".
_WIDEST = (dt.timedelta(hours=-12), dt.timedelta(hours=14))


def parse_day(value: str) -> int:
    key = value.strip().lower()[:3]
    if key not in DAYS:
        raise ValueError(f"unknown day {value!r}: use one of {', '.join(DAYS)}")
    return DAYS.index(key)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_date(
    now: dt.datetime, timezone: str, send_day: int, send_hour: int, grace: dt.timedelta
) -> dt.date | None:
    """The reader's local send date if `now` is within `grace` after their moment, else None."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    for weeks_back in (0, 1):  # a Sunday-night moment's grace can run into the next week
        monday = local.date() - dt.timedelta(days=local.weekday() + 7 * weeks_back)
        day = monday + dt.timedelta(days=send_day)
        moment = dt.datetime.combine(day, dt.time(send_hour), tzinfo=tz)
        if moment <= local < moment + grace:
            return day
    return None


def first_send(
    now: dt.datetime, timezone: str, send_day: int, send_hour: int, grace: dt.timedelta
) -> dt.datetime:
    """When a reader who is active from `now` gets their first digest, in their own zone:
    the next hourly tick if their moment this week has just passed (within `grace`), else
    their next moment."""
    local = now.astimezone(zone(timezone))
    if due_date(now, timezone, send_day, send_hour, grace) is not None:
        return (local + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    monday = local.date() - dt.timedelta(days=local.weekday())
    moment = dt.datetime.combine(
        monday + dt.timedelta(days=send_day), dt.time(send_hour), tzinfo=local.tzinfo
    )
    return moment if moment > local else moment + dt.timedelta(days=7)


def described(moment: dt.datetime, timezone: str) -> str:
    """ "Monday 18 May, 08:00 (Europe/Berlin)"."""
    return f"{moment:%A} {moment.day} {moment:%B}, {moment:%H:%M} ({timezone})"


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def current_weeks(now: dt.datetime) -> set[str]:
    """The ISO weeks some timezone is in at `now`: deliveries of other weeks are not sent."""
    return {iso_week((now + offset).date()) for offset in _WIDEST}
