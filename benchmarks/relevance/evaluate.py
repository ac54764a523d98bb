"""Relevance evaluation (development code, not shipped): the real matching engine (words and
meaning, as the digests use it) against the judged sets in benchmarks/relevance/, side by
side with the same engine by words only and a plain substring baseline, plus the speed and
memory of embedding a large week and scoring it against many distinct topics. `newsletter
eval relevance` runs it from a clone.

Metrics, per topic, over the engine's ranked picks (best first):
- P@5: share of the shown top min(5, returned) that are graded 1 or 2 (a topic with
  relevant papers but nothing returned scores 0);
- R@10: grade-2 papers in the top 10, out of min(10, number of grade-2 papers);
- nDCG@10 with gains 2^grade - 1;
- for topics with no relevant paper: how many papers were returned (should be 0);
- per set, the engine's untrue reasons: of every reason under its top 10 for every topic,
  those that claim words the paper does not hold (`reasons.py`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import synthetic
from benchmarks.relevance import reasons
from newsletter.ingest import files
from newsletter.match import semantic
from newsletter.match.engine import Matcher, Pick
from newsletter.models import Paper
from newsletter.settings import get_settings

Ranker = Callable[[str], list[str]]


@dataclass(frozen=True)
class Scores:
    p5: float | None  # None for topics with nothing relevant
    r10: float | None
    ndcg10: float | None
    returned: int


def load_judged(judgments: Path, root: Path) -> tuple[list[Paper], dict[str, dict[str, int]]]:
    """The judged topics and their corpus (file names relative to the clone's `root`)."""
    data = json.loads(judgments.read_text())
    papers: list[Paper] = []
    for name in data["corpus"]:
        for record in files.parse_file(root / name).records:
            papers.append(Paper(id=len(papers) + 1, **vars(record)))
    grades = {
        topic: {pid: int(grade) for grade, ids in by_grade.items() for pid in ids}
        for topic, by_grade in data["topics"].items()
    }
    return papers, grades


def model() -> str:
    """The embedding model the digests would use (NEWSLETTER_EMBEDDING_MODEL; all-MiniLM-L6-v2
    by default)."""
    return get_settings().embedding_model


def space_of(papers: Sequence[Paper]) -> semantic.Space | None:
    """The papers as vectors of the configured model (None if it cannot be loaded)."""
    encoder = semantic.load(model())
    return semantic.Space(encoder, encoder.papers(papers)) if encoder else None


def engine_picks(
    papers: Sequence[Paper], limit: int = 10, *, space: semantic.Space | None
) -> Callable[[str], list[Pick]]:
    """The production matcher (one issue, every paper in the window), with the papers'
    vectors (`space_of`), or by words only (None): a topic's picks, reasons and all."""
    end = max(p.featured_on for p in papers)
    matcher = Matcher(papers, window_end=end, space=space,
                      window_days=(end - min(p.featured_on for p in papers)).days + 1)  # fmt: skip
    return lambda topic: matcher.picks([topic], limit=limit)


def engine(papers: Sequence[Paper], limit: int = 10, *, space: semantic.Space | None) -> Ranker:
    """`engine_picks`, as the picks' arXiv ids."""
    picks = engine_picks(papers, limit, space=space)
    return lambda topic: [p.paper.arxiv_id for p in picks(topic)]


def untrue_reasons(picks: Callable[[str], list[Pick]], topics: Sequence[str]) -> dict[str, object]:
    """Every reason under every pick of every topic, checked against its paper."""
    seen, wrong = 0, []
    for topic in topics:
        for pick in picks(topic):
            for hit in pick.hits:
                seen += 1
                if (why := reasons.untrue(hit.reason, pick.paper)) is not None:
                    wrong.append(f"{topic} / {pick.paper.arxiv_id}: {why}")
    return {"untrue": len(wrong), "reasons": seen, "examples": wrong[:20]}


def substring_baseline(papers: Sequence[Paper], limit: int = 10) -> Ranker:
    """What naive tools do: the topic as a case-insensitive substring, title hits first."""

    def rank(topic: str) -> list[str]:
        needle = topic.lower()
        hits = [
            (needle in p.title.lower(), (p.title + " " + p.abstract).lower().count(needle), p)
            for p in papers
        ]
        hits = [h for h in hits if h[1]]
        hits.sort(key=lambda h: (-h[0], -h[1], -h[2].upvotes))
        return [h[2].arxiv_id for h in hits[:limit]]

    return rank


def score(ranked: list[str], grades: dict[str, int]) -> Scores:
    relevant = {pid for pid, g in grades.items() if g >= 1}
    if not relevant:
        return Scores(None, None, None, len(ranked))
    shown = ranked[:5]
    p5 = sum(pid in relevant for pid in shown) / len(shown) if shown else 0.0
    best = [pid for pid, g in grades.items() if g == 2]
    r10 = (sum(pid in best for pid in ranked[:10]) / min(10, len(best))) if best else None
    dcg = sum((2 ** grades.get(pid, 0) - 1) / math.log2(i + 2) for i, pid in enumerate(ranked[:10]))
    ideal = sorted(grades.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return Scores(p5, r10, dcg / idcg, len(ranked))


BLIND = Path(__file__).resolve().parent / "blind"


def load_blind(shared: Path) -> tuple[list[Paper], dict[str, dict[str, int]], dict[str, list[str]]]:
    """The blind set: its corpus (built from `shared` as pool.py builds it), the grades of
    every judged topic, and the fixed tune / test split."""
    return load_judged_folder(BLIND, shared)


def load_judged_folder(
    folder: Path, shared: Path
) -> tuple[list[Paper], dict[str, dict[str, int]], dict[str, list[str]]]:
    """A judged set laid out as the blind set is: `judgments/*.json` (a topic and its grades
    each), `split.json` (its tune and test topics) and `corpus.json` (the arXiv ids of its
    papers, all found under `shared` as pool.py finds them; without it, all of them)."""
    from benchmarks.relevance.pool import corpus

    papers, _ = corpus(shared)
    if (folder / "corpus.json").is_file():
        wanted = json.loads((folder / "corpus.json").read_text())
        papers = [p for p in papers if p.arxiv_id in wanted]
    grades = {}
    for path in sorted((folder / "judgments").glob("*.json")):
        data = json.loads(path.read_text())
        grades[data["topic"]] = {pid: int(g) for pid, g in data["grades"].items()}
    split = json.loads((folder / "split.json").read_text())
    return papers, grades, {"tune": split["tune"], "test": split["test"]}


def run_sets(benchmarks: Path, shared: Path) -> dict[str, dict[str, object]]:
    """Every judged set: the project's own, and the blind set's halves when its corpus is here."""
    sets: dict[str, tuple[list[Paper], dict[str, dict[str, int]]]] = {}
    sets["own (16 topics)"] = load_judged(benchmarks / "relevance" / "judgments.json",
                                          benchmarks.resolve().parent)  # fmt: skip
    if (shared / "data" / "more").is_dir() and (BLIND / "judgments").is_dir():
        papers, grades, halves = load_blind(shared)
        for half, topics in halves.items():
            sets[f"blind {half}"] = (papers, {t: grades[t] for t in topics if t in grades})
    out: dict[str, dict[str, object]] = {}
    spaces: dict[int, semantic.Space | None] = {}  # the two halves share one corpus
    for name, (papers, judged) in sets.items():
        if id(papers) not in spaces:
            spaces[id(papers)] = space_of(papers)
        picks = engine_picks(papers, space=spaces[id(papers)])
        rankers = {
            "engine": lambda topic, picks=picks: [p.paper.arxiv_id for p in picks(topic)],
            "words only": engine(papers, space=None),
            "substring": substring_baseline(papers),
        }
        scores = {r: evaluate(rank, judged) for r, rank in rankers.items()}
        out[name] = {
            "papers": len(papers),
            "topics": {t: {r: vars(s[t]) for r, s in scores.items()} for t in judged},
            "macro": {r: macro(s) for r, s in scores.items()},
            "reasons": untrue_reasons(picks, list(judged)),
        }
        if name.startswith("blind"):
            out[name]["by_kind"] = {kind: macro({t: scores["engine"][t] for t in topics})
                                    for kind, topics in kinds(list(judged)).items()}  # fmt: skip
    return out


def kinds(topics: list[str]) -> dict[str, list[str]]:
    """The blind set's topics by the kind they were written as (blind/topics.json)."""
    written = json.loads((BLIND / "topics.json").read_text())["topics"]
    kind_of = {t["topic"]: t["kind"] for t in written}
    found: dict[str, list[str]] = {}
    for topic in topics:
        found.setdefault(kind_of.get(topic, "unknown"), []).append(topic)
    return dict(sorted(found.items()))


def votes_set(database_url: str | None = None) -> dict[str, object] | None:
    """The votes readers cast, as a judged set: "More like this" counts as relevant (grade 2),
    "Not for me" as not (0). Each reader's issue with votes is one query: the engine ranks
    that issue's papers for the reader's topics as they are now (their votes left out, which
    would grade the engine on what it learnt from them), and is scored on the voted papers
    only, in its order (a condensed list: papers nobody voted on are not counted either way).
    None when nobody has voted."""
    from newsletter.db import session_scope
    from newsletter.delivery import issues
    from newsletter.digest.compose import IssueCache
    from newsletter.match import interests
    from newsletter.readers import store, votes
    from newsletter.settings import get_settings

    settings = get_settings()
    judged: dict[tuple[int, int], dict[str, int]] = {}
    with session_scope(database_url or settings.database_url) as session:
        for reader_id, issue_id, arxiv_id, value in votes.graded(session=session):
            judged.setdefault((reader_id, issue_id), {})[arxiv_id] = 2 if value > 0 else 0
        found = issues.by_ids({i for _, i in judged}, session=session)
        cache, scores = IssueCache(), {}
        for (reader_id, issue_id), grades in judged.items():
            reader = store.get(reader_id, session=session)
            if reader is None or issue_id not in found:
                continue
            matcher = cache.get(found[issue_id], settings, session=session).matcher
            picks = matcher.picks(interests.of_reader(reader.topics, reader.follows), limit=500)
            condensed = [p.paper.arxiv_id for p in picks if p.paper.arxiv_id in grades]
            scores[f"reader {reader_id}, {found[issue_id].week}"] = score(condensed, grades)
        session.rollback()
    if not scores:
        return None
    return {"papers": sum(len(g) for g in judged.values()),
            "topics": {t: {"engine": vars(s)} for t, s in scores.items()},
            "macro": {"engine": macro(scores)}}  # fmt: skip


def evaluate(ranker: Ranker, judged: dict[str, dict[str, int]]) -> dict[str, Scores]:
    return {topic: score(ranker(topic), grades) for topic, grades in judged.items()}


def macro(scores: dict[str, Scores]) -> dict[str, float]:
    def mean(values: list[float | None]) -> float:
        real = [v for v in values if v is not None]
        return sum(real) / len(real) if real else 0.0

    empty = [s.returned for s in scores.values() if s.p5 is None]
    return {
        "p5": mean([s.p5 for s in scores.values()]),
        "r10": mean([s.r10 for s in scores.values()]),
        "ndcg10": mean([s.ndcg10 for s in scores.values()]),
        "empty_returned": float(sum(empty)),
    }


# --- speed --------------------------------------------------------------------------------


def speed(n_papers: int = 2000, n_topics: int = 5000) -> dict[str, float | str]:
    """Load the model, embed a week of `n_papers`, index it and score `n_topics` distinct
    topics (their embeddings included) against it; and the process's memory after."""
    end = dt.date(2026, 5, 12)
    records = synthetic.papers(n_papers, end=end)
    week = [Paper(id=i + 1, **vars(r)) for i, r in enumerate(records)]
    topics = synthetic.topic_pool(n_topics)
    started = time.perf_counter()
    encoder = semantic.load(model())
    loaded = time.perf_counter()
    space = semantic.Space(encoder, encoder.papers(week)) if encoder else None
    embedded = time.perf_counter()
    matcher = Matcher(week, window_end=end, space=space)
    indexed = time.perf_counter()
    if encoder:
        encoder.warm(topics)  # as a worker does for each batch of readers
    hits = sum(len(matcher.topic_hits(t)) for t in topics)
    done = time.perf_counter()
    return {
        "model": encoder.name if encoder else "none (words only)",
        "papers": n_papers,
        "topics": n_topics,
        "load_s": loaded - started,
        "embed_s": embedded - loaded,
        "index_s": indexed - embedded,
        "score_s": done - indexed,
        "total_s": done - started,
        "hits": hits,
        **memory_mb(),
    }


def memory_mb() -> dict[str, float]:
    """This process's resident and proportional set sizes, in MB (Linux)."""
    fields = {}
    rollup = Path("/proc/self/smaps_rollup")
    for line in rollup.read_text().splitlines() if rollup.exists() else []:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[f"{name.lower()}_mb"] = int(rest.split()[0]) / 1024
    return fields
