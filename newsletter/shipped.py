"""Files shipped inside the package: the templates, the migrations and the sample papers.

They are found through importlib.resources, so they work from a wheel, an image or an
editable install alike, wherever the current folder is; never through the clone.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path


def _folder(package: str) -> Path:
    # Installed on a file system (never zipped), so the resource folder is a real path.
    return Path(str(resources.files(package)))


def templates_dir() -> Path:
    return _folder("newsletter.templates")


def migrations_dir() -> Path:
    return _folder("newsletter.migrations")


def sample_days() -> list[tuple[dt.date, bytes]]:
    """The bundled sample: the real Daily Papers of one week (2026-02-02 to 02-06), by day."""
    folder = resources.files("newsletter") / "sample"
    days = sorted(f.name for f in folder.iterdir() if f.name.startswith("hf_daily_papers_"))
    return [(dt.date.fromisoformat(name[16:26]), (folder / name).read_bytes()) for name in days]
