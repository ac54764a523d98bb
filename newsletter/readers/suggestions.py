"""The topics the subscribe page suggests to strangers, without showing any reader's own text.

A topic is suggested only when at least `min_readers` active readers follow it (compared in
a normalised form: case, spacing and punctuation folded), so nothing one reader typed, a
private project name or a pasted `<script>`, ever reaches the public page. While few
readers share topics, the page suggests terms of the curated vocabulary instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from newsletter.match.vocabulary import ENTRIES
from newsletter.text import one_line, stems

_NOT_WORD = re.compile(r"[^\w+#.-]+")
# Terms of the curated vocabulary (match/vocabulary.toml) most readers recognise, in order.
STARTERS = ("LLM", "RAG", "diffusion model", "MoE", "RLHF", "VLM", "code generation", "LoRA")


def normalised(topic: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", one_line(topic).casefold()).split())


@lru_cache(maxsize=1)
def _entries() -> dict[tuple[str, ...], int]:
    return {tuple(stems(form)): n for n, entry in enumerate(ENTRIES) for form in entry.forms}


def idea(topic: str) -> tuple[str, ...] | int:
    """What a topic names, so that one idea is suggested once: a vocabulary entry ("LLMs",
    "LLM" and "large language model" are one), else its words' stems ("agent", "agents")."""
    key = tuple(stems(topic))
    return _entries().get(key, key)


def shared(topic_lists: Iterable[list[str]], *, min_readers: int, count: int) -> list[str]:
    """The most followed ideas that at least `min_readers` readers share, each in the
    normalised form its readers use most."""
    readers_of: Counter[tuple[str, ...] | int] = Counter()
    spelled: dict[tuple[str, ...] | int, Counter[str]] = {}
    for topics in topic_lists:
        ideas = {idea(t): normalised(t) for t in topics if normalised(t)}
        readers_of.update(ideas.keys())
        for key, form in ideas.items():
            spelled.setdefault(key, Counter())[form] += 1
    return [spelled[key].most_common(1)[0][0] for key, n in readers_of.most_common()
            if n >= min_readers and key != ()][:count]  # fmt: skip


def popular(topics: list[str], *, count: int) -> list[str]:
    """Shared `topics`, then vocabulary terms to make up `count`, each idea once."""
    shared = topics[:count]
    ideas = {idea(t) for t in shared}
    for term in STARTERS:
        if len(shared) < count and idea(term) not in ideas:
            shared.append(term)
            ideas.add(idea(term))
    return shared
