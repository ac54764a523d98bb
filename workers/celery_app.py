"""The Celery app, configured from the newsletter settings.

Tasks are idempotent (the ledger's claim decides who sends what), so they are
acknowledged late and requeued if their worker dies; JSON only, one task
prefetched at a time, and every task has a time limit shorter than the lease.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from celery import Celery
from celery.signals import worker_init
from pydantic import ValidationError

from newsletter import metrics
from newsletter.match import semantic
from newsletter.settings import get_settings, settings_message
from workers.schedule import beat_schedule


def make_app() -> Celery:
    try:
        settings = get_settings()
    except ValidationError as exc:  # `celery -A workers.celery_app` run directly
        sys.exit(f"newsletter: {settings_message(exc)}")
    app = Celery("newsletter", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 30),
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # An unacknowledged task (its worker died) goes back to the queue after this long;
        # every key of the queue under the deployment's prefix.
        broker_transport_options={
            "visibility_timeout": 2 * settings.delivery_lease_seconds,
            "global_keyprefix": settings.redis_prefix,
        },
        beat_schedule=beat_schedule(settings),
        include=["workers.tasks"],
    )
    return app


@worker_init.connect
def _load_model(**_: Any) -> None:
    """The embedding model, loaded in the worker's main process before the pool forks, so
    its pages are shared by the pool's processes instead of copied into each."""
    semantic.load(get_settings().embedding_model)
    # Everything made so far is moved out of the collector's reach: a collection in a pool
    # process would otherwise write to every object's header, copying the pages it shares.
    gc.freeze()


@worker_init.connect
def _serve_metrics(**_: Any) -> None:
    """With NEWSLETTER_METRICS_PORT set, the worker's main process serves its pool's counts
    (multiprocess mode, PROMETHEUS_MULTIPROC_DIR) for Prometheus to scrape."""
    settings = get_settings()
    if settings.metrics_enabled and settings.metrics_port:
        metrics.serve(settings, settings.metrics_port)


def command(*args: str, app: str = "workers.celery_app") -> list[str]:
    """The `celery` command line for this app (or a module that wraps it), run by this Python."""
    return [sys.executable, "-m", "celery", "-A", app, *args]


def worker_command(name: str, concurrency: int, app: str = "workers.celery_app") -> list[str]:
    """A prefork worker named `name`, as the tests and the benchmark start it."""
    return command(
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        app=app,
    )


app = make_app()
