"""Campaign: the only orchestrator. Plan an issue, then deliver batches of it.

`plan` (and `plan_due`, for the hourly schedule) creates one pending Delivery per due
reader in one transaction; `deliver` claims a batch, picks and renders each reader's
papers, sends, and records the outcome through the ledger. `dry_run` runs the same
selection and rendering and writes nothing to the database. The CLI and the Celery
tasks call these same functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, tuple_
from sqlmodel import Session, col, select

from newsletter import ledger, render, subscribers
from newsletter.compose import (
    NOTHING_MATCHED,
    IssueContext,
    compose,
    compose_picks,
    context_for,
    picks_for,
)
from newsletter.mailer import Mailer, SendError
from newsletter.models import Delivery, Issue, Subscriber, SubscriberStatus
from newsletter.sendtime import due_date, iso_week
from newsletter.settings import Settings

Progress = Callable[[int], None]
ACTIVE = and_(
    col(Subscriber.status) == SubscriberStatus.CONFIRMED, col(Subscriber.paused).is_(False)
)
_PAGE = 1000  # readers read at a time, so memory does not grow with the audience


@dataclass
class Summary:
    week: str
    planned: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)


def issue_for(
    issue_date: dt.date, settings: Settings, *, session: Session, create: bool = True
) -> Issue:
    """The issue of the week of `issue_date`; a second run in the same week reuses it."""
    week = iso_week(issue_date)
    issue = session.exec(select(Issue).where(Issue.week == week)).first()
    if issue is None:
        issue = Issue(
            week=week,
            issue_date=issue_date,
            window_end=issue_date,
            window_start=issue_date - dt.timedelta(days=settings.window_days - 1),
        )
        if create:
            session.add(issue)
            session.flush()
    return issue


def active_ids(*, session: Session, only: str | None = None) -> list[int]:
    query = select(Subscriber.id).where(ACTIVE)
    if only:
        query = query.where(Subscriber.email == only)
    return [i for i in session.exec(query.order_by(col(Subscriber.id))) if i is not None]


def iter_readers(
    *, session: Session, only: str | None = None, limit: int | None = None
) -> Iterator[list[Subscriber]]:
    """Active readers in pages of `_PAGE`, by id."""
    after, left = 0, limit
    while left is None or left > 0:
        query = select(Subscriber).where(ACTIVE, col(Subscriber.id) > after)
        if only:
            query = query.where(Subscriber.email == only)
        size = _PAGE if left is None else min(_PAGE, left)
        page = list(session.exec(query.order_by(col(Subscriber.id)).limit(size)))
        if not page:
            return
        yield page
        after = page[-1].id or 0
        left = None if left is None else left - len(page)


def plan(
    issue_date: dt.date, settings: Settings, *, session: Session, only: str | None = None
) -> tuple[Issue, int]:
    """Create the week's issue and a pending delivery per confirmed reader; one transaction."""
    issue = issue_for(issue_date, settings, session=session)
    assert issue.id is not None
    created = ledger.ensure_pending(
        issue.id, active_ids(session=session, only=only), session=session
    )
    session.commit()
    return issue, len(created)


def plan_due(now: dt.datetime, settings: Settings, *, session: Session) -> list[int]:
    """Pending deliveries for every confirmed reader whose send moment this week has come
    and who has none for their week's issue yet; one transaction. Returns the new ids."""
    slots = session.exec(
        select(Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour)
        .where(ACTIVE)
        .distinct()
    ).all()
    by_date: dict[dt.date, list[tuple[str, int, int]]] = {}
    for zone, day, hour in slots:
        local_date = due_date(now, zone, day, hour, settings.send_grace)
        if local_date is not None:
            by_date.setdefault(local_date, []).append((zone, day, hour))
    new: list[int] = []
    for local_date, due in sorted(by_date.items()):
        issue = issue_for(local_date, settings, session=session)
        assert issue.id is not None
        ids = session.exec(
            select(Subscriber.id).where(
                ACTIVE,
                tuple_(Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour).in_(due),
            )
        ).all()
        new += ledger.ensure_pending(issue.id, [i for i in ids if i is not None], session=session)
    session.commit()
    return new


def deliver(
    delivery_ids: Sequence[int],
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer,
    summary: Summary,
    weeks: Collection[str] | None = None,
    progress: Progress | None = None,
) -> None:
    """Claim, compose, send and record a batch; commits after each message.

    With `weeks`, only deliveries of those weeks' issues are taken (workers pass the
    current weeks, so a stale queue never sends a week that is over). The number of
    queries does not depend on the batch's readers: one claim, one read of the readers,
    one of their history, one check of the issue's papers, then one write per message.
    """
    batch = ledger.claim(delivery_ids, session=session, lease=settings.delivery_lease, weeks=weeks)
    if not batch:
        return
    issues = session.exec(select(Issue).where(col(Issue.id).in_({d.issue_id for d in batch})))
    contexts = {i.id: context_for(i, settings, session=session) for i in issues}
    readers = {
        s.id: s
        for s in session.exec(
            select(Subscriber).where(col(Subscriber.id).in_([d.subscriber_id for d in batch]))
        )
    }
    history = ledger.sent_papers([d.subscriber_id for d in batch], session=session)
    session.info[ledger.FLUSH_EVERY] = settings.ledger_flush_every
    for index, delivery in enumerate(batch):
        reader = readers[delivery.subscriber_id]
        try:
            _deliver_one(
                delivery,
                reader,
                contexts[delivery.issue_id],
                history,
                settings,
                session=session,
                mailer=mailer,
                summary=summary,
            )
        except SendError as exc:  # the server cannot be reached: stop, keep the rest pending
            for rest in batch[index:]:
                ledger.release(rest, exc.reply, session=session, attempted=False)
            ledger.flush(session)
            summary.retry += len(batch) - index
            raise
        if progress:
            progress(1)
    ledger.flush(session)


def _deliver_one(
    delivery: Delivery,
    reader: Subscriber,
    ctx: IssueContext,
    history: dict[int, set[int]],
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer,
    summary: Summary,
) -> None:
    if reader.status != SubscriberStatus.CONFIRMED or reader.paused:
        reason = "reader paused" if reader.paused else f"reader is {reader.status}"
        ledger.mark_skipped(delivery, reason, session=session)
        summary.skipped += 1
        return
    composed = compose(
        reader,
        ctx,
        already_sent=history.get(reader.id or 0, set()),
        settings=settings,
        delivery_id=delivery.id,
    )
    if composed is None:
        ledger.mark_skipped(delivery, NOTHING_MATCHED, session=session)
        summary.skipped += 1
        return
    try:
        mailer.send(composed.message(settings), reader.email)
    except SendError as exc:
        if exc.connection:
            raise
        if exc.permanent:
            subscribers.record_bounce(reader, settings.suppress_after_bounces, session=session)
            ledger.mark_failed(delivery, exc.reply, session=session)
            summary.failed += 1
        else:
            ledger.release(delivery, exc.reply, session=session)
            summary.retry += 1
        return
    if reader.bounces:
        reader.bounces = 0
    ledger.mark_sent(
        delivery,
        paper_ids=[p.paper.id for p in composed.picks if p.paper.id],
        picks=[p.as_record() for p in composed.picks],
        message_id=composed.msg_id,
        session=session,
    )
    summary.sent += 1


def send(
    issue_date: dt.date,
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer,
    only: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Plan the week's issue, then deliver whatever of it is still pending, batch by batch."""
    issue, _ = plan(issue_date, settings, session=session, only=only)
    assert issue.id is not None
    only_ids = active_ids(session=session, only=only) if only else None
    pending = ledger.claimable(
        issue.id,
        session=session,
        lease=settings.delivery_lease,
        subscriber_ids=only_ids,
        limit=limit,
    )
    summary = Summary(week=issue.week, planned=len(pending))
    if not pending:
        return summary
    mailer.open()  # fail before claiming anything if the server is unreachable
    try:
        for start in range(0, len(pending), settings.batch_size):
            deliver(
                pending[start : start + settings.batch_size],
                settings,
                session=session,
                mailer=mailer,
                summary=summary,
                progress=progress,
            )
    finally:
        mailer.close()
    return summary


def dry_run(
    issue_date: dt.date,
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer | None,
    only: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """What `send` would do, with no write to the database. With a `mailer` (an outbox)
    every digest is rendered and handed to it; without, only the picks are made."""
    issue = issue_for(issue_date, settings, session=session, create=False)
    summary = Summary(week=issue.week)
    ctx = context_for(issue, settings, session=session)
    if mailer:
        mailer.open()
    try:
        for page in iter_readers(session=session, only=only, limit=limit):
            history = ledger.sent_papers([r.id for r in page if r.id], session=session)
            for reader in page:
                _dry_one(reader, ctx, history.get(reader.id or 0, set()), settings, mailer, summary)
            summary.planned += len(page)
            session.expunge_all()  # keep memory flat over a large audience
            if progress:
                progress(len(page))
    finally:
        if mailer:
            mailer.close()
    session.rollback()
    return summary


def _dry_one(
    reader: Subscriber,
    ctx: IssueContext,
    sent: set[int],
    settings: Settings,
    mailer: Mailer | None,
    summary: Summary,
) -> None:
    picks = picks_for(reader, ctx, sent, settings)
    if not picks:
        summary.skipped += 1
        summary.rows.append(
            {"email": reader.email, "papers": 0, "subject": "", "top": "", "why": NOTHING_MATCHED}
        )
        return
    if mailer:
        composed = compose_picks(reader, picks, ctx, settings=settings)
        mailer.send(composed.message(settings), reader.email)
    summary.sent += 1
    summary.rows.append(
        {
            "email": reader.email,
            "papers": len(picks),
            "subject": render.subject(picks),
            "top": picks[0].paper.title,
            "why": picks[0].why,
        }
    )
