"""`newsletter doctor`: is this configuration ready to send real mail?"""

from __future__ import annotations

import click

from newsletter.cli import cli
from newsletter.delivery import doctor as checks
from newsletter.settings import get_settings


@cli.command()
@click.option("--dkim-record", help="The selector's published TXT record, to compare offline.")
def doctor(dkim_record: str | None) -> None:
    """Check SMTP, TLS, the sender, the public URL, DKIM and the postal address."""
    results = checks.run(get_settings(), dkim_record=dkim_record)
    for check in results:
        click.echo(f"{check.level:<4}  {check.what}")
        if check.fix:
            click.echo(f"      fix: {check.fix}")
    failed = sum(c.level == "fail" for c in results)
    if failed:
        raise click.ClickException(f"{failed} check{'s' if failed != 1 else ''} failed")
