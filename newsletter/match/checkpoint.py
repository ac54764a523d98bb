"""A model folder an operator brings (NEWSLETTER_EMBEDDING_MODEL=FOLDER): its manifest,
`newsletter-model.json` beside its files, pins every file by sha256 and holds the model's
own calibration, the three numbers that say where its cosines count.

`newsletter model pull` writes the manifest's files (and where they came from) as it
downloads them, `newsletter model calibrate` the calibration, fitted on a judged tune half.
A folder is loaded only if every file stands as pinned and it has a calibration: another
model's numbers would give it quietly wrong picks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "newsletter-model.json"
_IGNORED = (MANIFEST, ".cache", ".gitattributes", ".git")  # not the model: download bookkeeping


@dataclass(frozen=True)
class Calibration:
    """Where a model's cosines count. Each model has its own scale (a contextual one spreads
    unrelated texts lower than a static one), so each has its own numbers."""

    floor: float  # cosine (+ word bonus) a paper needs to match on meaning alone
    bonus: float  # times the share of the topic's words the paper holds
    agreement: float  # the cosine at which meaning agrees with a passing mention


@dataclass
class Manifest:
    files: dict[str, str]  # path in the folder -> sha256
    calibration: Calibration | None = None
    fitted: dict[str, Any] = field(default_factory=dict)  # on what, and how it scored there
    source: dict[str, str] = field(default_factory=dict)  # {"repo", "revision"} if pulled


def file_hashes(folder: Path) -> dict[str, str]:
    """Every file of the model in `folder` (sub-folders too), by path, with its sha256."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in _IGNORED:
            with path.open("rb") as file:
                found[relative.as_posix()] = hashlib.file_digest(file, "sha256").hexdigest()
    return found


def read(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    calibration = data.get("calibration")
    return Manifest(
        files=dict(data["files"]),
        calibration=Calibration(**calibration) if calibration else None,
        fitted=dict(data.get("fitted", {})),
        source=dict(data.get("source", {})),
    )


def write(folder: Path, manifest: Manifest) -> None:
    data = asdict(manifest) | {"written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    (folder / MANIFEST).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def verify(folder: Path, pinned: dict[str, str]) -> None:
    """Refuse `folder`, with one line, unless its files are exactly the pinned ones."""
    found = file_hashes(folder)
    for name, expected in pinned.items():
        if name not in found:
            raise ValueError(f"{folder} lacks {name}, which {MANIFEST} pins")
        if found[name] != expected:
            raise ValueError(
                f"{folder}: {name} is not the file {MANIFEST} pins (sha256 {found[name]})"
            )
    if extra := sorted(found.keys() - pinned.keys()):
        raise ValueError(f"{folder} holds {extra[0]}, which {MANIFEST} does not pin")


def calibration_hint(folder: Path) -> str:
    return (
        f"fit its numbers on a judged tune half: "
        f"newsletter model calibrate {folder} --judged benchmarks/relevance/blind"
    )
