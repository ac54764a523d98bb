"""`newsletter feedback report`: what readers said of their picks, per topic and per issue."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli import cli, emit_json
from newsletter.db import session_scope
from newsletter.readers import votes

WORST_MIN_VOTES = 3  # a topic needs this many votes before its ratio is ranked
WORST_SHOWN = 5


@cli.group()
def feedback() -> None:
    """Readers' votes on their picks."""


@feedback.command()
@click.option("--week", help="Only this issue's week, e.g. 2026-W06 (default: every issue).")
@click.option("--json", "as_json", is_flag=True)
def report(week: str | None, as_json: bool) -> None:
    """Votes per topic and per issue, the share of picks disliked, and the topics readers
    dislike most."""
    with session_scope() as session:
        voted, sent = votes.with_picks(week=week, session=session)
    result = summarise(voted, sent)
    if as_json:
        emit_json(result)
        return
    _print(result)


def _counts() -> dict[str, int]:
    return {"more": 0, "fewer": 0}


def summarise(voted: list[votes.Voted], sent: dict[str, int]) -> dict[str, Any]:
    by_issue: dict[str, dict[str, int]] = defaultdict(_counts)
    by_topic: dict[str, dict[str, int]] = defaultdict(_counts)
    for vote in voted:
        kind = "more" if vote.value > 0 else "fewer"
        by_issue[vote.week][kind] += 1
        for topic in vote.topics or ("(no topic recorded)",):
            by_topic[topic][kind] += 1
    issues = {
        week: {**by_issue[week], "picks_sent": picks,
               "disliked_share": round(by_issue[week]["fewer"] / picks, 4) if picks else 0.0}
        for week, picks in sorted(sent.items())
    }  # fmt: skip
    topics = {t: {**c, "dislike_ratio": round(c["fewer"] / (c["more"] + c["fewer"]), 4)}
              for t, c in sorted(by_topic.items())}  # fmt: skip
    ranked = [t for t, c in topics.items() if c["more"] + c["fewer"] >= WORST_MIN_VOTES]
    worst = sorted(ranked, key=lambda t: (-topics[t]["dislike_ratio"], t))[:WORST_SHOWN]
    total_sent = sum(sent.values())
    dislikes = sum(1 for v in voted if v.value < 0)
    return {
        "votes": len(voted),
        "picks_sent": total_sent,
        "disliked_share": round(dislikes / total_sent, 4) if total_sent else 0.0,
        "issues": issues,
        "topics": topics,
        "worst_topics": worst,
    }


def _print(result: dict[str, Any]) -> None:
    console = Console(width=120)
    table = Table("issue", "picks sent", "more like this", "not for me", "share disliked",
                  title="Votes per issue")  # fmt: skip
    for week, c in result["issues"].items():
        table.add_row(week, str(c["picks_sent"]), str(c["more"]), str(c["fewer"]),
                      f"{c['disliked_share']:.1%}")  # fmt: skip
    console.print(table)
    table = Table("topic", "more like this", "not for me", "disliked", title="Votes per topic")
    for topic, c in result["topics"].items():
        table.add_row(topic, str(c["more"]), str(c["fewer"]), f"{c['dislike_ratio']:.0%}")
    console.print(table)
    worst = ", ".join(result["worst_topics"]) or f"none yet (a topic needs {WORST_MIN_VOTES} votes)"
    click.echo(f"votes={result['votes']} picks_sent={result['picks_sent']} "
               f"disliked_share={result['disliked_share']:.1%}")  # fmt: skip
    click.echo(f"worst topics by share disliked: {worst}")
