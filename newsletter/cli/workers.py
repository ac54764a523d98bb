"""`newsletter worker`, `newsletter beat` and `newsletter web`: the long-running services."""

from __future__ import annotations

import os

import click

from newsletter.cli import cli

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


def _celery(*args: str) -> None:
    from newsletter.settings import get_settings
    from workers.celery_app import command

    get_settings()  # settings unsafe outside development: one line here, not a traceback there
    # exec, so signals (SIGTERM for a warm shutdown) reach Celery itself.
    argv = command(*args)
    os.execv(argv[0], argv)


@cli.command(context_settings=_PASS_THROUGH)
@click.option("--concurrency", "-c", default=2, show_default=True)
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """Start a Celery worker (extra options go to `celery worker`)."""
    _celery("worker", "--concurrency", str(concurrency), "--loglevel", "INFO", *ctx.args)


@cli.command(context_settings=_PASS_THROUGH)
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Start Celery beat; run exactly one (extra options go to `celery beat`)."""
    _celery("beat", "--loglevel", "INFO", *ctx.args)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", "processes", default=1, show_default=True)
def web(host: str, port: int, processes: int) -> None:
    """Serve the readers' pages: subscribe, confirm, manage, unsubscribe; and /metrics."""
    import uvicorn

    from newsletter import metrics
    from newsletter.settings import get_settings
    from newsletter.web.accesslog import LOG_CONFIG

    settings = get_settings()
    if settings.metrics_enabled and settings.metrics_port:
        metrics.serve(settings, settings.metrics_port)

    uvicorn.run(
        "newsletter.web:create_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        proxy_headers=True,
        server_header=False,
        access_log=False,  # the app logs requests by route, without tokens (web/accesslog.py)
        log_config=LOG_CONFIG,
    )
