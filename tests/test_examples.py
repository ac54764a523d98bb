"""Readers teach a topic by example: papers marked "Yes, like this" or "Not this" under one of
their topics (`newsletter subscribers rate`), and the topic's model they train
(`match/taught.py`). Real database (SQLite and PostgreSQL), the real model, two real weeks."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import numpy as np
import pytest
from sqlmodel import col, select

from newsletter.delivery import issues, ledger
from newsletter.digest.compose import IssueCache, profiles
from newsletter.match import engine, feedback, taught
from newsletter.models import Example, Paper, Subscriber, Vote
from newsletter.readers import examples, links, votes
from newsletter.settings import get_settings
from tests.conftest import REAL
from tests.feedback_weeks import WEEK1, WEEK2, ranking, two_weeks
from tests.helpers import count, invoke, run, web_client

ADA = "ada@example.com"
TOPIC = "world models"


@pytest.fixture
def weeks(settings, session) -> list[Paper]:
    """Two weeks of real papers; Ada follows TOPIC. Returns week 1's papers."""
    two_weeks(session)
    run("subscribers", "add", ADA, "--topic", TOPIC, "--topic", "agents", "--confirmed")
    found = session.exec(select(Paper).where(col(Paper.featured_on) <= WEEK1)).all()
    session.rollback()
    return list(found)


@pytest.fixture
def arxiv_api(web, monkeypatch):
    """arXiv's API, answering any id list with a real recorded response: 2604.19485 and the
    49 other papers of that page; a paper it does not hold is "not on arXiv"."""
    web.routes[("/api/query", "*")] = (
        REAL / "arxiv_api_query_cat_cs.AI_2026-04-22.atom.xml"
    ).read_bytes()
    monkeypatch.setenv("NEWSLETTER_ARXIV_API_URL", f"{web.url}/api/query")
    get_settings.cache_clear()
    return web


def test_rate_marks_examples_and_refuses_bad_input_writing_nothing(
    weeks, session, arxiv_api
) -> None:
    a, b, c = (p.arxiv_id for p in weeks[:3])
    refused = {
        "2999.99999": "paper 2999.99999 is not on arXiv",
        "not-an-id": "not an arXiv id",
    }
    for reference, why in refused.items():
        code, output = invoke("subscribers", "rate", ADA, "--topic", TOPIC, "--like", reference)
        assert code != 0 and why in output and len(output.strip().splitlines()) == 1, output
    code, output = invoke("subscribers", "rate", ADA, "--topic", "robotics", "--like", a)
    assert code != 0 and "no topic 'robotics' among yours: world models" in output
    code, output = invoke("subscribers", "rate", ADA, "--topic", TOPIC, "--like", a, "--not", a)
    assert code != 0 and "given both as liked and as not" in output
    code, output = invoke(
        "subscribers", "rate", "nobody@example.com", "--topic", TOPIC, "--like", a
    )
    assert code != 0 and "no subscriber" in output
    # One good paper, one arXiv fetches and one it does not know: nothing of any is written.
    code, _ = invoke("subscribers", "rate", ADA, "--topic", TOPIC, "--like", a,
                     "--like", "2604.19485", "--like", "2999.99999")  # fmt: skip
    assert code != 0 and count(session, Example) == 0
    assert count(session, Paper, col(Paper.arxiv_id) == "2604.19485") == 0

    # A paper not stored yet is fetched from arXiv, stored, and marked.
    output = run("subscribers", "rate", ADA, "--topic", TOPIC, "--not", "arxiv.org/abs/2604.19485")
    assert "0 liked, 1 not" in output
    fetched = session.exec(select(Paper).where(Paper.arxiv_id == "2604.19485")).one()
    assert fetched.title.startswith("EVPO: Explained Variance Policy Optimization")
    assert any("id_list=2604.19485" in r for r in arxiv_api.requests)
    session.rollback()
    run("subscribers", "rate", ADA, "--topic", TOPIC, "--remove", "2604.19485")

    pages = [a, f"https://arxiv.org/abs/{b}v2", f"https://huggingface.co/papers/{c}"]
    output = run("subscribers", "rate", ADA, "--topic", "World Models", *_likes(pages))
    assert "3 liked, 0 not; the topic ranks by its own model" in output
    assert count(session, Example, col(Example.topic) == "world models") == 3
    output = run("subscribers", "rate", ADA, "--topic", TOPIC, "--not", c)  # replaces the like
    assert "2 liked, 1 not; the topic ranks as before" in output
    output = run("subscribers", "rate", ADA, "--topic", TOPIC, "--remove", b)
    assert "1 liked, 1 not" in output and count(session, Example) == 2

    shown = json.loads(run("subscribers", "show", ADA, "--json"))["examples"]
    assert {(e["topic"], e["arxiv_id"], e["like"]) for e in shown} == {
        (TOPIC, a, True), (TOPIC, c, False)
    }  # fmt: skip
    assert "not this: " in run("subscribers", "show", ADA)

    run("subscribers", "topics", ADA, "--topic", "agents")  # a topic dropped takes its examples
    assert count(session, Example) == 0
    run("subscribers", "rate", ADA, "--topic", "agents", "--like", a)
    run("subscribers", "forget", ADA)
    assert count(session, Example) == 0


def _likes(references: list[str]) -> list[str]:
    return [arg for ref in references for arg in ("--like", ref)]


def _week1_best(settings, session, topic: str, n: int) -> list[str]:
    """The arXiv ids of week 1's best `n` papers for the topic, as the engine ranks them."""
    issue = issues.for_date(WEEK1, settings.window_days, session=session, create=False)
    state = IssueCache().get(issue, settings, session=session)
    session.rollback()
    return [p.paper.arxiv_id for p in state.matcher.picks([topic], limit=n)]


def test_three_likes_teach_a_topic_and_fewer_change_nothing(weeks, settings, session) -> None:
    before = ranking(settings, session, ADA)
    liked = _week1_best(settings, session, "agents", 3)
    run("subscribers", "rate", ADA, "--topic", "agents", *_likes(liked[:2]))
    two = ranking(settings, session, ADA)
    assert [(p.paper.id, p.why) for p in two] == [(p.paper.id, p.why) for p in before]

    run("subscribers", "rate", ADA, "--topic", "agents", "--like", liked[2])
    taught_picks = ranking(settings, session, ADA)
    assert [p.paper.id for p in taught_picks] != [p.paper.id for p in before]
    unwanted = taught_picks[0]
    run("subscribers", "rate", ADA, "--topic", "agents", "--not", unwanted.paper.arxiv_id)
    after = ranking(settings, session, ADA)
    assert unwanted.paper.id not in {p.paper.id for p in after}
    run("subscribers", "rate", ADA, "--topic", "agents", "--remove", liked[0])  # two likes left
    assert [p.paper.id for p in ranking(settings, session, ADA)] == [p.paper.id for p in before]


def test_a_pick_only_the_examples_bring_names_the_liked_paper_it_is_like(settings) -> None:
    """On a space made to show it: a paper just below the topic's floor, beside three liked."""
    rng = np.random.default_rng(7)
    papers = [Paper(id=i + 1, arxiv_id=f"2602.{i:05d}", title=f"Paper {i}", abstract="On stuff.",
                    featured_on=WEEK2, source="test") for i in range(60)]  # fmt: skip
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    topic = np.eye(16, dtype=np.float32)[0]
    vectors[:, 0] = 0.0  # every paper at cosine 0 to the topic ...
    vectors[50] *= np.sqrt(1 - 0.5**2) / np.linalg.norm(vectors[50])
    vectors[50, 0] = 0.5  # ... but this one, at 0.5, below the floor (0.55)
    liked = [vectors[50] + 0.05 * rng.normal(size=16) for _ in range(3)]
    matcher = engine.Matcher(papers, window_end=WEEK2, space=_space(vectors, topic))
    marks = tuple(taught.Marked(100 + n, f"Liked {n}", 1, v) for n, v in enumerate(liked))
    profile = feedback.Profile(examples={"things": taught.Examples(marks)})
    assert matcher.picks(["things"], limit=10) == []
    [brought] = matcher.picks(["things"], limit=10, profile=profile)
    assert brought.paper.id == 51
    assert brought.why in {f"like “Liked {n}”, which you marked" for n in range(3)}
    assert brought.public_why == ""  # the web copy names no paper the reader marked
    two = feedback.Profile(examples={"things": taught.Examples(marks[:2])})
    assert matcher.picks(["things"], limit=10, profile=two) == []


def _space(vectors: np.ndarray, topic: np.ndarray):
    from newsletter.match.semantic import Calibration, Encoder, Space, _unit

    unit = _unit(vectors)
    encoder = Encoder(model=None, name="fixed", calibration=Calibration(0.55, 0.3, 0.3))
    encoder._topics["things"] = _unit(topic[None, :])[0]
    return Space(encoder, unit)


def test_examples_key_and_references(weeks, session) -> None:
    a = weeks[0].arxiv_id
    found = examples.papers_named([a, f"https://arxiv.org/pdf/{a}v1", f"http://arxiv.org/abs/{a}"],
                                  session=session)  # fmt: skip
    assert {p.arxiv_id for p in found.values()} == {a}
    assert examples.key("  World Models ") == "world models"


def _manage_path(session) -> str:
    ada = session.exec(select(Subscriber).where(Subscriber.email == ADA)).one()
    session.rollback()
    return urlsplit(links.link(get_settings(), links.Purpose.MANAGE, ada)).path


def test_the_manage_page_teaches_a_topic_and_removes_examples(weeks, session, arxiv_api) -> None:
    client, manage = web_client(), _manage_path(session)
    page = client.get(manage).text
    assert "Teach your topics by example" in page and "“world models”" in page
    previewed = re.findall(r'name="papers" value="([^"]+)"', page)
    assert len(previewed) >= 3  # each previewed paper has its "Yes" and "Not this"
    first, second, third = previewed[:3]
    done = client.post(
        f"{manage}/examples", data={"topic": TOPIC, "papers": first, "answer": "like"}
    )
    assert done.status_code == 200 and "Your answer is saved" in done.text
    assert str(done.url).endswith("?done=taught#teach-1") and 'aria-pressed="true"' in done.text
    # The page's script asks for JSON and gets the topic's counts instead of the page.
    both = {"topic": TOPIC, "papers": f"{second}\n{third}", "answer": "like"}
    answered = client.post(f"{manage}/examples", data=both, headers={"Accept": "application/json"})
    assert answered.json() == {"topic": TOPIC, "liked": 3, "not": 0, "ready": True}
    assert "3 liked, 0 not: ranked by what you marked" in client.get(manage).text

    refused = client.post(f"{manage}/examples", data={"topic": TOPIC, "papers": "2999.99999",
                                                      "answer": "like"})  # fmt: skip
    assert refused.status_code == 422 and "paper 2999.99999 is not on arXiv" in refused.text
    assert 'id="papers-1-error"' in refused.text and "2999.99999</textarea>" in refused.text
    elsewhere = client.post(f"{manage}/examples", data={"topic": "cooking", "papers": first,
                                                        "answer": "not"})  # fmt: skip
    assert elsewhere.status_code == 422 and count(session, Example) == 3

    client.post(f"{manage}/examples", data={"topic": TOPIC, "papers": first, "answer": "remove"})
    shown = json.loads(run("subscribers", "show", ADA, "--json"))["examples"]
    assert sorted(e["arxiv_id"] for e in shown) == sorted([second, third])
    forged = manage.replace("/manage/", "/manage/x") + "/examples"
    like = {"topic": TOPIC, "papers": first, "answer": "like"}
    assert client.post(forged, data=like).status_code == 404


def test_answers_given_while_subscribing_become_the_topics_examples(weeks, session, smtp) -> None:
    """Without JavaScript: "Show what my topics find" shows each topic's preview with "Yes,
    like this" and "Not this"; the answers go with the subscription, and only an unconfirmed
    reader's are kept (anyone can send the form with any address)."""
    client = web_client()
    form = {"email": "bo@example.com", "topics": f"{TOPIC}\nagents", "timezone": "UTC"}
    shown = client.post("/subscribe", data=form | {"preview": "1"})
    assert shown.status_code == 200 and "Answer a few to teach it what you mean" in shown.text
    values = re.findall(r'name="like" value="([^"]+)"', shown.text)
    assert len(values) >= 4 and all(v.split(" ", 1)[1] in (TOPIC, "agents") for v in values)
    assert count(session, Subscriber) == 1  # a preview subscribes nobody
    like, unwanted = [v for v in values if v.endswith(TOPIC)][:2], values[-1]
    again = client.post("/subscribe", data=form | {"preview": "1", "like": like, "not": unwanted})
    assert again.text.count(" checked>") == 3  # answers survive the preview's round trip

    both = client.post("/subscribe", data=form | {"like": like, "not": like[0]})
    assert both.status_code == 422 and "answered both" in both.text
    unknown = client.post("/subscribe", data=form | {"like": f"2999.99999 {TOPIC}"})
    assert unknown.status_code == 422 and count(session, Subscriber) == 1

    done = client.post("/subscribe", data=form | {"like": like, "not": unwanted})
    assert done.status_code == 200 and "Check your inbox" in done.text
    kept = json.loads(run("subscribers", "show", "bo@example.com", "--json"))["examples"]
    assert sorted((e["arxiv_id"], e["like"]) for e in kept) == sorted(
        [(v.split(" ")[0], True) for v in like] + [(unwanted.split(" ")[0], False)]
    )
    # Ada is confirmed: a form naming her address changes neither her topics nor examples.
    client.post("/subscribe", data=form | {"email": ADA, "like": like})
    assert (
        count(session, Example, col(Example.subscriber_id) != _id(session, "bo@example.com")) == 0
    )


def _id(session, email: str) -> int:
    found = session.exec(select(Subscriber.id).where(Subscriber.email == email)).one()
    session.rollback()
    return int(found)


def test_a_bibtex_file_of_known_papers_becomes_liked_examples(weeks, session, tmp_path) -> None:
    a, b = weeks[0].arxiv_id, weeks[1].arxiv_id
    bib = tmp_path / "mine.bib"
    bib.write_text(
        f"@article{{one, title={{One}}, journal={{arXiv preprint arXiv:{a}}}, year={{2026}}}}\n"
        f"@misc{{two, eprint={{{b}v2}}, archivePrefix={{arXiv}}}}\n"
        "@inproceedings{three, title={Not on arXiv}, booktitle={NeurIPS}}\n"
    )
    output = run("subscribers", "rate", ADA, "--topic", TOPIC, "--bibtex", str(bib))
    assert "2 liked, 0 not" in output and "1 entry of" in output and "no arXiv paper" in output
    notes = tmp_path / "notes.txt"
    notes.write_text(f"Papers I liked: {a}, {b}\n")
    code, output = invoke("subscribers", "rate", ADA, "--topic", TOPIC, "--bibtex", str(notes))
    assert code != 0 and "no BibTeX entry" in output

    client, manage = web_client(), _manage_path(session)
    c = weeks[2].arxiv_id
    upload = {"bibtex": ("more.bib", f"@misc{{c, url={{https://arxiv.org/abs/{c}}}}}\n@book{{d}}")}
    done = client.post(f"{manage}/examples", data={"topic": TOPIC, "answer": "like"}, files=upload)
    assert (
        done.status_code == 200 and "1 entry of your BibTeX file named no arXiv paper" in done.text
    )
    assert count(session, Example, col(Example.value) == 1) == 3


def test_votes_on_a_topics_picks_count_as_its_examples(weeks, settings, session) -> None:
    """ "More like this" on three picks "agents" brought teaches "agents"; a paper the reader
    marked themselves counts as they marked it."""
    run("send", "--issue-date", WEEK1.isoformat())
    ada = _id(session, ADA)
    issue = issues.for_date(WEEK1, settings.window_days, session=session, create=False)
    [(_, _, records)] = ledger.sent_picks([issue.id], session=session)
    brought = [r["paper_id"] for r in records if "agents" in {h["topic"] for h in r["hits"]}]
    assert len(brought) >= 3
    for paper_id in brought[:3]:
        votes.record(Vote(subscriber_id=ada, paper_id=paper_id, issue_id=issue.id, value=1),
                     session=session)  # fmt: skip
    examples.mark(ada, "agents", {brought[0]: examples.NOT}, session=session)
    session.commit()
    week2 = issues.for_date(WEEK2, settings.window_days, session=session, create=False)
    state = IssueCache().get(week2, settings, session=session)
    profile = profiles([session.get(Subscriber, ada)], state, session=session)[ada]
    session.rollback()
    taught_by = profile.examples["agents"]
    assert {m.paper_id for m in taught_by.liked} == set(brought[1:3])
    assert taught_by.unwanted == {brought[0]} and not taught_by.ready
    assert "world models" not in profile.examples  # none of its picks was voted on


def test_topics_preview_from_the_cli(weeks) -> None:
    found = json.loads(run("topics", "preview", TOPIC, "--weeks", "2", "--json"))
    assert found["dates"] == "31 January – 13 February 2026" and 0 < len(found["papers"]) <= 8
    assert all(p["why"] for p in found["papers"])
    shown = run("topics", "preview", TOPIC)
    assert shown.startswith(f"“{TOPIC}”: {found['matched']} papers in") and "1. " in shown
    assert "a broader wording" in run("topics", "preview", "sourdough baking")
    code, output = invoke("topics", "preview", "the")
    assert code != 0 and "no searchable words" in output
    code, output = invoke("topics", "preview", TOPIC, "--weeks", "9")
    assert code != 0 and "9 is not in the range 1<=x<=8" in output
