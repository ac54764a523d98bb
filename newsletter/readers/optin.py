"""Readers' own side: subscribe, confirm (double opt-in), manage, pause, unsubscribe.

Nothing here tells a caller whether an address was already known: `request` does
the same visible thing for a new, pending, confirmed or unsubscribed address and
only the mail that goes to that address differs. An unauthenticated request never
changes a confirmed reader's topics; only their signed manage link can.
Every input is checked before anything changes, so a refused one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid

from sqlmodel import Session

from newsletter.delivery.sendtime import described, first_send
from newsletter.digest.message import build
from newsletter.digest.render import MailTemplates, Rendered
from newsletter.match.interests import shown
from newsletter.models import Subscriber, SubscriberStatus, utcnow
from newsletter.readers import links, store
from newsletter.readers.validate import Schedule, clean_exclusions, clean_topics, normalise_email
from newsletter.settings import Settings


@dataclass(frozen=True)
class Outgoing:
    """An email to send after the request has been answered."""

    to: str
    kind: str  # "confirm", "already" or "welcome"
    subscriber_id: int


def request(
    email: str, topics: list[str], schedule: Schedule, *, secret: str, session: Session
) -> Outgoing | None:
    """Record a subscription request; return the email to send, if any. Raises InvalidInput."""
    address = normalise_email(email)
    cleaned = clean_topics(topics)
    schedule.checked()
    if store.is_suppressed(address, secret=secret, session=session):
        return None  # forgotten after their mailbox refused our mail: never mailed again
    reader = store.get_by_email(address, session=session)
    if reader is not None and reader.status == SubscriberStatus.SUPPRESSED:
        return None  # their mailbox refuses our mail; sending more would hurt deliverability
    if reader is not None and reader.status == SubscriberStatus.CONFIRMED:
        assert reader.id is not None
        return Outgoing(address, "already", reader.id)
    reader = reader or Subscriber(email=address)
    reader.topics, reader.status = cleaned, SubscriberStatus.UNCONFIRMED
    schedule.apply(reader)
    store.save(reader, session=session)
    assert reader.id is not None
    return Outgoing(address, "confirm", reader.id)


def confirm(reader: Subscriber, ip: str | None, *, session: Session) -> None:
    """Double opt-in done: record when and from where consent was given."""
    if reader.status in (SubscriberStatus.UNCONFIRMED, SubscriberStatus.UNSUBSCRIBED):
        reader.status, reader.confirmed_at = SubscriberStatus.CONFIRMED, utcnow()
        reader.consent_ip = (ip or "")[:45] or None
        store.save(reader, session=session)


def unsubscribe(reader: Subscriber, *, session: Session) -> None:
    if reader.status != SubscriberStatus.SUPPRESSED:
        reader.status = SubscriberStatus.UNSUBSCRIBED
        store.save(reader, session=session)


def resubscribe(reader: Subscriber, *, session: Session) -> None:
    if reader.status == SubscriberStatus.UNSUBSCRIBED:
        reader.status, reader.paused = SubscriberStatus.CONFIRMED, False
        store.save(reader, session=session)


def pause(reader: Subscriber, *, session: Session) -> None:
    if reader.status == SubscriberStatus.CONFIRMED:
        reader.paused = True
        store.save(reader, session=session)


def revoke_feed(reader: Subscriber, *, session: Session) -> None:
    """The private feed's old link stops working; a new one replaces it."""
    reader.feed_key += 1
    store.save(reader, session=session)


def set_preferences(
    reader: Subscriber,
    topics: list[str],
    schedule: Schedule,
    paused: bool,
    *,
    session: Session,
    exclusions: list[str] | None = None,
) -> None:
    cleaned = clean_topics(topics)
    never = clean_exclusions(exclusions) if exclusions is not None else reader.exclusions
    schedule.checked()
    reader.topics, reader.paused, reader.exclusions = cleaned, paused, never
    schedule.apply(reader)
    store.save(reader, session=session)


def first_digest(reader: Subscriber, settings: Settings) -> str:
    """When a reader confirmed now gets their first digest, in words and their own zone."""
    moment = first_send(
        utcnow(), reader.timezone, reader.send_day, reader.send_hour, settings.send_grace
    )
    return described(moment, reader.timezone)


SUBJECTS = {
    "confirm": "Confirm your subscription to Trending Papers",
    "already": "You are already subscribed to Trending Papers",
    "welcome": "Welcome to Trending Papers: your first digest and your link",
}


def message(
    outgoing: Outgoing,
    settings: Settings,
    templates: MailTemplates,
    reader: Subscriber | None = None,
) -> bytes:
    """The confirmation, "you are already subscribed" or welcome email (`reader` for the
    welcome: its topics and first send time)."""
    sid = outgoing.subscriber_id
    subject = SUBJECTS[outgoing.kind]
    context: dict[str, object] = {
        "kind": outgoing.kind,
        "confirm_url": links.link(settings, links.Purpose.CONFIRM, sid),
        "manage_url": links.link(settings, links.Purpose.MANAGE, sid),
        "postal_address": settings.postal_address,
        "title": subject,
        "preheader": subject,
    }
    if reader is not None:
        context |= {
            "topics": shown(reader.topics, reader.follows),
            "first_send": first_digest(reader, settings),
        }
    name = "email/welcome" if outgoing.kind == "welcome" else "email/confirm"
    text, html = templates.page(name, context)
    return build(
        Rendered(subject, subject, text, html),
        settings=settings,
        to=outgoing.to,
        msg_id=make_msgid(domain=settings.sender_domain),
    )
