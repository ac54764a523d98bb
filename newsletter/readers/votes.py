"""The vote table: readers' "More like this" and "Not for me" on papers they were sent.

Every read and write of a vote happens here. A vote is one row per reader and paper, written
with one INSERT ... ON CONFLICT, so a second vote replaces the first atomically, whatever
else is running (a send of the next issue reads votes and never writes them).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sql
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from newsletter.delivery import issues, ledger
from newsletter.models import Paper, Vote

REASONS = {
    "topic": "wrong topic",
    "basic": "too basic",
    "seen": "already seen",
    "author": "not interested in this author",
}
# A vote's pull halves every 4 weeks (newsletter/match/feedback.py): one older than this
# weighs under 2 % and is no longer read for ranking.
RANKED_FOR = dt.timedelta(weeks=24)


def record(vote: Vote, *, session: Session) -> None:
    """Insert the vote, or replace the reader's earlier vote on the same paper."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = vote.model_dump()
    statement = insert(Vote).values(**values)
    keys = {k: v for k, v in values.items() if k not in ("subscriber_id", "paper_id")}
    statement = statement.on_conflict_do_update(index_elements=["subscriber_id", "paper_id"],
                                                set_=keys)  # fmt: skip
    session.execute(statement)
    key = session.identity_key(Vote, (vote.subscriber_id, vote.paper_id))
    if key in session.identity_map:  # an earlier vote read in this session is now stale
        session.expire(session.identity_map[key])


def get(reader_id: int, paper_id: int, *, session: Session) -> Vote | None:
    return session.get(Vote, (reader_id, paper_id))


def undo(reader_id: int, paper_id: int, *, session: Session) -> Vote | None:
    """Delete the reader's vote on the paper; returns it (None if there was none)."""
    vote = get(reader_id, paper_id, session=session)
    if vote is not None:
        session.delete(vote)
        session.flush()
    return vote


@dataclass(frozen=True, slots=True)
class Ranked:
    """A vote that weighs in a reader's ranking, as a plain row (no paper loaded)."""

    paper_id: int
    value: int
    voted_at: dt.datetime
    issue_id: int  # the issue whose digest held the paper


def ranking(
    reader_ids: Collection[int], as_of: dt.date, *, session: Session
) -> dict[int, list[Ranked]]:
    """The votes that still weigh in each reader's ranking, oldest first: one query for a
    whole batch."""
    since = dt.datetime.combine(as_of, dt.time(), dt.UTC) - RANKED_FOR
    fields = (Vote.subscriber_id, Vote.paper_id, Vote.value, Vote.voted_at, Vote.issue_id)
    rows = session.execute(
        sql.select(*map(col, fields))
        .where(col(Vote.subscriber_id).in_(list(reader_ids)), col(Vote.voted_at) >= since)
        .order_by(col(Vote.voted_at))
    )
    found: dict[int, list[Ranked]] = defaultdict(list)
    for reader_id, paper_id, value, voted_at, issue_id in rows:
        found[reader_id].append(Ranked(paper_id, value, voted_at, issue_id))
    return found


def of_reader(reader_id: int, *, session: Session) -> list[tuple[Vote, Paper]]:
    """All the reader's votes with their papers, newest first (their profile)."""
    rows = session.exec(
        select(Vote, Paper)
        .join(Paper, col(Paper.id) == Vote.paper_id)
        .where(Vote.subscriber_id == reader_id)
        .order_by(col(Vote.voted_at).desc())
    )
    return [(vote, paper) for vote, paper in rows]


def forget_reader(reader_id: int, *, session: Session) -> None:
    session.execute(delete(Vote).where(col(Vote.subscriber_id) == reader_id))


@dataclass(frozen=True)
class Voted:
    """A vote beside the pick it was cast on, for the operator's report."""

    week: str
    topics: tuple[str, ...]  # the topics the pick matched
    value: int
    reason: str | None


def with_picks(*, week: str | None = None, session: Session) -> tuple[list[Voted], dict[str, int]]:
    """Every vote (of one week's issue, or all) with the topics its pick matched, and the number
    of picks sent per issue week."""
    weeks = issues.weeks(week, session=session)
    picks: dict[tuple[int, int, int], tuple[str, ...]] = {}
    sent: dict[str, int] = defaultdict(int)
    for issue_id, reader_id, records in ledger.sent_picks(list(weeks), session=session):
        sent[weeks[issue_id]] += len(records)
        for record in records:
            topics = tuple(dict.fromkeys(h["topic"] for h in record.get("hits", [])))
            picks[(issue_id, reader_id, record["paper_id"])] = topics
    found = []
    for v in session.exec(select(Vote).where(col(Vote.issue_id).in_(list(weeks)))):
        topics = picks.get((v.issue_id, v.subscriber_id, v.paper_id), ())
        found.append(Voted(weeks[v.issue_id], topics, v.value, v.reason))
    return found, dict(sent)


def graded(*, session: Session) -> list[tuple[int, int, str, int]]:
    """(reader id, issue id, arXiv id, vote) of every vote: the readers' judgments."""
    rows = session.exec(
        select(Vote.subscriber_id, Vote.issue_id, Paper.arxiv_id, Vote.value).join(
            Paper, col(Paper.id) == Vote.paper_id
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]
