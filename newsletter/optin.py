"""Readers' own side: subscribe, confirm (double opt-in), manage, pause, unsubscribe.

Nothing here tells a caller whether an address was already known: `request` does
the same visible thing for a new, pending, confirmed or unsubscribed address and
only the mail that goes to that address differs. An unauthenticated request never
changes a confirmed reader's topics; only their signed manage link can.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid

from sqlmodel import Session

from newsletter import render, subscribers, tokens
from newsletter.message import build
from newsletter.models import Subscriber, SubscriberStatus, utcnow
from newsletter.settings import Settings


@dataclass(frozen=True)
class Outgoing:
    """An email to send after the request has been answered."""

    to: str
    kind: str  # "confirm" or "already"
    subscriber_id: int


def request(
    email: str,
    topics: list[str],
    schedule: subscribers.Schedule,
    *,
    session: Session,
) -> Outgoing | None:
    """Record a subscription request; return the email to send, if any. Raises InvalidInput."""
    address = subscribers.normalise_email(email)
    cleaned = subscribers.clean_topics(topics)
    reader = subscribers.get_by_email(address, session=session)
    if reader is not None and reader.status == SubscriberStatus.SUPPRESSED:
        return None  # their mailbox refuses our mail; sending more would hurt deliverability
    if reader is not None and reader.status == SubscriberStatus.CONFIRMED:
        assert reader.id is not None
        return Outgoing(address, "already", reader.id)
    reader = reader or Subscriber(email=address)
    reader.topics, reader.status = cleaned, SubscriberStatus.UNCONFIRMED
    schedule.apply(reader)
    session.add(reader)
    session.flush()
    assert reader.id is not None
    return Outgoing(address, "confirm", reader.id)


def confirm(reader: Subscriber, ip: str | None, *, session: Session) -> None:
    """Double opt-in done: record when and from where consent was given."""
    if reader.status in (SubscriberStatus.UNCONFIRMED, SubscriberStatus.UNSUBSCRIBED):
        reader.status, reader.confirmed_at = SubscriberStatus.CONFIRMED, utcnow()
        reader.consent_ip = (ip or "")[:45] or None
        session.add(reader)


def unsubscribe(reader: Subscriber, *, session: Session) -> None:
    if reader.status != SubscriberStatus.SUPPRESSED:
        reader.status = SubscriberStatus.UNSUBSCRIBED
        session.add(reader)


def update(
    reader: Subscriber,
    topics: list[str],
    schedule: subscribers.Schedule,
    paused: bool,
    *,
    session: Session,
) -> None:
    reader.topics = subscribers.clean_topics(topics)
    schedule.apply(reader)
    reader.paused = paused
    session.add(reader)


def split_topics(text: str) -> list[str]:
    """Form text: one topic per line or comma separated."""
    return [t for line in text.splitlines() for t in line.split(",") if t.strip()]


def message(outgoing: Outgoing, settings: Settings) -> bytes:
    """The confirmation (or "you are already subscribed") email."""
    sid = outgoing.subscriber_id
    context = {
        "kind": outgoing.kind,
        "confirm_url": tokens.link(settings, tokens.Purpose.CONFIRM, sid),
        "manage_url": tokens.link(settings, tokens.Purpose.MANAGE, sid),
        "postal_address": settings.postal_address,
    }
    subject = (
        "Confirm your subscription to Trending Papers"
        if outgoing.kind == "confirm"
        else "You are already subscribed to Trending Papers"
    )
    text, html = render.page("email/confirm", context | {"title": subject, "preheader": subject})
    return build(
        render.Rendered(subject, subject, text, html),
        settings=settings,
        to=outgoing.to,
        msg_id=make_msgid(domain=settings.sender_domain),
    )
