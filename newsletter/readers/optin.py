"""Readers' own side: subscribe, confirm (double opt-in), manage, pause, unsubscribe.

Nothing here tells a caller whether an address was already known: `request` does
the same visible thing for a new, pending, confirmed or unsubscribed address and
only the mail that goes to that address differs. An unauthenticated request never
changes a confirmed reader's topics; only their signed manage link can.
Every input is checked before anything changes, so a refused one changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import make_msgid

from sqlmodel import Session

from newsletter.delivery.sendtime import described, first_send
from newsletter.digest.message import build
from newsletter.digest.render import MailTemplates, Rendered
from newsletter.match.interests import shown
from newsletter.models import Subscriber, SubscriberStatus, new_link_key, utcnow
from newsletter.readers import examples, links, store
from newsletter.readers.validate import Schedule, clean_exclusions, clean_topics, normalise_email
from newsletter.settings import Settings


@dataclass(frozen=True)
class Outgoing:
    """An email to send after the request has been answered."""

    to: str
    kind: str  # "confirm", "already", "welcome" or "links" (a fresh manage link)
    subscriber_id: int
    link_key: int
    revoked: bool = False  # "links": the reader's earlier links were revoked

    @property
    def id(self) -> int:  # whom its links name (links.Owner)
        return self.subscriber_id


def request(
    email: str,
    topics: list[str],
    schedule: Schedule,
    *,
    keys: tuple[str, ...],
    session: Session,
    answers: Mapping[str, Mapping[int, int]] | None = None,
) -> Outgoing | None:
    """Record a subscription request, with the examples the reader `answers` in their topics'
    previews (`examples.answered`); return the email to send, if any. A confirmed reader's
    topics and examples are not changed by a request anyone could send. Raises InvalidInput."""
    address = normalise_email(email)
    cleaned = clean_topics(topics)
    schedule.checked()
    if store.is_suppressed(address, keys=keys, session=session):
        return None  # forgotten after their mailbox refused our mail: never mailed again
    reader = store.get_by_email(address, session=session)
    if reader is not None and reader.status == SubscriberStatus.SUPPRESSED:
        return None  # their mailbox refuses our mail; sending more would hurt deliverability
    if reader is not None and reader.status == SubscriberStatus.CONFIRMED:
        return outgoing(reader, "already")
    reader = reader or Subscriber(email=address)
    reader.topics, reader.status = cleaned, SubscriberStatus.UNCONFIRMED
    schedule.apply(reader)
    store.save(reader, session=session)
    assert reader.id is not None
    examples.replace(reader.id, answers or {}, session=session)
    return outgoing(reader, "confirm")


def outgoing(reader: Subscriber, kind: str, *, revoked: bool = False) -> Outgoing:
    assert reader.id is not None
    return Outgoing(reader.email, kind, reader.id, reader.link_key, revoked)


def mailable(reader: Subscriber, *, keys: tuple[str, ...], session: Session) -> bool:
    """Whether a mail the reader did not trigger by subscribing (a resent confirmation, a
    fresh link) may go to them: never to an address whose mailbox refuses our mail."""
    return reader.status != SubscriberStatus.SUPPRESSED and not store.is_suppressed(
        reader.email, keys=keys, session=session
    )


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
    """Back on the list: an unsubscribed reader, or a paused one resuming."""
    if reader.status == SubscriberStatus.UNSUBSCRIBED or (
        reader.status == SubscriberStatus.CONFIRMED and reader.paused
    ):
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


def new_links(reader: Subscriber, *, session: Session) -> Outgoing:
    """Every link of the reader's stops working at once (the manage, unsubscribe, feed, vote
    and web-copy links of every mail sent so far); the new manage link goes to their inbox,
    not to whoever holds the old one."""
    reader.link_key = new_link_key()
    store.save(reader, session=session)
    return outgoing(reader, "links", revoked=True)


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
    "links": "Your link to your Trending Papers settings",
}


def message(
    outgoing: Outgoing,
    settings: Settings,
    templates: MailTemplates,
    reader: Subscriber | None = None,
) -> bytes:
    """The confirmation, "you are already subscribed", welcome or fresh-link email (`reader`
    for the welcome: its topics and first send time)."""
    subject = SUBJECTS[outgoing.kind]
    context: dict[str, object] = {
        "kind": outgoing.kind,
        "confirm_url": links.link(settings, links.Purpose.CONFIRM, outgoing),
        "manage_url": links.link(settings, links.Purpose.MANAGE, outgoing),
        "manage_days": settings.manage_link_days,
        "revoked": outgoing.revoked,
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
