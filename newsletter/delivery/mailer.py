"""Mailers: the seam between composing and sending (after listmonk's Messenger).

`SmtpMailer` reuses one connection for a whole batch and reconnects when it drops;
`OutboxMailer` writes .eml (and .html) files and never opens a socket, which is
what `send --dry-run --out DIR` uses. Errors are sorted into transient (try again
later) and permanent (the server refused this message for good).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Protocol

from newsletter.settings import Settings, SmtpTls


class SendError(Exception):
    """`permanent`: the server refused this message for good (5xx).
    `connection`: the server could not be reached at all, so the rest of a batch waits too."""

    def __init__(self, reply: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(reply)
        self.reply, self.permanent, self.connection = reply, permanent, connection


# Work to do once while a message is on its way, before the server can accept it: the
# campaign writes the previous message's outcome then, so the database's round trip
# overlaps the server's instead of following it.
Meanwhile = Callable[[], None] | None


class _MeanwhileFailed(Exception):
    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class Mailer(Protocol):
    @property
    def eight_bit(self) -> bool:
        """Whether messages may go 8bit (RFC 6152), so are built that way."""

    def open(self) -> None: ...
    def send(self, msg: bytes, to: str, sender: str | None = None,
             meanwhile: Meanwhile = None) -> None: ...  # fmt: skip
    def close(self) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        try:
            if s.smtp_tls is SmtpTls.IMPLICIT:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.smtp_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
                if s.smtp_tls is SmtpTls.STARTTLS:
                    conn.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                conn.login(s.smtp_user, s.smtp_password.get_secret_value())
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP login refused: {_reply(exc)}", connection=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"cannot connect to SMTP {s.smtp_host}:{s.smtp_port}: {exc}", connection=True
            ) from exc
        self._conn = conn

    @property
    def eight_bit(self) -> bool:
        """Whether the server offers 8BITMIME; connects (raising SendError) to find out."""
        if self._conn is None:
            self.open()
        assert self._conn is not None
        try:
            self._conn.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SendError(f"SMTP connection lost: {exc}", connection=True) from exc
        return bool(self._conn.has_extn("8bitmime"))

    def send(self, msg: bytes, to: str, sender: str | None = None,
             meanwhile: Meanwhile = None) -> None:  # fmt: skip
        """Send one message; on a dropped connection reconnect once and try again. `sender`
        is the envelope sender (a VERP address), by default the From address. `meanwhile`
        runs once, while the server answers the envelope, before the message's data goes
        out; if it fails the message is abandoned (the connection dropped mid-transaction,
        so the server discards it) and its error raised."""
        todo = [meanwhile] if meanwhile else []

        def run_meanwhile() -> None:
            while todo:
                try:
                    todo.pop()()
                except BaseException as exc:
                    raise _MeanwhileFailed(exc) from exc

        for attempt in (1, 2):
            if self._conn is None:
                self.open()
            assert self._conn is not None
            try:
                _transaction(self._conn, sender or self.settings.sender_address, to, msg,
                             run_meanwhile)  # fmt: skip
                return
            except _MeanwhileFailed as failed:
                self._drop()  # mid-transaction: QUIT now would be read as the message's text
                raise failed.error from None
            except smtplib.SMTPResponseException as exc:
                self._reset()
                raise _classified(exc.smtp_code, exc.smtp_error) from exc
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if attempt == 2:
                    raise SendError(f"SMTP connection lost: {exc}", connection=True) from exc

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
        self._conn = None

    def _reset(self) -> None:
        # After a refused message the session may be mid-transaction; RSET or start over.
        try:
            if self._conn is not None:
                self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._conn = None


class OutboxMailer:
    """Writes each message to DIR/NNNN-address.eml and its HTML beside it."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.sent: list[tuple[str, bytes]] = []
        self.eight_bit = True  # files: any byte goes

    def open(self) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, msg: bytes, to: str, sender: str | None = None,
             meanwhile: Meanwhile = None) -> None:  # fmt: skip
        if meanwhile:
            meanwhile()
        self.sent.append((to, msg))
        if self.directory is None:
            return
        stem = f"{len(self.sent):04d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', to)[:80]}"
        (self.directory / f"{stem}.eml").write_bytes(msg)
        parsed = message_from_bytes(msg, policy=default)
        html = parsed.get_body(preferencelist=("html",))
        if html is not None:
            (self.directory / f"{stem}.html").write_text(html.get_content(), encoding="utf-8")

    def close(self) -> None:
        pass


def _transaction(conn: smtplib.SMTP, sender: str, to: str, msg: bytes,
                 meanwhile: Callable[[], None]) -> None:  # fmt: skip
    """MAIL, RCPT and DATA for one message that `message.build` made (CRLF line endings).

    When the server offers PIPELINING (RFC 2920) the three commands go out in one write
    and their replies are read together: one round trip where there were three, with
    `meanwhile` run before the replies are read (without PIPELINING, before MAIL). The
    message needs only dot-stuffing, a plain replace (smtplib's sendmail runs two regular
    expressions over every message and parses both addresses again)."""
    if any(c in to for c in "\r\n<>"):
        raise smtplib.SMTPResponseException(553, b"malformed recipient address")
    conn.ehlo_or_helo_if_needed()
    mail_from = f"MAIL FROM:<{sender}>"
    if not msg.isascii():  # built 8bit for a server that offered 8BITMIME
        if not conn.has_extn("8bitmime"):  # a reconnection reached one that does not
            raise smtplib.SMTPResponseException(451, b"the server no longer offers 8BITMIME")
        mail_from += " BODY=8BITMIME"
    commands = (mail_from, f"RCPT TO:<{to}>", "DATA")
    expected = ((250,), (250, 251), (354,))
    replies: list[tuple[int, bytes]] = []
    if conn.has_extn("pipelining"):
        conn.send("".join(f"{command}\r\n" for command in commands))
        meanwhile()
        replies = [conn.getreply() for _ in commands]
    else:
        meanwhile()
        for command, ok in zip(commands, expected, strict=True):
            conn.putcmd(command)
            replies.append(conn.getreply())
            if replies[-1][0] not in ok:
                break
    for (code, reply), ok in zip(replies, expected, strict=False):
        if code not in ok:
            if replies[-1][0] == 354:  # DATA was accepted after all: end it empty
                conn.send(b".\r\n")
                conn.getreply()
            raise smtplib.SMTPResponseException(code, reply)
    body = b"." + msg if msg.startswith(b".") else msg
    if b"\r\n." in body:  # rarely: `in` is four times as fast as a replace that finds none
        body = body.replace(b"\r\n.", b"\r\n..")
    conn.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    code, reply = conn.getreply()
    if code != 250:
        raise smtplib.SMTPResponseException(code, reply)


def _classified(code: int, text: bytes | str) -> SendError:
    reply = f"{code} {_decode(text)}"
    return SendError(reply, permanent=500 <= code < 600)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_decode(exc.smtp_error)}"


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def reply_code(reply: str | None) -> str:
    """The three digits an SMTP reply starts with, or 'none' (no reply: no connection)."""
    code = (reply or "")[:3]
    return code if code.isdigit() else "none"
