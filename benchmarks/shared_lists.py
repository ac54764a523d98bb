"""Where readers who share an interest set should share their ranked list: in each worker
process, as the product does, or once per issue in Redis (issue 32, "measure which").

    .venv/bin/python benchmarks/shared_lists.py [--readers 6000] [--papers 2000]

Two parts, on the product's defaults:
- Costs, in one process: the weekly run's synthetic week and `--readers` of its audience in a
  fresh PostgreSQL database, their topics scored first as a worker does. Then the CPU of
  ranking one reader's list (what a reader nobody shares with costs), and of what Redis
  would add per reader: a GET that finds nothing, a SET of the list, and a GET that finds
  it, with the picks read back. Redis's own CPU for those commands is read from INFO.
- Reach: the weekly run's audiences of 10,000, 30,000 and 100,000 readers. How many
  readers a list made before serves: in the product, two worker processes taking batches of
  200 in turn, each keeping its 2,000 most recently used lists; in Redis, every reader whose
  interest set an earlier reader had, behind the same per-process lists.

Prints both, then the listing's CPU per digest each way (ours and Redis's) as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import redis
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import weekly_run as run
from newsletter import db
from newsletter.delivery import campaign
from newsletter.digest import compose
from newsletter.match.engine import Pick
from newsletter.models import Paper, Subscriber
from newsletter.readers import store as readers
from newsletter.settings import get_settings

BATCH, WORKERS = 200, 2
AUDIENCES = (10_000, 30_000, 100_000)


def cpu_us(work: Callable[[], object], count: int) -> float:
    """CPU microseconds per call of `work`, called `count` times."""
    started = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - started) / count * 1e6


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def costs(url: str) -> dict[str, float]:
    """CPU µs: ranking one reader's list, and each Redis command a shared list needs."""
    settings = get_settings()
    with db.session_scope(url) as session:
        issue, _ = campaign.plan(run.MONDAY.date(), settings, session=session)
        state = compose.IssueCache().get(issue, settings, session=session)
        ids = [i for i in session.exec(select(Subscriber.id)) if i is not None]
        audience = list(readers.by_ids(ids, session=session).values())
        profiles = compose.profiles(audience, state, session=session)
    compose.warm_topics([state], audience)

    def rank(reader: readers.Reader) -> list[Pick]:
        return compose._picks(reader, state, set(), settings, profiles[reader.id or 0])

    for reader in audience:  # each topic scored once, as after a worker's first batches
        rank(reader)
    started = time.process_time()
    lists = [rank(reader) for reader in audience]
    ranked = (time.process_time() - started) / len(audience) * 1e6

    client = redis.Redis.from_url(run.REDIS_URL)
    client.flushdb()
    papers = {p.id: p for p in state.matcher.papers}
    keys = [f"shared:{issue.id}:{key_of(reader)}" for reader in audience]
    values = [orjson.dumps([p.as_record() for p in picks]) for picks in lists]
    server, n = redis_cpu(client), len(keys)
    missing = cpu_us(lambda: client.get(f"shared:{issue.id}:nothing"), n)
    stored = iter(zip(keys, values, strict=True))
    put = cpu_us(lambda: client.set(*next(stored), ex=86_400), n)
    found = iter(keys)
    got = cpu_us(lambda: read_back(client.get(next(found)), papers), n)
    server = (redis_cpu(client) - server) / (3 * n) * 1e6
    client.flushdb()
    return {"rank": ranked, "get_missing": missing, "set": put, "get_found": got,
            "redis_server": server, "list_bytes": sum(map(len, values)) / n}  # fmt: skip


def key_of(reader: readers.Reader) -> str:
    """A reader's interest set as a Redis key: the digest of what the product's key holds."""
    key = [reader.topics, reader.follows, reader.exclusions]
    return hashlib.blake2b(orjson.dumps(key), digest_size=16).hexdigest()


def read_back(value: bytes | str | None, papers: dict[int | None, Paper]) -> list[Pick]:
    assert value is not None
    return [Pick.from_record(r, papers[r["paper_id"]]) for r in orjson.loads(value)]


def reach(sets: Sequence[tuple[str, ...]]) -> dict[str, float]:
    """The share of readers served by a list made before: by their worker process's own
    lists, and by Redis behind them."""
    kept: list[OrderedDict[tuple[str, ...], None]] = [OrderedDict() for _ in range(WORKERS)]
    anywhere: set[tuple[str, ...]] = set()
    own = shared = 0
    for start in range(0, len(sets), BATCH):
        lists = kept[start // BATCH % WORKERS]
        for interest_set in sets[start : start + BATCH]:
            if interest_set in lists:
                own += 1
                lists.move_to_end(interest_set)
            else:
                shared += interest_set in anywhere
                if len(lists) >= compose._SHARED_MAX:
                    lists.popitem(last=False)
                lists[interest_set] = None
            anywhere.add(interest_set)
    return {"process": own / len(sets), "redis_more": shared / len(sets)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=6000)
    parser.add_argument("--papers", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-shared-"))
    url, name = run.make_database(False, tmp)
    os.environ.update(run.settings_env(url, run.free_port()))
    get_settings.cache_clear()
    try:
        run.load(url, args.readers, args.papers)
        cost = costs(url)
    finally:
        run.drop_database(name)
    size = cost.pop("list_bytes")
    print("CPU µs: " + "  ".join(f"{k} {v:.1f}" for k, v in cost.items()))
    print(f"a list as Redis would hold it: {size:.0f} bytes")
    for audience in AUDIENCES:
        topics = run.audience_topics(random.Random(11))
        served = reach([tuple(next(topics)) for _ in range(audience)])
        print(json.dumps({"readers": audience, **{k: round(v, 3) for k, v in served.items()},
                          "listing_cpu_us_per_digest": listing(served, cost)}))  # fmt: skip


def listing(served: dict[str, float], cost: dict[str, float]) -> dict[str, int]:
    """CPU µs per digest of a reader's list, ours and with Redis behind it (the server's
    share counted: it runs on the same cores)."""
    rest, more, server = 1 - served["process"], served["redis_more"], cost["redis_server"]
    first = cost["get_missing"] + cost["rank"] + cost["set"] + 2 * server
    with_redis = more * (cost["get_found"] + server) + (rest - more) * first
    return {"process": round(rest * cost["rank"]), "redis": round(with_redis)}


if __name__ == "__main__":
    main()
