"""The web app's state (held on the app, not in modules) and what routes depend on: the
state, and the request's unit of work.

Every route that touches the database takes a `DB` session: it commits when the route
returns, before the answer goes out (so an unsubscribe is honoured first and a
confirmation mail sent in the background finds its reader), and rolls back when the
route raises, a refused form included. No route commits on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from newsletter.db import session_scope
from newsletter.digest.compose import IssueCache
from newsletter.digest.render import MailTemplates
from newsletter.readers import store, suggestions
from newsletter.settings import Settings
from newsletter.web import pages
from newsletter.web.ratelimit import RateLimiter

SUGGESTIONS_TTL = 300.0  # seconds


@dataclass
class SuggestionCache:
    """The topics many readers share, recomputed every few minutes, for the public pages.
    Filled on first use whatever the clock says: time.monotonic() counts from boot and may
    be near 0."""

    min_readers: int
    clock: Callable[[], float] = time.monotonic
    _shared: list[str] = field(default_factory=list)
    _at: float | None = None

    def shared(self, session: Session) -> list[str]:
        """Topics held by at least `min_readers` active readers, most followed first."""
        now = self.clock()
        if self._at is None or now - self._at > SUGGESTIONS_TTL:
            lists = store.topic_lists(session=session)
            self._shared = suggestions.shared(lists, min_readers=self.min_readers, count=8)
            self._at = now
        return self._shared

    def get(self, session: Session) -> list[str]:
        """What the subscribe page suggests: shared topics, then vocabulary terms."""
        return suggestions.popular(self.shared(session), count=8)


@dataclass
class WebState:
    settings: Settings
    pages: pages.Pages
    mail: MailTemplates
    limiter: RateLimiter
    suggestions: SuggestionCache
    issues: IssueCache  # the archive's weeks, matched like an issue


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _unit_of_work(request: Request) -> Iterator[Session]:
    with session_scope(_state(request).settings.database_url) as session:
        yield session


State = Annotated[WebState, Depends(_state)]
# scope="function": the session closes (and commits) when the route returns, before the answer.
DB = Annotated[Session, Depends(_unit_of_work, scope="function")]
