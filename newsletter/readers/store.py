"""The subscriber table: every read and write of a reader row happens here.

Who counts as active (confirmed and not paused) is defined once, in `ACTIVE`; planning,
the dry run, the CLI and the web app all ask through these functions. Nothing here
commits: the caller's unit of work does (a CLI command, a web request, a batch).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, tuple_, update
from sqlmodel import Session, col, select

from newsletter.delivery import ledger, mailevents
from newsletter.match.interests import Follow, stored
from newsletter.models import Delivery, Subscriber, SubscriberStatus, Suppression, utcnow
from newsletter.readers import examples, votes
from newsletter.readers.validate import (
    CsvRow,
    InvalidInput,
    Schedule,
    clean_topics,
    normalise_email,
)

ACTIVE = and_(
    col(Subscriber.status) == SubscriberStatus.CONFIRMED, col(Subscriber.paused).is_(False)
)
PAGE = 1000  # readers read at a time, so memory does not grow with the audience
Slot = tuple[str, int, int]  # (timezone, send day, send hour)


def get(reader_id: int, *, session: Session) -> Subscriber | None:
    return session.get(Subscriber, reader_id)


def get_by_email(email: str, *, session: Session) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


class Reader(NamedTuple):
    """What a delivery batch reads of a reader: plain values, not an ORM object, which would
    cost more to build than the reader's whole digest costs to match."""

    id: int
    email: str
    status: str
    paused: bool
    topics: list[str]
    follows: list[str]
    bounces: int
    exclusions: list[str]
    link_key: int


def by_ids(ids: Collection[int], *, session: Session) -> dict[int, Reader]:
    columns = [getattr(Subscriber, name) for name in Reader._fields]
    rows = session.execute(select(*columns).where(col(Subscriber.id).in_(list(ids))))
    return {row.id: Reader(*row) for row in rows}


def active_ids(*, session: Session, only: str | None = None) -> list[int]:
    query = select(Subscriber.id).where(ACTIVE)
    if only:
        query = query.where(Subscriber.email == only)
    return [i for i in session.exec(query.order_by(col(Subscriber.id))) if i is not None]


def iter_active(
    *, session: Session, only: str | None = None, limit: int | None = None
) -> Iterator[list[Subscriber]]:
    """Active readers in pages of `PAGE`, by id."""
    after, left = 0, limit
    while left is None or left > 0:
        query = select(Subscriber).where(ACTIVE, col(Subscriber.id) > after)
        if only:
            query = query.where(Subscriber.email == only)
        size = PAGE if left is None else min(PAGE, left)
        page = list(session.exec(query.order_by(col(Subscriber.id)).limit(size)))
        if not page:
            return
        yield page
        after = page[-1].id or 0
        left = None if left is None else left - len(page)


def send_slots(*, session: Session) -> list[Slot]:
    """The distinct (timezone, day, hour) of active readers: few, whatever the audience."""
    query = select(Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour).where(ACTIVE)
    return [tuple(row) for row in session.exec(query.distinct())]  # type: ignore[misc]


def ids_in_slots(slots: Sequence[Slot], *, session: Session) -> list[int]:
    slot = tuple_(Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour)
    ids = session.exec(select(Subscriber.id).where(ACTIVE, slot.in_(slots)))
    return [i for i in ids if i is not None]


def count_unplanned(slots: Sequence[Slot], issue_id: int | None, *, session: Session) -> int:
    """Active readers in `slots` with no delivery of issue `issue_id` (None: not made yet)."""
    slot = tuple_(Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour)
    query = select(func.count()).select_from(Subscriber).where(ACTIVE, slot.in_(slots))
    if issue_id is not None:
        planned = select(Delivery.subscriber_id).where(Delivery.issue_id == issue_id)
        query = query.where(col(Subscriber.id).not_in(planned))
    return int(session.exec(query).one())


def topic_lists(*, session: Session, limit: int = 5000) -> list[list[str]]:
    """The topic lists of the most recent active readers (for the subscribe page's
    suggestions, which keep only topics many readers share)."""
    query = select(Subscriber.topics).where(ACTIVE).order_by(col(Subscriber.id).desc())
    return [list(topics) for topics in session.exec(query.limit(limit))]


def count_by_status(*, session: Session) -> dict[str, int]:
    rows = session.exec(select(Subscriber.status, func.count()).group_by(Subscriber.status))
    return {str(status): int(n) for status, n in rows}


def listing(*, session: Session, status: SubscriberStatus | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(col(Subscriber.id))
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.exec(query))


def save(reader: Subscriber, *, session: Session) -> Subscriber:
    """Write a new or changed reader (flushed, so a new one has its id); the examples of
    topics they no longer have go."""
    session.add(reader)
    session.flush()
    assert reader.id is not None
    examples.keep_topics(reader.id, reader.topics, session=session)
    return reader


def upsert(
    email: str,
    topics: Iterable[str],
    *,
    keys: tuple[str, ...],
    session: Session,
    confirmed: bool = False,
    schedule: Schedule | None = None,
    follows: list[Follow] | None = None,
    exclusions: list[str] | None = None,
) -> Subscriber:
    """Create the reader, or update the topics (and schedule) of the one with that address.
    `follows` (from `validate.clean_follows`) stand in for topics: one of the two is needed.
    `exclusions` (from `validate.clean_exclusions`) replace the reader's "never" list when
    given. An address forgotten after it bounced is refused (`keys` key its hash)."""
    address = normalise_email(email)
    cleaned = clean_topics(topics, required=not follows)
    (schedule or Schedule()).checked()
    if is_suppressed(address, keys=keys, session=session):
        raise InvalidInput(f"{address} was forgotten after its mailbox refused our mail")
    reader = get_by_email(address, session=session) or Subscriber(email=address)
    reader.topics = cleaned
    if follows is not None:
        reader.follows = [stored(f) for f in follows]
    if exclusions is not None:
        reader.exclusions = exclusions
    (schedule or Schedule()).apply(reader)
    if confirmed and reader.status != SubscriberStatus.CONFIRMED:
        reader.status, reader.confirmed_at = SubscriberStatus.CONFIRMED, utcnow()
    return save(reader, session=session)


def set_topics(
    email: str, topics: Iterable[str], *, session: Session, exclusions: list[str] | None = None
) -> Subscriber:
    reader = _existing(email, session=session)
    reader.topics = clean_topics(topics)
    if exclusions is not None:
        reader.exclusions = exclusions
    return save(reader, session=session)


def set_schedule(email: str, schedule: Schedule, *, session: Session) -> Subscriber:
    reader = _existing(email, session=session)
    schedule.apply(reader)
    return save(reader, session=session)


def import_rows(
    rows: list[CsvRow], *, keys: tuple[str, ...], session: Session, confirmed: bool
) -> tuple[int, int]:
    """Returns (added, updated)."""
    added = updated = 0
    for row in rows:
        existed = get_by_email(row.email, session=session) is not None
        upsert(row.email, row.topics, keys=keys, session=session, confirmed=confirmed)
        updated += existed
        added += not existed
    return added, updated


def record_bounces(reader_ids: Collection[int], limit: int, *, session: Session) -> None:
    """Permanent refusals, one per reader; at `limit` in a row the address is suppressed.
    One statement, so it is written in the same transaction as the batch's outcomes."""
    if reader_ids:
        _update(
            reader_ids,
            session,
            bounces=Subscriber.bounces + 1,
            status=case(
                (col(Subscriber.bounces) + 1 >= limit, SubscriberStatus.SUPPRESSED.value),
                else_=col(Subscriber.status),
            ),
        )


def clear_bounces(reader_ids: Collection[int], *, session: Session) -> None:
    """A message was accepted: the refusals in a row start again from zero."""
    if reader_ids:
        _update(reader_ids, session, bounces=0, where=col(Subscriber.bounces) > 0)


def _update(ids: Collection[int], session: Session, where: Any = True, **values: Any) -> None:
    statement = update(Subscriber).where(col(Subscriber.id).in_(list(ids)), where)
    session.execute(statement.values(**values), execution_options={"synchronize_session": False})


def forget(email: str, *, keys: tuple[str, ...], session: Session) -> bool:
    """Delete a reader and their delivery history (an erase, not an unsubscribe). An address
    whose mailbox refused our mail stays suppressed, kept only as a keyed hash; returns
    whether it was."""
    reader = _existing(email, session=session)
    assert reader.id is not None
    bounced = reader.status == SubscriberStatus.SUPPRESSED or reader.bounces > 0
    if bounced and not is_suppressed(reader.email, keys=keys, session=session):
        session.add(Suppression(address_hash=address_hash(reader.email, keys[0]), reason="bounced"))
    ledger.forget_reader(reader.id, session=session)
    votes.forget_reader(reader.id, session=session)
    examples.forget_reader(reader.id, session=session)
    mailevents.forget_reader(reader.id, session=session)
    session.delete(reader)
    session.flush()
    return bounced


def address_hash(address: str, secret: str) -> str:
    """Keyed, so the suppression list cannot be tested against a list of guessed addresses."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()


def is_suppressed(address: str, *, keys: tuple[str, ...], session: Session) -> bool:
    """A forgotten address that must never be mailed (see `forget`); hashed under the current
    secret key or, after a rotation, the previous one."""
    return any(session.get(Suppression, address_hash(address, key)) for key in keys)


def _existing(email: str, *, session: Session) -> Subscriber:
    reader = get_by_email(normalise_email(email), session=session)
    if reader is None:
        raise InvalidInput(f"no subscriber with the address {email.strip()!r}")
    return reader
