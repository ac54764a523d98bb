"""Matching: phrases, abbreviations, stems, thresholds and the reason given for each pick."""

from __future__ import annotations

import datetime as dt
import itertools

from newsletter.ingest import files
from newsletter.match.engine import Matcher, compile_topic
from newsletter.match.interests import Author, Category, Topic
from newsletter.models import Paper
from tests.conftest import REAL

DAY = dt.date(2026, 5, 12)
_ids = itertools.count(1)


def paper(
    title: str, abstract: str = "We study things.", upvotes: int = 1, day: dt.date = DAY
) -> Paper:
    n = next(_ids)
    return Paper(
        id=n,
        arxiv_id=f"2605.{n:05d}",
        title=title,
        abstract=abstract,
        authors=["A"],
        featured_on=day,
        upvotes=upvotes,
        source="hf",
    )


def titles(matcher: Matcher, *topics: str, exclude: frozenset[int] = frozenset()) -> list[str]:
    return [p.paper.title for p in matcher.picks(topics, limit=10, exclude=set(exclude))]


def test_llm_evaluation_finds_evaluating_large_language_models() -> None:
    m = Matcher(
        [
            paper("Evaluating Large Language Models on Long Documents"),
            paper("A Survey of Protein Folding"),
        ],
        window_end=DAY,
    )
    assert titles(m, "LLM evaluation") == ["Evaluating Large Language Models on Long Documents"]


def test_mixture_of_experts_is_a_phrase_not_the_word_experts() -> None:
    m = Matcher(
        [
            paper("Asking Domain Experts to Label Data", "Experts annotate a data mixture."),
            paper("Sparse Mixture-of-Experts at Scale", "A MoE layer with many experts."),
            paper("Efficient MoE Routing", "We route tokens."),
        ],
        window_end=DAY,
    )
    assert set(titles(m, "mixture of experts")) == {
        "Sparse Mixture-of-Experts at Scale",
        "Efficient MoE Routing",
    }


def test_rag_is_a_whole_word() -> None:
    m = Matcher(
        [
            paper("Leveraging Average Storage", "leveraging averages and storage"),
            paper("Better Retrieval-Augmented Generation", "A RAG pipeline."),
        ],
        window_end=DAY,
    )
    assert titles(m, "RAG") == ["Better Retrieval-Augmented Generation"]


def test_spelling_variants_meet() -> None:
    m = Matcher(
        [
            paper("Continued Pre-training for Code"),
            paper("Quantisation of Transformers"),
            paper("Recommendation Systems with LLMs"),
        ],
        window_end=DAY,
    )
    assert titles(m, "continual pretraining") == ["Continued Pre-training for Code"]
    assert titles(m, "continued pre training") == ["Continued Pre-training for Code"]
    assert titles(m, "quantization") == ["Quantisation of Transformers"]
    assert titles(m, "recommender systems") == ["Recommendation Systems with LLMs"]


def test_title_hit_ranks_above_abstract_hit_and_upvotes_break_ties() -> None:
    in_abstract = paper(
        "A Study of Routing",
        "We analyse diffusion models. Diffusion models route tokens. Diffusion models win.",
        upvotes=40,
    )
    in_title = paper(
        "Diffusion Models for Audio",
        "We generate audio clips with a new model. They sound real to listeners in a blind test.",
        upvotes=40,
    )
    m = Matcher([in_abstract, in_title], window_end=DAY)
    assert titles(m, "diffusion models") == [in_title.title, in_abstract.title]


def test_passing_mention_of_one_word_of_a_phrase_is_not_a_match() -> None:
    m = Matcher(
        [
            paper(
                "Graph Learning",
                "We learn on graphs from social networks, citations "
                "and protein interactions, then evaluate on ten benchmarks with a new "
                "training recipe that avoids folding batch norm layers.",
            )
        ],
        window_end=DAY,
    )
    assert m.picks(["protein folding"], limit=10) == []
    assert m.picks(["graphs"], limit=10)


def test_already_sent_papers_are_excluded_and_limit_holds() -> None:
    papers = [paper(f"Agents part {i}", upvotes=i) for i in range(15)]
    m = Matcher(papers, window_end=DAY)
    assert len(m.picks(["agents"], limit=10)) == 10
    sent = {p.id for p in papers[:5] if p.id}
    picked = {p.paper.id for p in m.picks(["agents"], limit=20, exclude=sent)}
    assert picked and not picked & sent


def test_a_ranking_read_past_its_kept_sort_keys_stays_in_order() -> None:
    # The first 32 hits of a topic keep their sort keys; a reader sent many of them reads on.
    papers = [paper(f"Agents part {i}", upvotes=i + 1) for i in range(60)]
    m = Matcher(papers, window_end=DAY)
    picks = m.picks(["agents"], limit=50)
    assert [p.paper.title for p in picks] == [f"Agents part {i}" for i in range(59, 9, -1)]
    hits = m.topic_hits("agents")
    for pick in picks:  # each with its own paper's score, before the kept keys and after
        index = papers.index(pick.paper)
        assert pick.score == -m._rank_key(index, hits[index])[1]
    sent = {p.id for p in papers[20:] if p.id}
    assert titles(m, "agents", exclude=frozenset(sent)) == [
        f"Agents part {i}" for i in range(19, 9, -1)
    ]


def test_why_quotes_the_paper_for_every_matching_topic() -> None:
    m = Matcher(
        [paper("RLHF for Agents", "reinforcement learning from human feedback")], window_end=DAY
    )
    [pick] = m.picks(["agents", "RLHF", "protein folding"], limit=10)
    assert "“RLHF” in the title" in pick.why
    assert "“Agents” in the title" in pick.why
    assert "protein" not in pick.why


def test_why_quotes_the_papers_words_not_the_readers() -> None:
    """The reason is the paper's own words and where they stand; the reader's topic follows
    where the words differ (an abbreviation, another inflection, the other order)."""
    m = Matcher([paper("Evaluation of Large Language Models for Code", "We test models.")],
                window_end=DAY)  # fmt: skip
    [pick] = m.picks(["LLM evaluation"], limit=10)
    assert pick.why == (
        "“Evaluation of Large Language Models” in the title (your topic “LLM evaluation”)"
    )
    in_summary = paper("A Study", "We test retrieval-augmented generation (RAG).")
    in_summary.ai_summary = "Shows when retrieval-augmented generation helps."
    [pick] = Matcher([in_summary], window_end=DAY).picks(["RAGs"], limit=10)
    assert pick.why == "“retrieval-augmented generation” in the AI summary (your topic “RAGs”)"


def test_a_kind_is_named_as_a_kind_and_finds_only_itself() -> None:
    pruning = paper("Weight Pruning for Transformers", "We prune.")
    quantized = paper("Quantization of Vision Models", "Four bits.")
    m = Matcher([pruning, quantized], window_end=DAY)
    why = {p.paper.title: p.why for p in m.picks(["model compression"], limit=10)}
    assert why == {
        pruning.title: "“Weight Pruning” in the title, a kind of “model compression”",
        quantized.title: "“Quantization” in the title, a kind of “model compression”",
    }
    assert titles(m, "quantization") == [quantized.title]  # not the pruning paper


def test_a_topic_of_several_words_matches_only_where_they_stand_together() -> None:
    """Side by side in either order, at most one word between, never across a sentence."""
    together = paper("LLM Evaluation at Scale")
    reversed_ = paper("Evaluation of LLMs in Medicine")
    apart = paper("LLMs for Chemistry", "We train LLMs on molecules. Our evaluation uses ten sets.")
    two_between = paper("LLM training by evaluating rewards")
    across = paper("Tiny LLMs: Evaluation Matters")
    m = Matcher([together, reversed_, apart, two_between, across], window_end=DAY)
    assert set(titles(m, "LLM evaluation")) == {together.title, reversed_.title}


def test_inflection_joins_a_family_but_derivation_does_not() -> None:
    optimizer = paper("A Better Optimizer for Transformers")
    optimal = paper("Optimal Transport in Practice")
    tokens = paper("Token Budgets for Agents")
    computation = paper("Computation Graphs in Transformations")
    m = Matcher([optimizer, optimal, tokens, computation], window_end=DAY)
    assert titles(m, "optimization") == [optimizer.title]
    assert titles(m, "tokenization") == []
    assert titles(m, "transformers") == [optimizer.title]
    assert titles(m, "computers") == []


def test_a_passing_mention_is_not_enough_but_a_recurring_theme_is() -> None:
    once = paper(
        "Graph Learning",
        "We compare with a diffusion model baseline on graphs, trees, grids and meshes alike.",
    )
    theme = paper(
        "Graph Learning II", "A diffusion model for graphs. Diffusion models win. Diffusion scales."
    )
    m = Matcher([once, theme], window_end=DAY)
    assert titles(m, "diffusion models") == [theme.title]


def test_prefixed_words_still_count_as_the_word() -> None:
    m = Matcher([paper("Multi-Agent Debate for Math"), paper("Pre-trained Agents")], window_end=DAY)
    assert set(titles(m, "agents")) == {"Multi-Agent Debate for Math", "Pre-trained Agents"}
    assert titles(m, "multiagent") == ["Multi-Agent Debate for Math"]


def test_followed_authors_and_categories() -> None:
    by_lecun = paper("World Models", "Energy based.")
    by_lecun.authors = ["Yann LeCun", "Someone Else"]
    in_cl = paper("Parsing", "Syntax.")
    in_cl.categories = ["cs.CL", "cs.AI"]
    m = Matcher([by_lecun, in_cl], window_end=DAY)
    [pick] = m.picks([Author("yann  lecun")], limit=10)
    assert pick.paper is by_lecun and pick.why == "“Yann LeCun” in the author list"
    assert [p.paper for p in m.picks([Category("cs.CL")], limit=10)] == [in_cl]
    # A typed topic is always words, whatever it starts with: never an author follow.
    assert m.picks(["author: yann lecun"], limit=10) == []
    assert m.picks([Topic("category:cs.CL")], limit=10) == []


def test_a_topic_that_names_an_arxiv_class_finds_the_papers_filed_there() -> None:
    # Filed under Number Theory (primary) without saying the words; only cross-listed there;
    # and a paper that says the words in passing, filed elsewhere.
    primes = paper("Perfect Powers in Sequences of Polygonal Numbers", "We prove bounds.")
    primes.categories = ["math.NT", "math.CO"]
    crossed = paper("Fast Lattice Reduction", "An algorithm.")
    crossed.categories = ["cs.DS", "math.NT"]
    other = paper("Graph Colouring", "Unlike number theory, we colour graphs.")
    other.categories = ["math.CO"]
    m = Matcher([primes, crossed, other], window_end=DAY)
    [pick] = m.picks(["Number theory"], limit=10)
    assert pick.paper is primes
    assert pick.why == "“math.NT” in the categories, arXiv's “Number Theory”"
    # Named only by its code, a followed class says its name too.
    [followed, _] = m.picks([Category("math.NT")], limit=10)
    assert followed.why == "“math.NT” in the categories, arXiv's “Number Theory”"
    # Part of a class's name is not the class (one mention of "theory" is below the bar).
    assert m.picks(["theory"], limit=10) == []


def test_topic_with_no_words_compiles_to_nothing() -> None:
    assert compile_topic("of the") == ()


def test_real_week_best_first_and_relevant() -> None:
    records = files.parse_file(REAL / "hf_daily_papers_2026-05-12.json").records
    papers = [Paper(id=i, **r.__dict__) for i, r in enumerate(records, start=1)]
    m = Matcher(papers, window_end=DAY)
    picks = m.picks(["mixture of experts"], limit=10)
    assert picks, "the sample week has MoE papers"
    for pick in picks:
        text = (pick.paper.title + pick.paper.abstract).lower()
        assert "mixture-of-experts" in text or "moe" in text or "mixture of experts" in text
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
