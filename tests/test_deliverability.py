"""Deliverability: a real digest scored by SpamAssassin (local rules only: no network here;
the score is printed and must stay below 2.0), DKIM signatures that verify, and `doctor`."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import dkim
import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.settings import get_settings
from tests.conftest import REAL, SmtpServer
from tests.helpers import run


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_spamassassin_scores_a_digest_below_two(settings, smtp: SmtpServer) -> None:
    if not shutil.which("spamassassin"):
        pytest.fail(
            "SpamAssassin is needed (Debian package 'spamassassin'; "
            "scripts/system-deps.sh installs it when run as root)"
        )
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run(
        "subscribers",
        "add",
        "ada@example.com",
        "--topic",
        "agents",
        "--topic",
        "RLHF",
        "--confirmed",
    )
    run("send", "--issue-date", "2026-05-12")
    [raw] = smtp.raw
    report = subprocess.run(
        ["spamassassin", "-L", "-t"], input=raw, capture_output=True, check=True, timeout=120
    ).stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.M)
    assert status, report[:2000]
    score = float(status.group(1))
    rules = re.findall(
        r"^\s*(-?\d+\.\d+) (\w+)", report.split("Content analysis details")[-1], re.M
    )
    print(f"SpamAssassin score {score}: {rules}")
    assert score < 2.0, report.split("Content analysis details")[-1]


@pytest.fixture
def dkim_key(tmp_path) -> tuple[str, str]:
    """A fresh RSA key pair: the private key's path and the DNS TXT record of its public half."""
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return str(key), "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dkim_signature_covers_the_list_headers_and_verifies(
    settings, smtp: SmtpServer, dkim_key, monkeypatch
) -> None:
    path, record = dkim_key
    monkeypatch.setenv("NEWSLETTER_DKIM_SELECTOR", "news2026")
    monkeypatch.setenv("NEWSLETTER_DKIM_PRIVATE_KEY", path)
    get_settings.cache_clear()
    run("ingest", "file", str(REAL / "hf_daily_papers_2026-05-12.json"))
    run("subscribers", "add", "ada@example.com", "--topic", "agents", "--confirmed")
    run("send", "--issue-date", "2026-05-12")
    [raw] = smtp.raw
    signature = smtp.received[0][1]["DKIM-Signature"]
    assert "d=papers.example.com" in signature and "s=news2026" in signature
    signed = re.search(r"h=([^;]+)", signature.replace("\n", "").replace(" ", "")).group(1)  # type: ignore[union-attr]
    for header in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert header in signed.lower().split(":")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news2026._domainkey.papers.example.com."
        return record.encode()

    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Subject: ", b"Subject: X"), dnsfunc=dns)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_doctor_says_what_to_fix(settings, smtp, dkim_key, monkeypatch) -> None:
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "fail  NEWSLETTER_POSTAL_ADDRESS is the placeholder" in result.output
    assert f"ok    SMTP 127.0.0.1:{smtp.port} reachable" in result.output
    path, record = dkim_key
    for key, value in {
        "NEWSLETTER_POSTAL_ADDRESS": "Papers Ltd, 5 Main St, 10115 Berlin",
        "NEWSLETTER_SECRET_KEY": "a-test-secret-of-more-than-32-bytes-0123456789",
        "NEWSLETTER_DKIM_SELECTOR": "news2026",
        "NEWSLETTER_DKIM_PRIVATE_KEY": path,
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["doctor", "--dkim-record", record])
    assert result.exit_code == 0, result.output
    assert "ok    DKIM key matches news2026._domainkey.papers.example.com" in result.output
    other = record[:-20] + "A" * 20
    result = CliRunner().invoke(cli, ["doctor", "--dkim-record", other])
    assert result.exit_code == 1 and "does not match" in result.output
