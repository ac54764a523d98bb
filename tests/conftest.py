"""Shared fixtures: real SQLite and PostgreSQL databases, a real SMTP server (aiosmtpd),
a local HTTP server standing in for the outside APIs, a real Redis and real Celery workers,
and settings wired to them. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
import redis
import uvicorn
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from newsletter import db
from newsletter.settings import Settings, get_settings
from newsletter.web import create_app
from tests.helpers import Workers, free_port, run

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
if not REAL.is_dir():  # CI lays shared/ beside the clone; allow an override elsewhere
    REAL = Path(os.environ.get("NEWSLETTER_REAL_DATA", REAL))
PG_ADMIN_URL = os.environ.get(
    "NEWSLETTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NEWSLETTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
TABLES = (
    "example",
    "vote",
    "mail_event",
    "delivery",
    "issue",
    "paper_embedding",
    "paper",
    "subscriber",
    "suppression",
)


# --- the web app over HTTP ---------------------------------------------------------


@pytest.fixture
def server(settings, monkeypatch) -> Iterator[str]:
    """`newsletter web`'s app on `settings`, served by uvicorn on a free port (the emails
    link to it). Set other settings in the environment before asking for it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("NEWSLETTER_BASE_URL", base)
    get_settings.cache_clear()
    app = create_app(get_settings())
    app.state.web.limiter.reset()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield base
    uv.should_exit = True
    thread.join(10)


CHROMIUM = os.environ.get("NEWSLETTER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is needed at {CHROMIUM} (Debian package 'chromium'; "
            "scripts/test.sh installs it when run as root)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# --- databases ---------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection:
    url = make_url(PG_ADMIN_URL)
    try:
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed at {PG_ADMIN_URL} (set NEWSLETTER_TEST_PG_URL): {exc}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database of each kind; the whole suite runs once per kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        db.upgrade(url)
        yield url
        db.get_engine(url).dispose()
        return
    name = f"newsletter_test_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    yield url
    db.get_engine(url).dispose()
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(
    database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings from the environment, as the CLI reads them, on an emptied database."""
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp.port),
        "NEWSLETTER_FROM": "Trending Papers <digest@papers.example.com>",
        "NEWSLETTER_BASE_URL": "https://papers.example.com",
        "NEWSLETTER_SECRET_KEY": "test-secret-key",
        "NEWSLETTER_HTTP_BACKOFF_SECONDS": "0.01",
        "NEWSLETTER_ARXIV_DELAY_SECONDS": "0",
        "NEWSLETTER_REDIS_URL": REDIS_URL,  # the web app's rate limits count there
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    with db.get_engine(database_url).begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    with Session(db.get_engine(settings.database_url), expire_on_commit=False) as s:
        yield s


# --- SMTP --------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    """Messages received, and replies to give: {address: "550 ..."} at RCPT or DATA."""

    port: int = 0
    received: list[tuple[str, EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # the bytes as received, same order
    senders: list[str] = field(default_factory=list)  # the envelope sender, same order
    mail_options: list[list[str]] = field(default_factory=list)  # MAIL's options, same order
    times: list[float] = field(default_factory=list)  # time.monotonic() of each, same order
    throttle: dict[str, int] = field(default_factory=dict)  # domain: 421s left to answer
    throttled_at: list[float] = field(default_factory=list)  # time.monotonic() of each 421
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    refuse_data: dict[str, str] = field(default_factory=dict)
    drop_once: set[str] = field(default_factory=set)  # hang up at DATA, once per address
    delay: float = 0.0  # seconds to take over each message
    defer_share: float = 0.0  # answer 451 to this share of first attempts (seeded)
    down_until: float = 0.0  # time.monotonic() before which MAIL gets 421
    faults: int = 0  # faults injected
    connections: int = 0
    pipelining: bool = True  # advertise PIPELINING, as Postfix and most servers do
    eight_bit: bool = True  # advertise 8BITMIME, as Postfix and most servers do
    before_accept: dict[str, Callable[[], None]] = field(default_factory=dict)  # just before 250
    _deferred: set[str] = field(default_factory=set)
    _rng: random.Random = field(default_factory=lambda: random.Random(5))

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for to, m in self.received if to == address]

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        rest = [r for r in responses[1:] if self.eight_bit or "8BITMIME" not in r]
        return responses[:1] + ["250-PIPELINING"] * self.pipelining + rest

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if time.monotonic() < self.down_until:
            self.faults += 1
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            self.faults += 1
            return self.refuse_rcpt[address]
        domain = address.rpartition("@")[2]
        if self.throttle.get(domain, 0) > 0:
            self.throttle[domain] -= 1
            self.throttled_at.append(time.monotonic())
            self.faults += 1
            return "421 4.7.0 Too many messages from you, slow down"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        to = envelope.rcpt_tos[0]
        if self.delay:
            await asyncio.sleep(self.delay)
        if to in self.drop_once:
            self.drop_once.discard(to)
            self.faults += 1
            server.transport.close()
            return "421 closing"
        if to not in self._deferred and self._rng.random() < self.defer_share:
            self._deferred.add(to)
            self.faults += 1
            return "451 4.3.0 Temporary failure, try again"
        if to in self.refuse_data:
            return self.refuse_data[to]
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((to, msg))  # type: ignore[arg-type]
        self.raw.append(envelope.original_content)
        self.senders.append(envelope.mail_from)
        self.mail_options.append(list(envelope.mail_options))
        self.times.append(time.monotonic())
        if to in self.before_accept:
            self.before_accept.pop(to)()
        return "250 Message accepted"


@pytest.fixture(scope="session")
def _smtp_controller() -> Iterator[tuple[Controller, SmtpServer]]:
    handler = SmtpServer(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def smtp(_smtp_controller: tuple[Controller, SmtpServer]) -> SmtpServer:
    _, handler = _smtp_controller
    handler.received.clear()
    handler.raw.clear()
    handler.senders.clear()
    handler.mail_options.clear()
    handler.times.clear()
    handler.throttle.clear()
    handler.throttled_at.clear()
    handler.refuse_rcpt.clear()
    handler.refuse_data.clear()
    handler.drop_once.clear()
    handler.delay = 0.0
    handler.defer_share, handler.down_until, handler.faults = 0.0, 0.0, 0
    handler._deferred.clear()
    handler.connections, handler.pipelining, handler.eight_bit = 0, True, True
    handler.before_accept.clear()
    return handler


# --- the outside internet, played back from real captured responses ---------------------


@dataclass
class FakeWeb:
    """Serves canned bodies by path and query; `fail_first` answers 503 that many times."""

    url: str = ""
    routes: dict[tuple[str, str], bytes] = field(default_factory=dict)
    fail_first: int = 0
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, body: bytes, **query: str) -> None:
        self.routes[(path, _query_key(query))] = body


def _query_key(query: dict[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(query.items()))


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    fake = FakeWeb()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            if fake.fail_first > 0:
                fake.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            body = fake.routes.get((parsed.path, _query_key(query)))
            if body is None:
                body = fake.routes.get((parsed.path, "*"), b"[]")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


# --- Redis and real Celery workers -------------------------------------------------------


@pytest.fixture
def broker(settings, monkeypatch) -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is needed at {REDIS_URL} (set NEWSLETTER_TEST_REDIS_URL): {exc}")
    client.flushdb()
    monkeypatch.setenv("NEWSLETTER_BATCH_SIZE", "10")
    monkeypatch.setenv("NEWSLETTER_DELIVERY_LEASE_SECONDS", "3")
    monkeypatch.setenv("NEWSLETTER_TASK_TIME_LIMIT", "60")
    get_settings.cache_clear()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def workers(broker, tmp_path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def papers(settings) -> None:
    """The real Daily Papers of 2026-05-12, ingested."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
