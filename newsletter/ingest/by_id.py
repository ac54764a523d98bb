"""Papers a reader names as examples (arXiv ids or links) that are not stored yet: fetched
from the arXiv API and stored like any ingested paper, so their vectors can be made."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from newsletter.ingest import Parsed, arxiv, clean_arxiv_id
from newsletter.ingest import store as papers
from newsletter.ingest.http import FetchError, make_client
from newsletter.readers.validate import InvalidInput
from newsletter.settings import Settings

MAX_FETCHED = 50  # papers fetched for one answer: arXiv's API is shared, and slow on purpose


def fetch_missing(references: Iterable[str], settings: Settings, *, session: Session) -> int:
    """Store the named papers arXiv knows that are not stored yet; returns how many. Raises
    InvalidInput, storing nothing, for a reference that is not an arXiv id, a paper arXiv
    does not know, or arXiv out of reach."""
    try:
        wanted = {clean_arxiv_id(r) for r in references}
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    missing = sorted(wanted - papers.stored_arxiv_ids(wanted, session=session))
    if not missing:
        return 0
    if len(missing) > MAX_FETCHED:
        raise InvalidInput(f"at most {MAX_FETCHED} papers not seen before at a time")
    try:
        with make_client(settings) as client:
            found = arxiv.fetch_ids(client, missing, settings=settings)
    except FetchError as exc:
        raise InvalidInput(f"arXiv could not be reached to fetch {missing[0]}: {exc}") from exc
    records = [r for r in found.records if r.arxiv_id in missing]
    if unknown := sorted(set(missing) - {r.arxiv_id for r in records}):
        raise InvalidInput(f"paper {unknown[0]} is not on arXiv")
    papers.upsert(Parsed(records=records), session=session)
    return len(records)
