"""Bad input, tried at scale: every entry point either accepts an input cleanly or refuses
it with its own error (never a traceback or a 500), and a refused input changes nothing.

Hypothesis generates most inputs; a corpus of known-nasty ones is tried on top."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from newsletter.cli import cli
from newsletter.ingest import FeedError, files, hf
from newsletter.models import Paper, Subscriber
from newsletter.readers import links as tokens
from newsletter.readers import store, validate
from newsletter.settings import Settings, get_settings
from tests.conftest import REAL
from tests.helpers import count, web_client

NASTY = [
    "",
    " ",
    "\r\n",
    "a@b.c\r\nBcc: victim@example.com",
    "ada@example.com\x00",
    "x" * 10_000,
    "\u202eevil.com@example.com",
    "<script>alert(1)</script>",
    "ada@exa mple.com",
    "ada@[127.0.0.1]",
    '"quoted"@example.com',
    "ü@example.com",
    "ada@xn--mnchen-3ya.de",
    "ada@münchen.de",
    "𝕒𝕕𝕒@example.com",
    "ada@.com",
    "@example.com",
    "ada@example..com",
    "a" * 65 + "@example.com",
    "ada@" + "a" * 300 + ".com",
    "topic\x07bell",
    "\u200b",
    "\ufeffmixture of experts",
    "RAG\nRLHF",
    "مزيج من الخبراء",
]
SLOW = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TRIED = {"inputs": 0}


def tried(n: int = 1) -> None:
    TRIED["inputs"] += n


@SLOW
@given(st.one_of(st.text(max_size=400), st.sampled_from(NASTY)))
def test_addresses_are_normalised_or_refused(raw: str) -> None:
    tried()
    try:
        address = validate.normalise_email(raw)
    except validate.InvalidInput:
        return
    assert address.isascii() and address == address.lower()
    assert not any(c in address for c in "\r\n\x00 ")


@SLOW
@given(st.lists(st.one_of(st.text(max_size=300), st.sampled_from(NASTY)), max_size=80))
def test_topic_lists_are_cleaned_or_refused(raw: list[str]) -> None:
    tried()
    try:
        topics = validate.clean_topics(raw)
    except validate.InvalidInput:
        return
    assert 1 <= len(topics) <= validate.MAX_TOPICS
    for t in topics:
        assert t and len(t) <= validate.MAX_TOPIC_LEN and t.isprintable()
        assert any(ch.isalpha() for ch in t)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
ITEM = st.fixed_dictionaries(
    {
        "paper": st.fixed_dictionaries(
            {
                "id": st.sampled_from(["2605.09063", "bad", "", "2605.1"]) | st.text(max_size=12),
                "title": st.one_of(st.none(), st.text(max_size=80), st.sampled_from(NASTY)),
                "summary": st.one_of(st.none(), st.text(max_size=200)),
                "authors": st.one_of(
                    st.none(),
                    st.lists(
                        st.fixed_dictionaries({"name": st.one_of(st.none(), st.text(max_size=30))}),
                        max_size=4,
                    ),
                ),
                "upvotes": st.one_of(st.integers(), st.text(max_size=5), st.none()),
            },
        ),
        "publishedAt": st.sampled_from(["2026-05-12T00:00:00Z", "yesterday", None]),
    }
)


@SLOW
@given(st.lists(st.one_of(ITEM, JSON), max_size=8))
def test_daily_papers_items_are_parsed_or_skipped(items: list[object]) -> None:
    tried(len(items) or 1)
    parsed = hf.parse_items(items)
    assert len(parsed.records) + len(parsed.skipped) == len(items)
    for record in parsed.records:
        assert "\n" not in record.title and "\r" not in record.title and record.title


@SLOW
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_any_file_content_is_read_or_refused(content: bytes) -> None:
    tried()
    try:
        parsed = files.parse_bytes(content)
    except FeedError as exc:
        assert str(exc) and "\n" not in str(exc).strip()  # one line a person can read
        return
    assert all(r.title and r.arxiv_id for r in parsed.records)


@SLOW
@given(st.text(max_size=300))
def test_tokens_are_valid_or_refused(raw: str) -> None:
    tried()
    config = Settings(secret_key="k")
    for purpose in tokens.Purpose:
        with pytest.raises(tokens.InvalidToken):
            tokens.read(config, purpose, raw)


FIELD = st.one_of(st.text(max_size=200), st.sampled_from(NASTY))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@SLOW
@given(email=FIELD, topics=FIELD, day=FIELD, hour=st.one_of(FIELD, st.integers()), tz=FIELD)
def test_web_subscribe_never_fails_badly(settings, session, email, topics, day, hour, tz) -> None:
    tried(2)
    client = web_client(raise_server_exceptions=False)
    before = count(session, Subscriber)
    form = {
        "email": email,
        "topics": topics,
        "send_day": day,
        "send_hour": str(hour),
        "timezone": tz,
    }
    response = client.post("/subscribe", data=form)
    assert response.status_code in (200, 422), response.text[:300]
    api = client.post("/api/subscribe", json=form | {"send_hour": hour})
    assert api.status_code in (202, 422), api.text[:300]
    if response.status_code == 422 and api.status_code == 422:
        assert count(session, Subscriber) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", NASTY)
def test_cli_add_with_nasty_values(settings, session, value: str) -> None:
    tried(2)
    for args in (
        ["subscribers", "add", value, "--topic", "agents"],
        ["subscribers", "add", "ada@example.com", "--topic", value],
    ):
        before = count(session, Subscriber)
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:
            assert result.output.startswith("Error: ") and count(session, Subscriber) == before
        else:
            rows = json.loads(CliRunner().invoke(cli, ["subscribers", "list", "--json"]).output)
            assert all("\n" not in t for r in rows for t in r["topics"])


def reader_row(session: Session, email: str) -> tuple[object, ...]:
    session.expire_all()
    r = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
    session.rollback()
    return (r.topics, r.follows, r.timezone, r.send_day, r.send_hour, r.paused, r.status)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@SLOW
@given(
    topics=st.one_of(FIELD, st.lists(FIELD, max_size=30).map("\n".join)),
    day=FIELD,
    hour=st.one_of(FIELD, st.integers()),
    tz=FIELD,
    paused=st.one_of(st.sampled_from(["on", "true", "1", ""]), FIELD),
)
def test_web_manage_form_never_fails_badly(
    settings, session, topics, day, hour, tz, paused
) -> None:
    tried()
    if count(session, Subscriber) == 0:
        store.upsert(
            "ada@example.com",
            ["agents"],
            keys=("test-secret-key",),
            confirmed=True,
            session=session,
        )
        session.commit()
    reader_id, key = session.exec(select(Subscriber.id, Subscriber.link_key)).one()
    session.rollback()
    before = reader_row(session, "ada@example.com")
    client = web_client(raise_server_exceptions=False)
    token = tokens.make(settings, tokens.Purpose.MANAGE, tokens.Ref(reader_id, key))
    form = {"topics": topics, "send_day": day, "send_hour": str(hour), "timezone": tz}
    response = client.post(f"/manage/{token}", data=form | {"paused": paused})
    assert response.status_code in (200, 422), response.text[:300]
    after = reader_row(session, "ada@example.com")
    if response.status_code == 422:
        assert after == before  # a refused form changes nothing
    else:
        assert after[0] and all("\n" not in t and t.strip() == t for t in after[0])


def big_daily_papers_file(path: Path, megabytes: int) -> int:
    """A Daily Papers JSON array of `megabytes` MB: real items, each given its own id and an
    abstract far longer than any real one. Returns the number of items."""
    real = json.loads((REAL / "hf_daily_papers_2026-05-12.json").read_text())
    items, size, n = [], 0, 0
    while size < megabytes * 1_000_000:
        item = json.loads(json.dumps(real[n % len(real)]))
        item["paper"]["id"] = f"2605.{n:05d}"
        item["paper"]["summary"] = (item["paper"]["summary"] + " ") * 15
        items.append(item)
        size += len(json.dumps(item))
        n += 1
    path.write_text(json.dumps(items))
    return n


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_50_mb_feed_file_is_ingested(settings, session, tmp_path) -> None:
    tried()
    path = tmp_path / "big.json"
    items = big_daily_papers_file(path, 50)
    assert path.stat().st_size >= 50_000_000
    result = CliRunner().invoke(cli, ["ingest", "file", str(path)])
    assert result.exit_code == 0, result.output[-500:]
    stored = session.exec(select(func.count()).select_from(Paper)).one()
    longest = session.exec(select(func.max(func.length(Paper.abstract)))).one()
    assert stored == items and longest <= 10_000  # abstracts are clipped, not refused


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_over_the_limit_is_one_line_and_writes_nothing(settings, session, tmp_path) -> None:
    tried()
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(files.MAX_BYTES + 1)  # sparse: its size is all that is read
    result = CliRunner().invoke(cli, ["ingest", "file", str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path} is larger than 64 MiB\n"
    assert session.exec(select(func.count()).select_from(Paper)).one() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "content",
    ['{"not": "a list"}', '["a", "b"]', "[]", '{"paper": {"id": "x"}}\n{"also": "not"}'],
)
def test_a_file_with_no_paper_exits_non_zero_and_writes_nothing(
    settings, session, tmp_path, content: str
) -> None:
    tried()
    path = tmp_path / "feed.json"
    path.write_text(content)
    result = CliRunner().invoke(cli, ["ingest", "file", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: feed.json: the file holds no papers")
    assert result.output.count("\n") == 1
    assert session.exec(select(func.count()).select_from(Paper)).one() == 0


TOPIC_WITH_ESCAPE = "\x1b[31mred topic"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_topic_with_control_characters_is_refused_everywhere(settings, session, tmp_path) -> None:
    tried(6)
    cli_errors = []
    for args in (
        ["subscribers", "add", "ada@example.com", "--topic", TOPIC_WITH_ESCAPE],
        ["subscribers", "add", "ada@example.com", "--topic", "12 34"],  # no letter
        ["subscribers", "add", "ada@example.com", "--topic", "agents", "--author", "A\x00B"],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        cli_errors.append(result.output)
    assert "control character (U+001B)" in cli_errors[0] and "needs a letter" in cli_errors[1]
    assert count(session, Subscriber) == 0

    store.upsert(
        "bob@example.com", ["agents"], keys=("test-secret-key",), confirmed=True, session=session
    )
    session.commit()
    before = reader_row(session, "bob@example.com")
    result = CliRunner().invoke(
        cli, ["subscribers", "topics", "bob@example.com", "--topic", TOPIC_WITH_ESCAPE]
    )
    assert result.exit_code == 1 and "control character" in result.output
    csv = tmp_path / "readers.csv"
    csv.write_text(f"email,topics\ncarol@example.com,agents\ndan@example.com,{TOPIC_WITH_ESCAPE}\n")
    result = CliRunner().invoke(cli, ["subscribers", "import", str(csv)])
    assert (
        result.exit_code == 1 and "line 3" in result.output and "control character" in result.output
    )

    client = web_client()
    form = client.post("/subscribe", data={"email": "eve@example.com", "topics": TOPIC_WITH_ESCAPE})
    assert form.status_code == 422 and "control character" in form.text
    api = client.post(
        "/api/subscribe", json={"email": "eve@example.com", "topics": [TOPIC_WITH_ESCAPE]}
    )
    assert api.status_code == 422 and "control character" in api.json()["detail"]
    assert count(session, Subscriber) == 1 and reader_row(session, "bob@example.com") == before


DEEP = 100_000  # levels of nesting: far past any parser's recursion limit
ATOM = '<feed xmlns="http://www.w3.org/2005/Atom">'


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("deep.json", "[" * DEEP, "invalid JSON: nested too deeply"),
        ("deep.jsonl", '{"a":' * DEEP, "invalid JSON on line 1: nested too deeply"),
        ("deep.xml", ATOM + "<a>" * DEEP + "</a>" * DEEP + "</feed>", "holds no papers"),
        ("open.xml", ATOM + "<a>" * DEEP, "not well-formed XML"),
    ],
)
def test_a_deeply_nested_file_is_one_line_and_writes_nothing(
    settings, session, tmp_path, name: str, content: str, says: str
) -> None:
    """Hostile nesting gets the refusal of any unparseable file, not a RecursionError."""
    tried()
    path = tmp_path / name
    path.write_text(content)
    result = CliRunner().invoke(cli, ["ingest", "file", str(path)])
    # Refused (SystemExit(1)), not raised: CliRunner reports a traceback's exit code as 1 too.
    assert isinstance(result.exception, SystemExit), repr(result.exception)[:300]
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {name}: ") and says in result.output
    assert result.output.count("\n") == 1
    assert session.exec(select(func.count()).select_from(Paper)).one() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deeply_nested_jsonl_line_is_skipped_and_named(settings, session, tmp_path) -> None:
    tried()
    items = json.loads((REAL / "hf_daily_papers_2025-03-12.json").read_text())[:2]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join([json.dumps(items[0]), '{"a":' * DEEP, json.dumps(items[1])]))
    result = CliRunner().invoke(cli, ["ingest", "file", str(path), "--featured-on", "2025-03-12"])
    assert result.exit_code == 0, result.output[-500:]
    assert "added 2" in result.output and "skipped line 2: invalid JSON" in result.output
    assert session.exec(select(func.count()).select_from(Paper)).one() == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deeply_nested_api_answer_is_one_line(settings, session, web, monkeypatch) -> None:
    tried()
    web.add("/api/daily_papers", b"[" * DEEP, date="2026-05-12")
    monkeypatch.setenv("NEWSLETTER_HF_API_URL", f"{web.url}/api/daily_papers")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["ingest", "hf", "--date", "2026-05-12"])
    assert isinstance(result.exception, SystemExit), repr(result.exception)[:300]
    assert result.exit_code == 1
    assert result.output == (
        "Error: the Daily Papers API answered with invalid JSON: nested too deeply\n"
    )
    assert session.exec(select(func.count()).select_from(Paper)).one() == 0


def test_report_how_many_inputs_were_tried() -> None:
    # Runs last in this module (pytest keeps file order); prints the count for the note.
    print(f"bad inputs tried in this module: {TRIED['inputs']}")
    assert TRIED["inputs"] > 0
