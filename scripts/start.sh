#!/usr/bin/env bash
# `npm start`: installs dependencies if missing, builds, and runs Berth. With no arguments it uses
# filesystem storage in ./data and listens on 127.0.0.1:5000; pass a config file to change that:
#   npm start -- /etc/berth/config.yml
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then npm install --no-audit --no-fund; fi
npm run --silent build
# A smaller V8 young generation keeps peak RSS low under many concurrent requests (see README).
exec node --max-semi-space-size=8 dist/src/cli/main.js serve "$@"
