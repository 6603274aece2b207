#!/usr/bin/env bash
# Installs Debian's chromium for the web UI's browser suite (test/e2e/ui-browser.test.ts, driven
# by playwright-core, which never downloads a browser of its own), only if it is missing.
# Idempotent; apt-get only; non-interactive. Uses sudo when not running as root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
/usr/bin/chromium --version
