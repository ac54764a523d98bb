"""Is a pick's reason true of its paper? Read as a reader would check it, by the words only,
independently of how the engine found them.

A reason names the paper's words and where they stand:
- `“X” in the title` (or the abstract, the AI summary, the keywords, the author list, the
  categories) holds if X stands in that field; case, hyphens and spacing aside, nothing
  else (the engine quotes the paper as written).
- `close in meaning to “T”: the paper's “X”` holds if X stands anywhere in the paper.
- `like “X”, which you marked` holds if X is the title of a paper the reader liked.
What follows a quote, `(your topic “T”)` or `, a kind of “E”`, speaks of the reader's topic
and of the vocabulary, not of the paper; `, arXiv's “N”` after a class code in the categories
holds if N is arXiv's name of that class.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from newsletter.match.vocabulary import CATEGORIES
from newsletter.models import Paper

_IN_FIELD = re.compile(r"“(?P<quote>.+?)” in the (?P<field>title|abstract|AI summary|keywords|"
                       r"author list|categories)(?=$|, a kind of “| \(your topic “|, arXiv's “)"
                       r"(?:, arXiv's “(?P<name>.+?)”)?")  # fmt: skip
_BY_MEANING = re.compile(r"close in meaning to “.+?”(?:: the paper's “(?P<quote>.+)”)?$")
_BY_EXAMPLE = re.compile(r"like “(?P<title>.+)”, which you marked$")


def normal(text: str) -> str:
    return " ".join(re.sub(r"[-‐‑–—_/]", " ", text.casefold()).split())


def fields(paper: Paper) -> dict[str, list[str]]:
    return {
        "title": [paper.title],
        "abstract": [paper.abstract],
        "AI summary": [paper.ai_summary or ""],
        "keywords": list(paper.ai_keywords),
        "author list": list(paper.authors),
        "categories": list(paper.categories),
    }


def stands_in(quote: str, texts: list[str]) -> bool:
    needle = normal(quote)
    return bool(needle) and any(needle in normal(text) for text in texts)


def untrue(reason: str, paper: Paper, liked: Collection[str] = ()) -> str | None:
    """Why `reason` is not true of `paper` (for a reader who liked the papers titled
    `liked`), or None if it holds."""
    if match := _IN_FIELD.match(reason):
        if not stands_in(match["quote"], fields(paper)[match["field"]]):
            return f"{match['quote']!r} does not stand in the {match['field']}"
        if match["name"] and CATEGORIES.get(match["quote"]) != match["name"]:
            return f"{match['name']!r} is not arXiv's name of {match['quote']!r}"
        return None
    if match := _BY_MEANING.match(reason):
        everywhere = [t for texts in fields(paper).values() for t in texts]
        if match["quote"] is None or stands_in(match["quote"], everywhere):
            return None
        return f"{match['quote']!r} does not stand in the paper"
    if match := _BY_EXAMPLE.match(reason):
        return None if match["title"] in liked else f"{match['title']!r} is not a paper they liked"
    return f"a reason of no known form: {reason!r}"
