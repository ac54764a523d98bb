"""Per-reader render time: one reader's digest (subject, HTML and text) from ten picks of
the real Daily Papers of 2026-05-12 (benchmarks/data/), after the issue's template and paper
blocks are made. Prints the median of five runs of 2,000 renders.

    .venv/bin/python benchmarks/render_time.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.digest.render import Digest, Links, MailTemplates, Recipient
from newsletter.ingest import files
from newsletter.match.engine import Pick, TopicHit
from newsletter.models import Paper

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    records = files.parse_file(DATA / "hf_daily_papers_2026-05-12.json").records
    papers = [Paper(id=i, **vars(r)) for i, r in enumerate(records[:10], start=1)]
    hits = [TopicHit("agents", 2.0, "title"), TopicHit("RL", 1.0, "abstract")]
    picks = [Pick(p, 0.9, hits) for p in papers]
    links = Links("https://x.example/manage/T", "https://x.example/u/T", "https://x.example/v/T")
    reader = Recipient("ada@example.com", ["agents", "RL"], links)
    digest = Digest(MailTemplates(), "2026-W20", "1 Main St")
    for _ in range(200):
        digest.render(picks, reader)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(2000):
            digest.render(picks, reader)
        runs.append((time.perf_counter() - started) / 2000 * 1e6)
    print(f"per-reader render: {statistics.median(runs):.1f} µs (runs: "
          f"{', '.join(f'{r:.1f}' for r in runs)})")  # fmt: skip


if __name__ == "__main__":
    main()
