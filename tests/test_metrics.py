"""/metrics after real sends: the counters agree with the ledger, in one process and summed
over real Celery worker processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, func, select

from newsletter import metrics
from newsletter.models import Delivery, MailEvent
from newsletter.settings import get_settings
from tests.conftest import SmtpServer
from tests.helpers import MONDAY, free_port, invoke, run, settled, tick, wait_for, web_client

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ledger(session: Session) -> dict[str, int]:
    session.expire_all()
    rows = session.exec(select(Delivery.status, func.count()).group_by(Delivery.status))
    return {str(status): n for status, n in rows}


TOKEN = "operator-metrics-token"


def metrics_client(monkeypatch):
    """The web app with /metrics on the readers' port, behind the bearer token."""
    monkeypatch.setenv("NEWSLETTER_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    return web_client(headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_send_counted_as_the_ledger_has_it(papers, smtp: SmtpServer, session,
                                             monkeypatch) -> None:  # fmt: skip
    # Their moment three days from today's is over 24 hours (the grace) from now either way:
    # none of them is due whatever the day the test runs.
    later = ["--send-day", (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%a").lower()]
    for n in range(4):
        run("subscribers", "add", f"r{n}@example.com", "--topic", "agents", "--confirmed", *later)
    run("subscribers", "add", "poet@example.com", "--topic", "medieval poetry", "--confirmed",
        *later)  # fmt: skip
    smtp.refuse_rcpt["r3@example.com"] = "550 5.1.1 no such user"
    client = metrics_client(monkeypatch)
    before = scrape(client.get("/metrics").text)
    run("send", "--issue-date", "2026-05-12")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = scrape(response.text)
    print("\n" + "\n".join(line for line in response.text.splitlines()
                            if line.startswith("newsletter_") and "_bucket" not in line
                            and "_created" not in line))  # fmt: skip

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    rows = ledger(session)
    assert rows == {"sent": 3, "failed": 1, "skipped": 1}
    for outcome in ("sent", "failed", "skipped"):
        assert delta("newsletter_digests_total", outcome=outcome) == rows[outcome]
    assert delta("newsletter_smtp_replies_total", code="250") == 3
    assert delta("newsletter_smtp_replies_total", code="550") == 1
    assert delta("newsletter_stage_seconds_count", stage="smtp") == 4
    assert delta("newsletter_stage_seconds_count", stage="compose") == 4
    assert delta("newsletter_batch_seconds_count") >= 1
    for status, n in rows.items():
        assert value(after, "newsletter_issue_deliveries", week="2026-W20", status=status) == n
    assert value(after, "newsletter_readers", status="confirmed") == 5
    assert value(after, "newsletter_queue_depth") == 0
    assert value(after, "newsletter_readers_due") == 0
    now = dt.datetime.now(dt.UTC)  # a reader whose moment is this very hour: due, unplanned
    run("subscribers", "add", "now@example.com", "--topic", "agents", "--confirmed",
        "--send-day", now.strftime("%a").lower(), "--send-hour", str(now.hour))  # fmt: skip
    assert value(scrape(client.get("/metrics").text), "newsletter_readers_due") == 1


def test_off_or_on_a_port_of_its_own(settings, monkeypatch) -> None:
    assert web_client().get("/metrics").status_code == 404  # by default not on readers' port
    assert "warn  metrics are served nowhere" in invoke("doctor")[1]
    client = metrics_client(monkeypatch)
    assert client.get("/metrics").status_code == 200
    for wrong in ("", "Bearer", f"Bearer {TOKEN}x", f"Basic {TOKEN}"):
        answer = client.get("/metrics", headers={"Authorization": wrong})
        assert answer.status_code == 401 and "newsletter_" not in answer.text
    monkeypatch.setenv("NEWSLETTER_METRICS_ENABLED", "false")
    get_settings.cache_clear()
    assert metrics_client(monkeypatch).get("/metrics").status_code == 404
    monkeypatch.delenv("NEWSLETTER_METRICS_TOKEN")
    port = free_port()
    monkeypatch.setenv("NEWSLETTER_METRICS_ENABLED", "true")
    monkeypatch.setenv("NEWSLETTER_METRICS_PORT", str(port))
    get_settings.cache_clear()
    assert web_client().get("/metrics").status_code == 404  # not beside the readers' pages
    assert f"warn  nothing answers at http://127.0.0.1:{port}/metrics" in invoke("doctor")[1]
    metrics.serve(get_settings(), port)
    assert f"ok    metrics served at http://127.0.0.1:{port}/metrics" in invoke("doctor")[1]
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200 and "newsletter_readers" in answer.text
    # Bound to 127.0.0.1 alone, not every interface: another address of this machine (even
    # 127.0.0.2, which 0.0.0.0 would answer on) gets nothing.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_worker_processes_add_up(papers, workers, smtp: SmtpServer, session, tmp_path,
                                 monkeypatch) -> None:  # fmt: skip
    shared = tmp_path / "prometheus"
    for n in range(12):
        run("subscribers", "add", f"w{n}@example.com", "--topic", "agents", "--confirmed")
    ports = {}
    for name in ("w1", "w2"):  # each worker's main process serves its own pool's counts
        ports[name] = free_port()
        monkeypatch.setenv("NEWSLETTER_METRICS_PORT", str(ports[name]))
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared / name))
        (shared / name).mkdir(parents=True)
        workers.start(name)
    tick(MONDAY.replace(hour=8))
    wait_for(settled(session, 12), 60, "the twelve digests")
    assert ledger(session) == {"sent": 12}
    per_worker = {name: scrape(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
                  for name, port in ports.items()}  # fmt: skip
    sent = [value(s, "newsletter_digests_total", outcome="sent") for s in per_worker.values()]
    replies = [value(s, "newsletter_smtp_replies_total", code="250") for s in per_worker.values()]
    assert sum(sent) == sum(replies) == 12
    assert all(len(list((shared / name).glob("*.db"))) >= 2 for name in ports)  # its pool's
    # One folder for all, read by the web process, adds up the same.
    monkeypatch.setenv("NEWSLETTER_METRICS_PORT", "0")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared / "w1"))
    alone = value(scrape(metrics_client(monkeypatch).get("/metrics").text),
                  "newsletter_digests_total", outcome="sent")  # fmt: skip
    assert alone == sent[0]
    assert session.exec(select(MailEvent)).first() is None
    # `newsletter status`, from any machine: each worker process's pace, slowest first.
    paces = json.loads(invoke("status", "--json")[1])["workers_per_minute"]
    assert len(paces) >= 2 and sum(paces.values()) == 12
    assert list(paces.values()) == sorted(paces.values())
