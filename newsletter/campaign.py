"""Campaign: the only orchestrator. Plan an issue, then deliver batches of it.

`plan` creates one pending Delivery per due reader in one transaction; `deliver`
claims a batch, picks and renders each reader's papers, sends, and records the
outcome through the ledger. `dry_run` runs the same selection and rendering
against a Mailer that writes files, and writes nothing to the database. The CLI
and the Celery tasks call these same functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, tuple_
from sqlmodel import Session, col, select

from newsletter import ledger, message, render, subscribers, tokens
from newsletter.mailer import Mailer, SendError
from newsletter.match import Matcher, Pick
from newsletter.models import Delivery, Issue, Paper, Subscriber, SubscriberStatus
from newsletter.sendtime import due_date, iso_week
from newsletter.settings import Settings

NOTHING_MATCHED = "no paper this week matched the reader's topics"
Progress = Callable[[int], None]


@dataclass
class Composed:
    """One reader's digest, ready to send."""

    reader: Subscriber
    picks: list[Pick]
    rendered: render.Rendered
    msg_id: str
    unsubscribe_url: str

    def message(self, settings: Settings) -> message.EmailMessage:
        return message.build(
            self.rendered,
            settings=settings,
            to=self.reader.email,
            msg_id=self.msg_id,
            unsubscribe_url=self.unsubscribe_url,
        )


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


def matcher_for(issue: Issue, settings: Settings, *, session: Session) -> Matcher:
    papers = session.exec(
        select(Paper).where(
            col(Paper.featured_on) >= issue.window_start, col(Paper.featured_on) <= issue.window_end
        )
    )
    return Matcher(list(papers), window_end=issue.window_end, window_days=settings.window_days)


ACTIVE = and_(
    col(Subscriber.status) == SubscriberStatus.CONFIRMED, col(Subscriber.paused).is_(False)
)


def readers(*, session: Session, only: str | None = None) -> list[Subscriber]:
    """Confirmed readers who have not paused, in a stable order."""
    query = select(Subscriber).where(ACTIVE)
    if only:
        query = query.where(Subscriber.email == only)
    return list(session.exec(query.order_by(col(Subscriber.id))))


def compose(
    reader: Subscriber,
    *,
    issue: Issue,
    matcher: Matcher,
    already_sent: set[int],
    settings: Settings,
    delivery_id: int | None = None,
) -> Composed | None:
    """The reader's digest, or None when nothing of this week matches their topics.
    With `delivery_id` the email links to its own "view in browser" page."""
    picks = matcher.picks(reader.interests, limit=settings.issue_size, exclude=already_sent)
    if not picks:
        return None
    return compose_picks(reader, picks, issue=issue, settings=settings, delivery_id=delivery_id)


def compose_picks(
    reader: Subscriber,
    picks: list[Pick],
    *,
    issue: Issue,
    settings: Settings,
    delivery_id: int | None = None,
) -> Composed:
    assert reader.id is not None
    unsubscribe = tokens.link(settings, tokens.Purpose.UNSUBSCRIBE, reader.id)
    view = delivery_id and tokens.link(settings, tokens.Purpose.VIEW, reader.id, delivery_id)
    links = render.Links(
        manage=tokens.link(settings, tokens.Purpose.MANAGE, reader.id),
        unsubscribe=unsubscribe,
        view=view or None,
    )
    rendered = render.digest(
        picks=picks,
        email=reader.email,
        topics=reader.interests_shown,
        week=issue.week,
        links=links,
        postal_address=settings.postal_address,
    )
    return Composed(
        reader, picks, rendered, message.message_id(settings, issue.week, reader.id), unsubscribe
    )


def plan(
    issue_date: dt.date, settings: Settings, *, session: Session, only: str | None = None
) -> tuple[Issue, int]:
    """Create the week's issue and a pending delivery per confirmed reader; one transaction."""
    issue = issue_for(issue_date, settings, session=session)
    assert issue.id is not None
    ids = [r.id for r in readers(session=session, only=only) if r.id is not None]
    created = ledger.ensure_pending(issue.id, ids, session=session)
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
    current weeks, so a stale queue never sends a week that is over).
    """
    batch = ledger.claim(delivery_ids, session=session, lease=settings.delivery_lease, weeks=weeks)
    if not batch:
        return
    issues = {
        i.id: i
        for i in session.exec(select(Issue).where(col(Issue.id).in_({d.issue_id for d in batch})))
    }
    matchers = {i: matcher_for(issue, settings, session=session) for i, issue in issues.items()}
    subscribers = {
        s.id: s
        for s in session.exec(
            select(Subscriber).where(col(Subscriber.id).in_([d.subscriber_id for d in batch]))
        )
    }
    history = ledger.sent_papers([d.subscriber_id for d in batch], session=session)
    for index, delivery in enumerate(batch):
        reader = subscribers[delivery.subscriber_id]
        try:
            _deliver_one(
                delivery,
                reader,
                issues[delivery.issue_id],
                matchers[delivery.issue_id],
                history,
                settings,
                session=session,
                mailer=mailer,
                summary=summary,
            )
        except SendError as exc:  # the server cannot be reached: stop, keep the rest pending
            for rest in batch[index:]:
                ledger.release(rest, exc.reply, session=session, attempted=False)
            summary.retry += len(batch) - index
            raise
        if progress:
            progress(1)


def _deliver_one(
    delivery: Delivery,
    reader: Subscriber,
    issue: Issue,
    matcher: Matcher,
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
        issue=issue,
        matcher=matcher,
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
    batch_size: int = 200,
    progress: Progress | None = None,
) -> Summary:
    """Plan the week's issue, then deliver whatever of it is still pending, batch by batch."""
    issue, _ = plan(issue_date, settings, session=session, only=only)
    assert issue.id is not None
    only_ids = [r.id for r in readers(session=session, only=only) if r.id] if only else None
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
        for start in range(0, len(pending), batch_size):
            deliver(
                pending[start : start + batch_size],
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
    mailer: Mailer,
    only: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """What `send` would do, rendered through `mailer`, with no write to the database."""
    issue = issue_for(issue_date, settings, session=session, create=False)
    summary = Summary(week=issue.week)
    matcher = matcher_for(issue, settings, session=session)
    due = readers(session=session, only=only)[:limit]
    history = ledger.sent_papers([r.id for r in due if r.id], session=session)
    summary.planned = len(due)
    mailer.open()
    try:
        for reader in due:
            composed = compose(
                reader,
                issue=issue,
                matcher=matcher,
                already_sent=history.get(reader.id or 0, set()),
                settings=settings,
            )
            summary.rows.append(_row(reader, composed))
            if composed is None:
                summary.skipped += 1
            else:
                mailer.send(composed.message(settings), reader.email)
                summary.sent += 1
            if progress:
                progress(1)
    finally:
        mailer.close()
    session.rollback()
    return summary


def _row(reader: Subscriber, composed: Composed | None) -> dict[str, object]:
    if composed is None:
        return {
            "email": reader.email,
            "papers": 0,
            "subject": "",
            "top": "",
            "why": NOTHING_MATCHED,
        }
    top = composed.picks[0]
    return {
        "email": reader.email,
        "papers": len(composed.picks),
        "subject": composed.rendered.subject,
        "top": top.paper.title,
        "why": top.why,
    }
