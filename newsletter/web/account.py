"""A reader's own links: confirm (double opt-in), manage, unsubscribe. Each token names one
reader and one purpose; a bad, tampered or wrong-purpose token is the same 404 page."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from newsletter.delivery.sendtime import DAYS, parse_day
from newsletter.digest import profile
from newsletter.ingest import by_id
from newsletter.ingest.bibtex import MAX_BYTES, arxiv_ids
from newsletter.match import taught
from newsletter.match.interests import shown, shown_exclusions
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.readers import examples, feedback, links, optin, store
from newsletter.readers.validate import (
    MAX_TOPIC_LEN,
    InvalidInput,
    Schedule,
    about,
    clean_exclusions,
    split_topics,
)
from newsletter.settings import Settings
from newsletter.web.pages import Refused, not_found
from newsletter.web.state import DB, State, WebState
from newsletter.web.subscribe import CHECK_INBOX, send_optin_mail

router = APIRouter()


def reader_for(
    token: str, purpose: links.Purpose, settings: Settings, session: Session
) -> tuple[Subscriber, links.Token]:
    """The reader a genuine link names, and what it says; anything else is the same 404: a
    bad token, a reader who is gone, or a link key the reader has since replaced."""
    try:
        named = links.read(settings, purpose, token)
    except links.InvalidToken:
        raise not_found() from None
    reader = store.get(named.reader_id, session=session)
    if reader is None or named.key != reader.link_key:
        raise not_found()
    return reader, named


def _managed(request: Request, token: str, web: WebState, session: Session) -> Subscriber:
    """The reader a manage link names. An expired one answers with a button that mails a
    fresh link to the reader's own inbox; the page names no address and no status."""
    reader, named = reader_for(token, links.Purpose.MANAGE, web.settings, session)
    if named.expired:
        days = web.settings.manage_link_days
        raise Refused(web.pages.page(
            request, "expired", 410, title="This link to your settings has expired",
            text=f"Links to your settings work for {days} days. We can email a fresh one to "
            "the address it was sent to.", action=f"/manage/{token}/renew",
        ))  # fmt: skip
    return reader


def _mail(background: BackgroundTasks, web: WebState, reader: Subscriber, session: Session,
          kind: str) -> None:  # fmt: skip
    """A mail the reader asked for by a link: never to a suppressed address, and at most
    as often as a subscription request."""
    allowed = web.limiter.allow(f"email:{reader.email}", web.settings.subscribe_limit_per_email)
    if allowed and optin.mailable(reader, keys=web.settings.signing_keys, session=session):
        outgoing = optin.outgoing(reader, kind)
        background.add_task(send_optin_mail, outgoing, web.settings, web.mail)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, named = reader_for(token, links.Purpose.CONFIRM, web.settings, session)
    if reader.status == SubscriberStatus.CONFIRMED:
        # A fresh manage link only while the confirm link is young: an old one opens nothing.
        manage = None if named.expired else links.link(web.settings, links.Purpose.MANAGE, reader)
        return web.pages.page(request, "done", title="You are subscribed",
                              text="This address is already confirmed.",
                              link=manage, link_text="Change topics, day or time")  # fmt: skip
    if named.expired:
        return _confirm_expired(request, web, token)
    # A button, not an automatic confirm: link scanners that open the URL confirm nothing.
    return web.pages.action(
        request,
        "Confirm your subscription",
        f"Confirm that {reader.email} wants the weekly digest. One press is needed because "
        "mail security scanners open every link in a message: only a person confirms.",
        button="Confirm",
        action=f"/confirm/{token}",
    )


def _confirm_expired(request: Request, web: WebState, token: str) -> HTMLResponse:
    return web.pages.page(
        request, "expired", 410, title="This confirmation link has expired",
        text=f"Confirmation links work for {web.settings.confirm_max_age_days} days. We can "
        "send you a fresh one.", action=f"/confirm/{token}/resend",
    )  # fmt: skip


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(
    request: Request, token: str, session: DB, web: State, background: BackgroundTasks
) -> HTMLResponse:
    reader, named = reader_for(token, links.Purpose.CONFIRM, web.settings, session)
    if named.expired and reader.status != SubscriberStatus.CONFIRMED:
        return _confirm_expired(request, web, token)
    newly = reader.status != SubscriberStatus.CONFIRMED
    optin.confirm(reader, request.client.host if request.client else None, session=session)
    if newly:  # the welcome mail keeps the manage link where the reader can find it again
        welcome = optin.outgoing(reader, "welcome")
        background.add_task(send_optin_mail, welcome, web.settings, web.mail, reader)
    return web.pages.page(
        request,
        "done",
        title="You are subscribed",
        text=f"Your first digest comes {optin.first_digest(reader, web.settings)}, on your "
        f"topics: {', '.join(shown(reader.topics, reader.follows))}. We have emailed you "
        "this page's link too.",
        warnings=_unmatched(reader, web, session),
        link=links.link(web.settings, links.Purpose.MANAGE, reader),
        link_text="Change topics, day or time",
    )


def _unmatched(reader: Subscriber, web: WebState, session: Session) -> list[str]:
    """A line for each topic that matched nothing in the latest week, with a likely fix."""
    state, _ = profile.preview_state(web.settings, session=session, cache=web.issues)
    if not state.matcher.papers:
        return []  # no papers yet at all: nothing to tell
    return [
        f"Nothing in the papers of {state.issue.dates} matched “{t['topic']}”"
        + (f": did you mean “{t['did_you_mean']}”?" if t["did_you_mean"] else ".")
        for t in profile.topic_report(reader.topics, state)
        if not t["papers"]
    ]


@router.post("/confirm/{token}/resend", response_class=HTMLResponse)
def confirm_resend(
    request: Request, token: str, session: DB, web: State, background: BackgroundTasks
) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.CONFIRM, web.settings, session)
    if reader.status != SubscriberStatus.CONFIRMED:
        _mail(background, web, reader, session, "confirm")
    return web.pages.notice(request, "Check your inbox", CHECK_INBOX)


def _form(reader: Subscriber) -> dict[str, object]:
    """The manage form's fields, as the reader has them."""
    return {
        "topics": "\n".join(reader.topics),
        "exclusions": "\n".join(shown_exclusions(reader.exclusions)),
        "send_day": reader.send_day,
        "send_hour": reader.send_hour,
        "timezone": reader.timezone,
        "paused": reader.paused,
    }


def _feed(web: WebState, reader: Subscriber) -> str:
    return links.link(web.settings, links.Purpose.FEED, reader, reader.feed_key)


def _manage(request: Request, web: WebState, reader: Subscriber, token: str, session: Session,
            status: int = 200, **context: object) -> HTMLResponse:  # fmt: skip
    context.setdefault("form", _form(reader))
    context.setdefault("feed", _feed(web, reader))
    view = profile.of(reader, web.settings, session=session, cache=web.issues)
    context["profile"] = view
    context["teaching"] = profile.teaching(reader, web.settings, session=session,
                                           cache=web.issues, given=view["examples"])  # fmt: skip
    return web.pages.page(request, "manage", status, reader=reader, days=DAYS,
                          action=f"/manage/{token}", **context)  # fmt: skip


@router.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(
    request: Request, token: str, session: DB, web: State,
    done: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:  # fmt: skip
    reader = _managed(request, token, web, session)
    return _manage(request, web, reader, token, session, 200, **_done(done, web, reader))


def _after(token: str, done: str, section: str = "") -> RedirectResponse:
    """A change made on the manage page answers with the page itself, by a redirect that says
    what was done (and to which of its sections): reloading it then shows the page again
    instead of sending the form again."""
    anchor = f"#{section}" if section else ""
    return RedirectResponse(f"/manage/{token}?done={done}{anchor}", status_code=303)


def _done(done: str, web: WebState, reader: Subscriber) -> dict[str, object]:
    """What the manage page says of the change just made (`_after`), as things stand now."""
    receiving = reader.status == SubscriberStatus.CONFIRMED and not reader.paused
    if done == "saved":
        when = f" Your next digest comes {optin.first_digest(reader, web.settings)}."
        return {"saved": "Saved." + (when if receiving else "")}
    if done == "back" and receiving:
        return {"back": _back(web, reader)}
    left = done.removeprefix("taught-")
    return {"feed_revoked": done == "feed", "vote_undone": done == "undone",
            "taught": done.startswith("taught"),
            "left": int(left) if left.isdigit() else 0}  # fmt: skip


@router.post("/manage/{token}/renew", response_class=HTMLResponse)
def renew(
    request: Request, token: str, session: DB, web: State, background: BackgroundTasks
) -> HTMLResponse:
    """An expired manage link's button: a fresh link, to the reader's own inbox."""
    reader, _ = reader_for(token, links.Purpose.MANAGE, web.settings, session)
    _mail(background, web, reader, session, "links")
    return web.pages.notice(request, "Check your inbox", CHECK_INBOX)


@router.post("/manage/{token}/links", response_class=HTMLResponse)
def new_links(
    request: Request, token: str, session: DB, web: State, background: BackgroundTasks
) -> HTMLResponse:
    """ "Send me new links": every earlier link stops working, this page's included; the new
    one goes to the reader's inbox, so a forwarded link cannot keep itself alive."""
    reader = _managed(request, token, web, session)
    outgoing = optin.new_links(reader, session=session)
    background.add_task(send_optin_mail, outgoing, web.settings, web.mail)
    text = (
        "The links in our earlier emails, this page's included, no longer work. A new link "
        f"to your settings is on its way to {reader.email}."
    )
    return web.pages.notice(request, "New links on their way", text)


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
    exclusions: Annotated[str, Form(max_length=5000)] = "",
) -> RedirectResponse:
    reader = _managed(request, token, web, session)
    try:
        with about("send_day"):
            day = parse_day(send_day)
        with about("timezone"):
            schedule = Schedule(timezone, day, send_hour).checked()
        with about("exclusions"):
            never = clean_exclusions(split_topics(exclusions))
        with about("topics"):
            optin.set_preferences(reader, split_topics(topics), schedule, paused, session=session,
                                  exclusions=never)  # fmt: skip
    except InvalidInput as exc:
        # Every edit comes back as typed, beside the error, so nothing has to be typed again.
        day = DAYS.index(send_day[:3].lower()) if send_day[:3].lower() in DAYS else 0
        typed = {"topics": topics, "send_day": day, "send_hour": send_hour,
                 "timezone": timezone, "paused": paused, "exclusions": exclusions}  # fmt: skip
        page = _manage(request, web, reader, token, session, 422, error=str(exc),
                       error_field=exc.field, form=typed)  # fmt: skip
        raise Refused(page) from exc
    return _after(token, "saved")


def _unsubscribe_page(
    request: Request, web: WebState, reader: Subscriber, token: str
) -> HTMLResponse:
    """What the unsubscribe link shows now: the button (with pause instead), or, once
    unsubscribed, a way back."""
    action = f"/unsubscribe/{token}"
    if reader.status == SubscriberStatus.UNSUBSCRIBED:
        text = f"{reader.email} gets no more digests. Changed your mind? One press undoes it."
        return web.pages.page(request, "unsubscribe", title="You are unsubscribed", text=text,
                              state="unsubscribed", action=action)  # fmt: skip
    if reader.status == SubscriberStatus.CONFIRMED and not reader.paused:
        text = f"Stop the weekly digest to {reader.email}."
        return web.pages.page(request, "unsubscribe", title="Unsubscribe", text=text,
                              state="subscribed", action=action)  # fmt: skip
    text = f"{reader.email} gets no digests now."
    return web.pages.page(request, "unsubscribe", title="No digests", text=text, state="")


def _back(web: WebState, reader: Subscriber) -> str:
    when = optin.first_digest(reader, web.settings)
    return f"You're subscribed again. Your next digest comes {when}."


@router.post("/manage/{token}/resubscribe", response_class=HTMLResponse)
def manage_resubscribe(request: Request, token: str, session: DB, web: State
                       ) -> RedirectResponse:  # fmt: skip
    """Back on the list, from "Subscribe again" or a paused reader's "Resume"."""
    reader = _managed(request, token, web, session)
    optin.resubscribe(reader, session=session)
    return _after(token, "back")


@router.post("/manage/{token}/unsubscribe", response_class=HTMLResponse)
def manage_unsubscribe(request: Request, token: str, session: DB, web: State
                       ) -> RedirectResponse:  # fmt: skip
    """Leaving, from the manage page: the settings and links stay, to come back with."""
    reader = _managed(request, token, web, session)
    optin.unsubscribe(reader, session=session)
    return _after(token, "left")


@router.post("/manage/{token}/feed", response_class=HTMLResponse)
def revoke_feed(request: Request, token: str, session: DB, web: State) -> RedirectResponse:
    reader = _managed(request, token, web, session)
    optin.revoke_feed(reader, session=session)
    return _after(token, "feed")


@router.post("/manage/{token}/votes/{paper_id}/undo", response_class=HTMLResponse)
def undo_vote(request: Request, token: str, paper_id: int, session: DB, web: State
              ) -> RedirectResponse:  # fmt: skip
    reader = _managed(request, token, web, session)
    feedback.retract(reader, paper_id, session=session)
    return _after(token, "undone")


@router.post("/manage/{token}/examples", response_class=HTMLResponse)
def teach(
    request: Request, token: str, session: DB, web: State,
    topic: Annotated[str, Form(max_length=MAX_TOPIC_LEN)],
    answer: Annotated[str, Form(pattern="^(like|not|remove)$")],
    papers: Annotated[str, Form(max_length=5000)] = "",
    bibtex: Annotated[UploadFile | None, File()] = None,
) -> Response:  # fmt: skip
    """ "Yes, like this", "Not this" or "Remove" on papers (arXiv ids or links, one or more,
    or the arXiv papers of an uploaded BibTeX file) under one of the reader's topics. Asked
    for JSON (the page's script), it answers the topic's counts instead of the page."""
    reader = _managed(request, token, web, session)
    named = [p for p in re.split(r"[\s,]+", papers) if p]
    wants_json = "application/json" in request.headers.get("accept", "")
    left = 0
    try:
        if bibtex is not None and bibtex.filename:
            listed, left = arxiv_ids(bibtex.file.read(MAX_BYTES + 1))
            named += listed
        if not named:
            raise InvalidInput("give a paper: its arXiv id, a link to it, or a BibTeX file "
                               "that names arXiv papers")  # fmt: skip
        examples.their_topic(reader, topic)  # before anything is fetched
        if answer != "remove":
            by_id.fetch_missing(named, web.settings, session=session)
        done = examples.teach(reader, topic, session=session, **{_ANSWERED[answer]: named})
    except InvalidInput as exc:
        if wants_json:
            return JSONResponse({"detail": str(exc)}, 422)
        field = f"papers-{_topic_number(reader, topic)}"
        raise Refused(_manage(request, web, reader, token, session, 422, error=str(exc),
                              error_field=field, typed_papers=papers)) from exc  # fmt: skip
    if wants_json:
        return JSONResponse({"topic": done.topic, "liked": done.liked, "not": done.unwanted,
                             "ready": done.liked >= taught.MIN_LIKES})  # fmt: skip
    done_with = f"taught-{left}" if left else "taught"  # entries left out, said on the page
    return _after(token, done_with, f"teach-{_topic_number(reader, topic)}")


_ANSWERED = {"like": "likes", "not": "nots", "remove": "removed"}


def _topic_number(reader: Subscriber, topic: str) -> int:
    """Which of the reader's topics the form was for (its section, fields and errors), 0 if
    none."""
    keys = [examples.key(t) for t in reader.topics]
    return keys.index(examples.key(topic)) + 1 if examples.key(topic) in keys else 0


@router.post("/manage/{token}/forget", response_class=HTMLResponse)
def forget_ask(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    """ "Delete my data", first step: what it deletes, and a second press to do it."""
    _managed(request, token, web, session)
    return web.pages.page(
        request, "confirm_delete", action=f"/manage/{token}/forget/confirm",
        back=f"/manage/{token}",
    )  # fmt: skip


@router.post("/manage/{token}/forget/confirm", response_class=HTMLResponse)
def forget(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    """ "Delete my data", confirmed: the reader, their topics and deliveries, at once."""
    reader = _managed(request, token, web, session)
    store.forget(reader.email, keys=web.settings.signing_keys, session=session)
    text = (
        "Your address, topics, schedule, delivery history and votes are deleted. "
        "Nothing more comes."
    )
    return web.pages.notice(request, "Your data is deleted", text)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    return _unsubscribe_page(request, web, reader, token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    """The button, and RFC 8058 one-click (body `List-Unsubscribe=One-Click`, no cookies).
    Honoured at once: the request's unit of work commits before the answer."""
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    optin.unsubscribe(reader, session=session)
    return _unsubscribe_page(request, web, reader, token)


@router.post("/unsubscribe/{token}/undo", response_class=HTMLResponse)
def resubscribe(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    """From the reader's own unsubscribe link, so it is their own decision again."""
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    optin.resubscribe(reader, session=session)
    if reader.status != SubscriberStatus.CONFIRMED:  # suppressed: nothing to come back to
        return _unsubscribe_page(request, web, reader, token)
    return web.pages.page(request, "unsubscribe", title="You're subscribed again",
                          text=_back(web, reader), state="back",
                          action=f"/unsubscribe/{token}")  # fmt: skip


@router.post("/unsubscribe/{token}/pause", response_class=HTMLResponse)
def pause(request: Request, token: str, session: DB, web: State) -> HTMLResponse:
    reader, _ = reader_for(token, links.Purpose.UNSUBSCRIBE, web.settings, session)
    optin.pause(reader, session=session)
    # No manage link here: this link never expires, and one made here would outlive it.
    return web.pages.action(request, "Paused",
                            f"{reader.email} gets no digests until you resume them.",
                            button="Resume", action=f"/unsubscribe/{token}/undo")  # fmt: skip
