"""Screenshots of one digest's HTML part (an .html file that `send --dry-run --out DIR`
wrote) in Chromium at 375 and 1200 px (the first 900 px of height), light and dark, as
OUTPREFIX-WIDTH-SCHEME.png.

    .venv/bin/python docs/mail/shots.py DIR/0001-ada@example.com.html docs/mail/after

The before/after pairs beside this file are the demo week's first digest (`scripts/demo.sh`'s
readers) from the code before issue 32 (393bf9f) and after."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(html: Path, prefix: str) -> None:
    with sync_playwright() as p:
        chromium = os.environ.get("NEWSLETTER_TEST_CHROMIUM", "/usr/bin/chromium")
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.abort())  # a mail loads nothing from outside
        page.set_content(html.read_text(encoding="utf-8"))
        for width in (375, 1200):
            page.set_viewport_size({"width": width, "height": 900})
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                page.screenshot(path=f"{prefix}-{width}-{scheme}.png")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
