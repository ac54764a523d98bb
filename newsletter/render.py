"""Render: a reader's picks -> subject, plain text and HTML (Jinja2 + MJML via mjml-python).

Autoescape is on for .mjml and .html (Jinja's default leaves .mjml alone), so a
`<script>` in a feed title arrives as text. The digest's MJML is compiled once per
issue with @@placeholders@@ where readers and papers differ; each reader's HTML is
then that skeleton with their values, escaped, filled in. The plain-text part
carries the same content and links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape
from mjml import mjml2html

from newsletter.match import Pick
from newsletter.models import Paper
from newsletter.settings import PROJECT_ROOT
from newsletter.text import one_line

SUBJECT_MAX = 140
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PLACEHOLDER = re.compile(r"@@(\w+)@@")
_PICK_START, _PICK_END = "<!--pick-->", "<!--/pick-->"
_BLOCK_END = re.compile(r"(</(?:div|table|tr|td|tbody|p|style)>|<!\[endif\]-->)")
PICK_FIELDS = ("number", "title", "page_url", "authors", "upvotes_html", "tldr", "why",
               "abs_url", "pdf_url", "code_html")  # fmt: skip
READER_FIELDS = ("count_line", "topics", "email", "manage_url", "unsubscribe_url",
                 "view_html", "preheader", "title")  # fmt: skip


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@dataclass
class DigestRenderer:
    """One issue's digest, compiled once; `render` fills in one reader's picks and links."""

    week: str
    postal_address: str
    _html: tuple[str, str, str] = field(init=False)
    _papers: dict[tuple[str, int, str], dict[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        context: dict[str, Any] = {name: f"@@{name}@@" for name in READER_FIELDS}
        context |= {
            "week": self.week,
            "postal_address": self.postal_address,
            "pick": {name: f"@@{name}@@" for name in PICK_FIELDS},
        }
        html = mjml2html(environment().get_template("email/digest.mjml").render(context))
        html = _BLOCK_END.sub(r"\1\n", html)  # short lines: mail can carry the HTML as is
        head, rest = html.split(_PICK_START, 1)
        block, foot = rest.split(_PICK_END, 1)
        self._html = (head, block, foot)

    def _paper(self, paper: Paper) -> dict[str, str]:
        """A paper's values as they appear in the email: plain (for text), escaped (HTML)."""
        key = (paper.arxiv_id, paper.upvotes, paper.title)
        if key not in self._papers:
            code = paper.github_url or paper.project_url
            self._papers[key] = {
                "title": paper.title,
                "authors": authors_line(paper.authors),
                "upvotes_text": f" - {_plural(paper.upvotes, 'upvote')}" if paper.upvotes else "",
                "tldr": tldr(paper.ai_summary, paper.abstract),
                "page_url": paper.page_url if paper.source == "hf" else paper.abs_url,
                "abs_url": paper.abs_url,
                "pdf_url": paper.pdf_url,
                "code_url": code or "",
                "upvotes_html": f" · ▲ {_plural(paper.upvotes, 'upvote')}" if paper.upvotes else "",
                "code_html": f' · <a href="{escape(code)}">Code</a>' if code else "",
            }
        return self._papers[key]

    def render(self, picks: list[Pick], *, email: str, topics: list[str], links: Links) -> Rendered:
        papers = [self._paper(p.paper) for p in picks]
        title = subject(picks)
        preheader = one_line(
            f"Top pick: {picks[0].paper.title} — and {len(picks) - 1} more"
            if len(picks) > 1
            else f"This week: {picks[0].paper.title}",
            150,
        )
        reader = {
            "count_line": _plural(len(picks), "paper"),
            "topics": ", ".join(topics),
            "email": email,
            "manage_url": links.manage,
            "unsubscribe_url": links.unsubscribe,
            "preheader": preheader,
            "title": title,
        }
        head, block, foot = self._html
        html = [_fill(head, reader)]
        for number, (pick, values) in enumerate(zip(picks, papers, strict=True), start=1):
            html.append(_fill(block, values | {"number": str(number), "why": pick.why}))
        view = f' · <a href="{escape(links.view)}">View in browser</a>' if links.view else ""
        html.append(_fill(foot, reader | {"view_html": view}))
        text = (
            environment(markup=False)
            .get_template("email/digest.txt")
            .render(
                week=self.week,
                picks=[v | {"why": p.why} for p, v in zip(picks, papers, strict=True)],
                count_line=reader["count_line"],
                topics=reader["topics"],
                email=email,
                manage_url=links.manage,
                unsubscribe_url=links.unsubscribe,
                view_url=links.view,
                postal_address=self.postal_address,
            )
        )
        return Rendered(subject=title, preheader=preheader, text=text, html="".join(html))


def _fill(template: str, values: dict[str, str]) -> str:
    """Put values into @@placeholders@@: escaped, except the *_html ones we built escaped."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name.endswith("_html") else str(escape(values[name]))

    return _PLACEHOLDER.sub(value, template)


def digest(
    *,
    picks: list[Pick],
    email: str,
    topics: list[str],
    week: str,
    links: Links,
    postal_address: str,
) -> Rendered:
    """One digest on its own (previews, tests); batches reuse a DigestRenderer per issue."""
    return DigestRenderer(week, postal_address).render(
        picks, email=email, topics=topics, links=links
    )


def page(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """An email's text part (`name`.txt) and HTML (`name`.mjml compiled by MJML)."""
    text = environment(markup=False).get_template(f"{name}.txt").render(context)
    return text, mjml2html(environment().get_template(f"{name}.mjml").render(context))
