"""Likely misspellings in a topic: a word no paper of the week uses, and a word they do use
that is one or two letters away ("reinforcment" -> "reinforcement"). The manage page offers
the fix beside a topic that matched nothing, so a typo does not mail nothing forever."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

from newsletter.models import Paper
from newsletter.text import STOPWORDS, fold

_WORD = re.compile(r"[a-z][a-z0-9]+")
# A typo is a letter missing, extra, wrong or two swapped: one such slip in a word of up to
# seven letters, two in a longer one. Real words that far apart ("baking", "breaking") are
# rarely both research words.
COMMON = 2  # papers that must use a word for it to be offered: not one paper's model name


class Spelling:
    """The words a week's papers use (titles, abstracts, AI summaries and keywords)."""

    def __init__(self, papers: Iterable[Paper]) -> None:
        used_by = Counter[str]()
        for paper in papers:
            texts = (paper.title, paper.abstract, paper.ai_summary or "", *paper.ai_keywords)
            used_by.update({w for text in texts for w in _WORD.findall(fold(text))})
        self.known = set(used_by)
        # By first letter: a typo rarely starts a word, and it keeps each lookup small.
        self._by_letter: dict[str, list[str]] = {}
        for word in sorted(w for w, n in used_by.items() if n >= COMMON):
            self._by_letter.setdefault(word[0], []).append(word)

    def suggest(self, topic: str) -> str | None:
        """`topic` with each unknown word replaced by the closest known one, if any word
        was replaced; else None."""
        changed, out = False, []
        for piece in re.split(r"(\W+)", topic):
            word = fold(piece)
            if (
                len(word) < 5
                or word in STOPWORDS
                or word in self.known
                or not _WORD.fullmatch(word)
            ):
                out.append(piece)
                continue
            slips = 1 if len(word) <= 7 else 2
            near = difflib.get_close_matches(word, self._by_letter.get(word[0], []), 5, 0.7)
            close = [w for w in near if _slips(word, w) <= slips]
            out.append(close[0] if close else piece)
            changed = changed or bool(close)
        return "".join(out) if changed else None


def _slips(a: str, b: str) -> int:
    """Typing slips between two words: letters inserted, deleted or changed, and neighbours
    swapped (the optimal string alignment distance)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]
