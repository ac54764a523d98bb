"""The workers' Celery app, plus a count of the SQL statements each `deliver_batch` sends.

The benchmark starts its workers with this app (`celery -A benchmarks.counted_app`) so the
production engine carries no benchmark hook. Each batch logs
`batch_statements ids=N queries=Q`, which benchmarks/weekly_run.py reads.
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun
from celery.utils.log import get_task_logger
from sqlalchemy import event
from sqlalchemy.engine import Engine

from workers.celery_app import app

__all__ = ["app"]
log = get_task_logger("benchmarks.counted_app")
statements = {"count": 0, "at_start": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args: Any) -> None:
    statements["count"] += 1


@task_prerun.connect
def _start(task: Any = None, **_kwargs: Any) -> None:
    statements["at_start"] = statements["count"]


@task_postrun.connect
def _report(task: Any = None, args: Any = None, **_kwargs: Any) -> None:
    if task is not None and task.name == "newsletter.deliver_batch" and args:
        queries = statements["count"] - statements["at_start"]
        log.warning("batch_statements ids=%d queries=%d", len(args[0]), queries)
