"""`newsletter ingest hf|arxiv|file|sample`: fetch or read papers, upsert, print a summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from newsletter.cli import cli, emit_json
from newsletter.db import session_scope
from newsletter.ingest import Parsed, arxiv, files, hf, store
from newsletter.ingest.http import make_client
from newsletter.match import semantic
from newsletter.settings import get_settings
from newsletter.shipped import sample_days

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@cli.group()
def ingest() -> None:
    """Load papers from Hugging Face Daily Papers, arXiv or local files."""


def _save(parsed: Parsed, as_json: bool) -> None:
    encoder = semantic.load(get_settings().embedding_model)
    with session_scope() as session:
        report = store.upsert(parsed, session=session, encoder=encoder)
    if as_json:
        emit_json(report.as_dict())
        return
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}, embedded {report.embedded}"
    )
    for reason in report.skipped:
        click.echo(f"  skipped {reason}")
    for what, ids in report.cut.items():
        click.echo(f"  {_papers(len(ids))}: {what} ({_first(ids)})")


def _papers(n: int) -> str:
    return f"{n} paper" if n == 1 else f"{n} papers"


def _first(ids: list[str], shown: int = 5) -> str:
    """The first few ids: a file of thousands of over-long abstracts is one line, not thousands."""
    more = f", and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _week_days(week: str) -> list[dt.date]:
    try:
        monday = dt.datetime.strptime(week + "-1", "%G-W%V-%u").date()
    except ValueError as exc:
        raise click.BadParameter(
            f"{week!r} is not an ISO week like 2026-W22", param_hint="--week"
        ) from exc
    today = dt.datetime.now(dt.UTC).date()
    return [d for d in (monday + dt.timedelta(days=i) for i in range(7)) if d <= today]


@ingest.command("hf")
@click.option("--date", "day", type=_DATE, help="One day (default: today, UTC).")
@click.option("--week", help="Every day of an ISO week, e.g. 2026-W22.")
@click.option("--json", "as_json", is_flag=True)
def ingest_hf(day: dt.datetime | None, week: str | None, as_json: bool) -> None:
    """Fetch the Hugging Face Daily Papers of a day or a week."""
    if day and week:
        raise click.UsageError("give --date or --week, not both")
    days = _week_days(week) if week else [day.date() if day else dt.datetime.now(dt.UTC).date()]
    settings, parsed = get_settings(), Parsed()
    with make_client(settings) as client:
        for one in days:
            parsed.extend(hf.fetch_day(client, one, settings=settings))
    _save(parsed, as_json)


@ingest.command("arxiv")
@click.option(
    "--category",
    "categories",
    multiple=True,
    required=True,
    help="arXiv category such as cs.CL; repeat for several.",
)
@click.option("--days", default=7, show_default=True, help="How far back to go.")
@click.option("--max-results", default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def ingest_arxiv(categories: tuple[str, ...], days: int, max_results: int, as_json: bool) -> None:
    """Fetch the newest papers of arXiv categories from the export API."""
    settings = get_settings()
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    with make_client(settings) as client:
        parsed = arxiv.fetch(
            client, list(categories), since=since, max_results=max_results, settings=settings
        )
    _save(parsed, as_json)


@ingest.command("file")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--featured-on",
    type=_DATE,
    help="The day these papers trended (default: from the items themselves).",
)
@click.option("--json", "as_json", is_flag=True)
def ingest_file(path: Path, featured_on: dt.datetime | None, as_json: bool) -> None:
    """Read a Daily Papers JSON array, JSONL of the same, or an arXiv Atom/RSS file."""
    _save(files.parse_file(path, featured_on.date() if featured_on else None), as_json)


@ingest.command("sample")
@click.option("--json", "as_json", is_flag=True)
def ingest_sample(as_json: bool) -> None:
    """Load the bundled sample: the real Daily Papers of 2026-02-02 to 02-06 (no network)."""
    parsed = Parsed()
    for day, content in sample_days():
        parsed.extend(files.parse_bytes(content, day))
    _save(parsed, as_json)
