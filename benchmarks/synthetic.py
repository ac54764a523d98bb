"""Realistic synthetic data for speed measurements, made from real papers only.

Every title, abstract and keyword comes from the real captured responses and the seed
page in benchmarks/data/ (and the bundled sample); a synthetic paper recombines two real
ones, so its text has the vocabulary, length and phrasing of real abstracts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from newsletter.ingest import PaperRecord, files
from newsletter.shipped import sample_days
from newsletter.text import STOPWORDS

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Text:
    title: str
    abstract: str
    authors: tuple[str, ...]
    keywords: tuple[str, ...]


@lru_cache(maxsize=1)
def real_texts() -> tuple[Text, ...]:
    """Every distinct real paper: Daily Papers days, arXiv Atom and RSS, the seed page."""
    seen: dict[str, Text] = {}
    parsed = [files.parse_file(p) for p in sorted([*DATA.glob("*.json"), *DATA.glob("*.xml")])]
    parsed += [files.parse_bytes(content, day) for day, content in sample_days()]
    for r in (r for p in parsed for r in p.records):
        seen.setdefault(r.title, Text(r.title, r.abstract, tuple(r.authors), tuple(r.ai_keywords)))
    for title, abstract in _seed_page():
        seen.setdefault(title, Text(title, abstract, (), ()))
    return tuple(seen.values())


def _seed_page() -> list[tuple[str, str]]:
    lines = [ln.strip() for ln in (DATA / "daily-papers-page.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    return [(a, b) for a, b in itertools.pairwise(lines) if len(a) < 300 and len(b) > 400]


def papers(count: int, *, end: dt.date, seed: int = 7) -> list[PaperRecord]:
    """`count` papers featured over the 7 days to `end`."""
    rng, texts = random.Random(seed), real_texts()
    out = []
    for i in range(count):
        a, b = rng.choice(texts), rng.choice(texts)
        record = PaperRecord(
            arxiv_id=f"{end:%y%m}.{90000 + i:05d}",
            title=f"{a.title.split(':')[0]}: {b.title.split(':')[-1].strip()}",
            abstract=f"{a.abstract} {b.abstract[: len(b.abstract) // 2]}",
            featured_on=end - dt.timedelta(days=i % 7),
            source="hf",
            authors=list(a.authors or b.authors or ("Anonymous",)),
            ai_keywords=list(a.keywords),
            upvotes=int(rng.paretovariate(1.2)) - 1,
        )
        out.append(record)
    return out


# Words a reader's topic does not start or end with.
_EDGE = STOPWORDS | set(
    "towards toward using under beyond based new not can do does how why you your all more "
    "than through over without between across about after against are is be".split()
)


def topic_pool(count: int, seed: int = 7) -> list[str]:
    """`count` distinct reader-like topics: the sources' AI keywords, then 2-3 word phrases
    from real titles, then from abstracts (readers write "video generation", not "towards")."""
    rng, texts = random.Random(seed), real_texts()
    pool = {k.lower() for t in texts for k in t.keywords if 3 < len(k) < 50}
    topics = sorted(pool)
    for source in ([t.title for t in texts], [t.abstract for t in texts]):
        extra = sorted(set().union(*(_phrases(text) for text in source)) - set(topics))
        rng.shuffle(extra)
        topics += extra
    if len(topics) < count:
        raise ValueError(f"only {len(topics)} distinct topics can be made from the real data")
    return topics[:count]


def _phrases(text: str) -> set[str]:
    words = [w.strip(",.:;()?!\"'") for w in text.lower().split()]
    words = [w for w in words if w.isalpha()]
    return {
        " ".join(words[i : i + size])
        for size in (2, 3)
        for i in range(len(words) - size + 1)
        if words[i] not in _EDGE and words[i + size - 1] not in _EDGE
    }
