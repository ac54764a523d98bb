"""Settings: every knob an operator can turn, read from NEWSLETTER_* variables and `.env`.

The defaults run on one laptop (SQLite file, SMTP on localhost:1025, Redis on
localhost:6379). Outside development every process refuses to start on a secret key that
could be guessed or on the localhost base URL (`production_problems`), because every link
in every email is signed with the one and points at the other.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-not-secret"
DEFAULT_BASE_URL = "http://localhost:8000"
MIN_SECRET_BYTES = 32  # `newsletter secret new` makes 48


class SmtpTls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: str = "development"
    # URLs may carry passwords: kept out of repr() so they never reach a log or a traceback.
    database_url: str = Field("sqlite:///newsletter.db", repr=False)
    # The Celery broker and the web app's rate-limit counts (empty: counted per web process).
    redis_url: str = Field("redis://localhost:6379/0", repr=False)
    # Before every key this deployment keeps in Redis (rate limits, pacing, the task queue's),
    # so that two deployments, or other software, can share one Redis without meeting.
    redis_prefix: str = Field("newsletter:", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_tls: SmtpTls = SmtpTls.NONE
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = 30.0

    # `NEWSLETTER_FROM`: "Name <address>" or a bare address.
    sender: str = Field("Trending Papers <digest@example.com>", alias="NEWSLETTER_FROM")
    base_url: str = DEFAULT_BASE_URL
    postal_address: str = "Trending Papers, 1 Example Street, 00000 Example City"
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    # The key before the last rotation: links signed with it still work, new ones use the
    # current key. Drop it once the links it signed may have expired (the manage links').
    secret_key_previous: SecretStr = SecretStr("")
    list_id: str = "trending-papers"
    # Optional DKIM signing: selector, and the private key as PEM text or a path to it.
    dkim_selector: str = ""
    dkim_private_key: SecretStr = SecretStr("")

    issue_size: int = Field(10, ge=1, le=50)
    window_days: int = Field(7, ge=1, le=31)

    # Workers: deliveries per task (one SMTP connection each), and how long a claimed
    # delivery stays with its worker before another may take it (longer than a task may run).
    batch_size: int = Field(200, ge=1, le=5000)
    delivery_lease_seconds: int = Field(600, ge=1)
    task_time_limit: int = Field(300, ge=1)
    # Outcomes written together: 1 = each before the next message can be accepted (a killed
    # worker re-sends at most one message; as fast as batching, see db.py); N = N at a time,
    # up to N re-sent.
    ledger_flush_every: int = Field(1, ge=1, le=5000)
    # A reader whose moment passed while beat or the workers were down is still sent this long
    # after it; later than that they wait for next week's.
    send_grace_hours: int = Field(24, ge=1, le=144)

    # A reader whose topics found nothing this many issues in a row gets one short mail saying
    # so, with their topics and a link to change them (0: never).
    empty_weeks_notice: int = Field(3, ge=0, le=52)

    # Readers' side (the web app).
    confirm_max_age_days: int = Field(7, ge=1)
    # A manage link older than this shows a form that mails a fresh one; unsubscribe links
    # work as long as the reader's link key does (RFC 8058).
    manage_link_days: int = Field(90, ge=1)
    subscribe_limit_per_ip: int = Field(20, ge=1)  # requests per hour per client address
    subscribe_limit_per_email: int = Field(3, ge=1)  # requests per hour per address
    preview_limit_per_ip: int = Field(600, ge=1)  # topic previews per hour per client address
    suppress_after_bounces: int = Field(3, ge=1)
    # Per-domain sending rates across all workers, "gmail.com=50/s,*=200/s" (empty: none);
    # see newsletter/delivery/pacing.py.
    domain_rates: str = ""
    # Bounces and complaints that come back later (newsletter/delivery/verp.py, bounces.py):
    # the envelope sender's address, bounces+{signed delivery}@domain on each digest, and
    # where its mail is read: imaps://user:password@host[:993]/INBOX (imap:// uses STARTTLS)
    # or a Maildir folder. Beat fetches every 15 minutes when one of the two is set.
    bounce_address: str = ""
    bounce_imap_url: SecretStr = SecretStr("")
    bounce_maildir: str = ""
    # Prometheus metrics (newsletter/metrics.py): on a port of their own, bound to
    # metrics_host, when metrics_port is set; on the readers' port only behind
    # `Authorization: Bearer <metrics_token>`. With neither, nothing serves them.
    metrics_enabled: bool = True
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr = SecretStr("")
    # Signs relays' bounce and complaint events to POST /hooks/bounces (web/hooks.py).
    webhook_secret: SecretStr = SecretStr("")
    # A topic is suggested on the public subscribe page only when this many readers share it.
    suggest_min_readers: int = Field(5, ge=2)
    # Matching by meaning: "minilm-topics" (all-MiniLM-L6-v2 tuned on readers' topics for
    # papers), "minilm" (all-MiniLM-L6-v2 as published, contextual), "builtin" (the static
    # model distilled from it: finds less, at a tenth of the CPU), a model2vec model's folder
    # or id, a sentence-transformers BERT checkpoint's folder, or "off" for words only
    # (newsletter/match/semantic.py).
    embedding_model: str = "minilm-topics"

    hf_api_url: str = "https://huggingface.co/api/daily_papers"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_delay_seconds: float = 3.0
    http_timeout: float = 20.0
    http_retries: int = 4
    http_backoff_seconds: float = 1.0

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        from email.utils import parseaddr

        _, address = parseaddr(value)
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"NEWSLETTER_FROM is not a valid sender: {exc}") from exc
        return value

    @field_validator("domain_rates")
    @classmethod
    def _rates(cls, value: str) -> str:
        from newsletter.delivery.pacing import parse_rates

        parse_rates(value)
        return value

    @field_validator("bounce_address")
    @classmethod
    def _bounce_address(cls, value: str) -> str:
        if value:
            try:
                validate_email(value, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(f"NEWSLETTER_BOUNCE_ADDRESS is not an address: {exc}") from exc
        return value

    @property
    def bounce_mailbox(self) -> bool:
        return bool(self.bounce_imap_url.get_secret_value() or self.bounce_maildir)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_unsafe_outside_development(self) -> Settings:
        if self.env != "development" and (problems := self.production_problems()):
            raise ValueError(f"refusing to start with NEWSLETTER_ENV={self.env}: {problems[0]}")
        return self

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe to serve readers with, worst first."""
        secret = self.secret_key.get_secret_value()
        problems = []
        if secret in ("", DEV_SECRET):
            problems.append(
                "NEWSLETTER_SECRET_KEY is unset or the development placeholder, so anyone can "
                "forge readers' links; set one made by `newsletter secret new`"
            )
        elif len(secret.encode()) < MIN_SECRET_BYTES:
            problems.append(
                f"NEWSLETTER_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes; set one made "
                "by `newsletter secret new`"
            )
        previous = self.secret_key_previous.get_secret_value()
        if previous and previous in (DEV_SECRET, secret):
            problems.append("NEWSLETTER_SECRET_KEY_PREVIOUS must be the key before the current one")
        if self.base_url == DEFAULT_BASE_URL:
            problems.append(
                "NEWSLETTER_BASE_URL is the development default (localhost); set the public "
                "URL readers' links point at"
            )
        return problems

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """The keys links are checked against, current first; new links use the first."""
        previous = self.secret_key_previous.get_secret_value()
        current = self.secret_key.get_secret_value()
        return (current, previous) if previous else (current,)

    @property
    def delivery_lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.delivery_lease_seconds)

    @property
    def send_grace(self) -> dt.timedelta:
        return dt.timedelta(hours=self.send_grace_hours)

    @property
    def sender_address(self) -> str:
        return _address(self.sender)[1]

    @property
    def dkim_key(self) -> bytes:
        """The DKIM private key's PEM bytes (read from the file when a path is given)."""
        return _pem(self.dkim_private_key.get_secret_value().strip())

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2] or "localhost"


@lru_cache(maxsize=16)
def _address(sender: str) -> tuple[str, str]:
    """(display name, address) of `sender`; every message asks, so it is parsed once."""
    return parseaddr(sender)


@lru_cache(maxsize=4)
def _pem(value: str) -> bytes:
    return value.encode() if value.startswith("-----BEGIN") else Path(value).read_bytes()


def settings_message(exc: ValidationError) -> str:
    """One line for settings the environment got wrong: the first error, and which setting
    it is about unless it is about several (a refusal to start)."""
    err = exc.errors()[0]
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"invalid setting {err['loc']}: {msg}" if err["loc"] else msg


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
