"""The Kaggle (Cornell) arXiv metadata snapshot: one JSON object per line, as
`arxiv-metadata-oai-snapshot.json` holds them. A paper is "featured" on the day of its
first version; titles and abstracts are hard-wrapped and are made one line each."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import BaseModel

from newsletter.ingest import NonBlank, PaperRecord, clean_arxiv_id, line


class _Version(BaseModel):
    created: str


class _Item(BaseModel):
    id: str
    title: NonBlank
    abstract: NonBlank
    categories: str = ""
    authors_parsed: list[list[str]] = []
    versions: list[_Version]


def is_item(raw: Any) -> bool:
    """A snapshot line (a Daily Papers item has a "paper" object instead)."""
    return isinstance(raw, dict) and "abstract" in raw and "paper" not in raw


def parse_item(raw: Any) -> PaperRecord:
    """Raises pydantic's ValidationError or ValueError for an item that is not a paper."""
    item = _Item.model_validate(raw)
    if not item.versions:
        raise ValueError("no versions")
    first = parsedate_to_datetime(item.versions[0].created)
    return PaperRecord(
        arxiv_id=clean_arxiv_id(item.id),
        title=line(item.title),
        abstract=line(item.abstract),
        featured_on=first.date(),
        source="arxiv",
        authors=[_name(parts) for parts in item.authors_parsed if parts and parts[0].strip()],
        published_at=first,
        categories=item.categories.split(),
    )


def _name(parts: list[str]) -> str:
    """["Nadolsky", "P. M.", ""] -> "P. M. Nadolsky"."""
    last, first, suffix = [*parts, "", ""][:3]
    return line(" ".join(p for p in (first, last, suffix) if p.strip()))
