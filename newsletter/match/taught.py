"""A topic taught by example: the papers a reader marked under one of their topics ("Yes, like
this", "Not this"), and their votes on the picks it brought, train a model of that topic for
that reader (`digest/compose.profiles` gathers them).

The model is Scholar Inbox's and arxiv-sanity's kind: a logistic regression with an L2 penalty
over the papers' vectors (centred on the week, as votes are, and taken along the week's
AXES principal axes, which costs far less and fits a handful of examples no worse), trained on
the reader's liked papers against their "not this" papers and a sample of the week's papers,
taken as not wanted since most of a week is not about any one topic. The likes weigh as much
as all the rest together.

How it blends with the topic (`Matcher.picks`): the model's probability p that the reader
wants a paper moves the paper's closeness to the topic by TEACH x (p - 1/2):
- a word hit stays a hit (a paper that names the topic still counts), ranked up or down;
  as votes do, the examples move the first `feedback.REACH` x issue size of the topic's
  word hits, never one from its tail;
- a paper the words missed is a pick when its closeness, so moved, reaches the model's floor,
  the same floor as without examples, so a week with nothing close still sends nothing;
- a paper marked "not this" is never picked for the topic.
With fewer than MIN_LIKES likes the topic ranks exactly as it would without examples.
Examples do not fade as votes do; the reader removes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsletter.match.semantic import Space

MIN_LIKES = 3
TEACH = 0.3  # a sure "yes" adds 0.15 to a paper's closeness to the topic, a sure "no" takes it
NEGATIVES = 200  # of the week's papers, as the sample of what the reader does not want
PENALTY = 1.0  # L2, against fitting a handful of examples exactly
STEPS = 6  # Newton steps at most; the penalty makes a few enough
AXES = 32  # the week's principal axes the model is trained along: fewer fit a handful better


@dataclass(frozen=True)
class Marked:
    """One example, with the paper's vector from the week's model."""

    paper_id: int
    title: str
    value: int  # +1 like, -1 not
    vector: np.ndarray


@dataclass(frozen=True)
class Examples:
    """The examples a reader gave one topic."""

    marked: tuple[Marked, ...]

    @property
    def liked(self) -> tuple[Marked, ...]:
        return tuple(m for m in self.marked if m.value > 0)

    @property
    def ready(self) -> bool:
        return len(self.liked) >= MIN_LIKES

    @property
    def unwanted(self) -> frozenset[int]:
        return frozenset(m.paper_id for m in self.marked if m.value < 0)


class Model:
    """The topic's model, trained on the week's space: every paper's probability of being
    wanted, and which liked paper each is closest to."""

    def __init__(self, space: Space, examples: Examples) -> None:
        axes, week = space.principal(AXES)
        liked = space.centred(np.stack([m.vector for m in examples.liked])) @ axes
        nots = [m.vector for m in examples.marked if m.value < 0]
        sample = week[:: max(1, len(week) // NEGATIVES)][:NEGATIVES]
        others = np.vstack([space.centred(np.stack(nots)) @ axes, sample]) if nots else sample
        features = np.vstack([liked, others])
        wanted = np.zeros(len(features))
        wanted[: len(liked)] = 1.0
        weights = np.full(len(features), 0.5 * len(features) / len(others))
        weights[: len(liked)] = 0.5 * len(features) / len(liked)
        coef, bias = _fit(features, wanted, weights)
        self.probability = 1.0 / (1.0 + np.exp(-(week @ coef + bias)))
        self._liked, self._titles, self._axes = liked, [m.title for m in examples.liked], axes

    def lift(self) -> np.ndarray:
        """Per paper of the week, how far the model moves its closeness to the topic."""
        return TEACH * (self.probability - 0.5)

    def nearest_like(self, row: np.ndarray) -> str:
        """The title of the liked paper closest to a paper (its centred vector)."""
        return self._titles[int(np.argmax(self._liked @ (row @ self._axes)))]


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted logistic regression, L2-penalised (not the intercept), by Newton's method."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    penalty = np.diag(np.r_[np.full(d, PENALTY), 0.0])
    beta = np.zeros(d + 1)
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(xb @ beta)))
        gradient = xb.T @ (w * (p - y)) + penalty @ beta
        hessian = (xb * (w * p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-4:
            break
    return beta[:-1], float(beta[-1])
