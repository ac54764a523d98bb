"""The tables: readers, papers, weekly issues, the ledger of deliveries, readers' votes on
the papers they were sent, the examples they gave their topics, bounces and complaints that
came back, and suppressed address hashes.

Lists (topics, authors, papers sent) are JSON columns: they are always read and
written whole with their row, and JSON works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import secrets
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from newsletter.text import date_range


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_link_key() -> int:
    """A reader's link key: random, never 0 (the key of readers from before keys)."""
    return secrets.randbelow(2**48 - 1) + 1


class SubscriberStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Subscriber(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    status: SubscriberStatus = Field(
        default=SubscriberStatus.UNCONFIRMED, sa_type=String(16), index=True
    )
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # "author:Yann LeCun" or "category:cs.CL": followed besides the free-text topics
    # (newsletter/match/interests.py reads and writes this form).
    follows: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    timezone: str = Field(default="UTC", max_length=64)
    send_day: int = Field(default=0, ge=0, le=6)  # Monday = 0, in the reader's own timezone
    send_hour: int = Field(default=8, ge=0, le=23)
    created_at: dt.datetime = Field(default_factory=utcnow)
    confirmed_at: dt.datetime | None = None
    consent_ip: str | None = Field(default=None, max_length=45)  # where the confirm came from
    paused: bool = False  # confirmed, but no digests until resumed
    bounces: int = 0  # permanent refusals in a row; suppressed at the configured limit
    feed_key: int = 0  # in the private feed's link; raised to revoke the old link
    # In every link of the reader's (readers/links.py); a new one revokes them all.
    link_key: int = Field(default_factory=new_link_key, sa_type=BigInteger)
    # "Never" topics: a paper matching one (by words or meaning) is never picked. Free text,
    # or "author:Name" (newsletter/match/interests.py reads this form).
    exclusions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Paper(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    arxiv_id: str = Field(max_length=32, unique=True, index=True)
    title: str
    abstract: str
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published_at: dt.datetime | None = None
    featured_on: dt.date = Field(index=True)
    upvotes: int = 0
    ai_summary: str | None = None
    ai_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    github_url: str | None = None
    project_url: str | None = None
    source: str = Field(max_length=16)
    ingested_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def page_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"


class PaperEmbedding(SQLModel, table=True):
    """A paper's vector from one embedding model, made at ingest, and its keywords' (the
    phrase a pick by meaning shows). `model` names the model and its exact weights and
    `text_hash` the text embedded: either changing makes it stale."""

    __tablename__ = "paper_embedding"

    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    model: str = Field(max_length=100)
    text_hash: str = Field(max_length=16)
    vector: bytes  # float32, little-endian
    keywords: bytes | None = None  # one float16 vector per AI keyword, in order


class Issue(SQLModel, table=True):
    """One weekly issue; `week` (ISO, e.g. 2026-W22) makes a second send in a week reuse it."""

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=8, unique=True, index=True)
    issue_date: dt.date
    window_start: dt.date
    window_end: dt.date
    created_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def dates(self) -> str:
        """The days whose papers it holds, as a reader reads them (text.date_range)."""
        return date_range(self.window_start, self.window_end)


class Suppression(SQLModel, table=True):
    """An address that must never be mailed again, kept only as a keyed hash (a forgotten
    reader whose mailbox refused our mail)."""

    address_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=32)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Vote(SQLModel, table=True):
    """A reader's "More like this" (+1) or "Not for me" (-1) on a paper they were sent. One per
    reader and paper: a second vote replaces the first; undo deletes it."""

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True, ondelete="CASCADE")
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    issue_id: int = Field(foreign_key="issue.id", index=True)
    value: int  # +1 or -1
    reason: str | None = Field(default=None, max_length=16)  # of a "Not for me"
    excluded: str | None = Field(default=None, max_length=300)  # the exclusion it added
    voted_at: dt.datetime = Field(default_factory=utcnow)


class Example(SQLModel, table=True):
    """A paper a reader marked under one of their topics as what they want (+1, "Yes, like
    this") or not (-1, "Not this"). Three likes give the topic a model of its own
    (`match/taught.py`). Unlike votes, examples do not fade: the reader removes them."""

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True, ondelete="CASCADE")
    topic: str = Field(primary_key=True, max_length=200)  # casefolded, as topics are matched
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    value: int  # +1 or -1
    marked_at: dt.datetime = Field(default_factory=utcnow)


class MailEventKind(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # refused for good: counts toward suppression
    SOFT_BOUNCE = "soft_bounce"  # refused for now: recorded only
    COMPLAINT = "complaint"  # "report spam": the reader is unsubscribed at once


class MailEvent(SQLModel, table=True):
    """A bounce or complaint that came back after sending, from the bounce mailbox or a
    relay's webhook. `key`, a hash of the message's Message-ID or the relay's event id,
    makes each one count once however often it is fetched or replayed."""

    __tablename__ = "mail_event"

    key: str = Field(primary_key=True, max_length=64)
    kind: MailEventKind = Field(sa_type=String(16))
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id", index=True,
                                      ondelete="CASCADE")  # fmt: skip
    delivery_id: int | None = None  # the digest it is about, when the VERP address named it
    source: str = Field(max_length=16)  # imap, maildir, postmark, ses
    detail: str = Field(default="", max_length=300)  # the status and diagnostic, one line
    received_at: dt.datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id", name="uq_delivery_issue_reader"),
        # Only unfinished rows: what stale() and claimable() look for (migration 0005).
        Index(
            "ix_delivery_unfinished",
            "issue_id",
            "updated_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    paper_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    picks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    message_id: str | None = Field(default=None, max_length=255)
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow)
