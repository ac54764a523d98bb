"""The paper table. Upsert PaperRecords on arXiv id: a paper seen again gets its new upvotes
and metadata, keeps the day it was first featured (the week it trended), and is never
stored twice. The reads of papers (a week's window, papers by id) are here too, and their
vectors for matching by meaning: made at ingest for every paper without a current one."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, delete, select

from newsletter.ingest import PaperRecord, Parsed
from newsletter.match.semantic import Encoder, text_of
from newsletter.models import Paper, PaperEmbedding, utcnow

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
    embedded: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def upsert(parsed: Parsed, *, session: Session, encoder: Encoder | None = None) -> IngestReport:
    """Store the papers; with an encoder, embed every paper that has no current vector."""
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
    if encoder is not None:
        report.embedded = embed_stale(encoder, session=session)
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
    changed, before = False, _text_hash(paper)
    for name in _UPDATABLE:
        new = getattr(record, name)
        # An arXiv re-ingest must not wipe what the richer Daily Papers source gave us.
        if new in (None, [], 0) or getattr(paper, name) == new:
            continue
        setattr(paper, name, new)
        changed = True
    if changed:
        paper.ingested_at = utcnow()  # tells workers' caches that the week's papers changed
    if _text_hash(paper) != before:  # its vector is stale: embed_stale makes a new one
        session.exec(delete(PaperEmbedding).where(col(PaperEmbedding.paper_id) == paper.id))
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


# --- vectors ----------------------------------------------------------------------------------


def _id(paper: Paper) -> int:
    assert paper.id is not None  # stored papers only
    return paper.id


def _text_hash(paper: Paper) -> str:
    return hashlib.sha256(text_of(paper).encode()).hexdigest()[:16]


def embed_stale(encoder: Encoder, *, session: Session) -> int:
    """Embed and store every paper whose vector is missing (new, or its text changed) or
    from another model. Returns how many."""
    stale = (
        select(Paper)
        .outerjoin(PaperEmbedding, col(PaperEmbedding.paper_id) == col(Paper.id))
        .where(or_(col(PaperEmbedding.model).is_(None), col(PaperEmbedding.model) != encoder.name))
        .order_by(col(Paper.id))
    )
    done = 0
    while papers := list(session.exec(stale.limit(_CHUNK))):
        _store(papers, encoder.papers(papers), encoder, session)
        done += len(papers)
    return done


def _store(
    papers: Sequence[Paper], vectors: np.ndarray, encoder: Encoder, session: Session
) -> None:
    ids = [_id(p) for p in papers]
    session.exec(delete(PaperEmbedding).where(col(PaperEmbedding.paper_id).in_(ids)))
    session.add_all(
        PaperEmbedding(
            paper_id=_id(p),
            model=encoder.name,
            text_hash=_text_hash(p),
            vector=v.astype("<f4").tobytes(),
        )
        for p, v in zip(papers, vectors, strict=True)
    )
    session.flush()


def vectors(papers: Sequence[Paper], encoder: Encoder, *, session: Session) -> np.ndarray:
    """The papers' vectors, one row each in order: the stored ones where model and text are
    current, the rest computed here and not stored (readers of the week, such as workers,
    do not write; the next ingest stores them)."""
    stored: dict[int, PaperEmbedding] = {}
    ids = [_id(p) for p in papers]
    for start in range(0, len(ids), _CHUNK):
        query = select(PaperEmbedding).where(
            col(PaperEmbedding.paper_id).in_(ids[start : start + _CHUNK]),
            PaperEmbedding.model == encoder.name,
        )
        stored.update({e.paper_id: e for e in session.exec(query)})
    stale = [n for n, p in enumerate(papers)
             if _id(p) not in stored or stored[_id(p)].text_hash != _text_hash(p)]  # fmt: skip
    fresh = dict(zip(stale, encoder.papers([papers[n] for n in stale]), strict=True))
    rows = [fresh[n] if n in fresh else np.frombuffer(stored[_id(p)].vector, dtype="<f4")
            for n, p in enumerate(papers)]  # fmt: skip
    return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
