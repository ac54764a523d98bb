"""CPU time per digest of `campaign.deliver`, in one process, on the product's defaults.

    .venv/bin/python benchmarks/cpu_per_digest.py [--readers 6000] [--voters 0.2]
        [--examples 0.2] [--profile]

The weekly run (weekly_run.py) measures the whole system on two shared cores, where PostgreSQL,
the SMTP sink and two workers compete and runs of the same code differ by 5-10 %. This
measures only the worker's side: the same synthetic week and audience, batches of 200
delivered to an SMTP sink (Postfix's smtp-sink, else benchmarks/sink.py) and recorded in a
fresh PostgreSQL database, after every reader's topics were scored once (as in a long run).
Prints CPU and wall microseconds per digest, and the wall microseconds per digest of each
stage the workers' metrics time (compose: pick and lay out; render: MIME; smtp: the send, with
the previous outcome's write overlapped; ledger: outcome writes); `--profile` adds cProfile's
top functions (SORT=cumulative TOP=70 to change the listing).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import weekly_run as run
from newsletter import db, metrics
from newsletter.delivery import campaign, ledger
from newsletter.delivery.mailer import SmtpMailer
from newsletter.digest.compose import IssueCache
from newsletter.settings import Settings, get_settings

BATCH = 200
WARM = 400  # digests sent before measuring: the issue's paper blocks and the connection


def stage_seconds() -> dict[str, float]:
    """Seconds spent so far in each stage (newsletter_stage_seconds' sums)."""
    return {
        sample.labels["stage"]: sample.value
        for family in metrics.STAGE.collect()
        for sample in family.samples
        if sample.name.endswith("_sum")
    }


def measure(
    url: str, settings: Settings, profile: bool
) -> tuple[int, float, float, dict[str, float]]:
    cache = IssueCache()
    with db.session_scope(url) as session:
        issue, _ = campaign.plan(run.MONDAY.date(), settings, session=session)
        assert issue.id is not None
        ids = ledger.claimable(issue.id, session=session)
        campaign.dry_run(run.MONDAY.date(), settings, session=session, mailer=None, cache=cache)
        # The topics stay scored, but no reader's ranked list is kept from the dry run: each
        # is ranked again, or shared only with readers of the same interests, as in a worker.
        cache.get(issue, settings, session=session).shared.clear()
    mailer, summary = SmtpMailer(settings), campaign.Summary(week=issue.week)
    mailer.open()

    def deliver(chunk: list[int]) -> None:
        for start in range(0, len(chunk), BATCH):
            with db.session_scope(url, batch=True) as session:
                campaign.deliver(chunk[start : start + BATCH], settings, session=session,
                                 mailer=mailer, cache=cache, summary=summary)  # fmt: skip

    deliver(ids[:WARM])
    profiler = cProfile.Profile() if profile else None
    stages, cpu, wall = stage_seconds(), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    deliver(ids[WARM:])
    if profiler:
        profiler.disable()
        order, top = os.environ.get("SORT", "tottime"), int(os.environ.get("TOP", "30"))
        pstats.Stats(profiler).sort_stats(order).print_stats(top)
    mailer.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    spent = {stage: seconds - stages.get(stage, 0.0) for stage, seconds in stage_seconds().items()}
    return len(ids) - WARM, cpu, wall, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=6000)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--voters", type=float, default=0.0, help="share of readers who voted")
    parser.add_argument("--examples", type=float, default=0.0,
                        help="share of readers with examples on a topic")  # fmt: skip
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-cpu-"))
    url, name = run.make_database(False, tmp)
    port = run.free_port()
    os.environ.update(run.settings_env(url, port))
    get_settings.cache_clear()
    sink = run.start_sink(port, tmp)
    try:
        run.load(url, args.readers, args.papers, args.voters, args.examples)
        digests, cpu, wall, stages = measure(url, get_settings(), args.profile)
    finally:
        sink.kill()
        run.drop_database(name)
    print(f"digests {digests}  cpu_us_per_digest {cpu / digests * 1e6:.0f}  "
          f"wall_us_per_digest {wall / digests * 1e6:.0f}")  # fmt: skip
    each = (f"{stage} {seconds / digests * 1e6:.0f}" for stage, seconds in sorted(stages.items()))
    print("stage wall_us_per_digest  " + "  ".join(each))


if __name__ == "__main__":
    main()
