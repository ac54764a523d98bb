"""TREC-style pools for the blind judged set (benchmarks/relevance/blind/).

The corpus is every paper in ../shared/data/real/ and ../shared/data/more/ plus the seed page
(titles and abstracts of one Daily Papers day), de-duplicated by arXiv id and by title. For
each blind topic the pool is the union of the top `--depth` papers of each ranker and
`--random` papers drawn at random (seeded by the topic), so a judge also sees papers no
ranker liked. Rankers: today's engine (lexical), BM25 over title, abstract and AI summary,
and substring. A dense ranker joins when a sentence-embedding model is chosen (issue 13);
its new papers are then judged on their own, as TREC adds runs to a pool.

    .venv/bin/python benchmarks/relevance/pool.py [--shared ../shared] [--out DIR]

Writes `blind/corpus.json` (id -> source file) and `blind/pools.json` (topic -> pooled ids,
and which rankers put each there), and, for judges, one text file per topic in `--out`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.relevance.evaluate import substring_baseline  # noqa: E402
from newsletter.ingest import FeedError, files  # noqa: E402
from newsletter.match.engine import Matcher  # noqa: E402
from newsletter.models import Paper  # noqa: E402
from newsletter.text import stems  # noqa: E402

BLIND = Path(__file__).resolve().parent / "blind"


def corpus(shared: Path) -> tuple[list[Paper], dict[str, str]]:
    papers: list[Paper] = []
    source: dict[str, str] = {}
    titles: set[str] = set()

    def add(paper: Paper, where: str) -> None:
        if paper.arxiv_id not in source and paper.title.casefold() not in titles:
            papers.append(paper)
            source[paper.arxiv_id] = where
            titles.add(paper.title.casefold())

    data = shared / "data"
    for path in sorted([*(data / "real").iterdir(), *(data / "more").iterdir()]):
        try:
            records = [] if path.suffix == ".md" else files.parse_file(path).records
        except FeedError:
            continue  # the empty listing feed
        for r in records:
            add(Paper(id=len(papers) + 1, **vars(r)), f"{path.parent.name}/{path.name}")
    seed_day = dt.date(2024, 3, 12)
    for n, (title, abstract) in enumerate(_seed(shared / "seed" / "daily-papers-page.txt")):
        paper = Paper(id=len(papers) + 1, arxiv_id=f"seed-{n:03d}", title=title,
                      abstract=abstract, featured_on=seed_day, source="seed")  # fmt: skip
        add(paper, "seed/daily-papers-page.txt")
    return papers, source


def _seed(path: Path) -> list[tuple[str, str]]:
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    return [(a, b) for a, b in itertools.pairwise(lines) if len(a) < 300 and len(b) > 400]


def bm25(papers: list[Paper], k1: float = 1.2, b: float = 0.75):  # type: ignore[no-untyped-def]
    docs = [Counter(stems(f"{p.title} {p.abstract} {p.ai_summary or ''}")) for p in papers]
    lengths = [sum(d.values()) for d in docs]
    avg = sum(lengths) / len(lengths)
    df = Counter(term for d in docs for term in d)

    def rank(topic: str) -> list[str]:
        terms = set(stems(topic))
        scored = []
        for paper, doc, length in zip(papers, docs, lengths, strict=True):
            score = sum(
                math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5))
                * doc[t] * (k1 + 1) / (doc[t] + k1 * (1 - b + b * length / avg))
                for t in terms if doc[t]
            )  # fmt: skip
            if score > 0:
                scored.append((score, paper.arxiv_id))
        return [i for _, i in sorted(scored, reverse=True)]

    return rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=Path("/tmp/blind-pools"))
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--random", type=int, default=20)
    args = parser.parse_args()

    papers, source = corpus(args.shared)
    by_id = {p.arxiv_id: p for p in papers}
    end = max(p.featured_on for p in papers)
    matcher = Matcher(
        papers, window_end=end, window_days=(end - min(p.featured_on for p in papers)).days + 1
    )
    rankers = {
        "engine": lambda t: [pick.paper.arxiv_id for pick in matcher.picks([t], limit=args.depth)],
        "bm25": bm25(papers),
        "substring": substring_baseline(papers, limit=args.depth),
    }
    topics = [t["topic"] for t in json.loads((BLIND / "topics.json").read_text())["topics"]]
    pools: dict[str, dict[str, list[str]]] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for n, topic in enumerate(topics):
        found: dict[str, list[str]] = {}
        for name, rank in rankers.items():
            for ident in rank(topic)[: args.depth]:
                found.setdefault(ident, []).append(name)
        rest = sorted(set(by_id) - set(found))
        for ident in random.Random(f"{topic}/{args.random}").sample(rest, args.random):
            found.setdefault(ident, []).append("random")
        pools[topic] = dict(sorted(found.items()))
        lines = [f"TOPIC: {topic}", ""]
        for ident in sorted(found, key=lambda i: random.Random(f"{topic}:{i}").random()):
            p = by_id[ident]
            text = f"{p.abstract}" + (f" [AI summary: {p.ai_summary}]" if p.ai_summary else "")
            lines += [f"ID: {ident}", f"TITLE: {p.title}", f"ABSTRACT: {text}", ""]
        (args.out / f"{n:02d}.txt").write_text("\n".join(lines))
    (BLIND / "corpus.json").write_text(json.dumps(source, indent=0, sort_keys=True) + "\n")
    (BLIND / "pools.json").write_text(json.dumps(pools, indent=1) + "\n")
    sizes = [len(p) for p in pools.values()]
    print(f"{len(papers)} papers; {len(topics)} topics; pool sizes {min(sizes)}-{max(sizes)}, "
          f"{sum(sizes)} to judge; judge files in {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
