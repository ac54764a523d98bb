#!/usr/bin/env bash
# Set up and run the checks: ruff, mypy and the test suite on SQLite and PostgreSQL.
# PostgreSQL must answer at NEWSLETTER_TEST_PG_URL (default postgres@127.0.0.1:5432/test);
# if it does not and this machine has a local cluster, it is started.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "PostgreSQL is not answering on 127.0.0.1:5432; the PostgreSQL half of the suite needs it" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy newsletter
.venv/bin/pytest "$@"
