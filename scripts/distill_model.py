"""Make the shipped embedding model (newsletter/match/model/): static token vectors distilled
from sentence-transformers/all-MiniLM-L6-v2, in model2vec's format. Development code, run once;
see benchmarks/relevance/README.md for why this model and runtime.

    .venv/bin/python scripts/distill_model.py [--weights DIR] [--out newsletter/match/model]

It follows model2vec's own distillation (model2vec.distill, which needs torch; torch's
default wheels here pull gigabytes of CUDA): every vocabulary token goes through the full
transformer as "[CLS] token [SEP]", mean-pooled; then PCA to 256 dimensions and SIF weights
from Zipf ranks (sif 1e-4). The transformer runs in float32 (`newsletter.match.bert`, exact),
as it ran in numpy when the shipped model was made (about eight minutes on two cores then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from model2vec import StaticModel
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsletter.match.bert import Bert, minilm_folder  # noqa: E402

CLS, SEP = 101, 102


def distill(folder: Path, dims: int = 256, sif: float = 1e-4) -> np.ndarray:
    bert = Bert(folder, exact=True)
    size = bert.vocabulary
    batches = [range(start, min(size, start + 1024)) for start in range(0, size, 1024)]
    pooled = np.concatenate(
        [bert.pooled(np.array([[CLS, t, SEP] for t in batch])) for batch in batches]
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
    folder = args.weights or minilm_folder()
    vectors = distill(folder).astype(np.float16)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    model = StaticModel(vectors, tokenizer, normalize=True,
                        base_model_name="sentence-transformers/all-MiniLM-L6-v2")  # fmt: skip
    model.save_pretrained(args.out)
    print(f"wrote {args.out}: {vectors.shape[0]} tokens x {vectors.shape[1]} dimensions")


if __name__ == "__main__":
    main()
