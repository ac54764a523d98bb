"""Readers' votes in the ranking: "More like this" pulls up the week's papers close to the
liked paper, "Not for me" pushes down those close to the disliked one.

The rule (Rocchio-style, one term per vote). For each of a reader's matched papers p:

    nudge(p) = clip( sum over votes v of  sign(v) * decay(v) * near(p, v),  -1, 1 )

- sign is +1 for "More like this", -1 for "Not for me";
- decay halves every HALF_LIFE_WEEKS weeks after the vote, so one vote does not rule forever;
- near is 0 up to a centred cosine of NEAR_FROM (about the 95th percentile of two papers of
  a week), rising to 1 at NEAR_FULL (a paper's usual nearest neighbour or closer).

The engine adds WEIGHT * nudge to a pick's score, and a nudge of at least TIER in size moves
the pick across the line between word hits and picks by meaning: a strong dislike ranks a
paper after every other pick, a strong like ranks one found by meaning among the word hits.
A reader with no votes gets a nudge of 0 everywhere, which is exactly the ranking without
feedback. Votes only reorder what the reader's topics matched, within the first REACH x
issue size of each topic's ranking (50 for an issue of 10); they add no papers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from newsletter.match import taught
from newsletter.match.interests import Interest
from newsletter.match.semantic import Space

HALF_LIFE_WEEKS = 4.0
NEAR_FROM, NEAR_FULL = 0.2, 0.5
WEIGHT = 0.5  # word hits' scores span about 0.15 to 1.0
TIER = 0.5
REACH = 5  # votes reorder each topic's best REACH x issue size hits (the rest stay below)
LIKE, DISLIKE = 1, -1


@dataclass(frozen=True)
class Voted:
    """One vote, with the voted paper's vector from the week's model."""

    title: str
    value: int
    voted_at: dt.datetime
    vector: np.ndarray


class Nudge(NamedTuple):
    amount: float  # -1 to 1
    like: str = ""  # the title of the liked paper that pulled the pick up most


@dataclass(frozen=True)
class Profile:
    """What a reader told the engine beyond their topics: their votes, each topic's examples
    (by the topic, casefolded), and their exclusions (the "never" list)."""

    votes: tuple[Voted, ...] = ()
    examples: Mapping[str, taught.Examples] = field(default_factory=dict)
    never: tuple[Interest, ...] = ()

    @property
    def taught(self) -> bool:
        """Whether votes or examples move this reader's ranking (theirs alone, not shared)."""
        return bool(self.votes or self.examples)

    def weights(self, as_of: dt.date) -> np.ndarray:
        """sign * decay of each vote, on the day of the issue."""
        ages = np.array([max(0, (as_of - v.voted_at.date()).days) for v in self.votes], float)
        signs = np.array([v.value for v in self.votes], dtype=float)
        return signs * 0.5 ** (ages / (7 * HALF_LIFE_WEEKS))


def nudges(space: Space, profile: Profile, indexes: list[int], as_of: dt.date) -> dict[int, Nudge]:
    """Paper index (in `space`) -> its nudge, for the indexes any vote moves."""
    if not profile.votes or not indexes:
        return {}
    voted = space.centred(np.stack([v.vector for v in profile.votes]))
    closeness = space.papers_centred[indexes] @ voted.T  # one row per paper, one column per vote
    near = np.clip((closeness - NEAR_FROM) / (NEAR_FULL - NEAR_FROM), 0.0, 1.0)
    pull = near * profile.weights(as_of)
    amounts = np.clip(pull.sum(axis=1), -1.0, 1.0)
    moved = np.flatnonzero(amounts)
    best = pull[moved].argmax(axis=1)  # the vote that pulls each moved paper up most
    liked = (amounts[moved] > 0) & (pull[moved, best] > 0)
    return {
        indexes[row]: Nudge(amount, profile.votes[vote].title if like else "")
        for row, amount, vote, like in zip(
            moved.tolist(), amounts[moved].tolist(), best.tolist(), liked.tolist(), strict=True
        )
    }
