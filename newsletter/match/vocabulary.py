"""The curated vocabulary of the field, read from `vocabulary.toml` (data, not code): each
entry lists forms that name one idea, says what joins them, and may list narrower kinds.
Beside it, arXiv's names of its subject classes (`categories.toml`).

A topic that names any form matches every form, and a topic naming an entry its kinds, as
whole words only, so "RAG" finds "retrieval-augmented generation" but never "leveraging".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Entry:
    forms: tuple[str, ...]  # one idea's names; the first names the entry in a reason
    joins: str  # what makes them one ("abbreviation", "synonyms", ...)
    kinds: tuple[str, ...] = ()  # narrower ideas a topic naming this entry also finds


def _load() -> tuple[str, tuple[Entry, ...]]:
    data = tomllib.loads(resources.files(__package__).joinpath("vocabulary.toml").read_text())
    entries = tuple(
        Entry(tuple(e["forms"]), e["joins"], tuple(e.get("kinds", ()))) for e in data["entry"]
    )
    return data["version"], entries


def _categories() -> dict[str, str]:
    data = tomllib.loads(resources.files(__package__).joinpath("categories.toml").read_text())
    return dict(data["names"])


VERSION, ENTRIES = _load()
# arXiv's subject classes, code -> name (`categories.toml`): a topic that is a class's name
# matches the papers listed under it.
CATEGORIES = _categories()
