"""No production without a secret: with NEWSLETTER_ENV=production every process that serves
readers or mails them refuses to start, in one line, on a key anyone could know or guess
or on the localhost base URL. `newsletter secret new` makes a key that passes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from newsletter.settings import Settings
from tests.helpers import ROOT, invoke

NEWSLETTER = [sys.executable, "-m", "newsletter.cli"]
PROCESSES = {
    "web": [*NEWSLETTER, "web", "--port", "0"],
    "worker": [*NEWSLETTER, "worker"],
    "beat": [*NEWSLETTER, "beat"],
    "send": [*NEWSLETTER, "send"],
    "celery worker": [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker"],
}
GOOD_URL = "https://papers.example.org"


def started(command: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NEWSLETTER_ENV": "production",
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'refused.db'}",
    }
    return subprocess.run(command, env=base | env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"NEWSLETTER_BASE_URL": GOOD_URL}, "NEWSLETTER_SECRET_KEY is unset or the development"),
        ({"NEWSLETTER_BASE_URL": GOOD_URL, "NEWSLETTER_SECRET_KEY": "dev-only-not-secret"},
         "NEWSLETTER_SECRET_KEY is unset or the development"),
        ({"NEWSLETTER_BASE_URL": GOOD_URL, "NEWSLETTER_SECRET_KEY": "k" * 31},
         "NEWSLETTER_SECRET_KEY is shorter than 32 bytes"),
        ({"NEWSLETTER_SECRET_KEY": "k" * 32}, "NEWSLETTER_BASE_URL is the development default"),
    ],
)  # fmt: skip
def test_every_process_refuses_in_one_line(env: dict[str, str], says: str, tmp_path) -> None:
    for name, command in PROCESSES.items():
        result = started(command, tmp_path, **env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0, name
        assert len(lines) == 1 and says in lines[0], (name, result.stderr[-500:])
        assert "refusing to start with NEWSLETTER_ENV=production" in lines[0]
    print(lines[0])


def test_secret_new_makes_a_key_that_passes(tmp_path) -> None:
    code, first = invoke("secret", "new")
    second = invoke("secret", "new")[1]
    key = first.strip()
    assert code == 0 and key != second.strip() and len(key.encode()) >= 64
    assert Settings(env="production", secret_key=key, base_url=GOOD_URL).production_problems() == []
    result = started([*NEWSLETTER, "status"], tmp_path, NEWSLETTER_SECRET_KEY=key,
                     NEWSLETTER_BASE_URL=GOOD_URL)  # fmt: skip
    assert "refusing" not in result.stderr


def test_development_keeps_working_without_a_secret(tmp_path) -> None:
    """The README's two commands run on the development defaults."""
    result = started([*NEWSLETTER, "db", "upgrade"], tmp_path, NEWSLETTER_ENV="development")
    assert result.returncode == 0, result.stderr
