"""The readers' web app: subscribe, confirm, manage, unsubscribe, view an issue in the browser.

Every token route answers a bad, tampered or wrong-purpose token with the same 404
page. Subscribing answers the same whether the address was new or known. Pages are
server-rendered forms that work without JavaScript.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsletter import campaign, compose, optin, tokens
from newsletter.db import session_scope
from newsletter.mailer import SendError, SmtpMailer
from newsletter.match import Pick
from newsletter.models import Delivery, DeliveryStatus, Issue, Paper, Subscriber, SubscriberStatus
from newsletter.ratelimit import RateLimiter
from newsletter.sendtime import DAYS, parse_day
from newsletter.settings import Settings, get_settings
from newsletter.shipped import templates_dir
from newsletter.subscribers import InvalidInput, Schedule, normalise_email

log = logging.getLogger("newsletter.web")
app = FastAPI(title="Trending papers", docs_url=None, redoc_url=None, openapi_url=None)
# Web pages escape everything; unlike the emails' templates, optional values may be absent.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(templates_dir()), autoescape=True)
)
limiter = RateLimiter()
CHECK_INBOX = "If the address can receive our mail, a message is on its way: follow its link."

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' https:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # token URLs must not leak to linked sites
    "Cache-Control": "no-store",
}


@app.middleware("http")
async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def db() -> Iterator[Session]:
    # Handlers commit before answering; this commits anything left and rolls back on error.
    with session_scope() as session:
        yield session


DB = Annotated[Session, Depends(db)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, f"web/{name}.html", context, status_code=status)


def notice(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return page(request, "notice", status, title=title, text=text)


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    title = "Page not found" if exc.status_code == 404 else "Something went wrong"
    text = "This link is not valid. Links in our emails work as sent; check it was copied whole."
    return notice(
        request, title, text if exc.status_code == 404 else str(exc.detail), exc.status_code
    )


@app.exception_handler(RequestValidationError)
async def bad_request(request: Request, exc: RequestValidationError) -> Response:
    err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    detail = f"{'.'.join(str(p) for p in err['loc'][1:]) or 'request'}: {err['msg']}"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=422)
    return notice(request, "Please check the form", detail, 422)


def not_found() -> StarletteHTTPException:
    return StarletteHTTPException(404, "not found")


def reader_for(
    token: str, purpose: tokens.Purpose, session: Session
) -> tuple[Subscriber, list[int]]:
    try:
        payload = tokens.read(get_settings(), purpose, token)
    except tokens.InvalidToken:
        raise not_found() from None
    reader = session.get(Subscriber, payload[0])
    if reader is None:
        raise not_found()
    return reader, payload


# --- subscribe ---------------------------------------------------------------------------

_popular: tuple[float, list[str]] | None = None


def popular_topics(session: Session, count: int = 8) -> list[str]:
    """The most followed topics of recent readers, cached for five minutes. Filled on first
    use whatever the clock says: time.monotonic() counts from boot, so it may be near 0."""
    global _popular
    if _popular is None or time.monotonic() - _popular[0] > 300:
        rows = session.exec(
            select(Subscriber.topics)
            .where(campaign.ACTIVE)
            .order_by(col(Subscriber.id).desc())
            .limit(5000)
        )
        counts = Counter(t.strip().lower() for topics in rows for t in topics)
        _popular = (time.monotonic(), [t for t, _ in counts.most_common(count)])
    return _popular[1]


@app.get("/", response_class=HTMLResponse)
def subscribe_form(request: Request, session: DB) -> HTMLResponse:
    return page(request, "subscribe", suggestions=popular_topics(session), days=DAYS)


class SubscribeIn(BaseModel):
    email: str = Field(max_length=320)
    topics: list[str] | str = Field(max_length=5000)
    send_day: str = Field("mon", max_length=10)
    send_hour: int = Field(8, ge=0, le=23)
    timezone: str = Field("UTC", max_length=64)

    def topic_list(self) -> list[str]:
        return optin.split_topics(self.topics) if isinstance(self.topics, str) else self.topics


def _subscribe(
    data: SubscribeIn, request: Request, session: Session, background: BackgroundTasks
) -> None:
    """Shared by the form and the API; raises InvalidInput or returns quietly."""
    settings = get_settings()
    ip = request.client.host if request.client else "unknown"
    if not limiter.allow(f"ip:{ip}", settings.subscribe_limit_per_ip):
        raise StarletteHTTPException(429, "Too many requests from your address; try again later.")
    try:
        schedule = Schedule(data.timezone or "UTC", parse_day(data.send_day), data.send_hour)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if not limiter.allow(
        f"email:{normalise_email(data.email)}", settings.subscribe_limit_per_email
    ):
        raise StarletteHTTPException(429, "Too many requests for this address; try again later.")
    outgoing = optin.request(data.email, data.topic_list(), schedule, session=session)
    session.commit()  # before the answer and the mail: its link must find the reader
    if outgoing is not None:
        background.add_task(send_optin_mail, outgoing, settings)


def send_optin_mail(outgoing: optin.Outgoing, settings: Settings) -> None:
    """After the answer has gone, so the answer's timing says nothing about the address."""
    mailer = SmtpMailer(settings)
    try:
        mailer.send(optin.message(outgoing, settings), outgoing.to)
    except SendError as exc:
        log.warning("opt-in mail for subscriber %s not sent: %s", outgoing.subscriber_id, exc)
    finally:
        mailer.close()


@app.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    session: DB,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)],
    topics: Annotated[str, Form(max_length=5000)],
    send_day: Annotated[str, Form(max_length=10)] = "mon",
    send_hour: Annotated[int, Form(ge=0, le=23)] = 8,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
) -> HTMLResponse:
    data = SubscribeIn(
        email=email, topics=topics, send_day=send_day, send_hour=send_hour, timezone=timezone
    )
    try:
        _subscribe(data, request, session, background)
    except InvalidInput as exc:
        session.rollback()
        return page(
            request,
            "subscribe",
            422,
            error=str(exc),
            form=data,
            days=DAYS,
            suggestions=popular_topics(session),
        )
    return notice(request, "Check your inbox", CHECK_INBOX)


@app.post("/api/subscribe", status_code=202)
def subscribe_api(
    data: SubscribeIn, request: Request, session: DB, background: BackgroundTasks
) -> JSONResponse:
    try:
        _subscribe(data, request, session, background)
    except InvalidInput as exc:
        session.rollback()
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse({"status": "check your inbox", "detail": CHECK_INBOX}, status_code=202)


# --- confirm -----------------------------------------------------------------------------


def _confirm_token(token: str, session: Session) -> tuple[Subscriber, bool]:
    try:
        subscriber_id, expired = tokens.read_confirm(get_settings(), token)
    except tokens.InvalidToken:
        raise not_found() from None
    reader = session.get(Subscriber, subscriber_id)
    if reader is None:
        raise not_found()
    return reader, expired


@app.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, session: DB) -> HTMLResponse:
    reader, expired = _confirm_token(token, session)
    if reader.status == SubscriberStatus.CONFIRMED:
        return notice(request, "You are subscribed", "This address is already confirmed.")
    if expired:
        return page(request, "expired", 410, action=f"/confirm/{token}/resend")
    # A button, not an automatic confirm: link scanners that open the URL confirm nothing.
    return page(
        request,
        "action",
        title="Confirm your subscription",
        button="Confirm",
        text=f"Confirm that {reader.email} wants the weekly digest.",
        action=f"/confirm/{token}",
    )


@app.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, session: DB) -> HTMLResponse:
    reader, expired = _confirm_token(token, session)
    if expired and reader.status != SubscriberStatus.CONFIRMED:
        return page(request, "expired", 410, action=f"/confirm/{token}/resend")
    optin.confirm(reader, request.client.host if request.client else None, session=session)
    session.commit()
    assert reader.id is not None
    manage = tokens.link(get_settings(), tokens.Purpose.MANAGE, reader.id)
    return page(
        request,
        "done",
        title="You are subscribed",
        text="Your first digest comes at your next send time.",
        link=manage,
        link_text="Manage your topics",
    )


@app.post("/confirm/{token}/resend", response_class=HTMLResponse)
def confirm_resend(
    request: Request, token: str, session: DB, background: BackgroundTasks
) -> HTMLResponse:
    reader, _ = _confirm_token(token, session)
    settings = get_settings()
    if (
        reader.status != SubscriberStatus.CONFIRMED
        and reader.id is not None
        and limiter.allow(f"email:{reader.email}", settings.subscribe_limit_per_email)
    ):
        background.add_task(
            send_optin_mail, optin.Outgoing(reader.email, "confirm", reader.id), settings
        )
    return notice(request, "Check your inbox", CHECK_INBOX)


# --- manage and unsubscribe --------------------------------------------------------------


@app.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, token: str, session: DB) -> HTMLResponse:
    reader, _ = reader_for(token, tokens.Purpose.MANAGE, session)
    return page(request, "manage", reader=reader, days=DAYS, action=f"/manage/{token}")


@app.post("/manage/{token}", response_class=HTMLResponse)
def manage(
    request: Request,
    token: str,
    session: DB,
    topics: Annotated[str, Form(max_length=5000)],
    send_day: Annotated[str, Form(max_length=10)] = "mon",
    send_hour: Annotated[int, Form(ge=0, le=23)] = 8,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    paused: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    reader, _ = reader_for(token, tokens.Purpose.MANAGE, session)
    try:
        schedule = Schedule(timezone, parse_day(send_day), send_hour)
        optin.update(reader, optin.split_topics(topics), schedule, paused, session=session)
        session.commit()
    except (InvalidInput, ValueError) as exc:
        session.rollback()
        session.refresh(reader)
        return page(
            request,
            "manage",
            422,
            reader=reader,
            days=DAYS,
            error=str(exc),
            action=f"/manage/{token}",
        )
    return page(request, "manage", reader=reader, days=DAYS, saved=True, action=f"/manage/{token}")


@app.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: DB) -> HTMLResponse:
    reader, _ = reader_for(token, tokens.Purpose.UNSUBSCRIBE, session)
    return page(
        request,
        "action",
        title="Unsubscribe",
        button="Unsubscribe",
        text=f"Stop the weekly digest to {reader.email}.",
        action=f"/unsubscribe/{token}",
    )


@app.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, session: DB) -> HTMLResponse:
    """The button, and RFC 8058 one-click (body `List-Unsubscribe=One-Click`, no cookies)."""
    reader, _ = reader_for(token, tokens.Purpose.UNSUBSCRIBE, session)
    optin.unsubscribe(reader, session=session)
    session.commit()  # honoured at once, before the answer
    return notice(
        request,
        "You are unsubscribed",
        "You will get no more digests. You can subscribe again at any time.",
    )


@app.get("/issues/{token}", response_class=HTMLResponse)
def view_issue(token: str, session: DB) -> HTMLResponse:
    reader, payload = reader_for(token, tokens.Purpose.VIEW, session)
    delivery = session.get(Delivery, payload[1]) if len(payload) == 2 else None
    if (
        delivery is None
        or delivery.subscriber_id != reader.id
        or delivery.status != DeliveryStatus.SENT
    ):
        raise not_found()
    issue = session.get(Issue, delivery.issue_id)
    papers = {
        p.id: p for p in session.exec(select(Paper).where(col(Paper.id).in_(delivery.paper_ids)))
    }
    picks = [
        Pick.from_record(r, papers[r["paper_id"]])
        for r in delivery.picks
        if r.get("paper_id") in papers
    ]
    if issue is None or not picks:
        raise not_found()
    ctx = compose.context_for(issue, get_settings(), session=session)
    composed = compose.compose_picks(reader, picks, ctx, settings=get_settings())
    return HTMLResponse(composed.rendered.html)


@app.get("/app.js", include_in_schema=False)
def script() -> Response:
    # Fills the timezone field from the browser; the form works without it (UTC).
    body = (
        "var tz=document.getElementById('timezone');"
        "if(tz&&!tz.dataset.touched){try{tz.value=Intl.DateTimeFormat()"
        ".resolvedOptions().timeZone||tz.value}catch(e){}}"
    )
    return Response(
        body, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )
