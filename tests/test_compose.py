"""compose.yaml, as `docker-compose config` reads it: production by default, refused without
a secret key, the public URL or Flower's login; only the web app published beyond this
machine; every image pinned. Needs Debian's docker-compose (no Docker engine)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import ROOT

REQUIRED = {
    "NEWSLETTER_BASE_URL": "https://papers.example.org",
    "NEWSLETTER_SECRET_KEY": "k" * 64,
    "FLOWER_BASIC_AUTH": "operator:a-long-password",
}


def config(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with only `env` set: an empty env file, so a `.env` in the
    clone changes nothing."""
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is needed (scripts/system-deps.sh installs it)")
        pytest.skip("docker-compose is not installed")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return subprocess.run(
        [compose, "--env-file", str(empty), "-f", str(ROOT / "compose.yaml"), "config"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", list(REQUIRED))
def test_refused_without_each_required_setting(missing: str, tmp_path) -> None:
    given = {k: v for k, v in REQUIRED.items() if k != missing}
    result = config(tmp_path, **given)
    assert result.returncode != 0
    assert f"set {missing} to" in result.stderr  # says what to set
    print(result.stderr.strip().splitlines()[-1][-160:])


def test_production_with_operator_surfaces_closed(tmp_path) -> None:
    result = config(tmp_path, **REQUIRED)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"
        for port in service.get("ports", []):
            host = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            published_widely = host != "127.0.0.1"
            assert published_widely == (name == "web"), f"{name} publishes {port}"
        env = service.get("environment") or {}
        if "NEWSLETTER_SECRET_KEY" in env:
            assert env["NEWSLETTER_ENV"] == "production"
            assert env["NEWSLETTER_SECRET_KEY"] == REQUIRED["NEWSLETTER_SECRET_KEY"]
            assert str(env["NEWSLETTER_METRICS_PORT"]) == "9100"  # not on the readers' port
    flower = " ".join(services["flower"]["command"])
    assert f"--basic-auth={REQUIRED['FLOWER_BASIC_AUTH']}" in flower
    assert "web" in services and services["web"].get("ports")
