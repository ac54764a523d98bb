"""Render: a reader's picks -> subject, plain text and HTML. Jinja2 writes everything a reader
reads; MJML (mjml-python) lays out the HTML email.

An email's HTML template is made once per process, in two Jinja steps around MJML:
1. its structure (the shared layout and the mail's blocks) is put together by Jinja with
   `<% %>` tags, so the per-message `{{ }}` and `{% %}` pass through as text;
2. MJML compiles that to HTML, and the HTML is loaded as an autoescaped Jinja template
   that each message renders with its own values (a `<script>` in a feed title is text).

A digest renders its templates once per issue, and each paper as a pick once (the macros
of email/paper.html and email/paper.txt), with a place left for each value that differs
between readers (`PLACES`): the digest's subject, the reader's address, topics and links,
each pick's number and "why". A reader's digest fills those places with its values, escaped
for the HTML: a few string joins, where rendering the templates took most of a digest's
CPU. A template may show such a value only as it is (no filter on it): `_cut` refuses a
rendering where a place was changed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup, escape
from mjml import mjml2html

from newsletter.match.engine import Pick
from newsletter.models import Paper
from newsletter.readers.links import vote_paths
from newsletter.shipped import templates_dir
from newsletter.text import one_line

SUBJECT_MAX = 140
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# A line break after block ends keeps every line short: mail can carry the HTML as is.
_BLOCK_END = re.compile(r"(</(?:div|table|tr|td|tbody|p|style)>|<!\[endif\]-->)")
# A style rule indented: SMTP would otherwise double the dot of each line that starts with
# one (RFC 5321, 4.5.2), a copy of every message.
_DOT_LINE = re.compile(r"^(?=\.)", re.MULTILINE)


# What differs between readers' digests of one issue. Each has a place in the rendered
# templates: a marker random per process, so no paper's text can hold it.
PLACES = ("title", "preheader", "count", "topics", "email", "manage", "unsubscribe", "view",
          "picks", "number", "why", "votes")  # fmt: skip
_MARKERS = {name: f"\x00{secrets.token_hex(8)}\x00" for name in PLACES}
_MARKER = re.compile("|".join(_MARKERS.values()))
_NAME_OF = {marker: name for name, marker in _MARKERS.items()}
_CHANGED = re.compile("|".join(marker[1:-1] for marker in _MARKERS.values()), re.IGNORECASE)

_COLOR_SCHEME = (
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)


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


@dataclass(frozen=True)
class Recipient:
    """The personal part of a digest; a web copy has none."""

    email: str
    topics: list[str]
    links: Links
    votes: str = ""  # the signed part of their "More like this" and "Not for me" links


class MailTemplates:
    """The email templates, each compiled on first use and kept (one set per process)."""

    def __init__(self) -> None:
        loader = FileSystemLoader(templates_dir())
        self._structure = Environment(
            loader=loader,
            block_start_string="<%",
            block_end_string="%>",
            variable_start_string="<<",
            variable_end_string=">>",
            comment_start_string="<#",
            comment_end_string="#>",
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = Environment(
            loader=loader,
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Plain text keeps its layout exactly as written.
        self._text = Environment(
            loader=loader, undefined=StrictUndefined, keep_trailing_newline=True
        )
        self._compiled: dict[str, Template] = {}

    def html(self, name: str) -> Template:
        """`name`.mjml, structured, compiled by MJML, ready for a message's values."""
        if name not in self._compiled:
            source = self._structure.get_template(f"{name}.mjml").render()
            # fonts={}: MJML would otherwise link Google Fonts for a font it knows (Roboto),
            # and every open of the mail would be reported to Google.
            compiled = _BLOCK_END.sub(r"\1\n", mjml2html(source, fonts={}))
            compiled = _DOT_LINE.sub(" ", compiled)
            # The mail has dark styles (email/_layout.mjml): clients that read these meta
            # tags use them instead of inverting its colours themselves.
            compiled = compiled.replace("<head>", f"<head>\n{_COLOR_SCHEME}", 1)
            self._compiled[name] = self._html.from_string(compiled)
        return self._compiled[name]

    def text(self, name: str) -> Template:
        return self._text.get_template(f"{name}.txt")

    def html_macros(self, name: str) -> Any:
        return self._html.get_template(f"{name}.html").module

    def text_macros(self, name: str) -> Any:
        return self._text.get_template(f"{name}.txt").module

    def page(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        """A one-off email's text part and HTML (the confirmation mail)."""
        return self.text(name).render(context), self.html(name).render(context)


def authors_line(authors: list[str]) -> str:
    return ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")


def tldr(ai_summary: str | None, abstract: str, max_len: int = 300) -> str:
    """The source's AI summary, else the abstract's first sentence; cut at a word, with an
    ellipsis, if longer than `max_len`."""
    text = one_line(ai_summary, 2000) if ai_summary else None
    text = text or _SENTENCE.split(one_line(abstract, 2000), maxsplit=1)[0]
    if len(text) <= max_len:
        return text
    cut = text[: max_len - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def subject(picks: list[Pick]) -> str:
    return headline(len(picks), picks[0].paper.title)


def headline(count: int, top_title: str) -> str:
    """ "3 trending papers for you: <the top one's title>", on one line, clipped."""
    papers = f"{count} trending paper{'s' if count != 1 else ''} for you"
    line = one_line(f"{papers}: {top_title}")
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class PaperView:
    """What the paper macros show of a paper."""

    title: str
    authors: str
    tldr: str
    upvotes: int
    page_url: str
    abs_url: str
    pdf_url: str
    code_url: str | None

    @classmethod
    def of(cls, paper: Paper) -> PaperView:
        return cls(
            title=paper.title,
            authors=authors_line(paper.authors),
            tldr=tldr(paper.ai_summary, paper.abstract),
            upvotes=paper.upvotes,
            page_url=paper.page_url if paper.source == "hf" else paper.abs_url,
            abs_url=paper.abs_url,
            pdf_url=paper.pdf_url,
            code_url=paper.github_url or paper.project_url,
        )


@dataclass(frozen=True, slots=True)
class PaperBlocks:
    """A paper's parts of a digest, rendered by the paper macros."""

    heading: Markup
    details: Markup
    links: Markup
    text_heading: str
    text_links: str


@dataclass
class Digest:
    """One issue's digest: its templates and each paper's blocks, made once per issue;
    `render` makes one reader's digest (or the web copy, without a recipient)."""

    templates: MailTemplates
    dates: str  # the days, in its heading
    postal_address: str
    # By paper id: a Digest lives as long as its issue's papers are unchanged.
    _blocks: dict[int | None, PaperBlocks] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._html = self.templates.html("email/digest")
        self._text = self.templates.text("email/digest")
        self._html_paper = self.templates.html_macros("email/paper")
        self._text_paper = self.templates.text_macros("email/paper")
        # By paper id, whether it has a "why" and whether it has feedback links.
        self._picks: dict[tuple[int | None, bool, bool], tuple[Cut, Cut]] = {}
        # By whether it has a recipient and whether they have a "view in browser" link.
        self._frames: dict[tuple[bool, bool], tuple[Cut, Cut]] = {}

    def blocks(self, paper: Paper) -> PaperBlocks:
        key = paper.id
        if key not in self._blocks:
            view = PaperView.of(paper)
            self._blocks[key] = PaperBlocks(
                heading=self._html_paper.heading(view),
                details=self._html_paper.details(view),
                links=self._html_paper.links(view),
                text_heading=str(self._text_paper.heading(view)),
                text_links=str(self._text_paper.links(view)),
            )
        return self._blocks[key]

    def render(self, picks: list[Pick], recipient: Recipient | None) -> Rendered:
        title = subject(picks)
        top = picks[0].paper.title
        preheader = one_line(
            f"Top pick: {top} — and {len(picks) - 1} more"
            if len(picks) > 1
            else f"This week: {top}",
            150,
        )
        text: dict[str, str] = {
            "title": title,
            "preheader": preheader,
            "count": f"{len(picks)} paper{'s' if len(picks) != 1 else ''}",
        }
        if recipient:
            links = recipient.links
            text |= {"email": recipient.email, "topics": ", ".join(recipient.topics),
                     "manage": links.manage, "unsubscribe": links.unsubscribe,
                     "view": links.view or "", "votes": recipient.votes}  # fmt: skip
        html = {name: str(escape(value)) for name, value in text.items()}
        html_picks: list[str] = []
        text_picks: list[str] = []
        voting = bool(text.get("votes"))
        for n, pick in enumerate(picks, start=1):
            why, number = pick.why if recipient else pick.public_why, str(n)
            as_html, as_text = self._pick(pick.paper, bool(why), voting)
            text |= {"number": number, "why": why}
            html |= {"number": number, "why": str(escape(why))}
            html_picks += _filled(as_html, html)
            text_picks += _filled(as_text, text)
        text["picks"], html["picks"] = "".join(text_picks), "".join(html_picks)
        html_frame, text_frame = self._frame(recipient is not None, bool(text.get("view")))
        return Rendered(
            subject=title,
            preheader=preheader,
            text="".join(_filled(text_frame, text)),
            html="".join(_filled(html_frame, html)),
        )

    def _frame(self, personal: bool, view: bool) -> tuple[Cut, Cut]:
        """The digest's HTML and text around the picks, cut at their places."""
        if (personal, view) not in self._frames:
            at = _MARKERS
            links = Links(at["manage"], at["unsubscribe"], at["view"] if view else None)
            recipient = Recipient(at["email"], [at["topics"]], links) if personal else None
            context = {"title": at["title"], "preheader": at["preheader"], "dates": self.dates,
                       "postal_address": self.postal_address, "count_line": at["count"],
                       "recipient": recipient}  # fmt: skip
            html = self._html.render(context, picks=Markup(at["picks"]))
            text = self._text.render(context, picks=at["picks"])
            self._frames[personal, view] = (_cut(html), _cut(text))
        return self._frames[personal, view]

    def _pick(self, paper: Paper, why: bool, votes: bool) -> tuple[Cut, Cut]:
        """The paper as a pick, HTML and text, cut at the places for its number, its "why"
        (if `why`) and the signed part of its feedback links (if `votes`)."""
        key = (paper.id, why, votes)
        if key not in self._picks:
            at, paths = _MARKERS, vote_paths(paper.id or 0)
            links = (at["votes"] + paths[0], at["votes"] + paths[1]) if votes else None
            blocks, said = self.blocks(paper), at["why"] if why else ""
            html = str(self._html_paper.pick(at["number"], blocks, said, links))
            text = str(self._text_paper.pick(at["number"], blocks, said, links))
            self._picks[key] = (_cut(html), _cut(text))
        return self._picks[key]


# A rendering cut at its places: the text before the first, then per place its name and the
# text after it.
Cut = tuple[str, tuple[tuple[str, str], ...]]


def _cut(rendered: str) -> Cut:
    texts = _MARKER.split(rendered)
    if any(_CHANGED.search(text) for text in texts):
        raise ValueError("a template changed a reader's value (a filter on it?): see render.py")
    names = [_NAME_OF[found] for found in _MARKER.findall(rendered)]
    return texts[0], tuple(zip(names, texts[1:], strict=True))


def _filled(cut: Cut, values: dict[str, str]) -> list[str]:
    """The pieces of a rendering with a reader's values in its places, to be joined."""
    pieces = [cut[0]]
    for name, text in cut[1]:
        pieces += (values[name], text)
    return pieces
