"""What a message that came back to the bounce address says: a hard bounce, a soft bounce,
a complaint, or none of these.

Bounces come in dozens of formats (RFC 3464 DSNs and the many servers that never wrote
one); `flufl.bounce`, GNU Mailman's detectors, reads them. Complaints are ARF reports
(RFC 5965), which the standard library's parser reads. The delivery a message is about
comes from the VERP address it was sent back to (verp.py), never from the addresses
it names: anyone can mail the bounce address, but only we can sign a VERP address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

from flufl.bounce import all_failures

from newsletter.delivery import verp
from newsletter.models import MailEventKind
from newsletter.settings import Settings
from newsletter.text import one_line


@dataclass(frozen=True)
class Report:
    kind: MailEventKind
    key: str  # the hash that makes it count once
    delivery_id: int | None  # from the VERP address
    detail: str
    # The reader's address as a signed relay webhook states it; never taken from mail,
    # which anyone can send to the bounce address.
    recipient: str | None = None


def read(raw: bytes, settings: Settings) -> Report | None:
    """The report `raw` makes, or None when it is neither a bounce nor a complaint."""
    msg = message_from_bytes(raw)  # compat32: the Message flufl.bounce's detectors expect
    delivery = verp.delivery_of(settings, raw.decode("latin-1"))
    if _is_arf(msg):
        fields = _report_fields(msg, "message/feedback-report")
        detail = f"complaint ({fields.get('feedback-type', 'abuse')})"
        return Report(MailEventKind.COMPLAINT, message_key(msg, raw), delivery, detail)
    temporary, permanent = all_failures(msg)
    if not (temporary or permanent):
        return None
    kind = MailEventKind.HARD_BOUNCE if permanent else MailEventKind.SOFT_BOUNCE
    return Report(kind, message_key(msg, raw), delivery, _diagnostic(msg))


def message_key(msg: Message, raw: bytes) -> str:
    """The Message-ID, hashed; a message without one is known by its bytes."""
    ident = (msg.get("Message-ID") or "").strip()
    return hashlib.sha256(ident.encode() if ident else raw).hexdigest()


def _is_arf(msg: Message) -> bool:
    return (
        msg.get_content_type() == "multipart/report"
        and (msg.get_param("report-type") or "").lower() == "feedback-report"  # type: ignore[union-attr]
    )


def _report_fields(msg: Message, content_type: str) -> dict[str, str]:
    """The fields of the machine-readable part (`message/feedback-report` or
    `message/delivery-status`, the first value of each), names in lowercase."""
    fields: dict[str, str] = {}
    for part in msg.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # the parser splits a DSN into its field blocks
            blocks: list[Message] = [b for b in payload if isinstance(b, Message)]
        else:
            blocks = [message_from_bytes(part.get_payload(decode=True) or b"")]  # type: ignore[arg-type]
        for block in blocks:
            for name, value in block.items():
                fields.setdefault(name.lower(), one_line(value, 200))
        break
    return fields


def _diagnostic(msg: Message) -> str:
    """The DSN's status and diagnostic, when it has them; else the subject."""
    fields = _report_fields(msg, "message/delivery-status")
    text = " ".join(v for v in (fields.get("status"), fields.get("diagnostic-code")) if v)
    return one_line(text or msg.get("Subject", ""), 300)
