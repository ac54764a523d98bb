"""Ingest on every real captured response, upserts, bad items and bad files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

import newsletter.ingest as ingest
from newsletter.ingest import FeedError, PaperRecord, files, store
from newsletter.models import Paper
from tests.conftest import REAL, FakeWeb
from tests.helpers import count, invoke

EXPECTED = {
    "hf_daily_papers_2025-03-12.json": 23,
    "hf_daily_papers_2025-10-14.json": 39,
    "hf_daily_papers_2026-05-12.json": 50,
    "hf_daily_papers_2026-08-10.json": 21,
    "arxiv_api_query_cat_cs.AI_2026-04-22.atom.xml": 50,
    "arxiv_rss_stat_2024-03-26.xml": 123,
}


MORE = REAL.parent / "more"
MORE_EXPECTED = {
    "hf_daily_papers_2026-02-02.json": 27,
    "hf_daily_papers_2026-02-03.json": 44,
    "hf_daily_papers_2026-02-04.json": 33,
    "hf_daily_papers_2026-02-05.json": 35,
    "hf_daily_papers_2026-02-06.json": 30,
    "arxiv_oai_pmh_ListRecords_set-cs_page093_2016-03-09.xml": 1000,
    "arxiv_api_query_cat_astro-ph_2026-04-25.atom.xml": 63,
    "arxiv_api_query_cat_math.NT-OR-math.AG_2026-06-29.atom.xml": 5,
    "kaggle_arxiv_metadata_oai_snapshot_first200.jsonl": 200,
}


@pytest.mark.parametrize("name", sorted(MORE_EXPECTED))
def test_more_real_files_parse_completely(name: str) -> None:
    parsed = files.parse_file(MORE / name)
    assert parsed.skipped == [] and len(parsed.records) == MORE_EXPECTED[name]
    for record in parsed.records:
        assert record.title and "\n" not in record.title and "  " not in record.abstract
        assert record.authors, record.arxiv_id


def test_oai_pmh_and_kaggle_fields() -> None:
    oai = files.parse_file(
        MORE / "arxiv_oai_pmh_ListRecords_set-cs_page093_2016-03-09.xml"
    ).records[0]
    assert (oai.arxiv_id, oai.featured_on) == ("1602.04382", dt.date(2016, 2, 13))
    assert oai.authors[0] == "José Espírito Santo" and oai.categories == ["cs.LO", "math.LO"]
    assert oai.title == "A Calculus for a Coinductive Analysis of Proof Search"
    kaggle = files.parse_file(MORE / "kaggle_arxiv_metadata_oai_snapshot_first200.jsonl").records[0]
    assert (kaggle.arxiv_id, kaggle.featured_on) == ("0704.0001", dt.date(2007, 4, 2))
    assert kaggle.title.endswith("at Tevatron and LHC energies")
    assert kaggle.authors[:2] == ["C. Balázs", "E. L. Berger"] and kaggle.categories == ["hep-ph"]


def test_an_empty_listing_feed_is_one_line_and_writes_nothing(settings, session) -> None:
    code, out = invoke("ingest", "file", str(MORE / "arxiv_rss_atom_cs_2025-11-23_empty.xml"))
    assert code == 1 and "holds no papers" in out and out.count("\n") == 1
    assert count(session, Paper) == 0


def test_every_real_file_is_in_the_expectations() -> None:
    assert sorted(p.name for p in REAL.iterdir() if p.suffix != ".md") == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_parses_completely(name: str) -> None:
    parsed = files.parse_file(REAL / name)
    assert parsed.skipped == []
    assert len(parsed.records) == EXPECTED[name]
    for record in parsed.records:
        assert record.title and "\n" not in record.title
        assert record.abstract and "\n" not in record.abstract
        assert record.authors, record.arxiv_id


def test_hf_fields_are_carried(session: Session) -> None:
    parsed = files.parse_file(REAL / "hf_daily_papers_2026-05-12.json")
    first = parsed.records[0]
    assert (first.arxiv_id, first.upvotes, first.featured_on) == (
        "2605.09063",
        50,
        dt.date(2026, 5, 12),
    )
    assert first.ai_summary and first.ai_keywords
    assert any(
        r.github_url and r.github_url.startswith("https://github.com/") for r in parsed.records
    )


def test_arxiv_atom_fields() -> None:
    record = files.parse_file(REAL / "arxiv_api_query_cat_cs.AI_2026-04-22.atom.xml").records[0]
    assert record.arxiv_id == "2604.19485"  # version suffix stripped
    assert record.title.startswith("EVPO: Explained Variance Policy Optimization")
    assert record.categories[:2] == ["cs.LG", "cs.AI"]
    assert record.featured_on == dt.date(2026, 4, 21)


def test_ingest_file_twice_adds_nothing_and_updates_upvotes(settings, session, tmp_path) -> None:
    path = REAL / "hf_daily_papers_2026-08-10.json"
    assert invoke("ingest", "file", str(path))[0] == 0
    assert count(session, Paper) == 21
    data = json.loads(path.read_text())
    data[0]["paper"]["upvotes"] = 999
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    code, out = invoke("ingest", "file", str(changed), "--json")
    assert code == 0, out
    # New upvotes, same text: the stored vector stays.
    assert json.loads(out) == {
        "added": 0,
        "updated": 1,
        "unchanged": 20,
        "embedded": 0,
        "skipped": [],
        "cut": {},
    }
    assert count(session, Paper) == 21
    paper = session.exec(select(Paper).where(Paper.arxiv_id == data[0]["paper"]["id"])).one()
    assert paper.upvotes == 999


def test_all_real_files_ingest_through_the_cli(settings, session) -> None:
    for name in sorted(EXPECTED):
        code, out = invoke("ingest", "file", str(REAL / name))
        assert code == 0, out
    assert count(session, Paper) == sum(EXPECTED.values())


def test_malformed_items_are_skipped_counted_and_named(settings, session, tmp_path) -> None:
    data = json.loads((REAL / "hf_daily_papers_2026-08-10.json").read_text())[:3]
    data.append({"paper": {"id": "2608.99999", "title": None, "summary": "x"}})
    data.append({"paper": {"id": "not-an-id", "title": "T", "summary": "S"}})
    data.append("just a string")
    data[0]["paper"]["title"] = "<script>alert(1)</script>\r\nInjected: header"
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(data))
    code, out = invoke("ingest", "file", str(path))
    assert code == 0, out
    assert "added 3, updated 0, unchanged 0, skipped 3" in out
    assert "2608.99999" in out and "not-an-id" in out and "item 5 (no id)" in out
    titles = session.exec(select(Paper.title)).all()
    assert "<script>alert(1)</script> Injected: header" in titles


@pytest.mark.parametrize(
    "content",
    [b'[{"paper": ', b"<feed><entry>", b"hello", b"", b"<html><body>not a feed</body></html>"],
)
def test_unparseable_file_is_one_error_and_writes_nothing(
    settings, session, tmp_path, content
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, out = invoke("ingest", "file", str(path))
    assert code == 1
    assert out.startswith("Error: ") and out.count("\n") == 1, out
    assert count(session, Paper) == 0


def test_missing_file_is_one_error(settings) -> None:
    code, out = invoke("ingest", "file", "/nonexistent/papers.json")
    assert code == 1 and "cannot read" in out


def test_jsonl_of_daily_papers_items(settings, session, tmp_path) -> None:
    items = json.loads((REAL / "hf_daily_papers_2025-03-12.json").read_text())
    lines = [json.dumps(i) for i in items[:5]] + ["{broken", json.dumps(items[5])]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(lines))
    code, out = invoke("ingest", "file", str(path), "--featured-on", "2025-03-12")
    assert code == 0, out
    assert "added 6" in out and "line 6: invalid JSON" in out
    days = set(session.exec(select(Paper.featured_on)).all())
    assert days == {dt.date(2025, 3, 12)}


def test_duplicate_ids_in_one_feed_are_stored_once(settings, session) -> None:
    items = json.loads((REAL / "hf_daily_papers_2025-10-14.json").read_text())
    parsed = files.parse_bytes(json.dumps(items + items[:4]).encode())
    assert len(parsed.records) == 43
    report = store.upsert(parsed, session=session)
    session.commit()
    assert report.added == 39 and count(session, Paper) == 39


def test_hostile_xml_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><feed>&lol2;</feed>'
    )
    with pytest.raises(FeedError):
        files.parse_bytes(bomb)


def test_hf_api_with_retry_after_503(settings, session, web: FakeWeb, monkeypatch) -> None:
    web.add(
        "/api/daily_papers",
        (REAL / "hf_daily_papers_2026-05-12.json").read_bytes(),
        date="2026-05-12",
    )
    web.fail_first = 2
    monkeypatch.setenv("NEWSLETTER_HF_API_URL", f"{web.url}/api/daily_papers")
    from newsletter.settings import get_settings

    get_settings.cache_clear()
    code, out = invoke("ingest", "hf", "--date", "2026-05-12")
    assert code == 0, out
    assert "added 50" in out
    assert len(web.requests) == 3
    assert count(session, Paper) == 50


def test_hf_api_down_is_one_error_and_writes_nothing(settings, session, web, monkeypatch) -> None:
    web.fail_first = 100
    monkeypatch.setenv("NEWSLETTER_HF_API_URL", f"{web.url}/api/daily_papers")
    monkeypatch.setenv("NEWSLETTER_HTTP_RETRIES", "2")
    from newsletter.settings import get_settings

    get_settings.cache_clear()
    code, out = invoke("ingest", "hf", "--week", "2026-W20")
    assert code == 1
    assert "failed after 3 attempts (HTTP 503)" in out
    assert count(session, Paper) == 0


def test_hf_week_fetches_each_day(settings, session, web, monkeypatch) -> None:
    for day, name in (("2026-05-12", "hf_daily_papers_2026-05-12.json"),):
        web.add("/api/daily_papers", (REAL / name).read_bytes(), date=day)
    monkeypatch.setenv("NEWSLETTER_HF_API_URL", f"{web.url}/api/daily_papers")
    from newsletter.settings import get_settings

    get_settings.cache_clear()
    code, out = invoke("ingest", "hf", "--week", "2026-W20", "--json")
    assert code == 0, out
    asked = sorted(r.split("date=")[1] for r in web.requests)
    assert asked == [f"2026-05-{d}" for d in range(11, 18)]
    assert json.loads(out)["added"] == 50


def test_arxiv_api_pages_until_the_window(settings, session, web, monkeypatch) -> None:
    web.routes[("/api/query", "*")] = (
        REAL / "arxiv_api_query_cat_cs.AI_2026-04-22.atom.xml"
    ).read_bytes()
    monkeypatch.setenv("NEWSLETTER_ARXIV_API_URL", f"{web.url}/api/query")
    from newsletter.settings import get_settings

    get_settings.cache_clear()
    client_settings = get_settings()
    from newsletter.ingest import arxiv
    from newsletter.ingest.http import make_client

    with make_client(client_settings) as client:
        parsed = arxiv.fetch(
            client,
            ["cs.AI", "cs.CL"],
            since=dt.date(2026, 4, 1),
            max_results=300,
            settings=client_settings,
        )
    # A page shorter than the page size is the last one.
    assert len(web.requests) == 1
    assert "search_query=cat%3AcS.AI".lower() in web.requests[0].lower()
    assert len(parsed.records) == 50


def test_file_too_large_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(files, "MAX_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text("[" + " " * 20 + "]")
    with pytest.raises(FeedError, match="larger than"):
        files.parse_file(path)


def hostile_day(tmp_path: Path, change: dict[int, dict[str, object]]) -> tuple[Path, list[str]]:
    """The first five real Daily Papers of 2026-05-12, with `change` applied to the papers
    at those places; the file and the five ids."""
    items = json.loads((REAL / "hf_daily_papers_2026-05-12.json").read_text())[:5]
    for index, fields in change.items():
        items[index]["paper"].update(fields)
    path = tmp_path / "day.json"
    path.write_text(json.dumps(items, ensure_ascii=False))
    return path, [i["paper"]["id"] for i in items]


def test_a_megabyte_title_is_skipped_and_named(settings, session, tmp_path) -> None:
    path, ids = hostile_day(tmp_path, {1: {"title": "Attention " * 100_000}})  # 1 MB
    code, out = invoke("ingest", "file", str(path))
    assert code == 0, out
    assert "added 4, updated 0, unchanged 0, skipped 1" in out
    assert f"skipped item 1 ({ids[1]}): title over 500 characters (999999)" in out
    stored = set(session.exec(select(Paper.arxiv_id)).all())
    assert stored == set(ids) - {ids[1]}  # the good papers of the same file are all there
    assert max(len(t) for t in session.exec(select(Paper.title)).all()) < 200


def test_5000_authors_are_cut_to_the_cap_and_said(settings, session, tmp_path) -> None:
    real = json.loads((REAL / "hf_daily_papers_2026-05-12.json").read_text())[0]["paper"]
    author = real["authors"][0]  # {"_id": ..., "name": ..., "hidden": false}
    authors = [author | {"name": f"Author {n}"} for n in range(5000)]
    path, ids = hostile_day(tmp_path, {2: {"authors": authors}, 3: {"authors": authors}})
    code, out = invoke("ingest", "file", str(path))
    assert code == 0, out
    assert "added 5, updated 0, unchanged 0, skipped 0" in out
    assert f"2 papers: author list cut to 1000 ({ids[2]}, {ids[3]})" in out
    paper = session.exec(select(Paper).where(Paper.arxiv_id == ids[2])).one()
    assert paper.authors == [f"Author {n}" for n in range(1000)]  # the first, in order
    code, out = invoke("ingest", "file", str(path), "--json")
    assert json.loads(out)["cut"] == {"author list cut to 1000": [ids[2], ids[3]]}


def test_every_field_is_held_to_its_cap() -> None:
    record = PaperRecord(
        arxiv_id="2605.00001",
        title="T" * 500,  # at the cap: kept whole
        abstract="a" * 20_000,
        featured_on=dt.date(2026, 5, 12),
        source="hf",
        authors=["Ada Lovelace", "x" * 201],
        ai_summary="s" * 1_001,
        ai_keywords=[f"k{n}" for n in range(150)] + ["k" * 201],
        categories=[f"cs.{n}" for n in range(30)],
        github_url="https://github.com/" + "a" * 2_000,
        project_url="https://example.org/project",
    )
    assert len(record.title) == 500 and len(record.abstract) == ingest.ABSTRACT_MAX
    assert len(record.ai_summary or "") == ingest.SUMMARY_MAX
    assert record.authors == ["Ada Lovelace"]
    assert record.ai_keywords == [f"k{n}" for n in range(100)]
    assert record.categories == [f"cs.{n}" for n in range(20)]
    assert record.github_url is None and record.project_url == "https://example.org/project"
    assert record.cut == [
        "abstract cut to 10000 characters",
        "AI summary cut to 1000 characters",
        "author over 200 characters dropped",
        "AI keyword over 200 characters dropped",
        "AI keyword list cut to 100",
        "category list cut to 20",
        "GitHub link over 2000 characters dropped",
    ]
    with pytest.raises(ValueError, match="title over 500 characters"):
        PaperRecord("2605.00002", "T" * 501, "a", dt.date(2026, 5, 12), "hf")


def test_no_real_paper_is_cut() -> None:
    """The caps sit above everything the real sources hold: nothing of theirs is cut."""
    for folder, names in ((REAL, EXPECTED), (MORE, MORE_EXPECTED)):
        for name in names:
            parsed = files.parse_file(folder / name)
            assert not parsed.skipped and not ingest.cuts(parsed.records), name
