"""`newsletter secret new`: a key for NEWSLETTER_SECRET_KEY."""

from __future__ import annotations

import secrets

import click

from newsletter.cli import cli


@cli.group()
def secret() -> None:
    """The key every reader's link is signed with."""


@secret.command("new")
def new() -> None:
    """Print a fresh random key (48 bytes, URL-safe base64). To rotate, move the current key
    to NEWSLETTER_SECRET_KEY_PREVIOUS and set this one as NEWSLETTER_SECRET_KEY."""
    click.echo(secrets.token_urlsafe(48))
