"""Local files in the sources' own formats: a Daily Papers JSON array, JSONL of the same
items or of the Kaggle arXiv snapshot, or an arXiv Atom/RSS/OAI-PMH document. The format is
told from the content, not the name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError

from newsletter.ingest import FeedError, Parsed, arxiv, hf, kaggle, load_json

MAX_BYTES = 64 * 1024 * 1024


def parse_file(path: Path, featured_on: dt.date | None = None) -> Parsed:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise FeedError(f"{path} is larger than {MAX_BYTES // 2**20} MiB")
        content = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return parse_bytes(content, featured_on)
    except FeedError as exc:
        raise FeedError(f"{path.name}: {exc}") from exc


def parse_bytes(content: bytes, featured_on: dt.date | None = None) -> Parsed:
    """The file's papers; raises FeedError when it holds none, so nothing is written."""
    parsed = _parse(content, featured_on)
    if not parsed.records:
        found = f"{len(parsed.skipped)} items, none a paper" if parsed.skipped else "no items"
        first = f" (first: {parsed.skipped[0]})" if parsed.skipped else ""
        raise FeedError(f"the file holds no papers: {found}{first}")
    return parsed


def _parse(content: bytes, featured_on: dt.date | None) -> Parsed:
    head = content.lstrip()[:1]
    if head == b"<":
        return arxiv.parse_xml(content)
    if head == b"[":
        return hf.parse_items(_json(content), featured_on)
    if head == b"{":
        return _jsonl(content, featured_on)
    raise FeedError(
        "not a Daily Papers JSON array, a JSONL file (Daily Papers or the Kaggle arXiv snapshot)"
        " or an arXiv Atom, RSS or OAI-PMH document"
    )


def _json(content: bytes) -> object:
    try:
        return load_json(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"invalid JSON: {exc}") from exc


def _jsonl(content: bytes, featured_on: dt.date | None) -> Parsed:
    parsed = Parsed()
    lines = content.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = load_json(line)
        except (ValueError, UnicodeDecodeError) as exc:
            if number == 1:
                raise FeedError(f"invalid JSON on line 1: {exc}") from exc
            parsed.skipped.append(f"line {number}: invalid JSON")
            continue
        if kaggle.is_item(item):
            try:
                parsed.records.append(kaggle.parse_item(item))
            except (ValidationError, ValueError) as exc:
                parsed.skipped.append(f"line {number}: {hf.first_error(exc)}")
            continue
        one = hf.parse_items([item], featured_on)
        parsed.records.extend(one.records)
        parsed.skipped.extend(s.replace("item 0", f"line {number}", 1) for s in one.skipped)
    return parsed
