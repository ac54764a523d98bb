""" "More like this" and "Not for me" from a digest: `/feedback/{token}/{paper}/{more|less}`,
whose token (one per digest) signs the reader and the issue.

GET changes nothing (mail scanners open every link): it shows the paper and the vote as a
button. POST records the vote and says what changes, with an undo and the reader's profile
(the manage page). A forged or expired token (90 days), a reader who is gone, or a paper
that was not sent to that reader in that issue all get the same 404 as any bad link: the
paper in the path counts only if the ledger says it went to that reader in that issue.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from newsletter.delivery import ledger
from newsletter.ingest import store as papers
from newsletter.match.feedback import LIKE
from newsletter.models import Paper, Subscriber
from newsletter.readers import feedback, links, store, votes
from newsletter.readers.validate import InvalidInput
from newsletter.web.pages import Refused, not_found
from newsletter.web.state import DB, State, WebState

router = APIRouter()
AUTHORS_SHOWN = 12  # "not interested in this author" offers the first ones


Named = tuple[links.Feedback, Subscriber, Paper]


def _vote_of(token: str, paper_id: str, word: str, web: WebState, session: Session) -> Named:
    try:
        vote = links.read_feedback(web.settings, token, paper_id, word)
    except links.InvalidToken:
        raise not_found() from None
    reader = store.get(vote.reader_id, session=session)
    paper = papers.by_ids([vote.paper_id], session=session).get(vote.paper_id)
    sent = ledger.sent_paper(vote.reader_id, vote.paper_id, vote.issue_id, session=session)
    if reader is None or reader.link_key != vote.key or paper is None or not sent:
        raise not_found()
    return vote, reader, paper


def _page(request: Request, web: WebState, token: str, named: Named, session: Session,
          status: int = 200, **context: object) -> HTMLResponse:  # fmt: skip
    vote, reader, paper = named
    assert reader.id is not None and paper.id is not None
    return web.pages.page(
        request, "feedback", status, paper=paper, like=vote.vote == LIKE,
        authors=paper.authors[:AUTHORS_SHOWN], reasons=votes.REASONS,
        action=f"/feedback/{token}{links.feedback_path(paper.id, vote.vote)}",
        current=votes.get(reader.id, paper.id, session=session),
        profile=links.link(web.settings, links.Purpose.MANAGE, reader), **context,
    )  # fmt: skip


PATH = "/feedback/{token}/{paper}/{vote}"


@router.get(PATH, response_class=HTMLResponse)
def feedback_page(
    request: Request, token: str, paper: str, vote: str, session: DB, web: State
) -> HTMLResponse:
    return _page(request, web, token, _vote_of(token, paper, vote, web, session), session)


@router.post(PATH, response_class=HTMLResponse)
def cast_vote(
    request: Request,
    token: str,
    paper: str,
    vote: str,
    session: DB,
    web: State,
    reason: Annotated[str | None, Form(max_length=16)] = None,
    author: Annotated[str | None, Form(max_length=300)] = None,
) -> HTMLResponse:
    named = link, reader, voted = _vote_of(token, paper, vote, web, session)
    if author and not reason:  # an author picked is the reason, whether or not it was ticked
        reason = "author"
    try:
        feedback.cast(reader, voted, link.issue_id, link.vote, reason=reason or None,
                      author=author if reason == "author" else None, session=session)  # fmt: skip
    except InvalidInput as exc:
        page = _page(request, web, token, named, session, 422, error=str(exc))
        raise Refused(page) from exc
    return _page(request, web, token, named, session, done="voted")


@router.post(PATH + "/undo", response_class=HTMLResponse)
def undo_vote(
    request: Request, token: str, paper: str, vote: str, session: DB, web: State
) -> HTMLResponse:
    named = _, reader, voted = _vote_of(token, paper, vote, web, session)
    assert voted.id is not None
    feedback.retract(reader, voted.id, session=session)
    return _page(request, web, token, named, session, done="undone")
