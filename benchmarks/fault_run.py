"""Fault injection at a larger scale: runs the scenarios of tests/test_faults.py (SMTP faults,
SIGKILL of a worker, Redis restarted, database connections dropped) RUNS times with READERS
readers each, through real Celery workers, Redis, PostgreSQL and an SMTP server, and adds up
what they report. Exits 1 if any scenario failed or lost a message.

    .venv/bin/python benchmarks/fault_run.py [--readers 2000] [--runs 3] [-k redis]

Needs what the test suite needs (PostgreSQL, Redis, redis-server on PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("runs", "faults_injected", "expected", "delivered", "lost", "duplicates")


def one_run(readers: int, select: str | None) -> tuple[int, list[dict[str, object]], str]:
    cmd = [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider"]
    cmd += ["tests/test_faults.py"] + (["-k", select] if select else [])
    env = dict(os.environ, NEWSLETTER_FAULT_READERS=str(readers))
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    reports = [
        json.loads(line.split("FAULT-REPORT ", 1)[1])
        for line in done.stdout.splitlines()
        if "FAULT-REPORT " in line
    ]
    return done.returncode, reports, done.stdout[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-k", dest="select", help="only scenarios matching (pytest -k)")
    args = parser.parse_args()

    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    failures: list[str] = []
    started = time.perf_counter()
    for number in range(1, args.runs + 1):
        code, reports, tail = one_run(args.readers, args.select)
        if code != 0:
            failures.append(f"run {number}: pytest exited {code}\n{tail}")
        for r in reports:
            print(f"run {number}: " + json.dumps(r))
            for key in FIGURES:
                totals[str(r["scenario"])][key] += int(r[key])  # type: ignore[call-overload]
    totals["all"] = {k: sum(t[k] for t in totals.values()) for k in FIGURES}

    print(f"\n{'scenario':<16}" + "".join(f"{k:>17}" for k in FIGURES))
    for scenario, figures in totals.items():
        print(f"{scenario:<16}" + "".join(f"{figures[k]:>17}" for k in FIGURES))
    result = {
        "readers": args.readers,
        "runs": args.runs,
        "seconds": round(time.perf_counter() - started, 1),
        "totals": totals,
        "failures": failures,
    }
    out = ROOT / "benchmarks" / "results" / f"fault_run-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    for failure in failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures or totals["all"]["lost"] else 0)


if __name__ == "__main__":
    main()
