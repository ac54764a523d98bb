"""Readers' links are keys: each names the reader's link key, so they can be revoked all at
once ("Send me new links", a forget); manage links expire; a rotated secret key leaves sent
links working while it is the previous key; a forged link opens nothing."""

from __future__ import annotations

import re
import time

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from newsletter.delivery import verp
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.readers import links, store
from newsletter.readers.links import Purpose, Ref
from newsletter.settings import DEV_SECRET, get_settings
from tests.conftest import SmtpServer
from tests.helpers import run, web_client

OTHER_KEY = "the-rotated-in-key-of-at-least-32-bytes"


def ada(session: Session, email: str = "ada@example.com") -> Subscriber:
    session.expire_all()
    found = store.get_by_email(email, session=session)
    assert found is not None
    session.rollback()
    return found


def path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def text_of(smtp: SmtpServer, email: str) -> str:
    return str(smtp.messages_to(email)[-1].get_body(("plain",)).get_content())


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern} not in {text[:500]}"
    return match.group(1)


def digest_links(smtp: SmtpServer) -> dict[str, str]:
    """Every link of Ada's digest that acts for her or shows her something."""
    body = text_of(smtp, "ada@example.com")
    return {
        "manage": found(r"https?://\S+?(/manage/\S+)", body),
        "unsubscribe": found(r"https?://\S+?(/unsubscribe/\S+)", body),
        "view": found(r"View in browser: https?://\S+?(/issues/\S+)", body),
        "vote": found(r"https?://\S+?(/feedback/\S+/more)", body),
    }


def opens(client: TestClient, url: str) -> bool:
    answer = client.get(url)
    assert answer.status_code in (200, 404), (url, answer.status_code)
    return answer.status_code == 200


@pytest.fixture
def sent(papers, smtp: SmtpServer, session) -> dict[str, str]:
    """Ada's digest of 2026-05-12 sent over SMTP, and her links: the digest's and her feed's."""
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    found_links = digest_links(smtp)
    page = web_client().get(found_links["manage"]).text
    found_links["feed"] = found(r'value="https?://[^"/]+(/feed/[^"]+\.atom)"', page)
    return found_links


def test_send_me_new_links_revokes_every_old_one(sent, smtp: SmtpServer, session) -> None:
    client = web_client()
    assert all(opens(client, url) for url in sent.values())
    answer = client.post(sent["manage"] + "/links")
    assert answer.status_code == 200 and "no longer work" in answer.text
    assert "/manage/" not in answer.text  # the new link goes to the inbox, not to this page
    mail = smtp.messages_to("ada@example.com")[-1]
    assert mail["Subject"] == "Your link to your Trending Papers settings"
    fresh = found(r"https?://\S+?(/manage/\S+)", text_of(smtp, "ada@example.com"))
    assert "earlier emails no longer work" in text_of(smtp, "ada@example.com")
    for name, url in sent.items():
        assert not opens(client, url), f"the old {name} link still opens"
    assert client.post(sent["unsubscribe"]).status_code == 404  # one-click too
    assert ada(session).status == SubscriberStatus.CONFIRMED
    assert opens(client, fresh)


def test_forget_revokes_every_link_even_if_the_id_comes_back(sent, session) -> None:
    client = web_client()
    reader_id = ada(session).id
    assert client.post(sent["manage"] + "/forget/confirm").status_code == 200
    assert not any(opens(client, url) for url in sent.values())
    # A new reader given the same id (SQLite reuses the highest rowid once it is deleted)
    # has a key of their own: the old links still open nothing.
    session.add(Subscriber(id=reader_id, email="eve@example.com", topics=["agents"],
                           status=SubscriberStatus.CONFIRMED))  # fmt: skip
    session.commit()
    assert not any(opens(client, url) for url in sent.values())
    assert opens(
        client, path(links.link(get_settings(), Purpose.MANAGE, ada(session, "eve@example.com")))
    )


def test_forged_links_open_nothing(settings, session) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    reader = ada(session)
    client = web_client()
    public = settings.model_copy(update={"secret_key": SecretStr(DEV_SECRET)})
    for purpose, route in ((Purpose.MANAGE, "manage"), (Purpose.UNSUBSCRIBE, "unsubscribe")):
        genuine = links.make(settings, purpose, reader)
        signed_publicly = links.make(public, purpose, reader)  # the placeholder key is public
        wrong_key = links.make(settings, purpose, Ref(reader.id or 0, reader.link_key + 1))
        no_key = links._serializer(settings, purpose).dumps([reader.id])  # as before keys
        assert opens(client, f"/{route}/{genuine}")
        for token in (signed_publicly, wrong_key, no_key):
            assert not opens(client, f"/{route}/{token}")
    assert reader.status == ada(session).status == SubscriberStatus.CONFIRMED


def test_links_from_before_keys_open_for_readers_from_before(settings, session) -> None:
    """Readers migrated from before link keys have key 0, and the unsubscribe links in the
    digests they already hold (tokens naming no key) keep working until they ask for new."""
    run("subscribers", "add", "old@example.com", "--topic", "agents", "--confirmed")
    reader = ada(session, "old@example.com")
    reader.link_key = 0
    session.add(reader)
    session.commit()
    before = links._serializer(settings, Purpose.UNSUBSCRIBE).dumps([reader.id])
    assert opens(web_client(), f"/unsubscribe/{before}")


def test_expired_manage_link_mails_a_fresh_one_and_says_nothing_else(
    settings, session, smtp, monkeypatch
) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("subscribers", "add", "bob@example.com", "--topic", "agents", "--confirmed")
    bob = ada(session, "bob@example.com")
    bob.status = SubscriberStatus.SUPPRESSED  # his mailbox refuses our mail
    session.add(bob)
    session.commit()
    old = int(time.time()) - (settings.manage_link_days + 1) * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: old)
        expired = {e: links.make(settings, Purpose.MANAGE, ada(session, e))
                   for e in ("ada@example.com", "bob@example.com")}  # fmt: skip
    client = web_client()
    pages = set()
    for email, token in expired.items():
        answer = client.get(f"/manage/{token}")
        assert answer.status_code == 410 and "Email me a fresh link" in answer.text
        assert email not in answer.text and "agents" not in answer.text
        assert client.post(f"/manage/{token}", data={"topics": "spam"}).status_code == 410
        pages.add(answer.text.replace(token, "TOKEN"))
    assert len(pages) == 1  # nothing on the page tells the readers apart
    answers = {client.post(f"/manage/{t}/renew").text.replace(t, "T") for t in expired.values()}
    assert len(answers) == 1 and "Check your inbox" in answers.pop()
    assert smtp.messages_to("bob@example.com") == []  # suppressed: no mail, the same answer
    fresh = found(r"https?://\S+?(/manage/\S+)", text_of(smtp, "ada@example.com"))
    assert "works for 90 days" in text_of(smtp, "ada@example.com")
    assert opens(client, fresh)
    assert ada(session).topics == ["agents"]


def test_unsubscribe_links_do_not_expire(settings, session, monkeypatch) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    years_ago = int(time.time()) - 3 * 365 * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: years_ago)
        token = links.make(settings, Purpose.UNSUBSCRIBE, ada(session))
    assert web_client().post(f"/unsubscribe/{token}").status_code == 200
    assert ada(session).status == SubscriberStatus.UNSUBSCRIBED


def test_rotation_keeps_sent_links_while_the_old_key_is_the_previous(
    settings, session, monkeypatch
) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    reader = ada(session)
    old_key = settings.secret_key.get_secret_value()
    before = {p: links.make(settings, p, reader) for p in (Purpose.MANAGE, Purpose.UNSUBSCRIBE)}
    vote = path(links.feedback_base(settings, reader, 1))
    envelope = verp.address(settings.model_copy(update={"bounce_address": "b@x.example"}), 42)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", OTHER_KEY)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY_PREVIOUS", old_key)
    get_settings.cache_clear()
    rotated = get_settings()
    client = web_client()
    assert opens(client, f"/manage/{before[Purpose.MANAGE]}")
    assert opens(client, f"/unsubscribe/{before[Purpose.UNSUBSCRIBE]}")
    assert links.read_feedback(rotated, vote.split("/")[2], "5", "more").reader_id == reader.id
    assert verp.delivery_of(rotated, f"Return-Path: <{envelope}>") == 42
    # New links are signed with the new key alone.
    new = links.make(rotated, Purpose.MANAGE, reader)
    with pytest.raises(links.InvalidToken):
        links.read(settings, Purpose.MANAGE, new)
    assert links.read(
        rotated.model_copy(update={"secret_key_previous": SecretStr("")}), Purpose.MANAGE, new
    )
    # Once the previous key is dropped, what it signed opens nothing.
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY_PREVIOUS")
    get_settings.cache_clear()
    client = web_client()
    assert not opens(client, f"/manage/{before[Purpose.MANAGE]}")
    assert opens(client, f"/manage/{new}")
    assert verp.delivery_of(get_settings(), f"Return-Path: <{envelope}>") is None


def test_suppression_survives_a_rotation(settings, session, monkeypatch) -> None:
    run("subscribers", "add", "gone@example.com", "--topic", "agents", "--confirmed")
    reader = ada(session, "gone@example.com")
    reader.bounces = 3
    session.add(reader)
    session.commit()
    run("subscribers", "forget", "gone@example.com")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", OTHER_KEY)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY_PREVIOUS", settings.secret_key.get_secret_value())
    get_settings.cache_clear()
    assert store.is_suppressed("gone@example.com", keys=get_settings().signing_keys,
                               session=session)  # fmt: skip
    answer = web_client().post("/subscribe", data={"email": "gone@example.com", "topics": "x y"})
    assert answer.status_code == 200


def test_resending_a_confirmation_never_mails_a_suppressed_address(settings, session,
                                                                   smtp) -> None:  # fmt: skip
    run("subscribers", "add", "ada@example.com", "--topic", "agents")
    reader = ada(session)
    reader.status = SubscriberStatus.SUPPRESSED
    session.add(reader)
    session.commit()
    smtp.received.clear()
    token = links.make(settings, Purpose.CONFIRM, reader)
    answer = web_client().post(f"/confirm/{token}/resend")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    time.sleep(0.5)  # the mail would go out in the background, after the answer
    assert smtp.messages_to("ada@example.com") == []


def test_check_inbox_page_carries_no_address_in_its_url(settings) -> None:
    client = web_client()
    answer = client.post("/subscribe", data={"email": "ada@example.com", "topics": "agents"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/subscribed"
    cookie = answer.headers["set-cookie"]
    assert "ada" not in cookie and "Path=/subscribed" in cookie and "HttpOnly" in cookie
    page = client.get("/subscribed")
    assert page.status_code == 200 and "ada@example.com" in page.text
