"""`newsletter topics preview`: what a topic, as a reader would type it, finds."""

from __future__ import annotations

import click

from newsletter.cli import cli, emit_json
from newsletter.db import session_scope
from newsletter.digest import profile
from newsletter.digest.compose import IssueCache
from newsletter.readers.validate import clean_topics
from newsletter.settings import get_settings


@cli.group()
def topics() -> None:
    """Try topics before a reader subscribes to them."""


@topics.command("preview")
@click.argument("topic")
@click.option("--weeks", type=click.IntRange(1, profile.MAX_PREVIEW_WEEKS),
              default=profile.PREVIEW_WEEKS, show_default=True,
              help="How many of the latest weeks of papers to look in.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def preview(topic: str, weeks: int, as_json: bool) -> None:
    """The papers TOPIC would have brought in the latest weeks, best first, each with its
    reason: what the subscribe and manage pages show, and what a reader rates as examples."""
    [topic] = clean_topics([topic])
    with session_scope() as session:
        found = profile.topic_preview(topic, get_settings(), session=session,
                                      cache=IssueCache(), weeks=weeks)  # fmt: skip
        session.rollback()
    if as_json:
        emit_json(found)
        return
    click.echo(f"“{topic}”: {found['matched']} papers in {found['dates']}")
    for n, paper in enumerate(found["papers"], start=1):
        click.echo(f"  {n}. {paper['title']} ({paper['arxiv_id']}) — {paper['why']}")
    if not found["papers"]:
        fix = found["did_you_mean"]
        click.echo(f"  nothing: did you mean “{fix}”?" if fix else
                   "  nothing: a broader wording may find more")  # fmt: skip
