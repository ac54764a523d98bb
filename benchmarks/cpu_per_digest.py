"""CPU time per digest of `campaign.deliver`, in one process, on the product's defaults.

    .venv/bin/python benchmarks/cpu_per_digest.py [--readers 6000] [--voters 0.2]
        [--examples 0.2] [--profile] [--against DIR [--rounds 16]]

The weekly run (weekly_run.py) measures the whole system on two shared cores, where PostgreSQL,
the SMTP sink and two workers compete and runs of the same code differ by 5-10 %. This
measures only the worker's side: the same synthetic week and audience, batches of 200
delivered to an SMTP sink (Postfix's smtp-sink, else benchmarks/sink.py) and recorded in a
fresh PostgreSQL database, after every reader's topics were scored once (as in a long run).
Prints CPU and wall microseconds per digest, and the wall microseconds per digest of each
stage the workers' metrics time (compose: pick and lay out; render: MIME; smtp: the send, with
the previous outcome's write overlapped; ledger: outcome writes); `--profile` adds cProfile's
top functions (SORT=cumulative TOP=70 to change the listing).

`--against DIR` compares this code with another checkout's (a worktree of an earlier commit)
on this machine, whose speed drifts by 20 % within minutes: each code is set up in a process
of its own, and they take turns delivering the next share of their readers (ABBA, `--rounds`
turns each), so each pair of figures is seconds apart. Prints each turn, then the ratio of
the two codes' total CPU per digest.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The code measured: this checkout's, or with --against the other one's (BENCH_CODE).
sys.path.insert(0, os.environ.get("BENCH_CODE", str(Path(__file__).resolve().parents[1])))

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


def prepare(
    url: str, settings: Settings
) -> tuple[list[int], Callable[[list[int]], None], SmtpMailer]:
    """The issue planned, its topics scored and the first WARM digests sent: the ids left to
    deliver, what delivers them (batches of BATCH, as a worker) and its connection."""
    cache = IssueCache()
    with db.session_scope(url) as session:
        issue, _ = campaign.plan(run.MONDAY.date(), settings, session=session)
        assert issue.id is not None
        ids = ledger.claimable(issue.id, session=session)
        campaign.dry_run(run.MONDAY.date(), settings, session=session, mailer=None, cache=cache)
        # The topics stay scored, but no reader's ranked list is kept from the dry run: each
        # is ranked again, or shared only with readers of the same interests, as in a worker
        # (code from before shared lists keeps none).
        getattr(cache.get(issue, settings, session=session), "shared", {}).clear()
    mailer, summary = SmtpMailer(settings), campaign.Summary(week=issue.week)
    mailer.open()

    def deliver(chunk: list[int]) -> None:
        for start in range(0, len(chunk), BATCH):
            with db.session_scope(url, batch=True) as session:
                campaign.deliver(chunk[start : start + BATCH], settings, session=session,
                                 mailer=mailer, cache=cache, summary=summary)  # fmt: skip

    deliver(ids[:WARM])
    return ids[WARM:], deliver, mailer


def measure(
    url: str, settings: Settings, profile: bool
) -> tuple[int, float, float, dict[str, float]]:
    ids, deliver, mailer = prepare(url, settings)
    profiler = cProfile.Profile() if profile else None
    stages, cpu, wall = stage_seconds(), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    deliver(ids)
    if profiler:
        profiler.disable()
        order, top = os.environ.get("SORT", "tottime"), int(os.environ.get("TOP", "30"))
        pstats.Stats(profiler).sort_stats(order).print_stats(top)
    mailer.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    spent = {stage: seconds - stages.get(stage, 0.0) for stage, seconds in stage_seconds().items()}
    return len(ids), cpu, wall, spent


def serve(url: str, settings: Settings) -> None:
    """--serve (a process of --against): prepared, then for each number N read on stdin,
    the next N digests delivered, answered with their CPU and wall seconds."""
    ids, deliver, mailer = prepare(url, settings)
    print(f"ready {len(ids)}", flush=True)
    for line in sys.stdin:
        chunk, ids = ids[: int(line)], ids[int(line) :]
        cpu, wall = time.process_time(), time.perf_counter()
        deliver(chunk)
        print(f"{len(chunk)} {time.process_time() - cpu} {time.perf_counter() - wall}", flush=True)
    mailer.close()


def own_files(code: Path) -> None:
    """Exits unless `code` will run with its own templates and migrations: the editable
    install maps `newsletter.templates` and `.migrations` to this checkout's top-level
    folders, so another checkout put first on the path would silently render with ours."""
    for name in ("templates", "migrations"):
        if (code / name).is_dir() and not (code / "newsletter" / name).exists():
            sys.exit(f"{code} would use this checkout's {name}: link its own into its package "
                     f"first (ln -s ../{name} {code}/newsletter/{name})")  # fmt: skip


def against(other: Path, args: argparse.Namespace) -> None:
    """This code and `other`'s, taking turns (see the module's doc)."""
    own_files(other.resolve())
    here = Path(__file__).resolve().parents[1]
    command = [sys.executable, __file__, "--serve", "--readers", str(args.readers),
               "--papers", str(args.papers), "--voters", str(args.voters),
               "--examples", str(args.examples)]  # fmt: skip
    codes = {"this": here, "other": other.resolve()}
    pipes: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    procs = {name: subprocess.Popen(command, env=os.environ | {"BENCH_CODE": str(code)}, **pipes)
             for name, code in codes.items()}  # fmt: skip
    left = {}
    for name, proc in procs.items():  # set up one after the other: each loads a database
        assert proc.stdin and proc.stdout
        left[name] = int(proc.stdout.readline().split()[1])
    share = min(left.values()) // args.rounds
    totals = {name: [0, 0.0] for name in procs}
    for turn in range(args.rounds):
        for name in ("this", "other") if turn % 4 in (0, 3) else ("other", "this"):
            proc = procs[name]
            assert proc.stdin and proc.stdout
            proc.stdin.write(f"{share}\n")
            proc.stdin.flush()
            n, cpu, wall = proc.stdout.readline().split()
            totals[name][0] += int(n)
            totals[name][1] += float(cpu)
            print(f"turn {turn} {name} cpu_us_per_digest {float(cpu) / int(n) * 1e6:.0f}  "
                  f"wall_us_per_digest {float(wall) / int(n) * 1e6:.0f}", flush=True)  # fmt: skip
    for proc in procs.values():
        assert proc.stdin
        proc.stdin.close()
        proc.wait()
    per = {name: cpu / n * 1e6 for name, (n, cpu) in totals.items()}
    print(json.dumps({"this": str(here), "other": str(codes["other"]), "readers": args.readers,
                      "digests_each": totals["this"][0], "cpu_us_per_digest": {
                          name: round(us) for name, us in per.items()},
                      "this_over_other": round(per["this"] / per["other"], 3)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=6000)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--voters", type=float, default=0.0, help="share of readers who voted")
    parser.add_argument("--examples", type=float, default=0.0,
                        help="share of readers with examples on a topic")  # fmt: skip
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--against", type=Path, help="another checkout, to compare with")
    parser.add_argument("--rounds", type=int, default=16, help="turns each with --against")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against:
        against(args.against, args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-cpu-"))
    url, name = run.make_database(False, tmp)
    port = run.free_port()
    os.environ.update(run.settings_env(url, port))
    get_settings.cache_clear()
    sink = run.start_sink(port, tmp)
    try:
        extra = [args.examples] if args.examples else []  # code from before examples: none
        run.load(url, args.readers, args.papers, args.voters, *extra)
        if args.serve:
            serve(url, get_settings())
            return
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
