"""Where bounces and complaints arrive: an IMAP mailbox (over TLS, with a login) or a Maildir
folder. Each lists its unread messages and marks one read once it is handled; a message
that is neither a bounce nor a complaint stays unread, for a person to look at."""

from __future__ import annotations

import imaplib
import mailbox
import ssl
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import unquote, urlsplit

from newsletter.settings import Settings


class MailboxError(OSError):
    """The mailbox cannot be reached or read; the message says why, in one line."""


class Mailbox(Protocol):
    source: str  # "imap" or "maildir", recorded with each event

    def unread(self) -> Iterator[tuple[str, bytes]]: ...
    def mark_read(self, ref: str) -> None: ...
    def close(self) -> None: ...


class MaildirBox:
    source = "maildir"

    def __init__(self, path: str):
        try:
            self.box = mailbox.Maildir(path, create=False)
            self.box.keys()
        except (OSError, mailbox.Error) as exc:
            raise MailboxError(f"cannot read the Maildir {path}: {exc}") from exc

    def unread(self) -> Iterator[tuple[str, bytes]]:
        for key in sorted(self.box.keys()):
            if "S" not in self.box.get_message(key).get_flags():
                yield key, self.box.get_bytes(key)

    def mark_read(self, ref: str) -> None:
        message = self.box.get_message(ref)
        message.set_subdir("cur")
        message.add_flag("S")
        self.box[ref] = message

    def close(self) -> None:
        self.box.close()


class ImapBox:
    """`imaps://user:password@host:993/Folder`, or `imap://` for STARTTLS on port 143.
    The server's certificate is checked; there is no way to log in in clear text."""

    source = "imap"

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise MailboxError(
                "NEWSLETTER_BOUNCE_IMAP_URL must be imaps://user:password@host/Folder"
            )
        where = f"{parts.hostname}:{parts.port or (993 if parts.scheme == 'imaps' else 143)}"
        context = ssl.create_default_context()
        self.conn: imaplib.IMAP4
        try:
            if parts.scheme == "imaps":
                self.conn = imaplib.IMAP4_SSL(parts.hostname, parts.port or 993,
                                              ssl_context=context, timeout=timeout)  # fmt: skip
            else:
                self.conn = imaplib.IMAP4(parts.hostname, parts.port or 143, timeout=timeout)
                self.conn.starttls(ssl_context=context)
            self.conn.login(unquote(parts.username), unquote(parts.password or ""))
            folder = unquote(parts.path.strip("/")) or "INBOX"
            status, answer = self.conn.select(f'"{folder}"')
            if status != "OK":
                raise MailboxError(f"IMAP {where}: cannot open {folder!r}: {answer}")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP {where}: {exc}") from exc

    def unread(self) -> Iterator[tuple[str, bytes]]:
        _, found = self.conn.uid("SEARCH", "UNSEEN")
        for uid in found[0].split():
            _, parts = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")  # PEEK: still unread
            item = parts[0]
            if isinstance(item, tuple):
                yield uid.decode(), item[1]

    def mark_read(self, ref: str) -> None:
        self.conn.uid("STORE", ref, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        try:
            self.conn.close()
            self.conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def open_mailbox(settings: Settings, maildir: str | None = None) -> Mailbox:
    """The configured mailbox (a Maildir given here wins over the settings)."""
    url = settings.bounce_imap_url.get_secret_value()
    if maildir or (settings.bounce_maildir and not url):
        return MaildirBox(maildir or settings.bounce_maildir)
    if url:
        return ImapBox(url, timeout=settings.smtp_timeout)
    raise MailboxError(
        "no bounce mailbox: set NEWSLETTER_BOUNCE_IMAP_URL or NEWSLETTER_BOUNCE_MAILDIR"
    )
