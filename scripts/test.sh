#!/usr/bin/env bash
# Set up and run the checks: ruff, mypy, compose.yaml, and the test suite on SQLite and
# PostgreSQL, with real Celery workers on Redis and a real headless Chromium.
# PostgreSQL must answer at NEWSLETTER_TEST_PG_URL (default postgres@127.0.0.1:5432/test) and
# Redis at NEWSLETTER_TEST_REDIS_URL (default 127.0.0.1:6379/11); a local server that is
# installed but stopped is started.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# The locked set (the runtime dependencies and the dev tools, each file checked against its
# hash), then the project alone, built by the locked setuptools: nothing is resolved or
# fetched unpinned at install time (--no-deps: the lock holds every dependency, and pip's
# resolver would otherwise weigh a newer release for a requirement with extras), and
# `pip check` says the set is whole. README.md says how the lock is made.
pip=(.venv/bin/python -m pip install --disable-pip-version-check)
{ "${pip[@]}" --no-deps --require-hashes -r requirements-dev.lock \
    && "${pip[@]}" --no-deps --no-build-isolation -e . \
    && .venv/bin/python -m pip check; } >.venv/install.log 2>&1 \
  || { cat .venv/install.log; echo "installing the project failed (log above)" >&2; exit 1; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "PostgreSQL is not answering on 127.0.0.1:5432; the PostgreSQL half of the suite needs it" >&2
  fi
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "starting a local Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/newsletter-test-redis.log
  else
    echo "Redis is not answering on 127.0.0.1:6379; the worker tests need it" >&2
  fi
fi

bash scripts/system-deps.sh  # docker-compose among them: tests/test_compose.py reads compose.yaml

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy newsletter workers

# The lock against known vulnerabilities: pip-audit fails on any advisory for a pinned version
# and (--strict) on any package it could not look up. It asks api.osv.dev, or where that does
# not answer, the advisory snapshot security/advisories.json (scripts/audit.py says which).
.venv/bin/python scripts/audit.py requirements-dev.lock

.venv/bin/pytest "$@"
