#!/usr/bin/env bash
# `make conformance`: the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in tests/conformance/package-lock.json) against the in-repo fixture and
# server-everything, directly and through the gateway. Installs what it needs on a fresh
# machine (Node 22 into .tools/node22, the suite, Envoy, server-everything), builds the
# filter, the sidecar and the demo servers, then runs `meshgate-conformance` (arguments
# are passed on, e.g. `--spec 2025-11-25`, `--only fixture`, `--report-only`).
# Results: target/conformance/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

node22="$PWD/$(scripts/install-node22.sh)"
export MESHGATE_NODE22="$node22"
# npm (whatever version the machine has) runs on Node 22 from here on, and so do the
# npm test servers the runner starts.
export PATH="$(dirname "$node22"):$PATH"

if [ ! -f tests/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js ] \
   || [ tests/conformance/package-lock.json -nt tests/conformance/node_modules ]; then
  (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -d tests/node/node_modules/@modelcontextprotocol/server-everything ] \
   || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
scripts/install-envoy.sh >/dev/null

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
$CARGO build -p meshgate-filter --target wasm32-wasip1 --profile release-wasm
$CARGO build -p meshgate-sidecar -p meshgate-demo
exec $CARGO run -q -p meshgate-e2e --bin meshgate-conformance -- "$@"
