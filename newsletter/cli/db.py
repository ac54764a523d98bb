"""`newsletter db upgrade` and `newsletter status`."""

from __future__ import annotations

import time
from typing import Any

import click

from newsletter import db as database
from newsletter.cli import cli, emit_json
from newsletter.delivery import issues, ledger
from newsletter.settings import get_settings

STATUSES = ("sent", "pending", "sending", "failed", "skipped")


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
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--watch", is_flag=True, help="Refresh until nothing is left to send.")
@click.option("--every", default=2.0, show_default=True, help="Seconds between refreshes.")
def status(as_json: bool, watch: bool, every: float) -> None:
    """The latest issue: counts by status, the sending rate over the last minute, the time
    left at that rate, deferrals by reply code and each worker's pace (slowest first).
    Reads the database, so it works from any machine that can reach it."""
    if not watch:
        data = _figures()
        if as_json:
            emit_json(data)
        else:
            click.echo(_render(data))
        return
    from rich.console import Console
    from rich.live import Live

    with Live(console=Console(), auto_refresh=False) as live:
        while True:
            data = _figures()
            live.update(_render(data), refresh=True)
            if not data["pending"] and not data["sending"]:
                break
            time.sleep(every)


def _figures() -> dict[str, Any]:
    with database.session_scope() as session:
        issue = issues.latest(session=session)
        if issue is None:
            raise click.ClickException("no issue yet: run `newsletter send` first")
        assert issue.id is not None
        now = ledger.progress(issue.id, session=session)
    counts = {name: now.counts.get(name, 0) for name in STATUSES}
    per_minute = now.recent * 60 / now.window.total_seconds()
    left = counts["pending"] + counts["sending"]
    return {
        "week": issue.week,
        "issue_date": issue.issue_date.isoformat(),
        "planned": sum(now.counts.values()),
        **counts,
        "sent_per_minute": round(per_minute, 1),
        "eta_seconds": round(left * 60 / per_minute) if per_minute and left else None,
        "deferred_by_reply": dict(sorted(now.deferred.items())),
        "workers_per_minute": dict(sorted(now.workers.items(), key=lambda kv: kv[1])),
    }


def _render(data: dict[str, Any]) -> str:
    lines = [f"issue {data['week']} ({data['issue_date']}): {data['planned']} planned"]
    lines += [f"  {name:<8} {data[name]}" for name in STATUSES]
    eta = data["eta_seconds"]
    lines.append(f"  rate     {data['sent_per_minute']}/min over the last minute"
                 + (f", about {eta // 60}m {eta % 60:02d}s left" if eta else ""))  # fmt: skip
    if data["deferred_by_reply"]:
        replies = ", ".join(f"{code} x{n}" for code, n in data["deferred_by_reply"].items())
        lines.append(f"  deferred, waiting to be tried again: {replies}")
    for worker, n in data["workers_per_minute"].items():  # slowest first
        lines.append(f"  worker {worker}: {n}/min")
    return "\n".join(lines)
