"""`newsletter db upgrade` and `newsletter status`."""

from __future__ import annotations

import click

from newsletter import db as database
from newsletter.cli import cli, emit_json
from newsletter.delivery import issues, ledger
from newsletter.settings import get_settings


@cli.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Create the database or bring it to the latest schema (SQLite or PostgreSQL)."""
    database.upgrade()
    click.echo(f"database at head: {_safe_url(get_settings().database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def status(as_json: bool) -> None:
    """Counts of the latest issue: planned, pending, sent, skipped, failed."""
    with database.session_scope() as session:
        issue = issues.latest(session=session)
        if issue is None:
            raise click.ClickException("no issue yet: run `newsletter send` first")
        assert issue.id is not None
        counts = ledger.counts(issue.id, session=session)
    data = {
        "week": issue.week,
        "issue_date": issue.issue_date.isoformat(),
        "planned": sum(counts.values()),
        **counts,
    }
    if as_json:
        emit_json(data)
        return
    click.echo(f"issue {issue.week} (papers of {issue.window_start} to {issue.window_end})")
    for name, value in data.items():
        if name not in ("week", "issue_date"):
            click.echo(f"  {name:<8} {value}")
