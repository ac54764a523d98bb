"""Subscribing: the form and its POST; the JSON API (api.py) shares `subscribe_reader`.
The answer is the same whether the address was new or known; the confirmation mail goes
after the answer, in the background, so its timing says nothing about the address either."""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.exceptions import HTTPException

from newsletter.delivery import issues
from newsletter.delivery.mailer import SendError, SmtpMailer
from newsletter.delivery.sendtime import DAYS, parse_day
from newsletter.digest import profile
from newsletter.digest.render import MailTemplates
from newsletter.models import Subscriber
from newsletter.readers import examples, links, optin
from newsletter.readers.validate import (
    MAX_TOPIC_LEN,
    InvalidInput,
    Schedule,
    about,
    clean_topics,
    normalise_email,
    split_topics,
)
from newsletter.settings import Settings
from newsletter.web.pages import Refused
from newsletter.web.state import DB, State, WebState

log = logging.getLogger("newsletter.web")
router = APIRouter()
TYPED_COOKIE = "typed"  # the address typed into the form, signed, for the next page
CHECK_INBOX = "If the address can receive our mail, a message is on its way: follow its link."


class TooMany(HTTPException):
    """Over the per-address limit: when to try again, in words and in Retry-After."""

    def __init__(self, wait: float) -> None:
        self.minutes = max(1, math.ceil(wait / 60))
        super().__init__(429, f"Too many requests for this address: try again in "
                         f"{self.minutes} minute{'s' if self.minutes > 1 else ''}.",
                         headers={"Retry-After": str(math.ceil(wait))})  # fmt: skip


MAX_ANSWERS = 400  # papers answered in the previews while subscribing (8 for each of 50 topics)


class Answer(BaseModel):
    """A paper of a topic's preview, answered "Yes, like this" (like) or "Not this"."""

    topic: str = Field(max_length=MAX_TOPIC_LEN)
    arxiv_id: str = Field(max_length=32)
    like: bool


class SubscribeIn(BaseModel):
    email: str = Field(max_length=320)
    topics: list[str] | str = Field(max_length=5000)
    send_day: str = Field("mon", max_length=10)
    send_hour: int = Field(8, ge=0, le=23)
    timezone: str = Field("UTC", max_length=64)
    examples: list[Answer] = Field(default_factory=list, max_length=MAX_ANSWERS)

    def topic_list(self) -> list[str]:
        return split_topics(self.topics) if isinstance(self.topics, str) else self.topics


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def subscribe_form(request: Request, session: DB, web: State) -> HTMLResponse:
    return web.pages.page(request, "subscribe", suggestions=web.suggestions.get(session),
                          days=DAYS, latest=issues.latest(session=session))  # fmt: skip


def subscribe_reader(
    data: SubscribeIn,
    request: Request,
    session: Session,
    web: WebState,
    background: BackgroundTasks,
) -> str:
    """Shared by the form and the API; raises InvalidInput or returns the address as
    normalised."""
    settings = web.settings
    ip = request.client.host if request.client else "unknown"
    if not web.limiter.allow(f"ip:{ip}", settings.subscribe_limit_per_ip):
        raise HTTPException(429, "Too many requests from your address; try again later.")
    with about("send_day"):
        day = parse_day(data.send_day)
    with about("timezone"):
        schedule = Schedule(data.timezone or "UTC", day, data.send_hour).checked()
    with about("email"):
        email = normalise_email(data.email)
    per_email = (f"email:{email}", settings.subscribe_limit_per_email)
    if (wait := web.limiter.wait(*per_email)) > 0:
        raise TooMany(wait)
    with about("topics"):
        topics = clean_topics(data.topic_list())
    with about("examples"):
        given = [(a.topic, a.arxiv_id, a.like) for a in data.examples]
        answers = examples.answered(given, topics, session=session)
    outgoing = optin.request(email, topics, schedule, keys=settings.signing_keys,
                             session=session, answers=answers)  # fmt: skip
    # Counted once accepted, not when refused: a typo must not lock the address out. Every
    # accepted request counts, mailed or not (a suppressed address), so the limit says
    # nothing about the address.
    web.limiter.allow(*per_email)
    if outgoing is not None:  # sent after the answer, once the unit of work has committed
        background.add_task(send_optin_mail, outgoing, settings, web.mail)
    return email


def send_optin_mail(
    outgoing: optin.Outgoing,
    settings: Settings,
    mail: MailTemplates,
    reader: Subscriber | None = None,
) -> None:
    """Runs after the answer (and after the request's unit of work has committed)."""
    mailer = SmtpMailer(settings)
    try:
        mailer.send(optin.message(outgoing, settings, mail, reader), outgoing.to)
    except SendError as exc:
        log.warning("opt-in mail for subscriber %s not sent: %s", outgoing.subscriber_id, exc)
    finally:
        mailer.close()


@router.post("/subscribe", response_class=HTMLResponse, status_code=303)
def subscribe(
    request: Request,
    session: DB,
    web: State,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)],
    topics: Annotated[str, Form(max_length=5000)],
    send_day: Annotated[str, Form(max_length=10)] = "mon",
    send_hour: Annotated[int, Form(ge=0, le=23)] = 8,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    like: Annotated[list[str] | None, Form(max_length=MAX_ANSWERS)] = None,
    unwanted: Annotated[list[str] | None, Form(alias="not", max_length=MAX_ANSWERS)] = None,
    preview: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    answers = [_answer(v, True) for v in like or []] + [_answer(v, False) for v in unwanted or []]
    data = SubscribeIn(email=email, topics=topics, send_day=send_day, send_hour=send_hour,
                       timezone=timezone, examples=[a for a in answers if a])  # fmt: skip
    if preview:  # "Show what my topics find", without JavaScript: the form again, answerable
        return _previewed(request, session, web, data)
    try:
        address = subscribe_reader(data, request, session, web, background)
    except (InvalidInput, TooMany) as exc:
        # The form again, as typed, with what was wrong or when to try again.
        status, field = (422, exc.field) if isinstance(exc, InvalidInput) else (429, None)
        message = str(exc) if isinstance(exc, InvalidInput) else exc.detail
        suggested = web.suggestions.get(session)
        kept = _previews(data, session, web) if data.examples else []  # the answers shown
        form = web.pages.page(request, "subscribe", status, error=message, error_field=field,
                              form=data, days=DAYS, suggestions=suggested,
                              previews=kept)  # fmt: skip
        if isinstance(exc, TooMany):
            form.headers.update(exc.headers or {})
        raise Refused(form) from exc
    # POST, redirect, GET: reloading the answer sends nothing again. The address goes in a
    # short-lived cookie for that page only, not in its URL, which access logs keep.
    answer = RedirectResponse("/subscribed", status_code=303)
    answer.set_cookie(TYPED_COOKIE, links.sign_address(web.settings, address), max_age=3600,
                      path="/subscribed", secure=request.url.scheme == "https", httponly=True,
                      samesite="lax")  # fmt: skip
    return answer


def _answer(value: str, like: bool) -> Answer | None:
    """A preview's checkbox: its value is the paper's arXiv id, a space, and the topic."""
    arxiv_id, _, topic = value.partition(" ")
    return Answer(topic=topic, arxiv_id=arxiv_id, like=like) if topic else None


def _previewed(request: Request, session: Session, web: WebState, data: SubscribeIn
               ) -> HTMLResponse:  # fmt: skip
    """The subscribe form as typed, with each topic's preview and the answers given so far."""
    ip = request.client.host if request.client else "unknown"
    if not web.limiter.allow(f"preview:{ip}", web.settings.preview_limit_per_ip):
        raise HTTPException(429, "Too many previews from your address; try again later.")
    suggested = web.suggestions.get(session)
    try:
        with about("topics"):
            clean_topics(data.topic_list())
    except InvalidInput as exc:
        return web.pages.page(request, "subscribe", 422, error=str(exc), error_field=exc.field,
                              form=data, days=DAYS, suggestions=suggested)  # fmt: skip
    return web.pages.page(request, "subscribe", form=data, days=DAYS, suggestions=suggested,
                          previews=_previews(data, session, web))  # fmt: skip


def _previews(data: SubscribeIn, session: Session, web: WebState) -> list[dict[str, Any]]:
    """Each topic's preview, with the answers given so far ([] while a topic is not valid)."""
    try:
        topics = clean_topics(data.topic_list())
    except InvalidInput:
        return []
    answers = {(examples.key(a.topic), a.arxiv_id): a.like for a in data.examples}
    previews = []
    for topic in topics[: profile.PREVIEWED]:
        found = profile.topic_preview(topic, web.settings, session=session, cache=web.issues)
        for paper in found["papers"]:
            paper["answer"] = answers.get((examples.key(topic), paper["arxiv_id"]))
        previews.append(found)
    return previews


@router.get("/subscribed", response_class=HTMLResponse)
def check_inbox(request: Request, web: State) -> HTMLResponse:
    """The same page whether the address was new or known: it repeats what was typed."""
    email = links.read_address(web.settings, request.cookies.get(TYPED_COOKIE, ""))
    return web.pages.page(request, "check_inbox", email=email, sender=web.settings.sender_address)
