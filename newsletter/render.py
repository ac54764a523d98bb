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
from newsletter.shipped import templates_dir
from newsletter.text import one_line

SUBJECT_MAX = 140
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PLACEHOLDER = re.compile(r"@@(\w+)@@")
_PICK_START, _PICK_END = "<!--pick-->", "<!--/pick-->"
_BLOCK_END = re.compile(r"(</(?:div|table|tr|td|tbody|p|style)>|<!\[endif\]-->)")
PICK_FIELDS = ("number", "title", "page_url", "authors", "upvotes_html", "upvotes_text", "tldr",
               "why", "abs_url", "pdf_url", "code_html", "code_line")  # fmt: skip
READER_FIELDS = ("count_line", "topics", "email", "manage_url", "unsubscribe_url", "view_html",
                 "view_line", "preheader", "title", "week", "postal_address")  # fmt: skip
# A template split on its placeholders: literal, field name, literal, ..., literal.
Parts = list[str]


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
        loader=FileSystemLoader(templates_dir()),
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


@dataclass(frozen=True)
class _Skeleton:
    """One part of the digest (HTML or text) compiled: head, the repeated pick, foot."""

    head: Parts
    pick: Parts
    foot: Parts

    @classmethod
    def split(cls, compiled: str, fixed: dict[str, str]) -> _Skeleton:
        head, rest = compiled.split(_PICK_START, 1)
        pick, foot = rest.split(_PICK_END, 1)
        return cls(*(_partial(_PLACEHOLDER.split(p), fixed) for p in (head, pick, foot)))


@dataclass
class DigestRenderer:
    """One issue's digest, compiled once; `render` fills in one reader's picks and links.

    Each paper's block is filled in once per issue too, leaving only its number and the
    reader's "why", so a reader's digest costs a few string joins."""

    week: str
    postal_address: str
    _html: _Skeleton = field(init=False)
    _text: _Skeleton = field(init=False)
    _papers: dict[tuple[str, int, str], tuple[Parts, Parts]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        context: dict[str, Any] = {name: f"@@{name}@@" for name in READER_FIELDS}
        context |= {
            "pick": {name: f"@@{name}@@" for name in PICK_FIELDS},
            "pick_start": _PICK_START,
            "pick_end": _PICK_END,
        }
        fixed = {"week": self.week, "postal_address": self.postal_address}
        html = mjml2html(environment().get_template("email/digest.mjml").render(context))
        html = _BLOCK_END.sub(r"\1\n", html)  # short lines: mail can carry the HTML as is
        self._html = _Skeleton.split(html, {k: str(escape(v)) for k, v in fixed.items()})
        text = environment(markup=False).get_template("email/digest.txt").render(context)
        self._text = _Skeleton.split(text, fixed)

    def _paper(self, paper: Paper) -> tuple[Parts, Parts]:
        """A paper's HTML and text blocks, all but its number and "why" filled in."""
        key = (paper.arxiv_id, paper.upvotes, paper.title)
        if key not in self._papers:
            code = paper.github_url or paper.project_url
            plain = {
                "title": paper.title,
                "authors": authors_line(paper.authors),
                "tldr": tldr(paper.ai_summary, paper.abstract),
                "page_url": paper.page_url if paper.source == "hf" else paper.abs_url,
                "abs_url": paper.abs_url,
                "pdf_url": paper.pdf_url,
            }
            upvotes = _plural(paper.upvotes, "upvote") if paper.upvotes else ""
            html = {k: str(escape(v)) for k, v in plain.items()} | {
                "upvotes_html": f" · ▲ {upvotes}" if upvotes else "",
                "code_html": f' · <a href="{escape(code)}">Code</a>' if code else "",
            }
            text = plain | {
                "upvotes_text": f" - {upvotes}" if upvotes else "",
                "code_line": f"\n   Code:  {code}" if code else "",
            }
            self._papers[key] = (_partial(self._html.pick, html), _partial(self._text.pick, text))
        return self._papers[key]

    def render(self, picks: list[Pick], *, email: str, topics: list[str], links: Links) -> Rendered:
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
        reader_html = {k: str(escape(v)) for k, v in reader.items()}
        reader_html["view_html"] = (
            f' · <a href="{escape(links.view)}">View in browser</a>' if links.view else ""
        )
        reader["view_line"] = f"\nView in browser: {links.view}" if links.view else ""
        html, text = [_fill(self._html.head, reader_html)], [_fill(self._text.head, reader)]
        for number, pick in enumerate(picks, start=1):
            html_block, text_block = self._paper(pick.paper)
            why = pick.why
            html.append(_fill(html_block, {"number": str(number), "why": str(escape(why))}))
            text.append(_fill(text_block, {"number": str(number), "why": why}))
        html.append(_fill(self._html.foot, reader_html))
        text.append(_fill(self._text.foot, reader))
        return Rendered(subject=title, preheader=preheader, text="".join(text), html="".join(html))


def _partial(parts: Parts, values: dict[str, str]) -> Parts:
    """Fill in the fields named in `values` and keep the others. Values are never parsed
    again, so a title that reads "@@why@@" stays text."""
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        name, literal = parts[index], parts[index + 1]
        if name in values:
            out[-1] += values[name] + literal
        else:
            out += [name, literal]
    return out


def _fill(parts: Parts, values: dict[str, str]) -> str:
    """Every field filled in; the values are already escaped where the part is HTML."""
    out = parts.copy()
    out[1::2] = [values[name] for name in parts[1::2]]
    return "".join(out)


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
