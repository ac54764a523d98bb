"""Readers: validated, normalised addresses and topic lists; created or updated, never twice."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from newsletter.models import Delivery, Subscriber, SubscriberStatus, utcnow
from newsletter.text import one_line, tokens

MAX_TOPICS = 50
MAX_TOPIC_LEN = 200
_CONTROL = frozenset({"Cc", "Cf", "Cs"})  # control, format (bidi overrides), surrogates


class InvalidInput(ValueError):
    """Input a reader or operator can fix; the message is shown to them as is."""


def normalise_email(raw: str) -> str:
    if len(raw) > 320:
        raise InvalidInput("invalid email address: longer than 320 characters")
    try:
        # ASCII addresses only (IDN domains become punycode): mail to a UTF-8 mailbox needs
        # SMTPUTF8 on every hop, which a newsletter cannot count on.
        info = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email address {one_line(raw, 80)!r}: {exc}") from exc
    # RFC 5321 lets the local part be case-sensitive, but no mailbox provider treats it so;
    # folding it too is what stops "Ada@" and "ada@" from being two subscriptions.
    return (info.ascii_email or info.normalized).lower()


def plain_text(value: str, what: str, max_len: int) -> str:
    """One line of text a reader typed, spaces collapsed; refused if it is empty, too long
    or holds control characters (a terminal escape, a NUL, a bidi override): those are
    never what a reader meant, and stripping them would store something else instead."""
    for ch in value if not value.isprintable() else ():
        if unicodedata.category(ch) in _CONTROL and ch not in "\t\n\r":
            code = f"U+{ord(ch):04X}"
            raise InvalidInput(f"{what} holds a control character ({code}): type plain text")
    text = one_line(value, max_len + 1)
    if not text:
        raise InvalidInput(f"empty {what}: it needs at least one word")
    if len(text) > max_len:
        raise InvalidInput(f"{what} too long (over {max_len} characters): {text[:40]}...")
    return text


def clean_topics(raw: Iterable[str], *, required: bool = True) -> list[str]:
    """Trim, de-duplicate (case-insensitively) and check a topic list; order is kept."""
    topics: list[str] = []
    seen: set[str] = set()
    for value in raw:
        topic = plain_text(value, "topic", MAX_TOPIC_LEN)
        if not tokens(topic) or not any(ch.isalpha() for ch in topic):
            raise InvalidInput(f"topic {topic!r} has no searchable words (it needs a letter)")
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            topics.append(topic)
    if not topics and required:
        raise InvalidInput("at least one topic is required")
    if len(topics) > MAX_TOPICS:
        raise InvalidInput(f"too many topics ({len(topics)}); the limit is {MAX_TOPICS}")
    return topics


_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$")


def clean_follows(authors: Iterable[str], categories: Iterable[str]) -> list[str]:
    """Followed authors and arXiv categories as "author:Name" / "category:cs.CL"."""
    follows: list[str] = []
    for raw in authors:
        name = plain_text(raw, "author name", 200)
        if len(name) < 2:
            raise InvalidInput(f"author name must be 2 to 200 characters: {name[:40]!r}")
        follows.append(f"author:{name}")
    for raw in categories:
        category = raw.strip()
        if not _CATEGORY.match(category) or len(category) > 32:
            raise InvalidInput(f"not an arXiv category (like cs.CL): {one_line(category, 40)!r}")
        follows.append(f"category:{category}")
    return list(dict.fromkeys(follows))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown timezone {one_line(name, 60)!r}") from exc
    return name


def get_by_email(email: str, *, session: Session) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


@dataclass
class Schedule:
    """When a reader wants the digest; None keeps what they have."""

    timezone: str | None = None
    send_day: int | None = None
    send_hour: int | None = None

    def apply(self, reader: Subscriber) -> None:
        if self.timezone is not None:
            reader.timezone = check_timezone(self.timezone)
        if self.send_day is not None:
            if not 0 <= self.send_day <= 6:
                raise InvalidInput("send day must be Monday (0) to Sunday (6)")
            reader.send_day = self.send_day
        if self.send_hour is not None:
            if not 0 <= self.send_hour <= 23:
                raise InvalidInput("send hour must be 0 to 23")
            reader.send_hour = self.send_hour


def upsert(
    email: str,
    topics: Iterable[str],
    *,
    session: Session,
    confirmed: bool = False,
    schedule: Schedule | None = None,
    follows: list[str] | None = None,
) -> Subscriber:
    """Create the reader, or update the topics (and schedule) of the one with that address.
    `follows` (from `clean_follows`) stand in for topics: one of the two is needed."""
    address = normalise_email(email)
    cleaned = clean_topics(topics, required=not follows)
    reader = get_by_email(address, session=session) or Subscriber(email=address)
    reader.topics = cleaned
    if follows is not None:
        reader.follows = follows
    (schedule or Schedule()).apply(reader)
    if confirmed and reader.status != SubscriberStatus.CONFIRMED:
        reader.status, reader.confirmed_at = SubscriberStatus.CONFIRMED, utcnow()
    session.add(reader)
    session.flush()
    return reader


def set_topics(email: str, topics: Iterable[str], *, session: Session) -> Subscriber:
    reader = _existing(email, session=session)
    reader.topics = clean_topics(topics)
    session.add(reader)
    return reader


def set_schedule(email: str, schedule: Schedule, *, session: Session) -> Subscriber:
    reader = _existing(email, session=session)
    schedule.apply(reader)
    session.add(reader)
    return reader


def record_bounce(reader: Subscriber, limit: int, *, session: Session) -> None:
    """A permanent refusal; at `limit` in a row the address is suppressed for good."""
    reader.bounces += 1
    if reader.bounces >= limit:
        reader.status = SubscriberStatus.SUPPRESSED
    session.add(reader)


def remove(email: str, *, session: Session) -> None:
    """Delete a reader and their delivery history (an operator's erase, not an unsubscribe)."""
    reader = _existing(email, session=session)
    for delivery in session.exec(select(Delivery).where(Delivery.subscriber_id == reader.id)):
        session.delete(delivery)
    session.delete(reader)


def listing(*, session: Session, status: SubscriberStatus | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(col(Subscriber.id))
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.exec(query))


@dataclass
class CsvRow:
    line: int
    email: str
    topics: list[str]


def read_csv(text: str) -> list[CsvRow]:
    """Parse and validate the whole file first, so one bad row imports nothing."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or {"email", "topics"} - {f.strip() for f in reader.fieldnames}:
        raise InvalidInput("CSV must have a header row with the columns email and topics")
    rows = []
    for row in reader:
        line = reader.line_num
        try:
            raw_topics = (row.get("topics") or "").split(";")
            rows.append(
                CsvRow(line, normalise_email(row.get("email") or ""), clean_topics(raw_topics))
            )
        except InvalidInput as exc:
            raise InvalidInput(f"line {line}: {exc}") from exc
    return rows


def import_rows(rows: list[CsvRow], *, session: Session, confirmed: bool) -> tuple[int, int]:
    """Returns (added, updated)."""
    added = updated = 0
    for row in rows:
        existed = get_by_email(row.email, session=session) is not None
        upsert(row.email, row.topics, session=session, confirmed=confirmed)
        updated += existed
        added += not existed
    return added, updated


def _existing(email: str, *, session: Session) -> Subscriber:
    reader = get_by_email(normalise_email(email), session=session)
    if reader is None:
        raise InvalidInput(f"no subscriber with the address {email.strip()!r}")
    return reader
