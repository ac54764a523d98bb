"""How fast a topic's preview answers (`GET /api/preview`), and how long a topic's model
trains (`newsletter/match/taught.py`), on product defaults. Prints the figures and writes
JSON to benchmarks/results/.

    .venv/bin/python benchmarks/preview_latency.py [--weeks 8] [--papers 2000] [--topics 300]

A fresh SQLite database gets `--weeks` weeks of `--papers` synthetic papers each, embedded as
`newsletter ingest` stores them (the slow part: about a minute per 2,000 papers here). The
web app then warms up on one preview over all the weeks (the matcher is built once per
process), and each of `--topics` distinct reader-like topics is previewed once over the same
weeks: its latency from request to answer, through the app's HTTP interface in-process.
Then the model of one reader's topic is trained, on the latest week's vectors, for as many
readers with 5 to 20 examples each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic  # noqa: E402
from benchmarks.relevance.evaluate import memory_mb  # noqa: E402
from newsletter import db  # noqa: E402
from newsletter.ingest import Parsed  # noqa: E402
from newsletter.ingest import store as papers  # noqa: E402
from newsletter.match import semantic, taught  # noqa: E402
from newsletter.settings import get_settings  # noqa: E402

LATEST = dt.date(2026, 5, 12)


def load(weeks: int, per_week: int) -> float:
    """The weeks of papers, stored and embedded; returns the seconds embedding took."""
    db.upgrade()
    records = []
    for week in range(weeks):
        end = LATEST - dt.timedelta(weeks=week)
        for n, record in enumerate(synthetic.papers(per_week, end=end, seed=100 + week)):
            record.arxiv_id = f"{end:%y%m}.{week:01d}{n:04d}"
            records.append(record)
    encoder = semantic.load(get_settings().embedding_model)
    assert encoder is not None, "the product's model could not be loaded"
    with db.session_scope() as session:
        papers.upsert(Parsed(records=records), session=session)
    started = time.perf_counter()
    with db.session_scope() as session:
        papers.embed_stale(encoder, session=session)
    return time.perf_counter() - started


def preview_latencies(weeks: int, topics: list[str]) -> tuple[float, list[float]]:
    """The warm-up's seconds, and each topic's preview latency in seconds."""
    from fastapi.testclient import TestClient

    from newsletter.web.app import create_app

    client = TestClient(create_app(get_settings()))
    started = time.perf_counter()
    assert client.get("/api/preview", params={"topic": "agents", "weeks": weeks}).is_success
    warm = time.perf_counter() - started
    took = []
    for topic in topics:
        started = time.perf_counter()
        answer = client.get("/api/preview", params={"topic": topic, "weeks": weeks})
        took.append(time.perf_counter() - started)
        assert answer.status_code in (200, 422), answer.text  # 422: not a searchable topic
    return warm, took


def training_times(readers: int) -> list[float]:
    """Seconds to train one reader-topic's model, on the latest week, 5 to 20 examples each
    (two in three liked), for `readers` readers."""
    from newsletter.delivery import issues
    from newsletter.digest.compose import IssueCache

    settings, rng = get_settings(), random.Random(5)
    with db.session_scope() as session:
        issue = issues.for_date(LATEST, settings.window_days, session=session, create=False)
        space = IssueCache().get(issue, settings, session=session).matcher.space
    assert space is not None
    took = []
    for _ in range(readers):
        rows = rng.sample(range(len(space.vectors)), rng.randint(5, 20))
        marks = tuple(taught.Marked(r, f"paper {r}", 1 if rng.random() < 2 / 3 else -1,
                                    space.vectors[r]) for r in rows)  # fmt: skip
        if not taught.Examples(marks).ready:
            continue
        started = time.perf_counter()
        taught.Model(space, taught.Examples(marks))
        took.append(time.perf_counter() - started)
    return took


def quantiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
            "max_ms": round(ms[-1], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--papers", type=int, default=2000, help="papers per week")
    parser.add_argument("--topics", type=int, default=300)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-preview-"))
    os.environ.update({"NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
                       "NEWSLETTER_REDIS_URL": "", "NEWSLETTER_SECRET_KEY": "bench-secret",
                       "NEWSLETTER_PREVIEW_LIMIT_PER_IP": "100000"})  # fmt: skip
    get_settings.cache_clear()
    embed_s = load(args.weeks, args.papers)
    warm, took = preview_latencies(args.weeks, synthetic.topic_pool(args.topics, seed=3))
    result = {
        "weeks": args.weeks, "papers": args.weeks * args.papers, "topics": args.topics,
        "model": get_settings().embedding_model, "embed_s": round(embed_s, 1),
        "warm_up_s": round(warm, 2), "preview": quantiles(took),
        "training": quantiles(training_times(1000)), **memory_mb(),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"preview_latency-{args.weeks}w-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
