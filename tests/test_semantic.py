"""Matching by meaning: the shipped model finds papers a topic's words miss, leaves topics
nothing is close to empty, stores each paper's vector with the model that made it, and
falls back to words alone, saying so, when the model cannot be loaded."""

from __future__ import annotations

import datetime as dt
import itertools
import logging

import numpy as np
import pytest
from sqlmodel import select

from newsletter.ingest import files, store
from newsletter.match import semantic
from newsletter.match.engine import MEANING, Matcher
from newsletter.models import Paper, PaperEmbedding
from newsletter.settings import get_settings
from tests.conftest import REAL
from tests.helpers import count, invoke, run

DAY = dt.date(2026, 5, 12)
_ids = itertools.count(1)


def paper(title: str, abstract: str, keywords: list[str] | None = None) -> Paper:
    n = next(_ids)
    return Paper(id=n, arxiv_id=f"2605.{n:05d}", title=title, abstract=abstract,
                 ai_keywords=keywords or [], featured_on=DAY, source="hf")  # fmt: skip


GNN = paper(
    "Message Passing Neural Networks on Molecular Graphs",
    "We propose a GNN that propagates node features along the edges of molecular graphs "
    "and improves property prediction.",
    ["message passing", "molecular property prediction"],
)
BREAD = paper("Bread Flour Hydration in Long Fermentation", "We study dough rheology.")
WEEK = [GNN, BREAD]


def matcher(
    papers: list[Paper],
    *,
    meaning: bool = True,
    window_days: int = 7,
    model: str = semantic.BUILTIN,
) -> Matcher:
    encoder = semantic.load(model)
    assert encoder is not None
    space = semantic.Space(encoder, encoder.papers(papers)) if meaning else None
    return Matcher(papers, window_end=DAY, space=space, window_days=window_days)


def test_a_paper_in_other_words_is_picked_by_meaning_and_says_why() -> None:
    assert matcher(WEEK, meaning=False).picks(["graph learning"], limit=5) == []
    picks = matcher(WEEK).picks(["graph learning"], limit=5)
    assert [p.paper.title for p in picks] == [GNN.title]
    hit = picks[0].hits[0]
    assert hit.where == MEANING
    # No keyword of the paper is close enough to quote: its title is.
    assert picks[0].why == f"close in meaning to “graph learning”: the paper's “{GNN.title}”"


def test_a_clear_word_hit_ranks_above_a_pick_by_meaning() -> None:
    named = paper("Graph Learning at Scale", "Graph learning for large networks.")
    picks = matcher([GNN, named]).picks(["graph learning"], limit=5)
    assert [p.paper.title for p in picks] == [named.title, GNN.title]
    assert picks[0].hits[0].where != MEANING


def test_a_topic_nothing_is_close_to_gets_nothing() -> None:
    m = matcher(WEEK)
    for topic in ("houseplant care", "jazz guitar lessons", "fantasy football tips"):
        assert m.picks([topic], limit=5) == [], topic


def test_a_passing_mention_counts_where_meaning_agrees() -> None:
    """A real arXiv abstract (no AI summary to repeat the topic) names "federated
    optimization" only in passing: below the word threshold alone, a word hit once meaning
    agrees (by the default, contextual model). The same mention in a paper about bread
    stays out."""
    records = files.parse_file(REAL / "arxiv_api_query_cat_cs.AI_2026-04-22.atom.xml").records
    bread = paper(
        "Bread Dough Rheology",
        "We measure dough hydration and gluten strength in "
        "long fermentation of sourdough bread, with a note on federated optimization for "
        "bakeries, and report crumb structure by flour type. Rye and spelt doughs "
        "absorb more water than wheat, proof faster and give a denser, moister crumb; "
        "a longer cold retard improves flavour and oven spring in every flour.",
    )
    week = [Paper(id=next(_ids), **vars(r)) for r in records] + [bread]
    by_words = Matcher(week, window_end=DAY, window_days=60)
    assert by_words.picks(["federated optimization"], limit=10) == []
    picks = matcher(week, window_days=60, model="minilm").picks(
        ["federated optimization"], limit=10
    )
    assert picks[0].paper.arxiv_id == "2604.19118"  # DP-FlogTinyLLM
    assert picks[0].why == "“federated optimization” in the abstract"
    assert bread not in [p.paper for p in picks]


def test_ingest_stores_vectors_with_the_model_and_recomputes_when_it_changes(
    settings, session
) -> None:
    path = str(REAL / "hf_daily_papers_2026-05-12.json")
    first = run("ingest", "file", path)
    papers = count(session, Paper)
    assert f"embedded {papers}" in first and papers == 50
    assert "embedded 0" in run("ingest", "file", path)  # once per paper
    encoder = semantic.load(settings.embedding_model)
    assert encoder is not None and encoder.name.startswith("minilm-topics@")  # the default
    assert count(session, PaperEmbedding, PaperEmbedding.model == encoder.name) == papers

    stored = session.exec(select(PaperEmbedding)).first()
    assert stored is not None
    one = session.get(Paper, stored.paper_id)
    assert one is not None
    vector = np.frombuffer(stored.vector, dtype="<f4")
    assert np.allclose(vector, encoder.papers([one])[0], atol=1e-5)
    # Its keywords' vectors too, one row each: workers read them, they do not embed them.
    assert one.ai_keywords and stored.keywords is not None
    keywords = np.frombuffer(stored.keywords, dtype="<f2").reshape(len(one.ai_keywords), -1)
    assert np.array_equal(keywords, encoder.keywords([one])[0])
    week = store.space([one], encoder, session=session)
    assert week.keywords is not None and np.array_equal(week.keywords[0], keywords)

    # Another model (or another version of it) leaves every vector stale.
    for row in session.exec(select(PaperEmbedding)).all():
        row.model = "another-model@000000000000"
        session.add(row)
    session.commit()
    assert f"embedded {papers}" in run("ingest", "file", path)
    assert count(session, PaperEmbedding, PaperEmbedding.model == encoder.name) == papers

    # Rows stored before keywords were (migration 0011) are made again, keywords and all.
    for row in session.exec(select(PaperEmbedding)).all():
        row.keywords = None
        session.add(row)
    session.commit()
    assert f"embedded {papers}" in run("ingest", "file", path)
    assert count(session, PaperEmbedding, PaperEmbedding.keywords.is_(None)) == 0  # type: ignore[union-attr]


def test_a_changed_abstract_is_embedded_again(settings, session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    encoder = semantic.load(settings.embedding_model)
    assert encoder is not None
    one = session.exec(select(Paper).order_by(Paper.id)).first()
    assert one is not None
    one.abstract = "A wholly different abstract about sourdough baking and bread."
    session.add(one)
    session.commit()
    # Read before the next ingest: computed afresh, not the stored (stale) vector.
    fresh = store.vectors([one], encoder, session=session)[0]
    assert np.allclose(fresh, encoder.papers([one])[0], atol=1e-5)


def test_without_the_model_it_matches_by_words_and_says_so(
    settings, monkeypatch, caplog, tmp_path
) -> None:
    missing = str(tmp_path / "no-model")  # a new setting each run: not yet loaded here
    monkeypatch.setenv("NEWSLETTER_EMBEDDING_MODEL", missing)
    get_settings.cache_clear()
    with caplog.at_level(logging.WARNING):
        assert semantic.load(missing) is None
        assert semantic.load(missing) is None
    said = [r for r in caplog.records if "matching by words only" in r.getMessage()]
    assert len(said) == 1  # once per process
    assert "embedded 0" in run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    _, output = invoke("doctor")
    assert "warn  matching by words only" in output
    assert missing in output
    run("subscribers", "add", "ada@example.com", "--topic", "LLM agents", "--confirmed")
    assert "would_send=1" in run("send", "--dry-run", "--issue-date", "2026-05-12")


@pytest.mark.parametrize("setting", ["off", "OFF"])
def test_the_model_can_be_turned_off(setting: str) -> None:
    assert semantic.load(setting) is None
    assert "turned off" in semantic.why_not(setting)
