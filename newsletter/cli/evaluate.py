"""`newsletter eval relevance`: the matching engine scored on the judged set, and its speed.

The evaluation and its judged set are development code and data: they live in the clone's
benchmarks/ folder, not in the installed package, and are loaded from there.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli import cli, emit_json


@cli.group(name="eval")
def eval_() -> None:
    """Measure the matching engine."""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _evaluation(folder: Path) -> ModuleType:
    if not (folder / "relevance" / "evaluate.py").is_file():
        raise click.ClickException(
            f"no evaluation in {folder}: run this in a clone of the project, "
            "or pass --benchmarks with its benchmarks/ folder"
        )
    sys.path.insert(0, str(folder.resolve().parent))
    return importlib.import_module("benchmarks.relevance.evaluate")


@eval_.command()
@click.option(
    "--benchmarks",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="benchmarks",
    show_default=True,
    help="The clone's benchmarks/ folder: the judged sets and the evaluation code.",
)
@click.option(
    "--shared",
    type=click.Path(file_okay=False, path_type=Path),
    help="The shared data folder the blind set's corpus comes from (default: ../shared).",
)
@click.option("--per-topic", is_flag=True, help="Also print each topic's figures.")
@click.option("--speed/--no-speed", default=True, help="Also time 2,000 papers x 5,000 topics.")
@click.option(
    "--feedback", is_flag=True, help="Also score the engine on the votes readers cast (this DB)."
)
@click.option(
    "--examples", is_flag=True,
    help="Also score readers who rate 0, 3, 5 and 10 papers of a topic's preview (blind set).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def relevance(
    folder: Path, shared: Path | None, per_topic: bool, speed: bool, feedback: bool,
    examples: bool, as_json: bool,
) -> None:  # fmt: skip
    """P@5, R@10 and nDCG@10 on each judged set: the engine (words and meaning) against
    the same engine by words only and a substring baseline.

    The sets: the project's own (16 topics), and the blind set's tune and test halves
    (topics written before any paper was read; benchmarks/relevance/blind/). With --feedback,
    also the readers' votes: likes relevant, dislikes not, one query per reader and issue.
    With --examples, simulated readers who teach each blind topic by rating its preview
    (benchmarks/relevance/examples.py)."""
    evaluation = _evaluation(folder)
    shared = shared or folder.resolve().parent.parent / "shared"
    # Timed first, in a process that has loaded nothing yet: the model's load counts.
    timed = evaluation.speed() if speed else None
    sets = evaluation.run_sets(folder, shared)
    if feedback:
        voted = evaluation.votes_set()
        if voted is None:
            click.echo("no votes yet: the votes row is left out", err=True)
        else:
            sets["votes received"] = voted
    result: dict[str, object] = {"sets": sets}
    if examples:
        result["examples"] = _examples_module(folder).run(shared)
    if timed is not None:
        result["speed"] = timed
    if as_json:
        emit_json(result)
        return
    _print_macros(sets)
    if examples:
        _print_examples(result["examples"])  # type: ignore[arg-type]
    if per_topic:
        for name, figures in sets.items():
            _print_topics(name, figures)
    if speed:
        s = result["speed"]
        assert isinstance(s, dict)
        click.echo(
            f"speed: {s['papers']:.0f} papers x {s['topics']:.0f} distinct topics in "
            f"{s['total_s']:.2f} s: model load {s['load_s']:.2f} s, embedding the papers "
            f"{s['embed_s']:.2f} s, index {s['index_s']:.2f} s, scoring (topic embeddings "
            f"included) {s['score_s']:.2f} s; model {s['model']}"
        )
        if "pss_mb" in s:
            click.echo(f"memory after: RSS {s['rss_mb']:.0f} MB, PSS {s['pss_mb']:.0f} MB")


def _print_macros(sets: dict[str, dict[str, Any]]) -> None:
    table = Table("set", "topics", "papers", "ranker", "P@5", "R@10", "nDCG@10",
                  "returned on no-match topics", title="Relevance, macro over topics")  # fmt: skip
    for name, figures in sets.items():
        for ranker, m in figures["macro"].items():
            table.add_row(name, str(len(figures["topics"])), str(figures["papers"]), ranker,
                          _fmt(m["p5"]), _fmt(m["r10"]), _fmt(m["ndcg10"]),
                          f"{m['empty_returned']:.0f}")  # fmt: skip
    Console(width=160).print(table)
    for name, figures in sets.items():
        if "reasons" in figures:
            r = figures["reasons"]
            click.echo(f"{name}: untrue reasons: {r['untrue']} of {r['reasons']}")
            for example in r["examples"][:5]:
                click.echo(f"  {example}")
        for kind, m in figures.get("by_kind", {}).items():
            click.echo(f"{name}, {kind}: engine P@5 {_fmt(m['p5'])}, R@10 {_fmt(m['r10'])}, "
                       f"returned on no-match topics {m['empty_returned']:.0f}")  # fmt: skip


def _examples_module(folder: Path) -> ModuleType:
    _evaluation(folder)
    return importlib.import_module("benchmarks.relevance.examples")


def _print_examples(runs: dict[str, dict[str, Any]]) -> None:
    title = "Readers who teach by example: the blind set's latest weeks, macro over topics"
    table = Table("set", "topics taught", "P@5", "R@10", "nDCG@10",
                  "returned on no-match topics", "untrue reasons", title=title)  # fmt: skip
    for name, figures in runs.items():
        m, r = figures["macro"], figures["reasons"]
        table.add_row(name, f"{figures['taught']} of {figures['topics']}", _fmt(m["p5"]),
                      _fmt(m["r10"]), _fmt(m["ndcg10"]), f"{m['empty_returned']:.0f}",
                      f"{r['untrue']} of {r['reasons']}")  # fmt: skip
    Console(width=160).print(table)


def _print_topics(name: str, figures: dict[str, Any]) -> None:
    rankers = list(figures["macro"])
    columns = [f"{metric} {r}" for r in rankers for metric in ("P@5", "R@10", "returned")]
    table = Table("topic", *columns, title=f"{name}: per topic")
    for topic, by_ranker in figures["topics"].items():
        cells = []
        for r in rankers:
            one = by_ranker[r]
            cells += [_fmt(one["p5"]), _fmt(one["r10"]), str(one["returned"])]
        table.add_row(topic, *cells)
    Console(width=160).print(table)
