"""pip-audit on a lock file, failing on any known vulnerability of a pinned version.

    .venv/bin/python scripts/audit.py requirements-dev.lock [--offline] [--snapshot FILE]
        [-- more pip-audit flags]

It asks OSV (api.osv.dev) where that answers. Where it does not (no network, or one that
lets only the package index through) it asks the advisory snapshot security/advisories.json
instead, served to pip-audit as an OSV endpoint on 127.0.0.1 for the length of the run; the
first line printed says which, and the snapshot's date. scripts/refresh_advisories.py
rewrites the snapshot from pypa/advisory-database. Without extra flags the lock must carry
hashes (--require-hashes); pass `-- --no-deps` for a plain list of pins.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "security" / "advisories.json"
LIVE = "https://api.osv.dev/v1/query"


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV's ECOSYSTEM range: affected from each `introduced` up to its `fixed` (excluded)
    or `last_affected` (included)."""
    affected = False
    for event in events:
        kind, bound = next(iter(event.items()))
        try:
            if kind == "introduced":
                affected = affected or bound == "0" or version >= Version(bound)
            elif kind == "fixed":
                affected = affected and version < Version(bound)
            elif kind == "last_affected":
                affected = affected and version <= Version(bound)
        except InvalidVersion:
            continue
    return affected


def affects(vuln: dict, name: str, version: str) -> bool:
    for affected in vuln.get("affected", []):
        if affected["package"]["name"] != name:
            continue
        if version in affected.get("versions", []):
            return True
        parsed = Version(version)
        ranges = [r for r in affected.get("ranges", []) if r["type"] == "ECOSYSTEM"]
        if any(in_range(parsed, r["events"]) for r in ranges):
            return True
    return False


@contextmanager
def serving(vulns: list[dict]) -> Iterator[str]:
    """An OSV `/v1/query` endpoint on 127.0.0.1 answering from `vulns`."""

    class Query(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name, version = query["package"]["name"], query["version"]
            found = [v for v in vulns if affects(v, name, version)]
            body = json.dumps({"vulns": found} if found else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Query)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()


def live_answers() -> bool:
    query = json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "1.0"})
    try:
        urllib.request.urlopen(LIVE, data=query.encode(), timeout=10).close()
    except OSError:
        return False
    return True


def pip_audit(lock: Path, osv_url: str, flags: list[str]) -> int:
    command = [
        str(Path(sys.executable).parent / "pip-audit"), "--requirement", str(lock),
        "--disable-pip", "--strict", "--progress-spinner", "off",
        "--vulnerability-service", "osv", "--osv-url", osv_url,
        *(flags or ["--require-hashes"]),
    ]  # fmt: skip
    return subprocess.run(command, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--offline", action="store_true", help="use the snapshot, not OSV")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    argv = sys.argv[1:]
    ours, flags = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    if not args.offline and live_answers():
        print(f"pip-audit {args.lock}: against OSV ({LIVE})", flush=True)
        return pip_audit(args.lock, LIVE, flags)
    snapshot = json.loads(args.snapshot.read_text())
    print(
        f"pip-audit {args.lock}: against the advisory snapshot {args.snapshot.name} "
        f"({len(snapshot['vulns'])} advisories, {snapshot['source']} at "
        f"{snapshot['commit'][:12]}, {snapshot['committed'][:10]})"
        + ("" if args.offline else ": api.osv.dev does not answer from here"),
        flush=True,
    )
    with serving(snapshot["vulns"]) as url:
        return pip_audit(args.lock, url, flags)


if __name__ == "__main__":
    sys.exit(main())
