"""The public archive: one page per week with its most upvoted papers and sections for the
topics many readers share, and an Atom feed of the weeks. Nothing on it is personal: a
topic appears only when at least `NEWSLETTER_SUGGEST_MIN_READERS` readers follow it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from newsletter.delivery import issues
from newsletter.digest.render import PaperView
from newsletter.ingest import store as papers
from newsletter.match.interests import Topic
from newsletter.models import Issue
from newsletter.web.pages import not_found
from newsletter.web.state import DB, State, WebState

router = APIRouter()
TOP = 10  # most upvoted papers on a week's page
PER_TOPIC = 3


@dataclass(frozen=True)
class Week:
    issue: Issue
    top: list[PaperView]
    topics: list[tuple[str, list[PaperView]]]


def top_of(issue: Issue, session: Session) -> list[PaperView]:
    ranked = papers.most_upvoted(issue.window_start, issue.window_end, TOP, session=session)
    return [PaperView.of(p) for p in ranked]


def week_of(issue: Issue, web: WebState, session: Session) -> Week:
    """The week's page: its top papers, and a section per shared topic (matched like an
    issue; the matcher is kept per week by the app's IssueCache)."""
    matcher = web.issues.get(issue, web.settings, session=session).matcher
    sections = []
    for topic in web.suggestions.shared(session)[:5]:
        picks = matcher.picks([Topic(topic)], limit=PER_TOPIC)
        if picks:
            sections.append((topic, [PaperView.of(p.paper) for p in picks]))
    return Week(issue, top_of(issue, session), sections)


@router.get("/archive", response_class=HTMLResponse)
def archive(request: Request, session: DB, web: State) -> HTMLResponse:
    return web.pages.page(request, "archive", weeks=issues.recent(session=session))


@router.get("/archive.atom", include_in_schema=False)
def feed(request: Request, session: DB, web: State) -> Response:
    # The feed names each week's top papers only: no matcher per week, one query each.
    weeks = [(i, top_of(i, session)) for i in issues.recent(session=session, limit=20)]
    updated = max((i.created_at for i, _ in weeks), default=dt.datetime(2026, 1, 1))
    body = web.pages.render("archive.atom", weeks=weeks, base=web.settings.base_url,
                            updated=updated)  # fmt: skip
    return Response(body, media_type="application/atom+xml")


@router.get("/archive/{week}", response_class=HTMLResponse)
def archive_week(request: Request, week: str, session: DB, web: State) -> HTMLResponse:
    issue = issues.by_week(week, session=session)
    if issue is None:
        raise not_found()
    return web.pages.page(request, "archive_week", week=week_of(issue, web, session))
