"""What a reader or operator typed, checked and normalised before anything is written.

Every entry point (CLI, CSV import, web form, JSON API) goes through these, so the rules
are the same everywhere; a refusal is an `InvalidInput` whose message is shown as is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email

from newsletter.match.interests import Author, Category, Follow, stored
from newsletter.models import Subscriber
from newsletter.text import one_line, stems

MAX_TOPICS = 50
MAX_TOPIC_LEN = 200
_CONTROL = frozenset({"Cc", "Cf", "Cs"})  # control, format (bidi overrides), surrogates
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$")


class InvalidInput(ValueError):
    """Input a reader or operator can fix; the message is shown to them as is. `field` names
    the form field it is about, when known (the web shows the message beside it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def about(field: str) -> Iterator[None]:
    """Name the form field that an InvalidInput (or ValueError) raised inside is about."""
    try:
        yield
    except InvalidInput as exc:
        exc.field = exc.field or field
        raise
    except ValueError as exc:
        raise InvalidInput(str(exc), field) from exc


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
        if not stems(topic) or not any(ch.isalpha() for ch in topic):
            raise InvalidInput(
                f"topic {topic!r} has no searchable words: it needs a letter, and a word "
                "other than 'the', 'of', 'and' and the like"
            )
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            topics.append(topic)
    if not topics and required:
        raise InvalidInput("at least one topic is required")
    if len(topics) > MAX_TOPICS:
        raise InvalidInput(f"too many topics ({len(topics)}); the limit is {MAX_TOPICS}")
    return topics


def clean_exclusions(raw: Iterable[str]) -> list[str]:
    """A reader's "never" list: topics, or "author: Name" for an author (may be empty)."""
    topics, authors = [], []
    for value in raw:
        kind, _, name = value.partition(":")
        if kind.strip().casefold() == "author" and name.strip():
            authors.append(stored(Author(plain_text(name, "author", MAX_TOPIC_LEN))))
        else:
            topics.append(value)
    cleaned = clean_topics(topics, required=False) + list(dict.fromkeys(authors))
    if len(cleaned) > MAX_TOPICS:
        raise InvalidInput(f"too many exclusions ({len(cleaned)}); the limit is {MAX_TOPICS}")
    return cleaned


def clean_follows(authors: Iterable[str], categories: Iterable[str]) -> list[Follow]:
    """Followed authors and arXiv categories, checked, without repeats."""
    follows: list[Follow] = []
    for raw in authors:
        name = plain_text(raw, "author name", 200)
        if len(name) < 2:
            raise InvalidInput(f"author name must be 2 to 200 characters: {name[:40]!r}")
        follows.append(Author(name))
    for raw in categories:
        category = raw.strip()
        if not _CATEGORY.match(category) or len(category) > 32:
            raise InvalidInput(f"not an arXiv category (like cs.CL): {one_line(category, 40)!r}")
        follows.append(Category(category))
    return list(dict.fromkeys(follows))


_REGIONS = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/",
            "Australia/", "Europe/", "Indian/", "Pacific/")  # fmt: skip


@lru_cache(maxsize=1)
def timezones() -> dict[str, str]:
    """The zones a reader may pick, by their case-folded name: UTC and the IANA Region/City
    names. Not the old abbreviations (EST, MST), which ignore summer time."""
    names = [n for n in available_timezones() if n.startswith(_REGIONS)] + ["UTC"]
    return {n.casefold(): n for n in sorted(names)}


def check_timezone(name: str) -> str:
    """The IANA name of the zone `name` names, whatever its case ("europe/berlin")."""
    found = timezones().get(name.strip().casefold())
    if found is None:
        raise InvalidInput(
            f"unknown timezone {one_line(name, 60)!r}: pick a Region/City name such as "
            "Europe/Berlin or America/New_York, or UTC"
        )
    return found


def split_topics(text: str) -> list[str]:
    """Form text: one topic per line or comma separated."""
    return [t for line in text.splitlines() for t in line.split(",") if t.strip()]


@dataclass
class Schedule:
    """When a reader wants the digest; None keeps what they have."""

    timezone: str | None = None
    send_day: int | None = None
    send_hour: int | None = None

    def checked(self) -> Schedule:
        """The same schedule with the timezone's IANA name; raises InvalidInput unless every
        given value is valid."""
        if self.send_day is not None and not 0 <= self.send_day <= 6:
            raise InvalidInput("send day must be Monday (0) to Sunday (6)")
        if self.send_hour is not None and not 0 <= self.send_hour <= 23:
            raise InvalidInput("send hour must be 0 to 23")
        zone = check_timezone(self.timezone) if self.timezone is not None else None
        return Schedule(zone, self.send_day, self.send_hour)

    def apply(self, reader: Subscriber) -> None:
        valid = self.checked()
        if valid.timezone is not None:
            reader.timezone = valid.timezone
        if valid.send_day is not None:
            reader.send_day = valid.send_day
        if valid.send_hour is not None:
            reader.send_hour = valid.send_hour


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
