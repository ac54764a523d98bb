"""Readers teach it from the inbox: "More like this" / "Not for me" per pick, exclusions, and
a profile they can read. Real database (SQLite and PostgreSQL), real SMTP, the web app over
its HTTP interface. The browser walk-through, with the ranking of the next week, is in
tests/test_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import threading
from urllib.parse import urlsplit

import numpy as np
import pytest
from itsdangerous import TimestampSigner
from sqlmodel import select

from newsletter.match import feedback
from newsletter.models import Paper, Subscriber, Vote
from newsletter.readers import links
from newsletter.settings import get_settings
from tests.feedback_weeks import TOPIC, WEEK1, WEEK2, ranking, two_weeks, vote_links
from tests.helpers import count, invoke, run, web_client


def path_of(url: str) -> str:
    return urlsplit(url).path


def named(url: str) -> links.Feedback:
    """What a feedback link names: /feedback/{token}/{paper}/{more|less}."""
    token, paper, vote = path_of(url).split("/")[2:5]
    return links.read_feedback(get_settings(), token, paper, vote)


@pytest.fixture
def week1(settings, session, smtp):
    """Week 1 sent over real SMTP to Ada ("agents") and Bob ("video generation")."""
    two_weeks(session)
    run("subscribers", "add", "ada@example.com", "--topic", TOPIC, "--confirmed")
    run("subscribers", "add", "bob@example.com", "--topic", "video generation", "--confirmed")
    run("send", "--issue-date", WEEK1.isoformat())
    return smtp


def test_get_records_nothing_post_records_replaces_and_undoes(week1, session) -> None:
    client = web_client()
    (title, more, less), *_ = vote_links(week1.messages_to("ada@example.com")[0])
    page = client.get(path_of(less))
    assert page.status_code == 200 and title.split(":")[0] in page.text
    assert "Not for me" in page.text and "not interested in this author" in page.text.lower()
    assert count(session, Vote) == 0  # a mail scanner opening the link changes nothing

    done = client.post(path_of(less), data={"reason": "basic"})
    assert done.status_code == 200 and "Fewer papers like this" in done.text
    assert "Undo" in done.text and "/manage/" in done.text
    [vote] = session.exec(select(Vote)).all()
    assert (vote.value, vote.reason) == (-1, "basic")
    session.rollback()

    # A second vote on the same paper replaces the first; the same vote twice is one row.
    client.post(path_of(more))
    client.post(path_of(more))
    assert count(session, Vote, Vote.value == 1) == 1 and count(session, Vote) == 1
    undone = client.post(path_of(more) + "/undo")
    assert undone.status_code == 200 and count(session, Vote) == 0


def test_not_for_me_this_author_excludes_them_until_undone(week1, session) -> None:
    client = web_client()
    (_, more, less), *_ = vote_links(week1.messages_to("ada@example.com")[0])
    paper = session.get(Paper, named(less).paper_id)
    assert paper is not None
    refused = client.post(path_of(less), data={"reason": "author", "author": "Nobody Here"})
    assert refused.status_code == 422 and count(session, Vote) == 0

    client.post(path_of(more))  # first liked, then: not for me, not this author
    done = client.post(path_of(less), data={"reason": "author", "author": paper.authors[0]})
    assert f"none by {paper.authors[0]}" in " ".join(done.text.split())
    profile = json.loads(run("subscribers", "show", "ada@example.com", "--json"))
    assert profile["exclusions"] == [f"author: {paper.authors[0]}"]
    assert [v["title"] for v in profile["disliked"]] == [paper.title]
    assert profile["disliked"][0]["reason"] == "not interested in this author"
    shown = run("subscribers", "show", "ada@example.com")
    assert f"disliked: {paper.title}" in shown and f"never: author: {paper.authors[0]}" in shown
    client.post(path_of(less) + "/undo")
    profile = json.loads(run("subscribers", "show", "ada@example.com", "--json"))
    assert profile["exclusions"] == [] and profile["disliked"] == []

    # An author picked without ticking "not interested in this author" still counts; the
    # select's blank first choice sends no author.
    picked = client.post(path_of(less), data={"author": paper.authors[0]})
    assert "Your topics decide what can come; votes change the order." in picked.text
    profile = json.loads(run("subscribers", "show", "ada@example.com", "--json"))
    assert profile["exclusions"] == [f"author: {paper.authors[0]}"]
    client.post(path_of(less) + "/undo")
    client.post(path_of(less), data={"author": ""})
    assert json.loads(run("subscribers", "show", "ada@example.com", "--json"))["exclusions"] == []


def test_forged_expired_and_cross_reader_links_are_404(week1, session, monkeypatch) -> None:
    client, settings = web_client(), get_settings()
    ada_links = vote_links(week1.messages_to("ada@example.com")[0])
    bob_links = vote_links(week1.messages_to("bob@example.com")[0])
    ada = [named(more) for _, more, _ in ada_links]
    bob = [named(more) for _, more, _ in bob_links]
    bobs = {b.paper_id for b in bob}
    only_ada = next(v.paper_id for v in ada if v.paper_id not in bobs)
    more = ada_links[0][1]
    token, paper, _ = path_of(more).split("/")[2:5]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    bad = [
        f"https://x/feedback/{forged}/{paper}/more",  # tampered signature
        f"https://x/feedback/{token}/{paper}/maybe",  # not a vote
        f"https://x/feedback/{token}/{paper}x/more",  # not a paper
        f"https://x/feedback/{token}/{next(iter(bobs - {v.paper_id for v in ada}), 0)}/more",
        # Genuinely signed, for Bob, on a paper only Ada was sent.
        links.feedback_link(settings, bob[0]._replace(paper_id=only_ada)),
        links.feedback_link(settings, ada[0]._replace(issue_id=ada[0].issue_id + 1)),
        "https://x/feedback/not-a-token/1/more",
    ]
    signed_at = TimestampSigner.get_timestamp  # one signed 91 days ago: genuine, but expired
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda s: signed_at(s) - 91 * 86400)
    bad.append(links.feedback_link(settings, ada[0]))
    monkeypatch.undo()
    for url in bad:
        assert client.get(path_of(url)).status_code == 404, url
        assert client.post(path_of(url)).status_code == 404, url
    assert count(session, Vote) == 0
    assert client.get(path_of(more)).status_code == 200


def test_an_exclusion_removes_a_paper_that_matches_only_by_meaning(settings, session) -> None:
    day = dt.date(2026, 5, 12)
    gnn = Paper(
        arxiv_id="2605.00001",
        title="Message Passing Neural Networks on Molecular Graphs",
        abstract="We propose a GNN that propagates node features along the edges of molecular "
        "graphs and improves property prediction.",
        ai_keywords=["message passing", "molecular property prediction"],
        featured_on=day,
        source="hf",
        upvotes=50,
    )
    smiles = Paper(
        arxiv_id="2605.00002",
        title="Molecular Property Prediction from SMILES Strings",
        abstract="A transformer reads SMILES strings to predict molecular properties.",
        featured_on=day,
        source="hf",
    )
    session.add_all([gnn, smiles])
    session.commit()
    topic = "molecular property prediction"
    run("subscribers", "add", "ada@example.com", "--topic", topic, "--confirmed")
    before = json.loads(run("send", "--dry-run", "--issue-date", day.isoformat(), "--json"))
    assert before["readers"][0]["papers"] == 2
    # No paper holds both words of "graph learning"; the GNN paper is close to it in meaning
    # (tests/test_semantic.py shows the same paper picked by meaning for that topic).
    code, out = invoke("subscribers", "topics", "ada@example.com", "--topic", topic,
                       "--exclude", "graph learning")  # fmt: skip
    assert code == 0 and "never: graph learning" in out, out
    after = json.loads(run("send", "--dry-run", "--issue-date", day.isoformat(), "--json"))
    assert after["readers"][0]["papers"] == 1
    assert after["readers"][0]["top"] == smiles.title
    code, out = invoke("subscribers", "topics", "ada@example.com", "--topic", topic,
                       "--exclude", "???")  # fmt: skip
    assert code == 1 and "searchable words" in out


def test_a_vote_racing_the_next_send_loses_nothing(week1, session) -> None:
    """Ada votes on every week 1 pick, twice over, while week 2 goes out to both readers."""
    client = web_client()
    picks = vote_links(week1.messages_to("ada@example.com")[0])
    sent: list[str] = []

    def send() -> None:
        sent.append(run("send", "--issue-date", WEEK2.isoformat(), "--json"))

    sender = threading.Thread(target=send)
    sender.start()
    for _, more, less in picks * 2:
        assert client.post(path_of(less)).status_code == 200
        assert client.post(path_of(more)).status_code == 200
    sender.join(120)
    assert json.loads(sent[0])["sent"] == 2
    assert count(session, Vote, Vote.value == 1) == len(picks) == count(session, Vote)


def test_decay_halves_a_vote_every_four_weeks() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    votes = (feedback.Voted("a", 1, at, np.zeros(2, np.float32)),
             feedback.Voted("b", -1, at, np.zeros(2, np.float32)))  # fmt: skip
    profile = feedback.Profile(votes)
    assert profile.weights(at.date()).tolist() == [1.0, -1.0]
    assert profile.weights(at.date() + dt.timedelta(weeks=4)).tolist() == [0.5, -0.5]
    assert abs(profile.weights(at.date() + dt.timedelta(weeks=24))[0] - 1 / 64) < 1e-9


def test_the_operator_sees_votes_per_topic_and_issue(week1, session) -> None:
    client = web_client()
    ada = vote_links(week1.messages_to("ada@example.com")[0])
    bob = vote_links(week1.messages_to("bob@example.com")[0])
    for _, _, less in ada[:3]:
        client.post(path_of(less))
    client.post(path_of(ada[3][1]))
    client.post(path_of(bob[0][1]))
    report = json.loads(run("feedback", "report", "--json"))
    picks_sent = len(ada) + len(bob)
    assert report["votes"] == 5 and report["picks_sent"] == picks_sent
    assert report["disliked_share"] == round(3 / picks_sent, 4)
    assert report["topics"][TOPIC] == {"more": 1, "fewer": 3, "dislike_ratio": 0.75}
    assert report["worst_topics"] == [TOPIC]  # "video generation" has 1 vote, under the minimum
    [week] = report["issues"]
    assert report["issues"][week]["fewer"] == 3
    assert "worst topics by share disliked: agents" in run("feedback", "report")
    other = json.loads(run("feedback", "report", "--week", "2020-W01", "--json"))
    assert other["votes"] == 0 and other["issues"] == {}

    scored = json.loads(run("eval", "relevance", "--no-speed", "--feedback", "--json"))
    voted = scored["sets"]["votes received"]
    assert voted["papers"] == 5 and len(voted["topics"]) == 2  # Ada's issue and Bob's
    # Condensed to the voted papers: Ada's 1 like among her 4 votes, Bob's 1 like alone.
    assert voted["macro"]["engine"]["p5"] == pytest.approx((1 / 4 + 1) / 2)
    assert voted["macro"]["engine"]["r10"] == 1.0


def test_a_reader_without_votes_keeps_exactly_the_ranking(week1, session) -> None:
    """Another reader's votes change nothing for Cy, who shares Ada's topic and never voted."""
    run("subscribers", "add", "cy@example.com", "--topic", TOPIC, "--confirmed")
    before = ranking(get_settings(), session, "cy@example.com")
    client = web_client()
    for _, more, less in vote_links(week1.messages_to("ada@example.com")[0])[:4]:
        client.post(path_of(less))
        client.post(path_of(more))
    assert count(session, Vote) == 4
    after = ranking(get_settings(), session, "cy@example.com")
    assert [(p.paper.id, p.score, p.why) for p in after] == [
        (p.paper.id, p.score, p.why) for p in before
    ]
    assert not any(p.like for p in after)


def test_exclusions_from_the_manage_page(week1, session) -> None:
    client = web_client()
    ada = session.exec(select(Subscriber).where(Subscriber.email == "ada@example.com")).one()
    manage = path_of(links.link(get_settings(), links.Purpose.MANAGE, ada))  # type: ignore[arg-type]
    page = client.get(manage).text
    assert "Never send papers about" in page and "If your next digest went out now" in page
    form = {"topics": TOPIC, "send_day": "mon", "send_hour": "8", "timezone": "UTC"}
    saved = client.post(manage, data=form | {"exclusions": "cryptocurrency\nauthor: Jane Doe"})
    assert saved.status_code == 200 and "Saved." in saved.text
    profile = json.loads(run("subscribers", "show", "ada@example.com", "--json"))
    assert profile["exclusions"] == ["cryptocurrency", "author: Jane Doe"]
    # A bad exclusion is refused beside its own field; the other edits come back as typed.
    refused = client.post(manage, data=form | {"topics": "agents\nrobots", "exclusions": "???"})
    assert (
        refused.status_code == 422
        and 'aria-describedby="exclusions-hint exclusions-error"' in refused.text
    )
    assert "agents\nrobots" in refused.text
    profile = json.loads(run("subscribers", "show", "ada@example.com", "--json"))
    assert profile["exclusions"] == ["cryptocurrency", "author: Jane Doe"]
    assert profile["topics"] == [TOPIC]


def test_forgetting_a_reader_deletes_their_votes(week1, session) -> None:
    (_, more, _), *_ = vote_links(week1.messages_to("ada@example.com")[0])
    web_client().post(path_of(more))
    assert count(session, Vote) == 1
    run("subscribers", "forget", "ada@example.com")
    assert count(session, Vote) == 0
    assert web_client().get(path_of(more)).status_code == 404
