"""Bounces and complaints that come back after sending: real bounce messages (flufl.bounce's
samples, tests/data/bounces/) and RFC 5965's complaint, sent back to the VERP address of
real deliveries, read from a Maildir and from a real IMAP server (Dovecot, over TLS)."""

from __future__ import annotations

import getpass
import imaplib
import json
import mailbox
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlmodel import Session, select

from newsletter.models import MailEvent, Subscriber
from newsletter.settings import get_settings
from newsletter.web.hooks import SIGNATURE, signature
from tests.conftest import REAL, SmtpServer
from tests.helpers import free_port, invoke, run, wait_for, web_client

SAMPLES = Path(__file__).parent / "data" / "bounces"
BOUNCE_ADDRESS = "bounces@papers.example.com"
READERS = [f"r{n}@example.com" for n in range(10)]
VERP = re.compile(r"bounces\+\d+-[a-z2-7]{16}@papers\.example\.com")


@pytest.fixture
def sent(settings, smtp: SmtpServer, monkeypatch) -> dict[str, str]:
    """One issue sent to ten readers with a bounce address set: each reader's envelope
    sender (its VERP address)."""
    monkeypatch.setenv("NEWSLETTER_BOUNCE_ADDRESS", BOUNCE_ADDRESS)
    monkeypatch.setenv("NEWSLETTER_SUPPRESS_AFTER_BOUNCES", "2")
    get_settings.cache_clear()
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    for email in READERS:
        run("subscribers", "add", email, "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    return {to: sender for (to, _), sender in zip(smtp.received, smtp.senders, strict=True)}


def returned(sample: str, verp: str, reader: str = "") -> bytes:
    """A real bounce as our bounce mailbox gets it: addressed to the VERP address of the
    digest it is about (the complaint sample also names the reader)."""
    raw = (SAMPLES / sample).read_bytes().replace(b"{verp}", verp.encode())
    msg = message_from_bytes(raw.replace(b"{reader}", reader.encode()))
    del msg["To"]
    msg["To"] = verp
    return msg.as_bytes()


def forged(verp: str) -> str:
    """The same shape with another signature: names no delivery."""
    return re.sub(r"-[a-z2-7]{16}@", "-" + "a" * 16 + "@", verp)


def mail_back(sent: dict[str, str]) -> list[bytes]:
    """What comes back for the issue: 7 hard bounces (two for r0), 2 soft, 1 complaint, 1
    bounce with a forged VERP address, and 2 messages that are neither."""
    verp = [sent[r] for r in READERS]
    hard = ["dsn_01", "postfix_01", "exim_01", "qmail_01", "microsoft_01", "yahoo_01"]
    messages = [returned(f"{name}.eml", verp[n]) for n, name in enumerate(hard)]
    messages += [returned("aol_01.eml", verp[0])]  # r0's second: suppressed at 2
    messages += [returned("dsn_05.eml", verp[6]), returned("simple_03.eml", verp[7])]
    messages += [returned("arf_rfc5965.eml", verp[8], READERS[8])]
    messages += [returned("groupwise_01.eml", forged(verp[9]))]
    messages += [returned("bounce_01.eml", BOUNCE_ADDRESS), returned("qmail_08.eml", verp[9])]
    return messages


EXPECTED = {"hard_bounce": 7, "soft_bounce": 2, "complaint": 1, "repeated": 0, "unmatched": 1,
            "unrecognised": 2, "suppressed": ["r0@example.com"],
            "unsubscribed": ["r8@example.com"]}  # fmt: skip
NOTHING_NEW = EXPECTED | {"hard_bounce": 0, "soft_bounce": 0, "complaint": 0, "unmatched": 0,
                          "suppressed": [], "unsubscribed": []}  # fmt: skip


def fetch(*args: str) -> dict[str, object]:
    code, out = invoke("bounces", "fetch", "--json", *args)
    assert code == 0, out
    return dict(json.loads(out))


def status(session: Session) -> dict[str, tuple[str, int]]:
    session.expire_all()
    return {r.email: (str(r.status), r.bounces) for r in session.exec(select(Subscriber))}


def test_each_digest_goes_out_from_its_own_verp_address(sent) -> None:
    assert all(VERP.fullmatch(sender) for sender in sent.values())
    assert len(set(sent.values())) == len(READERS)


def test_a_maildir_of_real_bounces_and_a_complaint(sent, session, tmp_path, smtp) -> None:
    box = mailbox.Maildir(tmp_path / "bounces")
    messages = mail_back(sent)
    for raw in messages:
        box.add(raw)
    code, out = invoke("bounces", "fetch", "--maildir", str(box._path))
    print(f"\n$ newsletter bounces fetch --maildir DIR\n{out}")
    assert code == 0 and out.splitlines() == [
        "maildir: 7 hard bounces, 2 soft, 1 complaints, 0 handled before, 1 naming no "
        "delivery of ours, 2 neither (left unread)",
        "suppressed: r0@example.com",
        "unsubscribed after a complaint: r8@example.com",
    ]
    readers = status(session)
    assert readers["r0@example.com"] == ("suppressed", 2)
    assert [readers[r] for r in READERS[1:6]] == [("confirmed", 1)] * 5  # counted, not yet
    assert readers["r6@example.com"] == readers["r7@example.com"] == ("confirmed", 0)
    assert readers["r8@example.com"] == ("unsubscribed", 0)
    events = session.exec(select(MailEvent)).all()
    assert len(events) == 11 and {e.source for e in events} == {"maildir"}
    assert {e.detail for e in events if e.kind == "complaint"} == {"complaint (abuse)"}

    # A second run handles nothing; what was neither stays unread for a person.
    assert fetch("--maildir", str(box._path)) == {"source": "maildir", **NOTHING_NEW}
    unread = [k for k, m in box.iteritems() if "S" not in m.get_flags()]
    assert len(unread) == 2
    # The same message delivered twice is handled once.
    box.add(messages[1])
    again = fetch("--maildir", str(box._path))
    assert again == {"source": "maildir", **NOTHING_NEW, "repeated": 1}
    assert status(session) == readers

    # Next week neither the suppressed nor the complaining reader is mailed.
    smtp.received.clear()
    run("send", "--issue-date", "2026-05-12")  # the same week, re-run: nobody twice
    assert smtp.received == []


def test_a_bad_mailbox_is_one_clear_line(sent, tmp_path, monkeypatch) -> None:
    code, out = invoke("bounces", "fetch", "--maildir", str(tmp_path / "missing"))
    assert code == 1 and "cannot read the Maildir" in out and "Traceback" not in out
    monkeypatch.setenv("NEWSLETTER_BOUNCE_MAILDIR", str(tmp_path / "missing"))
    get_settings.cache_clear()
    assert "fail  bounce mailbox: cannot read the Maildir" in invoke("doctor")[1]
    mailbox.Maildir(tmp_path / "box").add(returned("dsn_01.eml", sent["r0@example.com"]))
    monkeypatch.setenv("NEWSLETTER_BOUNCE_MAILDIR", str(tmp_path / "box"))
    get_settings.cache_clear()
    assert "ok    bounce mailbox (maildir) readable, 1 unread" in invoke("doctor")[1]
    monkeypatch.setenv("NEWSLETTER_BOUNCE_MAILDIR", "")
    monkeypatch.setenv("NEWSLETTER_BOUNCE_IMAP_URL", f"imaps://u:p@127.0.0.1:{free_port()}/")
    get_settings.cache_clear()
    code, out = invoke("bounces", "fetch")
    assert code == 1 and out.startswith("Error: IMAP 127.0.0.1:") and out.count("\n") == 1


@dataclass
class Imap:
    port: int
    cafile: str
    user: str = "bounces"
    password: str = "s3cret pass"

    def url(self) -> str:
        return f"imaps://{self.user}:s3cret%20pass@127.0.0.1:{self.port}/INBOX"

    def connect(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=self.cafile)
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        conn.login(self.user, self.password)
        conn.select("INBOX")
        return conn


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
mail_location = maildir:{dir}/home/%u/Maildir
first_valid_uid = {uid}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
"""


@pytest.fixture
def imap() -> Iterator[Imap]:
    """Dovecot on a free port, IMAP over TLS with a self-signed certificate, one login."""
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(dovecot).exists():
        pytest.fail("Dovecot is needed (Debian package dovecot-imapd; scripts/test.sh installs it)")
    home = Path(tempfile.mkdtemp(prefix="imap"))  # short: Dovecot's sockets live under it
    home.chmod(0o755)  # its auth process reads the users file as Dovecot's user
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", home / "key.pem", "-out", home / "cert.pem", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    server = Imap(port=free_port(), cafile=str(home / "cert.pem"))
    (home / "users").write_text(f"{server.user}:{{PLAIN}}{server.password}\n")
    # As root, Dovecot's own users run it (it refuses uid 0 for mail); else the caller does.
    root = os.getuid() == 0
    owner = "dovecot" if root else getpass.getuser()
    uid, gid = (int(x) for x in subprocess.check_output(
        ["sh", "-c", f"id -u {owner}; id -g {owner}"]).split())  # fmt: skip
    (home / "home").mkdir()
    os.chown(home / "home", uid, gid) if root else None
    conf = home / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(dir=home, port=server.port, uid=uid, gid=gid,
                                        internal=owner, group=owner if not root else "dovecot",
                                        login="dovenull" if root else owner))  # fmt: skip
    subprocess.run([dovecot, "-c", conf], check=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                server.connect().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run([dovecot, "-c", conf, "stop"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_a_real_imap_mailbox_over_tls(sent, session, imap: Imap, monkeypatch) -> None:
    conn = imap.connect()
    for raw in mail_back(sent):
        conn.append("INBOX", None, None, raw)
    conn.logout()
    monkeypatch.setenv("NEWSLETTER_BOUNCE_IMAP_URL", imap.url())
    monkeypatch.setenv("SSL_CERT_FILE", imap.cafile)  # trust the test's own certificate
    get_settings.cache_clear()
    code, out = invoke("bounces", "fetch")
    print(f"\n$ newsletter bounces fetch   # NEWSLETTER_BOUNCE_IMAP_URL=imaps://...\n{out}")
    assert code == 0 and out.splitlines() == [
        "imap: 7 hard bounces, 2 soft, 1 complaints, 0 handled before, 1 naming no "
        "delivery of ours, 2 neither (left unread)",
        "suppressed: r0@example.com",
        "unsubscribed after a complaint: r8@example.com",
    ]
    assert fetch() == {"source": "imap", **NOTHING_NEW}
    conn = imap.connect()
    _, unseen = conn.uid("SEARCH", "UNSEEN")
    assert len(unseen[0].split()) == 2  # the two that are neither, left for a person
    conn.logout()
    assert status(session)["r0@example.com"] == ("suppressed", 2)
    # Without the certificate trusted, nothing is read and nothing changes.
    monkeypatch.delenv("SSL_CERT_FILE")
    code, out = invoke("bounces", "fetch")
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in out


def post_event(client, event: dict[str, str], secret: str = "hook-secret"):  # type: ignore[no-untyped-def]
    body = json.dumps(event).encode()
    return client.post("/hooks/bounces", content=body, headers={
        "Content-Type": "application/json", SIGNATURE: signature(body, secret)})  # fmt: skip


def test_a_relays_signed_events_take_the_same_path(sent, session, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_WEBHOOK_SECRET", "hook-secret")
    get_settings.cache_clear()
    client = web_client()
    hard = {"id": "evt-1", "type": "hard_bounce", "return_path": sent["r1@example.com"],
            "detail": "550 5.1.1 user unknown"}  # fmt: skip
    complaint = {"id": "evt-2", "type": "complaint", "recipient": "r2@example.com"}
    soft = {"id": "evt-3", "type": "soft_bounce", "recipient": "R3@Example.com"}
    for event in (hard, complaint, soft):
        assert post_event(client, event).status_code == 204
    before = status(session)
    assert before["r1@example.com"] == ("confirmed", 1)
    assert before["r2@example.com"] == ("unsubscribed", 0)
    # A replay, a bad signature or a malformed event changes nothing.
    assert post_event(client, hard).status_code == 204
    assert post_event(client, hard | {"id": "evt-4"}, secret="guess").status_code == 401
    unsigned = client.post("/hooks/bounces", json=hard | {"id": "evt-5"})
    assert unsigned.status_code == 401 and "X-Newsletter-Signature" in unsigned.json()["detail"]
    wrong = post_event(client, {"id": "evt-6", "type": "opened"})
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("type:")
    assert status(session) == before
    assert [e.source for e in session.exec(select(MailEvent))] == ["webhook"] * 3
    # Without a secret the route does not exist.
    monkeypatch.setenv("NEWSLETTER_WEBHOOK_SECRET", "")
    get_settings.cache_clear()
    assert post_event(web_client(), hard | {"id": "evt-7"}).status_code == 404


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_beat_reads_the_mailbox_through_a_real_worker(sent, session, workers, tmp_path,
                                                     monkeypatch) -> None:  # fmt: skip
    from workers.celery_app import make_app
    from workers.schedule import beat_schedule

    assert "fetch-bounces" not in beat_schedule(get_settings())  # no mailbox, no fetch
    box = mailbox.Maildir(tmp_path / "bounces")
    box.add(returned("dsn_01.eml", sent["r1@example.com"]))
    monkeypatch.setenv("NEWSLETTER_BOUNCE_MAILDIR", str(box._path))
    get_settings.cache_clear()
    schedule = beat_schedule(get_settings())
    assert schedule["fetch-bounces"]["task"] == "newsletter.fetch_bounces"
    assert str(schedule["fetch-bounces"]["schedule"]) == "<crontab: */15 * * * * (m/h/dM/MY/d)>"
    workers.start("w1")
    make_app().send_task(schedule["fetch-bounces"]["task"])
    wait_for(lambda: status(session)["r1@example.com"] == ("confirmed", 1), 30, "the fetch")
    assert [e.source for e in session.exec(select(MailEvent))] == ["maildir"]
