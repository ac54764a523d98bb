"""Signed, unguessable link tokens: each names one reader and one purpose.

A token for one purpose never works for another (the purpose is the salt), and
nothing about a token can be forged without the secret key.
"""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, URLSafeTimedSerializer

from newsletter.settings import Settings

CONFIRM_MAX_AGE = 7 * 24 * 3600


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    VIEW = "view"


class InvalidToken(Exception):
    """Tampered, truncated, expired or for another purpose."""


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.secret_key.get_secret_value(), salt=f"newsletter.{purpose}"
    )


def make(settings: Settings, purpose: Purpose, subscriber_id: int, extra: int | None = None) -> str:
    payload = [subscriber_id] if extra is None else [subscriber_id, extra]
    return str(_serializer(settings, purpose).dumps(payload))


def read(settings: Settings, purpose: Purpose, token: str, max_age: int | None = None) -> list[int]:
    """The payload ([subscriber_id] or [subscriber_id, extra]); raises InvalidToken."""
    try:
        payload = _serializer(settings, purpose).loads(token, max_age=max_age)
    except BadSignature as exc:
        raise InvalidToken(str(exc)) from exc
    if not (isinstance(payload, list) and payload and all(type(v) is int for v in payload)):
        raise InvalidToken("unexpected payload")
    return payload


def link(settings: Settings, purpose: Purpose, subscriber_id: int, extra: int | None = None) -> str:
    return f"{settings.base_url}/{_PATHS[purpose]}/{make(settings, purpose, subscriber_id, extra)}"


_PATHS = {
    Purpose.CONFIRM: "confirm",
    Purpose.MANAGE: "manage",
    Purpose.UNSUBSCRIBE: "unsubscribe",
    Purpose.VIEW: "issues",
}
