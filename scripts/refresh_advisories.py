"""Rewrite security/advisories.json, the offline advisory snapshot scripts/audit.py serves
to pip-audit where api.osv.dev does not answer: every PyPI advisory (OSV format) in a
checkout of https://github.com/pypa/advisory-database that names a package of
requirements-dev.lock, all its versions, so the snapshot still serves after a lock bump.

    git clone https://github.com/pypa/advisory-database /tmp/advisory-database
    .venv/bin/python scripts/refresh_advisories.py /tmp/advisory-database
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-dev.lock"
SNAPSHOT = ROOT / "security" / "advisories.json"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names() -> list[str]:
    names = re.findall(r"^([A-Za-z0-9_.-]+)==", LOCK.read_text(), re.M)
    return sorted({canonical(n) for n in names})


def advisory(path: Path) -> dict:
    # BaseLoader keeps every scalar a string: a version such as 2.10 must not become 2.1.
    record = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
    for affected in record.get("affected", []):
        affected["package"]["name"] = canonical(affected["package"]["name"])
    return record


def main(checkout: Path) -> None:
    commit = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%H %cI"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    vulns = [
        advisory(path)
        for name in locked_names()
        for path in sorted((checkout / "vulns" / name).glob("*.yaml"))
    ]
    snapshot = {
        "source": "https://github.com/pypa/advisory-database",
        "commit": commit[0],
        "committed": commit[1],
        "taken": datetime.now(UTC).date().isoformat(),
        "packages": locked_names(),
        "vulns": vulns,
    }
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(f"{SNAPSHOT.relative_to(ROOT)}: {len(vulns)} advisories, commit {commit[0][:12]}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: refresh_advisories.py PATH-TO-pypa/advisory-database-CHECKOUT")
    main(Path(sys.argv[1]))
