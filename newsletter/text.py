"""Text normalisation shared by ingest, matching and rendering.

`one_line` makes feed text safe to put on one line (titles, names, subjects):
newlines and control characters from a feed must never reach a header.
`terms` turns prose into stems so "Evaluating" meets "evaluation", "pre-training"
meets "pretraining", and "multi-agent" still counts as "agent".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]")
_stemmer = Stemmer.Stemmer("english")

# Words that carry no topic on their own; dropped from topics and texts alike
# so that "mixture of experts" and "mixture-of-experts" become the same stems.
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the "
    "their this to via we what when which with within".split()
)

# Bound prefixes written joined, hyphenated or apart ("pre-training", "pre training",
# "pretraining") are joined to the next word so all three spellings are one word; the
# word itself stays findable ("multi-agent" is also "agent").
_PREFIXES = frozenset("pre post multi semi non co re sub inter meta fine".split())

# British spellings folded to American before stemming ("-isation" is handled by rule).
_SPELLING = {
    "optimise": "optimize", "tokeniser": "tokenizer", "modelling": "modeling",
    "behaviour": "behavior", "recognise": "recognize", "colour": "color",
    "analyse": "analyze", "centre": "center", "labelling": "labeling",
}  # fmt: skip


def one_line(value: object, max_len: int = 1000) -> str:
    """Collapse whitespace, drop control characters, trim to `max_len`."""
    text = str(value or "")
    if not text.isprintable():  # the common case skips the per-character pass
        text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _WS.sub(" ", text).strip()[:max_len]


def fold(text: str) -> str:
    """Lowercase and strip accents, so "Café" and "cafe" compare equal."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    # The stemmer leaves vowel-less plurals alone ("llms"); fold them to the singular.
    if len(word) > 2 and word.endswith("s") and not _VOWEL.search(word[:-1]):
        word = word[:-1]
    word = _SPELLING.get(word, word)
    if "isation" in word:
        word = word.replace("isation", "ization")
    return str(_stemmer.stemWord(word))


@lru_cache(maxsize=200_000)
def _alone(word: str) -> tuple[str]:
    """The one-form entry of a plain word, shared by all its occurrences (it saves memory:
    an index holds one per word of every paper)."""
    return (stem(word),)


def terms(text: str) -> list[tuple[str, ...]]:
    """Per content word, its stem and (for prefixed words) the stem without the prefix."""
    out: list[tuple[str, ...]] = []
    prefix = ""
    for word in _WORD.findall(fold(text)):
        if word in _PREFIXES:
            prefix += word
            continue
        if word in STOPWORDS and not prefix:
            continue
        out.append((stem(prefix + word), stem(word)) if prefix else _alone(word))
        prefix = ""
    if prefix:
        out.append((stem(prefix),))
    return out


def stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (one per word)."""
    return [forms[0] for forms in terms(text)]
