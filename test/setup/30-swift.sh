#!/usr/bin/env bash
# Starts a one-node OpenStack Swift on loopback that belongs to this test run only, for the swift
# storage-driver suite (and, through its s3api middleware, the s3 one), plus a Keystone v3 for the
# driver's Keystone code path. Debian's packages are installed with apt-get only if missing (swift,
# swift-proxy/-account/-container/-object, memcached, curl; python3-keystone and
# python3-keystonemiddleware unless BERTH_SWIFT_KEYSTONE=0).
#
# Everything lives under $BERTH_TEST_TMP/swift: its own swift.conf (/etc/swift is never read: a
# small launcher points Swift at our directory before the servers load), rings for one device and
# one replica built by swift-ring-builder, a plain storage directory (mount_check = false), one
# process each (workers = 0) for the account, container and object servers, a memcached of its
# own, and three proxies on the same storage:
#   main    tempauth (test:tester / testing, .admin) and s3api   BERTH_SWIFT_AUTH_URL, BERTH_S3_ENDPOINT
#   outage  the same, for outage tests: BERTH_SWIFT_STOP/START stop and restart this one only, so
#           suites running at the same time on the main proxy are not disturbed
#                                                                BERTH_SWIFT_OUTAGE_AUTH_URL, BERTH_S3_OUTAGE_ENDPOINT
#   keystone  authtoken + keystoneauth against a Keystone (sqlite, fernet tokens, served by a
#           small WSGI runner) with project "test", user "tester"/"testing" (member)
#                                                                BERTH_KEYSTONE_URL and friends
# All ports are free loopback ports, so several instances can run at once. Also exported:
# BERTH_SWIFT_USER/KEY, BERTH_SWIFT_PROXY_PID (main proxy), BERTH_SWIFT_PIDS (all, space-separated),
# BERTH_S3_ACCESS_KEY/SECRET_KEY/REGION. One stop command (by PID) goes to $BERTH_TEST_CLEANUP.
# Idempotent: with a healthy instance already running in the same directory it only exports it
# again. Any failure exits non-zero and prints the log tails, so CI never skips the suites.
# Swift 2.30 notes for S3 clients: aws-chunked uploads need the SDK's requestChecksumCalculation
# 'WHEN_REQUIRED'; DeleteObjects needs Content-MD5; If-None-Match: * is not supported via s3api.
set -euo pipefail

: "${BERTH_TEST_TMP:?run this through test/run.sh (BERTH_TEST_TMP is unset)}"
: "${BERTH_TEST_ENV:?run this through test/run.sh (BERTH_TEST_ENV is unset)}"
: "${BERTH_TEST_CLEANUP:?run this through test/run.sh (BERTH_TEST_CLEANUP is unset)}"
with_keystone=1
if [ "${BERTH_SWIFT_KEYSTONE:-1}" = 0 ]; then with_keystone=0; fi

log() { echo "swift: $*"; }
fail() {
  echo "swift: FAILED: $*" >&2
  exit 1
}
started_at=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started_at) / 1000000 )) ms"; }

# 1. Packages (only when missing).
packages=(swift swift-proxy swift-account swift-container swift-object memcached curl)
if [ "$with_keystone" = 1 ]; then packages+=(python3-keystone python3-keystonemiddleware); fi
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
  log "installed in $(elapsed)"
fi
for bin in swift-ring-builder memcached curl; do
  command -v "$bin" >/dev/null 2>&1 || fail "$bin not found after installing ${packages[*]}"
done
# Debian's interpreter, which has the swift modules (a pyenv or venv python3 on PATH does not).
py=/usr/bin/python3
[ -x "$py" ] || fail "$py not found"
# Only the packages: importing the servers here would cost seconds (their logs tell what is wrong).
"$py" -c 'import swift' || fail "$py has no swift module"
if [ "$with_keystone" = 1 ]; then
  "$py" -c 'import keystone, keystonemiddleware' || fail "$py has no keystone or keystonemiddleware module"
fi

# 2. Layout.
base="$BERTH_TEST_TMP/swift"
mkdir -p "$base"
base=$(cd "$base" && pwd -P)
etc="$base/etc"
run="$base/run"
logs="$base/log"
srv="$base/srv"
bin="$base/bin"
ksdir="$base/keystone"

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
rm -rf "$etc" "$run" "$srv" "$bin" "$ksdir" "$base/env.sh"
mkdir -p "$etc" "$run" "$logs" "$srv/d1" "$bin"

user=$(id -un)
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
hash_suffix=$(random_hex 8)
keystone_admin_password=$(random_hex 12)
servers=(memcached account-server container-server object-server proxy-server proxy-outage)
if [ "$with_keystone" = 1 ]; then servers+=(keystone proxy-keystone); fi

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
# Driver paths may be 1024 characters; the driver adds its prefix and "files" (or a session marker
# name) in front, so object names run past Swift's default limit of 1024. See the driver README.
max_object_name_length = 2048
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

storage_conf() { # name port
  cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $user
swift_dir = $etc
devices = $srv
mount_check = false
log_level = INFO

[pipeline:main]
pipeline = healthcheck $1-server

[app:$1-server]
use = egg:swift#$1

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
}

proxy_conf() { # port auth(tempauth|keystone) memcached-port [keystone-port]
  local port=$1 auth=$2 mc_port=$3 ks_port=${4:-}
  local auth_filters="s3api tempauth"
  if [ "$auth" = keystone ]; then auth_filters="authtoken keystoneauth"; fi
  cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $etc
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit $auth_filters copy container-quotas account-quotas slo dlo versioned_writes proxy-logging proxy-server

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
  if [ "$auth" = tempauth ]; then
    cat <<EOF

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
max_upload_part_num = 10000
s3_acl = false

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_admin_admin = admin .admin .reseller_admin
EOF
  else
    cat <<EOF

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = http://127.0.0.1:$ks_port/v3
auth_url = http://127.0.0.1:$ks_port/v3
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = admin
username = admin
password = $keystone_admin_password
delay_auth_decision = True
memcached_servers = 127.0.0.1:$mc_port
http_connect_timeout = 5
http_request_max_retries = 1

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_prefix = AUTH_
EOF
  fi
}

# Keystone: sqlite (WAL, so a reader never blocks a writer), fernet keys made here, cheap bcrypt.
write_keystone() { # keystone-port
  mkdir -p "$ksdir" "$ksdir/locks"
  local repo i
  for repo in fernet credential receipts; do
    mkdir -p "$ksdir/$repo"
    chmod 700 "$ksdir/$repo"
    for i in 0 1; do head -c 32 /dev/urandom | base64 | tr '+/' '-_' >"$ksdir/$repo/$i"; done
    chmod 600 "$ksdir/$repo"/*
  done
  cat >"$ksdir/keystone.conf" <<EOF
[DEFAULT]
log_file = $logs/keystone-server.log
[database]
connection = sqlite:///$ksdir/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $ksdir/fernet
[fernet_receipts]
key_repository = $ksdir/receipts
[credential]
key_repository = $ksdir/credential
[identity]
password_hash_rounds = 4
[cache]
enabled = false
[oslo_concurrency]
lock_path = $ksdir/locks
EOF
  cat >"$ksdir/boot.py" <<'EOF'
"""keystone-manage db_sync and bootstrap in one process (each alone spends seconds importing)."""
import sqlite3
import sys

from keystone.cmd import cli
from keystone.conf import CONF

conf, db, password, url = sys.argv[1:5]
cli.main(argv=['keystone-manage', '--config-file', conf, 'db_sync'])
sqlite3.connect(db).execute('PRAGMA journal_mode=WAL').fetchone()
CONF.reset()
cli.main(argv=['keystone-manage', '--config-file', conf, 'bootstrap', '--bootstrap-password', password,
               '--bootstrap-admin-url', url, '--bootstrap-public-url', url, '--bootstrap-internal-url', url,
               '--bootstrap-region-id', 'RegionOne'])
EOF
  cat >"$ksdir/serve.py" <<'EOF'
"""Serves Keystone's public WSGI application on 127.0.0.1 (one request at a time; tests only)."""
import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

conf, port = sys.argv[1], int(sys.argv[2])
sys.argv = sys.argv[:1]
os.environ['OS_KEYSTONE_CONFIG_FILES'] = conf
from keystone.server.wsgi import initialize_public_application  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server('127.0.0.1', port, initialize_public_application(), handler_class=QuietHandler)
print('keystone listening on 127.0.0.1:%d' % port, flush=True)
server.serve_forever()
EOF
  cat >"$ksdir/init.py" <<'EOF'
"""Registers the object-store endpoints (the keystone proxy) and project test / user tester."""
import json
import sys
import urllib.request

keystone, swift, password = sys.argv[1:4]


def call(method, path, body=None, token=None):
    request = urllib.request.Request(keystone + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header('Content-Type', 'application/json')
    if token:
        request.add_header('X-Auth-Token', token)
    with urllib.request.urlopen(request, timeout=20) as response:
        data = response.read()
        return response.headers, (json.loads(data) if data else None)


headers, _ = call('POST', '/auth/tokens', {'auth': {
    'identity': {'methods': ['password'], 'password': {'user': {
        'name': 'admin', 'domain': {'id': 'default'}, 'password': password}}},
    'scope': {'project': {'name': 'admin', 'domain': {'id': 'default'}}}}})
token = headers['X-Subject-Token']
_, service = call('POST', '/services', {'service': {'type': 'object-store', 'name': 'swift'}}, token)
for interface in ('public', 'internal', 'admin'):
    call('POST', '/endpoints', {'endpoint': {
        'service_id': service['service']['id'], 'interface': interface, 'region_id': 'RegionOne',
        'url': swift + '/v1/AUTH_$(project_id)s'}}, token)
_, project = call('POST', '/projects', {'project': {'name': 'test', 'domain_id': 'default'}}, token)
_, user = call('POST', '/users', {'user': {
    'name': 'tester', 'password': 'testing', 'domain_id': 'default',
    'default_project_id': project['project']['id']}}, token)
_, roles = call('GET', '/roles?name=member', None, token)
call('PUT', '/projects/%s/users/%s/roles/%s' % (
    project['project']['id'], user['user']['id'], roles['roles'][0]['id']), None, token)
print(project['project']['id'])
EOF
}

# Rings: one device, one replica, part power 6, made by swift-ring-builder's own code (create, add,
# rebalance) in one interpreter: nine separate swift-ring-builder runs cost seconds of start-up each
# on a busy machine.
cat >"$etc/rings.py" <<'EOF'
"""swift-ring-builder create/add/rebalance for the account, container and object rings."""
import sys

from swift.cli.ringbuilder import main

etc = sys.argv[1]
for kind, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    builder = '%s/%s.builder' % (etc, kind)
    for command in (['create', '6', '1', '1'],
                    ['add', '--region', '1', '--zone', '1', '--ip', '127.0.0.1', '--port', port,
                     '--device', 'd1', '--weight', '100'],
                    ['rebalance']):
        try:
            main(['swift-ring-builder', builder] + command)
        except SystemExit as exit_:
            # 0: done; 1: done with a warning; 2: error.
            if exit_.code not in (None, 0, 1):
                sys.exit('swift-ring-builder %s %s failed (exit %s)' % (builder, command[0], exit_.code))
EOF

build_rings() { # account, container and object ports
  rm -f "$etc"/*.builder "$etc"/*.ring.gz
  "$py" "$etc/rings.py" "$etc" "$1" "$2" "$3" >"$logs/rings.log" 2>&1 || return 1
  local kind
  for kind in account container object; do [ -s "$etc/$kind.ring.gz" ] || return 1; done
}

# The helper scripts: each reads the pid files, and only signals a PID whose command line still
# names this instance's directory.
cat >"$bin/common.sh" <<EOF
# Shared by the helper scripts of the Swift instance in $base.
base=$(printf '%q' "$base")
etc="\$base/etc"
run="\$base/run"
logs="\$base/log"
stop_pid() { # pidfile...: TERM to each (if its command line names this instance), wait, then KILL
  local pidfile pid pids=()
  for pidfile in "\$@"; do
    [ -s "\$pidfile" ] || continue
    pid=\$(cat "\$pidfile")
    if grep -qaF -- "\$base" "/proc/\$pid/cmdline" 2>/dev/null; then
      kill -TERM "\$pid" 2>/dev/null && pids+=("\$pid")
    fi
    rm -f "\$pidfile"
  done
  [ "\${#pids[@]}" -gt 0 ] || return 0
  for _ in \$(seq 1 100); do
    local left=()
    for pid in "\${pids[@]}"; do kill -0 "\$pid" 2>/dev/null && left+=("\$pid"); done
    [ "\${#left[@]}" -gt 0 ] || return 0
    sleep 0.1
  done
  kill -KILL "\${pids[@]}" 2>/dev/null || true
}
start_proxy() { # name (conf \$etc/<name>.conf, pid \$run/<name>.pid, log \$logs/<name>.log)
  /usr/bin/python3 "\$etc/launch.py" "\$etc/\$1.conf" proxy-server </dev/null >>"\$logs/\$1.log" 2>&1 &
  echo \$! >"\$run/\$1.pid"
}
port_of() { sed -n 's/^bind_port = //p' "\$etc/\$1.conf"; }
EOF

cat >"$bin/stop-proxy.sh" <<'EOF'
#!/usr/bin/env bash
# Stops this instance's outage proxy (BERTH_SWIFT_OUTAGE_AUTH_URL, BERTH_S3_OUTAGE_ENDPOINT) only;
# the storage servers and the other proxies keep running.
set -euo pipefail
. "$(dirname "$0")/common.sh"
stop_pid "$run/proxy-outage.pid"
EOF

cat >"$bin/start-proxy.sh" <<'EOF'
#!/usr/bin/env bash
# (Re)starts this instance's outage proxy on its port and waits (up to 20 s) until it answers.
set -euo pipefail
. "$(dirname "$0")/common.sh"
url="http://127.0.0.1:$(port_of proxy-outage)"
if [ -s "$run/proxy-outage.pid" ] && kill -0 "$(cat "$run/proxy-outage.pid")" 2>/dev/null \
  && curl -sf -m 2 "$url/healthcheck" >/dev/null 2>&1; then
  exit 0
fi
stop_pid "$run/proxy-outage.pid"
start_proxy proxy-outage
pid=$(cat "$run/proxy-outage.pid")
for _ in $(seq 1 200); do
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logs/proxy-outage.log" >&2; echo "swift proxy exited during start-up" >&2; exit 1; }
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
stop_pid "$run"/*.pid
rm -rf "$base/srv" "$base/keystone/keystone.db"*
true
EOF

cat >"$bin/healthy.sh" <<'EOF'
#!/usr/bin/env bash
# Exits 0 when every process of this instance runs and the main proxy answers a tempauth login.
set -euo pipefail
. "$(dirname "$0")/common.sh"
for name in $(cat "$run/servers"); do
  [ -s "$run/$name.pid" ] && kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || exit 1
done
url="http://127.0.0.1:$(port_of proxy-server)"
curl -sf -m 3 "$url/healthcheck" >/dev/null
curl -sf -m 3 -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "$url/auth/v1.0"
EOF
chmod +x "$bin"/*.sh
echo "${servers[*]}" >"$run/servers"

# Registered before anything starts, so a failed start is cleaned up too.
printf 'bash %q; true\n' "$bin/stop-all.sh" >>"$BERTH_TEST_CLEANUP"

# shellcheck disable=SC1091
. "$bin/common.sh"

alive() { [ -s "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

wait_http() { # url seconds name: 0 ready, 1 timeout, 2 the process died
  local url=$1 tries=$(($2 * 10)) name=$3
  for _ in $(seq 1 "$tries"); do
    alive "$name" || return 2
    if curl -sf -m 2 -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# 3. Start, with fresh ports for each attempt (another instance may take a port in between).
attempt_start() {
  local ports acct_port cont_port obj_port proxy_port outage_port mc_port ks_port ksproxy_port name port
  ports=$(free_ports 8)
  read -r acct_port cont_port obj_port proxy_port outage_port mc_port ks_port ksproxy_port <<<"$ports"
  storage_conf account "$acct_port" >"$etc/account-server.conf"
  storage_conf container "$cont_port" >"$etc/container-server.conf"
  storage_conf object "$obj_port" >"$etc/object-server.conf"
  proxy_conf "$proxy_port" tempauth "$mc_port" >"$etc/proxy-server.conf"
  proxy_conf "$outage_port" tempauth "$mc_port" >"$etc/proxy-outage.conf"

  local boot_pid=''
  if [ "$with_keystone" = 1 ]; then
    proxy_conf "$ksproxy_port" keystone "$mc_port" "$ks_port" >"$etc/proxy-keystone.conf"
    rm -rf "$ksdir"
    write_keystone "$ks_port"
    # Keystone's database takes a few seconds: it is built while Swift starts, and the server
    # (which reads the database only when requests come) loads meanwhile.
    "$py" "$ksdir/boot.py" "$ksdir/keystone.conf" "$ksdir/keystone.db" "$keystone_admin_password" \
      "http://127.0.0.1:$ks_port/v3" </dev/null >"$logs/keystone-boot.log" 2>&1 &
    boot_pid=$!
    "$py" "$ksdir/serve.py" "$ksdir/keystone.conf" "$ks_port" </dev/null >>"$logs/keystone.log" 2>&1 &
    echo $! >"$run/keystone.pid"
  fi

  build_rings "$acct_port" "$cont_port" "$obj_port" || { echo "ring build failed" >&2; return 1; }
  phases="rings $(elapsed)"

  local mc_user=()
  if [ "$(id -u)" -eq 0 ]; then mc_user=(-u root); fi
  # argv[0] names this instance, so stop_pid (which checks the command line) recognises it.
  (exec -a "$base/memcached" memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m 64 -t 1 "${mc_user[@]}" \
    </dev/null >>"$logs/memcached.log" 2>&1) &
  echo $! >"$run/memcached.pid"
  for name in account-server container-server object-server; do
    "$py" "$etc/launch.py" "$etc/$name.conf" "$name" </dev/null >>"$logs/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
  done
  start_proxy proxy-server
  start_proxy proxy-outage
  if [ "$with_keystone" = 1 ]; then start_proxy proxy-keystone; fi

  if [ -n "$boot_pid" ]; then
    wait "$boot_pid" || { echo "keystone db_sync/bootstrap failed (see keystone-boot.log)" >&2; return 1; }
  fi

  for name in account-server container-server object-server proxy-server proxy-outage; do
    port=$(port_of "$name")
    wait_http "http://127.0.0.1:$port/healthcheck" 30 "$name" || { echo "$name did not start" >&2; return 1; }
  done
  alive memcached || { echo "memcached did not start" >&2; return 1; }
  phases="$phases, swift $(elapsed)"
  if [ "$with_keystone" = 1 ]; then
    wait_http "http://127.0.0.1:$ks_port/v3" 30 keystone || { echo "keystone did not start" >&2; return 1; }
    "$py" "$ksdir/init.py" "http://127.0.0.1:$ks_port/v3" "http://127.0.0.1:$ksproxy_port" "$keystone_admin_password" \
      >"$run/keystone.project" 2>>"$logs/keystone-boot.log" || { echo "keystone init failed" >&2; return 1; }
    wait_http "http://127.0.0.1:$ksproxy_port/healthcheck" 30 proxy-keystone || { echo "the keystone proxy did not start" >&2; return 1; }
    echo "$ks_port" >"$run/keystone.port"
    phases="$phases, keystone $(elapsed)"
  fi
}

started=0
phases=""
for attempt in 1 2 3; do
  if attempt_start; then
    started=1
    break
  fi
  log "start attempt $attempt failed"
  tail_logs
  stop_pid "$run"/*.pid
  if [ "$attempt" -lt 3 ]; then rm -rf "${srv:?}"/d1/* "$logs"/*.log; fi
done
[ "$started" = 1 ] || fail "could not start Swift (3 attempts)"

url="http://127.0.0.1:$(port_of proxy-server)"
outage_url="http://127.0.0.1:$(port_of proxy-outage)"

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
curl -sf -m 10 -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "$outage_url/auth/v1.0" \
  || { tail_logs; fail "tempauth login at the outage proxy $outage_url failed"; }

# ... and through Keystone: a project-scoped token for tester, used on its account.
if [ "$with_keystone" = 1 ]; then
  ks_url="http://127.0.0.1:$(cat "$run/keystone.port")/v3"
  ks_body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"tester","domain":{"name":"Default"},"password":"testing"}}},"scope":{"project":{"name":"test","domain":{"name":"Default"}}}}}'
  ks_token=$(curl -sf -m 20 -D - -o /dev/null -H 'Content-Type: application/json' -d "$ks_body" "$ks_url/auth/tokens" \
    | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p') || true
  [ -n "$ks_token" ] || { tail_logs; fail "no Keystone token for tester at $ks_url"; }
  ks_account="http://127.0.0.1:$(port_of proxy-keystone)/v1/AUTH_$(cat "$run/keystone.project")"
  curl -sf -m 20 -o /dev/null -X PUT -H "X-Auth-Token: $ks_token" "$ks_account/berth-setup-check" \
    && curl -sf -m 20 -o /dev/null -X DELETE -H "X-Auth-Token: $ks_token" "$ks_account/berth-setup-check" \
    || { tail_logs; fail "a container PUT/DELETE with a Keystone token through $ks_account failed"; }
fi

pids=""
for name in "${servers[@]}"; do pids="$pids${pids:+ }$(cat "$run/$name.pid")"; done
{
  printf 'export BERTH_SWIFT_AUTH_URL=%q\n' "$url/auth/v1.0"
  printf 'export BERTH_SWIFT_USER=%q\n' "test:tester"
  printf 'export BERTH_SWIFT_KEY=%q\n' "testing"
  printf 'export BERTH_SWIFT_PROXY_PID=%q\n' "$(cat "$run/proxy-server.pid")"
  printf 'export BERTH_SWIFT_PIDS=%q\n' "$pids"
  printf 'export BERTH_SWIFT_OUTAGE_AUTH_URL=%q\n' "$outage_url/auth/v1.0"
  printf 'export BERTH_SWIFT_STOP=%q\n' "$bin/stop-proxy.sh"
  printf 'export BERTH_SWIFT_START=%q\n' "$bin/start-proxy.sh"
  printf 'export BERTH_S3_ENDPOINT=%q\n' "$url"
  printf 'export BERTH_S3_OUTAGE_ENDPOINT=%q\n' "$outage_url"
  printf 'export BERTH_S3_ACCESS_KEY=%q\n' "test:tester"
  printf 'export BERTH_S3_SECRET_KEY=%q\n' "testing"
  printf 'export BERTH_S3_REGION=%q\n' "us-east-1"
  if [ "$with_keystone" = 1 ]; then
    printf 'export BERTH_KEYSTONE_URL=%q\n' "$ks_url"
    printf 'export BERTH_KEYSTONE_USER=%q\n' "tester"
    printf 'export BERTH_KEYSTONE_PASSWORD=%q\n' "testing"
    printf 'export BERTH_KEYSTONE_DOMAIN=%q\n' "Default"
    printf 'export BERTH_KEYSTONE_PROJECT=%q\n' "test"
    printf 'export BERTH_KEYSTONE_PROJECT_ID=%q\n' "$(cat "$run/keystone.project")"
    printf 'export BERTH_KEYSTONE_REGION=%q\n' "RegionOne"
    printf 'export BERTH_SWIFT_KEYSTONE_URL=%q\n' "http://127.0.0.1:$(port_of proxy-keystone)"
  fi
} >"$base/env.sh"
cat "$base/env.sh" >>"$BERTH_TEST_ENV"

version=$("$py" -c 'import swift; print(swift.__version__)' 2>/dev/null || echo '?')
log "Swift $version ready at $url (outage proxy $outage_url$([ "$with_keystone" = 1 ] && echo ", Keystone $ks_url")), pids $pids, in $(elapsed) ($phases)"
