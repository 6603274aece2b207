#!/usr/bin/env bash
# Starts a Docker engine that belongs to this test run only, for the docker end-to-end suite
# (test/e2e/docker-engine.test.ts): Debian's docker.io and containerd, installed with apt-get only if
# missing. Its own containerd (own config, gRPC/ttrpc sockets, root, state and opt dirs) and its own
# dockerd (vfs storage, no bridge/iptables/NAT, own data-root, exec-root, pidfile, key file and
# socket) live under $BERTH_TEST_TMP/docker-engine; the system's /run/docker.sock and
# /run/containerd are never used. Loopback registries (127.0.0.0/8) are insecure by default, which
# is verified here. Exports BERTH_DOCKER_HOST (unix://…/docker.sock) and BERTH_DOCKER_CLI to
# $BERTH_TEST_ENV and registers stop commands (by PID) in $BERTH_TEST_CLEANUP. Any failure to
# install or start exits non-zero, so CI never skips the suite silently. Needs root (dockerd does).
set -euo pipefail

: "${BERTH_TEST_TMP:?run this through test/run.sh (BERTH_TEST_TMP is unset)}"
: "${BERTH_TEST_ENV:?run this through test/run.sh (BERTH_TEST_ENV is unset)}"
: "${BERTH_TEST_CLEANUP:?run this through test/run.sh (BERTH_TEST_CLEANUP is unset)}"

log() { echo "docker-engine: $*"; }
fail() {
  echo "docker-engine: FAILED: $*" >&2
  exit 1
}
started_at=$(date +%s%N)

if [ "$(id -u)" -ne 0 ]; then
  fail "dockerd needs root; run the tests as root (as CI does)"
fi

# 1. Packages (only when missing).
missing=()
for pkg in docker.io containerd runc; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends docker.io containerd runc \
    || fail "apt-get install docker.io containerd runc failed"
fi
for bin in containerd ctr dockerd runc; do
  command -v "$bin" >/dev/null 2>&1 || fail "$bin not found after installing docker.io/containerd"
done
# The client packaged with the engine (a newer `docker` may come first on PATH; both work).
if [ -x /usr/bin/docker ]; then docker_cli=/usr/bin/docker; else docker_cli=$(command -v docker) || fail "no docker CLI"; fi

# 2. Layout. Unix socket paths must stay short (108 bytes): the sockets and dockerd's exec-root
#    (which holds more sockets) go to "run", or to a short /tmp dir when $BERTH_TEST_TMP is long.
base="$BERTH_TEST_TMP/docker-engine"
mkdir -p "$base"
base=$(cd "$base" && pwd -P)
rundir="$base/run"
if [ "${#rundir}" -gt 50 ]; then rundir=$(mktemp -d /tmp/berth-dockerrun.XXXXXX); else mkdir -p "$rundir"; fi
ctr_sock="$rundir/containerd.sock"
docker_sock="$rundir/docker.sock"
ctr_dir="$base/containerd"
docker_dir="$base/dockerd"
mkdir -p "$ctr_dir/root" "$ctr_dir/state" "$ctr_dir/opt" "$docker_dir/data" "$rundir/exec"

# Stop commands are single lines (the cleanup file runs reversed): kill the PID only while its
# command line still names our socket, wait up to 15 s, then SIGKILL.
stop_line() {
  local pid=$1 mark=$2
  printf 'if grep -qaF -- %q /proc/%d/cmdline 2>/dev/null; then kill -TERM %d 2>/dev/null; for _ in $(seq 1 150); do kill -0 %d 2>/dev/null || break; sleep 0.1; done; kill -KILL %d 2>/dev/null; fi; true\n' \
    "$mark" "$pid" "$pid" "$pid" "$pid"
}
# Registered first, so it runs last: after both daemons are gone, drop their data (logs stay).
# dockerd bind-mounts its data-root onto itself and undoes that only on a clean shutdown, so a
# leftover mount of that one path is removed first. dockerd also always creates
# /run/docker/plugins; that is removed again if /run/docker was not there before.
rm_line="umount $(printf '%q' "$docker_dir/data") 2>/dev/null; rm -rf $(printf '%q' "$ctr_dir/root") $(printf '%q' "$ctr_dir/state") $(printf '%q' "$docker_dir/data") $(printf '%q' "$rundir")"
if [ ! -e /run/docker ]; then rm_line="$rm_line; rmdir /run/docker/plugins /run/docker 2>/dev/null"; fi
echo "$rm_line; true" >>"$BERTH_TEST_CLEANUP"

tail_logs() {
  for f in "$ctr_dir/containerd.log" "$docker_dir/dockerd.log"; do
    if [ -s "$f" ]; then
      echo "--- last lines of $f" >&2
      tail -n 25 "$f" >&2
    fi
  done
}

# 3. containerd, configured only by our file (the system /etc/containerd/config.toml is not read).
#    The CRI plugin is off: dockerd does not need it, and it would want CNI and /opt.
cat >"$ctr_dir/config.toml" <<EOF
version = 2
root = "$ctr_dir/root"
state = "$ctr_dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$ctr_sock"

[ttrpc]
  address = "$ctr_sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$ctr_dir/opt"
EOF
containerd --config "$ctr_dir/config.toml" --address "$ctr_sock" --root "$ctr_dir/root" --state "$ctr_dir/state" \
  </dev/null >"$ctr_dir/containerd.log" 2>&1 &
ctr_pid=$!
stop_line "$ctr_pid" "$ctr_sock" >>"$BERTH_TEST_CLEANUP"
for _ in $(seq 1 300); do
  kill -0 "$ctr_pid" 2>/dev/null || { tail_logs; fail "containerd exited during start-up"; }
  if [ -S "$ctr_sock" ] && timeout 5 ctr --address "$ctr_sock" version >/dev/null 2>&1; then break; fi
  sleep 0.1
done
timeout 5 ctr --address "$ctr_sock" version >/dev/null 2>&1 || { tail_logs; fail "containerd did not answer on $ctr_sock within 30 s"; }

# 4. dockerd on that containerd. Its own config file (so /etc/docker/daemon.json is not read); on
#    Docker < 23 it also names the trust key file, which otherwise goes to /etc/docker/key.json.
docker_major=$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
if [ -n "$docker_major" ] && [ "$docker_major" -lt 23 ]; then
  printf '{\n  "deprecated-key-path": "%s"\n}\n' "$docker_dir/key.json" >"$docker_dir/daemon.json"
else
  echo '{}' >"$docker_dir/daemon.json"
fi
dockerd \
  --config-file="$docker_dir/daemon.json" \
  --storage-driver=vfs \
  --iptables=false \
  --ip6tables=false \
  --ip-masq=false \
  --bridge=none \
  --userland-proxy=false \
  --containerd="$ctr_sock" \
  --host="unix://$docker_sock" \
  --data-root="$docker_dir/data" \
  --exec-root="$rundir/exec" \
  --pidfile="$docker_dir/dockerd.pid" \
  </dev/null >"$docker_dir/dockerd.log" 2>&1 &
dockerd_pid=$!
stop_line "$dockerd_pid" "$docker_sock" >>"$BERTH_TEST_CLEANUP"
ready=0
for _ in $(seq 1 600); do
  kill -0 "$dockerd_pid" 2>/dev/null || { tail_logs; fail "dockerd exited during start-up"; }
  if [ -S "$docker_sock" ] && timeout 5 "$docker_cli" -H "unix://$docker_sock" info >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || { tail_logs; fail "dockerd did not answer on $docker_sock within 60 s"; }

# 5. Plain HTTP to loopback registries must work without an insecure-registries entry.
cidrs=$(timeout 10 "$docker_cli" -H "unix://$docker_sock" info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}')
case "$cidrs" in
  *'"127.0.0.0/8"'*) ;;
  *) fail "engine does not treat 127.0.0.0/8 as insecure (InsecureRegistryCIDRs=$cidrs)" ;;
esac

{
  printf 'export BERTH_DOCKER_HOST=%q\n' "unix://$docker_sock"
  printf 'export BERTH_DOCKER_CLI=%q\n' "$docker_cli"
} >>"$BERTH_TEST_ENV"

version=$(timeout 10 "$docker_cli" -H "unix://$docker_sock" version --format '{{.Server.Version}}')
elapsed_ms=$(( ($(date +%s%N) - started_at) / 1000000 ))
log "engine $version ready on unix://$docker_sock (containerd pid $ctr_pid, dockerd pid $dockerd_pid) in ${elapsed_ms} ms"
