"""Compose: one reader's digest, from the papers matched for them to a message ready to send.

What every digest of an issue shares is kept in an `IssueCache`, owned by whoever runs the
issue (a CLI command, a worker process): the week's papers indexed for matching, rebuilt
when the week's papers change (one small query tells), and the issue's `Digest` (the
compiled template and each paper's blocks). A batch then costs the same whatever its
readers, and nothing in the cache grows with the audience.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlmodel import Session

from newsletter.delivery import ledger
from newsletter.digest import message
from newsletter.digest.render import Digest, Links, MailTemplates, Recipient, Rendered
from newsletter.ingest import store as papers
from newsletter.match import feedback, interests, semantic, taught
from newsletter.match.engine import Matcher, Pick
from newsletter.match.spelling import Spelling
from newsletter.models import Issue, Paper
from newsletter.readers import examples, links, votes
from newsletter.settings import Settings

_KEEP = 4  # issues held; a worker rarely serves more than one at a time
_SHARED_MAX = 2_000  # ranked lists held per issue, about 2 KB each (the least used go first)
# What a reader's picks depend on, without votes: topics, follows, exclusions, which of the
# week's papers they were already sent, and the issue's size.
SharedKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], frozenset[int], int]


@dataclass
class IssueState:
    issue: Issue
    matcher: Matcher
    digest: Digest
    # Title and vector of each paper a reader voted on or gave as an example, read once: the
    # papers voted on are mostly last week's, the same for every batch of voters.
    voted: dict[int, tuple[str, np.ndarray]] = field(default_factory=dict)
    # Readers who share an interest set and have no votes share one ranked list.
    shared: dict[SharedKey, list[Pick]] = field(default_factory=dict)
    week_ids: frozenset[int] = field(init=False)  # the week's paper ids, part of each key
    _spelling: Spelling | None = None

    def __post_init__(self) -> None:
        self.week_ids = frozenset(p.id for p in self.matcher.papers if p.id is not None)

    @property
    def spelling(self) -> Spelling:
        """The words the week's papers use, read when a topic first matches nothing."""
        if self._spelling is None:
            self._spelling = Spelling(self.matcher.papers)
        return self._spelling

    def voted_papers(
        self, ids: set[int], encoder: semantic.Encoder, *, session: Session
    ) -> dict[int, tuple[str, np.ndarray]]:
        missing = ids - self.voted.keys()
        if missing:
            found = papers.by_ids(missing, session=session)
            vectors = papers.vectors(list(found.values()), encoder, session=session)
            for (paper_id, paper), vector in zip(found.items(), vectors, strict=True):
                self.voted[paper_id] = (paper.title, vector)
        return self.voted


@dataclass
class IssueCache:
    """Per process: the matcher and digest of the issues being sent."""

    templates: MailTemplates = field(default_factory=MailTemplates)
    _issues: dict[tuple[object, ...], IssueState] = field(default_factory=dict)

    def get(self, issue: Issue, settings: Settings, *, session: Session) -> IssueState:
        """The issue's state, reused while the week's papers are unchanged."""
        stamp = papers.window_stamp(issue.window_start, issue.window_end, session=session)
        key = (settings.database_url, issue.week, issue.window_start, issue.window_end,
               *stamp, settings.postal_address, settings.window_days)  # fmt: skip
        if key not in self._issues:
            week = papers.in_window(issue.window_start, issue.window_end, session=session)
            while len(self._issues) >= _KEEP:
                del self._issues[next(iter(self._issues))]
            matcher = Matcher(week, window_end=issue.window_end, window_days=settings.window_days,
                              space=_space(week, settings, session))  # fmt: skip
            self._issues[key] = IssueState(
                issue, matcher, Digest(self.templates, issue.dates, settings.postal_address)
            )
            # The week's index, millions of objects that live as long as the issue, out of the
            # collector's reach: a full collection walked them all again and again (0.2 s
            # each). A dropped issue is still freed: it holds no reference cycles.
            gc.collect()
            gc.freeze()
        return self._issues[key]


def warm_topics(states: Iterable[IssueState], audience: Iterable[Reader]) -> None:
    """Embed a batch's topics at once, before its readers' picks are made one by one."""
    topics = [t for reader in audience for t in reader.topics]
    for state in states:
        if state.matcher.space is not None:
            state.matcher.space.encoder.warm(topics)


def _space(week: list[Paper], settings: Settings, session: Session) -> semantic.Space | None:
    """The week's papers as vectors, or None to match by words only (no model)."""
    encoder = semantic.load(settings.embedding_model)
    if encoder is None:
        return None
    return papers.space(week, encoder, session=session)


class Reader(Protocol):
    """What a digest needs of a reader (a Subscriber row, or a batch's `store.Reader`)."""

    @property
    def id(self) -> int | None: ...
    @property
    def email(self) -> str: ...
    @property
    def topics(self) -> list[str]: ...
    @property
    def follows(self) -> list[str]: ...
    @property
    def exclusions(self) -> list[str]: ...
    @property
    def link_key(self) -> int: ...


@dataclass
class Composed:
    """One reader's digest, ready to send."""

    reader: Reader
    picks: list[Pick]
    rendered: Rendered
    msg_id: str
    unsubscribe_url: str

    def message(self, settings: Settings, *, eight_bit: bool = False) -> bytes:
        return message.build(
            self.rendered,
            settings=settings,
            to=self.reader.email,
            msg_id=self.msg_id,
            unsubscribe_url=self.unsubscribe_url,
            eight_bit=eight_bit,
        )


def picks_for(
    reader: Reader,
    state: IssueState,
    already_sent: set[int],
    settings: Settings,
    profile: feedback.Profile,
) -> list[Pick]:
    """The reader's picks (`profile` from `profiles`); readers without votes or examples who
    share an interest set (and were sent the same of the week's papers) share one list,
    ranked once per issue and process."""
    sent = state.week_ids.intersection(already_sent)  # of the week's papers: what can repeat
    if profile.taught:
        return _picks(reader, state, sent, settings, profile)
    key = (tuple(reader.topics), tuple(reader.follows), tuple(reader.exclusions), sent,
           settings.issue_size)  # fmt: skip
    picks = state.shared.pop(key, None)
    if picks is None:
        picks = _picks(reader, state, sent, settings, profile)
        if len(state.shared) >= _SHARED_MAX:
            del state.shared[next(iter(state.shared))]
    state.shared[key] = picks  # last, so popular interest sets stay
    return picks


def _picks(
    reader: Reader,
    state: IssueState,
    sent: frozenset[int],
    settings: Settings,
    profile: feedback.Profile,
) -> list[Pick]:
    return state.matcher.picks(
        interests.of_reader(reader.topics, reader.follows),
        limit=settings.issue_size,
        exclude=sent,
        profile=profile,
        as_of=state.issue.issue_date,
    )


def profiles(
    readers: Iterable[Reader], state: IssueState, *, session: Session
) -> dict[int, feedback.Profile]:
    """Per reader (by id), what they told the engine beyond their topics: their exclusions,
    their votes, and each topic's examples (the papers they marked under it, and their votes
    on the picks it brought), with the papers' vectors from the week's model. One query each
    for the batch's votes, examples and voted digests, and one more for papers no batch has
    voted on or given."""
    never = {r.id: tuple(interests.of_exclusions(r.exclusions))
             for r in readers if r.id is not None}  # fmt: skip
    space = state.matcher.space
    if space is None:  # no model: votes cannot be placed, the ranking is the topics' alone
        return {reader_id: feedback.Profile(never=barred) for reader_id, barred in never.items()}
    reader_ids = list(never)
    found = votes.ranking(reader_ids, state.issue.issue_date, session=session)
    given = examples.of_readers(reader_ids, session=session)
    voted = {(reader, v.issue_id) for reader, rows in found.items() for v in rows}
    topics_of = ledger.pick_topics(voted, session=session) if voted else {}
    ids = {v.paper_id for rows in found.values() for v in rows}
    ids |= {m.paper_id for topics in given.values() for marks in topics.values() for m in marks}
    known = state.voted_papers(ids, space.encoder, session=session) if ids else {}
    profiles = {}
    for reader_id, barred in never.items():
        cast = found.get(reader_id, [])
        if not cast and reader_id not in given:  # most readers: their exclusions alone
            profiles[reader_id] = feedback.Profile(never=barred)
            continue
        taught_by = _examples(given.get(reader_id, {}), cast, reader_id, topics_of, known)
        cast_known = tuple(_voted(v, *known[v.paper_id]) for v in cast if v.paper_id in known)
        profiles[reader_id] = feedback.Profile(cast_known, taught_by, barred)
    return profiles


def _examples(
    given: dict[str, list[examples.Marked]],
    cast: list[votes.Ranked],
    reader_id: int,
    topics_of: dict[tuple[int, int, int], tuple[str, ...]],
    known: dict[int, tuple[str, np.ndarray]],
) -> dict[str, taught.Examples]:
    """Per topic, the papers marked under it, and the votes on the picks it brought (a paper
    marked counts as marked, however it was voted)."""
    marks = {topic: {m.paper_id: m.value for m in rows} for topic, rows in given.items()}
    for vote in cast:
        for topic in topics_of.get((reader_id, vote.issue_id, vote.paper_id), ()):
            marks.setdefault(examples.key(topic), {}).setdefault(vote.paper_id, vote.value)
    return {topic: _marked(values, known) for topic, values in marks.items()}


def _marked(values: dict[int, int], known: dict[int, tuple[str, np.ndarray]]) -> taught.Examples:
    return taught.Examples(tuple(taught.Marked(p, known[p][0], value, known[p][1])
                                 for p, value in values.items() if p in known))  # fmt: skip


def _voted(vote: votes.Ranked, title: str, vector: np.ndarray) -> feedback.Voted:
    return feedback.Voted(title, vote.value, vote.voted_at, vector)


def next_picks(reader: Reader, state: IssueState, settings: Settings, *, session: Session
               ) -> list[Pick]:  # fmt: skip
    """One reader's picks as their digest of this issue would hold them now."""
    assert reader.id is not None
    history = ledger.sent_papers([reader.id], session=session).get(reader.id, set())
    profile = profiles([reader], state, session=session)[reader.id]
    return picks_for(reader, state, history, settings, profile)


def topic_report(topics: list[str], state: IssueState) -> list[dict[str, Any]]:
    """How many of the week's papers each topic matched; for one that matched none, a likely
    misspelling's fix ("reinforcement learning" for "reinforcment lerning")."""
    report = []
    for topic in topics:
        found = len(state.matcher.topic_hits(topic))
        fix = None if found else state.spelling.suggest(topic)
        report.append({"topic": topic, "papers": found, "did_you_mean": fix})
    return report


def empty_notice(reader: Reader, state: IssueState, *, settings: Settings, weeks: int
                 ) -> Composed:  # fmt: skip
    """The one short mail a reader gets after `weeks` issues in a row found nothing for their
    topics (instead of a digest): their topics, a likely misspelling's fix, and their links."""
    assert reader.id is not None
    unsubscribe = links.link(settings, links.Purpose.UNSUBSCRIBE, reader)
    title = f"Nothing has matched your topics for {weeks} week{'s' if weeks != 1 else ''}"
    context = {
        "title": title,
        "preheader": "Your topics, and how to widen them",
        "weeks": weeks,
        "topics": topic_report(reader.topics, state),
        "follows": interests.shown([], reader.follows),
        "manage_url": links.link(settings, links.Purpose.MANAGE, reader),
        "unsubscribe_url": unsubscribe,
        "postal_address": settings.postal_address,
    }
    text, html = state.digest.templates.page("email/empty", context)
    msg_id = f"<empty.{state.issue.week}.{reader.id}@{settings.sender_domain}>"
    return Composed(reader, [], Rendered(title, title, text, html), msg_id, unsubscribe)


def compose(
    reader: Reader,
    picks: list[Pick],
    state: IssueState,
    *,
    settings: Settings,
    delivery_id: int | None = None,
) -> Composed:
    """The reader's digest of `picks`. With `delivery_id` it links to its own web copy."""
    assert reader.id is not None
    unsubscribe = links.link(settings, links.Purpose.UNSUBSCRIBE, reader)
    view = delivery_id and links.link(settings, links.Purpose.VIEW, reader, delivery_id)
    recipient = Recipient(
        email=reader.email,
        topics=interests.shown(reader.topics, reader.follows),
        links=Links(
            manage=links.link(settings, links.Purpose.MANAGE, reader),
            unsubscribe=unsubscribe,
            view=view or None,
        ),
        # Every pick's "More like this" and "Not for me" links start with one signed token (a
        # dry run's unsaved issue has no id: its links name issue 0, where no vote counts).
        votes=links.feedback_base(settings, reader, state.issue.id or 0),
    )
    rendered = state.digest.render(picks, recipient)
    msg_id = message.message_id(settings, state.issue.week, reader.id)
    return Composed(reader, picks, rendered, msg_id, unsubscribe)
