"""Readers who teach a topic by example (`newsletter/match/taught.py`), simulated on the blind
set: `newsletter eval relevance --examples`.

The blind corpus is split by date: papers featured before CUT are the past, the rest are the
weeks scored. For each topic, a reader rates the first N papers of the topic's ranking over
the past, as its preview shows them, with the judgments as their truth: "Yes, like this" at
grade >= 1, "Not this" at 0. In the rows "+ 2 given" they also give two grade-2 papers of the
past that the preview did not show (the first by arXiv id), as a reader pastes papers they
already know. The engine then ranks the scored weeks for the topic with those
examples, and P@5, R@10 and nDCG@10 are scored as on any set. With 0 ratings, and for a topic
whose ratings hold fewer than `taught.MIN_LIKES` likes, it is the engine without examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from benchmarks.relevance import reasons
from benchmarks.relevance.evaluate import Scores, load_blind, macro, score, space_of
from newsletter.match import feedback, taught
from newsletter.match.engine import Matcher
from newsletter.match.semantic import Space
from newsletter.models import Paper

CUT = dt.date(2026, 2, 1)
RATINGS = (0, 3, 5, 10)
GIVEN = 2


def _matcher(papers: Sequence[Paper], space: Space, row: dict[int, int]) -> Matcher:
    """The papers as one issue, with their rows of the whole corpus' `space`."""
    end = max(p.featured_on for p in papers)
    days = (end - min(p.featured_on for p in papers)).days + 1
    vectors = space.vectors[[row[id(p)] for p in papers]]
    return Matcher(papers, window_end=end, window_days=days, space=Space(space.encoder, vectors))


def run(shared: Path, ratings: Sequence[int] = RATINGS) -> dict[str, dict[str, object]]:
    """Per half of the blind set and number of ratings: the macro figures on the scored
    weeks, how many topics had enough likes to be taught, and the untrue reasons."""
    papers, grades, halves = load_blind(shared)
    space = space_of(papers)
    if space is None:
        raise RuntimeError("examples need the embedding model, which could not be loaded")
    row = {id(p): n for n, p in enumerate(papers)}
    past = _matcher([p for p in papers if p.featured_on < CUT], space, row)
    scored = _matcher([p for p in papers if p.featured_on >= CUT], space, row)
    out: dict[str, dict[str, object]] = {}
    runs = [(count, 0) for count in ratings] + [(count, GIVEN) for count in ratings if count]
    for half, topics in halves.items():
        for count, given in runs:
            rated = {t: _rate(past, t, grades[t], count, space, row, given) for t in topics}
            name = f"blind {half}, {count} ratings" + (f" + {given} given" if given else "")
            out[name] = _scored(scored, rated, grades)
    return out


def _scored(
    scored: Matcher, rated: dict[str, tuple[taught.Marked, ...]], grades: dict[str, dict[str, int]]
) -> dict[str, object]:
    """Each topic ranked on the scored weeks with its reader's ratings as examples."""
    scores: dict[str, Scores] = {}
    seen, untrue = 0, []
    for topic, marked in rated.items():
        profile = feedback.Profile(examples={topic.casefold(): taught.Examples(marked)})
        picks = scored.picks([topic], limit=10, profile=profile)
        scores[topic] = score([p.paper.arxiv_id for p in picks], grades[topic])
        liked = {m.title for m in marked if m.value > 0}
        for pick in picks:
            for hit in pick.hits:
                seen += 1
                if (why := reasons.untrue(hit.reason, pick.paper, liked)) is not None:
                    untrue.append(f"{topic} / {pick.paper.arxiv_id}: {why}")
    return {
        "topics": len(rated),
        "taught": sum(taught.Examples(m).ready for m in rated.values()),
        "macro": macro(scores),
        "reasons": {"untrue": len(untrue), "reasons": seen, "examples": untrue[:10]},
    }


def _rate(
    past: Matcher,
    topic: str,
    grades: dict[str, int],
    count: int,
    space: Space,
    row: dict[int, int],
    given: int = 0,
) -> tuple[taught.Marked, ...]:
    """The reader's answers to the first `count` papers of the topic's preview of the past,
    and the `given` grade-2 papers of the past it did not show."""
    if not count:
        return ()
    shown = [p.paper for p in past.picks([topic], limit=count)]
    seen = {p.arxiv_id for p in shown}
    best = [p for p in past.papers if grades.get(p.arxiv_id) == 2 and p.arxiv_id not in seen]
    missed = sorted(best, key=lambda p: p.arxiv_id)
    return tuple(
        taught.Marked(p.id or 0, p.title, 1 if grades.get(p.arxiv_id, 0) else -1,
                      space.vectors[row[id(p)]])
        for p in shown + missed[:given]
    )  # fmt: skip
