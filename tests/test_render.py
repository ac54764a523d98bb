"""Rendering: escaping of hostile titles, one-line subjects, non-ASCII, both parts alike."""

from __future__ import annotations

import datetime as dt
import itertools
from email import message_from_bytes
from email.policy import default
from html.parser import HTMLParser

import pytest

from newsletter.digest import message, render
from newsletter.match.engine import Pick, TopicHit
from newsletter.models import Paper
from newsletter.settings import Settings
from newsletter.text import date_range


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


IDS = itertools.count(1)


def _pick(
    title: str,
    authors: list[str],
    abstract: str = "First sentence. Second one.",
    github: str | None = None,
    upvotes: int = 7,
) -> Pick:
    p = Paper(
        id=next(IDS),
        arxiv_id="2605.00001",
        title=title,
        abstract=abstract,
        authors=authors,
        featured_on=dt.date(2026, 5, 12),
        upvotes=upvotes,
        source="hf",
        github_url=github,
    )
    return Pick(p, 0.9, [TopicHit("agents", 2.0, "title")])


LINKS = render.Links(manage="https://x.example/manage/T", unsubscribe="https://x.example/u/T")
READER = render.Recipient("ada@example.com", ["agents"], LINKS)


def _render(*picks: Pick, recipient: render.Recipient | None = READER) -> render.Rendered:
    digest = render.Digest(render.MailTemplates(), "2026-W20", "1 Main St")
    return digest.render(list(picks), recipient)


def test_template_conditionals_see_real_values() -> None:
    rendered = _render(_pick("Voted", ["A"]), _pick("Unvoted", ["B"], upvotes=0))
    assert rendered.text.count("upvote") == 1 and "7 upvotes" in rendered.text
    assert rendered.html.count("▲") == 1 and "{{" not in rendered.html and "{%" not in rendered.html


def test_the_web_copy_holds_nothing_that_acts_for_the_reader() -> None:
    web_copy = _render(_pick("T", ["A"]), recipient=None)
    for personal in ("ada@example.com", "/manage/", "/u/T", "Unsubscribe", "for: agents"):
        assert personal not in web_copy.html and personal not in web_copy.text
    assert "https://arxiv.org/abs/2605.00001" in web_copy.html


def test_script_in_title_is_text_not_markup() -> None:
    rendered = _render(_pick('<script>alert("x")</script><img src=x onerror=alert(1)>', ["Ann"]))
    parsed = _Collect()
    parsed.feed(rendered.html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert any('<script>alert("x")</script>' in t for t in parsed.text)
    assert '<script>alert("x")</script>' in rendered.text  # plain text stays readable


def test_a_readers_own_values_are_escaped_in_the_html_and_kept_in_the_text() -> None:
    # Filled into the issue's renderings per reader: escaped as the templates would.
    tricky = '<b>x</b> & "y"'
    links = render.Links(manage="https://x.example/m?a=1&b=2", unsubscribe="https://x.example/u")
    reader = render.Recipient(
        tricky + "@example.com", [tricky, "agents"], links, votes="https://x/f"
    )
    pick = _pick("Title", ["A"])
    pick.hits = [TopicHit(tricky, 2.0, "title", "Title")]
    rendered = _render(pick, _pick("Other", ["B"]), recipient=reader)
    parsed = _Collect()
    parsed.feed(rendered.html)
    assert "b" not in parsed.tags and "&lt;b&gt;x&lt;/b&gt; &amp; &#34;y&#34;" in rendered.html
    assert "m?a=1&amp;b=2" in rendered.html and "https://x/f/" in rendered.html
    assert f"your topic “{tricky}”" in rendered.text and f"for your topics: {tricky}, agents" in (
        rendered.text
    )
    # Each pick's place holds its own values, in order.
    assert rendered.text.index("\n1. Title") < rendered.text.index("\n2. Other")


def test_a_template_that_changes_a_readers_value_is_refused() -> None:
    email = render._MARKERS["email"]
    assert render._cut(f"to {email}.") == ("to ", (("email", "."),))
    with pytest.raises(ValueError, match="changed a reader's value"):
        render._cut(f"to {email.upper()}.")  # what `{{ recipient.email|upper }}` would make


def test_authors_first_three_then_et_al_and_non_ascii() -> None:
    rendered = _render(_pick("Title", ["Zoë Ångström", "李雷", "José", "Fourth"]))
    assert "Zoë Ångström, 李雷, José et al." in rendered.text
    assert "Zoë Ångström, 李雷, José et al." in rendered.html


def test_tldr_is_first_sentence_without_ai_summary() -> None:
    assert render.tldr(None, "We propose X. It is good.") == "We propose X."
    assert render.tldr("An AI summary.", "We propose X. It is good.") == "An AI summary."


def test_a_long_summary_is_cut_at_a_word_with_an_ellipsis() -> None:
    summary = "The method learns from bug-fix histories, " * 10
    cut = render.tldr(summary, "")
    assert len(cut) <= 300 and cut.endswith("…")
    assert cut[:-1] == summary[: len(cut) - 1] and summary[len(cut) - 1] in " ,"
    assert "from bug-fix h…" not in cut


def test_subject_counts_and_names_top_paper_on_one_line() -> None:
    rendered = _render(_pick("Line one\nBcc: victim@example.com", ["A"]), _pick("Other", ["B"]))
    assert rendered.subject == "2 trending papers for you: Line one Bcc: victim@example.com"
    long = _render(_pick("word " * 100, ["A"]))
    assert len(long.subject) <= render.SUBJECT_MAX and long.subject.endswith("…")


def test_links_only_http_and_code_link_when_known() -> None:
    rendered = _render(_pick("T", ["A"], github="https://github.com/a/b"))
    parsed = _Collect()
    parsed.feed(rendered.html)
    assert "https://github.com/a/b" in parsed.links
    assert "https://arxiv.org/abs/2605.00001" in parsed.links
    assert "https://arxiv.org/pdf/2605.00001" in parsed.links
    assert "https://x.example/u/T" in parsed.links
    assert all(link.startswith("https://") for link in parsed.links)


def test_message_is_multipart_alternative_text_first() -> None:
    settings = Settings(secret_key="k", sender="Papers <digest@papers.example.com>")
    raw = message.build(
        _render(_pick("T", ["A"])),
        settings=settings,
        to="ada@example.com",
        msg_id=message.message_id(settings, "2026-W20", 5),
        unsubscribe_url="https://x.example/u/T",
    )
    msg = message_from_bytes(raw, policy=default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"] == "<digest.2026-W20.5@papers.example.com>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_headers_refuse_line_breaks_and_encode_non_ascii() -> None:
    settings = Settings(secret_key="k", sender="Papiers Zoë <digest@papers.example.com>")
    rendered = render.Rendered("Ünïcode subject — 5 papers", "p", "text", "<p>html</p>")
    raw = message.build(rendered, settings=settings, to="ada@example.com", msg_id="<a@b>")
    msg = message_from_bytes(raw, policy=default)
    assert msg["Subject"] == "Ünïcode subject — 5 papers"
    assert msg["From"].addresses[0].display_name == "Papiers Zoë"
    assert "List-Unsubscribe" not in msg  # transactional: no list headers
    import pytest

    with pytest.raises(ValueError, match="line break"):
        message.build(
            rendered, settings=settings, to="a@example.com\r\nBcc: x@example.com", msg_id="<a@b>"
        )


def test_an_issue_is_named_by_its_days() -> None:
    assert date_range(dt.date(2026, 2, 2), dt.date(2026, 2, 6)) == "2–6 February 2026"
    assert date_range(dt.date(2026, 1, 31), dt.date(2026, 2, 6)) == "31 January – 6 February 2026"
    assert date_range(dt.date(2025, 12, 29), dt.date(2026, 1, 4)) == (
        "29 December 2025 – 4 January 2026")  # fmt: skip
