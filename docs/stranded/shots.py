"""The before/after screenshots beside this file: at 375 px, a reader's manage page, the
subscribe form's answer to a good try after three refused ones, and a real 429 (four
accepted tries in an hour), from the code of TREE (a checkout with newsletter/templates and
newsletter/migrations linked to its top-level folders) run with this clone's .venv, on
Redis database 13 (emptied first).

    .venv/bin/python docs/stranded/shots.py TREE OUTPREFIX PORT

Before: TREE at fa59b46, the commit before the first "readers never stranded" change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv/bin/python")
WEEK = ROOT.parent / "shared/data/real/hf_daily_papers_2026-05-12.json"
MANAGE_LINK = """
from newsletter.db import session_scope
from newsletter.readers import links, store
from newsletter.settings import get_settings
with session_scope() as s:
    ada = store.get_by_email("ada@example.com", session=s)
    print(links.link(get_settings(), links.Purpose.MANAGE, ada))
"""


def main(tree: str, out: str, port: str) -> None:
    work = Path(f"/tmp/shots-{port}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=tree, NEWSLETTER_DATABASE_URL=f"sqlite:///{work}/db",
               NEWSLETTER_REDIS_URL="redis://127.0.0.1:6379/13", NEWSLETTER_SMTP_PORT="1",
               NEWSLETTER_BASE_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=True, capture_output=True)

    def newsletter(*args: str) -> str:
        found = subprocess.run([PYTHON, "-m", "newsletter.cli", *args], env=env, cwd=work,
                               check=True, capture_output=True, text=True)  # fmt: skip
        return found.stdout

    newsletter("db", "upgrade")
    newsletter("ingest", "file", str(WEEK))
    newsletter("subscribers", "add", "ada@example.com", "--topic", "agents",
               "--topic", "reinforcment lerning", "--confirmed")  # fmt: skip
    manage = subprocess.run([PYTHON, "-c", MANAGE_LINK], env=env, cwd=work, check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    web = subprocess.Popen([PYTHON, "-m", "newsletter.cli", "web", "--port", port], env=env,
                           cwd=work, **quiet)  # type: ignore[call-overload]  # fmt: skip
    time.sleep(5)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page(viewport={"width": 375, "height": 900})
            page.goto(manage)
            page.screenshot(path=f"{out}-manage-375.png", full_page=True)
            for topics in ("the", "of the", "1234", "agents"):  # three refused, one good
                subscribe(page, port, topics)
            page.screenshot(path=f"{out}-fourth-try-375.png", full_page=True)
            for _ in range(3):  # over the limit of three accepted an hour
                subscribe(page, port, "agents")
            page.screenshot(path=f"{out}-too-many-375.png", full_page=True)
    finally:
        web.terminate()


def subscribe(page: Page, port: str, topics: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/")
    page.get_by_label("Email address").fill("stranger@example.com")
    page.get_by_label("Topics").fill(topics)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()


if __name__ == "__main__":
    main(*sys.argv[1:4])
