"""Add a ranker's papers to the blind set's pools, TREC-style: the top `--depth` of the
engine and of the model's cosine alone, with the embedding model NEWSLETTER_EMBEDDING_MODEL
names, that no grade covers yet. Development code.

    NEWSLETTER_EMBEDDING_MODEL=DIR .venv/bin/python benchmarks/relevance/pool_more.py \\
        --label contextual --out /tmp/pool-more          # judge files, one per topic
    .venv/bin/python benchmarks/relevance/pool_more.py --merge /tmp/pool-more

Judges write `NN.grades.json` ({"arXiv id": grade}) beside each `NN.txt`; `--merge` adds
those grades to `blind/judgments/` and the rankers to `blind/pools.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.relevance.evaluate import BLIND, engine, load_blind, model, space_of  # noqa: E402
from newsletter.match import semantic  # noqa: E402


def add(shared: Path, label: str, out: Path, depth: int) -> None:
    papers, grades, _ = load_blind(shared)
    space = space_of(papers)
    if space is None:
        raise SystemExit(f"no embedding model: {semantic.why_not(model())}")
    ids = [p.arxiv_id for p in papers]
    by_id = {p.arxiv_id: p for p in papers}

    def dense(topic: str) -> list[str]:
        return [ids[i] for i in np.argsort(-space.similarity(topic))[:depth]]

    rankers = {f"engine ({label})": engine(papers, depth, space=space), f"dense ({label})": dense}
    topics = [t["topic"] for t in json.loads((BLIND / "topics.json").read_text())["topics"]]
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for n, topic in enumerate(topics):
        found: dict[str, list[str]] = {}
        for name, rank in rankers.items():
            for ident in rank(topic)[:depth]:
                found.setdefault(ident, []).append(name)
        new = {i: r for i, r in found.items() if i not in grades.get(topic, {})}
        total += len(new)
        (out / f"{n:02d}.rankers.json").write_text(json.dumps(new, indent=0, sort_keys=True))
        lines = [f"TOPIC: {topic}", ""]
        for ident in sorted(new, key=lambda i: random.Random(f"{topic}:{i}").random()):
            p = by_id[ident]
            text = p.abstract + (f" [AI summary: {p.ai_summary}]" if p.ai_summary else "")
            lines += [f"ID: {ident}", f"TITLE: {p.title}", f"ABSTRACT: {text}", ""]
        (out / f"{n:02d}.txt").write_text("\n".join(lines))
    print(f"{total} new papers to judge over {len(topics)} topics; files in {out}")


def merge(folder: Path) -> None:
    pools = json.loads((BLIND / "pools.json").read_text())
    for graded in sorted(folder.glob("*.grades.json")):
        n = graded.name.split(".")[0]
        path = BLIND / "judgments" / f"{n}.json"
        judged = json.loads(path.read_text())
        new = json.loads(graded.read_text())
        rankers = json.loads((folder / f"{n}.rankers.json").read_text())
        if set(new) != set(rankers):
            raise SystemExit(f"{graded}: grades {len(new)} papers, the pool added {len(rankers)}")
        judged["grades"].update({i: int(g) for i, g in new.items()})
        pool = pools[judged["topic"]]
        for ident, names in rankers.items():
            pool[ident] = sorted(set(pool.get(ident, [])) | set(names))
        pools[judged["topic"]] = dict(sorted(pool.items()))
        path.write_text(json.dumps(judged, indent=1) + "\n")
    (BLIND / "pools.json").write_text(json.dumps(pools, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--label", default="contextual")
    parser.add_argument("--out", type=Path, default=Path("/tmp/pool-more"))
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--merge", type=Path, help="fold judged files from this folder in")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge)
    else:
        add(args.shared, args.label, args.out, args.depth)


if __name__ == "__main__":
    main()
