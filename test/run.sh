#!/usr/bin/env bash
# The one test command (README's and CI's): installs what the tests need (idempotently), builds,
# starts the loopback services the suites use, runs every test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages and services: each test/setup/*.sh installs (if missing) what one suite needs.
#    Scripts that start services write "export VAR=..." lines to $BERTH_TEST_ENV and register their
#    stop commands in $BERTH_TEST_CLEANUP (run on exit, in reverse order).
export BERTH_TEST_TMP="${BERTH_TEST_TMP:-$(mktemp -d /tmp/berth-test.XXXXXX)}"
export BERTH_TEST_ENV="$BERTH_TEST_TMP/env.sh"
export BERTH_TEST_CLEANUP="$BERTH_TEST_TMP/cleanup.sh"
: >"$BERTH_TEST_ENV"
: >"$BERTH_TEST_CLEANUP"
cleanup() {
  if [ -s "$BERTH_TEST_CLEANUP" ]; then tac "$BERTH_TEST_CLEANUP" | bash || true; fi
}
trap cleanup EXIT

if [ ! -d node_modules ]; then npm install --no-audit --no-fund; fi
for script in test/setup/*.sh; do
  [ -e "$script" ] || continue
  echo "== setup: $script"
  bash "$script"
done
# shellcheck disable=SC1090
source "$BERTH_TEST_ENV"

# 2. Build (type-checks src, drivers, tests and bench) and run the tests.
npm run build
node --test --test-concurrency="${BERTH_TEST_CONCURRENCY:-2}" "${@:-dist/test/}"
