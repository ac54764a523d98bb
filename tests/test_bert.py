"""The contextual model an operator can name (NEWSLETTER_EMBEDDING_MODEL=FOLDER): BERT as an
ONNX graph gives sentence-transformers' own vectors, a text's vector does not depend on what
it is embedded with, and the engine matches with it by meaning on the contextual model's
calibration."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from newsletter.match import bert, checkpoint, semantic
from newsletter.settings import Settings
from tests.test_semantic import DAY, WEEK, Matcher

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def minilm() -> Path:
    """all-MiniLM-L6-v2's checkpoint folder, from the weights package newsletter depends on."""
    return bert.minilm_folder()


def test_it_gives_sentence_transformers_own_vectors(minilm) -> None:
    """The reference vectors were made by sentence-transformers from the same weights (its
    file says how); one text is long enough to be cut at 128 tokens. In float32 the graph is
    the checkpoint's own arithmetic; in 8-bit integers (the default) it stays close."""
    reference = json.loads((DATA / "minilm_reference.json").read_text())
    encoder = semantic.load(str(minilm))
    assert encoder is not None and encoder.calibration == semantic.CONTEXTUAL
    expected = np.array(reference["vectors"])
    quantized = (encoder.encode(reference["texts"]) * expected).sum(axis=1)
    # How close depends on the CPU's 8-bit kernels: 0.989 at worst on AVX2 without VNNI.
    assert quantized.min() > 0.985, quantized
    exact = bert.Bert(minilm, exact=True)
    tokenizer = encoder.model.tokenizer  # type: ignore[attr-defined]
    for text, vector in zip(reference["texts"], expected, strict=True):
        pooled = exact.pooled(np.array([tokenizer.encode(text).ids]))[0]
        assert pooled @ vector / np.linalg.norm(pooled) > 0.9999, text


def test_an_operator_model_matches_by_meaning_on_its_own_calibration(minilm) -> None:
    encoder = semantic.load(str(minilm))
    assert encoder is not None and encoder.name.startswith(f"{minilm.name}@")
    matcher = Matcher(WEEK, window_end=DAY, space=semantic.Space(encoder, encoder.papers(WEEK)))
    picks = matcher.picks(["graph learning"], limit=5)
    assert [p.paper.title for p in picks] == [WEEK[0].title]
    assert picks[0].why.startswith("close in meaning to “graph learning”")
    for topic in ("houseplant care", "jazz guitar lessons", "fantasy football tips"):
        assert matcher.picks([topic], limit=5) == [], topic


def test_a_batch_of_topics_embeds_as_each_alone(minilm) -> None:
    """Workers embed a batch's topics at once (`Encoder.warm`); in 8-bit integers a shared
    batch would move a topic's vector with its batch-mates, so each text runs alone and the
    vectors are the same to the bit: the dry run and the send match alike."""
    loaded = semantic.load(str(minilm))
    assert loaded is not None
    topics = ["graph learning", "Sourdough Baking ", "KV cache compression for long-context LLMs"]
    alone = semantic.Encoder(loaded.model, loaded.name, loaded.calibration)
    batch = semantic.Encoder(loaded.model, loaded.name, loaded.calibration)
    batch.warm(topics)
    for topic in topics:
        assert np.array_equal(batch.topic(topic), alone.topic(topic)), topic


def test_minilm_names_the_packaged_weights_and_refuses_others(monkeypatch) -> None:
    """`minilm` loads the weights the `contextual` extra installs, named by their hash; a
    file that is not all-MiniLM-L6-v2's (a changed upload) is refused, and matching goes by
    words alone, said by `why_not`."""
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setattr(semantic, "_why_not", {})
    encoder = semantic.load("minilm")
    assert encoder is not None and encoder.name == f"all-minilm-l6-v2@{bert.MINILM_SHA256[:12]}"
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setitem(bert.MINILM_FILES, "model.safetensors", "0" * 64)
    assert semantic.load("minilm") is None
    assert "does not hold all-MiniLM-L6-v2's weights" in semantic.why_not("minilm")


def test_the_default_is_minilm_tuned_on_topics_over_the_pinned_checkpoint(monkeypatch) -> None:
    """The default model is all-MiniLM-L6-v2 with what tuning changed laid over it: its
    vectors are sentence-transformers' own for the tuned weights (made outside, in the
    reference file), it is named by the overlay's hash, and the checkpoint under it is still
    checked file by file."""
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setattr(semantic, "_why_not", {})
    assert Settings().embedding_model == semantic.TOPICS
    encoder = semantic.load(Settings().embedding_model)
    assert encoder is not None and encoder.calibration == semantic.TUNED
    with semantic.tuned_weights().open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    assert encoder.name == f"minilm-topics@{digest[:12]}"
    assert "embeddings.word_embeddings.weight" not in load_file(semantic.tuned_weights())

    reference = json.loads((DATA / "minilm_topics_reference.json").read_text())
    expected = np.array(reference["vectors"])
    tuned = (encoder.encode(reference["texts"]) * expected).sum(axis=1)
    assert tuned.min() > 0.985, tuned  # in 8-bit integers, as for all-MiniLM-L6-v2's own
    untuned = (semantic.open_model("minilm").encode(reference["texts"]) * expected).sum(axis=1)
    assert (untuned < tuned).all(), untuned  # the overlay was applied, not ignored

    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setitem(bert.MINILM_FILES, "model.safetensors", "0" * 64)
    assert semantic.load(semantic.TOPICS) is None
    assert "does not hold all-MiniLM-L6-v2's weights" in semantic.why_not(semantic.TOPICS)


def test_an_overlay_that_does_not_fit_the_checkpoint_is_refused(tmp_path, monkeypatch) -> None:
    """A tensor the checkpoint does not have, or of another shape, is refused with one line
    rather than run as a different network."""
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setattr(semantic, "_why_not", {})
    overlay = tmp_path / "topics.safetensors"
    save_file({"encoder.layer.0.output.dense.bias": np.zeros(7, np.float16)}, str(overlay))
    monkeypatch.setattr(semantic, "tuned_weights", lambda: overlay)
    assert semantic.load(semantic.TOPICS) is None
    why = semantic.why_not(semantic.TOPICS)
    assert why.endswith(
        f"{overlay}: encoder.layer.0.output.dense.bias is not a tensor of the checkpoint it tunes"
    ), why


def test_without_onnx_runtime_it_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setattr(semantic, "_why_not", {})
    found = bert.find_spec
    monkeypatch.setattr(
        bert, "find_spec", lambda name: None if name == "onnxruntime" else found(name)
    )
    assert semantic.load("minilm") is None
    why = semantic.why_not("minilm")
    assert f"onnxruntime is not installed: {bert._REINSTALL}" in why
    assert "reinstall this project (trending-papers-inbox)" in why


def test_a_broken_weights_file_is_refused_with_its_reason(minilm, tmp_path) -> None:
    """The graph is built by a child Python (so workers never import onnx): its failure
    reaches the operator as one line, and matching goes by words alone."""
    for item in minilm.iterdir():
        if item.is_file() and item.name != "model.safetensors":
            (tmp_path / item.name).symlink_to(item)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    calibration = checkpoint.Calibration(floor=0.5, bonus=0.2, agreement=0.2)
    checkpoint.write(tmp_path, checkpoint.Manifest(checkpoint.file_hashes(tmp_path), calibration))
    assert semantic.load(str(tmp_path)) is None
    assert f"building the model in {tmp_path} failed:" in semantic.why_not(str(tmp_path))


def _copy_of(minilm: Path, into: Path) -> Path:
    """A copy of the checkpoint's pinned files (the weights linked, not copied: unchanged)."""
    for name in bert.MINILM_FILES:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "model.safetensors":
            (into / name).symlink_to(minilm / name)
        else:
            (into / name).write_bytes((minilm / name).read_bytes())
    return into


def test_every_pinned_file_of_minilm_is_checked(minilm, tmp_path, monkeypatch) -> None:
    """Not the weights alone: a tokenizer changed by one byte (a token's id moved, say) or a
    file missing is refused with one line naming it, and matching goes by words alone."""
    monkeypatch.setattr(semantic, "_loaded", {})
    monkeypatch.setattr(semantic, "_why_not", {})
    folder = _copy_of(minilm, tmp_path / "minilm")
    monkeypatch.setattr(bert, "minilm_folder", lambda: folder)
    bert.verify_minilm(folder)  # the copy as it is passes

    tokenizer = folder / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    assert semantic.load("minilm") is None
    why = semantic.why_not("minilm")
    assert f"{folder} does not hold all-MiniLM-L6-v2's tokenizer.json (sha256 " in why
    assert "\n" not in why

    monkeypatch.setattr(semantic, "_loaded", {})
    tokenizer.write_bytes((minilm / "tokenizer.json").read_bytes())
    (folder / "1_Pooling" / "config.json").unlink()
    assert semantic.load("minilm") is None
    assert "lacks all-MiniLM-L6-v2's 1_Pooling/config.json" in semantic.why_not("minilm")
