"""The relevance evaluation runs the real engine on the judged set; guard its floor."""

from __future__ import annotations

import json

from click.testing import CliRunner

from benchmarks.relevance import evaluate as evaluation
from newsletter.cli import cli


def test_eval_relevance_engine_beats_substring_baseline() -> None:
    result = CliRunner().invoke(cli, ["eval", "relevance", "--no-speed", "--json"])
    assert result.exit_code == 0, result.output
    macro = json.loads(result.output)["sets"]["own (16 topics)"]["macro"]
    ours, base = macro["engine"], macro["substring"]
    for metric in ("p5", "r10", "ndcg10"):
        assert ours[metric] > base[metric], metric
    assert ours["empty_returned"] == 0


def test_metrics_on_a_known_ranking() -> None:
    grades = {"a": 2, "b": 1, "c": 2}
    perfect = evaluation.score(["a", "c", "b"], grades)
    assert (perfect.p5, perfect.r10, round(perfect.ndcg10 or 0, 6)) == (1.0, 1.0, 1.0)
    poor = evaluation.score(["x", "b", "y", "z", "w"], grades)
    assert poor.p5 == 0.2 and poor.r10 == 0.0 and 0 < (poor.ndcg10 or 0) < 0.5
    assert evaluation.score([], {"q": 0}).returned == 0
