"""A reader's votes from the inbox: cast one, replace it, take it back.

"Not for me" with the reason "not interested in this author" also adds the author to the
reader's exclusions; the vote remembers the exclusion it added, so replacing or undoing the
vote takes that exclusion away again.
"""

from __future__ import annotations

from sqlmodel import Session

from newsletter.match.feedback import DISLIKE
from newsletter.match.interests import Author, stored
from newsletter.models import Paper, Subscriber, Vote, utcnow
from newsletter.readers import store, votes
from newsletter.readers.validate import InvalidInput


def cast(
    reader: Subscriber,
    paper: Paper,
    issue_id: int,
    value: int,
    *,
    reason: str | None = None,
    author: str | None = None,
    session: Session,
) -> Vote:
    """Record the reader's vote on a paper they were sent (a second one replaces the first)."""
    assert reader.id is not None and paper.id is not None
    if reason is not None and (value != DISLIKE or reason not in votes.REASONS):
        raise InvalidInput(f"unknown reason {reason!r}")
    excluded = None
    if reason == "author":
        if author not in paper.authors:
            raise InvalidInput("choose one of the paper's authors")
        excluded = stored(Author(author))
    earlier = votes.get(reader.id, paper.id, session=session)
    _unexclude(reader, earlier, keep=excluded)
    if excluded and excluded not in reader.exclusions:
        reader.exclusions = [*reader.exclusions, excluded]
    store.save(reader, session=session)
    vote = Vote(subscriber_id=reader.id, paper_id=paper.id, issue_id=issue_id, value=value,
                reason=reason, excluded=excluded, voted_at=utcnow())  # fmt: skip
    votes.record(vote, session=session)
    return vote


def retract(reader: Subscriber, paper_id: int, *, session: Session) -> Vote | None:
    """Undo the reader's vote on the paper, and the exclusion it added; None if none."""
    assert reader.id is not None
    vote = votes.undo(reader.id, paper_id, session=session)
    _unexclude(reader, vote)
    store.save(reader, session=session)
    return vote


def _unexclude(reader: Subscriber, vote: Vote | None, keep: str | None = None) -> None:
    if vote is not None and vote.excluded and vote.excluded != keep:
        reader.exclusions = [e for e in reader.exclusions if e != vote.excluded]
