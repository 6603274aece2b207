#!/usr/bin/env bash
# bench/setup.sh — idempotently install the benchmark's system tools
# (docker-registry = the reference registry, wrk, hey, curl) with apt-get, only
# the ones that are missing. If installing docker-registry started its
# system service (it listens on :5000), that service — and only it — is
# stopped and disabled, since the benchmark starts its own instances.
set -euo pipefail

declare -A pkg_of=([docker-registry]=docker-registry [wrk]=wrk [hey]=hey [curl]=curl [taskset]=util-linux)
missing=()
for cmd in docker-registry wrk hey curl taskset; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bench/setup.sh: docker-registry, wrk, hey, curl and taskset are already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "bench/setup.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

if printf '%s\n' "${missing[@]}" | grep -qx docker-registry; then
  # The package's postinst may have started the distro service; stop that one only.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    $SUDO systemctl stop docker-registry || true
    $SUDO systemctl disable docker-registry || true
    echo "bench/setup.sh: stopped and disabled the docker-registry system service"
  elif [ -x /etc/init.d/docker-registry ] && $SUDO /etc/init.d/docker-registry status >/dev/null 2>&1; then
    $SUDO /etc/init.d/docker-registry stop || true
    echo "bench/setup.sh: stopped the docker-registry init.d service"
  fi
fi
echo "bench/setup.sh: done"
