"""The paper table. Upsert PaperRecords on arXiv id: a paper seen again gets its new upvotes
and metadata, keeps the day it was first featured (the week it trended), and is never
stored twice. The reads of papers (a week's window, papers by id) are here too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field

from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select

from newsletter.ingest import PaperRecord, Parsed
from newsletter.models import Paper, utcnow

_CHUNK = 500
_UPDATABLE = (
    "title",
    "abstract",
    "authors",
    "upvotes",
    "ai_summary",
    "ai_keywords",
    "categories",
    "github_url",
    "project_url",
    "published_at",
)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def upsert(parsed: Parsed, *, session: Session) -> IngestReport:
    report = IngestReport(skipped=list(parsed.skipped))
    records = _dedupe(parsed.records)
    ids = list(records)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        existing = {
            p.arxiv_id: p for p in session.exec(select(Paper).where(col(Paper.arxiv_id).in_(chunk)))
        }
        for arxiv_id in chunk:
            _apply(records[arxiv_id], existing.get(arxiv_id), report, session)
    session.flush()
    return report


def _dedupe(records: Iterable[PaperRecord]) -> dict[str, PaperRecord]:
    """The same paper twice in one feed: keep the earliest featured day and the most upvotes."""
    out: dict[str, PaperRecord] = {}
    for record in records:
        seen = out.get(record.arxiv_id)
        if seen is not None:
            record.featured_on = min(record.featured_on, seen.featured_on)
            record.upvotes = max(record.upvotes, seen.upvotes)
        out[record.arxiv_id] = record
    return out


def _apply(
    record: PaperRecord, paper: Paper | None, report: IngestReport, session: Session
) -> None:
    if paper is None:
        session.add(Paper(**asdict(record)))
        report.added += 1
        return
    changed = False
    for name in _UPDATABLE:
        new = getattr(record, name)
        # An arXiv re-ingest must not wipe what the richer Daily Papers source gave us.
        if new in (None, [], 0) or getattr(paper, name) == new:
            continue
        setattr(paper, name, new)
        changed = True
    if changed:
        paper.ingested_at = utcnow()  # tells workers' caches that the week's papers changed
    report.updated += changed
    report.unchanged += not changed


def _window(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return and_(col(Paper.featured_on) >= start, col(Paper.featured_on) <= end)


def window_stamp(start: dt.date, end: dt.date, *, session: Session) -> tuple[int, object]:
    """(count, newest ingest time) of the window's papers: one small query that tells a
    cache whether the week's papers changed."""
    count, newest = session.exec(
        select(func.count(), func.max(Paper.ingested_at)).where(_window(start, end))
    ).one()
    return int(count), newest


def in_window(start: dt.date, end: dt.date, *, session: Session) -> list[Paper]:
    return list(session.exec(select(Paper).where(_window(start, end)).order_by(col(Paper.id))))


def most_upvoted(start: dt.date, end: dt.date, limit: int, *, session: Session) -> list[Paper]:
    query = select(Paper).where(_window(start, end))
    query = query.order_by(col(Paper.upvotes).desc(), col(Paper.arxiv_id)).limit(limit)
    return list(session.exec(query))


def by_ids(ids: Collection[int], *, session: Session) -> dict[int, Paper]:
    rows = session.exec(select(Paper).where(col(Paper.id).in_(list(ids))))
    return {p.id: p for p in rows if p.id is not None}
