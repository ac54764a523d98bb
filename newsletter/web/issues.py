""" "View in browser": a sent digest rendered again from its stored picks, without the
personal parts (address, topics, manage and unsubscribe links), since a web copy's URL
gets shared; a reader's private Atom feed of their digests; and the public pages that hold
no reader: privacy, the script, the icon."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from newsletter.delivery import issues, ledger
from newsletter.digest.render import Digest, headline
from newsletter.ingest import store as papers
from newsletter.match.engine import Pick
from newsletter.readers import links
from newsletter.shipped import templates_dir
from newsletter.web.account import reader_for
from newsletter.web.pages import not_found
from newsletter.web.state import DB, State

router = APIRouter()


@router.get("/feed/{token}.atom", include_in_schema=False)
def private_feed(token: str, session: DB, web: State) -> Response:
    """A reader's own digests, for a feed reader: each links to its web copy. The link holds
    the reader's feed key, so raising the key (manage page) revokes it."""
    reader, named = reader_for(token, links.Purpose.FEED, web.settings, session)
    if named.extra != reader.feed_key or reader.id is None:
        raise not_found()
    sent = ledger.sent_to(reader.id, session=session)
    found = papers.by_ids({i for d in sent for i in d.paper_ids}, session=session)
    entries = []
    for delivery in sent:
        picks = [found[i] for i in delivery.paper_ids if i in found]
        if not picks or delivery.sent_at is None or delivery.id is None:
            continue
        entries.append(
            {
                "title": headline(len(picks), picks[0].title),
                "id": f"mid:{(delivery.message_id or '').strip('<>')}",
                "link": links.link(web.settings, links.Purpose.VIEW, reader, delivery.id),
                "updated": delivery.sent_at,
                "summary": "; ".join(p.title for p in picks),
            }
        )
    body = web.pages.render(
        "feed.atom",
        entries=entries,
        feed_id=f"{web.settings.base_url}/feed/{reader.id}",
        updated=entries[0]["updated"] if entries else reader.created_at,
    )
    return Response(body, media_type="application/atom+xml")


@router.get("/issues/{token}", response_class=HTMLResponse)
def view_issue(token: str, session: DB, web: State) -> HTMLResponse:
    reader, named = reader_for(token, links.Purpose.VIEW, web.settings, session)
    assert reader.id is not None and named.extra is not None
    delivery = ledger.sent_delivery(named.extra, reader.id, session=session)
    if delivery is None:
        raise not_found()
    issue = issues.by_ids([delivery.issue_id], session=session).get(delivery.issue_id)
    found = papers.by_ids(delivery.paper_ids, session=session)
    picks = [Pick.from_record(r, found[r["paper_id"]]) for r in delivery.picks
             if r.get("paper_id") in found]  # fmt: skip
    if issue is None or not picks:
        raise not_found()
    digest = Digest(web.mail, issue.dates, web.settings.postal_address)
    return HTMLResponse(digest.render(picks, recipient=None).html)


def _static(name: str, media_type: str) -> Response:
    body = (templates_dir() / "web" / name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/app.js", include_in_schema=False)
def script() -> Response:
    return _static("app.js", "text/javascript")


@router.get("/favicon.svg", include_in_schema=False)
@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return _static("favicon.svg", "image/svg+xml")


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, web: State) -> HTMLResponse:
    return web.pages.page(request, "privacy", min_readers=web.settings.suggest_min_readers)
