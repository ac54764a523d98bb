"""Helpers shared by the test files: the CLI as an operator runs it, fresh row counts, free
ports, and the real workers' controls (the fixtures that use them are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlmodel import Session, func, select

from newsletter.cli import cli
from newsletter.models import Delivery, DeliveryStatus
from newsletter.settings import get_settings
from newsletter.web import create_app
from workers.celery_app import worker_command

ROOT = Path(__file__).resolve().parents[1]
MONDAY = dt.datetime(2026, 5, 18, tzinfo=dt.UTC)  # ISO week 2026-W21; papers of 05-12 are in


def invoke(*args: str) -> tuple[int, str]:
    """`newsletter ARGS...`: (exit code, output)."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def run(*args: str) -> str:
    """`newsletter ARGS...`, which must succeed: its output."""
    code, output = invoke(*args)
    assert code == 0, output
    return output


def count(session: Session, model: Any, *where: Any) -> int:
    """Rows of `model` (matching `where`) as the database has them now."""
    session.expire_all()
    n = session.exec(select(func.count()).select_from(model).where(*where)).one()
    session.rollback()
    return int(n)


def web_client(**options: Any) -> TestClient:
    """The web app on the current settings, with its rate-limit counts emptied."""
    app = create_app(get_settings())
    app.state.web.limiter.reset()
    return TestClient(app, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def settled(session: Session, expected: int) -> Callable[[], bool]:
    """True once `expected` deliveries are finished (sent, skipped or failed)."""
    done = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED)
    return lambda: count(session, Delivery, Delivery.status.in_(done)) >= expected  # type: ignore[attr-defined]


def tick(at: dt.datetime) -> None:
    """What beat does every hour, with an explicit 'now' instead of the wall clock."""
    from workers.celery_app import make_app

    make_app().send_task("newsletter.tick", args=[at.isoformat()])


class Workers:
    """Real `celery worker` processes, each in its own process group so SIGKILL takes it whole."""

    def __init__(self, logs: Path):
        self.logs, self.procs = logs, {}  # type: ignore[var-annotated]

    def start(self, name: str, concurrency: int = 2) -> None:
        log = self.logs / f"{name}.log"
        self.procs[name] = subprocess.Popen(
            worker_command(name, concurrency),
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: "ready." in log.read_text(),
            60,
            f"worker {name} to start:\n" + log.read_text()[-2000:],
        )

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


CROWDED = (Path(__file__).parent / "taps.js").read_text()


def crowded(page: Page) -> list[str]:
    """Links and buttons under 44 px tall with another within 44 px (tests/taps.js)."""
    found: list[str] = page.evaluate(CROWDED)
    return found
