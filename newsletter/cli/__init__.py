"""The `newsletter` command: one click group; bad input is one line on stderr and exit 1."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError

from newsletter.delivery.mailer import SendError
from newsletter.ingest import FeedError
from newsletter.ingest.http import FetchError
from newsletter.readers.validate import InvalidInput
from newsletter.settings import settings_message

_EXPECTED = (InvalidInput, FeedError, FetchError, SendError, OSError)


class _Group(click.Group):
    """Turns expected failures into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _EXPECTED as exc:
            raise click.ClickException(_one_line(exc)) from exc
        except ValidationError as exc:  # settings from the environment
            raise click.ClickException(settings_message(exc)) from exc
        except (OperationalError, ProgrammingError) as exc:
            raise click.ClickException(_database_message(exc)) from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _database_message(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc))
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "the database has no tables yet: run `newsletter db upgrade` first"
    return f"database error: {' '.join(text.split())[:300]}"


@click.group(cls=_Group)
@click.version_option(package_name="trending-papers-inbox", prog_name="newsletter")
def cli() -> None:
    """Trending research papers in your readers' inboxes, once a week."""


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def is_tty() -> bool:
    return sys.stdout.isatty()


def main() -> None:
    cli(prog_name="newsletter")


# The subcommands register themselves on `cli` when imported.
from newsletter.cli import (  # noqa: E402, F401
    bounces,
    db,
    doctor,
    evaluate,
    feedback,
    ingest,
    model,
    secret,
    send,
    subscribers,
    topics,
    workers,
)
