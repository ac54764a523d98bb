"""Doctor: checks an operator's configuration before the first real send and says what to
fix. Each check answers ok, warn (works, but mail may suffer) or fail (fix before sending)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import urlparse

import dkim
import dns.exception
import dns.resolver
import httpx

from newsletter.delivery.mailbox import MailboxError, open_mailbox
from newsletter.match import semantic
from newsletter.settings import Settings, SmtpTls

PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net", "localhost")


@dataclass(frozen=True)
class Check:
    level: str  # "ok", "warn" or "fail"
    what: str
    fix: str = ""


def run(settings: Settings, *, dkim_record: str | None = None) -> list[Check]:
    return [
        _secret(settings),
        _base_url(settings),
        _sender(settings),
        _postal(settings),
        _smtp(settings),
        _dkim(settings, dkim_record),
        _embedding(settings),
        _bounces(settings),
        _metrics(settings),
    ]


def _bounces(s: Settings) -> Check:
    if not s.bounce_address:
        return Check("warn", "no bounce address: bounces and complaints that arrive after "
                     "sending are not read", "set NEWSLETTER_BOUNCE_ADDRESS and a mailbox "
                     "(NEWSLETTER_BOUNCE_IMAP_URL or _MAILDIR)")  # fmt: skip
    if not s.bounce_mailbox:
        return Check("fail", f"bounces go to {s.bounce_address}, but no mailbox is read",
                     "set NEWSLETTER_BOUNCE_IMAP_URL or NEWSLETTER_BOUNCE_MAILDIR")  # fmt: skip
    try:
        box = open_mailbox(s)
    except MailboxError as exc:
        return Check("fail", f"bounce mailbox: {exc}", "check the URL, login and certificate")
    try:
        waiting = sum(1 for _ in box.unread())
    finally:
        box.close()
    return Check("ok", f"bounce mailbox ({box.source}) readable, {waiting} unread")


def _metrics(s: Settings) -> Check:
    if not s.metrics_enabled:
        return Check("warn", "metrics are off", "set NEWSLETTER_METRICS_ENABLED=true")
    if not s.metrics_port:
        if s.metrics_token.get_secret_value():
            return Check("ok", "metrics at /metrics on the web app's port, behind the bearer "
                         "token NEWSLETTER_METRICS_TOKEN")  # fmt: skip
        return Check("warn", "metrics are served nowhere",
                     "set NEWSLETTER_METRICS_PORT (served on NEWSLETTER_METRICS_HOST, 127.0.0.1) "
                     "or NEWSLETTER_METRICS_TOKEN (on the web app's port, behind it)")  # fmt: skip
    host = "127.0.0.1" if s.metrics_host in ("0.0.0.0", "::", "") else s.metrics_host
    url = f"http://{host}:{s.metrics_port}/metrics"
    try:
        answer = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return Check("warn", f"nothing answers at {url}: {exc}",
                     "start `newsletter web` or a worker on this machine")  # fmt: skip
    if answer.status_code != 200 or "newsletter_" not in answer.text:
        return Check("fail", f"{url} answered {answer.status_code} without our metrics",
                     "another program holds NEWSLETTER_METRICS_PORT")  # fmt: skip
    return Check("ok", f"metrics served at {url}")


def _embedding(s: Settings) -> Check:
    encoder = semantic.load(s.embedding_model)
    if encoder is None:
        return Check(
            "warn",
            f"matching by words only: {semantic.why_not(s.embedding_model)}",
            "set NEWSLETTER_EMBEDDING_MODEL to minilm, builtin, or a model2vec or BERT folder",
        )
    return Check("ok", f"matching by words and meaning (model {encoder.name})")


def _secret(s: Settings) -> Check:
    problems = [p for p in s.production_problems() if "SECRET_KEY" in p]
    if problems:
        return Check("fail", problems[0], "every link in every email is signed with it")
    return Check("ok", "secret key set")


def _base_url(s: Settings) -> Check:
    url = urlparse(s.base_url)
    if url.scheme != "https":
        return Check(
            "fail",
            f"NEWSLETTER_BASE_URL is not https ({s.base_url})",
            "mailbox providers expect https one-click unsubscribe links (RFC 8058)",
        )
    return Check("ok", f"public URL {s.base_url}")


def _sender(s: Settings) -> Check:
    domain = s.sender_domain.lower()
    if domain in PLACEHOLDER_DOMAINS or domain.endswith((".example", ".test", ".invalid")):
        return Check(
            "warn",
            f"sender domain {domain} is a placeholder",
            "set NEWSLETTER_FROM to an address on a domain you control (SPF, DKIM)",
        )
    return Check("ok", f"sender {s.sender_address}")


def _postal(s: Settings) -> Check:
    if "Example" in s.postal_address or len(s.postal_address.strip()) < 10:
        return Check(
            "fail",
            "NEWSLETTER_POSTAL_ADDRESS is the placeholder",
            "bulk mail must carry the sender's postal address (CAN-SPAM)",
        )
    return Check("ok", "postal address set")


def _smtp(s: Settings) -> Check:
    where = f"{s.smtp_host}:{s.smtp_port}"
    try:
        if s.smtp_tls is SmtpTls.IMPLICIT:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=10, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10)
        with conn:
            conn.ehlo()
            if s.smtp_tls is SmtpTls.STARTTLS:
                if not conn.has_extn("starttls"):
                    return Check(
                        "fail",
                        f"SMTP {where} does not offer STARTTLS",
                        "set NEWSLETTER_SMTP_TLS to implicit or none to match it",
                    )
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if s.smtp_user:
                conn.login(s.smtp_user, s.smtp_password.get_secret_value())
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            "fail",
            f"SMTP {where} not usable: {exc}",
            "check NEWSLETTER_SMTP_HOST, _PORT, _TLS, _USER and _PASSWORD",
        )
    tls = "none" if s.smtp_tls is SmtpTls.NONE else s.smtp_tls.value
    level = "warn" if tls == "none" and s.smtp_host not in ("localhost", "127.0.0.1") else "ok"
    return Check(
        level,
        f"SMTP {where} reachable (TLS: {tls})",
        "use STARTTLS or implicit TLS to a remote server" if level == "warn" else "",
    )


def _dkim(s: Settings, record: str | None) -> Check:
    if not s.dkim_selector:
        return Check("warn", "no DKIM signing", "set NEWSLETTER_DKIM_SELECTOR and _PRIVATE_KEY")
    name = f"{s.dkim_selector}._domainkey.{s.sender_domain}"
    try:
        key = s.dkim_key
    except OSError as exc:
        return Check("fail", f"DKIM private key unreadable: {exc}", "check the path or PEM")
    if record is None:
        try:
            record = b"".join(dns.resolver.resolve(name, "TXT")[0].strings).decode()
        except dns.exception.DNSException as exc:
            return Check(
                "warn",
                f"could not look up {name}: {exc}",
                "publish the key there, or pass --dkim-record to compare offline",
            )
    probe = (
        b"From: doctor@"
        + s.sender_domain.encode()
        + b"\r\nTo: x@"
        + s.sender_domain.encode()
        + b"\r\nSubject: doctor\r\n\r\nprobe\r\n"
    )
    signed = (
        dkim.sign(
            probe,
            s.dkim_selector.encode(),
            s.sender_domain.encode(),
            key,
            include_headers=[b"from", b"to", b"subject"],
        )
        + probe
    )
    published = record.encode()
    if not dkim.verify(signed, dnsfunc=lambda *_args, **_kw: published):
        return Check(
            "fail",
            f"the DKIM key does not match the record at {name}",
            "publish the public half of NEWSLETTER_DKIM_PRIVATE_KEY there",
        )
    return Check("ok", f"DKIM key matches {name}")
