"""Security by default: no address enumeration, no secrets in output, refused placeholder
secrets, and one 404 for every bad link."""

from __future__ import annotations

import hashlib
import hmac
import logging
import statistics
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from pydantic import ValidationError

from newsletter.readers.links import Purpose, Ref, _cached_serializer, _feedback_signer, make
from newsletter.settings import Settings, get_settings
from tests.helpers import invoke, web_client


def test_placeholder_secret_is_refused_outside_development(monkeypatch) -> None:
    url = "https://papers.example.com"
    with pytest.raises(ValidationError, match="NEWSLETTER_SECRET_KEY is unset or the development"):
        Settings(env="production", base_url=url)
    with pytest.raises(ValidationError, match="NEWSLETTER_SECRET_KEY is shorter than 32 bytes"):
        Settings(env="production", base_url=url, secret_key="a-real-secret")
    with pytest.raises(ValidationError, match="NEWSLETTER_BASE_URL is the development default"):
        Settings(env="production", secret_key="k" * 32)
    assert Settings(env="production", base_url=url, secret_key="k" * 32).env == "production"
    monkeypatch.setenv("NEWSLETTER_ENV", "production")
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        code, out = invoke("status")
    finally:
        get_settings.cache_clear()
    assert code == 1 and out.count("\n") == 1
    assert out.startswith("Error: refusing to start with NEWSLETTER_ENV=production: ")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_subscribe_answers_alike_for_known_and_unknown(settings, smtp) -> None:
    invoke("subscribers", "add", "known@example.com", "--topic", "agents", "--confirmed")
    client = web_client()
    timings: dict[str, list[float]] = {"known@example.com": [], "new@example.com": []}
    bodies = set()
    for _ in range(15):
        for email in timings:
            client.app.state.web.limiter.reset()  # type: ignore[attr-defined]
            started = time.perf_counter()
            response = client.post("/subscribe", data={"email": email, "topics": "agents"})
            timings[email].append(time.perf_counter() - started)
            bodies.add((response.status_code, response.text.replace(email, "ADDRESS")))
    assert len(bodies) == 1
    known, new = (statistics.median(t) for t in timings.values())
    print(f"median answer: known {known * 1000:.1f} ms, new {new * 1000:.1f} ms")
    # Mail goes out after the answer, so the answer's time does not depend on the address.
    assert abs(known - new) < 0.05


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_valid_signature_for_a_reader_that_does_not_exist_is_the_same_404(settings) -> None:
    client = web_client()
    pages = set()
    for purpose, path in (
        (Purpose.MANAGE, "manage"),
        (Purpose.UNSUBSCRIBE, "unsubscribe"),
        (Purpose.CONFIRM, "confirm"),
    ):
        missing = client.get(f"/{path}/{make(get_settings(), purpose, Ref(999_999, 1))}")
        tampered = client.get(f"/{path}/not-a-token")
        assert missing.status_code == tampered.status_code == 404
        pages.update({missing.text, tampered.text})
    assert len(pages) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_link_pages_answer_alike_and_in_similar_time(settings) -> None:
    """A link names no address; still, a bad link and a genuine one for a reader who is gone
    get the same answer in about the same time, on every page that takes a token."""
    client = web_client()
    for purpose, path in (
        (Purpose.MANAGE, "manage"),
        (Purpose.UNSUBSCRIBE, "unsubscribe"),
        (Purpose.CONFIRM, "confirm"),
    ):
        links = {
            "gone": f"/{path}/{make(settings, purpose, Ref(999_999, 1))}",
            "bad": f"/{path}/x.y.z",
        }
        timings: dict[str, list[float]] = {kind: [] for kind in links}
        answers = set()
        for _ in range(15):
            for kind, link in links.items():
                started = time.perf_counter()
                response = client.get(link)
                timings[kind].append(time.perf_counter() - started)
                answers.add((response.status_code, response.text))
        gone, bad = (statistics.median(t) for t in timings.values())
        print(f"/{path}: gone {gone * 1000:.1f} ms, bad {bad * 1000:.1f} ms")
        assert len(answers) == 1 and abs(gone - bad) < 0.05


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_secrets_never_printed_or_logged(settings, smtp, monkeypatch, caplog) -> None:
    secret, password = "s3cr3t-signing-key-value", "smtp-p4ssw0rd-value"
    url = settings.database_url.replace("postgres@", "postgres:db-p4ss-value@")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", secret)
    monkeypatch.setenv("NEWSLETTER_SMTP_USER", "mailer")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", password)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    outputs = [invoke("db", "upgrade")[1], invoke("doctor")[1]]
    invoke("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    outputs.append(invoke("send", "--issue-date", "2026-05-12")[1])
    outputs.append(repr(get_settings()))
    text = "\n".join(outputs) + caplog.text
    for value in (secret, password, "db-p4ss-value"):
        assert value not in text


def test_links_are_itsdangerous_tokens_signed_alike(settings, monkeypatch) -> None:
    """The links' serializer skips zlib on short payloads, keeps its signer and derives its
    keys once, for speed: its tokens are the stock URLSafeTimedSerializer's, byte for byte,
    and each reads the other's; the feedback links' signatures are the stock signer's."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_780_000_000)
    secret = settings.secret_key.get_secret_value()
    for purpose in Purpose:
        ours = _cached_serializer((secret,), purpose)
        stock = URLSafeTimedSerializer(secret, salt=f"newsletter.{purpose}")
        for payload in ([7], [123456, 42], [1, 80924679997034, 7], [10**9, 10**14, 10**9],
                        [-3, True], "reader@example.com", "x" * 300):  # fmt: skip
            assert ours.dumps(payload) == stock.dumps(payload)
            assert ours.loads(stock.dumps(payload)) == payload
        assert stock.loads(make(settings, purpose, Ref(7, 5))) == [7, 5]
    keys = (secret, "an-older-key-of-at-least-32-bytes-long")
    derived = [hmac.new(k.encode(), b"newsletter.feedback", hashlib.sha256).digest()
               for k in reversed(keys)]  # fmt: skip
    stock_feedback = TimestampSigner(derived, key_derivation="none")
    for payload in (b"7.5.3", b"123456.987654321012.40"):
        assert _feedback_signer(keys).sign(payload) == stock_feedback.sign(payload)
