#!/usr/bin/env bash
# Makes, offline, a stand-in for the official node:20-bookworm-slim image so that the Dockerfile
# suite (test/e2e/dockerfile.test.ts) can build docker/Dockerfile without pulling anything:
#   1. a minimal Debian bookworm (debootstrap --variant=minbase, from the Debian mirror apt uses),
#      cached as a tar under $BERTH_TEST_CACHE (default /var/cache/berth-test), so it is made once
#      per machine (about 1-2 minutes) and reused by every later run;
#   2. this machine's Node.js runtime laid out as in the official image (node in /usr/local/bin,
#      npm in /usr/local/lib/node_modules), plus the machine's npm global config and CA bundle so
#      that `npm ci` inside the build reaches the npm registry exactly as npm on this machine does;
#   3. `docker import` of that root filesystem into the test run's engine (BERTH_DOCKER_HOST from
#      test/setup/20-docker-engine.sh) as berth-test-base:<fingerprint> and berth-test-base:latest,
#      with the official image's PATH and CMD.
# Idempotent: the assembled tar is cached per fingerprint (minbase, node binary, npm, npmrc, CA
# bundle) and an image already in the engine is not imported again. Exports BERTH_TEST_BASE_IMAGE
# to $BERTH_TEST_ENV. Installs debootstrap with apt-get only when missing. Any failure exits
# non-zero (CI never skips the suite silently). Needs root (debootstrap, chroot).
#
# The Debian mirror is the one this machine's apt uses for the suite (deb822
# /etc/apt/sources.list.d/*.sources `URIs:`, then *.list and /etc/apt/sources.list `deb` lines;
# security and updates suites are skipped), else http://deb.debian.org/debian;
# BERTH_DEBIAN_MIRROR overrides it. `40-docker-base-image.sh --print-mirror` prints the mirror
# and exits (nothing else runs, no root needed).
set -euo pipefail

suite=bookworm

# The first http(s)/ftp/file URI that apt uses for "$suite" itself. Reads deb822 stanzas
# (Types: deb, Suites: containing the suite, Enabled: not no) and one-line `deb [opts] uri suite`
# entries; disabled files (other extensions) are not read. Prints nothing when none matches.
apt_mirror() {
  local dir="${BERTH_APT_ETC:-/etc/apt}" f
  for f in "$dir"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uri != "") { print uri; found = 1; exit }
        types = ""; suites = ""; uri = ""; enabled = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[[:space:]]+/, ""); value = $0
        if (key == "types") types = value
        else if (key == "suites") suites = value
        else if (key == "enabled") enabled = tolower(value)
        else if (key == "uris") { split(value, u, /[[:space:]]+/); uri = u[1] }
      }
      END { if (!found) flush() }
    ' "$f"
  done | grep -E '^(https?|ftp|file):' | head -n 1 | grep . && return 0
  for f in "$dir"/sources.list.d/*.list "$dir/sources.list"; do
    [ -f "$f" ] || continue
    # deb [options] uri suite components…
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
  done | grep -E '^(https?|ftp|file):' | head -n 1 | grep . && return 0
  return 0
}

mirror_for_suite() {
  if [ -n "${BERTH_DEBIAN_MIRROR:-}" ]; then
    echo "$BERTH_DEBIAN_MIRROR"
    return
  fi
  local found
  found=$(apt_mirror || true)
  echo "${found:-http://deb.debian.org/debian}" | sed 's:/*$::'
}

if [ "${1:-}" = "--print-mirror" ]; then
  mirror_for_suite
  exit 0
fi

: "${BERTH_TEST_TMP:?run this through test/run.sh (BERTH_TEST_TMP is unset)}"
: "${BERTH_TEST_ENV:?run this through test/run.sh (BERTH_TEST_ENV is unset)}"

log() { echo "docker-base-image: $*"; }
fail() {
  echo "docker-base-image: FAILED: $*" >&2
  exit 1
}
started_at=$(date +%s)

[ "$(id -u)" -eq 0 ] || fail "debootstrap needs root; run the tests as root (as CI does)"
# shellcheck disable=SC1090
source "$BERTH_TEST_ENV"
: "${BERTH_DOCKER_HOST:?no test Docker engine (test/setup/20-docker-engine.sh must run first)}"
docker_cli="${BERTH_DOCKER_CLI:-docker}"
docker() { DOCKER_CONFIG="$BERTH_TEST_TMP/docker-base-config" "$docker_cli" -H "$BERTH_DOCKER_HOST" "$@"; }
mkdir -p "$BERTH_TEST_TMP/docker-base-config"

cache="${BERTH_TEST_CACHE:-/var/cache/berth-test}"
mkdir -p "$cache"
mirror=$(mirror_for_suite)
minbase="$cache/debootstrap-$suite-minbase.tar"

# 1. The minimal Debian, once per machine.
if [ ! -s "$minbase" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends debootstrap || fail "apt-get install debootstrap failed"
  fi
  work=$(mktemp -d "$cache/debootstrap.XXXXXX")
  log "debootstrap --variant=minbase $suite from $mirror (once; cached in $minbase)"
  if ! debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2 || true
    rm -rf "$work"
    fail "debootstrap failed"
  fi
  # Leave nothing host-specific or bulky behind.
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/debootstrap"
  tar --numeric-owner -C "$work/root" -cf "$minbase.partial" .
  mv "$minbase.partial" "$minbase"
  rm -rf "$work"
fi

# 2. The fingerprint of everything that goes into the image.
node_bin=$(readlink -f "$(command -v node)") || fail "no node on PATH"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")") || fail "no npm on PATH"
[ -f "$npm_dir/package.json" ] || fail "cannot find npm's package directory (got $npm_dir)"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
npmrc_sources=()
for f in /etc/npmrc /usr/etc/npmrc /usr/local/etc/npmrc; do [ -f "$f" ] && npmrc_sources+=("$f"); done
fingerprint=$(
  {
    stat -c '%s %Y' "$minbase"
    sha256sum "$node_bin" | cut -d' ' -f1
    sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$npm_dir/package.json" | head -n 1
    for f in "${npmrc_sources[@]}"; do cat "$f"; done
    if [ -f "$ca_bundle" ]; then sha256sum "$ca_bundle" | cut -d' ' -f1; fi
    echo "layout-2"
  } | sha256sum | cut -c1-16
)
image="berth-test-base:$fingerprint"
assembled="$cache/berth-test-base-$fingerprint.tar"

# 3. The root filesystem with node, once per fingerprint.
if [ ! -s "$assembled" ]; then
  root=$(mktemp -d "$cache/base-root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  tar --numeric-owner -C "$root" -xf "$minbase"
  install -d "$root/usr/local/bin" "$root/usr/local/lib/node_modules" "$root/usr/local/etc"
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # npm's global config ($PREFIX/etc/npmrc) and the CA bundle it names: how this machine reaches
  # the registry. Host-only settings (nodedir, prefixes) are not carried over.
  : >"$root/usr/local/etc/npmrc"
  for f in "${npmrc_sources[@]}"; do grep -Ev '^[[:space:]]*(nodedir|prefix|globalconfig|userconfig)[[:space:]]*=' "$f" >>"$root/usr/local/etc/npmrc" || true; done
  if [ -f "$ca_bundle" ]; then install -D -m 0644 "$ca_bundle" "$root$ca_bundle"; fi
  chroot "$root" /usr/local/bin/node --version >/dev/null || fail "node does not run inside the minbase root (missing libraries?)"
  chroot "$root" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version >/dev/null || fail "npm does not run inside the minbase root"
  tar --numeric-owner -C "$root" -cf "$assembled.partial" .
  mv "$assembled.partial" "$assembled"
  rm -rf "$root"
  trap - EXIT
  # Older fingerprints are of no further use.
  find "$cache" -maxdepth 1 -name 'berth-test-base-*.tar' ! -name "berth-test-base-$fingerprint.tar" -delete
fi

# 4. Into the engine (its data lives with this test run, so this happens once per run).
if ! docker image inspect "$image" >/dev/null 2>&1; then
  log "docker import $assembled as $image"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --message "berth test stand-in for node:20-bookworm-slim (debootstrap $suite minbase + $(basename "$node_bin") $("$node_bin" --version))" \
    "$assembled" "$image" >/dev/null || fail "docker import failed"
fi
docker tag "$image" berth-test-base:latest || fail "docker tag failed"
version=$(docker run --rm --network none berth-test-base:latest node --version) || fail "the base image does not run node"

# The Dockerfile suite runs containers with --network host, for which dockerd bind-mounts the host
# network namespace at <exec-root>/netns/default and leaves it mounted at shutdown, so the engine
# script's final `rm -rf` of its run directory would fail. Detach that mount lazily on exit (this
# line runs before the engine stops: cleanup lines run in reverse order).
if [ -n "${BERTH_TEST_CLEANUP:-}" ]; then
  netns="$(dirname "${BERTH_DOCKER_HOST#unix://}")/exec/netns/default"
  printf 'umount -l %q 2>/dev/null; true\n' "$netns" >>"$BERTH_TEST_CLEANUP"
fi

printf 'export BERTH_TEST_BASE_IMAGE=%q\n' "berth-test-base:latest" >>"$BERTH_TEST_ENV"
log "berth-test-base:latest = $image (node $version) ready in $(($(date +%s) - started_at)) s"
