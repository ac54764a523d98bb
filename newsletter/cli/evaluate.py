"""`newsletter eval relevance`: the matching engine scored on the judged set, and its speed.

The evaluation and its judged set are development code and data: they live in the clone's
benchmarks/ folder, not in the installed package, and are loaded from there.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli import cli, emit_json

TARGETS = {"p5": 0.85, "r10": 0.85}


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
    help="The clone's benchmarks/ folder: the judged set and the evaluation code.",
)
@click.option("--speed/--no-speed", default=True, help="Also time 2,000 papers x 5,000 topics.")
@click.option("--json", "as_json", is_flag=True)
def relevance(folder: Path, speed: bool, as_json: bool) -> None:
    """Precision@5, recall@10 and nDCG@10 per judged topic, engine vs substring baseline."""
    evaluation = _evaluation(folder)
    papers, judged = evaluation.load_judged(
        folder / "relevance" / "judgments.json", folder.resolve().parent
    )
    ours = evaluation.evaluate(evaluation.engine(papers), judged)
    base = evaluation.evaluate(evaluation.substring_baseline(papers), judged)
    result: dict[str, object] = {
        "topics": {t: {"engine": ours[t].__dict__, "baseline": base[t].__dict__} for t in judged},
        "macro": {"engine": evaluation.macro(ours), "baseline": evaluation.macro(base)},
    }
    if speed:
        result["speed"] = evaluation.speed()
    if as_json:
        emit_json(result)
        return
    table = Table(
        "topic",
        "P@5",
        "R@10",
        "nDCG@10",
        "returned",
        "P@5 base",
        "R@10 base",
        "nDCG base",
        "returned base",
        title=f"Judged set: {len(papers)} papers",
    )
    for topic in judged:
        o, b = ours[topic], base[topic]
        table.add_row(
            topic,
            _fmt(o.p5),
            _fmt(o.r10),
            _fmt(o.ndcg10),
            str(o.returned),
            _fmt(b.p5),
            _fmt(b.r10),
            _fmt(b.ndcg10),
            str(b.returned),
        )
    m, mb = evaluation.macro(ours), evaluation.macro(base)
    table.add_row(
        "[b]macro[/b]",
        _fmt(m["p5"]),
        _fmt(m["r10"]),
        _fmt(m["ndcg10"]),
        f"{m['empty_returned']:.0f} on empty",
        _fmt(mb["p5"]),
        _fmt(mb["r10"]),
        _fmt(mb["ndcg10"]),
        f"{mb['empty_returned']:.0f} on empty",
    )
    Console(width=160).print(table)
    met = all(m[k] >= v for k, v in TARGETS.items()) and m["empty_returned"] == 0
    click.echo(
        f"targets (P@5 >= 0.85, R@10 >= 0.85, nothing on empty topics): "
        f"{'met' if met else 'NOT met'}"
    )
    if speed:
        s = result["speed"]
        assert isinstance(s, dict)
        click.echo(
            f"speed: {s['papers']:.0f} papers x {s['topics']:.0f} distinct topics scored in "
            f"{s['total_s']:.2f} s (index {s['index_s']:.2f} s, scoring {s['score_s']:.2f} s)"
        )
