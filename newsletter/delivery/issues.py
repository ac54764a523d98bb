"""The issue table: one issue per ISO week, covering the papers featured in its window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlmodel import Session, col, select

from newsletter.delivery.sendtime import iso_week
from newsletter.models import Issue


def for_date(issue_date: dt.date, window_days: int, *, session: Session, create: bool) -> Issue:
    """The issue of the week of `issue_date`; a second run in the same week reuses it. With
    `create=False` a missing issue is returned unsaved (a dry run writes nothing)."""
    week = iso_week(issue_date)
    issue = session.exec(select(Issue).where(Issue.week == week)).first()
    if issue is None:
        issue = Issue(
            week=week,
            issue_date=issue_date,
            window_end=issue_date,
            window_start=issue_date - dt.timedelta(days=window_days - 1),
        )
        if create:
            session.add(issue)
            session.flush()
    return issue


def by_ids(ids: Collection[int], *, session: Session) -> dict[int, Issue]:
    rows = session.exec(select(Issue).where(col(Issue.id).in_(list(ids))))
    return {i.id: i for i in rows if i.id is not None}


def latest(*, session: Session) -> Issue | None:
    return session.exec(select(Issue).order_by(col(Issue.issue_date).desc())).first()


def recent(*, session: Session, limit: int = 52) -> list[Issue]:
    return list(session.exec(select(Issue).order_by(col(Issue.issue_date).desc()).limit(limit)))


def by_week(week: str, *, session: Session) -> Issue | None:
    return session.exec(select(Issue).where(Issue.week == week)).first()


def weeks(week: str | None = None, *, session: Session) -> dict[int, str]:
    """Issue id -> its week, of every issue or of one week's."""
    query = select(Issue.id, Issue.week)
    if week:
        query = query.where(Issue.week == week)
    return {issue_id: name for issue_id, name in session.exec(query) if issue_id is not None}
