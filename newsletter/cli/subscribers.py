"""`newsletter subscribers add|import|list|forget|topics|schedule`: readers, operator side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli import cli, emit_json
from newsletter.db import session_scope
from newsletter.delivery.sendtime import DAYS, parse_day
from newsletter.digest import profile
from newsletter.digest.compose import IssueCache
from newsletter.ingest import by_id
from newsletter.ingest.bibtex import arxiv_ids
from newsletter.match import taught
from newsletter.match.interests import shown, shown_exclusions
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.readers import examples
from newsletter.readers import store as readers
from newsletter.readers.validate import (
    InvalidInput,
    Schedule,
    clean_exclusions,
    clean_follows,
    normalise_email,
    read_csv,
)
from newsletter.settings import get_settings


@cli.group()
def subscribers() -> None:
    """Add, import, list and forget readers."""


def _schedule_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--send-hour", type=int, help="Local hour, 0-23 (default 8).")(command)
    command = click.option("--send-day", help="mon ... sun (default mon).")(command)
    return click.option("--timezone", help="IANA zone, e.g. Europe/Berlin (default UTC).")(command)


def _schedule(timezone: str | None, send_day: str | None, send_hour: int | None) -> Schedule:
    try:
        day = parse_day(send_day) if send_day is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return Schedule(timezone, day, send_hour)


_EXCLUDE = "Never send papers on this topic, or by 'author: Name' (repeatable)."


def _never(reader: Subscriber) -> str:
    return f"; never: {', '.join(shown_exclusions(reader.exclusions))}" if reader.exclusions else ""


def _describe(reader: Subscriber) -> str:
    return (
        f"{reader.email} ({reader.status}): {', '.join(shown(reader.topics, reader.follows))}; "
        f"{DAYS[reader.send_day]} {reader.send_hour:02d}:00 {reader.timezone}{_never(reader)}"
    )


@subscribers.command("add")
@click.argument("email")
@click.option("--topic", "topics", multiple=True, help="Repeat for several.")
@click.option("--author", "authors", multiple=True, help="Follow an author (repeatable).")
@click.option("--category", "categories", multiple=True, help="Follow an arXiv category.")
@click.option("--exclude", "exclusions", multiple=True, help=_EXCLUDE)
@_schedule_options
@click.option(
    "--confirmed",
    is_flag=True,
    help="Mark as confirmed (only with the reader's own consent, e.g. an import).",
)
def add(
    email: str,
    topics: tuple[str, ...],
    authors: tuple[str, ...],
    categories: tuple[str, ...],
    exclusions: tuple[str, ...],
    timezone: str | None,
    send_day: str | None,
    send_hour: int | None,
    confirmed: bool,
) -> None:
    """Add a reader, or update the topics and schedule of an existing one."""
    schedule = _schedule(timezone, send_day, send_hour)
    keys = get_settings().signing_keys
    with session_scope() as session:
        existed = readers.get_by_email(normalise_email(email), session=session) is not None
        follows = clean_follows(authors, categories) if authors or categories else None
        reader = readers.upsert(
            email,
            topics,
            keys=keys,
            session=session,
            confirmed=confirmed,
            schedule=schedule,
            follows=follows,
            exclusions=clean_exclusions(exclusions) if exclusions else None,
        )
        click.echo(f"{'updated' if existed else 'added'} {_describe(reader)}")


@subscribers.command("schedule")
@click.argument("email")
@_schedule_options
def schedule(email: str, timezone: str | None, send_day: str | None, send_hour: int | None) -> None:
    """Change when a reader gets the digest (their day and hour, in their timezone)."""
    with session_scope() as session:
        reader = readers.set_schedule(
            email, _schedule(timezone, send_day, send_hour), session=session
        )
        click.echo(_describe(reader))


@subscribers.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Mark every imported reader as confirmed.")
def import_csv(path: Path, confirmed: bool) -> None:
    """Import a CSV with the columns email and topics (topics separated by ';')."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text") from exc
    rows = read_csv(text)
    with session_scope() as session:
        keys = get_settings().signing_keys
        added, updated = readers.import_rows(rows, keys=keys, session=session, confirmed=confirmed)
    click.echo(f"imported {len(rows)} rows: added {added}, updated {updated}")


@subscribers.command("list")
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]))
@click.option("--json", "as_json", is_flag=True)
def list_(status: str | None, as_json: bool) -> None:
    """List readers with their status and topics."""
    with session_scope() as session:
        rows = readers.listing(session=session, status=SubscriberStatus(status) if status else None)
    if as_json:
        emit_json(
            [
                {
                    "email": r.email,
                    "status": str(r.status),
                    "topics": r.topics,
                    "follows": r.follows,
                    "timezone": r.timezone,
                    "send_day": DAYS[r.send_day],
                    "send_hour": r.send_hour,
                    "created_at": r.created_at,
                    "confirmed_at": r.confirmed_at,
                }
                for r in rows
            ]
        )
        return
    table = Table("email", "status", "topics", "sends")
    for r in rows:
        table.add_row(
            r.email,
            r.status,
            "; ".join(shown(r.topics, r.follows)),
            f"{DAYS[r.send_day]} {r.send_hour:02d}:00 {r.timezone}",
        )
    Console().print(table)
    click.echo(f"{len(rows)} subscriber{'s' if len(rows) != 1 else ''}")


@subscribers.command("forget")
@click.argument("email")
def forget(email: str) -> None:
    """Delete a reader, their topics and their delivery history (the reader's erasure
    request). An address that bounced stays suppressed, kept only as a keyed hash."""
    keys = get_settings().signing_keys
    with session_scope() as session:
        bounced = readers.forget(email, keys=keys, session=session)
    kept = "; its hash stays on the suppression list (it bounced)" if bounced else ""
    click.echo(f"forgot {email.strip()}: reader and deliveries deleted{kept}")


# `remove` is the older name of `forget`.
subscribers.add_command(forget, name="remove")


@subscribers.command("topics")
@click.argument("email")
@click.option("--topic", "topics", multiple=True, required=True, help="Repeat for several.")
@click.option("--exclude", "exclusions", multiple=True, help=_EXCLUDE)
def topics(email: str, topics: tuple[str, ...], exclusions: tuple[str, ...]) -> None:
    """Replace a reader's topics (and, with --exclude, their exclusions)."""
    never = clean_exclusions(exclusions) if exclusions else None
    with session_scope() as session:
        reader = readers.set_topics(email, topics, session=session, exclusions=never)
        click.echo(f"{reader.email}: {', '.join(reader.topics)}{_never(reader)}")


@subscribers.command("rate")
@click.argument("email")
@click.option("--topic", required=True, help="One of the reader's topics.")
@click.option(
    "--like",
    "likes",
    multiple=True,
    help="A paper they want under it: arXiv id or page URL (repeatable).",
)
@click.option("--not", "nots", multiple=True, help="A paper they do not want (repeatable).")
@click.option("--remove", "removed", multiple=True, help="Unmark a paper (repeatable).")
@click.option("--bibtex", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A BibTeX file: each entry that names an arXiv paper is liked.")  # fmt: skip
def rate(email: str, topic: str, likes: tuple[str, ...], nots: tuple[str, ...],
         removed: tuple[str, ...], bibtex: Path | None) -> None:  # fmt: skip
    """Mark papers as examples of what a reader wants under one of their topics. With
    three liked, the topic ranks by a model of its own, taught by them. A paper not stored
    yet is fetched from the arXiv API."""
    left = 0
    if bibtex is not None:
        listed, left = arxiv_ids(bibtex.read_bytes())
        likes += tuple(listed)
    if not (likes or nots or removed):
        raise InvalidInput(
            "give at least one --like, --not, --remove or --bibtex with arXiv papers"
        )
    with session_scope() as session:
        reader = readers.get_by_email(normalise_email(email), session=session)
        if reader is None:
            raise InvalidInput(f"no subscriber with the address {email.strip()!r}")
        examples.their_topic(reader, topic)  # before anything is fetched
        by_id.fetch_missing([*likes, *nots], get_settings(), session=session)
        done = examples.teach(reader, topic, likes=likes, nots=nots, removed=removed,
                              session=session)  # fmt: skip
    ranks = "by its own model" if done.liked >= taught.MIN_LIKES else "as before"
    click.echo(f"{reader.email}, “{done.topic}”: {done.liked} liked, {done.unwanted} not; "
               f"the topic ranks {ranks}")  # fmt: skip
    if left:
        click.echo(
            f"{left} entr{'y' if left == 1 else 'ies'} of {bibtex} name no arXiv paper: left out"
        )


@subscribers.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
def show(email: str, as_json: bool) -> None:
    """A reader's profile: topics, follows, exclusions, the papers they rated, and what their
    next digest would hold if it went out now (the manage page shows the same)."""
    with session_scope() as session:
        reader = readers.get_by_email(normalise_email(email), session=session)
        if reader is None:
            raise InvalidInput(f"no subscriber with the address {email.strip()!r}")
        view = profile.of(reader, get_settings(), session=session, cache=IssueCache())
        described = _describe(reader)
        session.rollback()
    if as_json:
        emit_json(view)
        return
    click.echo(described)
    for kind in ("liked", "disliked"):
        for vote in view[kind]:
            click.echo(f"{kind}: {vote['title']} ({vote['arxiv_id']}, {vote['voted_at']})")
    for given in view["examples"]:
        answer = "like this" if given["like"] else "not this"
        click.echo(f"“{given['topic']}”, {answer}: {given['title']} ({given['arxiv_id']})")
    click.echo(f"next issue ({view['next_issue']['week']}):")
    for n, pick in enumerate(view["next_issue"]["picks"], start=1):
        click.echo(f"  {n}. {pick['title']} — {pick['why']}")
