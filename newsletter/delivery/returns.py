"""Bounces and complaints that come back after sending, from the bounce mailbox or a relay's
webhook, handled in one way: each is recorded once (its key), then

- a hard bounce counts toward suppression, as a refusal at send time does;
- a soft bounce is recorded, nothing more;
- a complaint ("report spam") unsubscribes the reader at once.

The reader is the one the VERP address names; a signed relay webhook may name the address
instead (bounces.py says why mail may not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from newsletter import metrics
from newsletter.db import session_scope
from newsletter.delivery import bounces, ledger, mailevents
from newsletter.delivery.bounces import Report
from newsletter.delivery.mailbox import Mailbox, open_mailbox
from newsletter.models import MailEvent, MailEventKind, SubscriberStatus
from newsletter.readers import optin
from newsletter.readers import store as readers
from newsletter.settings import Settings


@dataclass
class Summary:
    hard_bounce: int = 0
    soft_bounce: int = 0
    complaint: int = 0
    repeated: int = 0  # handled before (a second fetch, a replayed webhook)
    unmatched: int = 0  # a bounce or complaint naming no delivery of ours
    unrecognised: int = 0  # neither a bounce nor a complaint: left unread
    suppressed: list[str] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def handle(
    report: Report, source: str, settings: Settings, *, session: Session, summary: Summary
) -> None:
    """Record `report` once and act on it, in the caller's transaction."""
    if mailevents.seen(report.key, session=session):
        summary.count("repeated")
        return
    reader_id = _reader_id(report, session)
    mailevents.record(
        MailEvent(key=report.key, kind=report.kind, subscriber_id=reader_id,
                  delivery_id=report.delivery_id, source=source, detail=report.detail[:300]),
        session=session,
    )  # fmt: skip
    reader = readers.get(reader_id, session=session) if reader_id is not None else None
    if reader is None or reader.id is None:
        summary.count("unmatched")
        return
    summary.count(report.kind.value)
    metrics.MAIL_EVENTS.labels(report.kind.value).inc()
    if report.kind is MailEventKind.HARD_BOUNCE:
        readers.record_bounces([reader.id], settings.suppress_after_bounces, session=session)
        session.refresh(reader)
        if reader.status == SubscriberStatus.SUPPRESSED:
            summary.suppressed.append(reader.email)
    elif report.kind is MailEventKind.COMPLAINT:
        optin.unsubscribe(reader, session=session)
        summary.unsubscribed.append(reader.email)


def _reader_id(report: Report, session: Session) -> int | None:
    if report.delivery_id is not None:
        return ledger.reader_of(report.delivery_id, session=session)
    if report.recipient:
        reader = readers.get_by_email(report.recipient.strip().lower(), session=session)
        return reader.id if reader else None
    return None


def fetch(box: Mailbox, settings: Settings, *, session: Session) -> Summary:
    """Handle each unread message of `box` once. A handled message is committed before it
    is marked read, so a crash in between handles it again next time, as a repeat."""
    summary = Summary()
    for ref, raw in box.unread():
        report = bounces.read(raw, settings)
        if report is None:
            summary.count("unrecognised")
            continue
        handle(report, box.source, settings, session=session, summary=summary)
        session.commit()
        box.mark_read(ref)
    return summary


def fetch_mailbox(settings: Settings, maildir: str | None = None) -> tuple[str, Summary]:
    """Open the configured mailbox (or `maildir`), handle what is unread, close it; the
    mailbox's kind and what was done. MailboxError if it cannot be read."""
    box = open_mailbox(settings, maildir)
    try:
        with session_scope(settings.database_url) as session:
            return box.source, fetch(box, settings, session=session)
    finally:
        box.close()
