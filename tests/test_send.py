"""The weekly issue end to end through a real SMTP server: parts, headers, links, the ledger,
idempotent re-runs, refusals, a server that is down, and a dry run that writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_module
import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from newsletter import db
from newsletter.delivery import campaign, ledger
from newsletter.delivery.mailer import SendError, SmtpMailer
from newsletter.digest.compose import IssueCache, picks_for, profiles
from newsletter.match.engine import Pick
from newsletter.models import Delivery, DeliveryStatus, Paper, Subscriber
from newsletter.readers.links import Purpose, read
from newsletter.settings import get_settings
from tests.conftest import REAL, SmtpServer
from tests.helpers import invoke

WEEK_DATE = "2026-05-12"


@pytest.fixture
def week(settings, session: Session, tmp_path: Path) -> Session:
    """The real Daily Papers of 2026-05-12, with one hostile title, and three readers."""
    data = json.loads((REAL / "hf_daily_papers_2026-05-12.json").read_text())
    data[0]["paper"]["title"] = "<script>alert('x')</script> Soohak:\nBenchmarking LLM evaluation"
    path = tmp_path / "week.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    assert invoke("ingest", "file", str(path), "--featured-on", WEEK_DATE)[0] == 0
    for args in (
        ["ada@example.com", "--topic", "LLM evaluation", "--topic", "mixture of experts"],
        ["bob@example.org", "--topic", "agents", "--topic", "reinforcement learning"],
        ["zoe@example.net", "--topic", "protein folding"],
    ):
        code, out = invoke("subscribers", "add", *args, "--confirmed")
        assert code == 0, out
    assert invoke("subscribers", "add", "unconfirmed@example.com", "--topic", "agents")[0] == 0
    return session


def deliveries(session: Session) -> dict[str, Delivery]:
    rows = session.exec(
        text("SELECT s.email, d.id FROM delivery d JOIN subscriber s ON s.id = d.subscriber_id")
    )
    session.expire_all()
    return {email: session.get(Delivery, i) for email, i in rows}  # type: ignore[misc]


# Servers with and without PIPELINING (RFC 2920) take different paths through the mailer.
PIPELINING = pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "lockstep"])


def test_send_delivers_and_records(week: Session, smtp: SmtpServer, settings) -> None:
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary == {
        "week": "2026-W20",
        "dry_run": False,
        "planned": 3,
        "sent": 2,
        "skipped": 1,
        "notices": 0,
        "failed": 0,
        "retry_later": 0,
    }
    assert sorted(to for to, _ in smtp.received) == ["ada@example.com", "bob@example.org"]
    assert smtp.connections == 1  # one connection for the whole batch

    ledger = deliveries(week)
    assert set(ledger) == {"ada@example.com", "bob@example.org", "zoe@example.net"}
    assert ledger["zoe@example.net"].status == DeliveryStatus.SKIPPED
    assert "no paper" in (ledger["zoe@example.net"].last_error or "")
    ada = ledger["ada@example.com"]
    assert ada.status == DeliveryStatus.SENT and ada.sent_at and ada.attempts == 1
    assert ada.paper_ids and len(ada.paper_ids) == len(ada.picks) <= settings.issue_size

    [msg] = smtp.messages_to("ada@example.com")
    assert (
        msg["Message-ID"]
        == ada.message_id
        == f"<digest.2026-W20.{ada.subscriber_id}@papers.example.com>"
    )
    _check_message(msg, settings, ada, week)


def _check_message(msg: EmailMessage, settings, delivery: Delivery, session: Session) -> None:
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = (p.get_content() for p in msg.iter_parts())
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # Headers: one-click unsubscribe with a signed https link for this reader.
    unsubscribe = re.fullmatch(
        r"<(https://papers\.example\.com/unsubscribe/([^>]+))>", msg["List-Unsubscribe"]
    )
    assert unsubscribe, msg["List-Unsubscribe"]
    assert read(settings, Purpose.UNSUBSCRIBE, unsubscribe.group(2)).reader_id == (
        delivery.subscriber_id
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == "Trending papers <trending-papers.papers.example.com>"
    assert msg["From"] == "Trending Papers <digest@papers.example.com>"
    assert "\n" not in msg["Subject"] and msg["Subject"].startswith(
        f"{len(delivery.paper_ids)} trending paper"
    )
    # Both parts carry every picked paper with its links and the reason.
    papers = {p.id: p for p in session.exec(select(Paper))}
    for paper_id in delivery.paper_ids:
        paper = papers[paper_id]
        for link in (paper.abs_url, paper.pdf_url):
            assert link in plain and link in html
    assert "Why:" in plain and "“LLM evaluation”" in plain
    assert unsubscribe.group(1) in plain and unsubscribe.group(1) in html
    assert "/manage/" in plain and "/manage/" in html
    assert "1 Example Street" in plain  # postal address in the footer
    # The hostile title is escaped in HTML and flattened to one line in text.
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<script>alert('x')</script> Soohak: Benchmarking LLM evaluation" in plain
    # Non-ASCII author names survive the trip (2026-05-12 has "Víctor Gallego" among authors).
    if any("Víctor" in " ".join(papers[i].authors[:3]) for i in delivery.paper_ids):
        assert "Víctor" in plain and "Víctor" in html_module.unescape(html)  # &#237; in HTML


def test_running_the_same_issue_again_sends_nothing(week, smtp, settings) -> None:
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    first = len(smtp.received)
    code, out = invoke("send", "--issue-date", "2026-05-14", "--json")  # same ISO week
    assert code == 0, out
    assert json.loads(out)["planned"] == 0
    assert len(smtp.received) == first


def test_a_paper_is_never_sent_twice_to_one_reader(week, smtp, settings) -> None:
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    # The next week's window (2026-05-12 to 05-18) still holds the 2026-05-12 papers.
    code, out = invoke("send", "--issue-date", "2026-05-18", "--json")
    assert code == 0, out
    ids = {email: d.subscriber_id for email, d in deliveries(week).items()}
    sent: dict[int, list[list[int]]] = {}
    for d in week.exec(
        select(Delivery).where(Delivery.status == DeliveryStatus.SENT).order_by(Delivery.issue_id)
    ):
        sent.setdefault(d.subscriber_id, []).append(d.paper_ids)
    # Ada's few matches all went out last week: she is skipped, not sent them again.
    assert len(sent[ids["ada@example.com"]]) == 1
    # Bob matched more than one issue's worth, so he gets a second issue of new papers only.
    first, second = sent[ids["bob@example.org"]]
    assert len(first) == settings.issue_size and second and not set(first) & set(second)
    assert len(smtp.messages_to("bob@example.org")) == 2


@PIPELINING
def test_permanent_refusal_is_failed_with_the_reply(week, smtp, settings, pipelining) -> None:
    smtp.pipelining = pipelining
    smtp.refuse_rcpt["bob@example.org"] = "550 5.1.1 No such user here"
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    assert json.loads(out)["failed"] == 1
    bob = deliveries(week)["bob@example.org"]
    assert bob.status == DeliveryStatus.FAILED
    assert bob.last_error == "550 5.1.1 No such user here"
    assert [to for to, _ in smtp.received] == ["ada@example.com"]


@PIPELINING
def test_transient_refusal_is_retried_on_the_next_run(week, smtp, settings, pipelining) -> None:
    smtp.pipelining = pipelining
    smtp.refuse_data["ada@example.com"] = "451 4.3.0 Try again later"
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    assert json.loads(out)["retry_later"] == 1
    ada = deliveries(week)["ada@example.com"]
    assert ada.status == DeliveryStatus.PENDING and ada.last_error.startswith("451")
    smtp.refuse_data.clear()
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    assert json.loads(out) | {"week": ""} == {
        "week": "",
        "dry_run": False,
        "planned": 1,
        "sent": 1,
        "skipped": 0,
        "notices": 0,
        "failed": 0,
        "retry_later": 0,
    }
    assert len(smtp.messages_to("ada@example.com")) == 1
    assert deliveries(week)["ada@example.com"].attempts == 2


def test_smtp_down_is_one_line_and_loses_nothing(week, smtp, settings, monkeypatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(free_port()))
    get_settings.cache_clear()
    code, out = invoke("send", "--issue-date", WEEK_DATE)
    assert code == 1
    assert out.startswith("Error: cannot connect to SMTP") and out.count("\n") == 1, out
    assert {d.status for d in deliveries(week).values()} == {DeliveryStatus.PENDING}
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(smtp.port))
    get_settings.cache_clear()
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    assert len(smtp.received) == 2


@PIPELINING
def test_a_message_is_accepted_only_once_the_one_before_it_is_recorded(
    week, smtp, settings, pipelining
) -> None:
    """A message's outcome is written while the server answers the next one's envelope,
    never later than that message's data: when the server is about to accept a message,
    each one it accepted before is recorded as sent."""
    smtp.pipelining = pipelining
    recorded: list[int] = []

    def count_sent() -> None:
        with Session(db.get_engine(settings.database_url)) as other:
            sent = select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            recorded.append(other.exec(sent).one())

    for address in ("ada@example.com", "bob@example.org"):
        smtp.before_accept[address] = count_sent
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    assert json.loads(out)["sent"] == 2
    assert recorded == [0, 1]


@PIPELINING
def test_a_write_that_fails_meanwhile_abandons_the_message(smtp, settings, pipelining) -> None:
    """The server never accepts a message whose predecessor's outcome could not be written."""
    smtp.pipelining = pipelining
    mailer = SmtpMailer(settings)
    message = b"Subject: hello\r\n\r\nhello\r\n"

    def database_down() -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        mailer.send(message, "ada@example.com", meanwhile=database_down)
    mailer.send(message, "bob@example.org")  # on a new connection
    mailer.close()
    assert [to for to, _ in smtp.received] == ["bob@example.org"]


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bitmime", "7bit"])
def test_text_goes_as_8bit_where_the_server_offers_8bitmime(week, smtp, settings, eight_bit):
    """Typographic quotes make the text non-ASCII: 8bit costs nothing to encode and is
    smaller, so it goes that way where the server says it may (RFC 6152), else as
    quoted-printable and HTML character references. The reader sees the same either way."""
    smtp.eight_bit = eight_bit
    assert invoke("send", "--issue-date", WEEK_DATE, "--to", "ada@example.com")[0] == 0
    (raw,), (options,), ((_, msg),) = smtp.raw, smtp.mail_options, smtp.received
    encodings = [p["Content-Transfer-Encoding"] for p in msg.iter_parts()]
    plain, html = (p.get_content() for p in msg.iter_parts())
    assert "“LLM evaluation”" in plain and "“LLM evaluation”" in html_module.unescape(html)
    if eight_bit:
        assert encodings == ["8bit", "8bit"] and options == ["BODY=8BITMIME"]
        assert "“LLM evaluation”".encode() in raw
    else:
        assert encodings == ["quoted-printable", "7bit"] and options == []
        assert raw.isascii()


def test_a_server_that_drops_8bitmime_on_reconnection_defers_the_message(smtp, settings):
    mailer = SmtpMailer(settings)
    assert mailer.eight_bit
    message = "Subject: hello\r\nContent-Transfer-Encoding: 8bit\r\n\r\n“hello”\r\n".encode()
    smtp.drop_once.add("ada@example.com")  # hang up at DATA: the mailer reconnects
    smtp.eight_bit = False  # and finds a server that no longer takes 8bit
    with pytest.raises(SendError) as refused:
        mailer.send(message, "ada@example.com")
    mailer.close()
    assert refused.value.reply.startswith("451") and not refused.value.permanent
    assert smtp.received == []


@PIPELINING
def test_dropped_connection_reconnects_and_sends_once(week, smtp, settings, pipelining) -> None:
    smtp.pipelining = pipelining
    smtp.drop_once.update({"ada@example.com", "bob@example.org"})
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert code == 0, out
    assert json.loads(out)["sent"] == 2
    assert sorted(to for to, _ in smtp.received) == ["ada@example.com", "bob@example.org"]
    assert smtp.connections == 3  # the first, and one reconnect per drop


def test_limit_leaves_the_rest_pending(week, smtp, settings) -> None:
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--limit", "1", "--json")
    assert code == 0, out
    assert json.loads(out)["planned"] == 1
    statuses = sorted(d.status for d in deliveries(week).values())
    assert statuses.count(DeliveryStatus.PENDING) == 2
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--json")
    assert json.loads(out)["planned"] == 2
    assert not [d for d in deliveries(week).values() if d.status == DeliveryStatus.PENDING]


def test_send_to_one_reader(week, smtp, settings) -> None:
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--to", "Bob@Example.org", "--json")
    assert code == 0, out
    assert [to for to, _ in smtp.received] == ["bob@example.org"]
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--to", "unconfirmed@example.com")
    assert code == 1 and "not a confirmed subscriber" in out


def _db_fingerprint(settings, session: Session) -> str:
    if settings.database_url.startswith("sqlite"):
        return hashlib.sha256(
            Path(settings.database_url.removeprefix("sqlite:///")).read_bytes()
        ).hexdigest()
    rows = []
    for table in ("subscriber", "paper", "issue", "delivery"):
        rows += [repr(r) for r in session.exec(text(f"SELECT * FROM {table} ORDER BY id"))]
    session.rollback()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def test_dry_run_changes_nothing_and_opens_no_smtp(week, smtp, settings, tmp_path) -> None:
    before = _db_fingerprint(settings, week)
    out_dir = tmp_path / "outbox"
    code, out = invoke("send", "--dry-run", "--issue-date", WEEK_DATE, "--out", str(out_dir))
    assert code == 0, out
    assert _db_fingerprint(settings, week) == before
    assert smtp.connections == 0 and smtp.received == []
    assert "ada@example.com" in out and "bob@example.org" in out and "zoe@example.net" in out
    assert "planned=3 would_send=2 skipped=1" in out
    emls = sorted(p.name for p in out_dir.glob("*.eml"))
    assert emls == ["0001-ada@example.com.eml", "0002-bob@example.org.eml"]
    assert len(list(out_dir.glob("*.html"))) == 2


def test_a_send_into_a_local_outbox_records_the_issue(week, smtp, settings, tmp_path) -> None:
    out_dir = tmp_path / "outbox"
    code, out = invoke("send", "--issue-date", WEEK_DATE, "--out", str(out_dir))
    assert code == 0, out
    assert "sent=2 skipped=1" in out and smtp.connections == 0
    assert sorted(p.name for p in out_dir.glob("*.eml")) == [
        "0001-ada@example.com.eml", "0002-bob@example.org.eml"]  # fmt: skip
    assert sorted(d.status for d in deliveries(week).values()) == ["sent", "sent", "skipped"]
    assert "sent=0" in invoke("send", "--issue-date", WEEK_DATE, "--out", str(out_dir))[1]


def test_dry_run_matches_the_real_send(week, smtp, settings) -> None:
    _code, out = invoke("send", "--dry-run", "--issue-date", WEEK_DATE, "--json")
    dry = {r["email"]: r for r in json.loads(out)["readers"]}
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    for to, msg in smtp.received:
        assert msg["Subject"] == dry[to]["subject"]


def test_status_shows_deferrals_by_reply_and_the_time_left(week, smtp, settings) -> None:
    smtp.refuse_rcpt["bob@example.org"] = "451 4.7.1 greylisted, try again later"
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    data = json.loads(invoke("status", "--json")[1])
    assert (data["sent"], data["pending"], data["deferred_by_reply"]) == (1, 1, {"451": 1})
    assert data["sent_per_minute"] == 1.0 and data["eta_seconds"] == 60  # one left at 1/min
    out = invoke("status")[1]
    assert "deferred, waiting to be tried again: 451 x1" in out and "about 1m 00s left" in out


def test_status_and_preview(week, smtp, settings, tmp_path) -> None:
    code, out = invoke("status")
    assert code == 1 and "no issue yet" in out
    assert invoke("send", "--issue-date", WEEK_DATE)[0] == 0
    code, out = invoke("status", "--json")
    assert json.loads(out) == {
        "week": "2026-W20",
        "issue_date": WEEK_DATE,
        "planned": 3,
        "pending": 0,
        "sending": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 1,
        "sent_per_minute": 2.0,  # both within the last minute
        "eta_seconds": None,
        "deferred_by_reply": {},
        "workers_per_minute": {ledger.worker(): 2},  # this process sent them
    }
    code, out = invoke("status", "--watch")  # nothing left: one view, then it stops
    assert code == 0 and "rate     2.0/min over the last minute" in out
    assert f"worker {ledger.worker()}: 2/min" in out
    target = tmp_path / "ada.html"
    code, out = invoke(
        "preview", "ada@example.com", "--issue-date", "2026-05-18", "--out", str(target)
    )
    # Everything of that week that matched was already sent to Ada.
    assert code == 1 and "nothing to preview" in out
    assert invoke("subscribers", "add", "new@example.com", "--topic", "agents")[0] == 0
    code, out = invoke(
        "preview", "new@example.com", "--issue-date", WEEK_DATE, "--out", str(target)
    )
    assert code == 0, out
    assert "<html" in target.read_text() and "agents" in target.read_text()


def test_readers_who_share_interests_share_one_ranked_list(week, settings) -> None:
    """Readers with the same topics, follows and exclusions and no votes get one list ranked
    once per issue, unless one of them was already sent some of the week's papers."""
    assert invoke("subscribers", "add", "ann@example.com", "--topic", "LLM evaluation",
                  "--topic", "mixture of experts", "--confirmed")[0] == 0  # fmt: skip
    issue, _ = campaign.plan(dt.date.fromisoformat(WEEK_DATE), settings, session=week)
    state = IssueCache().get(issue, settings, session=week)
    by_email = {s.email: s for s in week.exec(select(Subscriber))}
    told = profiles(by_email.values(), state, session=week)

    def picks(email: str, sent: set[int]) -> list[Pick]:
        reader = by_email[email]
        return picks_for(reader, state, sent, settings, told[reader.id])

    ada = picks("ada@example.com", set())
    ann = picks("ann@example.com", set())
    assert ada and ann is ada and len(state.shared) == 1
    top = ada[0].paper.id
    assert top is not None
    sent_before = picks("ann@example.com", {top})
    assert top not in [p.paper.id for p in sent_before] and len(state.shared) == 2
    bob = picks("bob@example.org", set())
    assert {p.paper.id for p in bob} != {p.paper.id for p in ada} and len(state.shared) == 3
