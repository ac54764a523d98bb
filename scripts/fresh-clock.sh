#!/usr/bin/env bash
# Run pytest with the monotonic clock a few seconds after zero, as on a machine that has just
# booted (a new CI runner or container): `unshare --time` gives the command its own time
# namespace (util-linux; needs root or user namespaces). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
uptime_s=$(awk '{print int($1)}' /proc/uptime)
offset=$(( 5 - uptime_s ))
if ! unshare --time --monotonic="$offset" --fork true 2>/dev/null; then
  echo "fresh-clock: cannot make a time namespace here (needs root); skipped" >&2
  [ -z "${CI:-}" ]  # in CI a skipped check is a failed one
  exit 0
fi
echo "pytest with time.monotonic() starting near 5 s (uptime ${uptime_s} s):"
exec unshare --time --monotonic="$offset" --fork .venv/bin/pytest -p no:cacheprovider "$@"
