"""Ingest: turn each source's format into `PaperRecord`s, then upsert them on arXiv id.

One module per source (hf, arxiv, files); `store` is the only one that writes.
A malformed item is skipped and named; a document that cannot be parsed at all
raises `FeedError` before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator

ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7})$")
_VERSION = re.compile(r"v\d+$")


class FeedError(Exception):
    """A whole document could not be read; nothing was written."""


@dataclass
class PaperRecord:
    arxiv_id: str
    title: str
    abstract: str
    featured_on: dt.date
    source: str
    authors: list[str] = field(default_factory=list)
    published_at: dt.datetime | None = None
    upvotes: int = 0
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    github_url: str | None = None
    project_url: str | None = None

    def __post_init__(self) -> None:
        # Feeds without a zone mean UTC; the database stores aware times only.
        if self.published_at is not None and self.published_at.tzinfo is None:
            self.published_at = self.published_at.replace(tzinfo=dt.UTC)


@dataclass
class Parsed:
    """What a parser read from one document: the good records and the skipped items."""

    records: list[PaperRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.records.extend(other.records)
        self.skipped.extend(other.skipped)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]  # a title or abstract in a source's item


def clean_arxiv_id(raw: str) -> str:
    """'http://arxiv.org/abs/2604.19485v1' -> '2604.19485'; raises ValueError if not an id."""
    candidate = _VERSION.sub("", raw.strip().rsplit("/abs/", 1)[-1])
    if not ARXIV_ID.match(candidate):
        raise ValueError(f"not an arXiv id: {raw[:60]!r}")
    return candidate


def safe_url(value: object) -> str | None:
    """Only http(s) links reach an email; anything else (javascript:, data:) is dropped."""
    if isinstance(value, str) and re.match(r"^https?://[^\s<>\"']+$", value.strip()):
        return value.strip()
    return None
