"""A supply chain that can be audited (issue 31): our own distribution name, a lock with a
hash on every requirement that agrees with pyproject's pins, every third-party import of
the code declared, no hint naming a distribution we do not own, and pip-audit failing on a
known vulnerability. The model files' pins are tested in tests/test_bert.py, the wheel's
name in tests/test_wheel.py."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DISTRIBUTION = "trending-papers-inbox"
RUNTIME_LOCK, DEV_LOCK = ROOT / "requirements.lock", ROOT / "requirements-dev.lock"
OURS = {"newsletter", "workers"}  # our import packages (migrations/ ships as newsletter's)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    """pyproject's `name[extra]==version` entries as {canonical name: version}."""
    found = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
        assert match, f"not pinned with ==: {line!r}"
        found[canonical(match[1])] = match[3]
    return found


def locked(lock: Path) -> dict[str, tuple[str, list[str]]]:
    """A lock file's requirements as {canonical name: (version, hashes)}."""
    text = lock.read_text()
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=\S+)*)", text, re.M)
    assert entries, lock
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert len(requirement_lines) == len(entries), "a requirement without ==version or hash"
    return {canonical(n): (v, re.findall(r"--hash=(sha256:[0-9a-f]{64})", h))
            for n, v, h in entries}  # fmt: skip


RUNTIME = pins(PYPROJECT["project"]["dependencies"])
DEV = pins(PYPROJECT["project"]["optional-dependencies"]["dev"])


def test_the_distribution_has_a_name_of_our_own() -> None:
    """PyPI's "newsletter" is an unrelated project (since 2014): installing by that name
    would fetch someone else's code. The command and the import package keep the name."""
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert PYPROJECT["project"]["scripts"] == {"newsletter": "newsletter.cli:main"}
    installed = importlib.metadata.distribution(DISTRIBUTION)
    assert "newsletter" in {e.name for e in installed.entry_points}
    owners = importlib.metadata.packages_distributions()["newsletter"]
    assert DISTRIBUTION in {canonical(d) for d in owners}


@pytest.mark.parametrize(
    ("lock", "wanted"), [(RUNTIME_LOCK, RUNTIME), (DEV_LOCK, {**RUNTIME, **DEV})]
)
def test_the_lock_pins_what_pyproject_pins_each_with_hashes(lock, wanted) -> None:
    entries = locked(lock)
    for name, version in wanted.items():
        assert name in entries, f"{lock.name} lacks {name}"
        assert entries[name][0] == version, f"{lock.name}: {name} {entries[name][0]} != {version}"
    for name, (_version, hashes) in entries.items():
        assert hashes, f"{lock.name}: {name} has no hash"
    assert "setuptools" not in RUNTIME and entries.get("setuptools", (None,))[0] in (
        None,
        PYPROJECT["build-system"]["requires"][0].split("==")[1],
    )


def test_the_runtime_lock_is_the_dev_lock_less_the_dev_tools() -> None:
    """One resolution: the runtime lock is compiled with the dev lock as its constraint, so
    the demo and the image run the very versions the tests ran on."""
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    assert {name: version for name, (version, _h) in runtime.items()} == {
        name: dev[name][0] for name in runtime
    }
    assert runtime.keys() < dev.keys()


def test_each_lock_says_how_it_is_made_and_the_readme_says_it_too() -> None:
    readme = (ROOT / "README.md").read_text()
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        command = re.search(r"^#\s+(uv pip compile .*)$", lock.read_text(), re.M)
        assert command, lock.name
        assert f"-o {lock.name}" in command[1] and "--generate-hashes" in command[1]
        assert command[1] in readme, command[1]
    assert re.search(r"uv==\d+\.\d+\.\d+", readme), "the lock tool's version is pinned"


def test_the_scripts_and_the_image_install_the_lock_with_hashes() -> None:
    for path, lock in (
        ("scripts/test.sh", DEV_LOCK),
        ("scripts/demo.sh", RUNTIME_LOCK),
        ("Dockerfile", RUNTIME_LOCK),
    ):
        text = (ROOT / path).read_text()
        # The lock alone, as it stands: --no-deps, or pip's resolver may weigh an unpinned
        # newer release for a requirement with extras and refuse the install in hash mode.
        pattern = rf"--no-deps --require-hashes -r \S*{re.escape(lock.name)}\b"
        assert re.search(pattern, text), path
        assert re.search(r"--no-deps[^\n]*(-e \.|\.whl)", text), path  # then the project
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


HINT = re.compile(r"pipx?\s+install\s+(?:-\S+\s+)*['\"]?newsletter(?![\w/.-])")
TEXT = {".py", ".sh", ".md", ".txt", ".toml", ".yaml", ".yml", ".html", ".mjml", ".cfg", ""}


def test_no_hint_names_a_distribution_we_do_not_own() -> None:
    """`pip install newsletter` would install PyPI's unrelated "newsletter"."""
    places = [ROOT / "README.md", ROOT / "Dockerfile", ROOT / "benchmarks" / "relevance"]
    places += [ROOT / d for d in ("newsletter", "scripts", "docs", "workers", "deploy")]
    files = [p for place in places for p in ([place] if place.is_file() else place.rglob("*"))]
    said = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path in files
        if path.is_file() and path.suffix in TEXT and "__pycache__" not in path.parts
        for match in HINT.finditer(path.read_text(errors="replace"))
    ]
    assert said == []
    assert HINT.search("pip install 'newsletter[contextual]'")  # the check does see one
    assert not HINT.search("pip install --no-deps dist/newsletter-0.1.0.whl")


def imported_distributions() -> dict[str, set[str]]:
    """Each third-party distribution that code under newsletter/, workers/ and migrations/
    imports, with the files importing it. Our own packages and the standard library aside."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for folder in ("newsletter", "workers", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in OURS:
                        continue
                    where = str(path.relative_to(ROOT))
                    for dist in owners.get(top, [f"<not installed: {top}>"]):
                        found.setdefault(canonical(dist), set()).add(where)
    return found


def undeclared(declared: set[str]) -> dict[str, set[str]]:
    return {d: files for d, files in imported_distributions().items() if d not in declared}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """A package the code imports must be in `dependencies` with its own pin, not reach the
    install through another package (which may drop it, or move it, in any release)."""
    assert undeclared(set(RUNTIME)) == {}


def test_the_import_check_names_what_is_missing() -> None:
    """Without dnspython in pyproject, the check above fails naming it and its importer."""
    missing = undeclared(set(RUNTIME) - {"dnspython", "tokenizers"})
    assert missing == {
        "dnspython": {"newsletter/delivery/doctor.py"},
        "tokenizers": {"newsletter/match/bert.py"},
    }


# pip-audit as scripts/test.sh runs it (scripts/audit.py), offline: against one real advisory
# served from this machine, and against the snapshot the CI uses where api.osv.dev is out of
# reach. The verdict is what is tested, not the network.
AUDIT, SNAPSHOT = ROOT / "scripts" / "audit.py", ROOT / "security" / "advisories.json"
JINJA2_SANDBOX_ESCAPE = {
    "id": "PYSEC-2019-217",
    "aliases": ["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
    "summary": "In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "jinja2"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}],
        }
    ],
}


def audit(requirements: Path, snapshot: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(AUDIT), str(requirements), "--offline",
               "--snapshot", str(snapshot), "--", *flags]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_pip_audit_fails_on_a_vulnerability_and_passes_the_lock(tmp_path) -> None:
    one = tmp_path / "one.json"
    advisory = {"source": "test", "commit": "0" * 40, "committed": "2019-04-06"}
    one.write_text(json.dumps({**advisory, "vulns": [JINJA2_SANDBOX_ESCAPE]}))
    vulnerable = tmp_path / "old.txt"
    vulnerable.write_text("jinja2==2.10\n")
    found = audit(vulnerable, one, "--no-deps")
    assert found.returncode == 1, found.stdout + found.stderr
    assert re.search(r"jinja2\s+2\.10\s+PYSEC-2019-217\s+2\.10\.1", found.stdout)

    fixed = tmp_path / "new.txt"
    fixed.write_text("jinja2==2.10.1\n")
    assert audit(fixed, one, "--no-deps").returncode == 0

    clean = audit(DEV_LOCK, one, "--require-hashes")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No known vulnerabilities found" in clean.stderr + clean.stdout


def test_the_advisory_snapshot_covers_the_lock_and_finds_what_it_holds(tmp_path) -> None:
    """The snapshot names every locked package (a new one means running
    scripts/refresh_advisories.py), and its advisories do reach pip-audit."""
    snapshot = json.loads(SNAPSHOT.read_text())
    assert set(locked(DEV_LOCK)) <= set(snapshot["packages"])
    assert re.fullmatch(r"[0-9a-f]{40}", snapshot["commit"])
    urllib3 = [
        v["id"] for v in snapshot["vulns"] if v["affected"][0]["package"]["name"] == "urllib3"
    ]
    assert "PYSEC-2021-108" in urllib3  # urllib3 before 1.26.5: ReDoS in URL authority
    old = tmp_path / "old.txt"
    old.write_text("urllib3==1.26.4\n")
    found = audit(old, SNAPSHOT, "--no-deps")
    assert found.returncode == 1 and "PYSEC-2021-108" in found.stdout, found.stdout
    assert "advisory snapshot advisories.json" in found.stdout
