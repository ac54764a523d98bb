"""One reader's whole life in a real headless Chromium against the real web app over HTTP:
subscribe, confirm from the email, get the weekly issue, unsubscribe from it, get no more.
Screenshots of the subscribe page and of a digest at 375 and 1200 px go to test-artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, Page

from newsletter.models import Example, Vote
from tests.conftest import ARTIFACTS, REAL, SmtpServer
from tests.feedback_weeks import (
    TOPIC,
    WEEK1,
    WEEK2,
    ranking,
    targets,
    titles,
    two_weeks,
    vote_links,
)
from tests.helpers import count, run


def shoot(browser: Browser, name: str, *, url: str | None = None, html: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (375, 1200):
        page = browser.new_page(viewport={"width": width, "height": 900})
        if url:
            page.goto(url)
        else:
            page.set_content(html or "")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        # Nothing may be wider than the screen: a phone would scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.close()


def test_subscribe_confirm_receive_unsubscribe(
    server, browser, smtp: SmtpServer, settings, database_url
) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    kind = database_url.split(":")[0].split("+")[0]
    shoot(browser, f"subscribe-page-{kind}", url=server + "/")

    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(server + "/")
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label("Topics").fill("agents\nmixture of experts")
    page.get_by_label("Hour").select_option("9")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_selector("text=Check your inbox")
    tz = run("subscribers", "list", "--json")
    assert '"timezone": "UTC"' in tz  # filled by the browser (this one runs in UTC)

    deadline = time.monotonic() + 10
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [(to, mail)] = smtp.received
    assert to == "reader@example.com"
    confirm = re.search(
        r"(http://127\.0\.0\.1:\d+/confirm/\S+)", mail.get_body(("plain",)).get_content()
    ).group(1)  # type: ignore[union-attr]
    page.goto(confirm)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=You are subscribed")

    run("send", "--issue-date", "2026-05-12")
    digest = smtp.messages_to("reader@example.com")[-1]
    assert digest["Subject"].split(":")[0].endswith("trending papers for you")
    html = digest.get_body(("html",)).get_content()
    shoot(browser, f"digest-{kind}", html=html)

    unsubscribe = re.search(r'href="(http://127\.0\.0\.1:\d+/unsubscribe/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    page.goto(unsubscribe)
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_selector("text=You are unsubscribed")
    page.close()

    before = len(smtp.received)
    out = run("send", "--issue-date", "2026-05-18", "--json")
    assert '"planned": 0' in out and len(smtp.received) == before


def test_one_click_unsubscribe_over_plain_http(server, smtp, settings) -> None:
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    header = smtp.messages_to("ada@example.com")[0]["List-Unsubscribe"]
    url = re.fullmatch(r"\s*<(\S+)>\s*", header).group(1)  # type: ignore[union-attr]
    # What Gmail or Yahoo send (RFC 8058): a POST with this body, no cookies, nothing else.
    response = httpx.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    listed = run("subscribers", "list", "--status", "unsubscribed", "--json")
    assert "ada@example.com" in listed


def test_votes_from_the_inbox_reorder_next_weeks_digest(
    server, browser, smtp: SmtpServer, settings, session, database_url, tmp_path
) -> None:
    """The issue's walk-through: read a digest, open "Not for me" (nothing recorded), press it,
    get next week's issue reordered, undo. Screenshots of week 2's digest without and with the
    votes go to test-artifacts/feedback-before-* and feedback-after-*."""
    kind = database_url.split(":")[0].split("+")[0]
    two_weeks(session)
    run("subscribers", "add", "ada@example.com", "--topic", TOPIC, "--confirmed")
    # 1. Week 1 goes out; Ada reads it.
    run("send", "--issue-date", WEEK1.isoformat())
    picks = {title: (more, less) for title, more, less in
             vote_links(smtp.messages_to("ada@example.com")[-1])}  # fmt: skip
    goal = targets(settings, session, "ada@example.com")
    run("send", "--dry-run", "--issue-date", WEEK2.isoformat(), "--out", str(tmp_path))
    [before] = tmp_path.glob("*.html")
    shoot(browser, f"feedback-before-{kind}", html=before.read_text())

    shoot(browser, f"feedback-page-{kind}", url=picks[goal.disliked][1])
    # 2. "Not for me" opened: the page shows the paper and a button; nothing is recorded.
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(picks[goal.disliked][1])
    page.wait_for_selector(f"text={goal.disliked}")
    assert count(session, Vote) == 0
    # 3. Pressed, with a reason: recorded.
    page.get_by_label("Too basic").check()
    page.get_by_role("button", name="Not for me").click()
    page.wait_for_selector("text=Fewer papers like this")
    assert count(session, Vote, Vote.value == -1, Vote.reason == "basic") == 1
    page.goto(picks[goal.liked][0])
    page.get_by_role("button", name="More like this").click()
    page.wait_for_selector("text=More papers like this")
    assert count(session, Vote) == 2

    # 4. Week 2: the disliked paper's close neighbours leave the top 5, the liked one's rise.
    run("send", "--issue-date", WEEK2.isoformat())
    after = smtp.messages_to("ada@example.com")[-1]
    shoot(browser, f"feedback-after-{kind}", html=after.get_body(("html",)).get_content())  # type: ignore[union-attr]
    now = titles(after)
    assert not set(goal.demoted) & set(now[:5]), (goal.demoted, now)
    assert set(goal.demoted) & set(goal.baseline[:5])
    was = goal.baseline.index(goal.lifted) if goal.lifted in goal.baseline else len(goal.baseline)
    assert now.index(goal.lifted) < was, (goal.lifted, goal.baseline, now)
    text = after.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"like “{goal.liked}”, which you liked" in " ".join(text.split())

    # 5. Undo both from the profile (the manage page): the ranking is the one without votes.
    manage = re.search(r"Manage your topics: (\S+)", text).group(1)  # type: ignore[union-attr]
    page.goto(manage)
    page.wait_for_selector("text=Papers you rated")
    shoot(browser, f"feedback-profile-{kind}", url=manage)
    for _ in range(2):
        page.locator("ul.rated").get_by_role("button", name="Undo").first.click()
        page.wait_for_selector("text=Vote undone")
    page.close()
    assert count(session, Vote) == 0
    restored = [p.paper.title for p in ranking(settings, session, "ada@example.com")]
    assert restored == goal.baseline


def shoot_both(page_of: Callable[[str, int], Page], name: str) -> None:
    """Light and dark, 375 and 1200 px: `page_of(scheme, width)` opens the page to shoot."""
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        for width in (375, 1200):
            page = page_of(scheme, width)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.close()


def test_answers_to_the_preview_teach_the_first_digest(
    server, browser, smtp: SmtpServer, settings, session, database_url
) -> None:
    """Issue 30's walk-through: subscribe with a topic, answer its preview (3 "Yes, like
    this", and "Not this" on a paper the digest would hold), confirm; the first digest holds
    the ranking the answers teach, without that paper; removing the answers on the manage
    page gives the ranking of a reader who never answered, and the manage page's own preview
    answered with its script is saved without a reload. Screenshots of the preview before
    and after answering: test-artifacts/preview-{before,after}-*-{light,dark}-{375,1200}.png."""
    kind = database_url.split(":")[0].split("+")[0]
    two_weeks(session)
    email, control = "reader@example.com", "cy@example.com"
    run("subscribers", "add", control, "--topic", TOPIC, "--confirmed")
    plain = {p.paper.arxiv_id: p.paper.title for p in ranking(settings, session, control)}

    def opened(scheme: str, width: int) -> Page:
        page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
        page.goto(server + "/")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Topics").fill(TOPIC)
        page.wait_for_selector("#topic-check details li")
        return page

    def answer(page: Page) -> str:
        """3 "Yes, like this", and "Not this" on the first paper the digest would hold."""
        shown = page.locator("#topic-check details li")
        ids = [(shown.nth(n).locator("input[name=like]").get_attribute("value") or "").split()[0]
               for n in range(shown.count())]  # fmt: skip
        unwanted = next(n for n, arxiv_id in enumerate(ids) if arxiv_id in plain)
        for n in [n for n in range(len(ids)) if n != unwanted][:3]:
            shown.nth(n).get_by_text("Yes, like this").click()
        shown.nth(unwanted).get_by_text("Yes, like this").click()
        shown.nth(unwanted).get_by_text("Not this").click()  # takes the place of the "Yes"
        assert not shown.nth(unwanted).locator("input[name=like]").is_checked()
        return ids[unwanted]

    shoot_both(opened, f"preview-before-{kind}")
    shoot_both(
        lambda scheme, width: _answered(opened(scheme, width), answer), f"preview-after-{kind}"
    )
    page = opened("light", 375)
    unwanted = answer(page)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_selector("text=Check your inbox")
    deadline = time.monotonic() + 10
    while not smtp.messages_to(email) and time.monotonic() < deadline:
        time.sleep(0.05)
    body = smtp.messages_to(email)[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page.goto(re.search(r"(http://127\.0\.0\.1:\d+/confirm/\S+)", body).group(1))  # type: ignore[union-attr]
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=You are subscribed")
    assert count(session, Example, Example.value == 1) == 3
    assert count(session, Example, Example.value == -1) == 1

    # The first digest: the ranking the answers teach (the product's own pieces say which),
    # unlike the untaught one, and without the paper marked "Not this".
    taught = [p.paper.title for p in ranking(settings, session, email)]
    assert taught != list(plain.values()) and plain[unwanted] not in taught
    run("send", "--issue-date", WEEK2.isoformat())
    digest = smtp.messages_to(email)[-1]
    assert titles(digest) == taught

    # Undone from the manage page: the ranking of a reader who never answered.
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page.goto(re.search(r"Manage your topics: (\S+)", text).group(1))  # type: ignore[union-attr]
    page.wait_for_selector("text=Teach your topics by example")
    assert page.get_by_text("3 liked, 1 not").count() == 1
    while page.locator("ul.rated").get_by_role("button", name="Remove").count():
        page.locator("ul.rated").get_by_role("button", name="Remove").first.click()
        page.wait_for_selector("text=Your answer is saved")
    assert count(session, Example) == 0
    assert [p.paper.title for p in ranking(settings, session, email)] == list(plain.values())

    # The manage page's own preview, answered with its script: saved without a reload (the
    # page's state survives), the button pressed shows the answer and the counts follow.
    page.evaluate("window.notReloaded = true")
    form = page.locator("section.teach form.answer").first
    counts = page.locator("section.teach [data-counts]").first
    for name, value, shown in (("Yes, like this", "like", "1 liked, 0 not"),
                               ("Not this", "not", "0 liked, 1 not")):  # fmt: skip
        form.get_by_role("button", name=name).click()
        form.locator(f"button[value={value}][aria-pressed=true]").wait_for()
        assert counts.inner_text().startswith(shown)
        assert form.locator("button[aria-pressed=true]").count() == 1
    assert page.evaluate("window.notReloaded") is True
    page.close()
    assert count(session, Example) == 1 and count(session, Example, Example.value == -1) == 1


def _answered(page: Page, answer: Callable[[Page], str]) -> Page:
    answer(page)
    return page
