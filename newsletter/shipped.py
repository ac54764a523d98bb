"""Files shipped inside the package: the templates, the migrations and the sample papers.

They are found through importlib.resources, so they work from a wheel, an image or an
editable install alike, wherever the current folder is; never through the clone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE = "hf_daily_papers_2026-05-12.json"


def _folder(package: str) -> Path:
    # Installed on a file system (never zipped), so the resource folder is a real path.
    return Path(str(resources.files(package)))


def templates_dir() -> Path:
    return _folder("newsletter.templates")


def migrations_dir() -> Path:
    return _folder("newsletter.migrations")


def sample_papers() -> bytes:
    return (resources.files("newsletter") / "sample" / SAMPLE).read_bytes()
