"""The readers' web app: subscribe, confirm, manage, unsubscribe, view an issue in the browser.

`create_app(settings)` builds it; its state (settings, templates, rate limiter, the
suggestions cache) lives on the app, not in modules. Routes are grouped by area in
`subscribe`, `account` and `issues`; `pages` renders pages and errors.
"""

from newsletter.web.app import create_app

__all__ = ["create_app"]
