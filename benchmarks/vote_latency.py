"""How long recording a vote takes, end to end over HTTP: `newsletter web` (uvicorn, one
process) answering the POST of a "More like this" / "Not for me" link, from the request to
the answer (the vote committed). Prints p50 / p95 / p99 and writes JSON to benchmarks/results/.

    .venv/bin/python benchmarks/vote_latency.py [--votes 1000] [--readers 200] [--postgresql]

The setup goes through the product: `db upgrade`, `ingest sample`, `subscribers import
--confirmed`, `send` of the sample week into an SMTP sink (benchmarks/sink.py), then the
links each digest carried. The default database is the product's (a SQLite file);
`--postgresql` uses a fresh database on NEWSLETTER_TEST_PG_URL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.weekly_run import drop_database, free_port, make_database  # noqa: E402
from newsletter import db  # noqa: E402
from newsletter.delivery import ledger  # noqa: E402
from newsletter.readers import links, store  # noqa: E402
from newsletter.settings import get_settings  # noqa: E402

TOPICS = ["agents", "video generation", "reinforcement learning", "reasoning", "diffusion"]


def newsletter(*args: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "newsletter.cli", *args]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def setup(readers: int, env: dict[str, str], tmp: Path) -> None:
    newsletter("db", "upgrade", env=env)
    newsletter("ingest", "sample", env=env)
    rows = [f"reader{n}@example.com,{TOPICS[n % len(TOPICS)]}" for n in range(readers)]
    (tmp / "readers.csv").write_text("email,topics\n" + "\n".join(rows) + "\n")
    newsletter("subscribers", "import", str(tmp / "readers.csv"), "--confirmed", env=env)
    newsletter("send", "--issue-date", "2026-02-06", env=env)


def vote_links(url: str) -> list[str]:
    """Both links of every pick sent, as the digests carried them."""
    settings, found = get_settings(), []
    with db.session_scope(url) as session:
        keys = {r.id: r.link_key for r in store.listing(session=session)}
        for issue_id, reader_id, picks in ledger.sent_picks([1], session=session):
            for pick in picks:
                vote = links.Feedback(reader_id, pick["paper_id"], issue_id, 1, keys[reader_id])
                found.append(links.feedback_link(settings, vote))
                found.append(links.feedback_link(settings, vote._replace(vote=-1)))
    return found


def measure(base: str, urls: list[str], votes: int) -> dict[str, float]:
    rng = random.Random(5)
    timings = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(votes + 50):
            url = rng.choice(urls)
            path = url.split("://", 1)[1].split("/", 1)[1]
            data = {"reason": "basic"} if url.endswith("/less") else {}
            started = time.perf_counter()
            response = client.post(f"/{path}", data=data)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text[:300]
            if n >= 50:  # the first requests warm the process up (templates, model)
                timings.append(elapsed)
    timings.sort()
    return {
        "votes": len(timings),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-votes-"))
    url, dbname = make_database(not args.postgresql, tmp)
    smtp_port, web_port = free_port(), free_port()
    env = dict(os.environ, NEWSLETTER_DATABASE_URL=url, NEWSLETTER_SMTP_HOST="127.0.0.1",
               NEWSLETTER_SMTP_PORT=str(smtp_port), NEWSLETTER_SECRET_KEY="bench-secret",
               NEWSLETTER_BASE_URL=f"http://127.0.0.1:{web_port}",
               NEWSLETTER_FROM="Trending Papers <digest@papers.example.com>")  # fmt: skip
    os.environ.update(env)
    get_settings.cache_clear()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(smtp_port)],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    web = None
    try:
        time.sleep(0.5)
        setup(args.readers, env, tmp)
        urls = vote_links(url)
        web = subprocess.Popen([sys.executable, "-m", "newsletter.cli", "web", "--port",
                                str(web_port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{web_port}"
        for _ in range(100):
            try:
                httpx.get(base + "/privacy")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        kind = "postgresql" if args.postgresql else "sqlite (the default)"
        result = {"database": kind, "readers": args.readers, "links": len(urls)}
        result |= measure(base, urls, args.votes)
    finally:
        for proc in (web, sink):
            if proc:
                proc.terminate()
                proc.wait(10)
        db.get_engine(url).dispose()
        drop_database(dbname)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"vote_latency-{dt.datetime.now():%Y%m%d-%H%M%S}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    for key, value in result.items():
        print(f"{key:>10}  {value}")


if __name__ == "__main__":
    main()
