#!/usr/bin/env bash
# Debian packages the test suite uses: Chromium for the browser test, docker-compose to
# validate compose.yaml (no engine needed), SpamAssassin to score a digest, openssl
# to make DKIM and TLS test keys, Dovecot as the bounce mailbox's IMAP server. Installed only
# when missing and we are root.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v spamassassin >/dev/null || missing+=(spamassassin)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || missing+=(dovecot-imapd)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
fi
