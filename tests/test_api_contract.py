"""The JSON API does what its OpenAPI document says: `schemathesis run`, every check on,
against the live server (uvicorn over HTTP, a real database, mail to a real SMTP server).
Schema-valid requests must be accepted, schema-invalid ones refused with the documented
body, every 405 names what is allowed, and nothing answers 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from newsletter.models import Subscriber
from tests.conftest import SmtpServer

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def roomy_limits(monkeypatch) -> None:
    """Room for every generated request: the limits themselves are tested in test_web.py,
    and a 429 would stop the generated requests before the checks they are for."""
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_IP", "1000000")
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_EMAIL", "1000000")
    monkeypatch.setenv("NEWSLETTER_PREVIEW_LIMIT_PER_IP", "1000000")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_schemathesis_finds_no_disagreement(
    roomy_limits, server: str, smtp: SmtpServer, session, tmp_path
) -> None:
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{server}/api/openapi.json", "--checks", "all",
         "--max-examples", "150", "--seed", "1", "--no-color", "--warnings", "off",
         "--generation-database", "none", "--report", "junit",
         "--report-junit-path", str(tmp_path / "schemathesis.xml")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout.splitlines()[-1], run.stdout[-2000:]
    # It did reach the server with valid requests: they made pending readers.
    assert session.exec(select(Subscriber)).first() is not None


def test_the_document_covers_the_api_only_and_states_its_refusals(server: str) -> None:
    doc = httpx.get(f"{server}/api/openapi.json").json()
    assert list(doc["paths"]) == ["/api/subscribe", "/api/preview"]
    answers = doc["paths"]["/api/subscribe"]["post"]["responses"]
    assert set(answers) == {"202", "400", "404", "422", "429"}
    problem = doc["components"]["schemas"]["Problem"]
    assert problem["required"] == ["detail"] and "field" in problem["properties"]
    wrong = httpx.get(f"{server}/api/subscribe")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    stopwords = {"email": "a@example.com", "topics": ["the"]}
    refused = httpx.post(f"{server}/api/subscribe", json=stopwords)
    assert refused.status_code == 422
    assert refused.json()["field"] == "topics" and "searchable words" in refused.json()["detail"]
    answer = {"topic": "agents", "arxiv_id": "2999.99999", "like": True}
    unknown = {"email": "a@example.com", "topics": ["agents"], "examples": [answer]}
    refused = httpx.post(f"{server}/api/subscribe", json=unknown)
    assert refused.status_code == 404 and refused.json()["field"] == "examples"
