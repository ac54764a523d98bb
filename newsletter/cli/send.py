"""`newsletter send` (and its --dry-run) and `newsletter preview`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress as Bar
from rich.table import Table

from newsletter.cli import cli, emit_json, is_tty
from newsletter.db import session_scope
from newsletter.delivery import campaign, ledger
from newsletter.delivery.mailer import OutboxMailer, SmtpMailer
from newsletter.digest import compose
from newsletter.readers import store as readers
from newsletter.readers.validate import InvalidInput, normalise_email
from newsletter.settings import get_settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])
TABLE_ROWS = 50


@contextmanager
def _progress(label: str, total: int) -> Iterator[campaign.Progress | None]:
    if not is_tty() or total == 0:
        yield None
        return
    with Bar(transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.datetime.now(dt.UTC).date()


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would go out; send and write nothing.")
@click.option("--issue-date", type=_DATE, help="Issue date; papers of the 7 days up to it.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many readers this run.")
@click.option("--to", "only", help="Only this reader.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each message as .eml and .html here instead of sending over SMTP; without "
    "--dry-run the deliveries are recorded as sent (a local outbox: the demo's archive).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def send(
    dry_run: bool,
    issue_date: dt.datetime | None,
    limit: int | None,
    only: str | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Plan the week's issue for all confirmed readers and deliver it."""
    settings, day = get_settings(), _day(issue_date)
    only = normalise_email(only) if only else None
    with session_scope() as session:
        total = len(readers.active_ids(session=session, only=only)[:limit])
        if only and total == 0:
            raise InvalidInput(f"{only} is not a confirmed subscriber")
        with _progress("rendering" if dry_run else "sending", total) as progress:
            if dry_run:
                summary = campaign.dry_run(
                    day,
                    settings,
                    session=session,
                    mailer=OutboxMailer(out) if out else None,
                    cache=compose.IssueCache(),
                    only=only,
                    limit=limit,
                    progress=progress,
                )
            else:
                summary = campaign.send(
                    day,
                    settings,
                    session=session,
                    mailer=OutboxMailer(out) if out else SmtpMailer(settings),
                    cache=compose.IssueCache(),
                    only=only,
                    limit=limit,
                    progress=progress,
                )
    _report(summary, dry_run=dry_run, out=out, as_json=as_json)


def _report(summary: campaign.Summary, *, dry_run: bool, out: Path | None, as_json: bool) -> None:
    counts = {
        "week": summary.week,
        "dry_run": dry_run,
        "planned": summary.planned,
        "sent": summary.sent,
        "skipped": summary.skipped,
        "notices": summary.notices,
        "failed": summary.failed,
        "retry_later": summary.retry,
    }
    if as_json:
        emit_json({**counts, "readers": summary.rows} if dry_run else counts)
        return
    if dry_run:
        table = Table(
            "reader",
            "papers",
            "subject",
            "top paper",
            "why",
            title=f"Issue {summary.week} (dry run: nothing sent, nothing written)",
        )
        for row in summary.rows[:TABLE_ROWS]:
            table.add_row(*(str(row[k]) for k in ("email", "papers", "subject", "top", "why")))
        Console(width=200 if not is_tty() else None).print(table)
        if len(summary.rows) > TABLE_ROWS:
            click.echo(f"... and {len(summary.rows) - TABLE_ROWS} more readers (--json lists all)")
    line = (
        f"week={summary.week} planned={summary.planned} would_send={summary.sent} "
        f"skipped={summary.skipped}" + (f" notices={summary.notices}" if summary.notices else "")
        if dry_run
        else " ".join(f"{k}={v}" for k, v in counts.items() if k != "dry_run")
    )
    click.echo(line)
    if out:
        click.echo(f"messages written to {out.resolve()}")


@cli.command()
@click.argument("email")
@click.option("--issue-date", type=_DATE, help="Issue date (default: today).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: preview-<address>.html).",
)
def preview(email: str, issue_date: dt.datetime | None, out: Path | None) -> None:
    """Write one reader's digest as HTML, as it would go out now."""
    settings, address = get_settings(), normalise_email(email)
    with session_scope() as session:
        reader = readers.get_by_email(address, session=session)
        if reader is None or reader.id is None:
            raise InvalidInput(f"no subscriber with the address {address}")
        issue = campaign.issue_for(_day(issue_date), settings, session=session, create=False)
        state = compose.IssueCache().get(issue, settings, session=session)
        picks = compose.next_picks(reader, state, settings, session=session)
        if not picks:
            raise click.ClickException(
                f"nothing to preview: {ledger.NOTHING_MATCHED} ({issue.week})"
            )
        composed = compose.compose(reader, picks, state, settings=settings)
        session.rollback()
    path = out or Path(f"preview-{address.replace('@', '_at_')}.html")
    path.write_text(composed.rendered.html, encoding="utf-8")
    click.echo(f"{composed.rendered.subject}\nwritten to {path.resolve()}")
