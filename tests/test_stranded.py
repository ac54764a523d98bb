"""Readers never stranded (issue 33): typos that do not lock an address out, a 429 that keeps
what was typed, leaving and coming back from the manage page, deleting with a second step,
a paused reader's Resume, a deleted reader's old links, and no third party in any mail.
Through the web app on both databases, with real mail."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import select

from newsletter.ingest import files
from newsletter.match.spelling import Spelling
from newsletter.models import Delivery, Paper, SubscriberStatus
from newsletter.readers.links import Purpose, link
from newsletter.settings import get_settings
from tests.conftest import ARTIFACTS, REAL, SmtpServer
from tests.helpers import count, crowded, run, web_client
from tests.test_web import FORM, confirm_link, path_of, reader


@pytest.fixture
def client(settings) -> TestClient:
    return web_client()


def test_refused_forms_do_not_use_up_the_address_limit(client, session, smtp, monkeypatch) -> None:
    """Three topic mistakes, then a good form: it goes through and mails the reader."""
    bad = FORM | {"topics": " , ,"}
    for _ in range(3):
        assert client.post("/subscribe", data=bad).status_code == 422
    assert client.post("/subscribe", data=FORM).status_code == 200
    assert [to for to, _ in smtp.received] == ["ada@example.com"]


def test_a_429_shows_the_form_as_typed_and_when_to_retry(client, session, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBE_LIMIT_PER_EMAIL", "1")
    get_settings.cache_clear()
    client = web_client()
    assert client.post("/subscribe", data=FORM).status_code == 200
    again = client.post("/subscribe", data=FORM | {"timezone": "Asia/Tokyo"})
    assert again.status_code == 429
    assert 3000 < int(again.headers["Retry-After"]) <= 3600
    page = again.text
    assert "<h1>Get trending papers in your email inbox</h1>" in page  # the form, not an error
    assert "Too many requests for this address: try again in 60 minutes." in page
    assert 'value="ada@example.com"' in page and "mixture of experts" in page
    # What was typed stays: the browser's zone does not overwrite it.
    assert re.search(r'value="Asia/Tokyo" data-touched="1"', page)
    assert "Something went wrong" not in page


def test_limits_live_under_the_deployments_own_redis_prefix(settings, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_REDIS_PREFIX", "papers-staging:")
    get_settings.cache_clear()
    store = redis.Redis.from_url(get_settings().redis_url)
    others = set(store.keys("*")) - set(store.keys("papers-staging:*"))
    web_client().post("/subscribe", data=FORM)
    ours = set(store.keys("*")) - others
    assert ours and all(k.startswith(b"papers-staging:limits:") for k in ours)


def subscribed(client: TestClient, smtp: SmtpServer) -> str:
    """Ada, confirmed; the path of her manage page."""
    client.post("/subscribe", data=FORM)
    page = client.post(confirm_link(smtp)).text
    return re.search(r'href="https://papers\.example\.com(/manage/[^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_leave_from_the_manage_page_and_come_back(client, session, smtp) -> None:
    manage = subscribed(client, smtp)
    page = client.get(manage).text
    assert f'action="{manage}/unsubscribe"' in page
    left = client.post(f"{manage}/unsubscribe")
    assert left.status_code == 200 and "You are unsubscribed" in left.text
    assert reader(session).status == SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    back = client.post(f"{manage}/resubscribe").text
    assert "You&#39;re subscribed again. Your next digest comes " in back
    assert reader(session).status == SubscriberStatus.CONFIRMED  # type: ignore[union-attr]


def test_a_change_on_the_manage_page_answers_with_a_page_a_reload_cannot_resend(
    client, session, smtp
) -> None:
    manage = subscribed(client, smtp)
    form = {"topics": "agents", "timezone": "UTC", "send_day": "fri"}
    for path, data, done, said in (
        (manage, form, "saved", "Saved. Your next digest comes "),
        (f"{manage}/unsubscribe", None, "left", "You are unsubscribed"),
        (f"{manage}/resubscribe", None, "back", "re subscribed again. Your next digest comes "),
        (f"{manage}/feed", None, "feed", "the old link no longer works"),
    ):
        answer = client.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"{manage}?done={done}"
        assert said in client.get(answer.headers["location"]).text.replace("&#39;", " "), path
    assert reader(session).send_day == 4  # type: ignore[union-attr]


def test_subscribe_again_from_the_unsubscribe_link_says_so(client, session, smtp) -> None:
    subscribed(client, smtp)
    unsubscribe = path_of(link(get_settings(), Purpose.UNSUBSCRIBE, reader(session)))  # type: ignore[arg-type]
    client.post(unsubscribe)
    back = client.post(f"{unsubscribe}/undo")
    assert "<h1>You&#39;re subscribed again</h1>" in back.text
    assert "Your next digest comes " in back.text
    assert "<h1>Unsubscribe</h1>" not in back.text


def test_a_paused_reader_sees_a_banner_with_resume(client, session, smtp) -> None:
    manage = subscribed(client, smtp)
    client.post(manage, data={"topics": "agents", "paused": "true", "timezone": "UTC"})
    page = client.get(manage).text
    assert "Your digest is paused: nothing is sent until you resume it." in page
    resumed = client.post(f"{manage}/resubscribe").text
    assert "You&#39;re subscribed again" in resumed
    assert reader(session).paused is False  # type: ignore[union-attr]


def test_delete_needs_a_second_step_and_old_links_then_say_so(client, session, smtp) -> None:
    manage = subscribed(client, smtp)
    unsubscribe = path_of(link(get_settings(), Purpose.UNSUBSCRIBE, reader(session)))  # type: ignore[arg-type]
    asked = client.post(f"{manage}/forget")
    assert asked.status_code == 200 and "<h1>Delete your data?</h1>" in asked.text
    assert reader(session) is not None  # nothing deleted yet
    assert f'action="{manage}/forget/confirm"' in asked.text and f'href="{manage}"' in asked.text
    done = client.post(f"{manage}/forget/confirm")
    assert done.status_code == 200 and reader(session) is None
    for old in (manage, unsubscribe):
        gone = client.get(old)  # the same page as a mistyped link: it tells nothing more
        assert gone.status_code == 404
        assert "sent to an address that is no longer on our list" in gone.text
        assert gone.text == client.get("/manage/not-a-token").text


class _Resources(HTMLParser):
    """Everything in a mail's HTML that a mail client fetches by itself when it is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "link" and named.get("href"):
            self.fetched.append(named["href"] or "")
        if tag in ("img", "script", "iframe", "source", "video", "audio") and named.get("src"):
            self.fetched.append(named["src"] or "")
        if tag == "table" and named.get("background"):
            self.fetched.append(named["background"] or "")


def fetched_elsewhere(html: str, own_host: str) -> list[str]:
    """Remote resources of a mail on any host but the product's own: tags, CSS url() and
    @import alike. A plain link a reader may click is not one."""
    parser = _Resources()
    parser.feed(html)
    found = parser.fetched + re.findall(r"url\(\s*['\"]?([^'\")\s]+)", html)
    found += re.findall(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)", html)
    return sorted({url for url in found if urlsplit(url).hostname not in (None, own_host)})


def test_the_resource_check_sees_a_remote_font() -> None:
    html = '<link href="https://fonts.googleapis.com/css?family=Roboto" rel="stylesheet">'
    css = "<style>@import url(https://evil.example/x.css); b{background:url('https://t.example/p.gif')}</style>"
    assert fetched_elsewhere(html + css, "papers.example.com") == [
        "https://evil.example/x.css", "https://fonts.googleapis.com/css?family=Roboto",
        "https://t.example/p.gif",
    ]  # fmt: skip
    assert fetched_elsewhere('<a href="https://arxiv.org/abs/1">x</a>', "papers.example.com") == []


def every_mail(client, session, smtp, monkeypatch) -> list[EmailMessage]:
    """Every mail the product sends: confirmation, already subscribed, welcome, fresh links,
    the digest and the empty-weeks notice."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    manage = subscribed(client, smtp)  # the confirmation, then the welcome
    client.post("/subscribe", data=FORM)  # already subscribed
    client.post(f"{manage}/links")  # fresh links
    run("send", "--issue-date", "2026-05-12")  # the digest
    monkeypatch.setenv("NEWSLETTER_EMPTY_WEEKS_NOTICE", "1")
    get_settings.cache_clear()
    run("send", "--issue-date", "2026-05-19")  # a week with no papers: the notice
    subjects = [mail["Subject"] for _, mail in smtp.received]
    assert len(subjects) == 6 and count(session, type(reader(session))) == 1, subjects
    assert subjects[-1] == "Nothing has matched your topics for 1 week"
    return [mail for _, mail in smtp.received]


def test_no_mail_loads_anything_from_a_third_party(client, session, smtp, monkeypatch) -> None:
    own = urlsplit(get_settings().base_url).hostname or ""
    for mail in every_mail(client, session, smtp, monkeypatch):
        html = mail.get_body(("html",)).get_content()
        assert fetched_elsewhere(html, own) == [], mail["Subject"]


def test_the_tap_check_sees_crowded_links(browser) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 900})
    tall = "display:inline-block;padding:12px 0;line-height:20px"
    page.set_content(
        '<p style="font-size:13px"><a href="/a">arXiv</a> · <a href="/b">PDF</a></p>'
        '<p style="margin-top:200px"><a href="/c">alone</a></p>'
        f'<a href="/d" style="{tall}">tall</a> <a href="/e" style="{tall}">enough</a>'
    )
    assert [t.split(" (")[0] for t in crowded(page)] == ["arXiv", "PDF"]
    page.close()


def test_every_mail_is_easy_to_tap_and_dark_where_asked(
    browser, client, session, smtp, monkeypatch
) -> None:
    """At 375 px every link and button is 44 px tall or has room around it; in dark mode the
    card is dark. The digest at 600 px, light and dark: test-artifacts/mail/ (and docs/)."""
    shots = ARTIFACTS / "mail"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 375, "height": 900})
    for mail in every_mail(client, session, smtp, monkeypatch):
        html = mail.get_body(("html",)).get_content()
        assert '<meta name="color-scheme" content="light dark">' in html
        page.set_viewport_size({"width": 375, "height": 900})
        page.emulate_media(color_scheme="light")
        page.set_content(html)
        assert crowded(page) == [], mail["Subject"]
        card = "getComputedStyle(document.querySelector('.card')).backgroundColor"
        assert page.evaluate(card) == "rgb(255, 255, 255)"
        page.emulate_media(color_scheme="dark")
        assert page.evaluate(card) == "rgb(22, 27, 34)", mail["Subject"]
        if "trending papers for you" in mail["Subject"]:
            page.set_viewport_size({"width": 600, "height": 1400})
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                page.screenshot(path=str(shots / f"digest-600-{scheme}.png"))
    page.close()


def _send_week(day: str, papers_of: str | None = None) -> dict[str, object]:
    """The issue of `day`, with the real Daily Papers of `papers_of` featured that day."""
    if papers_of:
        run("ingest", "file", str(REAL / f"hf_daily_papers_{papers_of}.json"), "--featured-on", day)
    return json.loads(run("send", "--issue-date", day, "--json"))


def test_a_reader_found_nothing_for_three_weeks_is_told_once(session, smtp) -> None:
    run("subscribers", "add", "zoe@example.net", "--topic", "protein folding",
        "--topic", "reinforcment lerning", "--confirmed")  # fmt: skip
    run("subscribers", "add", "ada@example.com", "--topic", "LLM evaluation", "--confirmed")
    weeks = ["2026-05-12", "2026-05-19", "2026-05-26", "2026-06-02", "2026-06-09", "2026-06-16"]
    for day, papers in zip(weeks[:2], ["2025-03-12", "2025-10-14"], strict=True):
        assert _send_week(day, papers)["notices"] == 0
    assert smtp.messages_to("zoe@example.net") == []  # two weeks of nothing: nothing yet
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"), "--featured-on", weeks[2])
    dry = json.loads(run("send", "--dry-run", "--issue-date", weeks[2], "--json"))
    assert {r["email"]: r["subject"] for r in dry["readers"]}["zoe@example.net"].startswith(
        "Nothing has matched")  # fmt: skip
    assert _send_week(weeks[2])["notices"] == 1
    [notice] = smtp.messages_to("zoe@example.net")
    assert notice["Subject"] == "Nothing has matched your topics for 3 weeks"
    assert notice["List-Unsubscribe"] and notice["List-Unsubscribe-Post"]
    text_part = notice.get_body(("plain",)).get_content()
    assert '"protein folding": 0' in text_part
    assert 'Did you mean "reinforcement learning"?' in text_part, text_part
    assert Purpose.MANAGE.value in text_part and "Unsubscribe: https://" in text_part
    zoe = reader(session, "zoe@example.net")
    assert zoe is not None and zoe.id is not None
    rows = session.exec(select(Delivery).where(Delivery.subscriber_id == zoe.id)).all()
    assert {d.status for d in rows} == {"skipped"}  # a notice is no digest: no feed, no archive
    assert [d.message_id for d in rows if d.message_id] == [notice["Message-ID"]]
    session.rollback()
    for day in weeks[3:]:  # the dry spell goes on: no second notice
        _send_week(day)
    assert len(smtp.messages_to("zoe@example.net")) == 1
    # ada had digests, then three weeks without papers: her notice in the third
    assert [m["Subject"][:14] for m in smtp.messages_to("ada@example.com")][-1] == "Nothing has ma"


def test_a_stranger_in_chromium_is_never_stuck(server, browser, smtp: SmtpServer, settings) -> None:
    """Three refused forms then a good one; a misspelled topic; pause then resume;
    unsubscribe from the manage page then subscribe again; delete with its confirmation.
    Screenshots at 375 px of the manage page and of a 429 go to test-artifacts/."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(server + "/")
    page.get_by_label("Email address").fill("stranger@example.com")
    page.get_by_label("Timezone").fill("Asia/Tokyo")
    for typo in ("the", "of the", "1234"):
        page.get_by_label("Topics").fill(typo)
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_selector("text=has no searchable words")
        assert page.get_by_label("Timezone").input_value() == "Asia/Tokyo"
    # Each topic is tried as it is typed: what it finds, or a fix one tap away.
    page.get_by_label("Topics").fill("agents\nvidoe generation\nreinforcment lerning")
    page.wait_for_selector("text=Did you mean “reinforcement learning”?")
    found = page.get_by_role("list", name="What each topic finds").inner_text()
    assert re.search(r"“agents”: \d+ papers in 6–12 May 2026\nAnswer a few", found), found
    assert "“vidoe generation”: nothing in 6–12 May 2026 Did you mean" in found, found
    page.get_by_role("button", name="Use “reinforcement learning”").click()
    assert page.get_by_label("Topics").input_value().endswith("\nreinforcement learning")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_selector("text=Check your inbox")
    confirm = re.search(r"(http://127\.0\.0\.1:\d+/confirm/\S+)",
                        smtp.received[-1][1].get_body(("plain",)).get_content())[1]  # type: ignore[index]  # fmt: skip
    page.goto(confirm)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=did you mean “video generation”?")
    page.get_by_role("link", name="Change topics, day or time").click()
    manage = page.url
    assert "Asia/Tokyo" in page.get_by_label("Timezone").input_value()
    page.wait_for_selector("text=Did you mean “video generation”?")
    page.get_by_label("Topics").fill("agents\nvideo generation")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")
    assert "Did you mean" not in page.content()

    page.get_by_label("Pause the digest").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Your digest is paused")
    page.get_by_role("button", name="Resume").click()
    page.wait_for_selector("text=You're subscribed again")

    page.get_by_role("button", name="Unsubscribe", exact=True).click()
    page.wait_for_selector("text=You are unsubscribed")
    page.get_by_role("button", name="Subscribe again").click()
    page.wait_for_selector("text=You're subscribed again")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "manage-375.png"), full_page=True)

    page.get_by_role("button", name="Delete my data").click()
    page.wait_for_selector("text=Delete your data?")
    page.get_by_role("link", name="No, keep my data").click()
    assert page.url == manage
    page.get_by_role("button", name="Delete my data").click()
    page.get_by_role("button", name="Yes, delete my data").click()
    page.wait_for_selector("text=Your data is deleted")
    page.goto(manage)
    page.wait_for_selector("text=no longer on our list")  # among the causes it names

    # Over the per-address limit (3 an hour; the first subscription used one): the form
    # comes back as typed, saying when to try again.
    page.goto(server + "/")
    for n in range(3):
        page.get_by_label("Email address").fill("stranger@example.com")
        page.get_by_label("Topics").fill("agents")
        page.get_by_role("button", name="Subscribe").click()
        if n < 2:
            page.wait_for_selector("text=Check your inbox")
            page.goto(server + "/")
    page.wait_for_selector("text=Too many requests for this address")
    assert page.get_by_label("Topics").input_value() == "agents"
    page.screenshot(path=str(ARTIFACTS / "too-many-375.png"), full_page=True)
    page.close()


def test_previews_show_the_latest_week_when_this_one_has_no_papers(client, session) -> None:
    """The bundled weeks are in the past: the manage page's preview shows the latest week
    there is, and says which, instead of "nothing matches"."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    page = client.get(path_of(link(get_settings(), Purpose.MANAGE, reader(session)))).text  # type: ignore[arg-type]
    assert "these are from the latest week we have, 6–12 May 2026" in page
    preview = page.split('<ol class="preview">')[1].split("</ol>")[0]
    assert preview.count("<li>") >= 3 and "in the title" in preview
    assert "No paper this week matches your topics yet" not in page


def test_a_topic_preview_says_what_it_finds(client, session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    found = client.get("/api/preview", params={"topic": "agents"}).json()
    assert found["matched"] > 8 and len(found["papers"]) == 8 and found["earlier"]
    assert found["dates"] == "6–12 May 2026" and found["did_you_mean"] is None
    assert all("agent" in p["why"].lower() for p in found["papers"]), found["papers"]
    typo = client.get("/api/preview", params={"topic": "reinforcment lerning"}).json()
    assert (typo["matched"], typo["papers"]) == (0, [])
    assert typo["did_you_mean"] == "reinforcement learning"
    refused = client.get("/api/preview", params={"topic": "of the"})
    assert refused.status_code == 422 and refused.json()["field"] == "topic"
    assert "searchable words" in refused.json()["detail"]


def test_a_misspelled_topic_is_shown_as_matching_nothing_with_a_fix(client, session) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--topic",
        "reinforcment lerning", "--confirmed")  # fmt: skip
    page = client.get(path_of(link(get_settings(), Purpose.MANAGE, reader(session)))).text  # type: ignore[arg-type]
    matched = page.split('<ul class="matched"')[1].split("</ul>")[0]
    assert re.search(r"“agents”: \d+ papers in 6–12 May 2026", matched)
    assert (
        "“reinforcment lerning”: <strong>nothing</strong> in 6–12 May 2026. "
        "Did you mean “reinforcement learning”?"
    ) in matched


def test_the_confirmation_says_when_a_topic_matched_nothing(client, session, smtp) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    client.post("/subscribe", data=FORM | {"topics": "agents\nvidoe generation"})
    page = client.post(confirm_link(smtp)).text
    assert (
        "Nothing in the papers of 6–12 May 2026 matched “vidoe generation”: "
        "did you mean “video generation”?" in page
    )
    assert "matched “agents”" not in page


def test_spelling_fixes_typos_and_leaves_real_words_alone() -> None:
    week = [
        Paper(**vars(r)) for r in files.parse_file(REAL / "hf_daily_papers_2026-05-12.json").records
    ]
    spelling = Spelling(week)
    assert spelling.suggest("vidoe generation") == "video generation"  # two letters swapped
    assert spelling.suggest("Reinforcment Learning") == "reinforcement Learning"
    for fine in ("agents", "sourdough baking", "houseplant care", "jazz guitar", "cats"):
        assert spelling.suggest(fine) is None, fine
