"""Pages and errors: server-rendered templates (autoescaped), the security headers, and one
404 page for every bad link."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException

from newsletter.readers.validate import timezones
from newsletter.shipped import templates_dir

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' https:; script-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # token URLs must not leak to linked sites
    "Cache-Control": "no-store",
}
# What a reader is told when a form field is not even of the right type (an API client
# gets the validator's own words instead).
FIELD_HINTS = {
    "email": "Enter your email address (up to 320 characters).",
    "topics": "Enter at least one topic (up to 5,000 characters in all).",
    "send_day": "Pick a day of the week.",
    "send_hour": "Pick an hour from 00:00 to 23:00.",
    "timezone": "Enter a timezone such as Europe/Berlin (up to 64 characters).",
    "paused": "Tick the pause box, or leave it empty.",
}
# One text for every link that opens nothing, whatever the cause, so that no answer tells
# whether an address is on the list: a link cut short, one replaced by "Send me new links",
# or one of an address no longer on the list.
NOT_FOUND_TEXT = (
    "This link opens nothing. It may have been cut short when copied, replaced by newer "
    "links, or sent to an address that is no longer on our list (its data was deleted): "
    "nothing more is sent there. You can subscribe again from the front page."
)


class Pages:
    def __init__(self) -> None:
        # Web pages escape everything; unlike the emails' templates, optional values may be absent.
        env = Environment(loader=FileSystemLoader(templates_dir()), autoescape=True)
        env.globals["zones"] = list(timezones().values())  # the timezone fields' choices
        env.filters["atom_time"] = atom_time
        self._templates = Jinja2Templates(env=env)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self._templates.TemplateResponse(
            request, f"web/{name}.html", context, status_code=status
        )

    def render(self, name: str, **context: Any) -> str:
        """A template that is not an HTML page (the Atom feed), escaped all the same."""
        return self._templates.get_template(f"web/{name}").render(context)

    def notice(self, request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
        return self.page(request, "notice", status, title=title, text=text)

    def action(
        self, request: Request, title: str, text: str, *, button: str, action: str
    ) -> HTMLResponse:
        """A page whose one button does what its link is for (link scanners press nothing)."""
        return self.page(request, "action", title=title, text=text, button=button, action=action)


class Refused(Exception):
    """A form the reader must fix: its page is the answer, and the request's unit of work
    rolls back, so a refused form changes nothing."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def atom_time(moment: dt.datetime) -> str:
    """RFC 3339 for a feed (stored times without a zone are UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def not_found() -> HTTPException:
    return HTTPException(404, "not found")


_HEADINGS = {404: "Page not found", 429: "Too many requests"}


def install_error_pages(app: FastAPI) -> None:
    def pages_of(request: Request) -> Pages:
        found: Pages = request.app.state.web.pages
        return found

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(("/api/", "/hooks/")):  # for programs: JSON
            body = {"detail": exc.detail}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        missing = exc.status_code == 404
        heading = _HEADINGS.get(exc.status_code, "Something went wrong")
        page = pages_of(request).notice(
            request, heading, NOT_FOUND_TEXT if missing else str(exc.detail), exc.status_code
        )
        page.headers.update(exc.headers or {})  # a 405's Allow
        return page

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        detail = f"{'.'.join(str(p) for p in err['loc'][1:]) or 'request'}: {err['msg']}"
        if request.url.path.startswith("/api/"):
            field = next((p for p in err["loc"][1:2] if isinstance(p, str)), None)
            body = {"detail": detail.replace("Value error, ", ""), "field": field}
            return JSONResponse(body, status_code=422)
        field = str(err["loc"][-1]) if err["loc"] else ""
        hint = FIELD_HINTS.get(field, "Something in the form was not as expected; try again.")
        return pages_of(request).notice(request, "Please check the form", hint, 422)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return exc.response

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(Refused, refused)
