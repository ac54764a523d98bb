"""Text normalisation shared by ingest, matching and rendering.

`one_line` makes feed text safe to put on one line (titles, names, subjects):
newlines and control characters from a feed must never reach a header.
`terms` turns prose into stems so "Evaluating" meets "evaluation", "pre-training"
meets "pretraining", and "multi-agent" still counts as "agent"; `words` also says where
each stands in the text, so a reason can quote the paper's own words.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import Stemmer

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")
_BREAK = re.compile(r"[.;:!?](?:\s|$)")  # the end of a sentence or clause, not "2.5" or "e.g"
BREAK = 100  # how far apart a sentence break sets two words (`spaced`)
_VOWEL = re.compile(r"[aeiouy]")
# One family, whatever the ending: "optimize", "optimizer", "optimization" (never "optimal":
# the stemmer alone would make all four "optim", and "tokenization" the bare "token").
_IZE = re.compile(r"^([a-z]{3,}?)iz(?:e|es|ed|ing|er|ers|ation|ations)$")
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
    if text.isprintable():  # the common case: the only whitespace is " " (no tab, no NBSP)
        return (text if "  " not in text else _WS.sub(" ", text)).strip()[:max_len]
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
    """A word's family by inflection, not derivation: "models" and "modeling" are "model",
    "evaluating" and "evaluation" are one, but "computer" is not "computation", nor
    "tokenization" "token"."""
    # The stemmer leaves vowel-less plurals alone ("llms"); fold them to the singular.
    if len(word) > 2 and word.endswith("s") and not _VOWEL.search(word[:-1]):
        word = word[:-1]
    word = _SPELLING.get(word, word)
    if "isation" in word:
        word = word.replace("isation", "ization")
    if ize := _IZE.match(word):
        return ize[1] + "ize"
    # An agent noun is its own word ("transformer", "computer"): the stemmer would make it
    # "transform", the stem of "transformation".
    if len(word) > 5 and word.endswith(("er", "ers")):
        return word.removesuffix("s")
    return str(_stemmer.stemWord(word))


@lru_cache(maxsize=200_000)
def _alone(word: str) -> tuple[str]:
    """The one-form entry of a plain word, shared by all its occurrences (it saves memory:
    an index holds one per word of every paper)."""
    return (stem(word),)


def terms(text: str) -> list[tuple[str, ...]]:
    """Per content word, its stem and (for prefixed words) the stem without the prefix."""
    return [forms for forms, _, _, _ in _content(fold(text))]


def spaced(text: str) -> tuple[list[tuple[str, ...]], list[int]]:
    """`terms`, and per content word how far it stands from the one before: the stopwords
    between ("evaluation of models": 1), plus BREAK across a sentence or clause break."""
    found = list(_content(fold(text)))
    return [forms for forms, _, _, _ in found], [apart for _, _, _, apart in found]


def words(text: str) -> list[tuple[tuple[str, ...], int, int]]:
    """`terms` with where each stands in `text`: (forms, start, end), `text[start:end]` being
    the word as written ("pre-training" whole)."""
    folded, origin = _folded_with_origin(text)
    return [(forms, origin[start], origin[end - 1] + 1)
            for forms, start, end, _ in _content(folded)]  # fmt: skip


def _content(folded: str) -> Iterator[tuple[tuple[str, ...], int, int, int]]:
    """(forms, start, end, apart) per content word of a folded text (see `spaced`)."""
    prefix, began, skipped, last = "", 0, 0, 0
    for match in _WORD.finditer(folded):
        word = match[0]
        if _BREAK.search(folded, last, match.start()):
            skipped += BREAK
        last = match.end()
        if word in _PREFIXES:
            began = match.start() if not prefix else began
            prefix += word
            continue
        if word in STOPWORDS and not prefix:
            skipped += 1
            continue
        if prefix:
            yield (stem(prefix + word), stem(word)), began, match.end(), skipped
        else:
            yield _alone(word), match.start(), match.end(), skipped
        prefix, skipped = "", 0
    if prefix:
        yield (stem(prefix),), began, began + len(prefix), skipped


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    """`fold(text)` and, per character of it, the index of the character it came from."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    pieces, origin = [], []
    for index, ch in enumerate(text):
        piece = fold(ch)
        pieces.append(piece)
        origin.extend([index] * len(piece))
    return "".join(pieces), origin


def stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (one per word)."""
    return [forms[0] for forms in terms(text)]


def date_range(start: dt.date, end: dt.date) -> str:
    """An issue's days as people write them, "2-6 February 2026" (with an en dash), where an
    ISO week number ("2026-W06") says little to a reader."""
    last = f"{end.day} {end:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{last}"
    first = f"{start.day} {start:%B}" + (f" {start.year}" if start.year != end.year else "")
    return f"{first} – {last}"
