"""Prometheus metrics, with prometheus-client.

Counted where the work happens (delivery/campaign.py, delivery/returns.py), in whichever
process does it. Celery workers are many processes: with PROMETHEUS_MULTIPROC_DIR set (the
same folder for the workers and `newsletter web`; empty it when they all restart), each
writes its counts there and /metrics adds them up (the client's multiprocess mode). The
state of the latest issue, the readers and the queue is read from the database and Redis
when /metrics is scraped.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import redis
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsletter.db import session_scope
from newsletter.delivery import issues, ledger
from newsletter.models import utcnow
from newsletter.readers import store
from newsletter.settings import Settings

DIGESTS = Counter(
    "newsletter_digests",
    "Digests by outcome at send time: sent, deferred (tried again later), failed (refused "
    "for good) or skipped.",
    ["outcome"],
)
MAIL_EVENTS = Counter(
    "newsletter_mail_events",
    "Bounces (hard_bounce, soft_bounce) and complaints that came back after sending.",
    ["kind"],
)
SMTP_REPLIES = Counter(
    "newsletter_smtp_replies",
    "SMTP servers' replies to our messages, by code ('none': the connection failed).",
    ["code"],
)
STAGE = Histogram(
    "newsletter_stage_seconds",
    "Time per digest in each stage: compose (pick and lay out), render (MIME and DKIM), "
    "pace (waiting for the domain's budget), smtp (the send), ledger (writing outcomes).",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
BATCH = Histogram(
    "newsletter_batch_seconds",
    "Time per delivery batch.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
# Each message counts and times itself under a few labels: their children, looked up once
# (`labels` checks and locks at each call). A child made before a fork still writes under
# the pid of the process that counts (the client checks it at each write).
stage = functools.cache(STAGE.labels)
digests = functools.cache(DIGESTS.labels)
smtp_replies = functools.cache(SMTP_REPLIES.labels)
QUEUE = "celery"  # Celery's default queue: a Redis list, under NEWSLETTER_REDIS_PREFIX


class StateCollector(Collector):
    """The latest issue's deliveries by status, readers by status and the queue's depth."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from newsletter.delivery import campaign  # which counts with this module

        deliveries = GaugeMetricFamily(
            "newsletter_issue_deliveries",
            "The latest issue's deliveries by status (pending: still to send).",
            labels=["week", "status"],
        )
        readers = GaugeMetricFamily("newsletter_readers", "Readers by status.", labels=["status"])
        with session_scope(self.settings.database_url) as session:
            issue = issues.latest(session=session)
            if issue is not None and issue.id is not None:
                for status, n in ledger.counts(issue.id, session=session).items():
                    deliveries.add_metric([issue.week, status], n)
            for status, n in store.count_by_status(session=session).items():
                readers.add_metric([status], n)
            due = campaign.due_unplanned(utcnow(), self.settings, session=session)
        yield deliveries
        yield readers
        yield GaugeMetricFamily(
            "newsletter_readers_due",
            "Readers whose send moment has come and who are not planned yet (the next tick's).",
            value=due,
        )
        if self.settings.redis_url:
            queue = GaugeMetricFamily("newsletter_queue_depth", "Tasks waiting in the queue.")
            client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2)
            try:
                queue.add_metric([], client.llen(self.settings.redis_prefix + QUEUE))
                yield queue
            except redis.RedisError:
                pass  # the scrape still answers; the queue's absence says Redis is down
            finally:
                client.close()


class _Everything(Collector):
    """What /metrics shows: this process's counts (every process's in multiprocess mode),
    then the state read now. generate_latest() takes it as it takes a registry."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            counts = CollectorRegistry()
            multiprocess.MultiProcessCollector(counts)
            yield from counts.collect()
        else:
            yield from REGISTRY.collect()
        yield from StateCollector(self.settings).collect()


def exposition(settings: Settings) -> bytes:
    return generate_latest(_Everything(settings))


def serve(settings: Settings, port: int) -> None:
    """/metrics on a port of its own (a thread), kept apart from the readers' pages, on
    NEWSLETTER_METRICS_HOST (127.0.0.1 unless the operator opens it)."""
    start_http_server(port, addr=settings.metrics_host, registry=_Everything(settings))
