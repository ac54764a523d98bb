"""Every reason under every pick of the demo week is true of its paper: it quotes the paper's
own words and names the field they stand in (issue 29). The blind halves' reasons are
checked in tests/test_evaluation.py, on the evaluation's own picks."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

import pytest

from benchmarks.relevance import reasons
from newsletter.ingest import files
from newsletter.match import semantic
from newsletter.match.engine import Matcher, Pick
from newsletter.models import Paper

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks" / "relevance"
DEMO_READERS = {  # scripts/demo.sh's readers
    "ada": ["LLM evaluation", "mixture of experts"],
    "bob": ["agents", "reinforcement learning"],
    "chen": ["diffusion models", "video generation"],
    "dana": ["RAG", "long context"],
    "eve": ["protein folding"],
}


@pytest.fixture(scope="module")
def demo_week() -> Matcher:
    papers: list[Paper] = []
    for path in sorted(resources.files("newsletter").joinpath("sample").iterdir()):
        for record in files.parse_file(Path(str(path))).records:
            papers.append(Paper(id=len(papers) + 1, **vars(record)))
    encoder = semantic.load(semantic.TOPICS)  # the default
    assert encoder is not None
    return Matcher(papers, window_end=dt.date(2026, 2, 6),
                   space=semantic.Space(encoder, encoder.papers(papers)))  # fmt: skip


def every_topic() -> list[str]:
    """The demo readers' topics, the own judged set's and the blind set's: 70 in all."""
    own = json.loads((BENCHMARKS / "judgments.json").read_text())["topics"]
    blind = json.loads((BENCHMARKS / "blind" / "topics.json").read_text())["topics"]
    demo = [t for topics in DEMO_READERS.values() for t in topics]
    return list(dict.fromkeys([*demo, *own, *(t["topic"] for t in blind)]))


def untrue(picks: list[Pick]) -> list[str]:
    return [f"{p.paper.title}: {why}" for p in picks for hit in p.hits
            if (why := reasons.untrue(hit.reason, p.paper))]  # fmt: skip


def test_every_reason_in_the_demo_week_is_true(demo_week: Matcher) -> None:
    checked = 0
    for topic in every_topic():
        picks = demo_week.picks([topic], limit=10)
        assert untrue(picks) == [], topic
        checked += sum(len(p.hits) for p in picks)
    for topics in DEMO_READERS.values():  # several topics per pick, as the digests show them
        picks = demo_week.picks(topics, limit=10)
        assert untrue(picks) == []
        checked += sum(len(p.hits) for p in picks)
    assert checked > 250


def test_the_issues_examples_now_quote_the_paper(demo_week: Matcher) -> None:
    """Issue 29's examples: picks that claimed "LLM evaluation" in titles without it, and
    "agents" in a title that says "Agentic"."""
    why = {p.paper.title: p.why for p in demo_week.picks(DEMO_READERS["ada"], limit=20)}
    for title, reason in why.items():
        if title.startswith(("CoBA-RL", "Rethinking the Trust Region")):
            assert "“LLM evaluation” in the" not in reason
            assert reason.startswith("close in meaning to “LLM evaluation”: the paper's “")
    kimi = next(p for p in demo_week.picks(DEMO_READERS["bob"], limit=10)
                if p.paper.title.startswith("Kimi K2.5"))  # fmt: skip
    assert kimi.hits[0].reason == "“Agentic” in the title (your topic “agents”)"
