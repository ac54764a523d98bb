"""The curated vocabulary of the field, read from `vocabulary.toml` (data, not code): each
entry lists forms that name one idea, says what joins them, and may list narrower kinds.

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


VERSION, ENTRIES = _load()
