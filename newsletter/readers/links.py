"""Signed links: unguessable tokens, each naming one reader, their link key and one purpose.

A token for one purpose never works for another (the purpose is the salt), and nothing
about a token can be forged without the secret key. The reader's link key in each token
makes every link of theirs revocable at once ("Send me new links", a forget); confirm and
manage links also expire. Tokens are signed with NEWSLETTER_SECRET_KEY and checked against
NEWSLETTER_SECRET_KEY_PREVIOUS too, so a rotation leaves sent links working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.url_safe import URLSafeSerializerMixin

from newsletter.settings import Settings


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    VIEW = "view"
    FEED = "feed"
    TYPED_ADDRESS = "typed-address"  # not a reader: what a visitor typed into the form


# What a purpose's token carries after the reader and their key: a delivery (VIEW), the
# feed's own key (FEED).
_EXTRA = {Purpose.VIEW, Purpose.FEED}


class InvalidToken(Exception):
    """Tampered, truncated, signed with another key or for another purpose."""


class Owner(Protocol):
    """Whoever a link names: a reader (a Subscriber row or a batch's plain row)."""

    @property
    def id(self) -> int | None: ...
    @property
    def link_key(self) -> int: ...


class Token(NamedTuple):
    """What a genuine token names. `key` must equal the reader's link key for the link to
    open anything; tokens made before link keys name none and read as key 0."""

    reader_id: int
    key: int
    extra: int | None
    expired: bool  # older than its purpose allows (confirm, manage); still genuine


_SHA1 = TimestampSigner.default_digest_method


class _Signer(TimestampSigner):
    """itsdangerous' timestamp signer (HMAC-SHA1), its keys derived once rather than at each
    signature, and each signature one call of OpenSSL's HMAC: the same tokens, made faster
    (a digest signs four)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.algorithm, HMACAlgorithm) and self.digest_method is _SHA1
        derive = super().derive_key
        self._derived = {key: derive(key) for key in self.secret_keys}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._derived[self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)]

    def get_signature(self, value: str | bytes) -> bytes:
        return base64_encode(hmac.digest(self.derive_key(), want_bytes(value), "sha1"))


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, without its zlib attempt on payloads too short
    to shrink (zlib's framing alone is 6 bytes), with one `_Signer` kept (the stock one makes
    one per token). It reads every token the stock one makes, and the reverse."""

    default_signer = _Signer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signer = super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._signer if salt is None else super().make_signer(salt)

    def dump_payload(self, obj: object) -> bytes:
        payload = super(URLSafeSerializerMixin, self).dump_payload(obj)
        return base64_encode(payload) if len(payload) < 32 else super().dump_payload(obj)

    def dumps(self, obj: Any, salt: str | bytes | None = None) -> str:
        # A link's payload, a few ints, written as compact JSON writes them, without the
        # JSON encoder and the layers around it (three links a digest).
        if salt is None and type(obj) is list and all(type(v) is int for v in obj):
            payload = ("[" + ",".join(map(str, obj)) + "]").encode()
            if len(payload) < 32:
                return self._signer.sign(base64_encode(payload)).decode()
        return str(super().dumps(obj, salt))


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return _cached_serializer(settings.signing_keys, purpose)


@lru_cache(maxsize=16)
def _cached_serializer(keys: tuple[str, ...], purpose: Purpose) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and accepts a signature by any of them.
    return _Serializer(list(reversed(keys)), salt=f"newsletter.{purpose}")


def make(settings: Settings, purpose: Purpose, reader: Owner, extra: int | None = None) -> str:
    assert reader.id is not None
    payload = [reader.id, reader.link_key] + ([] if extra is None else [extra])
    return str(_serializer(settings, purpose).dumps(payload))


def read(settings: Settings, purpose: Purpose, token: str) -> Token:
    """What a genuine token names; raises InvalidToken otherwise."""
    try:
        payload, signed_at = _serializer(settings, purpose).loads(token, return_timestamp=True)
    except BadSignature as exc:
        raise InvalidToken(str(exc)) from exc
    size = 2 + (purpose in _EXTRA)
    if not (isinstance(payload, list) and all(type(v) is int for v in payload)):
        raise InvalidToken("unexpected payload")
    if len(payload) == size - 1:  # made before link keys: the key of readers from before
        payload.insert(1, 0)
    if len(payload) != size:
        raise InvalidToken("unexpected payload")
    age = dt.datetime.now(dt.UTC) - signed_at
    max_age = _max_age(settings, purpose)
    extra = payload[2] if size == 3 else None
    return Token(payload[0], payload[1], extra, max_age is not None and age > max_age)


def _max_age(settings: Settings, purpose: Purpose) -> dt.timedelta | None:
    if purpose is Purpose.CONFIRM:
        return dt.timedelta(days=settings.confirm_max_age_days)
    if purpose is Purpose.MANAGE:
        return dt.timedelta(days=settings.manage_link_days)
    return None


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
    key: int = 0  # the reader's link key when the link was made


FEEDBACK_MAX_AGE = dt.timedelta(days=90)
VOTES = {"more": 1, "less": -1}  # the vote's word in a feedback link


@lru_cache(maxsize=4)
def _feedback_signer(keys: tuple[str, ...]) -> TimestampSigner:
    # A digest carries two feedback links per pick, so they share one signed token naming the
    # reader, their link key and the issue; the paper and the vote follow it in the path, and
    # a vote counts only on a paper the ledger says went to that reader in that issue
    # (`web/feedback.py`). HMAC-SHA1, itsdangerous' default, as in the other links: a
    # 27-character signature. Signed with the current key, checked against the previous too.
    derived = [hmac.new(k.encode(), b"newsletter.feedback", hashlib.sha256).digest()
               for k in reversed(keys)]  # fmt: skip
    return _Signer(derived, key_derivation="none")


def feedback_base(settings: Settings, reader: Owner, issue_id: int) -> str:
    """The part of a digest's feedback links that is signed: one per digest."""
    payload = f"{reader.id}.{reader.link_key}.{issue_id}".encode()
    token = _feedback_signer(settings.signing_keys).sign(payload).decode()
    return f"{settings.base_url}/feedback/{token}"


def feedback_path(paper_id: int, vote: int) -> str:
    return f"/{paper_id}/{'more' if vote > 0 else 'less'}"


@lru_cache(maxsize=4096)
def vote_paths(paper_id: int) -> tuple[str, str]:
    """A paper's "More like this" and "Not for me" paths, made once a paper (a digest has
    two per pick, each reader the same)."""
    return feedback_path(paper_id, 1), feedback_path(paper_id, -1)


class Ref(NamedTuple):
    """A reader named by id and link key alone (a link's Owner without the row)."""

    id: int
    link_key: int


def feedback_link(settings: Settings, vote: Feedback) -> str:
    base = feedback_base(settings, Ref(vote.reader_id, vote.key), vote.issue_id)
    return base + feedback_path(vote.paper_id, vote.vote)


def read_feedback(settings: Settings, token: str, paper: str, vote: str) -> Feedback:
    """What a genuine feedback link names; raises InvalidToken if forged, over 90 days old,
    or not a vote. Links made before link keys name none: key 0."""
    signer = _feedback_signer(settings.signing_keys)
    try:
        payload = signer.unsign(token, max_age=int(FEEDBACK_MAX_AGE.total_seconds()))
        parts = [int(v) for v in payload.split(b".")]
        reader_id, key, issue_id = parts if len(parts) == 3 else (parts[0], 0, parts[1])
        paper_id = int(paper) if paper.isdigit() else -1
    except (BadSignature, ValueError, IndexError) as exc:
        raise InvalidToken(str(exc)) from exc
    if vote not in VOTES or paper_id < 0:
        raise InvalidToken("not a vote")
    return Feedback(reader_id, paper_id, issue_id, VOTES[vote], key)


def link(settings: Settings, purpose: Purpose, reader: Owner, extra: int | None = None) -> str:
    suffix = ".atom" if purpose is Purpose.FEED else ""
    token = make(settings, purpose, reader, extra)
    return f"{settings.base_url}/{_PATHS[purpose]}/{token}{suffix}"


_PATHS = {
    Purpose.CONFIRM: "confirm",
    Purpose.MANAGE: "manage",
    Purpose.UNSUBSCRIBE: "unsubscribe",
    Purpose.VIEW: "issues",
    Purpose.FEED: "feed",
}
