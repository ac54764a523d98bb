"""MIME assembly: multipart/alternative (text, then HTML) with the list headers
mailbox providers expect (RFC 2369, RFC 8058 one-click unsubscribe, RFC 2919 List-Id).

`email.policy.SMTP` refuses CR/LF inside header values, so nothing from a feed or
a form can inject a header; subjects are also collapsed to one line before this.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr

from newsletter.models import utcnow
from newsletter.render import Rendered
from newsletter.settings import Settings
from newsletter.text import one_line


def message_id(settings: Settings, week: str, subscriber_id: int) -> str:
    """The same (issue, reader) always gets the same Message-ID, so a resend is recognisable."""
    return f"<digest.{week}.{subscriber_id}@{settings.sender_domain}>"


def build(
    rendered: Rendered,
    *,
    settings: Settings,
    to: str,
    msg_id: str,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """The message; list headers only for list mail (`unsubscribe_url`), not transactional."""
    msg = EmailMessage(policy=SMTP)
    name, address = parseaddr(settings.sender)
    msg["From"] = formataddr((one_line(name, 100), address))
    msg["To"] = to
    msg["Subject"] = one_line(rendered.subject, 200)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = msg_id
    if unsubscribe_url:
        msg["List-Id"] = f"Trending papers <{settings.list_id}.{settings.sender_domain}>"
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg
