"""Signed links: unguessable tokens, each naming one reader and one purpose.

A token for one purpose never works for another (the purpose is the salt), and
nothing about a token can be forged without the secret key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

from newsletter.settings import Settings


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    VIEW = "view"
    FEED = "feed"
    TYPED_ADDRESS = "typed-address"  # not a reader: what a visitor typed into the form


class InvalidToken(Exception):
    """Tampered, truncated, expired or for another purpose."""


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return _cached_serializer(settings.secret_key.get_secret_value(), purpose)


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, without its zlib attempt on payloads too short
    to shrink (zlib's framing alone is 6 bytes): a reader's id signs in a third of the time,
    and a digest signs three. It reads every token the stock one makes, and the reverse."""

    def dump_payload(self, obj: object) -> bytes:
        payload = super(URLSafeSerializerMixin, self).dump_payload(obj)
        return base64_encode(payload) if len(payload) < 32 else super().dump_payload(obj)


@lru_cache(maxsize=16)
def _cached_serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return _Serializer(secret, salt=f"newsletter.{purpose}")


def make(settings: Settings, purpose: Purpose, subscriber_id: int, extra: int | None = None) -> str:
    payload = [subscriber_id] if extra is None else [subscriber_id, extra]
    return str(_serializer(settings, purpose).dumps(payload))


def read(settings: Settings, purpose: Purpose, token: str) -> list[int]:
    """The payload ([subscriber_id] or [subscriber_id, extra]); raises InvalidToken."""
    try:
        payload = _serializer(settings, purpose).loads(token)
    except BadSignature as exc:
        raise InvalidToken(str(exc)) from exc
    if not (isinstance(payload, list) and payload and all(type(v) is int for v in payload)):
        raise InvalidToken("unexpected payload")
    return payload


def read_confirm(settings: Settings, token: str) -> tuple[int, bool]:
    """(subscriber_id, expired) of a genuine confirm token; raises InvalidToken otherwise.

    An expired token is still genuine, so its page can offer to send a fresh one.
    """
    try:
        payload, signed_at = _serializer(settings, Purpose.CONFIRM).loads(
            token, return_timestamp=True
        )
    except BadSignature as exc:
        raise InvalidToken(str(exc)) from exc
    if not (isinstance(payload, list) and len(payload) == 1 and type(payload[0]) is int):
        raise InvalidToken("unexpected payload")
    age = dt.datetime.now(dt.UTC) - signed_at
    return payload[0], age > dt.timedelta(days=settings.confirm_max_age_days)


def sign_address(settings: Settings, email: str) -> str:
    """The address a visitor just typed, signed, for the "check your inbox" page the subscribe
    form redirects to: it names no reader, only what that visitor typed."""
    return str(_serializer(settings, Purpose.TYPED_ADDRESS).dumps(email))


def read_address(settings: Settings, token: str, max_age: int = 3600) -> str | None:
    try:
        email = _serializer(settings, Purpose.TYPED_ADDRESS).loads(token, max_age=max_age)
    except BadSignature:
        return None
    return email if isinstance(email, str) else None


class Feedback(NamedTuple):
    """What a "More like this" (+1) or "Not for me" (-1) link names."""

    reader_id: int
    paper_id: int
    issue_id: int
    vote: int


FEEDBACK_MAX_AGE = dt.timedelta(days=90)
VOTES = {"more": 1, "less": -1}  # the vote's word in a feedback link


@lru_cache(maxsize=4)
def _feedback_signer(secret: str) -> TimestampSigner:
    # A digest carries two feedback links per pick, so they share one signed token naming the
    # reader and the issue; the paper and the vote follow it in the path, and a vote counts
    # only on a paper the ledger says went to that reader in that issue (`web/feedback.py`).
    # HMAC-SHA1, itsdangerous' default, as in the other links: a 27-character signature.
    key = hmac.new(secret.encode(), b"newsletter.feedback", hashlib.sha256).digest()
    return TimestampSigner(key, key_derivation="none")


def feedback_base(settings: Settings, reader_id: int, issue_id: int) -> str:
    """The part of a digest's feedback links that is signed: one per digest."""
    payload = f"{reader_id}.{issue_id}".encode()
    token = _feedback_signer(settings.secret_key.get_secret_value()).sign(payload).decode()
    return f"{settings.base_url}/feedback/{token}"


def feedback_path(paper_id: int, vote: int) -> str:
    return f"/{paper_id}/{'more' if vote > 0 else 'less'}"


def feedback_link(settings: Settings, vote: Feedback) -> str:
    base = feedback_base(settings, vote.reader_id, vote.issue_id)
    return base + feedback_path(vote.paper_id, vote.vote)


def read_feedback(settings: Settings, token: str, paper: str, vote: str) -> Feedback:
    """What a genuine feedback link names; raises InvalidToken if forged, over 90 days old,
    or not a vote."""
    signer = _feedback_signer(settings.secret_key.get_secret_value())
    try:
        payload = signer.unsign(token, max_age=int(FEEDBACK_MAX_AGE.total_seconds()))
        reader_id, issue_id = (int(v) for v in payload.split(b"."))
        paper_id = int(paper) if paper.isdigit() else -1
    except (BadSignature, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
    if vote not in VOTES or paper_id < 0:
        raise InvalidToken("not a vote")
    return Feedback(reader_id, paper_id, issue_id, VOTES[vote])


def link(settings: Settings, purpose: Purpose, subscriber_id: int, extra: int | None = None) -> str:
    suffix = ".atom" if purpose is Purpose.FEED else ""
    token = make(settings, purpose, subscriber_id, extra)
    return f"{settings.base_url}/{_PATHS[purpose]}/{token}{suffix}"


_PATHS = {
    Purpose.CONFIRM: "confirm",
    Purpose.MANAGE: "manage",
    Purpose.UNSUBSCRIBE: "unsubscribe",
    Purpose.VIEW: "issues",
    Purpose.FEED: "feed",
}
