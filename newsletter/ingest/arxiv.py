"""arXiv: the export API's Atom feed, the RSS listing and OAI-PMH `ListRecords` pages
(`metadataPrefix=arXiv`) -> PaperRecords, and paged fetching from the export API.

An arXiv paper has no upvotes; it is "featured" on the day it was published (OAI-PMH: the
day its first version was created).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree

from newsletter.ingest import FeedError, PaperRecord, Parsed, clean_arxiv_id, line
from newsletter.ingest.http import get_with_retries
from newsletter.settings import Settings

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
}
OAI = {"oai": "http://www.openarchives.org/OAI/2.0/", "arx": "http://arxiv.org/OAI/arXiv/"}
PAGE_SIZE = 100


def parse_xml(content: bytes | str) -> Parsed:
    """Read an arXiv Atom feed or RSS listing; raises FeedError if it is neither."""
    try:
        root = ElementTree.fromstring(content)
    except Exception as exc:  # defusedxml raises several types for hostile or broken XML
        raise FeedError(f"not well-formed XML: {exc}") from exc
    if root.tag == f"{{{NS['atom']}}}feed":
        return _parse_entries(root.findall("atom:entry", NS), _atom_record)
    if root.tag == "rss":
        day = _rss_day(root)
        return _parse_entries(root.findall("channel/item"), lambda e: _rss_record(e, day))
    if root.tag == f"{{{OAI['oai']}}}OAI-PMH":
        records = root.findall("oai:ListRecords/oai:record/oai:metadata/arx:arXiv", OAI)
        return _parse_entries(records, _oai_record)
    raise FeedError(f"not an arXiv Atom feed, RSS listing or OAI-PMH page (root {root.tag!r})")


def _parse_entries(entries: list[Element], build: Callable[[Element], PaperRecord]) -> Parsed:
    parsed = Parsed()
    for index, entry in enumerate(entries):
        try:
            parsed.records.append(build(entry))
        except (ValueError, AttributeError, TypeError) as exc:
            parsed.skipped.append(f"entry {index}: {exc}")
    return parsed


def _text(entry: Element, path: str, namespaces: dict[str, str] = NS) -> str:
    node = entry.find(path, namespaces)
    if node is None or not (node.text or "").strip():
        raise ValueError(f"missing {path.split(':')[-1]}")
    return node.text or ""


def _atom_record(entry: Element) -> PaperRecord:
    published = dt.datetime.fromisoformat(_text(entry, "atom:published").replace("Z", "+00:00"))
    return PaperRecord(
        arxiv_id=clean_arxiv_id(_text(entry, "atom:id")),
        title=line(_text(entry, "atom:title")),
        abstract=line(_text(entry, "atom:summary")),
        featured_on=published.date(),
        source="arxiv",
        authors=[line(n.text) for n in entry.findall("atom:author/atom:name", NS) if n.text],
        published_at=published,
        categories=[c.get("term", "") for c in entry.findall("atom:category", NS) if c.get("term")],
    )


def _oai_record(meta: Element) -> PaperRecord:
    created = dt.date.fromisoformat(_text(meta, "arx:created", OAI).strip())
    names = (
        " ".join(
            filter(None, (a.findtext(f"arx:{part}", "", OAI) for part in ("forenames", "keyname")))
        )
        for a in meta.findall("arx:authors/arx:author", OAI)
    )
    return PaperRecord(
        arxiv_id=clean_arxiv_id(_text(meta, "arx:id", OAI)),
        title=line(_text(meta, "arx:title", OAI)),
        abstract=line(_text(meta, "arx:abstract", OAI)),
        featured_on=created,
        source="arxiv",
        authors=[line(name) for name in names if name.strip()],
        published_at=dt.datetime.combine(created, dt.time(), tzinfo=dt.UTC),
        categories=(meta.findtext("arx:categories", "", OAI) or "").split(),
    )


def _rss_day(root: Element) -> dt.date:
    raw = root.findtext("channel/pubDate") or root.findtext("channel/lastBuildDate")
    if not raw:
        raise FeedError("RSS listing has no pubDate")
    return parsedate_to_datetime(raw).date()


def _rss_record(item: Element, day: dt.date) -> PaperRecord:
    description = _text(item, "description")
    abstract = description.split("Abstract:", 1)[-1]
    creators = item.findtext("dc:creator", default="", namespaces=NS)
    category = item.findtext("category")
    return PaperRecord(
        arxiv_id=clean_arxiv_id(_text(item, "link")),
        title=line(_text(item, "title")),
        abstract=line(abstract),
        featured_on=day,
        source="arxiv",
        authors=[line(a) for a in creators.split(",") if a.strip()],
        categories=[category] if category else [],
    )


def fetch(
    client: httpx.Client,
    categories: list[str],
    *,
    since: dt.date,
    max_results: int,
    settings: Settings,
) -> Parsed:
    """Newest papers of `categories` back to `since`, page by page, politely spaced."""
    query = " OR ".join(f"cat:{c}" for c in categories)
    parsed = Parsed()
    for start in range(0, max_results, PAGE_SIZE):
        if start:
            time.sleep(settings.arxiv_delay_seconds)  # arXiv asks for 3 s between calls
        params: dict[str, str | int] = {
            "search_query": query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": start,
            "max_results": min(PAGE_SIZE, max_results - start),
        }
        page = parse_xml(
            get_with_retries(
                client, settings.arxiv_api_url, params=params, settings=settings
            ).content
        )
        parsed.skipped.extend(page.skipped)
        parsed.records.extend(r for r in page.records if r.featured_on >= since)
        if len(page.records) < PAGE_SIZE or min(r.featured_on for r in page.records) < since:
            break
    return parsed


def fetch_ids(client: httpx.Client, ids: list[str], *, settings: Settings) -> Parsed:
    """The papers with these arXiv ids, those arXiv knows, in one call."""
    params: dict[str, str | int] = {"id_list": ",".join(ids), "max_results": len(ids)}
    response = get_with_retries(client, settings.arxiv_api_url, params=params, settings=settings)
    return parse_xml(response.content)
