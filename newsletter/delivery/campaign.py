"""Campaign: the only orchestrator. Plan an issue, then deliver batches of it.

`plan` (and `plan_due`, for the hourly schedule) creates one pending Delivery per due
reader in one transaction; `deliver` claims a batch, picks and renders each reader's
papers, sends, and records the outcome through the ledger. `dry_run` runs the same
selection and rendering and writes nothing to the database. The CLI and the Celery
tasks call these same functions.

This module is the batch's unit of work: `_commit` is where a plan, a claim and a batch's
outcomes are made durable, and nowhere else in a batch commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from newsletter import db, metrics
from newsletter.delivery import issues, ledger, pacing, verp
from newsletter.delivery.ledger import NOTHING_MATCHED
from newsletter.delivery.mailer import Mailer, Meanwhile, SendError, reply_code
from newsletter.delivery.sendtime import due_date
from newsletter.digest.compose import (
    IssueCache,
    IssueState,
    compose,
    empty_notice,
    picks_for,
    profiles,
    warm_topics,
)
from newsletter.digest.render import subject
from newsletter.match.feedback import Profile
from newsletter.models import Issue, Subscriber, SubscriberStatus
from newsletter.readers import store as readers
from newsletter.settings import Settings

Progress = Callable[[int], None]
# Whether a reader found nothing for gets the empty-weeks notice (ledger.empty_notice_due).
NoticeDue = Callable[[int], bool] | None
# Outcomes describe messages that have gone out: a dropped database connection is retried
# on a new one for a while (~16 s) rather than given up, which would send them again later.
_RETRIES = (0.2, 0.5, 1, 2, 4, 8)


@dataclass
class Summary:
    week: str
    planned: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0
    notices: int = 0  # empty-weeks notices, among the skipped
    rows: list[dict[str, object]] = field(default_factory=list)


def _commit(
    session: Session, outcomes: ledger.Outcomes | None = None, *, bounce_limit: int = 0
) -> None:
    """Make the batch's work so far durable, with `outcomes` written: the deliveries, then
    the readers' bounce counts. A CLI session holds them in one transaction; a worker's batch
    connection commits each statement as it runs (`db.session_scope(batch=True)`). On a
    dropped connection they are written again: the deliveries' UPDATEs by id are idempotent;
    a bounce count may then be one too high."""
    for pause in (*_RETRIES, None):
        try:
            with metrics.stage("ledger").time():
                if outcomes is not None:
                    ledger.write(outcomes, session=session)
                    readers.record_bounces(outcomes.bounced, bounce_limit, session=session)
                    readers.clear_bounces(outcomes.accepted, session=session)
                if not session.info.get(db.AUTOCOMMIT):
                    session.commit()
            if outcomes is not None:
                outcomes.clear()
            return
        except OperationalError:
            session.rollback()
            if pause is None or outcomes is None:
                raise
            time.sleep(pause)


def issue_for(
    issue_date: dt.date, settings: Settings, *, session: Session, create: bool = True
) -> Issue:
    return issues.for_date(issue_date, settings.window_days, session=session, create=create)


def plan(
    issue_date: dt.date, settings: Settings, *, session: Session, only: str | None = None
) -> tuple[Issue, int]:
    """Create the week's issue and a pending delivery per active reader; one transaction."""
    issue = issue_for(issue_date, settings, session=session)
    assert issue.id is not None
    ids = readers.active_ids(session=session, only=only)
    created = ledger.ensure_pending(issue.id, ids, session=session)
    _commit(session)
    return issue, len(created)


def plan_due(now: dt.datetime, settings: Settings, *, session: Session) -> list[int]:
    """Pending deliveries for every active reader whose send moment this week has come
    and who has none for their week's issue yet; one transaction. Returns the new ids."""
    new: list[int] = []
    for local_date, due in _due_slots(now, settings, session):
        issue = issue_for(local_date, settings, session=session)
        assert issue.id is not None
        ids = readers.ids_in_slots(due, session=session)
        new += ledger.ensure_pending(issue.id, ids, session=session)
    _commit(session)
    return new


def due_unplanned(now: dt.datetime, settings: Settings, *, session: Session) -> int:
    """Readers whose send moment has come who have no delivery yet: what the next tick
    plans. Reads only."""
    total = 0
    for local_date, due in _due_slots(now, settings, session):
        issue = issue_for(local_date, settings, session=session, create=False)
        total += readers.count_unplanned(due, issue.id, session=session)
    return total


def _due_slots(
    now: dt.datetime, settings: Settings, session: Session
) -> list[tuple[dt.date, list[readers.Slot]]]:
    """The readers' (zone, day, hour) slots whose moment has come, by their local date."""
    by_date: dict[dt.date, list[readers.Slot]] = {}
    for zone, day, hour in readers.send_slots(session=session):
        local_date = due_date(now, zone, day, hour, settings.send_grace)
        if local_date is not None:
            by_date.setdefault(local_date, []).append((zone, day, hour))
    return sorted(by_date.items())


@metrics.BATCH.time()
def deliver(
    delivery_ids: Sequence[int],
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer,
    cache: IssueCache,
    summary: Summary,
    weeks: Collection[str] | None = None,
    progress: Progress | None = None,
) -> None:
    """Claim, compose, send and record a batch.

    With `weeks`, only deliveries of those weeks' issues are taken (workers pass the
    current weeks, so a stale queue never sends a week that is over). The number of
    queries does not depend on the batch's readers: one claim, one read of the readers,
    one of their history, one of their votes (and one of the voted papers' vectors if anyone
    voted), one check of the issue's papers, then the outcomes' writes
    (one per message by default, `ledger_flush_every` at a time if raised, each while the
    server answers the next message's envelope), and a renewal of the claim should the
    batch outlive half its lease.
    """
    batch = ledger.claim(delivery_ids, session=session, lease=settings.delivery_lease, weeks=weeks)
    _commit(session)
    if not batch:
        return
    found = issues.by_ids({d.issue_id for d in batch}, session=session)
    states = {i: cache.get(issue, settings, session=session) for i, issue in found.items()}
    audience = readers.by_ids([d.subscriber_id for d in batch], session=session)
    history = ledger.sent_papers([d.subscriber_id for d in batch], session=session)
    told = {i: profiles([audience[d.subscriber_id] for d in batch if d.issue_id == i], state,
                        session=session) for i, state in states.items()}  # fmt: skip
    warm_topics(states.values(), audience.values())
    # Detached, what was read stays as read: a rollback on a dropped connection (in `_commit`)
    # would expire it, and reading it again could fail before the outcomes so far are written.
    session.expunge_all()
    outcomes = ledger.Outcomes(every=settings.ledger_flush_every)
    limit = settings.suppress_after_bounces
    half_lease = settings.delivery_lease.total_seconds() / 2
    held, renewed = {d.id for d in batch}, time.monotonic()
    write = partial(_commit, session, outcomes, bounce_limit=limit)
    notice_due = _notice_due(settings, session)
    for index, delivery in enumerate(batch):
        if time.monotonic() - renewed > half_lease:
            held, renewed = ledger.renew(batch[index:], session=session), time.monotonic()
            write()
        if delivery.id not in held:  # another worker took it when this batch's lease ran out
            continue
        reader = audience[delivery.subscriber_id]
        try:
            _deliver_one(delivery, reader, states[delivery.issue_id], history, settings,
                         told[delivery.issue_id][delivery.subscriber_id], mailer=mailer,
                         outcomes=outcomes, summary=summary, notice_due=notice_due,
                         write_first=write if outcomes.due else None)  # fmt: skip
        except SendError as exc:  # the server cannot be reached: stop, keep the rest pending
            for rest in batch[index:]:
                outcomes.release(rest, exc.reply, attempted=False)
            write()
            summary.retry += len(batch) - index
            metrics.digests("deferred").inc(len(batch) - index)
            metrics.smtp_replies(reply_code(exc.reply)).inc()
            raise
        except BaseException:  # whatever failed, what went out before it is recorded
            write()
            raise
        if progress:
            progress(1)
    write()


def _deliver_one(
    delivery: ledger.Claimed,
    reader: readers.Reader,
    state: IssueState,
    history: dict[int, set[int]],
    settings: Settings,
    profile: Profile,
    *,
    mailer: Mailer,
    outcomes: ledger.Outcomes,
    summary: Summary,
    notice_due: NoticeDue,
    write_first: Meanwhile,
) -> None:
    """Send the reader's digest (or, found nothing for again, the empty-weeks notice once)
    and add its outcome to `outcomes`. `write_first` writes the outcomes so far; it runs
    while the server answers this message's envelope, so a message is never accepted before
    the one before it is recorded (a killed worker sends again at most the one message whose
    outcome it had not written)."""
    if reader.status != SubscriberStatus.CONFIRMED.value or reader.paused:
        reason = "reader paused" if reader.paused else f"reader is {reader.status}"
        outcomes.skipped(delivery, reason)
        summary.skipped += 1
        metrics.digests("skipped").inc()
        return
    start = time.perf_counter()
    picks = picks_for(reader, state, history.get(reader.id or 0, set()), settings, profile)
    notice = not picks and bool(notice_due and notice_due(delivery.subscriber_id))
    if not picks and not notice:
        outcomes.skipped(delivery, NOTHING_MATCHED)
        summary.skipped += 1
        metrics.digests("skipped").inc()
        return
    composed = (
        compose(reader, picks, state, settings=settings, delivery_id=delivery.id)
        if picks
        else empty_notice(reader, state, settings=settings, weeks=settings.empty_weeks_notice)
    )
    metrics.stage("compose").observe(time.perf_counter() - start)
    with metrics.stage("render").time():
        message = composed.message(settings, eight_bit=mailer.eight_bit)
    pacer = pacing.pacer(settings.domain_rates, settings.redis_url, settings.redis_prefix)
    if pacer:
        if write_first:  # not left unwritten while waiting for the domain's budget
            write_first()
            write_first = None
        with metrics.stage("pace").time():
            pacer.wait(reader.email)
    try:
        with metrics.stage("smtp").time():  # the overlapping write included
            mailer.send(message, reader.email, verp.address(settings, delivery.id), write_first)
    except SendError as exc:
        if exc.connection:
            raise
        metrics.smtp_replies(reply_code(exc.reply)).inc()
        if pacer:
            pacer.slow_down(reader.email, exc.reply)
        if exc.permanent:
            outcomes.failed(delivery, exc.reply, bounced=True)
            summary.failed += 1
            metrics.digests("failed").inc()
        else:
            outcomes.release(delivery, exc.reply)
            summary.retry += 1
            metrics.digests("deferred").inc()
        return
    metrics.smtp_replies("250").inc()
    if notice:
        outcomes.skipped(delivery, NOTHING_MATCHED, notice_id=composed.msg_id)
        summary.skipped += 1
        summary.notices += 1
        metrics.digests("notice").inc()
        return
    metrics.digests("sent").inc()
    outcomes.sent(
        delivery,
        paper_ids=[p.paper.id for p in picks if p.paper.id],
        picks=[p.as_record() for p in picks],
        message_id=composed.msg_id,
        # A relay accepts what later bounces: with a bounce mailbox, acceptance says
        # nothing of delivery, so it does not wipe the bounces that came back before.
        had_bounces=reader.bounces > 0 and not settings.bounce_address,
    )
    summary.sent += 1


def send(
    issue_date: dt.date,
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer,
    cache: IssueCache,
    only: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Plan the week's issue, then deliver whatever of it is still pending, batch by batch."""
    issue, _ = plan(issue_date, settings, session=session, only=only)
    assert issue.id is not None
    only_ids = readers.active_ids(session=session, only=only) if only else None
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
            deliver(pending[start : start + settings.batch_size], settings, session=session,
                    mailer=mailer, cache=cache, summary=summary, progress=progress)  # fmt: skip
    finally:
        mailer.close()
    return summary


def dry_run(
    issue_date: dt.date,
    settings: Settings,
    *,
    session: Session,
    mailer: Mailer | None,
    cache: IssueCache,
    only: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """What `send` would do, with no write to the database. With a `mailer` (an outbox)
    every digest is rendered and handed to it; without, only the picks are made."""
    issue = issue_for(issue_date, settings, session=session, create=False)
    summary = Summary(week=issue.week)
    state = cache.get(issue, settings, session=session)
    notice_due = _notice_due(settings, session)
    if mailer:
        mailer.open()
    try:
        for page in readers.iter_active(session=session, only=only, limit=limit):
            ids = [r.id for r in page if r.id]
            history = ledger.sent_papers(ids, session=session)
            told = profiles(page, state, session=session)
            warm_topics([state], page)
            for reader in page:
                sent = history.get(reader.id or 0, set())
                _dry_one(reader, state, sent, settings, told[reader.id or 0], mailer,
                         summary, notice_due)  # fmt: skip
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
    state: IssueState,
    sent: set[int],
    settings: Settings,
    profile: Profile,
    mailer: Mailer | None,
    summary: Summary,
    notice_due: NoticeDue,
) -> None:
    picks = picks_for(reader, state, sent, settings, profile)
    if not picks:
        summary.skipped += 1
        why, subject_line = NOTHING_MATCHED, ""
        if notice_due and reader.id and notice_due(reader.id):
            notice = empty_notice(reader, state, settings=settings,
                                  weeks=settings.empty_weeks_notice)  # fmt: skip
            summary.notices += 1
            why = f"{why}; the empty-weeks notice goes instead"
            subject_line = notice.rendered.subject
            if mailer:
                mailer.send(notice.message(settings, eight_bit=mailer.eight_bit), reader.email)
        summary.rows.append(
            {"email": reader.email, "papers": 0, "subject": subject_line, "top": "", "why": why}
        )
        return
    if mailer:
        composed = compose(reader, picks, state, settings=settings)
        mailer.send(composed.message(settings, eight_bit=mailer.eight_bit), reader.email)
    summary.sent += 1
    summary.rows.append(
        {
            "email": reader.email,
            "papers": len(picks),
            "subject": subject(picks),
            "top": picks[0].paper.title,
            "why": picks[0].why,
        }
    )


def _notice_due(settings: Settings, session: Session) -> NoticeDue:
    weeks = settings.empty_weeks_notice
    return partial(ledger.empty_notice_due, weeks=weeks, session=session) if weeks else None
