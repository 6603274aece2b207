#!/usr/bin/env bash
# Starts a one-node OpenStack Swift on loopback that belongs to this test run only, for the swift
# storage-driver suite (and, through its s3api middleware, the s3 one). Debian's swift packages and
# memcached are installed with apt-get only if missing. Everything lives under
# $BERTH_TEST_TMP/swift: its own swift.conf (/etc/swift is never read: a small launcher points
# Swift at our directory before the servers load), rings for one device and one replica, a plain
# storage directory (mount_check = false), one process each (workers = 0) for the account,
# container and object servers and the proxy, and a memcached of its own, all on free loopback
# ports. Several instances can run at once (each gets its own directory and ports).
#
# Exports to $BERTH_TEST_ENV: BERTH_SWIFT_AUTH_URL (tempauth v1.0), BERTH_SWIFT_USER/KEY,
# BERTH_SWIFT_PROXY_PID, BERTH_SWIFT_PIDS (all, space-separated), BERTH_SWIFT_STOP and
# BERTH_SWIFT_START (scripts that stop and restart the proxy only, for outage tests), and the s3api
# view of the same store: BERTH_S3_ENDPOINT, BERTH_S3_ACCESS_KEY/SECRET_KEY, BERTH_S3_REGION.
# Registers a stop command (by PID) in $BERTH_TEST_CLEANUP. Idempotent: with a healthy instance
# already running in the same directory it only exports it again. Any failure exits non-zero and
# prints the log tails, so CI never skips the suites silently.
set -euo pipefail

: "${BERTH_TEST_TMP:?run this through test/run.sh (BERTH_TEST_TMP is unset)}"
: "${BERTH_TEST_ENV:?run this through test/run.sh (BERTH_TEST_ENV is unset)}"
: "${BERTH_TEST_CLEANUP:?run this through test/run.sh (BERTH_TEST_CLEANUP is unset)}"

log() { echo "swift: $*"; }
fail() {
  echo "swift: FAILED: $*" >&2
  exit 1
}
started_at=$(date +%s%N)

# 1. Packages (only when missing).
packages=(swift swift-proxy swift-account swift-container swift-object memcached curl)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update failed"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "apt-get install ${missing[*]} failed"
fi
for bin in swift-ring-builder memcached curl; do
  command -v "$bin" >/dev/null 2>&1 || fail "$bin not found after installing ${packages[*]}"
done
# Debian's interpreter, which has the swift modules (a pyenv or venv python3 on PATH does not).
py=/usr/bin/python3
[ -x "$py" ] || fail "$py not found"
"$py" -c 'import swift.common.wsgi, swift.proxy.server, swift.obj.server, swift.account.server, swift.container.server' \
  || fail "the swift python modules do not import"

# 2. Layout.
base="$BERTH_TEST_TMP/swift"
mkdir -p "$base"
base=$(cd "$base" && pwd -P)
etc="$base/etc"
run="$base/run"
logs="$base/log"
srv="$base/srv"
bin="$base/bin"

# An instance already running here (the script was run twice): export it again and stop.
if [ -s "$base/env.sh" ] && [ -x "$bin/healthy.sh" ] && "$bin/healthy.sh" >/dev/null 2>&1; then
  cat "$base/env.sh" >>"$BERTH_TEST_ENV"
  if ! grep -qF -- "$bin/stop-all.sh" "$BERTH_TEST_CLEANUP" 2>/dev/null; then
    printf 'bash %q; true\n' "$bin/stop-all.sh" >>"$BERTH_TEST_CLEANUP"
  fi
  log "already running in $base"
  exit 0
fi
# Leftovers of an earlier, broken start in the same directory are stopped first.
if [ -x "$bin/stop-all.sh" ]; then bash "$bin/stop-all.sh" || true; fi
rm -rf "$etc" "$run" "$srv" "$bin" "$base/env.sh"
mkdir -p "$etc" "$run" "$logs" "$srv/d1" "$bin"

user=$(id -un)
hash_suffix=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# The launcher: Swift's servers read /etc/swift/swift.conf (hash path, policies, constraints)
# unless told otherwise; this points them at ours, then runs the WSGI server in this process
# (workers = 0: no fork, and so no killpg of our process group on SIGTERM).
cat >"$etc/launch.py" <<'EOF'
"""Runs one Swift WSGI server with swift.conf taken from the directory of its config file."""
import os
import sys

from swift.common import utils

conf_path, app_section = sys.argv[1], sys.argv[2]
utils.set_swift_dir(os.path.dirname(os.path.abspath(conf_path)))
from swift.common import constraints  # noqa: E402
from swift.common import storage_policy  # noqa: E402
constraints.reload_constraints()
storage_policy.reload_storage_policies()
from swift.common.wsgi import run_wsgi  # noqa: E402

sys.exit(run_wsgi(conf_path, app_section, verbose=True))
EOF

cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = $hash_suffix
swift_hash_path_prefix = berth

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
EOF

free_ports() {
  "$py" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
EOF
}

tail_logs() {
  for f in "$logs"/*.log; do
    if [ -s "$f" ]; then
      echo "--- last lines of $f" >&2
      tail -n 25 "$f" >&2
    fi
  done
}

write_configs() {
  local acct_port=$1 cont_port=$2 obj_port=$3 proxy_port=$4 mc_port=$5
  local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $etc
devices = $srv
mount_check = false
log_level = INFO
"
  printf '%sbind_port = %s\n\n[pipeline:main]\npipeline = healthcheck account-server\n\n[app:account-server]\nuse = egg:swift#account\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' \
    "$common" "$acct_port" >"$etc/account-server.conf"
  printf '%sbind_port = %s\n\n[pipeline:main]\npipeline = healthcheck container-server\n\n[app:container-server]\nuse = egg:swift#container\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' \
    "$common" "$cont_port" >"$etc/container-server.conf"
  printf '%sbind_port = %s\n\n[pipeline:main]\npipeline = healthcheck object-server\n\n[app:object-server]\nuse = egg:swift#object\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' \
    "$common" "$obj_port" >"$etc/object-server.conf"

  cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $proxy_port
workers = 0
user = $user
swift_dir = $etc
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
conn_timeout = 2
node_timeout = 30

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc_port

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
max_upload_part_num = 10000
s3_acl = false

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_admin_admin = admin .admin .reseller_admin

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo
# s3api completes a multipart upload as an SLO: allow as many segments as it allows parts.
max_manifest_segments = 10000

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
EOF
}

build_rings() {
  local acct_port=$1 cont_port=$2 obj_port=$3 kind port rc
  for kind in account container object; do
    case "$kind" in
      account) port=$acct_port ;;
      container) port=$cont_port ;;
      object) port=$obj_port ;;
    esac
    rm -f "$etc/$kind.builder" "$etc/$kind.ring.gz"
    "$py" /usr/bin/swift-ring-builder "$etc/$kind.builder" create 6 1 1 >>"$logs/rings.log" 2>&1 || return 1
    "$py" /usr/bin/swift-ring-builder "$etc/$kind.builder" add --region 1 --zone 1 --ip 127.0.0.1 --port "$port" \
      --device d1 --weight 100 >>"$logs/rings.log" 2>&1 || return 1
    rc=0
    "$py" /usr/bin/swift-ring-builder "$etc/$kind.builder" rebalance >>"$logs/rings.log" 2>&1 || rc=$?
    # 0: rebalanced; 1: rebalanced with a warning; 2: error.
    [ "$rc" -le 1 ] && [ -s "$etc/$kind.ring.gz" ] || return 1
  done
}

# The helper scripts: each reads the pid files, and only signals a PID whose command line still
# names this instance's directory.
cat >"$bin/common.sh" <<EOF
# Shared by the helper scripts of the Swift instance in $base.
base=$(printf '%q' "$base")
etc="\$base/etc"
run="\$base/run"
logs="\$base/log"
stop_pid() {
  local pidfile=\$1 pid
  [ -s "\$pidfile" ] || return 0
  pid=\$(cat "\$pidfile")
  if grep -qaF -- "\$base" "/proc/\$pid/cmdline" 2>/dev/null; then
    kill -TERM "\$pid" 2>/dev/null || true
    for _ in \$(seq 1 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "\$pid" 2>/dev/null || true
    for _ in \$(seq 1 50); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "\$pidfile"
}
start_server() {
  local name=\$1
  /usr/bin/python3 "\$etc/launch.py" "\$etc/\$name.conf" "\$name" </dev/null >>"\$logs/\$name.log" 2>&1 &
  echo \$! >"\$run/\$name.pid"
}
proxy_url() { echo "http://127.0.0.1:\$(sed -n 's/^bind_port = //p' "\$etc/proxy-server.conf")"; }
EOF

cat >"$bin/stop-proxy.sh" <<'EOF'
#!/usr/bin/env bash
# Stops this Swift instance's proxy only (outage tests); the storage servers keep running.
set -euo pipefail
. "$(dirname "$0")/common.sh"
stop_pid "$run/proxy-server.pid"
EOF

cat >"$bin/start-proxy.sh" <<'EOF'
#!/usr/bin/env bash
# (Re)starts this Swift instance's proxy on its port and waits (up to 20 s) until it answers.
set -euo pipefail
. "$(dirname "$0")/common.sh"
url=$(proxy_url)
if [ -s "$run/proxy-server.pid" ] && kill -0 "$(cat "$run/proxy-server.pid")" 2>/dev/null \
  && curl -sf -m 2 "$url/healthcheck" >/dev/null 2>&1; then
  exit 0
fi
stop_pid "$run/proxy-server.pid"
start_server proxy-server
pid=$(cat "$run/proxy-server.pid")
for _ in $(seq 1 200); do
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logs/proxy-server.log" >&2; echo "swift proxy exited during start-up" >&2; exit 1; }
  if curl -sf -m 2 "$url/healthcheck" >/dev/null 2>&1; then exit 0; fi
  sleep 0.1
done
echo "swift proxy did not answer on $url within 20 s" >&2
exit 1
EOF

cat >"$bin/stop-all.sh" <<'EOF'
#!/usr/bin/env bash
# Stops every process of this Swift instance (by PID) and removes its stored data (logs stay).
. "$(dirname "$0")/common.sh"
for name in proxy-server object-server container-server account-server memcached; do
  stop_pid "$run/$name.pid"
done
rm -rf "$base/srv"
true
EOF

cat >"$bin/healthy.sh" <<'EOF'
#!/usr/bin/env bash
# Exits 0 when every process of this instance runs and the proxy answers a tempauth login.
set -euo pipefail
. "$(dirname "$0")/common.sh"
for name in memcached account-server container-server object-server proxy-server; do
  [ -s "$run/$name.pid" ] && kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || exit 1
done
curl -sf -m 3 "$(proxy_url)/healthcheck" >/dev/null
curl -sf -m 3 -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "$(proxy_url)/auth/v1.0"
EOF
chmod +x "$bin"/*.sh

# Registered before anything starts, so a failed start is cleaned up too.
printf 'bash %q; true\n' "$bin/stop-all.sh" >>"$BERTH_TEST_CLEANUP"

# shellcheck disable=SC1091
. "$bin/common.sh"

wait_http() { # url seconds pidname
  local url=$1 tries=$(($2 * 10)) name=$3
  for _ in $(seq 1 "$tries"); do
    kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || return 2
    if curl -sf -m 2 "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# 3. Start, with fresh ports for each attempt (another instance may take a port in between).
attempt_start() {
  local ports acct_port cont_port obj_port proxy_port mc_port name port
  ports=$(free_ports 5)
  read -r acct_port cont_port obj_port proxy_port mc_port <<<"$ports"
  write_configs "$acct_port" "$cont_port" "$obj_port" "$proxy_port" "$mc_port"
  build_rings "$acct_port" "$cont_port" "$obj_port" || { echo "ring build failed" >&2; return 1; }

  local mc_user=()
  if [ "$(id -u)" -eq 0 ]; then mc_user=(-u root); fi
  memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m 64 -t 1 "${mc_user[@]}" \
    </dev/null >>"$logs/memcached.log" 2>&1 &
  echo $! >"$run/memcached.pid"
  for name in account-server container-server object-server proxy-server; do
    start_server "$name"
  done

  for name in account-server container-server object-server; do
    case "$name" in
      account-server) port=$acct_port ;;
      container-server) port=$cont_port ;;
      object-server) port=$obj_port ;;
    esac
    wait_http "http://127.0.0.1:$port/healthcheck" 30 "$name" || { echo "$name did not start" >&2; return 1; }
  done
  wait_http "http://127.0.0.1:$proxy_port/healthcheck" 30 proxy-server || { echo "proxy-server did not start" >&2; return 1; }
  kill -0 "$(cat "$run/memcached.pid")" 2>/dev/null || { echo "memcached did not start" >&2; return 1; }
  echo "$proxy_port" >"$run/proxy.port"
}

started=0
for attempt in 1 2 3; do
  if attempt_start; then
    started=1
    break
  fi
  log "start attempt $attempt failed"
  if [ "$attempt" -lt 3 ]; then
    tail_logs
    for name in proxy-server object-server container-server account-server memcached; do stop_pid "$run/$name.pid"; done
    rm -rf "${srv:?}"/d1/* "$logs"/*.log
  fi
done
[ "$started" = 1 ] || { tail_logs; fail "could not start Swift (3 attempts)"; }

proxy_port=$(cat "$run/proxy.port")
url="http://127.0.0.1:$proxy_port"

# 4. End to end: a tempauth login, then a small object through proxy, container and object servers.
headers=$(curl -sf -m 10 -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "$url/auth/v1.0") \
  || { tail_logs; fail "tempauth login at $url/auth/v1.0 failed"; }
token=$(printf '%s' "$headers" | tr -d '\r' | sed -n 's/^[Xx]-[Aa]uth-[Tt]oken: //p')
storage_url=$(printf '%s' "$headers" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]torage-[Uu]rl: //p')
[ -n "$token" ] && [ -n "$storage_url" ] || { tail_logs; fail "tempauth login gave no token or storage URL"; }
check="$storage_url/berth-setup-check"
curl -sf -m 10 -X PUT -H "X-Auth-Token: $token" "$check" -o /dev/null \
  && printf 'ok' | curl -sf -m 10 -X PUT -H "X-Auth-Token: $token" --data-binary @- "$check/probe" -o /dev/null \
  && [ "$(curl -sf -m 10 -H "X-Auth-Token: $token" "$check/probe")" = ok ] \
  && curl -sf -m 10 -X DELETE -H "X-Auth-Token: $token" "$check/probe" -o /dev/null \
  && curl -sf -m 10 -X DELETE -H "X-Auth-Token: $token" "$check" -o /dev/null \
  || { tail_logs; fail "a PUT/GET/DELETE round trip through $url failed"; }

pids=""
for name in memcached account-server container-server object-server proxy-server; do
  pids="$pids${pids:+ }$(cat "$run/$name.pid")"
done
{
  printf 'export BERTH_SWIFT_AUTH_URL=%q\n' "$url/auth/v1.0"
  printf 'export BERTH_SWIFT_USER=%q\n' "test:tester"
  printf 'export BERTH_SWIFT_KEY=%q\n' "testing"
  printf 'export BERTH_SWIFT_PROXY_PID=%q\n' "$(cat "$run/proxy-server.pid")"
  printf 'export BERTH_SWIFT_PIDS=%q\n' "$pids"
  printf 'export BERTH_SWIFT_STOP=%q\n' "$bin/stop-proxy.sh"
  printf 'export BERTH_SWIFT_START=%q\n' "$bin/start-proxy.sh"
  printf 'export BERTH_S3_ENDPOINT=%q\n' "$url"
  printf 'export BERTH_S3_ACCESS_KEY=%q\n' "test:tester"
  printf 'export BERTH_S3_SECRET_KEY=%q\n' "testing"
  printf 'export BERTH_S3_REGION=%q\n' "us-east-1"
} >"$base/env.sh"
cat "$base/env.sh" >>"$BERTH_TEST_ENV"

version=$("$py" -c 'import swift; print(swift.__version__)' 2>/dev/null || echo '?')
elapsed_ms=$(( ($(date +%s%N) - started_at) / 1000000 ))
log "Swift $version ready at $url (auth $url/auth/v1.0, pids $pids) in ${elapsed_ms} ms"
