"""Render: a reader's picks -> subject, plain text and HTML (Jinja2 + MJML via mjml-python).

Autoescape is on for .mjml and .html (Jinja's default leaves .mjml alone), so a
`<script>` in a feed title arrives as text. The plain-text part carries the same
content and links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from mjml import mjml2html

from newsletter.match import Pick
from newsletter.settings import PROJECT_ROOT
from newsletter.text import one_line

SUBJECT_MAX = 140
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    text: str
    html: str


@dataclass(frozen=True)
class Links:
    manage: str
    unsubscribe: str
    view: str | None = None


@lru_cache(maxsize=2)
def environment(markup: bool = True) -> Environment:
    """Markup templates escape and trim block lines; plain text keeps its layout as written."""
    return Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "mjml", "xml"), default_for_string=True
        ),
        undefined=StrictUndefined,
        trim_blocks=markup,
        lstrip_blocks=markup,
        keep_trailing_newline=True,
    )


def authors_line(authors: list[str]) -> str:
    return ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")


def tldr(ai_summary: str | None, abstract: str, max_len: int = 300) -> str:
    if ai_summary:
        return one_line(ai_summary, max_len)
    first = _SENTENCE.split(one_line(abstract, 2000), maxsplit=1)[0]
    return first if len(first) <= max_len else first[: max_len - 1].rstrip() + "…"


def subject(picks: list[Pick]) -> str:
    count = f"{len(picks)} trending paper{'s' if len(picks) != 1 else ''} for you"
    line = one_line(f"{count}: {picks[0].paper.title}")
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1].rstrip() + "…"


def _pick_view(pick: Pick) -> dict[str, Any]:
    paper = pick.paper
    return {
        "title": paper.title,
        "authors": authors_line(paper.authors),
        "upvotes": paper.upvotes,
        "tldr": tldr(paper.ai_summary, paper.abstract),
        "why": pick.why,
        "page_url": paper.page_url if paper.source == "hf" else paper.abs_url,
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        "code_url": paper.github_url or paper.project_url,
    }


def digest(
    *,
    picks: list[Pick],
    email: str,
    topics: list[str],
    week: str,
    links: Links,
    postal_address: str,
) -> Rendered:
    views = [_pick_view(p) for p in picks]
    preheader = one_line(
        f"Top pick: {picks[0].paper.title} — and {len(picks) - 1} more"
        if len(picks) > 1
        else f"This week: {picks[0].paper.title}",
        150,
    )
    context = {
        "picks": views,
        "email": email,
        "topics": topics,
        "week": week,
        "manage_url": links.manage,
        "unsubscribe_url": links.unsubscribe,
        "view_url": links.view,
        "postal_address": postal_address,
        "preheader": preheader,
        "title": subject(picks),
    }
    text, html = page("email/digest", context)
    return Rendered(subject=subject(picks), preheader=preheader, text=text, html=html)


def page(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """An email's text part (`name`.txt) and HTML (`name`.mjml compiled by MJML)."""
    text = environment(markup=False).get_template(f"{name}.txt").render(context)
    return text, mjml2html(environment().get_template(f"{name}.mjml").render(context))
