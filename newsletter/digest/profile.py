"""A reader's profile as they can read it: what they follow and exclude, the papers they
voted on, and the papers their next digest would hold if it went out now. The manage page
shows it; `newsletter subscribers show EMAIL --json` prints the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from newsletter.delivery import issues
from newsletter.digest.compose import IssueCache, IssueState, next_picks, topic_report
from newsletter.ingest import store as papers
from newsletter.match.engine import Pick
from newsletter.match.interests import label, of_reader, shown_exclusions
from newsletter.models import Subscriber
from newsletter.readers import votes
from newsletter.settings import Settings


def of(
    reader: Subscriber, settings: Settings, *, session: Session, cache: IssueCache,
    today: dt.date | None = None,
) -> dict[str, Any]:  # fmt: skip
    assert reader.id is not None
    liked: list[dict[str, Any]] = []
    disliked: list[dict[str, Any]] = []
    for vote, paper in votes.of_reader(reader.id, session=session):
        (liked if vote.value > 0 else disliked).append({
            "paper_id": paper.id, "arxiv_id": paper.arxiv_id, "title": paper.title,
            "url": paper.abs_url, "voted_at": vote.voted_at.date().isoformat(),
            "reason": votes.REASONS.get(vote.reason or ""),
        })  # fmt: skip
    state, earlier = preview_state(settings, session=session, cache=cache, today=today)
    picks = next_picks(reader, state, settings, session=session)
    return {
        "email": reader.email,
        "status": str(reader.status),
        "paused": reader.paused,
        "topics": list(reader.topics),
        "follows": [label(i) for i in of_reader([], reader.follows)],
        "exclusions": shown_exclusions(reader.exclusions),
        "liked": liked,
        "disliked": disliked,
        "next_issue": {
            "week": state.issue.week,
            "dates": state.issue.dates,
            "earlier": earlier,  # no papers this week yet: the latest week's
            "topics": topic_report(reader.topics, state),
            "picks": [_pick(p) for p in picks],
        },
    }


def preview_state(
    settings: Settings, *, session: Session, cache: IssueCache, today: dt.date | None = None
) -> tuple[IssueState, bool]:
    """This week's issue, to preview what a reader would get; the latest week with papers
    instead (and True) when none is ingested for this one yet, as with a demo's bundled week."""
    day = today or dt.date.today()
    issue = issues.for_date(day, settings.window_days, session=session, create=False)
    count, _ = papers.window_stamp(issue.window_start, issue.window_end, session=session)
    latest = papers.latest_day(session=session)
    earlier = not count and latest is not None and latest < day
    if earlier:
        assert latest is not None
        issue = issues.for_date(latest, settings.window_days, session=session, create=False)
    return cache.get(issue, settings, session=session), earlier


PREVIEW_SIZE = 8


def topic_preview(
    topic: str, settings: Settings, *, session: Session, cache: IssueCache,
    today: dt.date | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What one topic, as typed, would have brought in the latest week: how many papers it
    matched, the best few with their reasons, and a likely misspelling's fix when none."""
    state, earlier = preview_state(settings, session=session, cache=cache, today=today)
    picks = state.matcher.picks(of_reader([topic], []), limit=PREVIEW_SIZE, exclude=set(),
                                as_of=state.issue.issue_date)  # fmt: skip
    [report] = topic_report([topic], state)
    return {
        "topic": topic,
        "week": state.issue.week,
        "dates": state.issue.dates,
        "earlier": earlier,
        "matched": report["papers"],
        "did_you_mean": report["did_you_mean"],
        "papers": [_pick(p) for p in picks],
    }


def _pick(pick: Pick) -> dict[str, str]:
    paper = pick.paper
    return {"arxiv_id": paper.arxiv_id, "title": paper.title, "url": paper.abs_url, "why": pick.why}
