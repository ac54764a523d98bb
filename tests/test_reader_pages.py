"""Every page a reader or a stranger can reach, walked in headless Chromium over HTTP.

On each page axe-core finds no serious or critical violation at 375 and 1280 px, in light
and dark mode, nothing is wider than the screen though the reader's address is 90
characters long, and at 375 px every link and button is 44 px tall or has room around it.
On the way it checks what readers must be able to trust: a topic only one reader holds
never reaches a public page, the web copy of a digest cannot act for its reader, a reload
sends no second mail, a refused form keeps every edit, and a forgotten reader leaves no row
behind and gets no more mail. Screenshots: test-artifacts/pages/."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page
from sqlalchemy import text
from sqlmodel import Session

from tests.conftest import ARTIFACTS, REAL, SmtpServer
from tests.helpers import crowded, run

LONG = "reader.with.a.really.quite.remarkably.long.name+trending-papers@department.example.com"
LONG = LONG.replace("reader", "reader" + "x" * (90 - len(LONG)))  # exactly 90 characters
PRIVATE = "project nightingale at acme corp"
SHARED = "agents"
VARIANTS = [(375, "light"), (375, "dark"), (1280, "light"), (1280, "dark")]
SHOTS = ARTIFACTS / "pages"
_axe = Axe()


def audit(page: Page, name: str) -> list[str]:
    """What is wrong with the page as shown, in every variant; a screenshot of each."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for width, scheme in VARIANTS:
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            problems.append(f"{name} at {width}px is {wide}px wide")
        for found in _axe.run(page).response["violations"]:
            if found["impact"] in ("serious", "critical"):
                where = [node["target"] for node in found["nodes"]][:3]
                problems.append(f"{name} {width}px {scheme}: {found['id']} at {where}")
        if width == 375:
            problems += [f"{name} at 375px: {target} is hard to tap" for target in crowded(page)]
        page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
    return problems


def mail_link(smtp: SmtpServer, to: str, pattern: str, *, nth: int = -1) -> str:
    body = smtp.messages_to(to)[nth].get_body(("plain",)).get_content()
    return re.search(pattern, body).group(1)  # type: ignore[union-attr]


def wait_for_mail(smtp: SmtpServer, to: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(smtp.messages_to(to)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.messages_to(to)) == count


def rows_naming(session: Session, address: str) -> list[str]:
    """Every table's rows that hold `address` anywhere, as text."""
    found = []
    with Session(session.bind) as s:  # type: ignore[arg-type]
        for table in ("subscriber", "delivery", "issue", "vote", "suppression"):
            for row in s.execute(text(f"SELECT * FROM {table}")):
                if address in repr(tuple(row)):
                    found.append(f"{table}: {row}")
    return found


@pytest.fixture
def week(server: str) -> None:
    """One sent issue: five readers share a topic; one reader also holds a private one."""
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    for n in range(5):
        run("subscribers", "add", f"r{n}@example.com", "--topic", SHARED, "--confirmed")
    run("subscribers", "add", "x@example.com", "--topic", PRIVATE, "--topic", SHARED,
        "--confirmed")  # fmt: skip
    run("send", "--issue-date", "2026-05-12")


def test_a_stranger_and_a_reader_walk_every_page(
    week, server: str, browser: Browser, smtp: SmtpServer, session: Session
) -> None:
    problems: list[str] = []
    page = browser.new_page()

    # A stranger: the public pages hold no topic only one reader has.
    for name, path in (("subscribe", "/"), ("archive", "/archive"), ("privacy", "/privacy"),
                       ("not-found", "/manage/no-such-token")):  # fmt: skip
        page.goto(server + path)
        assert PRIVATE.split()[1] not in page.content()
        problems += audit(page, name)
    page.goto(server + "/archive")
    page.get_by_role("link", name="6–12 May 2026").first.click()
    assert SHARED in page.content() and PRIVATE.split()[1] not in page.content()
    problems += audit(page, "archive-week")
    assert PRIVATE.split()[1] not in httpx.get(server + "/archive.atom").text

    # Subscribing: a refused form keeps what was typed; a reload sends nothing again.
    page.goto(server + "/")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_label("Topics").fill(SHARED)
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_label("Topics").input_value() == SHARED
    problems += audit(page, "subscribe-refused")
    page.get_by_label("Email address").fill(LONG)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_selector("text=Check your inbox")
    assert LONG in page.content()
    problems += audit(page, "check-inbox")
    wait_for_mail(smtp, LONG, 1)
    page.reload()
    time.sleep(1)  # a second mail would have gone by now
    assert len(smtp.messages_to(LONG)) == 1

    # Confirming, then the welcome mail's manage link.
    page.goto(mail_link(smtp, LONG, r"(http://\S+/confirm/\S+)"))
    problems += audit(page, "confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=You are subscribed")
    problems += audit(page, "confirmed")
    wait_for_mail(smtp, LONG, 2)
    manage = mail_link(smtp, LONG, r"(http://\S+/manage/\S+)")
    page.goto(manage)
    problems += audit(page, "manage")

    # The manage form keeps every edit beside an error, and saves nothing.
    page.get_by_label("Topics").fill("sparse autoencoders\ndiffusion")
    page.get_by_label("Timezone").fill("Mars/Olympus_Mons")
    page.get_by_label("Pause the digest").check()
    page.get_by_role("button", name="Save").click()
    assert page.get_by_label("Topics").input_value() == "sparse autoencoders\ndiffusion"
    assert page.get_by_label("Timezone").input_value() == "Mars/Olympus_Mons"
    assert page.get_by_label("Pause the digest").is_checked()
    assert page.evaluate("document.activeElement.id") == "timezone"
    problems += audit(page, "manage-refused")

    # The web copy of a digest is safe to share: nothing in it acts for or names its reader.
    page.goto(mail_link(smtp, "x@example.com", r"View in browser: (\S+)"))
    html = page.content()
    for personal in ("x@example.com", "/manage/", "/unsubscribe/", "/feedback/", "nightingale"):
        assert personal not in html
    problems += audit(page, "web-copy")

    # Feedback from the inbox, then leaving.
    page.goto(mail_link(smtp, "x@example.com", r"Not for me: (\S+)"))
    problems += audit(page, "not-for-me")
    page.get_by_role("button", name="Not for me").click()
    problems += audit(page, "not-for-me-recorded")
    unsubscribe = smtp.messages_to("r0@example.com")[0]["List-Unsubscribe"].strip().strip("<>")
    page.goto(unsubscribe)
    problems += audit(page, "unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_selector("text=You are unsubscribed")
    problems += audit(page, "unsubscribed")
    page.goto(unsubscribe)
    assert page.get_by_role("button", name=re.compile("Subscribe again")).is_visible()
    problems += audit(page, "unsubscribed-again")

    # Forgetting: no row names the reader, and the issue does not reach them, though it
    # reaches a reader who came as late.
    run("subscribers", "add", "late@example.com", "--topic", SHARED, "--confirmed")
    assert rows_naming(session, LONG)
    page.goto(manage)
    page.get_by_role("button", name="Delete my data").click()
    page.wait_for_selector("text=Delete your data?")  # asked once more
    problems += audit(page, "delete-asked")
    page.get_by_role("button", name="Yes, delete my data").click()
    page.wait_for_selector("text=Your data is deleted")
    problems += audit(page, "forgotten")
    assert rows_naming(session, LONG) == []
    run("send", "--issue-date", "2026-05-12")
    assert len(smtp.messages_to("late@example.com")) == 1
    assert len(smtp.messages_to(LONG)) == 2  # the confirmation and the welcome, nothing more
    page.close()
    assert problems == []
