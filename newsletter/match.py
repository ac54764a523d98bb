"""Match: which of the week's papers each reader gets, best first, and why.

A topic is compiled into concepts (a vocabulary term or a single word), each a
set of equivalent stem sequences. A paper is relevant to a topic only if every
concept appears in its title or abstract; hits in the title weigh double, repeated
hits saturate, and concepts that stand together as a phrase beat scattered ones.
Relevance is then blended with trending (upvotes) and recency. Each distinct
topic is scored once per issue, however many readers share it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from newsletter import vocabulary
from newsletter.models import Paper
from newsletter.text import tokens

Alt = tuple[str, ...]
Concept = tuple[Alt, ...]

THRESHOLD = 0.5  # one clear mention in the abstract; less than that is not a match
TITLE_WEIGHT, ABSTRACT_WEIGHT = 2.0, 1.0
SCATTERED = 0.6  # all concepts present, but never near each other


@dataclass(frozen=True)
class TopicHit:
    topic: str
    relevance: float
    where: str  # "title", "abstract" or "title and abstract"


@dataclass
class Pick:
    paper: Paper
    score: float
    hits: list[TopicHit] = field(default_factory=list)

    @property
    def why(self) -> str:
        return "; ".join(f"“{h.topic}” in the {h.where}" for h in self.hits)

    def as_record(self) -> dict[str, Any]:
        """What the ledger keeps of a pick, enough to show the digest again later."""
        return {
            "paper_id": self.paper.id,
            "score": self.score,
            "hits": [asdict(h) for h in self.hits],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], paper: Paper) -> Pick:
        return cls(paper, record["score"], [TopicHit(**h) for h in record.get("hits", [])])


@lru_cache(maxsize=1)
def _vocabulary() -> dict[Alt, Concept]:
    """Every form of every entry, as stems -> all forms of its entry."""
    table: dict[Alt, Concept] = {}
    for entry in vocabulary.ENTRIES:
        forms = tuple(dict.fromkeys(tuple(tokens(form)) for form in entry if tokens(form)))
        for form in forms:
            table[form] = forms
    return table


@lru_cache(maxsize=50_000)
def compile_topic(topic: str) -> tuple[Concept, ...]:
    """Split a topic into concepts, taking the longest vocabulary term at each step."""
    stems, vocab = tokens(topic), _vocabulary()
    longest = max((len(k) for k in vocab), default=1)
    concepts: list[Concept] = []
    i = 0
    while i < len(stems):
        for size in range(min(longest, len(stems) - i), 0, -1):
            key = tuple(stems[i : i + size])
            if key in vocab:
                concepts.append(vocab[key])
                i += size
                break
        else:
            concepts.append(((stems[i],),))
            i += 1
    return tuple(concepts)


class _Field:
    """One field of one paper as stems, with the positions of each stem."""

    __slots__ = ("positions", "stems")

    def __init__(self, text: str) -> None:
        self.stems = tokens(text)
        self.positions: dict[str, list[int]] = defaultdict(list)
        for index, stem in enumerate(self.stems):
            self.positions[stem].append(index)

    def spans(self, concept: Concept) -> list[tuple[int, int]]:
        found = []
        for alt in concept:
            for start in self.positions.get(alt[0], ()):
                if tuple(self.stems[start : start + len(alt)]) == alt:
                    found.append((start, start + len(alt)))
        return found


def _saturate(count: int) -> float:
    return count / (count + 1.0)


def _near(spans_per_concept: list[list[tuple[int, int]]]) -> bool:
    """True if one occurrence of each concept fits in a window of the topic's length + 2."""
    size = sum(min(e - s for s, e in spans) for spans in spans_per_concept) + 2
    return any(
        all(any(abs(s - start) <= size for s, _ in other) for other in spans_per_concept[1:])
        for start, _ in spans_per_concept[0]
    )


def relevance(concepts: Sequence[Concept], title: _Field, abstract: _Field) -> tuple[float, str]:
    per_field = [
        (title, [title.spans(c) for c in concepts]),
        (abstract, [abstract.spans(c) for c in concepts]),
    ]
    (_, in_title), (_, in_abstract) = per_field
    if not all(t or a for t, a in zip(in_title, in_abstract, strict=True)):
        return 0.0, ""
    score = sum(
        TITLE_WEIGHT * _saturate(len(t)) + ABSTRACT_WEIGHT * _saturate(len(a))
        for t, a in zip(in_title, in_abstract, strict=True)
    ) / len(concepts)
    if len(concepts) > 1 and not any(all(s) and _near(s) for _, s in per_field):
        score *= SCATTERED
    where = [
        name
        for name, spans in (("title", in_title), ("abstract", in_abstract))
        if all(spans) or (len(concepts) > 1 and any(spans))
    ]
    return score, " and ".join(where) or "title and abstract"


class Matcher:
    """The week's papers, indexed once, scored against any number of topics."""

    def __init__(self, papers: Sequence[Paper], *, window_end: dt.date, window_days: int = 7):
        self.papers = list(papers)
        self._fields = [(_Field(p.title), _Field(p.abstract)) for p in self.papers]
        top = max((p.upvotes for p in self.papers), default=0)
        self._prior = [
            0.3 * (math.log1p(p.upvotes) / math.log1p(top) if top else 0.0)
            + 0.1 * max(0.0, 1.0 - (window_end - p.featured_on).days / window_days)
            for p in self.papers
        ]
        self._cache: dict[str, dict[int, TopicHit]] = {}

    def topic_hits(self, topic: str) -> dict[int, TopicHit]:
        """Paper index -> hit, for papers at or above the threshold (cached per topic)."""
        key = topic.casefold()
        if key not in self._cache:
            concepts = compile_topic(key)
            hits = {}
            for index, (title, abstract) in enumerate(self._fields):
                score, where = relevance(concepts, title, abstract) if concepts else (0.0, "")
                if score >= THRESHOLD:
                    hits[index] = TopicHit(topic, round(score, 3), where)
            self._cache[key] = hits
        return self._cache[key]

    def picks(
        self, topics: Iterable[str], *, limit: int, exclude: AbstractSet[int] = frozenset()
    ) -> list[Pick]:
        """The best `limit` papers for a reader's topics, skipping paper ids in `exclude`."""
        by_paper: dict[int, list[TopicHit]] = defaultdict(list)
        for topic in topics:
            for index, hit in self.topic_hits(topic).items():
                by_paper[index].append(hit)
        picks = []
        for index, hits in by_paper.items():
            paper = self.papers[index]
            if paper.id in exclude:
                continue
            hits.sort(key=lambda h: -h.relevance)
            best = min(hits[0].relevance, TITLE_WEIGHT + ABSTRACT_WEIGHT) / 3.0
            picks.append(Pick(paper, round(0.6 * best + self._prior[index], 4), hits))
        picks.sort(key=lambda p: (-p.score, -p.paper.upvotes, p.paper.arxiv_id))
        return picks[:limit]
