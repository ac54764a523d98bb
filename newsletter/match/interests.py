"""What a reader follows, typed: free-text topics, authors and arXiv categories.

A reader row keeps two JSON lists: `topics` (free text, always matched as words, even one
that reads "author: X") and `follows` ("author:Yann LeCun", "category:cs.CL"). This module
is the only place that reads or writes that prefixed form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    text: str


@dataclass(frozen=True, slots=True)
class Author:
    name: str


@dataclass(frozen=True, slots=True)
class Category:
    code: str


Follow = Author | Category
Interest = Topic | Author | Category


def parse_follow(stored: str) -> Follow:
    kind, _, value = stored.partition(":")
    if kind == "author":
        return Author(value)
    if kind == "category":
        return Category(value)
    raise ValueError(f"not a stored follow: {stored!r}")


def stored(follow: Follow) -> str:
    return f"author:{follow.name}" if isinstance(follow, Author) else f"category:{follow.code}"


def label(interest: Interest) -> str:
    """An interest as a reader reads it."""
    if isinstance(interest, Author):
        return f"papers by {interest.name}"
    if isinstance(interest, Category):
        return f"arXiv {interest.code}"
    return interest.text


def of_reader(topics: Iterable[str], follows: Iterable[str]) -> list[Interest]:
    """What the matcher scores for a reader: their topics, then their follows."""
    return [*(Topic(t) for t in topics), *(parse_follow(f) for f in follows)]


def shown(topics: Iterable[str], follows: Iterable[str]) -> list[str]:
    """The same, as a reader reads them."""
    return [label(i) for i in of_reader(topics, follows)]


def of_exclusions(exclusions: Iterable[str]) -> list[Interest]:
    """A reader's "never" list: "author:Name" (the stored form) is an author, any other text
    a topic."""
    return [parse_follow(t) if t.startswith("author:") else Topic(t) for t in exclusions]


def shown_exclusions(exclusions: Iterable[str]) -> list[str]:
    """The "never" list as the reader types it ("author: Name" for an author)."""
    return [f"author: {i.name}" if isinstance(i, Author) else label(i)
            for i in of_exclusions(exclusions)]  # fmt: skip
