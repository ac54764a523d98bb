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

from newsletter.text import one_line

_NOT_WORD = re.compile(r"[^\w+#.-]+")
# Terms of the curated vocabulary (match/vocabulary.toml) most readers recognise, in order.
STARTERS = ("LLM", "RAG", "diffusion model", "MoE", "RLHF", "VLM", "code generation", "LoRA")


def normalised(topic: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", one_line(topic).casefold()).split())


def shared(topic_lists: Iterable[list[str]], *, min_readers: int, count: int) -> list[str]:
    """The most followed topics that at least `min_readers` readers share (normalised)."""
    readers_of: Counter[str] = Counter()
    for topics in topic_lists:
        readers_of.update({normalised(t) for t in topics} - {""})
    return [t for t, n in readers_of.most_common() if n >= min_readers][:count]


def popular(topics: list[str], *, count: int) -> list[str]:
    """Shared `topics`, then vocabulary terms to make up `count`."""
    shared = topics[:count]
    for term in STARTERS:
        if len(shared) < count and normalised(term) not in shared:
            shared.append(term)
    return shared
