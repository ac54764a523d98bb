"""Tune all-MiniLM-L6-v2 on readers' topics for papers, and write what tuning changed as
newsletter/match/tuned/topics.safetensors (the model `minilm-topics` runs on top of the
hash-checked checkpoint).

Not part of the product and not run by its tests: it needs torch and sentence-transformers,
in a scratch virtualenv of their own:

    python -m venv /tmp/tune && /tmp/tune/bin/pip install torch==2.13.0 \
        sentence-transformers==6.3.0 datasets accelerate safetensors
    /tmp/tune/bin/python scripts/tune_model.py PAPERS_GIT_DIR [--mine-with OVERLAY] \
        [--topics FILE] [--out FILE]

PAPERS_GIT_DIR is a clone of github.com/dw-dengwei/daily-arXiv-ai-enhanced (its `data`
branch keeps one JSON line per paper and day: id, title, abstract). The topics, three per
paper, were written by helpers who saw only the paper's title and abstract
(benchmarks/relevance/tuning/README.md); none of the papers is in a judged set or under
../shared/.

With `--mine-with OVERLAY` (an earlier tuning's topics.safetensors), each pair also gets a
hard negative: a paper that earlier model finds close to the topic, but clearly less close
than the topic's own paper (below 95 % of its cosine, so a paper the topic fits just as
well is not taught as wrong). Training still starts from the untuned checkpoint.

`--topics` takes another topics file of the same form (by default the one the shipped weights
were tuned on), `--out` writes the tuned tensors elsewhere than the shipped file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ROOT / "benchmarks" / "relevance" / "tuning" / "topics.jsonl"
OUT = ROOT / "newsletter" / "match" / "tuned" / "topics.safetensors"
BATCH, EPOCHS, RATE, TOKENS = 64, 1.0, 2e-5, 96  # 96 tokens: a third less CPU than 128
NEAR_SHARE, NEAREST = 0.95, 5  # a negative stays under 95 % of the positive's cosine; 1 of 5


def papers(git_dir: str, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """Each wanted paper's title, and its text as the product embeds it: title, abstract."""
    listing = subprocess.run(["git", "-C", git_dir, "ls-tree", "-r", "--name-only", "data"],
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    found: dict[str, tuple[str, str]] = {}
    for day in sorted(n for n in listing if re.fullmatch(r"data/[\d-]+\.jsonl", n)):
        lines = subprocess.run(["git", "-C", git_dir, "show", f"data:{day}"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        for line in lines.splitlines():
            paper = json.loads(line)
            pid = re.sub(r"v\d+$", "", paper.get("id", ""))
            if pid in wanted and pid not in found:
                title, abstract = (" ".join(paper[k].split()) for k in ("title", "summary"))
                found[pid] = (title, f"{title}. {abstract}")
    return found


Negatives = dict[tuple[str, str], str]  # (topic, its paper's id) -> another paper's id
Entry = dict[str, Any]  # a line of TOPICS: {"id": arXiv id, "topics": [three topics]}


def pairs(
    entries: list[Entry], texts: dict[str, tuple[str, str]], negatives: Negatives | None
) -> list[dict[str, str]]:
    """(topic, paper) for each of a paper's topics, and (one of its topics, its title alone):
    the product embeds titles alone too. With `negatives`, each row has a third text: the
    negative paper's, in the same form as the positive."""
    rng, rows = random.Random(29), []
    for entry in entries:
        pid, (title, text) = entry["id"], texts[entry["id"]]
        chosen = rng.choice(entry["topics"])
        for topic, which in [(t, 1) for t in entry["topics"]] + [(chosen, 0)]:
            row = {"anchor": topic, "positive": (title, text)[which]}
            if negatives is not None:
                row["negative"] = texts[negatives[topic, pid]][which]
            rows.append(row)
    rng.shuffle(rows)
    return rows


def mined(
    base: Path, overlay: Path, entries: list[Entry], texts: dict[str, tuple[str, str]]
) -> Negatives:
    """For each (topic, paper), one of the NEAREST papers an earlier tuned model ranks closest
    to the topic among those under NEAR_SHARE of the topic's own paper's cosine, and not
    given the same topic by the helpers."""
    ids = [e["id"] for e in entries]
    model = _model(base, overlay)
    docs = model.encode([texts[i][1] for i in ids], batch_size=64, normalize_embeddings=True)
    asked = [(t, e["id"]) for e in entries for t in e["topics"]]
    queries = model.encode([t for t, _ in asked], batch_size=256, normalize_embeddings=True)
    same: dict[str, set[int]] = {}
    for row, entry in enumerate(entries):
        for topic in entry["topics"]:
            same.setdefault(topic.lower(), set()).add(row)
    rng, where, out = random.Random(29), {pid: row for row, pid in enumerate(ids)}, {}
    for (topic, pid), query in zip(asked, queries, strict=True):
        cosines = docs @ query
        ceiling, taken = NEAR_SHARE * cosines[where[pid]], same[topic.lower()]
        allowed = (int(r) for r in np.argsort(-cosines) if cosines[r] < ceiling and r not in taken)
        out[topic, pid] = ids[rng.choice(list(itertools.islice(allowed, NEAREST)))]
    return out


def _model(base: Path, overlay: Path | None = None) -> Any:
    """all-MiniLM-L6-v2 in sentence-transformers, with an earlier tuning's tensors laid over."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = TOKENS
    if overlay is not None:
        tensors = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(overlay).items()}
        _, unknown = model[0].auto_model.load_state_dict(tensors, strict=False)
        assert not unknown, f"{overlay}: not tensors of the checkpoint: {unknown}"
    return model


def train(base: Path, rows: list[dict[str, str]], into: Path) -> None:
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.training_args import BatchSamplers

    torch.manual_seed(29)
    model, guide = _model(base), _model(base)
    # The word table stays the checkpoint's: half the weights, then not shipped twice.
    model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    # GIST: the untuned model as guide keeps a batch-mate that is just as relevant from
    # counting as a negative (broad topics fit many papers of a batch).
    loss = losses.GISTEmbedLoss(model, guide)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(into / "run"), num_train_epochs=EPOCHS, per_device_train_batch_size=BATCH,
        learning_rate=RATE, warmup_ratio=0.1, batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no", report_to="none", seed=29, dataloader_drop_last=True,
    )  # fmt: skip
    dataset = Dataset.from_list(rows)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss).train()
    model.save(str(into / "model"))


def overlay(base: Path, tuned: Path) -> dict[str, np.ndarray]:
    """Every tensor tuning changed, in float16, under the checkpoint's own names."""
    before = load_file(base / "model.safetensors")
    after = {k.removeprefix("bert."): v for k, v in load_file(tuned / "model.safetensors").items()}
    return {name: after[name].astype(np.float16) for name, tensor in before.items()
            if name in after and not np.array_equal(after[name], tensor)}  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from newsletter.match import bert

    parser = argparse.ArgumentParser(description="Tune all-MiniLM-L6-v2 on readers' topics.")
    parser.add_argument("papers_git_dir")
    parser.add_argument("--mine-with", type=Path, help="an earlier tuning's overlay")
    parser.add_argument("--topics", type=Path, default=TOPICS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    base = bert.minilm_folder()
    bert.verify_minilm(base)
    entries = [json.loads(line) for line in args.topics.read_text().splitlines()]
    texts = papers(args.papers_git_dir, {entry["id"] for entry in entries})
    negatives = mined(base, args.mine_with, entries, texts) if args.mine_with else None
    with tempfile.TemporaryDirectory() as scratch:
        train(base, pairs(entries, texts, negatives), Path(scratch))
        changed = overlay(base, Path(scratch) / "model")
    args.out.parent.mkdir(exist_ok=True)
    save_file(changed, str(args.out), metadata={"format": "pt"})
    print(f"{args.out}: {len(changed)} tensors, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
