"""The access log, written by the app instead of uvicorn: each request as its route's
template (`GET /manage/{token} 200 3ms`), never the path as requested, which holds readers'
tokens, and no client address or query string. A request no route matched logs as `-`:
its path could be anything a visitor typed."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("newsletter.access")

# `newsletter web` hands uvicorn this logging setup (its own, plus the app's loggers) and
# turns uvicorn's access log off.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "newsletter": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, answered = 500, started

        async def recorded(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered = time.perf_counter()  # background tasks (mail) run after this
            await send(message)

        try:
            await self.app(scope, receive, recorded)
        finally:
            route = getattr(scope.get("route"), "path", "-")
            elapsed = (max(answered, started) - started) * 1000
            log.info("%s %s %d %.0fms", scope["method"], route, status, elapsed)
