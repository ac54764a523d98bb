"""The mail_event table: bounces and complaints that came back after sending, one row each.
The only module that reads or writes it."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from newsletter.models import MailEvent


def seen(key: str, *, session: Session) -> bool:
    return session.get(MailEvent, key) is not None


def record(event: MailEvent, *, session: Session) -> None:
    session.add(event)
    session.flush()


def counts(*, session: Session) -> dict[str, int]:
    """Events by kind, over all time."""
    rows = session.exec(select(MailEvent.kind, func.count()).group_by(MailEvent.kind))
    return {str(kind): int(n) for kind, n in rows}


def forget_reader(reader_id: int, *, session: Session) -> None:
    session.execute(delete(MailEvent).where(col(MailEvent.subscriber_id) == reader_id))
