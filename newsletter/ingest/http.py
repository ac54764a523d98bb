"""HTTP for ingest: one client with timeouts, and retries with backoff on 429, 5xx and drops."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from newsletter.settings import Settings

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A source could not be fetched after all retries."""


def make_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=settings.http_timeout,
        headers={"User-Agent": "trending-papers-newsletter/0.1 (self-hosted digest)"},
        follow_redirects=True,
    )


def get_with_retries(
    client: httpx.Client,
    url: str,
    *,
    params: Mapping[str, str | int],
    settings: Settings,
) -> httpx.Response:
    """GET, retrying transient failures with exponential backoff (honouring Retry-After)."""
    last = ""
    for attempt in range(settings.http_retries + 1):
        try:
            response = client.get(url, params=params)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
            delay = settings.http_backoff_seconds * 2**attempt
        else:
            if response.status_code not in RETRY_STATUS:
                if response.is_error:
                    raise FetchError(f"{url} answered HTTP {response.status_code}")
                return response
            last = f"HTTP {response.status_code}"
            delay = _retry_after(response) or settings.http_backoff_seconds * 2**attempt
        if attempt < settings.http_retries:
            time.sleep(min(delay, 60.0))
    raise FetchError(f"{url} failed after {settings.http_retries + 1} attempts ({last})")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
