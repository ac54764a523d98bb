"""Nothing secret in logs: every reader flow (subscribe by form and API, confirm, manage,
feed, vote, view in browser, unsubscribe, new links, forget) through the real
`newsletter web` process, whose whole output must hold no token, address or secret key.
The access log shows route templates (`/manage/{token}`) instead."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from newsletter.settings import get_settings
from newsletter.web.ratelimit import RateLimiter
from tests.conftest import SmtpServer
from tests.helpers import ROOT, free_port, run

SECRET = "log-scan-secret-key-that-must-never-be-printed"


def body(smtp: SmtpServer, email: str) -> str:
    return str(smtp.messages_to(email)[-1].get_body(("plain",)).get_content())


def link(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern} not in {text[:400]}"
    return match.group(1)


@pytest.fixture
def web_process(settings, monkeypatch, tmp_path):
    """`newsletter web` on a free port, its stdout and stderr in one file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("NEWSLETTER_BASE_URL", base)  # the CLI's send below links here too
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    RateLimiter(settings.redis_url).reset()  # the web process counts in the same Redis
    log = tmp_path / "web.log"
    env = os.environ | {"NEWSLETTER_BASE_URL": base, "NEWSLETTER_SECRET_KEY": SECRET}
    with log.open("wb") as out:
        command = [sys.executable, "-m", "newsletter.cli", "web", "--port", str(port)]
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/privacy", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield httpx.Client(base_url=base, timeout=10), log
    proc.send_signal(signal.SIGINT)
    proc.wait(15)


def test_no_token_address_or_secret_in_what_the_web_process_logs(
    web_process: tuple[httpx.Client, Path], papers, smtp: SmtpServer
) -> None:
    web, log = web_process
    used: list[str] = []  # every path requested: their tokens must not be logged

    def call(method: str, path: str, **kw: object) -> httpx.Response:
        used.append(path)
        answer = web.request(method, path, **kw)  # type: ignore[arg-type]
        assert answer.status_code < 500, (path, answer.status_code)
        return answer

    call("POST", "/subscribe", data={"email": "ada@example.com", "topics": "agents"})
    call("GET", "/subscribed")
    call("POST", "/api/subscribe", json={"email": "bob@example.com", "topics": ["agents"]})
    time.sleep(1)  # the confirmation mails go out after the answers
    confirm = link(r"https?://[^/\s]+(/confirm/\S+)", body(smtp, "ada@example.com"))
    call("GET", confirm)
    call("POST", confirm)
    time.sleep(1)
    manage = link(r"https?://[^/\s]+(/manage/\S+)", body(smtp, "ada@example.com"))
    page = call("GET", manage).text
    call("POST", manage, data={"topics": "agents\nRLHF", "timezone": "Europe/Berlin"})
    call("GET", link(r'value="https?://[^"/]+(/feed/[^"]+\.atom)"', page))
    run("send", "--issue-date", "2026-05-12")
    digest = body(smtp, "ada@example.com")
    vote = link(r"https?://[^/\s]+(/feedback/\S+/less)", digest)
    call("GET", vote)
    call("POST", vote)
    call("GET", link(r"View in browser: https?://[^/\s]+(/issues/\S+)", digest))
    unsubscribe = link(r"https?://[^/\s]+(/unsubscribe/\S+)", digest)
    call("GET", unsubscribe)
    call("POST", unsubscribe, content=b"List-Unsubscribe=One-Click",
         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    call("POST", unsubscribe + "/undo")
    call("POST", manage + "/links")
    time.sleep(1)
    fresh = link(r"https?://[^/\s]+(/manage/\S+)", body(smtp, "ada@example.com"))
    call("GET", manage)  # revoked: a 404, logged like any other
    call("POST", fresh + "/forget")
    call("POST", fresh + "/forget/confirm")
    call("GET", "/manage/not-a-real-token-but-still-a-secret-looking-string")
    call("GET", "/no-such-page/someone-pasted-a-token-here-by-mistake")

    time.sleep(0.5)
    text = log.read_text()
    print("\n" + text)
    for seen in ("GET /manage/{token} 200", "POST /feedback/{token}/{paper}/{vote} 200",
                 "GET /issues/{token} 200", "POST /unsubscribe/{token} 200"):  # fmt: skip
        assert seen in text
    assert "GET - 404" in text  # the unmatched path is not written out
    tokens = {part for path in used for part in path.split("/") if len(part) >= 20}
    assert len(tokens) >= 8
    for secret in [*tokens, SECRET, "ada@example.com", "bob@example.com", "ada", "@"]:
        assert secret not in text, f"{secret!r} is in the web process's log"
