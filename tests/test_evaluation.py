"""The relevance evaluation runs the real engine on the judged sets; guard its floor, and
check every reason it gives against its paper."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchmarks.relevance import evaluate as evaluation
from benchmarks.relevance import examples, reasons
from newsletter.cli import cli
from newsletter.models import Paper

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def test_eval_relevance_engine_beats_substring_baseline() -> None:
    result = CliRunner().invoke(cli, ["eval", "relevance", "--no-speed", "--json"])
    assert result.exit_code == 0, result.output
    sets = json.loads(result.output)["sets"]
    macro = sets["own (16 topics)"]["macro"]
    ours, base = macro["engine"], macro["substring"]
    for metric in ("p5", "r10", "ndcg10"):
        assert ours[metric] > base[metric], metric
    assert ours["empty_returned"] == 0
    # Every reason under the top 10 of every topic of every set, the blind halves included.
    assert {"own (16 topics)", "blind tune", "blind test"} <= sets.keys()
    for name, figures in sets.items():
        checked = figures["reasons"]
        assert checked["reasons"] > 50, name
        assert checked["untrue"] == 0, (name, checked["examples"])


def test_the_reason_check_catches_a_claim_the_paper_does_not_hold() -> None:
    """The complaint that started it: a title that never says "evaluation"."""
    coba = Paper(title="CoBA-RL: Capability-Oriented Budget Allocation for Reinforcement "
                 "Learning in LLMs", abstract="We evaluate budgets.", ai_keywords=["RL budget"],
                 authors=["A. Author"], arxiv_id="2602.03048")  # fmt: skip
    assert reasons.untrue("“LLM evaluation” in the title", coba)
    assert reasons.untrue("“LLM evaluation” in the title and abstract", coba)
    assert reasons.untrue("close in meaning to “LLM evaluation”: the paper's “LLM evals”", coba)
    assert reasons.untrue("“RL budget” in the title", coba)  # a keyword, not the title
    assert reasons.untrue("“Reinforcement-Learning in LLM” in the title", coba) is None
    assert reasons.untrue("“RL budget” in the keywords (your topic “RL”)", coba) is None
    assert reasons.untrue("“We evaluate” in the abstract", coba) is None
    assert reasons.untrue("close in meaning to “LLM evaluation”: the paper's “RL budget”",
                          coba) is None  # fmt: skip


def test_metrics_on_a_known_ranking() -> None:
    grades = {"a": 2, "b": 1, "c": 2}
    perfect = evaluation.score(["a", "c", "b"], grades)
    assert (perfect.p5, perfect.r10, round(perfect.ndcg10 or 0, 6)) == (1.0, 1.0, 1.0)
    poor = evaluation.score(["x", "b", "y", "z", "w"], grades)
    assert poor.p5 == 0.2 and poor.r10 == 0.0 and 0 < (poor.ndcg10 or 0) < 0.5
    assert evaluation.score([], {"q": 0}).returned == 0


def test_readers_who_teach_by_example_get_no_untrue_reason_and_nothing_on_no_match() -> None:
    """`eval relevance --examples`, 5 ratings: every reason under every pick holds (a pick the
    examples brought names a paper the reader liked), and no-match topics still get nothing."""
    runs = examples.run(SHARED, ratings=(5,))
    assert set(runs) == {f"blind {half}, 5 ratings{given}" for half in ("tune", "test")
                         for given in ("", " + 2 given")}  # fmt: skip
    for name, figures in runs.items():
        assert figures["taught"] > 0, name
        assert figures["macro"]["empty_returned"] == 0, name
        assert figures["reasons"]["reasons"] > 50 and figures["reasons"]["untrue"] == 0, figures


def test_a_reason_naming_a_liked_paper_holds_only_for_one_the_reader_liked() -> None:
    paper = Paper(title="A", abstract="B", arxiv_id="2602.00001")
    reason = "like “World Models in Practice”, which you marked"
    assert reasons.untrue(reason, paper, ["World Models in Practice"]) is None
    assert reasons.untrue(reason, paper, ["Another Paper"])
