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
from newsletter.web.pages import atom_time, not_found
from newsletter.web.state import DB, State, WebState

router = APIRouter()
TOP = 10  # most upvoted papers on a week's page
PER_TOPIC = 3


@dataclass(frozen=True)
class Week:
    issue: Issue
    top: list[PaperView]
    topics: list[tuple[str, list[PaperView]]]


def week_of(issue: Issue, web: WebState, session: Session) -> Week:
    window = papers.in_window(issue.window_start, issue.window_end, session=session)
    ranked = sorted(window, key=lambda p: (-p.upvotes, p.arxiv_id))[:TOP]
    state = web.issues.get(issue, web.settings, session=session)
    sections = [
        (
            topic,
            [PaperView.of(p.paper) for p in state.matcher.picks([Topic(topic)], limit=PER_TOPIC)],
        )
        for topic in web.suggestions.shared(session)[:5]
    ]
    return Week(issue, [PaperView.of(p) for p in ranked], [s for s in sections if s[1]])


@router.get("/archive", response_class=HTMLResponse)
def archive(request: Request, session: DB, web: State) -> HTMLResponse:
    return web.pages.page(request, "archive", weeks=issues.recent(session=session))


@router.get("/archive.atom", include_in_schema=False)
def feed(request: Request, session: DB, web: State) -> Response:
    weeks = [week_of(i, web, session) for i in issues.recent(session=session, limit=20)]
    updated = max((w.issue.created_at for w in weeks), default=dt.datetime(2026, 1, 1))
    body = web.pages.render(
        "archive.atom", weeks=weeks, base=web.settings.base_url, updated=atom_time(updated)
    )
    return Response(body, media_type="application/atom+xml")


@router.get("/archive/{week}", response_class=HTMLResponse)
def archive_week(request: Request, week: str, session: DB, web: State) -> HTMLResponse:
    issue = issues.by_week(week, session=session)
    if issue is None:
        raise not_found()
    return web.pages.page(request, "archive_week", week=week_of(issue, web, session))
