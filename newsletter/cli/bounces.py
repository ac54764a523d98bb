"""`newsletter bounces fetch`: bounces and complaints that came back after sending."""

from __future__ import annotations

from dataclasses import asdict

import click

from newsletter.cli import cli, emit_json
from newsletter.delivery import returns
from newsletter.settings import get_settings


@cli.group()
def bounces() -> None:
    """Bounces and complaints that arrive at the bounce address."""


@bounces.command()
@click.option("--maildir", type=click.Path(file_okay=False), help="Read this Maildir instead.")
@click.option("--json", "as_json", is_flag=True)
def fetch(maildir: str | None, as_json: bool) -> None:
    """Read the bounce mailbox once: hard bounces count toward suppression, soft ones are
    recorded, complaints unsubscribe the reader. A message handled before is not handled
    again; one that is neither a bounce nor a complaint is left unread."""
    source, summary = returns.fetch_mailbox(get_settings(), maildir)
    if as_json:
        emit_json({"source": source, **asdict(summary)})
        return
    click.echo(
        f"{source}: {summary.hard_bounce} hard bounces, {summary.soft_bounce} soft, "
        f"{summary.complaint} complaints, {summary.repeated} handled before, "
        f"{summary.unmatched} naming no delivery of ours, "
        f"{summary.unrecognised} neither (left unread)"
    )
    for email in summary.suppressed:
        click.echo(f"suppressed: {email}")
    for email in summary.unsubscribed:
        click.echo(f"unsubscribed after a complaint: {email}")
