"""The ledger: every state change of a Delivery happens here.

    pending -> sending -> sent | failed | skipped
                     \\-> pending (transient error, tried again later)

One row per (issue, reader), enforced by a unique key, so planning twice adds
nothing. A claim is a conditional UPDATE, so two workers never take the same
row, and a claim whose worker died expires after a lease. The papers sent are
recorded with the row, so no reader gets the same paper twice.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from newsletter.models import Delivery, DeliveryStatus, Issue, utcnow

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
FLUSH_EVERY = "ledger_flush_every"
_PENDING = "ledger_pending"
_CHUNK = 1000
_ANALYZE_AFTER = 10_000
_FLUSH_RETRIES = (0.2, 0.5, 1, 2, 4, 8)  # seconds between tries: ~16 s in all
_ERROR_MAX = 500


def ensure_pending(issue_id: int, subscriber_ids: Sequence[int], *, session: Session) -> list[int]:
    """Create a pending delivery for each reader that has none in this issue; return their ids.

    One INSERT ... ON CONFLICT DO NOTHING per chunk: the unique (issue, reader) key decides
    what exists, so planning twice, or from two places at once, adds nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Delivery)
        .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
        .returning(col(Delivery.id))
    )
    new_ids: list[int] = []
    for start in range(0, len(subscriber_ids), _CHUNK):
        now = utcnow()
        rows = [
            {
                "issue_id": issue_id,
                "subscriber_id": sid,
                "status": DeliveryStatus.PENDING,
                "paper_ids": [],
                "picks": [],
                "attempts": 0,
                "updated_at": now,
            }
            for sid in subscriber_ids[start : start + _CHUNK]
        ]
        new_ids += session.execute(statement, rows).scalars().all()
    if dialect == "postgresql" and len(new_ids) >= _ANALYZE_AFTER:
        # The planner's statistics predate these rows; without fresh ones it picks plans
        # for an empty week that cost a scan of the whole week per batch.
        session.execute(text("ANALYZE delivery"))
    return sorted(new_ids)


def claimable(
    issue_id: int,
    *,
    session: Session,
    lease: dt.timedelta = LEASE,
    subscriber_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> list[int]:
    """Ids of deliveries of the issue that are pending or whose lease ran out."""
    query = select(Delivery.id).where(Delivery.issue_id == issue_id, _claimable(utcnow(), lease))
    if subscriber_ids is not None:
        query = query.where(col(Delivery.subscriber_id).in_(list(subscriber_ids)))
    return [i for i in session.exec(query.order_by(col(Delivery.id)).limit(limit)) if i]


def stale(weeks: Collection[str], *, session: Session, lease: dt.timedelta = LEASE) -> list[int]:
    """Claimable deliveries of these weeks' issues untouched for a lease: lost from the queue,
    or claimed by a worker that died. They are safe to enqueue again."""
    now = utcnow()
    query = (
        select(Delivery.id)
        .join(Issue, col(Issue.id) == Delivery.issue_id)
        .where(col(Issue.week).in_(list(weeks)), _claimable(now, lease))
        .where(col(Delivery.updated_at) < now - lease)
        .order_by(col(Delivery.id))
    )
    return [i for i in session.exec(query) if i]


def claim(
    ids: Sequence[int],
    *,
    session: Session,
    lease: dt.timedelta = LEASE,
    weeks: Collection[str] | None = None,
) -> list[Delivery]:
    """Atomically mark the claimable ones among `ids` as sending; return those this call got.

    The UPDATE's WHERE re-checks the state, so of two racing claims only one matches a row.
    With `weeks`, deliveries of other weeks' issues are left alone (never sent late).
    """
    now, token = utcnow(), uuid.uuid4().hex
    where = [col(Delivery.id).in_(list(ids)), _claimable(now, lease)]
    if weeks is not None:
        where.append(
            col(Delivery.issue_id).in_(select(Issue.id).where(col(Issue.week).in_(list(weeks))))
        )
    claimed = session.scalars(
        update(Delivery)
        .where(*where)
        .values(
            status=DeliveryStatus.SENDING,
            claimed_by=token,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .returning(Delivery),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).all()
    session.commit()
    return sorted(claimed, key=lambda d: d.id or 0)


def _claimable(now: dt.datetime, lease: dt.timedelta) -> Any:
    return or_(
        col(Delivery.status) == DeliveryStatus.PENDING,
        and_(
            col(Delivery.status) == DeliveryStatus.SENDING, col(Delivery.claimed_at) < now - lease
        ),
    )


def mark_sent(
    delivery: Delivery,
    *,
    paper_ids: list[int],
    picks: list[dict[str, Any]],
    message_id: str,
    session: Session,
) -> None:
    _finish(
        delivery,
        DeliveryStatus.SENT,
        session=session,
        paper_ids=paper_ids,
        picks=picks,
        message_id=message_id,
        sent_at=utcnow(),
        last_error=None,
    )


def mark_skipped(delivery: Delivery, reason: str, *, session: Session) -> None:
    _finish(delivery, DeliveryStatus.SKIPPED, session=session, last_error=reason)


def mark_failed(delivery: Delivery, reply: str, *, session: Session) -> None:
    _finish(delivery, DeliveryStatus.FAILED, session=session, last_error=reply[:_ERROR_MAX])


def release(delivery: Delivery, error: str, *, session: Session, attempted: bool = True) -> None:
    """A transient failure: back to pending, unless it has been tried too often.

    `attempted=False` (the server could not be reached at all) does not use up an attempt.
    """
    if attempted and delivery.attempts >= MAX_ATTEMPTS:
        mark_failed(
            delivery, f"gave up after {delivery.attempts} attempts: {error}", session=session
        )
        return
    attempts = delivery.attempts - (0 if attempted else 1)
    _finish(
        delivery,
        DeliveryStatus.PENDING,
        session=session,
        last_error=error[:_ERROR_MAX],
        attempts=attempts,
    )


_OUTCOME = ("status", "claimed_by", "updated_at", "paper_ids", "picks", "message_id", "sent_at",
            "last_error", "attempts")  # fmt: skip
_TABLE: Table = Delivery.__table__  # type: ignore[attr-defined]
_UPDATE_BY_ID = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"))
    .values({name: bindparam(name) for name in _OUTCOME})
)


def _finish(delivery: Delivery, status: DeliveryStatus, *, session: Session, **values: Any) -> None:
    """Record an outcome. Rows are written as one bulk UPDATE by primary key at `flush`."""
    row = {
        "paper_ids": delivery.paper_ids,
        "picks": delivery.picks,
        "message_id": None,
        "sent_at": None,
        "last_error": None,
        "attempts": delivery.attempts,
    } | values
    row |= {
        "delivery_id": delivery.id,
        "status": status,
        "claimed_by": None,
        "updated_at": utcnow(),
    }
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append(row)
    if len(pending) >= session.info.get(FLUSH_EVERY, 1):
        flush(session)


def flush(session: Session) -> None:
    """Write and commit the outcomes recorded since the last flush, in one statement.

    By default every outcome commits at once, so a worker killed mid-batch re-sends at most
    the message in flight. With `session.info[FLUSH_EVERY] = N` outcomes commit N at a time,
    for a constant number of queries per batch; a killed worker may then re-send up to N
    messages, with the same Message-ID.

    These messages have gone out already, so a dropped database connection is retried on
    a new one for a while rather than given up: giving up would send them again later."""
    pending = session.info.pop(_PENDING, [])
    for pause in (*_FLUSH_RETRIES, None):
        try:
            if pending:
                session.connection().execute(_UPDATE_BY_ID, pending)  # one executemany
            session.commit()
            return
        except OperationalError:
            session.rollback()
            if pause is None:
                raise
            time.sleep(pause)


def sent_papers(subscriber_ids: Sequence[int], *, session: Session) -> dict[int, set[int]]:
    """Paper ids each reader has already been sent, in one query for the whole batch."""
    sent: dict[int, set[int]] = defaultdict(set)
    rows = session.exec(
        select(Delivery.subscriber_id, Delivery.paper_ids).where(
            col(Delivery.subscriber_id).in_(list(subscriber_ids)),
            Delivery.status == DeliveryStatus.SENT,
        )
    )
    for subscriber_id, paper_ids in rows:
        sent[subscriber_id].update(paper_ids)
    return sent


def counts(issue_id: int, *, session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Delivery.status, func.count())
        .where(Delivery.issue_id == issue_id)
        .group_by(Delivery.status)
    )
    found = {str(status): int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in DeliveryStatus}
