"""Readers from the operator's CLI: validation, normalisation, no duplicates, CSV import."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlmodel import select

from newsletter.models import Subscriber, SubscriberStatus
from tests.helpers import count, invoke


def test_add_normalises_and_updates_instead_of_duplicating(settings, session) -> None:
    code, out = invoke(
        "subscribers",
        "add",
        "  Ada.Lovelace@EXAMPLE.com ",
        "--topic",
        "mixture of experts",
        "--topic",
        "quantization",
        "--confirmed",
    )
    assert code == 0, out
    assert "added ada.lovelace@example.com (confirmed)" in out
    code, out = invoke("subscribers", "add", "Ada.Lovelace@example.COM", "--topic", "RLHF")
    assert code == 0 and out.startswith("updated"), out
    assert count(session, Subscriber) == 1
    reader = session.exec(select(Subscriber)).one()
    assert reader.topics == ["RLHF"]
    assert reader.status == SubscriberStatus.CONFIRMED  # re-adding does not unconfirm


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "a@b",
        "ada@@example.com",
        "ada@example.com\r\nBcc: x@example.com",
        "x" * 400 + "@e.com",
        "",
    ],
)
def test_invalid_address_is_one_line_and_writes_nothing(settings, session, address) -> None:
    code, out = invoke("subscribers", "add", address, "--topic", "agents")
    assert code == 1
    assert out.startswith("Error: invalid email address") and out.count("\n") == 1, out
    assert count(session, Subscriber) == 0


@pytest.mark.parametrize("topic", ["", "   ", "of the", "x" * 201])
def test_empty_or_unusable_topic_is_refused(settings, session, topic) -> None:
    code, out = invoke(
        "subscribers", "add", "ada@example.com", "--topic", "agents", "--topic", topic
    )
    assert code == 1 and out.startswith("Error: ") and out.count("\n") == 1, out
    assert count(session, Subscriber) == 0


def test_unknown_timezone_is_refused(settings, session) -> None:
    code, out = invoke(
        "subscribers", "add", "ada@example.com", "--topic", "agents", "--timezone", "Mars/Olympus"
    )
    assert code == 1 and "unknown timezone" in out
    assert count(session, Subscriber) == 0


def test_import_csv_then_list_json(settings, session, tmp_path) -> None:
    path = tmp_path / "readers.csv"
    path.write_text(
        "email,topics\nada@example.com,mixture of experts; RAG\n"
        "bob@example.org,diffusion models\nADA@example.com,agents\n"
    )
    code, out = invoke("subscribers", "import", str(path), "--confirmed")
    assert code == 0, out
    assert "imported 3 rows: added 2, updated 1" in out
    code, out = invoke("subscribers", "list", "--json")
    rows = json.loads(out)
    assert [(r["email"], r["topics"], r["status"]) for r in rows] == [
        ("ada@example.com", ["agents"], "confirmed"),
        ("bob@example.org", ["diffusion models"], "confirmed"),
    ]


def test_import_with_one_bad_row_imports_nothing(settings, session, tmp_path) -> None:
    path = tmp_path / "readers.csv"
    path.write_text("email,topics\nada@example.com,agents\nbroken,agents\n")
    code, out = invoke("subscribers", "import", str(path))
    assert code == 1 and "line 3" in out and "invalid email address" in out
    assert count(session, Subscriber) == 0


def test_import_needs_the_header(settings, tmp_path) -> None:
    path = tmp_path / "readers.csv"
    path.write_text("ada@example.com,agents\n")
    code, out = invoke("subscribers", "import", str(path))
    assert code == 1 and "header row" in out


def test_topics_replace_and_remove(settings, session) -> None:
    invoke("subscribers", "add", "ada@example.com", "--topic", "agents")
    code, out = invoke(
        "subscribers", "topics", "ada@example.com", "--topic", "RAG", "--topic", "rag"
    )
    assert code == 0 and out.strip() == "ada@example.com: RAG"
    code, out = invoke("subscribers", "remove", "ada@example.com")
    assert code == 0 and count(session, Subscriber) == 0
    code, out = invoke("subscribers", "remove", "ada@example.com")
    assert code == 1 and "no subscriber" in out


def test_list_by_status(settings, session) -> None:
    invoke("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    invoke("subscribers", "add", "bob@example.org", "--topic", "agents")
    _code, out = invoke("subscribers", "list", "--status", "unconfirmed", "--json")
    assert [r["email"] for r in json.loads(out)] == ["bob@example.org"]


def test_missing_schema_says_to_upgrade(monkeypatch, tmp_path) -> None:
    from newsletter.settings import get_settings

    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        code, out = invoke("subscribers", "list")
    finally:
        get_settings.cache_clear()
    assert code == 1 and "newsletter db upgrade" in out


def test_database_down_is_one_line(monkeypatch) -> None:
    from newsletter.settings import get_settings

    monkeypatch.setenv(
        "NEWSLETTER_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    get_settings.cache_clear()
    try:
        code, out = invoke("subscribers", "add", "ada@example.com", "--topic", "agents")
    finally:
        get_settings.cache_clear()
    assert code == 1 and out.startswith("Error: database error:") and out.count("\n") == 1


def test_follow_authors_and_categories_without_topics(settings, session) -> None:
    code, out = invoke(
        "subscribers",
        "add",
        "ada@example.com",
        "--author",
        "Yann LeCun",
        "--category",
        "cs.CL",
        "--confirmed",
    )
    assert code == 0, out
    assert "papers by Yann LeCun, arXiv cs.CL" in out
    [row] = json.loads(invoke("subscribers", "list", "--json")[1])
    assert row["topics"] == [] and row["follows"] == ["author:Yann LeCun", "category:cs.CL"]
    code, out = invoke("subscribers", "add", "bob@example.com", "--category", "not a category")
    assert code == 1 and "not an arXiv category" in out
    code, out = invoke("subscribers", "add", "bob@example.com")
    assert code == 1 and "at least one topic" in out


def test_json_an_older_release_wrote_still_reads(settings, session) -> None:
    """JSON columns are read with orjson, which refuses what json once wrote and both
    databases keep (here a lone surrogate's escape): such a row still reads, through json."""
    invoke("subscribers", "add", "ada@example.com", "--topic", "agents")
    session.execute(text("UPDATE subscriber SET topics = :t"), {"t": '["agents \\ud83d"]'})
    session.commit()
    session.expire_all()
    ada = session.exec(select(Subscriber)).one()
    assert ada.topics == ["agents \ud83d"]
