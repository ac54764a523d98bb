"""A reader's profile as they can read it: what they follow and exclude, the papers they
voted on or gave their topics as examples, and the papers their next digest would hold if it
went out now. The manage page shows it; `newsletter subscribers show EMAIL --json` prints the
same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from newsletter.delivery import issues
from newsletter.digest.compose import IssueCache, IssueState, next_picks, topic_report
from newsletter.ingest import store as papers
from newsletter.match import taught
from newsletter.match.engine import Pick
from newsletter.match.interests import label, of_reader, shown_exclusions
from newsletter.models import Issue, Subscriber
from newsletter.readers import examples, votes
from newsletter.settings import Settings
from newsletter.text import date_range


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
    written = {examples.key(t): t for t in reader.topics}  # examples keep topics casefolded
    given = [
        {"topic": written.get(example.topic, example.topic), "paper_id": paper.id,
         "arxiv_id": paper.arxiv_id, "title": paper.title, "url": paper.abs_url,
         "like": example.value > 0, "marked_at": example.marked_at.date().isoformat()}
        for example, paper in examples.of_reader(reader.id, session=session)
    ]  # fmt: skip
    return {
        "email": reader.email,
        "status": str(reader.status),
        "paused": reader.paused,
        "topics": list(reader.topics),
        "follows": [label(i) for i in of_reader([], reader.follows)],
        "exclusions": shown_exclusions(reader.exclusions),
        "liked": liked,
        "disliked": disliked,
        "examples": given,  # papers marked under a topic: "like" True for "Yes, like this"
        "next_issue": {
            "week": state.issue.week,
            "dates": state.issue.dates,
            "earlier": earlier,  # no papers this week yet: the latest week's
            "topics": topic_report(reader.topics, state),
            "picks": [_pick(p) for p in picks],
        },
    }


def preview_state(
    settings: Settings, *, session: Session, cache: IssueCache, today: dt.date | None = None,
    weeks: int = 1,
) -> tuple[IssueState, bool]:  # fmt: skip
    """This week's issue, to preview what a reader would get; the latest week with papers
    instead (and True) when none is ingested for this one yet, as with a demo's bundled week.
    With `weeks`, its window reaches that many weeks back (an unsaved issue, never sent)."""
    day = today or dt.date.today()
    issue = issues.for_date(day, settings.window_days, session=session, create=False)
    count, _ = papers.window_stamp(issue.window_start, issue.window_end, session=session)
    latest = papers.latest_day(session=session)
    earlier = not count and latest is not None and latest < day
    if earlier:
        assert latest is not None
        issue = issues.for_date(latest, settings.window_days, session=session, create=False)
    if weeks > 1:
        start = issue.window_end - dt.timedelta(days=7 * weeks - 1)
        issue = Issue(week=issue.week, issue_date=issue.issue_date, window_start=start,
                      window_end=issue.window_end)  # fmt: skip
    return cache.get(issue, settings, session=session), earlier


PREVIEW_SIZE = 8
PREVIEWED = 10  # topics previewed at once on the subscribe page
PREVIEW_WEEKS, MAX_PREVIEW_WEEKS = 4, 8  # how far back a topic's preview looks


def topic_preview(
    topic: str, settings: Settings, *, session: Session, cache: IssueCache,
    today: dt.date | None = None, weeks: int = PREVIEW_WEEKS,
) -> dict[str, Any]:  # fmt: skip
    """What one topic, as typed, would have brought in the latest `weeks` weeks: how many
    papers it matched, the best few with their reasons, and a likely misspelling's fix when
    none."""
    state, earlier = preview_state(settings, session=session, cache=cache, today=today,
                                   weeks=weeks)  # fmt: skip
    picks = state.matcher.picks(of_reader([topic], []), limit=PREVIEW_SIZE, exclude=set(),
                                as_of=state.issue.issue_date)  # fmt: skip
    [report] = topic_report([topic], state)
    # The weeks it looked in, from the first that holds papers (an archive may be younger).
    end = state.issue.window_end
    first = min((p.featured_on for p in state.matcher.papers), default=end)
    held = dt.timedelta(weeks=(end - first).days // 7 + 1)
    start = max(state.issue.window_start, end - held + dt.timedelta(days=1))
    return {
        "topic": topic,
        "week": state.issue.week,
        "dates": date_range(start, state.issue.window_end),
        "earlier": earlier,
        "matched": report["papers"],
        "did_you_mean": report["did_you_mean"],
        "papers": [_pick(p) for p in picks],
    }


def teaching(
    reader: Subscriber, settings: Settings, *, session: Session, cache: IssueCache,
    given: list[dict[str, Any]], today: dt.date | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per topic of the reader's, what the manage page shows to teach it by example: its
    preview's papers, each with the reader's answer (True "like", False "not", None), and the
    examples it holds (`given`: `of(...)["examples"]`)."""
    shown = []
    for topic in reader.topics:
        found = topic_preview(topic, settings, session=session, cache=cache, today=today)
        held = [e for e in given if e["topic"] == topic]
        answers = {e["arxiv_id"]: e["like"] for e in held}
        liked = sum(e["like"] for e in held)
        shown.append({
            "topic": topic, "dates": found["dates"], "liked": liked, "unwanted": len(held) - liked,
            "ready": liked >= taught.MIN_LIKES, "examples": held,
            "papers": [p | {"answer": answers.get(p["arxiv_id"])} for p in found["papers"]],
        })  # fmt: skip
    return shown


def _pick(pick: Pick) -> dict[str, str]:
    paper = pick.paper
    return {"arxiv_id": paper.arxiv_id, "title": paper.title, "url": paper.abs_url, "why": pick.why}
