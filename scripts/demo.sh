#!/usr/bin/env bash
# The demo on embedded defaults: a virtualenv, the SQLite database, the bundled sample
# papers (the real Daily Papers of the week 2026-02-02 to 02-06), a few readers, a dry run of
# that week's issue, then the issue sent into a local outbox, ./outbox/, instead of a mail
# server: the deliveries are recorded, so `newsletter web` afterwards shows an archive, a
# feed and previews. Nothing leaves the machine and no network is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# The runtime dependencies from the lock, each file checked against its hash, then the
# project alone (no dependency resolved at install time). The dev tools are not needed here:
# scripts/test.sh installs requirements-dev.lock, the same versions and more.
pip=(.venv/bin/python -m pip install --disable-pip-version-check)
{ "${pip[@]}" --no-deps --require-hashes -r requirements.lock && "${pip[@]}" --no-deps -e . \
    && .venv/bin/python -m pip check; } \
  >.venv/install.log 2>&1 \
  || { cat .venv/install.log; echo "installing the project failed (log above)" >&2; exit 1; }
nl=.venv/bin/newsletter
# Each run starts over, on the default database file: the issue goes out once per database.
export NEWSLETTER_DATABASE_URL=sqlite:///newsletter.db
rm -rf newsletter.db outbox

$nl db upgrade
$nl ingest sample
$nl subscribers add ada@example.com --topic "LLM evaluation" --topic "mixture of experts" --confirmed
$nl subscribers add bob@example.org --topic "agents" --topic "reinforcement learning" --confirmed
$nl subscribers add chen@example.net --topic "diffusion models" --topic "video generation" --confirmed
$nl subscribers add dana@example.com --topic "RAG" --topic "long context" --confirmed
$nl subscribers add eve@example.org --topic "protein folding" --confirmed
$nl send --dry-run --issue-date 2026-02-06
$nl send --issue-date 2026-02-06 --out outbox/

echo
echo "The digests are in $(pwd)/outbox/ (.eml to open in a mail client, .html for a browser)."
echo "Nothing left this machine. \`.venv/bin/newsletter web\` serves the archive at http://localhost:8000/archive"
