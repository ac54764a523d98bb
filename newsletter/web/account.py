"""A reader's own links: confirm (double opt-in), manage, unsubscribe. Each token names one
reader and one purpose; a bad, tampered or wrong-purpose token is the same 404 page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from newsletter.delivery.sendtime import DAYS, parse_day
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.readers import links, optin, store
from newsletter.readers.validate import InvalidInput, Schedule, split_topics
from newsletter.settings import Settings
from newsletter.web.pages import Refused, not_found
from newsletter.web.state import DB, State
from newsletter.web.subscribe import CHECK_INBOX, send_optin_mail

router = APIRouter()


def reader_for(
    token: str, purpose: links.Purpose, settings: Settings, session: Session
) -> tuple[Subscriber, list[int]]:
    try:
        payload = links.read(settings, purpose, token)
    except links.InvalidToken:
        raise not_found() from None
    reader = store.get(payload[0], session=session)
    if reader is None:
        raise not_found()
    return reader, payload


def _confirm_token(token: str, settings: Settings, session: Session) -> tuple[Subscriber, bool]:
    try:
        subscriber_id, expired = links.read_confirm(settings, token)
    except links.InvalidToken:
        raise not_found() from None
    reader = store.get(subscriber_id, session=session)
    if reader is None:
        raise not_found()
    return reader, expired


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, expired = _confirm_token(token, web.settings, session)
    if reader.status == SubscriberStatus.CONFIRMED:
        return web.pages.notice(request, "You are subscribed", "This address is already confirmed.")
    if expired:
        return web.pages.page(request, "expired", 410, action=f"/confirm/{token}/resend")
    # A button, not an automatic confirm: link scanners that open the URL confirm nothing.
    return web.pages.action(
        request,
        "Confirm your subscription",
        f"Confirm that {reader.email} wants the weekly digest.",
        button="Confirm",
        action=f"/confirm/{token}",
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, expired = _confirm_token(token, web.settings, session)
    if expired and reader.status != SubscriberStatus.CONFIRMED:
        return web.pages.page(request, "expired", 410, action=f"/confirm/{token}/resend")
    optin.confirm(reader, request.client.host if request.client else None, session=session)
    assert reader.id is not None
    return web.pages.page(
        request,
        "done",
        title="You are subscribed",
        text="Your first digest comes at your next send time.",
        link=links.link(web.settings, links.Purpose.MANAGE, reader.id),
        link_text="Manage your topics",
    )


@router.post("/confirm/{token}/resend", response_class=HTMLResponse)
def confirm_resend(
    request: Request, token: str, session: DB, web: State, background: BackgroundTasks
) -> HTMLResponse:
    reader, _ = _confirm_token(token, web.settings, session)
    if (
        reader.status != SubscriberStatus.CONFIRMED
        and reader.id is not None
        and web.limiter.allow(f"email:{reader.email}", web.settings.subscribe_limit_per_email)
    ):
        outgoing = optin.Outgoing(reader.email, "confirm", reader.id)
        background.add_task(send_optin_mail, outgoing, web.settings, web.mail)
    return web.pages.notice(request, "Check your inbox", CHECK_INBOX)


@router.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.MANAGE, web.settings, session)
    return web.pages.page(request, "manage", reader=reader, days=DAYS, action=f"/manage/{token}")


@router.post("/manage/{token}", response_class=HTMLResponse)
def manage(
    request: Request,
    token: str,
    session: DB,
    web: State,
    topics: Annotated[str, Form(max_length=5000)],
    send_day: Annotated[str, Form(max_length=10)] = "mon",
    send_hour: Annotated[int, Form(ge=0, le=23)] = 8,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    paused: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.MANAGE, web.settings, session)
    try:
        schedule = Schedule(timezone, parse_day(send_day), send_hour)
        optin.set_preferences(reader, split_topics(topics), schedule, paused, session=session)
    except (InvalidInput, ValueError) as exc:
        form = web.pages.page(request, "manage", 422, reader=reader, days=DAYS, error=str(exc),
                              action=f"/manage/{token}")  # fmt: skip
        raise Refused(form) from exc
    return web.pages.page(
        request, "manage", reader=reader, days=DAYS, saved=True, action=f"/manage/{token}"
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    return web.pages.action(
        request,
        "Unsubscribe",
        f"Stop the weekly digest to {reader.email}.",
        button="Unsubscribe",
        action=f"/unsubscribe/{token}",
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    """The button, and RFC 8058 one-click (body `List-Unsubscribe=One-Click`, no cookies).
    Honoured at once: the request's unit of work commits before the answer."""
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    optin.unsubscribe(reader, session=session)
    return web.pages.notice(
        request,
        "You are unsubscribed",
        "You will get no more digests. You can subscribe again at any time.",
    )
