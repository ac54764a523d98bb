"""Hugging Face Daily Papers: the API's JSON items -> PaperRecords, and fetching a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError, field_validator

from newsletter.ingest import (
    FeedError,
    NonBlank,
    PaperRecord,
    Parsed,
    clean_arxiv_id,
    line,
    load_json,
    safe_url,
)
from newsletter.ingest.http import get_with_retries
from newsletter.settings import Settings
from newsletter.text import one_line


class _Author(BaseModel):
    name: str


class _Paper(BaseModel):
    id: str
    title: NonBlank
    summary: NonBlank
    authors: list[_Author] | None = None
    publishedAt: dt.datetime | None = None
    submittedOnDailyAt: dt.datetime | None = None
    upvotes: int = 0
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    githubRepo: str | None = None
    projectPage: str | None = None

    @field_validator("id")
    @classmethod
    def _arxiv_id(cls, value: str) -> str:
        return clean_arxiv_id(value)


class _Item(BaseModel):
    paper: _Paper
    publishedAt: dt.datetime | None = None


def parse_items(data: Any, featured_on: dt.date | None = None) -> Parsed:
    """Read a Daily Papers array. `featured_on` is the day asked for, when known."""
    if not isinstance(data, list):
        raise FeedError("expected a JSON array of Daily Papers items")
    parsed = Parsed()
    for index, raw in enumerate(data):
        try:
            parsed.records.append(_record(_Item.model_validate(raw), featured_on))
        except (ValidationError, ValueError) as exc:
            parsed.skipped.append(f"item {index} ({_name(raw)}): {first_error(exc)}")
    return parsed


def _record(item: _Item, featured_on: dt.date | None) -> PaperRecord:
    paper = item.paper
    day = featured_on or _day(paper.submittedOnDailyAt) or _day(item.publishedAt)
    if day is None:
        raise ValueError("no featured date")
    return PaperRecord(
        arxiv_id=paper.id,
        title=line(paper.title),
        abstract=line(paper.summary),
        featured_on=day,
        source="hf",
        authors=[line(a.name) for a in paper.authors or [] if a.name.strip()],
        published_at=paper.publishedAt,
        upvotes=max(paper.upvotes, 0),
        ai_summary=line(paper.ai_summary) or None,
        ai_keywords=[line(k) for k in paper.ai_keywords or []],
        github_url=safe_url(paper.githubRepo),
        project_url=safe_url(paper.projectPage),
    )


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.astimezone(dt.UTC).date() if value and value.tzinfo else (value and value.date())


def _name(raw: Any) -> str:
    paper = raw.get("paper") if isinstance(raw, dict) else None
    ident = paper.get("id") if isinstance(paper, dict) else None
    return one_line(ident, 40) if ident else "no id"


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"])
    return str(exc)


def fetch_day(client: httpx.Client, day: dt.date, *, settings: Settings) -> Parsed:
    response = get_with_retries(
        client, settings.hf_api_url, params={"date": day.isoformat()}, settings=settings
    )
    try:
        data = load_json(response.content)
    except ValueError as exc:
        # FeedError, not httpx's DecodingError, which the CLI would show as a traceback.
        raise FeedError(f"the Daily Papers API answered with invalid JSON: {exc}") from exc
    return parse_items(data, featured_on=day)
