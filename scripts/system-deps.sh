#!/usr/bin/env bash
# Debian packages the test suite uses: Chromium for the browser test, docker-compose to
# validate compose.yaml (no engine needed), SpamAssassin to score a digest, openssl
# to make DKIM test keys. Installed only
# when missing and we are root.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v spamassassin >/dev/null || missing+=(spamassassin)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
fi
