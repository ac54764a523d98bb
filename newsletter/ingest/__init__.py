"""Ingest: turn each source's format into `PaperRecord`s, then upsert them on arXiv id.

One module per source (hf, arxiv, files); `store` is the only one that writes.
A malformed item is skipped and named; a document that cannot be parsed at all
raises `FeedError` before anything is written. Every record is held to the caps below
(`PaperRecord`): what is over one is skipped or cut, and the ingest summary says which.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator

from newsletter.text import one_line

ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7})$")
_VERSION = re.compile(r"v\d+$")


# What real sources never exceed, measured on the 1,743 real papers of ../shared/data/real
# and more/ (Daily Papers JSON, arXiv Atom, RSS and OAI-PMH, the Kaggle snapshot): the
# longest title 181 characters, abstract 1,920 (arXiv's own limit), AI summary 386; at most
# 438 authors, of at most 38 characters; 25 AI keywords of at most 56; 7 categories of at
# most 18; links of 90. Each cap leaves ample room above the real maximum.
TITLE_MAX = 500  # a longer "title" is not a paper's: the item is skipped
ABSTRACT_MAX = 10_000  # longer: cut, as the abstract still says what the paper is
SUMMARY_MAX = 1_000  # the source's AI summary: cut
# Physics collaborations sign with 3,000 and more; a digest names the first few, and the
# matcher's follows and exclusions look at the first thousand.
AUTHORS_MAX = 1_000  # longer lists: cut
KEYWORDS_MAX = 100  # cut
CATEGORIES_MAX = 20  # cut
# One entry of a list (an author's name, a keyword, a category) over its cap is dropped, as a
# cut name is a wrong name; so is a link over its cap, as a cut link is a broken one.
NAME_MAX = 200
KEYWORD_MAX = 200
CATEGORY_MAX = 40
URL_MAX = 2_000


class FeedError(Exception):
    """A whole document could not be read; nothing was written."""


def load_json(content: bytes | str) -> Any:
    """`json.loads`, with a document nested too deeply for the parser (hostile: "[" * 100000)
    refused as ValueError like any other invalid JSON, not escaping as a RecursionError."""
    try:
        return json.loads(content)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def line(value: object) -> str:
    """Feed text made one line, whole: the record's caps, not a silent trim here, decide
    what is too long, and say so."""
    return one_line(value, sys.maxsize)


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
    # What the caps cut or dropped, for the ingest summary ("author list cut to 1000");
    # not a column.
    cut: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        """Hold the record to the caps; raises ValueError (the parsers skip and name the
        item) for a title no real paper has."""
        # Feeds without a zone mean UTC; the database stores aware times only.
        if self.published_at is not None and self.published_at.tzinfo is None:
            self.published_at = self.published_at.replace(tzinfo=dt.UTC)
        if len(self.title) > TITLE_MAX:
            raise ValueError(f"title over {TITLE_MAX} characters ({len(self.title)})")
        self.abstract = self._text(self.abstract, ABSTRACT_MAX, "abstract")
        if self.ai_summary is not None:
            self.ai_summary = self._text(self.ai_summary, SUMMARY_MAX, "AI summary")
        self.authors = self._list(self.authors, AUTHORS_MAX, NAME_MAX, "author")
        self.ai_keywords = self._list(self.ai_keywords, KEYWORDS_MAX, KEYWORD_MAX, "AI keyword")
        self.categories = self._list(self.categories, CATEGORIES_MAX, CATEGORY_MAX, "category")
        self.github_url = self._url(self.github_url, "GitHub link")
        self.project_url = self._url(self.project_url, "project link")

    def _text(self, value: str, cap: int, what: str) -> str:
        if len(value) <= cap:
            return value
        self.cut.append(f"{what} cut to {cap} characters")
        return value[:cap]

    def _list(self, values: list[str], cap: int, entry_cap: int, what: str) -> list[str]:
        kept = [v for v in values if len(v) <= entry_cap]
        if len(kept) < len(values):
            self.cut.append(f"{what} over {entry_cap} characters dropped")
        if len(kept) > cap:
            self.cut.append(f"{what} list cut to {cap}")
        return kept[:cap]

    def _url(self, value: str | None, what: str) -> str | None:
        if value is None or len(value) <= URL_MAX:
            return value
        self.cut.append(f"{what} over {URL_MAX} characters dropped")
        return None


@dataclass
class Parsed:
    """What a parser read from one document: the good records and the skipped items."""

    records: list[PaperRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.records.extend(other.records)
        self.skipped.extend(other.skipped)


def cuts(records: Iterable[PaperRecord]) -> dict[str, list[str]]:
    """What the caps cut, as {what was cut: the arXiv ids it was cut from}."""
    found: dict[str, list[str]] = {}
    for record in records:
        for what in record.cut:
            found.setdefault(what, []).append(record.arxiv_id)
    return found


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]  # a title or abstract in a source's item


# arXiv's and Hugging Face's pages of a paper: the id is what follows.
_PAGE = re.compile(
    r"^https?://(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf)|huggingface\.co/papers)/"
)


def clean_arxiv_id(raw: str) -> str:
    """'http://arxiv.org/abs/2604.19485v1' (or its PDF, or its Hugging Face page, or the id
    alone) -> '2604.19485'; raises ValueError if not an id."""
    candidate = _PAGE.sub("", raw.strip()).removesuffix(".pdf")
    candidate = _VERSION.sub("", candidate.rsplit("/abs/", 1)[-1])
    if not ARXIV_ID.match(candidate):
        raise ValueError(f"not an arXiv id: {raw[:60]!r}")
    return candidate


def safe_url(value: object) -> str | None:
    """Only http(s) links reach an email; anything else (javascript:, data:) is dropped."""
    if isinstance(value, str) and re.match(r"^https?://[^\s<>\"']+$", value.strip()):
        return value.strip()
    return None
