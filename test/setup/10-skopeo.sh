#!/usr/bin/env bash
# Installs skopeo (Debian package) for the skopeo end-to-end suite, only if it is missing.
# Idempotent; apt-get only; non-interactive. Uses sudo when not running as root.
set -euo pipefail

if command -v skopeo >/dev/null 2>&1; then
  echo "skopeo already installed: $(skopeo --version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends skopeo
skopeo --version
