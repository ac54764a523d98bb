"""The project as a user installs it: `python -m build`, then the wheel in a fresh virtualenv,
driven from a folder outside the clone. Templates, migrations and the sample papers must
come from the installed package, never from the clone. The wheel and sdist carry our own
distribution name, and the virtualenv gets its dependencies from requirements.lock alone
(hash-checked, as the Dockerfile does): a dependency missing from the lock fails here."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (
    "newsletter/templates/email/digest.mjml",
    "newsletter/templates/web/subscribe.html",
    "newsletter/migrations/env.py",
    "newsletter/migrations/script.py.mako",
    "newsletter/migrations/versions/0001_initial_schema.py",
    "newsletter/sample/hf_daily_papers_2026-02-02.json",
    "newsletter/sample/hf_daily_papers_2026-02-06.json",
    "workers/tasks.py",
)


def sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_wheel_installs_and_runs_outside_the_clone(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # No isolation: the build runs on the locked setuptools (requirements-dev.lock), fetched
    # and hash-checked with the rest, not on a copy downloaded for the build.
    sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    [wheel], [sdist] = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    # Named after our distribution, not PyPI's unrelated "newsletter".
    assert wheel.name == "trending_papers_inbox-0.1.0-py3-none-any.whl"
    assert sdist.name == "trending_papers_inbox-0.1.0.tar.gz"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names, set(SHIPPED) - names
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        assert {f"{top}/templates/email/digest.mjml", f"{top}/migrations/env.py"} <= set(
            tar.getnames()
        )

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    pip = (venv / "bin" / "python", "-m", "pip", "install", "-q")
    sh(*pip, "--no-deps", "--require-hashes", "-r", ROOT / "requirements.lock", cwd=tmp_path)
    sh(*pip, "--no-deps", wheel, cwd=tmp_path)
    sh(venv / "bin" / "python", "-m", "pip", "check", cwd=tmp_path)  # nothing left unmet

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "PYTHON"))}
    env["NEWSLETTER_DATABASE_URL"] = f"sqlite:///{elsewhere / 'newsletter.db'}"
    nl = venv / "bin" / "newsletter"
    assert "database at head" in sh(nl, "db", "upgrade", cwd=elsewhere, env=env)
    assert "added 169" in sh(nl, "ingest", "sample", cwd=elsewhere, env=env)  # five real days
    sh(nl, "subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed",
       cwd=elsewhere, env=env)  # fmt: skip
    out = sh(nl, "send", "--dry-run", "--issue-date", "2026-02-06", "--out", "outbox",
             cwd=elsewhere, env=env)  # fmt: skip
    assert "would_send=1" in out
    [eml] = list((elsewhere / "outbox").glob("*.eml"))
    assert b"Subject: " in eml.read_bytes() and b"arxiv.org/abs/" in eml.read_bytes()
    # The installed package really was used: nothing of it resolves into the clone.
    probe = "import newsletter.templates as t, newsletter.migrations as m; print(t, m)"
    where = sh(venv / "bin" / "python", "-c", probe, cwd=elsewhere, env=env)
    assert str(ROOT) not in where and str(venv) in where
