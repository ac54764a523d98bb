"""The paper table. Upsert PaperRecords on arXiv id: a paper seen again gets its new upvotes
and metadata, keeps the day it was first featured (the week it trended), and is never
stored twice. The reads of papers (a week's window, papers by id) are here too, and their
vectors for matching by meaning: made at ingest for every paper without a current one."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, delete, select

from newsletter.ingest import PaperRecord, Parsed, cuts
from newsletter.match.semantic import Encoder, Space, text_of
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
    cut: dict[str, list[str]] = field(default_factory=dict)  # what was cut: from which papers

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def upsert(parsed: Parsed, *, session: Session, encoder: Encoder | None = None) -> IngestReport:
    """Store the papers; with an encoder, embed every paper that has no current vector."""
    records = _dedupe(parsed.records)
    report = IngestReport(skipped=list(parsed.skipped), cut=cuts(records.values()))
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
        session.add(Paper(**_columns(record)))
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


def _columns(record: PaperRecord) -> dict[str, Any]:
    columns = asdict(record)
    del columns["cut"]  # what the caps cut is said in the report, not stored
    return columns


def _window(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return and_(col(Paper.featured_on) >= start, col(Paper.featured_on) <= end)


def window_stamp(start: dt.date, end: dt.date, *, session: Session) -> tuple[int, object]:
    """(count, newest ingest time) of the window's papers: one small query that tells a
    cache whether the week's papers changed."""
    count, newest = session.exec(
        select(func.count(), func.max(Paper.ingested_at)).where(_window(start, end))
    ).one()
    return int(count), newest


def latest_day(*, session: Session) -> dt.date | None:
    """The day the newest ingested paper was featured, if any."""
    return session.exec(select(func.max(Paper.featured_on))).one()


def in_window(start: dt.date, end: dt.date, *, session: Session) -> list[Paper]:
    return list(session.exec(select(Paper).where(_window(start, end)).order_by(col(Paper.id))))


def most_upvoted(start: dt.date, end: dt.date, limit: int, *, session: Session) -> list[Paper]:
    query = select(Paper).where(_window(start, end))
    query = query.order_by(col(Paper.upvotes).desc(), col(Paper.arxiv_id)).limit(limit)
    return list(session.exec(query))


def stored_arxiv_ids(arxiv_ids: Collection[str], *, session: Session) -> set[str]:
    """Which of these arXiv ids are stored."""
    query = select(Paper.arxiv_id).where(col(Paper.arxiv_id).in_(list(arxiv_ids)))
    return set(session.exec(query))


def by_ids(ids: Collection[int], *, session: Session) -> dict[int, Paper]:
    rows = session.exec(select(Paper).where(col(Paper.id).in_(list(ids))))
    return {p.id: p for p in rows if p.id is not None}


# --- vectors ----------------------------------------------------------------------------------


def _id(paper: Paper) -> int:
    assert paper.id is not None  # stored papers only
    return paper.id


def _text_hash(paper: Paper) -> str:
    embedded = "\n".join([text_of(paper), *paper.ai_keywords])
    return hashlib.sha256(embedded.encode()).hexdigest()[:16]


def embed_stale(encoder: Encoder, *, session: Session) -> int:
    """Embed and store every paper whose vector is missing (new, or its text changed), from
    another model, or stored without its keywords' (before migration 0011). Returns how many."""
    stale = (
        select(Paper)
        .outerjoin(PaperEmbedding, col(PaperEmbedding.paper_id) == col(Paper.id))
        .where(
            or_(
                col(PaperEmbedding.model).is_(None),
                col(PaperEmbedding.model) != encoder.name,
                col(PaperEmbedding.keywords).is_(None),
            )
        )
        .order_by(col(Paper.id))
    )
    done = 0
    while papers := list(session.exec(stale.limit(_CHUNK))):
        _store(papers, encoder.papers(papers), encoder.keywords(papers), encoder, session)
        done += len(papers)
    return done


def _store(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    keywords: list[np.ndarray],
    encoder: Encoder,
    session: Session,
) -> None:
    ids = [_id(p) for p in papers]
    session.exec(delete(PaperEmbedding).where(col(PaperEmbedding.paper_id).in_(ids)))
    session.add_all(
        PaperEmbedding(
            paper_id=_id(p),
            model=encoder.name,
            text_hash=_text_hash(p),
            vector=v.astype("<f4").tobytes(),
            keywords=k.astype("<f2").tobytes(),
        )
        for p, v, k in zip(papers, vectors, keywords, strict=True)
    )
    session.flush()


def space(papers: Sequence[Paper], encoder: Encoder, *, session: Session) -> Space:
    """The papers' vectors and their keywords', in order (`vectors`): a week to match by
    meaning, with no text embedded here but what the last ingest did not store."""
    rows = _current(papers, encoder, session)
    stale = [p for p in papers if _id(p) not in rows or rows[_id(p)].keywords is None]
    fresh = dict(zip(map(_id, stale), encoder.keywords(stale), strict=True))
    keywords = [fresh[_id(p)] if _id(p) in fresh else _keywords(rows[_id(p)]) for p in papers]
    return Space(encoder, vectors(papers, encoder, session=session, rows=rows), keywords)


def _keywords(row: PaperEmbedding) -> np.ndarray:
    assert row.keywords is not None
    dimensions = len(row.vector) // 4  # the paper's own vector, float32
    return np.frombuffer(row.keywords, dtype="<f2").reshape(-1, dimensions)


def _current(
    papers: Sequence[Paper], encoder: Encoder, session: Session
) -> dict[int, PaperEmbedding]:
    """The papers' stored rows from this model whose text is current, by paper id."""
    stored: dict[int, PaperEmbedding] = {}
    ids = [_id(p) for p in papers]
    for start in range(0, len(ids), _CHUNK):
        query = select(PaperEmbedding).where(
            col(PaperEmbedding.paper_id).in_(ids[start : start + _CHUNK]),
            PaperEmbedding.model == encoder.name,
        )
        stored.update({e.paper_id: e for e in session.exec(query)})
    return {_id(p): row for p in papers
            if (row := stored.get(_id(p))) and row.text_hash == _text_hash(p)}  # fmt: skip


def vectors(
    papers: Sequence[Paper],
    encoder: Encoder,
    *,
    session: Session,
    rows: dict[int, PaperEmbedding] | None = None,
) -> np.ndarray:
    """The papers' vectors, one row each in order: the stored ones where model and text are
    current (`rows`, if already read), the rest computed here and not stored (readers of the
    week, such as workers, do not write; the next ingest stores them)."""
    rows = _current(papers, encoder, session) if rows is None else rows
    stale = [p for p in papers if _id(p) not in rows]
    fresh = dict(zip(map(_id, stale), encoder.papers(stale), strict=True))
    found = [fresh[_id(p)] if _id(p) in fresh else np.frombuffer(rows[_id(p)].vector, dtype="<f4")
             for p in papers]  # fmt: skip
    return np.vstack(found) if found else np.zeros((0, 0), dtype=np.float32)
