"""VERP: each message's envelope sender names its delivery, so a bounce that arrives days
later, from any server in any format, says which digest to which reader failed.

`NEWSLETTER_BOUNCE_ADDRESS=bounces@papers.example.com` makes the envelope sender of the
digest for delivery 1234 `bounces+1234-<mac>@papers.example.com`. The mac is a keyed hash
(HMAC-SHA256 with the secret key) of the id, in lowercase base32: some mail servers fold
the local part to lowercase, which would break a mixed-case signature, and the local part
must stay within 64 characters. The `From` header is left as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from newsletter.settings import Settings

_MAC_CHARS = 16  # 80 bits
_VERP = re.compile(r"\+(\d{1,18})-([a-z2-7]{16})@", re.IGNORECASE)


def _mac(secret: str, delivery_id: int) -> str:
    digest = hmac.new(secret.encode(), f"verp:{delivery_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_MAC_CHARS]


def address(settings: Settings, delivery_id: int | None) -> str | None:
    """The envelope sender for `delivery_id`; None when no bounce address is configured."""
    if not settings.bounce_address or delivery_id is None:
        return None
    local, _, domain = settings.bounce_address.rpartition("@")
    mac = _mac(settings.signing_keys[0], delivery_id)
    return f"{local}+{delivery_id}-{mac}@{domain}"


def delivery_of(settings: Settings, text: str) -> int | None:
    """The delivery a VERP address anywhere in `text` names, if its mac is right under the
    current key or the previous one (a bounce may come back days after a rotation)."""
    for match in _VERP.finditer(text):
        delivery_id = int(match.group(1))
        mac = match.group(2).lower()
        if any(hmac.compare_digest(mac, _mac(k, delivery_id)) for k in settings.signing_keys):
            return delivery_id
    return None
