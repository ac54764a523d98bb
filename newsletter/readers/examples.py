"""The example table: papers a reader marked under one of their topics, "Yes, like this" or
"Not this". Three likes give the topic a model of its own (`match/taught.py`).

Every read and write of an example happens here. A topic is kept casefolded, as topics are
matched; marking a paper again under the same topic replaces the first mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from newsletter.ingest import clean_arxiv_id
from newsletter.models import Example, Paper, Subscriber, utcnow
from newsletter.readers.validate import InvalidInput

LIKE, NOT = 1, -1
MAX_PER_TOPIC = 100  # enough to teach a topic; more only slows its model down


class NotStored(InvalidInput):
    """A paper named by its arXiv id that is not in the database."""


def key(topic: str) -> str:
    return topic.casefold().strip()


def mark(reader_id: int, topic: str, values: Mapping[int, int], *, session: Session) -> None:
    """Mark papers (id -> LIKE or NOT) under the reader's topic, replacing earlier marks."""
    if not values:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    rows = [{"subscriber_id": reader_id, "topic": key(topic), "paper_id": paper_id,
             "value": value, "marked_at": now} for paper_id, value in values.items()]  # fmt: skip
    statement = insert(Example).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["subscriber_id", "topic", "paper_id"],
        set_={"value": statement.excluded.value, "marked_at": statement.excluded.marked_at},
    )
    session.execute(statement)


def remove(reader_id: int, topic: str, paper_ids: Collection[int], *, session: Session) -> int:
    """Unmark papers under the reader's topic; returns how many marks there were."""
    result = session.execute(delete(Example).where(
        col(Example.subscriber_id) == reader_id, col(Example.topic) == key(topic),
        col(Example.paper_id).in_(list(paper_ids))))  # fmt: skip
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def replace(reader_id: int, answers: Mapping[str, Mapping[int, int]], *, session: Session) -> None:
    """Replace all the reader's examples with `answers` (topic -> paper id -> LIKE or NOT)."""
    forget_reader(reader_id, session=session)
    for topic, values in answers.items():
        mark(reader_id, topic, values, session=session)


def answered(
    answers: Iterable[tuple[str, str, bool]], topics: Sequence[str], *, session: Session
) -> dict[str, dict[int, int]]:
    """Answers given while subscribing, (topic, arXiv id, liked), as `replace` takes them:
    those of topics no longer in `topics` are dropped. Raises InvalidInput for a paper not
    stored or answered both ways, or more than MAX_PER_TOPIC for a topic."""
    kept = {key(t) for t in topics}
    given = [(key(t), ref, liked) for t, ref, liked in answers if key(t) in kept]
    named = papers_named([ref for _, ref, _ in given], session=session)
    found: dict[str, dict[int, int]] = defaultdict(dict)
    for topic, ref, liked in given:
        paper_id, value = named[ref].id, LIKE if liked else NOT
        assert paper_id is not None
        if found[topic].setdefault(paper_id, value) != value:
            raise InvalidInput(f"paper {named[ref].arxiv_id} is answered both “Yes” and “Not this”")
        if len(found[topic]) > MAX_PER_TOPIC:
            raise InvalidInput(f"a topic holds at most {MAX_PER_TOPIC} examples")
    return dict(found)


def keep_topics(reader_id: int, topics: Iterable[str], *, session: Session) -> None:
    """Drop the examples of topics the reader no longer has."""
    kept = [key(t) for t in topics]
    session.execute(delete(Example).where(
        col(Example.subscriber_id) == reader_id, col(Example.topic).not_in(kept)))  # fmt: skip


def forget_reader(reader_id: int, *, session: Session) -> None:
    session.execute(delete(Example).where(col(Example.subscriber_id) == reader_id))


@dataclass(frozen=True, slots=True)
class Marked:
    """One example as a plain row (no paper loaded)."""

    paper_id: int
    value: int


def of_readers(reader_ids: Collection[int], *, session: Session
               ) -> dict[int, dict[str, list[Marked]]]:  # fmt: skip
    """Reader -> topic -> its examples, oldest first: one query for a whole batch."""
    rows = session.execute(
        select(Example.subscriber_id, Example.topic, Example.paper_id, Example.value)
        .where(col(Example.subscriber_id).in_(list(reader_ids)))
        .order_by(col(Example.marked_at), col(Example.paper_id))
    )
    found: dict[int, dict[str, list[Marked]]] = defaultdict(lambda: defaultdict(list))
    for reader_id, topic, paper_id, value in rows:
        found[reader_id][topic].append(Marked(paper_id, value))
    return {reader: dict(topics) for reader, topics in found.items()}


def of_reader(reader_id: int, *, session: Session) -> list[tuple[Example, Paper]]:
    """All the reader's examples with their papers, by topic, newest first (their profile)."""
    rows = session.exec(
        select(Example, Paper)
        .join(Paper, col(Paper.id) == Example.paper_id)
        .where(Example.subscriber_id == reader_id)
        .order_by(col(Example.topic), col(Example.marked_at).desc())
    )
    return [(example, paper) for example, paper in rows]


@dataclass(frozen=True)
class Taught:
    """A topic's examples after a change: the topic as the reader wrote it, and its counts."""

    topic: str
    liked: int
    unwanted: int


def their_topic(reader: Subscriber, topic: str) -> str:
    """The reader's topic as they wrote it; InvalidInput if it is not one of theirs."""
    for theirs in reader.topics:
        if key(theirs) == key(topic):
            return theirs
    raise InvalidInput(f"no topic {topic.strip()[:80]!r} among yours: "
                       f"{', '.join(reader.topics) or 'none'}")  # fmt: skip


def teach(
    reader: Subscriber, topic: str, *, session: Session, likes: Sequence[str] = (),
    nots: Sequence[str] = (), removed: Sequence[str] = (),
) -> Taught:  # fmt: skip
    """Mark papers (arXiv ids or pages) under one of the reader's topics as liked or not, or
    unmark them. Raises InvalidInput, writing nothing, for a topic that is not theirs, a paper
    that is not stored, one given as both, or more than MAX_PER_TOPIC examples."""
    assert reader.id is not None
    written = their_topic(reader, topic)
    named = papers_named([*likes, *nots, *removed], session=session)
    ids = {reference: paper.id for reference, paper in named.items() if paper.id is not None}
    if both := {ids[r] for r in likes} & {ids[r] for r in nots}:
        twice = next(p.arxiv_id for p in named.values() if p.id in both)
        raise InvalidInput(f"paper {twice} is given both as liked and as not")
    held = {m.paper_id: m.value for m in of_readers([reader.id], session=session)
            .get(reader.id, {}).get(key(topic), [])}  # fmt: skip
    held |= {ids[r]: LIKE for r in likes} | {ids[r]: NOT for r in nots}
    for reference in removed:
        held.pop(ids[reference], None)
    if len(held) > MAX_PER_TOPIC:
        raise InvalidInput(f"a topic holds at most {MAX_PER_TOPIC} examples")
    mark(reader.id, topic, {ids[r]: LIKE for r in likes} | {ids[r]: NOT for r in nots},
         session=session)  # fmt: skip
    remove(reader.id, topic, [ids[r] for r in removed], session=session)
    liked = sum(v > 0 for v in held.values())
    return Taught(written, liked, len(held) - liked)


def papers_named(references: Iterable[str], *, session: Session) -> dict[str, Paper]:
    """Each reference (an arXiv id, or an arXiv or Hugging Face page of one) -> its stored
    paper. Raises InvalidInput, naming the first that is not an id or not in the database."""
    ids: dict[str, str] = {}
    for reference in references:
        try:
            ids[reference] = clean_arxiv_id(reference)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    rows = session.exec(select(Paper).where(col(Paper.arxiv_id).in_(set(ids.values()))))
    stored = {paper.arxiv_id: paper for paper in rows}
    for arxiv_id in ids.values():
        if arxiv_id not in stored:
            raise NotStored(f"paper {arxiv_id} is not in the database: ingest it first")
    return {reference: stored[arxiv_id] for reference, arxiv_id in ids.items()}
