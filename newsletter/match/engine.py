"""The matching engine: which of the week's papers each reader gets, best first, and why.

A topic is compiled into concepts (a vocabulary term or a single word), each a set
of equivalent stem sequences. By words, a paper is relevant only where the topic stands
in it as a phrase: its concepts side by side, in either order, with at most one other
word between ("evaluation of large language models" for "LLM evaluation"). Words
scattered over a field are not a word hit; meaning alone may still pick the paper (below).
Per field (title, the source's AI summary and keywords, abstract) the phrase's
occurrences saturate BM25-style and long abstracts are length-normalised. By words
alone, one passing mention in the abstract stays below the threshold, so a thin week
sends fewer papers rather than junk.

The reason of a pick quotes the paper: its own words where the topic stands, and in which
field ("“Evaluating Large Language Models” in the title"), or for a pick by meaning the
paper's keyword nearest the topic, else its title.

With an embedding model (`semantic`), meaning widens what the words find, two ways:
- a paper where the topic stands but below the threshold (a passing mention in an arXiv
  abstract, which has no AI summary to repeat it) is a word hit when meaning agrees: its
  cosine to the topic is at least the model's `agreement`;
- a paper the words missed still gets in on meaning alone when its cosine to the topic,
  plus `bonus` times the share of the topic's words it does hold, reaches the model's
  `floor`: papers that say "GNN" for "graph learning", or only the distinctive word of a
  two-word topic.
A topic that is the name of an arXiv subject class ("number theory") also finds the papers
filed under it, which often never say the words (`_listed`). A word hit always ranks above a
pick by meaning, and a topic nothing is close to still gets nothing. Each kind of model has
its own three numbers (`semantic.Calibration`), chosen with MENTION on the tune half of the
blind judged set (benchmarks/relevance/README.md).

Relevance is then blended with trending (upvotes) and recency. Each distinct topic is
scored once per issue, however many readers share it. A reader's exclusions ("never"
topics and authors) bar every paper they match, by words or by meaning, and their votes
nudge the rest (`feedback`).
"""

from __future__ import annotations

import copy
import datetime as dt
import heapq
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from newsletter.match import feedback, taught, vocabulary
from newsletter.match.interests import Author, Category, Interest, Topic
from newsletter.match.semantic import STATIC, Calibration, Space
from newsletter.models import Paper
from newsletter.text import BREAK, fold, spaced, stems, words

Alt = tuple[str, ...]
Concept = tuple[Alt, ...]

THRESHOLD = 0.7  # a title hit, the topic in abstract and summary, or thrice in the abstract
FIELDS = (("title", 2.0), ("summary", 1.0), ("abstract", 1.0))
MAX_RELEVANCE = sum(weight for _, weight in FIELDS)
_FIELD_WEIGHTS = np.array([weight for _, weight in FIELDS])
K1, B = 1.2, 0.75  # BM25's saturation and length normalisation (abstract only)
GAP = 1  # other words allowed between neighbouring words of a topic ("evaluation of LLMs")
AUTHOR_RELEVANCE = 2.0
# A paper filed under the arXiv class a topic names (its first, primary class) counts as a
# title hit; one only cross-listed there, as a mention: only where meaning agrees.
LISTED_RELEVANCE = 2.0
LISTED = "categories"  # TopicHit.where of a pick by its arXiv class
MENTION = 0.4  # a word score this high (one mention in an abstract) counts if meaning agrees
_WORDS = re.compile(r"[a-z0-9]+")
MEANING = "meaning"  # TopicHit.where of a pick by meaning
EXAMPLES = "examples"  # TopicHit.where of a pick the reader's examples for the topic brought
WORDS = "words"  # TopicHit.where of a word hit not yet quoted (`Matcher._hits_of` quotes it)
# A topic's picks by meaning, closest first, kept: the largest issue (50) can use no more,
# and a vague topic close to most of the week would otherwise weigh on every reader's picks.
MEANING_KEPT = 50
# A hit's place in a ranking (`Matcher._rank_key`): tier, -score, -upvotes, arXiv id.
RankKey = tuple[int, float, int, str]
# Sort keys kept per interest, from its best hit: what picks read for most readers.
_KEYED = 32


@dataclass(frozen=True, slots=True)
class TopicHit:
    topic: str
    relevance: float
    where: str  # the quote's field ("title", "AI summary", "keywords", "abstract", "author
    # list", "categories"), WORDS before it is quoted, MEANING or EXAMPLES
    phrase: str = ""  # the paper's own words: where the topic stands, or nearest it in meaning;
    # for EXAMPLES, the title of the liked example nearest the paper
    kind_of: str = ""  # the vocabulary entry the quoted words are a kind of

    @property
    def reason(self) -> str:
        if self.where == EXAMPLES:
            return f"like “{self.phrase}”, which you marked"
        if self.where == MEANING:
            said = f": the paper's “{self.phrase}”" if self.phrase else ""
            return f"close in meaning to “{self.topic}”{said}"
        if self.where == LISTED and (name := vocabulary.CATEGORIES.get(self.phrase)):
            yours = "" if _same_words(name, self.topic) or self.phrase == self.topic else (
                f" (your topic “{self.topic}”)")  # fmt: skip
            return f"“{self.phrase}” in the {LISTED}, arXiv's “{name}”{yours}"
        if not self.phrase:  # a record from before reasons quoted the paper
            return f"“{self.topic}” in the {self.where}"
        kind = f", a kind of “{self.kind_of}”" if self.kind_of else ""
        said = self.kind_of or self.phrase  # what the reason names, the topic if it is one
        yours = "" if _same_words(said, self.topic) else f" (your topic “{self.topic}”)"
        return f"“{self.phrase}” in the {self.where}{kind}{yours}"

    @property
    def public_reason(self) -> str:
        """The reason as the shareable web copy shows it: the paper's words only, nothing of
        the reader's topics ("" for a record that quoted none)."""
        if not self.phrase or self.where == EXAMPLES:
            return ""
        if self.where == MEANING:
            return f"the paper's “{self.phrase}”, close in meaning to a topic of the reader's"
        if self.where == LISTED and (name := vocabulary.CATEGORIES.get(self.phrase)):
            return f"“{self.phrase}” in the {LISTED}, arXiv's “{name}”"
        return f"“{self.phrase}” in the {self.where}"


@dataclass(slots=True)
class Pick:
    paper: Paper
    score: float
    hits: list[TopicHit] = field(default_factory=list)
    like: str = ""  # the title of a paper the reader liked that pulled this one up

    @property
    def why(self) -> str:
        liked = [f"like “{self.like}”, which you liked"] if self.like else []
        return "; ".join([h.reason for h in self.hits] + liked)

    @property
    def public_why(self) -> str:
        """`why` for the web copy, whose link gets shared: no topic, no vote of the reader."""
        return "; ".join(dict.fromkeys(r for h in self.hits if (r := h.public_reason)))

    def as_record(self) -> dict[str, Any]:
        """What the ledger keeps of a pick, enough to show the digest again later."""
        return {
            "paper_id": self.paper.id,
            "score": self.score,
            "hits": [
                {"topic": h.topic, "relevance": h.relevance, "where": h.where}
                | ({"phrase": h.phrase} if h.phrase else {})
                | ({"kind_of": h.kind_of} if h.kind_of else {})
                for h in self.hits
            ],
        } | ({"like": self.like} if self.like else {})

    @classmethod
    def from_record(cls, record: dict[str, Any], paper: Paper) -> Pick:
        hits = [TopicHit(**h) for h in record.get("hits", [])]
        return cls(paper, record["score"], hits, record.get("like", ""))


@lru_cache(maxsize=16_384)  # a reason's phrase and topic: asked for every pick shown
def _same_words(a: str, b: str) -> bool:
    """The same words but for case, hyphens and a plural -s/-es: no need to repeat the topic."""
    first, second = _WORDS.findall(fold(a)), _WORDS.findall(fold(b))
    return len(first) == len(second) and all(
        x == y or x in (y + "s", y + "es") or y in (x + "s", x + "es")
        for x, y in zip(first, second, strict=True)
    )


def _alts(forms: Iterable[str]) -> tuple[Alt, ...]:
    return tuple(dict.fromkeys(tuple(stems(form)) for form in forms if stems(form)))


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[Alt, Concept], dict[tuple[Concept, Alt], str]]:
    """Every form of every entry as stems -> the concept a topic naming it finds (its
    entry's forms, and its kinds), and which of a concept's forms are a kind of what."""
    table: dict[Alt, Concept] = {}
    kinds: dict[tuple[Concept, Alt], str] = {}
    for entry in vocabulary.ENTRIES:
        forms, narrower = _alts(entry.forms), _alts(entry.kinds)
        concept = forms + tuple(k for k in narrower if k not in forms)
        for form in forms:
            table[form] = concept
        for kind in narrower:
            table.setdefault(kind, (kind,))  # a topic naming a kind finds that kind only
            kinds[concept, kind] = entry.forms[0]
    return table, kinds


@lru_cache(maxsize=1)
def _classes() -> dict[tuple[str, ...], frozenset[str]]:
    """arXiv's class names as stems -> the codes of the classes so named ("machine
    learning": cs.LG and stat.ML)."""
    named: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for code, name in vocabulary.CATEGORIES.items():
        named[tuple(stems(name))].add(code)
    return {name: frozenset(codes) for name, codes in named.items()}


@lru_cache(maxsize=50_000)
def compile_topic(topic: str) -> tuple[Concept, ...]:
    """Split a topic into concepts, taking the longest vocabulary term at each step."""
    stemmed, vocab = stems(topic), _vocabulary()[0]
    longest = max((len(k) for k in vocab), default=1)
    concepts: list[Concept] = []
    i = 0
    while i < len(stemmed):
        for size in range(min(longest, len(stemmed) - i), 0, -1):
            key = tuple(stemmed[i : i + size])
            if key in vocab:
                concepts.append(vocab[key])
                i += size
                break
        else:
            concepts.append(((stemmed[i],),))
            i += 1
    return tuple(concepts)


class _Field:
    """One field of one paper: per position the word's forms, how far it stands from the word
    before, and where each form occurs. A field of several texts (AI summary, keywords)
    keeps them apart: no phrase spans two."""

    __slots__ = ("apart", "forms", "length", "positions")

    def __init__(self, *texts: str) -> None:
        self.forms: list[tuple[str, ...]] = []
        apart: list[int] = []
        for text in texts:
            found, distances = spaced(text)
            self.forms += found
            apart += [BREAK, *distances[1:]] if distances else []
        self.apart = bytes(min(a, 255) for a in apart)  # bytes: a week holds many
        self.length = len(self.forms)
        positions: dict[str, list[int]] = defaultdict(list)
        for index, forms in enumerate(self.forms):
            for form in forms:
                positions[form].append(index)
        # Tuples, not lists: a week of papers holds hundreds of thousands of these.
        self.positions: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in positions.items()}

    def spans(self, concept: Concept) -> tuple[Span, ...]:
        """Where any form of the concept occurs: one span per start, the longest form."""
        found: dict[int, int] = {}
        for alt in concept:
            if len(alt) == 1:  # most forms are one word: no later words to check
                for start in self.positions.get(alt[0], ()):
                    found.setdefault(start, start + 1)
                continue
            for start in self.positions.get(alt[0], ()):
                end = start + len(alt)
                if end <= self.length and all(
                    alt[k] in self.forms[start + k] for k in range(1, len(alt))
                ):
                    found[start] = max(end, found.get(start, 0))
        # In no order: nothing reads them in order. Each span one shared tuple: a week's
        # index holds millions of them, of a few thousand values.
        return tuple(_SPANS.setdefault(span, span) for span in found.items())


Span = tuple[int, int]  # (start, end) in a field's words
_SPANS: dict[Span, Span] = {}


def _together(spans: Sequence[Sequence[Span]], apart: bytes) -> list[Span]:
    """Where the concepts (each one's occurrences in a field whose words stand `apart`)
    stand together as one phrase: side by side in any order, at most GAP other words between
    neighbours, none across a sentence break. One span per occurrence, the shortest, in
    order, none overlapping."""
    if not all(spans):
        return []
    if len(spans) == 1:
        return sorted(spans[0])
    reach = sum(max(end - start for start, end in group) + GAP for group in spans)
    found: list[Span] = []
    for anchor in sorted(spans[0]):
        near = [[s for s in group if abs(s[0] - anchor[0]) <= reach] for group in spans[1:]]
        best: Span | None = None
        for others in itertools.product(*near):
            placed = sorted((anchor, *others))
            if all(_words_between(a, b, apart) <= GAP for a, b in itertools.pairwise(placed)):
                span = (placed[0][0], placed[-1][1])
                if best is None or span[1] - span[0] < best[1] - best[0]:
                    best = span
        if best is not None and (not found or best[0] >= found[-1][1]):
            found.append(best)
    return found


def _words_between(a: Span, b: Span, apart: bytes) -> int:
    """How many words stand between two spans (stopwords and sentence breaks counted), or
    more than GAP where they overlap."""
    if b[0] < a[1]:
        return GAP + 1
    return b[0] - a[1] + sum(apart[a[1] : b[0] + 1])


# Per field, where a concept occurs in a paper: one (start, end) per occurrence.
_Spans = tuple[tuple[Span, ...], ...]


class Matcher:
    """The week's papers, indexed once, scored against any number of topics."""

    def __init__(
        self,
        papers: Sequence[Paper],
        *,
        window_end: dt.date,
        window_days: int = 7,
        space: Space | None = None,
    ):
        self.papers = list(papers)
        self.space = space  # the papers' vectors, in this order; None matches by words only
        self._calibration = space.encoder.calibration if space is not None else STATIC
        self._fields = [
            (_Field(p.title), _Field(p.ai_summary or "", *p.ai_keywords), _Field(p.abstract))
            for p in self.papers
        ]
        self._avg_abstract = max(
            1.0, sum(f[2].length for f in self._fields) / max(1, len(self.papers))
        )
        index_of: dict[str, set[int]] = defaultdict(set)
        for index, fields in enumerate(self._fields):
            for f in fields:
                for form in f.positions:
                    index_of[form].add(index)
        # Tuples, not sets: a fifth of the memory, and only ever read whole.
        self._index = {form: tuple(papers) for form, papers in index_of.items()}
        top = max((p.upvotes for p in self.papers), default=0)
        self._prior = [
            0.3 * (math.log1p(p.upvotes) / math.log1p(top) if top else 0.0)
            + 0.1 * max(0.0, 1.0 - (window_end - p.featured_on).days / window_days)
            for p in self.papers
        ]
        self._authors: dict[str, set[int]] = defaultdict(set)
        for index, p in enumerate(self.papers):
            for name in p.authors:
                self._authors[_name_key(name)].add(index)
        self._meta = [(p.id, p.upvotes, p.arxiv_id) for p in self.papers]  # read per pick
        self._barred: dict[Interest, set[int]] = {}  # each exclusion's papers, by any closeness
        self._ranked: dict[Interest, _Ranked] = {}  # each interest's hits, scored once
        self._concepts: dict[Concept, dict[int, _Spans]] = {}
        self._strengths: dict[Concept, tuple[np.ndarray, np.ndarray]] = {}
        self._keywords: dict[int, np.ndarray] = {}
        self._quotes: dict[tuple[int, str], TopicHit] = {}
        self._closenesses: dict[str, np.ndarray] = {}  # per topic a reader taught (`_closeness`)

    def recalibrated(self, calibration: Calibration) -> Matcher:
        """The same week matched with other numbers (`newsletter model calibrate` tries
        hundreds): the index is shared, every topic is scored afresh."""
        other = copy.copy(self)
        other._calibration = calibration
        other._barred, other._ranked, other._quotes = {}, {}, {}
        other._closenesses = {}
        return other

    # --- scoring ------------------------------------------------------------------------

    def _occurrences(self, concept: Concept) -> dict[int, _Spans]:
        """Paper index -> where the concept occurs in each field, for every paper that has
        it; how strongly, as arrays beside it (`_strength`). Cached: concepts ("LLM",
        "agents") recur in many readers' topics."""
        if concept not in self._concepts:
            having = set().union(*(self._index.get(alt[0], set()) for alt in concept))
            found: dict[int, _Spans] = {}
            strengths: list[list[float]] = []
            for index in sorted(having):
                fields = self._fields[index]
                spans = tuple(f.spans(concept) for f in fields)
                if any(spans):
                    found[index] = spans
                    named = zip(spans, fields, FIELDS, strict=True)
                    strengths.append([self._saturate(len(s), f, name) for s, f, (name, _) in named])
            self._concepts[concept] = found
            indexes = np.fromiter(found, dtype=np.int64, count=len(found))
            self._strengths[concept] = (indexes, np.array(strengths).reshape(-1, len(FIELDS)))
        return self._concepts[concept]

    def _strength(self, concept: Concept) -> tuple[np.ndarray, np.ndarray]:
        """The papers holding the concept, as their indexes (ascending) and their saturated
        hits in each field (a row each), to score many candidates at once."""
        self._occurrences(concept)
        return self._strengths[concept]

    def _saturate(self, count: int, f: _Field, field_name: str) -> float:
        if not count:
            return 0.0
        norm = 1 - B + B * f.length / self._avg_abstract if field_name == "abstract" else 1.0
        return count * (K1 + 1) / (count + K1 * norm) / (K1 + 1)

    def _weights(self, occurrences: list[dict[int, _Spans]]) -> list[float]:
        # Rare concepts carry the topic; common ones ("model") only qualify it.
        return [math.log(1 + len(self.papers) / max(1, len(o))) for o in occurrences]

    def _score_topic(
        self, topic: str, concepts: Sequence[Concept], similarity: np.ndarray | None = None
    ) -> dict[int, TopicHit]:
        """Papers where the topic stands as a phrase: those at the threshold, and with the
        papers' cosines to the topic (`similarity`), those that mention it where meaning
        agrees.

        Every candidate's bound (its rarest concept's hits, as if each stood in the phrase)
        is computed at once; only those whose bound reaches their bar are read one by one
        for where the concepts stand."""
        occurrences = [self._occurrences(c) for c in concepts]
        strengths = [self._strength(c) for c in concepts]
        candidates = strengths[0][0]
        for indexes, _ in strengths[1:]:
            candidates = np.intersect1d(candidates, indexes, assume_unique=True)
        if not len(candidates):
            return {}
        # (concepts, candidates, fields): each concept's saturated hits per field
        sats = np.stack([s[np.searchsorted(i, candidates)] for i, s in strengths])
        bound = (_FIELD_WEIGHTS * sats.min(axis=0)).sum(axis=1)
        floor = np.full(len(candidates), THRESHOLD)
        if similarity is not None:
            floor[similarity[candidates] >= self._calibration.agreement] = MENTION
        hits = {}
        for n in np.flatnonzero(bound >= floor).tolist():
            index = int(candidates[n])
            score = float(bound[n])
            if len(concepts) > 1:
                score = self._phrase_score(index, [o[index] for o in occurrences])
            if score >= floor[n]:
                hits[index] = TopicHit(topic, round(score, 3), WORDS)
        return hits

    def _phrase_score(self, index: int, per_concept: list[_Spans]) -> float:
        """A paper's word score for a topic of several concepts: per field, the saturated
        count of the places where they stand together."""
        fields = self._fields[index]
        return sum(
            weight * self._saturate(len(_together([s[n] for s in per_concept], f.apart)), f, name)
            for n, ((name, weight), f) in enumerate(zip(FIELDS, fields, strict=True))
        )

    def topic_hits(self, interest: Interest | str) -> dict[int, TopicHit]:
        """Paper index -> hit, for papers at or above the threshold (cached per interest;
        a topic's case does not matter)."""
        return self._ranked_hits(interest)[0]

    def _ranked_hits(self, interest: Interest | str) -> _Ranked:
        """The interest's hits, their indexes best first (see `_rank_key`), and the sort keys
        of the first `_KEYED` of them: every reader of the interest needs those."""
        key = _cache_key(interest)
        if key not in self._ranked:
            hits = self._hits(Topic(interest) if isinstance(interest, str) else interest)
            keyed = sorted((self._rank_key(i, hit), i) for i, hit in hits.items())
            order, keys = [i for _, i in keyed], [k for k, _ in keyed[:_KEYED]]
            self._ranked[key] = _Ranked(hits, order, keys)
        return self._ranked[key]

    def _rank_key(
        self, index: int, hit: TopicHit, nudge: float = 0.0, lift: float = 0.0
    ) -> RankKey:
        """Ascending sort key of one hit. A paper with several hits ranks by its best: a word
        hit before any by meaning; trending lifts a paper the words found, and one found by
        meaning ranks by closeness; then upvotes, then arXiv id. A topic's examples `lift` a
        word hit (one by meaning has it in its closeness), a reader's votes `nudge` the
        score, and a strong nudge moves the paper's tier (`feedback`)."""
        _, upvotes, arxiv_id = self._meta[index]
        by_words = hit.where not in (MEANING, EXAMPLES)
        relevance = min(hit.relevance, MAX_RELEVANCE) / MAX_RELEVANCE
        score = 0.6 * relevance + (self._prior[index] + lift if by_words else 0.0)
        tier = 0 if by_words else 1
        if nudge:
            score += feedback.WEIGHT * nudge
            tier = 2 if nudge <= -feedback.TIER else 0 if nudge >= feedback.TIER else tier
        return (tier, -round(score, 4), -upvotes, arxiv_id)

    def barred(self, never: Iterable[Interest]) -> set[int]:
        """Indexes of the papers any of the reader's exclusions matches: by words, or by
        meaning at the same floor as a topic, however many (a topic keeps MEANING_KEPT)."""
        barred: set[int] = set()
        for interest in never:
            key = _cache_key(interest)
            if key not in self._barred:
                self._barred[key] = set(self._hits(key, kept=None))
            barred |= self._barred[key]
        return barred

    def _hits(self, interest: Interest, kept: int | None = MEANING_KEPT) -> dict[int, TopicHit]:
        if isinstance(interest, Author):
            name, key = interest.name.strip(), _name_key(interest.name)
            return {
                i: TopicHit(name, AUTHOR_RELEVANCE, "author list", written)
                for i in self._authors.get(key, set())
                for written in [a for a in self.papers[i].authors if _name_key(a) == key][:1]
            }
        if isinstance(interest, Category):
            code = interest.code.strip()
            return {
                i: TopicHit(code, AUTHOR_RELEVANCE, LISTED, listed)
                for i, p in enumerate(self.papers)
                for listed in [c for c in p.categories if c.lower() == code.lower()][:1]
            }
        concepts = compile_topic(interest.text.casefold())
        space = self.space if self.papers else None
        similarity = space.similarity(interest.text) if space is not None else None
        hits = self._score_topic(interest.text, concepts, similarity) if concepts else {}
        if similarity is not None:
            hits = self._by_meaning(interest.text, concepts, similarity, hits, kept) | hits
        for index, hit in self._listed(interest.text, similarity).items():
            old = hits.get(index)
            if old is None or old.where == MEANING or old.relevance < hit.relevance:
                hits[index] = hit
        return hits

    def _listed(self, topic: str, similarity: np.ndarray | None) -> dict[int, TopicHit]:
        """Papers filed under the arXiv classes the topic names (`categories.toml`): those
        whose primary class it is, and those cross-listed there where meaning agrees."""
        codes = _classes().get(tuple(stems(topic)))
        if not codes:
            return {}
        agreement = self._calibration.agreement
        found = {}
        for index, paper in enumerate(self.papers):
            listed = [c for c in paper.categories if c in codes]
            if not listed:
                continue
            if paper.categories[0] in codes:
                found[index] = TopicHit(topic, LISTED_RELEVANCE, LISTED, listed[0])
            elif similarity is not None and similarity[index] >= agreement:
                found[index] = TopicHit(topic, MENTION, LISTED, listed[0])
        return found

    def _by_meaning(
        self,
        topic: str,
        concepts: Sequence[Concept],
        similarity: np.ndarray,
        by_words: dict[int, TopicHit],
        kept: int | None = MEANING_KEPT,
    ) -> dict[int, TopicHit]:
        """Papers close enough in meaning to the topic (`similarity`: every paper's cosine
        to it) that its words did not find."""
        floor, bonus = self._calibration.floor, self._calibration.bonus
        near = [i for i in np.flatnonzero(similarity >= floor - bonus).tolist()
                if i not in by_words]  # fmt: skip
        shares = self._word_shares(concepts, near)
        closeness = {i: float(similarity[i]) + bonus * shares.get(i, 0.0) for i in near}
        close = [i for i in near if closeness[i] >= floor]
        found = {}
        if kept is not None:
            close = heapq.nlargest(kept, close, key=closeness.__getitem__)
        for index in close:
            # Below any word hit's relevance: a clear phrase hit ranks first. Its phrase is
            # found when the pick is shown (`_hits_of`): most hits never are.
            found[index] = TopicHit(
                topic, round(THRESHOLD * min(closeness[index], 1.0), 3), MEANING
            )
        return found

    def _word_shares(self, concepts: Sequence[Concept], indexes: list[int]) -> dict[int, float]:
        """Paper index -> the share of the topic's concepts it holds anywhere (`_shares`)."""
        if not concepts or not indexes:
            return {}
        return dict(zip(indexes, self._shares(concepts)[indexes].tolist(), strict=True))

    def _shares(self, concepts: Sequence[Concept]) -> np.ndarray:
        """Per paper, the share of the topic's concepts it holds anywhere, each weighted as in
        a word hit (rare ones more), from 0 to 1."""
        weights = self._weights([self._occurrences(c) for c in concepts])
        held = np.zeros(len(self.papers))
        for weight, concept in zip(weights, concepts, strict=True):
            held[self._strength(concept)[0]] += weight
        return held / sum(weights) if weights else held

    def _quoted(self, index: int, hit: TopicHit) -> TopicHit:
        """The hit with the paper's own words (once per topic and paper: every reader of the
        topic is shown the same)."""
        if hit.where not in (WORDS, MEANING):  # already says where: an author, EXAMPLES
            return hit
        if (index, hit.topic) not in self._quotes:
            quote = self._quote(index, hit.topic) if hit.where == WORDS else None
            if quote is None:  # by meaning
                quote = replace(hit, where=MEANING, phrase=self._nearest_phrase(index, hit.topic))
            self._quotes[index, hit.topic] = replace(quote, relevance=hit.relevance)
        quoted = self._quotes[index, hit.topic]
        # One relevance per topic, but where a reader's examples moved it (`_taught`).
        return (
            quoted
            if quoted.relevance == hit.relevance
            else replace(quoted, relevance=hit.relevance)
        )

    def _quote(self, index: int, topic: str) -> TopicHit | None:
        """Where the topic stands in the paper, as it is written there: the first of its
        title, AI summary, keywords and abstract that holds it."""
        concepts = compile_topic(topic.casefold())
        paper = self.papers[index]
        texts = [("title", paper.title), ("AI summary", paper.ai_summary or "")]
        texts += [("keywords", k) for k in paper.ai_keywords] + [("abstract", paper.abstract)]
        for where, text in texts:
            field = _Field(text)  # its words are `words(text)`'s, in the same order
            found = _together([field.spans(c) for c in concepts], field.apart)
            if not found:
                continue
            (start, end), placed = found[0], words(text)
            return TopicHit(topic, 0.0, where, text[placed[start][1] : placed[end - 1][2]],
                            _kind_of(concepts, field, found[0]))  # fmt: skip
        return None

    def _nearest_phrase(self, index: int, topic: str) -> str:
        """The paper's own keyword (from the source) closest in meaning to the topic, else
        its title."""
        keywords = self.papers[index].ai_keywords
        if keywords and self.space is not None:
            closeness = self._keyword_vectors(index) @ self.space.encoder.topic(topic)
            best = int(np.argmax(closeness))
            if closeness[best] >= self._calibration.floor:
                return keywords[best]
        return self.papers[index].title

    def _keyword_vectors(self, index: int) -> np.ndarray:
        assert self.space is not None
        if self.space.keywords is not None:  # stored at ingest
            return self.space.keywords[index].astype(np.float32)
        if index not in self._keywords:
            vectors = self.space.encoder.keywords([self.papers[index]])[0]
            self._keywords[index] = vectors.astype(np.float32)
        return self._keywords[index]

    def picks(
        self,
        interests: Iterable[Interest | str],
        *,
        limit: int,
        exclude: AbstractSet[int] = frozenset(),
        profile: feedback.Profile | None = None,
        as_of: dt.date | None = None,
    ) -> list[Pick]:
        """The best `limit` papers for a reader's interests, skipping paper ids in `exclude`
        and papers that match any of the reader's exclusions, nudged by their votes and
        taught by their examples (`profile`, as on the day `as_of`).

        A paper ranks by its best hit, so without votes only the first `limit` + the number
        skipped of each interest's ranked hits can make the top: readers' picks cost the same
        however many papers a popular topic matches. Votes reorder the first
        `feedback.REACH` x `limit` (+ skipped) of each interest's hits: a like lifts a
        neighbour from deeper in a topic's ranking, never from its tail."""
        interests = list(interests)
        barred = self.barred(profile.never if profile is not None else ())
        voted = profile is not None and bool(profile.votes) and self.space is not None
        depth = limit * (feedback.REACH if voted else 1) + len(exclude) + len(barred)
        reach = limit * feedback.REACH + len(exclude) + len(barred)
        taught_topics = self._taught(interests, profile, reach)
        found = [taught_topics.get(interest) or self._ranked_hits(interest)
                 for interest in interests]  # fmt: skip
        best: dict[int, RankKey] = {}
        best_hit: dict[int, tuple[TopicHit, float]] = {}  # and how far examples lift it
        for topic in found:
            if isinstance(topic, _Taught):
                ranked = [(i, hit, lift, self._rank_key(i, hit, lift=lift))
                          for i, (hit, lift) in topic.hits.items()]  # fmt: skip
            else:
                hits, order, keys = topic
                ranked = [(i, hits[i], 0.0, keys[n] if n < _KEYED else self._rank_key(i, hits[i]))
                          for n, i in enumerate(order[:depth])]  # fmt: skip
            for index, hit, lift, key in ranked:
                if index in barred or self._meta[index][0] in exclude:
                    continue
                if index not in best or key < best[index]:
                    best[index], best_hit[index] = key, (hit, lift)
        nudged: dict[int, feedback.Nudge] = {}
        if voted:
            assert profile is not None and self.space is not None
            nudged = feedback.nudges(self.space, profile, list(best), as_of or dt.date.today())
            # A nudge moves all of a paper's hits alike (and a word hit outscores any by
            # meaning), so its best hit stays its best.
            for index, nudge in nudged.items():
                hit, lift = best_hit[index]
                best[index] = self._rank_key(index, hit, nudge.amount, lift)
        top = heapq.nsmallest(limit, best, key=best.__getitem__)
        return [Pick(self.papers[i], -best[i][1], self._hits_of(i, found),
                     nudged[i].like if i in nudged else "") for i in top]  # fmt: skip

    def _hits_of(self, index: int, found: list[_Taught | _Ranked]) -> list[TopicHit]:
        """Every hit of one paper among the interests' (`found`, as `picks` has them), most
        relevant first, a pick by meaning with the paper's phrase nearest its topic."""
        hits = []
        for topic in found:
            if isinstance(topic, _Taught):
                hit = topic.hits.get(index, (None, 0.0))[0]
            else:
                hit = topic[0].get(index)
            if hit is not None and hit.where == EXAMPLES:  # named now, for the picks shown
                assert self.space is not None and isinstance(topic, _Taught)
                row = self.space.papers_centred[index]
                hit = replace(hit, phrase=topic.model.nearest_like(row))
            if hit is not None:
                hits.append(self._quoted(index, hit))
        return sorted(hits, key=lambda h: -h.relevance)

    def _taught(
        self, interests: list[Interest | str], profile: feedback.Profile | None, reach: int
    ) -> dict[Interest | str, _Taught]:
        """Per topic the reader taught by examples (`taught`), its hits so taught, each with
        how far the examples lift it: the topic's word hits, and the papers whose closeness
        to the topic, moved by the model, reaches the floor. None of the papers marked "not
        this" for the topic."""
        if profile is None or not profile.examples or self.space is None or not self.papers:
            return {}
        found: dict[Interest | str, _Taught] = {}
        for interest in interests:
            topic = Topic(interest) if isinstance(interest, str) else interest
            if not isinstance(topic, Topic):
                continue
            examples = profile.examples.get(topic.text.casefold().strip())
            if examples is not None and examples.ready:
                found[interest] = self._taught_topic(topic, examples, reach)
        return found

    def _taught_topic(self, topic: Topic, examples: taught.Examples, reach: int) -> _Taught:
        """The topic's word hits, each with its lift, and the MEANING_KEPT papers whose
        closeness to the topic, moved by the model's lift, reaches the floor."""
        assert self.space is not None
        model = taught.Model(self.space, examples)
        lift = model.lift()
        hits, order, _ = self._ranked_hits(topic)
        # As votes do, the examples lift a word hit from the first `reach` of the topic's
        # ranking, never from its tail.
        ranked = [i for i in order[:reach] if hits[i].where == WORDS]
        found = {i: (hits[i], float(lift[i])) for i in ranked}
        closeness = self._closeness(topic) + lift
        close = np.flatnonzero(closeness >= self._calibration.floor)
        if len(close) > MEANING_KEPT:
            close = close[np.argpartition(-closeness[close], MEANING_KEPT)[:MEANING_KEPT]]
        for index, close_to in zip(close.tolist(), closeness[close].tolist(), strict=True):
            hit = TopicHit(topic.text, round(THRESHOLD * min(close_to, 1.0), 3), MEANING)
            if index not in hits:  # brought by the examples alone; named when shown
                hit = replace(hit, where=EXAMPLES)
            found[index] = (hit, 0.0)  # its closeness holds the lift
        unwanted = examples.unwanted
        return _Taught({i: v for i, v in found.items() if self._meta[i][0] not in unwanted}, model)

    def _closeness(self, topic: Topic) -> np.ndarray:
        """Every paper's closeness to the topic as `_by_meaning` weighs it (its cosine, plus
        `bonus` x the share of the topic's words it holds; -inf for a word hit), once per
        topic: readers who taught it by examples move it each by their own lift."""
        key = topic.text.casefold()
        if key not in self._closenesses:
            assert self.space is not None
            held = self._shares(compile_topic(key))
            closeness = self.space.similarity(topic.text) + self._calibration.bonus * held
            closeness = closeness.astype(np.float32)  # one per taught topic: kept small
            words = [i for i, hit in self.topic_hits(topic).items() if hit.where == WORDS]
            closeness[words] = -np.inf
            self._closenesses[key] = closeness
        return self._closenesses[key]


class _Ranked(NamedTuple):
    """An interest's hits, their indexes best first, and the first ones' sort keys."""

    hits: dict[int, TopicHit]
    order: list[int]
    keys: list[RankKey]


class _Taught(NamedTuple):
    """A topic as one reader taught it: its hits, each with how far the examples lift it,
    and the model (to name the liked paper a pick is like)."""

    hits: dict[int, tuple[TopicHit, float]]
    model: taught.Model


def _cache_key(interest: Interest | str) -> Interest:
    """Interests cached as one: a topic's case does not matter."""
    if isinstance(interest, str):
        interest = Topic(interest)
    return Topic(interest.text.casefold()) if isinstance(interest, Topic) else interest


def _name_key(name: str) -> str:
    return " ".join(fold(name).replace(".", " ").split())


def _kind_of(concepts: Sequence[Concept], field: _Field, span: Span) -> str:
    """The vocabulary entry a concept's words in `span` are a kind of ("model compression"
    for "weight pruning"), if any."""
    kinds = _vocabulary()[1]
    for concept in concepts:
        for alt in concept:
            name = kinds.get((concept, alt))
            if name and any(
                all(alt[k] in field.forms[start + k] for k in range(len(alt)))
                for start in range(span[0], span[1] - len(alt) + 1)
            ):
                return name
    return ""
