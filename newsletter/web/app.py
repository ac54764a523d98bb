"""`create_app(settings)`: the readers' web app, its state, routes and error pages."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from newsletter import metrics
from newsletter.digest.compose import IssueCache
from newsletter.digest.render import MailTemplates
from newsletter.settings import Settings, get_settings
from newsletter.web import account, api, archive, feedback, hooks, issues, pages, subscribe
from newsletter.web.accesslog import AccessLog
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.state import State, SuggestionCache, WebState


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    mail = MailTemplates()
    app = FastAPI(title="Trending papers", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = WebState(
        settings=settings,
        pages=pages.Pages(),
        mail=mail,
        limiter=RateLimiter(settings.redis_url, settings.redis_prefix),
        suggestions=SuggestionCache(settings.suggest_min_readers),
        issues=IssueCache(templates=mail),
    )
    app.middleware("http")(_security_headers)
    app.add_middleware(AccessLog)
    pages.install_error_pages(app)
    for router in (subscribe.router, account.router, issues.router, archive.router,
                   feedback.router, hooks.router):  # fmt: skip
        app.include_router(router)
    api.install(app)
    if settings.metrics_enabled and settings.metrics_token.get_secret_value():
        app.add_api_route("/metrics", _metrics, include_in_schema=False)
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in pages.SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _metrics(request: Request, web: State) -> Response:
    """On the readers' port only behind the operator's bearer token: each scrape queries the
    database, and the counts are the operator's business."""
    expected = f"Bearer {web.settings.metrics_token.get_secret_value()}"
    if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
        return Response("metrics need the bearer token\n", 401, {"WWW-Authenticate": "Bearer"})
    return Response(metrics.exposition(web.settings), media_type=CONTENT_TYPE_LATEST)
