#!/usr/bin/env bash
# Installs Debian's docker-registry (CNCF distribution 2.8) for the pull-through cache end-to-end
# suite (test/e2e/proxy.test.ts), which runs it as an upstream; only if it is missing.
# Idempotent; apt-get only; non-interactive. Uses sudo when not running as root.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  echo "docker-registry already installed: $(docker-registry --version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends docker-registry
docker-registry --version
