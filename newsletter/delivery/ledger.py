"""The ledger: the delivery table. Every state change of a Delivery happens here.

    pending -> sending -> sent | failed | skipped
                     \\-> pending (transient error, tried again later)

One row per (issue, reader), enforced by a unique key, so planning twice adds
nothing. A claim is a conditional UPDATE, so two workers never take the same
row, and a claim whose worker died expires after a lease. The papers sent are
recorded with the row, so no reader gets the same paper twice.

Nothing here commits: outcomes are gathered in an `Outcomes` and written by `write`,
inside the batch's transaction, which the campaign commits.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, delete, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from newsletter.db import json_text
from newsletter.delivery.mailer import reply_code
from newsletter.models import Delivery, DeliveryStatus, Issue, utcnow

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
_CHUNK = 1000
_ANALYZE_AFTER = 10_000
_ERROR_MAX = 500
_HOST = socket.gethostname()[:40]
# A skipped delivery's reason when the reader's topics found nothing in the issue.
NOTHING_MATCHED = "no paper this week matched the reader's topics"


def worker() -> str:
    """Who claims: this host and process, kept on the row after sending, so `newsletter
    status` can say which worker process sent what, and how fast. The pid is read at each
    claim, not at import: Celery's parent imports this module before its pool forks, and
    every child would otherwise claim under the parent's pid."""
    return f"{_HOST}-{os.getpid()}"


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


class Claimed(NamedTuple):
    """A delivery a batch claimed, as plain values (an ORM object per row cost more to build
    than the row's outcome costs to write)."""

    id: int
    issue_id: int
    subscriber_id: int
    attempts: int
    claimed_by: str
    paper_ids: list[int]
    picks: list[dict[str, Any]]


def claim(
    ids: Sequence[int],
    *,
    session: Session,
    lease: dt.timedelta = LEASE,
    weeks: Collection[str] | None = None,
) -> list[Claimed]:
    """Atomically mark the claimable ones among `ids` as sending; return those this call got.

    The UPDATE's WHERE re-checks the state, so of two racing claims only one matches a row.
    With `weeks`, deliveries of other weeks' issues are left alone (never sent late).
    """
    now, token = utcnow(), f"{worker()}:{uuid.uuid4().hex[:12]}"
    where = [col(Delivery.id).in_(list(ids)), _claimable(now, lease)]
    if weeks is not None:
        where.append(
            col(Delivery.issue_id).in_(select(Issue.id).where(col(Issue.week).in_(list(weeks))))
        )
    claimed = session.execute(
        update(Delivery)
        .where(*where)
        .values(
            status=DeliveryStatus.SENDING,
            claimed_by=token,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .returning(*(getattr(Delivery, name) for name in Claimed._fields)),
        execution_options={"synchronize_session": False},
    )
    return sorted((Claimed(*row) for row in claimed), key=lambda d: d.id)


def renew(batch: Sequence[Claimed], *, session: Session) -> set[int]:
    """Extend a batch's claim on those of its rows still claimed by it and still sending;
    returns their ids. A batch that runs long (a slow server, database retries) renews before
    its lease runs out, so no other worker takes a row it is about to send, and skips any row
    another worker has taken meanwhile."""
    if not batch:
        return set()
    now = utcnow()
    renewed = session.scalars(
        update(Delivery)
        .where(
            col(Delivery.id).in_([d.id for d in batch]),
            col(Delivery.claimed_by) == batch[0].claimed_by,
            col(Delivery.status) == DeliveryStatus.SENDING,
        )
        .values(claimed_at=now, updated_at=now)
        .returning(col(Delivery.id)),
        execution_options={"synchronize_session": False},
    ).all()
    return {i for i in renewed if i is not None}


def _claimable(now: dt.datetime, lease: dt.timedelta) -> Any:
    return or_(
        col(Delivery.status) == DeliveryStatus.PENDING,
        and_(
            col(Delivery.status) == DeliveryStatus.SENDING, col(Delivery.claimed_at) < now - lease
        ),
    )


@dataclass
class Outcomes:
    """A batch's outcomes not yet written, and the readers whose bounce count changes with
    them. `due` says when to write: every `every` outcomes (1: each before the next message
    can be accepted, so a killed worker re-sends at most one message)."""

    every: int = 1
    rows: list[dict[str, Any]] = field(default_factory=list)
    bounced: list[int] = field(default_factory=list)  # refused for good: one more bounce
    accepted: list[int] = field(default_factory=list)  # delivered after bounces: reset them

    @property
    def due(self) -> bool:
        return len(self.rows) >= self.every

    def sent(
        self,
        delivery: Claimed,
        *,
        paper_ids: list[int],
        picks: list[dict[str, Any]],
        message_id: str,
        had_bounces: bool = False,
    ) -> None:
        if had_bounces:
            self.accepted.append(delivery.subscriber_id)
        self._add(
            delivery,
            DeliveryStatus.SENT,
            paper_ids=paper_ids,
            picks=picks,
            message_id=message_id,
            sent_at=utcnow(),
        )

    def skipped(self, delivery: Claimed, reason: str, *, notice_id: str | None = None) -> None:
        """No digest for the reader in this issue; `notice_id`: the Message-ID of the
        empty-weeks notice that went instead (it is no digest: no feed or archive shows it)."""
        self._add(delivery, DeliveryStatus.SKIPPED, last_error=reason, message_id=notice_id,
                  sent_at=notice_id and utcnow())  # fmt: skip

    def failed(self, delivery: Claimed, reply: str, *, bounced: bool = False) -> None:
        if bounced:
            self.bounced.append(delivery.subscriber_id)
        self._add(delivery, DeliveryStatus.FAILED, last_error=reply[:_ERROR_MAX])

    def release(self, delivery: Claimed, error: str, *, attempted: bool = True) -> None:
        """A transient failure: back to pending, unless it has been tried too often.
        `attempted=False` (the server could not be reached at all) uses up no attempt."""
        if attempted and delivery.attempts >= MAX_ATTEMPTS:
            self.failed(delivery, f"gave up after {delivery.attempts} attempts: {error}")
            return
        attempts = delivery.attempts - (0 if attempted else 1)
        self._add(
            delivery, DeliveryStatus.PENDING, last_error=error[:_ERROR_MAX], attempts=attempts
        )

    def _add(self, delivery: Claimed, status: DeliveryStatus, **values: Any) -> None:
        self.rows.append(
            {
                "paper_ids": delivery.paper_ids,
                "picks": delivery.picks,
                "message_id": None,
                "sent_at": None,
                "last_error": None,
                "attempts": delivery.attempts,
            }
            | values
            | {
                "delivery_id": delivery.id,
                "status": status,
                "updated_at": utcnow(),
            }
        )

    def clear(self) -> None:
        self.rows.clear()
        self.bounced.clear()
        self.accepted.clear()


_OUTCOME = ("status", "updated_at", "paper_ids", "picks", "message_id", "sent_at",
            "last_error", "attempts")  # fmt: skip
_TABLE: Table = Delivery.__table__  # type: ignore[attr-defined]
_UPDATE_BY_ID = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"))
    .values({name: bindparam(name) for name in _OUTCOME})
)


# On PostgreSQL the UPDATE goes as its compiled text: compiling and processing the statement
# for each message's outcome cost about 5 % of a worker's CPU per digest.
_PG_UPDATE_BY_ID = str(_UPDATE_BY_ID.compile(dialect=postgresql.psycopg.dialect()))


def write(outcomes: Outcomes, *, session: Session) -> None:
    """The outcomes' rows as one bulk UPDATE by primary key (one executemany); no commit."""
    if not outcomes.rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(_UPDATE_BY_ID, outcomes.rows)
        return
    rows = [row | {"paper_ids": json_text(row["paper_ids"]), "picks": json_text(row["picks"])}
            for row in outcomes.rows]  # fmt: skip
    connection.exec_driver_sql(_PG_UPDATE_BY_ID, rows)


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


def empty_notice_due(reader_id: int, weeks: int, *, session: Session) -> bool:
    """Whether the reader, found nothing for again, gets the empty-weeks notice: their last
    `weeks` - 1 finished deliveries were skipped for nothing matched, and no notice has gone
    to them since their last digest (one notice a dry spell, however long)."""
    rows = session.exec(
        select(Delivery.status, Delivery.last_error, Delivery.message_id)
        .join(Issue, col(Issue.id) == Delivery.issue_id)
        .where(
            Delivery.subscriber_id == reader_id,
            col(Delivery.status).in_([DeliveryStatus.SENT, DeliveryStatus.SKIPPED]),
        )
        .order_by(col(Issue.issue_date).desc())
    )
    empty, counting = 0, True
    for status, reason, notice in rows:
        if status == DeliveryStatus.SENT:
            break
        if notice:
            return False
        counting = counting and reason == NOTHING_MATCHED
        empty += counting
    return empty >= weeks - 1


def sent_delivery(delivery_id: int, reader_id: int, *, session: Session) -> Delivery | None:
    """A delivery that went out to this reader ("view in browser"), else None."""
    delivery = session.get(Delivery, delivery_id)
    if delivery and delivery.subscriber_id == reader_id and delivery.status == DeliveryStatus.SENT:
        return delivery
    return None


def reader_of(delivery_id: int, *, session: Session) -> int | None:
    delivery = session.get(Delivery, delivery_id)
    return delivery.subscriber_id if delivery else None


def sent_paper(reader_id: int, paper_id: int, issue_id: int, *, session: Session) -> bool:
    """Whether the paper went out to the reader in that issue (a vote on it needs this)."""
    delivery = session.exec(
        select(Delivery).where(
            Delivery.issue_id == issue_id,
            Delivery.subscriber_id == reader_id,
            Delivery.status == DeliveryStatus.SENT,
        )
    ).first()
    return delivery is not None and paper_id in delivery.paper_ids


def sent_picks(issue_ids: Sequence[int], *, session: Session) -> list[tuple[int, int, Any]]:
    """(issue id, reader id, the picks' records) of every digest sent in those issues."""
    rows = session.exec(
        select(Delivery.issue_id, Delivery.subscriber_id, Delivery.picks).where(
            col(Delivery.issue_id).in_(list(issue_ids)), Delivery.status == DeliveryStatus.SENT
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def pick_topics(
    digests: Collection[tuple[int, int]], *, session: Session
) -> dict[tuple[int, int, int], tuple[str, ...]]:
    """(reader, issue, paper) -> the topics the paper was picked for, in those sent digests
    (reader, issue): one query for all of them."""
    readers, issues = {r for r, _ in digests}, {i for _, i in digests}
    rows = session.exec(
        select(Delivery.subscriber_id, Delivery.issue_id, Delivery.picks).where(
            col(Delivery.subscriber_id).in_(readers), col(Delivery.issue_id).in_(issues),
            Delivery.status == DeliveryStatus.SENT,
        )
    )  # fmt: skip
    return {
        (reader, issue, record["paper_id"]): tuple(h["topic"] for h in record.get("hits", []))
        for reader, issue, records in rows
        if (reader, issue) in digests
        for record in records or []
    }


def sent_to(reader_id: int, *, session: Session, limit: int = 20) -> list[Delivery]:
    """The reader's latest sent digests, newest first (their private feed)."""
    query = select(Delivery).where(
        Delivery.subscriber_id == reader_id, Delivery.status == DeliveryStatus.SENT
    )
    return list(session.exec(query.order_by(col(Delivery.sent_at).desc()).limit(limit)))


def forget_reader(reader_id: int, *, session: Session) -> None:
    session.execute(delete(Delivery).where(col(Delivery.subscriber_id) == reader_id))


@dataclass
class Progress:
    """How an issue's sending goes: counts by status, what was sent lately and by whom,
    and what is waiting after a deferral, by the server's reply code."""

    counts: dict[str, int]
    window: dt.timedelta
    recent: int  # sent within the window
    workers: dict[str, int]  # sent within the window, by worker process
    deferred: dict[str, int]  # pending again after a 4xx, by reply code


def progress(
    issue_id: int, *, session: Session, window: dt.timedelta = dt.timedelta(seconds=60)
) -> Progress:
    since = utcnow() - window
    in_issue = Delivery.issue_id == issue_id
    by_claim = session.exec(  # one row per claim (a batch), not per message
        select(Delivery.claimed_by, func.count())
        .where(in_issue, Delivery.status == DeliveryStatus.SENT, col(Delivery.sent_at) >= since)
        .group_by(Delivery.claimed_by)
    ).all()
    by_reply = session.exec(
        select(func.substr(Delivery.last_error, 1, 3), func.count())
        .where(in_issue, Delivery.status == DeliveryStatus.PENDING, Delivery.attempts > 0)
        .group_by(text("1"))  # the reply code (a bound substr() differs from itself on PG)
    ).all()
    workers: dict[str, int] = defaultdict(int)
    for claim, n in by_claim:
        workers[(claim or "?").rpartition(":")[0] or "?"] += n
    deferred: dict[str, int] = defaultdict(int)
    for code, n in by_reply:
        deferred[reply_code(code)] += n
    return Progress(counts(issue_id, session=session), window, sum(workers.values()),
                    dict(workers), dict(deferred))  # fmt: skip


def counts(issue_id: int, *, session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Delivery.status, func.count())
        .where(Delivery.issue_id == issue_id)
        .group_by(Delivery.status)
    )
    found = {str(status): int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in DeliveryStatus}
