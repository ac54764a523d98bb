"""The weekly run at scale, through the real path: plan, Celery workers on Redis, match,
render, send over SMTP into a sink, record. Prints a table and writes JSON to
benchmarks/results/.

    .venv/bin/python benchmarks/weekly_run.py [--readers 100000] [--papers 2000]
        [--workers 2] [--allow-batch-resend] [--sqlite] [--no-dry-run] [--no-smtp-source]
        [--voters 0.2] [--examples 0.2]

With no flags it runs the product's defaults. `--allow-batch-resend` is the trade-off mode
that writes the ledger once per batch (a killed worker may send a whole batch again).
`--voters F` gives that share of the readers VOTES_EACH votes on last week's papers, so their
picks are ranked with their profiles (newsletter/match/feedback.py). `--examples F` gives that
share 5-20 examples on their first topic (two in three liked), so that topic ranks by a model
of its own (newsletter/match/taught.py).

Needs PostgreSQL (NEWSLETTER_TEST_PG_URL, default postgres@127.0.0.1:5432/test; a fresh
database is created and dropped) and Redis (database 14 is flushed). The SMTP sink is
Postfix's smtp-sink when installed (Debian package postfix), else an aiosmtpd sink.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic  # noqa: E402
from newsletter import db  # noqa: E402
from newsletter.ingest import PaperRecord, store  # noqa: E402
from newsletter.match import semantic  # noqa: E402
from newsletter.models import (  # noqa: E402
    Example,
    Issue,
    Paper,
    Subscriber,
    SubscriberStatus,
    Vote,
    utcnow,
)
from newsletter.settings import get_settings  # noqa: E402
from workers.celery_app import worker_command  # noqa: E402

MONDAY = dt.datetime(2026, 5, 11, 8, tzinfo=dt.UTC)
PG_ADMIN = os.environ.get(
    "NEWSLETTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/14"
VOTES_EACH = 5


def settings_env(url: str, port: int) -> dict[str, str]:
    """The product's settings a benchmark sets: its database, Redis, and the sink's port."""
    return {
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_REDIS_URL": REDIS_URL,
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(port),
        "NEWSLETTER_SECRET_KEY": "bench-secret",
        "NEWSLETTER_BASE_URL": "https://papers.example.com",
        "NEWSLETTER_FROM": "Trending Papers <digest@papers.example.com>",
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- data --------------------------------------------------------------------------------


def make_database(use_sqlite: bool, tmp: Path) -> tuple[str, str | None]:
    if use_sqlite:
        return f"sqlite:///{tmp / 'bench.db'}", None
    name = f"newsletter_bench_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), name


def drop_database(name: str | None) -> None:
    if name:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(statement: str) -> None:
    url = make_url(PG_ADMIN)
    with psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        dbname=url.database,
        autocommit=True,
    ) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def _paper_rows(records: list[PaperRecord]) -> list[dict[str, object]]:
    now = utcnow()
    extra = {"ingested_at": now, "categories": [], "ai_summary": None, "github_url": None,
             "project_url": None, "published_at": None}  # fmt: skip
    return [vars(r) | extra for r in records]


def audience_topics(rng: random.Random) -> Iterator[list[str]]:
    """Each reader's topics in turn: 1-5 of a pool of 3,000, a few of them popular."""
    pool = synthetic.topic_pool(3000)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(pool))]
    while True:
        yield list(dict.fromkeys(rng.choices(pool, weights, k=rng.randint(1, 5))))


def load(url: str, readers: int, papers: int, voters: float = 0.0, taught: float = 0.0) -> float:
    """Bulk-insert the week's papers and the audience (and `voters`' votes on last week's
    papers, and `taught`'s examples); returns seconds taken."""
    started = time.perf_counter()
    db.upgrade(url)
    engine = db.get_engine(url)
    now = utcnow()
    rows = _paper_rows(synthetic.papers(papers, end=MONDAY.date()))
    rng = random.Random(11)
    topics = audience_topics(rng)
    with engine.begin() as conn:
        conn.execute(insert(Paper), rows)
        for start in range(0, readers, 5000):
            conn.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"reader{i:07d}@example.com",
                        "status": SubscriberStatus.CONFIRMED,
                        "topics": next(topics),
                        "follows": [],
                        "timezone": "UTC",
                        "send_day": 0,
                        "send_hour": 8,
                        "created_at": now,
                        "confirmed_at": now,
                        "paused": False,
                        "bounces": 0,
                    }
                    for i in range(start, min(readers, start + 5000))
                ],
            )
    if voters:
        add_votes(engine, int(readers * voters), rng)
    if taught:
        add_examples(engine, int(readers * taught), rng)
    with db.session_scope(url) as session:  # the papers' vectors, as `newsletter ingest` stores
        encoder = semantic.load(get_settings().embedding_model)
        if encoder is not None:
            store.embed_stale(encoder, session=session)
    return time.perf_counter() - started


def add_votes(engine: Any, voters: int, rng: random.Random) -> None:
    """Last week's issue and papers, and VOTES_EACH votes (one in three a "Not for me") by
    each of `voters` readers on them."""
    last = MONDAY.date() - dt.timedelta(days=7)
    records = synthetic.papers(300, end=last, seed=8)
    for n, record in enumerate(records):
        record.arxiv_id = f"{last:%y%m}.{80000 + n:05d}"  # not this week's ids
    with engine.begin() as conn:
        conn.execute(insert(Paper), _paper_rows(records))
        week = {"week": "2026-W19", "issue_date": last, "window_end": last,
                "window_start": last - dt.timedelta(days=6), "created_at": utcnow()}  # fmt: skip
        issue_id = conn.execute(insert(Issue).returning(Issue.id), week).scalar_one()
        paper_ids = [i for (i,) in conn.execute(select(Paper.id).where(Paper.featured_on <= last))]
        reader_ids = [i for (i,) in conn.execute(select(Subscriber.id))]
        at = MONDAY - dt.timedelta(days=3)
        conn.execute(insert(Vote), [
            {"subscriber_id": reader, "paper_id": paper, "issue_id": issue_id,
             "value": -1 if rng.random() < 1 / 3 else 1, "voted_at": at}
            for reader in rng.sample(reader_ids, voters)
            for paper in rng.sample(paper_ids, VOTES_EACH)
        ])  # fmt: skip


def add_examples(engine: Any, readers: int, rng: random.Random) -> None:
    """Papers of earlier weeks, and 5-20 examples (one in three "Not this") on the first topic
    of each of `readers` readers."""
    earlier = MONDAY.date() - dt.timedelta(days=21)
    records = synthetic.papers(300, end=earlier, seed=9)
    for n, record in enumerate(records):
        record.arxiv_id = f"{earlier:%y%m}.{90000 + n:05d}"
    with engine.begin() as conn:
        conn.execute(insert(Paper), _paper_rows(records))
        paper_ids = [
            i for (i,) in conn.execute(select(Paper.id).where(Paper.featured_on <= earlier))
        ]
        chosen = rng.sample(
            [tuple(r) for r in conn.execute(select(Subscriber.id, Subscriber.topics))], readers
        )
        at = MONDAY - dt.timedelta(days=10)
        conn.execute(insert(Example), [
            {"subscriber_id": reader, "topic": topics[0].casefold(), "paper_id": paper,
             "value": -1 if rng.random() < 1 / 3 else 1, "marked_at": at}
            for reader, topics in chosen
            for paper in rng.sample(paper_ids, rng.randint(5, 20))
        ])  # fmt: skip


# --- processes ---------------------------------------------------------------------------


def start_sink(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    if shutil.which("smtp-sink"):
        cmd = ["smtp-sink", "-u", "root", f"127.0.0.1:{port}", "1024"]
    else:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(port)]
    proc = subprocess.Popen(cmd, stdout=(tmp / "sink.log").open("w"), stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return proc


def start_workers(count: int, env: dict[str, str], tmp: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for n in range(count):
        log = tmp / f"worker{n}.log"
        procs.append(
            subprocess.Popen(
                worker_command(f"bench{n}", 1, app="benchmarks.counted_app"),
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    deadline = time.time() + 60
    while time.time() < deadline:
        if all("ready." in (tmp / f"worker{n}.log").read_text() for n in range(count)):
            return procs
        time.sleep(0.2)
    raise SystemExit("workers did not start:\n" + (tmp / "worker0.log").read_text()[-2000:])


def rss_mb(pid: int) -> dict[str, float]:
    """Memory in MB of a worker: resident size of its main process and of each pool child,
    and `total`, their proportional set size added up (pages the child shares with the
    main process since the fork are counted once, which RSS counts in both)."""
    found = {"total": 0.0}
    processes = _processes(pid)
    if not processes:
        return {}
    names = ["main", *(f"child{n}" for n in range(len(processes) - 1))]
    for name, p in zip(names, processes, strict=True):
        try:
            status = Path(f"/proc/{p}/status").read_text().splitlines()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        found[name] = _kb(status, "VmRSS:") / 1024
        found["total"] += _kb(rollup, "Pss:") / 1024
    return found


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of a worker's main process and each pool child,
    by pid."""
    found = {}
    for p in _processes(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _processes(pid: int) -> list[int]:
    """A worker's main process and its pool children ([] once it is gone)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *map(int, children)]


def _kb(lines: list[str], key: str) -> int:
    return next(int(line.split()[1]) for line in lines if line.startswith(key))


# --- measurements ------------------------------------------------------------------------


def dry_run_seconds(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter.cli",
            "send",
            "--dry-run",
            "--issue-date",
            MONDAY.date().isoformat(),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def smtp_source_rate(port: int, size: int, sessions: int, messages: int = 20000) -> float | None:
    """Postfix's smtp-source into the same sink: same message size, same connection count."""
    if not shutil.which("smtp-source"):
        return None
    started = time.perf_counter()
    subprocess.run(
        [
            "smtp-source",
            "-s",
            str(sessions),
            "-l",
            str(size),
            "-m",
            str(messages),
            "-f",
            "bench@example.com",
            "-t",
            "sink@example.com",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return messages / (time.perf_counter() - started)


def run_issue(url: str, readers: int, workers: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    from workers.celery_app import make_app

    engine = db.get_engine(url)
    cpu_before = {pid: s for p in workers for pid, s in cpu_seconds(p.pid).items()}
    cpu = dict(cpu_before)
    started = time.perf_counter()
    make_app().send_task("newsletter.tick", args=[MONDAY.isoformat()])
    peak: dict[int, dict[str, float]] = {p.pid: {} for p in workers}
    done = 0
    while done < readers:
        time.sleep(1)
        for p in workers:
            for name, mb in rss_mb(p.pid).items():
                peak[p.pid][name] = max(peak[p.pid].get(name, 0.0), mb)
            cpu.update(cpu_seconds(p.pid))
        with engine.connect() as conn:
            done = conn.execute(
                text("SELECT count(*) FROM delivery WHERE status IN ('sent','skipped','failed')")
            ).scalar_one()
        if time.perf_counter() - started > 3600:
            raise SystemExit(f"gave up after an hour with {done} of {readers} done")
    wall = time.perf_counter() - started
    for p in workers:
        cpu.update(cpu_seconds(p.pid))
    worker_cpu = sum(cpu.values()) - sum(cpu_before.values())
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT sent_at, claimed_at FROM delivery WHERE status = 'sent'")
        ).all()
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM delivery GROUP BY status")).all()
        )
        planned_at = conn.execute(text("SELECT min(claimed_at) FROM delivery")).scalar_one()
    sent_times = sorted(r[0] for r in rows)
    latencies = sorted((r[0] - r[1]).total_seconds() * 1000 for r in rows)
    span = (sent_times[-1] - planned_at).total_seconds() if sent_times else 0.0
    return {
        "wall_s": round(wall, 1),
        "send_span_s": round(span, 1),
        "statuses": statuses,
        "digests_per_s": round(len(rows) / span, 1) if span else 0.0,
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1)
        if latencies
        else None,
        # The workers' own CPU (main processes and pool children) from the tick to the last
        # delivery: less moved by other load on the machine than digests/s.
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_cpu_us_per_delivery": round(worker_cpu / readers * 1e6),
        "peak_rss_mb": {
            f"worker{n}": {k: round(v, 1) for k, v in procs.items()}
            for n, procs in enumerate(peak.values())
        },
    }


def batch_queries(tmp: Path, count: int) -> dict[str, float]:
    figures = []
    for n in range(count):
        for line in (tmp / f"worker{n}.log").read_text().splitlines():
            if "batch_statements ids=" in line:
                parts = dict(kv.split("=") for kv in line.split("batch_statements ")[1].split())
                figures.append((int(parts["ids"]), int(parts["queries"])))
    if not figures:
        return {}
    full = [q for ids, q in figures if ids == max(i for i, _ in figures)]
    return {
        "batches": len(figures),
        "queries_per_full_batch_min": min(full),
        "queries_per_full_batch_max": max(full),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument(
        "--allow-batch-resend",
        action="store_true",
        help="trade-off mode: write the ledger once per batch (NEWSLETTER_LEDGER_FLUSH_EVERY = "
        "the batch size), so a killed worker may send up to a whole batch again; the default "
        "is the product's: each outcome written at once, at most the message in flight resent",
    )
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--no-dry-run", action="store_true")
    parser.add_argument("--no-smtp-source", action="store_true")
    parser.add_argument("--voters", type=float, default=0.0, help="share of readers who voted")
    parser.add_argument("--examples", type=float, default=0.0,
                        help="share of readers with examples on a topic")  # fmt: skip
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="newsletter-bench-"))
    url, dbname = make_database(args.sqlite, tmp)
    port = free_port()
    env = dict(os.environ, **settings_env(url, port), NEWSLETTER_BATCH_SIZE=str(args.batch))
    if args.allow_batch_resend:
        env["NEWSLETTER_LEDGER_FLUSH_EVERY"] = str(args.batch)
    os.environ.update(env)
    get_settings.cache_clear()  # importing the Celery app above read the settings already
    redis.Redis.from_url(REDIS_URL).flushdb()
    sink = start_sink(port, tmp)
    workers: list[subprocess.Popen[bytes]] = []
    result: dict[str, object] = {
        "readers": args.readers,
        "papers": args.papers,
        "workers": args.workers,
        "batch": args.batch,
        "mode": "allow-batch-resend" if args.allow_batch_resend else "product defaults",
        "ledger_flush_every": args.batch
        if args.allow_batch_resend
        else get_settings().ledger_flush_every,
        "database": "sqlite" if args.sqlite else "postgresql",
        "sink": "smtp-sink" if shutil.which("smtp-sink") else "aiosmtpd",
        "voters": args.voters,
        "examples": args.examples,
    }
    try:
        loaded = load(url, args.readers, args.papers, args.voters, args.examples)
        result["load_s"] = round(loaded, 1)
        if not args.no_dry_run:
            result["dry_run_s"] = round(dry_run_seconds(env), 1)
        workers = start_workers(args.workers, env, tmp)
        result |= run_issue(url, args.readers, workers)
        result |= batch_queries(tmp, args.workers)
        size = sample_size(url)
        result["message_bytes"] = size
        if not args.no_smtp_source:
            raw = smtp_source_rate(port, size, sessions=args.workers)
            result["smtp_source_sessions"] = args.workers
            result["smtp_source_per_s"] = round(raw, 1) if raw else None
            if raw:
                result["ours_over_raw"] = round(float(result["digests_per_s"]) / raw, 3)  # type: ignore[arg-type]
    finally:
        for p in workers:
            os.killpg(p.pid, signal.SIGTERM)
        sink.terminate()
        for p in workers:
            p.wait(30)
        db.get_engine(url).dispose()
        drop_database(dbname)
    report(result)


def sample_size(url: str, count: int = 200) -> int:
    """Mean bytes of this run's first `count` digests, composed again the way the workers did
    (one digest alone says little: their sizes vary twofold with the picks' count)."""
    from sqlmodel import Session, col, select

    from newsletter.digest import compose
    from newsletter.match.engine import Pick
    from newsletter.models import Delivery, Issue

    settings = get_settings()
    with Session(db.get_engine(url)) as session:
        sent = select(Delivery).where(Delivery.status == "sent").order_by(col(Delivery.id))
        sizes, cache = [], compose.IssueCache()
        papers: dict[int, dict[int | None, Paper]] = {}  # by issue: the week's papers by id
        for delivery in session.exec(sent.limit(count)):
            issue = session.get(Issue, delivery.issue_id)
            reader = session.get(Subscriber, delivery.subscriber_id)
            assert issue and reader
            state = cache.get(issue, settings, session=session)
            if delivery.issue_id not in papers:
                papers[delivery.issue_id] = {p.id: p for p in state.matcher.papers}
            week = papers[delivery.issue_id]
            picks = [Pick.from_record(r, week[r["paper_id"]]) for r in delivery.picks]
            composed = compose.compose(reader, picks, state, settings=settings)
            sizes.append(len(composed.message(settings)))
        return round(statistics.mean(sizes))


def report(result: dict[str, object]) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"weekly_run-{result['readers']}-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
