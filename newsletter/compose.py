"""Compose: one reader's digest from their issue's context.

An IssueContext is what every digest of an issue shares: the week's papers indexed for
matching and the digest's MJML compiled. It is built once per process and issue and
reused by every batch (rebuilt when the week's papers change), so a batch costs the
same whatever its readers; nothing in it grows with the audience.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter import message, render, tokens
from newsletter.match import Matcher, Pick
from newsletter.models import Issue, Paper, Subscriber
from newsletter.settings import Settings

NOTHING_MATCHED = "no paper this week matched the reader's topics"
_KEEP = 4  # issues held per process; a worker rarely serves more than one at a time


@dataclass
class IssueContext:
    issue: Issue
    matcher: Matcher
    renderer: render.DigestRenderer


@dataclass
class Composed:
    """One reader's digest, ready to send."""

    reader: Subscriber
    picks: list[Pick]
    rendered: render.Rendered
    msg_id: str
    unsubscribe_url: str

    def message(self, settings: Settings) -> bytes:
        return message.build(
            self.rendered,
            settings=settings,
            to=self.reader.email,
            msg_id=self.msg_id,
            unsubscribe_url=self.unsubscribe_url,
        )


_contexts: dict[tuple[object, ...], IssueContext] = {}


def context_for(issue: Issue, settings: Settings, *, session: Session) -> IssueContext:
    """The issue's shared state, from this process's cache when the week's papers are
    unchanged (one small query), else built anew."""
    window = (
        col(Paper.featured_on) >= issue.window_start,
        col(Paper.featured_on) <= issue.window_end,
    )
    count, newest = session.exec(
        select(func.count(), func.max(Paper.ingested_at)).where(*window)
    ).one()
    key = (
        settings.database_url,
        issue.week,
        issue.window_start,
        issue.window_end,
        count,
        newest,
        settings.postal_address,
        settings.window_days,
    )
    if key not in _contexts:
        papers = list(session.exec(select(Paper).where(*window).order_by(col(Paper.id))))
        while len(_contexts) >= _KEEP:
            del _contexts[next(iter(_contexts))]
        _contexts[key] = IssueContext(
            issue,
            Matcher(papers, window_end=issue.window_end, window_days=settings.window_days),
            render.DigestRenderer(issue.week, settings.postal_address),
        )
    return _contexts[key]


def picks_for(
    reader: Subscriber, ctx: IssueContext, already_sent: set[int], settings: Settings
) -> list[Pick]:
    return ctx.matcher.picks(reader.interests, limit=settings.issue_size, exclude=already_sent)


def compose(
    reader: Subscriber,
    ctx: IssueContext,
    *,
    already_sent: set[int],
    settings: Settings,
    delivery_id: int | None = None,
) -> Composed | None:
    """The reader's digest, or None when nothing of this week matches their topics.
    With `delivery_id` the email links to its own "view in browser" page."""
    picks = picks_for(reader, ctx, already_sent, settings)
    if not picks:
        return None
    return compose_picks(reader, picks, ctx, settings=settings, delivery_id=delivery_id)


def compose_picks(
    reader: Subscriber,
    picks: list[Pick],
    ctx: IssueContext,
    *,
    settings: Settings,
    delivery_id: int | None = None,
) -> Composed:
    assert reader.id is not None
    unsubscribe = tokens.link(settings, tokens.Purpose.UNSUBSCRIBE, reader.id)
    view = delivery_id and tokens.link(settings, tokens.Purpose.VIEW, reader.id, delivery_id)
    links = render.Links(
        manage=tokens.link(settings, tokens.Purpose.MANAGE, reader.id),
        unsubscribe=unsubscribe,
        view=view or None,
    )
    rendered = ctx.renderer.render(
        picks, email=reader.email, topics=reader.interests_shown, links=links
    )
    msg_id = message.message_id(settings, ctx.issue.week, reader.id)
    return Composed(reader, picks, rendered, msg_id, unsubscribe)
