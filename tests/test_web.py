"""The readers' web app through FastAPI's test client, on both databases, with real mail."""

from __future__ import annotations

import json
import re
import time
from xml.etree import ElementTree

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from newsletter.models import Delivery, Subscriber, SubscriberStatus
from newsletter.readers import suggestions
from newsletter.readers.links import Purpose, link, make, read
from newsletter.settings import get_settings
from newsletter.web import create_app
from tests.conftest import REAL, SmtpServer
from tests.helpers import count, invoke, run, web_client

FORM = {
    "email": "ada@example.com",
    "topics": "mixture of experts\nRLHF, agents",
    "send_day": "tue",
    "send_hour": "7",
    "timezone": "Europe/Berlin",
}


@pytest.fixture
def client(settings) -> TestClient:
    return web_client()


def shared_topic(topic: str, readers: int) -> None:
    for n in range(readers):
        run("subscribers", "add", f"r{n}@example.com", "--topic", topic, "--confirmed")


def reader(session: Session, email: str = "ada@example.com") -> Subscriber | None:
    session.expire_all()
    found = session.exec(select(Subscriber).where(Subscriber.email == email)).first()
    session.rollback()
    return found


def path_of(url: str) -> str:
    return url.removeprefix(get_settings().base_url)


def confirm_link(smtp: SmtpServer) -> str:
    body = smtp.received[-1][1].get_body(("plain",)).get_content()
    return re.search(r"https://papers\.example\.com(/confirm/\S+)", body).group(1)  # type: ignore[union-attr]


def test_subscribe_page_is_accessible_and_safe(client, session) -> None:
    shared_topic("Diffusion  Models", 5)  # five readers: shown, in its normalised form
    run("subscribers", "add", "x@example.com", "--topic", "project nightingale at acme corp",
        "--topic", "<b>bold</b> topic", "--confirmed")  # fmt: skip
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    for field in ("email", "topics", "send_day", "send_hour", "timezone"):
        assert f'<label for="{field}"' in html and f'id="{field}"' in html
    assert '<form method="post" action="/subscribe">' in html
    assert "diffusion models" in html  # popular topics offered
    assert "nightingale" not in html and "bold" not in html  # one reader's text never shows
    assert "RAG" in html  # the vocabulary fills in while few topics are shared
    headers = response.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_suggested_topics_on_a_machine_that_just_booted(client) -> None:
    # time.monotonic() counts from boot: on a new CI runner or container it is near 0.
    client.app.state.web.suggestions.clock = lambda: 4.0  # type: ignore[attr-defined]
    shared_topic("diffusion models", 5)
    assert "diffusion models" in client.get("/").text


def test_one_idea_is_suggested_once() -> None:
    lists = [["LLMs"]] * 3 + [["large language models"]] * 3 + [["llm"]] + [["Agents"]] * 5
    found = suggestions.shared(lists, min_readers=5, count=8)
    assert found == ["llms", "agents"]  # seven readers of one idea, in its most used form
    assert suggestions.popular(found, count=5) == ["llms", "agents", "RAG", "diffusion model",
                                                   "MoE"]  # fmt: skip


def test_a_topic_under_the_reader_minimum_is_never_suggested(client) -> None:
    shared_topic("project nightingale", 4)
    assert "nightingale" not in client.get("/").text


def test_subscribe_form_then_confirm(client, session, smtp) -> None:
    response = client.post("/subscribe", data=FORM)
    assert response.status_code == 200 and "Check your inbox" in response.text
    # POST, redirect, GET: the page repeats the address, names the sender, mentions spam,
    # and reloading it sends nothing again.
    assert response.history[0].status_code == 303
    assert "ada@example.com" in response.text and "digest@papers.example.com" in response.text
    assert "spam" in response.text
    assert client.get(response.url).status_code == 200 and len(smtp.received) == 1
    ada = reader(session)
    assert ada and ada.status == SubscriberStatus.UNCONFIRMED
    assert ada.topics == ["mixture of experts", "RLHF", "agents"]
    assert (ada.send_day, ada.send_hour, ada.timezone) == (1, 7, "Europe/Berlin")
    [(to, mail)] = smtp.received
    assert to == "ada@example.com" and mail["Subject"].startswith("Confirm your subscription")
    assert "List-Unsubscribe" not in mail  # a transactional mail, not list mail
    path = confirm_link(smtp)

    page = client.get(path)  # what a link scanner does: confirms nothing
    assert page.status_code == 200 and 'method="post"' in page.text
    assert reader(session).status == SubscriberStatus.UNCONFIRMED  # type: ignore[union-attr]
    assert "scanners" in page.text  # why a press is needed
    done = client.post(path)
    assert done.status_code == 200 and "You are subscribed" in done.text
    ada = reader(session)
    assert ada.status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
    assert ada.confirmed_at and ada.consent_ip == "testclient"  # type: ignore[union-attr]
    # The answer and a welcome mail say when the first digest comes, in Ada's own zone (she
    # asked for Tuesdays 07:00 Europe/Berlin), her topics, and her manage link.
    assert re.search(r"Tuesday \d+ \w+, 07:00 \(Europe/Berlin\)", done.text)
    assert "mixture of experts, RLHF, agents" in done.text
    [(to, welcome)] = smtp.received[1:]
    body = welcome.get_body(("plain",)).get_content()
    assert to == "ada@example.com" and welcome["Subject"].startswith("Welcome")
    assert re.search(r"Tuesday \d+ \w+, 07:00 \(Europe/Berlin\)", body)
    manage = re.search(r"(https://papers\.example\.com/manage/\S+)", body).group(1)  # type: ignore[union-attr]
    assert client.get(path_of(manage)).status_code == 200
    # Opening the confirmation link again leads on to the manage page; no second welcome.
    again = client.get(path)
    assert "already confirmed" in again.text and "/manage/" in again.text
    assert client.post(path).status_code == 200 and len(smtp.received) == 2


def test_same_answer_whatever_the_address_is(client, session, smtp) -> None:
    run("subscribers", "add", "confirmed@example.com", "--topic", "agents", "--confirmed")
    run("subscribers", "add", "pending@example.com", "--topic", "agents")
    run("subscribers", "add", "gone@example.com", "--topic", "agents", "--confirmed")
    with Session(session.bind) as s:  # type: ignore[arg-type]
        for email, status in (("gone@example.com", SubscriberStatus.UNSUBSCRIBED),):
            row = s.exec(select(Subscriber).where(Subscriber.email == email)).one()
            row.status = status
            s.add(row)
        s.commit()
    answers = set()
    for email in (
        "new@example.com",
        "pending@example.com",
        "confirmed@example.com",
        "gone@example.com",
    ):
        response = client.post("/subscribe", data=FORM | {"email": email, "topics": "quantum"})
        answers.add((response.status_code, response.text.replace(email, "ADDRESS")))
        api = client.post("/api/subscribe", json={"email": email, "topics": ["quantum"]})
        answers.add((api.status_code, api.text))
    assert len(answers) == 2  # one for the form, one for the API
    # A confirmed reader's topics cannot be changed without their manage link.
    assert reader(session, "confirmed@example.com").topics == ["agents"]  # type: ignore[union-attr]
    subjects = {to: m["Subject"] for to, m in smtp.received}
    assert subjects["confirmed@example.com"].startswith("You are already subscribed")
    assert subjects["gone@example.com"].startswith("Confirm")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not an address", "invalid email address"),
        ("email", "ada@example.com\r\nBcc: evil@example.com", "invalid email address"),
        ("topics", " , \n ", "at least one topic"),
        ("timezone", "Mars/Base", "unknown timezone"),
        ("send_day", "someday", "unknown day"),
    ],
)
def test_bad_form_input_is_422_and_writes_nothing(
    client, session, smtp, field, value, message
) -> None:
    response = client.post("/subscribe", data=FORM | {field: value})
    assert response.status_code == 422 and message in response.text
    assert reader(session) is None and smtp.received == []


def test_api_subscribe(client, session, smtp) -> None:
    response = client.post(
        "/api/subscribe", json={"email": "Ada@Example.com", "topics": ["RAG", "agents"]}
    )
    assert response.status_code == 202 and response.json()["status"] == "check your inbox"
    assert reader(session).topics == ["RAG", "agents"]  # type: ignore[union-attr]
    bad = client.post("/api/subscribe", json={"email": "x@example.com", "topics": []})
    assert bad.status_code == 422 and bad.json() == {
        "detail": "topics: List should have at least 1 item after validation, not 0",
        "field": "topics",
    }
    wrong = client.post("/api/subscribe", json={"email": 5, "topics": "x", "send_hour": 99})
    assert wrong.status_code == 422 and wrong.json()["field"] == "email"
    assert count(session, Subscriber) == 1


def test_rate_limits_hold_across_web_processes(settings, session, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_EMAIL", "2")
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_IP", "4")
    get_settings.cache_clear()
    # Two apps, as two `newsletter web` processes would be: the counts are kept in Redis.
    first, second = web_client(), TestClient(create_app(get_settings()))
    codes = [c.post("/subscribe", data=FORM).status_code for c in (first, second, first)]
    assert codes == [200, 200, 429]
    codes = [
        (first, second)[i % 2]
        .post("/api/subscribe", json={"email": f"u{i}@example.com", "topics": ["x"]})
        .status_code
        for i in range(3)
    ]
    assert codes == [202, 429, 429]  # 4 per address of the client, 3 used above


def test_rate_limits_in_memory_without_redis(settings, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_REDIS_URL", "")
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_EMAIL", "1")
    get_settings.cache_clear()
    client = web_client()
    codes = [client.post("/subscribe", data=FORM).status_code for _ in range(2)]
    assert codes == [200, 429]


def test_expired_confirm_link_offers_a_new_one(client, session, smtp, monkeypatch) -> None:
    client.post("/subscribe", data=FORM)
    ada = reader(session)
    week_ago = int(time.time()) - 8 * 24 * 3600
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: week_ago)
    old = path_of(link(get_settings(), Purpose.CONFIRM, ada))  # type: ignore[arg-type]
    monkeypatch.undo()
    for response in (client.get(old), client.post(old)):
        assert response.status_code == 410 and "expired" in response.text
    assert reader(session).status == SubscriberStatus.UNCONFIRMED  # type: ignore[union-attr]
    smtp.received.clear()
    assert client.post(old + "/resend").status_code == 200
    new_path = confirm_link(smtp)
    assert client.post(new_path).status_code == 200
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]


def test_bad_tokens_are_404_on_every_route(client, session) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    ada = reader(session)
    settings = get_settings()
    good = {p: make(settings, p, ada) for p in Purpose}  # type: ignore[arg-type]
    bad = {
        "tampered": good[Purpose.MANAGE][:-3] + "abc",
        "truncated": good[Purpose.MANAGE][:10],
        "garbage": "%00<script>",
        "other purpose": good[Purpose.CONFIRM],
    }
    routes = [
        ("get", "/manage/{}"),
        ("post", "/manage/{}"),
        ("get", "/unsubscribe/{}"),
        ("post", "/unsubscribe/{}"),
        ("get", "/issues/{}"),
        ("get", "/confirm/{}"),
        ("post", "/confirm/{}"),
        ("post", "/confirm/{}/resend"),
    ]
    tried = 0
    for name, token in bad.items():
        for method, route in routes:
            if name == "other purpose" and "confirm" in route:
                token = good[Purpose.UNSUBSCRIBE]
            response = client.request(method, route.format(token), data={"topics": "x"})
            assert response.status_code == 404, (name, route, response.status_code)
            assert "This link opens nothing" in response.text
            tried += 1
    assert tried == 32
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]


def test_manage_form_keeps_every_edit_beside_an_error(client, session) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    path = path_of(link(get_settings(), Purpose.MANAGE, reader(session)))  # type: ignore[arg-type]
    edits = {"topics": "agents\nsparse autoencoders", "send_day": "fri", "send_hour": "18",
             "timezone": "Mars/Olympus_Mons", "paused": "true"}  # fmt: skip
    refused = client.post(path, data=edits)
    assert refused.status_code == 422 and "unknown timezone" in refused.text
    html = refused.text
    assert "sparse autoencoders" in html and 'value="Mars/Olympus_Mons"' in html
    assert '<option value="fri" selected>' in html and '<option value="18" selected>' in html
    assert 'name="paused" value="true" checked' in html
    # The error stands beside its field, which is described by it and takes the focus.
    assert '<p class="error" id="timezone-error">' in html
    assert 'aria-describedby="timezone-hint timezone-error" aria-invalid="true" autofocus' in html
    assert reader(session).topics == ["agents"]  # type: ignore[union-attr]  # nothing saved
    # Zones match whatever their case; the old abbreviations that ignore summer time do not.
    assert client.post(path, data=edits | {"timezone": "EST"}).status_code == 422
    saved = client.post(path, data=edits | {"timezone": "europe/berlin"})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert reader(session).timezone == "Europe/Berlin"  # type: ignore[union-attr]
    assert '<option value="Asia/Tokyo">' in saved.text  # the searchable list of zones


def test_manage_changes_topics_schedule_and_pause(client, session) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    path = path_of(link(get_settings(), Purpose.MANAGE, reader(session)))  # type: ignore[arg-type]
    page = client.get(path)
    assert page.status_code == 200 and "agents" in page.text
    saved = client.post(
        path,
        data={
            "topics": "RAG\nlong context",
            "send_day": "fri",
            "send_hour": "18",
            "timezone": "Asia/Tokyo",
            "paused": "true",
        },
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    ada = reader(session)
    assert (ada.topics, ada.send_day, ada.send_hour, ada.timezone, ada.paused) == (  # type: ignore[union-attr]
        ["RAG", "long context"],
        4,
        18,
        "Asia/Tokyo",
        True,
    )
    refused = client.post(path, data={"topics": "", "timezone": "Nowhere"})
    assert refused.status_code == 422
    assert reader(session).topics == ["RAG", "long context"]  # type: ignore[union-attr]
    client.post(path, data={"topics": "RAG", "timezone": "UTC"})  # unchecked box: resume
    assert reader(session).paused is False  # type: ignore[union-attr]


def test_unsubscribe_button_and_one_click(client, session, settings) -> None:
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    url = link(get_settings(), Purpose.UNSUBSCRIBE, reader(session))  # type: ignore[arg-type]
    page = client.get(path_of(url))
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
    # RFC 8058: what a mailbox provider sends (tests/test_browser.py does it over real HTTP).
    response = client.post(
        path_of(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert reader(session).status == SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    # Reopened, the link says so and offers the way back; the manage page offers it too.
    again = client.get(path_of(url))
    assert "You are unsubscribed" in again.text and "Subscribe again" in again.text
    manage = path_of(link(get_settings(), Purpose.MANAGE, reader(session)))  # type: ignore[arg-type]
    assert "Subscribe again" in client.get(manage).text
    back = client.post(path_of(url) + "/undo")
    assert back.status_code == 200 and "You&#39;re subscribed again" in back.text
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
    paused = client.post(path_of(url) + "/pause")
    # No manage link from a link that never expires: a Resume button on this same link.
    assert paused.status_code == 200 and "/manage/" not in paused.text
    assert f'action="{path_of(url)}/undo"' in paused.text and ">Resume<" in paused.text
    ada = reader(session)
    assert ada.status == SubscriberStatus.CONFIRMED and ada.paused  # type: ignore[union-attr]
    client.post(path_of(url) + "/undo")
    assert not reader(session).paused  # type: ignore[union-attr]


def test_a_refused_subscribe_form_points_at_the_field(client) -> None:
    response = client.post("/subscribe", data=FORM | {"email": "not an address"})
    assert response.status_code == 422 and '<p class="error" id="email-error">' in response.text
    assert 'aria-describedby="email-error" aria-invalid="true" autofocus' in response.text
    assert 'value="not an address"' in response.text and "mixture of experts" in response.text


def test_a_mistyped_field_gets_words_a_reader_understands(client) -> None:
    response = client.post("/subscribe", data=FORM | {"send_hour": "eight"})
    assert response.status_code == 422 and "Pick an hour from 00:00 to 23:00" in response.text
    assert "Input should be" not in response.text and "send_hour" not in response.text
    api = client.post(
        "/api/subscribe", json={"email": "a@example.com", "topics": ["agents"], "send_hour": "x"}
    )
    assert api.status_code == 422 and api.json()["field"] == "send_hour"  # scripts get the field


def test_the_public_archive_and_its_feed_hold_only_shared_topics(client, session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    shared_topic("agents", 5)
    run("subscribers", "add", "x@example.com", "--topic", "project nightingale", "--topic",
        "video generation", "--confirmed")  # fmt: skip
    run("send", "--dry-run", "--issue-date", "2026-05-12")
    assert "No issue has gone out yet" in client.get("/archive").text  # a dry run plans nothing
    run("send", "--issue-date", "2026-05-12")
    index = client.get("/archive")
    assert index.status_code == 200 and "/archive/2026-W20" in index.text
    assert "/archive/2026-W20" in client.get("/").text  # the subscribe page's sample
    week = client.get("/archive/2026-W20").text
    assert "Most upvoted on Hugging Face Daily Papers" in week and "On “agents”" in week
    assert week.count('<ol class="papers">') == 2  # the top papers, then the one shared topic
    assert "nightingale" not in week and "On “video generation”" not in week
    assert client.get("/archive/2030-W01").status_code == 404
    feed = client.get("/archive.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(feed.content)
    atom = "{http://www.w3.org/2005/Atom}"
    [entry] = root.findall(f"{atom}entry")
    assert entry.find(f"{atom}link").get("href").endswith("/archive/2026-W20")  # type: ignore[union-attr]
    assert "nightingale" not in feed.text and "x@example.com" not in feed.text


def test_a_private_feed_of_ones_own_digests_that_can_be_revoked(client, session, smtp) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    for email in ("ada@example.com", "bob@example.com"):
        run("subscribers", "add", email, "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    manage = path_of(link(get_settings(), Purpose.MANAGE, reader(session)))  # type: ignore[arg-type]
    feed = re.search(
        r'value="(https://papers\.example\.com/feed/[^"]+\.atom)"', client.get(manage).text
    )
    assert feed
    response = client.get(path_of(feed.group(1)))
    assert response.headers["content-type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    [entry] = ElementTree.fromstring(response.content).findall(f"{atom}entry")
    subject = smtp.messages_to("ada@example.com")[0]["Subject"]
    assert entry.findtext(f"{atom}title").split(":")[1] in subject  # type: ignore[union-attr]
    web_copy = entry.find(f"{atom}link").get("href")  # type: ignore[union-attr]
    assert client.get(path_of(web_copy)).status_code == 200  # type: ignore[arg-type]
    # Revoked: the old link is the same 404 as any bad link; the new one works.
    page = client.post(manage + "/feed").text
    assert "the old link no longer works" in page
    assert client.get(path_of(feed.group(1))).status_code == 404
    new = re.search(r'value="(https://papers\.example\.com/feed/[^"]+\.atom)"', page)
    assert new and client.get(path_of(new.group(1))).status_code == 200


def test_public_pages_head_icon_privacy_and_a_way_home(client) -> None:
    assert client.head("/").status_code == 200
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    privacy = client.get("/privacy")
    assert privacy.status_code == 200 and "IP address" in privacy.text
    missing = client.get("/manage/not-a-token")
    assert missing.status_code == 404 and 'href="/"' in missing.text


def test_delete_my_data_leaves_no_row_and_a_bounced_address_stays_unmailed(
    client, session, smtp, tmp_path
) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("subscribers", "add", "bob@example.com", "--topic", "agents", "--confirmed")
    smtp.refuse_rcpt["bob@example.com"] = "550 5.1.1 no such user"
    run("send", "--issue-date", "2026-05-12")  # Ada gets hers; Bob's mailbox refuses it
    for email in ("ada@example.com", "bob@example.com"):
        manage = path_of(link(get_settings(), Purpose.MANAGE, reader(session, email)))  # type: ignore[arg-type]
        assert "Delete my data" in client.get(manage).text
        assert "Delete your data?" in client.post(manage + "/forget").text  # asked once more
        gone = client.post(manage + "/forget/confirm")
        assert gone.status_code == 200 and "Your data is deleted" in gone.text
        assert client.get(manage).status_code == 404
    assert count(session, Subscriber) == 0 and count(session, Delivery) == 0
    with Session(session.bind) as s:  # type: ignore[arg-type]
        rows = [
            dict(r._mapping)
            for t in ("suppression", "issue")
            for r in s.execute(text(f"SELECT * FROM {t}"))
        ]
    assert "example.com" not in repr(rows)  # no address left anywhere, only Bob's hash
    assert [r["reason"] for r in rows if "reason" in r] == ["bounced"]
    # Ada may come back; Bob's address, which bounced, is never mailed again.
    smtp.received.clear()
    for email in ("ada@example.com", "bob@example.com"):
        client.post("/subscribe", data=FORM | {"email": email})
    assert [to for to, _ in smtp.received] == ["ada@example.com"]
    assert reader(session, "bob@example.com") is None
    code, out = invoke("subscribers", "add", "bob@example.com", "--topic", "agents")
    assert code == 1 and "refused our mail" in out
    csv = tmp_path / "readers.csv"
    csv.write_text("email,topics\nbob@example.com,agents\n")
    code, out = invoke("subscribers", "import", str(csv))
    assert code == 1 and "refused our mail" in out


def test_digest_links_and_view_in_browser(client, session, smtp) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("subscribers", "add", "bob@example.com", "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    mail = smtp.messages_to("ada@example.com")[0]
    text = mail.get_body(("plain",)).get_content()
    view = re.search(r"View in browser: (\S+)", text).group(1)  # type: ignore[union-attr]
    manage = re.search(r"Manage your topics: (\S+)", text).group(1)  # type: ignore[union-attr]
    unsubscribe = mail["List-Unsubscribe"].strip().strip("<>")
    for url in (view, manage, unsubscribe):
        assert url.startswith("https://papers.example.com/")
        assert client.get(path_of(url)).status_code == 200
    page = client.get(path_of(view)).text
    first_title = re.search(r"^1\. (.+)$", text, re.M).group(1)  # type: ignore[union-attr]
    assert first_title.split(":")[0] in page
    # The web copy's URL gets shared: it holds nothing that acts for Ada or names her.
    for personal in ("ada@example.com", "/manage/", "/unsubscribe/", "agents.", "(your topic"):
        assert personal not in page
    # Its reasons quote the papers only, and whoever it is shared with can subscribe.
    assert (
        "in the title" in page
        and '<a class="tap" href="/">Get your own, on your topics</a>' in page
    )
    assert path_of(manage) not in page and path_of(unsubscribe) not in page
    # Another reader's delivery with Ada's identity is not viewable.
    bob_view = re.search(
        r"View in browser: \S+/issues/(\S+)",
        smtp.messages_to("bob@example.com")[0].get_body(("plain",)).get_content(),
    ).group(1)  # type: ignore[union-attr]
    bob_delivery = read(get_settings(), Purpose.VIEW, bob_view).extra
    forged = make(get_settings(), Purpose.VIEW, reader(session), bob_delivery)  # type: ignore[arg-type]
    assert client.get(f"/issues/{forged}").status_code == 404


def test_permanent_bounces_suppress_the_reader(settings, session, smtp, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SUPPRESS_AFTER_BOUNCES", "2")
    get_settings.cache_clear()
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    smtp.refuse_rcpt["ada@example.com"] = "550 5.1.1 User unknown"
    run("send", "--issue-date", "2026-05-12")
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
    assert reader(session).bounces == 1  # type: ignore[union-attr]
    run("send", "--issue-date", "2026-05-18")
    assert reader(session).status == SubscriberStatus.SUPPRESSED  # type: ignore[union-attr]
    listed = json.loads(run("subscribers", "list", "--status", "suppressed", "--json"))
    assert [r["email"] for r in listed] == ["ada@example.com"]
    out = json.loads(run("send", "--issue-date", "2026-05-25", "--json"))
    assert out["planned"] == 0
