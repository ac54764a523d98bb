"""Thin tasks: ids in, the campaign functions do the work, the ledger makes retries safe.

Each worker process keeps one IssueCache (the week's papers indexed, the digest compiled),
as it keeps one database engine: built on first use, reused by every batch."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict
from typing import Any

from celery import Task
from celery.utils.log import get_task_logger
from sqlalchemy.exc import OperationalError

from newsletter.db import session_scope
from newsletter.delivery import campaign, ledger, returns
from newsletter.delivery.mailbox import MailboxError
from newsletter.delivery.mailer import SendError, SmtpMailer
from newsletter.delivery.sendtime import current_weeks
from newsletter.digest.compose import IssueCache
from newsletter.ingest import Parsed, hf, store
from newsletter.ingest.http import FetchError, make_client
from newsletter.match import semantic
from newsletter.models import utcnow
from newsletter.settings import get_settings
from workers.celery_app import app

# Transient: the SMTP server or the database could not be reached. Permanent refusals are
# recorded per delivery by the campaign and never raised, so they are never retried.
log = get_task_logger(__name__)
_RETRY = {
    "autoretry_for": (SendError, OperationalError),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}
_issues = IssueCache()


def _now(value: str | None) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if value else utcnow()


@app.task(name="newsletter.tick", **_RETRY)
def tick(now: str | None = None) -> dict[str, int]:
    """Plan everyone due at `now` (ISO time; default: the real now) and enqueue batches."""
    settings, moment = get_settings(), _now(now)
    with session_scope() as session:
        new = campaign.plan_due(moment, settings, session=session)
        lost = ledger.stale(current_weeks(moment), session=session, lease=settings.delivery_lease)
    ids = sorted(set(new) | set(lost))
    for start in range(0, len(ids), settings.batch_size):
        deliver_batch.delay(ids[start : start + settings.batch_size], now)
    return {
        "planned": len(new),
        "requeued": len(lost),
        "batches": -(-len(ids) // settings.batch_size),
    }


@app.task(name="newsletter.deliver_batch", bind=True, **_RETRY)
def deliver_batch(self: Task, delivery_ids: list[int], now: str | None = None) -> dict[str, Any]:
    """Send what is still claimable among `delivery_ids`, over one SMTP connection."""
    settings = get_settings()
    summary = campaign.Summary(week="")
    mailer = SmtpMailer(settings)
    started = time.perf_counter()
    try:
        with session_scope(batch=True) as session:
            campaign.deliver(
                delivery_ids,
                settings,
                session=session,
                mailer=mailer,
                cache=_issues,
                summary=summary,
                weeks=current_weeks(_now(now)),
            )
    finally:
        mailer.close()
    log.info(
        "deliver_batch ids=%d sent=%d skipped=%d failed=%d seconds=%.3f",
        len(delivery_ids),
        summary.sent,
        summary.skipped,
        summary.failed,
        time.perf_counter() - started,
    )
    return {
        "sent": summary.sent,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "retry": summary.retry,
    }


@app.task(
    name="newsletter.ingest_daily",
    autoretry_for=(FetchError, OperationalError),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=5,
)
def ingest_daily() -> dict[str, int]:
    settings, today = get_settings(), utcnow().date()
    parsed = Parsed()
    with make_client(settings) as client:
        for day in (today - dt.timedelta(days=1), today):
            parsed.extend(hf.fetch_day(client, day, settings=settings))
    encoder = semantic.load(settings.embedding_model)
    with session_scope() as session:
        report = store.upsert(parsed, session=session, encoder=encoder)
    return {"added": report.added, "updated": report.updated, "skipped": len(report.skipped),
            "embedded": report.embedded}  # fmt: skip


@app.task(name="newsletter.fetch_bounces", autoretry_for=(OperationalError,), max_retries=3)
def fetch_bounces() -> dict[str, int | str]:
    """Beat's 15-minute read of the bounce mailbox; a mailbox that cannot be reached is
    logged and tried again at the next beat."""
    try:
        _, summary = returns.fetch_mailbox(get_settings())
    except MailboxError as exc:
        log.warning("bounce mailbox not read: %s", exc)
        return {"error": str(exc)}
    # Counts only: Celery logs a task's result, and addresses do not belong in logs.
    return {k: len(v) if isinstance(v, list) else v for k, v in asdict(summary).items()}
