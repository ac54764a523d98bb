"""Two real weeks for the feedback tests: the shipped Daily Papers of 2026-02-02 to 02-06, the
last three days moved a week later, so week 1's issue (02-03) and week 2's (02-13) hold
different papers on the same subjects. A reader follows "agents"."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.message import EmailMessage

from sqlmodel import Session, col, select

from newsletter.delivery import issues, ledger
from newsletter.digest.compose import IssueCache, IssueState, picks_for, profiles
from newsletter.ingest import store as papers
from newsletter.match import feedback
from newsletter.match.engine import Pick
from newsletter.models import Paper, Subscriber
from newsletter.readers import store
from newsletter.settings import Settings
from tests.helpers import run

WEEK1, WEEK2 = dt.date(2026, 2, 3), dt.date(2026, 2, 13)
TOPIC = "agents"


def two_weeks(session: Session) -> None:
    run("ingest", "sample")
    later = session.exec(select(Paper).where(col(Paper.featured_on) > WEEK1)).all()
    for paper in later:
        paper.featured_on += dt.timedelta(days=7)
        session.add(paper)
    session.commit()


def vote_links(mail: EmailMessage) -> list[tuple[str, str, str]]:
    """(title, "More like this" URL, "Not for me" URL) of each pick, from the text part."""
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    found = re.findall(
        r"^\d+\. (.+)$(?:\n.*)*?\n\s+More like this: (\S+)\n\s+Not for me: (\S+)$", text, re.M
    )
    return [(title, more, less) for title, more, less in found]


def titles(mail: EmailMessage) -> list[str]:
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    return re.findall(r"^\d+\. (.+)$", text, re.M)


@dataclass(frozen=True)
class Targets:
    """Which of week 1's picks to vote on, and what that must do to week 2's digest."""

    baseline: list[str]  # week 2's titles, best first, before any vote
    disliked: str  # week 1's pick to call "Not for me"
    demoted: list[str]  # week 2 top-5 papers close to it: out of the top 5 after the vote
    liked: str  # week 1's pick to call "More like this"
    lifted: str  # the week 2 paper it pulls up most


def _week2(settings: Settings, session: Session, email: str) -> tuple[Subscriber, IssueState]:
    reader = store.get_by_email(email, session=session)
    assert reader is not None and reader.id is not None
    issue = issues.for_date(WEEK2, settings.window_days, session=session, create=False)
    return reader, IssueCache().get(issue, settings, session=session)


def ranking(settings: Settings, session: Session, email: str) -> list[Pick]:
    """Week 2's picks for the reader with their votes and exclusions as stored now (and none
    of week 2's papers counted as sent yet)."""
    reader, state = _week2(settings, session, email)
    assert reader.id is not None
    told = profiles([reader], state, session=session)[reader.id]
    return picks_for(reader, state, set(), settings, told)


def targets(settings: Settings, session: Session, email: str) -> Targets:
    """Chosen with the product's own pieces (the week's space, the readers' vectors, the
    feedback rule), before any vote is cast."""
    reader, state = _week2(settings, session, email)
    assert reader.id is not None
    space, matcher = state.matcher.space, state.matcher
    assert space is not None
    base = ranking(settings, session, email)
    index = {p.id: n for n, p in enumerate(matcher.papers)}
    top5 = [index[p.paper.id] for p in base[:5]]
    hits = [index[p.paper.id] for p in matcher.picks([TOPIC], limit=50)]
    sent = ledger.sent_papers([reader.id], session=session)[reader.id]
    week1 = list(papers.by_ids(sent, session=session).values())
    vectors = papers.vectors(week1, space.encoder, session=session)

    def nudges(n: int, value: int, indexes: list[int]) -> dict[int, feedback.Nudge]:
        at = dt.datetime.combine(WEEK1, dt.time(), dt.UTC)
        voted = feedback.Voted(week1[n].title, value, at, vectors[n])
        return feedback.nudges(space, feedback.Profile((voted,)), indexes, WEEK2)

    def demoted(n: int) -> list[int]:
        return [i for i, x in nudges(n, -1, top5).items() if x.amount <= -feedback.TIER]

    worst = max(range(len(week1)), key=lambda n: len(demoted(n)))
    down = demoted(worst)
    assert down, "week 2 has no close neighbour of a week 1 pick: the data cannot show it"
    others = [n for n in range(len(week1)) if n != worst]
    free = [i for i in hits if i not in down and i != top5[0]]

    def best_lift(n: int) -> tuple[float, int]:
        found = nudges(n, 1, free)
        return max(((x.amount, i) for i, x in found.items()), default=(0.0, -1))

    like = max(others, key=best_lift)
    return Targets(
        baseline=[p.paper.title for p in base],
        disliked=week1[worst].title,
        demoted=[matcher.papers[i].title for i in down],
        liked=week1[like].title,
        lifted=matcher.papers[best_lift(like)[1]].title,
    )
