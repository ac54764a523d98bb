"""The project as a user installs it: `python -m build`, then the wheel in a fresh virtualenv,
driven from a folder outside the clone. Templates, migrations and the sample papers must
come from the installed package, never from the clone."""

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
    sh(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=tmp_path)
    [wheel], [sdist] = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names, set(SHIPPED) - names
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        assert {f"{top}/templates/email/digest.mjml", f"{top}/migrations/env.py"} <= set(
            tar.getnames()
        )

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    sh(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path)

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
