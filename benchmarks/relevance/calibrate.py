"""Fit a model's three numbers (`checkpoint.Calibration`) on a judged set's tune half, as the
shipped models' were fitted: every setting of a grid is scored with the real engine, and of
those that return nothing on the topics with no relevant paper, the one with the largest
P@5 + R@10 wins (ties: the larger nDCG@10, which also weighs the order and the grade-1 papers,
then the higher floor, which returns less). `newsletter model calibrate` runs it from a clone."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.relevance.evaluate import evaluate, load_judged_folder, macro
from newsletter.match import semantic
from newsletter.match.checkpoint import Calibration
from newsletter.match.engine import Matcher

FLOORS = np.round(np.arange(0.30, 0.801, 0.05), 2).tolist()
BONUSES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
AGREEMENTS = [0.1, 0.2, 0.3, 0.4, 0.5]


def fit(
    encoder: semantic.Encoder, judged: Path, shared: Path
) -> tuple[Calibration, dict[str, Any]]:
    """The best calibration of `encoder` on the tune half of the judged set in `judged`, and
    what it scored there."""
    papers, grades, halves = load_judged_folder(judged, shared)
    tune = {topic: grades[topic] for topic in halves["tune"] if topic in grades}
    if not tune or not papers:
        raise ValueError(f"{judged}: no judged tune topics or no papers found under {shared}")
    end = max(p.featured_on for p in papers)
    base = Matcher(papers, window_end=end, space=semantic.Space(encoder, encoder.papers(papers)),
                   window_days=(end - min(p.featured_on for p in papers)).days + 1)  # fmt: skip
    encoder.warm(tune)
    best: tuple[tuple[float, float, float], Calibration, dict[str, float]] | None = None
    for floor, bonus, agreement in itertools.product(FLOORS, BONUSES, AGREEMENTS):
        calibration = Calibration(floor=floor, bonus=bonus, agreement=agreement)
        matcher = base.recalibrated(calibration)
        scores = macro(evaluate(lambda t, m=matcher: _ranked(m, t), tune))
        if scores["empty_returned"] > 0:
            continue
        key = rule_key(scores, floor)
        if best is None or key > best[0]:
            best = (key, calibration, scores)
    if best is None:
        raise ValueError("no setting of the grid returns nothing on the no-match topics")
    _, calibration, scores = best
    fitted = {
        "judged": str(judged), "tune_topics": len(tune), "papers": len(papers),
        "p5": round(scores["p5"], 3), "r10": round(scores["r10"], 3),
        "ndcg10": round(scores["ndcg10"], 3), "date": dt.date.today().isoformat(),
    }  # fmt: skip
    return calibration, fitted


def rule_key(scores: dict[str, float], floor: float) -> tuple[float, float, float]:
    """How the rule orders a grid's settings: P@5 + R@10, then nDCG@10, then the floor."""
    return (round(scores["p5"] + scores["r10"], 6), round(scores["ndcg10"], 6), floor)


def _ranked(matcher: Matcher, topic: str) -> list[str]:
    return [p.paper.arxiv_id for p in matcher.picks([topic], limit=10)]
